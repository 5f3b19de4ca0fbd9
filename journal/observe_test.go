package journal

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/vmihailenco/msgpack/v5"

	"mailtrail/model"
)

func sampleObservation(folder string) Observation {
	return Observation{
		Folder: folder,
		Remote: ObservedRemote{Exists: true, Status: model.RemoteFolderStatus{Name: folder, UIDValidity: 7, UIDNext: 4, Messages: 2, HighestModSeq: 9},
			Msgs: []model.RemoteMsg{{UID: 1, Flags: model.Seen, Size: 100, InternalDate: model.DateOf(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))}, {UID: 3, Size: 7}}},
		Local: ObservedLocal{Exists: true, FMD5: "abc", Msgs: []model.LocalMsg{
			{Key: "k1", UID: 1, FMD5: "abc", Flags: model.Seen, Size: 98}, {Key: "k2", UID: 2, FMD5: "other", Size: 5}, {Key: "k3"}}},
		Status:  ObservedStatus{UIDValidity: 7, Rows: []model.StatusRow{{UID: 1, Key: "k1", Flags: model.Seen}, {UID: 2, Key: "k9"}}},
		Options: map[string]any{"CreateLocalFolders": true},
		Ops:     []model.Op{{Kind: model.OpFetch, Folder: folder, UID: 3, Reason: "new on remote"}, {Kind: model.OpForget, Folder: folder, UID: 2, Reason: "gone"}},
		Refused: "",
	}
}

func TestObservationsAndMessageFieldsRoundTrip(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	obs := sampleObservation("INBOX")
	msgs := []MsgInfo{{MessageID: "<a@b>", Subject: "hello", From: "Ann <a@b>", Date: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}}
	seqs, err := s.AppendObserved(run, &obs, obs.Ops, msgs)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("AppendObserved: %v %v", seqs, err)
	}
	refused := Observation{Folder: "Work", Refused: "UIDVALIDITY changed"}
	if _, err := s.AppendObserved(run, &refused, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Observations(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Refused != refused.Refused {
		t.Fatalf("observations: %+v", got)
	}
	if !reflect.DeepEqual(got[0].Remote, obs.Remote) || !reflect.DeepEqual(got[0].Local, obs.Local) ||
		!reflect.DeepEqual(got[0].Status, obs.Status) || !reflect.DeepEqual(got[0].Ops, obs.Ops) || got[0].Options["CreateLocalFolders"] != true {
		t.Fatalf("observation changed in the journal:\n got %+v\nwant %+v", got[0], obs)
	}
	pend, err := s.Pending()
	if err != nil || len(pend) != 2 {
		t.Fatalf("pending: %v %v", pend, err)
	}
	if m := pend[0].Msg; m == nil || m.MessageID != "<a@b>" || m.Subject != "hello" || m.From != "Ann <a@b>" || !m.Date.Equal(msgs[0].Date) || pend[1].Msg != nil {
		t.Fatalf("message fields: %+v %+v", pend[0].Msg, pend[1].Msg)
	}
	if err := s.Checkpoint(Checkpoint{Results: []OpResult{{Seq: seqs[0], Key: "new"}, {Seq: seqs[1], Err: "boom"}}}); err != nil {
		t.Fatal(err)
	}
	var states []string
	err = s.Operations(func(e OpEntry) error {
		states = append(states, e.State+":"+e.Err+":"+e.ResultKey)
		return nil
	})
	if err != nil || !reflect.DeepEqual(states, []string{"done::new", "failed:boom:"}) {
		t.Fatalf("operations: %v %v", states, err)
	}
	mustCheck(t, s)
}

// A version 1 intent (before message fields) still decodes.
func TestVersion1RecordsDecode(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	run, _ := s.BeginRun(RunInfo{Command: "sync"})
	type v1Record struct {
		V    int       `msgpack:"v"`
		Kind uint8     `msgpack:"k"`
		Run  uint64    `msgpack:"r"`
		Time time.Time `msgpack:"t"`
		Op   *model.Op `msgpack:"op"`
	}
	b, err := msgpack.Marshal(v1Record{V: 1, Kind: uint8(KindIntent), Run: run, Time: time.Unix(1, 0), Op: &model.Op{Kind: model.OpFetch, Folder: "INBOX", UID: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(journalKey(2), b, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	var n int
	err = s.Operations(func(e OpEntry) error {
		n++
		if e.Op.UID != 5 || e.Msg != nil || e.State != StatePending {
			t.Errorf("v1 intent read as %+v", e)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("operations over a v1 record: %d %v", n, err)
	}
}

func TestEndRunPrunesOldObservations(t *testing.T) {
	s := openT(t, t.TempDir(), Options{ObservationRuns: 2})
	for i := 0; i < 4; i++ {
		run, _ := s.BeginRun(RunInfo{Command: "sync"})
		obs := Observation{Folder: "INBOX", Refused: "x"}
		if _, err := s.AppendObserved(run, &obs, nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.EndRun(run, RunSummary{}); err != nil {
			t.Fatal(err)
		}
	}
	for run, want := range map[uint64]int{1: 0, 2: 0, 3: 1, 4: 1} {
		got, err := s.Observations(run)
		if err != nil || len(got) != want {
			t.Errorf("run %d: %d observations (%v), want %d", run, len(got), err, want)
		}
	}
	mustCheck(t, s)
}

func TestCompactKeepsStatusPendingAndNumbers(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := openT(t, dir, Options{Now: clock})
	// Run 1: old, done. Run 2: old, one intent left pending. Run 3: recent.
	run1, _ := s.BeginRun(RunInfo{Command: "sync"})
	seqs, _ := s.AppendIntents(run1, ops("INBOX", 2, 1))
	if err := s.Checkpoint(Checkpoint{Results: []OpResult{{Seq: seqs[0]}, {Seq: seqs[1]}},
		Upsert: []FolderRow{{Folder: "INBOX", Row: model.StatusRow{UID: 1, Key: "a"}}}, Folders: []FolderMeta{{Name: "INBOX", UIDValidity: 3}}}); err != nil {
		t.Fatal(err)
	}
	obs := Observation{Folder: "INBOX"}
	s.AppendObserved(run1, &obs, nil, nil)
	s.EndRun(run1, RunSummary{})
	run2, _ := s.BeginRun(RunInfo{Command: "sync"})
	s.AppendIntents(run2, ops("INBOX", 1, 9))
	now = now.Add(200 * 24 * time.Hour)
	run3, _ := s.BeginRun(RunInfo{Command: "sync"})
	s.EndRun(run3, RunSummary{Counts: map[string]int{"fetch": 1}})

	st, err := s.Compact(now.Add(-DefaultRetention))
	if err != nil {
		t.Fatal(err)
	}
	if st.Runs != 1 || st.Records != 6 || st.Kept != 2 {
		t.Fatalf("compact: %+v, want run 1 (6 records) removed, 2 kept", st)
	}
	runs, _ := s.Runs()
	if len(runs) != 2 || runs[0].ID != run2 {
		t.Fatalf("runs after compact: %+v", runs)
	}
	if o, _ := s.Observations(run1); len(o) != 0 {
		t.Fatalf("observations of a compacted run remain: %v", o)
	}
	fs, _, err := s.FolderStatus("INBOX")
	if err != nil || fs.Rows.Len() != 1 || fs.UIDValidity != 3 {
		t.Fatalf("status after compact: %+v %v", fs, err)
	}
	if p, _ := s.Pending(); len(p) != 1 {
		t.Fatalf("pending after compact: %v", p)
	}
	mustCheck(t, s)

	// Remove everything; numbers must still not be reused after reopening.
	now = now.Add(400 * 24 * time.Hour)
	p, _ := s.Pending()
	s.Checkpoint(Checkpoint{Results: []OpResult{{Seq: p[0].Seq, Skipped: true}}})
	if _, err := s.Compact(now); err != nil {
		t.Fatal(err)
	}
	lastSeq := s.lastSeq
	s.Close()
	s2 := openT(t, dir, Options{Now: clock})
	if s2.lastSeq != lastSeq || s2.lastRun != run3 {
		t.Fatalf("after reopening: lastSeq %d lastRun %d, want %d %d", s2.lastSeq, s2.lastRun, lastSeq, run3)
	}
	run4, _ := s2.BeginRun(RunInfo{Command: "sync"})
	if run4 != run3+1 {
		t.Fatalf("run ID reused: %d", run4)
	}
	mustCheck(t, s2)
}

// A large folder's observation is stored in pieces, read back whole, and a
// lost piece is caught by Check and by Observations.
func TestLargeObservationInPieces(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Now: fixedClock()})
	run, err := s.BeginRun(RunInfo{Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	obs := Observation{Folder: "Big", Remote: ObservedRemote{Exists: true, Status: model.RemoteFolderStatus{Name: "Big", UIDValidity: 1, UIDNext: 20001}}}
	for uid := uint32(1); uid <= 20000; uid++ {
		obs.Remote.Msgs = append(obs.Remote.Msgs, model.RemoteMsg{UID: uid, Flags: model.Seen, Size: int64(uid) * 3})
	}
	obs.Ops = ops("Big", 20000, 1)
	// A folder whose name extends Big's sorts right after Big's pieces.
	next := sampleObservation("Big/Sub")
	if _, err := s.AppendObserved(run, &obs, obs.Ops, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendObserved(run, &next, nil, nil); err != nil {
		t.Fatal(err)
	}
	pieces := 0
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixObserved), UpperBound: []byte("o0")})
	if err != nil {
		t.Fatal(err)
	}
	var second []byte
	for ok := it.First(); ok; ok = it.Next() {
		if len(it.Value()) > obsPieceSize {
			t.Errorf("%q: value of %d bytes, more than a piece", it.Key(), len(it.Value()))
		}
		if isObsPiece(it.Key()) {
			pieces++
			if second == nil {
				second = bytes.Clone(it.Key())
			}
		}
	}
	it.Close()
	if pieces < 10 {
		t.Fatalf("%d continuation pieces for a 20,000-message observation, want many", pieces)
	}
	got, err := s.Observations(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !reflect.DeepEqual(got[0].Remote, obs.Remote) || !reflect.DeepEqual(got[0].Ops, obs.Ops) || got[1].Folder != "Big/Sub" {
		t.Fatalf("observations read back: %d, first %q", len(got), got[0].Folder)
	}
	mustCheck(t, s)

	if err := s.db.Delete(second, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("Check with a piece lost: %v", err)
	}
	if _, err := s.Observations(run); err == nil {
		t.Fatal("Observations with a piece lost: no error")
	}
	// Pieces without their first piece are what a crash in the middle of
	// writing leaves: skipped, not damage.
	if err := s.db.Delete(obsKey(run, "Big"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, s)
	if got, err := s.Observations(run); err != nil || len(got) != 1 || got[0].Folder != "Big/Sub" {
		t.Fatalf("observations with orphan pieces: %d %v", len(got), err)
	}
	// The same run and folder written again replaces the orphans.
	if _, err := s.AppendObserved(run, &obs, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Observations(run); err != nil || len(got) != 2 || !reflect.DeepEqual(got[0].Remote, obs.Remote) {
		t.Fatalf("observation written again over orphans: %d %v", len(got), err)
	}
	mustCheck(t, s)
}

// Every field of an observation survives its wire form.
func TestObservationWireFormRoundTrip(t *testing.T) {
	full := sampleObservation("Lists/go")
	full.Local.Msgs[1].FromUID = 44
	full.Local.Msgs[0].Date = model.DateOf(time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC))
	full.Identities = &ObservedIdentities{Remote: map[uint32]string{1: "<a@b>"}, Local: map[string]string{"k1": "<a@b>"}}
	full.VoidedStatus = true
	full.Refused = "refused for the test"
	for _, o := range []Observation{full, sampleObservation("INBOX"), {Folder: "Empty", Remote: ObservedRemote{Status: model.RemoteFolderStatus{Name: "Empty"}}}} {
		b, err := msgpack.Marshal(&o)
		if err != nil {
			t.Fatal(err)
		}
		var got Observation
		if err := msgpack.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", o.Folder, err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("%s: changed by its wire form:\n got %+v\nwant %+v", o.Folder, got, o)
		}
	}
}

// Pebble turns a batch of half its memtable or more into a memtable of its
// own, held until flushed: the observation's side batches must stay under
// that to be copied into the memtable instead.
func TestObservationSideBatchesStayUnderPebblesLargeBatchSize(t *testing.T) {
	if obsSideBatch+obsPieceSize >= memTableSize/2 {
		t.Errorf("side batches of up to %d bytes, memtable %d bytes: each would be a large batch", obsSideBatch+obsPieceSize, memTableSize)
	}
}
