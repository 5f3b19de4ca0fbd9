package journal

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"mailtrail/model"
)

// The journal benchmarks measure what a sync pays the journal per message:
// reading a folder's status at the start (BenchmarkFolderStatus100k) and
// journaling then checkpointing ops in synced batches
// (BenchmarkAppendAndCheckpoint*). docs/PERFORMANCE.md quotes them. CI runs
// them once (-benchtime 1x) so that they keep working.

func benchRowKey(uid int) string {
	return fmt.Sprintf("1700000000.M%dP4242Q%d.mail.example.org", uid, uid)
}

// BenchmarkFolderStatus100k loads one folder of 100,000 status rows from a
// reopened store (rows in tables on disk, as at the start of a sync). It
// reports the time per row, the stored bytes per row (key and value:
// row-B) and the memory the loaded status holds per row (mem-B/row):
// "copies" with keys of its own (FolderStatus), "sharing" with the keys of
// a scan of the folder held already (FolderStatusSharing).
func BenchmarkFolderStatus100k(b *testing.B) {
	const rows, chunk = 100_000, 10_000
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	scanned := map[string]string{} // as a scan of the folder would hold them
	for start := 1; start <= rows; start += chunk {
		var c Checkpoint
		for uid := start; uid < start+chunk; uid++ {
			key := benchRowKey(uid)
			scanned[key] = key
			c.Upsert = append(c.Upsert, FolderRow{"INBOX", model.StatusRow{UID: uint32(uid), Key: key, Flags: model.Seen}})
		}
		if err := s.Checkpoint(c); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Checkpoint(Checkpoint{Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 1, Messages: rows}}}); err != nil {
		b.Fatal(err)
	}
	s.Close()
	s = openT(b, dir, Options{ReadOnly: true})
	rowBytes := storedRowBytes(b, s, "INBOX")

	for _, bc := range []struct {
		name  string
		known func([]byte) (string, bool)
	}{
		{"copies", nil},
		{"sharing", func(key []byte) (string, bool) { k, ok := scanned[string(key)]; return k, ok }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			held, _, err := s.FolderStatusSharing("INBOX", bc.known)
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			memPerRow := float64(after.HeapAlloc-before.HeapAlloc) / rows
			runtime.KeepAlive(held)

			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				st, _, err := s.FolderStatusSharing("INBOX", bc.known)
				if err != nil {
					b.Fatal(err)
				}
				if st.Rows.Len() != rows {
					b.Fatalf("%d rows, want %d", st.Rows.Len(), rows)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
			b.ReportMetric(rowBytes, "row-B")
			b.ReportMetric(memPerRow, "mem-B/row")
		})
	}
}

// storedRowBytes is the mean size of folder's status rows as stored (key
// plus value, before Pebble's compression and block overhead).
func storedRowBytes(b *testing.B, s *Store, folder string) float64 {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: statusFolderPrefix(folder), UpperBound: statusFolderUpperBound(folder)})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	var n, total int
	for ok := it.First(); ok; ok = it.Next() {
		n++
		total += len(it.Key()) + len(it.Value())
	}
	if n == 0 {
		b.Fatal("no status rows")
	}
	return float64(total) / float64(n)
}

// benchAppendAndCheckpoint journals batches of ops (one synced batch) and
// checkpoints each batch with its status rows (a second synced batch), as
// the executor does for fetched messages. It reports the time per message
// and messages per second.
func benchAppendAndCheckpoint(b *testing.B, batch int) {
	s := openT(b, b.TempDir(), Options{})
	run, err := s.BeginRun(RunInfo{Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	uid := uint32(0)
	b.ReportAllocs()
	msgs := 0
	for b.Loop() {
		// A batch of 1 costs two fsyncs per message: run enough of them to
		// see it; larger batches run once per iteration.
		rounds := max(1, 500/batch/5)
		for range rounds {
			in := make([]model.Op, batch)
			for i := range in {
				uid++
				in[i] = model.Op{Kind: model.OpFetch, Folder: "INBOX", UID: uid, Flags: model.Seen, Size: 4096, Reason: "new on remote"}
			}
			seqs, err := s.AppendIntents(run, in)
			if err != nil {
				b.Fatal(err)
			}
			c := Checkpoint{Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 1, UIDNext: uid + 1}}}
			for i, seq := range seqs {
				key := benchRowKey(int(in[i].UID))
				c.Results = append(c.Results, OpResult{Seq: seq, Key: key})
				c.Upsert = append(c.Upsert, FolderRow{"INBOX", model.StatusRow{UID: in[i].UID, Key: key, Flags: model.Seen}})
			}
			if err := s.Checkpoint(c); err != nil {
				b.Fatal(err)
			}
			msgs += batch
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(secs*1e9/float64(msgs), "ns/msg")
	b.ReportMetric(float64(msgs)/secs, "msgs/s")
}

// BenchmarkAppendAndCheckpoint500 journals 500 ops and checkpoints them
// with their 500 status rows: two synced batches, on disk.
func BenchmarkAppendAndCheckpoint500(b *testing.B) { benchAppendAndCheckpoint(b, 500) }

// BenchmarkAppendAndCheckpoint50: smaller batches, the same protocol.
func BenchmarkAppendAndCheckpoint50(b *testing.B) { benchAppendAndCheckpoint(b, 50) }

// BenchmarkAppendAndCheckpoint1: one message per batch, what a journal
// without batching would pay (two synced writes per message).
func BenchmarkAppendAndCheckpoint1(b *testing.B) { benchAppendAndCheckpoint(b, 1) }

// BenchmarkBulkFlagChange100k journals what a sync writes when every
// message of a 100,000-message folder changed its flags on one side (a
// webmail's "mark all read"): the folder's observation and one intent per
// message, named, then the results with the messages' status rows,
// checkpointed in parts of 2,048 as the executor does. The journal holds
// the folder's rows and one such run already, as a journal in use does.
// It reports the time per message and what Pebble wrote for it: flushed
// (flush-B/msg) and rewritten by compactions (compact-B/msg), which is
// where the journal's CPU time goes in such a sync.
func BenchmarkBulkFlagChange100k(b *testing.B) {
	const msgs, part = 100_000, 2048
	s := openT(b, b.TempDir(), Options{})
	rows := make([]model.StatusRow, msgs)
	for i := range rows {
		rows[i] = model.StatusRow{UID: uint32(i + 1), Key: benchRowKey(i + 1), Flags: model.Seen}
	}
	for c := range slices.Chunk(rows, 10_000) {
		var cp Checkpoint
		for _, r := range c {
			cp.Upsert = append(cp.Upsert, FolderRow{"Big", r})
		}
		if err := s.Checkpoint(cp); err != nil {
			b.Fatal(err)
		}
	}
	flags := model.Flags(0)
	oneRun := func() {
		flags ^= model.Seen
		run, err := s.BeginRun(RunInfo{Command: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		obs := &Observation{Folder: "Big",
			Remote: ObservedRemote{Exists: true, Status: model.RemoteFolderStatus{Name: "Big", UIDValidity: 1, UIDNext: msgs + 1, Messages: msgs}},
			Local:  ObservedLocal{Exists: true},
			Status: ObservedStatus{UIDValidity: 1, Rows: rows}}
		ops := make([]model.Op, msgs)
		names := make([]MsgInfo, msgs)
		for i := range ops {
			obs.Remote.Msgs = append(obs.Remote.Msgs, model.RemoteMsg{UID: uint32(i + 1), Flags: flags, Size: 4096})
			obs.Local.Msgs = append(obs.Local.Msgs, model.LocalMsg{Key: rows[i].Key, UID: uint32(i + 1), Flags: rows[i].Flags})
			ops[i] = model.Op{Kind: model.OpSetLocalFlags, Folder: "Big", UID: uint32(i + 1), Key: rows[i].Key, Flags: flags, RecordsRow: true, Reason: "flags changed on remote"}
			names[i] = MsgInfo{MessageID: fmt.Sprintf("<%d.bench@example.org>", i), Subject: "A subject of a usual length, for the benchmark", From: "Someone <someone@example.org>"}
		}
		seqs, err := s.AppendObserved(run, obs, ops, names)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < msgs; i += part {
			var cp Checkpoint
			for j := i; j < min(i+part, msgs); j++ {
				rows[j].Flags = flags
				cp.Results = append(cp.Results, OpResult{Seq: seqs[j]})
				cp.Upsert = append(cp.Upsert, FolderRow{"Big", rows[j]})
			}
			if err := s.Checkpoint(cp); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.EndRun(run, RunSummary{}); err != nil {
			b.Fatal(err)
		}
	}
	oneRun()
	before := s.db.Metrics().Total()
	n := 0
	for b.Loop() {
		oneRun()
		n += msgs
	}
	after := s.db.Metrics().Total()
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n), "ns/msg")
	b.ReportMetric(float64(after.TableBytesFlushed-before.TableBytesFlushed)/float64(n), "flush-B/msg")
	b.ReportMetric(float64(after.TableBytesCompacted-before.TableBytesCompacted)/float64(n), "compact-B/msg")
}
