package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/config"
)

// runHook runs an account's presynchook or postsynchook with the shell, as
// OfflineIMAP does (not in a dry run). Its output and exit status are
// logged; a failing hook is an error in the log and does not stop the
// sync (OfflineIMAP's behaviour).
func runHook(ctx context.Context, g *Globals, acct *config.Account, which, cmd string, log zerolog.Logger) {
	if cmd == "" || ctx.Err() != nil {
		return
	}
	l := log.With().Str("account", acct.Name).Str("hook", which).Logger()
	if g.DryRun {
		l.Info().Str("command", cmd).Msg("dry run: the hook would be called")
		return
	}
	l.Info().Str("command", cmd).Msg("calling hook")
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	ev := l.Info()
	if err != nil {
		ev = l.Error().Err(err)
	}
	ev.Str("stdout", strings.TrimSpace(out.String())).Str("stderr", strings.TrimSpace(errb.String())).
		Int("exit", c.ProcessState.ExitCode()).Msg("hook finished")
}

// restoreAtimes implements restoreatime: it records the access times of
// every folder's cur/ and new/ now and returns a function that puts them
// back (keeping the modification times the sync gave them), so programs
// that tell new mail by atime < mtime keep working. A no-op unless the
// local repository sets restoreatime.
func restoreAtimes(acct *config.Account, log zerolog.Logger) func() {
	if !acct.Local.Extra.RestoreAtime {
		return func() {}
	}
	type saved struct {
		path  string
		atime time.Time
	}
	var dirs []saved
	_ = filepath.WalkDir(acct.Local.LocalFolders, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if b := d.Name(); b == "cur" || b == "new" {
			if at, ok := atime(p); ok {
				dirs = append(dirs, saved{p, at})
			}
			return filepath.SkipDir
		}
		if d.Name() == "tmp" {
			return filepath.SkipDir
		}
		return nil
	})
	return func() {
		for _, s := range dirs {
			st, err := os.Stat(s.path)
			if err != nil {
				continue
			}
			if err := os.Chtimes(s.path, s.atime, st.ModTime()); err != nil && !errors.Is(err, os.ErrNotExist) {
				log.Warn().Err(err).Str("dir", s.path).Msg("restoreatime")
			}
		}
	}
}
