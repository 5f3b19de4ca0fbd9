package imap

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters"
	"mailtrail/model"
)

// ListChanges implements adapters.ChangeLister with two commands, sent
// together (one round trip): UID SEARCH ALL (RETURN (ALL) where the server
// has ESEARCH, which answers with ranges: a few bytes for a folder of
// 100,000 messages) for the UIDs, and UID FETCH 1:* (UID FLAGS
// RFC822.SIZE INTERNALDATE) (CHANGEDSINCE since) for the changed messages.
// Neither carries a body, so their answers cannot hold up each other. A
// message that arrives between the two is in changed and not in uids (or
// the other way round, should the server answer them in another order);
// the caller takes the union, and a UID without a row or a listing sends
// it to a full listing. It needs a folder selected with CONDSTORE
// (Status().HighestModSeq not 0).
func (f *Folder) ListChanges(ctx context.Context, since uint64) ([]uint32, []model.RemoteMsg, error) {
	if f.Status().HighestModSeq == 0 {
		return nil, nil, fmt.Errorf("folder %s: the server keeps no modification sequences (CONDSTORE): list it in full", f.name)
	}
	byUID := map[uint32]model.RemoteMsg{}
	var uids []uint32
	err := f.do(ctx, changesCommand(since), func(c *conn) error {
		var err error
		uids, err = sendChanges(c, since).wait(byUID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return f.changesOf(ctx, uids, byUID)
}

// changesCommand names ListChanges' commands in logs and errors.
func changesCommand(since uint64) string {
	return "UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE " + strconv.FormatUint(since, 10) + ")"
}

// changesSent is ListChanges' two commands, sent and not yet answered.
type changesSent struct {
	c      *conn
	search *imapclient.SearchCommand
	fetch  *imapclient.FetchCommand
}

// sendChanges sends ListChanges' two commands without waiting.
func sendChanges(c *conn, since uint64) changesSent {
	var opts *imap.SearchOptions
	if c.caps.Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	search := c.client.UIDSearch(&imap.SearchCriteria{}, opts)
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	fetch := c.client.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, ChangedSince: since})
	return changesSent{c: c, search: search, fetch: fetch}
}

// wait reads the answers of sendChanges' commands: the changed messages
// into byUID, and every UID, returned unsorted.
func (s changesSent) wait(byUID map[uint32]model.RemoteMsg) ([]uint32, error) {
	fetchErr := drainMeta(s.fetch, byUID)
	if fetchErr != nil && isServerRefusal(fetchErr) {
		if mb := s.c.client.Mailbox(); mb != nil && mb.NumMessages == 0 {
			fetchErr = nil // "1:*" of an empty folder
		}
	}
	data, err := s.search.Wait()
	if err != nil {
		return nil, err
	}
	if fetchErr != nil {
		return nil, fetchErr
	}
	set, ok := data.All.(imap.UIDSet)
	if !ok {
		return nil, nil // no message
	}
	nums, ok := set.Nums()
	if !ok {
		return nil, fmt.Errorf("the server answered with a set that has no end (%s)", set)
	}
	uids := make([]uint32, len(nums))
	for i, u := range nums {
		uids[i] = uint32(u)
	}
	return uids, nil
}

// changesOf sorts what sendChanges' commands answered into ListChanges'
// results, asking again for what a changed message was listed without.
func (f *Folder) changesOf(ctx context.Context, uids []uint32, byUID map[uint32]model.RemoteMsg) ([]uint32, []model.RemoteMsg, error) {
	if err := f.completeMeta(ctx, byUID); err != nil {
		return nil, nil, err
	}
	uids, changed := sortedChanges(uids, byUID)
	return uids, changed, nil
}

// sortedChanges returns the UIDs ascending without repeats, and the
// changed messages in UID order.
func sortedChanges(uids []uint32, byUID map[uint32]model.RemoteMsg) ([]uint32, []model.RemoteMsg) {
	slices.Sort(uids)
	uids = slices.Compact(uids)
	changed := make([]model.RemoteMsg, 0, len(byUID))
	for _, m := range byUID {
		changed = append(changed, m)
	}
	slices.SortFunc(changed, func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) })
	return uids, changed
}

var _ adapters.ChangeOpener = (*Store)(nil)

// OpenWithChanges implements adapters.ChangeOpener: SELECT (EXAMINE when
// readOnly) with CONDSTORE and ListChanges' two commands, sent together.
// With 20 ms between client and server that is 20 ms less for every
// folder a sync plans or verifies. The listing is asked for before the
// server has said whether it is of any use; when the folder turns out to
// keep no modification sequences, or since is above its HIGHESTMODSEQ,
// it is dropped and Changes is nil. Should the open fail, the server
// answers the two commands with an error (no folder is selected after a
// failed SELECT, RFC 3501 6.3.1), and the open's error is returned. A
// server without CONDSTORE, or since 0, gets the open alone.
func (s *Store) OpenWithChanges(ctx context.Context, name string, readOnly bool, since uint64) (adapters.RemoteFolder, *adapters.Changes, error) {
	if !s.hasCondStore() || since == 0 {
		f, err := s.open(ctx, name, readOnly)
		if err != nil {
			return nil, nil, err
		}
		return f, nil, nil
	}
	var uids []uint32
	var listErr error
	byUID := map[uint32]model.RemoteMsg{}
	f, err := s.openThen(ctx, name, readOnly, changesCommand(since), func(c *conn) {
		sent := sendChanges(c, since)
		uids, listErr = sent.wait(byUID)
	})
	if err != nil {
		return nil, nil, err
	}
	changes, err := f.changesListed(ctx, since, uids, byUID, listErr)
	if err != nil {
		return nil, nil, err
	}
	return f, changes, nil
}

// changesListed is what the listing of the changes since since, sent
// behind the open of f (sendChanges), gave: nil when it is of no use (the
// folder keeps no modification sequences, since is above its
// HIGHESTMODSEQ, or the listing failed, listErr: the caller lists the
// folder as it would have). An error closes f.
func (f *Folder) changesListed(ctx context.Context, since uint64, uids []uint32, byUID map[uint32]model.RemoteMsg, listErr error) (*adapters.Changes, error) {
	st := f.Status()
	if st.HighestModSeq == 0 || since > st.HighestModSeq {
		return nil, nil
	}
	if listErr != nil {
		f.listedBehindFailed(listErr, "the changes")
		return nil, nil
	}
	uids, changed, err := f.changesOf(ctx, uids, byUID)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &adapters.Changes{UIDs: uids, Changed: changed}, nil
}

var _ adapters.ListingOpener = (*Store)(nil)

// OpenListing implements adapters.ListingOpener: the folder opened as
// SelectFolder opens it (read-only, as Examine), with List's UID FETCH 1:*
// sent right behind the SELECT, one round trip for both. A listing the
// server refused, or lost with the connection, is asked again as List
// asks it.
func (s *Store) OpenListing(ctx context.Context, name string, readOnly bool) (adapters.RemoteFolder, []model.RemoteMsg, error) {
	byUID := map[uint32]model.RemoteMsg{}
	var listErr error
	f, err := s.openThen(ctx, name, readOnly, listingCommand, func(c *conn) {
		listErr = listAll(c, byUID)
	})
	if err != nil {
		return nil, nil, err
	}
	var msgs []model.RemoteMsg
	if listErr != nil {
		f.listedBehindFailed(listErr, "the folder")
		msgs, err = f.List(ctx)
	} else {
		msgs, err = f.listing(ctx, byUID)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, msgs, nil
}

// listedBehindFailed notes that a listing sent behind the folder's SELECT
// (what it listed) failed although the SELECT succeeded: the folder is to
// be listed again as a later command would list it, on this connection
// when the server merely refused the listing, else on a new one (do
// reconnects a broken connection).
func (f *Folder) listedBehindFailed(err error, what string) {
	if !isServerRefusal(err) {
		f.conn.markBroken(err)
	}
	f.store.cfg.Logger.Debug().Err(err).Str("folder", f.name).Msg("imap: listing " + what + " with the open failed")
}
