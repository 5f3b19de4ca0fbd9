package engine

import (
	"bytes"
	"sync"
	"testing"

	"mailtrail/internal/sample"
	"mailtrail/model"
)

// TestProgress: Account.Progress hears, per folder, the planning, the
// execution after every checkpoint (done and total per kind of operation,
// never going back) and the end; a sync with nothing to do executes
// nothing.
func TestProgress(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 1200, 1) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	for _, m := range sample.Messages("Notes", 3, 2) {
		r.local.AddMessage("Notes", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), m.Flags, m.Date)
	}
	var mu sync.Mutex
	events := map[string][]Event{}
	r.acct.Progress = func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		events[ev.Folder] = append(events[ev.Folder], ev)
	}
	r.sync(t)

	check := func(folder string, kind model.OpKind, total, minSteps int) {
		t.Helper()
		evs := events[folder]
		if len(evs) < 3 || evs[0].Phase != PhasePlan || evs[len(evs)-1].Phase != PhaseDone {
			t.Fatalf("%s: events %+v, want plan first and done last", folder, evs)
		}
		if last := evs[len(evs)-1]; last.Failed || last.Planned == 0 {
			t.Errorf("%s: done event %+v", folder, last)
		}
		steps, done := 0, -1
		for _, ev := range evs {
			if ev.Account != "t" {
				t.Errorf("%s: event of account %q", folder, ev.Account)
			}
			if ev.Phase != PhaseExecute || ev.Op != kind {
				continue
			}
			if ev.Total != total || ev.Done < done || ev.Done > total {
				t.Errorf("%s: %s %d/%d after %d", folder, ev.Op, ev.Done, ev.Total, done)
			}
			done = ev.Done
			steps++
		}
		if done != total || steps < minSteps {
			t.Errorf("%s: %s reached %d/%d in %d events, want %d in at least %d", folder, kind, done, total, steps, total, minSteps)
		}
	}
	// 1200 downloads, in batches of 500, 500 and 200 (the execution
	// starts with the creation of the local folder).
	check("INBOX", model.OpFetch, 1200, 3)
	check("Notes", model.OpUpload, 3, 1)

	events = map[string][]Event{}
	r.sync(t)
	for folder, evs := range events {
		for _, ev := range evs {
			if ev.Phase == PhaseExecute {
				t.Errorf("%s: a sync with nothing to do reported %+v", folder, ev)
			}
		}
	}
}
