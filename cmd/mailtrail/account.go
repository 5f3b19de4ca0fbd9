package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/config"
	"mailtrail/engine"
	"mailtrail/internal/lockfile"
	"mailtrail/journal"
	"mailtrail/planner"
)

// configAndAccounts loads the configuration (loadConfig) and the accounts
// -a selects: the preamble of every command that works on accounts.
func configAndAccounts(g *Globals, syncing bool) (*config.Config, []*config.Account, error) {
	cfg, err := loadConfig(g, os.Stderr, syncing)
	if err != nil {
		return nil, nil, err
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return cfg, accounts, nil
}

// loadConfig reads the -c file and prints its warnings. When syncing, it
// refuses options whose absence could delete or duplicate mail.
func loadConfig(g *Globals, warn io.Writer, syncing bool) (*config.Config, error) {
	path := expandHome(g.Config)
	var overrides []config.Override
	for _, k := range g.Override {
		o, err := config.ParseOverride(k)
		if err != nil {
			return nil, usageError{err}
		}
		overrides = append(overrides, o)
	}
	cfg, warnings, err := config.LoadWithOverrides(path, overrides)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageError{fmt.Errorf("configuration file %s does not exist: write one (see docs/CONFIGURATION.md) or pass -c FILE; `mailtrail demo` needs none", path)}
		}
		return nil, usageError{err}
	}
	var unsafe []string
	for _, w := range warnings {
		fmt.Fprintf(warn, "mailtrail: warning: %s\n", w)
		if w.Unsafe {
			unsafe = append(unsafe, fmt.Sprintf("%s (%s:%d)", w.Option, w.File, w.Line))
		}
	}
	if syncing && len(unsafe) > 0 && !g.Force {
		return nil, usageError{fmt.Errorf("refusing to sync: ignoring %s could delete or duplicate mail; "+
			"remove the option, or pass --force to sync without it", strings.Join(unsafe, ", "))}
	}
	if g.Single {
		cfg.General.MaxSyncAccounts = 1
		for _, a := range cfg.Accounts {
			a.Remote.MaxConnections = 1
		}
	}
	return cfg, nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// openAccount locks the account, opens its journal and both stores, and
// returns the engine account with a function that closes all of it.
func openAccount(ctx context.Context, g *Globals, cfg *config.Config, acct *config.Account, log zerolog.Logger) (*engine.Account, func(), error) {
	dir := cfg.General.StoreDir(acct.Name)
	jdir := journalDir(cfg, acct.Name)
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	lock, err := lockfile.Acquire(filepath.Join(dir, "lock"), "account "+acct.Name)
	if err != nil {
		return nil, nil, err
	}
	// The connections to the server are logged out while the journal
	// closes (closeAll runs the closers last to first): a LOGOUT waits a
	// round trip for its answer, the journal's flush a few milliseconds.
	var remoteClosing sync.WaitGroup
	closers = append(closers, func() {
		remoteClosing.Wait()
		_ = lock.Release()
	})

	// A dry run never writes the journal: it reads an existing one, or plans
	// against an empty one in memory for an account never synced.
	jopts := journal.Options{}
	if g.DryRun {
		jopts.ReadOnly = journalExists(jdir)
		jopts.InMemory = !jopts.ReadOnly
	}
	// The journal opens while the server is dialled: creating one costs a
	// few dozen fsyncs, and logging in a few round trips.
	openedJournal := openJournalAsync(jdir, jopts)
	// warmJournal guards the journal's read by the IMAP store's
	// WarmWhileDialling (below), which may run while an account that
	// failed to open closes it.
	var warmJournal struct {
		sync.Mutex
		closed bool
	}
	closers = append(closers, func() {
		warmJournal.Lock()
		warmJournal.closed = true
		warmJournal.Unlock()
		if j, err := openedJournal(); err == nil {
			_ = j.Close()
		}
	})

	lr := acct.Local
	if lr.Type != config.Maildir {
		closeAll()
		return nil, nil, usageError{fmt.Errorf("account %s: local repository %s is of type %s: only Maildir is supported as the local side yet (IMAP to IMAP is planned)", acct.Name, lr.Name, lr.Type)}
	}
	local, err := maildir.New(lr.LocalFolders, lr.Sep[0], maildirOptions(acct))
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("local repository %s: %w", lr.Name, err)
	}
	rr := acct.Remote
	popts := planner.Options{
		CreateRemoteFolders: rr.MayCreateFolders(),
		CreateLocalFolders:  lr.MayCreateFolders(),
		RemoteReadOnly:      rr.ReadOnly,
		LocalReadOnly:       lr.ReadOnly,
		Guard:               deleteGuard(g, rr, lr),
		Window:              syncWindow(acct, time.Now()),
	}
	// The connections the run will want, by what the journal and the local
	// folders alone say, opened while the first one logs in. With -f the
	// names given need the server's (nametrans): the engine decides then.
	warm := func() int {
		j, err := openedJournal()
		if err != nil || len(g.Folders) > 0 {
			return 0
		}
		warmJournal.Lock()
		defer warmJournal.Unlock()
		if warmJournal.closed {
			return 0
		}
		return (&engine.Account{Journal: j, Local: local, Planner: popts, MaxConnections: rr.MaxConnections}).ConnectionsWanted(ctx)
	}
	remote, releaseRemote, err := openRemote(ctx, g, cfg, acct, log, warm) // remote.go
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, func() {
		remoteClosing.Add(1)
		go func() {
			defer remoteClosing.Done()
			releaseRemote()
		}()
	})
	j, err := openedJournal()
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, hintDelimiter(j, remote, log)) // remote.go

	localFolders, err := local.ListFolders(ctx)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("local repository %s: %w", lr.Name, err)
	}
	names := newFolderNames(ctx, acct, remote, localFolders)
	if err := adoptOfflineIMAP(ctx, cfg, acct, j, local, names, g.DryRun, jopts.ReadOnly, log); err != nil {
		closeAll()
		return nil, nil, err
	}
	a := &engine.Account{
		Filter:         folderFilter(ctx, rr, lr, remote, local, names),
		Name:           acct.Name,
		Remote:         names.wrap(remote, remoteWanted(ctx, rr, remote, names)),
		Local:          local,
		Journal:        j,
		Log:            componentLog(g, log, "maildir", "thread").With().Str("account", acct.Name).Logger(),
		Folders:        names.folderArgs(g.Folders),
		MaxConnections: rr.MaxConnections,
		DryRun:         g.DryRun,
		ClosesRemote:   !holdsConnection(g, acct), // remote.go: openRemote
		Planner:        popts,
		Force:          g.Force,
	}
	return a, closeAll, nil
}

// openJournalAsync starts opening the journal in dir and returns the
// function that waits for it: every call returns the same store and error.
func openJournalAsync(dir string, opts journal.Options) func() (*journal.Store, error) {
	var (
		j    *journal.Store
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		j, err = journal.Open(dir, opts)
	}()
	return func() (*journal.Store, error) {
		<-done
		return j, err
	}
}

// syncWindow is the planner's window from maxage, maxsize and startdate:
// maxage applies to both sides, each repository's startdate to its own.
func syncWindow(acct *config.Account, now time.Time) planner.Window {
	unix := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.Unix()
	}
	w := planner.Window{MaxSize: acct.Extra.MaxSize}
	cut := unix(acct.Extra.Cutoff(now))
	w.RemoteSince, w.LocalSince = cut, cut
	if d := acct.Remote.Extra.StartDate; !d.IsZero() {
		w.RemoteSince = unix(d)
	}
	if d := acct.Local.Extra.StartDate; !d.IsZero() {
		w.LocalSince = unix(d)
	}
	return w
}

// deleteGuard is the planner's maxdelete guard: the repositories'
// maxdelete, or --max-delete for both; none with --force.
func deleteGuard(g *Globals, rr, lr *config.Repository) *planner.DeleteGuard {
	if g.Force {
		return nil
	}
	if g.MaxDelete >= 0 {
		return &planner.DeleteGuard{RemotePercent: g.MaxDelete, LocalPercent: g.MaxDelete}
	}
	return &planner.DeleteGuard{RemotePercent: rr.MaxDelete, LocalPercent: lr.MaxDelete}
}

// journalDir is where an account's journal lives, beside its lock file.
func journalDir(cfg *config.Config, account string) string {
	return filepath.Join(cfg.General.StoreDir(account), "journal")
}

func journalExists(jdir string) bool {
	_, err := os.Stat(jdir)
	return err == nil
}

// folderFilter combines the two repositories' folderfilter lambdas. Each
// sees folder names as its own repository writes them: the server's with
// its hierarchy delimiter (decoded from modified UTF-7), the Maildir's with
// its sep. A folder either rejects is not synced. Nil when neither is set.
func folderFilter(ctx context.Context, rr, lr *config.Repository, remote *imap.Store, local *maildir.Store, names *folderNames) func(string) (bool, error) {
	narrowed := rr.Reference != "" || rr.SubscribedOnly
	if rr.FolderFilter == nil && lr.FolderFilter == nil && !narrowed {
		return nil
	}
	return func(name string) (bool, error) {
		if narrowed && unlisted(remote, names, name) {
			return false, nil
		}
		if rr.FolderFilter != nil {
			// With nametrans, the server folder of the engine's name.
			server, err := names.serverName(name)
			if err != nil {
				return false, err
			}
			ok, err := remoteFilter(ctx, rr, remote, names, server)
			if err != nil || !ok {
				return false, err
			}
		}
		if lr.FolderFilter != nil {
			localName, err := local.LocalName(name)
			if err != nil {
				// Not representable locally: the local filter cannot
				// have meant it; the sync reports the name itself.
				return true, nil
			}
			return lr.FolderFilter.CallBool(localName)
		}
		return true, nil
	}
}
