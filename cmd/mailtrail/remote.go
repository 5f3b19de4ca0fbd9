package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"mailtrail/adapters/imap"
	"mailtrail/config"
	"mailtrail/journal"
)

// openRemote connects to an account's IMAP server and returns the store
// with the function to call when the sync is over. With holdconnectionopen
// and autorefresh (and neither -o nor --dry-run), the store is kept open
// between syncs, as OfflineIMAP keeps its connections: a later sync of the
// account takes it again (without asking for the password again), and
// autorefresh closes it when it stops (refresh.go). warm says, while the
// first connection logs in, how many the run will want
// (imap.Config.WarmWhileDialling).
func openRemote(ctx context.Context, g *Globals, cfg *config.Config, acct *config.Account, log zerolog.Logger, warm func() int) (*imap.Store, func(), error) {
	hold := holdsConnection(g, acct)
	if hold {
		if s := held.take(acct.Name); s != nil {
			return s, func() { held.put(acct.Name, s) }, nil
		}
	}
	rr := acct.Remote
	pass, err := remotePassword(ctx, cfg, rr)
	if err != nil {
		return nil, nil, err
	}
	icfg := imap.Config{
		Host:           rr.RemoteHost,
		Port:           rr.RemotePort,
		User:           rr.RemoteUser,
		Password:       pass.Reveal(),
		CAFile:         rr.SSLCACertFile,
		MaxConnections: rr.MaxConnections,
		Timeout:        cfg.General.SockTimeout,
		Logger:         componentLog(g, log, "imap"),

		WarmWhileDialling: warm,
	}
	imapSecurity(rr, &icfg)
	imapListing(acct, &icfg)
	switch {
	case rr.SSL:
		icfg.TLS = imap.TLSImplicit
	case rr.STARTTLS:
		icfg.TLS = imap.TLSStartTLS
	default:
		icfg.TLS = imap.TLSNone
	}
	remote, err := imap.Dial(ctx, icfg)
	if err != nil {
		return nil, nil, fmt.Errorf("remote repository %s: %w", rr.Name, err)
	}
	if hold {
		return remote, func() { held.put(acct.Name, remote) }, nil
	}
	return remote, func() { _ = remote.Close() }, nil
}

// holdsConnection reports whether the account's IMAP connections stay open
// between syncs: holdconnectionopen, and syncs to come (autorefresh, no
// -o, no --dry-run).
func holdsConnection(g *Globals, acct *config.Account) bool {
	return acct.Remote.HoldConnectionOpen && acct.Extra.AutoRefresh > 0 && !g.Once && !g.DryRun
}

// held holds the IMAP stores kept open between syncs, by account. A store
// is taken out while its account syncs and put back after.
var held = &heldStores{}

type heldStores struct {
	mu sync.Mutex
	m  map[string]*imap.Store
}

func (h *heldStores) take(account string) *imap.Store {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[account]
	delete(h.m, account)
	return s
}

func (h *heldStores) put(account string, s *imap.Store) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*imap.Store{}
	}
	h.m[account] = s
}

// keepAlive sends a NOOP on the idle connections of the accounts whose
// keepalive is due (keepalive: the period of each account; next: when
// each is due, updated).
func (h *heldStores) keepAlive(ctx context.Context, keepalive map[string]time.Duration, next map[string]time.Time, log zerolog.Logger) {
	now := time.Now()
	for name, every := range keepalive {
		if next[name].After(now) {
			continue
		}
		next[name] = now.Add(every)
		s := h.take(name)
		if s == nil {
			continue
		}
		if err := s.KeepAlive(ctx); err != nil {
			log.Debug().Str("account", name).Err(err).Msg("keepalive: a held connection was lost; the next sync connects again")
		}
		h.put(name, s)
	}
}

// closeAll logs out of every held store.
func (h *heldStores) closeAll() {
	h.mu.Lock()
	m := h.m
	h.m = nil
	h.mu.Unlock()
	for _, s := range m {
		_ = s.Close()
	}
}

// delimiterHint is the journal's hint (journal.Store.Hint) holding the
// server's hierarchy delimiter as the last run learned it: the character,
// or "none" for a flat server.
const delimiterHint = "imap-delimiter"

// hintDelimiter gives remote the delimiter the journal remembers, so that
// a folder with levels can be opened with the folder listing
// (imap.Store.ListFoldersOpening) before the listing teaches it again, and
// returns what records the one this run learned, when it differs (run
// before the remote and the journal close). A dry run uses the hint and
// leaves the journal as it was (a read-only journal refuses the write; an
// account's first dry run plans against a journal in memory); a hint that
// cannot be read or written costs only that round trip.
func hintDelimiter(j *journal.Store, remote *imap.Store, log zerolog.Logger) func() {
	hint, err := j.Hint(delimiterHint)
	if err != nil {
		log.Debug().Err(err).Msg("reading the delimiter hint")
	}
	if d, ok := decodeDelimiter(hint); ok {
		remote.HintDelimiter(d)
	}
	return func() {
		d, ok := remote.KnownDelimiter()
		if !ok || encodeDelimiter(d) == hint {
			return
		}
		if err := j.SetHint(delimiterHint, encodeDelimiter(d)); err != nil && !errors.Is(err, journal.ErrReadOnly) {
			log.Debug().Err(err).Msg("recording the delimiter hint")
		}
	}
}

func encodeDelimiter(d rune) string {
	if d == 0 {
		return "none"
	}
	return string(d)
}

func decodeDelimiter(s string) (rune, bool) {
	if s == "none" {
		return 0, true
	}
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 || n != len(s) || r == utf8.RuneError {
		return 0, false
	}
	return r, true
}
