package imap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/internal/testimap"
	"mailtrail/model"
)

func TestPoolHoldsAtMostMaxConnections(t *testing.T) {
	b := memBackend(t, "memserver", nil)
	b.mkdir(t, "Other")
	s := b.dial(t) // MaxConnections 0: 1
	ctx := ctxT(t)
	f, err := s.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = s.ListFolders(short)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "waiting for a free connection (MaxConnections 1)") {
		t.Fatalf("ListFolders while the only connection is held: %v", err)
	}
	f.Close()
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatalf("ListFolders after Close: %v", err)
	}

	s2 := b.dialWith(t, func(c *Config) { c.MaxConnections = 2 })
	f1, err := s2.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	f2, err := s2.SelectFolder(ctx, "Other")
	if err != nil {
		t.Fatalf("second folder with MaxConnections 2: %v", err)
	}
	f1.Close()
	f2.Close()
	if n := len(s2.idle); n != 2 {
		t.Errorf("%d idle connections after closing both folders, want 2", n)
	}
}

// TestSlowConsumerIsNotATimeout: the caller taking longer than the timeout
// between reads is not the server's silence.
func TestSlowConsumerIsNotATimeout(t *testing.T) {
	srv := testimap.Start(t, map[string]string{"alice": "pw"})
	var uids []uint32
	for i := 0; i < 3; i++ {
		uid, err := srv.Append("alice", "INBOX", msgWithID("<slow@test>", 70000), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	cfg := Config{Host: srv.Host, Port: srv.Port, User: "alice", Password: "pw", TLS: TLSNone, Timeout: 150 * time.Millisecond}
	s, err := Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := s.SelectFolder(ctxT(t), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = f.Fetch(ctxT(t), uids, func(m model.RemoteMsg, body io.Reader) error {
		time.Sleep(200 * time.Millisecond) // longer than the timeout
		buf := make([]byte, 1000)
		for {
			_, err := body.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		n++
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("slow Fetch: %d messages, %v", n, err)
	}
}

// TestStoreClosesFolders: Close releases the connections of folders still
// open; using them afterwards fails clearly.
func TestStoreCloseClosesFolders(t *testing.T) {
	b := memBackend(t, "memserver", nil)
	s := b.dial(t)
	f, err := s.SelectFolder(ctxT(t), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.List(ctxT(t)); err == nil || !strings.Contains(err.Error(), "folder is closed") {
		t.Errorf("List after Store.Close: %v", err)
	}
	if _, err := s.ListFolders(ctxT(t)); err == nil || !strings.Contains(err.Error(), "store is closed") {
		t.Errorf("ListFolders after Close: %v", err)
	}
}

// TestIdleConnectionChecks: a pooled connection the server closed is
// replaced; one idle for long is checked with NOOP and kept when healthy.
func TestIdleConnectionChecks(t *testing.T) {
	b := memBackend(t, "memserver", nil)
	s := b.dial(t)
	ctx := ctxT(t)
	dead := s.idle[0]
	dead.raw.Close()
	<-dead.client.Closed()
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatalf("ListFolders after the idle connection died: %v", err)
	}
	if len(s.idle) != 1 || s.idle[0] == dead {
		t.Fatalf("the dead connection was not replaced: %v", s.idle)
	}
	old := s.idle[0]
	old.lastUsed = time.Now().Add(-2 * idleCheckAfter)
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatal(err)
	}
	if s.idle[0] != old || time.Since(old.lastUsed) > time.Minute {
		t.Error("a healthy long-idle connection was replaced or not checked")
	}
}

// TestAcquireWaitsForWarm: while Warm is opening a connection and none is
// idle, a borrower waits for that one instead of opening one more (which
// would log in later than the one under way, and leave it idle); with
// nothing being opened it opens its own. The proxy delays every
// connection after the first, so that Warm's is still under way.
func TestAcquireWaitsForWarm(t *testing.T) {
	b := memBackend(t, "memserver", nil)
	p := startSlowProxy(t, b.cfg.address(), 300*time.Millisecond, func(n int) bool { return n > 1 })
	cfg := b.cfg
	cfg.Host, cfg.Port, cfg.MaxConnections = "127.0.0.1", p.port, 3
	ctx := ctxT(t)
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c1, err := s.acquire(ctx) // the one Dial opened
	if err != nil {
		t.Fatal(err)
	}
	s.Warm(2) // one more, slow to come
	c2, err := s.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.accepted(); n != 2 {
		t.Errorf("%d connections opened, want 2: the borrower did not wait for the one Warm was opening", n)
	}
	c3, err := s.acquire(ctx) // nothing under way: a new one
	if err != nil {
		t.Fatal(err)
	}
	if n := p.accepted(); n != 3 {
		t.Errorf("%d connections opened, want 3", n)
	}
	for _, c := range []*conn{c1, c2, c3} {
		s.release(c)
	}
}

// slowProxy forwards connections to target, those slow says (by their
// number, from 1) delayed by delay before they reach the server.
type slowProxy struct {
	port  int
	mu    sync.Mutex
	n     int
	lines []string // noted by noteLines
}

func startSlowProxy(t *testing.T, target string, delay time.Duration, slow func(n int) bool) *slowProxy {
	return startProxy(t, target, delay, slow, false)
}

// startProxy is startSlowProxy, noting the clients' lines when note.
func startProxy(t *testing.T, target string, delay time.Duration, slow func(n int) bool, note bool) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p := &slowProxy{port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.n++
			n := p.n
			delayed := slow(n)
			p.mu.Unlock()
			go func() {
				defer client.Close()
				if delayed {
					time.Sleep(delay)
				}
				server, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer server.Close()
				if note {
					go p.noteLines(n, client, server)
				} else {
					go io.Copy(server, client)
				}
				io.Copy(client, server)
			}()
		}
	}()
	return p
}

// noteLines passes connection n's client lines on to server, noting them.
func (p *slowProxy) noteLines(n int, client, server net.Conn) {
	r := bufio.NewReader(client)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			p.mu.Lock()
			p.lines = append(p.lines, fmt.Sprintf("%d %s", n, strings.TrimRight(line, "\r\n")))
			p.mu.Unlock()
			if _, werr := io.WriteString(server, line); werr != nil {
				return
			}
		}
		if err != nil {
			server.Close()
			return
		}
	}
}

func (p *slowProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// TestWarmWhileDialling: the connections Config.WarmWhileDialling asks for
// are opened while the first one logs in (here slowed down by the proxy),
// and authenticate only after it has; when the first login fails, none of
// them tries the password.
func TestWarmWhileDialling(t *testing.T) {
	b := memBackend(t, "memserver", nil)
	p := startSlowProxy(t, b.cfg.address(), 300*time.Millisecond, func(n int) bool { return n == 1 })
	var log bytes.Buffer
	var mu sync.Mutex
	cfg := b.cfg
	cfg.Host, cfg.Port, cfg.MaxConnections = "127.0.0.1", p.port, 3
	cfg.Logger = zerolog.New(zerolog.SyncWriter(&lockedWriter{w: &log, mu: &mu})).Level(zerolog.DebugLevel)
	cfg.WarmWhileDialling = func() int { return 3 }
	ctx := ctxT(t)
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := p.accepted(); n != 3 {
		t.Errorf("%d connections opened by the time the first had logged in, want 3", n)
	}
	waitIdle(s, 3)
	mu.Lock()
	got := log.String()
	mu.Unlock()
	connected := strings.Index(got, "imap connected") // logged by Dial once the first has logged in
	if n := strings.Count(got, "imap: logged in"); n != 3 || connected < 0 ||
		strings.Count(got[:connected], `"command":"AUTHENTICATE PLAIN"`) != 1 {
		t.Errorf("want three logins, the two others after the first's:\n%s", got)
	}

	// A wrong password: tried once.
	log.Reset()
	cfg.Password = "wrong"
	if _, err := Dial(ctx, cfg); err == nil || !strings.Contains(err.Error(), "login failed") {
		t.Fatalf("Dial with a wrong password: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // the others end at once
	mu.Lock()
	got = log.String()
	mu.Unlock()
	if n := strings.Count(got, `"command":"AUTHENTICATE PLAIN"`); n != 1 {
		t.Errorf("a wrong password was tried %d times, want once:\n%s", n, got)
	}
}

// waitIdle waits, 5 s at most, until n of s's connections are idle, and
// returns how many are.
func waitIdle(s *Store, n int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		idle := len(s.idle)
		s.mu.Unlock()
		if idle >= n || time.Now().After(deadline) {
			return idle
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startLineProxy is a slowProxy that delays the first connection alone,
// by firstDelay, and notes every line clients send (sent).
func startLineProxy(t *testing.T, target string, firstDelay time.Duration) *slowProxy {
	return startProxy(t, target, firstDelay, func(n int) bool { return n == 1 }, true)
}

// sent returns the lines clients sent, in order, each as "<n> <line>"
// with the number of the connection (from 1) that sent it.
func (p *slowProxy) sent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// testCRAMChallengeWhileFirstLogsIn: connections opened beside the first
// (Config.WarmWhileDialling) start CRAM-MD5 while the first one logs in,
// and answer their challenges only after it has: a round trip sooner, and
// nothing that proves the password sent before the first login succeeded.
// With a wrong password, only the first connection answers a challenge.
func testCRAMChallengeWhileFirstLogsIn(t *testing.T, b *backend) {
	p := startLineProxy(t, b.cfg.address(), 300*time.Millisecond)
	cfg := b.cfg
	cfg.Host, cfg.Port, cfg.MaxConnections, cfg.TLS, cfg.AuthMechanisms = "127.0.0.1", p.port, 3, TLSNone, []string{"CRAM-MD5"}
	// The others are dialled once the proxy has the first, as in a run,
	// where the journal is read first: on a busy machine Warm's goroutine
	// could otherwise connect first and be the one the proxy delays.
	var proxy *slowProxy
	cfg.WarmWhileDialling = func() int {
		for deadline := time.Now().Add(5 * time.Second); proxy.accepted() < 1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		return 3
	}
	proxy = p
	ctx := ctxT(t)
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := waitIdle(s, 3); n != 3 {
		t.Fatalf("%d connections idle, want 3", n)
	}
	s.Close()
	// Each connection sends its AUTHENTICATE, then its answer to the
	// challenge (the line after it).
	started, answered := map[int]int{}, map[int]int{}
	lines := p.sent()
	for i, l := range lines {
		var n int
		var rest string
		fmt.Sscanf(l, "%d", &n)
		rest = l[strings.IndexByte(l, ' ')+1:]
		if strings.Contains(rest, "AUTHENTICATE CRAM-MD5") {
			started[n] = i
			if i+1 < len(lines) {
				for j := i + 1; j < len(lines); j++ {
					if strings.HasPrefix(lines[j], fmt.Sprintf("%d ", n)) {
						answered[n] = j
						break
					}
				}
			}
		}
	}
	if len(started) != 3 || len(answered) != 3 {
		t.Fatalf("want three CRAM-MD5 exchanges, got %v started, %v answered:\n%s", started, answered, strings.Join(lines, "\n"))
	}
	for _, n := range []int{2, 3} {
		if started[n] > started[1] || answered[n] < answered[1] {
			t.Fatalf("connection %d: its AUTHENTICATE went after the first connection's, or its answer before the first's:\n%s", n, strings.Join(lines, "\n"))
		}
	}

	// A wrong password: the first connection alone answers a challenge.
	p2 := startLineProxy(t, b.cfg.address(), 300*time.Millisecond)
	proxy = p2
	cfg.Port, cfg.Password = p2.port, "wrong"
	if _, err := Dial(ctx, cfg); err == nil || !strings.Contains(err.Error(), "login failed") {
		t.Fatalf("Dial with a wrong password: %v", err)
	}
	time.Sleep(200 * time.Millisecond) // the others end at once
	lines = p2.sent()
	answers := 0
	for i, l := range lines {
		if strings.Contains(l, "AUTHENTICATE CRAM-MD5") {
			n := l[:strings.IndexByte(l, ' ')]
			for _, m := range lines[i+1:] {
				if strings.HasPrefix(m, n+" ") && !strings.Contains(m, "LOGOUT") {
					answers++
					break
				}
			}
		}
	}
	if answers != 1 {
		t.Fatalf("a wrong password: %d challenges answered, want 1:\n%s", answers, strings.Join(lines, "\n"))
	}
}
