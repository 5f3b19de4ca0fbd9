package imap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/model"
)

var _ adapters.SurveyingStorer = (*Folder)(nil)

// StoreFlagChangesSurveying implements adapters.SurveyingStorer: the UID
// STOREs of changes (as StoreFlagChanges sends them; a wave that must wait
// for an earlier one still waits), then, written before their answers are
// read, the survey's EXAMINE (CONDSTORE), UID SEARCH ALL and UID FETCH …
// (CHANGEDSINCE since) of the folder itself (SurveyChanges' commands), and
// with leave the LOGOUT. The server carries out the EXAMINE only once the
// stores have ended (RFC 3501, 5.5: it changes the selected folder), so
// the survey sees their effect; a server that did not would show the
// flags unchanged, which the check after the sync takes for work left,
// never for a folder in step. The folder is then examined, read-only, or
// logged out: it refuses every command after this one, and Close leaves
// it as usual. Without CONDSTORE only the stores go, and the survey's
// error wraps adapters.ErrUnsupported.
func (f *Folder) StoreFlagChangesSurveying(ctx context.Context, changes []adapters.FlagChange, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	if !f.store.hasCondStore() {
		return noSurvey(f.store), f.StoreFlagChanges(ctx, changes)
	}
	if err := f.refuseReadOnly("UID STORE"); err != nil {
		return adapters.ChangeSurvey{Err: err}, err
	}
	names, stores, err := flagStores(changes)
	if err != nil {
		err = f.errorf("UID STORE", err)
		return adapters.ChangeSurvey{Err: err}, err
	}
	return f.surveyBehind(ctx, strings.Join(names, " + "), since, leave, func(c *conn) func(*folderAnswer) error {
		waves := storeWaves(stores)
		var errs []error
		for _, wave := range waves[:len(waves)-1] {
			errs = append(errs, finishAll(sendStores(c, wave)))
		}
		sent := sendStores(c, waves[len(waves)-1]) // written before the survey, here
		last := readingAtOnce(func() error { return finishAll(sent) })
		return func(*folderAnswer) error {
			return errors.Join(append(errs, last())...)
		}
	})
}

var _ adapters.SurveyingExpunger = (*Folder)(nil)

// StoreFlagsAndExpungeSurveying implements adapters.SurveyingExpunger:
// StoreFlagsAndExpunge, its expunges (sent once its stores have ended, as
// there) with the folder's survey written behind them as
// StoreFlagChangesSurveying writes it; the server carries out the EXAMINE
// once the expunges have ended. When the server reports fewer messages
// expunged than asked, the survey's UID SEARCH names the ones it kept
// (StoreFlagsAndExpunge asks with a UID SEARCH of its own).
func (f *Folder) StoreFlagsAndExpungeSurveying(ctx context.Context, changes []adapters.FlagChange, uids []uint32, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	if len(uids) == 0 {
		return f.StoreFlagChangesSurveying(ctx, changes, since, leave)
	}
	if !f.store.hasCondStore() {
		return noSurvey(f.store), f.StoreFlagsAndExpunge(ctx, changes, uids)
	}
	x, err := f.expungeRequest(changes, uids)
	if err != nil {
		return adapters.ChangeSurvey{Err: err}, err
	}
	return f.surveyBehind(ctx, x.command, since, leave, func(c *conn) func(*folderAnswer) error {
		errs, marked := x.mark(c)
		return expungeSurveyed(c, errs, marked, x.byUID, len(uids))
	})
}

// expungeSurveyed sends the expunges of the sets marked (expungeSettling)
// and returns the reading of their answers once the survey written behind
// them is answered: the stores' errors (storeErrs) and the expunges'
// joined; with none, an error naming the messages of the sets that the
// survey's UID SEARCH shows kept (a: the survey's answer for the folder,
// nil when it did not come), whatever the count of messages reported
// expunged, which other sessions' expunges swell (expungeMarked). Only
// when the survey did not list the folder is the count all there is: at
// least want messages reported expunged are taken for the expunge's,
// fewer are an error.
func expungeSurveyed(c *conn, storeErrs []error, marked []imap.UIDSet, byUID bool, want int) func(a *folderAnswer) error {
	type settled struct {
		counted bool
		err     error
	}
	settle := expungeSettling(c, storeErrs, marked, byUID, want)
	expunged := readingAtOnce(func() settled {
		counted, err := settle()
		return settled{counted, err}
	})
	return func(a *folderAnswer) error {
		s := expunged()
		counted, err := s.counted, s.err
		switch {
		case err != nil:
			return err
		case a == nil || a.selErr != nil || a.listErr != nil:
			if counted {
				return nil
			}
			return errors.New("the server reported fewer messages expunged than asked, and the survey behind the expunge did not list the folder to tell which it kept")
		}
		var kept []imap.UID
		for _, uid := range a.uids {
			for _, set := range marked {
				if set.Contains(imap.UID(uid)) {
					kept = append(kept, imap.UID(uid))
					break
				}
			}
		}
		return keptError(kept)
	}
}

// readingAtOnce starts read, the reading of the answers of commands that a
// survey is written behind, on a goroutine of its own, and returns the
// wait for its result. They must be read while the survey's answers are,
// not after: go-imap's reader hands each untagged response to the channel
// of the command it belongs to (128 EXPUNGE or FETCH responses buffered)
// and waits while that is full, so that a long answer left unread until
// the survey's had been read stopped the reader before it reached them,
// and the connection hung: an expunge of more than 128 messages, or flag
// stores over as many, which Dovecot answers with a FETCH (MODSEQ) for
// each message once CONDSTORE is on, .SILENT or not
// (testSurveyBehindManyAnswers). read only reads: its commands are written
// before it starts, ahead of the survey on the wire (a store written after
// the survey's EXAMINE meets the folder examined read-only, which Dovecot
// answers with OK, changing nothing).
func readingAtOnce[T any](read func() T) (wait func() T) {
	done := make(chan T, 1)
	go func() { done <- read() }()
	return func() T { return <-done }
}

// noSurvey is the survey of a folder on a server without modification
// sequences.
func noSurvey(s *Store) adapters.ChangeSurvey {
	return adapters.ChangeSurvey{Err: fmt.Errorf("%s: the server keeps no modification sequences (CONDSTORE): %w", s.name, adapters.ErrUnsupported)}
}

// surveyBehind runs one exchange on the folder's connection: send writes
// the folder's own commands (waiting for those that must be answered
// before the last ones go) and returns finish; the folder's survey
// (ownSurvey) is written right behind them, before any of their answers
// is read. finish then reads the answers of the folder's commands and
// returns their error; it is given the survey's answer for the folder
// (nil when the connection was lost before it).
func (f *Folder) surveyBehind(ctx context.Context, command string, since uint64, leave bool, send func(c *conn) (finish func(*folderAnswer) error)) (adapters.ChangeSurvey, error) {
	o := f.newOwnSurvey(since, leave)
	runErr := f.do(ctx, command+" + "+o.logged, func(c *conn) error {
		finish := send(c)
		return o.send(c)(finish)
	})
	sv, got, ownErr := o.result(runErr)
	if !got {
		// Nothing was sent, or the connection was lost before the
		// folder's commands were answered: whether they were carried out
		// is not known, as with the commands alone.
		return sv, runErr
	}
	if ownErr != nil {
		return sv, f.errorf(command, ownErr)
	}
	return sv, nil
}

// ownSurvey is a folder's survey of its changes since a HIGHESTMODSEQ
// (SurveyChanges' commands), written on its connection behind its last
// commands. The folder takes no command after it; with leave the Remote's
// idle connections log out meanwhile, and the folder's own logs out once
// the answers are read (logOutBehind).
type ownSurvey struct {
	f      *Folder
	reqs   []adapters.ChangeRequest
	logged string // the survey's commands, as logged
	leave  bool
	// The answers go through a channel: a run the watchdog ends may leave
	// its function behind, still reading (conn.waitCommand).
	answered chan ownAnswer
}

// ownAnswer is what the reading of an ownSurvey's answers found.
type ownAnswer struct {
	folders []folderAnswer
	ownErr  error // the folder's own commands' (send's check)
	lost    error // what lost the connection
}

func (f *Folder) newOwnSurvey(since uint64, leave bool) *ownSurvey {
	if leave {
		f.store.leaveIdle(0)
	}
	return &ownSurvey{f: f, reqs: []adapters.ChangeRequest{{Name: f.name, Since: since}},
		logged: surveyCommand([]string{f.name}), leave: leave, answered: make(chan ownAnswer, 1)}
}

// send writes the survey on c and returns the reading of its answers,
// which returns the error that lost the connection; it calls check
// (unless nil) with the folder's answer (nil when the connection was lost
// before it) once they are read, for the folder's own error.
func (o *ownSurvey) send(c *conn) (read func(check func(*folderAnswer) error) error) {
	wait := sendSurvey(c, []string{o.f.server}, o.reqs)
	return func(check func(*folderAnswer) error) error {
		folders, lost := wait()
		var own *folderAnswer
		if lost == nil {
			own = &folders[0]
		}
		var ownErr error
		if check != nil {
			ownErr = check(own)
		}
		o.answered <- ownAnswer{folders, ownErr, lost}
		return lost
	}
}

// result is the survey once the run that sent it has ended with runErr;
// answered reports whether its answers were read, and ownErr is then
// send's check's. It closes a connection lost, with leave logs out of one
// that is not (logOutBehind), and refuses the folder every command from
// now on.
func (o *ownSurvey) result(runErr error) (sv adapters.ChangeSurvey, answered bool, ownErr error) {
	var a ownAnswer
	select {
	case a = <-o.answered:
		answered = true
	default:
	}
	f := o.f
	f.mu.Lock()
	switch {
	case a.lost != nil:
		f.conn.markBroken(a.lost)
	case o.leave:
		f.store.logOutBehind(f.conn)
	}
	if f.refused == nil { // a refusal already there (another UIDVALIDITY) says more
		f.refused = errors.New("the folder was surveyed after its last use (its connection examines it, or logged out): it takes no more commands")
	}
	f.mu.Unlock()
	out := []adapters.ChangeSurvey{{}}
	f.store.surveyed(o.reqs, a.folders, runErr, o.logged, out)
	return out[0], answered, a.ownErr
}

var _ adapters.SurveyingFetcher = (*Folder)(nil)

// FetchListedSurveying implements adapters.SurveyingFetcher: FetchListed,
// with the folder's survey (ownSurvey) written right behind the UID FETCH
// of its last chunk, before the bodies are read; the server carries out
// the EXAMINE once the fetch has ended, and its answers are read after
// the bodies. Without CONDSTORE only the bodies are fetched.
func (f *Folder) FetchListedSurveying(ctx context.Context, msgs []model.RemoteMsg, fn func(m model.RemoteMsg, body io.Reader) error, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	if !f.store.hasCondStore() || len(msgs) == 0 {
		return noSurvey(f.store), f.FetchListed(ctx, msgs, fn)
	}
	listed, chunks := listedChunks(msgs)
	for _, chunk := range chunks[:len(chunks)-1] {
		if err := f.fetchChunk(ctx, chunk, listed, fn, nil); err != nil {
			return adapters.ChangeSurvey{Err: err}, err
		}
	}
	o := f.newOwnSurvey(since, leave)
	err := f.fetchChunk(ctx, chunks[len(chunks)-1], listed, fn, o)
	sv, _, _ := o.result(err)
	return sv, err
}

var _ adapters.SurveyingAppender = (*Folder)(nil)

// AppendSurveying implements adapters.SurveyingAppender: Append, with the
// folder's survey (ownSurvey) written right behind the APPEND's literal,
// before its answer is read; the server carries out the EXAMINE once the
// APPEND has ended, so the survey lists the new message. A body that is
// not its size ends the connection as in Append, and nothing more is
// sent. Without UIDPLUS (the new message's UID would have to be looked
// for in the folder afterwards) or CONDSTORE it is Append alone.
func (f *Folder) AppendSurveying(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time, since uint64, leave bool) (uint32, adapters.ChangeSurvey, error) {
	if !f.store.hasCondStore() || !f.store.has(imap.CapUIDPlus) {
		uid, err := f.Append(ctx, size, body, flags, date)
		sv := noSurvey(f.store)
		if f.store.hasCondStore() {
			sv = adapters.ChangeSurvey{Err: fmt.Errorf("%s: the server names no UID for an appended message (UIDPLUS): %w", f.store.name, adapters.ErrUnsupported)}
		}
		return uid, sv, err
	}
	if err := f.refuseReadOnly("APPEND"); err != nil {
		return 0, adapters.ChangeSurvey{Err: err}, err
	}
	var uid uint32
	o := f.newOwnSurvey(since, leave)
	runErr := f.do(ctx, "APPEND + "+o.logged, func(c *conn) error {
		cmd, err := f.sendAppend(c, size, body, flags, date)
		if err != nil {
			return err // a body that failed: the survey is not sent
		}
		return o.send(c)(func(*folderAnswer) error {
			var err error
			uid, err = appendedUID(cmd)
			return err
		})
	})
	sv, got, ownErr := o.result(runErr)
	switch {
	case got && ownErr == nil:
		return uid, sv, nil // stored, whatever became of the survey
	case runErr != nil:
		// Nothing was sent, the body failed, or the connection was lost
		// before the APPEND was answered (the copy may be on the server):
		// as with Append alone.
		return 0, sv, runErr
	}
	return 0, sv, f.errorf("APPEND", ownErr) // the server refused it
}
