package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the version of mailtrail's key layout and records,
// stored under meta/format. A store written with a newer version is refused.
const FormatVersion = 1

// PebbleFormat is the Pebble on-disk format every journal is created with
// (and ratcheted to): the newest that pebble v2.1.7 supports. Pinned so that
// a Pebble upgrade never silently changes the files under a user's mail.
const PebbleFormat = pebble.FormatValueSeparation

// memTableSize is the journal's Pebble memtable size: small, like its
// cache (Open). Batches of half of it or more are kept whole until flushed
// (obsSideBatch stays well under that).
const memTableSize = 2 << 20

// Errors a caller may want to tell apart (test them with errors.Is).
var (
	// ErrNoJournal: a ReadOnly open found no journal in the directory.
	ErrNoJournal = errors.New("no journal")
	// ErrNewerFormat: the journal was written by a newer mailtrail.
	ErrNewerFormat = errors.New("journal written by a newer mailtrail")
	// ErrCorrupt: the directory holds a damaged journal or something else.
	ErrCorrupt = errors.New("journal damaged or not a journal")
	// ErrLocked: another Store (this process or another) has it open.
	ErrLocked = errors.New("journal in use")
	// ErrReadOnly: a write on a Store opened with Options.ReadOnly.
	ErrReadOnly = errors.New("journal opened read-only")
	// ErrClosed: a call on a closed Store.
	ErrClosed = errors.New("journal closed")
	// ErrUnknownRun: a run ID that BeginRun never returned, or that ended.
	ErrUnknownRun = errors.New("unknown run")
	// ErrNotPending: a checkpoint result for an intent that is not pending.
	ErrNotPending = errors.New("intent not pending")
)

// Options tune Open.
type Options struct {
	// ReadOnly opens an existing journal for queries (dry-run, log, audit):
	// every write fails with ErrReadOnly and a missing journal is
	// ErrNoJournal rather than created.
	ReadOnly bool
	// InMemory keeps the whole store in memory (dir only names it in
	// errors): for tests, replay and a dry-run of an account that was never
	// synced. Nothing survives Close. Not combinable with ReadOnly.
	InMemory bool
	// Now is the clock for record times; time.Now when nil.
	Now func() time.Time
	// ErrorLog receives Pebble's error messages (never mail or secrets);
	// the standard logger when nil. Pebble's informational chatter is
	// dropped.
	ErrorLog func(msg string)

	// ObservationRuns is how many of the latest runs keep their
	// observations (see Observation); 0 means DefaultObservationRuns.
	ObservationRuns int

	// fs replaces the file system (tests: crash clones); implies InMemory
	// semantics for the directory checks.
	fs vfs.FS
}

// Store is one account's journal and status store. Its methods are safe
// for concurrent use by several goroutines.
type Store struct {
	dir      string
	readOnly bool
	now      func() time.Time

	observationRuns int
	db              *pebble.DB
	lock            *pebble.Lock
	closed          atomic.Bool

	// mu serialises every write to the journal, so that sequence numbers
	// are assigned and committed in key order, and so that a checkpoint's
	// check that its intents are pending holds until its batch commits.
	mu      sync.Mutex
	lastSeq uint64 // last journal position written
	lastRun uint64 // last run ID handed out
	// lazy holds the runs begun and not yet written: a run's start is recorded
	// with its first write (startRun), and a run that ends having written
	// and done nothing is never recorded at all, so that a sync that finds
	// nothing to do costs no journal write.
	lazy map[uint64]RunInfo
	// wrote is set by the first write of this session: Close flushes only
	// then.
	wrote bool
	// hasRuns is set once the journal holds a recorded run. Until then
	// every run is recorded, even one that did nothing: "mailtrail has run
	// here" must stay true once true (OfflineIMAP's status is adopted only
	// before the first run).
	hasRuns bool
}

// Open opens the journal in dir, creating it when missing (unless
// opts.ReadOnly).
func Open(dir string, opts Options) (*Store, error) {
	if opts.InMemory && opts.ReadOnly {
		return nil, fmt.Errorf("journal %s: Options.InMemory and ReadOnly together make an empty store nobody can write; pick one", dir)
	}
	s := &Store{dir: dir, readOnly: opts.ReadOnly, now: opts.Now, observationRuns: opts.ObservationRuns}
	if s.observationRuns <= 0 {
		s.observationRuns = DefaultObservationRuns
	}
	if s.now == nil {
		s.now = time.Now
	}
	filesys := opts.fs
	if filesys == nil && opts.InMemory {
		filesys = vfs.NewMem()
	}
	if filesys != nil {
		if dir == "" {
			s.dir = "in-memory"
		}
		if err := filesys.MkdirAll(s.dir, 0o700); err != nil {
			return nil, fmt.Errorf("journal %s: create directory: %w", s.dir, err)
		}
	} else {
		filesys = vfs.Default
		if err := prepareDir(dir, opts.ReadOnly); err != nil {
			return nil, err
		}
	}

	lock, err := pebble.LockDirectory(s.dir, filesys)
	if err != nil {
		// Creating the LOCK file fails with a *PathError; the lock being
		// held fails with a bare errno or a plain error.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return nil, fmt.Errorf("journal %s: cannot create its LOCK file (%v); check the directory's owner and permissions", s.dir, err)
		}
		return nil, kinded(ErrLocked, "journal %s is in use by another mailtrail process, or already open in this one (%v); wait for it to finish, then retry", s.dir, err)
	}
	s.lock = lock

	logger := pebbleLogger{errorLog: opts.ErrorLog, dir: s.dir}
	// Small: the journal is written in batches and read in scans, and a
	// sync's peak memory matters more than Pebble's speed here.
	cache := pebble.NewCache(2 << 20)
	defer cache.Unref() // the store holds its own reference
	popts := &pebble.Options{
		Cache:              cache,
		MemTableSize:       memTableSize,
		FS:                 filesys,
		FormatMajorVersion: PebbleFormat,
		ReadOnly:           opts.ReadOnly,
		Lock:               lock,
		Logger:             logger,
		EventListener: &pebble.EventListener{
			// Pebble's default exits the process. The read that met the
			// damage returns an error, which becomes ErrCorrupt with advice.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				logger.Errorf("journal %s: damaged file %s: %v", s.dir, info.Path, info.Details)
			},
			// A flush or compaction that cannot write for want of space
			// is retried for ever, and every commit then stalls behind
			// the full memtables: the sync would hang with its account
			// locked. It ends instead, as on a failed commit (Fatalf).
			BackgroundError: func(err error) {
				if isDiskFull(err) {
					logger.Fatalf("%v", err)
				}
				logger.Errorf("background error: %v", err)
			},
		},
	}
	db, err := pebble.Open(s.dir, popts)
	if err != nil {
		lock.Close()
		return nil, classifyOpenError(s.dir, err)
	}
	s.db = db
	if err := s.init(); err != nil {
		s.db.Close()
		s.lock.Close()
		return nil, err
	}
	return s, nil
}

// prepareDir creates dir (or, read-only, checks it exists) and refuses a
// directory that holds files which are not Pebble's.
func prepareDir(dir string, readOnly bool) error {
	if readOnly {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			return kinded(ErrNoJournal, "journal %s does not exist: no sync has run for this account yet", dir)
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("journal %s: cannot create the directory: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("journal %s: cannot list the directory: %w", dir, err)
	}
	var foreign []string
	hasManifest := false
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasPrefix(name, "marker.manifest."):
			hasManifest = true
		case !isPebbleFile(name):
			foreign = append(foreign, name)
		}
	}
	if len(foreign) > 0 {
		more := ""
		if len(foreign) > 3 {
			more = fmt.Sprintf(" and %d more", len(foreign)-3)
			foreign = foreign[:3]
		}
		return kinded(ErrCorrupt, "journal %s: the directory holds files that are not part of a mailtrail journal (%s%s); give the journal a directory of its own",
			dir, strings.Join(foreign, ", "), more)
	}
	if readOnly && !hasManifest {
		return kinded(ErrNoJournal, "journal %s holds no journal: no sync has run for this account yet", dir)
	}
	return nil
}

// isPebbleFile reports whether name is one of the files Pebble keeps in
// its directory.
func isPebbleFile(name string) bool {
	for _, p := range []string{"MANIFEST-", "OPTIONS-", "marker.", "LOCK", "CURRENT", "temporary."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, x := range []string{".log", ".sst", ".blob", ".dbtmp"} {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

// classifyOpenError turns a pebble.Open failure into an error that names
// the journal and says what to do.
func classifyOpenError(dir string, err error) error {
	switch {
	case errors.Is(err, pebble.ErrDBDoesNotExist):
		return kinded(ErrNoJournal, "journal %s holds no journal: no sync has run for this account yet", dir)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("journal %s: permission denied (%v); check the owner and permissions of the directory and its files", dir, firstLine(err))
	case pebble.IsCorruptionError(err):
		return kinded(ErrCorrupt, "journal %s is damaged (%v); move the directory aside (keep it for a bug report) so that mailtrail starts a fresh journal", dir, firstLine(err))
	}
	return kinded(ErrCorrupt, "journal %s cannot be opened (%v); if it is damaged or not a mailtrail journal, move the directory aside (keep it for a bug report) so that mailtrail starts a fresh journal", dir, firstLine(err))
}

// init checks the format version (writing it into a new store) and
// recovers the sequence counters.
func (s *Store) init() error {
	v, closer, err := s.db.Get(keyFormat)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		empty, err := s.isEmpty()
		if err != nil {
			return err
		}
		if !empty {
			return kinded(ErrCorrupt, "journal %s holds data but no %s key: it is not a mailtrail journal, or it is damaged; move the directory aside (keep it for a bug report)", s.dir, keyFormat)
		}
		if s.readOnly {
			return nil
		}
		b, err := msgpack.Marshal(uint64(FormatVersion))
		if err != nil {
			return fmt.Errorf("journal %s: encode format version: %w", s.dir, err)
		}
		if err := s.db.Set(keyFormat, b, pebble.Sync); err != nil {
			return fmt.Errorf("journal %s: write format version: %w", s.dir, err)
		}
		// Into a checksummed table at once: damage to the write-ahead log
		// must never make a journal look new and empty.
		if err := s.db.Flush(); err != nil {
			return fmt.Errorf("journal %s: flush format version: %w", s.dir, err)
		}
	case err != nil:
		return s.openReadError("read format version", err)
	default:
		var format uint64
		derr := msgpack.Unmarshal(v, &format)
		closer.Close()
		switch {
		case derr != nil || format == 0:
			return kinded(ErrCorrupt, "journal %s: its format version (%s) is unreadable; move the directory aside (keep it for a bug report)", s.dir, keyFormat)
		case format > FormatVersion:
			return kinded(ErrNewerFormat, "journal %s was written by a newer mailtrail (format %d); upgrade", s.dir, format)
		}
	}
	if s.lastSeq, err = s.lastNumber(prefixJournal); err != nil {
		return err
	}
	if s.lastRun, err = s.lastNumber(prefixRun); err != nil {
		return err
	}
	// After a compaction the last keys may be below the highest numbers
	// ever used; those are kept under meta/.
	for _, hw := range []struct {
		key []byte
		n   *uint64
	}{{keyLastSeq, &s.lastSeq}, {keyLastRun, &s.lastRun}} {
		v, closer, err := s.db.Get(hw.key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return s.openReadError("read "+string(hw.key), err)
		}
		var n uint64
		derr := msgpack.Unmarshal(v, &n)
		closer.Close()
		if derr != nil {
			return kinded(ErrCorrupt, "journal %s: %s is unreadable; move the directory aside (keep it for a bug report)", s.dir, hw.key)
		}
		*hw.n = max(*hw.n, n)
	}
	s.hasRuns = s.lastRun > 0
	return nil
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, s.openReadError("look for any key", err)
	}
	empty := !it.First()
	if err := it.Close(); err != nil {
		return false, s.openReadError("look for any key", err)
	}
	return empty, nil
}

// openReadError is readError for the reads Open does: a damaged journal
// cannot be opened, so the advice cannot be `journal check`.
func (s *Store) openReadError(what string, err error) error {
	if pebble.IsCorruptionError(err) {
		return classifyOpenError(s.dir, err)
	}
	return fmt.Errorf("journal %s: %s: %w", s.dir, what, err)
}

// lastNumber returns the number in the last key under prefix, 0 if none.
func (s *Store) lastNumber(prefix string) (uint64, error) {
	what := fmt.Sprintf("find the last %q key", prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixUpperBound(prefix)})
	if err != nil {
		return 0, s.openReadError(what, err)
	}
	defer it.Close()
	if !it.Last() {
		if err := it.Error(); err != nil {
			return 0, s.openReadError(what, err)
		}
		return 0, nil
	}
	n, err := parseSeqKey(prefix, it.Key())
	if err != nil {
		return 0, kinded(ErrCorrupt, "journal %s: %w; the journal is damaged: move the directory aside (keep it for a bug report) so that mailtrail starts a fresh journal", s.dir, err)
	}
	return n, nil
}

// Dir is the directory the store was opened on.
func (s *Store) Dir() string { return s.dir }

// Close flushes and closes the store and releases its lock. Calling it
// again does nothing.
//
// The flush moves everything written into checksummed tables, so that
// between runs no data lives only in the write-ahead log, whose damage
// Pebble may take for a torn end and skip silently. A session that wrote
// nothing has nothing to flush.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	var err error
	s.mu.Lock()
	wrote := s.wrote
	s.mu.Unlock()
	if !s.readOnly && wrote {
		err = s.db.Flush()
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("journal %s: close: %w", s.dir, err)
	}
	return nil
}

func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return kinded(ErrClosed, "journal %s is closed", s.dir)
	}
	return nil
}

func (s *Store) checkWritable() error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if s.readOnly {
		return kinded(ErrReadOnly, "journal %s is open read-only (dry-run or audit); nothing was written", s.dir)
	}
	return nil
}

// pebbleLogger drops Pebble's informational messages and forwards errors.
type pebbleLogger struct {
	errorLog func(string)
	dir      string // the journal's, for Fatalf's message
}

func (pebbleLogger) Infof(string, ...any) {}

func (l pebbleLogger) Errorf(format string, args ...any) {
	msg := "pebble: " + fmt.Sprintf(format, args...)
	if l.errorLog != nil {
		l.errorLog(msg)
		return
	}
	log.Print(msg)
}

// Fatalf ends the process, as Pebble expects of it, on an error Pebble
// cannot go on from: a write of its log that failed (every later commit
// would be refused) or, through the BackgroundError listener, a flush
// that cannot write for want of space. Ending the process is what a crash
// is, which every state of the journal and the Maildir survives (the crash
// sweeps): the next sync finds what this one did and had not recorded.
// The message names the journal and, for a full disk, says what to do.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	fmt.Fprintln(os.Stderr, "mailtrail: "+fatalMessage(l.dir, fmt.Sprintf(format, args...), args))
	os.Exit(1)
}

// fatalMessage is Fatalf's message: what Pebble said (msg, formatted from
// args), with advice when one of args is a full disk.
func fatalMessage(dir, msg string, args []any) string {
	for _, a := range args {
		if err, ok := a.(error); ok && isDiskFull(err) {
			return fmt.Sprintf("journal %s: the disk holding it is full (%s); free space on that disk (or move the metadata directory to one with room), then sync again: nothing is lost, the next sync finds what this one did", dir, msg)
		}
	}
	return fmt.Sprintf("journal %s: %s; the sync stopped here, as after a crash: run it again (and `mailtrail journal check` if it fails the same way)", dir, msg)
}

// isDiskFull reports whether err is a write refused for want of space
// (ENOSPC) or over a quota (EDQUOT).
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// readError names the journal and the failed read; corruption that Pebble
// detects (a checksum mismatch in a table) becomes ErrCorrupt with advice.
func (s *Store) readError(what string, err error) error {
	if pebble.IsCorruptionError(err) {
		return kinded(ErrCorrupt, "journal %s: %s: %s; the journal is damaged: run `mailtrail journal check`, then move the directory aside (keep it for a bug report) so that mailtrail starts a fresh journal", s.dir, what, firstLine(err))
	}
	return fmt.Errorf("journal %s: %s: %w", s.dir, what, err)
}

// firstLine is err's message up to its first line break: Pebble's errors
// can carry multi-line details that do not belong in a one-line message.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

// kindError is an error whose message is err's and which also matches
// kind (one of the Err variables) with errors.Is.
type kindError struct{ kind, err error }

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.kind, e.err} }

// kinded formats an error (format may wrap a cause with %w) that matches
// kind.
func kinded(kind error, format string, args ...any) error {
	return kindError{kind: kind, err: fmt.Errorf(format, args...)}
}
