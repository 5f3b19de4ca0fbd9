package engine

import (
	"context"
	"testing"
	"time"

	"mailtrail/adapters/memstore"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// warmWatch is a memstore Remote with an adapters.Warmer that reports
// whether connections were asked for while the server listed its folders:
// its ListFolders waits up to wait for a Warm before it lists.
type warmWatch struct {
	*memstore.Remote
	wait   time.Duration
	warmed chan int
	early  []int // the n of each Warm received while ListFolders waited
}

func (w *warmWatch) Warm(n int) {
	select {
	case w.warmed <- n:
	default:
	}
}

func (w *warmWatch) ListFolders(ctx context.Context) ([]model.RemoteFolderStatus, error) {
	select {
	case n := <-w.warmed:
		w.early = append(w.early, n)
	case <-time.After(w.wait):
	}
	return w.Remote.ListFolders(ctx)
}

// TestWarmsEarlyOnLocalEvidence: the connections a run's executions need
// are asked for while the server lists its folders when the journal and
// the local folders alone show work for several folders (a first sync;
// local changes in two folders), and not when they do not (nothing
// changed; changes on the server only, which the listing shows).
func TestWarmsEarlyOnLocalEvidence(t *testing.T) {
	r, folders := threeFolderRig(t, 40)
	sync := func(name string, wantEarly bool) {
		t.Helper()
		wait := 300 * time.Millisecond
		if wantEarly {
			wait = 10 * time.Second // fails by its end when nothing warms early
		}
		w := &warmWatch{Remote: r.remote, wait: wait, warmed: make(chan int, 8)}
		r.acct.Remote = w
		r.sync(t)
		switch {
		case wantEarly && (len(w.early) != 1 || w.early[0] != r.acct.MaxConnections):
			t.Errorf("%s: connections asked for while listing: %v, want [%d]", name, w.early, r.acct.MaxConnections)
		case !wantEarly && len(w.early) != 0:
			t.Errorf("%s: connections asked for while listing: %v, want none", name, w.early)
		}
	}
	sync("first sync", true)
	r.converged(t, 12)
	sync("nothing changed", false)

	newServerMail(r, 90, folders[:2]...)
	sync("new mail in two server folders", false)
	r.converged(t, 14)

	// flip changes a flag of a message in each of the last two folders.
	flip := func() { flipLocalFlags(t, r.local, folders[1:]) }
	flip()
	sync("flags changed in two local folders", true)
	r.converged(t, 14)
	sync("nothing changed again", false)

	// A run limited to one folder (-f) counts only that folder's changes.
	flip()
	r.acct.Folders = folders[1:2]
	sync("flags changed in two local folders, one of them synced", false)
	r.acct.Folders = nil
	sync("the other one", false) // one folder left to sync: one connection
	r.converged(t, 14)
}

// threeFolderRig is a rig whose server has CONDSTORE and three folders,
// Archive, INBOX and Lists, of four messages each (seed: the first's
// sample seed, one more for each next folder).
func threeFolderRig(t *testing.T, seed int64) (*rig, []string) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	folders := []string{"Archive", "INBOX", "Lists"}
	for i, f := range folders {
		for _, m := range sample.Messages(f, 4, seed+int64(i)) {
			r.remote.AddMessage(f, m.Body, m.Flags, m.Date)
		}
	}
	return r, folders
}

// newServerMail delivers one new unflagged message (sample seed seed) into
// each of folders on r's server.
func newServerMail(r *rig, seed int64, folders ...string) {
	for _, f := range folders {
		r.remote.AddMessage(f, sample.Messages(f, 1, seed)[0].Body, 0, time.Now())
	}
}

// flipLocalFlags changes the \Flagged flag of the first message of each
// of folders in local.
func flipLocalFlags(t *testing.T, local *memstore.Local, folders []string) {
	t.Helper()
	for _, f := range folders {
		msgs, err := local.Messages(f)
		if err != nil || len(msgs) == 0 {
			t.Fatalf("%s: %d messages, %v", f, len(msgs), err)
		}
		if err := local.SetMessageFlags(f, msgs[0].Key, msgs[0].Flags^model.Flagged); err != nil {
			t.Fatal(err)
		}
	}
}
