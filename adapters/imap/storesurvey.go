package imap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters"
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
		last := sendStores(c, waves[len(waves)-1])
		return func(*folderAnswer) error {
			return errors.Join(append(errs, finishAll(last))...)
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
		var reported atomic.Int64
		expunges := sendExpunges(c, marked, x.byUID, &reported)
		return func(a *folderAnswer) error {
			if err := finishAll(expunges); err != nil || len(errs) > 0 {
				return errors.Join(append(errs, err)...)
			}
			if reported.Load() >= int64(len(uids)) {
				return nil
			}
			if a == nil || a.selErr != nil || a.listErr != nil {
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
	})
}

// noSurvey is the survey of a folder on a server without modification
// sequences.
func noSurvey(s *Store) adapters.ChangeSurvey {
	return adapters.ChangeSurvey{Err: fmt.Errorf("%s: the server keeps no modification sequences (CONDSTORE): %w", s.name, adapters.ErrUnsupported)}
}

// surveyBehind runs one exchange on the folder's connection: send writes
// the folder's own commands (waiting for those that must be answered
// before the last ones go) and returns finish; the folder's survey of
// its changes since since (SurveyChanges' commands), and with leave the
// LOGOUT, are written right behind them, before any of their answers is
// read. finish then reads the answers of the folder's commands and
// returns their error; it is given the survey's answer for the folder
// (nil when the connection was lost before it). The folder takes no
// command after it; with leave, the Remote's idle connections log out
// meanwhile and the folder's own is closed once its LOGOUT is answered.
func (f *Folder) surveyBehind(ctx context.Context, command string, since uint64, leave bool, send func(c *conn) (finish func(*folderAnswer) error)) (adapters.ChangeSurvey, error) {
	if leave {
		f.store.leaveIdle(0)
	}
	reqs := []adapters.ChangeRequest{{Name: f.name, Since: since}}
	survey := surveyCommand([]string{f.name})
	if leave {
		survey += ", + LOGOUT"
	}
	// The answers go through a channel: a run the watchdog ends may leave
	// its function behind, still reading (conn.waitCommand).
	type answer struct {
		folders   []folderAnswer
		ownErr    error
		loggedOut bool
	}
	answered := make(chan answer, 1)
	runErr := f.do(ctx, command+" + "+survey, func(c *conn) error {
		finish := send(c)
		wait, logout := sendSurvey(c, []string{f.server}, reqs, leave)
		folders, lost := wait()
		var own *folderAnswer
		if lost == nil {
			own = &folders[0]
		}
		ownErr := finish(own)
		if lost == nil && logout != nil {
			awaitLogout(c, logout)
		}
		answered <- answer{folders, ownErr, lost == nil && logout != nil}
		return lost
	})
	var a answer
	got := false
	select {
	case a = <-answered:
		got = true
	default:
	}
	f.mu.Lock()
	if a.loggedOut && f.conn.broken == nil {
		f.conn.markBroken(errLoggedOut) // answered (or refused): closed without another
	}
	f.refused = errors.New("the folder was surveyed after its last change (its connection examines it, or logged out): it takes no more commands")
	f.mu.Unlock()
	out := []adapters.ChangeSurvey{{}}
	f.store.surveyed(reqs, a.folders, runErr, survey, out)
	if !got {
		// Nothing was sent, or the connection was lost before the
		// folder's commands were answered: whether they were carried out
		// is not known, as with the commands alone.
		return out[0], runErr
	}
	if a.ownErr != nil {
		return out[0], f.errorf(command, a.ownErr)
	}
	return out[0], nil
}

// awaitLogout reads the answer to a LOGOUT written behind other commands
// and logs it as a command of its own.
func awaitLogout(c *conn, logout *imapclient.Command) {
	start := time.Now()
	err := logout.Wait()
	c.debugCommand("LOGOUT", time.Since(start), err)
}
