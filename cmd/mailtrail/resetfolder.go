package main

import (
	"context"
	"fmt"
	"os"

	"mailtrail/report"
)

// ResetFolderCmd re-pairs one folder's messages by identity, replacing the
// manual recovery after a UIDVALIDITY change (removing the folder's status
// and local copy by hand, which downloads everything again and loses local
// changes).
type ResetFolderCmd struct {
	Folder string `arg:"" help:"The folder to reset (levels separated by /, e.g. Archive/2025)."`
}

// Run syncs the one folder with the planner in reset mode: local files and
// server messages with the same Message-ID and size (or the same content)
// are paired under the server's current UIDVALIDITY, their flags merged;
// what is only on the server is downloaded, what is only local is
// uploaded; nothing is deleted. The journal records all of it. With
// --dry-run it shows the plan.
func (r *ResetFolderCmd) Run(g *Globals, ctx context.Context) error {
	log, err := newLogger(g)
	if err != nil {
		return usageError{err}
	}
	cfg, accounts, err := configAndAccounts(g, true)
	if err != nil {
		return err
	}
	if len(accounts) != 1 {
		return usageError{fmt.Errorf("reset-folder: name the account with -a (accounts: %s)", accountNames(cfg))}
	}
	acct := accounts[0]
	a, closeAll, err := openAccount(ctx, g, cfg, acct, log)
	if err != nil {
		return fmt.Errorf("account %s: %w", acct.Name, err)
	}
	defer closeAll()
	a.Folders = []string{r.Folder}
	a.Planner.Reset = true
	a.Command = "reset-folder"
	a.Args = os.Args[1:]
	rep, err := a.Sync(ctx)
	if err != nil {
		return fmt.Errorf("account %s: %w", acct.Name, err)
	}
	if len(rep.Folders) == 0 {
		return usageError{fmt.Errorf("reset-folder: account %s has no folder %q on either side (or folderfilter excludes it)", acct.Name, r.Folder)}
	}
	if g.DryRun {
		report.Plan(os.Stdout, rep)
		return nil
	}
	report.Summary(os.Stdout, os.Stderr, rep, g.UI != "quiet")
	if rep.Failed() > 0 {
		return failedError{}
	}
	return nil
}
