package adapters

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"mailtrail/model"
)

// TrimMessageID returns a Message-ID without surrounding white space and
// angle brackets, the form in which identities are compared.
func TrimMessageID(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.TrimSpace(s)
}

// ErrNoFolder is returned (wrapped) when a folder does not exist.
var ErrNoFolder = errors.New("no such folder")

// ErrUnsupported is returned (wrapped) when a store cannot do what was
// asked; nothing was changed.
var ErrUnsupported = errors.New("not supported by this server")

// ErrNoMessage is returned (wrapped) when a message does not exist.
var ErrNoMessage = errors.New("no such message")

// Remote is a server-side store: folders of messages addressed by UID.
type Remote interface {
	// ListFolders returns every selectable folder with its status
	// (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ when offered), using
	// LIST-STATUS where the server has it. Names are canonical.
	ListFolders(ctx context.Context) ([]model.RemoteFolderStatus, error)
	// CreateFolder creates a folder (and its parents); an existing folder is
	// not an error.
	CreateFolder(ctx context.Context, name string) error
	// SelectFolder opens a folder for reading and writing. The returned
	// folder owns a connection until Close.
	SelectFolder(ctx context.Context, name string) (RemoteFolder, error)
	// Close releases every connection.
	Close() error
}

// RemoteFolder is one selected server folder.
type RemoteFolder interface {
	// Status is the folder's status as of SELECT.
	Status() model.RemoteFolderStatus
	// List returns every message's UID, flags, size and internal date, in
	// ascending UID order.
	List(ctx context.Context) ([]model.RemoteMsg, error)
	// Fetch streams the bodies of uids, in ascending UID order, to fn. body
	// holds the exact bytes the server has (CRLF). fn must not keep body past
	// its return. UIDs that no longer exist are skipped, not errors.
	Fetch(ctx context.Context, uids []uint32, fn func(m model.RemoteMsg, body io.Reader) error) error
	// Append stores a message of exactly size bytes (wire form) in this
	// folder and returns its UID, or 0 when the server does not say
	// (no UIDPLUS).
	Append(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time) (uint32, error)
	// StoreFlags adds and removes flags on uids. Missing UIDs are ignored.
	StoreFlags(ctx context.Context, uids []uint32, add, remove model.Flags) error
	// Expunge permanently removes uids. Missing UIDs are ignored.
	Expunge(ctx context.Context, uids []uint32) error
	// FindByIdentity returns the UIDs at or above minUID whose size is size
	// and whose Message-ID header equals messageID ("" matches any). It
	// finds a message appended without UIDPLUS, or before a crash.
	FindByIdentity(ctx context.Context, minUID uint32, size int64, messageID string) ([]uint32, error)
	// MessageIDs returns the Message-ID header of each of uids, trimmed of
	// white space and angle brackets ("" when a message has none). UIDs
	// that no longer exist are left out. It identifies messages when their
	// UIDs cannot be trusted (a UIDVALIDITY change) and across folders
	// (a move).
	MessageIDs(ctx context.Context, uids []uint32) (map[uint32]string, error)
	// Move moves uids of this folder into the folder dest (canonical name)
	// on the server, flags and internal dates kept, and returns the UID each
	// got there (UIDs already gone are missing from the map) and dest's
	// UIDVALIDITY. It needs a server that reports the new UIDs (UIDPLUS);
	// without one it moves nothing and returns ErrUnsupported.
	Move(ctx context.Context, uids []uint32, dest string) (moved map[uint32]uint32, destValidity uint32, err error)
	// Close unselects the folder and returns its connection.
	Close() error
}

// ChangeLister is implemented by RemoteFolders of servers that keep a
// modification sequence per message (IMAP CONDSTORE). ListChanges returns
// the UIDs of every message in the folder, ascending, and the UID, flags,
// size and internal date of those whose modification sequence is above
// since: the messages added or re-flagged since the folder's
// HIGHESTMODSEQ was since. The other messages are as they were then. It
// costs a fraction of List on a large folder where little changed.
type ChangeLister interface {
	ListChanges(ctx context.Context, since uint64) (uids []uint32, changed []model.RemoteMsg, err error)
}

// ListedFetcher is implemented by RemoteFolders that can fetch the bodies
// of messages the caller has listed without asking for their flags, size
// and date again: one command where Fetch sends two. fn is called as by
// Fetch, with the message as msgs lists it (its size the body's); a
// message gone from the server since it was listed is skipped.
type ListedFetcher interface {
	FetchListed(ctx context.Context, msgs []model.RemoteMsg, fn func(m model.RemoteMsg, body io.Reader) error) error
}

// ChangeOpener is implemented by Remotes that can open a folder and list
// what changed in it since a HIGHESTMODSEQ together, in one round trip
// where opening it and then ChangeLister.ListChanges take two. Changes is
// nil when the folder keeps no modification sequences or since is above
// its HIGHESTMODSEQ: the caller lists it as it would have. readOnly opens
// it for looking only (as Examiner), failing with an error that wraps
// ErrUnsupported where it cannot.
type ChangeOpener interface {
	OpenWithChanges(ctx context.Context, name string, readOnly bool, since uint64) (RemoteFolder, *Changes, error)
}

// ListOpener is implemented by Remotes that can open one folder with its
// changes listed (ChangeOpener.OpenWithChanges) in the round trip that
// lists the folders (Remote.ListFolders): its commands written behind the
// listing's, before any answer is read. The listing and its error are
// ListFolders' own. The folder comes in Opened: nil, with Err saying why,
// when it could not be opened with the listing (not a failure of the
// run: the caller opens it later as it would have, or learns then what is
// wrong with it), and it is the caller's to close. A Remote that must know
// the listing to name the folder on the server opens it only where the
// name cannot depend on what the listing says, and checks it against the
// listing: a folder opened under another name is closed again and not
// returned.
type ListOpener interface {
	ListFoldersOpening(ctx context.Context, name string, readOnly bool, since uint64) ([]model.RemoteFolderStatus, Opened, error)
}

// ListSurveyor is implemented by Remotes that can survey folders
// (ChangeSurveyor.SurveyChanges) in the round trip that lists the folders
// (Remote.ListFolders): the survey's commands written behind the
// listing's, before any answer is read. The listing and its error are
// ListFolders' own; the surveys are as SurveyChanges answers them, one per
// request, in order. A Remote that must know the listing to name a folder
// on the server surveys it only where the name cannot depend on what the
// listing says, and checks it against the listing: a folder surveyed
// under another name has an Err wrapping ErrUnsupported.
type ListSurveyor interface {
	ListFoldersSurveying(ctx context.Context, reqs []ChangeRequest) ([]model.RemoteFolderStatus, []ChangeSurvey, error)
}

// Opened is the folder ListOpener.ListFoldersOpening opened, with what
// changed in it as ChangeOpener.OpenWithChanges returns it; or Err.
type Opened struct {
	Folder  RemoteFolder
	Changes *Changes
	Err     error
}

// ListingOpener is implemented by Remotes that can open a folder and list
// every message in it (as RemoteFolder.List) together, in one round trip
// where opening it and then listing it take two: a folder's first sync, or
// any folder of a server without CONDSTORE. readOnly opens it for looking
// only (as Examiner), failing with an error that wraps ErrUnsupported
// where it cannot. A folder that does not exist fails with ErrNoFolder.
type ListingOpener interface {
	OpenListing(ctx context.Context, name string, readOnly bool) (RemoteFolder, []model.RemoteMsg, error)
}

// ListedSelector is implemented by Remotes that can open a folder for
// reading and writing without waiting for the server's answer: the caller
// has listed the folder's status moments ago (listed) and will check
// nothing until the first command. The folder's Status is listed until
// then. Its first command sends the SELECT, a read (ListedFetcher's
// FetchListed) right behind it in the same round trip, anything else only
// once the answer came; either checks the answer before using its own:
// a SELECT that fails fails the command (ErrNoFolder where the folder is
// gone), and one whose UIDVALIDITY is not listed's fails it with an error
// wrapping ErrValidityChanged, having changed nothing on the server, as
// does every later command of the folder.
type ListedSelector interface {
	SelectListed(ctx context.Context, name string, listed model.RemoteFolderStatus) (RemoteFolder, error)
}

// ErrValidityChanged is returned (wrapped) by a folder opened with
// ListedSelector.SelectListed whose UIDVALIDITY on the server is not the
// one listed: its UIDs mean other messages now, and nothing was done.
var ErrValidityChanged = errors.New("the server changed the folder's UIDVALIDITY")

// ChangeSurveyor is implemented by Remotes that can look at several
// folders at once, read-only, each with what changed in it since a
// HIGHESTMODSEQ (ChangeOpener's listing), and leave none of them open:
// for a look that needs nothing more of the folders, such as the check
// after a sync. Their commands are pipelined, so that the folders a
// connection looks at cost it one round trip in all. The answer holds one
// survey per request, in order.
type ChangeSurveyor interface {
	SurveyChanges(ctx context.Context, reqs []ChangeRequest) []ChangeSurvey
}

// LastSurveyor is a ChangeSurveyor whose survey can be the last thing
// asked of its connections: SurveyChangesLast surveys as SurveyChanges
// does, and each connection logs out once it has read its answers, in the
// background (never before them: a server may drop answers a LOGOUT
// overtakes), and so do the idle connections the survey does not use;
// with no requests, it logs out of every idle connection and returns at
// once. The Remote stays usable (a later need opens a connection again),
// and Close waits for those LOGOUTs. For a run's last look at the server,
// when the Remote is closed after the run.
type LastSurveyor interface {
	ChangeSurveyor
	SurveyChangesLast(ctx context.Context, reqs []ChangeRequest) []ChangeSurvey
}

// Distancer is implemented by Remotes that can tell how far away their
// server is: LinkDelay is the shortest time a connection opened so far
// took from its start to the server's greeting (the TCP handshake, TLS's,
// and the greeting's way back: about two round trips on a direct link,
// whatever proxy or tunnel is in between), 0 when not known.
type Distancer interface {
	LinkDelay() time.Duration
}

// Warmer is implemented by Remotes that can open connections ahead of
// need: Warm returns at once, and up to n connections are then opened in
// the background (never more than the Remote would open on demand).
type Warmer interface {
	Warm(n int)
}

// ChangeRequest names a folder to survey and the HIGHESTMODSEQ since which
// its changes are wanted.
type ChangeRequest struct {
	Name  string
	Since uint64
}

// ChangeSurvey is one folder's answer to ChangeSurveyor.SurveyChanges: the
// folder's status and what changed in it. Changes is nil whenever the
// listing is of no use, as with ChangeOpener, or could not be completed
// without the folder open (a changed message listed without its size and
// date): the caller then opens the folder and lists it. Err is the
// folder's own error (ErrNoFolder when it does not exist); ErrUnsupported
// when the Remote cannot list changes at all.
type ChangeSurvey struct {
	Status  model.RemoteFolderStatus
	Changes *Changes
	Err     error
}

// Changes is what ChangeLister.ListChanges returns.
type Changes struct {
	UIDs    []uint32
	Changed []model.RemoteMsg
	// All: Changed is the folder's every message, listed in full with its
	// open (ListingOpener); UIDs is then nil.
	All bool
}

// BatchAppender is implemented by RemoteFolders that can append several
// messages with one command (IMAP MULTIAPPEND, RFC 3502): the server
// stores all of them or none, in one transaction, which on a large folder
// costs about what one APPEND does.
type BatchAppender interface {
	// CanAppendBatch reports whether AppendBatch can be used on this folder
	// now; when it cannot, messages are appended one by one.
	CanAppendBatch() bool
	// AppendBatch stores msgs in this folder in one command and returns the
	// UID of each, in order, or nil when the server does not say (no
	// UIDPLUS). A body that does not have its size is an error of the
	// whole command (the connection is closed before the command ends, so
	// the server stores none of them), as is a server's refusal; either
	// way nothing was stored.
	AppendBatch(ctx context.Context, msgs []AppendMsg) ([]uint32, error)
}

// FlagBatcher is implemented by RemoteFolders that can store several flag
// changes at once (IMAP: every UID STORE sent before the first answer is
// read, one round trip).
type FlagBatcher interface {
	// StoreFlagChanges carries out each change as StoreFlags would, all of
	// them even when one fails, and returns their errors joined.
	StoreFlagChanges(ctx context.Context, changes []FlagChange) error
}

// FlagExpunger is implemented by RemoteFolders that can store flag changes
// and mark messages for an expunge in one round trip (IMAP: the UID
// STOREs of both sent before the first answer is read), then expunge them
// as Expunge does, once every store has ended.
type FlagExpunger interface {
	// StoreFlagsAndExpunge is StoreFlagChanges(changes) and Expunge(expunge)
	// together; it returns their errors joined.
	StoreFlagsAndExpunge(ctx context.Context, changes []FlagChange, expunge []uint32) error
}

// OpenSurveyor is implemented by RemoteFolders that can be surveyed
// (ChangeSurveyor's look: the folder's status and its changes) while they
// are still open, without being opened again: on IMAP, opening a large
// folder that has just changed costs the server seconds (Dovecot reads a
// Maildir folder of 100,000 messages again), where the session that made
// the changes lists them at once.
type OpenSurveyor interface {
	// SurveyOpen returns the folder's status and its changes since since
	// (ChangeSurvey's rules), the status taken before the changes are
	// listed, never after: whatever changed before the status was taken
	// is in the listing. Its Err wraps ErrUnsupported when the folder
	// cannot be surveyed so (no modification sequences), and ErrBusy when
	// not now (the status needs another connection and none is free);
	// the caller then surveys it once it is closed. The folder stays open
	// and usable.
	SurveyOpen(ctx context.Context, since uint64) ChangeSurvey
}

// ErrBusy is OpenSurveyor's answer when it cannot survey the folder now.
var ErrBusy = errors.New("no connection free for it now")

// SurveyingStorer is implemented by RemoteFolders that can have
// themselves surveyed (ChangeSurveyor's look, read-only) right behind
// their flag stores, the survey's commands written before any answer is
// read: one round trip for both, where the stores and then the check
// after a sync took two. For the last use of a folder in a run: the
// folder takes no command after it and is then closed.
type SurveyingStorer interface {
	FlagBatcher
	// StoreFlagChangesSurveying carries out changes as StoreFlagChanges
	// does and returns their errors joined as err; survey is the folder's
	// status and its changes since since, as the server answers them once
	// the stores have ended (ChangeSurvey's rules: its Err wraps
	// ErrUnsupported when the folder cannot be surveyed, the stores being
	// made all the same). With leave, the connection logs out after the
	// survey, as LastSurveyor's do, and the Remote's idle connections log
	// out meanwhile: for a run's last look at the server.
	StoreFlagChangesSurveying(ctx context.Context, changes []FlagChange, since uint64, leave bool) (survey ChangeSurvey, err error)
}

// SurveyingExpunger is a SurveyingStorer that can also have itself
// surveyed behind an expunge (FlagExpunger's, the survey written behind
// its expunge commands): for a folder whose last use in a run is an
// expunge.
type SurveyingExpunger interface {
	SurveyingStorer
	FlagExpunger
	// StoreFlagsAndExpungeSurveying is StoreFlagsAndExpunge(changes,
	// expunge) with the folder's survey as StoreFlagChangesSurveying makes
	// it, answered once the expunge has ended.
	StoreFlagsAndExpungeSurveying(ctx context.Context, changes []FlagChange, expunge []uint32, since uint64, leave bool) (survey ChangeSurvey, err error)
}

// SurveyingFetcher is a ListedFetcher that can have itself surveyed as
// SurveyingStorer says, the survey written behind its last fetch of
// bodies: for a folder whose last use in a run is a download.
type SurveyingFetcher interface {
	ListedFetcher
	// FetchListedSurveying is FetchListed(msgs, fn) with the folder's
	// survey as StoreFlagChangesSurveying makes it, answered once the
	// fetch has ended; err is FetchListed's.
	FetchListedSurveying(ctx context.Context, msgs []model.RemoteMsg, fn func(m model.RemoteMsg, body io.Reader) error, since uint64, leave bool) (survey ChangeSurvey, err error)
}

// SurveyingAppender is implemented by RemoteFolders that can have
// themselves surveyed as SurveyingStorer says, the survey written behind
// an APPEND: for a folder whose last use in a run is one upload (a sent
// message filed). Only where the server names the new message's UID in
// its answer (UIDPLUS): the folder takes no command after the survey, so
// the copy could not be looked for afterwards.
type SurveyingAppender interface {
	// AppendSurveying is Append(size, body, flags, date) with the folder's
	// survey as StoreFlagChangesSurveying makes it, answered once the
	// APPEND has ended; uid and err are Append's (uid 0: the server named
	// no UID after all, and the caller cannot look for the copy in this
	// folder any more). Without UIDPLUS or modification sequences it is
	// Append alone, survey.Err wrapping ErrUnsupported.
	AppendSurveying(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time, since uint64, leave bool) (uid uint32, survey ChangeSurvey, err error)
}

// BatchAppendStorer is implemented by RemoteFolders that can send an
// upload batch (BatchAppender) with flag changes and the marks of an
// expunge in one round trip (IMAP: the MULTIAPPEND and the UID STOREs all
// written before the first answer is read), then expunge as Expunge does
// once the marks have ended. The batch and the stores are independent:
// they concern other messages.
type BatchAppendStorer interface {
	BatchAppender
	// AppendBatchWith is AppendBatch(msgs) and StoreFlagsAndExpunge(changes,
	// expunge) together. appendErr is AppendBatch's error; sent reports
	// whether the stores and the expunge were carried out (their errors
	// joined in err): they are not when the batch was refused before it
	// was all sent, or when they cannot go with it, and the caller then
	// sends them on their own.
	AppendBatchWith(ctx context.Context, msgs []AppendMsg, changes []FlagChange, expunge []uint32) (uids []uint32, appendErr error, sent bool, err error)
}

// SurveyingBatchAppendStorer is a BatchAppendStorer that can have itself
// surveyed as SurveyingStorer says, the survey written behind the
// expunge that ends AppendBatchWith: for a folder whose last use in a run
// is an upload batch with its stores and an expunge.
type SurveyingBatchAppendStorer interface {
	BatchAppendStorer
	// AppendBatchWithSurveying is AppendBatchWith with the folder's survey
	// as StoreFlagChangesSurveying makes it, answered once the expunge has
	// ended. Where it cannot go (no expunge, the stores not sent with the
	// batch, no modification sequences) survey.Err wraps ErrUnsupported
	// and the folder is left as AppendBatchWith leaves it.
	AppendBatchWithSurveying(ctx context.Context, msgs []AppendMsg, changes []FlagChange, expunge []uint32, since uint64, leave bool) (uids []uint32, appendErr error, sent bool, err error, survey ChangeSurvey)
}

// Examiner is implemented by Remotes that can open a folder for looking
// only (IMAP: EXAMINE). ExamineFolder's folder lists like SelectFolder's;
// the methods that would change the server fail without sending anything.
// It may be much cheaper for the server than SelectFolder, and it changes
// nothing there: for a second look after a sync, and for a dry run.
type Examiner interface {
	// ExamineFolder fails with an error wrapping ErrUnsupported when the
	// folder cannot be examined here (a wrapper whose inner Remote cannot).
	ExamineFolder(ctx context.Context, name string) (RemoteFolder, error)
}

// LookAt opens a server folder for looking only: examined where r can
// (Examiner), else selected.
func LookAt(ctx context.Context, r Remote, name string) (RemoteFolder, error) {
	if e, ok := r.(Examiner); ok {
		f, err := e.ExamineFolder(ctx, name)
		if !errors.Is(err, ErrUnsupported) {
			return f, err
		}
	}
	return r.SelectFolder(ctx, name)
}

// FlagChange is one StoreFlags call of a FlagBatcher's batch: Add then
// Remove on UIDs.
type FlagChange struct {
	UIDs        []uint32
	Add, Remove model.Flags
}

// AppendMsg is one message of a BatchAppender's command: exactly Size
// bytes (wire form) from Body, with Flags and internal date Date (zero:
// the server's now).
type AppendMsg struct {
	Size  int64
	Body  io.Reader
	Flags model.Flags
	Date  time.Time
}

// Local is a client-side store: folders of message files addressed by key.
type Local interface {
	// ListFolders returns every folder's canonical name.
	ListFolders(ctx context.Context) ([]string, error)
	// CreateFolder creates a folder (and its parents); an existing folder is
	// not an error.
	CreateFolder(ctx context.Context, name string) error
	// OpenFolder opens an existing folder; ErrNoFolder when it is missing.
	OpenFolder(ctx context.Context, name string) (LocalFolder, error)
}

// LocalFolder is one local folder.
type LocalFolder interface {
	// FMD5 is the tag this folder's file names carry with their UIDs
	// (OfflineIMAP's ",FMD5=": md5 hex of the local folder name). A UID in
	// a file name counts for this folder only when its tag matches.
	FMD5() string
	// Scan lists every message in the folder.
	Scan(ctx context.Context) ([]model.LocalMsg, error)
	// NewBatch starts a batch of new messages: they become visible and
	// durable together on Commit.
	NewBatch() LocalBatch
	// OpenForUpload opens a message as it is to be sent to a server: LF line
	// ends turned into CRLF, nothing else changed. size is the exact length
	// of what the reader yields; date is the file's mtime (the message's
	// internal date).
	OpenForUpload(ctx context.Context, key string) (r io.ReadCloser, size int64, date time.Time, err error)
	// SetFlags renames the message so that it carries flags; letters that
	// are not standard flags are kept. ErrNoMessage when key is gone.
	SetFlags(ctx context.Context, key string, flags model.Flags) error
	// SetUID records the message's remote UID in its file name.
	SetUID(ctx context.Context, key string, uid uint32) error
	// Delete removes the message; an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// MoveTo moves the message into dest, another folder of the same store,
	// where it carries uid (with dest's FMD5) and flags; its key stays.
	// ErrNoMessage when key is gone. No fsync: Flush both folders.
	MoveTo(ctx context.Context, key string, dest LocalFolder, uid uint32, flags model.Flags) error
	// Flush makes the renames and deletions done so far durable (directory
	// fsync).
	Flush(ctx context.Context) error
}

// LocalBatch collects new messages written to tmp/ without a per-file
// fsync, then makes them durable and visible together.
type LocalBatch interface {
	// Add writes one message (wire form, CRLF) into the batch and returns
	// the key it will have. The body is streamed, never held in memory.
	Add(uid uint32, flags model.Flags, date time.Time, body io.Reader) (key string, err error)
	// Commit fsyncs every file of the batch, moves them into place, and
	// fsyncs the directories. After Commit returns nil they survive a crash.
	Commit(ctx context.Context) error
	// Abort removes the batch's files from tmp/.
	Abort() error
}

// Stamp is a cheap fingerprint of a local folder's contents: it changes
// whenever a message is added to, removed from or renamed in the folder
// (for a Maildir, the nanosecond mtimes of cur/ and new/). The zero Stamp
// means "unknown".
type Stamp [2]int64

// Stamper is implemented by Local stores that can stamp a folder without
// opening or reading it. The engine skips a folder whose stamp, and whose
// server status (UIDNEXT, MESSAGES, HIGHESTMODSEQ), are those recorded
// after a sync that found nothing to do.
type Stamper interface {
	FolderStamp(ctx context.Context, name string) (Stamp, error)
}

// ScanSizer is implemented by LocalFolders that can use, before their
// first Scan, how many messages it will probably find (what the status
// recorded): a large folder's scan then allocates once instead of growing.
// A wrong guess costs memory or a reallocation, never a wrong result.
type ScanSizer interface {
	ExpectMessages(n int)
}

// ScanStamper is implemented by LocalFolders whose last Scan can be
// stamped: ScanStamp returns the stamp of the folder as that Scan saw it,
// and ok only when no change could have slipped past it unseen (a change
// in the same clock tick as the read leaves a Maildir's mtimes as they
// were, so a stamp taken too close to the read is not trusted).
type ScanStamper interface {
	ScanStamp() (s Stamp, ok bool)
	// StampSettles is the earliest time at which a Scan started would
	// have its stamp trusted, if the folder does not change meanwhile:
	// what to wait for before scanning again when ScanStamp is not
	// trusted. The zero time when there is nothing to wait for.
	StampSettles() time.Time
}
