package engine

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/model"
)

// listWatch is a memstore Remote whose ListFolders waits, up to wait, for
// want local folders to be scanned (through scanWatchLocal) before it
// lists, and records which were scanned before its listing was answered
// (the run's start included: an early scan may be made before the listing
// is asked for) and how often each was scanned in the run.
type listWatch struct {
	*memstore.Remote
	wait time.Duration
	want int

	mu      sync.Mutex
	listed  bool
	before  []string       // scanned before the listing was answered
	scans   map[string]int // scans by folder
	scanned chan struct{}
}

func (w *listWatch) ListFolders(ctx context.Context) ([]model.RemoteFolderStatus, error) {
	timeout := time.After(w.wait)
	for waiting := true; waiting; {
		w.mu.Lock()
		waiting = len(w.before) < w.want
		w.mu.Unlock()
		if waiting {
			select {
			case <-w.scanned:
			case <-timeout:
				waiting = false
			}
		}
	}
	list, err := w.Remote.ListFolders(ctx)
	w.mu.Lock()
	w.listed = true
	w.mu.Unlock()
	return list, err
}

func (w *listWatch) sawScan(name string) {
	w.mu.Lock()
	w.scans[name]++
	if !w.listed {
		w.before = append(w.before, name)
	}
	w.mu.Unlock()
	select {
	case w.scanned <- struct{}{}:
	default:
	}
}

type scanWatchLocal struct {
	*memstore.Local
	w *listWatch
}

func (l *scanWatchLocal) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	f, err := l.Local.OpenFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &scanWatchFolder{LocalFolder: f.(*memstore.LocalFolder), w: l.w, name: name}, nil
}

// scanWatchFolder keeps the memstore folder's other interfaces (its scan
// stamp) by embedding the concrete type.
type scanWatchFolder struct {
	*memstore.LocalFolder
	w    *listWatch
	name string
}

func (f *scanWatchFolder) Scan(ctx context.Context) ([]model.LocalMsg, error) {
	f.w.sawScan(f.name)
	return f.LocalFolder.Scan(ctx)
}

// TestScansChangedLocalFoldersWhileTheServerLists: the local folders whose
// stamps changed since the last sync are scanned while the server lists
// its folders, and that scan is the one their plans use (each such folder
// scanned no more often in the run than the others: once for its plan,
// once for the verification); none is scanned early at a first sync (its
// scans would be held beside every listing, at the run's memory peak),
// when nothing changed, or when only the server changed. Every run
// converges.
func TestScansChangedLocalFoldersWhileTheServerLists(t *testing.T) {
	r, folders := threeFolderRig(t, 70)
	local := r.local
	sync := func(name string, wantEarly []string) *listWatch {
		t.Helper()
		w := &listWatch{Remote: r.remote, wait: 300 * time.Millisecond, want: 1,
			scans: map[string]int{}, scanned: make(chan struct{}, 8)}
		if len(wantEarly) > 0 {
			w.wait, w.want = 10*time.Second, len(wantEarly) // fails by its end when nothing is scanned early
		}
		r.acct.Remote = w
		r.acct.Local = &scanWatchLocal{Local: local, w: w}
		r.sync(t)
		slices.Sort(w.before)
		if !slices.Equal(w.before, wantEarly) {
			t.Errorf("%s: scanned before the server's listing was answered: %v, want %v", name, w.before, wantEarly)
		}
		return w
	}
	sync("first sync", nil)
	r.converged(t, 12)
	sync("nothing changed", nil)

	flipLocalFlags(t, local, folders[1:])
	newServerMail(r, 91, "Archive")
	w := sync("flags changed in two local folders, new mail in the third", folders[1:])
	for _, f := range folders[1:] {
		if w.scans[f] != w.scans["Archive"] {
			t.Errorf("%s scanned %d times in the run, Archive (not scanned early) %d: the early scan was not used", f, w.scans[f], w.scans["Archive"])
		}
	}
	r.converged(t, 13)
	sync("nothing changed again", nil)

	newServerMail(r, 92, folders[:2]...)
	sync("new mail in two server folders", nil)
	r.converged(t, 15)
}
