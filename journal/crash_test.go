package journal

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"mailtrail/model"
)

// TestCrashKeepsCheckpointsDurableAndAtomic writes intents and checkpoints
// while taking crash images of the file system (every synced byte, and a
// random share of unsynced ones), then opens each image and checks: every
// checkpoint that had returned before the image is there, and each intent is
// either pending with no status row, or done with its row: never half.
func TestCrashKeepsCheckpointsDurableAndAtomic(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s, err := Open("j", Options{fs: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}

	const minSteps, wantImages = 100, 40
	var acked atomic.Int64 // checkpoints that have returned
	type image struct {
		acked int64
		fs    *vfs.MemFS
	}
	var images []image
	imaged := make(chan struct{}) // closed once wantImages are taken
	go func() {
		defer close(imaged)
		rng := rand.New(rand.NewPCG(1, 2))
		for len(images) < wantImages {
			before := acked.Load()
			clone := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
			images = append(images, image{before, clone})
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		}
	}()
	steps := 0
	for steps < minSteps || !isClosed(imaged) {
		steps++
		uid := uint32(steps)
		seqs, err := s.AppendIntents(run, []model.Op{{Kind: model.OpFetch, Folder: "INBOX", UID: uid, Reason: "new"}})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Checkpoint(Checkpoint{
			Results: []OpResult{{Seq: seqs[0], Key: "k"}},
			Upsert:  []FolderRow{{"INBOX", model.StatusRow{UID: uid, Key: "k"}}},
			Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 1, Messages: uid}},
		})
		if err != nil {
			t.Fatal(err)
		}
		acked.Add(1)
	}

	for n, img := range images {
		c, err := Open("j", Options{fs: img.fs})
		if err != nil {
			t.Fatalf("image %d (after %d checkpoints): Open: %v", n, img.acked, err)
		}
		if err := c.Check(); err != nil {
			t.Errorf("image %d: %v", n, err)
		}
		st, meta, err := c.FolderStatus("INBOX")
		if err != nil {
			t.Fatal(err)
		}
		pending, err := c.Pending()
		if err != nil {
			t.Fatal(err)
		}
		pendingUID := map[uint32]bool{}
		for _, p := range pending {
			pendingUID[p.Op.UID] = true
		}
		intents := map[uint32]bool{}
		var lastSeq uint64
		c.Records(0, func(r Record) error {
			lastSeq = r.Seq
			if r.Kind == KindIntent {
				intents[r.Op.UID] = true
			}
			return nil
		})
		for uid := uint32(1); uid <= uint32(steps); uid++ {
			hasRow := st.Rows.Has(uid)
			switch {
			case int64(uid) <= img.acked && (!hasRow || pendingUID[uid]):
				t.Errorf("image %d: checkpoint %d had returned but row=%v pending=%v", n, uid, hasRow, pendingUID[uid])
			case intents[uid] && hasRow == pendingUID[uid]:
				t.Errorf("image %d: intent for uid %d is half checkpointed: row=%v pending=%v", n, uid, hasRow, pendingUID[uid])
			case !intents[uid] && hasRow:
				t.Errorf("image %d: row %d without its intent", n, uid)
			}
		}
		if int(meta.Messages) != st.Rows.Len() {
			t.Errorf("image %d: meta says %d messages, %d rows: meta and rows from different checkpoints", n, meta.Messages, st.Rows.Len())
		}
		// The image must keep working: new seqs follow the recovered ones.
		// An image taken before the run's first write holds no run: a
		// new one starts, its start record taking the next seq.
		r, want := run, lastSeq+1
		if _, err := c.openRun(run); err != nil {
			if r, err = c.BeginRun(RunInfo{Command: "sync"}); err != nil {
				t.Fatal(err)
			}
			want = lastSeq + 2
		}
		if seqs, err := c.AppendIntents(r, []model.Op{{Kind: model.OpFetch, Folder: "INBOX", UID: 999}}); err != nil || seqs[0] != want {
			t.Errorf("image %d: AppendIntents after recovery = %v, %v; want seq %d", n, seqs, err, want)
		}
		c.Close()
	}
	t.Logf("%d crash images over %d checkpoints verified", len(images), steps)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
