package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/rs/zerolog"

	"mailtrail/adapters/maildir"
	"mailtrail/config"
	"mailtrail/engine"
	"mailtrail/mbnames"
)

// mbnamesDir holds mailtrail's intermediate mbnames files (one per
// account), beside the accounts' state directories. OfflineIMAP's own, in
// its metadata directory, are neither read nor written.
func mbnamesDir(cfg *config.Config) string {
	return filepath.Join(filepath.Dir(cfg.General.StoreDir("x")), ".mbnames")
}

// mbnamesRun writes the mbnames file for one sync of several accounts.
type mbnamesRun struct {
	w   *mbnames.Writer
	log zerolog.Logger
	mu  sync.Mutex
}

func newMbnames(cfg *config.Config, g *Globals, log zerolog.Logger) *mbnamesRun {
	m := &mbnamesRun{log: log}
	if !cfg.Mbnames.Enabled {
		return m
	}
	m.w = &mbnames.Writer{Cfg: cfg.Mbnames, Dir: mbnamesDir(cfg), DryRun: g.DryRun,
		Report: func(s string) { log.Info().Msg(s) }}
	return m
}

// accountDone records the account's synced folders that exist locally, by
// their names in the Maildir (with its sep), as OfflineIMAP lists them.
func (m *mbnamesRun) accountDone(ctx context.Context, acct *config.Account, rep engine.Report) {
	if m.w == nil {
		return
	}
	local, err := maildir.New(acct.Local.LocalFolders, acct.Local.Sep[0], maildirOptions(acct))
	if err != nil {
		m.log.Error().Err(err).Msg("mbnames")
		return
	}
	exists := map[string]bool{}
	if names, err := local.ListFolders(ctx); err == nil {
		for _, n := range names {
			exists[n] = true
		}
	}
	var folders []string
	for _, f := range rep.Folders {
		if !exists[f.Name] {
			continue
		}
		if ln, err := local.LocalName(f.Name); err == nil {
			folders = append(folders, ln)
		}
	}
	sort.Strings(folders)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.w.AccountDone(acct.Name, acct.Local.LocalFolders, folders); err != nil {
		m.log.Error().Err(err).Msg("mbnames")
	}
}

func (m *mbnamesRun) finish() {
	if m.w == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.w.Finish(); err != nil {
		m.log.Error().Err(err).Msg("mbnames")
	}
}

// runMbnamesPrune is --mbnames-prune: remove the intermediate files of
// accounts no longer in [general] accounts (all of them when mbnames is
// disabled), then rewrite the mbnames file.
func runMbnamesPrune(g *Globals, out io.Writer) error {
	cfg, err := loadConfig(g, os.Stderr, false)
	if err != nil {
		return err
	}
	w := &mbnames.Writer{Cfg: cfg.Mbnames, Dir: mbnamesDir(cfg), DryRun: g.DryRun,
		Report: func(s string) { fmt.Fprintln(out, s) }}
	if _, err := w.Prune(cfg.General.Accounts); err != nil {
		return err
	}
	if cfg.Mbnames.Enabled {
		return w.Write()
	}
	return nil
}
