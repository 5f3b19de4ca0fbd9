// Package faultproxy is a loopback TCP proxy for tests that puts network
// faults between a client (the mailtrail binary) and an IMAP server
// (imapmemserver, Dovecot): it cuts the connection after a chosen number of
// bytes or IMAP messages in either direction, stalls it (stops forwarding
// and keeps the sockets open), or injects a line into the server's stream
// between two responses.
//
// It understands just enough IMAP to count messages: a message is a line
// ended by CRLF, together with the literals ({n} or {n+}) it announces, so
// a body is never split by an injected line and "after the K-th message" is
// the same point in every run of a deterministic sync, whatever the sizes
// of the TCP reads. It never reads the content otherwise, and it speaks
// plain TCP only (behind TLS it can cut and stall, not inject or count
// messages).
//
// A fault is armed with Arm and fires once, on whichever connection first
// crosses its threshold (the counts run over every connection, in the
// order the bytes pass). Invariants: bytes are forwarded unchanged and in
// order up to the fault; a cut closes both sockets of that connection only
// (or, with RefuseAfter, every later connection too); a stalled connection
// is released only by Close; Close stops everything and waits for every
// goroutine.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Direction is the way bytes flow through the proxy.
type Direction int

const (
	// Up is client to server: commands, APPEND literals.
	Up Direction = iota
	// Down is server to client: responses, FETCH bodies.
	Down
)

func (d Direction) String() string {
	if d == Up {
		return "client->server"
	}
	return "server->client"
}

// Action is what happens when a fault fires.
type Action int

const (
	// Cut forwards the bytes up to the threshold, then closes both sockets
	// of the connection.
	Cut Action = iota
	// Stall forwards the bytes up to the threshold, then stops reading and
	// writing in both directions, keeping both sockets open, until Close.
	Stall
	// Inject writes Fault.Line into the server->client stream at the first
	// message boundary at or after the threshold, then forwards normally.
	Inject
)

func (a Action) String() string {
	switch a {
	case Cut:
		return "cut"
	case Stall:
		return "stall"
	case Inject:
		return "inject"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Fault is one fault to fire. Exactly one of Bytes and Messages is set.
type Fault struct {
	Dir    Direction
	Action Action
	// Bytes fires the fault once this many bytes went Dir (over all
	// connections since Arm): the Bytes-th byte is forwarded, the next is
	// not. With Inject the line goes in at the next message boundary.
	Bytes int64
	// Messages fires the fault right after the Messages-th complete IMAP
	// message (a line with its literals) went Dir since Arm.
	Messages int
	// Line is what Inject writes (CRLF included).
	Line []byte
	// RefuseAfter, with Cut, makes the network stay down after the fault:
	// every connection accepted later is closed at once.
	RefuseAfter bool
}

func (f Fault) String() string {
	at := fmt.Sprintf("after %d bytes", f.Bytes)
	if f.Messages > 0 {
		at = fmt.Sprintf("after message %d", f.Messages)
	}
	s := fmt.Sprintf("%s %s %s", f.Action, f.Dir, at)
	if f.Action == Inject {
		s += fmt.Sprintf(" %q", f.Line)
	}
	return s
}

// Boundary is the end of one IMAP message seen passing the proxy, for
// choosing fault points: N is its number in its direction since the last
// Arm or ResetCounts, Offset the direction's byte count at its end, and
// Head the message's first words (tag and command or response type;
// never arguments, which may hold a password).
type Boundary struct {
	Dir    Direction
	N      int
	Offset int64
	Head   string
}

// Proxy forwards connections from its listening address to a target.
type Proxy struct {
	target string
	ln     net.Listener

	mu         sync.Mutex
	fault      *Fault
	fired      bool
	firedDesc  string
	refusing   bool
	bytes      [2]int64
	messages   [2]int
	boundaries []Boundary
	recording  bool
	transcript map[int]*[2]bytes.Buffer // per connection, so that concurrent ones do not interleave
	recorded   []int                    // connections in the order they first recorded
	conns      map[*link]struct{}
	closed     bool
	done       chan struct{} // closed by Close: stalled links give up
	accepted   int

	wg sync.WaitGroup
}

// New listens on 127.0.0.1 (a free port) and forwards every connection to
// target ("host:port").
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*link]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Start is New for a test: it fails the test when it cannot listen and
// closes the proxy at cleanup.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Addr is the listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Host is the listening host (127.0.0.1).
func (p *Proxy) Host() string { h, _, _ := net.SplitHostPort(p.Addr()); return h }

// Port is the listening port.
func (p *Proxy) Port() int {
	_, port, _ := net.SplitHostPort(p.Addr())
	n, _ := strconv.Atoi(port)
	return n
}

// Arm sets the fault to fire next and resets the counts. It replaces any
// fault armed before, fired or not, and ends a RefuseAfter outage.
func (p *Proxy) Arm(f Fault) {
	if (f.Bytes > 0) == (f.Messages > 0) {
		panic("faultproxy: a fault needs exactly one of Bytes and Messages")
	}
	if f.Action == Inject && f.Dir != Down {
		panic("faultproxy: Inject works server->client only")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = &f
	p.fired, p.firedDesc, p.refusing = false, "", false
	p.resetCountsLocked()
}

// Disarm removes the armed fault and ends a RefuseAfter outage; stalled
// connections stay stalled.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = nil
	p.refusing = false
}

// Fired reports whether the armed fault fired, and where: on which
// connection (counted from 1 since New) and after which message.
func (p *Proxy) Fired() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired, p.firedDesc
}

// ResetCounts zeroes the byte and message counts and the boundaries seen.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resetCountsLocked()
}

func (p *Proxy) resetCountsLocked() {
	p.bytes = [2]int64{}
	p.messages = [2]int{}
	p.boundaries = nil
	p.transcript = nil
	p.recorded = nil
}

// Counts returns the bytes and messages that went each way since the last
// Arm or ResetCounts.
func (p *Proxy) Counts(d Direction) (bytes int64, messages int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes[d], p.messages[d]
}

// Boundaries returns every message boundary seen since the last Arm or
// ResetCounts, in the order they passed.
func (p *Proxy) Boundaries() []Boundary {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Boundary(nil), p.boundaries...)
}

// Record starts (or stops) keeping a copy of every byte forwarded, per
// direction, from now on; Transcript returns it. For checking what went on
// the wire; it may hold passwords: tests only.
func (p *Proxy) Record(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recording = on
}

// Transcript returns the bytes recorded going d: each connection's in
// order, one connection after the other (in the order they started
// sending), never interleaved.
func (p *Proxy) Transcript(d Direction) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, id := range p.recorded {
		out = append(out, p.transcript[id][d].Bytes()...)
	}
	return out
}

// Close stops listening, closes every connection (stalled ones too) and
// waits for all of the proxy's goroutines. Closing again does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed || p.refusing {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.accepted++
		l := &link{p: p, id: p.accepted, client: c, stalled: make(chan struct{})}
		p.conns[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go l.run()
	}
}

// link is one proxied connection.
type link struct {
	p      *Proxy
	id     int
	client net.Conn
	server net.Conn // set once dialled; under p.mu
	dead   bool     // closed; under p.mu

	closeOnce sync.Once
	stallOnce sync.Once
	stalled   chan struct{} // closed when the link stalls: both pumps stop
}

func (l *link) close() {
	l.closeOnce.Do(func() {
		l.client.Close()
		l.p.mu.Lock()
		l.dead = true
		server := l.server
		l.p.mu.Unlock()
		if server != nil {
			server.Close()
		}
	})
}

func (l *link) stall() { l.stallOnce.Do(func() { close(l.stalled) }) }

func (l *link) run() {
	defer l.p.wg.Done()
	defer func() {
		l.p.mu.Lock()
		delete(l.p.conns, l)
		l.p.mu.Unlock()
	}()
	server, err := net.Dial("tcp", l.p.target)
	if err != nil {
		l.client.Close()
		return
	}
	l.p.mu.Lock()
	if l.p.closed || l.dead {
		l.p.mu.Unlock()
		server.Close()
		l.client.Close()
		return
	}
	l.server = server
	l.p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); l.pump(Up, l.client, server) }()
	go func() { defer wg.Done(); l.pump(Down, server, l.client) }()
	wg.Wait()
	l.close()
}

// pump copies src to dst in direction d, applying the armed fault.
func (l *link) pump(d Direction, src, dst net.Conn) {
	var fr framer
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if l.isStalled() {
			// A dead network: what arrives now is dropped, nothing is
			// passed on, not even a close.
			<-l.p.done
			return
		}
		if n > 0 && !l.forward(d, &fr, buf[:n], dst) {
			if l.isStalled() {
				<-l.p.done
			}
			return
		}
		if err != nil {
			// Pass a half close on, so that an orderly shutdown stays one.
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
					return
				}
			}
			l.close()
			return
		}
	}
}

func (l *link) isStalled() bool {
	select {
	case <-l.stalled:
		return true
	default:
		return false
	}
}

// forward writes chunk to dst, splitting it where the armed fault fires.
// It returns false when the link must stop (cut or stalled).
func (l *link) forward(d Direction, fr *framer, chunk []byte, dst net.Conn) bool {
	for len(chunk) > 0 {
		if l.isStalled() {
			return false
		}
		// Find the next message boundary in chunk (or none).
		b, head := fr.next(chunk)
		piece := chunk
		if b >= 0 {
			piece = chunk[:b]
		}
		// Does the armed fault fire inside piece, or at its end?
		p := l.p
		p.mu.Lock()
		cutAt := -1
		f := p.fault
		armed := f != nil && !p.fired && f.Dir == d
		if armed && f.Bytes > 0 && f.Action != Inject && p.bytes[d]+int64(len(piece)) >= f.Bytes {
			cutAt = int(f.Bytes - p.bytes[d])
		}
		if cutAt >= 0 {
			piece = piece[:cutAt]
		}
		p.bytes[d] += int64(len(piece))
		if p.recording && len(piece) > 0 {
			if p.transcript == nil {
				p.transcript = map[int]*[2]bytes.Buffer{}
			}
			tr := p.transcript[l.id]
			if tr == nil {
				tr = &[2]bytes.Buffer{}
				p.transcript[l.id] = tr
				p.recorded = append(p.recorded, l.id)
			}
			tr[d].Write(piece)
		}
		atBoundary := cutAt < 0 && b >= 0
		fire := cutAt >= 0
		if atBoundary {
			p.messages[d]++
			p.boundaries = append(p.boundaries, Boundary{Dir: d, N: p.messages[d], Offset: p.bytes[d], Head: head})
			if armed && ((f.Messages > 0 && p.messages[d] >= f.Messages) || (f.Action == Inject && f.Bytes > 0 && p.bytes[d] >= f.Bytes)) {
				fire = true
			}
		}
		var action Action
		var line []byte
		if fire {
			p.fired = true
			p.firedDesc = fmt.Sprintf("%s on connection %d after %d bytes, message %d (%s)", f, l.id, p.bytes[d], p.messages[d], head)
			action, line = f.Action, f.Line
			if action == Cut && f.RefuseAfter {
				p.refusing = true
			}
		}
		p.mu.Unlock()

		if _, err := dst.Write(piece); err != nil {
			l.close()
			return false
		}
		chunk = chunk[len(piece):]
		if !fire {
			continue
		}
		switch action {
		case Cut:
			l.close()
			return false
		case Stall:
			l.stall()
			return false
		case Inject:
			if _, err := dst.Write(line); err != nil {
				l.close()
				return false
			}
		}
	}
	return true
}

// framer finds IMAP message boundaries in a byte stream: the CRLF that ends
// a line not announcing a literal, after the literals the message carries.
type framer struct {
	literal int64  // bytes of literal still to skip
	tail    []byte // the end of the current line, to spot "{n}" before CRLF
	head    []byte // the start of the current message, for Boundary.Head
}

const headLen = 48

// next returns the index just past the first message boundary in chunk,
// or -1, and the head of the message it ends. It consumes chunk up to
// that point (or entirely).
func (fr *framer) next(chunk []byte) (int, string) {
	i := 0
	for i < len(chunk) {
		if fr.literal > 0 {
			n := int64(len(chunk) - i)
			if n > fr.literal {
				n = fr.literal
			}
			fr.literal -= n
			i += int(n)
			continue
		}
		j := bytes.IndexByte(chunk[i:], '\n')
		if j < 0 {
			fr.note(chunk[i:])
			return -1, ""
		}
		fr.note(chunk[i : i+j+1])
		i += j + 1
		if n, ok := literalAnnounced(fr.tail); ok {
			fr.literal = n
			fr.tail = fr.tail[:0]
			continue
		}
		head := headWords(fr.head)
		fr.tail = fr.tail[:0]
		fr.head = fr.head[:0]
		return i, head
	}
	return -1, ""
}

func (fr *framer) note(b []byte) {
	if room := headLen - len(fr.head); room > 0 {
		fr.head = append(fr.head, b[:min(room, len(b))]...)
	}
	fr.tail = append(fr.tail, b...)
	if len(fr.tail) > 64 {
		fr.tail = append(fr.tail[:0], fr.tail[len(fr.tail)-32:]...)
	}
}

// literalAnnounced reports whether line (ending in LF) ends with "{n}" or
// "{n+}" before its CRLF, and n.
func literalAnnounced(line []byte) (int64, bool) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(line[open+1:len(line)-1], []byte("+"))
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// headWords is a message's tag and first word or two, without arguments:
// "A12 UID STORE", "* 3 FETCH", "+".
func headWords(head []byte) string {
	f := bytes.Fields(head)
	if len(f) > 0 && string(f[0]) == "+" {
		return "+"
	}
	if len(f) < 2 {
		// A continuation ("+ ...") or a bare line (a SASL response holds
		// credentials): never shown.
		if len(f) == 1 && string(f[0]) == "+" {
			return "+"
		}
		return "(line)"
	}
	n := 2
	if len(f) > 1 {
		switch string(bytes.ToUpper(f[1])) {
		case "UID":
			n = 3
		}
		if len(f[1]) > 0 && f[1][0] >= '0' && f[1][0] <= '9' {
			n = 3 // "* 3 FETCH"
		}
	}
	if len(f) < n {
		n = len(f)
	}
	// Printable ASCII only: behind TLS the "words" are ciphertext.
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, string(bytes.Join(f[:n], []byte(" "))))
}
