package imap

import (
	"context"
	"sort"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
)

var _ adapters.HeaderFetcher = (*Folder)(nil)

// FetchHeaderFields fetches only the named header fields of uids with one
// UID FETCH (UID BODY.PEEK[HEADER.FIELDS (...)]); \Seen is not set.
func (f *Folder) FetchHeaderFields(ctx context.Context, uids []uint32, fields []string, fn func(uid uint32, header []byte) error) error {
	if len(uids) == 0 {
		return nil
	}
	sorted := append([]uint32(nil), uids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var set imap.UIDSet
	for _, uid := range sorted {
		set.AddNum(imap.UID(uid))
	}
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: fields, Peek: true}
	type hit struct {
		uid    uint32
		header []byte
	}
	var hits []hit
	err := f.do(ctx, "UID FETCH (BODY.PEEK[HEADER.FIELDS])", func(c *conn) error {
		cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				_ = cmd.Close()
				return err
			}
			if buf.UID == 0 {
				continue
			}
			hits = append(hits, hit{uint32(buf.UID), buf.FindBodySection(section)})
		}
		return cmd.Close()
	})
	if err != nil {
		return err
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].uid < hits[j].uid })
	for _, h := range hits {
		if err := fn(h.uid, h.header); err != nil {
			return err
		}
	}
	return nil
}
