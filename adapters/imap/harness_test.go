package imap

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/internal/testdovecot"
	"mailtrail/internal/testimap"
)

// backend is one real server the suite runs against, with a way to seed
// it that does not go through the adapter under test.
type backend struct {
	name      string
	cfg       Config
	delim     rune // the server's hierarchy delimiter
	condstore bool
	uidplus   bool
	// seed stores a message in the server folder (server name) and returns
	// its UID.
	seed func(t *testing.T, serverFolder string, body []byte, flags []string, date time.Time) uint32
	// mkdir creates a server folder.
	mkdir func(t *testing.T, serverFolder string)
	// subscribe subscribes a server folder (unsubscribes it with false).
	subscribe func(t *testing.T, serverFolder string, on bool)
}

// serverName turns a canonical name into this backend's.
func (b *backend) serverName(canonical string) string {
	return strings.ReplaceAll(canonical, "/", string(b.delim))
}

func (b *backend) dial(t *testing.T) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dial(ctx, b.cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func memBackend(t *testing.T, name string, caps imap.CapSet) *backend {
	srv := testimap.StartWith(t, testimap.Options{Users: map[string]string{"alice": "pw"}, Caps: caps})
	b := &backend{
		name:    name,
		cfg:     Config{Host: srv.Host, Port: srv.Port, User: "alice", Password: "pw", TLS: TLSNone, Timeout: 10 * time.Second},
		delim:   '/',
		uidplus: caps == nil || caps.Has(imap.CapUIDPlus),
	}
	b.seed = func(t *testing.T, folder string, body []byte, flags []string, date time.Time) uint32 {
		t.Helper()
		uid, err := srv.Append("alice", folder, body, flags, date)
		if err != nil {
			t.Fatal(err)
		}
		return uid
	}
	b.mkdir = func(t *testing.T, folder string) {
		t.Helper()
		if err := srv.CreateFolder("alice", folder); err != nil {
			t.Fatal(err)
		}
	}
	b.subscribe = subscriber(srv.Addr, "alice", "pw")
	return b
}

// subscriber subscribes and unsubscribes server folders through a client
// of its own.
func subscriber(addr, user, pass string) func(t *testing.T, folder string, on bool) {
	return func(t *testing.T, folder string, on bool) {
		t.Helper()
		c := rawClient(t, addr, user, pass)
		defer c.Close()
		cmd := c.Unsubscribe
		if on {
			cmd = c.Subscribe
		}
		if err := cmd(folder).Wait(); err != nil {
			t.Fatalf("seed (UN)SUBSCRIBE %q: %v", folder, err)
		}
	}
}

func dovecotBackend(t *testing.T, srv *testdovecot.Server, sep string) *backend {
	b := &backend{
		name:      "dovecot",
		cfg:       Config{Host: srv.Host, Port: srv.Port, User: "alice", Password: srv.Password("alice"), TLS: TLSNone, Timeout: 10 * time.Second},
		delim:     rune(sep[0]),
		condstore: true,
		uidplus:   true,
	}
	b.seed = func(t *testing.T, folder string, body []byte, flags []string, date time.Time) uint32 {
		t.Helper()
		c := rawClient(t, srv.Addr(), "alice", srv.Password("alice"))
		defer c.Close()
		_ = c.Create(folder, nil).Wait() // may exist
		opts := &imap.AppendOptions{Time: date}
		for _, f := range flags {
			opts.Flags = append(opts.Flags, imap.Flag(f))
		}
		cmd := c.Append(folder, int64(len(body)), opts)
		if _, err := cmd.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatalf("seed APPEND to %q: %v", folder, err)
		}
		return uint32(data.UID)
	}
	b.mkdir = func(t *testing.T, folder string) {
		t.Helper()
		c := rawClient(t, srv.Addr(), "alice", srv.Password("alice"))
		defer c.Close()
		if err := c.Create(folder, nil).Wait(); err != nil && !strings.Contains(err.Error(), "ALREADYEXISTS") {
			t.Fatalf("seed CREATE %q: %v", folder, err)
		}
	}
	b.subscribe = subscriber(srv.Addr(), "alice", srv.Password("alice"))
	return b
}

// rawClient is a plain go-imap client, independent of the adapter.
func rawClient(t *testing.T, addr, user, pass string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// quirky messages in wire form, each a case the adapter must carry
// byte for byte.
func quirkyMessages() map[string][]byte {
	eightBit := []byte("From: a@example.org\r\nSubject: 8bit\r\nMessage-ID: <8bit@test>\r\nContent-Type: text/plain; charset=latin1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for b := 0x80; b <= 0xff; b++ {
		eightBit = append(eightBit, byte(b))
	}
	eightBit = append(eightBit, []byte("\r\nUTF-8: h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93\r\n")...)
	long := []byte("From: a@example.org\r\nSubject: long line\r\nMessage-ID: <long@test>\r\n\r\n")
	long = append(long, bytes.Repeat([]byte("0123456789abcdef"), 1<<16)...) // 1 MiB, one line
	long = append(long, "\r\n"...)
	return map[string][]byte{
		"plain":        []byte("From: a@example.org\r\nTo: b@example.org\r\nSubject: hello\r\nMessage-ID: <plain@test>\r\n\r\nHello.\r\n"),
		"8bit":         eightBit,
		"1MB line":     long,
		"no final EOL": []byte("From: a@example.org\r\nSubject: no newline\r\nMessage-ID: <noeol@test>\r\n\r\nthe last line has no end"),
		"bare CR":      []byte("From: a@example.org\r\nSubject: bare CR\r\nMessage-ID: <cr@test>\r\n\r\nbefore\rafter, a bare CR\r\n"),
	}
}

func msgWithID(id string, pad int) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nbody%s\r\n", id, id, strings.Repeat("x", pad)))
}
