package journal

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Key prefixes, one per record kind. Every prefix ends in '/', so the upper
// bound of a prefix's range is the same bytes with '/' replaced by '0'.
const (
	prefixMeta    = "meta/"
	prefixJournal = "j/"
	prefixPending = "p/"
	prefixRun     = "r/"
	prefixFolder  = "f/"
	prefixStatus  = "s/"
	// prefixObserved holds observations: o/<run:8><folder>.
	prefixObserved = "o/"
)

// keyFormat holds the journal format version (msgpack unsigned integer).
var keyFormat = []byte(prefixMeta + "format")

// keyLastSeq and keyLastRun hold the highest journal position and run ID
// ever written (msgpack unsigned integers), written by Compact: once old
// records are deleted, the last remaining key may no longer be the
// highest ever used, and numbers are never reused.
var (
	keyLastSeq = []byte(prefixMeta + "lastseq")
	keyLastRun = []byte(prefixMeta + "lastrun")
)

// folderNameEnd terminates a folder name inside a status row key, so that a
// folder's rows are one range and "INBOX" never matches "INBOX/Sub".
const folderNameEnd = 0x00

// prefixUpperBound returns the first key after every key that starts with
// prefix (prefix ends in '/').
func prefixUpperBound(prefix string) []byte {
	b := []byte(prefix)
	b[len(b)-1]++
	return b
}

func seqKey(prefix string, n uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], n)
	return k
}

func journalKey(seq uint64) []byte { return seqKey(prefixJournal, seq) }
func pendingKey(seq uint64) []byte { return seqKey(prefixPending, seq) }
func runKey(run uint64) []byte     { return seqKey(prefixRun, run) }

// parseSeqKey reads the big-endian number after prefix.
func parseSeqKey(prefix string, k []byte) (uint64, error) {
	if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != prefix {
		return 0, fmt.Errorf("key %q is not a %q key with an 8-byte number", k, prefix)
	}
	return binary.BigEndian.Uint64(k[len(prefix):]), nil
}

func folderKey(name string) []byte { return []byte(prefixFolder + name) }

// statusFolderPrefix is the common prefix of every status row of a folder.
func statusFolderPrefix(name string) []byte {
	k := make([]byte, 0, len(prefixStatus)+len(name)+1)
	k = append(k, prefixStatus...)
	k = append(k, name...)
	return append(k, folderNameEnd)
}

// statusFolderUpperBound is the first key after every row of the folder.
func statusFolderUpperBound(name string) []byte {
	k := statusFolderPrefix(name)
	k[len(k)-1]++
	return k
}

func statusKey(name string, uid uint32) []byte {
	k := statusFolderPrefix(name)
	return binary.BigEndian.AppendUint32(k, uid)
}

// parseStatusKey splits a status row key into folder name and UID.
func parseStatusKey(k []byte) (folder string, uid uint32, err error) {
	if len(k) < len(prefixStatus)+1+4 || string(k[:len(prefixStatus)]) != prefixStatus || k[len(k)-5] != folderNameEnd {
		return "", 0, fmt.Errorf("key %q is not a status row key (s/<folder>\\x00<uid>)", k)
	}
	name := string(k[len(prefixStatus) : len(k)-5])
	if strings.IndexByte(name, folderNameEnd) >= 0 {
		return "", 0, fmt.Errorf("key %q is not a status row key: folder name holds a NUL byte", k)
	}
	return name, binary.BigEndian.Uint32(k[len(k)-4:]), nil
}

// checkFolderName refuses names that cannot be keys.
func checkFolderName(name string) error {
	if name == "" {
		return fmt.Errorf("empty folder name")
	}
	if strings.IndexByte(name, folderNameEnd) >= 0 {
		return fmt.Errorf("folder name %q holds a NUL byte, which mailtrail cannot store", name)
	}
	return nil
}
