package imap

// A server that misbehaves in FETCH: the same UID twice, a message listed
// without its body, a body for a UID nobody asked for. Each must give a
// correct result or a clear warning naming the folder and the message,
// never a hang, never a message handed on twice, never a silent loss.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/model"
)

const fakeDate = `"01-Jan-2024 00:00:00 +0000"`

// fetchScript answers the metadata FETCH with meta and the body FETCH
// with bodies, whatever UIDs are asked for, and counts the body FETCHes.
type fetchScript struct {
	meta, bodies string
	mu           sync.Mutex
	bodyFetches  int
}

func (s *fetchScript) respond(w io.Writer, tag, cmd, args string) {
	switch {
	case cmd == "UID FETCH" && strings.Contains(args, "RFC822.SIZE"):
		fmt.Fprintf(w, "%s%s OK done\r\n", s.meta, tag)
	case cmd == "UID FETCH":
		s.mu.Lock()
		s.bodyFetches++
		s.mu.Unlock()
		fmt.Fprintf(w, "%s%s OK done\r\n", s.bodies, tag)
	default:
		fmt.Fprintf(w, "%s BAD unexpected %s\r\n", tag, cmd)
	}
}

func metaLine(seq, uid int, flags string, size int) string {
	return fmt.Sprintf("* %d FETCH (UID %d FLAGS (%s) RFC822.SIZE %d INTERNALDATE %s)\r\n", seq, uid, flags, size, fakeDate)
}

func bodyLine(seq, uid int, body string) string {
	return fmt.Sprintf("* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", seq, uid, len(body), body)
}

// fetchAll opens INBOX on the fake and fetches uids, with a watchdog of
// one second and a log captured in logs.
func fetchAll(t *testing.T, s *fetchScript, uids []uint32) (got map[uint32]string, order []uint32, logs string, err error) {
	t.Helper()
	fake := startFake(t, s.respond)
	var buf bytes.Buffer
	var mu sync.Mutex
	cfg := fakeConfig(fake.addr, time.Second)
	cfg.Logger = zerolog.New(zerolog.SyncWriter(&lockedWriter{w: &buf, mu: &mu}))
	st, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := st.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got = map[uint32]string{}
	start := time.Now()
	err = f.Fetch(context.Background(), uids, func(m model.RemoteMsg, body io.Reader) error {
		b, rerr := io.ReadAll(body)
		if _, dup := got[m.UID]; dup {
			t.Errorf("UID %d handed on twice", m.UID)
		}
		got[m.UID] = string(b)
		order = append(order, m.UID)
		return rerr
	})
	if time.Since(start) > 3*time.Second {
		t.Errorf("Fetch took %v", time.Since(start))
	}
	mu.Lock()
	logs = buf.String()
	mu.Unlock()
	return got, order, logs, err
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestServerSendsUIDTwice: the metadata and the bodies name UID 2 twice
// (with other flags and another body the second time). List reports it
// once; Fetch hands on its first body once, and every other message.
func TestServerSendsUIDTwice(t *testing.T) {
	s := &fetchScript{
		meta: metaLine(1, 1, `\Seen`, 5) + metaLine(2, 2, ``, 5) + metaLine(2, 2, `\Flagged`, 5) + metaLine(3, 3, ``, 5),
		bodies: bodyLine(1, 1, "one\r\n") + bodyLine(2, 2, "two\r\n") + bodyLine(2, 2, "TWO!\r\n") +
			bodyLine(3, 3, "three\r\n"),
	}
	fake := startFake(t, s.respond)
	st, err := Dial(context.Background(), fakeConfig(fake.addr, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.List(context.Background())
	f.Close()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || msgs[0].UID != 1 || msgs[1].UID != 2 || msgs[2].UID != 3 {
		t.Fatalf("List: %+v, want UIDs 1, 2, 3 once each", msgs)
	}

	got, order, _, err := fetchAll(t, s, []uint32{1, 2, 3})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if fmt.Sprint(order) != "[1 2 3]" || got[2] != "two\r\n" || got[1] != "one\r\n" || got[3] != "three\r\n" {
		t.Fatalf("Fetch handed on %v: %v", order, got)
	}
}

// TestServerSendsNoBody: the server lists UID 2 but its answer to the body
// FETCH carries no BODY[]. The other messages come; UID 2 is skipped with a
// warning naming the folder and the UID (it stays on the server; the
// engine records the fetch as skipped and the next sync asks again).
func TestServerSendsNoBody(t *testing.T) {
	s := &fetchScript{
		meta:   metaLine(1, 1, ``, 5) + metaLine(2, 2, ``, 5) + metaLine(3, 3, ``, 7),
		bodies: bodyLine(1, 1, "one\r\n") + "* 2 FETCH (UID 2 FLAGS ())\r\n" + bodyLine(3, 3, "three\r\n"),
	}
	got, order, logs, err := fetchAll(t, s, []uint32{1, 2, 3})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if fmt.Sprint(order) != "[1 3]" {
		t.Fatalf("Fetch handed on %v (%v), want 1 and 3", order, got)
	}
	t.Log(logs)
	if !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, `"folder":"INBOX"`) ||
		!strings.Contains(logs, `"uids":[2]`) || !strings.Contains(logs, "sent no body") {
		t.Errorf("no warning naming INBOX and UID 2:\n%s", logs)
	}
}

// TestServerSendsUnaskedBody: a body for UID 9, which nobody asked for, is
// not handed on; the asked-for messages are.
func TestServerSendsUnaskedBody(t *testing.T) {
	s := &fetchScript{
		meta:   metaLine(1, 1, ``, 5) + metaLine(2, 2, ``, 5),
		bodies: bodyLine(1, 1, "one\r\n") + bodyLine(9, 9, "nine\r\n") + bodyLine(2, 2, "two\r\n"),
	}
	got, order, _, err := fetchAll(t, s, []uint32{1, 2})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if fmt.Sprint(order) != "[1 2]" || got[2] != "two\r\n" {
		t.Fatalf("Fetch handed on %v: %v", order, got)
	}
}

// TestServerSendsNothing: the server answers the metadata FETCH
// with nothing (the messages are gone): Fetch asks for no body and ends.
func TestServerSendsNothing(t *testing.T) {
	s := &fetchScript{}
	got, _, _, err := fetchAll(t, s, []uint32{1, 2})
	if err != nil || len(got) != 0 {
		t.Fatalf("Fetch of vanished messages: %v, %v", got, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bodyFetches != 0 {
		t.Errorf("%d body FETCHes for messages the server does not list", s.bodyFetches)
	}
}

// TestServerSendsEmptyBody: UID 2 has RFC822.SIZE 40 but its BODY[] comes
// back empty (imapmemserver does this for a message without a header). It
// is skipped with a warning, never stored as an empty message.
func TestServerSendsEmptyBody(t *testing.T) {
	s := &fetchScript{
		meta:   metaLine(1, 1, ``, 5) + metaLine(2, 2, ``, 40) + metaLine(3, 3, ``, 0),
		bodies: bodyLine(1, 1, "one\r\n") + bodyLine(2, 2, "") + bodyLine(3, 3, ""),
	}
	got, order, logs, err := fetchAll(t, s, []uint32{1, 2, 3})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// UID 3 is empty and says so (RFC822.SIZE 0): it is handed on.
	if fmt.Sprint(order) != "[1 3]" || got[3] != "" {
		t.Fatalf("Fetch handed on %v (%v), want 1 and 3", order, got)
	}
	if !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, `"uids":[2]`) {
		t.Errorf("no warning naming UID 2:\n%s", logs)
	}
}

// appendRecorder is an APPEND handler that reads the literal (after a
// continuation request) and records how much of it arrived and whether the
// command was completed.
type appendRecorder struct {
	mu       sync.Mutex
	got      int
	complete bool
	done     bool // the handler returned: the literal ended or the connection did
}

func (a *appendRecorder) handle(w io.Writer, r *bufio.Reader, tag, args string) {
	defer func() {
		a.mu.Lock()
		a.done = true
		a.mu.Unlock()
	}()
	open := strings.LastIndexByte(args, '{')
	var n int
	fmt.Sscanf(strings.TrimSuffix(args[open+1:], "+}"), "%d", &n)
	if !strings.HasSuffix(args, "+}") {
		fmt.Fprintf(w, "+ go ahead\r\n")
	}
	buf := make([]byte, n)
	k, _ := io.ReadFull(r, buf)
	a.mu.Lock()
	a.got = k
	a.mu.Unlock()
	if k < n {
		return // the connection ended inside the literal: nothing stored
	}
	if line, err := r.ReadString('\n'); err != nil || line != "\r\n" {
		return
	}
	a.mu.Lock()
	a.complete = true
	a.mu.Unlock()
	fmt.Fprintf(w, "%s OK [APPENDUID 42 7] stored\r\n", tag)
}

// TestAppendOfAGrowingBodyStoresNothing: a body longer than the size
// announced (its file grew while it was read) fails the APPEND before the
// literal's last byte is sent, so that no server can store a message; an
// exact body is stored.
func TestAppendOfAGrowingBodyStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		size     int64
		body     string
		wantErr  string
		complete bool
	}{
		{"exact", 11, "hello\r\nbye\r", "", true},
		{"longer", 11, "hello\r\nbye\r\nand more", "longer than its size", false},
		{"big, longer", 200000, strings.Repeat("x", 200010), "longer than its size", false},
		// A multiple of io.Copy's 32 KiB chunks: every byte goes out at
		// once, none waits in a buffer.
		{"4 x 32 KiB, longer", 4 << 15, strings.Repeat("y", 4<<15+10), "longer than its size", false},
		{"shorter", 11, "hello\r\n", "ended after 7 of 11 bytes", false},
		{"empty, exact", 0, "", "", true},
		{"empty, longer", 0, "x", "longer than its size", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &appendRecorder{}
			fake := startFakeAppend(t, stallOn("nothing"), rec.handle)
			f := fakeInbox(t, fake, time.Second)
			uid, err := f.Append(context.Background(), tc.size, strings.NewReader(tc.body), 0, time.Time{})
			if tc.wantErr == "" {
				if err != nil || uid != 7 {
					t.Fatalf("Append: uid %d, %v", uid, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Append: %v, want an error saying %q", err, tc.wantErr)
			}
			// Wait for the fake to see the end of the literal or of the
			// connection.
			deadline := time.Now().Add(2 * time.Second)
			for {
				rec.mu.Lock()
				got, complete, done := rec.got, rec.complete, rec.done
				rec.mu.Unlock()
				if done {
					t.Logf("server got %d of %d literal bytes, command complete: %v", got, tc.size, complete)
					if complete != tc.complete {
						t.Fatalf("command complete %v, want %v", complete, tc.complete)
					}
					if !tc.complete && tc.size > 0 && got >= int(tc.size) {
						t.Fatalf("the server received the whole literal of a message that failed: a server may store it")
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("the fake never saw the APPEND end (got %d of %d bytes)", got, tc.size)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestAppendConnectionLossSaysSo: when the connection ends during an
// APPEND (before the continuation, inside the literal, or after the
// literal without an answer) the error says "connection lost", so that the
// caller stops the folder and looks for the copy on the server before
// appending again; a failing body (the local file) does not, and the
// server stores nothing of it.
func TestAppendConnectionLossSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		onAppend func(w io.Writer, r *bufio.Reader, tag, args string)
		body     io.Reader
		lost     bool
	}{
		{"closed before the continuation", func(w io.Writer, r *bufio.Reader, tag, args string) {
			w.(io.Closer).Close()
		}, strings.NewReader("hello\r\n"), true},
		{"closed inside the literal", func(w io.Writer, r *bufio.Reader, tag, args string) {
			fmt.Fprintf(w, "+ go ahead\r\n")
			r.ReadByte()
			w.(io.Closer).Close()
		}, strings.NewReader("hello\r\n"), true},
		{"closed after the literal, unanswered", func(w io.Writer, r *bufio.Reader, tag, args string) {
			fmt.Fprintf(w, "+ go ahead\r\n")
			io.ReadFull(r, make([]byte, 7))
			r.ReadString('\n')
			w.(io.Closer).Close()
		}, strings.NewReader("hello\r\n"), true},
		{"the body fails", func(w io.Writer, r *bufio.Reader, tag, args string) {
			fmt.Fprintf(w, "+ go ahead\r\n")
			io.ReadAll(r)
		}, io.MultiReader(strings.NewReader("hel"), &failingReader{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := startFakeAppend(t, stallOn("nothing"), tc.onAppend)
			f := fakeInbox(t, fake, time.Second)
			_, err := f.Append(context.Background(), 7, tc.body, 0, time.Time{})
			t.Log(err)
			if err == nil {
				t.Fatal("Append succeeded")
			}
			lost := saysConnectionLost(err)
			if lost != tc.lost {
				t.Errorf("error %q: says connection lost %v, want %v", err, lost, tc.lost)
			}
		})
	}
}

// saysConnectionLost: err is errConnectionLost and its text says so, as
// the caller needs to stop the folder and look for the copies.
func saysConnectionLost(err error) bool {
	return errors.Is(err, errConnectionLost) && strings.Contains(err.Error(), "connection lost")
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("maildir file x: read: input/output error")
}
