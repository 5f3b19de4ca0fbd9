package imap

import (
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/model"
)

var _ adapters.OpenSurveyor = (*Folder)(nil)

// SurveyOpen implements adapters.OpenSurveyor in three round trips. First
// STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ) of the folder on
// another connection of the pool, one that does not have it selected
// (RFC 3501, 6.3.10: a client should not ask STATUS of the mailbox it has
// selected; Dovecot answers it [CLIENTBUG], from that session's view);
// once answered, on the folder's own connection NOOP, which brings the
// session's view up to date with whatever others changed (EXPUNGE,
// EXISTS, FETCH), and, once that is answered, ListChanges. The
// status is older than the listing, never newer: a change made between
// the two is listed and not yet counted in the status, so a caller that
// records the status as in step with the listing records a state at
// worst behind the server's, which its next look finds changed. Where
// the survey would open the folder again (SurveyChanges' EXAMINE),
// Dovecot reads a Maildir folder's directory afresh after a change: 2.6–
// 2.7 s for 100,000 messages on the benchmark's machine against 0.7–1.0
// s for this (the STATUS 0.6–0.9 s of it).
//
// The other connection is taken only when one is free now (an idle one,
// or a place among MaxConnections to open one): the folder holds its own
// and must not wait for another that every holder might be waiting for.
// Otherwise Err wraps adapters.ErrBusy. The folder stays selected.
func (f *Folder) SurveyOpen(ctx context.Context, since uint64) adapters.ChangeSurvey {
	s := f.store
	if !s.hasCondStore() || f.Status().HighestModSeq == 0 {
		return noSurvey(s)
	}
	status, err := s.statusElsewhere(ctx, f.name, f.server)
	if err != nil {
		return adapters.ChangeSurvey{Err: err}
	}
	if v := f.Status().UIDValidity; status.UIDValidity != v {
		return adapters.ChangeSurvey{Status: status, Err: f.errorf("STATUS", fmt.Errorf("UIDVALIDITY %d, the folder was selected with %d: %w",
			status.UIDValidity, v, adapters.ErrValidityChanged))}
	}
	// NOOP answered before the listing is sent: Dovecot runs commands
	// pipelined behind a NOOP on the view from before it, expunged and
	// new messages left out of the UID SEARCH.
	if err := f.do(ctx, "NOOP", func(c *conn) error { return c.client.Noop().Wait() }); err != nil {
		return adapters.ChangeSurvey{Status: status, Err: err}
	}
	uids, changed, err := f.ListChanges(ctx, since)
	if err != nil {
		return adapters.ChangeSurvey{Status: status, Err: err}
	}
	sv := adapters.ChangeSurvey{Status: status}
	if since <= status.HighestModSeq {
		sv.Changes = &adapters.Changes{UIDs: uids, Changed: changed}
	}
	return sv
}

// statusElsewhere asks STATUS of a folder (name canonical, server the
// server's) on a connection of the pool free now (tryAcquire), released
// after; ErrBusy when none is.
func (s *Store) statusElsewhere(ctx context.Context, name, server string) (model.RemoteFolderStatus, error) {
	c, free, err := s.tryAcquire(ctx)
	if !free {
		return model.RemoteFolderStatus{}, fmt.Errorf("%s: folder %q: STATUS: %w", s.name, name, adapters.ErrBusy)
	}
	if err != nil {
		return model.RemoteFolderStatus{}, err
	}
	defer s.release(c)
	var data *imap.StatusData
	err = c.run(ctx, "STATUS "+server+" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)", func() error {
		var err error
		data, err = c.client.Status(server, s.statusItems()).Wait()
		return err
	})
	if err != nil {
		return model.RemoteFolderStatus{}, fmt.Errorf("%s: folder %q: STATUS: %w", s.name, name, noFolder(err))
	}
	return statusFrom(name, data), nil
}
