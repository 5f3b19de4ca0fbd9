package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mailtrail/internal/lockfile"
	"mailtrail/journal"
	"mailtrail/replay"
)

// JournalCmd groups the commands that look after the journal itself.
type JournalCmd struct {
	Check   JournalCheckCmd   `cmd:"" help:"Verify every record of the journal and say how to recover from damage."`
	Compact JournalCompactCmd `cmd:"" help:"Remove the runs older than journalretention (days, default 180); status rows are kept."`
	Export  JournalExportCmd  `cmd:"" help:"Write a run's replay bundle (observations, plan, results; no message bodies) for a bug report."`
}

// JournalCheckCmd verifies each selected account's journal.
type JournalCheckCmd struct{}

// recoveryAdvice is what to do with a damaged journal. It is safe because a
// sync without a status never deletes: messages are re-paired by the UID in
// their file names, and anything unpaired is copied, not removed.
const recoveryAdvice = `to recover: move the directory aside (keep it for a bug report), e.g.
    mv %[1]s %[1]s.damaged
then sync again. mailtrail starts a fresh journal and re-pairs your messages by the
UIDs recorded in the Maildir file names; nothing is deleted on either side. Messages
you deleted on one side since the last good sync come back, and flags removed since
then may reappear: delete or clear them again afterwards.`

// Run checks each account and returns an error when any journal is damaged.
func (c *JournalCheckCmd) Run(g *Globals, ctx context.Context) error {
	cfg, accounts, err := configAndAccounts(g, false)
	if err != nil {
		return err
	}
	bad := 0
	for _, a := range accounts {
		dir := journalDir(cfg, a.Name)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			fmt.Printf("account %s: no journal yet (%s): nothing to check\n", a.Name, dir)
			continue
		}
		j, err := journal.Open(dir, journal.Options{ReadOnly: true})
		if err == nil {
			err = j.Check()
			j.Close()
		}
		switch {
		case err == nil:
			fmt.Printf("account %s: journal %s: OK\n", a.Name, dir)
		case errors.Is(err, journal.ErrLocked):
			fmt.Fprintf(os.Stderr, "account %s: %v\n", a.Name, err)
			bad++
		default:
			fmt.Fprintf(os.Stderr, "account %s: %v\n", a.Name, err)
			fmt.Fprintf(os.Stderr, recoveryAdvice+"\n", dir)
			bad++
		}
	}
	if bad > 0 {
		return failedError{}
	}
	return nil
}

// JournalCompactCmd removes old runs from each selected account's journal.
type JournalCompactCmd struct{}

// Run compacts each account's journal under the account's lock.
func (c *JournalCompactCmd) Run(g *Globals, ctx context.Context) error {
	cfg, accounts, err := configAndAccounts(g, false)
	if err != nil {
		return err
	}
	retention := cfg.General.JournalRetention
	if retention <= 0 {
		retention = journal.DefaultRetention
	}
	cutoff := time.Now().Add(-retention)
	for _, a := range accounts {
		dir := journalDir(cfg, a.Name)
		if !journalExists(dir) {
			fmt.Printf("account %s: no journal yet (%s): nothing to compact\n", a.Name, dir)
			continue
		}
		lock, err := lockfile.Acquire(filepath.Join(cfg.General.StoreDir(a.Name), "lock"), "account "+a.Name)
		if err != nil {
			return err
		}
		j, err := journal.Open(dir, journal.Options{})
		if err != nil {
			_ = lock.Release()
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
		st, err := j.Compact(cutoff)
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		_ = lock.Release()
		if err != nil {
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
		fmt.Printf("account %s: removed %d runs (%d records) that finished before %s; %d runs kept; status rows untouched\n",
			a.Name, st.Runs, st.Records, cutoff.Local().Format(time.DateTime), st.Kept)
	}
	return nil
}

// JournalExportCmd writes a replay bundle.
type JournalExportCmd struct {
	RunID  uint64 `name:"run" help:"The run to export (default: the latest run that recorded observations)." placeholder:"ID"`
	Redact bool   `name:"redact" default:"true" negatable:"" help:"Replace folder names, file names, Message-IDs, subjects and addresses by consistent pseudonyms (default true; --redact=false or --no-redact keeps them)."`
	Output string `name:"output" help:"Write the bundle to FILE ('-': standard output)." placeholder:"FILE"`
	// -o is taken by OfflineIMAP's --once on every command, so
	// "journal export -o FILE" reads as --once and the file as this
	// argument: both spellings work.
	File string `arg:"" optional:"" help:"The bundle file (written as: -o FILE)." placeholder:"FILE"`
}

// Run exports one account's run (with several accounts configured, name
// one with -a).
func (c *JournalExportCmd) Run(g *Globals, ctx context.Context) error {
	cfg, accounts, err := configAndAccounts(g, false)
	if err != nil {
		return err
	}
	if len(accounts) != 1 {
		return usageError{fmt.Errorf("journal export writes one account's run: name it with -a (accounts: %s)", accountNames(cfg))}
	}
	switch {
	case c.Output == "" && c.File == "":
		return usageError{fmt.Errorf("journal export: name the bundle file: -o FILE")}
	case c.Output != "" && c.File != "" && c.Output != c.File:
		return usageError{fmt.Errorf("journal export: two files named (%s and %s)", c.Output, c.File)}
	case c.Output == "":
		c.Output = c.File
	}
	a := accounts[0]
	j, ok, err := openJournalReadOnly(cfg, a.Name, false)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("account %s: no journal yet (%s): nothing to export", a.Name, journalDir(cfg, a.Name))
	}
	b, err := replay.Export(j, a.Name, c.RunID, time.Now())
	j.Close()
	if err != nil {
		return fmt.Errorf("account %s: %w", a.Name, err)
	}
	b.Producer = "mailtrail " + version
	if c.Redact {
		if err := b.Redact(); err != nil {
			return err
		}
	}
	out := os.Stdout
	if c.Output != "-" {
		f, err := os.OpenFile(c.Output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	if err := b.Write(out); err != nil {
		return err
	}
	if out != os.Stdout {
		if err := out.Close(); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "mailtrail: wrote run %d of account %s (%d folders, redacted: %v) to %s\n", b.Run.ID, a.Name, len(b.Folders), b.Redacted, c.Output)
	}
	return nil
}
