package main

import (
	"context"
	"io"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"
)

// autorefresh follows the first sync (whose result is err): for the
// accounts with autorefresh, it syncs each again every autorefresh minutes
// until interrupted, as OfflineIMAP does. -o (and --dry-run) sync once.
// The connections held between syncs (holdconnectionopen, remote.go) get
// a NOOP every keepalive seconds while it waits, and are closed when it
// returns.
func (s *SyncCmd) autorefresh(g *Globals, ctx context.Context, err error) error {
	defer held.closeAll()
	if g.Once || g.DryRun || ctx.Err() != nil {
		return err
	}
	periods, keepalive := refreshPeriods(g)
	if len(periods) == 0 {
		return err
	}
	pings := map[string]time.Time{}
	now0 := time.Now()
	for name, every := range keepalive {
		pings[name] = now0.Add(every)
	}
	log, lerr := newLogger(g)
	if lerr != nil {
		log = zerolog.Nop()
	}
	next := map[string]time.Time{}
	now := time.Now()
	for name, p := range periods {
		next[name] = now.Add(p)
	}
	for {
		// The collector waits for the memory floor (internal/heapgoal):
		// between syncs, minutes apart, the process holds only what is
		// live, and gives the rest back to the system.
		debug.FreeOSMemory()
		wake := time.Time{}
		for _, t := range next {
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
		}
		if !waitKeepingAlive(ctx, wake, keepalive, pings, log) {
			return nil
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
		for _, name := range round.Accounts {
			if every, ok := keepalive[name]; ok {
				pings[name] = time.Now().Add(every) // the connections were just used
			}
		}
	}
}

// refreshPeriods reads the autorefresh of each selected account, and the
// keepalive of those whose connections are held between syncs (the
// configuration again, quietly: its warnings were printed by the sync).
func refreshPeriods(g *Globals) (periods, keepalive map[string]time.Duration) {
	cfg, err := loadConfig(g, io.Discard, false)
	if err != nil {
		return nil, nil
	}
	accounts, err := selectAccounts(cfg, g.Accounts)
	if err != nil {
		return nil, nil
	}
	periods, keepalive = map[string]time.Duration{}, map[string]time.Duration{}
	for _, a := range accounts {
		if a.Extra.AutoRefresh > 0 {
			periods[a.Name] = a.Extra.AutoRefresh
		}
		if holdsConnection(g, a) && a.Remote.KeepAlive > 0 {
			keepalive[a.Name] = a.Remote.KeepAlive
		}
	}
	return periods, keepalive
}

// waitKeepingAlive waits until wake, sending the keepalives that fall due
// meanwhile; false when ctx ended first.
func waitKeepingAlive(ctx context.Context, wake time.Time, keepalive map[string]time.Duration, pings map[string]time.Time, log zerolog.Logger) bool {
	for {
		until := wake
		for _, t := range pings {
			if t.Before(until) {
				until = t
			}
		}
		timer := time.NewTimer(time.Until(until))
		select {
		case <-ctx.Done():
			timer.Stop()
			return false
		case <-timer.C:
		}
		if !time.Now().Before(wake) {
			return true
		}
		held.keepAlive(ctx, keepalive, pings, log)
	}
}
