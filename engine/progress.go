package engine

import (
	"github.com/rs/zerolog"

	"mailtrail/model"
)

// Phase is what a sync is doing with a folder.
type Phase string

const (
	// PhasePlan: the folder is being observed (server listing, local scan)
	// and planned.
	PhasePlan Phase = "plan"
	// PhaseExecute: the plan is being carried out; Event.Op, Done and
	// Total say how far.
	PhaseExecute Phase = "execute"
	// PhaseDone: the folder is finished, successfully or not.
	PhaseDone Phase = "done"
)

// Event is one step of an account's sync, for a progress display
// (Account.Progress).
type Event struct {
	Account string
	Folder  string
	Phase   Phase
	// Op is the kind of operation being carried out (PhaseExecute); Done
	// of the folder's Total operations of that kind are done (checkpointed).
	Op          model.OpKind
	Done, Total int
	// Planned is the number of operations planned for the folder
	// (PhaseExecute and PhaseDone).
	Planned int
	// Failed is true on PhaseDone when the folder did not sync cleanly.
	Failed bool
}

// progress reports an event when Account.Progress is set, and logs it
// at debug level (OfflineIMAP's -d thread: folders started and finished,
// in parallel).
func (a *Account) progress(ev Event) {
	if e := a.Log.Debug(); e.Enabled() {
		e = e.Str("folder", ev.Folder).Str("phase", string(ev.Phase))
		if ev.Phase == PhaseExecute {
			e = e.Stringer("op", ev.Op).Int("done", ev.Done).Int("total", ev.Total)
		}
		e.Msg("folder progress")
	}
	if a.Progress == nil {
		return
	}
	ev.Account = a.Name
	a.Progress(ev)
}

// folderProgress is the executor's progress callback for one folder
// whose plan is ops: after each checkpoint it reports how many operations
// of a kind are done, out of the plan's. Nil without Account.Progress. It
// first reports the start of the execution.
func (a *Account) folderProgress(folder string, ops []model.Op) func(kind model.OpKind, done int) {
	if (a.Progress == nil && a.Log.GetLevel() > zerolog.DebugLevel) || len(ops) == 0 {
		return nil
	}
	total := map[model.OpKind]int{}
	for _, op := range ops {
		total[op.Kind]++
	}
	a.progress(Event{Folder: folder, Phase: PhaseExecute, Op: ops[0].Kind, Total: total[ops[0].Kind], Planned: len(ops)})
	return func(kind model.OpKind, done int) {
		a.progress(Event{Folder: folder, Phase: PhaseExecute, Op: kind, Done: done, Total: max(total[kind], done), Planned: len(ops)})
	}
}

// folderDone reports that a folder is finished.
func (a *Account) folderDone(fr *FolderReport) {
	a.progress(Event{Folder: fr.Name, Phase: PhaseDone, Planned: fr.PlannedOps(), Failed: !fr.OK()})
}
