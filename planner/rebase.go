package planner

import (
	"fmt"
	"sort"

	"mailtrail/model"
)

// Identities name messages by what they are rather than by UID: an equal
// string on both sides means the same message. The engine computes them
// (Message-ID and size, or a content digest where those do not tell
// messages apart) only when UIDs cannot be trusted: after the server
// changed a folder's UIDVALIDITY, and for reset-folder. An empty string
// means "could not be identified".
type Identities struct {
	Remote map[uint32]string
	Local  map[string]string // by local key
}

// NeedsIdentities reports whether planning in needs Input.Identities: the
// server folder's UIDVALIDITY differs from the one the status was recorded
// under, the folder is being reset, or it is a first meeting.
func NeedsIdentities(in Input, opt Options) bool {
	if !in.Remote.Exists || !in.Local.Exists {
		return false
	}
	if opt.Reset || firstMeeting(in, opt) {
		return true
	}
	return in.Status.UIDValidity != 0 && in.Remote.Status.UIDValidity != in.Status.UIDValidity
}

// firstMeeting reports whether in is the first sync of a folder that holds
// messages on both sides, some of whose files name no UID of this server
// folder: a folder renamed on both sides by hand (its files name the old
// folder's UIDs), a Maildir copied in from another program, a status lost
// with files named by another tool. Planned by UID, each such message
// would be new to the other side and copied there: twice on both sides
// after. Paired by identity instead, as a reset does, only what is on one
// side alone is copied; files that name a UID of this folder are paired by
// it first (rebase), which also makes a first meeting interrupted after
// some of its files were named one still. (A folder whose every file names
// this folder's UIDs, as after a lost journal, is planned by UID.) Not
// with a read-only local side, whose file names cannot take the UIDs, nor
// in a reset, which pairs by identity anyway.
func firstMeeting(in Input, opt Options) bool {
	if opt.Reset || opt.LocalReadOnly || in.Status.UIDValidity != 0 || in.Status.Rows.Len() > 0 || len(in.Remote.Msgs) == 0 || len(in.Local.Msgs) == 0 {
		return false
	}
	for _, m := range in.Local.Msgs {
		if m.UID == 0 || m.FMD5 != in.Local.FMD5 {
			return true
		}
	}
	return false
}

// rebase plans a folder whose UIDs can no longer be trusted. Messages are
// re-paired by identity: a local file and a server message with the same
// identity, each unique on its side, become a status row under the new
// UIDVALIDITY, their old row's flags kept as the common ancestor of both
// sides' changes. Everything else is new to the other side (copied, never
// deleted): the old rows that found no partner are dropped.
//
// Without Options.Reset, it re-pairs only when more than half of the
// messages the status knows, and still present locally, are confirmed on
// the server; otherwise it refuses the folder and names reset-folder.
func rebase(in Input, opt Options) Plan {
	p := Plan{Folder: in.Folder}
	st := in.Status
	newUV := in.Remote.Status.UIDValidity
	first := firstMeeting(in, opt)
	if first {
		// Nothing was synced here before: nothing to confirm, nothing
		// to refuse (a read-only side is left as planMessages leaves it).
		opt.Reset = true
	}
	if opt.LocalReadOnly && !first {
		p.Refused = fmt.Sprintf("the server changed the folder's UIDVALIDITY (from %d to %d) and the local repository is "+
			"readonly, so the local file names cannot be re-paired with the new UIDs; nothing was changed", st.UIDValidity, newUV)
		return p
	}
	if in.Identities == nil {
		p.Refused = fmt.Sprintf("the server changed the folder's UIDVALIDITY from %d to %d; nothing was deleted or "+
			"downloaded. Run reset-folder for it", st.UIDValidity, newUV)
		p.NeedsReset = true
		return p
	}
	ids := in.Identities

	// Identities unique on each side.
	uids := make([]uint32, len(in.Remote.Msgs))
	for i, m := range in.Remote.Msgs {
		uids[i] = m.UID
	}
	keys := make([]string, len(in.Local.Msgs))
	for i, m := range in.Local.Msgs {
		keys[i] = m.Key
	}
	remoteBy := unique(uids, ids.Remote)
	localBy := unique(keys, ids.Local)
	remoteFlags := make(map[uint32]model.Flags, len(in.Remote.Msgs))
	for _, m := range in.Remote.Msgs {
		remoteFlags[m.UID] = m.Flags
	}
	rowByKey := make(map[string]model.StatusRow, st.Rows.Len())
	for _, r := range st.Rows.All() {
		rowByKey[r.Key] = r
	}
	present := make(map[string]model.LocalMsg, len(in.Local.Msgs))
	for _, m := range in.Local.Msgs {
		present[m.Key] = m
	}

	known, confirmed := 0, 0
	var rows []model.StatusRow
	// A first meeting's files that name a UID of this folder the server
	// has are that message (as planMessages pairs them), whatever their
	// identity says.
	named := map[string]bool{}
	namedUID := map[uint32]bool{}
	if first {
		for _, key := range sortedKeys(present) {
			l := present[key]
			if _, ok := remoteFlags[l.UID]; ok && l.UID != 0 && l.FMD5 == in.Local.FMD5 && !namedUID[l.UID] {
				named[key], namedUID[l.UID] = true, true
				rows = append(rows, model.StatusRow{UID: l.UID, Key: key, Flags: remoteFlags[l.UID] & l.Flags})
			}
		}
	}
	for _, key := range sortedKeys(present) {
		l := present[key]
		row, hadRow := rowByKey[key]
		if hadRow {
			known++
		}
		if named[key] {
			continue
		}
		id := ids.Local[key]
		if id == "" || localBy[id] != key {
			continue
		}
		uid, ok := remoteBy[id]
		if !ok || namedUID[uid] {
			continue
		}
		ancestor := row.Flags
		if !hadRow {
			// A message new on both sides (or, in a reset, one the status
			// never knew): no common ancestor. The flags both sides share,
			// so that the merge keeps every flag either side has.
			ancestor = remoteFlags[uid] & l.Flags
		} else {
			confirmed++
		}
		rows = append(rows, model.StatusRow{UID: uid, Key: key, Flags: ancestor})
	}
	if !opt.Reset && (known == 0 || confirmed*2 <= known) {
		p.Refused = fmt.Sprintf("the server changed the folder's UIDVALIDITY from %d to %d, and only %d of the %d messages "+
			"synced before could be found again on the server by Message-ID and content, too few to re-pair them "+
			"safely; nothing was deleted or downloaded. Run reset-folder for it: it re-pairs what it can, "+
			"downloads only what is new and uploads (never deletes) the local messages it cannot find",
			st.UIDValidity, newUV, confirmed, known)
		p.NeedsReset = true
		return p
	}

	// Sorted by UID; of two rows for one UID the later (its key sorts
	// last) would win, as in a map filled in this order.
	pairedRows := model.StatusRowsOf(rows...)
	reason := fmt.Sprintf("UIDVALIDITY changed from %d to %d: re-paired by Message-ID and content", st.UIDValidity, newUV)
	switch {
	case first:
		reason = "first sync of a folder with messages on both sides: paired by Message-ID and content, not copied"
	case opt.Reset:
		reason = "reset-folder: re-paired by Message-ID and content"
	}
	p.Ops = append(p.Ops, model.Op{Kind: model.OpRebaseFolder, Folder: in.Folder, Validity: newUV,
		Reason: fmt.Sprintf("%s (%d messages); the old UIDs are forgotten", reason, pairedRows.Len())})
	for _, r := range pairedRows.All() {
		p.Ops = append(p.Ops, model.Op{Kind: model.OpPair, Folder: in.Folder, UID: r.UID, Key: r.Key, Flags: r.Flags,
			Reason: reason})
	}

	// Plan the rest against the re-paired status. The UIDs in local file
	// names belong to the old UIDVALIDITY: they count for nothing.
	rebased := in
	rebased.Status = model.FolderStatus{Name: st.Name, UIDValidity: newUV, Rows: pairedRows}
	rebased.Local.Msgs = make([]model.LocalMsg, len(in.Local.Msgs))
	for i, m := range in.Local.Msgs {
		m.UID = 0
		rebased.Local.Msgs[i] = m
	}
	p.Ops = append(p.Ops, planMessages(rebased, rebased.Status)...)
	p.Ops = dropReadOnly(p.Ops, opt)
	return p
}

// unique maps each identity held by exactly one message of a side to that
// message (its UID or key); an identity two messages share names neither.
func unique[K comparable](keys []K, ids map[K]string) map[string]K {
	seen := map[string]int{}
	by := map[string]K{}
	for _, k := range keys {
		id := ids[k]
		if id == "" {
			continue
		}
		seen[id]++
		by[id] = k
	}
	for id, n := range seen {
		if n > 1 {
			delete(by, id)
		}
	}
	return by
}

func sortedKeys(m map[string]model.LocalMsg) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
