package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/faultinject"
	"mailtrail/model"
)

// fileRef is where a message file is now: its subdirectory and file name.
type fileRef struct {
	sub  string // "cur" or "new"
	name string
}

// Folder is one Maildir folder. It implements adapters.LocalFolder.
//
// It keeps an index from key to the file's current name (fileIndex), built
// by Scan and kept up to date by its own renames, deletions and moves. The
// files a Batch adds are not indexed: nothing in a sync asks for them again
// before the next scan, and a cold sync of 100,000 messages would hold
// their 100,000 names for nothing. A key missing from the index, or whose
// file has vanished, causes one rescan before ErrNoMessage. A Folder is
// safe for concurrent use.
type Folder struct {
	store     *Store
	name      string // canonical
	localName string // with sep
	path      string
	fmd5      string

	mu       sync.Mutex
	index    fileIndex
	dirty    map[string]bool // directories renamed into/out of since the last Flush
	lastScan ScanState
	expected int // messages the first scan will probably find (ExpectMessages)
	added    int // files Batches moved in since the last scan (not indexed; the next scan's size hint)
}

var _ adapters.LocalFolder = (*Folder)(nil)
var _ adapters.ScanSizer = (*Folder)(nil)

// ExpectMessages sizes the first scan's list and index for n messages
// (the status's count): no growing, no copies, for a large folder.
func (f *Folder) ExpectMessages(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expected = max(n, 0)
}

// Name is the canonical folder name.
func (f *Folder) Name() string { return f.name }

// Path is the folder's directory.
func (f *Folder) Path() string { return f.path }

// FMD5 is the md5 hex this folder writes in ",FMD5=" and expects there for
// a ",U=" to count as this folder's UID.
func (f *Folder) FMD5() string { return f.fmd5 }

// DirMtimes returns the modification times of cur/ and new/, for the
// "unchanged local folder" fast path.
func (f *Folder) DirMtimes() (cur, new time.Time, err error) {
	cs, err := os.Stat(filepath.Join(f.path, "cur"))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("maildir folder %s: %w", f.name, err)
	}
	ns, err := os.Stat(filepath.Join(f.path, "new"))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("maildir folder %s: %w", f.name, err)
	}
	return cs.ModTime(), ns.ModTime(), nil
}

// Scan lists every message file in new/ and cur/ (dotfiles, directories
// and tmp/ are ignored) with one directory read each and no stat per file,
// so Size is 0 unless Options.ScanSizes is set. UID is reported only when
// the name's FMD5 is this folder's, as OfflineIMAP does: a file copied from
// another folder, or one without FMD5, is a new message here. Results are
// sorted by key.
//
// A directory read that races with a rename can miss a file or see it
// twice, and a missed file would look deleted. So Scan compares the mtimes
// of cur/ and new/ before and after reading them, and reads again when they
// moved (up to scanAttempts times, then it fails). A key seen twice is one
// message when the first file is gone; two files that are really there with
// one key are an error.
func (f *Folder) Scan(ctx context.Context) ([]model.LocalMsg, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scanLocked(ctx)
}

// scanAttempts bounds the rereads of a folder that changes while it is read.
const scanAttempts = 5

// ScanState is what the last successful Scan saw: the mtimes of cur/ and
// new/, unchanged from before to after the read, and the wall-clock time
// the read started. A later DirMtimes equal to these, both strictly older
// than Started, means nothing changed since (a change in the same clock
// tick as the scan would keep the mtime; then scan again).
type ScanState struct {
	CurMtime, NewMtime time.Time
	Started            time.Time
}

// stampMargin is how much older than the start of a Scan the directory
// mtimes must be for the scan's stamp to be trusted: longer than the file
// system's timestamp granularity, so that a change made in the same tick
// as the read cannot leave the mtimes as they were. ext4, XFS, btrfs and
// tmpfs keep nanoseconds but take them from the kernel's coarse clock,
// which advances once a tick: a change made after an instant S is dated
// at worst about one tick before S (5.2 ms at most in 120,000 changes on
// a loaded 2-core VM with HZ=250, a 4 ms tick), and
// TestStampMarginCoversTheFileSystemClock checks this where the tests run.
// The margin is three ticks (clockTick: on Linux the coarse clock's
// resolution, so 12 ms with HZ=250; a 10 ms tick assumed elsewhere),
// never less than 2 ms nor more than 20 ms, the fixed margin used before
// the tick was asked. A file system that keeps whole seconds (mtimes without a
// sub-second part: some NFS servers, FAT) gets 2 s.
var stampMargin = marginFor(clockTick())

const stampMarginCoarse = 2 * time.Second

// marginFor is three ticks, within [2 ms, 20 ms].
func marginFor(tick time.Duration) time.Duration {
	return min(max(3*tick, 2*time.Millisecond), 20*time.Millisecond)
}

// ScanStamp is the last Scan's mtimes of cur/ and new/ as an
// adapters.Stamp, trusted when both are older than the scan by the margin.
func (f *Folder) ScanStamp() (adapters.Stamp, bool) {
	st := f.LastScan()
	if st.Started.IsZero() {
		return adapters.Stamp{}, false
	}
	ok := st.CurMtime.Before(st.Started.Add(-st.margin())) && st.NewMtime.Before(st.Started.Add(-st.margin()))
	return adapters.Stamp{st.CurMtime.UnixNano(), st.NewMtime.UnixNano()}, ok
}

// StampSettles is when a Scan started would be trusted (ScanStamp) if the
// directories keep the mtimes the last Scan saw: the newer one plus the
// margin, and a little more.
func (f *Folder) StampSettles() time.Time {
	st := f.LastScan()
	if st.Started.IsZero() {
		return time.Time{}
	}
	newest := st.CurMtime
	if st.NewMtime.After(newest) {
		newest = st.NewMtime
	}
	return newest.Add(st.margin() + time.Millisecond)
}

// margin is how much older than the scan the mtimes must be (stampMargin).
func (st ScanState) margin() time.Duration {
	if st.CurMtime.Nanosecond() == 0 && st.NewMtime.Nanosecond() == 0 {
		return stampMarginCoarse
	}
	return stampMargin
}

// LastScan returns the state seen by the last successful Scan (the zero
// value before any).
func (f *Folder) LastScan() ScanState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastScan
}

func (f *Folder) scanLocked(ctx context.Context) ([]model.LocalMsg, error) {
	// The old index goes before the new one is built: a large folder
	// would hold both at once. Until a scan succeeds, lookups scan again.
	hint := f.index.size() + f.added
	f.added = 0
	if hint == 0 {
		hint = f.expected
	}
	f.index = fileIndex{}
	for attempt := 1; ; attempt++ {
		started := time.Now()
		cur1, new1, err := f.DirMtimes()
		if err != nil {
			return nil, err
		}
		msgs, files, err := f.readDirs(ctx, hint)
		if err != nil {
			return nil, err
		}
		cur2, new2, err := f.DirMtimes()
		if err != nil {
			return nil, err
		}
		if cur1.Equal(cur2) && new1.Equal(new2) {
			f.index = fileIndex{scanned: files, fmd5: f.fmd5}
			f.lastScan = ScanState{CurMtime: cur2, NewMtime: new2, Started: started}
			return msgs, nil
		}
		if attempt == scanAttempts {
			return nil, fmt.Errorf("maildir folder %s: changed during each of %d scans (another mail program is busy in it); try again later", f.name, scanAttempts)
		}
	}
}

// testHookAfterReadDir, when set by a test, runs after each directory
// read of a scan, to change the folder at the worst moment.
var testHookAfterReadDir func(sub string)

// readDirChunk is how many directory entries readDir reads at a time.
const readDirChunk = 1024

// readDirs reads new/ and cur/ once; hint is how many files are expected.
// It returns the messages and their files, both sorted by key.
func (f *Folder) readDirs(ctx context.Context, hint int) ([]model.LocalMsg, []scannedFile, error) {
	r := scanResult{
		msgs:  make([]model.LocalMsg, 0, max(hint, 64)),
		files: make([]scannedFile, 0, max(hint, 64)),
		names: &nameArena{},
	}
	for _, sub := range []string{"new", "cur"} {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if err := f.readDir(sub, &r); err != nil {
			return nil, nil, err
		}
		if testHookAfterReadDir != nil {
			testHookAfterReadDir(sub)
		}
	}
	sort.Sort(r)
	if err := f.dropDuplicates(&r); err != nil {
		return nil, nil, err
	}
	return r.msgs, r.files, nil
}

// dropDuplicates keeps one of two files with one key (r sorted by key)
// when the other is gone: a rename that raced with the read can show a
// file under both names. Two files that are both there are an error.
func (f *Folder) dropDuplicates(r *scanResult) error {
	out := 0
	for i := range r.msgs {
		if out == 0 || r.msgs[out-1].Key != r.msgs[i].Key {
			r.msgs[out], r.files[out] = r.msgs[i], r.files[i]
			out++
			continue
		}
		prev, cur := r.files[out-1].ref(f.fmd5), r.files[i].ref(f.fmd5)
		if _, err := os.Lstat(f.filePath(prev)); err != nil {
			r.msgs[out-1], r.files[out-1] = r.msgs[i], r.files[i] // prev was renamed into cur
			continue
		}
		if _, err := os.Lstat(f.filePath(cur)); err == nil {
			return fmt.Errorf("maildir folder %s: files %s/%s and %s/%s have the same message key %q (they differ only in U=, FMD5= or flags); remove or rename one of them",
				f.name, prev.sub, prev.name, cur.sub, cur.name, r.msgs[i].Key)
		}
	}
	clear(r.msgs[out:])
	clear(r.files[out:])
	r.msgs, r.files = r.msgs[:out], r.files[:out]
	return nil
}

// readDir adds the message files of sub/ to r. File.ReadDir does not sort
// and, where the file system gives the type in the directory entry, does
// not stat. The directory is read in chunks: a folder of 100,000 messages
// would otherwise hold 100,000 directory entries at once on top of what is
// kept.
func (f *Folder) readDir(sub string, r *scanResult) error {
	dir := filepath.Join(f.path, sub)
	d, err := os.Open(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("maildir folder %s: missing %s/ directory: %w", f.name, sub, adapters.ErrNoFolder)
		}
		return fmt.Errorf("maildir folder %s: %w", f.name, err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(readDirChunk)
		for _, e := range entries {
			if err := f.addEntry(sub, e, r); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("maildir folder %s: read %s: %w", f.name, dir, err)
		}
	}
}

// addEntry adds a directory entry of sub/ to r, when it is a message file
// (not a dotfile or a directory, and still there).
func (f *Folder) addEntry(sub string, e fs.DirEntry, r *scanResult) error {
	name := e.Name()
	if name == "" || name[0] == '.' || e.IsDir() {
		return nil
	}
	fn := parseFileName(name, f.store.infosep)
	sf, key, fmd5 := r.names.keepScanned(name, sub, fn, f.fmd5)
	msg := model.LocalMsg{Key: key, FMD5: fmd5}
	if fn.fmd5 == f.fmd5 {
		msg.UID = fn.uid
	} else if fn.fmd5 != "" {
		msg.FromUID = fn.uid
	}
	msg.Flags, _ = model.ParseMaildir(fn.info)
	if f.store.scanSizes {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // renamed or deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("maildir folder %s: stat %s/%s: %w", f.name, sub, name, err)
		}
		msg.Size = info.Size()
		msg.Date = model.DateOf(info.ModTime())
	}
	r.msgs = append(r.msgs, msg)
	r.files = append(r.files, sf)
	return nil
}

// lookupLocked returns where key is, rescanning once when it is not in the
// index (or when rescan is true, because its indexed file vanished).
func (f *Folder) lookupLocked(ctx context.Context, key string, rescan bool) (fileRef, error) {
	if ref, ok := f.index.get(key, f.store.infosep); ok && !rescan {
		return ref, nil
	}
	if _, err := f.scanLocked(ctx); err != nil {
		return fileRef{}, err
	}
	if ref, ok := f.index.get(key, f.store.infosep); ok {
		return ref, nil
	}
	return fileRef{}, fmt.Errorf("maildir folder %s: message %s: %w", f.name, key, adapters.ErrNoMessage)
}

// withFile runs op on key's current file, rescanning once and retrying
// when the file is not where the index says.
func (f *Folder) withFile(ctx context.Context, key string, op func(ref fileRef) error) error {
	ref, err := f.lookupLocked(ctx, key, false)
	if err != nil {
		return err
	}
	err = op(ref)
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ref, err = f.lookupLocked(ctx, key, true)
	if err != nil {
		return err
	}
	return op(ref)
}

func (f *Folder) filePath(ref fileRef) string {
	return filepath.Join(f.path, ref.sub, ref.name)
}

// renameFile is os.Rename without the Lstat of the destination that
// os.Rename makes first (to refuse replacing a directory, which rename(2)
// refuses by itself for a file): in a folder of 100,000 messages that
// lookup took a third of each flag change's rename (1.6 of 4.8 s when the
// server changed the flags of all 100,000). The destination is a message
// file name in cur/ or new/.
func renameFile(from, to string) error {
	for {
		err := syscall.Rename(from, to)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
}

// rename moves key's file from ref to newRef and records both directories
// for the next Flush. No fsync.
func (f *Folder) renameLocked(key string, ref, newRef fileRef) error {
	if ref == newRef {
		return nil
	}
	if err := renameFile(f.filePath(ref), f.filePath(newRef)); err != nil {
		return err
	}
	faultinject.Step(faultinject.Effect, "maildir rename "+newRef.name)
	f.index.set(key, newRef)
	f.dirty[filepath.Join(f.path, ref.sub)] = true
	f.dirty[filepath.Join(f.path, newRef.sub)] = true
	return nil
}

// subdirFor is where OfflineIMAP keeps a message: cur/ when it is Seen,
// new/ otherwise (savemessageflags).
func subdirFor(flags model.Flags) string {
	if flags&model.Seen != 0 {
		return "cur"
	}
	return "new"
}

// SetFlags renames the message so that its info carries flags, keeping
// letters that are not standard flags (Dovecot keyword letters), all in
// ASCII order. Like OfflineIMAP, the file moves to cur/ when Seen and to
// new/ otherwise. Setting the flags a message already has changes nothing.
// No fsync: see Flush.
func (f *Folder) SetFlags(ctx context.Context, key string, flags model.Flags) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.withFile(ctx, key, func(ref fileRef) error {
		fn := parseFileName(ref.name, f.store.infosep)
		cur, extra := model.ParseMaildir(fn.info)
		if cur == flags && fn.hasInfo {
			return nil
		}
		if cur == flags && flags == 0 {
			return nil // no info part and no flags: nothing to write
		}
		base := ref.name
		if i := strings.IndexByte(base, f.store.infosep); i >= 0 {
			base = base[:i]
		}
		newName := base + infoSuffix(f.store.infosep, infoLetters(flags, extra))
		return f.renameLocked(key, ref, fileRef{sub: subdirFor(flags), name: newName})
	})
	if err != nil && !errors.Is(err, adapters.ErrNoMessage) {
		return fmt.Errorf("maildir folder %s: set flags %s on %s: %w", f.name, flags, key, withAdvice(err))
	}
	return err
}

// SetUID records uid and this folder's FMD5 in the message's file name,
// keeping the key, the other fields and the info. The file stays in its
// subdirectory. No fsync: see Flush.
func (f *Folder) SetUID(ctx context.Context, key string, uid uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.withFile(ctx, key, func(ref fileRef) error {
		fn := parseFileName(ref.name, f.store.infosep)
		if fn.uid == uid && fn.fmd5 == f.fmd5 {
			return nil
		}
		// The info stays as it was; a file without one (delivered to
		// new/ by another client) gets an empty one, ":2,", as
		// OfflineIMAP names it (the differential test compares).
		suffix := fn.otherEnd
		if fn.hasInfo || fn.otherEnd == "" {
			suffix = infoSuffix(f.store.infosep, fn.info)
		}
		newName := formatBase(fn.key, uid, f.fmd5) + suffix
		return f.renameLocked(key, ref, fileRef{sub: ref.sub, name: newName})
	})
	if err != nil && !errors.Is(err, adapters.ErrNoMessage) {
		return fmt.Errorf("maildir folder %s: set uid %d on %s: %w", f.name, uid, key, withAdvice(err))
	}
	return err
}

// Delete removes the message's file; a key that is not there (after one
// rescan) is not an error. No fsync: see Flush.
func (f *Folder) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.withFile(ctx, key, func(ref fileRef) error {
		if err := os.Remove(f.filePath(ref)); err != nil {
			return err
		}
		faultinject.Step(faultinject.Effect, "maildir remove "+ref.name)
		f.index.remove(key, f.store.infosep)
		f.dirty[filepath.Join(f.path, ref.sub)] = true
		return nil
	})
	if errors.Is(err, adapters.ErrNoMessage) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("maildir folder %s: delete %s: %w", f.name, key, withAdvice(err))
	}
	return nil
}

// MoveTo renames the message into dest (a folder of the same store: one
// rename, the bytes never copied), with uid, dest's FMD5 and flags in its
// name, into cur/ or new/ as SetFlags would. Letters that are not
// standard flags are kept. No fsync: Flush both folders.
func (f *Folder) MoveTo(ctx context.Context, key string, dest adapters.LocalFolder, uid uint32, flags model.Flags) error {
	to, ok := dest.(*Folder)
	if !ok || to.store != f.store {
		return fmt.Errorf("maildir folder %s: move %s: the destination is not a folder of this Maildir", f.name, key)
	}
	if to == f {
		return fmt.Errorf("maildir folder %s: move %s into its own folder", f.name, key)
	}
	// Lock both folders in a fixed order: two moves in opposite
	// directions must not wait for each other.
	first, second := f, to
	if to.path < f.path {
		first, second = to, f
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	err := f.withFile(ctx, key, func(ref fileRef) error {
		fn := parseFileName(ref.name, f.store.infosep)
		_, extra := model.ParseMaildir(fn.info)
		newRef := fileRef{sub: subdirFor(flags),
			name: formatBase(fn.key, uid, to.fmd5) + infoSuffix(f.store.infosep, infoLetters(flags, extra))}
		dst := to.filePath(newRef)
		if err := renameNoReplace(f.filePath(ref), dst); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists", dst)
			}
			return err
		}
		faultinject.Step(faultinject.Effect, "maildir move "+newRef.name)
		f.index.remove(key, f.store.infosep)
		to.index.set(fn.key, newRef)
		f.dirty[filepath.Join(f.path, ref.sub)] = true
		to.dirty[filepath.Join(to.path, newRef.sub)] = true
		return nil
	})
	if err != nil && !errors.Is(err, adapters.ErrNoMessage) {
		return fmt.Errorf("maildir folder %s: move %s to %s: %w", f.name, key, to.name, withAdvice(err))
	}
	return err
}

// Flush fsyncs the directories that SetFlags, SetUID and Delete changed
// since the last Flush, making those renames and unlinks durable.
func (f *Folder) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dirs := make([]string, 0, len(f.dirty))
	for d := range f.dirty {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := syncDir(d); err != nil {
			return fmt.Errorf("maildir folder %s: flush: %w", f.name, withAdvice(err))
		}
		delete(f.dirty, d)
	}
	return nil
}

// OpenForUpload opens the message in wire form: every LF not preceded by CR
// becomes CRLF. It reads the file once to count the size and streams it a
// second time through the returned reader, which fails if the file no
// longer yields exactly size bytes. date is the file's mtime.
func (f *Folder) OpenForUpload(ctx context.Context, key string) (io.ReadCloser, int64, time.Time, error) {
	f.mu.Lock()
	var file *os.File
	var path string
	err := f.withFile(ctx, key, func(ref fileRef) error {
		path = f.filePath(ref)
		var err error
		file, err = os.Open(path)
		return err
	})
	f.mu.Unlock()
	if err != nil {
		if errors.Is(err, adapters.ErrNoMessage) {
			return nil, 0, time.Time{}, err
		}
		return nil, 0, time.Time{}, fmt.Errorf("maildir folder %s: open %s for upload: %w", f.name, key, err)
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, time.Time{}, fmt.Errorf("maildir file %s: %w", path, err)
	}
	size, err := crlfSize(file)
	if err != nil {
		file.Close()
		return nil, 0, time.Time{}, fmt.Errorf("maildir file %s: read: %w", path, err)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		file.Close()
		return nil, 0, time.Time{}, fmt.Errorf("maildir file %s: seek: %w", path, err)
	}
	return newLFToCRLFReader(file, file, size, path), size, st.ModTime(), nil
}

// NewBatch starts a batch of new messages in this folder.
func (f *Folder) NewBatch() adapters.LocalBatch {
	return &Batch{folder: f}
}

// RemoveStaleTmp deletes files in tmp/ last modified more than olderThan
// ago: leftovers of batches that a crash interrupted before Commit or
// Abort. Maildir readers conventionally allow 36 hours, so that a delivery
// still being written is never removed. It returns how many it removed.
func (f *Folder) RemoveStaleTmp(olderThan time.Duration) (int, error) {
	dir := filepath.Join(f.path, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("maildir folder %s: read %s: %w", f.name, dir, err)
	}
	cutoff := f.store.now().Add(-olderThan)
	removed := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("maildir folder %s: stat %s/%s: %w", f.name, dir, e.Name(), err)
		}
		if !info.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("maildir folder %s: remove stale %s/%s: %w", f.name, dir, e.Name(), err)
		}
		removed++
	}
	return removed, nil
}
