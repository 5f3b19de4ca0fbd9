package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"mailtrail/journal"
)

// JournalCmd groups the commands that look after the journal itself.
type JournalCmd struct {
	Check JournalCheckCmd `cmd:"" help:"Verify every record of the journal and say how to recover from damage."`
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
	cfg, err := loadConfig(g, os.Stderr, false)
	if err != nil {
		return err
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return usageError{err}
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
