package engine

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	"mailtrail/adapters"
	"mailtrail/internal/sample"
	"mailtrail/journal"
	"mailtrail/model"
)

// headerCountingRemote wraps a server: its folders count the messages
// whose bytes or headers are read (Fetch), and have no FetchHeaderFields,
// so that every header read goes through Fetch.
type headerCountingRemote struct {
	adapters.Remote
	reads *atomic.Int64
}

func (r headerCountingRemote) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	f, err := r.Remote.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return headerCountingFolder{f, r.reads}, nil
}

type headerCountingFolder struct {
	adapters.RemoteFolder
	reads *atomic.Int64
}

func (f headerCountingFolder) Fetch(ctx context.Context, uids []uint32, fn func(model.RemoteMsg, io.Reader) error) error {
	f.reads.Add(int64(len(uids)))
	return f.RemoteFolder.Fetch(ctx, uids, fn)
}

// The second sync names the messages it deletes and re-flags on either
// side from the journal (what the first sync's downloads recorded): it
// reads no header on the server, and the names are the messages'.
func TestPlanNamesComeFromTheJournal(t *testing.T) {
	r := newRig(t)
	ids := map[uint32]string{} // UID → Message-ID
	for _, m := range sample.Messages("INBOX", 4, 11) {
		uid, err := r.remote.AddMessage("INBOX", m.Body, 0, m.Date)
		if err != nil {
			t.Fatal(err)
		}
		ids[uid] = m.MessageID
	}
	r.sync(t)
	local, err := r.local.Messages("INBOX")
	if err != nil || len(local) != 4 {
		t.Fatalf("after the first sync: %d local messages, %v", len(local), err)
	}
	byUID := map[uint32]string{} // UID → local key
	for _, m := range local {
		byUID[m.UID] = m.Key
	}
	// 1 deleted locally, 2 flagged locally, 3 expunged on the server, 4
	// flagged on the server.
	mustDo(t, r.local.DeleteMessage("INBOX", byUID[1]))
	mustDo(t, r.local.SetMessageFlags("INBOX", byUID[2], model.Flagged))
	mustDo(t, r.remote.DeleteMessage("INBOX", 3))
	mustDo(t, r.remote.SetMessageFlags("INBOX", 4, model.Seen))

	var reads atomic.Int64
	r.acct.Remote = headerCountingRemote{r.remote, &reads}
	r.sync(t)
	if n := reads.Load(); n != 0 {
		t.Errorf("the second sync read %d messages on the server, want none", n)
	}
	want := map[model.OpKind]uint32{model.OpExpungeRemote: 1, model.OpStoreRemote: 2, model.OpDeleteLocal: 3, model.OpSetLocalFlags: 4}
	got := map[model.OpKind]bool{}
	err = r.j.Operations(func(e journal.OpEntry) error {
		uid, ok := want[e.Op.Kind]
		if !ok {
			return nil
		}
		got[e.Op.Kind] = true
		if e.Msg == nil || e.Msg.MessageID != ids[uid] || e.Msg.Subject == "" || e.Msg.Date.IsZero() {
			t.Errorf("%s of uid %d named %+v, want Message-ID %s with its subject and date", e.Op.Kind, e.Op.UID, e.Msg, ids[uid])
		}
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("journal holds %v of the four operations (%v)", got, err)
	}
	r.converged(t, 2)
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
