package imap

import (
	"fmt"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// uidChunks sorts uids, drops duplicates and zeros, and splits them into UID
// sets of at most maxUIDs UIDs (0: no bound) and at most maxRanges ranges
// each (0: no bound), in ascending order.
func uidChunks(uids []uint32, maxUIDs, maxRanges int) []imap.UIDSet {
	sorted := append([]uint32(nil), uids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var out []imap.UIDSet
	var cur imap.UIDSet
	count := 0
	for i, uid := range sorted {
		if uid == 0 || (i > 0 && uid == sorted[i-1]) {
			continue
		}
		extends := len(cur) > 0 && uint32(cur[len(cur)-1].Stop)+1 == uid
		if (maxUIDs > 0 && count == maxUIDs) || (maxRanges > 0 && !extends && len(cur) == maxRanges) {
			out = append(out, cur)
			cur, count, extends = nil, 0, false
		}
		if extends {
			cur[len(cur)-1].Stop = imap.UID(uid)
		} else {
			cur = append(cur, imap.UIDRange{Start: imap.UID(uid), Stop: imap.UID(uid)})
		}
		count++
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// setLabel is a UID set as shown in an error: whole when short, else its
// first ranges and how many there are.
func setLabel(set imap.UIDSet) string {
	const maxShown = 4
	if len(set) <= maxShown {
		return set.String()
	}
	return fmt.Sprintf("%s,... (%d ranges)", set[:maxShown].String(), len(set))
}
