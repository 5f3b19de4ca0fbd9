package main

import (
	"context"
	"fmt"
	"os"

	"mailtrail/config"
	"mailtrail/journal"
	"mailtrail/report"
)

// RunsCmd lists the sync runs the journal remembers.
type RunsCmd struct {
	JSON bool `name:"json" help:"Print one JSON object per run, one per line."`
}

// Run lists the runs of each selected account, oldest first.
func (r *RunsCmd) Run(g *Globals, ctx context.Context) error {
	cfg, accounts, err := configAndAccounts(g, false)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		j, ok, err := openJournalReadOnly(cfg, a.Name, !r.JSON)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		runs, err := j.Runs()
		j.Close()
		if err != nil {
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
		if r.JSON {
			err = report.RunsJSON(os.Stdout, a.Name, runs)
		} else {
			report.Runs(os.Stdout, a.Name, runs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// openJournalReadOnly opens an account's journal for a query. ok is false
// (and, when say is set, a line on stdout says so) when the account has no
// journal yet.
func openJournalReadOnly(cfg *config.Config, account string, say bool) (*journal.Store, bool, error) {
	dir := journalDir(cfg, account)
	if !journalExists(dir) {
		if say {
			fmt.Printf("account %s: no journal yet (%s): nothing was synced\n", account, dir)
		}
		return nil, false, nil
	}
	j, err := journal.Open(dir, journal.Options{ReadOnly: true})
	if err != nil {
		return nil, false, fmt.Errorf("account %s: %w", account, err)
	}
	return j, true, nil
}
