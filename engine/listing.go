package engine

import (
	"context"
	"errors"
	"slices"

	"mailtrail/adapters"
	"mailtrail/model"
)

// listRemote lists a selected server folder for the planner. When the
// status rows are known to be the server's state as of HIGHESTMODSEQ
// since, only what changed after it is asked for (adapters.ChangeLister):
// every UID, and the flags, size and date of the messages added or
// re-flagged since; the others are as their status rows say. Otherwise,
// and whenever anything does not add up, the folder is listed in full.
//
// since comes from one of two places. A folder's no-change record
// (journal.FolderMeta.HighestModSeq) is written only after a plan that
// found nothing to do, when the rows were both sides' state, and the
// journal forgets it as soon as a checkpoint changes the rows otherwise.
// The verification after a sync (verifyAll) uses the HIGHESTMODSEQ its
// plan was made at: a message whose modification sequence is still at
// most that was not re-flagged by the sync (a flag change made on the
// server would have raised it), so its row holds the flags it had then,
// which the plan recorded as they were.
//
// The messages listed from their rows have no size or date, which the
// planner needs only for messages that changed (new ones, or re-flagged
// ones it might download again) and for a maxage/maxsize window; with a
// window, or a read-only side (where a row may record flags the server
// never got), the folder is listed in full.
//
// pre, when not nil, is what the folder's open listed already
// (openListing), used in place of asking again.
func (a *Account) listRemote(ctx context.Context, rf adapters.RemoteFolder, st model.FolderStatus, since uint64, pre *adapters.Changes) ([]model.RemoteMsg, error) {
	cl, ok := rf.(adapters.ChangeLister)
	status := rf.Status()
	if !ok || !a.mayMergeChanges(st, status, since) {
		return rf.List(ctx)
	}
	var uids []uint32
	var changed []model.RemoteMsg
	if pre != nil {
		uids, changed = pre.UIDs, pre.Changed
	} else {
		var err error
		if uids, changed, err = cl.ListChanges(ctx, since); err != nil {
			a.Log.Debug().Err(err).Str("folder", status.Name).Msg("listing only the changes failed: listing in full")
			return rf.List(ctx)
		}
	}
	if out, ok := a.mergeChanges(st, status, since, uids, changed); ok {
		return out, nil
	}
	return rf.List(ctx)
}

// mayMergeChanges reports whether a folder whose status rows are st and
// whose server status is status may be listed by what changed since since
// (listRemote).
func (a *Account) mayMergeChanges(st model.FolderStatus, status model.RemoteFolderStatus, since uint64) bool {
	return since != 0 && status.HighestModSeq != 0 && since <= status.HighestModSeq && st.UIDValidity == status.UIDValidity &&
		a.mayListChanges()
}

// mergeChanges is listRemote's listing made of the status rows and what
// changed since since (every UID, and the changed messages); false when
// they do not add up and the folder must be listed in full.
func (a *Account) mergeChanges(st model.FolderStatus, status model.RemoteFolderStatus, since uint64, uids []uint32, changed []model.RemoteMsg) ([]model.RemoteMsg, bool) {
	out := make([]model.RemoteMsg, 0, len(uids)+len(changed))
	c, next := 0, 0 // next: the row after the last one found
	for _, uid := range uids {
		for c < len(changed) && changed[c].UID < uid {
			out = append(out, changed[c]) // arrived after the UID search
			c++
		}
		if c < len(changed) && changed[c].UID == uid {
			out = append(out, changed[c])
			c++
			continue
		}
		row, at, ok := st.Rows.GetNear(uid, next)
		next = at + 1
		if !ok {
			// Unchanged since, yet unknown: the rows are not what since
			// vouches for.
			a.Log.Debug().Str("folder", status.Name).Uint32("uid", uid).Msg("an unchanged message has no status row: listing in full")
			return nil, false
		}
		out = append(out, model.RemoteMsg{UID: uid, Flags: row.Flags})
	}
	out = append(out, changed[c:]...)
	a.Log.Debug().Str("folder", status.Name).Int("messages", len(out)).Int("changed", len(changed)).Uint64("since", since).
		Msg("listed the changes since the last sync")
	return slices.Clip(out), true
}

// mayListChanges reports whether the planner's options let a folder be
// listed by its changes only (listRemote).
func (a *Account) mayListChanges() bool {
	return !a.Planner.Reset && a.Planner.Window.Empty() && !a.Planner.RemoteReadOnly && !a.Planner.LocalReadOnly
}

// openListing opens a server folder, selected or (readOnly) only looked at
// (lookAt), and where the Remote can (adapters.ChangeOpener) lists what
// changed in it since since with the same round trip, for listRemote; the
// changes are nil otherwise, or when since is 0 or the options want a
// full listing.
func (a *Account) openListing(ctx context.Context, name string, readOnly bool, since uint64) (adapters.RemoteFolder, *adapters.Changes, error) {
	if co, ok := a.Remote.(adapters.ChangeOpener); ok && since != 0 && a.mayListChanges() {
		rf, changes, err := co.OpenWithChanges(ctx, name, readOnly, since)
		if !errors.Is(err, adapters.ErrUnsupported) {
			return rf, changes, err
		}
	}
	var rf adapters.RemoteFolder
	var err error
	if readOnly {
		rf, err = a.lookAt(ctx, name)
	} else {
		rf, err = a.Remote.SelectFolder(ctx, name)
	}
	return rf, nil, err
}
