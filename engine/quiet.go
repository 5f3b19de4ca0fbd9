package engine

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// The no-change fast path. A folder whose last sync found nothing to do
// records what both sides looked like then: the server's UIDVALIDITY,
// UIDNEXT, MESSAGES and HIGHESTMODSEQ (CONDSTORE), and the local folder's
// stamp (the mtimes of cur/ and new/). While the server's LIST-STATUS
// answer and the local stamp stay exactly those, nothing changed on either
// side (UIDNEXT and HIGHESTMODSEQ only grow; any message added, removed,
// re-flagged or renamed moves them or the stamp), so the folder is neither
// selected nor listed nor scanned — as long as the planner's options are
// those of that sync (a maxage lifted since must bring in what it held
// back). Anything else — a server without
// CONDSTORE, a pending intent, a plan that did something, a stamp taken
// too close to a change — leaves nothing recorded, or something that
// differs next time, and the folder is synced in full.

// quietFolders splits folders into those to sync and those known
// unchanged, which get an empty report.
func (a *Account) quietFolders(ctx context.Context, folders []string, remote map[string]model.RemoteFolderStatus,
	local map[string]bool, known []journal.FolderMeta, pending map[string][]journal.Intent) ([]string, []FolderReport) {
	stamper, ok := a.Local.(adapters.Stamper)
	if !ok || a.Planner.Reset {
		return folders, nil
	}
	meta := make(map[string]journal.FolderMeta, len(known))
	for _, m := range known {
		meta[m.Name] = m
	}
	options := planOptionsID(a.Planner)
	var sync []string
	var quiet []FolderReport
	for _, name := range folders {
		m, r := meta[name], remote[name]
		unchanged := local[name] && len(pending[name]) == 0 &&
			r.UIDValidity == m.UIDValidity && r.UIDNext == m.UIDNext && r.Messages == m.Messages &&
			r.HighestModSeq == m.HighestModSeq && localUnchanged(ctx, stamper, m, options)
		if !unchanged {
			a.Log.Debug().Str("folder", name).Uint64("modseq", m.HighestModSeq).Uint64("server_modseq", r.HighestModSeq).
				Uint32("uidnext", m.UIDNext).Uint32("server_uidnext", r.UIDNext).Uint32("messages", m.Messages).
				Uint32("server_messages", r.Messages).Int("pending", len(pending[name])).Msg("folder synced in full")
			sync = append(sync, name)
			continue
		}
		quiet = append(quiet, FolderReport{Name: name, Done: map[model.OpKind]int{}, Unchanged: true})
	}
	return sync, quiet
}

// localUnchanged is the local half of quietFolders' comparison: m is a
// no-change record (a HIGHESTMODSEQ and a local stamp) made with the
// planner options options, and the folder's stamp is still the recorded
// one (the stamp, two stats, is read last).
func localUnchanged(ctx context.Context, stamper adapters.Stamper, m journal.FolderMeta, options string) bool {
	recorded := adapters.Stamp{m.LocalCurMtime, m.LocalNewMtime}
	if m.HighestModSeq == 0 || recorded == (adapters.Stamp{}) || m.PlanOptions != options {
		return false
	}
	st, err := stamper.FolderStamp(ctx, m.Name)
	return err == nil && st == recorded
}

// recordQuiet records, after a plan with nothing to do, what both sides
// looked like when they were observed, for quietFolders next time. stamp
// is the local folder's as its scan saw it (ok when trusted).
func (a *Account) recordQuiet(in planner.Input, plan planner.Plan, stamp adapters.Stamp, ok bool) {
	if m, quiet := a.quietMeta(in, plan, stamp, ok); quiet {
		a.saveQuiet([]journal.FolderMeta{m})
	}
}

// quietMeta is what recordQuiet records, and whether it records anything.
func (a *Account) quietMeta(in planner.Input, plan planner.Plan, stamp adapters.Stamp, ok bool) (journal.FolderMeta, bool) {
	rs := in.Remote.Status
	if a.DryRun || !ok || len(plan.Ops) > 0 || plan.Refused != "" || !in.Remote.Exists || !in.Local.Exists ||
		rs.HighestModSeq == 0 || (rs.UIDValidity != in.Status.UIDValidity && !(in.Status.UIDValidity == 0 && in.Status.Rows.Len() == 0)) {
		return journal.FolderMeta{}, false
	}
	return journal.FolderMeta{Name: in.Folder, UIDValidity: rs.UIDValidity, UIDNext: rs.UIDNext, Messages: rs.Messages,
		HighestModSeq: rs.HighestModSeq, LocalCurMtime: stamp[0], LocalNewMtime: stamp[1], PlanOptions: planOptionsID(a.Planner),
		Synced: a.Now()}, true
}

// planOptionsID identifies planner options: a hash of their JSON form.
func planOptionsID(opts planner.Options) string {
	b, err := json.Marshal(opts)
	if err != nil {
		return "?"
	}
	h := fnv.New64a()
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// saveQuiet records the metadata of quiet folders in one checkpoint.
func (a *Account) saveQuiet(ms []journal.FolderMeta) {
	if len(ms) == 0 {
		return
	}
	if err := a.Journal.Checkpoint(journal.Checkpoint{Folders: ms}); err != nil {
		a.Log.Warn().Int("folders", len(ms)).Err(err).Msg("could not record the folders as unchanged (they are synced in full next time)")
	}
}

// settleWait bounds how long verifyAll waits, once, for the local folders
// just written to be old enough for their stamps to be trusted (the
// folders' own StampSettles, usually a few milliseconds away by then).
const settleWait = 60 * time.Millisecond

// verifyAll observes and plans again the folders whose plans were just
// carried out without failure: when nothing is left to do in one, the
// state just observed is recorded for the fast path, so that the next
// sync (a no-change sync right after a cold one, typically) skips it.
// Only what this second look saw is recorded, never the state the plan
// expected: a change made by someone else meanwhile shows up here (a plan
// with operations, or values that differ next time), never is skipped.
// The server folders are listed first, then the local ones scanned; those
// written too recently to be stamped are scanned again after one wait.
func (a *Account) verifyAll(ctx context.Context, works []*folderWork) {
	if !a.verifies() {
		return
	}
	var ws []*folderWork
	for _, w := range works {
		if w.verify {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return
	}
	ins := a.observeAllAgain(ctx, ws, a.lastLook(works))
	stamps := make([]adapters.Stamp, len(ws))
	trusted := make([]bool, len(ws))
	scan := func(i int) {
		ss, ok := ws[i].p.LocalFolder.(adapters.ScanStamper)
		if ins[i] == nil || !ok {
			ins[i] = nil
			return
		}
		// A second scan replaces the first: let the first's messages go
		// before it runs, not after.
		ins[i].Local = planner.LocalState{}
		msgs, err := ws[i].p.LocalFolder.Scan(ctx)
		if err != nil {
			ins[i] = nil
			return
		}
		ins[i].Local = planner.LocalState{Exists: true, FMD5: ws[i].p.LocalFolder.FMD5(), Msgs: msgs}
		stamps[i], trusted[i] = ss.ScanStamp()
	}
	parallel(len(ws), max(a.MaxConnections, 1), scan)
	// Our own renames were just now: wait, once, until the folders whose
	// stamps are not trusted yet would be, and scan those again.
	var settles time.Time
	again := 0
	for i := range ws {
		if ins[i] != nil && !trusted[i] {
			again++
			if t := ws[i].p.LocalFolder.(adapters.ScanStamper).StampSettles(); t.After(settles) {
				settles = t
			}
		}
	}
	if again > 0 {
		time.Sleep(min(time.Until(settles), settleWait))
		parallel(len(ws), max(a.MaxConnections, 1), func(i int) {
			if ins[i] != nil && !trusted[i] {
				scan(i)
			}
		})
	}
	var quiet []journal.FolderMeta
	for i := range ws {
		in := ins[i]
		ins[i] = nil
		if in == nil {
			continue
		}
		// The rows, read again once the folder's last scan is done, so
		// that their keys are its strings (observeRemoteAgain read them
		// without keys), and one folder's at a time.
		st, _, err := a.Journal.FolderStatusSharing(in.Folder, scanKeys(in.Local.Msgs))
		if err != nil || st.UIDValidity != in.Status.UIDValidity {
			continue
		}
		in.Status = st
		if m, ok := a.quietMeta(*in, planner.PlanFolder(*in, a.Planner), stamps[i], trusted[i]); ok {
			quiet = append(quiet, m)
		}
	}
	a.saveQuiet(quiet)
}

// verifies reports whether verifyAll looks at the folders executed: not
// in a dry run, and only where the local side has stamps to record.
func (a *Account) verifies() bool {
	_, ok := a.Local.(adapters.Stamper)
	return ok && !a.DryRun
}

// observeAllAgain is observeRemoteAgain of every folder of ws. Where the
// Remote can survey folders (adapters.ChangeSurveyor), the folders whose
// plan had a HIGHESTMODSEQ are looked at together, one round trip per
// connection for all of them instead of one per folder, and with last
// (lastLook) the connections log out in that round trip too
// (adapters.LastSurveyor); a folder the survey could not list by its
// changes is opened and listed on its own.
func (a *Account) observeAllAgain(ctx context.Context, ws []*folderWork, last bool) []*planner.Input {
	ins := make([]*planner.Input, len(ws))
	alone := make([]bool, len(ws))
	for i := range alone {
		alone[i] = true
	}
	if cs, ok := a.changeSurveyor(); ok {
		survey := cs.SurveyChanges
		if ls, ok := cs.(adapters.LastSurveyor); ok && last {
			survey = ls.SurveyChangesLast
		}
		var reqs []adapters.ChangeRequest
		var at []int
		for i, w := range ws {
			switch {
			case listsChanges(w.survey):
				// Made with its last use of the server (surveyAfter).
				ins[i], alone[i] = a.surveyedInput(w, *w.survey)
			case w.planModSeq != 0:
				reqs = append(reqs, adapters.ChangeRequest{Name: w.fr.Name, Since: w.planModSeq})
				at = append(at, i)
			}
		}
		if len(reqs) == 0 && last && !slices.Contains(alone, true) {
			// Every folder was surveyed with its execution: nothing more
			// is asked of the server, and the connections log out now,
			// while the local folders are scanned.
			survey(ctx, nil)
		}
		if len(reqs) > 0 {
			for k, sv := range survey(ctx, reqs) {
				if sv.Err != nil || sv.Changes == nil {
					continue
				}
				i := at[k]
				ins[i], alone[i] = a.surveyedInput(ws[i], sv)
			}
		}
	}
	var rest []int
	for i := range ws {
		if alone[i] {
			rest = append(rest, i)
		}
	}
	a.eachFolder(len(rest), func(k int) { ins[rest[k]] = a.observeRemoteAgain(ctx, ws[rest[k]]) })
	return ins
}

// lastLook reports whether the verification after works is the run's last
// use of the server: the Remote is closed after the run (ClosesRemote),
// and none of works created a folder on the server, after which the
// folders are listed again (Sync) and their parents synced. A folder the
// survey cannot list by its changes is still opened afterwards, on a new
// connection.
func (a *Account) lastLook(works []*folderWork) bool {
	if !a.ClosesRemote {
		return false
	}
	return !slices.ContainsFunc(works, func(w *folderWork) bool { return w.fr.createdRemote() })
}

// surveyedInput is observeRemoteAgain's input made of a survey's listing
// of the changes since the plan; alone when the folder must be opened and
// listed after all (its rows and the changes do not add up).
func (a *Account) surveyedInput(w *folderWork, sv adapters.ChangeSurvey) (in *planner.Input, alone bool) {
	rows, _, err := a.Journal.FolderFlags(w.fr.Name)
	if err != nil {
		return nil, false
	}
	msgs, ok := a.surveyedListing(rows, sv.Status, w.planModSeq, sv.Changes)
	if !ok {
		return nil, true
	}
	return verifyInput(w, rows, sv.Status, msgs), false
}

// verifyInput is the verification's planner input for a folder: the
// server's side as just looked at; the rows' folder and UIDVALIDITY only
// (verifyAll reads the rows again with the local scan).
func verifyInput(w *folderWork, rows model.FolderStatus, status model.RemoteFolderStatus, msgs []model.RemoteMsg) *planner.Input {
	return &planner.Input{Folder: w.fr.Name, Remote: planner.RemoteState{Exists: true, Status: status, Msgs: msgs},
		Status: model.FolderStatus{Name: rows.Name, UIDValidity: rows.UIDValidity}}
}

// observeRemoteAgain reads the folder's status rows and opens (read-only:
// lookAt) and lists the server folder afresh (the status it was selected
// with earlier is stale), only what changed since the plan where it can
// (listRemote); nil when the server cannot vouch for unchanged folders (no
// CONDSTORE) or on any error. The rows are read without their keys, which
// the listing does not need, and the input's status holds none: verifyAll
// reads them again with the local scan, whose key strings they then share
// (a cold sync of 100,000 messages would otherwise hold 5 MB of copies of
// its keys here).
func (a *Account) observeRemoteAgain(ctx context.Context, w *folderWork) *planner.Input {
	rows, _, err := a.Journal.FolderFlags(w.fr.Name)
	if err != nil {
		return nil
	}
	rf, listed, err := a.openListing(ctx, w.fr.Name, true, w.planModSeq, false)
	if err != nil {
		return nil
	}
	defer rf.Close()
	st := rf.Status()
	if st.HighestModSeq == 0 {
		return nil
	}
	msgs, err := a.listRemote(ctx, rf, rows, w.planModSeq, listed)
	if err != nil {
		return nil
	}
	return verifyInput(w, rows, st, msgs)
}
