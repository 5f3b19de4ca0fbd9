package imap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/latencyproxy"
	"mailtrail/model"
)

// testStoreFlagChangesSurveying: StoreFlagChangesSurveying writes the
// folder's survey right behind its flag stores, before any answer is read
// (a proxy holds the server's answers until it has seen the survey's UID
// FETCH: a client that waits for the stores' answers first times out), and
// the survey, answered after the stores, shows their effect: the message
// listed changed with its new flags, the HIGHESTMODSEQ past the one
// before. The folder then refuses more commands and closes; with leave the
// connection logs out once the answers are read, and not before (the gate
// holds them 300 ms after the survey's UID FETCH: no LOGOUT meanwhile),
// and the store stays usable. Without CONDSTORE the stores alone
// are made and the survey says ErrUnsupported.
func testStoreFlagChangesSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "StoreSurvey"
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	first := b.seed(t, b.serverName(name), msgWithID("<store-survey-1@test>", 1), nil, date)
	second := b.seed(t, b.serverName(name), msgWithID("<store-survey-2@test>", 2), []string{`\Seen`}, date)
	g, s := gatedStore(t, b)
	flagsOf := func(uid uint32) model.Flags {
		t.Helper()
		flags, ok := serverFlags(t, s, name)[uid]
		if !ok {
			t.Fatalf("UID %d not on the server", uid)
		}
		return flags
	}

	if !s.hasCondStore() {
		f, err := s.Select(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		sv, err := f.StoreFlagChangesSurveying(ctx, []adapters.FlagChange{{UIDs: []uint32{first}, Add: model.Flagged}}, 1, false)
		f.Close()
		if err != nil || !errors.Is(sv.Err, adapters.ErrUnsupported) || sv.Changes != nil {
			t.Fatalf("without CONDSTORE: %+v, %v; want the stores made and ErrUnsupported", sv, err)
		}
		if got := flagsOf(first); got&model.Flagged == 0 {
			t.Fatalf("without CONDSTORE the store was not made: flags %v", got)
		}
		return
	}

	for _, leave := range []bool{false, true} {
		f, err := s.Select(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		before := f.Status().HighestModSeq
		changes := []adapters.FlagChange{{UIDs: []uint32{first}, Add: model.Flagged}, {UIDs: []uint32{second}, Remove: model.Seen}}
		if leave {
			changes = []adapters.FlagChange{{UIDs: []uint32{first}, Remove: model.Flagged}, {UIDs: []uint32{second}, Add: model.Seen}}
			g.armLinger("CHANGEDSINCE", 300*time.Millisecond)
		} else {
			g.arm()
		}
		sv, err := f.StoreFlagChangesSurveying(ctx, changes, before, leave)
		var timedOut bool
		var sent string
		if leave {
			sent = g.requireLogoutAfterAnswers(t, s)
		} else {
			timedOut, sent = g.take()
		}
		if err != nil || sv.Err != nil {
			t.Fatalf("leave %v: %+v, %v", leave, sv, err)
		}
		if timedOut {
			t.Fatalf("leave %v: the client waited for the stores' answers before it sent the survey (it sent: %q)", leave, sent)
		}
		if i, j := strings.Index(sent, "STORE"), strings.Index(sent, "EXAMINE"); i < 0 || j < i {
			t.Fatalf("leave %v: the survey's EXAMINE did not follow the stores: %q", leave, sent)
		}
		if sv.Status.HighestModSeq <= before || sv.Changes == nil {
			t.Fatalf("leave %v: surveyed %+v, want the changes since %d and a HIGHESTMODSEQ past it", leave, sv, before)
		}
		want := map[uint32]model.Flags{first: model.Flagged, second: 0}
		if leave {
			want = map[uint32]model.Flags{first: 0, second: model.Seen}
		}
		for _, m := range sv.Changes.Changed {
			if w, ok := want[m.UID]; ok && m.Flags != w {
				t.Fatalf("leave %v: UID %d surveyed with flags %v, want %v (the survey came before the store)", leave, m.UID, m.Flags, w)
			}
			delete(want, m.UID)
		}
		if len(want) != 0 {
			t.Fatalf("leave %v: UIDs %v not listed as changed: %+v", leave, want, sv.Changes)
		}
		if err := f.StoreFlags(ctx, []uint32{first}, model.Answered, 0); err == nil {
			t.Fatalf("leave %v: the folder took a command after its survey", leave)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		idle := len(s.idle)
		s.mu.Unlock()
		if leave && idle != 0 {
			t.Fatalf("%d connections idle after the survey with the LOGOUT, want none", idle)
		}
		if !leave && idle != 1 {
			t.Fatalf("%d connections idle after the survey, want its own back", idle)
		}
	}
	// Usable still, on a new connection: the last stores are there.
	if got := flagsOf(second); got&model.Seen == 0 {
		t.Fatalf("UID %d has flags %v after the stores, want \\Seen", second, got)
	}
}

// testStoreFlagsAndExpungeSurveying: StoreFlagsAndExpungeSurveying writes
// the folder's survey right behind its expunge, before the expunge's
// answer is read (the proxy holds the server's answers from the expunge
// on until it has seen the survey's UID FETCH), and the survey shows the
// expunge done and the flag stored. Without CONDSTORE the stores and the
// expunge alone are made.
func testStoreFlagsAndExpungeSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "ExpungeSurvey"
	uids, g, s, f := seededGated(t, b, name, 3)
	before := f.Status().HighestModSeq
	if s.hasCondStore() {
		g.armAfter("EXPUNGE", "UID FETCH")
	}
	sv, err := f.StoreFlagsAndExpungeSurveying(ctx, []adapters.FlagChange{{UIDs: uids[:1], Add: model.Flagged}}, uids[1:2], before, false)
	timedOut, sent := g.take()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	left := serverFlags(t, s, name)
	if _, ok := left[uids[1]]; ok || left[uids[0]]&model.Flagged == 0 || len(left) != 2 {
		t.Fatalf("after the expunge: %v; want UID %d gone, UID %d flagged", left, uids[1], uids[0])
	}
	if !s.hasCondStore() {
		if err != nil || !errors.Is(sv.Err, adapters.ErrUnsupported) {
			t.Fatalf("without CONDSTORE: %+v, %v; want the expunge made and ErrUnsupported", sv, err)
		}
		return
	}
	if err != nil || sv.Err != nil || sv.Changes == nil {
		t.Fatalf("%+v, %v", sv, err)
	}
	if timedOut {
		t.Fatalf("the client waited for the expunge's answer before it sent the survey (it sent: %q)", sent)
	}
	if len(sv.Changes.UIDs) != 2 || sv.Status.Messages != 2 || sv.Status.HighestModSeq <= before {
		t.Fatalf("surveyed %+v (UIDs %v), want the two messages left and a HIGHESTMODSEQ past %d", sv.Status, sv.Changes.UIDs, before)
	}
	for _, m := range sv.Changes.Changed {
		if m.UID == uids[0] && m.Flags&model.Flagged == 0 {
			t.Fatalf("UID %d surveyed with flags %v, want \\Flagged", m.UID, m.Flags)
		}
	}
}

// testFetchListedSurveying: FetchListedSurveying writes the folder's
// survey right behind the bodies' UID FETCH, before any body is read (the
// proxy holds the server's answers until it has seen the survey's
// CHANGEDSINCE: a client that reads the bodies first times out); the
// bodies are handed on whole, and the survey, answered after them, lists
// the folder. With leave the connection logs out in that round trip.
// Without CONDSTORE the bodies alone are fetched.
func testFetchListedSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "FetchSurvey"
	bodies := map[uint32][]byte{}
	for i := range 2 {
		body := msgWithID(fmt.Sprintf("<fetch-survey-%d@test>", i), i)
		bodies[b.seed(t, b.serverName(name), body, nil, time.Time{})] = body
	}
	g, s := gatedStore(t, b)
	for _, leave := range []bool{false, true} {
		f, err := s.Select(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := f.List(ctx)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("listed %v, %v", msgs, err)
		}
		before := f.Status().HighestModSeq
		if s.hasCondStore() {
			g.armOn("CHANGEDSINCE")
		}
		got := map[uint32]string{}
		sv, err := f.FetchListedSurveying(ctx, msgs, func(m model.RemoteMsg, body io.Reader) error {
			b, err := io.ReadAll(body)
			got[m.UID] = string(b)
			return err
		}, before, leave)
		timedOut, sent := g.take()
		if err != nil {
			t.Fatalf("leave %v: %v", leave, err)
		}
		for uid, body := range bodies {
			if got[uid] != strings.ReplaceAll(string(body), "\n", "\r\n") && got[uid] != string(body) {
				t.Fatalf("leave %v: UID %d handed on as %q, want %q", leave, uid, got[uid], body)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !s.hasCondStore() {
			if !errors.Is(sv.Err, adapters.ErrUnsupported) {
				t.Fatalf("without CONDSTORE: %+v; want ErrUnsupported", sv)
			}
			return
		}
		if timedOut {
			t.Fatalf("leave %v: the client read the bodies before it sent the survey (it sent: %q)", leave, sent)
		}
		if sv.Err != nil || sv.Changes == nil || len(sv.Changes.UIDs) != 2 || sv.Status.HighestModSeq != before {
			t.Fatalf("leave %v: surveyed %+v, want both messages and the HIGHESTMODSEQ unchanged (%d)", leave, sv, before)
		}
		s.mu.Lock()
		idle := len(s.idle)
		s.mu.Unlock()
		if want := map[bool]int{false: 1, true: 0}[leave]; idle != want {
			t.Fatalf("leave %v: %d connections idle after the survey, want %d", leave, idle, want)
		}
	}
}

// testAppendSurveying: AppendSurveying writes the folder's survey right
// behind the APPEND's literal, before the APPEND's answer is read (the
// proxy holds the server's answers until it has seen the survey's UID
// FETCH), and the survey, answered after the APPEND, lists the new
// message under the UID the APPEND named; the folder then refuses more
// commands, and with leave the connection logged out. A body shorter
// than its size stores nothing and sends no survey. Without UIDPLUS or
// CONDSTORE the APPEND alone is made, the survey saying ErrUnsupported.
func testAppendSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "AppendSurvey"
	b.seed(t, b.serverName(name), msgWithID("<append-survey-0@test>", 0), nil, time.Time{})
	g, s := gatedStore(t, b)
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	surveys := s.hasCondStore() && s.has("UIDPLUS")
	for i, leave := range []bool{false, true} {
		f, err := s.Select(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		before := f.Status().HighestModSeq
		body := msgWithID(fmt.Sprintf("<append-survey-%d@test>", i+1), i+1)
		if surveys {
			g.armOn("CHANGEDSINCE")
		}
		uid, sv, err := f.AppendSurveying(ctx, int64(len(body)), bytes.NewReader(body), model.Seen, date, before, leave)
		timedOut, sent := g.take()
		if err != nil {
			t.Fatalf("leave %v: %v", leave, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if !surveys {
			if !errors.Is(sv.Err, adapters.ErrUnsupported) {
				t.Fatalf("without UIDPLUS or CONDSTORE: %+v; want ErrUnsupported", sv)
			}
			if n := len(serverFlags(t, s, name)); n != 2+i {
				t.Fatalf("%d messages on the server after the APPEND, want %d", n, 2+i)
			}
			continue
		}
		if timedOut {
			t.Fatalf("leave %v: the client waited for the APPEND's answer before it sent the survey (it sent: %q)", leave, sent)
		}
		if uid == 0 {
			t.Fatalf("leave %v: the APPEND named no UID", leave)
		}
		if sv.Err != nil || sv.Changes == nil || sv.Status.HighestModSeq <= before {
			t.Fatalf("leave %v: surveyed %+v, want the changes since %d and a HIGHESTMODSEQ past it", leave, sv, before)
		}
		listed := false
		for _, m := range sv.Changes.Changed {
			listed = listed || m.UID == uid && m.Flags == model.Seen && m.Size == int64(len(body))
		}
		if !listed {
			t.Fatalf("leave %v: the new message (UID %d, \\Seen, %d bytes) is not among the changes surveyed: %+v", leave, uid, len(body), sv.Changes)
		}
		s.mu.Lock()
		idle := len(s.idle)
		s.mu.Unlock()
		if want := map[bool]int{false: 1, true: 0}[leave]; idle != want {
			t.Fatalf("leave %v: %d connections idle after the survey, want %d", leave, idle, want)
		}
	}
	if !surveys {
		return
	}
	// The folder refuses a command after its survey.
	f, err := s.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	body := msgWithID("<append-survey-9@test>", 9)
	if _, _, err := f.AppendSurveying(ctx, int64(len(body)), bytes.NewReader(body), 0, date, 1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), 0, date); err == nil {
		t.Fatal("the folder took an APPEND after its survey")
	}
	f.Close()
	// A body shorter than its size: nothing stored, no survey sent.
	n := len(serverFlags(t, s, name))
	f, err = s.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	g.armOn("EXAMINE") // armed, the gate notes what the client sends
	_, sv, err := f.AppendSurveying(ctx, int64(len(body))+10, bytes.NewReader(body), 0, date, 1, false)
	_, sent := g.take()
	f.Close()
	var be *bodyError
	if !errors.As(err, &be) || sv.Changes != nil {
		t.Fatalf("short body: %+v, %v; want the body's error and no survey", sv, err)
	}
	if strings.Contains(sent, "EXAMINE") {
		t.Fatalf("short body: the survey was sent all the same: %q", sent)
	}
	if got := len(serverFlags(t, s, name)); got != n {
		t.Fatalf("short body: %d messages on the server, want %d (nothing stored)", got, n)
	}
}

// testAppendBatchWithSurveying: AppendBatchWithSurveying writes the
// folder's survey right behind the UID EXPUNGE that ends the batch's
// exchange, before the expunge's answer is read (the proxy holds the
// server's answers from the expunge on until it has seen the survey's UID
// FETCH), and the survey shows the new message, the flag stored and the
// expunged message gone; the folder then refuses more commands. Without
// an expunge the survey does not go (ErrUnsupported) and the folder stays
// usable.
func testAppendBatchWithSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "BatchSurvey"
	uids, g, s, f := seededGated(t, b, name, 3)
	if !f.CanAppendBatch() {
		f.Close()
		t.Skip("no MULTIAPPEND")
	}
	body := msgWithID("<batch-survey-new@test>", 9)
	msgs := func() []adapters.AppendMsg {
		return []adapters.AppendMsg{{Size: int64(len(body)), Body: bytes.NewReader(body), Flags: model.Seen}}
	}

	// No expunge: the batch and the stores alone; the folder stays usable.
	_, appendErr, sent, err, sv := f.AppendBatchWithSurveying(ctx, msgs(), []adapters.FlagChange{{UIDs: uids[2:], Add: model.Answered}}, nil, 1, false)
	if appendErr != nil || err != nil || !sent || !errors.Is(sv.Err, adapters.ErrUnsupported) {
		t.Fatalf("without an expunge: batch %v, stores sent %v, %v, survey %+v; want the batch and the stores, ErrUnsupported", appendErr, sent, err, sv)
	}
	if err := f.StoreFlags(ctx, uids[2:], model.Flagged, 0); err != nil {
		t.Fatalf("the folder refused a command after a batch without its survey: %v", err)
	}

	before := f.Status().HighestModSeq
	if s.hasCondStore() {
		g.armAfter("EXPUNGE", "UID FETCH")
	}
	got, appendErr, sent, err, sv := f.AppendBatchWithSurveying(ctx, msgs(), []adapters.FlagChange{{UIDs: uids[:1], Add: model.Flagged}}, uids[1:2], before, false)
	timedOut, sentText := g.take()
	if appendErr != nil || err != nil || !sent || len(got) != 1 || got[0] == 0 {
		t.Fatalf("batch %v, stores sent %v, %v, UIDs %v", appendErr, sent, err, got)
	}
	refused := f.StoreFlags(ctx, uids[:1], model.Answered, 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	left := serverFlags(t, s, name)
	if _, ok := left[uids[1]]; ok || left[uids[0]]&model.Flagged == 0 || left[got[0]] != model.Seen {
		t.Fatalf("after the batch: %v; want UID %d gone, UID %d flagged, UID %d \\Seen", left, uids[1], uids[0], got[0])
	}
	if !s.hasCondStore() {
		if !errors.Is(sv.Err, adapters.ErrUnsupported) || refused != nil {
			t.Fatalf("without CONDSTORE: survey %+v, a later command: %v; want ErrUnsupported and the folder usable", sv, refused)
		}
		return
	}
	if timedOut {
		t.Fatalf("the client waited for the expunge's answer before it sent the survey (it sent: %q)", sentText)
	}
	if sv.Err != nil || sv.Changes == nil || sv.Status.HighestModSeq <= before || sv.Status.Messages != uint32(len(left)) {
		t.Fatalf("surveyed %+v, want the folder after the batch (%d messages) and a HIGHESTMODSEQ past %d", sv, len(left), before)
	}
	if slices.Contains(sv.Changes.UIDs, uids[1]) || !slices.Contains(sv.Changes.UIDs, got[0]) {
		t.Fatalf("surveyed UIDs %v: want UID %d (expunged) gone and UID %d (new) there", sv.Changes.UIDs, uids[1], got[0])
	}
	if refused == nil {
		t.Fatal("the folder took a command after its survey")
	}
}

// testLinkDelay: LinkDelay is the first connection's time to the server's
// greeting: short on loopback, and at least the greeting's way back
// through a proxy that adds 20 ms round trips (the engine's far-server
// gate is 8 ms).
func testLinkDelay(t *testing.T, b *backend) {
	near := b.dial(t).LinkDelay()
	p, err := latencyproxy.Start(net.JoinHostPort(b.cfg.Host, strconv.Itoa(b.cfg.Port)), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	far := b.dialWith(t, func(c *Config) { c.Port = p.Port() }).LinkDelay()
	if near <= 0 || far < 10*time.Millisecond || far < near {
		t.Fatalf("link delay %v direct, %v through 20 ms round trips; want more than 0, and at least 10 ms through the proxy", near, far)
	}

	// A server that greets its first client late (busy, or starting its
	// login process) is not far for that: the link delay is the shortest
	// greeting of the connections opened.
	late := startSlowProxy(t, net.JoinHostPort(b.cfg.Host, strconv.Itoa(b.cfg.Port)), 40*time.Millisecond, func(n int) bool { return n == 1 })
	s := b.dialWith(t, func(c *Config) {
		c.Host = "127.0.0.1"
		c.Port = late.port
		c.MaxConnections = 2
	})
	first := s.LinkDelay()
	s.Warm(2)
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		idle, warming := len(s.idle), s.warming
		s.mu.Unlock()
		if idle == 2 && warming == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second connection did not open: %d idle, %d warming", idle, warming)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.LinkDelay(); first < 40*time.Millisecond || got >= 40*time.Millisecond {
		t.Fatalf("link delay %v with the first greeting late, %v once a second connection opened; want at least 40 ms, then the second's, under 40 ms", first, got)
	}
}

// seededGated puts n messages into the server's folder name and selects
// it on a store of one connection behind a gate proxy (gatedStore).
func seededGated(t *testing.T, b *backend, name string, n int) ([]uint32, *gateProxy, *Store, *Folder) {
	t.Helper()
	var uids []uint32
	for i := range n {
		uids = append(uids, b.seed(t, b.serverName(name), msgWithID(fmt.Sprintf("<%s-%d@test>", name, i), i), nil, time.Time{}))
	}
	g, s := gatedStore(t, b)
	f, err := s.Select(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return uids, g, s, f
}

// serverFlags is every message of folder name with its flags, as a new
// selection of it lists them.
func serverFlags(t *testing.T, s *Store, name string) map[uint32]model.Flags {
	t.Helper()
	ctx := ctxT(t)
	f, err := s.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]model.Flags{}
	for _, m := range msgs {
		out[m.UID] = m.Flags
	}
	return out
}

// testSurveyBehindManyAnswers: a survey written behind commands whose
// answers are long (an expunge of more messages than go-imap buffers
// EXPUNGE responses for, 128; flag stores over as many messages) is read
// all the same. go-imap's reader hands each EXPUNGE response to the
// command's channel and waits while it is full: the expunge's answer must
// be read while the survey behind it is, or the reader stops for good
// (the watchdog then closes the connection, and closing the client waits
// for that reader forever: the sync hung).
func testSurveyBehindManyAnswers(t *testing.T, b *backend) {
	const n, gone = 340, 150
	name := "SurveyMany"
	s := b.dialWith(t, func(c *Config) { c.MaxConnections = 1 })
	if !s.hasCondStore() {
		t.Skip("no CONDSTORE: nothing is surveyed behind")
	}
	var uids []uint32
	for i := range n {
		uids = append(uids, b.seed(t, b.serverName(name), msgWithID(fmt.Sprintf("<%s-%d@test>", name, i), i%7), nil, time.Time{}))
	}
	// within runs step and fails the test when it has not returned in
	// time, instead of hanging with it.
	within := func(what string, step func() error) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- step() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: no answer after 20 s: the survey behind it is not read", what)
		}
	}
	open := func() *Folder {
		t.Helper()
		f, err := s.Select(ctxT(t), name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	surveyed := func(sv adapters.ChangeSurvey, left int) error {
		switch {
		case sv.Err != nil:
			return fmt.Errorf("survey: %w", sv.Err)
		case sv.Changes == nil || len(sv.Changes.UIDs) != left || sv.Status.Messages != uint32(left):
			return fmt.Errorf("surveyed %+v, want %d messages", sv.Status, left)
		}
		return nil
	}

	within("flag stores on every message, surveyed", func() error {
		f := open()
		defer f.Close()
		sv, err := f.StoreFlagChangesSurveying(ctxT(t), []adapters.FlagChange{{UIDs: uids, Add: model.Flagged}}, 1, false)
		if err != nil {
			return err
		}
		return surveyed(sv, n)
	})
	within(fmt.Sprintf("an expunge of %d messages, surveyed", gone), func() error {
		f := open()
		defer f.Close()
		sv, err := f.StoreFlagsAndExpungeSurveying(ctxT(t), []adapters.FlagChange{{UIDs: uids[gone:], Add: model.Seen}}, uids[:gone], 1, false)
		if err != nil {
			return err
		}
		return surveyed(sv, n-gone)
	})
	within(fmt.Sprintf("an upload batch with an expunge of %d messages, surveyed", gone), func() error {
		f := open()
		defer f.Close()
		if !f.CanAppendBatch() {
			return nil
		}
		body := msgWithID("<survey-many-new@test>", 3)
		msgs := []adapters.AppendMsg{{Size: int64(len(body)), Body: bytes.NewReader(body)}}
		_, appendErr, sent, err, sv := f.AppendBatchWithSurveying(ctxT(t), msgs, []adapters.FlagChange{{UIDs: uids[2*gone:], Add: model.Answered}}, uids[gone:2*gone], 1, false)
		switch {
		case appendErr != nil || err != nil:
			return errors.Join(appendErr, err)
		case !sent:
			return errors.New("the stores did not go with the batch")
		}
		return surveyed(sv, n-2*gone+1)
	})
	left := serverFlags(t, s, name)
	if len(left) != n-2*gone+1 {
		t.Fatalf("%d messages left on the server, want %d", len(left), n-2*gone+1)
	}
	// Every store reached the folder while it was selected, before the
	// survey's EXAMINE: Dovecot answers a store in a folder examined
	// read-only with OK and changes nothing.
	for _, uid := range uids[2*gone:] {
		if want := model.Flagged | model.Seen | model.Answered; left[uid] != want {
			t.Fatalf("UID %d left with flags %v, want %v", uid, left[uid], want)
		}
	}
}
