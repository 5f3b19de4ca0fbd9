package main

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"
)

// debugTypeNames are OfflineIMAP's -d types, each mapped onto the logger
// of the part of mailtrail that does that work:
//
//	imap     the IMAP adapter: every command sent, how long it took, how it ended
//	maildir  the engine and executor: local scans, moves, operations (the
//	         Maildir adapter logs through them)
//	thread   the engine: each folder as it is planned, executed and done,
//	         up to maxconnections at once (the same logger as maildir)
//	all      everything, as --debug
var debugTypeNames = []string{"imap", "maildir", "thread", "all"}

// debugTypes reads -d: a comma-separated list of debugTypeNames (case
// ignored; empty items, which OfflineIMAP also takes, are skipped).
func debugTypes(g *Globals) (map[string]bool, error) {
	out := map[string]bool{}
	if g.DebugTypes == "" {
		return out, nil
	}
	for _, t := range strings.Split(g.DebugTypes, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		known := false
		for _, n := range debugTypeNames {
			known = known || n == t
		}
		if !known {
			return nil, fmt.Errorf("-d %s: unknown debug type %q; use one or more of %s, separated by commas", g.DebugTypes, t, strings.Join(debugTypeNames, ", "))
		}
		out[t] = true
	}
	return out, nil
}

// componentLog is log with debug messages on when -d names one of types
// (or all). -d was checked by newLogger.
func componentLog(g *Globals, log zerolog.Logger, types ...string) zerolog.Logger {
	on, _ := debugTypes(g)
	for _, t := range types {
		if on[t] {
			return log.Level(zerolog.DebugLevel)
		}
	}
	return log
}
