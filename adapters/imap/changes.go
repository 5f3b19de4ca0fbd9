package imap

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"

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
	var uids []uint32
	byUID := map[uint32]model.RemoteMsg{}
	command := "UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE " + strconv.FormatUint(since, 10) + ")"
	err := f.do(ctx, command, func(c *conn) error {
		var opts *imap.SearchOptions
		if c.caps.Has(imap.CapESearch) {
			opts = &imap.SearchOptions{ReturnAll: true}
		}
		search := c.client.UIDSearch(&imap.SearchCriteria{}, opts)
		all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
		fetchErr := fetchMetaSince(c, all, since, byUID)
		if fetchErr != nil && isServerRefusal(fetchErr) {
			if mb := c.client.Mailbox(); mb != nil && mb.NumMessages == 0 {
				fetchErr = nil // "1:*" of an empty folder
			}
		}
		data, err := search.Wait()
		if err != nil {
			return err
		}
		if fetchErr != nil {
			return fetchErr
		}
		set, ok := data.All.(imap.UIDSet)
		if !ok {
			return nil // no message
		}
		nums, ok := set.Nums()
		if !ok {
			return fmt.Errorf("the server answered with a set that has no end (%s)", set)
		}
		uids = make([]uint32, len(nums))
		for i, u := range nums {
			uids[i] = uint32(u)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	if err := f.completeMeta(ctx, byUID); err != nil {
		return nil, nil, err
	}
	changed := make([]model.RemoteMsg, 0, len(byUID))
	for _, m := range byUID {
		changed = append(changed, m)
	}
	slices.SortFunc(changed, func(a, b model.RemoteMsg) int { return cmp.Compare(a.UID, b.UID) })
	return uids, changed, nil
}
