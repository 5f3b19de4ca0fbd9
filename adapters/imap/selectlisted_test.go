package imap

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/model"
)

// gateProxy forwards a backend's connections, and once armed holds the
// server's answers back until the client has sent a UID FETCH (or the
// command armOn names): a client that waits for an answer before sending
// it waits for the gate's timeout, which the proxy then reports.
type gateProxy struct {
	addr string

	mu       sync.Mutex
	armed    bool
	key      string       // what opens the gate: "UID FETCH" unless armOn said
	after    string       // armAfter's: the client's words that arm the gate
	before   bytes.Buffer // what clients sent before those words
	sent     bytes.Buffer // what clients sent since armed
	open     chan struct{}
	timedOut bool
	// linger holds the answers that long more once key is seen
	// (armLinger); held is what clients sent meanwhile.
	linger  time.Duration
	keySeen bool
	held    bytes.Buffer
	// fromKey: the answers pass until key is seen (armHoldAfter).
	fromKey bool
	// accepted is when each client connected; opened when the gate last
	// opened.
	accepted []time.Time
	opened   time.Time
	// beforeKey, before: the first chunk a client sends that holds
	// beforeKey waits until before has run (beforeClient).
	beforeKey string
	beforeFn  func()
}

const gateTimeout = 3 * time.Second

func startGateProxy(t *testing.T, target string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	g := &gateProxy{addr: ln.Addr().String(), open: make(chan struct{})}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.accepted = append(g.accepted, time.Now())
			g.mu.Unlock()
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			go g.fromClient(client, server)
			go g.fromServer(server, client)
		}
	}()
	return g
}

func (g *gateProxy) arm() { g.armOn("UID FETCH") }

// armOn arms the gate to open once the client has sent key.
func (g *gateProxy) armOn(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.key = true, key
}

// armLinger arms the gate to open linger after the client has sent key,
// noting what it sends in between (requireLogoutAfterAnswers).
func (g *gateProxy) armLinger(key string, linger time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.key, g.linger = true, key, linger
}

// armHoldAfter arms the gate to let the answers pass until the client
// has sent key, then hold them until linger after it.
func (g *gateProxy) armHoldAfter(key string, linger time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.key, g.linger, g.fromKey = true, key, linger, true
}

// take returns whether the gate timed out and what the client sent while
// it was armed, and disarms it for the next use (nothing noted, nothing
// held).
func (g *gateProxy) take() (timedOut bool, sent string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	timedOut, sent = g.timedOut, g.sent.String()
	g.armed, g.after, g.open, g.timedOut = false, "", make(chan struct{}), false
	g.linger, g.keySeen, g.fromKey = 0, false, false
	g.sent.Reset()
	g.held.Reset()
	return timedOut, sent
}

// requireLogoutAfterAnswers fails the test unless the client, once s's
// background LOGOUTs have ended, had sent a LOGOUT, and none while the
// gate (armLinger) held the answers to the commands before it; it takes
// the gate (take) and returns what the client sent.
func (g *gateProxy) requireLogoutAfterAnswers(t *testing.T, s *Store) string {
	t.Helper()
	s.leaving.Wait()
	g.mu.Lock()
	held := g.held.String()
	g.mu.Unlock()
	timedOut, sent := g.take()
	if timedOut {
		t.Fatalf("the client waited for answers before it sent the survey (it sent: %q)", sent)
	}
	if strings.Contains(held, "LOGOUT") {
		t.Fatalf("the client sent its LOGOUT before it had the answers to the commands before it (while they were held it sent: %q)", held)
	}
	if !strings.Contains(sent, "LOGOUT") {
		t.Fatalf("the client sent no LOGOUT (it sent: %q)", sent)
	}
	return sent
}

// armAfter arms the gate once the client has sent after (the answers
// before it pass), to open once it has sent key.
func (g *gateProxy) armAfter(after, key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.after, g.key = after, key
	g.before.Reset()
}

// beforeClient makes the first chunk a client sends that holds key wait
// until fn has run (once).
func (g *gateProxy) beforeClient(key string, fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.beforeKey, g.beforeFn = key, fn
}

// runBefore runs beforeClient's function if p holds its key.
func (g *gateProxy) runBefore(p []byte) {
	g.mu.Lock()
	fn := g.beforeFn
	if fn == nil || !bytes.Contains(p, []byte(g.beforeKey)) {
		g.mu.Unlock()
		return
	}
	g.beforeFn = nil
	g.mu.Unlock()
	fn()
}

// fromClient passes the client's bytes on, noting them once armed; the
// first key among them opens the gate.
func (g *gateProxy) fromClient(client, server net.Conn) {
	pump(server, client, func(p []byte) {
		g.runBefore(p)
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.armed {
			if g.after == "" {
				return
			}
			g.before.Write(p)
			if !bytes.Contains(g.before.Bytes(), []byte(g.after)) {
				return
			}
			g.armed, g.after = true, ""
		}
		if g.keySeen {
			g.held.Write(p)
		}
		before := bytes.Contains(g.sent.Bytes(), []byte(g.key))
		g.sent.Write(p)
		if !before && bytes.Contains(g.sent.Bytes(), []byte(g.key)) {
			if g.linger == 0 {
				close(g.open)
				return
			}
			g.keySeen = true
			if i := bytes.Index(p, []byte(g.key)); i >= 0 {
				g.held.Write(p[i:]) // what followed the key in the same chunk
			}
			open := g.open
			time.AfterFunc(g.linger, func() {
				g.mu.Lock()
				g.keySeen = false
				g.opened = time.Now()
				g.mu.Unlock()
				close(open)
			})
		}
	})
}

// fromServer passes the server's bytes on, once armed only after the gate
// opened (or its timeout, which it notes).
func (g *gateProxy) fromServer(server, client net.Conn) {
	pump(client, server, func([]byte) {
		g.mu.Lock()
		armed := g.armed && (!g.fromKey || g.keySeen)
		g.mu.Unlock()
		if !armed {
			return
		}
		select {
		case <-g.open:
		case <-time.After(gateTimeout):
			g.mu.Lock()
			g.timedOut = true
			g.mu.Unlock()
		}
	})
}

// pump copies src to dst, calling before with each chunk before it is
// written, until either side fails; then it closes dst.
func pump(dst, src net.Conn, before func([]byte)) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			before(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// testSelectListedOneRoundTrip: a folder opened with SelectListed sends its
// SELECT with the first FetchListed's UID FETCH right behind it, before any
// answer: the proxy gives no answer until it has seen the FETCH.
func testSelectListedOneRoundTrip(t *testing.T, b *backend) {
	name := "ListedOneTrip"
	b.mkdir(t, b.serverName(name))
	uid := b.seed(t, b.serverName(name), msgWithID("<listed-one-trip@test>", 1), nil, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	g, s := gatedStore(t, b)
	f := selectAsListed(t, s, name)
	g.arm()
	got, err := fetchListedUIDs(f, uid)
	if err != nil {
		t.Fatalf("FetchListed: %v", err)
	}
	if len(got) != 1 || got[0] != uid {
		t.Fatalf("FetchListed handed on %v, want [%d]", got, uid)
	}
	g.requireOneTrip(t, "the fetch")
}

// testOpenListingOneRoundTrip: OpenListing sends its UID FETCH 1:* right
// behind the SELECT, before any answer: the proxy gives no answer until it
// has seen the FETCH.
func testOpenListingOneRoundTrip(t *testing.T, b *backend) {
	name := "OpenListingOneTrip"
	b.mkdir(t, b.serverName(name))
	uid := b.seed(t, b.serverName(name), msgWithID("<open-listing-one-trip@test>", 1), nil, time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC))
	g, s := gatedStore(t, b)
	if _, err := s.ListFolders(ctxT(t)); err != nil { // the delimiter, before the gate
		t.Fatal(err)
	}
	g.arm()
	f, msgs, err := s.OpenListing(ctxT(t), name, false)
	if err != nil {
		t.Fatalf("OpenListing: %v", err)
	}
	defer f.Close()
	if len(msgs) != 1 || msgs[0].UID != uid || msgs[0].Size == 0 {
		t.Fatalf("OpenListing listed %+v, want UID %d with its size", msgs, uid)
	}
	g.requireOneTrip(t, "the listing")
}

// requireOneTrip fails the test unless the client sent its UID FETCH
// (what names it) behind a SELECT without waiting for an answer, which
// the armed gate held back until it saw the FETCH.
func (g *gateProxy) requireOneTrip(t *testing.T, what string) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timedOut {
		t.Fatalf("the client waited for the SELECT's answer before it sent the UID FETCH of %s (it sent: %q)", what, g.sent.String())
	}
	if !bytes.Contains(g.sent.Bytes(), []byte("SELECT")) {
		t.Fatalf("no SELECT went out with %s: %q", what, g.sent.String())
	}
}

// gatedStore is a one-connection store of b that reaches the server
// through a gate proxy (not armed yet).
func gatedStore(t *testing.T, b *backend) (*gateProxy, *Store) {
	g := startGateProxy(t, net.JoinHostPort(b.cfg.Host, strconv.Itoa(b.cfg.Port)))
	s := b.dialWith(t, func(c *Config) {
		host, port, _ := net.SplitHostPort(g.addr)
		c.Host = host
		c.Port, _ = strconv.Atoi(port)
		c.MaxConnections = 1
	})
	return g, s
}

// testSelectListedReconnect: a connection lost before the SELECT of a
// folder opened with SelectListed is answered fails that command only, and
// does not refuse the folder: the next command reconnects, selects and
// checks the UIDVALIDITY, and reads.
func testSelectListedReconnect(t *testing.T, b *backend) {
	name := "ListedReconnect"
	uid := b.seed(t, b.serverName(name), msgWithID("<listed-reconnect@test>", 1), nil, time.Time{})
	s := b.dial(t)
	f := selectAsListed(t, s, name)
	f.conn.raw.Close()
	if _, err := fetchListedUIDs(f, uid); err == nil {
		t.Fatal("FetchListed on a closed connection succeeded")
	}
	got, err := fetchListedUIDs(f, uid)
	if err != nil {
		t.Fatalf("FetchListed after reconnecting: %v (the lost connection must not refuse the folder)", err)
	}
	if len(got) != 1 || got[0] != uid {
		t.Fatalf("FetchListed after reconnecting handed on %v, want [%d]", got, uid)
	}
}

// selectAsListed opens name with SelectListed and the status ListFolders
// gives it; the folder is closed at the end of the test.
func selectAsListed(t *testing.T, s *Store, name string) *Folder {
	t.Helper()
	ctx := ctxT(t)
	list, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed, ok := findFolder(list, name)
	if !ok {
		t.Fatalf("%s is not listed: %v", name, list)
	}
	f, err := s.SelectListed(ctx, name, listed)
	if err != nil {
		t.Fatalf("SelectListed: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f.(*Folder)
}

// fetchListedUIDs fetches uid with FetchListed and returns the UIDs handed
// on, their bodies read to the end.
func fetchListedUIDs(f *Folder, uid uint32) ([]uint32, error) {
	var got []uint32
	err := f.FetchListed(context.Background(), []model.RemoteMsg{{UID: uid}}, func(m model.RemoteMsg, body io.Reader) error {
		got = append(got, m.UID)
		_, err := io.Copy(io.Discard, body)
		return err
	})
	return got, err
}
