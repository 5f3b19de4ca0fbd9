package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// placeWatch notes, for TestFolderGivesItsPlaceBeforeItsLocalTail, every
// server folder selected, and has the first folder that reaches a local
// tail wait there for another folder's execution to select its own.
type placeWatch struct {
	mu       sync.Mutex
	planning int      // the first selects are the planning's, one per server folder
	selects  []string // every select, in order
	tail     string   // the folder whose local tail waits
	changed  chan struct{}
	missed   bool // the tail went on without another folder selected
}

// otherSelectedLocked reports whether, since the tail folder's own
// execution select (or, for a folder kept selected since its planning,
// since the executions began), another folder's execution selected its
// server folder.
func (w *placeWatch) otherSelectedLocked() bool {
	from := w.planning
	for i := len(w.selects) - 1; i >= w.planning; i-- {
		if w.selects[i] == w.tail {
			from = i + 1
			break
		}
	}
	for _, name := range w.selects[min(from, len(w.selects)):] {
		if name != w.tail {
			return true
		}
	}
	return false
}

// waitForOther is called at the start of folder's local tail: it waits
// up to 3 s for another folder's execution to select its server folder,
// and notes in missed when none did.
func (w *placeWatch) waitForOther(folder string) {
	deadline := time.After(3 * time.Second)
	w.mu.Lock()
	if w.tail != "" && w.tail != folder {
		w.mu.Unlock()
		return // only the first tail waits
	}
	w.tail = folder
	for !w.otherSelectedLocked() {
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			w.mu.Lock()
			w.missed = true
			w.mu.Unlock()
			return
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
}

func (w *placeWatch) sawSelect(folder string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.selects = append(w.selects, folder)
	close(w.changed)
	w.changed = make(chan struct{})
}

type watchedRemote struct {
	adapters.Remote
	w *placeWatch
}

func (r *watchedRemote) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	r.w.sawSelect(name)
	return r.Remote.SelectFolder(ctx, name)
}

type watchedLocal struct {
	adapters.Local
	w *placeWatch
}

func (l *watchedLocal) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	f, err := l.Local.OpenFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &watchedLocalFolder{LocalFolder: f, l: l, name: name}, nil
}

type watchedLocalFolder struct {
	adapters.LocalFolder
	l    *watchedLocal
	name string
}

func (f *watchedLocalFolder) NewBatch() adapters.LocalBatch {
	return &watchedBatch{LocalBatch: f.LocalFolder.NewBatch(), f: f}
}

func (f *watchedLocalFolder) SetFlags(ctx context.Context, key string, flags model.Flags) error {
	f.l.w.waitForOther(f.name)
	return f.LocalFolder.SetFlags(ctx, key, flags)
}

type watchedBatch struct {
	adapters.LocalBatch
	f *watchedLocalFolder
}

func (b *watchedBatch) Commit(ctx context.Context) error {
	b.f.l.w.waitForOther(b.f.name)
	return b.LocalBatch.Commit(ctx)
}

// TestFolderGivesItsPlaceBeforeItsLocalTail: with one connection, a folder
// whose operations left are local (its last downloads' commit, or flag
// renames after its server changes) gives its connection to the next
// folder first: the next folder is selected while the first one's local
// tail has not finished. Without that, the first folder's commit would
// wait for the next folder's select forever (here: 3 s, then fail).
func TestFolderGivesItsPlaceBeforeItsLocalTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change prepares the second sync (nil: the first sync is watched)
		change   func(t *testing.T, r *rig)
		want     model.OpKind
		messages int // after the sync
	}{
		{"the last downloads' commit", nil, model.OpFetch, 40},
		{"flag renames after a server change", func(t *testing.T, r *rig) {
			for _, folder := range []string{"A", "B"} {
				msgs, err := r.remote.Messages(folder)
				if err != nil {
					t.Fatal(err)
				}
				// A flag changed on the server: a local rename.
				if err := r.remote.SetMessageFlags(folder, msgs[0].UID, msgs[0].Flags^model.Flagged); err != nil {
					t.Fatal(err)
				}
			}
			// And a new local message: A's server work (the upload)
			// comes before its local tail.
			r.local.AddMessage("A", []byte("Subject: new here\nMessage-ID: <new@a>\n\nbody\n"), 0, time.Now())
		}, model.OpSetLocalFlags, 41},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			for _, folder := range []string{"A", "B"} {
				for _, m := range sample.Messages(folder, 20, 11) {
					r.remote.AddMessage(folder, m.Body, m.Flags, m.Date)
				}
			}
			r.acct.MaxConnections = 1
			if tc.change != nil {
				r.sync(t)
				tc.change(t, r)
			}
			// A, B and INBOX are each selected once for planning.
			w := &placeWatch{planning: 3, changed: make(chan struct{})}
			r.acct.Remote = &watchedRemote{Remote: r.remote, w: w}
			r.acct.Local = &watchedLocal{Local: r.local, w: w}
			rep := r.sync(t)
			if total(rep)[tc.want] == 0 {
				t.Fatalf("the sync did %v, no %v", total(rep), tc.want)
			}
			if w.tail == "" {
				t.Fatal("no folder reached a local tail")
			}
			if w.missed {
				t.Fatalf("folder %s kept its place through its local tail: the other folder was not selected meanwhile (selects %v, the first %d the planning's)",
					w.tail, w.selects, w.planning)
			}
			r.converged(t, tc.messages)
		})
	}
}
