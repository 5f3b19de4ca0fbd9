// Package replay holds mailtrail's replay bundles: what one run observed of
// each folder pair it planned (the planner's whole input), the plan it made
// and what became of each operation, as one JSON file a user can attach to
// a bug report. No message body is in it; by default names, keys and
// message fields are replaced by consistent pseudonyms (Redact).
//
// A developer replays a bundle: Replan plans every folder again with this
// build's planner and lists the differences from the recorded plan;
// Execute carries the plan out against in-memory stores rebuilt from the
// observations and checks that both sides converge. The format is in
// docs/JOURNAL.md.
package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"mailtrail/journal"
	"mailtrail/model"
)

// Format and Version identify the file; a reader refuses another format and
// a newer version.
const (
	Format  = "mailtrail-replay-bundle"
	Version = 1
)

// Bundle is one run's replay bundle.
type Bundle struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Producer string    `json:"producer,omitempty"` // the mailtrail version that wrote it
	Created  time.Time `json:"created"`
	Redacted bool      `json:"redacted"`
	Account  string    `json:"account"`
	Run      Run       `json:"run"`
	Folders  []Folder  `json:"folders"`
}

// Run is the run the bundle was taken from.
type Run struct {
	ID       uint64         `json:"id"`
	Command  string         `json:"command,omitempty"`
	Args     []string       `json:"args,omitempty"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished,omitzero"`
	Ended    bool           `json:"ended"`
	Counts   map[string]int `json:"counts,omitempty"`
	Err      string         `json:"error,omitempty"`
}

// Folder is one folder pair: the planner's input, options, plan, results.
type Folder struct {
	Name    string         `json:"name"`
	Options map[string]any `json:"options,omitempty"`
	Remote  Remote         `json:"remote"`
	Local   Local          `json:"local"`
	Status  Status         `json:"status"`
	// Identities are the content identities (Message-ID and body hash) the
	// planner was given for a folder whose UIDs cannot be trusted.
	Identities *Identities `json:"identities,omitempty"`
	Plan       Plan        `json:"plan"`
	// Results has one entry per operation of Plan.Ops, in order, when the
	// run journalled them (empty for a refused plan or a dry run).
	Results []Result `json:"results,omitempty"`
}

// Remote is the server folder as observed.
type Remote struct {
	Exists        bool        `json:"exists"`
	UIDValidity   uint32      `json:"uidvalidity,omitempty"`
	UIDNext       uint32      `json:"uidnext,omitempty"`
	Messages      uint32      `json:"messages,omitempty"`
	HighestModSeq uint64      `json:"highestmodseq,omitempty"`
	Msgs          []RemoteMsg `json:"msgs"`
}

// RemoteMsg is one server message; Flags are Maildir letters.
type RemoteMsg struct {
	UID   uint32    `json:"uid"`
	Flags string    `json:"flags"`
	Size  int64     `json:"size"`
	Date  time.Time `json:"date,omitzero"`
}

// Local is the local folder as observed.
type Local struct {
	Exists bool       `json:"exists"`
	FMD5   string     `json:"fmd5,omitempty"`
	Msgs   []LocalMsg `json:"msgs"`
}

// LocalMsg is one local message file.
type LocalMsg struct {
	Key   string `json:"key"`
	UID   uint32 `json:"uid,omitempty"`
	FMD5  string `json:"fmd5,omitempty"`
	Flags string `json:"flags"`
	Size  int64  `json:"size,omitempty"`
	// FromUID is the UID the file name carries with another folder's FMD5;
	// Date the file's mtime when the scan read it (maxage, startdate).
	FromUID uint32    `json:"from_uid,omitempty"`
	Date    time.Time `json:"date,omitzero"`
}

// Status is the status store's memory of the folder.
type Status struct {
	UIDValidity uint32      `json:"uidvalidity,omitempty"`
	Rows        []StatusRow `json:"rows"`
}

// StatusRow is one status row.
type StatusRow struct {
	UID   uint32 `json:"uid"`
	Key   string `json:"key"`
	Flags string `json:"flags"`
}

// Identities name messages by content, by remote UID and by local key.
type Identities struct {
	Remote map[uint32]string `json:"remote"`
	Local  map[string]string `json:"local"`
}

// Plan is the recorded plan.
type Plan struct {
	Refused      string `json:"refused,omitempty"`
	VoidedStatus bool   `json:"voided_status,omitempty"`
	Ops          []Op   `json:"ops"`
}

// Op is one operation: the fields of model.Op by their Go names, Kind as
// its name ("fetch", "expunge-remote", ...) and flags as Maildir letters;
// Msg is the message it is about, when the journal recorded it.
type Op map[string]any

// Result is what became of one operation.
type Result struct {
	State string `json:"state"` // pending, done, failed, skipped
	Err   string `json:"error,omitempty"`
	UID   uint32 `json:"uid,omitempty"`
	Key   string `json:"key,omitempty"`
}

// flagFields are the model.Op fields holding model.Flags.
var flagFields = []string{"Flags", "Add", "Remove"}

// opKinds maps every kind's name back to the kind.
var opKinds = func() map[string]model.OpKind {
	m := map[string]model.OpKind{}
	for k := model.OpKind(1); k < 255; k++ {
		if s := k.String(); !strings.HasPrefix(s, "op(") {
			m[s] = k
		}
	}
	return m
}()

// FromOp is the bundle form of op (msg may be nil).
func FromOp(op model.Op, msg *journal.MsgInfo) (Op, error) {
	b, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	m["Kind"] = op.Kind.String()
	for _, f := range flagFields {
		if v, ok := m[f].(float64); ok {
			m[f] = model.Flags(v).Maildir()
		}
	}
	for k, v := range m { // drop zero values: shorter, and stable as fields are added
		if v == nil || v == "" || v == float64(0) || v == false {
			delete(m, k)
		}
	}
	m["Kind"] = op.Kind.String()
	if msg != nil && !msg.IsZero() {
		m["Msg"] = msg
	}
	return Op(m), nil
}

// ToOp reads the bundle form back; the message fields are dropped.
func (o Op) ToOp() (model.Op, error) {
	m := map[string]any{}
	for k, v := range o {
		if k != "Msg" {
			m[k] = v
		}
	}
	name, _ := m["Kind"].(string)
	kind, ok := opKinds[name]
	if !ok {
		return model.Op{}, fmt.Errorf("operation of unknown kind %q", name)
	}
	m["Kind"] = int(kind)
	for _, f := range flagFields {
		if s, ok := m[f].(string); ok {
			fl, extra := model.ParseMaildir(s)
			if extra != "" {
				return model.Op{}, fmt.Errorf("operation %s: %s %q: unknown flag letters %q", name, f, s, extra)
			}
			m[f] = int(fl)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return model.Op{}, err
	}
	var op model.Op
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&op); err != nil {
		return model.Op{}, fmt.Errorf("operation %s: %w", name, err)
	}
	return op, nil
}

func parseFlags(what, s string) (model.Flags, error) {
	f, extra := model.ParseMaildir(s)
	if extra != "" && s != "-" {
		return 0, fmt.Errorf("%s: flags %q: unknown letters %q", what, s, extra)
	}
	return f, nil
}

// Observation turns a bundle folder back into the journal's observation.
func (f Folder) Observation() (journal.Observation, error) {
	o := journal.Observation{
		Folder: f.Name,
		Remote: journal.ObservedRemote{Exists: f.Remote.Exists, Status: model.RemoteFolderStatus{Name: f.Name, UIDValidity: f.Remote.UIDValidity,
			UIDNext: f.Remote.UIDNext, Messages: f.Remote.Messages, HighestModSeq: f.Remote.HighestModSeq}},
		Local:        journal.ObservedLocal{Exists: f.Local.Exists, FMD5: f.Local.FMD5},
		Status:       journal.ObservedStatus{UIDValidity: f.Status.UIDValidity},
		Options:      f.Options,
		Refused:      f.Plan.Refused,
		VoidedStatus: f.Plan.VoidedStatus,
	}
	if f.Identities != nil {
		o.Identities = &journal.ObservedIdentities{Remote: f.Identities.Remote, Local: f.Identities.Local}
	}
	for _, m := range f.Remote.Msgs {
		fl, err := parseFlags(fmt.Sprintf("folder %s remote uid %d", f.Name, m.UID), m.Flags)
		if err != nil {
			return o, err
		}
		o.Remote.Msgs = append(o.Remote.Msgs, model.RemoteMsg{UID: m.UID, Flags: fl, Size: m.Size, InternalDate: model.DateOf(m.Date)})
	}
	for _, m := range f.Local.Msgs {
		fl, err := parseFlags(fmt.Sprintf("folder %s local key %s", f.Name, m.Key), m.Flags)
		if err != nil {
			return o, err
		}
		o.Local.Msgs = append(o.Local.Msgs, model.LocalMsg{Key: m.Key, UID: m.UID, FMD5: m.FMD5, Flags: fl, Size: m.Size,
			FromUID: m.FromUID, Date: model.DateOf(m.Date)})
	}
	for _, r := range f.Status.Rows {
		fl, err := parseFlags(fmt.Sprintf("folder %s status uid %d", f.Name, r.UID), r.Flags)
		if err != nil {
			return o, err
		}
		o.Status.Rows = append(o.Status.Rows, model.StatusRow{UID: r.UID, Key: r.Key, Flags: fl})
	}
	sort.Slice(o.Status.Rows, func(i, j int) bool { return o.Status.Rows[i].UID < o.Status.Rows[j].UID })
	for i, op := range f.Plan.Ops {
		mop, err := op.ToOp()
		if err != nil {
			return o, fmt.Errorf("folder %s: plan op %d: %w", f.Name, i+1, err)
		}
		o.Ops = append(o.Ops, mop)
	}
	return o, nil
}

// FolderFromObservation is the bundle form of an observation; msgs and
// results, when not nil, are per op of obs.Ops.
func FolderFromObservation(obs journal.Observation, msgs []*journal.MsgInfo, results []Result) (Folder, error) {
	f := Folder{
		Name:    obs.Folder,
		Options: obs.Options,
		Remote: Remote{Exists: obs.Remote.Exists, UIDValidity: obs.Remote.Status.UIDValidity, UIDNext: obs.Remote.Status.UIDNext,
			Messages: obs.Remote.Status.Messages, HighestModSeq: obs.Remote.Status.HighestModSeq, Msgs: []RemoteMsg{}},
		Local:   Local{Exists: obs.Local.Exists, FMD5: obs.Local.FMD5, Msgs: []LocalMsg{}},
		Status:  Status{UIDValidity: obs.Status.UIDValidity, Rows: []StatusRow{}},
		Plan:    Plan{Refused: obs.Refused, VoidedStatus: obs.VoidedStatus, Ops: []Op{}},
		Results: results,
	}
	if obs.Identities != nil {
		f.Identities = &Identities{Remote: obs.Identities.Remote, Local: obs.Identities.Local}
	}
	for _, m := range obs.Remote.Msgs {
		f.Remote.Msgs = append(f.Remote.Msgs, RemoteMsg{UID: m.UID, Flags: m.Flags.Maildir(), Size: m.Size, Date: m.InternalDate.Time()})
	}
	for _, m := range obs.Local.Msgs {
		f.Local.Msgs = append(f.Local.Msgs, LocalMsg{Key: m.Key, UID: m.UID, FMD5: m.FMD5, Flags: m.Flags.Maildir(), Size: m.Size,
			FromUID: m.FromUID, Date: m.Date.Time()})
	}
	for _, r := range obs.Status.Rows {
		f.Status.Rows = append(f.Status.Rows, StatusRow{UID: r.UID, Key: r.Key, Flags: r.Flags.Maildir()})
	}
	for i, op := range obs.Ops {
		var msg *journal.MsgInfo
		if i < len(msgs) {
			msg = msgs[i]
		}
		bop, err := FromOp(op, msg)
		if err != nil {
			return f, err
		}
		f.Plan.Ops = append(f.Plan.Ops, bop)
	}
	return f, nil
}

// Write writes b as indented JSON.
func (b *Bundle) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	return enc.Encode(b)
}

// Read reads and checks a bundle.
func Read(r io.Reader) (*Bundle, error) {
	var b Bundle
	dec := json.NewDecoder(r)
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("not a replay bundle: %w", err)
	}
	switch {
	case b.Format != Format:
		return nil, fmt.Errorf("not a replay bundle (format %q, want %q)", b.Format, Format)
	case b.Version < 1:
		return nil, fmt.Errorf("replay bundle without a version")
	case b.Version > Version:
		return nil, fmt.Errorf("replay bundle version %d is newer than this mailtrail reads (%d); upgrade", b.Version, Version)
	}
	for _, f := range b.Folders {
		if _, err := f.Observation(); err != nil {
			return nil, fmt.Errorf("replay bundle: %w", err)
		}
	}
	return &b, nil
}

// ReadFile reads a bundle from a file.
func ReadFile(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}
