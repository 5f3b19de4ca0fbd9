package planner

import (
	"fmt"
	"slices"
	"sort"

	"mailtrail/model"
)

// RemoteState is one server folder as observed.
type RemoteState struct {
	Exists bool
	Status model.RemoteFolderStatus
	Msgs   []model.RemoteMsg
}

// LocalState is one local folder as observed.
type LocalState struct {
	Exists bool
	// FMD5 is the md5 hex that local file names carry for this folder; a
	// file whose ",FMD5=" differs has a UID that belongs to another folder.
	FMD5 string
	Msgs []model.LocalMsg
}

// Input is everything the planner knows about one folder pair.
type Input struct {
	Folder string // canonical name
	Remote RemoteState
	Local  LocalState
	Status model.FolderStatus
	// Identities, when set, identify messages by content for a folder
	// whose UIDs cannot be trusted (see NeedsIdentities).
	Identities *Identities
}

// Options change what a plan may do.
type Options struct {
	// CreateRemoteFolders allows creating on the server a folder that only
	// exists locally (OfflineIMAP's createfolders on the remote repository).
	CreateRemoteFolders bool
	// CreateLocalFolders allows creating locally a folder that only exists
	// on the server (createfolders on the local repository).
	CreateLocalFolders bool
	// RemoteReadOnly and LocalReadOnly forbid every change to that side
	// (OfflineIMAP's readonly). Changes the other side would need stay
	// pending: the status keeps what both sides last agreed on.
	RemoteReadOnly bool
	LocalReadOnly  bool
	// Guard, when set, refuses a plan that deletes too much on one side
	// (maxdelete). Nil: no limit (--force).
	Guard *DeleteGuard
	// Reset re-pairs the folder's messages by identity, whatever the
	// status says (reset-folder): nothing is deleted on either side.
	Reset bool
	// Window leaves messages out of the sync by date and size (maxage,
	// maxsize, startdate).
	Window Window
}

// Plan is the outcome for one folder pair: either operations, or a refusal
// that explains why nothing may be done.
type Plan struct {
	Folder string
	Ops    []model.Op
	// Refused, when not empty, says in plain words why the folder is not
	// synced; Ops is then empty.
	Refused string
	// VoidedStatus is true when the status was set aside because one side
	// vanished; the plan then treats both sides as new to each other.
	VoidedStatus bool
	// Guarded is true when Options.Guard refused the plan.
	Guarded bool
	// NeedsReset is true when the folder was refused because its UIDs can
	// no longer be trusted and too few messages could be re-paired:
	// reset-folder is the way out.
	NeedsReset bool
}

// Counts tallies a plan's operations by kind.
func (p Plan) Counts() map[model.OpKind]int {
	c := map[model.OpKind]int{}
	for _, op := range p.Ops {
		c[op.Kind]++
	}
	return c
}

// PlanFolder plans the sync of one folder pair.
func PlanFolder(in Input, opt Options) Plan {
	in = applyWindow(in, opt.Window)
	p := Plan{Folder: in.Folder}
	st := in.Status
	switch {
	case !in.Remote.Exists && !in.Local.Exists:
		if st.UIDValidity != 0 || st.Rows.Len() > 0 {
			for _, row := range st.Rows.All() {
				p.Ops = append(p.Ops, model.Op{Kind: model.OpForget, Folder: in.Folder, UID: row.UID,
					Reason: "folder is gone on both sides"})
			}
		}
		return p
	case NeedsIdentities(in, opt) && (in.Identities != nil || !firstMeeting(in, opt)):
		// (A first meeting the engine could not identify is planned by
		// UID below: everything copied, as before identities.)
		return guard(in, rebase(in, opt), opt)
	case in.Remote.Exists && st.UIDValidity != 0 && in.Remote.Status.UIDValidity != st.UIDValidity:
		// The local folder is gone as well: it is created again below and
		// the status voided, so the stale UIDs never count.
	case !in.Local.Exists:
		if !opt.CreateLocalFolders || opt.LocalReadOnly {
			p.Refused = "the folder exists only on the server and the local repository may not create folders (createfolders = no, or readonly)"
			return p
		}
		p.Ops = append(p.Ops, model.Op{Kind: model.OpCreateLocalFolder, Folder: in.Folder,
			Reason: createReason(st, "local")})
		p.VoidedStatus = st.Rows.Len() > 0
		st = model.FolderStatus{Name: st.Name}
	case !in.Remote.Exists:
		if !opt.CreateRemoteFolders || opt.RemoteReadOnly {
			p.Refused = "the folder exists only locally and the remote repository may not create folders (createfolders = no, or readonly)"
			return p
		}
		p.Ops = append(p.Ops, model.Op{Kind: model.OpCreateRemoteFolder, Folder: in.Folder,
			Reason: createReason(st, "remote")})
		p.VoidedStatus = st.Rows.Len() > 0
		st = model.FolderStatus{Name: st.Name}
	}
	p.Ops = append(p.Ops, planMessages(in, st)...)
	p.Ops = dropReadOnly(p.Ops, opt)
	return guard(in, p, opt)
}

// guard applies Options.Guard: a plan that deletes too much is refused
// whole.
func guard(in Input, p Plan, opt Options) Plan { return guardMoved(in, p, opt, 0) }

// guardMoved is guard, movedOut of the folder's local deletions having
// been found to be moves into other folders (guardDeletes).
func guardMoved(in Input, p Plan, opt Options, movedOut int) Plan {
	if opt.Guard == nil || p.Refused != "" {
		return p
	}
	if msg := guardDeletes(in, p.Ops, *opt.Guard, movedOut); msg != "" {
		p.Refused, p.Ops, p.VoidedStatus, p.Guarded = msg, nil, false, true
	}
	return p
}

// CheckGuard applies Options.Guard to a plan made without it and changed
// since (the engine turns some deletions into moves first: movedOut of
// them): a plan that still deletes too much is refused whole.
func CheckGuard(in Input, p Plan, opt Options, movedOut int) Plan {
	return guardMoved(applyWindow(in, opt.Window), p, opt, movedOut)
}

// changesRemote and changesLocal say which side an operation writes to.
func changesRemote(k model.OpKind) bool {
	return k == model.OpUpload || k == model.OpStoreRemote || k == model.OpExpungeRemote || k == model.OpCreateRemoteFolder
}

func changesLocal(k model.OpKind) bool {
	return k == model.OpFetch || k == model.OpSetLocalFlags || k == model.OpDeleteLocal || k == model.OpCreateLocalFolder
}

// dropReadOnly removes operations that would write to a read-only side, and
// the status updates of the messages they concern: recording flags that one
// side does not have would later read as a change made on that side.
func dropReadOnly(ops []model.Op, opt Options) []model.Op {
	if !opt.RemoteReadOnly && !opt.LocalReadOnly {
		return ops
	}
	blockedUID := map[uint32]bool{}
	blockedKey := map[string]bool{}
	keep := ops[:0:0]
	for _, op := range ops {
		if (opt.RemoteReadOnly && changesRemote(op.Kind)) || (opt.LocalReadOnly && changesLocal(op.Kind)) {
			if op.UID != 0 {
				blockedUID[op.UID] = true
			}
			if op.Key != "" {
				blockedKey[op.Key] = true
			}
			continue
		}
		keep = append(keep, op)
	}
	out := keep[:0]
	for _, op := range keep {
		if op.Kind == model.OpPair && (blockedUID[op.UID] || blockedKey[op.Key]) {
			continue
		}
		out = append(out, op)
	}
	return out
}

func createReason(st model.FolderStatus, side string) string {
	if st.Rows.Len() > 0 {
		return fmt.Sprintf("the %s folder vanished although %d messages were synced in it: recreating it and copying "+
			"the messages back instead of deleting them on the other side", side, st.Rows.Len())
	}
	if side == "local" {
		return "new folder on the server"
	}
	return "new local folder"
}

// planMessages applies the rule table to every message of the pair. st is the
// status to plan against (empty when it was voided).
func planMessages(in Input, st model.FolderStatus) []model.Op {
	folder := in.Folder
	ix := index(in)
	usedRemote := make([]bool, ix.remoteCount()) // by rank
	usedLocal := make([]bool, ix.localCount())

	var fetch, upload, flags, deletes, book []model.Op

	pair := func(uid uint32, key string, merged model.Flags, r model.RemoteMsg, l model.LocalMsg, row *model.StatusRow, why string) {
		// A row of this key whose flags only one side changed: the one
		// flag operation records the new flags itself (recordsRow),
		// instead of an OpPair after it: a folder marked read on one side
		// is one operation per message, not two.
		recordsRow := row != nil && row.Key == key && row.Flags != merged && (r.Flags == merged) != (l.Flags == merged)
		if r.Flags != merged {
			op := model.Op{Kind: model.OpStoreRemote, Folder: folder, UID: uid,
				Add: merged &^ r.Flags, Remove: r.Flags &^ merged, Flags: merged, Reason: why}
			if recordsRow {
				op.RecordsRow, op.Key = true, key
			}
			flags = append(flags, op)
		}
		if l.Flags != merged {
			flags = append(flags, model.Op{Kind: model.OpSetLocalFlags, Folder: folder, UID: uid, Key: key,
				Flags: merged, RecordsRow: recordsRow, Reason: why})
		}
		if !recordsRow && (row == nil || row.Flags != merged || row.Key != key) {
			reason := "record the flags both sides now have"
			if row == nil {
				reason = "the local file already carries this UID: pair them without copying"
			} else if row.Key != key {
				reason = "the local file was renamed by another program"
			}
			book = append(book, model.Op{Kind: model.OpPair, Folder: folder, UID: uid, Key: key, Flags: merged,
				Reason: reason})
		}
	}

	for _, row := range st.Rows.All() {
		uid := row.UID
		ri, rok := ix.remoteRank(uid)
		li, lok := ix.localRank(row.Key)
		if !lok {
			if k, ok := ix.localRankByUID(uid); ok && !usedLocal[k] {
				li, lok = k, true
			}
		}
		var l model.LocalMsg
		if lok {
			l = ix.localMsg(li)
			// A file already used, or one whose name now carries another
			// UID of this folder (it was uploaded again after a crash), is
			// not this row's message any more.
			if usedLocal[li] || (l.UID != 0 && l.UID != uid && l.FMD5 == in.Local.FMD5 && ix.claims(l.UID, li)) {
				lok = false
			}
		}
		switch {
		case rok && lok:
			usedRemote[ri], usedLocal[li] = true, true
			r := ix.remoteMsg(ri)
			merged := Merge(row.Flags, r.Flags, l.Flags)
			pair(uid, l.Key, merged, r, l, &row, mergeReason(row.Flags, r.Flags, l.Flags))
		case rok && !lok:
			usedRemote[ri] = true
			r := ix.remoteMsg(ri)
			if !onlyMarkedDeleted(row.Flags, r.Flags) {
				fetch = append(fetch, model.Op{Kind: model.OpFetch, Folder: folder, UID: uid, Flags: r.Flags, Size: r.Size,
					Reason: "deleted locally, but its flags changed on the server since the last sync: keeping it"})
			} else {
				deletes = append(deletes, model.Op{Kind: model.OpExpungeRemote, Folder: folder, UID: uid, Key: row.Key,
					Reason: "deleted locally since the last sync"})
			}
		case !rok && lok:
			usedLocal[li] = true
			if !onlyMarkedDeleted(row.Flags, l.Flags) {
				upload = append(upload, model.Op{Kind: model.OpUpload, Folder: folder, UID: uid, Key: l.Key, Flags: l.Flags,
					Size: l.Size, MinUID: in.Remote.Status.UIDNext,
					Reason: "expunged on the server, but its flags changed locally since the last sync: keeping it"})
			} else {
				deletes = append(deletes, model.Op{Kind: model.OpDeleteLocal, Folder: folder, UID: uid, Key: l.Key,
					Reason: "expunged on the server since the last sync"})
			}
		default:
			book = append(book, model.Op{Kind: model.OpForget, Folder: folder, UID: uid,
				Reason: "gone on both sides"})
		}
	}

	for _, m := range in.Remote.Msgs {
		ri, _ := ix.remoteRank(m.UID)
		if usedRemote[ri] {
			continue
		}
		usedRemote[ri] = true
		if k, ok := ix.localRankByUID(m.UID); ok && !usedLocal[k] {
			usedLocal[k] = true
			l := ix.localMsg(k)
			// No common ancestor: keep every flag either side has.
			merged := m.Flags | l.Flags
			pair(m.UID, l.Key, merged, m, l, nil, "paired without a status row: keeping the flags of both sides")
			continue
		}
		fetch = append(fetch, model.Op{Kind: model.OpFetch, Folder: folder, UID: m.UID, Flags: m.Flags, Size: m.Size,
			Reason: "new on the server"})
	}

	for li, used := range usedLocal {
		if used {
			continue
		}
		l := ix.localMsg(li)
		upload = append(upload, model.Op{Kind: model.OpUpload, Folder: folder, Key: l.Key, Flags: l.Flags, Size: l.Size,
			MinUID: in.Remote.Status.UIDNext, Reason: "new local message"})
	}

	sortOps(fetch)
	sortOps(upload)
	sortOps(flags)
	sortOps(deletes)
	sortOps(book)
	// Appended to fetch: a cold sync's plan is all fetches, and is not
	// copied.
	out := slices.Grow(fetch, len(upload)+len(flags)+len(deletes)+len(book))
	out = append(out, upload...)
	out = append(out, flags...)
	out = append(out, deletes...)
	out = append(out, book...)
	return out
}

// onlyMarkedDeleted reports whether a message's flags are those of the
// status, give or take an added \Deleted (Maildir T): no change that would
// make a deletion on the other side lose something. A mark for deletion
// agrees with the deletion instead of overruling it; and expunging on the
// server sets \Deleted before UID EXPUNGE, so a run interrupted between
// the two leaves exactly this, which must not bring the message back.
func onlyMarkedDeleted(status, now model.Flags) bool {
	return now == status || now == status|model.Deleted
}

// Merge is the three-way flag merge: each side's additions and removals
// since the status are applied to the status. An addition on one side and
// a removal on the other cannot concern the same flag (one needs it absent
// from the status, the other present), so the result is well defined.
func Merge(status, remote, local model.Flags) model.Flags {
	added := (remote &^ status) | (local &^ status)
	removed := (status &^ remote) | (status &^ local)
	return (status | added) &^ removed
}

func mergeReason(status, remote, local model.Flags) string {
	switch {
	case remote != status && local != status:
		return fmt.Sprintf("flags changed on both sides (was %s, server %s, local %s)", status, remote, local)
	case remote != status:
		return fmt.Sprintf("flags changed on the server (%s -> %s)", status, remote)
	case local != status:
		return fmt.Sprintf("flags changed locally (%s -> %s)", status, local)
	}
	return "flags unchanged"
}

// sortOps orders operations of one group by kind, then UID, then key.
func sortOps(ops []model.Op) {
	sort.SliceStable(ops, func(i, j int) bool {
		a, b := ops[i], ops[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.UID != b.UID {
			return a.UID < b.UID
		}
		return a.Key < b.Key
	})
}
