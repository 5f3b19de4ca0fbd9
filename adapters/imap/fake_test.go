package imap

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/model"
)

// fakeServer is a scripted IMAP server for fault injection: it answers
// the commands a session needs to reach a selected INBOX, and hands every
// other command to respond, which may answer, misbehave or stay silent.
type fakeServer struct {
	addr    string
	respond func(w io.Writer, tag, command, args string)
	// onAppend, when set, handles APPEND with the connection's reader, to
	// read (or not) the literal.
	onAppend func(w io.Writer, r *bufio.Reader, tag, args string)
	caps     string // the capabilities it announces; fakeCaps when empty

	mu    sync.Mutex
	conns []net.Conn
}

const fakeCaps = "IMAP4rev1 UIDPLUS UNSELECT"

func startFake(t *testing.T, respond func(w io.Writer, tag, command, args string)) *fakeServer {
	t.Helper()
	return startFakeAppend(t, respond, nil)
}

// startFakeAppend is startFake with an APPEND handler.
func startFakeAppend(t *testing.T, respond func(w io.Writer, tag, command, args string), onAppend func(w io.Writer, r *bufio.Reader, tag, args string)) *fakeServer {
	t.Helper()
	return startFakeCaps(t, "", respond, onAppend)
}

// startFakeCaps is startFakeAppend announcing caps (fakeCaps when empty).
func startFakeCaps(t *testing.T, caps string, respond func(w io.Writer, tag, command, args string), onAppend func(w io.Writer, r *bufio.Reader, tag, args string)) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{addr: ln.Addr().String(), respond: respond, onAppend: onAppend, caps: caps}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	return f
}

func (f *fakeServer) serve(c net.Conn) {
	defer c.Close()
	fakeCaps := fakeCaps
	if f.caps != "" {
		fakeCaps = f.caps
	}
	fmt.Fprintf(c, "* OK [CAPABILITY %s] fake ready\r\n", fakeCaps)
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		tag, rest, _ := strings.Cut(line, " ")
		command, args, _ := strings.Cut(rest, " ")
		command = strings.ToUpper(command)
		if command == "UID" {
			sub, a, _ := strings.Cut(args, " ")
			command, args = "UID "+strings.ToUpper(sub), a
		}
		switch command {
		case "CAPABILITY":
			fmt.Fprintf(c, "* CAPABILITY %s\r\n%s OK done\r\n", fakeCaps, tag)
		case "LOGIN":
			fmt.Fprintf(c, "%s OK [CAPABILITY %s] logged in\r\n", tag, fakeCaps)
		case "LIST":
			fmt.Fprintf(c, "* LIST (\\Noselect) \"/\" \"\"\r\n%s OK done\r\n", tag)
		case "SELECT":
			fmt.Fprintf(c, "* 1 EXISTS\r\n* OK [UIDVALIDITY 42] v\r\n* OK [UIDNEXT 2] n\r\n%s OK [READ-WRITE] selected\r\n", tag)
		case "UNSELECT", "NOOP":
			fmt.Fprintf(c, "%s OK done\r\n", tag)
		case "LOGOUT":
			fmt.Fprintf(c, "* BYE bye\r\n%s OK done\r\n", tag)
			return
		case "APPEND":
			if f.onAppend != nil {
				f.onAppend(c, r, tag, args)
				continue
			}
			f.respond(c, tag, command, args)
		default:
			f.respond(c, tag, command, args)
		}
	}
}

// fakeInbox dials fake with timeout and selects INBOX; both are closed
// when the test ends.
func fakeInbox(t *testing.T, fake *fakeServer, timeout time.Duration) *Folder {
	t.Helper()
	s, err := Dial(context.Background(), fakeConfig(fake.addr, timeout))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rf, err := s.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Close() })
	return rf.(*Folder)
}

func fakeConfig(addr string, timeout time.Duration) Config {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	fmt.Sscan(port, &p)
	return Config{Host: host, Port: p, User: "alice", Password: "pw", TLS: TLSNone, Timeout: timeout}
}

// silentListener accepts connections and never writes a byte.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

func TestDialSilentServerTimesOut(t *testing.T) {
	addr := silentListener(t)
	for _, tc := range []struct {
		mode TLSMode
		step string
	}{{TLSNone, "greeting"}, {TLSImplicit, "TLS handshake"}, {TLSStartTLS, "STARTTLS"}} {
		cfg := fakeConfig(addr, 300*time.Millisecond)
		cfg.TLS = tc.mode
		start := time.Now()
		_, err := Dial(context.Background(), cfg)
		elapsed := time.Since(start)
		if err == nil {
			t.Fatalf("%s: Dial to a silent server succeeded", tc.mode)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s: Dial took %v with a 300ms timeout", tc.mode, elapsed)
		}
		t.Logf("%s: %v", tc.mode, err)
		want := fmt.Sprintf("imap alice@%s: %s: timed out after 300ms", addr, tc.step)
		if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrTimeout) {
			t.Errorf("%s: error %q, want it to start with %q and wrap ErrTimeout", tc.mode, err, want)
		}
	}
}

func TestDialRefusedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), fakeConfig(addr, time.Second))
	if err == nil || !strings.HasPrefix(err.Error(), "imap alice@"+addr+": connect: ") {
		t.Errorf("Dial to a closed port: %v", err)
	}
}

// stallOn answers nothing to command.
func stallOn(command string) func(io.Writer, string, string, string) {
	return func(w io.Writer, tag, cmd, args string) {
		if cmd == command {
			return
		}
		fmt.Fprintf(w, "%s BAD unexpected %s\r\n", tag, cmd)
	}
}

func TestCommandTimeoutNamesFolderAndCommand(t *testing.T) {
	fake := startFake(t, stallOn("UID FETCH"))
	f := fakeInbox(t, fake, 300*time.Millisecond)
	start := time.Now()
	_, err := f.List(context.Background())
	if err == nil {
		t.Fatal("List on a silent server succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("List took %v with a 300ms timeout", time.Since(start))
	}
	t.Log(err)
	want := fmt.Sprintf(`imap alice@%s: folder "INBOX": UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE): timed out after 300ms`, fake.addr)
	if !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrTimeout) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

func TestContextCancelUnblocksCommand(t *testing.T) {
	fake := startFake(t, stallOn("UID SEARCH"))
	f := fakeInbox(t, fake, 30*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := f.FindByIdentity(ctx, 1, 100, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("FindByIdentity after cancel: %v, want context.Canceled", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("cancel took %v to take effect", time.Since(start))
	}
	t.Log(err)
	if !strings.Contains(err.Error(), `folder "INBOX": UID SEARCH: cancelled`) {
		t.Errorf("error %q does not name the folder and command", err)
	}
}

// TestUnparseableResponseFailsFast: go-imap closes the connection on a
// response it cannot parse; the call returns at once with an error naming
// the folder, and never hangs.
func TestUnparseableResponseFailsFast(t *testing.T) {
	fake := startFake(t, func(w io.Writer, tag, cmd, args string) {
		fmt.Fprintf(w, "* 1 FROBNICATE (((\r\n%s OK done\r\n", tag)
	})
	f := fakeInbox(t, fake, 30*time.Second)
	start := time.Now()
	_, err := f.List(context.Background())
	if err == nil {
		t.Fatal("List succeeded on garbage")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("List took %v", time.Since(start))
	}
	t.Log(err)
	if !strings.Contains(err.Error(), `folder "INBOX": UID FETCH`) || !strings.Contains(err.Error(), "FROBNICATE") {
		t.Errorf("error %q should name the folder, the command and the bad response", err)
	}
}

// TestStallInsideBody: the server stops in the middle of a literal while
// the caller reads it; the watchdog closes the connection and Fetch fails.
func TestStallInsideBody(t *testing.T) {
	fake := startFake(t, func(w io.Writer, tag, cmd, args string) {
		switch {
		case cmd == "UID FETCH" && strings.Contains(args, "RFC822.SIZE"):
			fmt.Fprintf(w, "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 100 INTERNALDATE \"01-Jan-2024 00:00:00 +0000\")\r\n%s OK done\r\n", tag)
		case cmd == "UID FETCH":
			fmt.Fprintf(w, "* 1 FETCH (UID 1 BODY[] {100}\r\n0123456789")
		default:
			fmt.Fprintf(w, "%s BAD unexpected\r\n", tag)
		}
	})
	f := fakeInbox(t, fake, 300*time.Millisecond)
	start := time.Now()
	var readErr error
	err := f.Fetch(context.Background(), []uint32{1}, func(m model.RemoteMsg, body io.Reader) error {
		_, readErr = io.ReadAll(body)
		return readErr
	})
	if err == nil || readErr == nil {
		t.Fatalf("Fetch of a stalled body: %v (read: %v)", err, readErr)
	}
	t.Log(err)
	if time.Since(start) > 2*time.Second {
		t.Errorf("Fetch took %v", time.Since(start))
	}
}

// TestBodyBeforeUID: a server that sends UID after the body cannot be
// served by go-imap; Fetch says so instead of silently skipping.
func TestBodyBeforeUID(t *testing.T) {
	fake := startFake(t, func(w io.Writer, tag, cmd, args string) {
		switch {
		case cmd == "UID FETCH" && strings.Contains(args, "RFC822.SIZE"):
			fmt.Fprintf(w, "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 INTERNALDATE \"01-Jan-2024 00:00:00 +0000\")\r\n%s OK done\r\n", tag)
		case cmd == "UID FETCH":
			fmt.Fprintf(w, "* 1 FETCH (BODY[] {5}\r\nhello UID 1)\r\n%s OK done\r\n", tag)
		default:
			fmt.Fprintf(w, "%s BAD unexpected\r\n", tag)
		}
	})
	f := fakeInbox(t, fake, 5*time.Second)
	err := f.Fetch(context.Background(), []uint32{1}, func(model.RemoteMsg, io.Reader) error {
		t.Error("fn called")
		return nil
	})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "UID after the body") {
		t.Errorf("Fetch: %v, want an error about the UID after the body", err)
	}
}

// A command that does not end even once the watchdog has closed its
// connection (go-imap's reader waiting on a response nobody takes) is
// left behind: the call fails with the timeout instead of hanging.
func TestCommandStuckAfterTheConnectionClosedIsLeftBehind(t *testing.T) {
	defer func(d time.Duration) { abandonAfter = d }(abandonAfter)
	abandonAfter = 200 * time.Millisecond
	fake := startFake(t, stallOn("NEVER SENT"))
	f := fakeInbox(t, fake, 300*time.Millisecond)
	stuck := make(chan struct{})
	defer close(stuck)
	start := time.Now()
	err := f.do(context.Background(), "UID STORE", func(c *conn) error {
		<-stuck // as a command blocked inside go-imap would be
		return nil
	})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the stuck command was waited for %v (timeout 300ms, left behind 200ms after)", took)
	}
	t.Log(err)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, errLeftBehind) ||
		!strings.Contains(err.Error(), `folder "INBOX": UID STORE: timed out after 300ms`) {
		t.Errorf("error %v: want the timeout, naming the folder and command, and that the command was left behind", err)
	}
}

// Closing a connection whose go-imap reader waits on a response nobody
// takes (an expunge's 129th EXPUNGE response, one more than go-imap
// buffers, never read) does not wait for that reader for ever: go-imap's
// Close would, and the sync hung there after its command had been left
// behind.
func TestCloseDoesNotWaitForAStuckReader(t *testing.T) {
	defer func(d time.Duration) { abandonAfter = d }(abandonAfter)
	abandonAfter = 200 * time.Millisecond
	fake := startFake(t, func(w io.Writer, tag, cmd, args string) {
		if cmd == "EXPUNGE" {
			for range 200 {
				fmt.Fprint(w, "* 1 EXPUNGE\r\n")
			}
			fmt.Fprintf(w, "%s OK done\r\n", tag)
			return
		}
		fmt.Fprintf(w, "%s BAD unexpected %s\r\n", tag, cmd)
	})
	f := fakeInbox(t, fake, 300*time.Millisecond)
	stuck := make(chan struct{})
	defer close(stuck)
	_ = f.do(context.Background(), "EXPUNGE", func(c *conn) error {
		c.client.Expunge() // its answers never read
		<-stuck
		return nil
	})
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		f.Close()
		f.store.Close()
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the folder and the store still waits after 5 s for a reader that cannot go on")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("closing took %v (left behind after 200ms)", took)
	}
}

// A panic inside a command reaches the caller's goroutine, where the
// program's own recovery can see it.
func TestPanicInACommandReachesTheCaller(t *testing.T) {
	fake := startFake(t, stallOn("NEVER SENT"))
	f := fakeInbox(t, fake, 30*time.Second)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "boom") {
			t.Errorf("recovered %v, want the command's panic", r)
		}
	}()
	_ = f.do(context.Background(), "NOOP", func(c *conn) error { panic("boom") })
	t.Error("do returned after its command panicked")
}
