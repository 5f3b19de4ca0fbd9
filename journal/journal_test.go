package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/vmihailenco/msgpack/v5"

	"mailtrail/model"
)

// fixedClock returns a clock that starts at a fixed instant and advances
// one second per call, so that record times are predictable.
func fixedClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Second)
		return t
	}
}

func openT(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func ops(folder string, n, firstUID int) []model.Op {
	out := make([]model.Op, n)
	for i := range out {
		out[i] = model.Op{Kind: model.OpFetch, Folder: folder, UID: uint32(firstUID + i), Flags: model.Seen, Size: 1000, Reason: "new on remote"}
	}
	return out
}

func TestOpenCreatesPrivateDirectoryWithFormatKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acct", "journal")
	s := openT(t, dir, Options{})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("journal directory mode = %o, want 700", perm)
	}
	v, closer, err := s.db.Get(keyFormat)
	if err != nil {
		t.Fatalf("meta/format: %v", err)
	}
	var format uint64
	if err := msgpack.Unmarshal(v, &format); err != nil || format != FormatVersion {
		t.Errorf("meta/format = %d (%v), want %d", format, err, FormatVersion)
	}
	closer.Close()
	if got := s.db.FormatMajorVersion(); got != PebbleFormat {
		t.Errorf("pebble format = %v, want %v", got, PebbleFormat)
	}
	// Fails after a Pebble upgrade on purpose: moving the pinned format is a
	// decision (old mailtrail binaries cannot read the new one).
	if PebbleFormat != pebble.FormatNewest {
		t.Errorf("PebbleFormat = %v, newest supported is %v: decide whether to move the pin", PebbleFormat, pebble.FormatNewest)
	}
	mustCheck(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Pending(); !errors.Is(err, ErrClosed) {
		t.Errorf("Pending after Close: %v, want ErrClosed", err)
	}
	s2 := openT(t, dir, Options{})
	mustCheck(t, s2)
}

func TestRunsRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	started := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	r1, err := s.BeginRun(RunInfo{Started: started, Command: "sync", Args: []string{"-a", "work"}})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.BeginRun(RunInfo{Command: "sync", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if r1 != 1 || r2 != 2 {
		t.Fatalf("run IDs = %d, %d; want 1, 2", r1, r2)
	}
	sum := RunSummary{Finished: started.Add(time.Minute), Counts: map[string]int{"fetch": 3}, Err: ""}
	if err := s.EndRun(r1, sum); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(r1, sum); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("second EndRun: %v, want ErrUnknownRun", err)
	}
	if err := s.EndRun(99, sum); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("EndRun(99): %v, want ErrUnknownRun", err)
	}
	if _, err := s.AppendIntents(r1, ops("INBOX", 1, 1)); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("AppendIntents to an ended run: %v, want ErrUnknownRun", err)
	}
	if _, err := s.AppendIntents(7, ops("INBOX", 1, 1)); !errors.Is(err, ErrUnknownRun) {
		t.Errorf("AppendIntents to a run never begun: %v, want ErrUnknownRun", err)
	}

	// Run 2 wrote nothing yet: it is not recorded. Its first write
	// records its start in the same batch.
	if runs, err := s.Runs(); err != nil || len(runs) != 1 {
		t.Fatalf("Runs before run 2 wrote = %+v, %v; want run 1 only", runs, err)
	}
	seqs, err := s.AppendIntents(r2, ops("INBOX", 1, 1))
	if err != nil || len(seqs) != 1 || seqs[0] != 4 {
		t.Fatalf("AppendIntents(run 2) = %v, %v; want seq 4 after its start at 3", seqs, err)
	}
	runs, err := s.Runs()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("Runs = %+v, want 2", runs)
	}
	got := runs[0]
	if got.ID != 1 || !got.Info.Started.Equal(started) || got.Info.Command != "sync" || !slices.Equal(got.Info.Args, []string{"-a", "work"}) ||
		!got.Ended || got.StartSeq != 1 || got.EndSeq != 2 || !got.Summary.Finished.Equal(sum.Finished) || got.Summary.Counts["fetch"] != 3 {
		t.Errorf("run 1 = %+v", got)
	}
	if r := runs[1]; r.ID != 2 || r.Ended || !r.Info.DryRun || r.StartSeq != 3 || r.Info.Started.IsZero() {
		t.Errorf("run 2 = %+v", r)
	}

	var kinds []string
	if err := s.Records(0, func(r Record) error {
		kinds = append(kinds, fmt.Sprintf("%d:%s:run%d", r.Seq, r.Kind, r.Run))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"1:run-started:run1", "2:run-ended:run1", "3:run-started:run2", "4:intent:run2"}
	if !slices.Equal(kinds, want) {
		t.Errorf("records = %v, want %v", kinds, want)
	}
	// A run that ends having done nothing is never recorded.
	r3, _ := s.BeginRun(RunInfo{Command: "sync"})
	if err := s.EndRun(r3, RunSummary{}); err != nil {
		t.Fatal(err)
	}
	if runs, _ := s.Runs(); len(runs) != 2 {
		t.Errorf("a run that did nothing was recorded: %+v", runs)
	}
	mustCheck(t, s)
}

func TestIntentsArePendingUntilCheckpointAndSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Now: fixedClock()})
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	in := append(ops("INBOX", 3, 10), model.Op{Kind: model.OpUpload, Folder: "Sent", Key: "1700000000.M1P2.host", Flags: model.Seen | model.Answered, Size: 42, Reason: "new local file"})
	seqs, err := s.AppendIntents(run, in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{2, 3, 4, 5}) {
		t.Fatalf("seqs = %v, want [2 3 4 5] (1 is the run start)", seqs)
	}
	if empty, err := s.AppendIntents(run, nil); err != nil || empty != nil {
		t.Errorf("AppendIntents(nil) = %v, %v", empty, err)
	}
	if _, err := s.AppendIntents(run, []model.Op{{Folder: "INBOX"}}); err == nil {
		t.Error("AppendIntents accepted an op of kind invalid")
	}
	s.Close() // a crash between journal and checkpoint looks like this

	s = openT(t, dir, Options{Now: fixedClock()})
	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != len(in) {
		t.Fatalf("Pending after reopen = %d intents, want %d", len(pending), len(in))
	}
	for i, p := range pending {
		if p.Seq != seqs[i] || p.Run != run || !reflect.DeepEqual(p.Op, in[i]) || p.Time.IsZero() {
			t.Errorf("pending[%d] = %+v, want seq %d run %d op %+v", i, p, seqs[i], run, in[i])
		}
	}
	// The sequence continues after the last key, never reusing one.
	more, err := s.AppendIntents(run, ops("INBOX", 2, 20))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(more, []uint64{6, 7}) {
		t.Errorf("seqs after reopen = %v, want [6 7]", more)
	}
	run2, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil || run2 != 2 {
		t.Errorf("BeginRun after reopen = %d, %v; want run 2", run2, err)
	}
	mustCheck(t, s)
}

func TestCheckpointCompletesIntentsAndAppliesStatus(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, err := s.AppendIntents(run, ops("INBOX", 3, 10))
	if err != nil {
		t.Fatal(err)
	}
	synced := time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	meta := FolderMeta{Name: "INBOX", UIDValidity: 1234, UIDNext: 13, Messages: 3, HighestModSeq: 77,
		LocalCurMtime: 1700000000123456789, LocalNewMtime: 1700000000987654321, Synced: synced}
	err = s.Checkpoint(Checkpoint{
		Results: []OpResult{
			{Seq: seqs[0], UID: 10, Key: "k10"},
			{Seq: seqs[1], Err: "remote: NO [UNAVAILABLE]"},
		},
		Upsert:  []FolderRow{{"INBOX", model.StatusRow{UID: 10, Key: "k10", Flags: model.Seen}}, {"INBOX", model.StatusRow{UID: 9, Key: "k9", Flags: model.Flagged | model.Deleted}}},
		Folders: []FolderMeta{meta},
	})
	if err != nil {
		t.Fatal(err)
	}

	pending, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Seq != seqs[2] {
		t.Fatalf("Pending = %+v, want only seq %d", pending, seqs[2])
	}
	st, gotMeta, err := s.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	wantRows := model.StatusRowsOf(
		model.StatusRow{UID: 9, Key: "k9", Flags: model.Flagged | model.Deleted},
		model.StatusRow{UID: 10, Key: "k10", Flags: model.Seen},
	)
	if st.Name != "INBOX" || st.UIDValidity != 1234 || !reflect.DeepEqual(st.Rows, wantRows) {
		t.Errorf("FolderStatus = %+v, want UIDValidity 1234 rows %v", st, wantRows)
	}
	if !gotMeta.Synced.Equal(synced) {
		t.Errorf("meta.Synced = %v, want %v", gotMeta.Synced, synced)
	}
	gotMeta.Synced, meta.Synced = time.Time{}, time.Time{}
	if gotMeta != meta {
		t.Errorf("meta = %+v, want %+v", gotMeta, meta)
	}

	var done []OpResult
	var doneRuns []uint64
	s.Records(seqs[2]+1, func(r Record) error {
		if r.Kind != KindDone {
			t.Errorf("record %d is %s, want done", r.Seq, r.Kind)
		}
		done = append(done, *r.Result)
		doneRuns = append(doneRuns, r.Run)
		return nil
	})
	wantDone := []OpResult{{Seq: seqs[0], UID: 10, Key: "k10"}, {Seq: seqs[1], Err: "remote: NO [UNAVAILABLE]"}}
	if !reflect.DeepEqual(done, wantDone) || !slices.Equal(doneRuns, []uint64{run, run}) {
		t.Errorf("done records = %+v (runs %v), want %+v in run %d", done, doneRuns, wantDone, run)
	}

	// Rows change and go.
	if err := s.Checkpoint(Checkpoint{
		Results: []OpResult{{Seq: seqs[2], Skipped: true}},
		Upsert:  []FolderRow{{"INBOX", model.StatusRow{UID: 10, Key: "k10", Flags: model.Seen | model.Answered}}},
		Delete:  []FolderUID{{"INBOX", 9}, {"INBOX", 555}},
	}); err != nil {
		t.Fatal(err)
	}
	st, _, _ = s.FolderStatus("INBOX")
	if want := model.StatusRowsOf(model.StatusRow{UID: 10, Key: "k10", Flags: model.Seen | model.Answered}); !reflect.DeepEqual(st.Rows, want) {
		t.Errorf("rows after update = %v, want %v", st.Rows, want)
	}
	if p, _ := s.Pending(); len(p) != 0 {
		t.Errorf("Pending = %+v, want none", p)
	}
	mustCheck(t, s)
}

func TestCheckpointRefusesAndWritesNothing(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, _ := s.AppendIntents(run, ops("INBOX", 2, 1))
	if err := s.Checkpoint(Checkpoint{Results: []OpResult{{Seq: seqs[0]}}}); err != nil {
		t.Fatal(err)
	}
	row := []FolderRow{{"INBOX", model.StatusRow{UID: 2, Key: "k2"}}}
	cases := []struct {
		name string
		c    Checkpoint
		want error
	}{
		{"an intent already done", Checkpoint{Results: []OpResult{{Seq: seqs[1]}, {Seq: seqs[0]}}, Upsert: row}, ErrNotPending},
		{"beyond the end of the journal", Checkpoint{Results: []OpResult{{Seq: seqs[1]}, {Seq: 1000}}, Upsert: row}, ErrNotPending},
		{"a run-started record", Checkpoint{Results: []OpResult{{Seq: 1}}, Upsert: row}, ErrNotPending},
		{"twice in one checkpoint", Checkpoint{Results: []OpResult{{Seq: seqs[1]}, {Seq: seqs[1]}}, Upsert: row}, nil},
		{"uid 0", Checkpoint{Results: []OpResult{{Seq: seqs[1]}}, Upsert: []FolderRow{{"INBOX", model.StatusRow{Key: "k"}}}}, nil},
		{"NUL in folder", Checkpoint{Results: []OpResult{{Seq: seqs[1]}}, Upsert: []FolderRow{{"IN\x00BOX", model.StatusRow{UID: 1}}}}, nil},
		{"empty folder", Checkpoint{Results: []OpResult{{Seq: seqs[1]}}, Delete: []FolderUID{{"", 1}}}, nil},
		{"deleted with uidvalidity", Checkpoint{Results: []OpResult{{Seq: seqs[1]}}, Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 5, Deleted: true}}}, nil},
		{"unknown flags", Checkpoint{Results: []OpResult{{Seq: seqs[1]}}, Upsert: []FolderRow{{"INBOX", model.StatusRow{UID: 1, Flags: 0x80}}}}, nil},
	}
	for _, tc := range cases {
		err := s.Checkpoint(tc.c)
		if err == nil {
			t.Errorf("%s: Checkpoint succeeded", tc.name)
			continue
		}
		if tc.want != nil && (!errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.name)) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.name)
		}
		if !strings.Contains(err.Error(), s.Dir()) {
			t.Errorf("%s: error %q does not name the journal", tc.name, err)
		}
	}
	// Nothing of the refused checkpoints was written.
	p, _ := s.Pending()
	if len(p) != 1 || p[0].Seq != seqs[1] {
		t.Errorf("Pending = %+v, want seq %d still pending", p, seqs[1])
	}
	if st, _, _ := s.FolderStatus("INBOX"); st.Rows.Len() != 0 {
		t.Errorf("rows = %v, want none", st.Rows)
	}
	n := 0
	s.Records(0, func(Record) error { n++; return nil })
	if n != 1+2+1 {
		t.Errorf("journal has %d records, want 4", n)
	}
	mustCheck(t, s)
}

func TestFolderDeleteAndReset(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	rows := func(folder string, uids ...uint32) []FolderRow {
		var out []FolderRow
		for _, u := range uids {
			out = append(out, FolderRow{folder, model.StatusRow{UID: u, Key: fmt.Sprintf("%s-%d", folder, u)}})
		}
		return out
	}
	err := s.Checkpoint(Checkpoint{
		Upsert:  append(append(rows("INBOX", 1, 2, 3), rows("INBOX/Sub", 1, 2)...), rows("INBOX.x", 7)...),
		Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 1}, {Name: "INBOX/Sub", UIDValidity: 2}, {Name: "INBOX.x", UIDValidity: 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(Checkpoint{Folders: []FolderMeta{{Name: "INBOX", Deleted: true}}}); err != nil {
		t.Fatal(err)
	}
	st, meta, err := s.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDValidity != 0 || st.Rows.Len() != 0 || meta != (FolderMeta{Name: "INBOX"}) {
		t.Errorf("deleted INBOX = %+v %+v, want zero with an empty map", st, meta)
	}
	for folder, n := range map[string]int{"INBOX/Sub": 2, "INBOX.x": 1} {
		if st, _, _ := s.FolderStatus(folder); st.Rows.Len() != n {
			t.Errorf("%s has %d rows after deleting INBOX, want %d", folder, st.Rows.Len(), n)
		}
	}
	folders, _ := s.Folders()
	var names []string
	for _, f := range folders {
		names = append(names, f.Name)
	}
	if want := []string{"INBOX.x", "INBOX/Sub"}; !slices.Equal(names, want) {
		t.Errorf("Folders = %v, want %v", names, want)
	}

	// UIDVALIDITY changed: drop the folder and write its new state in one
	// checkpoint.
	err = s.Checkpoint(Checkpoint{
		Upsert:  rows("INBOX/Sub", 100),
		Folders: []FolderMeta{{Name: "INBOX/Sub", Deleted: true}, {Name: "INBOX/Sub", UIDValidity: 9, UIDNext: 101}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, meta, _ = s.FolderStatus("INBOX/Sub")
	if st.UIDValidity != 9 || meta.UIDNext != 101 || st.Rows.Len() != 1 || rowOf(st, 100).Key != "INBOX/Sub-100" {
		t.Errorf("reset INBOX/Sub = %+v %+v, want only row 100 under UIDVALIDITY 9", st, meta)
	}
	mustCheck(t, s)
}

func TestNewerFormatIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	b, _ := msgpack.Marshal(uint64(FormatVersion + 1))
	if err := s.db.Set(keyFormat, b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Open: %v, want ErrNewerFormat", err)
	}
	want := fmt.Sprintf("journal %s was written by a newer mailtrail (format %d); upgrade", dir, FormatVersion+1)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("read-only Open: %v, want ErrNewerFormat", err)
	}
}

func TestNewerRecordVersionIsRefused(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	b, _ := msgpack.Marshal(Record{V: recordVersion + 1, Kind: KindIntent, Run: run, Op: &model.Op{Kind: model.OpFetch}})
	if err := s.db.Set(journalKey(2), b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err := s.Records(0, func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d, newer than this mailtrail understands", recordVersion+1)) {
		t.Errorf("Records over a newer record: %v", err)
	}
}

// TestDamagedDirectoriesAreRefusedClearly covers what a user can meet: a
// journal whose MANIFEST was overwritten, a directory whose files are all
// garbage, and a directory that holds something else.
func TestDamagedDirectoriesAreRefusedClearly(t *testing.T) {
	garble := func(t *testing.T, dir string, match func(name string) bool) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Name() != "LOCK" && match(e.Name()) {
				if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(strings.Repeat("garbage!", 100)), 0o600); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("no file to garble in %s", dir)
		}
	}
	populated := func(t *testing.T) string {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		run, _ := s.BeginRun(RunInfo{Command: "sync"})
		s.AppendIntents(run, ops("INBOX", 5, 1))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("manifest", func(t *testing.T) {
		dir := populated(t)
		garble(t, dir, func(n string) bool { return strings.HasPrefix(n, "MANIFEST-") })
		_, err := Open(dir, Options{})
		assertDamaged(t, dir, err)
	})
	t.Run("every file", func(t *testing.T) {
		dir := populated(t)
		garble(t, dir, func(string) bool { return true })
		_, err := Open(dir, Options{})
		assertDamaged(t, dir, err)
		_, err = Open(dir, Options{ReadOnly: true})
		assertDamaged(t, dir, err)
	})
	t.Run("fresh directory with garbage pebble files", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"MANIFEST-000001", "marker.manifest.000001.MANIFEST-000001", "000002.log"} {
			os.WriteFile(filepath.Join(dir, name), []byte("not pebble at all"), 0o600)
		}
		_, err := Open(dir, Options{})
		assertDamaged(t, dir, err)
	})
	t.Run("tables", func(t *testing.T) {
		dir := populated(t)
		// Same size, flipped bytes: only the block checksums can tell.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".sst") {
				path := filepath.Join(dir, e.Name())
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for i := 20; i < 60 && i < len(b); i++ {
					b[i] ^= 0xff
				}
				os.WriteFile(path, b, 0o600)
			}
		}
		_, err := Open(dir, Options{ErrorLog: func(msg string) { t.Log("pebble says:", msg) }})
		assertDamaged(t, dir, err)
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("error spans lines: %q", err)
		}
	})
	t.Run("write-ahead log after a clean close", func(t *testing.T) {
		// Close flushes into tables: damage to the WAL loses nothing.
		dir := populated(t)
		garble(t, dir, func(n string) bool { return strings.HasSuffix(n, ".log") })
		s := openT(t, dir, Options{})
		if p, err := s.Pending(); err != nil || len(p) != 5 {
			t.Errorf("Pending = %d intents, %v; want the 5 written before the close", len(p), err)
		}
		mustCheck(t, s)
	})
	t.Run("not a journal", func(t *testing.T) {
		dir := t.TempDir()
		for _, sub := range []string{"cur", "new", "tmp"} {
			os.Mkdir(filepath.Join(dir, sub), 0o700)
		}
		_, err := Open(dir, Options{})
		assertDamaged(t, dir, err)
		if !strings.Contains(err.Error(), "cur") || !strings.Contains(err.Error(), "directory of its own") {
			t.Errorf("error %q does not name the foreign files or say what to do", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "LOCK")); err == nil {
			t.Error("Open wrote a LOCK file into a directory it refused")
		}
	})
}

func assertDamaged(t *testing.T, dir string, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("error %v is not ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "move") && !strings.Contains(err.Error(), "directory of its own") {
		t.Errorf("error %q does not name the directory and what to do", err)
	}
	t.Logf("error shown to the user: %v", err)
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, _ := s.AppendIntents(run, ops("INBOX", 2, 1))
	s.Checkpoint(Checkpoint{
		Results: []OpResult{{Seq: seqs[0], Key: "k1"}},
		Upsert:  []FolderRow{{"INBOX", model.StatusRow{UID: 1, Key: "k1", Flags: model.Seen}}},
		Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 42}},
	})
	s.Close()

	ro := openT(t, dir, Options{ReadOnly: true})
	st, _, err := ro.FolderStatus("INBOX")
	if err != nil || st.UIDValidity != 42 || rowOf(st, 1).Key != "k1" {
		t.Errorf("read-only FolderStatus = %+v, %v", st, err)
	}
	if p, err := ro.Pending(); err != nil || len(p) != 1 || p[0].Seq != seqs[1] {
		t.Errorf("read-only Pending = %+v, %v", p, err)
	}
	mustCheck(t, ro)
	writes := map[string]error{}
	_, writes["BeginRun"] = ro.BeginRun(RunInfo{})
	_, writes["AppendIntents"] = ro.AppendIntents(run, ops("INBOX", 1, 5))
	writes["Checkpoint"] = ro.Checkpoint(Checkpoint{Results: []OpResult{{Seq: seqs[1]}}})
	writes["EndRun"] = ro.EndRun(run, RunSummary{})
	for name, err := range writes {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only %s: %v, want ErrReadOnly", name, err)
		}
	}
	ro.Close()
	if p, _ := openT(t, dir, Options{}).Pending(); len(p) != 1 {
		t.Errorf("after the read-only session, Pending = %+v, want 1 intent", p)
	}

	missing := filepath.Join(t.TempDir(), "never-synced")
	if _, err := Open(missing, Options{ReadOnly: true}); !errors.Is(err, ErrNoJournal) {
		t.Errorf("read-only Open of a missing journal: %v, want ErrNoJournal", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only Open created %s", missing)
	}
	empty := t.TempDir()
	if _, err := Open(empty, Options{ReadOnly: true}); !errors.Is(err, ErrNoJournal) {
		t.Errorf("read-only Open of an empty directory: %v, want ErrNoJournal", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	openT(t, dir, Options{})
	for _, ro := range []bool{false, true} {
		_, err := Open(dir, Options{ReadOnly: ro})
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
			t.Errorf("second Open (read-only %v): %v, want ErrLocked naming the directory", ro, err)
		}
	}
}

func TestInMemory(t *testing.T) {
	s := openT(t, "", Options{InMemory: true})
	run, err := s.BeginRun(RunInfo{Command: "sync", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendIntents(run, ops("INBOX", 3, 1)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(); len(p) != 3 {
		t.Errorf("Pending = %d, want 3", len(p))
	}
	if _, err := Open("x", Options{InMemory: true, ReadOnly: true}); err == nil {
		t.Error("InMemory+ReadOnly accepted")
	}
}

func TestRecordsFromAndStop(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, _ := s.AppendIntents(run, ops("INBOX", 5, 1))
	var got []uint64
	stop := errors.New("enough")
	err := s.Records(seqs[1], func(r Record) error {
		got = append(got, r.Seq)
		if r.Op.UID != uint32(r.Seq-1) { // ops() numbers UIDs from 1, seqs from 2
			t.Errorf("record %d has op uid %d", r.Seq, r.Op.UID)
		}
		if len(got) == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !slices.Equal(got, seqs[1:3]) {
		t.Errorf("Records = %v, %v; want %v and the stop error", got, err, seqs[1:3])
	}
}

func TestConcurrentWritersKeepUniqueMonotonicSeqs(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	const workers, calls, batch = 8, 20, 10
	results := make([][]uint64, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			folder := fmt.Sprintf("F%d", w)
			for c := range calls {
				seqs, err := s.AppendIntents(run, ops(folder, batch, c*batch+1))
				if err != nil {
					errs <- err
					return
				}
				results[w] = append(results[w], seqs...)
				// Complete half of them, as a parallel folder sync would.
				var cp Checkpoint
				for i, seq := range seqs[:batch/2] {
					cp.Results = append(cp.Results, OpResult{Seq: seq, Key: "k"})
					cp.Upsert = append(cp.Upsert, FolderRow{folder, model.StatusRow{UID: uint32(c*batch + i + 1), Key: "k"}})
				}
				cp.Folders = []FolderMeta{{Name: folder, UIDValidity: 1}}
				if err := s.Checkpoint(cp); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for w, seqs := range results {
		if !slices.IsSorted(seqs) {
			t.Errorf("worker %d got seqs out of order: %v", w, seqs)
		}
		for _, q := range seqs {
			if seen[q] {
				t.Fatalf("seq %d handed out twice", q)
			}
			seen[q] = true
		}
	}
	p, _ := s.Pending()
	if len(p) != workers*calls*batch/2 {
		t.Errorf("Pending = %d, want %d", len(p), workers*calls*batch/2)
	}
	// Journal keys, read back in order, are exactly 1..N with no gap.
	var want uint64 = 1
	s.Records(0, func(r Record) error {
		if r.Seq != want {
			t.Fatalf("record at %d, want %d", r.Seq, want)
		}
		want++
		return nil
	})
	if n := want - 1; n != 1+workers*calls*(batch+batch/2) {
		t.Errorf("journal has %d records, want %d", n, 1+workers*calls*(batch+batch/2))
	}
	mustCheck(t, s)
}

func TestCheckReportsInconsistencies(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, _ := s.AppendIntents(run, ops("INBOX", 3, 1))
	s.Checkpoint(Checkpoint{
		Results: []OpResult{{Seq: seqs[0]}},
		Upsert:  []FolderRow{{"INBOX", model.StatusRow{UID: 1, Key: "k"}}},
		Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 1}},
	})
	mustCheck(t, s)

	pend, _ := msgpack.Marshal(pendingEntry{V: 1, Run: run})
	b := s.db.NewBatch()
	b.Delete(pendingKey(seqs[1]), nil)                      // intent lost
	b.Set(pendingKey(seqs[0]), pend, nil)                   // done yet pending
	b.Set(pendingKey(999), pend, nil)                       // names nothing
	b.Set(statusKey("INBOX", 2), []byte{0xc1}, nil)         // undecodable row
	b.Set(statusKey("Orphan", 3), encodeRowT(t, "k3"), nil) // no meta
	b.Set([]byte("zzz"), nil, nil)                          // unknown key
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	err := s.Check()
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("Check = %v, want a *CheckError", err)
	}
	want := []string{
		fmt.Sprintf("intent %d has neither a done record nor a pending index entry", seqs[1]),
		fmt.Sprintf("intent %d is done but still in the pending index", seqs[0]),
		"pending index entry 999 names no intent record",
		`status row "INBOX" uid 2`,
		`folder "Orphan" has 1 status rows but no folder meta`,
		`unknown key "zzz"`,
	}
	for _, w := range want {
		if !slices.ContainsFunc(ce.Problems, func(p string) bool { return strings.Contains(p, w) }) {
			t.Errorf("Check problems %q lack %q", ce.Problems, w)
		}
	}
	if ce.Count != len(want) {
		t.Errorf("Check found %d problems, want %d: %q", ce.Count, len(want), ce.Problems)
	}
	if !strings.Contains(err.Error(), s.Dir()) {
		t.Errorf("Check error %q does not name the journal", err)
	}
}

func encodeRowT(t testing.TB, key string) []byte {
	var buf bytes.Buffer
	v, err := encodeRow(&buf, msgpack.NewEncoder(&buf), model.StatusRow{Key: key}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A checkpoint that changes a folder's rows without its meta forgets the
// folder's no-change record: the rows no longer are what it vouched for.
func TestRowChangeForgetsQuietRecord(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	quiet := FolderMeta{Name: "INBOX", UIDValidity: 5, UIDNext: 9, Messages: 2, HighestModSeq: 77, LocalCurMtime: 11, LocalNewMtime: 12}
	other := FolderMeta{Name: "Sent", UIDValidity: 6, HighestModSeq: 88, LocalCurMtime: 13}
	if err := s.Checkpoint(Checkpoint{Folders: []FolderMeta{quiet, other},
		Upsert: []FolderRow{{Folder: "INBOX", Row: model.StatusRow{UID: 1, Key: "a"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, m, _ := s.FolderStatus("INBOX"); m.HighestModSeq != 77 {
		t.Fatalf("meta written with its rows: %+v", m)
	}
	if err := s.Checkpoint(Checkpoint{Delete: []FolderUID{{Folder: "INBOX", UID: 1}}}); err != nil {
		t.Fatal(err)
	}
	_, m, _ := s.FolderStatus("INBOX")
	if m.HighestModSeq != 0 || m.LocalCurMtime != 0 || m.LocalNewMtime != 0 || m.UIDValidity != 5 || m.UIDNext != 9 {
		t.Fatalf("after a row change without meta: %+v", m)
	}
	if _, m, _ := s.FolderStatus("Sent"); m.HighestModSeq != 88 {
		t.Fatalf("an untouched folder lost its record: %+v", m)
	}
	mustCheck(t, s)
}

// A status row made by a download points at the done record that names
// its message; MessageNames reads the name back by UID. A row rewritten
// with new flags keeps the name; one rewritten for another file, a row
// never named, a deleted row and a UID without a row give none.
func TestMessageNamesFollowTheRows(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := s.AppendIntents(run, ops("INBOX", 4, 1))
	if err != nil {
		t.Fatal(err)
	}
	name := func(i int) *MsgInfo {
		return &MsgInfo{MessageID: fmt.Sprintf("<%d@x>", i), Subject: fmt.Sprintf("message %d", i)}
	}
	cp := Checkpoint{Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 7}}}
	for i, seq := range seqs {
		uid, key := uint32(i+1), fmt.Sprintf("k%d", i+1)
		res := OpResult{Seq: seq, UID: uid, Key: key}
		if uid != 4 { // the fourth is recorded without a name
			res.Msg = name(i + 1)
		}
		cp.Results = append(cp.Results, res)
		cp.Upsert = append(cp.Upsert, FolderRow{Folder: "INBOX", Row: model.StatusRow{UID: uid, Key: key}})
	}
	if err := s.Checkpoint(cp); err != nil {
		t.Fatal(err)
	}
	// New flags on 1, another file for 2, 3 deleted.
	if err := s.Checkpoint(Checkpoint{
		Upsert: []FolderRow{{Folder: "INBOX", Row: model.StatusRow{UID: 1, Key: "k1", Flags: model.Seen}},
			{Folder: "INBOX", Row: model.StatusRow{UID: 2, Key: "other"}}},
		Delete: []FolderUID{{Folder: "INBOX", UID: 3}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := s.MessageNames("INBOX", []uint32{1, 2, 3, 4, 99})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]MsgInfo{1: *name(1)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MessageNames = %+v, want %+v", got, want)
	}
	if other, err := s.MessageNames("Other", []uint32{1}); err != nil || len(other) != 0 {
		t.Fatalf("another folder's names: %+v, %v", other, err)
	}
	st, _, err := s.FolderStatus("INBOX")
	if err != nil || rowOf(st, 1) != (model.StatusRow{UID: 1, Key: "k1", Flags: model.Seen}) {
		t.Fatalf("row 1 read as %+v (%v)", rowOf(st, 1), err)
	}
	mustCheck(t, s)
}

// Rows rewritten in bulk keep their names whatever the order of the
// checkpoint's rows (several folders, UIDs descending, a UID twice, gaps),
// as the journal reads the stored rows in one pass per folder; and
// MessageNames answers for UIDs asked in any order, repeated.
func TestManyRowsRewrittenKeepTheirNames(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	folders := []string{"INBOX", "INBOX/Sub", "Archive"}
	name := func(folder string, uid uint32) *MsgInfo {
		return &MsgInfo{MessageID: fmt.Sprintf("<%d.%s@x>", uid, folder)}
	}
	key := func(folder string, uid uint32) string { return fmt.Sprintf("%s-%d", folder, uid) }
	for _, f := range folders {
		seqs, err := s.AppendIntents(run, ops(f, n, 1))
		if err != nil {
			t.Fatal(err)
		}
		cp := Checkpoint{Folders: []FolderMeta{{Name: f, UIDValidity: 7}}}
		for i, seq := range seqs {
			uid := uint32(i + 1)
			cp.Results = append(cp.Results, OpResult{Seq: seq, UID: uid, Key: key(f, uid), Msg: name(f, uid)})
			cp.Upsert = append(cp.Upsert, FolderRow{Folder: f, Row: model.StatusRow{UID: uid, Key: key(f, uid)}})
		}
		if err := s.Checkpoint(cp); err != nil {
			t.Fatal(err)
		}
	}
	// Every third UID's flags rewritten, descending, the folders
	// interleaved; UID 3 of INBOX twice; UID 6 of Archive for another file.
	var rewrite Checkpoint
	for uid := uint32(n); uid >= 3; uid -= 3 {
		for _, f := range folders {
			k := key(f, uid)
			if f == "Archive" && uid == 6 {
				k = "another file"
			}
			rewrite.Upsert = append(rewrite.Upsert, FolderRow{Folder: f, Row: model.StatusRow{UID: uid, Key: k, Flags: model.Seen}})
		}
	}
	rewrite.Upsert = append(rewrite.Upsert, FolderRow{Folder: "INBOX", Row: model.StatusRow{UID: 3, Key: key("INBOX", 3), Flags: model.Flagged}})
	if err := s.Checkpoint(rewrite); err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		asked := []uint32{n + 5, 7, 6, 3, 3, 1, n}
		got, err := s.MessageNames(f, asked)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint32]MsgInfo{}
		for _, uid := range []uint32{7, 6, 3, 1, n} {
			if f == "Archive" && uid == 6 {
				continue // rewritten for another file: no longer that message
			}
			want[uid] = *name(f, uid)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: MessageNames = %+v, want %+v", f, got, want)
		}
		all := make([]uint32, n)
		for i := range all {
			all[i] = uint32(n - i)
		}
		wantAll := n
		if f == "Archive" {
			wantAll-- // UID 6, as above
		}
		if got, err := s.MessageNames(f, all); err != nil || len(got) != wantAll {
			t.Fatalf("%s: %d of %d named (%v)", f, len(got), wantAll, err)
		}
	}
	st, _, err := s.FolderStatus("INBOX")
	if err != nil || rowOf(st, 3) != (model.StatusRow{UID: 3, Key: key("INBOX", 3), Flags: model.Flagged}) {
		t.Fatalf("row 3 read as %+v (%v): the later of two rows for one UID wins", rowOf(st, 3), err)
	}
	mustCheck(t, s)
}

func TestFolderFlagsReadsTheRowsWithoutTheirKeys(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	cp := Checkpoint{Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 7}}}
	for uid := uint32(1); uid <= 200; uid++ {
		cp.Upsert = append(cp.Upsert, FolderRow{Folder: "INBOX", Row: model.StatusRow{UID: uid, Key: fmt.Sprintf("key-of-message-%d", uid), Flags: model.Flags(uid % 8)}})
	}
	if err := s.Checkpoint(cp); err != nil {
		t.Fatal(err)
	}
	full, fullMeta, err := s.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	flags, meta, err := s.FolderFlags("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if flags.Name != "INBOX" || flags.UIDValidity != 7 || meta != fullMeta || flags.Rows.Len() != 200 {
		t.Fatalf("FolderFlags = %+v rows, meta %+v; FolderStatus meta %+v", flags.Rows.Len(), meta, fullMeta)
	}
	for i, r := range flags.Rows.All() {
		if want := full.Rows.All()[i]; r.Key != "" || r.UID != want.UID || r.Flags != want.Flags {
			t.Fatalf("row %d read as %+v, want %+v without its key", i, r, want)
		}
	}
	// No key is copied: the allocations do not grow with the rows.
	if raceDetector {
		t.Skip("allocation counts under the race detector are not a normal build's")
	}
	withKeys := testing.AllocsPerRun(3, func() { s.FolderStatus("INBOX") })
	without := testing.AllocsPerRun(3, func() { s.FolderFlags("INBOX") })
	if without > withKeys-150 {
		t.Errorf("%v allocations without keys, %v with: the keys were copied", without, withKeys)
	}
}

func TestFolderStatusSharingTakesKeysFromKnown(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	cp := Checkpoint{Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 7}}}
	for uid, key := range map[uint32]string{1: "k1", 2: "k2", 3: "k3", 4: ""} {
		cp.Upsert = append(cp.Upsert, FolderRow{Folder: "INBOX", Row: model.StatusRow{UID: uid, Key: key, Flags: model.Seen}})
	}
	if err := s.Checkpoint(cp); err != nil {
		t.Fatal(err)
	}
	// What a scan holds: k1 and k2, and a lookup that wrongly answers
	// "wrong" for k3. A row's key read as a copy has an address of its own.
	scanned := map[string]string{"k1": "k1", "k2": "k2"}
	var asked []string
	known := func(key []byte) (string, bool) {
		asked = append(asked, string(key))
		if string(key) == "k3" {
			return "wrong", true
		}
		k, ok := scanned[string(key)]
		return k, ok
	}
	shared, _, err := s.FolderStatusSharing("INBOX", known)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := s.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shared, plain) {
		t.Fatalf("rows read sharing keys: %+v\nwithout: %+v", shared.Rows, plain.Rows)
	}
	for _, uid := range []uint32{1, 2} {
		k := rowOf(shared, uid).Key
		if unsafe.StringData(k) != unsafe.StringData(scanned[k]) {
			t.Errorf("row %d's key %q is a copy, not the scan's", uid, k)
		}
	}
	if got := rowOf(shared, 3).Key; got != "k3" {
		t.Errorf("row 3's key is %q: a lookup answering another key must not be taken", got)
	}
	if !reflect.DeepEqual(asked, []string{"k1", "k2", "k3"}) { // the empty key is not looked up
		t.Errorf("keys looked up: %q", asked)
	}
}

// rowOf is st's row of uid, or the zero row.
func rowOf(st model.FolderStatus, uid uint32) model.StatusRow {
	r, _ := st.Rows.Get(uid)
	return r
}
