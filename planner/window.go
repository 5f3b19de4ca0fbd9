package planner

import "mailtrail/model"

// Window limits a sync to some of a folder's messages (OfflineIMAP's
// maxage, maxsize and startdate). A message outside it is left alone as if
// it did not exist: not copied, not re-flagged, not deleted on either
// side. The zero Window lets everything through.
type Window struct {
	// RemoteSince and LocalSince leave out the messages dated before them,
	// in Unix seconds (the server's internal date; the local file's mtime,
	// which mailtrail sets to the internal date). Zero: no limit. (Seconds,
	// not time.Time: the planner does not import time, so that it cannot
	// read the clock.)
	RemoteSince, LocalSince int64
	// MaxSize leaves out the messages larger than this many bytes (the
	// server's RFC822.SIZE; the local file's size). Zero: no limit.
	MaxSize int64
}

// Empty reports whether the window lets every message through.
func (w Window) Empty() bool { return w.RemoteSince == 0 && w.LocalSince == 0 && w.MaxSize == 0 }

func (w Window) remoteOut(m model.RemoteMsg) bool {
	return (w.RemoteSince != 0 && !m.InternalDate.IsZero() && m.InternalDate.Unix() < w.RemoteSince) ||
		(w.MaxSize > 0 && m.Size > w.MaxSize)
}

// localOut needs the scan's Date and Size (a Maildir scanned with stat): a
// message the scan did not measure is inside.
func (w Window) localOut(m model.LocalMsg) bool {
	return (w.LocalSince != 0 && !m.Date.IsZero() && m.Date.Unix() < w.LocalSince) ||
		(w.MaxSize > 0 && m.Size > w.MaxSize)
}

// applyWindow returns in without the messages outside w. A message synced
// before (a status row) whose copy on either side is outside goes with its
// row and its other copy: one side's date or size seen differently from
// the other's (CRLF against LF sizes near the limit; a touched file) must
// never read as a deletion on that side. A row whose message is gone from
// both sides stays, to be forgotten.
func applyWindow(in Input, w Window) Input {
	if w.Empty() {
		return in
	}
	ix := index(in)
	dropUID := map[uint32]bool{}
	dropKey := map[string]bool{}
	rows := make([]model.StatusRow, 0, in.Status.Rows.Len())
	for _, row := range in.Status.Rows.All() {
		uid := row.UID
		out := false
		if ri, ok := ix.remoteRank(uid); ok && w.remoteOut(ix.remoteMsg(ri)) {
			out = true
		}
		key := ""
		li, ok := ix.localRank(row.Key)
		if !ok {
			li, ok = ix.localRankByUID(uid)
		}
		if ok {
			key = ix.localMsg(li).Key
			if w.localOut(ix.localMsg(li)) {
				out = true
			}
		}
		if out {
			dropUID[uid] = true
			if key != "" {
				dropKey[key] = true
			}
			continue
		}
		rows = append(rows, row)
	}
	out := in
	out.Status.Rows = model.StatusRowsOf(rows...)
	out.Remote.Msgs = nil
	for _, m := range in.Remote.Msgs {
		if !dropUID[m.UID] && !w.remoteOut(m) {
			out.Remote.Msgs = append(out.Remote.Msgs, m)
		}
	}
	out.Local.Msgs = nil
	for _, m := range in.Local.Msgs {
		if !dropKey[m.Key] && !w.localOut(m) {
			out.Local.Msgs = append(out.Local.Msgs, m)
		}
	}
	return out
}
