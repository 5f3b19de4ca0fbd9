package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"mailtrail/adapters"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// listedSelecting is surveying with an adapters.ListedSelector made of its
// own SelectFolder, as imap.Store's behaves: the folder's status is the
// listed one, and its first command fails with ErrValidityChanged when the
// server's UIDVALIDITY is another. between runs before each folder is
// opened: the server changing under the sync.
type listedSelecting struct {
	*surveying
	between func(name string)
	opened  map[string]int
}

func (s *listedSelecting) SelectListed(ctx context.Context, name string, listed model.RemoteFolderStatus) (adapters.RemoteFolder, error) {
	if s.between != nil {
		s.between(name)
	}
	f, err := s.Remote.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.opened[name]++
	s.mu.Unlock()
	if uv := f.Status().UIDValidity; uv != listed.UIDValidity {
		return refusedFolder{f, listed, fmt.Errorf("%w (%d to %d)", adapters.ErrValidityChanged, listed.UIDValidity, uv)}, nil
	}
	return f, nil
}

// refusedFolder is a folder whose SELECT answered another UIDVALIDITY than
// listed: its status is the listed one, and a download fails (the
// executions this test drives start with one).
type refusedFolder struct {
	adapters.RemoteFolder
	listed model.RemoteFolderStatus
	err    error
}

func (f refusedFolder) Status() model.RemoteFolderStatus { return f.listed }

func (f refusedFolder) Fetch(context.Context, []uint32, func(model.RemoteMsg, io.Reader) error) error {
	return f.err
}

// TestSelectedAsListed: an execution that starts with downloads, of a
// folder surveyed for its plan (two folders to sync: one alone would be
// opened for its plan and kept selected), opens its server folder as
// listed (adapters.ListedSelector), and the folder checks the UIDVALIDITY
// itself. When it changed between the plan and the execution, the folder
// fails with nothing done and the next sync repairs it as any UIDVALIDITY
// change, without a copy too many.
func TestSelectedAsListed(t *testing.T) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	ls := &listedSelecting{surveying: &surveying{Remote: r.remote, surveyed: map[string]int{}}, opened: map[string]int{}}
	r.acct.Remote = ls
	for _, m := range sample.Messages("INBOX", 4, 21) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	if err := r.remote.CreateFolder(context.Background(), "Other"); err != nil {
		t.Fatal(err)
	}
	r.sync(t) // cold: planned by opening the folders, executed on them (or opened again: timing)
	clear(ls.opened)
	add := func(seed int64) {
		for _, name := range []string{"INBOX", "Other"} {
			m := sample.Messages(name, 1, seed)[0]
			if _, err := r.remote.AddMessage(name, m.Body, m.Flags, m.Date); err != nil {
				t.Fatal(err)
			}
		}
	}

	add(22)
	if c := total(r.sync(t)); c[model.OpFetch] != 2 || len(c) != 1 {
		t.Fatalf("a new message in each folder on the server: %v, want two downloads", c)
	}
	if ls.opened["INBOX"] != 1 {
		t.Fatalf("INBOX opened as listed %d times for its execution, want 1", ls.opened["INBOX"])
	}

	add(23)
	ls.between = func(name string) {
		if name != "INBOX" {
			return
		}
		if err := r.remote.ChangeUIDValidity(name, 999); err != nil {
			t.Error(err)
		}
	}
	rep, err := r.acct.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ls.between = nil
	inbox := rep.Folders[0]
	if len(rep.Folders) != 2 || !errors.Is(inbox.Err, adapters.ErrValidityChanged) || len(inbox.Done) != 0 || !rep.Folders[1].OK() {
		t.Fatalf("UIDVALIDITY changed before the download: %+v, want INBOX failed with ErrValidityChanged and nothing done, Other synced", rep.Folders)
	}
	if msgs, _ := r.local.Messages("INBOX"); len(msgs) != 5 {
		t.Fatalf("%d local messages after the refused download, want the 5 there were", len(msgs))
	}
	c := total(r.sync(t))
	if c[model.OpRebaseFolder] != 1 || c[model.OpFetch] != 1 || c[model.OpUpload] != 0 {
		t.Fatalf("the sync after: %v, want the folder re-paired and the new message downloaded once", c)
	}
	r.converged(t, 8)
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("third sync did %v", c)
	}
}

// A folder's first sync creates the local folder before its downloads: the
// execution still opens the server folder as listed, its SELECT going out
// with the first download (firstOnServer skips the creation).
func TestFirstOnServer(t *testing.T) {
	for _, tc := range []struct {
		kinds []model.OpKind
		want  model.OpKind
	}{
		{[]model.OpKind{model.OpFetch, model.OpPair}, model.OpFetch},
		{[]model.OpKind{model.OpCreateLocalFolder, model.OpFetch}, model.OpFetch},
		{[]model.OpKind{model.OpCreateLocalFolder, model.OpUpload}, model.OpUpload},
		{[]model.OpKind{model.OpStoreRemote, model.OpFetch}, model.OpStoreRemote},
		{[]model.OpKind{model.OpCreateLocalFolder}, model.OpInvalid},
		{nil, model.OpInvalid},
	} {
		ops := make([]model.Op, len(tc.kinds))
		for i, k := range tc.kinds {
			ops[i].Kind = k
		}
		if got := firstOnServer(ops); got != tc.want {
			t.Errorf("firstOnServer(%v) = %v, want %v", tc.kinds, got, tc.want)
		}
	}
}
