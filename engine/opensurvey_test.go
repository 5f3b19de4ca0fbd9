package engine

import (
	"context"
	"testing"

	"mailtrail/adapters"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// openSurveying is a storeSurveying whose folders can also be surveyed
// while open (adapters.OpenSurveyor), through surveying's SurveyChanges,
// each such survey noted; with busy they answer ErrBusy.
type openSurveying struct {
	*storeSurveying
	open map[string]int
	busy bool
	// between, when set, is called once between the status and the
	// listing of an open survey: another client's change meanwhile.
	between func()
}

func (s *openSurveying) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	f, err := s.storeSurveying.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &openSurveyingFolder{surveyingFolder: f.(*surveyingFolder), o: s}, nil
}

type openSurveyingFolder struct {
	*surveyingFolder
	o *openSurveying
}

func (f *openSurveyingFolder) SurveyOpen(ctx context.Context, since uint64) adapters.ChangeSurvey {
	f.o.mu.Lock()
	f.o.open[f.name]++
	busy := f.o.busy
	f.o.mu.Unlock()
	if busy {
		return adapters.ChangeSurvey{Err: adapters.ErrBusy}
	}
	// The status first, then the listing, as the IMAP adapter's.
	looked, err := f.o.surveying.Remote.SelectFolder(ctx, f.name)
	if err != nil {
		return adapters.ChangeSurvey{Err: err}
	}
	status := looked.Status()
	looked.Close()
	if f.o.between != nil {
		f.o.between()
		f.o.between = nil
	}
	sv := f.o.surveying.SurveyChanges(ctx, []adapters.ChangeRequest{{Name: f.name, Since: since}})[0]
	sv.Status = status
	return sv
}

// TestLargeFolderSurveyedWhileOpen: a folder of surveyOpenFrom messages or
// more is surveyed for its verification while still open
// (adapters.OpenSurveyor), neither behind its last command (surveyAfter)
// nor by the verification, whether its last operation was a download
// (the folder released before its local tail) or a flag store (never
// released); and the sync after finds it in step and looks at nothing. A
// smaller folder synced beside it is surveyed by the verification as
// before. When the open survey is refused (busy) the verification
// surveys the folder instead; with one connection the open survey is not
// tried and the folder alone is surveyed behind its stores as before. A
// change another client makes between the open survey's status and its
// listing is brought in by the next sync, never skipped. A large folder's
// first sync is surveyed as before.
func TestLargeFolderSurveyedWhileOpen(t *testing.T) {
	defer func(n uint32) { surveyOpenFrom = n }(surveyOpenFrom)
	surveyOpenFrom = 8
	var os *openSurveying
	r, sv, flip := surveyRig(t, []string{"INBOX", "Archive"}, 5, 53, func(sv *surveying) adapters.Remote {
		os = &openSurveying{storeSurveying: &storeSurveying{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}},
			withStores: map[string]int{}}, open: map[string]int{}}
		return os
	})
	reset := func() {
		clear(sv.surveyed)
		clear(os.selects)
		clear(os.withStores)
		clear(os.open)
	}
	nothingAfter := func(what string) {
		t.Helper()
		reset()
		if c := total(r.sync(t)); len(c) != 0 || len(os.selects) != 0 || len(sv.surveyed) != 0 || len(os.open) != 0 {
			t.Fatalf("the sync after %s did %v, selected %v, surveyed %v (open %v); want nothing", what, c, os.selects, sv.surveyed, os.open)
		}
	}

	// flagINBOX syncs a local flag change in INBOX: one server store.
	flagINBOX := func() {
		t.Helper()
		reset()
		flip("INBOX")
		if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
			t.Fatalf("a local flag change in INBOX: %v, want one server flag change", c)
		}
	}

	// New mail makes INBOX large: its downloads, surveyed while open.
	reset()
	for _, m := range sample.Messages("INBOX", 5, 54) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	if c := total(r.sync(t)); c[model.OpFetch] != 5 {
		t.Fatalf("five new messages in INBOX: %v, want five downloads", c)
	}
	if os.open["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 || len(os.withStores) != 0 {
		t.Fatalf("the downloads into a large INBOX: surveyed open %v, in all %v, behind the last command %v; want INBOX once, open",
			os.open, sv.surveyed, os.withStores)
	}
	nothingAfter("the downloads")

	// A flag change in each folder: INBOX's last operation is its store.
	reset()
	flip("INBOX")
	flip("Archive")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in each folder: %v, want two server flag changes", c)
	}
	if os.open["INBOX"] != 1 || os.open["Archive"] != 0 || sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 {
		t.Fatalf("a large and a small folder: surveyed open %v, in all %v; want INBOX open once (and for its plan), Archive for its plan and by the verification",
			os.open, sv.surveyed)
	}
	nothingAfter("the flag changes")

	// Another client changes a flag between the status and the listing:
	// the verification finds work left and records nothing, and the next
	// sync brings the change in.
	os.between = func() {
		msgs, _ := r.remote.Messages("INBOX")
		must(t, r.remote.SetMessageFlags("INBOX", msgs[2].UID, msgs[2].Flags^model.Answered))
	}
	flagINBOX()
	if os.between != nil || os.open["INBOX"] != 1 {
		t.Fatalf("the open survey was not made (tried %v)", os.open)
	}
	reset()
	if c := total(r.sync(t)); c[model.OpSetLocalFlags] != 1 || len(c) != 1 {
		t.Fatalf("the sync after a change made between the status and the listing did %v; want that change brought in", c)
	}
	nothingAfter("the change made between the status and the listing")

	// Refused: the verification surveys it.
	os.busy = true
	flagINBOX()
	if os.open["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 || len(os.withStores) != 0 {
		t.Fatalf("the open survey refused: tried %v, surveyed %v, behind the stores %v; want one try, then the verification's survey",
			os.open, sv.surveyed, os.withStores)
	}
	nothingAfter("a refused open survey")
	os.busy = false

	// One connection: not tried; alone, behind its stores.
	r.acct.MaxConnections = 1
	flagINBOX()
	if os.open["INBOX"] != 0 || os.withStores["INBOX"] != 1 {
		t.Fatalf("one connection: surveyed open %v, behind the stores %v; want none open, INBOX behind its stores", os.open, os.withStores)
	}
	nothingAfter("a sync on one connection")
	r.acct.MaxConnections = 2

	// A large folder's first sync: its downloads change nothing on the
	// server, and it is surveyed as before.
	reset()
	for _, m := range sample.Messages("Lists", 9, 55) {
		r.remote.AddMessage("Lists", m.Body, m.Flags, m.Date)
	}
	if c := total(r.sync(t)); c[model.OpFetch] != 9 {
		t.Fatalf("a new folder of nine messages on the server: %v, want nine downloads", c)
	}
	if os.open["Lists"] != 0 || sv.surveyed["Lists"] != 1 {
		t.Fatalf("a large folder's first sync: surveyed open %v, in all %v; want Lists surveyed once, not open", os.open, sv.surveyed)
	}
	nothingAfter("a large folder's first sync")
	r.converged(t, 24)
}
