package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"mailtrail/adapters"
	"mailtrail/executor"
	"mailtrail/journal"
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
	if pre != nil && pre.All {
		return pre.Changed, nil
	}
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

// surveyedListing is listRemote's listing of a folder surveyed
// (adapters.ChangeSurveyor) instead of opened: its rows and the changes
// the survey listed, or nothing for an empty server folder (whatever the
// rows: a full listing would list nothing either); false when the folder
// must be opened and listed in full.
func (a *Account) surveyedListing(st model.FolderStatus, status model.RemoteFolderStatus, since uint64, ch *adapters.Changes) ([]model.RemoteMsg, bool) {
	if status.Messages == 0 && len(ch.UIDs) == 0 && len(ch.Changed) == 0 && status.HighestModSeq != 0 && a.mayListChanges() {
		return []model.RemoteMsg{}, true
	}
	if !a.mayMergeChanges(st, status, since) {
		return nil, false
	}
	return a.mergeChanges(st, status, since, ch.UIDs, ch.Changed)
}

// planSurveyMost is the most messages a folder may hold to be planned from
// a survey. A surveyed folder is opened once more, by its execution, where
// a plan that selects it may keep it selected for the execution; and
// opening a folder costs the server in proportion to its size: Dovecot
// takes 0.3 s for each open of a Maildir folder of 100,000 messages, more
// right after a change (the 1% changed sync of the benchmark's 102,000
// messages, surveyed, spent 282 ms on that second open). Below this, the
// round trip saved is worth more than the second open.
const planSurveyMost = 10000

// warmEarly opens, when what the journal and the local folders alone say
// about the run (look: localWork's answer) shows work for several
// folders, the connections their executions will need while the server
// lists its folders (adapters.Warmer: Warm returns at once), instead of
// after (surveyPlans): with the server 20 ms away that saved 25-30 ms of
// the 1% changed benchmark run. The evidence is a first sync (the journal
// knows no folder), or at least two folders that quietFolders will sync
// whatever the server says. A sync whose only changes are on the server,
// new mail in one folder most often, still logs in once when there is
// nothing to do, and opens more connections only once the listing shows
// more than one folder changed.
func (a *Account) warmEarly(look localLook) {
	w, ok := a.Remote.(adapters.Warmer)
	if !ok || a.MaxConnections < 2 {
		return
	}
	if n := a.connectionsFor(look()); n > 0 {
		w.Warm(n)
	}
}

// ConnectionsWanted is warmEarly's answer, for a caller that can open the
// connections sooner still, while the first one logs in
// (imap.Config.WarmWhileDialling): how many connections the run will
// want by what the journal and the local folders alone say, 0 when they
// do not show work in two folders or more. It needs Journal, Local,
// Planner, MaxConnections and Folders; not Remote.
func (a *Account) ConnectionsWanted(ctx context.Context) int {
	if a.MaxConnections < 2 {
		return 0
	}
	return a.connectionsFor(a.localWork(ctx, a.MaxConnections))
}

// connectionsFor is how many connections the local work (localWork's
// answer) wants opened before the listing: MaxConnections for a first
// sync, one a folder (at most MaxConnections) for two folders or more, 0
// otherwise.
func (a *Account) connectionsFor(l localState) int {
	switch {
	case l.first:
		return a.MaxConnections
	case len(l.work) >= 2:
		return min(len(l.work), a.MaxConnections)
	}
	return 0
}

// localLook is localWork's answer for a run, asked of the journal and the
// local stamps once, when first wanted (lookLocally).
type localLook func() localState

// lookLocally is the run's localLook: enough folders for listFolders'
// looks and warmEarly's connections.
func (a *Account) lookLocally(ctx context.Context) localLook {
	return sync.OnceValue(func() localState {
		return a.localWork(ctx, max(listSurveyMost, a.MaxConnections))
	})
}

// localState is what the journal and the local stamps alone say about a
// run, before the server is asked (localWork).
type localState struct {
	known []journal.FolderMeta // the journal's records of every folder (nil when it could not say)
	work  []journal.FolderMeta // of those, the ones with local work
	first bool                 // a journal that knows no folder: a first sync, where every folder has work
}

// localWork reads the journal's folders and returns, up to most, those of
// the run that quietFolders will sync in full whatever the server's
// status: those without the state its fast path compares (a server
// without CONDSTORE, a folder never verified, other planner options, a
// reset) and those whose local stamp changed since (or that are gone).
func (a *Account) localWork(ctx context.Context, most int) localState {
	known, err := a.Journal.Folders()
	if err != nil {
		return localState{}
	}
	if len(known) == 0 {
		return localState{first: true}
	}
	l := localState{known: known}
	stamper, ok := a.Local.(adapters.Stamper)
	options := planOptionsID(a.Planner)
	for _, m := range known {
		if len(l.work) >= most {
			break
		}
		if !a.named(m.Name) {
			continue
		}
		if !ok || a.Planner.Reset || !localUnchanged(ctx, stamper, m, options) {
			l.work = append(l.work, m)
		}
	}
	return l
}

// listFolders lists the server's folders, and looks with the listing at
// the folders the journal and the local stamps show changed locally
// (look: localWork, two stats a folder, before the listing is sent):
// those a run will sync whatever the server says, whose plans would
// otherwise look at them one round trip after the listing (surveyPlans).
// A local change in one folder alone (mail read, deleted or filed in
// one folder: the usual sync), where surveyPlans would open that folder
// for its plan, opens it with the listing (adapters.ListOpener: selected,
// a dry run's examined, with what changed since its HIGHESTMODSEQ
// listed), for its plan and execution; otherwise the folders are
// surveyed with the listing (adapters.ListSurveyor), for their plans,
// and INBOX with them (withINBOX: new mail lands there). Only where
// surveyPlans would look at them so (the options letting a folder be
// listed by its changes, a HIGHESTMODSEQ recorded); surveyPlans closes
// the folder, or leaves a survey unused, when the listing shows that it
// would not. With a folder filter (Filter), which
// may need the listing to decide, the folder is surveyed, not opened: a
// survey only looks (EXAMINE), and a folder the filter leaves out is not
// to be selected.
func (a *Account) listFolders(ctx context.Context, look localLook) ([]model.RemoteFolderStatus, listedLooks, error) {
	var looks listedLooks
	if !a.mayListChanges() {
		list, err := a.Remote.ListFolders(ctx)
		return list, looks, err
	}
	lo, opens := a.Remote.(adapters.ListOpener)
	ls, surveys := a.Remote.(adapters.ListSurveyor)
	var local localState
	if opens || surveys {
		local = look()
	}
	work := local.work[:min(len(local.work), listSurveyMost)]
	if opens && a.Filter == nil && len(work) == 1 && work[0].HighestModSeq != 0 {
		name := work[0].Name
		list, opened, err := lo.ListFoldersOpening(ctx, name, a.DryRun, work[0].HighestModSeq)
		if err != nil {
			return nil, looks, err
		}
		if opened.Err != nil {
			a.Log.Debug().Err(opened.Err).Str("folder", name).Msg("folder not opened with the listing")
			return list, looks, nil
		}
		looks.opened = &openedForPlan{name: name, rf: opened.Folder, changes: opened.Changes}
		return list, looks, nil
	}
	var reqs []adapters.ChangeRequest
	for _, m := range work {
		if m.HighestModSeq != 0 && m.Messages <= planSurveyMost {
			reqs = append(reqs, adapters.ChangeRequest{Name: m.Name, Since: m.HighestModSeq})
		}
	}
	if surveys {
		reqs = a.withINBOX(reqs, local.known)
	}
	if !surveys || len(reqs) == 0 {
		list, err := a.Remote.ListFolders(ctx)
		return list, looks, err
	}
	list, out, err := ls.ListFoldersSurveying(ctx, reqs)
	if err != nil {
		return nil, looks, err
	}
	looks.surveys = make(map[string]listedSurvey, len(reqs))
	for i, sv := range out {
		if sv.Err != nil {
			a.Log.Debug().Err(sv.Err).Str("folder", reqs[i].Name).Msg("folder not surveyed with the listing")
			continue
		}
		looks.surveys[reqs[i].Name] = listedSurvey{since: reqs[i].Since, survey: sv}
	}
	return list, looks, nil
}

// withINBOX adds INBOX to the folders listFolders surveys with the
// listing (reqs) when the journal's record of it (among known, read once
// for the run: localWork) holds its HIGHESTMODSEQ, it is small enough for
// a plan's survey, and nothing asks for it yet: new mail lands
// there, and a run whose work is new mail in INBOX then plans it from
// this survey (surveyPlans) instead of looking at it a round trip after
// the listing. When the listing shows INBOX unchanged the survey goes
// unused; on an unchanged folder it costs the server an EXAMINE answered
// from its index and a listing of nothing, in the listing's round trip.
// INBOX is the local folder of that name (under a nametrans that renames
// it, none is looked at so).
func (a *Account) withINBOX(reqs []adapters.ChangeRequest, known []journal.FolderMeta) []adapters.ChangeRequest {
	for _, r := range reqs {
		if strings.EqualFold(r.Name, "INBOX") {
			return reqs
		}
	}
	for _, m := range known {
		if strings.EqualFold(m.Name, "INBOX") && a.named(m.Name) && m.HighestModSeq != 0 && m.Messages <= planSurveyMost {
			return append(reqs, adapters.ChangeRequest{Name: m.Name, Since: m.HighestModSeq})
		}
	}
	return reqs
}

// listSurveyMost bounds the folders listFolders surveys with the listing.
const listSurveyMost = 64

// listedLooks is what listFolders looked at with the listing, for
// surveyPlans: the one folder opened, or the folders surveyed, by name.
type listedLooks struct {
	opened  *openedForPlan
	surveys map[string]listedSurvey
}

// listedSurvey is a folder's survey with the listing, and the
// HIGHESTMODSEQ since which it listed the changes.
type listedSurvey struct {
	since  uint64
	survey adapters.ChangeSurvey
}

// close closes the folder opened with the listing, if any.
func (l *listedLooks) close() {
	if l.opened != nil {
		l.opened.rf.Close()
		l.opened = nil
	}
}

// surveyPlans starts, in the background, the look at the server folders
// whose plans can list them by their changes (a HIGHESTMODSEQ recorded;
// planSurveyMost messages at most; no interrupted operation in the
// account), all together (adapters.ChangeSurveyor): one
// round trip on the connection already open, where opening each folder
// for its plan costs one per folder, and the connections the plans and
// executions need are opened meanwhile (adapters.Warmer: as many as the
// plans would have opened). It returns the wait for the surveys, by
// folder; a folder not surveyed, or whose survey failed, is opened by its
// plan as before.
//
// When one folder alone is to be synced (the usual sync: mail read or
// arrived in one folder), it is not surveyed but opened, selected with
// its changes listed behind in the same round trip (openListing, as its
// plan would open it: whatever its size, and listed in full on its first
// sync or without CONDSTORE), and kept selected for its execution when
// the plan has work: the execution then needs no SELECT of its own, a
// round trip when its first operation is not a download (flags, uploads,
// deletions); and a large folder is opened while it is scanned, not
// after. Not when interrupted operations are to be resolved first. With
// one connection (maxconnections = 1) too: nothing else asks for a
// connection while the folder is held for its plan and execution. The
// scan's moveIn, the one thing before the plans that may change the
// server, mirrors a move only from a folder of the run (planMovesFrom
// needs its scan to tell a move from a copy), and with one folder in the
// run there is none; a file moved in from a folder the run leaves out
// (-f, folderfilter) is uploaded by the plan, as with any copy.
//
// early is what listFolders looked at with the listing: the folder it
// opened is the one folder's open when it is that folder (closed
// otherwise), and a folder it surveyed for the HIGHESTMODSEQ the plan
// would survey it for is not surveyed again; the one folder to sync
// surveyed so (INBOX with new mail, withINBOX; a folder filter's) is
// planned from that survey rather than opened, its execution selecting it
// (with its first download, where it starts with one).
func (a *Account) surveyPlans(ctx context.Context, folders []string, remote map[string]model.RemoteFolderStatus,
	known []journal.FolderMeta, pending map[string][]journal.Intent, early listedLooks) func() planLooks {
	oneToOpen := len(folders) == 1 && len(pending) == 0
	if oneToOpen {
		_, oneToOpen = remote[folders[0]]
	}
	if early.opened != nil && (!oneToOpen || early.opened.name != folders[0]) {
		early.close()
	}
	none := func() planLooks { return planLooks{} }
	if len(folders) == 0 {
		return none
	}
	if w, ok := a.Remote.(adapters.Warmer); ok {
		w.Warm(min(len(folders), max(a.MaxConnections, 1)))
	}
	since := make(map[string]uint64, len(known))
	for _, m := range known {
		since[m.Name] = m.HighestModSeq
	}
	if oneToOpen {
		if opened := early.opened; opened != nil {
			return func() planLooks { return planLooks{opened: opened} }
		}
		// Surveyed with the listing (withINBOX, or with a folder filter):
		// planned from that survey, the execution selecting the folder
		// with its first download where it starts with one.
		name := folders[0]
		if l, ok := early.surveys[name]; ok && l.since == since[name] && since[name] != 0 && listsChanges(&l.survey) {
			looked := map[string]adapters.ChangeSurvey{name: l.survey}
			return func() planLooks { return planLooks{surveys: looked} }
		}
		return a.openForItsPlan(ctx, name, since[name])
	}
	cs, ok := a.changeSurveyor()
	if !ok || len(pending) > 0 {
		// After an interrupted run, resolving one folder's operations may
		// change another's rows and server folder (a move): every plan
		// opens its folder, after that.
		return none
	}
	var reqs []adapters.ChangeRequest
	looked := map[string]adapters.ChangeSurvey{}
	for _, name := range folders {
		if st, ok := remote[name]; ok && since[name] != 0 && st.Messages <= planSurveyMost {
			if l, ok := early.surveys[name]; ok && l.since == since[name] {
				looked[name] = l.survey // with the listing
				continue
			}
			reqs = append(reqs, adapters.ChangeRequest{Name: name, Since: since[name]})
		}
	}
	if len(reqs) == 0 {
		if len(looked) == 0 {
			return none
		}
		return func() planLooks { return planLooks{surveys: looked} }
	}
	done := make(chan map[string]adapters.ChangeSurvey, 1)
	go func() {
		for i, sv := range cs.SurveyChanges(ctx, reqs) {
			looked[reqs[i].Name] = sv
		}
		done <- looked
	}()
	return sync.OnceValue(func() planLooks { return planLooks{surveys: <-done} })
}

// openForItsPlan opens, in the background, the one folder to sync as its
// plan would (openListing: selected, a dry run's examined, with what
// changed since the HIGHESTMODSEQ since listed behind, or every message
// when there is none) and returns the wait for it.
func (a *Account) openForItsPlan(ctx context.Context, name string, since uint64) func() planLooks {
	done := make(chan *openedForPlan, 1)
	go func() {
		o := &openedForPlan{name: name}
		o.rf, o.changes, o.err = a.openListing(ctx, name, a.DryRun, since, true)
		if o.err != nil && o.rf != nil {
			o.rf.Close()
			o.rf = nil
		}
		done <- o
	}()
	return sync.OnceValue(func() planLooks { return planLooks{opened: <-done} })
}

// connections is how many connections the run may have open at once:
// MaxConnections, bounded by the Remote's own limit where it has one.
func (a *Account) connections() int {
	n := max(a.MaxConnections, 1)
	if l, ok := a.Remote.(interface{ MaxConnections() int }); ok {
		n = min(n, max(l.MaxConnections(), 1))
	}
	return n
}

// planLooks is what surveyPlans looked at for the plans: the folders'
// surveys, or the one folder to sync opened.
type planLooks struct {
	surveys map[string]adapters.ChangeSurvey
	opened  *openedForPlan
	// bases holds, for a survey made after local moves changed the
	// folder's rows (surveyMoved), the HIGHESTMODSEQ it listed the changes
	// since, which the journal's meta no longer holds.
	bases map[string]uint64
}

// openedForPlan is the one folder to sync, opened for its plan while the
// local folders were scanned (surveyPlans): planFolder uses it as the
// folder it would have opened (rf and the changes listed; err when the
// open failed), and keeps it selected for the execution or closes it.
type openedForPlan struct {
	name    string
	rf      adapters.RemoteFolder
	changes *adapters.Changes
	err     error
}

// surveyed is the survey of name, when one listed its changes.
func (l planLooks) surveyed(name string) *adapters.ChangeSurvey {
	if sv, ok := l.surveys[name]; ok && listsChanges(&sv) {
		return &sv
	}
	return nil
}

// listsChanges reports whether sv is a survey a plan or the verification
// can use: made, and with the folder's changes listed.
func listsChanges(sv *adapters.ChangeSurvey) bool {
	return sv != nil && sv.Err == nil && sv.Changes != nil
}

// changeSurveyor is the Remote as an adapters.ChangeSurveyor, when it is
// one and the options let a folder be listed by its changes
// (mayListChanges).
func (a *Account) changeSurveyor() (adapters.ChangeSurveyor, bool) {
	cs, ok := a.Remote.(adapters.ChangeSurveyor)
	return cs, ok && a.mayListChanges()
}

// openedFor is the folder opened for name's plan, if any.
func (l planLooks) openedFor(name string) *openedForPlan {
	if l.opened != nil && l.opened.name == name {
		return l.opened
	}
	return nil
}

// dropped is no looks at all, the opened folder closed: what they saw may
// be out of date (changedServer).
func (l planLooks) dropped() planLooks {
	if l.opened != nil && l.opened.rf != nil {
		l.opened.rf.Close()
	}
	return planLooks{}
}

// surveyMoved looks again, in one exchange, at the server folders that
// local moves changed (moveIn: the folders moved into and out of), for
// their plans, when every move went through: one round trip for them all,
// where each plan would open its folder and list it in full. The move's
// checkpoint made the journal forget each one's HIGHESTMODSEQ (its rows
// changed without a new meta), yet the rows are still what that
// HIGHESTMODSEQ (known's, from before the run) vouched for, but for the
// move's own changes, which are the server's changes after it: a message
// gone from the source (absent from the survey's UID SEARCH ALL, and from
// the rows) and one new in the destination, under a UID whose MODSEQ is
// past it (listed as changed, with its flags; its row is the move's).
// So the survey lists the changes since it (planLooks.bases), and
// mergeChanges still lists a folder in full should a message it does not
// list as changed have no row. Nothing after an interrupted run (pending:
// resolving it may change rows and folders), or when a move failed.
func (a *Account) surveyMoved(ctx context.Context, scans map[string]*localScan, remote map[string]model.RemoteFolderStatus,
	known []journal.FolderMeta, pending map[string][]journal.Intent) planLooks {
	cs, ok := a.changeSurveyor()
	if !ok || len(pending) > 0 {
		return planLooks{}
	}
	moved := map[string]bool{}
	for name, sc := range scans {
		if sc == nil {
			continue
		}
		if sc.err != nil {
			return planLooks{}
		}
		if sc.moved > 0 {
			moved[name] = true
			for _, from := range sc.from {
				moved[from] = true
			}
		}
	}
	var reqs []adapters.ChangeRequest
	for _, m := range known {
		if st, ok := remote[m.Name]; ok && moved[m.Name] && m.HighestModSeq != 0 && st.Messages <= planSurveyMost {
			reqs = append(reqs, adapters.ChangeRequest{Name: m.Name, Since: m.HighestModSeq})
		}
	}
	if len(reqs) == 0 {
		return planLooks{}
	}
	looks := planLooks{surveys: map[string]adapters.ChangeSurvey{}, bases: map[string]uint64{}}
	for i, sv := range cs.SurveyChanges(ctx, reqs) {
		looks.surveys[reqs[i].Name] = sv
		looks.bases[reqs[i].Name] = reqs[i].Since
	}
	return looks
}

// changedServer reports whether scanLocal may have changed server folders
// (moveIn moved messages, or failed trying), which a survey taken while it
// ran would not show.
func changedServer(scans map[string]*localScan) bool {
	for _, sc := range scans {
		if sc != nil && (sc.moved > 0 || sc.err != nil) {
			return true
		}
	}
	return false
}

// openForPlan opens the server folder of a plan made from a survey, for
// what the survey's look cannot give (a full listing, the identities of
// messages, their names from their headers): selected, or examined in a
// dry run. A folder whose UIDVALIDITY changed since the survey is an
// error: its plan would mix two generations of UIDs.
func (a *Account) openForPlan(ctx context.Context, p *executor.Pair, status model.RemoteFolderStatus) error {
	if p.RemoteFolder != nil {
		return nil
	}
	rf, _, err := a.openListing(ctx, p.Name, a.DryRun, 0, false)
	if err != nil {
		return fmt.Errorf("select on server: %w", err)
	}
	p.RemoteFolder = rf // closed by the plan's end, or kept for the execution
	return sameValidity(rf, status, "while it was planned")
}

// sameValidity is nil when rf, just opened, has the UIDVALIDITY of listed,
// the status the plan was made from; else an error wrapping
// adapters.ErrValidityChanged that says when it changed.
func sameValidity(rf adapters.RemoteFolder, listed model.RemoteFolderStatus, when string) error {
	if uv := rf.Status().UIDValidity; uv != listed.UIDValidity {
		return fmt.Errorf("%w (%d to %d) %s; nothing was done, sync again", adapters.ErrValidityChanged, listed.UIDValidity, uv, when)
	}
	return nil
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
// full listing. When listAll is set and listRemote would list the folder
// in full (since is 0, or the options want it), the Remote lists it with
// the open where it can (adapters.ListingOpener): Changes.All, the listing
// listRemote then uses. Callers set listAll only when nothing can change
// the folder between the open and their listing.
func (a *Account) openListing(ctx context.Context, name string, readOnly bool, since uint64, listAll bool) (adapters.RemoteFolder, *adapters.Changes, error) {
	if co, ok := a.Remote.(adapters.ChangeOpener); ok && since != 0 && a.mayListChanges() {
		rf, changes, err := co.OpenWithChanges(ctx, name, readOnly, since)
		if !errors.Is(err, adapters.ErrUnsupported) {
			return rf, changes, err
		}
	}
	if lo, ok := a.Remote.(adapters.ListingOpener); ok && listAll && (since == 0 || !a.mayListChanges()) {
		rf, msgs, err := lo.OpenListing(ctx, name, readOnly)
		if !errors.Is(err, adapters.ErrUnsupported) {
			if err != nil {
				return nil, nil, err
			}
			return rf, &adapters.Changes{Changed: msgs, All: true}, nil
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
