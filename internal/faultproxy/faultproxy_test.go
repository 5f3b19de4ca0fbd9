package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// greeting and reply are what the scripted server sends: the reply carries
// a literal holding CRLFs and a "{3}" of its own, which must not count as
// message boundaries.
const (
	greeting = "* OK ready\r\n"
	reply    = "* 1 FETCH (UID 7 BODY[] {18}\r\nab\r\n{3}\r\ncd\r\nefgh)\r\nA1 OK done\r\n"
)

// scripted is a server that greets, then answers every line it reads with
// reply, and records what it received.
type scripted struct {
	addr string
	mu   sync.Mutex
	got  bytes.Buffer
	eof  chan struct{} // closed when a connection's reader ends
}

func startScripted(t *testing.T) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{addr: ln.Addr().String(), eof: make(chan struct{}, 16)}
	var conns []net.Conn
	var cmu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			cmu.Lock()
			conns = append(conns, c)
			cmu.Unlock()
			go func() {
				defer func() { s.eof <- struct{}{} }()
				io.WriteString(c, greeting)
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					s.mu.Lock()
					s.got.WriteString(line)
					s.mu.Unlock()
					if err != nil {
						return
					}
					io.WriteString(c, reply)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		cmu.Lock()
		for _, c := range conns {
			c.Close()
		}
		cmu.Unlock()
	})
	return s
}

func (s *scripted) received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got.String()
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads until EOF or until nothing came for wait; it reports
// whether the connection ended (EOF or reset) rather than went silent.
func readAll(t *testing.T, c net.Conn, wait time.Duration) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for {
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return out.String(), false
			}
			return out.String(), true
		}
	}
}

func TestForwardsAndCountsMessages(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	c := dial(t, p)
	first, _ := readAll(t, c, 300*time.Millisecond)
	io.WriteString(c, "A1 FETCH 1 BODY[]\r\n")
	got, ended := readAll(t, c, 300*time.Millisecond)
	got = first + got
	if got != greeting+reply || ended {
		t.Fatalf("client got %q (ended %v), want %q", got, ended, greeting+reply)
	}
	down, msgs := p.Counts(Down)
	if down != int64(len(greeting+reply)) || msgs != 3 {
		t.Errorf("down: %d bytes, %d messages; want %d bytes, 3 messages (greeting, FETCH with its literal, OK)", down, msgs, len(greeting+reply))
	}
	up, umsgs := p.Counts(Up)
	if up != 19 || umsgs != 1 {
		t.Errorf("up: %d bytes, %d messages", up, umsgs)
	}
	var heads []string
	for _, b := range p.Boundaries() {
		heads = append(heads, b.Dir.String()+" "+b.Head)
	}
	want := "server->client * OK|client->server A1 FETCH|server->client * 1 FETCH|server->client A1 OK"
	if strings.Join(heads, "|") != want {
		t.Errorf("boundaries %q\nwant %q", strings.Join(heads, "|"), want)
	}
}

func TestCutDownAfterBytes(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	p.Arm(Fault{Dir: Down, Action: Cut, Bytes: int64(len(greeting)) + 30})
	c := dial(t, p)
	io.WriteString(c, "A1 FETCH 1 BODY[]\r\n")
	got, ended := readAll(t, c, 2*time.Second)
	if want := (greeting + reply)[:len(greeting)+30]; got != want || !ended {
		t.Fatalf("client got %q (ended %v), want exactly %q then the end", got, ended, want)
	}
	if fired, where := p.Fired(); !fired {
		t.Error("fault did not report firing")
	} else {
		t.Log(where)
	}
}

func TestCutUpAfterMessage(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	p.Arm(Fault{Dir: Up, Action: Cut, Messages: 1})
	c := dial(t, p)
	io.WriteString(c, "A1 NOOP\r\nA2 NOOP\r\n")
	_, ended := readAll(t, c, 2*time.Second)
	if !ended {
		t.Fatal("client connection not closed")
	}
	select {
	case <-s.eof:
	case <-time.After(2 * time.Second):
		t.Fatal("server connection not closed")
	}
	if got := s.received(); got != "A1 NOOP\r\n" {
		t.Errorf("server received %q, want exactly the first command", got)
	}
}

func TestInjectWaitsForMessageBoundary(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	line := "* FROBNICATE 1 2 3\r\n"
	// Byte 40 is inside the FETCH literal: the line must go in after the
	// whole FETCH response, never inside the body.
	p.Arm(Fault{Dir: Down, Action: Inject, Bytes: int64(len(greeting)) + 40, Line: []byte(line)})
	c := dial(t, p)
	io.WriteString(c, "A1 FETCH 1 BODY[]\r\n")
	got, _ := readAll(t, c, 300*time.Millisecond)
	fetch, ok := strings.CutSuffix(reply, "A1 OK done\r\n")
	if !ok {
		t.Fatal("bad reply constant")
	}
	if want := greeting + fetch + line + "A1 OK done\r\n"; got != want {
		t.Fatalf("client got %q\nwant %q", got, want)
	}
}

func TestStallKeepsSocketOpen(t *testing.T) {
	s := startScripted(t)
	p, err := New(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Arm(Fault{Dir: Down, Action: Stall, Messages: 1})
	c := dial(t, p)
	got, ended := readAll(t, c, 200*time.Millisecond)
	if got != greeting || ended {
		t.Fatalf("before the stall: %q (ended %v), want the greeting and an open socket", got, ended)
	}
	io.WriteString(c, "A1 NOOP\r\n")
	got, ended = readAll(t, c, 500*time.Millisecond)
	if got != "" || ended {
		t.Fatalf("stalled connection gave %q (ended %v): want silence, socket open", got, ended)
	}
	if s.received() != "" {
		t.Errorf("a stalled connection forwarded %q to the server", s.received())
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hangs on a stalled connection")
	}
	if _, ended := readAll(t, c, time.Second); !ended {
		t.Error("Close left the stalled client connection open")
	}
}

func TestRefuseAfterCut(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	p.Arm(Fault{Dir: Down, Action: Cut, Messages: 1, RefuseAfter: true})
	c := dial(t, p)
	if got, ended := readAll(t, c, 2*time.Second); got != greeting || !ended {
		t.Fatalf("first connection: %q (ended %v)", got, ended)
	}
	c2 := dial(t, p)
	if got, ended := readAll(t, c2, 2*time.Second); got != "" || !ended {
		t.Fatalf("connection during the outage: %q (ended %v), want closed at once", got, ended)
	}
	p.Disarm()
	c3 := dial(t, p)
	if got, _ := readAll(t, c3, 300*time.Millisecond); got != greeting {
		t.Fatalf("connection after Disarm: %q", got)
	}
}

func TestHeadNeverShowsArguments(t *testing.T) {
	for in, want := range map[string]string{
		"A1 LOGIN alice secret\r\n":        "A1 LOGIN",
		"AGFsaWNlAGFsaWNlAHNlY3JldA==\r\n": "(line)",
		"A7 UID STORE 1:3 +FLAGS (\\Seen)": "A7 UID STORE",
		"* 12 FETCH (UID 4)":               "* 12 FETCH",
		"+ go ahead":                       "+",
	} {
		if got := headWords([]byte(in)); got != want {
			t.Errorf("headWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTranscriptKeepsConnectionsApart: two connections sending at once are
// recorded each in one piece.
func TestTranscriptKeepsConnectionsApart(t *testing.T) {
	s := startScripted(t)
	p := Start(t, s.addr)
	p.Record(true)
	a, b := dial(t, p), dial(t, p)
	lineA := "A1 NOOP " + strings.Repeat("a", 100<<10) + "\r\n"
	lineB := "B1 NOOP " + strings.Repeat("b", 100<<10) + "\r\n"
	var wg sync.WaitGroup
	for _, w := range []struct {
		c    net.Conn
		line string
	}{{a, lineA}, {b, lineB}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(w.line); i += 1000 {
				io.WriteString(w.c, w.line[i:min(i+1000, len(w.line))])
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Second)
	for {
		up := string(p.Transcript(Up))
		if len(up) == len(lineA)+len(lineB) {
			if up != lineA+lineB && up != lineB+lineA {
				t.Fatal("the two connections' bytes are interleaved in the transcript")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("transcript holds %d bytes, want %d", len(up), len(lineA)+len(lineB))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
