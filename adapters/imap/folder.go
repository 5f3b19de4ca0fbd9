package imap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters"
	"mailtrail/internal/faultinject"
	"mailtrail/model"
)

// Folder is one selected folder on a connection of its own. It implements
// adapters.RemoteFolder. Its methods run one at a time.
//
// When the connection breaks (a timeout, a network error), the operation
// fails; the next one reconnects and selects the folder again, and fails if
// the folder's UIDVALIDITY has changed meanwhile.
type Folder struct {
	store  *Store
	name   string // canonical
	server string // the server's name

	mu     sync.Mutex
	conn   *conn
	status model.RemoteFolderStatus
	closed bool
	// readOnly: opened with EXAMINE (Store.ExamineFolder), for looking
	// only; the methods that would change the server refuse.
	readOnly bool
	// Opened by SelectListed: unsent until the first command sends the
	// SELECT, selecting from then until confirm has checked its answer;
	// refused, for good, when that answer did not match the listed
	// status (or the SELECT failed).
	unsent    bool
	selecting *imapclient.SelectCommand
	refused   error
}

var _ adapters.RemoteFolder = (*Folder)(nil)

// Status is the folder's status as of SELECT.
func (f *Folder) Status() model.RemoteFolderStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

// Name is the folder's canonical name.
func (f *Folder) Name() string { return f.name }

func (f *Folder) errorf(command string, err error) error {
	return fmt.Errorf("%s: folder %q: %s: %w", f.store.name, f.name, command, err)
}

// selectRequest is the command that opens the folder, as logged, and its
// options: SELECT (EXAMINE read-only), with CONDSTORE where the server has
// it.
func (f *Folder) selectRequest() (command string, opts *imap.SelectOptions) {
	command = openVerb(f.readOnly)
	opts = &imap.SelectOptions{ReadOnly: f.readOnly}
	if f.store.hasCondStore() {
		opts.CondStore = true
		command += " (CONDSTORE)"
	}
	return command, opts
}

// selectOn sends SELECT (EXAMINE for a read-only folder) on c and reads the
// folder's status from the answer.
func (f *Folder) selectOn(ctx context.Context, c *conn, more string, then func(c *conn)) (model.RemoteFolderStatus, error) {
	var data *imap.SelectData
	command, opts := f.selectRequest()
	logged := command
	if more != "" {
		logged += " + " + more
	}
	err := c.run(ctx, logged, func() error {
		sel := c.client.Select(f.server, opts)
		if then != nil {
			// The answers to the SELECT are kept by its command (go-imap
			// never waits for it to take them): those of the commands
			// behind it can be read first.
			then(c)
		}
		var err error
		data, err = sel.Wait()
		return err
	})
	if err != nil {
		return model.RemoteFolderStatus{}, f.errorf(command, noFolder(err))
	}
	return selectedStatus(f.name, data), nil
}

// noFolder wraps adapters.ErrNoFolder around the error of a SELECT or
// EXAMINE that says the folder does not exist.
func noFolder(err error) error {
	var ie *imap.Error
	if errors.As(err, &ie) && (ie.Code == imap.ResponseCodeNonExistent || looksNonExistent(ie.Text)) {
		return fmt.Errorf("%w: %w", adapters.ErrNoFolder, err)
	}
	return err
}

// selectedStatus is a folder's status from the answer to its SELECT or
// EXAMINE.
func selectedStatus(name string, data *imap.SelectData) model.RemoteFolderStatus {
	return model.RemoteFolderStatus{
		Name:          name,
		UIDValidity:   data.UIDValidity,
		UIDNext:       uint32(data.UIDNext),
		Messages:      data.NumMessages,
		HighestModSeq: data.HighestModSeq,
	}
}

// openVerb is the command that opens a folder: SELECT, or EXAMINE
// read-only.
func openVerb(readOnly bool) string {
	if readOnly {
		return "EXAMINE"
	}
	return "SELECT"
}

// refuseReadOnly is the error of a command that would change the server,
// sent through a folder opened read-only (nil otherwise). Nothing is sent.
func (f *Folder) refuseReadOnly(command string) error {
	if f.readOnly {
		return f.errorf(command, errors.New("the folder was opened read-only (EXAMINE), for looking only"))
	}
	return nil
}

// looksNonExistent recognises "no such mailbox" from servers that send no
// NONEXISTENT response code.
func looksNonExistent(text string) bool {
	t := strings.ToLower(text)
	for _, s := range []string{"doesn't exist", "does not exist", "no such", "not found", "unknown mailbox"} {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

// do runs one operation: it reconnects first when the connection broke,
// then runs f under the watchdog, and names the folder and command in the
// error. On a folder whose SELECT is not sent yet (SelectListed), the
// SELECT goes first and its answer is checked before fn runs.
func (f *Folder) do(ctx context.Context, command string, fn func(c *conn) error) error {
	return f.doCommand(ctx, command, false, fn)
}

// doRead is do for an operation that changes nothing on the server: on a
// folder whose SELECT is not sent yet, fn runs with the SELECT sent and not
// answered, so that its command follows in the same round trip; fn must
// call confirm once its command is sent and before it uses any answer.
func (f *Folder) doRead(ctx context.Context, command string, fn func(c *conn) error) error {
	return f.doCommand(ctx, command, true, fn)
}

func (f *Folder) doCommand(ctx context.Context, command string, read bool, fn func(c *conn) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.errorf(command, errors.New("folder is closed"))
	}
	if f.refused != nil {
		return f.errorf(command, f.refused)
	}
	if f.conn.broken != nil {
		if err := f.reconnect(ctx); err != nil {
			return f.errorf(command, err)
		}
	}
	c := f.conn
	logged := command
	if f.unsent {
		sel, _ := f.selectRequest()
		logged = sel + " + " + command
	}
	err := c.run(ctx, logged, func() error {
		if f.unsent {
			f.sendSelect(c)
			if !read {
				if err := f.confirm(); err != nil {
					return err
				}
			}
		}
		err := fn(c)
		if f.selecting != nil {
			// fn returned before confirming: the answer is checked all the
			// same, and a refusal is the error.
			if cerr := f.confirm(); cerr != nil {
				return cerr
			}
		}
		return err
	})
	if err != nil {
		return f.errorf(logged, err)
	}
	return nil
}

// sendSelect sends the SELECT of a folder opened by SelectListed, without
// waiting for its answer (confirm reads it).
func (f *Folder) sendSelect(c *conn) {
	_, opts := f.selectRequest()
	f.selecting = c.client.Select(f.server, opts)
	f.unsent = false
}

// confirm reads the answer to the SELECT sendSelect sent and checks it
// against the listed status: a SELECT the server refused or another
// UIDVALIDITY refuses the folder for good (nothing was changed: only reads
// went out behind the SELECT). With a matching answer the folder's status
// is the answer's. A connection lost meanwhile is only an error: the next
// command reconnects and selects again, checking the UIDVALIDITY as it
// does. Without a SELECT waiting for its answer it does nothing.
func (f *Folder) confirm() error {
	sel := f.selecting
	if sel == nil {
		return nil
	}
	f.selecting = nil
	data, err := sel.Wait()
	if err != nil {
		if !isServerRefusal(err) {
			return err
		}
		f.refused = noFolder(err)
		return f.refused
	}
	st := selectedStatus(f.name, data)
	if st.UIDValidity != f.status.UIDValidity {
		f.refused = fmt.Errorf("%w (%d to %d) since it was listed for this sync; nothing was done in it, sync again",
			adapters.ErrValidityChanged, f.status.UIDValidity, st.UIDValidity)
		return f.refused
	}
	f.status = st
	return nil
}

// reconnect replaces a broken connection and selects the folder again.
func (f *Folder) reconnect(ctx context.Context) error {
	old := f.conn
	old.close()
	c, err := f.store.dial(ctx)
	if err != nil {
		return fmt.Errorf("reconnecting after %v: %w", old.broken, err)
	}
	st, err := f.selectOn(ctx, c, "", nil)
	if err != nil {
		c.close()
		return fmt.Errorf("reconnecting: %w", err)
	}
	if st.UIDValidity != f.status.UIDValidity {
		c.close()
		return fmt.Errorf("reconnecting: %w (%d to %d): the folder's UIDs mean other messages now", adapters.ErrValidityChanged, f.status.UIDValidity, st.UIDValidity)
	}
	f.conn = c
	// Selected and checked now: a SELECT of SelectListed's that was not
	// sent, or not answered, on the old connection is not needed.
	f.unsent, f.selecting = false, nil
	return nil
}

// List returns every message's UID, flags, size and internal date, in
// ascending UID order, with one UID FETCH 1:*. On an empty folder a server
// that refuses "1:*" is not an error. A message whose size and date did not
// come (an unsolicited FETCH of its flags took its place) is asked again.
func (f *Folder) List(ctx context.Context) ([]model.RemoteMsg, error) {
	byUID := make(map[uint32]model.RemoteMsg)
	err := f.do(ctx, listingCommand, func(c *conn) error { return listAll(c, byUID) })
	if err != nil {
		return nil, err
	}
	return f.listing(ctx, byUID)
}

// listing is the listing of byUID, the answers to UID FETCH 1:* (UID FLAGS
// RFC822.SIZE INTERNALDATE), in ascending UID order, once the messages
// that came without their size and date are asked again.
func (f *Folder) listing(ctx context.Context, byUID map[uint32]model.RemoteMsg) ([]model.RemoteMsg, error) {
	if err := f.completeMeta(ctx, byUID); err != nil {
		return nil, err
	}
	out := make([]model.RemoteMsg, 0, len(byUID))
	for _, m := range byUID {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out, nil
}

// listingCommand is List's command, as logged.
const listingCommand = "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"

// listAll sends List's command on c and reads its answers into byUID. On
// an empty folder a server that refuses "1:*" is not an error.
func listAll(c *conn, byUID map[uint32]model.RemoteMsg) error {
	err := fetchMeta(c, imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, byUID)
	if err != nil && isServerRefusal(err) {
		if mb := c.client.Mailbox(); mb != nil && mb.NumMessages == 0 {
			return nil
		}
	}
	return err
}

// completeMeta asks again for the messages of byUID listed without their
// size and date (a server that sent the items in parts).
func (f *Folder) completeMeta(ctx context.Context, byUID map[uint32]model.RemoteMsg) error {
	var incomplete imap.UIDSet
	for uid, m := range byUID {
		if metaMissing(m) {
			incomplete.AddNum(imap.UID(uid))
		}
	}
	if len(incomplete) == 0 {
		return nil
	}
	return f.do(ctx, "UID FETCH "+setLabel(incomplete)+" (UID FLAGS RFC822.SIZE INTERNALDATE)", func(c *conn) error {
		return fetchMeta(c, incomplete, byUID)
	})
}

// metaMissing reports whether a message was listed without its size and
// date (an unsolicited FETCH of its flags took the place of the answer).
func metaMissing(m model.RemoteMsg) bool { return m.Size == 0 && m.InternalDate.IsZero() }

// fetchMeta runs UID FETCH set (UID FLAGS RFC822.SIZE INTERNALDATE) and
// merges what comes into byUID. It reads every response to the end.
func fetchMeta(c *conn, set imap.UIDSet, byUID map[uint32]model.RemoteMsg) error {
	return fetchMetaSince(c, set, 0, byUID)
}

// fetchMetaSince is fetchMeta of the messages whose modification sequence
// is above since (CHANGEDSINCE; 0: every message).
func fetchMetaSince(c *conn, set imap.UIDSet, since uint64, byUID map[uint32]model.RemoteMsg) error {
	return drainMeta(c.client.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, ChangedSince: since}), byUID)
}

// drainMeta reads the answers of a FETCH of message data into byUID.
func drainMeta(cmd *imapclient.FetchCommand, byUID map[uint32]model.RemoteMsg) error {
	var firstErr error
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if buf != nil && buf.UID != 0 {
			m := byUID[uint32(buf.UID)]
			mergeMeta(&m, buf)
			byUID[m.UID] = m
		}
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	return firstErr
}

// mergeMeta copies what a FETCH response carried into m.
func mergeMeta(m *model.RemoteMsg, buf *imapclient.FetchMessageBuffer) {
	m.UID = uint32(buf.UID)
	if buf.Flags != nil {
		m.Flags = flagsFromIMAP(buf.Flags)
	}
	if buf.RFC822Size != 0 {
		m.Size = buf.RFC822Size
	}
	if !buf.InternalDate.IsZero() {
		m.InternalDate = model.DateOf(buf.InternalDate)
	}
}

func flagsFromIMAP(flags []imap.Flag) model.Flags {
	names := make([]string, len(flags))
	for i, fl := range flags {
		names[i] = string(fl)
	}
	return model.FromIMAP(names)
}

func flagsToIMAP(f model.Flags) []imap.Flag {
	var out []imap.Flag
	for _, n := range f.IMAPNames() {
		out = append(out, imap.Flag(n))
	}
	return out
}

// fetchChunkUIDs bounds the UIDs fetched by one command: after fn fails,
// the rest of the chunk is drained, the later chunks are never asked for.
const fetchChunkUIDs = 512

// maxRangesPerCommand bounds the ranges in one UID set, keeping command
// lines well below server limits (a range is at most 21 bytes).
const maxRangesPerCommand = 200

// Fetch streams the bodies of uids to fn, in ascending UID order, with
// BODY.PEEK[] (fetching never sets \Seen). Each chunk of UIDs costs two
// commands, one after the other: UID FETCH (UID FLAGS RFC822.SIZE
// INTERNALDATE), so that fn gets the message's flags and date whatever
// order the server sends the items in, then UID FETCH (UID BODY.PEEK[]).
// m.Size is the exact length of body. Bodies are streamed: a message is
// never held in memory. After fn returns an error, the rest of the chunk
// is read and discarded (the connection would stall otherwise) and the
// error is returned. UIDs that do not exist are skipped. A misbehaving
// server is survived: a UID it sends twice is handed on once (its first
// body), a body for a UID not asked for is dropped, and a message it lists
// without sending its body, or with an empty body although its
// RFC822.SIZE is not 0, is skipped with a warning naming the folder and
// UIDs (it stays on the server; the caller sees it missing, as if
// expunged, and the next sync asks again). fn must not call the folder's
// methods.
func (f *Folder) Fetch(ctx context.Context, uids []uint32, fn func(m model.RemoteMsg, body io.Reader) error) error {
	for _, chunk := range uidChunks(uids, fetchChunkUIDs, maxRangesPerCommand) {
		if err := f.fetchChunk(ctx, chunk, nil, fn, nil); err != nil {
			return err
		}
	}
	return nil
}

var _ adapters.ListedFetcher = (*Folder)(nil)

// FetchListed implements adapters.ListedFetcher: Fetch without its first
// command (UID FLAGS RFC822.SIZE INTERNALDATE), whose answers the caller
// has from its listing. With 20 ms between client and server, a download
// of a few messages takes 20 ms instead of 40.
func (f *Folder) FetchListed(ctx context.Context, msgs []model.RemoteMsg, fn func(m model.RemoteMsg, body io.Reader) error) error {
	listed, chunks := listedChunks(msgs)
	for _, chunk := range chunks {
		if err := f.fetchChunk(ctx, chunk, listed, fn, nil); err != nil {
			return err
		}
	}
	return nil
}

// listedChunks is msgs by UID, and their UIDs in the sets fetchChunk asks
// for one at a time.
func listedChunks(msgs []model.RemoteMsg) (map[uint32]model.RemoteMsg, []imap.UIDSet) {
	listed := make(map[uint32]model.RemoteMsg, len(msgs))
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		listed[m.UID] = m
		uids[i] = m.UID
	}
	return listed, uidChunks(uids, fetchChunkUIDs, maxRangesPerCommand)
}

// errCallback marks an error returned by the caller's function, so that it
// is returned as it is and does not break the connection.
type errCallback struct{ err error }

func (e *errCallback) Error() string { return e.err.Error() }

// fetchChunk fetches the bodies of set, first asking for the messages'
// flags, size and date unless listed holds them (FetchListed); every UID
// of set is then in listed. With behind, the folder's survey goes right
// behind the bodies' UID FETCH (FetchListedSurveying), its answers read
// after the bodies whatever became of them.
func (f *Folder) fetchChunk(ctx context.Context, set imap.UIDSet, listed map[uint32]model.RemoteMsg, fn func(model.RemoteMsg, io.Reader) error, behind *ownSurvey) error {
	var fnErr error
	command := "UID FETCH " + setLabel(set) + " BODY.PEEK[]"
	if listed == nil {
		command = "UID FETCH " + setLabel(set) + " (UID FLAGS RFC822.SIZE INTERNALDATE), then BODY.PEEK[]"
	}
	if behind != nil {
		command += " + " + behind.logged
	}
	err := f.doRead(ctx, command, func(c *conn) error {
		orphans, expunges := c.orphanBodies.Load(), c.expunges.Load()
		meta := listed
		if meta == nil {
			if err := f.confirm(); err != nil {
				return err
			}
			// The two commands run one after the other, never pipelined:
			// Dovecot runs pipelined FETCHes in parallel and interleaves
			// their responses, and go-imap then hands a body to a command
			// nobody is reading yet, which stalls the connection for good.
			meta = make(map[uint32]model.RemoteMsg)
			if err := fetchMeta(c, set, meta); err != nil {
				return err
			}
			if len(meta) == 0 {
				return nil // none of the UIDs exists
			}
		}

		bodyCmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		if behind != nil {
			read := behind.send(c)
			defer read(nil)
		}
		if err := f.confirm(); err != nil {
			// Read to its end unused: the UIDs may mean other messages.
			_ = bodyCmd.Close()
			return err
		}
		delivered := make(map[uint32]bool)
		answered := make(map[uint32]bool) // a FETCH response carried the UID, body or not
		for msg := bodyCmd.Next(); msg != nil; msg = bodyCmd.Next() {
			var uid uint32
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch item := item.(type) {
				case imapclient.FetchItemDataUID:
					uid = uint32(item.UID)
					answered[uid] = true
				case imapclient.FetchItemDataBodySection:
					// A UID sent twice gets its first body only; a body for
					// a UID nobody asked for is not handed on.
					if item.Literal == nil || uid == 0 || fnErr != nil || delivered[uid] || !set.Contains(imap.UID(uid)) {
						continue // the next msg.Next() discards the literal
					}
					m, ok := meta[uid]
					if !ok {
						m = model.RemoteMsg{UID: uid}
					}
					if item.Literal.Size() == 0 && m.Size > 0 {
						// An empty body for a message of RFC822.SIZE bytes:
						// the server could not render it (imapmemserver does
						// this for a message without a header). Storing it
						// would put an empty file in place of the message.
						continue
					}
					m.Size = item.Literal.Size()
					delivered[uid] = true
					body := &watchedReader{r: item.Literal, dog: c.dog}
					c.dog.disarm() // the caller's time is not the server's
					err := fn(m, body)
					c.dog.arm("")
					if body.err != nil {
						// The connection failed under the literal. go-imap's
						// reader goroutine has resumed; reading the literal
						// again (as draining would) races with it. Give up
						// the connection instead.
						c.markBroken(body.err)
						return fmt.Errorf("UID %d: reading the body: %w", uid, body.err)
					}
					if err != nil {
						fnErr = fmt.Errorf("UID %d: %w", uid, err)
					}
				}
			}
		}
		if err := bodyCmd.Close(); err != nil {
			return err
		}
		if fnErr != nil {
			return &errCallback{fnErr}
		}
		var missing []uint32
		if listed == nil {
			for uid := range meta {
				if !delivered[uid] {
					missing = append(missing, uid)
				}
			}
		} else if nums, ok := set.Nums(); ok {
			for _, uid := range nums {
				if !delivered[uint32(uid)] {
					missing = append(missing, uint32(uid))
				}
			}
		}
		if len(missing) > 0 {
			sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
			if c.orphanBodies.Load() != orphans {
				return fmt.Errorf("the server sent bodies that go-imap could not match to UIDs %v (it sends UID after the body; this server is not supported)", missing)
			}
			// A message the server answered for without its body is the
			// server's fault: say so (it stays on the server and the next
			// sync asks again). One it did not answer for at all was
			// expunged meanwhile, if an EXPUNGE came; or, listed by the
			// caller (FetchListed), before this session selected the
			// folder.
			var noBody, gone []uint32
			for _, uid := range missing {
				if answered[uid] || (listed == nil && c.expunges.Load() == expunges) {
					noBody = append(noBody, uid)
				} else {
					gone = append(gone, uid)
				}
			}
			if len(noBody) > 0 {
				f.store.cfg.Logger.Warn().Str("server", f.store.name).Str("folder", f.name).Uints32("uids", noBody).
					Msg("imap: the server listed these messages but sent no body for them; they are not downloaded this time " +
						"and stay on the server, and the next sync asks again (if this repeats, the server cannot read them: check its logs)")
			}
			if len(gone) > 0 {
				f.store.cfg.Logger.Debug().Str("folder", f.name).Uints32("uids", gone).Msg("imap: expunged on the server before their bodies came; skipped")
			}
		}
		return nil
	})
	var cb *errCallback
	if errors.As(err, &cb) {
		return cb.err
	}
	return err
}

// Append stores a message of exactly size bytes with flags and internal
// date (zero: the server's now) and returns the UID from APPENDUID, or 0
// when the server has no UIDPLUS. A body shorter or longer than size is an
// error and closes the connection (a literal cannot be taken back) before
// the literal's last byte is sent, so that the server stores nothing.
func (f *Folder) Append(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time) (uint32, error) {
	if err := f.refuseReadOnly("APPEND"); err != nil {
		return 0, err
	}
	var uid uint32
	err := f.do(ctx, "APPEND", func(c *conn) error {
		cmd, err := f.sendAppend(c, size, body, flags, date)
		if err != nil {
			return err
		}
		uid, err = appendedUID(cmd)
		return err
	})
	return uid, err
}

// sendAppend writes the APPEND of a message of exactly size bytes, its
// literal whole, and returns the command, not waited for. Errors of the
// body (the local file) are told apart from those of the connection:
// after the first the server surely stored nothing (the literal is left
// incomplete, and the connection goes before the rest of it and the
// command's end are sent: a literal cannot be taken back; when the server
// refused the literal, go-imap closes it too) and the message alone
// failed; after the second it may have stored it, and the error says
// "connection lost" (see conn.run) so that the caller stops the folder
// and looks for the copy before appending again.
func (f *Folder) sendAppend(c *conn, size int64, body io.Reader, flags model.Flags, date time.Time) (*imapclient.AppendCommand, error) {
	cmd := c.client.Append(f.server, size, &imap.AppendOptions{Flags: flagsToIMAP(flags), Time: date})
	if err := copyBody(cmd, body, size); err != nil {
		c.markBroken(err)
		_ = cmd.Close()
		_, _ = cmd.Wait()
		return nil, err
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// appendedUID waits for an APPEND's answer: the UID from APPENDUID, 0
// without one.
func appendedUID(cmd *imapclient.AppendCommand) (uint32, error) {
	data, err := cmd.Wait()
	if err != nil {
		return 0, err
	}
	faultinject.Step(faultinject.Effect, "imap APPEND")
	return uint32(data.UID), nil
}

// copyBody writes exactly size bytes of body to w, the literal of an
// APPEND: all but the last byte, then the last byte only once the body is
// known to end there, so that a body that turns out longer (its file grew
// while it was read) or shorter leaves the literal incomplete, and a
// server stores nothing of an incomplete literal. Errors of the body are
// *bodyError; errors of w are returned as they are.
func copyBody(w io.Writer, body io.Reader, size int64) error {
	src := &trackedReader{r: body}
	head := max(size-1, 0)
	n, err := io.Copy(w, io.LimitReader(src, head))
	if src.err != nil {
		return &bodyError{src.err}
	}
	if err != nil {
		return err
	}
	if n < head {
		return &bodyError{fmt.Errorf("the message body ended after %d of %d bytes", n, size)}
	}
	var tail [2]byte
	k, _ := io.ReadFull(src, tail[:size-head+1])
	switch {
	case int64(k) != size-head && src.err != nil:
		return &bodyError{src.err} // the reader says why (a file that changed)
	case int64(k) > size-head:
		// The reader may know why (a file that changed): ask it.
		var more [1]byte
		if _, err := src.Read(more[:]); src.err != nil && err != nil {
			return &bodyError{src.err}
		}
		return &bodyError{fmt.Errorf("the message body is longer than its size, %d bytes", size)}
	case int64(k) < size-head:
		return &bodyError{fmt.Errorf("the message body ended after %d of %d bytes", n+int64(k), size)}
	}
	_, err = w.Write(tail[:k])
	return err
}

// trackedReader remembers the first error of its reader other than EOF.
type trackedReader struct {
	r   io.Reader
	err error
}

func (t *trackedReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// StoreFlags adds then removes flags on uids, with one UID STORE
// +FLAGS.SILENT and one -FLAGS.SILENT per call (the UIDs as one set, split
// only when it would make an overlong command), sent together:
// StoreFlagChanges. Missing UIDs are ignored by the server. A flag both
// added and removed is an error.
func (f *Folder) StoreFlags(ctx context.Context, uids []uint32, add, remove model.Flags) error {
	return f.StoreFlagChanges(ctx, []adapters.FlagChange{{UIDs: uids, Add: add, Remove: remove}})
}

var _ adapters.FlagBatcher = (*Folder)(nil)

// StoreFlagChanges sends the UID STOREs of every change (as StoreFlags
// makes them) before it reads the first answer, one round trip for all of
// them, except that a store which could undo another's effect (a flag one
// adds and the other removes, on a UID both name) waits for that one to
// end: a server may carry out pipelined UID STOREs in any order (RFC 3501,
// 5.5; Dovecot runs them in parallel), and the changes are meant one after
// the other. A change that adds and removes the same flag is an error, and
// nothing is sent.
func (f *Folder) StoreFlagChanges(ctx context.Context, changes []adapters.FlagChange) error {
	if err := f.refuseReadOnly("UID STORE"); err != nil {
		return err
	}
	names, stores, err := flagStores(changes)
	if err != nil {
		return f.errorf("UID STORE", err)
	}
	if len(stores) == 0 {
		return nil
	}
	return f.do(ctx, strings.Join(names, " + "), func(c *conn) error {
		var errs []error
		for _, wave := range storeWaves(stores) {
			errs = append(errs, finishAll(sendStores(c, wave)))
		}
		return errors.Join(errs...)
	})
}

// flagStore is one UID STORE: flags added or removed on a set of UIDs.
type flagStore struct {
	set   imap.UIDSet
	flags *imap.StoreFlags
	// add and changed say what it does, for storeWaves.
	add     bool
	changed model.Flags
}

// flagStores turns changes into the UID STOREs that carry them out (for
// each change its +FLAGS.SILENT, then its -FLAGS.SILENT, each split into
// sets that make no overlong command) and names them for the log. A change
// that adds and removes the same flag is an error.
func flagStores(changes []adapters.FlagChange) (names []string, stores []flagStore, err error) {
	for _, ch := range changes {
		if ch.Add&ch.Remove != 0 {
			return nil, nil, fmt.Errorf("flags %s are both added and removed", ch.Add&ch.Remove)
		}
		chunks := uidChunks(ch.UIDs, 0, maxRangesPerCommand)
		for _, op := range []struct {
			flags model.Flags
			op    imap.StoreFlagsOp
			name  string
		}{{ch.Add, imap.StoreFlagsAdd, "+FLAGS.SILENT"}, {ch.Remove, imap.StoreFlagsDel, "-FLAGS.SILENT"}} {
			if op.flags == 0 || len(chunks) == 0 {
				continue
			}
			names = append(names, "UID STORE "+op.name+" ("+strings.Join(op.flags.IMAPNames(), " ")+")")
			for _, set := range chunks {
				stores = append(stores, flagStore{set, &imap.StoreFlags{Op: op.op, Silent: true, Flags: flagsToIMAP(op.flags)},
					op.op == imap.StoreFlagsAdd, op.flags})
			}
		}
	}
	return names, stores, nil
}

// sendStores sends stores on c, one after the other without waiting.
func sendStores(c *conn, stores []flagStore) []pipelined {
	cmds := make([]pipelined, len(stores))
	for i, st := range stores {
		cmds[i] = pipelined{c.client.Store(st.set, st.flags, nil), "imap UID STORE"}
	}
	return cmds
}

// storeWaves splits stores, in order, into groups that may be pipelined: a
// store starts a new group when it could undo the effect of one already in
// the current group (it removes a flag that one adds, or adds one it
// removes, on a UID both name), so that it is sent only once that one has
// ended.
func storeWaves(stores []flagStore) [][]flagStore {
	var waves [][]flagStore
	start := 0
	for i := range stores {
		for _, prev := range stores[start:i] {
			if prev.add != stores[i].add && prev.changed&stores[i].changed != 0 && setsMeet(prev.set, stores[i].set) {
				waves = append(waves, stores[start:i])
				start = i
				break
			}
		}
	}
	return append(waves, stores[start:])
}

// setsMeet reports whether two UID sets, each of ranges in ascending
// order without '*' (as uidChunks makes them), have a UID in common.
func setsMeet(a, b imap.UIDSet) bool {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i].Stop < b[j].Start:
			i++
		case b[j].Stop < a[i].Start:
			j++
		default:
			return true
		}
	}
	return false
}

// pipelined is a command sent without waiting for the one before it to
// end, and the fault-injection step its success is.
type pipelined struct {
	cmd  interface{ Close() error }
	step string
}

// finishAll waits for pipelined commands, reports each one that succeeded
// as its step, in order, and returns their errors joined. Each command is
// drained by a goroutine of its own: go-imap's reader hands a FETCH
// response to the pending command whose UID set holds it (a UID STORE gets
// one for every message once CONDSTORE is on, silent or not: its new
// MODSEQ), and an EXPUNGE response to the pending expunge, and waits until
// that command takes it. Commands waited for one after the other deadlock
// as soon as the server answers a later one before an earlier one ends,
// which Dovecot does: it runs pipelined commands in parallel. Neither the
// watchdog nor closing the connection ends that wait.
func finishAll(cmds []pipelined) error {
	return errors.Join(finishEach(cmds)...)
}

// finishEach is finishAll returning each command's error.
func finishEach(cmds []pipelined) []error {
	errs := make([]error, len(cmds))
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.cmd.Close()
		}()
	}
	wg.Wait()
	for i, c := range cmds {
		if errs[i] == nil {
			faultinject.Step(faultinject.Effect, c.step)
		}
	}
	return errs
}

// Expunge removes uids: UID STORE +FLAGS.SILENT (\Deleted), then, once the
// stores have ended, UID EXPUNGE of the same sets under UIDPLUS (of each
// set whose store succeeded). Without UIDPLUS it sends EXPUNGE, which also
// removes any other message already marked \Deleted in the folder (as
// OfflineIMAP does). The stores are pipelined, and so are the expunges,
// but no expunge is sent before the stores end: its effect depends on
// theirs, and a server may carry out pipelined commands in any order unless
// it sees the dependency (RFC 3501, 5.5). Dovecot did not: with the
// expunges sent right behind the stores, an expunge of 486 messages in a
// folder of 100,000 left 201 of them marked \Deleted and not expunged, and
// the next sync downloaded them again. Nor for one message: tried on
// 2026-11-28 for expunges of at most 100, the concurrency test's other
// sessions changing the folder meanwhile made Dovecot run a one-message
// UID EXPUNGE before its mark, and their EXPUNGE responses, which go-imap
// hands to whichever expunge is pending, most likely counted as its own,
// so that the message looked expunged and was downloaded again. The
// stores' errors and the expunges' are returned joined; with none, an
// error naming the messages asked for that the server kept, found by a UID
// SEARCH once the expunges are answered (expungeMarked).
func (f *Folder) Expunge(ctx context.Context, uids []uint32) error {
	return f.StoreFlagsAndExpunge(ctx, nil, uids)
}

var _ adapters.FlagExpunger = (*Folder)(nil)

// StoreFlagsAndExpunge implements adapters.FlagExpunger: Expunge, with the
// UID STOREs of changes (as StoreFlagChanges sends them) pipelined with
// its own \Deleted marks, so that both take one round trip; the expunges
// follow once all of them have ended.
func (f *Folder) StoreFlagsAndExpunge(ctx context.Context, changes []adapters.FlagChange, uids []uint32) error {
	if len(uids) == 0 {
		return f.StoreFlagChanges(ctx, changes)
	}
	x, err := f.expungeRequest(changes, uids)
	if err != nil {
		return err
	}
	return f.do(ctx, x.command, func(c *conn) error {
		errs, marked := x.mark(c)
		return expungeMarked(c, errs, marked, x.byUID)
	})
}

// expungeRequest is an expunge of uids with the flag stores of changes
// (StoreFlagsAndExpunge's), ready to send.
type expungeRequest struct {
	command   string      // as logged
	stores    []flagStore // the changes', then the \Deleted marks
	firstMark int         // the first of the marks in stores
	byUID     bool        // UID EXPUNGE (UIDPLUS), else EXPUNGE
}

// expungeRequest refuses what StoreFlagsAndExpunge must not send: a
// read-only folder, a change that adds and removes the same flag.
func (f *Folder) expungeRequest(changes []adapters.FlagChange, uids []uint32) (expungeRequest, error) {
	if err := f.refuseReadOnly("UID EXPUNGE"); err != nil {
		return expungeRequest{}, err
	}
	names, stores, err := flagStores(changes)
	if err != nil {
		return expungeRequest{}, f.errorf("UID STORE", err)
	}
	_, marks, _ := flagStores([]adapters.FlagChange{{UIDs: uids, Add: model.Deleted}})
	x := expungeRequest{stores: append(stores, marks...), firstMark: len(stores),
		byUID: f.store.has(imap.CapUIDPlus) || f.store.has(imap.CapIMAP4rev2)}
	x.command = "UID STORE +FLAGS.SILENT (\\Deleted), then UID EXPUNGE"
	if !x.byUID {
		x.command = "UID STORE +FLAGS.SILENT (\\Deleted), then EXPUNGE"
	}
	if len(names) > 0 {
		x.command = strings.Join(names, " + ") + " + " + x.command
	}
	return x, nil
}

// mark sends the stores, wave after wave (storeWaves), and waits for them:
// it returns their errors and the sets of the marks that succeeded.
func (x expungeRequest) mark(c *conn) (errs []error, marked []imap.UIDSet) {
	sent := 0
	for _, wave := range storeWaves(x.stores) {
		for i, err := range finishEach(sendStores(c, wave)) {
			n := sent + i
			switch {
			case err != nil:
				errs = append(errs, err)
			case n >= x.firstMark:
				marked = append(marked, x.stores[n].set)
			}
		}
		sent += len(wave)
	}
	return errs, marked
}

// expungeMarked expunges the sets marked \Deleted once every store has
// ended (storeErrs are the stores' errors): UID EXPUNGE of each set,
// pipelined, with byUID (UIDPLUS), else one EXPUNGE. It returns the stores'
// and the expunges' errors joined; with none, an error naming the messages
// of the sets the server kept, which it asks with a UID SEARCH
// (keptAfterExpunge): recorded as expunged, they would be downloaded again
// by the next sync. The count of messages the answer reports expunged
// cannot tell: its EXPUNGE responses name sequence numbers, and other
// sessions' expunges are reported in the same answer, so that a message
// another client unmarked meanwhile would pass for expunged.
func expungeMarked(c *conn, storeErrs []error, marked []imap.UIDSet, byUID bool) error {
	if _, err := expungeSettling(c, storeErrs, marked, byUID, 0)(); err != nil {
		return err
	}
	return keptAfterExpunge(c, marked)
}

// expungeSettling sends the expunges of the sets marked (sendExpunges) and
// returns the reading of their answers: whether at least want messages
// were reported expunged, and the stores' errors (storeErrs) and the
// expunges' joined. The count is no proof that the messages expunged were
// those asked for (other sessions' expunges are counted too): which the
// server kept is for the caller to find out (expungeMarked asks,
// expungeSurveyed reads the survey behind).
func expungeSettling(c *conn, storeErrs []error, marked []imap.UIDSet, byUID bool, want int) func() (counted bool, err error) {
	var reported atomic.Int64
	expunges := sendExpunges(c, marked, byUID, &reported)
	return func() (bool, error) {
		if err := finishAll(expunges); err != nil || len(storeErrs) > 0 {
			return false, errors.Join(append(storeErrs, err)...)
		}
		return reported.Load() >= int64(want), nil
	}
}

// sendExpunges sends the expunges of the sets marked (UID EXPUNGE of each
// with byUID, else one EXPUNGE; none without a set), each adding the
// messages the server reports expunged to reported as it ends.
func sendExpunges(c *conn, marked []imap.UIDSet, byUID bool, reported *atomic.Int64) []pipelined {
	var expunges []pipelined
	switch {
	case len(marked) == 0:
	case byUID:
		for _, set := range marked {
			expunges = append(expunges, pipelined{countedExpunge{c.client.UIDExpunge(set), reported}, "imap UID EXPUNGE"})
		}
	default:
		expunges = append(expunges, pipelined{countedExpunge{c.client.Expunge(), reported}, "imap EXPUNGE"})
	}
	return expunges
}

// countedExpunge is a pipelined expunge that counts the messages the
// server reports expunged while it runs.
type countedExpunge struct {
	cmd *imapclient.ExpungeCommand
	n   *atomic.Int64
}

func (e countedExpunge) Close() error {
	seqs, err := e.cmd.Collect()
	e.n.Add(int64(len(seqs)))
	return err
}

// keptAfterExpunge asks the server which UIDs of sets are still there (a
// UID SEARCH of each set, pipelined), and returns an error naming them, or
// nil when none is.
func keptAfterExpunge(c *conn, sets []imap.UIDSet) error {
	searches := make([]*imapclient.SearchCommand, len(sets))
	for i, set := range sets {
		searches[i] = c.client.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil)
	}
	var kept []imap.UID
	var errs []error
	for _, cmd := range searches {
		data, err := cmd.Wait()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kept = append(kept, data.AllUIDs()...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("checking what the expunge removed: %w", err)
	}
	return keptError(kept)
}

// keptError names the messages an expunge left on the server; nil when
// there are none.
func keptError(kept []imap.UID) error {
	if len(kept) == 0 {
		return nil
	}
	var s imap.UIDSet
	s.AddNum(kept...)
	return fmt.Errorf("the server answered the expunge but kept %d of the messages (UIDs %s); they stay recorded, and the next sync expunges them again", len(kept), s)
}

// FindByIdentity returns the UIDs at or above minUID whose size is size and
// whose Message-ID equals messageID ("" matches any), ascending. It asks the
// server with UID SEARCH UID minUID:* LARGER size-1 SMALLER size+1 (HEADER
// Message-ID), then checks each hit's size and Message-ID exactly: SEARCH
// HEADER matches substrings.
func (f *Folder) FindByIdentity(ctx context.Context, minUID uint32, size int64, messageID string) ([]uint32, error) {
	if minUID == 0 {
		minUID = 1
	}
	criteria := &imap.SearchCriteria{
		UID:     []imap.UIDSet{{imap.UIDRange{Start: imap.UID(minUID), Stop: 0}}},
		Larger:  size - 1,
		Smaller: size + 1,
	}
	if messageID != "" {
		criteria.Header = []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: messageID}}
	}
	var hits []uint32
	err := f.do(ctx, "UID SEARCH", func(c *conn) error {
		data, err := c.client.UIDSearch(criteria, nil).Wait()
		if err != nil {
			if mb := c.client.Mailbox(); isServerRefusal(err) && mb != nil && mb.NumMessages == 0 {
				return nil // a server refusing "n:*" in an empty folder
			}
			return err
		}
		for _, uid := range data.AllUIDs() {
			if uint32(uid) >= minUID {
				hits = append(hits, uint32(uid))
			}
		}
		return nil
	})
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i] < hits[j] })

	// Check each hit exactly.
	var set imap.UIDSet
	for _, uid := range hits {
		set.AddNum(imap.UID(uid))
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	var found []uint32
	err = f.do(ctx, "UID FETCH (RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", func(c *conn) error {
		opts := &imap.FetchOptions{UID: true, RFC822Size: true}
		if messageID != "" {
			opts.BodySection = []*imap.FetchItemBodySection{section}
		}
		cmd := c.client.Fetch(set, opts)
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				_ = cmd.Close()
				return err
			}
			if buf.UID == 0 || buf.RFC822Size != size {
				continue
			}
			if messageID != "" && !sameMessageID(headerValue(buf.FindBodySection(section), "Message-ID"), messageID) {
				continue
			}
			found = append(found, uint32(buf.UID))
		}
		return cmd.Close()
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(found, func(i, j int) bool { return found[i] < found[j] })
	return found, nil
}

// Move moves uids into dest with UID MOVE (or UID COPY, STORE \Deleted
// and UID EXPUNGE on a server without MOVE) and reads the new UIDs from
// the COPYUID response code. Without UIDPLUS it moves nothing: the new
// UIDs could not be known, and the fallback would EXPUNGE every message
// marked \Deleted.
func (f *Folder) Move(ctx context.Context, uids []uint32, dest string) (map[uint32]uint32, uint32, error) {
	if err := f.refuseReadOnly("UID MOVE"); err != nil {
		return nil, 0, err
	}
	if !f.store.has(imap.CapUIDPlus) && !f.store.has(imap.CapIMAP4rev2) {
		return nil, 0, fmt.Errorf("%s: move to %q: %w (no UIDPLUS)", f.store.name, dest, adapters.ErrUnsupported)
	}
	// Opening the folder asked for the delimiter first (openThen).
	delim, _ := f.store.KnownDelimiter()
	server, err := toServerName(dest, delim)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: MOVE: %w", f.store.name, err)
	}
	moved := map[uint32]uint32{}
	var validity uint32
	for _, set := range uidChunks(uids, 0, maxRangesPerCommand) {
		err := f.do(ctx, "UID MOVE", func(c *conn) error {
			data, err := c.client.Move(set, server).Wait()
			if err != nil {
				return err
			}
			if data.SourceUIDs == nil || data.DestUIDs == nil {
				return fmt.Errorf("the server moved the messages but did not report their new UIDs (COPYUID)")
			}
			src, ok1 := data.SourceUIDs.(imap.UIDSet)
			dst, ok2 := data.DestUIDs.(imap.UIDSet)
			from, ok3 := src.Nums()
			to, ok4 := dst.Nums()
			if !ok1 || !ok2 || !ok3 || !ok4 || len(from) != len(to) {
				return fmt.Errorf("the server reported a COPYUID that does not pair UIDs: %v %v", data.SourceUIDs, data.DestUIDs)
			}
			for i := range from {
				moved[uint32(from[i])] = uint32(to[i])
			}
			validity = data.UIDValidity
			return nil
		})
		if err != nil {
			return moved, validity, err
		}
		faultinject.Step(faultinject.Effect, "imap UID MOVE")
	}
	return moved, validity, nil
}

// MessageIDs fetches the Message-ID header of uids (FetchHeaderFields), in
// commands of at most messageIDBatch UIDs.
func (f *Folder) MessageIDs(ctx context.Context, uids []uint32) (map[uint32]string, error) {
	out := make(map[uint32]string, len(uids))
	for start := 0; start < len(uids); start += messageIDBatch {
		end := min(start+messageIDBatch, len(uids))
		err := f.FetchHeaderFields(ctx, uids[start:end], []string{"Message-ID"}, func(uid uint32, header []byte) error {
			out[uid] = adapters.TrimMessageID(headerValue(header, "Message-ID"))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// messageIDBatch bounds the UIDs of one MessageIDs FETCH.
const messageIDBatch = 2000

// headerValue returns the first value of header name in a header block,
// unfolded and trimmed.
func headerValue(block []byte, name string) string {
	r := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(block), strings.NewReader("\r\n\r\n"))))
	h, _ := r.ReadMIMEHeader()
	return strings.TrimSpace(h.Get(name))
}

// sameMessageID compares two Message-IDs, ignoring surrounding white space
// and angle brackets.
func sameMessageID(a, b string) bool {
	return a != "" && adapters.TrimMessageID(a) == adapters.TrimMessageID(b)
}

// unselectUnawaited sends UNSELECT on c, which expunges nothing, when the
// server has it. Sent, not waited for: the connection's next command (a
// SELECT, usually) follows it on the wire, and the server answers them in
// order. A lost connection shows in that next command; a refused UNSELECT
// leaves the folder selected until the next SELECT replaces it, as
// before. One round trip less per folder.
func (s *Store) unselectUnawaited(c *conn) {
	if s.has(imap.CapUnselect) || s.has(imap.CapIMAP4rev2) {
		c.client.Unselect()
		c.debugCommand("UNSELECT (answer not awaited)", 0, nil)
	}
}

// Close unselects the folder (unselectUnawaited) and returns the
// connection to the pool.
func (f *Folder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	c := f.conn
	if c.leaving == nil && c.broken == nil && !f.unsent {
		f.store.unselectUnawaited(c)
	}
	f.store.mu.Lock()
	delete(f.store.folders, f)
	f.store.mu.Unlock()
	f.store.release(c)
	return nil
}
