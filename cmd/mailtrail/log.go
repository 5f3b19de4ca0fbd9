package main

import (
	"context"
	"fmt"
	"os"

	"mailtrail/journal"
	"mailtrail/report"
)

// LogCmd prints the journal: every run, every operation with its reason,
// and how it ended.
type LogCmd struct {
	From uint64 `name:"run" help:"Start at this run number (default: all runs)." placeholder:"N"`
}

// Run prints the journal of each selected account.
func (l *LogCmd) Run(g *Globals, ctx context.Context) error {
	cfg, err := loadConfig(g, os.Stderr, false)
	if err != nil {
		return err
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return usageError{err}
	}
	for _, a := range accounts {
		dir := journalDir(cfg, a.Name)
		if !journalExists(dir) {
			fmt.Printf("account %s: no journal yet (%s): nothing was synced\n", a.Name, dir)
			continue
		}
		j, err := journal.Open(dir, journal.Options{ReadOnly: true})
		if err != nil {
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
		fmt.Printf("account %s (%s)\n", a.Name, dir)
		err = report.Journal(os.Stdout, j, l.From)
		j.Close()
		if err != nil {
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
	}
	return nil
}
