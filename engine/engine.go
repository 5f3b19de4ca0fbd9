package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/executor"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// Account is everything needed to sync one account.
type Account struct {
	Name    string
	Remote  adapters.Remote
	Local   adapters.Local
	Journal *journal.Store
	Log     zerolog.Logger

	// Folders, when not empty, limits the sync to these canonical names
	// (the -f option).
	Folders []string
	// Filter, when set, decides which folders are synced at all (the
	// repositories' folderfilter options); a folder it rejects is neither
	// synced, nor created, nor deleted on either side. An error fails that
	// folder.
	Filter func(name string) (bool, error)
	// MaxConnections is how many folders sync at once (default 1).
	MaxConnections int
	// DryRun plans and reports without changing anything.
	DryRun bool
	// ClosesRemote says that the Remote is closed once the run ends (no
	// connection is held for the next run): the verification, when it is
	// the run's last look at the server, then logs out with it
	// (adapters.LastSurveyor), instead of one round trip later.
	ClosesRemote bool
	// Force lifts the account-level guards (a whole side that looks lost:
	// see vanishedSide); the per-folder ones are Planner.Guard.
	Force   bool
	Planner planner.Options
	// Command and Args are recorded with the run in the journal.
	Command string
	Args    []string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Progress, when set, is told what each folder's sync is doing and how
	// far it is (progress.go). Folders sync in parallel: it must be safe
	// for concurrent use.
	Progress func(Event)

	folders *folderIndex // this run's view of every folder (moves.go)
}

// FolderReport is the outcome for one folder.
type FolderReport struct {
	Name    string
	Plan    planner.Plan
	Msgs    []journal.MsgInfo // the message of each of Plan.Ops, where read (observe.go)
	Done    map[model.OpKind]int
	Failed  []executor.OpError
	Err     error
	Elapsed time.Duration
	// Unchanged is true when the folder was skipped: neither side changed
	// since a sync that found nothing to do (quiet.go).
	Unchanged bool
	// Planned is how many operations the plan had; after execution the
	// operations themselves are dropped (only the counts are reported).
	Planned int
}

// PlannedOps is how many operations were planned: Planned once the plan
// was carried out, len(Plan.Ops) before (and in a dry run).
func (f FolderReport) PlannedOps() int { return max(f.Planned, len(f.Plan.Ops)) }

// OK reports whether the folder synced with no error and no failed op.
func (f FolderReport) OK() bool { return f.Err == nil && len(f.Failed) == 0 && f.Plan.Refused == "" }

// Report is the outcome of an account sync.
type Report struct {
	Account string
	Run     uint64
	Folders []FolderReport
}

// Failed counts the folders that did not sync cleanly.
func (r Report) Failed() int {
	n := 0
	for _, f := range r.Folders {
		if !f.OK() {
			n++
		}
	}
	return n
}

// Sync runs one sync of the account.
func (a *Account) Sync(ctx context.Context) (Report, error) {
	if a.Now == nil {
		a.Now = time.Now
	}
	rep := Report{Account: a.Name}
	look := a.lookLocally(ctx)
	a.warmEarly(look)                 // listing.go: while the server lists its folders
	scanned := a.scanEarly(ctx, look) // moves.go: the same
	defer scanned.wait()
	remoteList, early, err := a.listFolders(ctx, look)
	if err != nil {
		return rep, fmt.Errorf("list remote folders: %w", err)
	}
	defer early.close() // unless given to surveyPlans
	localList, err := a.Local.ListFolders(ctx)
	if err != nil {
		return rep, fmt.Errorf("list local folders: %w", err)
	}
	known, err := a.Journal.Folders()
	if err != nil {
		return rep, fmt.Errorf("read status folders: %w", err)
	}
	if err := a.vanishedSide(remoteList, localList, known); err != nil {
		return rep, err
	}
	a.folders = &folderIndex{local: localList, remote: map[string]model.RemoteFolderStatus{}}
	for _, r := range remoteList {
		if !r.NoSelect {
			a.folders.remote[r.Name] = r
		}
	}
	remoteByName := map[string]model.RemoteFolderStatus{}
	names := map[string]bool{}
	for _, r := range remoteList {
		if r.NoSelect {
			continue
		}
		remoteByName[r.Name] = r
		names[r.Name] = true
	}
	localSet := map[string]bool{}
	for _, l := range localList {
		localSet[l] = true
		names[l] = true
	}
	for _, k := range known {
		names[k.Name] = true
	}

	if !a.DryRun {
		rep.Run, err = a.Journal.BeginRun(journal.RunInfo{Started: a.Now(), Command: a.Command, Args: a.Args})
		if err != nil {
			return rep, fmt.Errorf("journal: %w", err)
		}
	}
	pending := map[string][]journal.Intent{}
	if !a.DryRun {
		all, err := a.Journal.Pending()
		if err != nil {
			return rep, fmt.Errorf("journal: %w", err)
		}
		for _, in := range all {
			pending[in.Op.Folder] = append(pending[in.Op.Folder], in)
			// A folder gone from both sides since the interrupted run
			// still has its intents resolved.
			names[in.Op.Folder] = true
		}
	}
	var folders []string
	var filterErrs []FolderReport
	for n := range names {
		ok, err := a.wanted(n)
		if err != nil {
			filterErrs = append(filterErrs, FolderReport{Name: n, Err: err})
			continue
		}
		if ok {
			folders = append(folders, n)
		}
	}
	sort.Strings(folders)
	sort.Slice(filterErrs, func(i, j int) bool { return filterErrs[i].Name < filterErrs[j].Name })

	folders, quiet := a.quietFolders(ctx, folders, remoteByName, localSet, known, pending)
	surveys := a.surveyPlans(ctx, folders, remoteByName, known, pending, early) // while the local folders are scanned
	early = listedLooks{}                                                       // surveyPlans' now
	scans := a.scanLocal(ctx, rep.Run, folders, localSet, pending, known, scanned)
	looks := surveys()
	if changedServer(scans) {
		// Local moves were mirrored on the server (or tried) after the
		// survey looked at it: the folders they changed are looked at
		// again, the others' plans open their folders.
		looks = looks.dropped()
		looks = a.surveyMoved(ctx, scans, remoteByName, known, pending)
	}
	rep.Folders = append(filterErrs, a.syncFolders(ctx, rep.Run, folders, remoteByName, scans, pending, looks)...)
	rep.Folders = append(rep.Folders, quiet...)
	sort.SliceStable(rep.Folders, func(i, j int) bool { return rep.Folders[i].Name < rep.Folders[j].Name })

	// A server may create the parents of a folder created on it ("Work" for
	// "Work/Projects") as folders of their own. They were not listed
	// before; sync them now, so that the next run has nothing left to do.
	if !a.DryRun && createdRemote(rep.Folders) {
		again, err := a.Remote.ListFolders(ctx)
		if err != nil {
			return rep, fmt.Errorf("list remote folders again after creating folders: %w", err)
		}
		var more []string
		for _, r := range again {
			if r.NoSelect || names[r.Name] {
				continue
			}
			if ok, err := a.wanted(r.Name); !ok || err != nil {
				continue
			}
			remoteByName[r.Name] = r
			names[r.Name] = true
			more = append(more, r.Name)
		}
		sort.Strings(more)
		rep.Folders = append(rep.Folders, a.syncFolders(ctx, rep.Run, more, remoteByName, nil, pending, planLooks{})...)
	}
	reports := rep.Folders

	if !a.DryRun {
		sum := journal.RunSummary{Finished: a.Now(), Counts: map[string]int{}}
		for _, f := range reports {
			for k, n := range f.Done {
				sum.Counts[k.String()] += n
			}
			if !f.OK() {
				sum.Counts["failed-folders"]++
			}
		}
		if err := a.Journal.EndRun(rep.Run, sum); err != nil {
			return rep, fmt.Errorf("journal: %w", err)
		}
	}
	return rep, nil
}

// folderWork is one folder between its planning and its execution.
type folderWork struct {
	fr  FolderReport
	in  planner.Input
	p   *executor.Pair
	log zerolog.Logger
	// guardLater: the planner's guard refused the plan, which was made
	// again without it; it is checked once moves are matched (moves.go).
	guardLater bool
	guarded    planner.Plan // the refusal, kept for guardLater
	// movedOut: local deletions of the plan found to be moves into other
	// folders on the server (matchServerMoves), for guardLater.
	movedOut int
	// recorded is the planner's own plan for in, before the engine's
	// decisions across folders: what the journal's observation records.
	recorded planner.Plan
	// verify: the plan was carried out without failure; the folder is
	// observed again for the fast path (verifyAll).
	verify bool
	// held: the server folder stayed selected from planning to execution
	// (syncFolders).
	held bool
	// planModSeq is the server folder's HIGHESTMODSEQ when it was listed
	// for the plan, when its rows were of the same UIDVALIDITY or there
	// were none (0 otherwise): verifyAll lists only what changed since
	// (listRemote).
	planModSeq uint64
	// alone: the only folder of its syncFolders with operations to carry
	// out, whose verification is then the run's only look at the server
	// after the executions: the connection may log out after its survey.
	alone bool
	// survey is the folder's survey for its verification, made with its
	// last use of the server (surveyAfter); nil when it was not.
	survey *adapters.ChangeSurvey
}

// syncFolders syncs folders in three phases and returns their reports in
// the order of folders. First each folder is observed and planned, up to
// MaxConnections at once, its server folder closed again; then the plans
// are looked at together for messages the server moved from one folder to
// another (moves.go); then the plans are journaled and carried out, up to
// MaxConnections at once, each server folder selected again.
func (a *Account) syncFolders(ctx context.Context, run uint64, folders []string, remoteByName map[string]model.RemoteFolderStatus,
	scans map[string]*localScan, pending map[string][]journal.Intent, looks planLooks) []FolderReport {
	works := make([]*folderWork, len(folders))
	// A folder planned once every plan has started keeps its server folder
	// selected for its execution: no plan is left to wait for its
	// connection, and it saves a SELECT (which, for a large folder that
	// just changed, makes the server read the folder again). At most
	// MaxConnections are held, and they are executed first, so that the
	// others find connections.
	var started atomic.Int64
	allStarted := func() bool { return started.Load() == int64(len(folders)) }
	if !a.holdsConnections() {
		// More folders at once than the server has connections for:
		// a held one could leave a running plan waiting forever.
		allStarted = func() bool { return false }
	}
	a.eachFolder(len(folders), func(i int) {
		started.Add(1)
		_, rok := remoteByName[folders[i]]
		start := time.Now()
		a.progress(Event{Folder: folders[i], Phase: PhasePlan})
		works[i] = a.planFolder(ctx, run, folders[i], rok, scans[folders[i]], pending[folders[i]], allStarted,
			looks.surveyed(folders[i]), looks.bases[folders[i]], looks.openedFor(folders[i]))
		works[i].fr.Elapsed = time.Since(start)
	})
	a.matchServerMoves(ctx, works)
	a.shareLocalFolders(works)
	for _, w := range works {
		a.checkGuardLater(run, w)
	}
	order := executionOrder(works)
	if w := onlyExecuted(works); w != nil {
		w.alone = true
	}
	// A folder gives its place to the next as soon as it needs its server
	// folder no more (executeFolder): its connection works for the next
	// folder while it makes its last files durable and checkpoints them.
	parallelReleasing(len(order), max(a.MaxConnections, 1), func(i int, release func()) {
		start := time.Now()
		a.executeFolder(ctx, run, order[i], release)
		a.folderDone(&order[i].fr)
		order[i].fr.Elapsed += time.Since(start)
	})
	a.verifyAll(ctx, works)
	reports := make([]FolderReport, len(works))
	for i, w := range works {
		if w.fr.Err != nil {
			w.fr.Err = fmt.Errorf("folder %s: %w", w.fr.Name, w.fr.Err)
		}
		reports[i] = w.fr
	}
	return reports
}

// shareLocalFolders gives every execution the account's Local through
// sharedLocal, made of the local folders the plans opened.
func (a *Account) shareLocalFolders(works []*folderWork) {
	open := map[string]adapters.LocalFolder{}
	for _, w := range works {
		if w.p != nil && w.p.LocalFolder != nil {
			open[w.fr.Name] = w.p.LocalFolder
		}
	}
	for _, w := range works {
		if w.p != nil {
			w.p.Local = sharedLocal{Local: a.Local, open: open}
		}
	}
}

// sharedLocal is the account's Local as the executions see it: a folder
// this run opened for its plan is handed out as that same LocalFolder, its
// index and its lock, not opened again. An execution that reads or moves a
// file of another folder (a server move confirmed by its content,
// executor.moveLocal) then finds it through that folder's index while the
// folder's own execution changes it, instead of scanning a second copy of
// the folder while those changes go on: a busy folder made each of those
// scans see a change, and the move failed (a kill -9 test, 2026-11-27).
type sharedLocal struct {
	adapters.Local
	open map[string]adapters.LocalFolder
}

func (s sharedLocal) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	if lf, ok := s.open[name]; ok {
		return lf, nil
	}
	return s.Local.OpenFolder(ctx, name)
}

// executionOrder is the order in which folders are executed: first those
// whose server folder is still selected (the connections they hold are
// needed by the others), then the rest; within each group the largest
// plan first. Folders run MaxConnections at a time, so a large folder
// started last is a run's tail, with one connection working: in a cold
// sync of 5,000 messages in 11 folders the largest (a third of the mail)
// was planned first, so not kept selected, and ran alone for the last
// 80 ms of 530. Folders are independent of each other here (moves
// between them were matched before), so any order is correct.
func executionOrder(works []*folderWork) []*folderWork {
	order := make([]*folderWork, 0, len(works))
	for _, held := range []bool{true, false} {
		group := len(order)
		for _, w := range works {
			if w.held == held {
				order = append(order, w)
			}
		}
		sort.SliceStable(order[group:], func(i, j int) bool {
			return planWeight(order[group+i]) > planWeight(order[group+j])
		})
	}
	return order
}

// planWeight estimates what executing a folder's plan costs: the bytes it
// transfers, and for every operation as much as a small message.
func planWeight(w *folderWork) int64 {
	const perOp = 4 << 10
	var n int64
	for _, op := range w.fr.Plan.Ops {
		n += perOp
		if op.Kind == model.OpFetch || op.Kind == model.OpUpload {
			n += op.Size
		}
	}
	return n
}

// lookAt opens a server folder for looking only: read-only where the
// Remote can (adapters.LookAt: IMAP EXAMINE, which Dovecot answers at once
// for a large Maildir folder that has not just changed, where SELECT costs
// it a rescan), else selected.
func (a *Account) lookAt(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	return adapters.LookAt(ctx, a.Remote, name)
}

// eachFolder calls fn(0..n-1), up to MaxConnections at once.
func (a *Account) eachFolder(n int, fn func(i int)) { parallel(n, max(a.MaxConnections, 1), fn) }

// parallel calls fn(0..n-1), up to width at once, and returns when all
// have returned.
func parallel(n, width int, fn func(i int)) {
	parallelReleasing(n, width, func(i int, _ func()) { fn(i) })
}

// parallelReleasing is parallel where a call may give its place to the
// next before it returns, by calling release (at most once counts; a call
// that does not release gives its place back when it returns). Up to
// width calls hold a place at once; calls that gave theirs back still
// run, so more than width may be running.
func parallelReleasing(n, width int, fn func(i int, release func())) {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			defer release()
			fn(i, release)
		}()
	}
	wg.Wait()
}

// createdRemote reports whether a folder was created on the server.
func createdRemote(reports []FolderReport) bool {
	return slices.ContainsFunc(reports, FolderReport.createdRemote)
}

// createdRemote reports whether the folder was created on the server.
func (f FolderReport) createdRemote() bool { return f.Done[model.OpCreateRemoteFolder] > 0 }

func (a *Account) wanted(name string) (bool, error) {
	if !a.named(name) {
		return false, nil
	}
	if a.Filter == nil {
		return true, nil
	}
	ok, err := a.Filter(name)
	if err != nil {
		return false, fmt.Errorf("folder %s: not synced: %w", name, err)
	}
	return ok, nil
}

// named reports whether name is among the folders the run was limited to
// (Folders), or there is no such limit.
func (a *Account) named(name string) bool {
	return len(a.Folders) == 0 || slices.Contains(a.Folders, name)
}

// planFolder observes and plans one folder pair (resolving first what an
// interrupted run left pending). The server folder is closed again before
// it returns (executeFolder selects it anew), unless kept selected for the
// execution (mayHold). With surveyed (surveyPlans), the survey is the
// server's side and the folder is opened only for what it cannot give
// (openForPlan); with opened, the folder was opened for it already.
func (a *Account) planFolder(ctx context.Context, run uint64, name string, remoteExists bool, local *localScan, pending []journal.Intent,
	mayHold func() bool, surveyed *adapters.ChangeSurvey, surveyedSince uint64, opened *openedForPlan) *folderWork {
	w := &folderWork{fr: FolderReport{Name: name, Done: map[model.OpKind]int{}}, log: a.Log.With().Str("folder", name).Logger()}
	fr, log := &w.fr, w.log
	p := &executor.Pair{Name: name, Remote: a.Remote, Local: a.Local}
	w.p = p
	if opened != nil {
		p.RemoteFolder = opened.rf // closed or kept selected below, whatever the plan's fate
	}
	defer func() {
		if a.mayHold(w) && mayHold() {
			w.held = true // kept selected for executeFolder
			return
		}
		a.closeOpened(w)
	}()

	in := planner.Input{Folder: name}
	// The local folder was opened and scanned before any folder was
	// synced, and the moves a mail client made into it mirrored on the
	// server (moves.go).
	rescan := len(pending) > 0
	var moves []model.Op
	if local != nil {
		if local.err != nil {
			fr.Err = local.err
			return w
		}
		p.LocalFolder = local.lf
		in.Local = planner.LocalState{Exists: true, FMD5: local.lf.FMD5(), Msgs: local.msgs}
		local.msgs = nil // the planner's input holds them now
		if local.moved > 0 {
			fr.Done[model.OpMoveRemote] = local.moved
			rescan = true
		}
		moves = local.moves
	}
	// The rows share their keys with the scan's files, unless the folder
	// is scanned again below (the first scan's names would then be kept
	// for the rows alone).
	var known func([]byte) (string, bool)
	if !rescan {
		known = scanKeys(in.Local.Msgs)
	}
	st, meta, err := a.Journal.FolderStatusSharing(name, known)
	if err != nil {
		fr.Err = fmt.Errorf("read status: %w", err)
		return w
	}
	var listed *adapters.Changes // what the open listed: the changes since meta's HIGHESTMODSEQ, or every message (All)
	switch {
	case remoteExists && opened != nil && len(pending) == 0:
		// Opened while the local folders were scanned (surveyPlans).
		if opened.err != nil {
			fr.Err = fmt.Errorf("select on server: %w", opened.err)
			return w
		}
		listed = opened.changes
		in.Remote.Exists = true
		in.Remote.Status = p.RemoteFolder.Status()
	case remoteExists && surveyed != nil && len(pending) == 0:
		// Looked at with the others (surveyPlans): opened only if the
		// plan needs more than the survey saw (surveyedListing, openForPlan).
		listed = surveyed.Changes
		in.Remote.Exists = true
		in.Remote.Status = surveyed.Status
	case remoteExists:
		since := meta.HighestModSeq
		if len(pending) > 0 && !a.DryRun {
			since = 0 // resolving them below may change the rows
		}
		// A dry run changes nothing on the server, \Recent included: it
		// only looks.
		// Nothing changes the folder before it is listed, unless
		// interrupted operations are resolved first.
		rf, changes, err := a.openListing(ctx, name, a.DryRun, since, len(pending) == 0 || a.DryRun)
		if err != nil {
			fr.Err = fmt.Errorf("select on server: %w", err)
			return w
		}
		p.RemoteFolder, listed = rf, changes
		in.Remote.Exists = true
		in.Remote.Status = rf.Status()
	}
	if len(pending) > 0 && !a.DryRun {
		exe := &executor.Executor{Journal: a.Journal, Log: log}
		found, err := exe.Recover(ctx, p, pending, st)
		if err != nil {
			fr.Err = fmt.Errorf("resolve operations of the interrupted run: %w", err)
			return w
		}
		log.Info().Int("pending", len(pending)).Int("recovered", found).Msg("resolved interrupted run")
		if st, meta, err = a.Journal.FolderStatus(name); err != nil {
			fr.Err = fmt.Errorf("read status: %w", err)
			return w
		}
	}
	in.Status = st
	switch {
	case in.Remote.Exists && p.RemoteFolder == nil:
		// Surveyed: the rows and the changes make the listing, unless
		// they do not add up; then the folder is opened and listed in
		// full, its status the one it is opened with. The changes are
		// since the meta's HIGHESTMODSEQ, or since the one surveyMoved
		// gives (surveyedSince) where a local move made the journal
		// forget it.
		since := meta.HighestModSeq
		if surveyedSince != 0 {
			since = surveyedSince
		}
		if msgs, ok := a.surveyedListing(st, in.Remote.Status, since, listed); ok {
			in.Remote.Msgs = msgs
			break
		}
		if err := a.openForPlan(ctx, p, in.Remote.Status); err != nil {
			fr.Err = err
			return w
		}
		in.Remote.Status = p.RemoteFolder.Status()
		msgs, err := p.RemoteFolder.List(ctx)
		if err != nil {
			fr.Err = fmt.Errorf("list messages on server: %w", err)
			return w
		}
		in.Remote.Msgs = msgs
	case p.RemoteFolder != nil:
		msgs, err := a.listRemote(ctx, p.RemoteFolder, st, meta.HighestModSeq, listed)
		if err != nil {
			fr.Err = fmt.Errorf("list messages on server: %w", err)
			return w
		}
		in.Remote.Msgs = msgs
	}
	if p.LocalFolder != nil && rescan {
		msgs, err := p.LocalFolder.Scan(ctx)
		if err != nil {
			fr.Err = fmt.Errorf("scan local folder: %w", err)
			return w
		}
		in.Local.Msgs = msgs
	}

	if planner.NeedsIdentities(in, a.Planner) {
		if in.Remote.Exists {
			if err := a.openForPlan(ctx, p, in.Remote.Status); err != nil {
				fr.Err = err
				return w
			}
		}
		r, l, err := executor.Identities(ctx, p, in.Remote.Msgs, in.Local.Msgs)
		if err != nil {
			fr.Err = fmt.Errorf("identify messages to re-pair them: %w", err)
			return w
		}
		in.Identities = &planner.Identities{Remote: r, Local: l}
	}
	w.in = in
	fr.Plan = planner.PlanFolder(in, a.Planner)
	w.recorded = fr.Plan
	if fr.Plan.NeedsReset {
		fr.Plan.Refused += ": " + resetCommand(a.Name, name)
	}
	if fr.Plan.Guarded {
		// Some of the deletions may be moves between folders: decided
		// once every folder is planned (checkGuardLater).
		w.guardLater, w.guarded = true, fr.Plan
		noGuard := a.Planner
		noGuard.Guard = nil
		fr.Plan = planner.PlanFolder(in, noGuard)
	}
	if a.DryRun && len(moves) > 0 && fr.Plan.Refused == "" {
		fr.Plan.Ops = withoutMovedUploads(append(moves, fr.Plan.Ops...))
	}
	if local != nil {
		a.recordQuiet(in, fr.Plan, local.stamp, local.stampOK && !rescan)
		if local.moved > 0 && len(pending) == 0 && surveyedSince != 0 && surveyed != nil &&
			len(fr.Plan.Ops) == 0 && fr.Plan.Refused == "" && !fr.Plan.Guarded {
			// Moved into (surveyMoved) and nothing to do: the scan's stamp
			// is older than the moved files' renames, so recordQuiet
			// recorded nothing. verifyAll scans the folder again once its
			// stamp can be trusted and records it from the survey made
			// after the moves (no round trip): otherwise the next sync,
			// with nothing changed, would list the folder in full.
			w.verify, w.survey, w.planModSeq = true, surveyed, surveyedSince
		}
	}
	fr.Msgs = a.describePlan(ctx, p, in, fr.Plan) // observe.go: name the messages
	if !w.guardLater {
		a.recordRefusal(run, in, w.recorded)
	}
	if fr.Plan.Refused != "" {
		log.Warn().Str("reason", fr.Plan.Refused).Msg("folder refused")
	}
	return w
}

// scanKeys returns a lookup of keys among msgs, for status rows to share
// the scan's key strings (journal.Store.FolderStatusSharing): msgs must be
// sorted by key, as the Maildir scan returns them, else (or with no
// messages) it is nil. Rows come in UID order; where the keys sort the
// same way (names that start with a time), the message after the last one
// found is the next match, so it is tried before a binary search.
func scanKeys(msgs []model.LocalMsg) func(key []byte) (string, bool) {
	if len(msgs) == 0 {
		return nil
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i-1].Key >= msgs[i].Key {
			return nil
		}
	}
	next := 0
	return func(key []byte) (string, bool) {
		i := next
		if i >= len(msgs) || msgs[i].Key != string(key) {
			i = sort.Search(len(msgs), func(j int) bool { return msgs[j].Key >= string(key) })
			if i == len(msgs) || msgs[i].Key != string(key) {
				return "", false
			}
		}
		next = i + 1
		return msgs[i].Key, true
	}
}

// checkGuardLater applies the delete guard to a plan that the planner's
// guard refused, now that deletions which were moves between folders are
// moves: refused still, the folder keeps the planner's refusal.
func (a *Account) checkGuardLater(run uint64, w *folderWork) {
	if !w.guardLater || w.fr.Err != nil {
		return
	}
	checked := planner.CheckGuard(w.in, w.fr.Plan, a.Planner, w.movedOut)
	if checked.Refused == "" {
		return
	}
	// The planner's refusal, saying what is still refused now that some
	// deletions are moves (the journal records the planner's own).
	w.fr.Plan, w.fr.Msgs = w.guarded, nil
	w.fr.Plan.Refused = checked.Refused
	a.recordRefusal(run, w.in, w.recorded)
	w.log.Warn().Str("reason", w.fr.Plan.Refused).Msg("folder refused")
}

// executeFolder journals and carries out a folder's plan, the server folder
// selected again (and checked to be the one planned). It calls release
// once the server folder is closed, which the executor asks for as soon as
// the operations left are local (executor.Pair.ReleaseRemote), or when it
// returns.
func (a *Account) executeFolder(ctx context.Context, run uint64, w *folderWork, release func()) {
	fr, p := &w.fr, w.p
	// The executor may select a folder it creates, and planFolder may have
	// kept it selected: whichever is selected at the end is closed.
	closeFolder := func(rf adapters.RemoteFolder) {
		if err := rf.Close(); err != nil {
			w.log.Debug().Err(err).Msg("closing remote folder")
		}
	}
	closeRemote := func() {
		if p.RemoteFolder != nil {
			closeFolder(p.RemoteFolder)
			p.RemoteFolder = nil
		}
		release()
	}
	defer closeRemote()
	p.ReleaseRemote = closeRemote
	if fr.Err != nil || fr.Plan.Refused != "" || a.DryRun || len(fr.Plan.Ops) == 0 {
		return
	}
	if w.in.Remote.Exists && !w.held {
		rf, err := a.selectForExecution(ctx, fr.Name, w.in.Remote.Status, firstOnServer(fr.Plan.Ops))
		if rf != nil {
			p.RemoteFolder = rf
		}
		if err != nil {
			fr.Err = err
			return
		}
	}
	seqs, err := a.appendIntents(run, w.in, w.recorded, *fr) // observe.go: intents with their messages and the observation
	if err != nil {
		fr.Err = fmt.Errorf("journal intents: %w", err)
		return
	}
	if w.in.Status.UIDValidity == w.in.Remote.Status.UIDValidity || w.in.Status.Rows.Len() == 0 {
		// With no rows before (a folder's first sync), every row after
		// the execution is one of its checkpoints, written with the flags
		// listed for the plan: the server's state as of planModSeq too.
		w.planModSeq = w.in.Remote.Status.HighestModSeq
	}
	surveyOpen := a.surveysOpen(w)
	// The downloads' dates as listed (the executor then asks the server
	// for the bodies alone), taken before the input goes: a cold sync of
	// 100,000 messages would otherwise hold its listing and scan beside
	// the steps.
	var dates []model.Date
	for i, op := range fr.Plan.Ops {
		if op.Kind == model.OpFetch {
			if dates == nil {
				dates = make([]model.Date, len(fr.Plan.Ops))
			}
			dates[i] = listedDate(w.in.Remote.Msgs, op.UID)
		}
	}
	w.in, w.recorded = planner.Input{}, planner.Plan{} // recorded: free them before the work
	steps := make([]executor.Step, len(seqs))
	for i := range seqs {
		steps[i] = executor.Step{Seq: seqs[i], Op: &fr.Plan.Ops[i]}
		if dates != nil {
			steps[i].Date = dates[i]
		}
	}
	dates = nil
	progress := a.folderProgress(fr.Name, fr.Plan.Ops)
	// The steps hold the operations now, and the journal their names:
	// the report needs only the counts (a cold sync of a large folder
	// has one operation per message).
	fr.Planned = len(fr.Plan.Ops)
	fr.Plan.Ops, fr.Msgs = nil, nil
	var surveyed chan *adapters.ChangeSurvey // the open survey's, once released
	if surveyOpen {
		p.ReleaseRemote = func() {
			rf := p.RemoteFolder
			p.RemoteFolder = nil
			surveyed = make(chan *adapters.ChangeSurvey, 1)
			go func() {
				// Beside the folder's local tail, on the connection it gives back.
				sv := a.surveyOpenFolder(ctx, w, rf)
				closeFolder(rf)
				release()
				surveyed <- sv
			}()
		}
	} else {
		p.SurveyAfter = a.surveyAfter(w)
	}
	exe := &executor.Executor{Journal: a.Journal, Log: w.log, Progress: progress}
	res, err := exe.Execute(ctx, p, steps)
	steps = nil
	w.survey = res.Survey
	switch {
	case surveyed != nil:
		w.survey = <-surveyed
	case surveyOpen && err == nil && len(res.Failed) == 0 && p.RemoteFolder != nil:
		// Its last operation used the server: the folder was not released.
		w.survey = a.surveyOpenFolder(ctx, w, p.RemoteFolder)
	}
	for k, n := range res.Done {
		fr.Done[k] += n
	}
	fr.Failed = res.Failed
	if err != nil {
		fr.Err = err
		return
	}
	w.verify = len(fr.Failed) == 0 && p.LocalFolder != nil
}

// onlyExecuted is the one folder of works with operations to carry out;
// nil when there are none or several.
func onlyExecuted(works []*folderWork) *folderWork {
	var one *folderWork
	for _, w := range works {
		if w.fr.Err == nil && w.fr.Plan.Refused == "" && len(w.fr.Plan.Ops) > 0 {
			if one != nil {
				return nil
			}
			one = w
		}
	}
	return one
}

// surveyAfter is what the execution of w is asked to do for its
// verification (executor.Pair.SurveyAfter): the survey verifyAll would
// make of it (observeAllAgain), written behind its last use of the server
// (flag stores, an expunge, a download, an upload: the executor decides
// where the folder can), when its plan was listed by modification
// sequence. When it is the only folder to verify (alone), with the LOGOUT
// after it when the Remote is closed after the run, as the verification's own
// survey would have it (lastLook: a folder with a modification sequence
// existed on the server, so the run created none); with several, the
// connections log out once every survey is in (observeAllAgain). Nil
// otherwise.
func (a *Account) surveyAfter(w *folderWork) *executor.SurveyAfter {
	if _, ok := a.changeSurveyor(); !ok || w.planModSeq == 0 || !a.verifies() || !w.alone && !a.farServer() {
		return nil
	}
	return &executor.SurveyAfter{Since: w.planModSeq, Leave: a.ClosesRemote && w.alone}
}

// surveyOpenFrom is the number of messages from which a server folder
// executed is surveyed for its verification while still open, on the
// connection that carried out its operations (adapters.OpenSurveyor),
// rather than opened again by the verification's survey or surveyed
// behind its last command (surveyAfter, which opens it again too): Dovecot
// reads a Maildir folder's directory afresh when it is opened after a
// change, 2.6–2.7 s for 100,000 messages on the benchmark's machine,
// where the open survey took 0.7–1.0 s (a raw client, alternating,
// 2026-11-29). It costs a second connection for a moment, and the
// folder keeps its own until its survey is in: below this the reopening
// costs less than that (planSurveyMost's measure).
var surveyOpenFrom uint32 = planSurveyMost

// surveysOpen reports whether w's execution is to survey its server folder
// while still open (surveyOpenFrom), for its verification: a large folder
// listed by modification sequence, open on a Remote that lets a folder be
// listed by its changes and surveyed so, and a second connection to ask
// the folder's STATUS on. Not at a folder's first sync (no status rows):
// its downloads change nothing on the server, which reopens it as a
// folder that has not changed, and the open survey, beside the last
// downloads' commit and the other folders, was no faster (at 100,000
// messages 0.75–0.83 s against 0.62–0.74 s), while it holds the UIDs of
// the whole folder beside the last commit, near the cold sync's peak of
// memory (one of its two cold runs peaked at 65.1 MB, over the 64 MB
// target; the build before went to 64.7 MB once too).
func (a *Account) surveysOpen(w *folderWork) bool {
	_, ok := a.changeSurveyor()
	_, open := w.p.RemoteFolder.(adapters.OpenSurveyor)
	return ok && open && w.planModSeq != 0 && w.in.Status.Rows.Len() > 0 && a.verifies() && a.MaxConnections >= 2 &&
		w.in.Remote.Status.Messages >= surveyOpenFrom
}

// surveyOpenFolder is w's survey by its open server folder rf
// (adapters.OpenSurveyor), for its verification; nil when rf cannot be
// surveyed so, or the survey did not list the changes (the verification
// then surveys or opens the folder itself).
func (a *Account) surveyOpenFolder(ctx context.Context, w *folderWork, rf adapters.RemoteFolder) *adapters.ChangeSurvey {
	os, ok := rf.(adapters.OpenSurveyor)
	if !ok {
		return nil
	}
	sv := os.SurveyOpen(ctx, w.planModSeq)
	if !listsChanges(&sv) {
		w.log.Debug().AnErr("why", sv.Err).Msg("not surveyed while open: the verification looks at it")
		return nil
	}
	return &sv
}

// surveysBehindFrom is the Remote's link delay (adapters.Distancer) from
// which each of several folders executed has its survey written behind its
// last use of the server. Nearer, the one round trip of the verification's
// survey of them all costs less than their surveys on the executions'
// chains: on loopback, eight folders at 1% changed took 123 ms that way
// against 117 ms (medians of 18 runs); with 20 ms round trips, 361 ms
// against 381 ms (of 9). A link delay is about two round trips.
const surveysBehindFrom = 8 * time.Millisecond

// farServer reports whether the Remote's server is far enough away for
// several folders' surveys to go behind their executions (surveysBehindFrom).
func (a *Account) farServer() bool {
	d, ok := a.Remote.(adapters.Distancer)
	return ok && d.LinkDelay() >= surveysBehindFrom
}

// selectForExecution opens the server folder name for an execution whose
// first operation is of kind first, and checks that its UIDVALIDITY is
// still the listed one. When the execution starts with downloads and the
// server can (adapters.ListedSelector), the SELECT goes out with the first
// download's FETCH, one round trip for both: the folder checks the
// UIDVALIDITY itself, before the bodies are used, and fails the download
// otherwise; then the intents the engine journaled meanwhile stay for the
// next run to resolve, as after any failed operation. A folder returned
// with an error is to be closed.
func (a *Account) selectForExecution(ctx context.Context, name string, listed model.RemoteFolderStatus, first model.OpKind) (adapters.RemoteFolder, error) {
	if ls, ok := a.Remote.(adapters.ListedSelector); ok && first == model.OpFetch {
		rf, err := ls.SelectListed(ctx, name, listed)
		if err == nil {
			return rf, nil
		}
		if !errors.Is(err, adapters.ErrUnsupported) {
			return nil, fmt.Errorf("select on server: %w", err)
		}
	}
	rf, err := a.Remote.SelectFolder(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("select on server: %w", err)
	}
	return rf, sameValidity(rf, listed, "during the sync")
}

// firstOnServer is the kind of the first operation of ops that the server
// folder sees: a plan's leading creation of the local folder (a folder's
// first sync) does not use it.
func firstOnServer(ops []model.Op) model.OpKind {
	for _, op := range ops {
		if op.Kind != model.OpCreateLocalFolder {
			return op.Kind
		}
	}
	return model.OpInvalid
}

// listedDate is the internal date of uid in msgs (a listing, in UID
// order), zero when it is not there.
func listedDate(msgs []model.RemoteMsg, uid uint32) model.Date {
	i := sort.Search(len(msgs), func(i int) bool { return msgs[i].UID >= uid })
	if i < len(msgs) && msgs[i].UID == uid {
		return msgs[i].InternalDate
	}
	return 0
}

// resetCommand is the command line that resets folder of account.
func resetCommand(account, folder string) string {
	return "mailtrail reset-folder -a " + shellWord(account) + " " + shellWord(folder)
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '@' || r == '+' || r == ',' || r == ':' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// vanishedSide refuses the whole account when one side has no folder at
// all while the status knows messages synced in its folders: an unmounted
// disk, a wrong localfolders path, a server answering for the wrong user
// or namespace. Folder by folder, each would look vanished and be copied
// back from the other side (or, for a side merely emptied, its messages
// deleted on the other side); refusing touches nothing. Force lifts it.
func (a *Account) vanishedSide(remote []model.RemoteFolderStatus, local []string, known []journal.FolderMeta) error {
	if a.Force || len(known) == 0 {
		return nil
	}
	selectable := 0
	for _, r := range remote {
		if !r.NoSelect {
			selectable++
		}
	}
	if selectable > 0 && len(local) > 0 {
		return nil
	}
	msgs, folders := 0, 0
	for _, k := range known {
		st, _, err := a.Journal.FolderStatus(k.Name)
		if err != nil {
			return fmt.Errorf("read status of %s: %w", k.Name, err)
		}
		if st.Rows.Len() > 0 {
			msgs += st.Rows.Len()
			folders++
		}
	}
	if msgs == 0 {
		return nil
	}
	if len(local) == 0 {
		return fmt.Errorf("refused: the local Maildir has no folders, but %d messages in %d folders were synced to it. "+
			"Is a disk not mounted, or localfolders wrong? Nothing was changed on either side. To download "+
			"everything again into an empty Maildir, run again with --force", msgs, folders)
	}
	return fmt.Errorf("refused: the server lists no folders, but %d messages in %d folders were synced from it. "+
		"Check remoteuser, reference and folderfilter. Nothing was changed on either side. To upload everything "+
		"again to an empty account, run again with --force", msgs, folders)
}
