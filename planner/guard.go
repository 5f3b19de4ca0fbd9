package planner

import (
	"fmt"

	"mailtrail/model"
)

// DeleteGuard limits how much of a folder one plan may delete on each side
// (the repositories' maxdelete options). A plan over a limit is refused
// whole, before anything is journaled or changed.
type DeleteGuard struct {
	// RemotePercent and LocalPercent are the largest share, in percent, of
	// the messages a side holds that one plan may delete there. 100 lets
	// every deletion through.
	RemotePercent int
	LocalPercent  int
}

// GuardFloor is how many deletions on one side are always allowed, however
// small the folder: deleting the last three messages of a folder of three
// is ordinary, not a disaster.
const GuardFloor = 5

// guardDeletes returns why the plan deletes too much, or "".
//
// An emptied side is checked first, whenever the side that would lose the
// messages is guarded at all (below 100%): a folder
// that is now empty on one side while the status knows more than
// GuardFloor messages that the other side still holds looks exactly like
// an unmounted disk, a wrong path or a server that lost a folder, and
// mirroring it would delete everything.
//
// movedOut is how many of the folder's local deletions were found to be
// moves into other folders on the server (the engine matches them once
// every folder is planned; 0 from the planner). A server folder emptied
// by moves is no lost folder: when at least as many of its messages were
// found moved as are left to delete, the emptied-side check gives way to
// the share limit, which the deletions left must still pass. (Moved
// messages of one size are not matched, and are downloaded again in
// their new folder: moving a whole folder often leaves a few.)
func guardDeletes(in Input, ops []model.Op, g DeleteGuard, movedOut int) string {
	var remoteDel, localDel int
	for _, op := range ops {
		switch op.Kind {
		case model.OpExpungeRemote:
			remoteDel++
		case model.OpDeleteLocal:
			localDel++
		}
	}
	nRemote, nLocal := len(in.Remote.Msgs), len(in.Local.Msgs)
	if remoteDel > GuardFloor && nLocal == 0 && g.RemotePercent < 100 {
		return fmt.Sprintf("the local folder is empty, but %d messages were synced in it and are still on the server: "+
			"deleting them all on the server looks like an accident (an unmounted disk, a changed localfolders path). "+
			"Nothing was changed. If the folder was emptied on purpose, run again with --max-delete 100 "+
			"(or --force); to download the messages again instead, move the folder aside and sync", remoteDel)
	}
	if localDel > GuardFloor && nRemote == 0 && g.LocalPercent < 100 && movedOut < localDel {
		moved := ""
		if movedOut > 0 {
			moved = fmt.Sprintf(" (besides %d found moved to other folders)", movedOut)
		}
		return fmt.Sprintf("the server folder is empty, but %d messages were synced from it and are still in the local folder%s: "+
			"deleting them all locally looks like a server fault. Nothing was changed. If the folder was emptied on "+
			"purpose, run again with --max-delete 100 (or --force)", localDel, moved)
	}
	if msg := overLimit("on the server", remoteDel, nRemote, g.RemotePercent); msg != "" {
		return msg
	}
	return overLimit("locally", localDel, nLocal, g.LocalPercent)
}

func overLimit(where string, deletes, total, percent int) string {
	if deletes <= GuardFloor || percent >= 100 || total == 0 {
		return ""
	}
	if deletes*100 <= total*percent {
		return ""
	}
	return fmt.Sprintf("this sync would delete %d of the %d messages %s (%d%%), more than maxdelete allows (%d%%). "+
		"Nothing was changed. If that many deletions are meant, run again with --max-delete %d (or --force), "+
		"or raise maxdelete in the repository's section", deletes, total, where, deletes*100/total, percent,
		(deletes*100+total-1)/total)
}
