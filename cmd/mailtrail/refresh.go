package main

import (
	"context"
	"io"
	"time"
)

// autorefresh follows the first sync (whose result is err): for the
// accounts with autorefresh, it syncs each again every autorefresh minutes
// until interrupted, as OfflineIMAP does. -o (and --dry-run) sync once.
func (s *SyncCmd) autorefresh(g *Globals, ctx context.Context, err error) error {
	if g.Once || g.DryRun || ctx.Err() != nil {
		return err
	}
	periods := refreshPeriods(g)
	if len(periods) == 0 {
		return err
	}
	next := map[string]time.Time{}
	now := time.Now()
	for name, p := range periods {
		next[name] = now.Add(p)
	}
	for {
		wake := time.Time{}
		for _, t := range next {
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		now := time.Now()
		round := *g
		round.Accounts = nil
		for name, t := range next {
			if !t.After(now) {
				round.Accounts = append(round.Accounts, name)
				next[name] = now.Add(periods[name])
			}
		}
		// A failed round is reported and the loop goes on, as OfflineIMAP's
		// does; the exit status is that of the first sync.
		_ = s.syncAll(&round, ctx)
	}
}

// refreshPeriods reads the autorefresh of each selected account (the
// configuration again, quietly: its warnings were printed by the sync).
func refreshPeriods(g *Globals) map[string]time.Duration {
	cfg, err := loadConfig(g, io.Discard, false)
	if err != nil {
		return nil
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return nil
	}
	out := map[string]time.Duration{}
	for _, a := range accounts {
		if a.Extra.AutoRefresh > 0 {
			out[a.Name] = a.Extra.AutoRefresh
		}
	}
	return out
}
