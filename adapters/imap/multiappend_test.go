package imap

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/testdovecot"
	"mailtrail/model"
)

func batchMsgs(bodies []string, flags []model.Flags, dates []time.Time) []adapters.AppendMsg {
	var out []adapters.AppendMsg
	for i, b := range bodies {
		out = append(out, adapters.AppendMsg{Size: int64(len(b)), Body: strings.NewReader(b), Flags: flags[i], Date: dates[i]})
	}
	return out
}

// TestMultiAppendDovecot: one MULTIAPPEND stores every message with its
// flags and date, byte for byte, and returns their UIDs in order; go-imap
// goes on on the same connection afterwards; a batch with a body longer
// than its size, or one the server refuses, stores nothing. In clear text,
// over implicit TLS and over STARTTLS (the stream is borrowed above TLS).
func TestMultiAppendDovecot(t *testing.T) {
	srv := testdovecot.StartWith(t, testdovecot.Options{Users: []string{"alice:s3cret-pw"}, Separator: "."})
	b := dovecotBackend(t, srv, ".")
	tlsCfg := b.cfg
	tlsCfg.Port, tlsCfg.TLS, tlsCfg.CAFile = srv.TLSPort, TLSImplicit, srv.CAFile
	startTLSCfg := b.cfg
	startTLSCfg.TLS, startTLSCfg.CAFile = TLSStartTLS, srv.CAFile
	for _, tc := range []struct {
		name, folder string
		cfg          Config
	}{
		{"plain", "Batch", b.cfg},
		{"implicit TLS", "Entwürfe & Co", tlsCfg},
		{"STARTTLS", "Work/Reports", startTLSCfg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			s, err := Dial(ctx, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateFolder(ctx, tc.folder); err != nil {
				t.Fatal(err)
			}
			rf, err := s.SelectFolder(ctx, tc.folder)
			if err != nil {
				t.Fatal(err)
			}
			defer rf.Close()
			f := rf.(*Folder)
			if !f.CanAppendBatch() {
				t.Fatal("Dovecot has MULTIAPPEND and UIDPLUS: CanAppendBatch is false")
			}
			day := time.Date(2024, 3, 5, 7, 8, 9, 0, time.FixedZone("", 3600))
			bodies := []string{
				"Subject: one\r\n\r\nfirst\r\n",
				"Subject: two\r\n\r\n" + strings.Repeat("second line\r\n", 1000),
				"Subject: three\r\n\r\nthird, ends without CRLF",
			}
			flags := []model.Flags{model.Seen, model.Flagged | model.Answered, 0}
			dates := []time.Time{day, day.Add(time.Hour), {}}
			uids, err := f.AppendBatch(ctx, batchMsgs(bodies, flags, dates))
			if err != nil {
				t.Fatalf("AppendBatch: %v", err)
			}
			if len(uids) != 3 || uids[0] == 0 || uids[1] != uids[0]+1 || uids[2] != uids[1]+1 {
				t.Fatalf("AppendBatch UIDs %v, want three in a row", uids)
			}
			// go-imap's next command on the same connection.
			list, err := f.List(ctx)
			if err != nil {
				t.Fatalf("List after AppendBatch: %v", err)
			}
			if len(list) != 3 {
				t.Fatalf("List: %d messages, want 3", len(list))
			}
			for i, m := range list {
				if m.UID != uids[i] || m.Flags != flags[i] || m.Size != int64(len(bodies[i])) {
					t.Errorf("message %d: %+v, want UID %d, flags %v, size %d", i, m, uids[i], flags[i], len(bodies[i]))
				}
				if !dates[i].IsZero() && !m.InternalDate.Time().Equal(dates[i]) {
					t.Errorf("message %d: internal date %v, want %v", i, m.InternalDate, dates[i])
				}
			}
			got := map[uint32]string{}
			if err := f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
				b, err := io.ReadAll(body)
				got[m.UID] = string(b)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for i, uid := range uids {
				if got[uid] != bodies[i] {
					t.Errorf("UID %d: stored %q..., sent %q...", uid, got[uid][:min(len(got[uid]), 30)], bodies[i][:min(len(bodies[i]), 30)])
				}
			}
			uid, err := f.Append(ctx, 9, strings.NewReader("x: y\r\n\r\nz"), 0, time.Time{})
			if err != nil || uid != uids[2]+1 {
				t.Fatalf("Append after AppendBatch: UID %d, %v; want %d", uid, err, uids[2]+1)
			}

			// A body longer than its size: nothing stored, the
			// connection closed, the next command reconnects.
			bad := batchMsgs([]string{"Subject: ok\r\n\r\nfine\r\n", "Subject: grew\r\n\r\n"}, []model.Flags{0, 0}, []time.Time{{}, {}})
			bad[1].Size -= 3
			if _, err := f.AppendBatch(ctx, bad); err == nil || !strings.Contains(err.Error(), "longer than its size") {
				t.Fatalf("AppendBatch of a body longer than its size: %v", err)
			}
			// The server refuses an empty message: nothing stored, and
			// the connection goes on.
			refused := batchMsgs([]string{"Subject: ok\r\n\r\nfine\r\n", ""}, []model.Flags{0, 0}, []time.Time{{}, {}})
			if _, err := f.AppendBatch(ctx, refused); err == nil || !isServerRefusal(err) {
				t.Fatalf("AppendBatch with an empty message: %v, want the server's refusal", err)
			}
			list, err = f.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 4 {
				t.Fatalf("after two failed batches the folder holds %d messages, want 4 (nothing stored)", len(list))
			}
		})
	}
}

// multiAppendScript is a server's side of MULTIAPPEND without LITERAL+:
// it asks for each literal, sends an untagged EXPUNGE between two (which
// go-imap must see afterwards), and records what it was sent.
type multiAppendScript struct {
	mu     sync.Mutex
	bodies []string
	flags  []string
}

func (m *multiAppendScript) handle(w io.Writer, r *bufio.Reader, tag, args string) {
	rest := args
	for {
		open := strings.LastIndexByte(rest, '{')
		if open < 0 || !strings.HasSuffix(rest, "}") {
			fmt.Fprintf(w, "%s BAD no literal in %q\r\n", tag, rest)
			return
		}
		var n int
		fmt.Sscanf(rest[open+1:], "%d}", &n)
		if p := strings.IndexByte(rest, '('); p >= 0 && p < open {
			m.flags = append(m.flags, rest[p:strings.IndexByte(rest, ')')+1])
		} else {
			m.flags = append(m.flags, "")
		}
		fmt.Fprintf(w, "+ go ahead\r\n")
		if len(m.bodies) == 1 {
			fmt.Fprintf(w, "* 1 EXPUNGE\r\n")
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		m.mu.Lock()
		m.bodies = append(m.bodies, string(buf))
		m.mu.Unlock()
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" {
			fmt.Fprintf(w, "* %d EXISTS\r\n%s OK [APPENDUID 42 7:%d] stored\r\n", len(m.bodies), tag, 6+len(m.bodies))
			return
		}
		rest = strings.TrimRight(line, "\r\n")
	}
}

// multiAppendFake is INBOX selected on a fake server with MULTIAPPEND
// (without LITERAL+) whose APPEND is onAppend, and the server.
func multiAppendFake(t *testing.T, onAppend func(w io.Writer, r *bufio.Reader, tag, args string)) (*Folder, *fakeServer) {
	t.Helper()
	fake := startFakeCaps(t, "IMAP4rev1 UIDPLUS UNSELECT MULTIAPPEND", stallOn("nothing"), onAppend)
	return fakeInbox(t, fake, 2*time.Second), fake
}

// TestMultiAppendSynchronizingLiterals: without LITERAL+ each message
// waits for the server's continuation; untagged responses in between are
// handed to go-imap, and go-imap's next command works.
func TestMultiAppendSynchronizingLiterals(t *testing.T) {
	script := &multiAppendScript{}
	f, _ := multiAppendFake(t, script.handle)
	bodies := []string{"a: 1\r\n\r\none", "a: 2\r\n\r\ntwo", "a: 3\r\n\r\nthree"}
	uids, err := f.AppendBatch(context.Background(), batchMsgs(bodies, []model.Flags{model.Seen, 0, model.Draft}, make([]time.Time, 3)))
	if err != nil {
		t.Fatalf("AppendBatch: %v", err)
	}
	if fmt.Sprint(uids) != "[7 8 9]" {
		t.Errorf("UIDs %v, want [7 8 9]", uids)
	}
	if fmt.Sprint(script.bodies) != fmt.Sprint(bodies) || fmt.Sprint(script.flags) != `[(\Seen)  (\Draft)]` {
		t.Errorf("the server got %q with flags %q", script.bodies, script.flags)
	}
	// go-imap reads on: the NOOP's answer comes after the forwarded
	// responses, and the EXPUNGE among them was counted.
	if err := f.do(context.Background(), "NOOP", func(c *conn) error { return c.client.Noop().Wait() }); err != nil {
		t.Fatalf("NOOP after AppendBatch: %v", err)
	}
	if n := f.conn.expunges.Load(); n != 1 {
		t.Errorf("go-imap saw %d unsolicited EXPUNGE, want the 1 sent during the batch", n)
	}
}

// TestMultiAppendConnectionLossSaysSo: as for APPEND, a connection that
// ends during a MULTIAPPEND (before a continuation, inside a later
// message, after the command without an answer) is "connection lost", so
// that the caller stops the folder and looks for the copies before
// appending again; a failing body is that message's error, not a lost
// connection, and the connection is closed before the command ends.
func TestMultiAppendConnectionLossSaysSo(t *testing.T) {
	hello := "hello\r\n"
	goAhead := func(w io.Writer) { fmt.Fprintf(w, "+ go ahead\r\n") }
	// take asks for one message and reads it to the end of its line.
	take := func(w io.Writer, r *bufio.Reader) {
		goAhead(w)
		io.ReadFull(r, make([]byte, len(hello)))
		r.ReadString('\n')
	}
	for _, tc := range []struct {
		name     string
		onAppend func(w io.Writer, r *bufio.Reader, tag, args string)
		second   io.Reader
		lost     bool
	}{
		{"closed before the first continuation", func(w io.Writer, r *bufio.Reader, tag, args string) {
			w.(io.Closer).Close()
		}, strings.NewReader(hello), true},
		{"closed inside the second message", func(w io.Writer, r *bufio.Reader, tag, args string) {
			take(w, r)
			goAhead(w)
			r.ReadByte()
			w.(io.Closer).Close()
		}, strings.NewReader(hello), true},
		{"closed after the command, unanswered", func(w io.Writer, r *bufio.Reader, tag, args string) {
			take(w, r)
			take(w, r)
			w.(io.Closer).Close()
		}, strings.NewReader(hello), true},
		{"the second body fails", func(w io.Writer, r *bufio.Reader, tag, args string) {
			take(w, r)
			goAhead(w)
			io.ReadAll(r)
		}, io.MultiReader(strings.NewReader("hel"), &failingReader{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := multiAppendFake(t, tc.onAppend)
			msgs := []adapters.AppendMsg{{Size: 7, Body: strings.NewReader(hello)}, {Size: 7, Body: tc.second}}
			_, err := f.AppendBatch(context.Background(), msgs)
			t.Log(err)
			if err == nil {
				t.Fatal("AppendBatch succeeded")
			}
			lost := saysConnectionLost(err)
			if lost != tc.lost {
				t.Errorf("error %q: says connection lost %v, want %v", err, lost, tc.lost)
			}
		})
	}
}

// TestMultiAppendAnswers: the tagged answer's UIDs (APPENDUID with a UID
// set, in order), none when the set does not match the messages, and the
// server's refusal as *imap.Error.
func TestMultiAppendAnswers(t *testing.T) {
	for _, tc := range []struct {
		line    string
		count   int
		want    string
		refusal bool
	}{
		{"MT1 OK [APPENDUID 42 7:9] done", 3, "[7 8 9]", false},
		{"MT1 OK [APPENDUID 42 7,9:10] done", 3, "[7 9 10]", false},
		{"MT1 ok [appenduid 42 9:7] done", 3, "[7 8 9]", false},
		{"MT1 OK [APPENDUID 42 7:8] done", 3, "[]", false},
		{"MT1 OK done", 2, "[]", false},
		{"MT1 OK [APPENDUID 42 x:y] done", 2, "[]", false},
		{"MT1 NO [OVERQUOTA] no room", 2, "[]", true},
		{"MT1 BAD what", 2, "[]", true},
	} {
		ma := &multiAppend{tag: "MT1"}
		uids, err := ma.tagged(tc.line, tc.count)
		if got := fmt.Sprint(uids); got != tc.want || (err != nil) != tc.refusal || isServerRefusal(err) != tc.refusal {
			t.Errorf("%q: UIDs %s, error %v; want %s, refusal %v", tc.line, got, err, tc.want, tc.refusal)
		}
	}
	if _, err := (&multiAppend{tag: "MT1"}).tagged("MT1 PREAUTH hm", 1); err == nil || isServerRefusal(err) {
		t.Errorf("an answer that is neither OK, NO nor BAD: %v", err)
	}
}

// TestReadResponse: a response is read whole, literals included, and no
// further: what follows stays for the next read (go-imap's, after a
// borrow).
func TestReadResponse(t *testing.T) {
	// The second response ends with a literal whose bytes end in "{3}":
	// not a literal announced.
	r := bufio.NewReader(strings.NewReader("* 1 FETCH (BODY[] {4}\r\nhi\r\n UID 5)\r\n" +
		"* LIST () \"/\" {5}\r\nab{3}\r\nMT1 OK done\r\n* 2 EXISTS\r\n"))
	for _, want := range []string{"* 1 FETCH (BODY[] {4}\r\nhi\r\n UID 5)\r\n", "* LIST () \"/\" {5}\r\nab{3}\r\n",
		"MT1 OK done\r\n", "* 2 EXISTS\r\n"} {
		got, err := readResponse(r)
		if err != nil || string(got) != want {
			t.Fatalf("readResponse: %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readResponse(r); err == nil {
		t.Fatal("readResponse at the end of the stream: no error")
	}
}

// TestMultiAppendOnAConnectionTheServerClosed: when the server has hung up
// between two commands, a batch fails at once (nothing was sent), not after
// waiting for go-imap's reader to park: it has stopped, and closed the
// connection, whose deadline can no longer be set.
func TestMultiAppendOnAConnectionTheServerClosed(t *testing.T) {
	f, fake := multiAppendFake(t, nil)
	fake.mu.Lock()
	for _, c := range fake.conns {
		c.Close()
	}
	fake.mu.Unlock()
	select {
	case <-f.conn.client.Closed():
	case <-time.After(2 * time.Second):
		t.Fatal("go-imap did not notice the server hanging up")
	}
	start := time.Now()
	_, err := f.AppendBatch(context.Background(), batchMsgs([]string{"a: b\r\n\r\nc", "a: b\r\n\r\nd"}, []model.Flags{0, 0}, make([]time.Time, 2)))
	if err == nil || !strings.Contains(err.Error(), "connection") {
		t.Fatalf("AppendBatch on a closed connection: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("AppendBatch took %v to fail", took)
	}
}

// TestAppendBatchWithAnswers: the UID STOREs written behind a MULTIAPPEND
// are answered in any order, before or after the APPEND, and each store's
// refusal is the stores' error, not the batch's; a batch refused at a
// synchronising literal has sent no store, and says so.
func TestAppendBatchWithAnswers(t *testing.T) {
	hello := "hello\r\n"
	msgs := func() []adapters.AppendMsg {
		return []adapters.AppendMsg{{Size: 7, Body: strings.NewReader(hello)}, {Size: 7, Body: strings.NewReader(hello)}}
	}
	changes := []adapters.FlagChange{{UIDs: []uint32{1}, Add: model.Flagged}, {UIDs: []uint32{1}, Remove: model.Draft}}
	var stores []string
	// The server takes both messages, then answers the stores first (the
	// second with NO), an untagged FETCH among them, then the APPEND.
	f, _ := multiAppendFake(t, func(w io.Writer, r *bufio.Reader, tag, args string) {
		for range 2 {
			fmt.Fprintf(w, "+ go ahead\r\n")
			io.ReadFull(r, make([]byte, len(hello)))
			r.ReadString('\n')
		}
		for range 2 {
			line, _ := r.ReadString('\n')
			stores = append(stores, strings.TrimRight(line, "\r\n"))
		}
		storeTag := func(i int) string { return strings.Fields(stores[i])[0] }
		fmt.Fprintf(w, "* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n%s OK stored\r\n", storeTag(0))
		fmt.Fprintf(w, "%s NO [CANNOT] not that one\r\n", storeTag(1))
		fmt.Fprintf(w, "%s OK [APPENDUID 42 7:8] stored\r\n", tag)
	})
	uids, appendErr, sent, err := f.AppendBatchWith(context.Background(), msgs(), changes, nil)
	if appendErr != nil || fmt.Sprint(uids) != "[7 8]" {
		t.Fatalf("the batch: UIDs %v, %v; want [7 8]", uids, appendErr)
	}
	if !sent || err == nil || !strings.Contains(err.Error(), "not that one") {
		t.Fatalf("the stores: sent %v, %v; want sent, with the second's refusal", sent, err)
	}
	if len(stores) != 2 || !strings.HasSuffix(stores[0], `UID STORE 1 +FLAGS.SILENT (\Flagged)`) || !strings.HasSuffix(stores[1], `UID STORE 1 -FLAGS.SILENT (\Draft)`) {
		t.Errorf("the server was sent %q", stores)
	}
	if err := f.do(context.Background(), "NOOP", func(c *conn) error { return c.client.Noop().Wait() }); err != nil {
		t.Fatalf("NOOP after AppendBatchWith: %v", err)
	}

	// Refused at the first literal: nothing more was written.
	f, _ = multiAppendFake(t, func(w io.Writer, r *bufio.Reader, tag, args string) {
		fmt.Fprintf(w, "%s NO [OVERQUOTA] no room\r\n", tag)
	})
	_, appendErr, sent, err = f.AppendBatchWith(context.Background(), msgs(), changes, []uint32{1})
	if !isServerRefusal(appendErr) || sent || err != nil {
		t.Fatalf("a batch refused at its first literal: %v, stores sent %v, %v; want the refusal, nothing sent", appendErr, sent, err)
	}
	if err := f.do(context.Background(), "NOOP", func(c *conn) error { return c.client.Noop().Wait() }); err != nil {
		t.Fatalf("NOOP after the refusal: %v", err)
	}
}

// testAppendBatchWithOneRoundTrip: the UID STOREs of AppendBatchWith go out
// right behind the MULTIAPPEND, before any answer: the proxy gives no
// answer until it has seen a UID STORE.
func testAppendBatchWithOneRoundTrip(t *testing.T, b *backend) {
	name := "AppendWithOneTrip"
	b.mkdir(t, b.serverName(name))
	uid := b.seed(t, b.serverName(name), msgWithID("<append-with-one-trip@test>", 1), nil, time.Time{})
	g, s := gatedStore(t, b)
	rf, err := s.SelectFolder(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	f := rf.(*Folder)
	if !f.CanAppendBatch() {
		t.Skip("no MULTIAPPEND")
	}
	g.armOn("UID STORE")
	body := msgWithID("<append-with-one-trip-new@test>", 2)
	uids, appendErr, sent, err := f.AppendBatchWith(ctxT(t), []adapters.AppendMsg{{Size: int64(len(body)), Body: bytes.NewReader(body)}},
		[]adapters.FlagChange{{UIDs: []uint32{uid}, Add: model.Flagged}}, nil)
	if appendErr != nil || err != nil || !sent || len(uids) != 1 {
		t.Fatalf("AppendBatchWith: UIDs %v, batch %v, stores sent %v, %v", uids, appendErr, sent, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timedOut {
		t.Fatalf("the client waited for the MULTIAPPEND's answer before it sent the UID STORE (it sent: %q)", g.sent.String())
	}
}
