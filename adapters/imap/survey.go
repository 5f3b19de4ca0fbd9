package imap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters"
	"mailtrail/model"
)

var _ adapters.ChangeSurveyor = (*Store)(nil)

// surveyMost bounds the folders one connection surveys in one go (its
// commands written before the first answer is read).
const surveyMost = 64

// SurveyChanges implements adapters.ChangeSurveyor. The folders are shared
// out among the connections open and idle (one at least, MaxConnections at
// most; none is opened for it while one is idle); on each, every folder's
// EXAMINE (CONDSTORE) and ListChanges' two commands are written one
// folder after the other before any answer is read, and the answers are
// then read in the same order: one round trip for them all, where
// OpenWithChanges takes one per folder. A server carries out a SELECT or
// EXAMINE only after the commands before it, and the ones after it only
// once it is done (RFC 3501, 5.5: their meaning depends on it), so every
// answer belongs to the folder whose commands it follows, which is also
// how go-imap hands them out (to the first command pending of the kind).
// A folder that does not exist, or that the server refuses to examine,
// leaves no folder examined (RFC 3501, 6.3.2): the listing behind it is
// refused, and the next folder's EXAMINE starts afresh. The connection is
// left with UNSELECT, not waited for, as Folder.Close leaves it.
func (s *Store) SurveyChanges(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	return s.surveyChanges(ctx, reqs, false)
}

var _ adapters.LastSurveyor = (*Store)(nil)

// SurveyChangesLast implements adapters.LastSurveyor: SurveyChanges with
// each connection logged out once its share of the answers is read
// (logOutBehind: in the background, Close waits for it), and the idle
// connections the survey leaves unused logged out meanwhile; with no
// requests, every idle connection logs out. A later need of the store
// opens a connection again.
func (s *Store) SurveyChangesLast(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	return s.surveyChanges(ctx, reqs, true)
}

// surveyChanges is SurveyChanges, and SurveyChangesLast when leave.
func (s *Store) surveyChanges(ctx context.Context, reqs []adapters.ChangeRequest, leave bool) []adapters.ChangeSurvey {
	out := make([]adapters.ChangeSurvey, len(reqs))
	if len(reqs) == 0 {
		if leave {
			s.leaveIdle(0)
		}
		return out
	}
	if !s.hasCondStore() {
		for i := range out {
			out[i] = noSurvey(s)
		}
		return out
	}
	delim, err := s.Delimiter(ctx)
	if err != nil {
		for i := range out {
			out[i].Err = err
		}
		return out
	}
	// Contiguous shares, as even as they come, at most surveyMost each:
	// one per connection open and idle (at least one), so that the
	// survey does not wait for logins; more only for the bound.
	s.mu.Lock()
	idle := len(s.idle)
	s.mu.Unlock()
	shares := max(min(idle, s.cfg.MaxConnections, len(reqs)), (len(reqs)+surveyMost-1)/surveyMost, 1)
	if leave {
		s.leaveIdle(shares)
	}
	var starts []int
	for k := range shares {
		starts = append(starts, k*len(reqs)/shares)
	}
	starts = append(starts, len(reqs))
	done := make(chan struct{}, shares)
	for k := range shares {
		go func() {
			defer func() { done <- struct{}{} }()
			s.survey(ctx, delim, reqs[starts[k]:starts[k+1]], out[starts[k]:starts[k+1]], leave)
		}()
	}
	for range shares {
		<-done
	}
	return out
}

// leaveIdle logs out of the idle connections beyond the keep most
// recently idle (the ones acquire hands out next), in the background;
// Close waits for them.
func (s *Store) leaveIdle(keep int) {
	s.mu.Lock()
	var gone []*conn
	if n := len(s.idle) - keep; n > 0 {
		gone = slices.Clone(s.idle[:n])
		s.idle = slices.Delete(s.idle, 0, n)
	}
	s.mu.Unlock()
	for _, c := range gone {
		s.leaving.Add(1)
		go func() {
			defer s.leaving.Done()
			c.close()
		}()
	}
}

// logOutBehind ends c, a connection whose user has read every answer it
// asked for and needs it no more, in the background (nothing when c is
// broken: closed already): LOGOUT, its answer
// read (bounded as close bounds it), then closed; Close waits for it, and
// release gives c's place among MaxConnections back once it is closed.
// Only c's user may call it, once it is done with c (nothing else reads
// c's fields from then on but release and Folder.Close, which look at
// leaving alone).
//
// The LOGOUT is never written behind commands whose answers are still
// unread, though that would save waiting for its answer: Dovecot 2.3 over
// TLS can lose the end of what the server sent before a LOGOUT (its login
// process, which relays the TLS, closes the connection once the session
// has ended with some of it still unsent when the client has not read the
// earlier answers yet): a download of 3 MB with the LOGOUT behind it lost
// its last 596 bytes, and with them the survey behind it, in 6 of 80
// tries (0 of 80 without TLS).
func (s *Store) logOutBehind(c *conn) {
	if c.leaving != nil || c.broken != nil {
		return
	}
	done := make(chan struct{})
	c.leaving = done
	s.leaving.Add(1)
	go func() {
		defer s.leaving.Done()
		defer close(done)
		c.close()
	}()
}

// survey surveys reqs on one connection of the pool, into out; with leave,
// the connection is logged out once the answers are read (logOutBehind).
func (s *Store) survey(ctx context.Context, delim rune, reqs []adapters.ChangeRequest, out []adapters.ChangeSurvey, leave bool) {
	servers := make([]string, len(reqs))
	var names []string
	for i, r := range reqs {
		server, err := toServerName(r.Name, delim)
		if err != nil {
			out[i].Err = fmt.Errorf("%s: EXAMINE: %w", s.name, err)
			continue
		}
		servers[i] = server
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return
	}
	c, err := s.acquire(ctx)
	if err != nil {
		for i := range out {
			if out[i].Err == nil {
				out[i].Err = err
			}
		}
		return
	}
	defer s.release(c)
	command := surveyCommand(names)
	// The answers go through a channel: a run the watchdog ends may leave
	// its function behind, still writing (conn.waitCommand).
	answered := make(chan []folderAnswer, 1)
	runErr := c.run(ctx, command, func() error {
		folders, lost := surveyOn(c, servers, reqs)
		if lost == nil && !leave {
			s.unselectUnawaited(c)
		}
		answered <- folders
		return lost
	})
	var answers []folderAnswer
	select {
	case answers = <-answered:
	default:
	}
	if leave {
		s.logOutBehind(c)
	}
	s.surveyed(reqs, answers, runErr, command, out)
}

// surveyCommand is how a survey of the folders names is logged.
func surveyCommand(names []string) string {
	return "EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of " + strings.Join(names, ", ")
}

// surveyed puts a survey's answers into out, where it holds no error yet:
// answers nil (or a folder without its answer) is runErr, the error of
// the exchange, which command names.
func (s *Store) surveyed(reqs []adapters.ChangeRequest, answers []folderAnswer, runErr error, command string, out []adapters.ChangeSurvey) {
	for i, r := range reqs {
		if out[i].Err != nil {
			continue
		}
		if answers == nil || (answers[i].selErr == nil && answers[i].status.UIDValidity == 0) {
			err := runErr
			if err == nil {
				err = errors.New("the answer to EXAMINE gave no UIDVALIDITY")
			}
			out[i].Err = fmt.Errorf("%s: folder %q: %s: %w", s.name, r.Name, command, err)
			continue
		}
		a := answers[i]
		if a.selErr != nil {
			out[i].Err = fmt.Errorf("%s: folder %q: EXAMINE (CONDSTORE): %w", s.name, r.Name, noFolder(a.selErr))
			continue
		}
		out[i].Status = a.status
		if a.listErr != nil || a.status.HighestModSeq == 0 || r.Since > a.status.HighestModSeq || !complete(a.byUID) {
			continue // Changes nil: the caller lists the folder
		}
		uids, changed := sortedChanges(a.uids, a.byUID)
		out[i].Changes = &adapters.Changes{UIDs: uids, Changed: changed}
	}
}

// surveySent is one folder's survey commands, sent and not yet answered
// (sel nil: not sent).
type surveySent struct {
	sel     *imapclient.SelectCommand
	changes changesSent
}

// folderAnswer is what the server answered for one folder of a survey.
type folderAnswer struct {
	status  model.RemoteFolderStatus
	selErr  error
	uids    []uint32
	byUID   map[uint32]model.RemoteMsg
	listErr error
}

// surveyOn writes every folder's commands (servers[i] "" is skipped),
// then reads the answers in the same order. lost is the first error that
// is not the server's refusal: the connection is gone, and so are the
// answers after it (their status stays zero).
func surveyOn(c *conn, servers []string, reqs []adapters.ChangeRequest) (answers []folderAnswer, lost error) {
	return sendSurvey(c, servers, reqs)()
}

// sendSurvey is surveyOn's writing: it returns the reading of the answers.
func sendSurvey(c *conn, servers []string, reqs []adapters.ChangeRequest) (wait func() ([]folderAnswer, error)) {
	sent := make([]surveySent, len(reqs))
	opts := &imap.SelectOptions{ReadOnly: true, CondStore: true}
	for i, r := range reqs {
		if servers[i] != "" {
			sent[i] = surveySent{sel: c.client.Select(servers[i], opts), changes: sendChanges(c, r.Since)}
		}
	}
	return func() ([]folderAnswer, error) { return readSurvey(sent, reqs) }
}

// readSurvey reads the answers sendSurvey's commands are given.
func readSurvey(sent []surveySent, reqs []adapters.ChangeRequest) (answers []folderAnswer, lost error) {
	answers = make([]folderAnswer, len(reqs))
	for i := range reqs {
		if sent[i].sel == nil {
			continue
		}
		a := &answers[i]
		a.byUID = map[uint32]model.RemoteMsg{}
		a.uids, a.listErr = sent[i].changes.wait(a.byUID)
		data, err := sent[i].sel.Wait()
		if err != nil {
			a.selErr = err
		} else {
			a.status = selectedStatus(reqs[i].Name, data)
		}
		for _, err := range []error{err, a.listErr} {
			if err != nil && !isServerRefusal(err) && lost == nil {
				lost = err
			}
		}
	}
	return answers, lost
}

// complete reports whether every changed message was listed with its size
// or date (completeMeta would otherwise ask for them again).
func complete(byUID map[uint32]model.RemoteMsg) bool {
	for _, m := range byUID {
		if metaMissing(m) {
			return false
		}
	}
	return true
}
