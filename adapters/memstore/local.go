package memstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sync"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

// Local is an in-memory Maildir tree: folders of messages addressed by key.
// The zero value is not usable; call NewLocal.
type Local struct {
	mu      sync.Mutex
	folders map[string]*localFolder
}

type localFolder struct {
	name    string
	nextKey int // the number in the next key handed out
	msgs    map[string]*localMsg
}

type localMsg struct {
	key   string
	uid   uint32
	fmd5  string
	flags model.Flags
	date  time.Time
	body  []byte // stored form (LF); never modified after it is stored
}

// LocalMessage is one message of a Local, as the test helpers see it.
type LocalMessage struct {
	Key   string
	UID   uint32 // as recorded, whatever FMD5 says (Scan is stricter)
	FMD5  string // "" or the FolderMD5 of the folder the UID belongs to
	Flags model.Flags
	Date  time.Time // the file's mtime: the message's internal date
	Body  []byte    // as stored: LF line ends
}

var (
	_ adapters.Local       = (*Local)(nil)
	_ adapters.LocalFolder = (*LocalFolder)(nil)
	_ adapters.LocalBatch  = (*LocalBatch)(nil)
)

// NewLocal returns an empty local store with no folder.
func NewLocal() *Local {
	return &Local{folders: map[string]*localFolder{}}
}

// FolderMD5 is the FMD5 a local message carries once it has a UID: the md5
// of the canonical folder name, in hex, as OfflineIMAP writes it.
func FolderMD5(folder string) string {
	sum := md5.Sum([]byte(folder))
	return hex.EncodeToString(sum[:])
}

func (l *Local) folderLocked(name string) (*localFolder, error) {
	f, ok := l.folders[name]
	if !ok {
		return nil, fmt.Errorf("memstore local folder %q: %w", name, adapters.ErrNoFolder)
	}
	return f, nil
}

// ListFolders returns every folder's name, sorted.
func (l *Local) ListFolders(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.folders))
	for n := range l.folders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// CreateFolder creates name; an existing folder is left as it is. Parents
// are not folders (see the package doc).
func (l *Local) CreateFolder(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkFolderName(name); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.createLocked(name)
	return nil
}

func (l *Local) createLocked(name string) *localFolder {
	if f, ok := l.folders[name]; ok {
		return f
	}
	f := &localFolder{name: name, nextKey: 1, msgs: map[string]*localMsg{}}
	l.folders[name] = f
	return f
}

// OpenFolder opens an existing folder; ErrNoFolder when it is missing.
func (l *Local) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.folderLocked(name); err != nil {
		return nil, err
	}
	return &LocalFolder{store: l, name: name}, nil
}

// LocalFolder is one folder of a Local. It looks its folder up on every
// call, so it sees changes made through other handles and helpers.
type LocalFolder struct {
	store *Local
	name  string
	// scanned is the stamp of the folder at the last Scan.
	scanned adapters.Stamp
}

func (f *LocalFolder) lock(ctx context.Context) (*localFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.store.mu.Lock()
	lf, err := f.store.folderLocked(f.name)
	if err != nil {
		f.store.mu.Unlock()
		return nil, err
	}
	return lf, nil
}

func (lf *localFolder) sortedKeys() []string {
	keys := make([]string, 0, len(lf.msgs))
	for k := range lf.msgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (lf *localFolder) messageLocked(key string) (*localMsg, error) {
	m, ok := lf.msgs[key]
	if !ok {
		return nil, fmt.Errorf("memstore local folder %q key %q: %w", lf.name, key, adapters.ErrNoMessage)
	}
	return m, nil
}

func (lf *localFolder) newKeyLocked() string {
	k := fmt.Sprintf("m%06d", lf.nextKey)
	lf.nextKey++
	return k
}

// FMD5 is the tag the folder's messages carry with their UIDs:
// FolderMD5 of its name.
func (f *LocalFolder) FMD5() string { return FolderMD5(f.name) }

// Scan lists every message, sorted by key. A message's UID counts only when
// its FMD5 is this folder's (as OfflineIMAP reads file names): one whose
// FMD5 is missing or another folder's is listed with UID 0.
func (f *LocalFolder) Scan(ctx context.Context) ([]model.LocalMsg, error) {
	lf, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer f.store.mu.Unlock()
	f.scanned = lf.stamp()
	fmd5 := FolderMD5(lf.name)
	out := make([]model.LocalMsg, 0, len(lf.msgs))
	for _, k := range lf.sortedKeys() {
		m := lf.msgs[k]
		msg := model.LocalMsg{Key: m.key, FMD5: m.fmd5, Flags: m.flags, Size: int64(len(m.body)), Date: model.DateOf(m.date)}
		if m.fmd5 == fmd5 {
			msg.UID = m.uid
		} else if m.fmd5 != "" {
			msg.FromUID = m.uid
		}
		out = append(out, msg)
	}
	return out, nil
}

// NewBatch starts a batch of new messages.
func (f *LocalFolder) NewBatch() adapters.LocalBatch {
	return &LocalBatch{folder: f}
}

// OpenForUpload returns the message in wire form (CRLF), its size and date;
// ErrNoMessage when key is gone.
func (f *LocalFolder) OpenForUpload(ctx context.Context, key string) (io.ReadCloser, int64, time.Time, error) {
	lf, err := f.lock(ctx)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.store.mu.Unlock()
	m, err := lf.messageLocked(key)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	wire := toWire(m.body)
	return io.NopCloser(bytes.NewReader(wire)), int64(len(wire)), m.date, nil
}

// SetFlags gives the message flags, keeping its key; ErrNoMessage when key
// is gone.
func (f *LocalFolder) SetFlags(ctx context.Context, key string, flags model.Flags) error {
	lf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	m, err := lf.messageLocked(key)
	if err != nil {
		return err
	}
	m.flags = flags & model.AllFlags
	return nil
}

// SetUID records uid (and the folder's FMD5) on the message, keeping its
// key; ErrNoMessage when key is gone.
func (f *LocalFolder) SetUID(ctx context.Context, key string, uid uint32) error {
	lf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	m, err := lf.messageLocked(key)
	if err != nil {
		return err
	}
	m.uid = uid
	m.fmd5 = ""
	if uid != 0 {
		m.fmd5 = FolderMD5(lf.name)
	}
	return nil
}

// MoveTo moves the message into dest (a folder of the same store) with
// uid and flags; the key stays. A key dest already has is an error.
func (f *LocalFolder) MoveTo(ctx context.Context, key string, dest adapters.LocalFolder, uid uint32, flags model.Flags) error {
	to, ok := dest.(*LocalFolder)
	if !ok || to.store != f.store || to.name == f.name {
		return fmt.Errorf("memstore local folder %q: move %s: the destination is not another folder of this store", f.name, key)
	}
	lf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	m, err := lf.messageLocked(key)
	if err != nil {
		return err
	}
	dst, err := f.store.folderLocked(to.name)
	if err != nil {
		return err
	}
	if _, dup := dst.msgs[key]; dup {
		return fmt.Errorf("memstore local folder %q: move %s: the key exists in %q", f.name, key, to.name)
	}
	m.uid, m.fmd5, m.flags = uid, "", flags&model.AllFlags
	if uid != 0 {
		m.fmd5 = FolderMD5(dst.name)
	}
	dst.msgs[key] = m
	delete(lf.msgs, key)
	return nil
}

// Delete removes the message; an absent key is not an error.
func (f *LocalFolder) Delete(ctx context.Context, key string) error {
	lf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	delete(lf.msgs, key)
	return nil
}

// Flush does nothing but check that the folder still exists: memory is as
// durable as memstore gets.
func (f *LocalFolder) Flush(ctx context.Context) error {
	_, err := f.lock(ctx)
	if err != nil {
		return err
	}
	f.store.mu.Unlock()
	return nil
}

// LocalBatch holds new messages until Commit.
type LocalBatch struct {
	folder  *LocalFolder
	pending []*localMsg
	done    bool // committed or aborted
}

// Add converts body to stored form (CRLF -> LF) and keeps it until Commit.
// The key is handed out now, so an aborted batch leaves a gap in the keys.
func (b *LocalBatch) Add(uid uint32, flags model.Flags, date time.Time, body io.Reader) (string, error) {
	if b.done {
		return "", fmt.Errorf("memstore local folder %q: batch used after Commit or Abort", b.folder.name)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("memstore local folder %q: batch add: reading the message: %w", b.folder.name, err)
	}
	lf, err := b.folder.lock(context.Background())
	if err != nil {
		return "", err
	}
	defer b.folder.store.mu.Unlock()
	m := &localMsg{key: lf.newKeyLocked(), uid: uid, flags: flags & model.AllFlags, date: date, body: toStored(data)}
	if uid != 0 {
		m.fmd5 = FolderMD5(lf.name)
	}
	b.pending = append(b.pending, m)
	return m.key, nil
}

// Commit makes every message of the batch visible at once.
func (b *LocalBatch) Commit(ctx context.Context) error {
	if b.done {
		return fmt.Errorf("memstore local folder %q: batch committed after Commit or Abort", b.folder.name)
	}
	lf, err := b.folder.lock(ctx)
	if err != nil {
		return err
	}
	defer b.folder.store.mu.Unlock()
	for _, m := range b.pending {
		lf.msgs[m.key] = m
	}
	b.pending, b.done = nil, true
	return nil
}

// Abort drops the batch's messages. Aborting twice, or after Commit, does
// nothing.
func (b *LocalBatch) Abort() error {
	b.pending, b.done = nil, true
	return nil
}

// --- helpers for tests and replay ---

// AddMessage stores body in folder exactly as given (it is the file's
// content: a Maildir holds LF line ends), with no UID, as a mail client
// writing into the Maildir would. The folder is created when missing. It
// returns the new key. body is copied.
func (l *Local) AddMessage(folder string, body []byte, flags model.Flags, date time.Time) (string, error) {
	if err := checkFolderName(folder); err != nil {
		return "", err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lf := l.createLocked(folder)
	m := &localMsg{key: lf.newKeyLocked(), flags: flags & model.AllFlags, date: date, body: bytes.Clone(body)}
	lf.msgs[m.key] = m
	return m.key, nil
}

// PutMessage stores m under exactly m.Key in an existing folder, replacing a
// message with that key. Replay uses it to rebuild an observed folder. Keys
// of the form "m<number>" push the folder's key counter past that number so
// that new keys never collide. m.Body is the stored form and is copied.
func (l *Local) PutMessage(folder string, m LocalMessage) error {
	if m.Key == "" {
		return fmt.Errorf("memstore local folder %q: put message: empty key", folder)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(folder)
	if err != nil {
		return err
	}
	lf.msgs[m.Key] = &localMsg{key: m.Key, uid: m.UID, fmd5: m.FMD5, flags: m.Flags & model.AllFlags, date: m.Date, body: bytes.Clone(m.Body)}
	var n int
	if _, err := fmt.Sscanf(m.Key, "m%d", &n); err == nil && fmt.Sprintf("m%06d", n) == m.Key && n >= lf.nextKey {
		lf.nextKey = n + 1
	}
	return nil
}

// Message returns one message; ErrNoMessage when key is not in folder.
func (l *Local) Message(folder, key string) (LocalMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(folder)
	if err != nil {
		return LocalMessage{}, err
	}
	m, err := lf.messageLocked(key)
	if err != nil {
		return LocalMessage{}, err
	}
	return m.export(), nil
}

func (m *localMsg) export() LocalMessage {
	return LocalMessage{Key: m.key, UID: m.uid, FMD5: m.fmd5, Flags: m.flags, Date: m.date, Body: bytes.Clone(m.body)}
}

// Messages returns every message of folder, sorted by key.
func (l *Local) Messages(folder string) ([]LocalMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(folder)
	if err != nil {
		return nil, err
	}
	out := make([]LocalMessage, 0, len(lf.msgs))
	for _, k := range lf.sortedKeys() {
		out = append(out, lf.msgs[k].export())
	}
	return out, nil
}

// SetMessageFlags sets the flags of one message, as a mail client would.
func (l *Local) SetMessageFlags(folder, key string, flags model.Flags) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(folder)
	if err != nil {
		return err
	}
	m, err := lf.messageLocked(key)
	if err != nil {
		return err
	}
	m.flags = flags & model.AllFlags
	return nil
}

// DeleteMessage removes one message, as a mail client would; ErrNoMessage
// when it is not there.
func (l *Local) DeleteMessage(folder, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(folder)
	if err != nil {
		return err
	}
	if _, err := lf.messageLocked(key); err != nil {
		return err
	}
	delete(lf.msgs, key)
	return nil
}

// DeleteFolder removes a folder and its messages (not its children), as a
// user running rm -r on one Maildir would. Open handles start failing with
// ErrNoFolder.
func (l *Local) DeleteFolder(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.folderLocked(name); err != nil {
		return err
	}
	delete(l.folders, name)
	return nil
}

// stamp hashes what a Maildir's directory mtimes would tell: every key,
// with its UID, FMD5 and flags.
func (lf *localFolder) stamp() adapters.Stamp {
	h := fnv.New64a()
	for _, k := range lf.sortedKeys() {
		m := lf.msgs[k]
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00%d\x00", m.key, m.uid, m.fmd5, m.flags)
	}
	return adapters.Stamp{int64(h.Sum64()), int64(len(lf.msgs)) + 1}
}

// FolderStamp is a hash of the folder's messages' names (key, UID, FMD5,
// flags): what a Maildir's directory mtimes follow.
func (l *Local) FolderStamp(ctx context.Context, name string) (adapters.Stamp, error) {
	if err := ctx.Err(); err != nil {
		return adapters.Stamp{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lf, err := l.folderLocked(name)
	if err != nil {
		return adapters.Stamp{}, err
	}
	return lf.stamp(), nil
}

// ScanStamp is the stamp at the last Scan; in memory nothing slips past.
func (f *LocalFolder) ScanStamp() (adapters.Stamp, bool) {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	return f.scanned, f.scanned != adapters.Stamp{}
}

// StampSettles is the zero time: an in-memory folder has no clock ticks.
func (f *LocalFolder) StampSettles() time.Time { return time.Time{} }
