package imap

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

// testListFoldersOpening: ListFoldersOpening lists the folders as
// ListFolders does and opens the folder with its changes listed, the
// SELECT and the listing of the changes written behind the LIST before
// any answer is read (a gate holds the server's answers until it has seen
// the UID FETCH). A folder whose server name depends on the delimiter is
// not opened before the delimiter is known or hinted, and a wrong hint
// opens nothing; a folder that does not exist is Opened.Err and leaves
// the store usable; read-only examines.
func testListFoldersOpening(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name, child := "ListOpen", "ListOpenParent/Child"
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	first := b.seed(t, b.serverName(name), msgWithID("<list-open-1@test>", 1), nil, date)
	second := b.seed(t, b.serverName(name), msgWithID("<list-open-2@test>", 2), []string{`\Seen`}, date)
	b.seed(t, b.serverName(child), msgWithID("<list-open-child@test>", 3), nil, date)

	g, s := gatedStore(t, b)
	if !s.hasCondStore() {
		list, opened, err := s.ListFoldersOpening(ctx, name, false, 1)
		if err != nil || len(list) == 0 || opened.Folder != nil || !errors.Is(opened.Err, adapters.ErrUnsupported) {
			t.Fatalf("without CONDSTORE: %d folders, %+v, %v; want the listing and ErrUnsupported", len(list), opened, err)
		}
		return
	}
	listed := func(list []model.RemoteFolderStatus, want string) model.RemoteFolderStatus {
		t.Helper()
		for _, st := range list {
			if st.Name == want {
				return st
			}
		}
		t.Fatalf("%s not in the listing %+v", want, list)
		return model.RemoteFolderStatus{}
	}
	check := func(folder string, list []model.RemoteFolderStatus, opened adapters.Opened, err error) adapters.RemoteFolder {
		t.Helper()
		if err != nil || opened.Err != nil {
			t.Fatalf("%s: %v, %v", folder, err, opened.Err)
		}
		st := listed(list, folder)
		f := opened.Folder
		if got := f.Status(); got.UIDValidity != st.UIDValidity || got.Messages != st.Messages || got.Name != folder {
			t.Fatalf("%s: opened as %+v, listed as %+v", folder, got, st)
		}
		if opened.Changes == nil || len(opened.Changes.UIDs) != int(st.Messages) {
			t.Fatalf("%s: changes %+v, want every UID of %d messages", folder, opened.Changes, st.Messages)
		}
		return f
	}

	// The first listing of a store, the delimiter not known yet: the
	// listing, the SELECT and the changes in one round trip.
	g.arm()
	list, opened, err := s.ListFoldersOpening(ctx, name, false, 1)
	f := check(name, list, opened, err)
	g.requireOneTrip(t, "the open with the listing")
	// Selected for real: a flag change goes through.
	if err := f.StoreFlags(ctx, []uint32{first}, model.Flagged, 0); err != nil {
		t.Fatalf("StoreFlags on the folder opened with the listing: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Known now: a name with a level is opened too.
	list, opened, err = s.ListFoldersOpening(ctx, child, false, 1)
	if err := check(child, list, opened, err).Close(); err != nil {
		t.Fatal(err)
	}

	// A fresh store does not know the delimiter: a name with a level is
	// not opened, and nothing but the LIST is sent.
	g2, s2 := gatedStore(t, b)
	g2.armOn("LIST")
	list, opened, err = s2.ListFoldersOpening(ctx, child, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	g2.mu.Lock()
	sent := g2.sent.String()
	g2.mu.Unlock()
	if opened.Folder != nil || !errors.Is(opened.Err, adapters.ErrUnsupported) || strings.Contains(sent, "SELECT") {
		t.Fatalf("%s opened before the delimiter was known: %+v (sent %q)", child, opened, sent)
	}
	listed(list, child)

	// The delimiter an earlier run learned names it before the listing,
	// in the listing's round trip.
	d, ok := s.KnownDelimiter()
	if !ok {
		t.Fatal("the listing did not teach the delimiter")
	}
	g3, s3 := gatedStore(t, b)
	s3.HintDelimiter(d)
	g3.arm()
	list, opened, err = s3.ListFoldersOpening(ctx, child, false, 1)
	if err := check(child, list, opened, err).Close(); err != nil {
		t.Fatal(err)
	}
	g3.requireOneTrip(t, "the open with the listing, named by the hint")
	// A wrong hint: not opened, and the store goes on.
	s4 := b.dial(t)
	wrong := '.'
	if d == '.' {
		wrong = '/'
	}
	s4.HintDelimiter(wrong)
	list, opened, err = s4.ListFoldersOpening(ctx, child, false, 1)
	if err != nil || opened.Folder != nil || opened.Err == nil {
		t.Fatalf("a wrong hint: %v, %+v; want the listing and no folder", err, opened)
	}
	listed(list, child)
	if _, err := s4.ListFolders(ctx); err != nil {
		t.Fatalf("the store after a wrong hint: %v", err)
	}

	msgs := listByUID(t, s, name)
	if msgs[first].Flags != model.Flagged || msgs[second].Flags != model.Seen {
		t.Fatalf("flags after the store: %+v", msgs)
	}

	// Read-only examines, and refuses changes.
	_, opened, err = s.ListFoldersOpening(ctx, name, true, 1)
	if err != nil || opened.Err != nil {
		t.Fatalf("read-only: %v, %v", err, opened.Err)
	}
	if err := opened.Folder.StoreFlags(ctx, []uint32{first}, model.Seen, 0); err == nil {
		t.Fatal("a folder opened read-only with the listing took a flag change")
	}
	if err := opened.Folder.Close(); err != nil {
		t.Fatal(err)
	}

	// A folder that does not exist: the listing, and the open's error.
	list, opened, err = s.ListFoldersOpening(ctx, "NoSuchListOpen", false, 1)
	if err != nil || opened.Folder != nil || !errors.Is(opened.Err, adapters.ErrNoFolder) {
		t.Fatalf("missing folder: %v, %+v; want the listing and ErrNoFolder", err, opened)
	}
	listed(list, name)
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatalf("the store after a failed open with the listing: %v", err)
	}
}

// listByUID lists a folder's messages by UID.
func listByUID(t *testing.T, s *Store, name string) map[uint32]model.RemoteMsg {
	t.Helper()
	f, err := s.SelectFolder(ctxT(t), name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs, err := f.List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]model.RemoteMsg{}
	for _, m := range msgs {
		out[m.UID] = m
	}
	return out
}

// testListFoldersSurveying: ListFoldersSurveying lists as ListFolders
// does and surveys the folders with the listing, their commands written
// behind the LIST before any answer is read (the gate holds the answers
// until it has seen a UID FETCH). A folder whose name depends on the
// delimiter is not surveyed before the delimiter is known; a missing
// folder is its survey's ErrNoFolder, the others answered all the same.
func testListFoldersSurveying(t *testing.T, b *backend) {
	ctx := ctxT(t)
	name, child, missing := "ListSurvey", "ListSurveyParent/Child", "NoSuchListSurvey"
	b.seed(t, b.serverName(name), msgWithID("<list-survey-1@test>", 1), nil, time.Time{})
	b.seed(t, b.serverName(name), msgWithID("<list-survey-2@test>", 2), nil, time.Time{})
	b.seed(t, b.serverName(child), msgWithID("<list-survey-child@test>", 3), nil, time.Time{})
	reqs := []adapters.ChangeRequest{{Name: name, Since: 1}, {Name: child, Since: 1}, {Name: missing, Since: 1}}

	g, s := gatedStore(t, b)
	if !s.hasCondStore() {
		list, out, err := s.ListFoldersSurveying(ctx, reqs)
		if err != nil || len(list) == 0 || len(out) != 3 {
			t.Fatalf("without CONDSTORE: %d folders, %+v, %v", len(list), out, err)
		}
		for _, sv := range out {
			if !errors.Is(sv.Err, adapters.ErrUnsupported) {
				t.Fatalf("without CONDSTORE: %+v, want ErrUnsupported", sv)
			}
		}
		return
	}
	g.arm()
	list, out, err := s.ListFoldersSurveying(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	sent, timedOut := g.sent.String(), g.timedOut
	g.mu.Unlock()
	if timedOut || !strings.Contains(sent, "EXAMINE") {
		t.Fatalf("the client waited for the listing's answer before it sent the survey's UID FETCH, or sent no EXAMINE: %q", sent)
	}
	var st model.RemoteFolderStatus
	for _, l := range list {
		if l.Name == name {
			st = l
		}
	}
	if sv := out[0]; sv.Err != nil || sv.Changes == nil || len(sv.Changes.UIDs) != 2 || sv.Status.UIDValidity != st.UIDValidity || sv.Status.Messages != 2 {
		t.Fatalf("%s: %+v, want both messages listed, as the listing's %+v", name, sv, st)
	}
	if !errors.Is(out[1].Err, adapters.ErrUnsupported) {
		t.Fatalf("%s, the delimiter unknown: %+v, want ErrUnsupported", child, out[1])
	}
	if !errors.Is(out[2].Err, adapters.ErrNoFolder) {
		t.Fatalf("%s: %+v, want ErrNoFolder", missing, out[2])
	}
	// The delimiter known now: the folder with a level is surveyed too.
	_, out, err = s.ListFoldersSurveying(ctx, reqs[1:2])
	if err != nil || out[0].Err != nil || out[0].Changes == nil || len(out[0].Changes.UIDs) != 1 {
		t.Fatalf("%s, the delimiter known: %v, %+v", child, err, out)
	}
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatalf("the store after the surveys: %v", err)
	}
}
