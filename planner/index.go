package planner

import (
	"cmp"
	"slices"
	"strings"

	"mailtrail/model"
)

// msgIndex finds a folder pair's messages by UID and by key without
// copying them: it holds positions into the input's slices (4 bytes a
// message per index), sorted for binary search. A map of copies cost the
// planner about 600 bytes a message, which at 100,000 messages was most of
// a sync's memory.
//
// Messages are numbered by rank: remote ranks in ascending UID order,
// local ranks in ascending key order; a rank names one distinct UID or
// key (of two server messages listed with one UID, or two files with one
// key, the later in the input counts, as when a map is filled in order).
type msgIndex struct {
	remoteMsgs []model.RemoteMsg
	localMsgs  []model.LocalMsg
	remote     []int32   // positions in remoteMsgs, by rank
	local      []int32   // positions in localMsgs, by rank
	byUID      []uidRank // local files by the UID in their names, by UID
}

// uidRank is a local file (by rank) whose name carries uid for this folder.
type uidRank struct {
	uid  uint32
	rank int32
}

// index indexes a folder pair's server messages by UID, its local
// messages by key, and the local keys by the UID their file names carry. A
// UID in a file name counts only when it belongs to this folder (its
// FMD5). When two files claim one UID (a copy), the first key in order
// wins and the other is new.
func index(in Input) *msgIndex {
	ix := &msgIndex{remoteMsgs: in.Remote.Msgs, localMsgs: in.Local.Msgs}
	ix.remote = ranks(len(in.Remote.Msgs), func(a, b int32) int {
		return cmp.Compare(in.Remote.Msgs[a].UID, in.Remote.Msgs[b].UID)
	})
	ix.local = ranks(len(in.Local.Msgs), func(a, b int32) int {
		return strings.Compare(in.Local.Msgs[a].Key, in.Local.Msgs[b].Key)
	})
	for rank, pos := range ix.local {
		m := &in.Local.Msgs[pos]
		if m.UID != 0 && (m.FMD5 == "" || m.FMD5 == in.Local.FMD5) {
			ix.byUID = append(ix.byUID, uidRank{uid: m.UID, rank: int32(rank)})
		}
	}
	// Stable: of the files claiming one UID, the first by key comes first.
	slices.SortStableFunc(ix.byUID, func(a, b uidRank) int { return cmp.Compare(a.uid, b.uid) })
	return ix
}

// ranks sorts the positions 0..n-1 by compare and keeps, of positions that
// compare equal, the last.
func ranks(n int, compare func(a, b int32) int) []int32 {
	pos := make([]int32, n)
	sorted := true
	for i := range pos {
		pos[i] = int32(i)
		if i > 0 && sorted && compare(pos[i-1], pos[i]) >= 0 {
			sorted = false
		}
	}
	if sorted { // the usual case: listings come sorted, without duplicates
		return pos
	}
	slices.SortStableFunc(pos, compare)
	out := pos[:0]
	for i, p := range pos {
		if i+1 < len(pos) && compare(p, pos[i+1]) == 0 {
			continue // a later equal one follows
		}
		out = append(out, p)
	}
	return out
}

// claims reports whether uid's file (localRankByUID) is the local rank.
func (ix *msgIndex) claims(uid uint32, rank int) bool {
	r, ok := ix.localRankByUID(uid)
	return ok && r == rank
}

func (ix *msgIndex) remoteCount() int { return len(ix.remote) }
func (ix *msgIndex) localCount() int  { return len(ix.local) }

// remoteMsg and localMsg return the message of a rank.
func (ix *msgIndex) remoteMsg(rank int) model.RemoteMsg { return ix.remoteMsgs[ix.remote[rank]] }
func (ix *msgIndex) localMsg(rank int) model.LocalMsg   { return ix.localMsgs[ix.local[rank]] }

// remoteRank finds the server message with uid.
func (ix *msgIndex) remoteRank(uid uint32) (int, bool) {
	return slices.BinarySearchFunc(ix.remote, uid, func(p int32, uid uint32) int {
		return cmp.Compare(ix.remoteMsgs[p].UID, uid)
	})
}

// localRank finds the local message with key.
func (ix *msgIndex) localRank(key string) (int, bool) {
	return slices.BinarySearchFunc(ix.local, key, func(p int32, key string) int {
		return strings.Compare(ix.localMsgs[p].Key, key)
	})
}

// localRankByUID finds the local file whose name carries uid for this
// folder (the first by key, when several do).
func (ix *msgIndex) localRankByUID(uid uint32) (int, bool) {
	i, ok := slices.BinarySearchFunc(ix.byUID, uid, func(e uidRank, uid uint32) int { return cmp.Compare(e.uid, uid) })
	if !ok {
		return 0, false
	}
	return int(ix.byUID[i].rank), true
}
