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

	"github.com/rs/zerolog"

	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/config"
	"mailtrail/engine"
	"mailtrail/internal/lockfile"
	"mailtrail/journal"
	"mailtrail/planner"
)

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
	closers = append(closers, func() { _ = lock.Release() })

	// A dry run never writes the journal: it reads an existing one, or plans
	// against an empty one in memory for an account never synced.
	jopts := journal.Options{}
	if g.DryRun {
		jopts.ReadOnly = journalExists(jdir)
		jopts.InMemory = !jopts.ReadOnly
	}
	j, err := journal.Open(jdir, jopts)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, func() { _ = j.Close() })

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
	pass, err := remotePassword(ctx, cfg, rr)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	icfg := imap.Config{
		Host:           rr.RemoteHost,
		Port:           rr.RemotePort,
		User:           rr.RemoteUser,
		Password:       pass.Reveal(),
		CAFile:         rr.SSLCACertFile,
		MaxConnections: rr.MaxConnections,
		Timeout:        cfg.General.SockTimeout,
		Logger:         log,
	}
	imapSecurity(rr, &icfg)
	switch {
	case rr.SSL:
		icfg.TLS = imap.TLSImplicit
	case rr.STARTTLS:
		icfg.TLS = imap.TLSStartTLS
	default:
		icfg.TLS = imap.TLSNone
	}
	remote, err := imap.Dial(ctx, icfg)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("remote repository %s: %w", rr.Name, err)
	}
	closers = append(closers, func() { _ = remote.Close() })

	localFolders, err := local.ListFolders(ctx)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("local repository %s: %w", lr.Name, err)
	}
	names := newFolderNames(acct, remote, localFolders)
	if err := adoptOfflineIMAP(ctx, cfg, acct, j, local, names, g.DryRun, jopts.ReadOnly, log); err != nil {
		closeAll()
		return nil, nil, err
	}
	a := &engine.Account{
		Filter:         folderFilter(rr, lr, remote, local, names),
		Name:           acct.Name,
		Remote:         names.wrap(remote, remoteWanted(rr, remote, names)),
		Local:          local,
		Journal:        j,
		Log:            log.With().Str("account", acct.Name).Logger(),
		Folders:        names.folderArgs(g.Folders),
		MaxConnections: rr.MaxConnections,
		DryRun:         g.DryRun,
		Planner: planner.Options{
			CreateRemoteFolders: rr.MayCreateFolders(),
			CreateLocalFolders:  lr.MayCreateFolders(),
			RemoteReadOnly:      rr.ReadOnly,
			LocalReadOnly:       lr.ReadOnly,
			Guard:               deleteGuard(g, rr, lr),
		},
		Force: g.Force,
	}
	return a, closeAll, nil
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
func folderFilter(rr, lr *config.Repository, remote *imap.Store, local *maildir.Store, names *folderNames) func(string) (bool, error) {
	if rr.FolderFilter == nil && lr.FolderFilter == nil {
		return nil
	}
	return func(name string) (bool, error) {
		if rr.FolderFilter != nil {
			// With nametrans, the server folder of the engine's name.
			server, err := names.serverName(name)
			if err != nil {
				return false, err
			}
			ok, err := remoteFilter(rr, remote, names, server)
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
