package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/faultinject"
)

// Options tunes a Store. The zero value is OfflineIMAP's default behaviour.
type Options struct {
	// Hostname goes into new file names; default os.Hostname(). '/', ':',
	// '!' and ',' are replaced by '-'.
	Hostname string
	// PID goes into new file names; default os.Getpid().
	PID int
	// Now is the clock for new file names (and for messages without an
	// internal date); default time.Now.
	Now func() time.Time
	// InfoSep separates the unique name from the ":2,<flags>" info; default
	// ':'. OfflineIMAP's maildir-windows-compatible = yes uses '!'.
	InfoSep byte
	// FilenameUseMailTimestamp makes the "<time>" of a new file name the
	// message's internal date instead of the current time, like
	// OfflineIMAP's filename_use_mail_timestamp (which reads the Date
	// header; mailtrail never parses the message and uses the internal date).
	FilenameUseMailTimestamp bool
	// VisibleName is the local repository's nametrans, applied to a local
	// folder name (with sep) before its md5 is taken for FMD5, as OfflineIMAP
	// does (md5 of getvisiblename()). Default: the local name unchanged.
	VisibleName func(localName string) string
	// ScanSizes makes Scan stat every file to fill LocalMsg.Size (the
	// on-disk, LF, length) and LocalMsg.Date (the mtime). Without it both
	// are zero: a scan of 100,000 files
	// costs about 0.13 s with a warm cache without stat, 0.36 s with.
	ScanSizes bool
}

// Store is an OfflineIMAP-compatible tree of Maildir folders under one root
// (OfflineIMAP's localfolders). It implements adapters.Local.
type Store struct {
	root      string
	sep       byte
	infosep   byte
	host      string
	pid       int
	now       func() time.Time
	useDate   bool
	visible   func(string) string
	scanSizes bool
}

var _ adapters.Local = (*Store)(nil)

// dirMode and fileMode are the permissions of what the Store creates:
// OfflineIMAP makes folders 0700; message files are private too.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// New opens the Maildir tree at root (already ~-expanded), creating root
// (mode 0700) when it does not exist, as OfflineIMAP does. sep is
// OfflineIMAP's sep: '.' keeps every folder a direct child of root ("a.b"),
// '/' nests folders as directories ("a/b").
func New(root string, sep byte, opts Options) (*Store, error) {
	if root == "" {
		return nil, errors.New("maildir: empty root path; set localfolders")
	}
	if sep == 0 {
		sep = '.'
	}
	s := &Store{
		root:      filepath.Clean(root),
		sep:       sep,
		infosep:   opts.InfoSep,
		host:      opts.Hostname,
		pid:       opts.PID,
		now:       opts.Now,
		useDate:   opts.FilenameUseMailTimestamp,
		visible:   opts.VisibleName,
		scanSizes: opts.ScanSizes,
	}
	if s.infosep == 0 {
		s.infosep = ':'
	}
	if s.infosep == sep || s.infosep == ',' || s.infosep == '/' {
		return nil, fmt.Errorf("maildir %s: info separator %q cannot be %q, ',' or '/'", root, s.infosep, sep)
	}
	if s.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("maildir %s: cannot read the host name for file names (set Options.Hostname): %w", root, err)
		}
		s.host = h
	}
	s.host = sanitizeHostname(s.host)
	if s.pid == 0 {
		s.pid = os.Getpid()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.visible == nil {
		s.visible = func(n string) string { return n }
	}
	st, err := os.Stat(s.root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(s.root, dirMode); err != nil {
			return nil, fmt.Errorf("maildir root %s: cannot create it: %w", s.root, withAdvice(err))
		}
	case err != nil:
		return nil, fmt.Errorf("maildir root %s: %w", s.root, err)
	case !st.IsDir():
		return nil, fmt.Errorf("maildir root %s: not a directory; check localfolders", s.root)
	}
	return s, nil
}

// Root is the directory holding every folder.
func (s *Store) Root() string { return s.root }

// Sep is the Maildir hierarchy separator.
func (s *Store) Sep() byte { return s.sep }

// LocalName maps a canonical folder name ("a/b") to its name under root
// ("a.b" with sep '.', "a/b" with sep '/'). It refuses names that cannot
// round-trip through CanonicalName or that would leave root: with sep '/',
// empty, "." or ".." components and components named cur, new or tmp; with
// any other sep, a component holding sep (with sep '.', "a.b" would come
// back as "a/b") and the local names "", ".", "..", cur, new and tmp. With
// sep '.', a Maildir++ directory ".Trash" is the canonical "/Trash".
func (s *Store) LocalName(canonical string) (string, error) {
	if canonical == "" {
		return "", errors.New("maildir: empty folder name")
	}
	if strings.IndexByte(canonical, 0) >= 0 {
		return "", fmt.Errorf("maildir folder %q: NUL byte in name", canonical)
	}
	if s.sep == '/' {
		for _, p := range strings.Split(canonical, "/") {
			switch p {
			case "", ".", "..":
				return "", fmt.Errorf("maildir folder %q: empty, '.' or '..' path component", canonical)
			case "cur", "new", "tmp":
				return "", fmt.Errorf("maildir folder %q: with sep '/' no part of a folder name can be cur, new or tmp", canonical)
			}
		}
		return canonical, nil
	}
	for _, p := range strings.Split(canonical, "/") {
		if strings.IndexByte(p, s.sep) >= 0 {
			return "", fmt.Errorf("maildir folder %q: %q holds the Maildir separator %q, so the folder would read back under another name and could merge with another folder; it is not synced: rename it so that it has no %q, or use a Maildir with sep = /", canonical, p, s.sep, s.sep)
		}
	}
	local := strings.ReplaceAll(canonical, "/", string(s.sep))
	switch local {
	case ".", "..", "cur", "new", "tmp":
		return "", fmt.Errorf("maildir folder %q: its directory would be %q, which cannot be a folder", canonical, local)
	}
	return local, nil
}

// CanonicalName maps a folder's name under root back to the canonical name.
func (s *Store) CanonicalName(local string) string {
	if s.sep == '/' {
		return local
	}
	return strings.ReplaceAll(local, string(s.sep), "/")
}

// isMaildir reports whether dir holds cur/, new/ and tmp/ directories.
func isMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new", "tmp"} {
		st, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// ListFolders returns the canonical name of every folder, sorted. Like
// OfflineIMAP, it looks at the directories directly under root (and, with
// sep '/', at every directory below them, except cur, new and tmp); a
// directory is a folder when it has cur/, new/ and tmp/. Symbolic links to
// directories count as folders but are not descended into. root itself is
// never a folder here.
func (s *Store) ListFolders(ctx context.Context) ([]string, error) {
	var out []string
	var walk func(rel string) error
	walk = func(rel string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(s.root, filepath.FromSlash(rel))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("maildir: list folders under %s: %w", dir, err)
		}
		for _, e := range entries {
			name := e.Name()
			if name == "cur" || name == "new" || name == "tmp" {
				continue
			}
			isDir := e.IsDir()
			isLink := e.Type()&fs.ModeSymlink != 0
			if !isDir && !isLink {
				continue
			}
			full := filepath.Join(dir, name)
			if isLink {
				st, err := os.Stat(full)
				if err != nil || !st.IsDir() {
					continue
				}
			}
			local := name
			if rel != "" {
				local = rel + "/" + name
			}
			if isMaildir(full) {
				out = append(out, s.CanonicalName(local))
			}
			if s.sep == '/' && isDir {
				if err := walk(local); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// CreateFolder creates the folder's directory (and, with sep '/', its
// parent directories) with cur/, new/ and tmp/, then fsyncs every directory
// that gained an entry. An existing folder is not an error.
func (s *Store) CreateFolder(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	local, err := s.LocalName(name)
	if err != nil {
		return err
	}
	path := filepath.Join(s.root, filepath.FromSlash(local))
	// Every directory from root down to the folder, then its three subdirs.
	var chain []string
	for p := path; p != s.root && strings.HasPrefix(p, s.root); p = filepath.Dir(p) {
		chain = append(chain, p)
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	chain = append(chain, filepath.Join(path, "cur"), filepath.Join(path, "new"), filepath.Join(path, "tmp"))
	toSync := map[string]bool{}
	var order []string
	for _, dir := range chain {
		err := os.Mkdir(dir, dirMode)
		switch {
		case err == nil:
			faultinject.Step(faultinject.Effect, "maildir mkdir "+dir)
			parent := filepath.Dir(dir)
			if !toSync[parent] {
				toSync[parent] = true
				order = append(order, parent)
			}
		case errors.Is(err, fs.ErrExist):
			st, serr := os.Stat(dir)
			if serr != nil {
				return fmt.Errorf("maildir folder %s: %s: %w", name, dir, serr)
			}
			if !st.IsDir() {
				return fmt.Errorf("maildir folder %s: %s exists and is not a directory; move it away", name, dir)
			}
		default:
			return fmt.Errorf("maildir folder %s: create %s: %w", name, dir, withAdvice(err))
		}
	}
	// Deepest first, so that a parent is synced after the entries below it.
	for i := len(order) - 1; i >= 0; i-- {
		if err := syncDir(order[i]); err != nil {
			return fmt.Errorf("maildir folder %s: %w", name, withAdvice(err))
		}
	}
	return nil
}

// OpenFolder opens an existing folder; the error wraps adapters.ErrNoFolder
// when it does not exist (or lacks cur/, new/ or tmp/).
func (s *Store) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := s.Folder(name)
	if err != nil {
		return nil, err
	}
	// Leftovers of a batch that a crash interrupted are garbage: the sync
	// that follows fetches those messages again. Best effort: a read-only
	// tmp/ must not stop a sync that may not even need to write.
	_, _ = f.RemoveStaleTmp(StaleTmpAge)
	return f, nil
}

// FolderStamp is the folder's current cur/ and new/ mtimes, read with two
// stats and without opening the folder.
func (s *Store) FolderStamp(ctx context.Context, name string) (adapters.Stamp, error) {
	if err := ctx.Err(); err != nil {
		return adapters.Stamp{}, err
	}
	f, err := s.Folder(name)
	if err != nil {
		return adapters.Stamp{}, err
	}
	cur, nw, err := f.DirMtimes()
	if err != nil {
		return adapters.Stamp{}, err
	}
	return adapters.Stamp{cur.UnixNano(), nw.UnixNano()}, nil
}

// StaleTmpAge is how old a file in tmp/ must be before OpenFolder removes
// it: the 36 hours Maildir readers conventionally allow a delivery.
const StaleTmpAge = 36 * time.Hour

// Folder is OpenFolder returning the concrete type, for callers that want
// DirMtimes or FMD5.
func (s *Store) Folder(name string) (*Folder, error) {
	local, err := s.LocalName(name)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.root, filepath.FromSlash(local))
	if !isMaildir(path) {
		return nil, fmt.Errorf("maildir folder %s (%s): %w: no cur/, new/ and tmp/ directories there", name, path, adapters.ErrNoFolder)
	}
	return &Folder{
		store:     s,
		name:      name,
		localName: local,
		path:      path,
		fmd5:      folderMD5(s.visible(local)),
		dirty:     map[string]bool{},
	}, nil
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("fsync directory %s: close: %w", dir, err)
	}
	return nil
}
