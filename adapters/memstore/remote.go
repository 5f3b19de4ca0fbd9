package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

// Remote is an in-memory server: folders of messages addressed by UID. The
// zero value is not usable; call NewRemote.
type Remote struct {
	mu            sync.Mutex
	folders       map[string]*remoteFolder
	nextValidity  uint32
	noUIDPlus     bool
	noCondstore   bool
	selectedCount int // folders selected and not yet closed
}

type remoteFolder struct {
	name        string
	uidValidity uint32
	uidNext     uint32
	modSeq      uint64
	msgs        map[uint32]*remoteMsg
}

type remoteMsg struct {
	uid    uint32
	flags  model.Flags
	date   time.Time
	body   []byte // never modified after it is stored
	modSeq uint64
}

// RemoteMessage is one message of a Remote, as the test helpers see it.
type RemoteMessage struct {
	UID          uint32
	Flags        model.Flags
	InternalDate time.Time
	ModSeq       uint64 // the folder's modseq when the message last changed
	Body         []byte // wire form, exactly as appended
}

var (
	_ adapters.Remote       = (*Remote)(nil)
	_ adapters.RemoteFolder = (*RemoteFolder)(nil)
)

// NewRemote returns an empty server holding only INBOX, with UIDPLUS and
// CONDSTORE.
func NewRemote() *Remote {
	r := &Remote{folders: map[string]*remoteFolder{}, nextValidity: 1}
	r.createLocked("INBOX")
	return r
}

// SetUIDPlus switches UIDPLUS on or off. Without it Append returns UID 0,
// like a server that sends no APPENDUID; the message is stored all the same.
func (r *Remote) SetUIDPlus(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noUIDPlus = !on
}

// SetCondstore switches CONDSTORE on or off. Without it ListFolders and
// Status report HighestModSeq 0; modseqs are still counted underneath.
func (r *Remote) SetCondstore(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.noCondstore = !on
}

// canonicalRemoteName folds any case of INBOX to "INBOX", as IMAP does.
func canonicalRemoteName(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}

func checkFolderName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return fmt.Errorf("memstore: folder name %q is not canonical: it must be non-empty '/'-separated names, with no empty part", name)
	}
	return nil
}

func (r *Remote) createLocked(name string) *remoteFolder {
	if f, ok := r.folders[name]; ok {
		return f
	}
	f := &remoteFolder{
		name:        name,
		uidValidity: r.nextValidity,
		uidNext:     1,
		modSeq:      1,
		msgs:        map[uint32]*remoteMsg{},
	}
	r.nextValidity++
	r.folders[name] = f
	return f
}

func (r *Remote) folderLocked(name string) (*remoteFolder, error) {
	f, ok := r.folders[canonicalRemoteName(name)]
	if !ok {
		return nil, fmt.Errorf("memstore remote folder %q: %w", name, adapters.ErrNoFolder)
	}
	return f, nil
}

func (r *Remote) statusLocked(f *remoteFolder) model.RemoteFolderStatus {
	st := model.RemoteFolderStatus{
		Name:        f.name,
		UIDValidity: f.uidValidity,
		UIDNext:     f.uidNext,
		Messages:    uint32(len(f.msgs)),
	}
	if !r.noCondstore {
		st.HighestModSeq = f.modSeq
	}
	return st
}

// ListFolders returns every folder, sorted by name.
func (r *Remote) ListFolders(ctx context.Context) ([]model.RemoteFolderStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]model.RemoteFolderStatus, 0, len(r.folders))
	for _, name := range r.sortedNamesLocked() {
		out = append(out, r.statusLocked(r.folders[name]))
	}
	return out, nil
}

func (r *Remote) sortedNamesLocked() []string {
	names := make([]string, 0, len(r.folders))
	for n := range r.folders {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CreateFolder creates name and each missing parent; existing folders are
// left as they are.
func (r *Remote) CreateFolder(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name = canonicalRemoteName(name)
	if err := checkFolderName(name); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	parts := strings.Split(name, "/")
	for i := range parts {
		r.createLocked(canonicalRemoteName(strings.Join(parts[:i+1], "/")))
	}
	return nil
}

// SelectFolder opens name; ErrNoFolder when it does not exist.
func (r *Remote) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := r.folderLocked(name)
	if err != nil {
		return nil, err
	}
	r.selectedCount++
	return &RemoteFolder{store: r, name: f.name, status: r.statusLocked(f)}, nil
}

// Close does nothing: there is no connection. The store stays usable.
func (r *Remote) Close() error { return nil }

// Selected reports how many folders are selected and not yet closed; a test
// can check that the code under test closes what it selects.
func (r *Remote) Selected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.selectedCount
}

// RemoteFolder is one selected folder of a Remote.
type RemoteFolder struct {
	store  *Remote
	name   string
	status model.RemoteFolderStatus
	closed bool // guarded by store.mu
}

// Status is the folder's status as of SelectFolder.
func (f *RemoteFolder) Status() model.RemoteFolderStatus { return f.status }

// folderLocked returns the folder behind f, or an error when f is closed or
// the folder was deleted since it was selected.
func (f *RemoteFolder) folderLocked() (*remoteFolder, error) {
	if f.closed {
		return nil, fmt.Errorf("memstore remote folder %q: used after Close", f.name)
	}
	return f.store.folderLocked(f.name)
}

func (f *RemoteFolder) lock(ctx context.Context) (*remoteFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.store.mu.Lock()
	rf, err := f.folderLocked()
	if err != nil {
		f.store.mu.Unlock()
		return nil, err
	}
	return rf, nil
}

func (rf *remoteFolder) sortedUIDs() []uint32 {
	uids := make([]uint32, 0, len(rf.msgs))
	for u := range rf.msgs {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	return uids
}

func (m *remoteMsg) info() model.RemoteMsg {
	return model.RemoteMsg{UID: m.uid, Flags: m.flags, Size: int64(len(m.body)), InternalDate: model.DateOf(m.date)}
}

// List returns every message in ascending UID order.
func (f *RemoteFolder) List(ctx context.Context) ([]model.RemoteMsg, error) {
	rf, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer f.store.mu.Unlock()
	out := make([]model.RemoteMsg, 0, len(rf.msgs))
	for _, u := range rf.sortedUIDs() {
		out = append(out, rf.msgs[u].info())
	}
	return out, nil
}

// Fetch calls fn for each of uids that exists, in ascending UID order. fn
// runs without the store's lock held, so it may call the store.
func (f *RemoteFolder) Fetch(ctx context.Context, uids []uint32, fn func(m model.RemoteMsg, body io.Reader) error) error {
	want := slices.Clone(uids)
	slices.Sort(want)
	want = slices.Compact(want)
	for _, u := range want {
		rf, err := f.lock(ctx)
		if err != nil {
			return err
		}
		m, ok := rf.msgs[u]
		var info model.RemoteMsg
		var body []byte
		if ok {
			info, body = m.info(), m.body
		}
		f.store.mu.Unlock()
		if !ok {
			continue
		}
		// body is never modified once stored, and a bytes.Reader does not
		// hand out its slice, so no copy is needed.
		if err := fn(info, bytes.NewReader(body)); err != nil {
			return fmt.Errorf("memstore remote folder %q: fetch uid %d: %w", f.name, u, err)
		}
	}
	return nil
}

// Append stores body (exactly size bytes) and returns its UID, or 0 when
// UIDPLUS is switched off.
func (f *RemoteFolder) Append(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time) (uint32, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	data, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return 0, fmt.Errorf("memstore remote folder %q: append: reading the message: %w", f.name, err)
	}
	if int64(len(data)) != size {
		return 0, fmt.Errorf("memstore remote folder %q: append: the message has %d bytes or more, not the %d announced", f.name, len(data), size)
	}
	rf, err := f.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer f.store.mu.Unlock()
	uid := rf.appendLocked(data, flags, date)
	if f.store.noUIDPlus {
		return 0, nil
	}
	return uid, nil
}

func (rf *remoteFolder) appendLocked(body []byte, flags model.Flags, date time.Time) uint32 {
	uid := rf.uidNext
	rf.uidNext++
	rf.modSeq++
	rf.msgs[uid] = &remoteMsg{uid: uid, flags: flags & model.AllFlags, date: date, body: body, modSeq: rf.modSeq}
	return uid
}

// StoreFlags adds and removes flags on uids; missing UIDs are ignored.
func (f *RemoteFolder) StoreFlags(ctx context.Context, uids []uint32, add, remove model.Flags) error {
	rf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	for _, u := range uids {
		if m, ok := rf.msgs[u]; ok {
			rf.setFlagsLocked(m, (m.flags|add)&^remove)
		}
	}
	return nil
}

var _ adapters.FlagBatcher = (*RemoteFolder)(nil)

// StoreFlagChanges is StoreFlags for each change, all of them tried.
func (f *RemoteFolder) StoreFlagChanges(ctx context.Context, changes []adapters.FlagChange) error {
	var errs []error
	for _, ch := range changes {
		if err := f.StoreFlags(ctx, ch.UIDs, ch.Add, ch.Remove); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (rf *remoteFolder) setFlagsLocked(m *remoteMsg, flags model.Flags) {
	flags &= model.AllFlags
	if m.flags == flags {
		return
	}
	rf.modSeq++
	m.flags = flags
	m.modSeq = rf.modSeq
}

// Expunge removes uids (and only them); missing UIDs are ignored.
func (f *RemoteFolder) Expunge(ctx context.Context, uids []uint32) error {
	rf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	defer f.store.mu.Unlock()
	for _, u := range uids {
		rf.expungeLocked(u)
	}
	return nil
}

func (rf *remoteFolder) expungeLocked(uid uint32) bool {
	if _, ok := rf.msgs[uid]; !ok {
		return false
	}
	delete(rf.msgs, uid)
	rf.modSeq++
	return true
}

// FindByIdentity returns, in ascending order, the UIDs >= minUID of the
// messages of exactly size bytes whose Message-ID header, with surrounding
// white space trimmed, equals messageID ("" matches any).
func (f *RemoteFolder) FindByIdentity(ctx context.Context, minUID uint32, size int64, messageID string) ([]uint32, error) {
	rf, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer f.store.mu.Unlock()
	var out []uint32
	messageID = strings.TrimSpace(messageID)
	for _, u := range rf.sortedUIDs() {
		m := rf.msgs[u]
		if u < minUID || int64(len(m.body)) != size {
			continue
		}
		if messageID != "" {
			id, ok := HeaderValue(m.body, "Message-ID")
			if !ok || id != messageID {
				continue
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// Move moves the existing uids into dest, appending them there in order
// with their flags and dates, and returns their new UIDs. Without UIDPLUS
// (SetUIDPlus) it moves nothing.
func (f *RemoteFolder) Move(ctx context.Context, uids []uint32, dest string) (map[uint32]uint32, uint32, error) {
	rf, err := f.lock(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer f.store.mu.Unlock()
	if f.store.noUIDPlus {
		return nil, 0, fmt.Errorf("memstore: move to %q: %w", dest, adapters.ErrUnsupported)
	}
	to, ok := f.store.folders[canonicalRemoteName(dest)]
	if !ok {
		return nil, 0, fmt.Errorf("memstore: move to %q: %w", dest, adapters.ErrNoFolder)
	}
	moved := map[uint32]uint32{}
	for _, u := range uids {
		m, ok := rf.msgs[u]
		if !ok {
			continue
		}
		moved[u] = to.appendLocked(m.body, m.flags, m.date)
		delete(rf.msgs, u)
		rf.modSeq++
	}
	return moved, to.uidValidity, nil
}

// MessageIDs returns the Message-ID of each existing uid, without
// surrounding white space and angle brackets.
func (f *RemoteFolder) MessageIDs(ctx context.Context, uids []uint32) (map[uint32]string, error) {
	rf, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer f.store.mu.Unlock()
	out := make(map[uint32]string, len(uids))
	for _, u := range uids {
		m, ok := rf.msgs[u]
		if !ok {
			continue
		}
		id, _ := HeaderValue(m.body, "Message-ID")
		out[u] = adapters.TrimMessageID(id)
	}
	return out, nil
}

// Close ends the selection; later calls on f fail.
func (f *RemoteFolder) Close() error {
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.store.selectedCount--
	}
	return nil
}

// HeaderValue returns the first header field called name (case-insensitive)
// of a message (CRLF or LF line ends), unfolded and with surrounding white
// space trimmed. ok is false when the header section has no such field.
func HeaderValue(msg []byte, name string) (value string, ok bool) {
	var cur []byte // the field being read, unfolded
	found := false
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if found {
				cur = append(cur, line...)
			}
			continue
		}
		if found {
			break
		}
		if len(line) == 0 {
			break // end of the header section
		}
		if i := bytes.IndexByte(line, ':'); i > 0 && strings.EqualFold(string(bytes.TrimRight(line[:i], " \t")), name) {
			found = true
			cur = append(cur, line[i+1:]...)
		}
	}
	if !found {
		return "", false
	}
	return strings.TrimSpace(string(cur)), true
}

// --- helpers for tests and replay ---

// AddMessage stores body in folder as an APPEND would, creating the folder
// (and its parents) when missing, and returns the new UID (even without
// UIDPLUS). body is copied.
func (r *Remote) AddMessage(folder string, body []byte, flags model.Flags, date time.Time) (uint32, error) {
	if err := r.CreateFolder(context.Background(), folder); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return 0, err
	}
	return rf.appendLocked(bytes.Clone(body), flags, date), nil
}

// PutMessage stores m at exactly m.UID in an existing folder, replacing a
// message with that UID; UIDNEXT grows past m.UID when needed. It counts as
// one change. Replay uses it to rebuild an observed folder. m.ModSeq is
// ignored; m.Body is copied.
func (r *Remote) PutMessage(folder string, m RemoteMessage) error {
	if m.UID == 0 {
		return fmt.Errorf("memstore remote folder %q: put message: UID 0 is not a valid UID", folder)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	rf.modSeq++
	rf.msgs[m.UID] = &remoteMsg{uid: m.UID, flags: m.Flags & model.AllFlags, date: m.InternalDate, body: bytes.Clone(m.Body), modSeq: rf.modSeq}
	if m.UID >= rf.uidNext {
		rf.uidNext = m.UID + 1
	}
	return nil
}

// Message returns one message; ErrNoMessage when uid is not in folder.
func (r *Remote) Message(folder string, uid uint32) (RemoteMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return RemoteMessage{}, err
	}
	m, ok := rf.msgs[uid]
	if !ok {
		return RemoteMessage{}, fmt.Errorf("memstore remote folder %q uid %d: %w", folder, uid, adapters.ErrNoMessage)
	}
	return m.export(), nil
}

func (m *remoteMsg) export() RemoteMessage {
	return RemoteMessage{UID: m.uid, Flags: m.flags, InternalDate: m.date, ModSeq: m.modSeq, Body: bytes.Clone(m.body)}
}

// Messages returns every message of folder in ascending UID order.
func (r *Remote) Messages(folder string) ([]RemoteMessage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return nil, err
	}
	out := make([]RemoteMessage, 0, len(rf.msgs))
	for _, u := range rf.sortedUIDs() {
		out = append(out, rf.msgs[u].export())
	}
	return out, nil
}

// SetMessageFlags sets the flags of one message, as another client would.
func (r *Remote) SetMessageFlags(folder string, uid uint32, flags model.Flags) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	m, ok := rf.msgs[uid]
	if !ok {
		return fmt.Errorf("memstore remote folder %q uid %d: %w", folder, uid, adapters.ErrNoMessage)
	}
	rf.setFlagsLocked(m, flags)
	return nil
}

// DeleteMessage expunges one message, as another client would;
// ErrNoMessage when it is not there.
func (r *Remote) DeleteMessage(folder string, uid uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	if !rf.expungeLocked(uid) {
		return fmt.Errorf("memstore remote folder %q uid %d: %w", folder, uid, adapters.ErrNoMessage)
	}
	return nil
}

// DeleteFolder removes a folder and its messages (not its children), as
// another client would. Handles already selected on it start failing.
func (r *Remote) DeleteFolder(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(name)
	if err != nil {
		return err
	}
	delete(r.folders, rf.name)
	return nil
}

// SetUIDValidity sets the UIDVALIDITY of a folder to v and changes nothing
// else: the UIDs stay. Replay uses it to rebuild an observed folder.
func (r *Remote) SetUIDValidity(folder string, v uint32) error {
	if v == 0 {
		return fmt.Errorf("memstore remote folder %q: UIDVALIDITY 0 is not valid", folder)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	rf.uidValidity = v
	return nil
}

// ChangeUIDValidity does what a server does when it rebuilds a folder's
// index: UIDVALIDITY becomes v, and the messages, in their old UID order,
// get new UIDs 1, 2, 3, ...; UIDNEXT follows. It counts as one change per
// message.
func (r *Remote) ChangeUIDValidity(folder string, v uint32) error {
	if v == 0 {
		return fmt.Errorf("memstore remote folder %q: UIDVALIDITY 0 is not valid", folder)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	msgs := make(map[uint32]*remoteMsg, len(rf.msgs))
	next := uint32(1)
	for _, u := range rf.sortedUIDs() {
		m := rf.msgs[u]
		rf.modSeq++
		m.uid, m.modSeq = next, rf.modSeq
		msgs[next] = m
		next++
	}
	rf.msgs, rf.uidNext, rf.uidValidity = msgs, next, v
	return nil
}

// SetUIDNext sets the UIDNEXT of a folder; it may not go below the highest
// UID in use plus one.
func (r *Remote) SetUIDNext(folder string, next uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, err := r.folderLocked(folder)
	if err != nil {
		return err
	}
	for u := range rf.msgs {
		if u >= next {
			return fmt.Errorf("memstore remote folder %q: UIDNEXT %d is not above UID %d in use", folder, next, u)
		}
	}
	rf.uidNext = next
	return nil
}
