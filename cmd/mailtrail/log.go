package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"mailtrail/report"
)

// LogCmd prints what the journal recorded: every operation with its run,
// time, state (pending, done, failed and why, skipped), reason and the
// message it was about, selected by the filters.
type LogCmd struct {
	Account   []string `name:"account" help:"Only these accounts (comma separated; like -a)." sep:"," placeholder:"ACCT"`
	Folder    string   `name:"folder" help:"Only operations on this folder (canonical name, e.g. Archive/2025)." placeholder:"FOLDER"`
	Op        string   `name:"op" help:"Only this kind: fetch, upload, flag, expunge, create-folder, move, or a precise kind (expunge-remote, delete-local, ...)." placeholder:"KIND"`
	Side      string   `name:"side" help:"Only operations whose effect lands on this side: local, remote or status."`
	Since     string   `name:"since" help:"Only operations journalled at or after T: 2025-03-01, '2025-03-01 14:00', RFC 3339, or a duration ago (36h, 7d)." placeholder:"T"`
	Until     string   `name:"until" help:"Only operations journalled before T (same forms as --since)." placeholder:"T"`
	RunID     uint64   `name:"run" help:"Only this run (see mailtrail runs)." placeholder:"ID"`
	MessageID string   `name:"message-id" help:"Only operations on the message with this Message-ID (angle brackets optional)." placeholder:"ID"`
	JSON      bool     `name:"json" help:"Print one JSON object per operation, one per line."`
}

// Run prints the journal of each selected account.
func (l *LogCmd) Run(g *Globals, ctx context.Context) error {
	cfg, err := loadConfig(g, os.Stderr, false)
	if err != nil {
		return err
	}
	names := g.Accounts
	if len(l.Account) > 0 {
		names = l.Account
	}
	accounts, err := selectAccounts(cfg, names)
	if err != nil {
		return usageError{err}
	}
	switch l.Side {
	case "", "local", "remote", "status":
	default:
		return usageError{fmt.Errorf("--side %s: use local, remote or status", l.Side)}
	}
	now := time.Now()
	f := report.LogFilter{Folder: l.Folder, Op: l.Op, Side: l.Side, Run: l.RunID, MessageID: l.MessageID}
	if f.Since, err = parseWhen(l.Since, now); err != nil {
		return usageError{fmt.Errorf("--since: %w", err)}
	}
	if f.Until, err = parseWhen(l.Until, now); err != nil {
		return usageError{fmt.Errorf("--until: %w", err)}
	}
	for _, a := range accounts {
		j, ok, err := openJournalReadOnly(cfg, a.Name, !l.JSON)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if !l.JSON && len(accounts) > 1 {
			fmt.Printf("account %s (%s)\n", a.Name, j.Dir())
		}
		_, err = report.Log(os.Stdout, a.Name, j, f, l.JSON)
		j.Close()
		if err != nil {
			return fmt.Errorf("account %s: %w", a.Name, err)
		}
	}
	return nil
}

// parseWhen reads a time for --since and --until: a date, a date and time
// (local time), RFC 3339, or a duration before now ("36h", "7d", "2w").
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if layout == time.RFC3339Nano {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
			continue
		}
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		if k, err := strconv.Atoi(s[:n-1]); err == nil && k >= 0 {
			days := k
			if s[n-1] == 'w' {
				days *= 7
			}
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use 2025-03-01, '2025-03-01 14:00', RFC 3339, or a duration ago such as 36h or 7d", s)
}
