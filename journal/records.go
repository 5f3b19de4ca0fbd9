package journal

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"mailtrail/model"
)

// recordVersion is the V field written in every value. A reader refuses a
// value whose V is newer than it knows, and a zero V (no version at all).
//
// Version 2 added the message fields of an intent (Record.Msg) and the
// observation records (KindObserved, under o/); a version 1 value decodes
// as the same struct with those fields empty.
const recordVersion = 2

// RunInfo describes one invocation of mailtrail. The journal keeps it for
// ever and shows it in audits: the caller must leave secrets (a password
// given on the command line) out of Args.
type RunInfo struct {
	Started time.Time `msgpack:"t"`
	Command string    `msgpack:"cmd"`
	Args    []string  `msgpack:"args,omitempty"`
	DryRun  bool      `msgpack:"dry,omitempty"`
}

// RunSummary is how a run ended. Err is empty when it succeeded.
type RunSummary struct {
	Finished time.Time      `msgpack:"t"`
	Counts   map[string]int `msgpack:"n,omitempty"`
	Err      string         `msgpack:"err,omitempty"`
}

// Did reports whether the run did or failed anything: a count above zero,
// or an error.
func (r RunSummary) Did() bool {
	if r.Err != "" {
		return true
	}
	for _, n := range r.Counts {
		if n > 0 {
			return true
		}
	}
	return false
}

// Intent is an operation written down before it is carried out. Seq is its
// position in the journal; Time is when it was journalled.
type Intent struct {
	Seq  uint64
	Run  uint64
	Time time.Time
	Op   model.Op
	// Msg describes the message the operation is about, when it was known
	// (version 2 records); nil otherwise.
	Msg *MsgInfo
}

// MsgInfo is what a person recognises a message by: its Message-ID,
// subject, sender and date, as found in its header (RFC 2047 words
// decoded). The journal keeps it with an intent so that an audit can say
// which message was deleted, long after it is gone. Any field may be empty.
type MsgInfo struct {
	MessageID string    `msgpack:"id,omitempty" json:"message_id,omitempty"`
	Subject   string    `msgpack:"subj,omitempty" json:"subject,omitempty"`
	From      string    `msgpack:"from,omitempty" json:"from,omitempty"`
	Date      time.Time `msgpack:"date,omitempty" json:"date,omitempty"`
}

// IsZero reports whether nothing is known of the message.
func (m MsgInfo) IsZero() bool {
	return m.MessageID == "" && m.Subject == "" && m.From == "" && m.Date.IsZero()
}

// OpResult is the outcome of one intent, recorded by Checkpoint. Seq is the
// intent's sequence number. UID and Key are what the operation produced (the
// UID an upload got, the file key a fetch wrote). A non-empty Err means the
// operation failed; Skipped means the executor decided not to carry it out.
// Either way the intent is no longer pending.
type OpResult struct {
	Seq     uint64 `msgpack:"s"`
	UID     uint32 `msgpack:"u,omitempty"`
	Key     string `msgpack:"key,omitempty"`
	Err     string `msgpack:"err,omitempty"`
	Skipped bool   `msgpack:"skip,omitempty"`
	// Msg names the message when the intent did not (a download or an
	// upload is named from the bytes it moved, not read beforehand).
	Msg *MsgInfo `msgpack:"msg,omitempty"`
}

// RecordKind tells which member of the Record union is set.
type RecordKind uint8

const (
	// KindRunStarted: Info is set.
	KindRunStarted RecordKind = 1 + iota
	// KindIntent: Op is set.
	KindIntent
	// KindDone: Result is set; Result.Seq is the intent it completes.
	KindDone
	// KindRunEnded: Summary is set.
	KindRunEnded
	// KindObserved: Obs is set. What a run observed of one folder pair and
	// the plan it made of it. Stored under o/<run><folder>, not in the j/
	// sequence, so that old observations can be pruned without touching the
	// history of operations.
	KindObserved
)

func (k RecordKind) String() string {
	switch k {
	case KindRunStarted:
		return "run-started"
	case KindIntent:
		return "intent"
	case KindDone:
		return "done"
	case KindRunEnded:
		return "run-ended"
	case KindObserved:
		return "observed"
	}
	return fmt.Sprintf("record-kind(%d)", uint8(k))
}

// Record is one entry of the journal, a tagged union on Kind. Seq is the
// entry's position (its key); Run is the run it belongs to; Time is when it
// was written (for KindRunStarted, RunInfo.Started; for KindRunEnded,
// RunSummary.Finished). Exactly one of Info, Op, Result, Summary is set.
type Record struct {
	V       int         `msgpack:"v"`
	Kind    RecordKind  `msgpack:"k"`
	Seq     uint64      `msgpack:"-"`
	Run     uint64      `msgpack:"r"`
	Time    time.Time   `msgpack:"t"`
	Info    *RunInfo    `msgpack:"info,omitempty"`
	Op      *model.Op   `msgpack:"op,omitempty"`
	Result  *OpResult   `msgpack:"res,omitempty"`
	Summary *RunSummary `msgpack:"sum,omitempty"`
	// Msg is set on some intents (version 2): the message the op is about.
	Msg *MsgInfo `msgpack:"msg,omitempty"`
	// Obs is set on KindObserved records.
	Obs *Observation `msgpack:"obs,omitempty"`
}

// Run is one run as listed by Runs: how it started and, once EndRun was
// called, how it ended. StartSeq and EndSeq are the journal positions of
// its RunStarted and RunEnded records (EndSeq is 0 while it has not ended).
type Run struct {
	ID       uint64
	Info     RunInfo
	StartSeq uint64
	Ended    bool
	EndSeq   uint64
	Summary  RunSummary
}

// runIndex is the value under r/<run>: the run's start and, after EndRun,
// its end. It duplicates the journal's RunStarted/RunEnded records so that
// listing runs does not walk the whole journal.
type runIndex struct {
	V        int        `msgpack:"v"`
	Info     RunInfo    `msgpack:"info"`
	StartSeq uint64     `msgpack:"start"`
	Ended    bool       `msgpack:"ended,omitempty"`
	EndSeq   uint64     `msgpack:"end,omitempty"`
	Summary  RunSummary `msgpack:"sum"`
}

// pendingEntry is the value under p/<seq>: the run of the pending intent.
type pendingEntry struct {
	V   int    `msgpack:"v"`
	Run uint64 `msgpack:"r"`
}

// FolderMeta is what the status store remembers of a folder pair besides
// its rows: the remote folder's status at the last sync, the nanosecond
// mtimes of the local cur/ and new/ directories, and when it was synced.
//
// In a Checkpoint, a FolderMeta with Deleted set (and UIDValidity 0)
// removes the folder's meta and all its status rows.
type FolderMeta struct {
	Name          string `msgpack:"-"`
	UIDValidity   uint32 `msgpack:"uv"`
	UIDNext       uint32 `msgpack:"un"`
	Messages      uint32 `msgpack:"msgs"`
	HighestModSeq uint64 `msgpack:"hms,omitempty"`
	LocalCurMtime int64  `msgpack:"curmt"`
	LocalNewMtime int64  `msgpack:"newmt"`
	// PlanOptions identifies the planner options of the sync that found
	// nothing to do (a hash): with other options (a maxage lifted, say)
	// the same two sides may need work.
	PlanOptions string    `msgpack:"po,omitempty"`
	Synced      time.Time `msgpack:"synced"`
	Deleted     bool      `msgpack:"-"`
}

// folderMetaValue is FolderMeta as stored under f/<folder>.
type folderMetaValue struct {
	V          int `msgpack:"v"`
	FolderMeta `msgpack:",inline"`
}

// FolderRow is one status row of one folder, to write.
type FolderRow struct {
	Folder string
	Row    model.StatusRow
}

// FolderUID names one status row of one folder, to delete.
type FolderUID struct {
	Folder string
	UID    uint32
}

// Checkpoint is everything one Store.Checkpoint commits together: the
// results of carried-out intents and the status changes they imply.
type Checkpoint struct {
	Results []OpResult
	Upsert  []FolderRow
	Delete  []FolderUID
	Folders []FolderMeta
}

func checkVersion(what string, v int) error {
	switch {
	case v == 0:
		return kinded(ErrCorrupt, "%s has no version field: not written by mailtrail, or damaged", what)
	case v > recordVersion:
		return kinded(ErrNewerFormat, "%s has version %d, newer than this mailtrail understands (%d); upgrade mailtrail", what, v, recordVersion)
	}
	return nil
}

// decodeError reports a value that msgpack cannot decode: damage.
func decodeError(what string, err error) error {
	return kinded(ErrCorrupt, "%s: cannot decode: %w", what, err)
}

func encodeValue(v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

func decodeRecord(seq uint64, value []byte) (Record, error) {
	var r Record
	what := fmt.Sprintf("journal record %d", seq)
	if err := msgpack.Unmarshal(value, &r); err != nil {
		return Record{}, decodeError(what, err)
	}
	if err := checkVersion(what, r.V); err != nil {
		return Record{}, err
	}
	r.Seq = seq
	var ok bool
	switch r.Kind {
	case KindRunStarted:
		ok = r.Info != nil
	case KindIntent:
		ok = r.Op != nil
	case KindDone:
		ok = r.Result != nil
	case KindRunEnded:
		ok = r.Summary != nil
	case KindObserved:
		ok = r.Obs != nil
	default:
		return Record{}, kinded(ErrCorrupt, "%s: unknown kind %d", what, r.Kind)
	}
	if !ok {
		return Record{}, kinded(ErrCorrupt, "%s: kind %s without its payload", what, r.Kind)
	}
	return r, nil
}

func decodeRunIndex(run uint64, value []byte) (runIndex, error) {
	var ri runIndex
	what := fmt.Sprintf("run %d index", run)
	if err := msgpack.Unmarshal(value, &ri); err != nil {
		return runIndex{}, decodeError(what, err)
	}
	return ri, checkVersion(what, ri.V)
}

func decodePending(seq uint64, value []byte) (pendingEntry, error) {
	var p pendingEntry
	what := fmt.Sprintf("pending index entry %d", seq)
	if err := msgpack.Unmarshal(value, &p); err != nil {
		return pendingEntry{}, decodeError(what, err)
	}
	return p, checkVersion(what, p.V)
}

func decodeFolderMeta(name string, value []byte) (FolderMeta, error) {
	var fm folderMetaValue
	what := fmt.Sprintf("folder %q meta", name)
	if err := msgpack.Unmarshal(value, &fm); err != nil {
		return FolderMeta{}, decodeError(what, err)
	}
	if err := checkVersion(what, fm.V); err != nil {
		return FolderMeta{}, err
	}
	fm.FolderMeta.Name = name
	return fm.FolderMeta, nil
}

// Status rows are the bulk of the store (one per message), so they are
// encoded by hand as a msgpack array [V, Key, Flags] or [V, Key, Flags,
// Named]: no field names, no reflection. The UID is in the key. Named is
// the sequence number of the done record that names the row's message
// (the download or upload that made the row; MessageNames), when known.
// Readers that know only three fields read the first three.

func encodeRow(buf *bytes.Buffer, enc *msgpack.Encoder, row model.StatusRow, named uint64) ([]byte, error) {
	buf.Reset()
	fields := 3
	if named != 0 {
		fields = 4
	}
	if err := enc.EncodeArrayLen(fields); err != nil {
		return nil, err
	}
	if err := enc.EncodeUint(recordVersion); err != nil {
		return nil, err
	}
	if err := enc.EncodeString(row.Key); err != nil {
		return nil, err
	}
	if err := enc.EncodeUint(uint64(row.Flags)); err != nil {
		return nil, err
	}
	if named != 0 {
		if err := enc.EncodeUint(named); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(buf.Bytes()), nil
}

// rowDecoder decodes status row values, reusing its buffers.
type rowDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
	// known, when set, gives the key strings rows share
	// (Store.FolderStatusSharing); key is the buffer a key is read into
	// to look it up.
	known func(key []byte) (string, bool)
	key   []byte
	// noKeys: keys are checked and skipped, rows get none
	// (Store.FolderFlags).
	noKeys bool
}

func newRowDecoder() *rowDecoder {
	d := &rowDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

func (d *rowDecoder) decode(folder string, uid uint32, value []byte) (model.StatusRow, error) {
	d.r.Reset(value)
	d.dec.Reset(&d.r)
	row, _, err := d.decodeFields(uid)
	if err != nil {
		if !errors.Is(err, ErrNewerFormat) {
			err = kinded(ErrCorrupt, "%w", err)
		}
		return model.StatusRow{}, fmt.Errorf("status row %q uid %d: %w", folder, uid, err)
	}
	return row, nil
}

// named returns the key of an encoded status row and the sequence number
// of the record that names its message (0: none); ok is false when the
// row cannot be read.
func (d *rowDecoder) named(value []byte) (key string, named uint64, ok bool) {
	d.r.Reset(value)
	d.dec.Reset(&d.r)
	row, n, err := d.decodeFields(0)
	if err != nil {
		return "", 0, false
	}
	if n >= 4 {
		if named, err = d.dec.DecodeUint64(); err != nil {
			return "", 0, false
		}
	}
	return row.Key, named, true
}

// decodeKey decodes a row's key as DecodeString would, taking the string
// from known when it has it, or checks and skips it (noKeys).
func (d *rowDecoder) decodeKey() (string, error) {
	if d.known == nil && !d.noKeys {
		return d.dec.DecodeString()
	}
	n, err := d.dec.DecodeBytesLen()
	if err != nil {
		return "", err
	}
	if n <= 0 {
		return "", nil
	}
	if n > d.r.Len() {
		return "", fmt.Errorf("a key of %d bytes in a row of %d", n, d.r.Size())
	}
	if cap(d.key) < n {
		d.key = make([]byte, n)
	}
	b := d.key[:n]
	if err := d.dec.ReadFull(b); err != nil {
		return "", err
	}
	if d.noKeys {
		return "", nil
	}
	if s, ok := d.known(b); ok && s == string(b) {
		return s, nil
	}
	return string(b), nil
}

// decodeFields decodes the first three fields of a row and returns the
// row and how many fields it has.
func (d *rowDecoder) decodeFields(uid uint32) (model.StatusRow, int, error) {
	n, err := d.dec.DecodeArrayLen()
	if err != nil {
		return model.StatusRow{}, 0, fmt.Errorf("cannot decode: %w", err)
	}
	if n < 3 {
		return model.StatusRow{}, 0, fmt.Errorf("cannot decode: array of %d fields, want at least 3", n)
	}
	v, err := d.dec.DecodeUint()
	if err != nil {
		return model.StatusRow{}, 0, fmt.Errorf("cannot decode version: %w", err)
	}
	if err := checkVersion("value", int(v)); err != nil {
		return model.StatusRow{}, 0, err
	}
	key, err := d.decodeKey()
	if err != nil {
		return model.StatusRow{}, 0, fmt.Errorf("cannot decode key: %w", err)
	}
	flags, err := d.dec.DecodeUint8()
	if err != nil {
		return model.StatusRow{}, 0, fmt.Errorf("cannot decode flags: %w", err)
	}
	if model.Flags(flags)&^model.AllFlags != 0 {
		return model.StatusRow{}, 0, fmt.Errorf("unknown flag bits %#x", flags)
	}
	return model.StatusRow{UID: uid, Key: key, Flags: model.Flags(flags)}, n, nil
}
