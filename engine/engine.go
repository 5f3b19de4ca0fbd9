package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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
	DryRun  bool
	Planner planner.Options
	// Command and Args are recorded with the run in the journal.
	Command string
	Args    []string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// FolderReport is the outcome for one folder.
type FolderReport struct {
	Name    string
	Plan    planner.Plan
	Done    map[model.OpKind]int
	Failed  []executor.OpError
	Err     error
	Elapsed time.Duration
}

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
	remoteList, err := a.Remote.ListFolders(ctx)
	if err != nil {
		return rep, fmt.Errorf("list remote folders: %w", err)
	}
	localList, err := a.Local.ListFolders(ctx)
	if err != nil {
		return rep, fmt.Errorf("list local folders: %w", err)
	}
	known, err := a.Journal.Folders()
	if err != nil {
		return rep, fmt.Errorf("read status folders: %w", err)
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

	rep.Folders = append(filterErrs, a.syncFolders(ctx, rep.Run, folders, remoteByName, localSet, pending)...)

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
		rep.Folders = append(rep.Folders, a.syncFolders(ctx, rep.Run, more, remoteByName, localSet, pending)...)
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

// syncFolders syncs folders, up to MaxConnections at once, and returns
// their reports in the order of folders.
func (a *Account) syncFolders(ctx context.Context, run uint64, folders []string, remoteByName map[string]model.RemoteFolderStatus,
	localSet map[string]bool, pending map[string][]journal.Intent) []FolderReport {
	reports := make([]FolderReport, len(folders))
	par := a.MaxConnections
	if par < 1 {
		par = 1
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, name := range folders {
		_, rok := remoteByName[name]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			fr := a.syncFolder(ctx, run, name, rok, localSet[name], pending[name])
			fr.Elapsed = time.Since(start)
			reports[i] = fr
		}()
	}
	wg.Wait()
	return reports
}

// createdRemote reports whether a folder was created on the server.
func createdRemote(reports []FolderReport) bool {
	for _, f := range reports {
		if f.Done[model.OpCreateRemoteFolder] > 0 {
			return true
		}
	}
	return false
}

func (a *Account) wanted(name string) (bool, error) {
	if len(a.Folders) > 0 {
		listed := false
		for _, f := range a.Folders {
			if f == name {
				listed = true
			}
		}
		if !listed {
			return false, nil
		}
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

// syncFolder observes, plans, journals and executes one folder pair.
func (a *Account) syncFolder(ctx context.Context, run uint64, name string, remoteExists, localExists bool, pending []journal.Intent) (fr FolderReport) {
	fr = FolderReport{Name: name, Done: map[model.OpKind]int{}}
	log := a.Log.With().Str("folder", name).Logger()
	p := &executor.Pair{Name: name, Remote: a.Remote, Local: a.Local}
	defer func() {
		if p.RemoteFolder != nil {
			if err := p.RemoteFolder.Close(); err != nil && fr.Err == nil {
				log.Debug().Err(err).Msg("closing remote folder")
			}
		}
		if fr.Err != nil {
			fr.Err = fmt.Errorf("folder %s: %w", name, fr.Err)
		}
	}()

	in := planner.Input{Folder: name}
	if remoteExists {
		rf, err := a.Remote.SelectFolder(ctx, name)
		if err != nil {
			fr.Err = fmt.Errorf("select on server: %w", err)
			return fr
		}
		p.RemoteFolder = rf
		in.Remote.Exists = true
		in.Remote.Status = rf.Status()
	}
	if localExists {
		lf, err := a.Local.OpenFolder(ctx, name)
		if err != nil && !errors.Is(err, adapters.ErrNoFolder) {
			fr.Err = fmt.Errorf("open local folder: %w", err)
			return fr
		}
		if err == nil {
			p.LocalFolder = lf
			in.Local.Exists = true
			in.Local.FMD5 = lf.FMD5()
		}
	}
	st, _, err := a.Journal.FolderStatus(name)
	if err != nil {
		fr.Err = fmt.Errorf("read status: %w", err)
		return fr
	}
	exe := &executor.Executor{Journal: a.Journal, Log: log}
	if len(pending) > 0 && !a.DryRun {
		found, err := exe.Recover(ctx, p, pending, st)
		if err != nil {
			fr.Err = fmt.Errorf("resolve operations of the interrupted run: %w", err)
			return fr
		}
		log.Info().Int("pending", len(pending)).Int("recovered", found).Msg("resolved interrupted run")
		if st, _, err = a.Journal.FolderStatus(name); err != nil {
			fr.Err = fmt.Errorf("read status: %w", err)
			return fr
		}
	}
	in.Status = st
	if p.RemoteFolder != nil {
		msgs, err := p.RemoteFolder.List(ctx)
		if err != nil {
			fr.Err = fmt.Errorf("list messages on server: %w", err)
			return fr
		}
		in.Remote.Msgs = msgs
	}
	if p.LocalFolder != nil {
		msgs, err := p.LocalFolder.Scan(ctx)
		if err != nil {
			fr.Err = fmt.Errorf("scan local folder: %w", err)
			return fr
		}
		in.Local.Msgs = msgs
	}

	fr.Plan = planner.PlanFolder(in, a.Planner)
	if fr.Plan.Refused != "" {
		log.Warn().Str("reason", fr.Plan.Refused).Msg("folder refused")
		return fr
	}
	if a.DryRun || len(fr.Plan.Ops) == 0 {
		return fr
	}
	seqs, err := a.Journal.AppendIntents(run, fr.Plan.Ops)
	if err != nil {
		fr.Err = fmt.Errorf("journal intents: %w", err)
		return fr
	}
	steps := make([]executor.Step, len(seqs))
	for i := range seqs {
		steps[i] = executor.Step{Seq: seqs[i], Op: fr.Plan.Ops[i]}
	}
	res, err := exe.Execute(ctx, p, steps)
	fr.Done, fr.Failed = res.Done, res.Failed
	if err != nil {
		fr.Err = err
	}
	return fr
}
