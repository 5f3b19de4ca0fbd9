package imap

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

// testSurveyOpen: a folder still selected is surveyed without being
// opened again (adapters.OpenSurveyor): what another client changed
// meanwhile (a flag, an expunge, a new message) is listed beside the
// folder's own change, the UIDs are the server's, the status is the
// server's as STATUS gives it, and the folder stays usable. With one
// connection (MaxConnections 1) it is refused as busy at once, never
// waiting for a connection the folder itself holds. Without CONDSTORE:
// ErrUnsupported.
func testSurveyOpen(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name := "OpenSurvey"
	date := time.Date(2024, 4, 1, 12, 0, 0, 0, time.UTC)
	var uids []uint32
	for i := range 4 {
		uids = append(uids, b.seed(t, b.serverName(name), msgWithID("<open-survey@test>", i), nil, date))
	}
	s := b.dialWith(t, func(c *Config) { c.MaxConnections = 2 })
	f, err := s.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !s.hasCondStore() {
		if sv := f.SurveyOpen(ctx, 1); !errors.Is(sv.Err, adapters.ErrUnsupported) || sv.Changes != nil {
			t.Fatalf("without CONDSTORE: %+v, want ErrUnsupported", sv)
		}
		return
	}
	before := f.Status().HighestModSeq
	if err := f.StoreFlags(ctx, uids[:1], model.Flagged, 0); err != nil {
		t.Fatal(err)
	}
	// Another client's changes while the folder is selected here.
	other := b.dial(t)
	of, err := other.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := of.StoreFlags(ctx, uids[1:2], model.Seen, 0); err != nil {
		t.Fatal(err)
	}
	if err := of.Expunge(ctx, uids[2:3]); err != nil {
		t.Fatal(err)
	}
	body := msgWithID("<open-survey-new@test>", 9)
	added, err := of.Append(ctx, int64(len(body)), bytes.NewReader(body), 0, date)
	if err != nil {
		t.Fatal(err)
	}
	of.Close()

	sv := f.SurveyOpen(ctx, before)
	if sv.Err != nil || sv.Changes == nil {
		t.Fatalf("surveyed %+v, want the changes since %d", sv, before)
	}
	wantUIDs := []uint32{uids[0], uids[1], uids[3], added}
	if !slices.Equal(sv.Changes.UIDs, wantUIDs) {
		t.Errorf("UIDs %v, want %v (UID %d expunged by the other client)", sv.Changes.UIDs, wantUIDs, uids[2])
	}
	want := map[uint32]model.Flags{uids[0]: model.Flagged, uids[1]: model.Seen, added: 0}
	got := map[uint32]model.Flags{}
	for _, m := range sv.Changes.Changed {
		got[m.UID] = m.Flags
		if m.Size == 0 {
			t.Errorf("changed UID %d listed without its size", m.UID)
		}
	}
	for uid, flags := range want {
		if g, ok := got[uid]; !ok || g != flags {
			t.Errorf("changed UID %d: listed %v (%v), want flags %v; changes %v", uid, g, ok, flags, sv.Changes.Changed)
		}
	}
	folders, err := other.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(folders, func(st model.RemoteFolderStatus) bool { return st.Name == name })
	if i < 0 || folders[i] != sv.Status {
		t.Fatalf("status %+v, the server's listing says %+v", sv.Status, folders)
	}
	if sv.Status.Messages != 4 || sv.Status.UIDNext <= added || sv.Status.HighestModSeq <= before {
		t.Fatalf("status %+v: want 4 messages, UIDNEXT past %d, HIGHESTMODSEQ past %d", sv.Status, added, before)
	}
	// Still selected and usable.
	if err := f.StoreFlags(ctx, uids[3:], model.Answered, 0); err != nil {
		t.Fatalf("the folder after its survey: %v", err)
	}

	s1 := b.dialWith(t, func(c *Config) { c.MaxConnections = 1 })
	f1, err := s1.Select(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer f1.Close()
	start := time.Now()
	if sv := f1.SurveyOpen(ctx, f1.Status().HighestModSeq); !errors.Is(sv.Err, adapters.ErrBusy) || sv.Changes != nil {
		t.Fatalf("with one connection: %+v, want ErrBusy", sv)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("with one connection the survey took %v to give up", d)
	}
}
