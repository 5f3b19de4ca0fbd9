package imap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
	var sv adapters.ChangeSurvey
	if !f.store.hasCondStore() {
		sv.Err = fmt.Errorf("%s: the server keeps no modification sequences (CONDSTORE): %w", f.store.name, adapters.ErrUnsupported)
		return sv, f.StoreFlagChanges(ctx, changes)
	}
	if err := f.refuseReadOnly("UID STORE"); err != nil {
		sv.Err = err
		return sv, err
	}
	names, stores, err := flagStores(changes)
	if err != nil {
		err = f.errorf("UID STORE", err)
		sv.Err = err
		return sv, err
	}
	if leave {
		f.store.leaveIdle(0)
	}
	reqs := []adapters.ChangeRequest{{Name: f.name, Since: since}}
	survey := surveyCommand([]string{f.name})
	if leave {
		survey += ", + LOGOUT"
	}
	command := strings.Join(append(names, survey), " + ")
	// The answers go through a channel: a run the watchdog ends may leave
	// its function behind, still reading (conn.waitCommand).
	type answer struct {
		folders   []folderAnswer
		storeErr  error
		loggedOut bool
	}
	answered := make(chan answer, 1)
	runErr := f.do(ctx, command, func(c *conn) error {
		waves := storeWaves(stores)
		var storeErrs []error
		for _, wave := range waves[:len(waves)-1] {
			storeErrs = append(storeErrs, finishAll(sendStores(c, wave)))
		}
		last := sendStores(c, waves[len(waves)-1])
		wait, logout := sendSurvey(c, []string{f.server}, reqs, leave)
		storeErrs = append(storeErrs, finishAll(last))
		folders, lost := wait()
		if lost == nil && logout != nil {
			awaitLogout(c, logout)
		}
		answered <- answer{folders, errors.Join(storeErrs...), lost == nil && logout != nil}
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
	sv = out[0]
	if !got {
		// Nothing was sent, or the connection was lost before every
		// store was answered: whether they were made is not known, as
		// with StoreFlagChanges.
		return sv, runErr
	}
	if a.storeErr != nil {
		return sv, f.errorf(strings.Join(names, " + "), a.storeErr)
	}
	return sv, nil
}

// awaitLogout reads the answer to a LOGOUT written behind other commands
// and logs it as a command of its own.
func awaitLogout(c *conn, logout *imapclient.Command) {
	start := time.Now()
	err := logout.Wait()
	c.debugCommand("LOGOUT", time.Since(start), err)
}
