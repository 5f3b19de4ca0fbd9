package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/rs/zerolog"

	"mailtrail/config"
	"mailtrail/engine"
	"mailtrail/report"
)

// SyncCmd synchronises the configured accounts, as `offlineimap` does.
type SyncCmd struct{}

// Run syncs the selected accounts, then goes on syncing those with
// autorefresh (refresh.go). --info and --mbnames-prune, OfflineIMAP's
// flags of this command, do only that.
func (s *SyncCmd) Run(g *Globals, ctx context.Context) error {
	switch {
	case g.Info:
		return runInfo(ctx, g, os.Stdout)
	case g.MbnamesPrune:
		return runMbnamesPrune(g, os.Stdout)
	}
	return s.autorefresh(g, ctx, s.syncAll(g, ctx))
}

// syncAll syncs every selected account once; accounts run maxsyncaccounts
// at a time.
func (s *SyncCmd) syncAll(g *Globals, ctx context.Context) error {
	log, err := newLogger(g)
	if err != nil {
		return usageError{err}
	}
	cfg, err := loadConfig(g, os.Stderr, true)
	if err != nil {
		return err
	}
	if g.UI == "" && cfg.General.Extra.UI != "" {
		// [general] ui, when -u does not say.
		g.UI = cfg.General.Extra.UI
		if log, err = newLogger(g); err != nil {
			return usageError{err}
		}
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return usageError{err}
	}
	par := cfg.General.MaxSyncAccounts
	if par < 1 {
		par = 1
	}
	sem := make(chan struct{}, par)
	var (
		mu     sync.Mutex
		failed []string
		wg     sync.WaitGroup
	)
	out := term.around(os.Stdout) // below ttyui's status line
	mb := newMbnames(cfg, g, log)
	for _, acct := range accounts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep, err := syncAccount(ctx, g, cfg, acct, log)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				fmt.Fprintf(os.Stderr, "mailtrail: account %s: %v\n", acct.Name, err)
				failed = append(failed, acct.Name)
			case g.DryRun:
				report.Plan(out, rep)
			case uiName(g) == "machineui":
				machineSummary(out, rep)
				if rep.Failed() > 0 {
					failed = append(failed, acct.Name)
				}
			default:
				report.Summary(out, os.Stderr, rep, g.UI != "quiet")
				if rep.Failed() > 0 {
					failed = append(failed, acct.Name)
				}
			}
			if err == nil {
				mb.accountDone(ctx, acct, rep)
			}
		}()
	}
	wg.Wait()
	mb.finish()
	if len(failed) > 0 {
		return failedError{} // details already printed per account and folder
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// syncAccount opens everything one account needs, syncs it and closes it.
func syncAccount(ctx context.Context, g *Globals, cfg *config.Config, acct *config.Account, log zerolog.Logger) (engine.Report, error) {
	runHook(ctx, g, acct, "presynchook", acct.Extra.PreSyncHook, log)
	a, closeAll, err := openAccount(ctx, g, cfg, acct, log)
	if err != nil {
		return engine.Report{Account: acct.Name}, err
	}
	defer closeAll()
	defer restoreAtimes(acct, log)()
	a.Command = "sync"
	a.Progress = progressHook(g)
	a.Args = os.Args[1:]
	rep, err := a.Sync(ctx)
	if err == nil {
		runHook(ctx, g, acct, "postsynchook", acct.Extra.PostSyncHook, log)
	}
	return rep, err
}

// selectAccounts applies -a to general.accounts.
func selectAccounts(cfg *config.Config, names []string) ([]*config.Account, error) {
	if len(names) == 0 {
		return cfg.Accounts, nil
	}
	var out []*config.Account
	for _, n := range names {
		n = strings.TrimSpace(n)
		found := false
		for _, a := range cfg.Accounts {
			if strings.EqualFold(a.Name, n) {
				out = append(out, a)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-a %s: no such account in %s (accounts: %s)", n, cfg.Path, accountNames(cfg))
		}
	}
	return out, nil
}

func accountNames(cfg *config.Config) string {
	var n []string
	for _, a := range cfg.Accounts {
		n = append(n, a.Name)
	}
	return strings.Join(n, ", ")
}
