package engine

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters/memstore"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// failAfter fails the test if more than n bytes are read: the header
// reader must not read the body.
type failAfter struct {
	r io.Reader
	n int
	t *testing.T
}

func (f *failAfter) Read(p []byte) (int, error) {
	k, err := f.r.Read(p)
	f.n -= k
	if f.n < 0 {
		f.t.Fatalf("read %d bytes past the header", -f.n)
	}
	return k, err
}

func TestParseMsgInfoReadsOnlyTheHeader(t *testing.T) {
	hdr := "From: =?utf-8?q?J=C3=BCrgen?= <j@x.org>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n and more\nDate: Tue, 4 Mar 2025 10:00:00 +0100\nMessage-ID:  <m1@x.org> \n\n"
	body := strings.Repeat("body line\n", 100000)
	h, err := readHeader(&failAfter{r: strings.NewReader(hdr + body), n: len(hdr) + 8192, t: t})
	if err != nil {
		t.Fatal(err)
	}
	m := ParseMsgInfo(h)
	if m.From != "Jürgen <j@x.org>" || m.Subject != "Grüße and more" || m.MessageID != "<m1@x.org>" ||
		!m.Date.Equal(time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("parsed %+v", m)
	}
	if got := ParseMsgInfo([]byte("garbage without colon\n")); !got.IsZero() {
		t.Errorf("garbage parsed as %+v", got)
	}
}

func TestDescribeNamesOnlyTheWantedMessages(t *testing.T) {
	ctx := context.Background()
	r, l := memstore.NewRemote(), memstore.NewLocal()
	uid, _ := r.AddMessage("INBOX", []byte("Subject: on server\r\nMessage-ID: <s@x>\r\n\r\nhi\r\n"), 0, time.Unix(0, 0))
	key, _ := l.AddMessage("INBOX", []byte("Subject: local\nFrom: me@x\n\nhi\n"), 0, time.Unix(0, 0))
	rf, _ := r.SelectFolder(ctx, "INBOX")
	defer rf.Close()
	lf, _ := l.OpenFolder(ctx, "INBOX")
	ops := []model.Op{
		{Kind: model.OpExpungeRemote, Folder: "INBOX", UID: uid},
		{Kind: model.OpDeleteLocal, Folder: "INBOX", Key: key},
		{Kind: model.OpFetch, Folder: "INBOX", UID: uid},
		{Kind: model.OpPair, Folder: "INBOX", UID: uid, Key: key},
	}
	msgs, err := Describe(ctx, rf, lf, ops, func(_ int, op model.Op) bool { return IsDeletion(op) })
	if err != nil {
		t.Fatal(err)
	}
	if msgs[0].Subject != "on server" || msgs[0].MessageID != "<s@x>" || msgs[1].Subject != "local" || msgs[1].From != "<me@x>" ||
		!msgs[2].IsZero() || !msgs[3].IsZero() {
		t.Fatalf("described %+v", msgs)
	}
}

func TestDatedByServerDatesOnlyTheUndatedWantedMessages(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 3, d, 12, 0, 0, 0, time.UTC) }
	listing := make([]model.RemoteMsg, 20000)
	for i := range listing {
		listing[i] = model.RemoteMsg{UID: uint32(i + 1), InternalDate: model.DateOf(day(1 + i%28))}
	}
	ops := []model.Op{
		{Kind: model.OpExpungeRemote, UID: 5},   // no Date header: dated by the server
		{Kind: model.OpStoreRemote, UID: 6},     // its header's Date stays
		{Kind: model.OpExpungeRemote, UID: 7},   // not wanted: stays undated
		{Kind: model.OpDeleteLocal, Key: "k8"},  // the local side's: not the server's to date
		{Kind: model.OpStoreRemote, UID: 99999}, // not listed: stays undated
	}
	want := func(i int, _ model.Op) bool { return i != 2 }
	fresh := func() []journal.MsgInfo {
		return []journal.MsgInfo{{Subject: "a"}, {Date: day(20)}, {}, {}, {}}
	}
	msgs := fresh()
	datedByServer(listing, ops, msgs, want)
	if !msgs[0].Date.Equal(listing[4].InternalDate.Time()) || !msgs[1].Date.Equal(day(20)) ||
		!msgs[2].Date.IsZero() || !msgs[3].Date.IsZero() || !msgs[4].Date.IsZero() {
		t.Fatalf("dated %+v", msgs)
	}
	// A few messages' dates are kept, not the listing's: a map of 20,000
	// dates takes dozens of allocations as it grows.
	if n := testing.AllocsPerRun(5, func() { datedByServer(listing, ops, fresh(), want) }); n > 4 {
		t.Errorf("%v allocations to date 2 messages of a 20,000-message listing", n)
	}
}

func TestObserveRoundTripsThePlannerInput(t *testing.T) {
	in := planner.Input{Folder: "A/B",
		Remote:     planner.RemoteState{Exists: true, Status: model.RemoteFolderStatus{Name: "A/B", UIDValidity: 4, UIDNext: 9}, Msgs: []model.RemoteMsg{{UID: 3, Flags: model.Seen, Size: 10}}},
		Local:      planner.LocalState{Exists: true, FMD5: "f", Msgs: []model.LocalMsg{{Key: "k", UID: 3, FMD5: "f"}}},
		Status:     model.FolderStatus{Name: "A/B", UIDValidity: 4, Rows: model.StatusRowsOf(model.StatusRow{UID: 3, Key: "k", Flags: model.Seen})},
		Identities: &planner.Identities{Remote: map[uint32]string{3: "x"}, Local: map[string]string{"k": "x"}},
	}
	opts := planner.Options{CreateLocalFolders: true, RemoteReadOnly: true}
	plan := planner.PlanFolder(in, opts)
	obs := Observe(in, opts, plan)
	back, bopts, err := Input(obs)
	if err != nil {
		t.Fatal(err)
	}
	if bopts.CreateLocalFolders != true || bopts.RemoteReadOnly != true || bopts.CreateRemoteFolders {
		t.Errorf("options: %+v", bopts)
	}
	again := planner.PlanFolder(back, bopts)
	if len(again.Ops) != len(plan.Ops) || again.Refused != plan.Refused || back.Identities == nil || back.Status.Rows.All()[0].Key != "k" {
		t.Fatalf("replanned %+v from %+v, want %+v", again, back, plan)
	}
}
