package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// batchRemote is memstore's server with MULTIAPPEND: its folders store a
// batch all or nothing, and refuse (a batch, or a single APPEND) any
// message with an "X-Refuse: yes" header, as a server refuses a message
// it cannot store. It counts the commands.
type batchRemote struct {
	*memstore.Remote
	mu      sync.Mutex
	batches []batchCall
	singles int
}

func (r *batchRemote) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	f, err := r.Remote.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &batchFolder{RemoteFolder: f, r: r}, nil
}

// batchCall is one AppendBatch: how many messages, and whether it was
// refused.
type batchCall struct {
	n       int
	refused bool
}

type batchFolder struct {
	adapters.RemoteFolder
	r *batchRemote
}

var errRefused = errors.New("NO [LIMIT] cannot store this message")

func refused(body []byte) bool { return bytes.Contains(body, []byte("X-Refuse: yes")) }

func (f *batchFolder) CanAppendBatch() bool { return true }

func (f *batchFolder) AppendBatch(ctx context.Context, msgs []adapters.AppendMsg) ([]uint32, error) {
	bodies := make([][]byte, len(msgs))
	call := batchCall{n: len(msgs)}
	defer func() {
		f.r.mu.Lock()
		f.r.batches = append(f.r.batches, call)
		f.r.mu.Unlock()
	}()
	for i, m := range msgs {
		b, err := io.ReadAll(m.Body)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) != m.Size || refused(b) {
			call.refused = true
			return nil, errRefused
		}
		bodies[i] = b
	}
	var uids []uint32
	for i, m := range msgs {
		uid, err := f.RemoteFolder.Append(ctx, m.Size, bytes.NewReader(bodies[i]), m.Flags, m.Date)
		if err != nil {
			return nil, err
		}
		uids = append(uids, uid)
	}
	return uids, nil
}

func (f *batchFolder) Append(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time) (uint32, error) {
	f.r.mu.Lock()
	f.r.singles++
	f.r.mu.Unlock()
	b, err := io.ReadAll(body)
	if err != nil {
		return 0, err
	}
	if refused(b) {
		return 0, errRefused
	}
	return f.RemoteFolder.Append(ctx, size, bytes.NewReader(b), flags, date)
}

func newBatchRig(t *testing.T) (*rig, *batchRemote) {
	r := newRig(t)
	br := &batchRemote{Remote: r.remote}
	r.acct.Remote = br
	return r, br
}

func addLocal(r *rig, folder string, n int, seed int64, refuse map[int]bool) {
	for i, m := range sample.Messages(folder, n, seed) {
		body := bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n"))
		if refuse[i] {
			body = append([]byte("X-Refuse: yes\n"), body...)
		}
		r.local.AddMessage(folder, body, m.Flags, m.Date)
	}
}

// TestUploadsGoInBatches: 250 new local messages go to the server in
// batches of at most 100, none alone, and every one is recorded.
func TestUploadsGoInBatches(t *testing.T) {
	r, br := newBatchRig(t)
	addLocal(r, "INBOX", 250, 7, nil)
	r.sync(t)
	r.converged(t, 250)
	if fmt.Sprint(br.batches) != "[{100 false} {100 false} {50 false}]" || br.singles != 0 {
		t.Fatalf("batches %v and %d single APPENDs, want [100 100 50] and none", br.batches, br.singles)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
}

// TestRefusedBatchGoesOneByOne: a batch the server refuses because of one
// message is sent again one message at a time: every other message gets
// there, the refused one is reported for its file, nothing is stored
// twice. Batching resumes after one refusal; after a second the rest goes
// one by one.
func TestRefusedBatchGoesOneByOne(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse map[int]bool
	}{
		{"one refused message", map[int]bool{5: true}},
		{"two refused batches", map[int]bool{5: true, 150: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, br := newBatchRig(t)
			addLocal(r, "INBOX", 330, 8, tc.refuse)
			rep, err := r.acct.Sync(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, f := range rep.Folders {
				failed += len(f.Failed)
				if f.Err != nil {
					t.Fatalf("folder %s: %v", f.Name, f.Err)
				}
			}
			if failed != len(tc.refuse) {
				t.Fatalf("%d failed operations, want the %d refused messages", failed, len(tc.refuse))
			}
			// Where the refused messages fall depends on the order of
			// the keys; what must hold: batches of two or more, none
			// after the second refusal, every message of a refused batch
			// sent again alone, batching resumed after one refusal.
			refusals, resent, resumed := 0, 0, false
			for i, b := range br.batches {
				if b.n < 2 || refusals == 2 {
					t.Errorf("batch %d: %+v (after %d refusals)", i, b, refusals)
				}
				if b.refused {
					refusals++
					resent += b.n
				} else if refusals > 0 {
					resumed = true
				}
			}
			if refusals == 0 || br.singles < resent || (refusals == 1 && !resumed) {
				t.Fatalf("batches %v and %d single APPENDs: want a refused batch, its messages sent again alone, then batches again after one refusal",
					br.batches, br.singles)
			}
			t.Logf("batches %v, %d single APPENDs", br.batches, br.singles)
			n := 0
			for _, st := range mustList(t, r.remote) {
				n += int(st.Messages)
			}
			if n != 330-len(tc.refuse) {
				t.Fatalf("%d messages on the server, want %d (all but the refused, none twice)", n, 330-len(tc.refuse))
			}
		})
	}
}

func mustList(t *testing.T, r *memstore.Remote) []model.RemoteFolderStatus {
	t.Helper()
	l, err := r.ListFolders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestDownloadsInOverlappingBatches: 1,200 messages come down in three
// batches, each committed while the next downloads; every one is there
// and recorded once (run with -race to check the overlap).
func TestDownloadsInOverlappingBatches(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 1200, 9) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	rep := r.sync(t)
	if c := total(rep); c[model.OpFetch] != 1200 {
		t.Fatalf("first sync did %v", c)
	}
	r.converged(t, 1200)
	if n := r.statusRows(t, "INBOX"); n != 1200 {
		t.Fatalf("%d status rows, want 1200", n)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
}
