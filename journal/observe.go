package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/vmihailenco/msgpack/v5"

	"mailtrail/model"
)

// DefaultObservationRuns is how many of the latest runs keep their
// observations when Options.ObservationRuns is 0: EndRun removes the
// observations of older runs. Observations are the bulk of a journal (one
// entry per message of every folder a run changed), and a bug report is
// about a recent run.
const DefaultObservationRuns = 50

// Observation is what a run observed of one folder pair — exactly the
// planner's input — and the plan it made of it. It is enough to plan the
// folder again (replay) without the server or the Maildir: no message body
// is kept, only UIDs, keys, flags, sizes and dates.
type Observation struct {
	Folder string
	Remote ObservedRemote
	Local  ObservedLocal
	Status ObservedStatus
	// Identities, when the planner needed them (a folder whose UIDs cannot
	// be trusted), name each message by content: Message-ID and a hash of
	// the body, as the executor computes them.
	Identities *ObservedIdentities
	// Options are the planner options the plan was made with, by their Go
	// field names (so that options added later decode as their zero value).
	Options map[string]any
	// Ops is the plan in order; Refused the refusal (Ops is then empty);
	// VoidedStatus that the status was set aside.
	Ops          []model.Op
	Refused      string
	VoidedStatus bool
}

// ObservedRemote is the server folder as observed.
type ObservedRemote struct {
	Exists bool
	Status model.RemoteFolderStatus
	Msgs   []model.RemoteMsg
}

// ObservedLocal is the local folder as observed.
type ObservedLocal struct {
	Exists bool
	FMD5   string
	Msgs   []model.LocalMsg
}

// ObservedIdentities are content identities by remote UID and local key.
type ObservedIdentities struct {
	Remote map[uint32]string
	Local  map[string]string
}

// ObservedStatus is the status store's memory of the folder as the planner
// saw it.
type ObservedStatus struct {
	UIDValidity uint32
	// Rows by ascending UID: the planner's own (model.StatusRows.All) when
	// recorded, so a large folder's rows are not copied to be journaled.
	Rows []model.StatusRow
}

// The wire form of an observation: messages as msgpack arrays (no field
// names), since an observation holds one entry per message.

type obsWire struct {
	Folder  string          `msgpack:"f"`
	RExists bool            `msgpack:"rx,omitempty"`
	RStatus obsRemoteStatus `msgpack:"rs"`
	RMsgs   []obsRemoteMsg  `msgpack:"rm"`
	LExists bool            `msgpack:"lx,omitempty"`
	FMD5    string          `msgpack:"fmd5,omitempty"`
	LMsgs   []obsLocalMsg   `msgpack:"lm"`
	// LExtra, parallel to LMsgs, holds the fields added after the first
	// observations (the UID a moved file carries from another folder, the
	// file's mtime); absent when all are zero, and from older records.
	LExtra       []obsLocalExtra   `msgpack:"lmx,omitempty"`
	SUIDValidity uint32            `msgpack:"suv,omitempty"`
	SRows        []obsStatusRow    `msgpack:"sr"`
	Options      map[string]any    `msgpack:"opt,omitempty"`
	Ops          []model.Op        `msgpack:"ops,omitempty"`
	Refused      string            `msgpack:"refused,omitempty"`
	VoidedStatus bool              `msgpack:"voided,omitempty"`
	HasIDs       bool              `msgpack:"ids,omitempty"`
	RIDs         map[uint32]string `msgpack:"rid,omitempty"`
	LIDs         map[string]string `msgpack:"lid,omitempty"`
}

type obsRemoteStatus struct {
	_msgpack      struct{} `msgpack:",as_array"`
	UIDValidity   uint32
	UIDNext       uint32
	Messages      uint32
	HighestModSeq uint64
}

type obsRemoteMsg struct {
	_msgpack struct{} `msgpack:",as_array"`
	UID      uint32
	Flags    uint8
	Size     int64
	Date     int64 // Unix nanoseconds; 0 when unknown
}

type obsLocalMsg struct {
	_msgpack struct{} `msgpack:",as_array"`
	Key      string
	UID      uint32
	FMD5     string // "" when it is the folder's own FMD5
	Flags    uint8
	Size     int64
}

type obsLocalExtra struct {
	_msgpack struct{} `msgpack:",as_array"`
	FromUID  uint32
	Date     int64 // Unix nanoseconds; 0 when the scan did not stat the file
}

type obsStatusRow struct {
	_msgpack struct{} `msgpack:",as_array"`
	UID      uint32
	Key      string
	Flags    uint8
}

// EncodeMsgpack writes the compact wire form (obsWire), message by
// message: an observation of a large folder is never built whole as wire
// structs or, when written to the journal, as one buffer (setObserved).
func (o *Observation) EncodeMsgpack(enc *msgpack.Encoder) error {
	var extra bool // any local message has a field of LExtra
	for _, m := range o.Local.Msgs {
		if m.FromUID != 0 || !m.Date.IsZero() {
			extra = true
			break
		}
	}
	type field struct {
		name string
		omit bool
		put  func() error
	}
	fields := []field{
		{"f", false, func() error { return enc.EncodeString(o.Folder) }},
		{"rx", !o.Remote.Exists, func() error { return enc.EncodeBool(true) }},
		{"rs", false, func() error {
			st := o.Remote.Status
			return encodeAll(enc.EncodeArrayLen(4), enc.EncodeUint(uint64(st.UIDValidity)), enc.EncodeUint(uint64(st.UIDNext)),
				enc.EncodeUint(uint64(st.Messages)), enc.EncodeUint(st.HighestModSeq))
		}},
		{"rm", false, func() error {
			if err := enc.EncodeArrayLen(len(o.Remote.Msgs)); err != nil {
				return err
			}
			for _, m := range o.Remote.Msgs {
				if err := encodeAll(enc.EncodeArrayLen(4), enc.EncodeUint(uint64(m.UID)), enc.EncodeUint(uint64(m.Flags)),
					enc.EncodeInt(m.Size), enc.EncodeInt(int64(m.InternalDate))); err != nil {
					return err
				}
			}
			return nil
		}},
		{"lx", !o.Local.Exists, func() error { return enc.EncodeBool(true) }},
		{"fmd5", o.Local.FMD5 == "", func() error { return enc.EncodeString(o.Local.FMD5) }},
		{"lm", false, func() error {
			if err := enc.EncodeArrayLen(len(o.Local.Msgs)); err != nil {
				return err
			}
			for _, m := range o.Local.Msgs {
				fmd5 := m.FMD5
				if fmd5 == o.Local.FMD5 {
					fmd5 = ""
				}
				if err := encodeAll(enc.EncodeArrayLen(5), enc.EncodeString(m.Key), enc.EncodeUint(uint64(m.UID)),
					enc.EncodeString(fmd5), enc.EncodeUint(uint64(m.Flags)), enc.EncodeInt(m.Size)); err != nil {
					return err
				}
			}
			return nil
		}},
		{"lmx", !extra, func() error {
			if err := enc.EncodeArrayLen(len(o.Local.Msgs)); err != nil {
				return err
			}
			for _, m := range o.Local.Msgs {
				if err := encodeAll(enc.EncodeArrayLen(2), enc.EncodeUint(uint64(m.FromUID)), enc.EncodeInt(int64(m.Date))); err != nil {
					return err
				}
			}
			return nil
		}},
		{"suv", o.Status.UIDValidity == 0, func() error { return enc.EncodeUint(uint64(o.Status.UIDValidity)) }},
		{"sr", false, func() error {
			if err := enc.EncodeArrayLen(len(o.Status.Rows)); err != nil {
				return err
			}
			for _, r := range o.Status.Rows {
				if err := encodeAll(enc.EncodeArrayLen(3), enc.EncodeUint(uint64(r.UID)), enc.EncodeString(r.Key),
					enc.EncodeUint(uint64(r.Flags))); err != nil {
					return err
				}
			}
			return nil
		}},
		{"opt", len(o.Options) == 0, func() error { return enc.Encode(o.Options) }},
		{"ops", len(o.Ops) == 0, func() error {
			if err := enc.EncodeArrayLen(len(o.Ops)); err != nil {
				return err
			}
			for i := range o.Ops {
				if err := enc.Encode(&o.Ops[i]); err != nil {
					return err
				}
			}
			return nil
		}},
		{"refused", o.Refused == "", func() error { return enc.EncodeString(o.Refused) }},
		{"voided", !o.VoidedStatus, func() error { return enc.EncodeBool(true) }},
		{"ids", o.Identities == nil, func() error { return enc.EncodeBool(true) }},
		{"rid", o.Identities == nil || len(o.Identities.Remote) == 0, func() error { return enc.Encode(o.Identities.Remote) }},
		{"lid", o.Identities == nil || len(o.Identities.Local) == 0, func() error { return enc.Encode(o.Identities.Local) }},
	}
	n := 0
	for _, f := range fields {
		if !f.omit {
			n++
		}
	}
	if err := enc.EncodeMapLen(n); err != nil {
		return err
	}
	for _, f := range fields {
		if f.omit {
			continue
		}
		if err := enc.EncodeString(f.name); err != nil {
			return err
		}
		if err := f.put(); err != nil {
			return fmt.Errorf("observation of %q: field %s: %w", o.Folder, f.name, err)
		}
	}
	return nil
}

// encodeAll returns the first error of a sequence of encoder calls. (The
// calls are all made; after an error the encoder's output is discarded.)
func encodeAll(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeMsgpack reads the compact wire form.
func (o *Observation) DecodeMsgpack(dec *msgpack.Decoder) error {
	var w obsWire
	if err := dec.Decode(&w); err != nil {
		return err
	}
	*o = Observation{
		Folder: w.Folder,
		Remote: ObservedRemote{Exists: w.RExists, Status: model.RemoteFolderStatus{Name: w.Folder, UIDValidity: w.RStatus.UIDValidity,
			UIDNext: w.RStatus.UIDNext, Messages: w.RStatus.Messages, HighestModSeq: w.RStatus.HighestModSeq}},
		Local:   ObservedLocal{Exists: w.LExists, FMD5: w.FMD5},
		Status:  ObservedStatus{UIDValidity: w.SUIDValidity},
		Options: w.Options, Ops: w.Ops, Refused: w.Refused, VoidedStatus: w.VoidedStatus,
	}
	if w.HasIDs {
		o.Identities = &ObservedIdentities{Remote: w.RIDs, Local: w.LIDs}
	}
	for _, m := range w.RMsgs {
		if model.Flags(m.Flags)&^model.AllFlags != 0 {
			return fmt.Errorf("remote uid %d: unknown flag bits %#x", m.UID, m.Flags)
		}
		o.Remote.Msgs = append(o.Remote.Msgs, model.RemoteMsg{UID: m.UID, Flags: model.Flags(m.Flags), Size: m.Size, InternalDate: model.Date(m.Date)})
	}
	if len(w.LExtra) != 0 && len(w.LExtra) != len(w.LMsgs) {
		return fmt.Errorf("observation of %q: %d local messages but %d extra fields", w.Folder, len(w.LMsgs), len(w.LExtra))
	}
	for i, m := range w.LMsgs {
		fmd5 := m.FMD5
		if fmd5 == "" && m.UID != 0 {
			fmd5 = w.FMD5
		}
		lm := model.LocalMsg{Key: m.Key, UID: m.UID, FMD5: fmd5, Flags: model.Flags(m.Flags), Size: m.Size}
		if len(w.LExtra) != 0 {
			lm.FromUID, lm.Date = w.LExtra[i].FromUID, model.Date(w.LExtra[i].Date)
		}
		o.Local.Msgs = append(o.Local.Msgs, lm)
	}
	for _, r := range w.SRows {
		o.Status.Rows = append(o.Status.Rows, model.StatusRow{UID: r.UID, Key: r.Key, Flags: model.Flags(r.Flags)})
	}
	return nil
}

// obsKey is o/<run:8><folder>: a run's observations are one range, in
// folder order.
func obsKey(run uint64, folder string) []byte {
	return append(seqKey(prefixObserved, run), folder...)
}

// obsPieceSize bounds the value under one observation key. The observation
// of a large folder is megabytes (one entry per message, and the plan);
// stored as one value, Pebble would hold it whole in several buffers at
// once while flushing and compacting it (a cold sync of 100,000 messages
// peaked at 60 MB of such buffers). The encoded record is cut into pieces
// instead: the first under obsKey, the next under obsPieceKey(…, 1), ….
const obsPieceSize = 32 << 10

// obsPieceKey is o/<run:8><folder>\x00<piece:4>, the piece-th (from 1)
// continuation of the observation under obsKey(run, folder): right after
// it in key order, since no folder name holds a NUL byte.
func obsPieceKey(run uint64, folder string, piece uint32) []byte {
	return append(obsKey(run, folder), pieceSuffix(piece)...)
}

// pieceSuffix is what follows obsKey in a piece's key: 0x00 <piece:4>.
func pieceSuffix(piece uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{folderNameEnd}, piece)
}

// obsSideBatch is how many bytes of observation pieces go into one of the
// unsynced batches setObserved commits before the synced one. Well under
// half the memtable: Pebble keeps a batch that large whole, as a memtable
// of its own, until it is flushed, and flushes for each one; a smaller
// batch is copied into the memtable and its buffer used again.
// (At 1 MiB, an observation of 100,000 messages held 2–5 MB of batches.)
const obsSideBatch = 256 << 10

// setObserved records rec, an observation of folder in run: it streams the
// encoded record in pieces of obsPieceSize, the continuation pieces
// committed (without sync) in batches of their own as they are encoded,
// the first piece into b, the caller's synced batch. A large observation
// is thus never held whole, neither encoded nor in a batch. The synced
// commit of b makes the pieces before it durable too (Pebble's log is
// written in order); continuation pieces whose first piece was never
// committed (a crash in between) are ignored by readers (readObserved) and
// removed with their run's observations. Pieces an earlier attempt left
// under the same run and folder are deleted first.
func (s *Store) setObserved(b *pebble.Batch, run uint64, folder string, rec Record) error {
	w := &pieceWriter{db: s.db, run: run, folder: folder, side: s.db.NewBatch()}
	defer func() { w.side.Close() }()
	if err := w.side.DeleteRange(append(obsKey(run, folder), folderNameEnd), append(obsKey(run, folder), folderNameEnd+1), nil); err != nil {
		return err
	}
	if err := msgpack.NewEncoder(w).Encode(rec); err != nil {
		return err
	}
	if err := w.flush(true); err != nil {
		return err
	}
	return b.Set(obsKey(run, folder), w.first, nil)
}

// pieceWriter cuts what is written to it into observation pieces.
type pieceWriter struct {
	db     *pebble.DB
	run    uint64
	folder string
	buf    []byte
	piece  uint32 // the next piece's number
	first  []byte // piece 0, for the caller's batch
	side   *pebble.Batch
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) >= obsPieceSize {
		if err := w.flush(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush emits the full pieces buffered (and, at the end, the rest).
func (w *pieceWriter) flush(end bool) error {
	for len(w.buf) >= obsPieceSize || (end && (len(w.buf) > 0 || w.piece == 0)) {
		n := min(len(w.buf), obsPieceSize)
		if w.piece == 0 {
			w.first = bytes.Clone(w.buf[:n])
		} else if err := w.side.Set(obsPieceKey(w.run, w.folder, w.piece), w.buf[:n], nil); err != nil {
			return err
		}
		w.piece++
		w.buf = w.buf[:copy(w.buf, w.buf[n:])]
		if w.side.Len() >= obsSideBatch || end {
			if err := w.side.Commit(pebble.NoSync); err != nil {
				return err
			}
			w.side.Close()
			w.side = w.db.NewBatch()
		}
	}
	return nil
}

// isObsPiece reports whether k is a continuation piece of an observation.
func isObsPiece(k []byte) bool {
	return len(k) > len(prefixObserved)+8 && bytes.IndexByte(k[len(prefixObserved)+8:], folderNameEnd) >= 0
}

// errOrphanPiece is readObserved's answer for a continuation piece whose
// first piece is missing: what a crash while an observation was written
// leaves (setObserved), not damage. Readers skip it.
var errOrphanPiece = errors.New("observation piece without its first piece")

// readObserved returns the key and the whole encoded value of the
// observation whose first piece it is positioned at, joining the pieces
// that follow; it is left on the last of them. A piece missing or out of
// order is an error (ErrCorrupt).
func readObserved(it *pebble.Iterator) (key, value []byte, err error) {
	key = bytes.Clone(it.Key())
	value = bytes.Clone(it.Value())
	if isObsPiece(key) {
		return key, nil, errOrphanPiece
	}
	for piece := uint32(1); it.Next(); piece++ {
		k := it.Key()
		if !isObsPiece(k) || !bytes.HasPrefix(k, key) {
			it.Prev()
			break
		}
		if !bytes.Equal(k[len(key):], pieceSuffix(piece)) {
			return key, nil, kinded(ErrCorrupt, "observation %q: piece %q out of order (want piece %d)", key, k, piece)
		}
		value = append(value, it.Value()...)
	}
	return key, value, it.Error()
}

// intentBatch bounds the intents of one durable batch (AppendObserved).
const intentBatch = 4096

// AppendObserved is AppendIntents that also records, with the first durable
// batch of intents, what the run observed of the folder (obs, may be nil) and the
// message each op is about (msgs[i] for ops[i]; msgs may be nil or shorter,
// and a zero MsgInfo records nothing). With no ops it records only the
// observation (a refused plan, say).
func (s *Store) AppendObserved(run uint64, obs *Observation, ops []model.Op, msgs []MsgInfo) ([]uint64, error) {
	if err := s.checkWritable(); err != nil {
		return nil, err
	}
	if obs == nil && len(ops) == 0 {
		return nil, nil
	}
	for i, op := range ops {
		if op.Kind == model.OpInvalid {
			return nil, fmt.Errorf("journal %s: append intents: op %d (%s) has an invalid kind; nothing was written", s.dir, i, op)
		}
	}
	if obs != nil {
		if err := checkFolderName(obs.Folder); err != nil {
			return nil, fmt.Errorf("journal %s: record observation: %w; nothing was written", s.dir, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	pending, err := encodeValue(pendingEntry{V: recordVersion, Run: run})
	if err != nil {
		return nil, s.writeError("append intents", err)
	}
	seqs := make([]uint64, len(ops))
	// The intents go in batches of intentBatch, each committed durably
	// before the next is built: a cold sync of a large folder must not
	// hold one batch of every intent in memory. All are committed before
	// this returns, so before any is carried out; a crash between two
	// batches leaves intents pending that the next run resolves as
	// superseded, like any other.
	for start := 0; start == 0 || start < len(ops); start += intentBatch {
		end := min(start+intentBatch, len(ops))
		b := s.db.NewBatch()
		_, started, err := s.startRun(b, run)
		if err != nil {
			b.Close()
			return nil, err
		}
		if obs != nil && start == 0 {
			rec := Record{V: recordVersion, Kind: KindObserved, Run: run, Time: now, Obs: obs}
			if err := s.setObserved(b, run, obs.Folder, rec); err != nil {
				b.Close()
				return nil, s.writeError("record observation", err)
			}
		}
		for i := start; i < end; i++ {
			seq := s.lastSeq + 1 + started + uint64(i-start)
			seqs[i] = seq
			rec := Record{V: recordVersion, Kind: KindIntent, Run: run, Time: now, Op: &ops[i]}
			if i < len(msgs) && !msgs[i].IsZero() {
				rec.Msg = &msgs[i]
			}
			if err := setValue(b, journalKey(seq), rec); err != nil {
				b.Close()
				return nil, s.writeError("append intents", err)
			}
			if err := b.Set(pendingKey(seq), pending, nil); err != nil {
				b.Close()
				return nil, s.writeError("append intents", err)
			}
		}
		err = s.commit(b)
		b.Close()
		if err != nil {
			return nil, s.writeError("append intents", err)
		}
		s.started(run, started)
		s.lastSeq += started + uint64(end-start)
	}
	if len(ops) == 0 {
		return nil, nil
	}
	return seqs, nil
}

// Observations returns what run observed, one entry per folder it recorded
// (folders whose plan had operations or was refused), by folder name. Runs
// older than the kept window (Options.ObservationRuns) have none left.
func (s *Store) Observations(run uint64) ([]Observation, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: seqKey(prefixObserved, run), UpperBound: seqKey(prefixObserved, run+1)})
	if err != nil {
		return nil, s.readError("observations", err)
	}
	defer it.Close()
	var out []Observation
	for ok := it.First(); ok; ok = it.Next() {
		k, v, err := readObserved(it)
		if errors.Is(err, errOrphanPiece) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", s.dir, err)
		}
		rec, err := decodeObserved(k, v)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", s.dir, err)
		}
		out = append(out, *rec.Obs)
	}
	if err := it.Error(); err != nil {
		return nil, s.readError("observations", err)
	}
	return out, nil
}

// decodeObserved decodes the record under an o/ key and checks that it is
// an observation of the run and folder the key names.
func decodeObserved(k, v []byte) (Record, error) {
	what := fmt.Sprintf("observation %q", k)
	if len(k) <= len(prefixObserved)+8 {
		return Record{}, kinded(ErrCorrupt, "%s: key is not o/<run><folder>", what)
	}
	run, _ := parseSeqKey(prefixObserved, k[:len(prefixObserved)+8])
	folder := string(k[len(prefixObserved)+8:])
	var r Record
	if err := msgpack.Unmarshal(v, &r); err != nil {
		return Record{}, decodeError(what, err)
	}
	if err := checkVersion(what, r.V); err != nil {
		return Record{}, err
	}
	switch {
	case r.Kind != KindObserved || r.Obs == nil:
		return Record{}, kinded(ErrCorrupt, "%s: record of kind %s, want an observation", what, r.Kind)
	case r.Run != run || r.Obs.Folder != folder:
		return Record{}, kinded(ErrCorrupt, "%s: holds run %d folder %q", what, r.Run, r.Obs.Folder)
	}
	return r, nil
}

// pruneObservations deletes, in b, the observations of runs before keepFrom.
func pruneObservations(b *pebble.Batch, keepFrom uint64) error {
	if keepFrom <= 1 {
		return nil
	}
	return b.DeleteRange([]byte(prefixObserved), seqKey(prefixObserved, keepFrom), nil)
}
