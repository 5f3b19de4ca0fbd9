// Package mbnames writes OfflineIMAP's "mbnames" file: one line (or any
// text the configuration asks for) listing every synced folder, which mail
// readers include (mutt's "mailboxes").
//
// As in OfflineIMAP, each account's folders are first written to an
// intermediate JSON file (<dir>/<account>.json, a list of objects with
// accountname, foldername and localfolders), and the mbnames file is built
// from every account's intermediate file: so syncing one account with -a
// keeps the other accounts' folders in it. The file is written as
//
//	header + sep.join(peritem % item for item in sorted(items)) + footer
//
// byte for byte as OfflineIMAP writes it, and atomically (a temporary file
// renamed over it), so a mail reader never reads half of it.
package mbnames

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"mailtrail/config"
	"mailtrail/config/lambda"
)

// Item is one folder in the file.
type Item struct {
	Account      string `json:"accountname"`
	Folder       string `json:"foldername"`
	LocalFolders string `json:"localfolders"`
}

// Writer writes the mbnames file of one configuration.
type Writer struct {
	Cfg config.Mbnames
	// Dir holds the intermediate files (mailtrail's, not OfflineIMAP's).
	Dir string
	// DryRun writes nothing; Report says what would have been written.
	DryRun bool
	// Report, when set, is told each file written, removed or, in a dry
	// run, that would be.
	Report func(msg string)
}

func (w *Writer) report(format string, args ...any) {
	if w.Report != nil {
		w.Report(fmt.Sprintf(format, args...))
	}
}

// AccountDone records the folders of one synced account (local names, in
// the Maildir's own form with its sep, as OfflineIMAP lists them) and, with
// incremental, writes the mbnames file now. Folders the [mbnames]
// folderfilter rejects are left out.
func (w *Writer) AccountDone(account, localRoot string, folders []string) error {
	if !w.Cfg.Enabled {
		return nil
	}
	items := []Item{}
	seen := map[string]bool{}
	for _, f := range folders {
		if seen[f] {
			continue
		}
		seen[f] = true
		if w.Cfg.FolderFilter != nil {
			ok, err := w.Cfg.FolderFilter.CallBoolN(account, f)
			if err != nil {
				return fmt.Errorf("mbnames: %w", err)
			}
			if !ok {
				continue
			}
		}
		items = append(items, Item{Account: account, Folder: f, LocalFolders: localRoot})
	}
	path := filepath.Join(w.Dir, account+".json")
	if w.DryRun {
		w.report("mbnames would write %s", path)
	} else {
		data, err := json.Marshal(items)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(w.Dir, 0o700); err != nil {
			return fmt.Errorf("mbnames: %w", err)
		}
		if err := writeAtomic(path, data, 0o600); err != nil {
			return fmt.Errorf("mbnames: %w", err)
		}
	}
	if w.Cfg.Incremental {
		return w.Write()
	}
	return nil
}

// Finish writes the mbnames file once all accounts are done (nothing to do
// with incremental: each account wrote it).
func (w *Writer) Finish() error {
	if !w.Cfg.Enabled || w.Cfg.Incremental {
		return nil
	}
	return w.Write()
}

// Write builds the mbnames file from every intermediate file.
func (w *Writer) Write() error {
	items, err := w.readAll()
	if err != nil {
		return err
	}
	text, err := Render(w.Cfg, items)
	if err != nil {
		return err
	}
	if w.DryRun {
		w.report("mbnames would write %s", w.Cfg.Filename)
		return nil
	}
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(w.Cfg.Filename); err == nil {
		mode = st.Mode().Perm()
	}
	if err := writeAtomic(w.Cfg.Filename, []byte(text), mode); err != nil {
		return fmt.Errorf("mbnames: %w", err)
	}
	w.report("mbnames wrote %s", w.Cfg.Filename)
	return nil
}

// Render is the mbnames file's text for items, sorted by sort_keyfunc (by
// account, then folder, by default; the sort is stable, as Python's).
func Render(cfg config.Mbnames, items []Item) (string, error) {
	items = append([]Item(nil), items...)
	if cfg.SortKey == nil {
		sort.SliceStable(items, func(i, j int) bool {
			if items[i].Account != items[j].Account {
				return items[i].Account < items[j].Account
			}
			return items[i].Folder < items[j].Folder
		})
	} else {
		keys := make([]lambda.Key, len(items))
		for i, it := range items {
			k, err := cfg.SortKey.CallDict(it.dict())
			if err != nil {
				return "", fmt.Errorf("mbnames: %w", err)
			}
			keys[i] = k
		}
		idx := make([]int, len(items))
		for i := range idx {
			idx[i] = i
		}
		var cmpErr error
		sort.SliceStable(idx, func(a, b int) bool {
			less, err := lambda.Less(keys[idx[a]], keys[idx[b]])
			if err != nil && cmpErr == nil {
				cmpErr = err
			}
			return less
		})
		if cmpErr != nil {
			return "", fmt.Errorf("mbnames: sort_keyfunc = %s: its keys cannot be compared: %v", cfg.SortKey.Source(), cmpErr)
		}
		sorted := make([]Item, len(items))
		for i, j := range idx {
			sorted[i] = items[j]
		}
		items = sorted
	}
	parts := make([]string, len(items))
	for i, it := range items {
		s, err := config.FormatPerItem(cfg.PerItem, it.dict())
		if err != nil {
			return "", fmt.Errorf("mbnames: peritem = %s: %v", cfg.PerItem, err)
		}
		parts[i] = s
	}
	return cfg.Header + strings.Join(parts, cfg.Sep) + cfg.Footer, nil
}

func (it Item) dict() map[string]string {
	return map[string]string{"accountname": it.Account, "foldername": it.Folder, "localfolders": it.LocalFolders}
}

// intermediateFiles lists <Dir>/*.json.
func (w *Writer) intermediateFiles() ([]string, error) {
	ents, err := os.ReadDir(w.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mbnames: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, filepath.Join(w.Dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (w *Writer) readAll() ([]Item, error) {
	files, err := w.intermediateFiles()
	if err != nil {
		return nil, err
	}
	var all []Item
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("mbnames: %w", err)
		}
		var items []Item
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("mbnames: intermediate file %s is damaged (remove it; the next sync of its account writes it again): %w", f, err)
		}
		all = append(all, items...)
	}
	return all, nil
}

// Prune removes the intermediate files of accounts not in accounts (all of
// them when mbnames is disabled), as OfflineIMAP's --mbnames-prune, and
// returns the files removed (or, in a dry run, that would be).
func (w *Writer) Prune(accounts []string) ([]string, error) {
	files, err := w.intermediateFiles()
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	if w.Cfg.Enabled {
		for _, a := range accounts {
			keep[a] = true
		}
	}
	var removed []string
	for _, f := range files {
		if keep[strings.TrimSuffix(filepath.Base(f), ".json")] {
			continue
		}
		if w.DryRun {
			w.report("mbnames would remove %s", f)
		} else {
			if err := os.Remove(f); err != nil {
				return removed, fmt.Errorf("mbnames: %w", err)
			}
			w.report("removed %s", f)
		}
		removed = append(removed, f)
	}
	if len(removed) == 0 {
		w.report("no cache file to remove")
	}
	return removed, nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, fsynced, then renamed over path, then the directory fsynced.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
