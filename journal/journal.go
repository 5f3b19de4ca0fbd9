package journal

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/vmihailenco/msgpack/v5"

	"mailtrail/internal/faultinject"
	"mailtrail/model"
)

// BeginRun begins a run and returns its ID. Run IDs increase by one from
// 1. A zero info.Started is replaced by the current time.
//
// Nothing is written yet: the run's start is recorded in the batch of its
// first write (intents, an observation, its end). A run that ends having
// done nothing and failed nothing is not recorded at all, and its ID is
// handed out again: a sync that finds nothing to do writes nothing. The
// journal's first run is always recorded.
func (s *Store) BeginRun(info RunInfo) (uint64, error) {
	if err := s.checkWritable(); err != nil {
		return 0, err
	}
	if info.Started.IsZero() {
		info.Started = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	run := s.lastRun + 1
	if s.lazy == nil {
		s.lazy = map[uint64]RunInfo{}
	}
	s.lazy[run] = info
	s.lastRun = run
	return run, nil
}

// startRun returns the index of run, open for writing. When run is the
// run begun and not written yet, its start (a RunStarted record at the
// next sequence number, and its index) is added to b, and started is 1:
// the caller's own records follow it. Call with s.mu held; after b
// commits, call s.started.
func (s *Store) startRun(b *pebble.Batch, run uint64) (ri runIndex, started uint64, err error) {
	info, lazy := s.lazy[run]
	if !lazy {
		ri, err = s.openRun(run)
		return ri, 0, err
	}
	seq := s.lastSeq + 1
	rec := Record{V: recordVersion, Kind: KindRunStarted, Run: run, Time: info.Started, Info: &info}
	if err := setValue(b, journalKey(seq), rec); err != nil {
		return runIndex{}, 0, err
	}
	ri = runIndex{V: recordVersion, Info: info, StartSeq: seq}
	if err := setValue(b, runKey(run), ri); err != nil {
		return runIndex{}, 0, err
	}
	return ri, 1, nil
}

// started notes, after the batch that startRun wrote into committed, that
// the run is recorded.
func (s *Store) started(run uint64, n uint64) {
	if n > 0 {
		delete(s.lazy, run)
		s.hasRuns = true
	}
}

// AppendIntents journals ops as intents of run, in order, in one durable
// batch, before any of them is carried out. It returns each op's sequence
// number; they increase with the order of ops, and across calls. Every
// intent stays pending until a Checkpoint records its result.
func (s *Store) AppendIntents(run uint64, ops []model.Op) ([]uint64, error) {
	if len(ops) == 0 {
		if err := s.checkWritable(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return s.AppendObserved(run, nil, ops, nil)
}

// Checkpoint commits, in one durable batch: a Done record for each result
// (removing the intent from the pending index), then the status changes in
// this order: folders with Deleted set are removed with all their rows, the
// rows in c.Delete are removed, the rows in c.Upsert are written, and the
// meta of the other folders in c.Folders is written. So a folder can be
// reset and refilled in one checkpoint.
//
// It writes nothing and fails if a result's intent is not pending (never
// journalled, or already done), or a folder name or UID is invalid.
func (s *Store) Checkpoint(c Checkpoint) error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	if err := s.validateCheckpoint(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()

	now := s.now()
	seen := make(map[uint64]bool, len(c.Results))
	// named: the done records below that name a message, by the UID and
	// key they produced; a status row written for the same UID and key
	// points at its record (MessageNames).
	named := map[namedRow]uint64{}
	seqs := make([]uint64, len(c.Results))
	for i, res := range c.Results {
		seqs[i] = res.Seq
	}
	pending, err := s.pendingEntries(seqs)
	if err != nil {
		return err
	}
	for i := range c.Results {
		res := c.Results[i]
		if seen[res.Seq] {
			return fmt.Errorf("journal %s: checkpoint: intent %d has two results; nothing was written", s.dir, res.Seq)
		}
		seen[res.Seq] = true
		p, ok := pending[res.Seq]
		if !ok {
			return s.notPending(res.Seq)
		}
		rec := Record{V: recordVersion, Kind: KindDone, Run: p.Run, Time: now, Result: &res}
		if res.Msg != nil && res.UID != 0 && res.Key != "" && res.Err == "" && !res.Skipped {
			named[namedRow{res.UID, res.Key}] = s.lastSeq + 1 + uint64(i)
		}
		if err := setValue(b, journalKey(s.lastSeq+1+uint64(i)), rec); err != nil {
			return s.writeError("checkpoint", err)
		}
		if err := b.Delete(pendingKey(res.Seq), nil); err != nil {
			return s.writeError("checkpoint", err)
		}
	}

	for _, fm := range c.Folders {
		if !fm.Deleted {
			continue
		}
		if err := b.Delete(folderKey(fm.Name), nil); err != nil {
			return s.writeError("checkpoint", err)
		}
		if err := b.DeleteRange(statusFolderPrefix(fm.Name), statusFolderUpperBound(fm.Name), nil); err != nil {
			return s.writeError("checkpoint", err)
		}
	}
	for _, d := range c.Delete {
		if err := b.Delete(statusKey(d.Folder, d.UID), nil); err != nil {
			return s.writeError("checkpoint", err)
		}
	}
	voided := map[string]bool{}
	for _, fm := range c.Folders {
		if fm.Deleted {
			voided[fm.Name] = true
		}
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// A row rewritten (new flags) keeps the name of the message it was
	// made for.
	links, err := s.rowLinks(c.Upsert, func(i int) bool {
		u := c.Upsert[i]
		_, ok := named[namedRow{u.Row.UID, u.Row.Key}]
		return !ok && !voided[u.Folder]
	})
	if err != nil {
		return err
	}
	for i, u := range c.Upsert {
		link, ok := named[namedRow{u.Row.UID, u.Row.Key}]
		if !ok {
			link = links[i]
		}
		v, err := encodeRow(&buf, enc, u.Row, link)
		if err != nil {
			return s.writeError("checkpoint", err)
		}
		if err := b.Set(statusKey(u.Folder, u.Row.UID), v, nil); err != nil {
			return s.writeError("checkpoint", err)
		}
	}
	for _, fm := range c.Folders {
		if fm.Deleted {
			continue
		}
		if err := setFolderMeta(b, fm); err != nil {
			return s.writeError("checkpoint", err)
		}
	}
	if err := s.unquiet(b, c); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	if err := s.commit(b); err != nil {
		return s.writeError("checkpoint", err)
	}
	s.lastSeq += uint64(len(c.Results))
	return nil
}

// unquiet forgets, in b, the no-change record (HIGHESTMODSEQ and local
// stamps) of the folders whose rows c changes without writing their meta.
// That record vouches that the rows were both sides' state at that
// HIGHESTMODSEQ (the engine lists only what changed since, on its
// strength); rows changed since vouch for nothing.
func (s *Store) unquiet(b *pebble.Batch, c Checkpoint) error {
	touched := map[string]bool{}
	for _, u := range c.Upsert {
		touched[u.Folder] = true
	}
	for _, d := range c.Delete {
		touched[d.Folder] = true
	}
	for _, fm := range c.Folders {
		delete(touched, fm.Name) // its meta is written
	}
	for name := range touched {
		meta, found, err := s.folderMeta(s.db, name)
		if err != nil {
			return err
		}
		if !found || (meta.HighestModSeq == 0 && meta.LocalCurMtime == 0 && meta.LocalNewMtime == 0) {
			continue
		}
		meta.HighestModSeq, meta.LocalCurMtime, meta.LocalNewMtime = 0, 0, 0
		if err := setFolderMeta(b, meta); err != nil {
			return s.writeError("checkpoint", err)
		}
	}
	return nil
}

// setFolderMeta writes a folder's meta (f/<folder>) in b.
func setFolderMeta(b *pebble.Batch, fm FolderMeta) error {
	return setValue(b, folderKey(fm.Name), folderMetaValue{V: recordVersion, FolderMeta: fm})
}

func (s *Store) validateCheckpoint(c Checkpoint) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("journal %s: checkpoint: %s; nothing was written", s.dir, fmt.Sprintf(format, args...))
	}
	for _, u := range c.Upsert {
		if err := checkFolderName(u.Folder); err != nil {
			return bad("upsert: %v", err)
		}
		if u.Row.UID == 0 {
			return bad("upsert in folder %q: status row with UID 0 (key %q)", u.Folder, u.Row.Key)
		}
		if u.Row.Flags&^model.AllFlags != 0 {
			return bad("upsert in folder %q uid %d: unknown flag bits %#x", u.Folder, u.Row.UID, uint8(u.Row.Flags))
		}
	}
	for _, d := range c.Delete {
		if err := checkFolderName(d.Folder); err != nil {
			return bad("delete: %v", err)
		}
	}
	for _, fm := range c.Folders {
		if err := checkFolderName(fm.Name); err != nil {
			return bad("folder meta: %v", err)
		}
		if fm.Deleted && fm.UIDValidity != 0 {
			return bad("folder %q: Deleted with UIDValidity %d; a deletion carries UIDValidity 0", fm.Name, fm.UIDValidity)
		}
	}
	return nil
}

// notPending is the error for a result whose intent is not pending.
func (s *Store) notPending(seq uint64) error {
	return kinded(ErrNotPending, "journal %s: checkpoint: record %d is %s, not a pending intent; nothing was written", s.dir, seq, s.describeRecord(seq))
}

// pendingEntries reads the pending entries of seqs (those that are
// pending) with one iterator, in ascending order: a checkpoint's intents
// are mostly consecutive, and one Get each (a cold sync checkpoints
// 100,000) cost a tenth of the sync's CPU time.
func (s *Store) pendingEntries(seqs []uint64) (map[uint64]pendingEntry, error) {
	out := make(map[uint64]pendingEntry, len(seqs))
	sorted := slices.Clone(seqs)
	slices.Sort(sorted)
	keys := make([][]byte, len(sorted))
	for i, seq := range sorted {
		keys[i] = pendingKey(seq)
	}
	err := s.seekEach(s.db, "read pending intents", keys, func(i int, v []byte) error {
		p, err := decodePending(sorted[i], v)
		if err != nil {
			return fmt.Errorf("journal %s: %w", s.dir, err)
		}
		out[sorted[i]] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// describeRecord says what journal record seq is, for an error message.
func (s *Store) describeRecord(seq uint64) string {
	if seq > s.lastSeq {
		return "beyond the end of the journal"
	}
	v, closer, err := s.db.Get(journalKey(seq))
	if err != nil {
		return "not in the journal"
	}
	defer closer.Close()
	rec, err := decodeRecord(seq, v)
	switch {
	case err != nil:
		return "unreadable"
	case rec.Kind == KindIntent:
		return "an intent already done"
	}
	return "a " + rec.Kind.String() + " record"
}

// EndRun records how run ended. A zero summary.Finished is replaced by the
// current time. A run ends once.
func (s *Store) EndRun(run uint64, summary RunSummary) error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	if summary.Finished.IsZero() {
		summary.Finished = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, lazy := s.lazy[run]; lazy && !summary.Did() && s.hasRuns {
		delete(s.lazy, run) // nothing done, nothing failed: not recorded
		if run == s.lastRun {
			s.lastRun--
		}
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	ri, started, err := s.startRun(b, run)
	if err != nil {
		return err
	}
	seq := s.lastSeq + 1 + started
	rec := Record{V: recordVersion, Kind: KindRunEnded, Run: run, Time: summary.Finished, Summary: &summary}
	if err := setValue(b, journalKey(seq), rec); err != nil {
		return s.writeError("end run", err)
	}
	ri.Ended, ri.EndSeq, ri.Summary = true, seq, summary
	if err := setValue(b, runKey(run), ri); err != nil {
		return s.writeError("end run", err)
	}
	if keep := uint64(s.observationRuns); run > keep {
		if err := pruneObservations(b, run-keep+1); err != nil {
			return s.writeError("end run", err)
		}
	}
	if err := s.commit(b); err != nil {
		return s.writeError("end run", err)
	}
	s.started(run, started)
	s.lastSeq = seq
	return nil
}

// openRun returns the index entry of a run that has begun and not ended.
func (s *Store) openRun(run uint64) (runIndex, error) {
	v, closer, err := s.db.Get(runKey(run))
	if errors.Is(err, pebble.ErrNotFound) {
		return runIndex{}, kinded(ErrUnknownRun, "journal %s: run %d was never begun (last run is %d); nothing was written", s.dir, run, s.lastRun)
	}
	if err != nil {
		return runIndex{}, s.readError(fmt.Sprintf("read run %d", run), err)
	}
	defer closer.Close()
	ri, err := decodeRunIndex(run, v)
	if err != nil {
		return runIndex{}, fmt.Errorf("journal %s: %w", s.dir, err)
	}
	if ri.Ended {
		return runIndex{}, kinded(ErrUnknownRun, "journal %s: run %d has already ended; nothing was written", s.dir, run)
	}
	return ri, nil
}

// Pending returns the intents that have no result yet, by ascending Seq.
// After a crash these are the operations that may have been half done.
func (s *Store) Pending() ([]Intent, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixPending), UpperBound: prefixUpperBound(prefixPending)})
	if err != nil {
		return nil, s.readError("pending", err)
	}
	defer it.Close()
	var out []Intent
	for ok := it.First(); ok; ok = it.Next() {
		seq, err := parseSeqKey(prefixPending, it.Key())
		if err != nil {
			return nil, fmt.Errorf("journal %s: pending: %w; run `mailtrail journal check`", s.dir, err)
		}
		v, closer, err := snap.Get(journalKey(seq))
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, kinded(ErrCorrupt, "journal %s: pending intent %d has no journal record; run `mailtrail journal check`", s.dir, seq)
		}
		if err != nil {
			return nil, s.readError(fmt.Sprintf("pending: read intent %d", seq), err)
		}
		rec, err := decodeRecord(seq, v)
		closer.Close()
		if err != nil {
			return nil, s.readError("pending", err)
		}
		if rec.Kind != KindIntent {
			return nil, kinded(ErrCorrupt, "journal %s: pending index names record %d, which is a %s, not an intent; run `mailtrail journal check`", s.dir, seq, rec.Kind)
		}
		out = append(out, Intent{Seq: seq, Run: rec.Run, Time: rec.Time, Op: *rec.Op, Msg: rec.Msg})
	}
	if err := it.Error(); err != nil {
		return nil, s.readError("pending", err)
	}
	return out, nil
}

// Records calls fn with every journal record at position from or later, in
// order, from one consistent view of the journal. It stops at the first
// error fn returns and returns it.
func (s *Store) Records(from uint64, fn func(Record) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: journalKey(from), UpperBound: prefixUpperBound(prefixJournal)})
	if err != nil {
		return s.readError("records", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		seq, err := parseSeqKey(prefixJournal, it.Key())
		if err != nil {
			return fmt.Errorf("journal %s: records: %w; run `mailtrail journal check`", s.dir, err)
		}
		rec, err := decodeRecord(seq, it.Value())
		if err != nil {
			return fmt.Errorf("journal %s: %w", s.dir, err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return s.readError("records", err)
	}
	return nil
}

// Runs lists every run, oldest first.
func (s *Store) Runs() ([]Run, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixRun), UpperBound: prefixUpperBound(prefixRun)})
	if err != nil {
		return nil, s.readError("runs", err)
	}
	defer it.Close()
	var out []Run
	for ok := it.First(); ok; ok = it.Next() {
		id, err := parseSeqKey(prefixRun, it.Key())
		if err != nil {
			return nil, fmt.Errorf("journal %s: runs: %w; run `mailtrail journal check`", s.dir, err)
		}
		ri, err := decodeRunIndex(id, it.Value())
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", s.dir, err)
		}
		out = append(out, Run{ID: id, Info: ri.Info, StartSeq: ri.StartSeq, Ended: ri.Ended, EndSeq: ri.EndSeq, Summary: ri.Summary})
	}
	if err := it.Error(); err != nil {
		return nil, s.readError("runs", err)
	}
	return out, nil
}

func setValue(b *pebble.Batch, key []byte, v any) error {
	e := valueEncoders.Get().(*valueEncoder)
	defer valueEncoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return b.Set(key, e.buf.Bytes(), nil) // Set copies the value
}

// valueEncoder encodes values into a buffer used again for the next,
// where encodeValue makes a new one for each: setValue writes at least
// two records per message a sync changes (its intent and its done
// record), 400,000 in a sync that marks 100,000 messages read.
type valueEncoder struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
}

var valueEncoders = sync.Pool{New: func() any {
	e := &valueEncoder{}
	e.enc = msgpack.NewEncoder(&e.buf)
	return e
}}

func (s *Store) writeError(what string, err error) error {
	return fmt.Errorf("journal %s: %s: %w", s.dir, what, err)
}

// commit is commitSynced for the store's own writes, which notes that
// this session wrote. Call with s.mu held.
func (s *Store) commit(b *pebble.Batch) error {
	if err := commitSynced(b); err != nil {
		return err
	}
	s.wrote = true
	return nil
}

// commitSynced commits one batch durably (pebble.Sync). Every journal and
// status write goes through it; the crash tests count these commits.
func commitSynced(b *pebble.Batch) error {
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	faultinject.Step(faultinject.Journal, "journal commit")
	return nil
}
