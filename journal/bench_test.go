package journal

import (
	"fmt"
	"testing"

	"mailtrail/model"
)

// BenchmarkFolderStatus100k loads one folder of 100,000 status rows from a
// reopened store (rows in tables on disk, as at the start of a sync).
func BenchmarkFolderStatus100k(b *testing.B) {
	const rows, chunk = 100_000, 10_000
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for start := 1; start <= rows; start += chunk {
		var c Checkpoint
		for uid := start; uid < start+chunk; uid++ {
			key := fmt.Sprintf("1700000000.M%dP4242Q%d.mail.example.org", uid, uid)
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
	b.ReportAllocs()
	for b.Loop() {
		st, _, err := s.FolderStatus("INBOX")
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Rows) != rows {
			b.Fatalf("%d rows, want %d", len(st.Rows), rows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}

// BenchmarkAppendAndCheckpoint500 journals 500 ops and checkpoints them
// with their 500 status rows: two synced batches, on disk.
func BenchmarkAppendAndCheckpoint500(b *testing.B) {
	const batch = 500
	s := openT(b, b.TempDir(), Options{})
	run, err := s.BeginRun(RunInfo{Command: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	uid := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
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
			key := fmt.Sprintf("1700000000.M%dP4242Q%d.mail.example.org", in[i].UID, in[i].UID)
			c.Results = append(c.Results, OpResult{Seq: seq, Key: key})
			c.Upsert = append(c.Upsert, FolderRow{"INBOX", model.StatusRow{UID: in[i].UID, Key: key, Flags: model.Seen}})
		}
		if err := s.Checkpoint(c); err != nil {
			b.Fatal(err)
		}
	}
}
