package maildir

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/faultinject"
	"mailtrail/model"
)

// fsyncWorkers is how many files Commit fsyncs at once.
const fsyncWorkers = 4

// pendingFile is one message written to tmp/ and not yet moved into place.
type pendingFile struct {
	name string // the same name in tmp/ and in its destination
	sub  string // destination: "cur" or "new"
	date time.Time
}

// Batch writes new messages into tmp/ without fsync and makes them durable
// and visible together on Commit. It implements adapters.LocalBatch. A
// Batch is used once: after Commit or Abort it accepts nothing more.
type Batch struct {
	folder *Folder

	mu      sync.Mutex
	pending []pendingFile
	closed  bool
}

var _ adapters.LocalBatch = (*Batch)(nil)

var errBatchClosed = errors.New("maildir batch already committed or aborted; start a new batch")

// Add streams body (wire form) into a new file in tmp/, turning CRLF into
// LF; Commit sets its mtime and atime to date (not Add: a file in tmp/
// with an old mtime would look stale to RemoveStaleTmp). The name is
// OfflineIMAP's: "<time>_<seq>.<pid>.<host>,U=<uid>,FMD5=<md5>:2,<flags>".
// It returns the message's key. Nothing is fsynced until Commit.
func (b *Batch) Add(uid uint32, flags model.Flags, date time.Time, body io.Reader) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.folder
	if b.closed {
		return "", fmt.Errorf("maildir folder %s: add uid %d: %w", f.name, uid, errBatchClosed)
	}
	s := f.store
	if date.IsZero() {
		date = s.now()
	}
	stamp := s.now()
	if s.useDate {
		stamp = date
	}
	var (
		key, name, tmpPath string
		file               *newFile
	)
	// The name is unique unless a file of the same key is already known or
	// (another process with our pid, or a clock step) already in tmp/:
	// then take the next sequence number.
	for attempt := 0; ; attempt++ {
		key = uniqueKey(stamp, s.pid, s.host)
		if f.knownKey(key) {
			continue
		}
		name = formatBase(key, uid, f.fmd5) + infoSuffix(s.infosep, infoLetters(flags, ""))
		key = name[:len(key)] // the name's prefix: one string kept per file, not two
		tmpPath = filepath.Join(f.path, "tmp", name)
		var err error
		file, err = createNew(tmpPath)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt >= 100 {
			return "", fmt.Errorf("maildir folder %s: create %s: %w", f.name, tmpPath, withAdvice(err))
		}
	}
	w := fileWriters.Get().(*bufio.Writer)
	w.Reset(file)
	_, err := copyCRLFToLF(w, body)
	if err == nil {
		err = w.Flush()
	}
	w.Reset(nil)
	fileWriters.Put(w)
	if cerr := file.close(date, datedOnClose && err == nil); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmpPath)
		return "", fmt.Errorf("maildir folder %s: write uid %d to %s: %w", f.name, uid, tmpPath, withAdvice(err))
	}
	b.pending = append(b.pending, pendingFile{name: name, sub: subdirFor(flags), date: date})
	faultinject.Step(faultinject.Effect, "maildir write tmp/"+name)
	return key, nil
}

// noReplaceFallback is renameNoReplace where the file system cannot refuse
// to replace by itself: a check, then a rename.
func noReplaceFallback(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(from, to)
}

// knownKey reports whether the folder's index already has key.
func (f *Folder) knownKey(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.index.get(key, f.store.infosep)
	return ok
}

// Commit sets every file's mtime and atime to its date (unless Add did:
// datedOnClose), makes the files durable (syncFiles), renames each from
// tmp/ into cur/ (Seen) or new/ (not Seen), then fsyncs cur/ and new/
// once each. After it returns nil the messages survive a crash. It never
// replaces an existing file. A failed Commit leaves the files not yet
// moved in tmp/ for Abort; the ones already moved stay, durable.
func (b *Batch) Commit(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.folder
	if b.closed {
		return nil
	}
	if len(b.pending) == 0 {
		b.closed = true
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.syncFiles(ctx); err != nil {
		return fmt.Errorf("maildir folder %s: commit: %w", f.name, withAdvice(err))
	}

	// The folder is not locked across the renames: the next batch's Add
	// (which checks its new keys against the folder's index) goes on
	// meanwhile.
	touched := map[string]bool{}
	var renameErr error
	moved := 0
	for _, p := range b.pending {
		from := filepath.Join(f.path, "tmp", p.name)
		to := filepath.Join(f.path, p.sub, p.name)
		if err := renameNoReplace(from, to); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%s already exists; not replacing it", to)
			}
			renameErr = err
			break
		}
		touched[p.sub] = true
		moved++
		faultinject.Step(faultinject.Effect, "maildir rename into "+p.sub+"/"+p.name)
	}
	f.mu.Lock()
	f.added += moved
	f.mu.Unlock()
	b.pending = b.pending[moved:]

	// Make the renames done so far durable, even when one failed.
	var syncErr error
	for _, sub := range []string{"new", "cur"} {
		if touched[sub] {
			if err := syncDir(filepath.Join(f.path, sub)); err != nil && syncErr == nil {
				syncErr = err
			}
		}
	}
	if err := errors.Join(renameErr, syncErr); err != nil {
		return fmt.Errorf("maildir folder %s: commit (%d of %d messages moved into place): %w",
			f.name, moved, moved+len(b.pending), withAdvice(err))
	}
	b.closed = true
	return nil
}

// syncfsFrom is the batch size from which Commit makes the files durable
// with one syncfs(2) of the file system instead of an fsync per file: a
// cold sync of thousands of messages spends most of its time in per-file
// fsyncs otherwise (mbsync's cost). syncfs also flushes other programs'
// writes to that file system, which for a handful of files can cost more
// than it saves.
const syncfsFrom = 16

// syncFiles sets the date of every pending tmp/ file (unless Add did) and
// makes the files durable: with one syncfs where the platform has it and
// the batch is large, else with an fsync per file by a small worker pool.
// It returns the first error.
func (b *Batch) syncFiles(ctx context.Context) error {
	if len(b.pending) >= syncfsFrom && haveSyncfs {
		tmp := filepath.Join(b.folder.path, "tmp")
		for _, p := range b.pending {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !datedOnClose {
				path := filepath.Join(tmp, p.name)
				if err := os.Chtimes(path, p.date, p.date); err != nil {
					return fmt.Errorf("set date of %s: %w", path, err)
				}
			}
		}
		if err := syncfs(tmp); err != nil {
			return fmt.Errorf("syncfs %s: %w", tmp, err)
		}
		return nil
	}
	return b.fsyncFiles(ctx)
}

// fsyncFiles sets the date of every pending tmp/ file (unless Add did) and
// fsyncs it, with a small worker pool, and returns the first error. The
// write-back of all of them is started first (startWriteback), so that the
// fsyncs wait for one write of the batch rather than each for its own.
func (b *Batch) fsyncFiles(ctx context.Context) error {
	jobs := make(chan pendingFile)
	errs := make(chan error, fsyncWorkers)
	tmp := filepath.Join(b.folder.path, "tmp")
	for _, p := range b.pending {
		startWriteback(filepath.Join(tmp, p.name))
	}
	var wg sync.WaitGroup
	workers := min(fsyncWorkers, len(b.pending))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var first error
			for p := range jobs {
				if first != nil {
					continue
				}
				path := filepath.Join(tmp, p.name)
				if !datedOnClose {
					if err := os.Chtimes(path, p.date, p.date); err != nil {
						first = fmt.Errorf("set date of %s: %w", path, err)
						continue
					}
				}
				first = syncFile(path)
			}
			errs <- first
		}()
	}
	var ctxErr error
	for _, p := range b.pending {
		if ctxErr = ctx.Err(); ctxErr != nil {
			break
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var errList []error
	for err := range errs {
		if err != nil {
			errList = append(errList, err)
		}
	}
	if ctxErr != nil {
		return ctxErr
	}
	if len(errList) > 0 {
		return errList[0]
	}
	return nil
}

// syncFile fsyncs one file. fsync through a read-only descriptor flushes
// the file's data and inode on Linux.
func syncFile(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return file.Close()
}

// Abort removes the batch's files that are still in tmp/. Files a failed
// Commit already moved into place stay (they are complete and durable).
func (b *Batch) Abort() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	var errs []error
	for _, p := range b.pending {
		path := filepath.Join(b.folder.path, "tmp", p.name)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	b.pending = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("maildir folder %s: abort: %w", b.folder.name, err)
	}
	return nil
}
