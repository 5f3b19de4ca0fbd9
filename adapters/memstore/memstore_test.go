package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/model"
)

var date = time.Date(2024, 3, 1, 12, 34, 56, 0, time.UTC)

func TestRemoteWithoutUIDPlusStillStores(t *testing.T) {
	ctx := context.Background()
	r := memstore.NewRemote()
	r.SetUIDPlus(false)
	f, err := r.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	body := []byte("Subject: x\r\n\r\nbody\r\n")
	uid, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), model.Seen, date)
	if err != nil || uid != 0 {
		t.Fatalf("Append without UIDPLUS = %d, %v; want 0, nil", uid, err)
	}
	m, err := r.Message("INBOX", 1)
	if err != nil || !bytes.Equal(m.Body, body) || m.Flags != model.Seen || !m.InternalDate.Equal(date) {
		t.Errorf("stored message = %+v, %v", m, err)
	}
}

func TestRemoteAppendWrongSize(t *testing.T) {
	ctx := context.Background()
	r := memstore.NewRemote()
	f, _ := r.SelectFolder(ctx, "INBOX")
	defer f.Close()
	for _, size := range []int64{3, 5} {
		if _, err := f.Append(ctx, size, strings.NewReader("abcd"), 0, date); err == nil {
			t.Errorf("Append of 4 bytes announced as %d succeeded", size)
		}
	}
	if msgs, _ := r.Messages("INBOX"); len(msgs) != 0 {
		t.Errorf("a failed Append stored %d messages", len(msgs))
	}
}

func TestRemoteModSeqCountsEveryChange(t *testing.T) {
	ctx := context.Background()
	r := memstore.NewRemote()
	modseq := func() uint64 { return r.Snapshot().Folders[0].HighestModSeq }
	if got := modseq(); got != 1 {
		t.Fatalf("a new folder has HIGHESTMODSEQ %d, want 1", got)
	}
	u1, _ := r.AddMessage("INBOX", []byte("a"), 0, date)
	u2, _ := r.AddMessage("INBOX", []byte("b"), 0, date)
	f, _ := r.SelectFolder(ctx, "INBOX")
	defer f.Close()
	steps := []struct {
		what  string
		do    func() error
		delta uint64
	}{
		{"store on two messages", func() error { return f.StoreFlags(ctx, []uint32{u1, u2}, model.Seen, 0) }, 2},
		{"store that changes nothing", func() error { return f.StoreFlags(ctx, []uint32{u1, u2}, model.Seen, 0) }, 0},
		{"store on a missing UID", func() error { return f.StoreFlags(ctx, []uint32{99}, model.Seen, 0) }, 0},
		{"expunge of two", func() error { return f.Expunge(ctx, []uint32{u1, u2, 99}) }, 2},
		{"expunge of nothing", func() error { return f.Expunge(ctx, []uint32{u1}) }, 0},
		{"append", func() error { _, err := f.Append(ctx, 1, strings.NewReader("c"), 0, date); return err }, 1},
	}
	want := uint64(3) // 1 + two appends
	for _, s := range steps {
		if got := modseq(); got != want {
			t.Fatalf("before %s: HIGHESTMODSEQ %d, want %d", s.what, got, want)
		}
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		want += s.delta
	}
	if got := modseq(); got != want {
		t.Errorf("at the end: HIGHESTMODSEQ %d, want %d", got, want)
	}
	r.SetCondstore(false)
	all, _ := r.ListFolders(ctx)
	if all[0].HighestModSeq != 0 {
		t.Errorf("without CONDSTORE ListFolders reports HIGHESTMODSEQ %d", all[0].HighestModSeq)
	}
}

func TestRemoteUIDValidity(t *testing.T) {
	ctx := context.Background()
	r := memstore.NewRemote()
	if err := r.CreateFolder(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	all, _ := r.ListFolders(ctx)
	var got []string
	for _, st := range all {
		got = append(got, st.Name)
		if want := map[string]uint32{"INBOX": 1, "a": 2, "a/b": 3}[st.Name]; st.UIDValidity != want {
			t.Errorf("%s: UIDVALIDITY %d, want %d (creation order)", st.Name, st.UIDValidity, want)
		}
	}
	if strings.Join(got, ",") != "INBOX,a,a/b" {
		t.Errorf("ListFolders = %v, want INBOX,a,a/b", got)
	}
	for i, b := range []string{"x", "y", "z"} {
		r.AddMessage("a", []byte(b), model.Flags(i), date)
	}
	r.DeleteMessage("a", 2)
	if err := r.ChangeUIDValidity("a", 77); err != nil {
		t.Fatal(err)
	}
	msgs, _ := r.Messages("a")
	if len(msgs) != 2 || msgs[0].UID != 1 || string(msgs[0].Body) != "x" || msgs[1].UID != 2 || string(msgs[1].Body) != "z" || msgs[1].Flags != 2 {
		t.Errorf("after ChangeUIDValidity: %+v; want x as UID 1 and z as UID 2", msgs)
	}
	f, _ := r.SelectFolder(ctx, "a")
	defer f.Close()
	if st := f.Status(); st.UIDValidity != 77 || st.UIDNext != 3 || st.Messages != 2 {
		t.Errorf("Status after ChangeUIDValidity = %+v", st)
	}
	if err := r.SetUIDValidity("a", 0); err == nil {
		t.Errorf("SetUIDValidity(0) succeeded")
	}
	if err := r.SetUIDNext("a", 2); err == nil {
		t.Errorf("SetUIDNext below a UID in use succeeded")
	}
}

func TestRemotePutMessageAndDeleteFolder(t *testing.T) {
	ctx := context.Background()
	r := memstore.NewRemote()
	r.CreateFolder(ctx, "f")
	if err := r.PutMessage("f", memstore.RemoteMessage{UID: 40, Flags: model.Flagged, InternalDate: date, Body: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	f, _ := r.SelectFolder(ctx, "f")
	if st := f.Status(); st.UIDNext != 41 || st.Messages != 1 {
		t.Errorf("after PutMessage at UID 40: %+v, want UIDNext 41", st)
	}
	if err := r.DeleteFolder("f"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.List(ctx); !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("List on a folder deleted behind its back: %v, want ErrNoFolder", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if r.Selected() != 0 {
		t.Errorf("Selected() = %d after Close", r.Selected())
	}
	if _, err := f.List(ctx); err == nil {
		t.Errorf("List after Close succeeded")
	}
	if err := r.PutMessage("f", memstore.RemoteMessage{UID: 1}); !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("PutMessage to a missing folder: %v", err)
	}
	if _, err := r.Message("INBOX", 1); !errors.Is(err, adapters.ErrNoMessage) {
		t.Errorf("Message of a missing UID: %v", err)
	}
}

func TestRemoteSnapshotAndClone(t *testing.T) {
	build := func() *memstore.Remote {
		r := memstore.NewRemote()
		r.AddMessage("b", []byte("two"), model.Seen|model.Flagged, date)
		r.AddMessage("INBOX", []byte("one"), 0, date.Add(time.Hour))
		return r
	}
	r := build()
	s := r.Snapshot().String()
	if s != build().Snapshot().String() {
		t.Errorf("two identical builds give different snapshots")
	}
	want := `folder "INBOX" uidvalidity=1 uidnext=2 highestmodseq=2
  uid=1 flags=- date=2024-03-01T13:34:56Z modseq=2 size=3 sha256=7692c3ad3540bb80
folder "b" uidvalidity=2 uidnext=2 highestmodseq=2
  uid=1 flags=FS date=2024-03-01T12:34:56Z modseq=2 size=3 sha256=3fc4ccfe745870e2
`
	if s != want {
		t.Errorf("Snapshot().String() =\n%s\nwant\n%s", s, want)
	}
	c := r.Clone()
	c.AddMessage("INBOX", []byte("three"), 0, date)
	c.SetMessageFlags("b", 1, 0)
	if r.Snapshot().String() != s {
		t.Errorf("changing a clone changed the original")
	}
	snap := r.Snapshot()
	snap.Folders[0].Messages[0].Body[0] = 'X'
	if m, _ := r.Message("INBOX", 1); string(m.Body) != "one" {
		t.Errorf("changing a snapshot's body changed the store: %q", m.Body)
	}
}

func TestHeaderValue(t *testing.T) {
	cases := []struct {
		msg, want string
		ok        bool
	}{
		{"Message-ID: <a@b>\r\n\r\nbody", "<a@b>", true},
		{"message-id:<a@b>\n\nbody", "<a@b>", true},
		{"Subject: x\r\nMessage-ID:\r\n <folded@b>\r\nTo: y\r\n\r\n", "<folded@b>", true},
		{"Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n", "", false},
		{"X-Message-ID: <no@b>\r\n\r\n", "", false},
		{"Message-ID: <first@b>\r\nMessage-ID: <second@b>\r\n\r\n", "<first@b>", true},
		{"Message-ID: <no-body@b>", "<no-body@b>", true},
	}
	for _, c := range cases {
		got, ok := memstore.HeaderValue([]byte(c.msg), "Message-ID")
		if got != c.want || ok != c.ok {
			t.Errorf("HeaderValue(%q) = %q, %v; want %q, %v", c.msg, got, ok, c.want, c.ok)
		}
	}
}

func TestLocalHelpers(t *testing.T) {
	ctx := context.Background()
	l := memstore.NewLocal()
	// A message written by a mail client: stored as given (LF), no UID.
	key, err := l.AddMessage("INBOX", []byte("Subject: x\n\nbody\n"), model.Seen, date)
	if err != nil || key != "m000001" {
		t.Fatalf("AddMessage = %q, %v; want m000001", key, err)
	}
	f, err := l.OpenFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	r, size, d, err := f.OpenForUpload(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "Subject: x\r\n\r\nbody\r\n" || size != int64(len(b)) || !d.Equal(date) {
		t.Errorf("OpenForUpload = %q, %d, %v", b, size, d)
	}
	// Keys are counted per folder, and PutMessage pushes the counter.
	if err := l.PutMessage("INBOX", memstore.LocalMessage{Key: "m000010", UID: 5, Body: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	bt := f.NewBatch()
	k, _ := bt.Add(6, 0, date, strings.NewReader("q\r\n"))
	if k != "m000011" {
		t.Errorf("key after PutMessage(m000010) = %q, want m000011", k)
	}
	bt.Commit(ctx)
	other, _ := l.AddMessage("Other", []byte("o"), 0, date)
	if other != "m000001" {
		t.Errorf("first key of another folder = %q, want m000001", other)
	}
	m, err := l.Message("INBOX", k)
	if err != nil || string(m.Body) != "q\n" || m.UID != 6 || m.FMD5 != memstore.FolderMD5("INBOX") {
		t.Errorf("Message(%q) = %+v, %v", k, m, err)
	}
	if err := l.DeleteMessage("INBOX", key); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteMessage("INBOX", key); !errors.Is(err, adapters.ErrNoMessage) {
		t.Errorf("DeleteMessage twice: %v, want ErrNoMessage", err)
	}
	want := `folder "INBOX"
  key=m000010 uid=5 flags=- date=- size=1 sha256=148de9c5a7a44d19
  key=m000011 uid=6 flags=- date=2024-03-01T12:34:56Z size=2 sha256=4adc33bd9fe74303 fmd5=` + memstore.FolderMD5("INBOX") + `
folder "Other"
  key=m000001 uid=0 flags=- date=2024-03-01T12:34:56Z size=1 sha256=65c74c15a686187b
`
	if got := l.Snapshot().String(); got != want {
		t.Errorf("Snapshot().String() =\n%s\nwant\n%s", got, want)
	}
	c := l.Clone()
	c.SetMessageFlags("INBOX", "m000010", model.Seen)
	if l.Snapshot().String() != want {
		t.Errorf("changing a clone changed the original")
	}
	if err := l.DeleteFolder("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Scan(ctx); !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("Scan of a folder deleted behind its back: %v, want ErrNoFolder", err)
	}
	if err := f.NewBatch().Commit(ctx); !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("Commit into a deleted folder: %v, want ErrNoFolder", err)
	}
}

func TestLocalBatchAfterCommit(t *testing.T) {
	ctx := context.Background()
	l := memstore.NewLocal()
	l.CreateFolder(ctx, "f")
	f, _ := l.OpenFolder(ctx, "f")
	b := f.NewBatch()
	b.Add(1, 0, date, strings.NewReader("x"))
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(2, 0, date, strings.NewReader("y")); err == nil {
		t.Errorf("Add after Commit succeeded")
	}
	if err := b.Commit(ctx); err == nil {
		t.Errorf("a second Commit succeeded")
	}
	if err := b.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if msgs, _ := f.Scan(ctx); len(msgs) != 1 {
		t.Errorf("Abort after Commit removed messages: %v", msgs)
	}
}

func TestFolderNamesChecked(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"", "/a", "a/", "a//b"} {
		if err := memstore.NewRemote().CreateFolder(ctx, name); err == nil {
			t.Errorf("Remote.CreateFolder(%q) succeeded", name)
		}
		if err := memstore.NewLocal().CreateFolder(ctx, name); err == nil {
			t.Errorf("Local.CreateFolder(%q) succeeded", name)
		}
	}
	r := memstore.NewRemote()
	r.CreateFolder(ctx, "inbox/sub")
	all, _ := r.ListFolders(ctx)
	if len(all) != 2 || all[0].Name != "INBOX" || all[1].Name != "inbox/sub" {
		t.Errorf("after CreateFolder(inbox/sub): %+v; want INBOX (folded) and inbox/sub", all)
	}
}

func TestLocalScanIgnoresForeignUID(t *testing.T) {
	ctx := context.Background()
	l := memstore.NewLocal()
	l.CreateFolder(ctx, "a")
	for _, m := range []memstore.LocalMessage{
		{Key: "own", UID: 1, FMD5: memstore.FolderMD5("a"), Body: []byte("x")},
		{Key: "foreign", UID: 2, FMD5: memstore.FolderMD5("b"), Body: []byte("y")},
		{Key: "untagged", UID: 3, Body: []byte("z")},
	} {
		if err := l.PutMessage("a", m); err != nil {
			t.Fatal(err)
		}
	}
	f, _ := l.OpenFolder(ctx, "a")
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint32{}
	for _, m := range msgs {
		got[m.Key] = m.UID
	}
	if got["own"] != 1 || got["foreign"] != 0 || got["untagged"] != 0 || len(got) != 3 {
		t.Errorf("Scan UIDs = %v; want own 1, foreign 0, untagged 0", got)
	}
	if f.FMD5() != memstore.FolderMD5("a") {
		t.Errorf("FMD5() = %q", f.FMD5())
	}
}
