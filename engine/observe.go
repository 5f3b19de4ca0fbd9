package engine

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"

	"mailtrail/adapters"
	"mailtrail/executor"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// This file is the engine's part of "the journal as a product": naming the
// messages a plan touches (for previews and the audit), and recording what
// each run observed so that a bug report can be replayed.

// headerFields are the only header fields read to name a message.
var headerFields = []string{"Message-ID", "Subject", "From", "Date"}

// IsDeletion reports whether op removes a message from one side.
func IsDeletion(op model.Op) bool {
	return op.Kind == model.OpExpungeRemote || op.Kind == model.OpDeleteLocal
}

// describedBy says where an operation's message can be read: on the server
// (by UID) or in the local folder (by key); neither for bookkeeping.
func describedBy(op model.Op) (remote, local bool) {
	switch op.Kind {
	case model.OpFetch, model.OpStoreRemote, model.OpExpungeRemote:
		return true, false
	case model.OpUpload, model.OpSetLocalFlags, model.OpDeleteLocal:
		return false, true
	}
	return false, false
}

// namedFromBytes: downloads and uploads are named by the executor from
// the bytes they move (their done record carries the name), not read
// beforehand: reading every header of a cold sync first would cost a
// second pass over the mailbox.
func namedFromBytes(k model.OpKind) bool { return k == model.OpFetch || k == model.OpUpload }

// describePlan names the messages of the plan's operations: in a dry run
// only the deletions (a preview lists those), in a real run every
// operation that changes a message (the journal keeps them for the audit),
// but downloads and uploads (namedFromBytes).
// A failure to read a header is logged and leaves that message unnamed:
// naming is for people, never a reason not to sync.
func (a *Account) describePlan(ctx context.Context, p *executor.Pair, in planner.Input, plan planner.Plan) []journal.MsgInfo {
	if plan.Refused != "" || len(plan.Ops) == 0 {
		return nil
	}
	want := func(_ int, op model.Op) bool {
		r, l := describedBy(op)
		return (r || l) && !namedFromBytes(op.Kind)
	}
	if a.DryRun {
		want = func(_ int, op model.Op) bool { return IsDeletion(op) }
	}
	known := a.journalNames(in, plan, want)
	if p.RemoteFolder == nil && in.Remote.Exists {
		// Planned from a survey: the server folder is opened only when a
		// message must be named from its headers there.
		for i, op := range plan.Ops {
			_, named := known[i]
			if r, _ := describedBy(op); r && op.UID != 0 && want(i, op) && !named {
				if err := a.openForPlan(ctx, p, in.Remote.Status); err != nil {
					a.Log.Warn().Str("folder", in.Folder).Err(err).Msg("could not open the server folder to name the messages in the plan")
					if p.RemoteFolder != nil {
						p.RemoteFolder.Close() // the execution selects it again, and checks it
						p.RemoteFolder = nil
					}
				}
				break
			}
		}
	}
	msgs, err := Describe(ctx, p.RemoteFolder, p.LocalFolder, plan.Ops, func(i int, op model.Op) bool {
		_, ok := known[i]
		return want(i, op) && !ok
	})
	if err != nil {
		a.Log.Warn().Str("folder", in.Folder).Err(err).Msg("could not read the headers of the messages in the plan")
	}
	if msgs == nil && len(known) > 0 {
		msgs = make([]journal.MsgInfo, len(plan.Ops))
	}
	for i, info := range known {
		msgs[i] = info
	}
	if msgs == nil {
		return nil
	}
	datedByServer(in.Remote.Msgs, plan.Ops, msgs, want)
	return msgs
}

// datedByServer dates, by their internal date, the named messages of the
// server's side that want selects and whose header had no Date. It keeps
// only the dates of those messages while it looks for them: the listing
// of a large folder can hold 100,000 messages of which a plan touches a few.
func datedByServer(listing []model.RemoteMsg, ops []model.Op, msgs []journal.MsgInfo, want func(int, model.Op) bool) {
	undated := func(i int, op model.Op) bool {
		r, _ := describedBy(op)
		return r && msgs[i].Date.IsZero() && want(i, op)
	}
	var dates map[uint32]model.Date
	for i, op := range ops {
		if undated(i, op) {
			if dates == nil {
				dates = map[uint32]model.Date{}
			}
			dates[op.UID] = 0
		}
	}
	if dates == nil {
		return
	}
	for _, m := range listing {
		if _, ok := dates[m.UID]; ok {
			dates[m.UID] = m.InternalDate
		}
	}
	for i, op := range ops {
		if undated(i, op) {
			msgs[i].Date = dates[op.UID].Time()
		}
	}
}

// namedByRow: operations on a message of the status, whose UID is its
// status row's.
func namedByRow(k model.OpKind) bool {
	return k == model.OpStoreRemote || k == model.OpSetLocalFlags || k == model.OpExpungeRemote || k == model.OpDeleteLocal
}

// journalNames names, by op index, the messages of the plan's operations
// that want selects from what the journal recorded when they were
// downloaded or uploaded (journal.MessageNames): no header is read for
// them, on the server or in the folder. Only while the status rows are the
// server folder's (same UIDVALIDITY, not voided by the plan); a failure
// names nothing (the headers are read instead).
func (a *Account) journalNames(in planner.Input, plan planner.Plan, want func(int, model.Op) bool) map[int]journal.MsgInfo {
	if a.Journal == nil || plan.VoidedStatus || in.Status.UIDValidity == 0 || in.Status.UIDValidity != in.Remote.Status.UIDValidity {
		return nil
	}
	var ops []int // the indexes of the operations asked about
	var uids []uint32
	for i, op := range plan.Ops {
		if want(i, op) && namedByRow(op.Kind) && op.UID != 0 {
			if in.Status.Rows.Has(op.UID) {
				ops = append(ops, i)
				uids = append(uids, op.UID)
			}
		}
	}
	if len(uids) == 0 {
		return nil
	}
	names, err := a.Journal.MessageNames(in.Folder, uids)
	if err != nil {
		a.Log.Debug().Str("folder", in.Folder).Err(err).Msg("journal: could not read the names of the plan's messages; reading their headers")
		return nil
	}
	known := map[int]journal.MsgInfo{}
	for _, i := range ops {
		if info, ok := names[plan.Ops[i].UID]; ok {
			known[i] = info
		}
	}
	return known
}

// Describe reads Message-ID, Subject, From and Date of the message of each
// op that want selects (by index and op; only those header fields, only
// those messages) and
// returns them by op index. Ops whose message cannot be read get a zero
// MsgInfo; the error is the first failure.
func Describe(ctx context.Context, rf adapters.RemoteFolder, lf adapters.LocalFolder, ops []model.Op, want func(int, model.Op) bool) ([]journal.MsgInfo, error) {
	// Allocated only when some message is to be named: a cold sync names
	// none beforehand (namedFromBytes), and holds one entry per message.
	var out []journal.MsgInfo
	for i, op := range ops {
		if want(i, op) {
			out = make([]journal.MsgInfo, len(ops))
			break
		}
	}
	if out == nil {
		return nil, nil
	}
	byUID := map[uint32][]int{}
	var uids []uint32
	var firstErr error
	for i, op := range ops {
		if !want(i, op) {
			continue
		}
		remote, local := describedBy(op)
		switch {
		case remote && rf != nil && op.UID != 0:
			if byUID[op.UID] == nil {
				uids = append(uids, op.UID)
			}
			byUID[op.UID] = append(byUID[op.UID], i)
		case local && lf != nil && op.Key != "":
			hr, ok := lf.(adapters.HeaderReader)
			if !ok && !IsDeletion(op) {
				// Without a header reader the whole file would be read
				// (OpenForUpload): only a deletion is worth it.
				continue
			}
			h, err := localHeader(ctx, lf, hr, op.Key)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			out[i] = ParseMsgInfo(h)
		}
	}
	if len(uids) > 0 {
		sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
		set := func(uid uint32, header []byte) error {
			info := ParseMsgInfo(header)
			for _, i := range byUID[uid] {
				out[i] = info
			}
			return nil
		}
		var err error
		if hf, ok := rf.(adapters.HeaderFetcher); ok {
			err = hf.FetchHeaderFields(ctx, uids, headerFields, set)
		} else {
			err = rf.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
				h, err := readHeader(body)
				if err != nil {
					return err
				}
				return set(m.UID, h)
			})
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

func localHeader(ctx context.Context, lf adapters.LocalFolder, hr adapters.HeaderReader, key string) ([]byte, error) {
	if hr != nil {
		return hr.ReadHeader(ctx, key)
	}
	r, _, _, err := lf.OpenForUpload(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return readHeader(r)
}

func readHeader(r io.Reader) ([]byte, error) { return adapters.ReadHeaderSection(r) }

// ParseMsgInfo is journal.ParseMsgInfo.
func ParseMsgInfo(header []byte) journal.MsgInfo { return journal.ParseMsgInfo(header) }

// recordRefusal journals what the run observed of a folder the planner
// refused (nothing else is journaled for it; a dry run records nothing).
func (a *Account) recordRefusal(run uint64, in planner.Input, plan planner.Plan) {
	if a.DryRun || plan.Refused == "" {
		return
	}
	obs := Observe(in, a.Planner, plan)
	if _, err := a.Journal.AppendObserved(run, &obs, nil, nil); err != nil {
		a.Log.Warn().Str("folder", in.Folder).Err(err).Msg("could not record the observation of a refused folder")
	}
}

// appendIntents journals the plan's operations with the messages they are
// about and, in the same durable batch, what the run observed of the
// folder.
//
// The observation records the planner's own plan for the input (recorded),
// which replay can reproduce; the intents are the operations carried out,
// which may differ by what the engine decides across folders (moves).
func (a *Account) appendIntents(run uint64, in planner.Input, recorded planner.Plan, fr FolderReport) ([]uint64, error) {
	obs := Observe(in, a.Planner, recorded)
	return a.Journal.AppendObserved(run, &obs, fr.Plan.Ops, fr.Msgs)
}

// Observe is the journal's record of a folder's planner input, options and
// plan.
func Observe(in planner.Input, opts planner.Options, plan planner.Plan) journal.Observation {
	o := journal.Observation{
		Folder:       in.Folder,
		Remote:       journal.ObservedRemote{Exists: in.Remote.Exists, Status: in.Remote.Status, Msgs: in.Remote.Msgs},
		Local:        journal.ObservedLocal{Exists: in.Local.Exists, FMD5: in.Local.FMD5, Msgs: in.Local.Msgs},
		Status:       journal.ObservedStatus{UIDValidity: in.Status.UIDValidity, Rows: in.Status.Rows.All()},
		Options:      OptionsMap(opts),
		Ops:          plan.Ops,
		Refused:      plan.Refused,
		VoidedStatus: plan.VoidedStatus,
	}
	if in.Identities != nil {
		o.Identities = &journal.ObservedIdentities{Remote: in.Identities.Remote, Local: in.Identities.Local}
	}
	return o
}

// OptionsMap is planner options by field name; a later mailtrail reads the
// fields it knows and leaves new ones at their zero value.
func OptionsMap(opts planner.Options) map[string]any {
	b, err := json.Marshal(opts)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// Input turns an observation back into the planner's input and options.
func Input(o journal.Observation) (planner.Input, planner.Options, error) {
	in := planner.Input{
		Folder: o.Folder,
		Remote: planner.RemoteState{Exists: o.Remote.Exists, Status: o.Remote.Status, Msgs: o.Remote.Msgs},
		Local:  planner.LocalState{Exists: o.Local.Exists, FMD5: o.Local.FMD5, Msgs: o.Local.Msgs},
		// A copy: StatusRowsOf sorts the rows of a bundle that lists
		// them out of order, and the observation stays as it was.
		Status: model.FolderStatus{Name: o.Folder, UIDValidity: o.Status.UIDValidity, Rows: model.StatusRowsOf(slices.Clone(o.Status.Rows)...)},
	}
	in.Remote.Status.Name = o.Folder
	if o.Identities != nil {
		in.Identities = &planner.Identities{Remote: o.Identities.Remote, Local: o.Identities.Local}
	}
	var opts planner.Options
	if len(o.Options) > 0 {
		b, err := json.Marshal(o.Options)
		if err != nil {
			return in, opts, err
		}
		if err := json.Unmarshal(b, &opts); err != nil {
			return in, opts, err
		}
	}
	return in, opts, nil
}
