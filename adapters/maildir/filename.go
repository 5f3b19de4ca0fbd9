package maildir

import (
	"crypto/md5"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailtrail/model"
)

// fileName is a message file name taken apart the way OfflineIMAP reads it:
//
//	<unique>[,<field>...][,U=<uid>][,FMD5=<hex>][<infosep>2,<info>]
//
// The key is the name without the U= and FMD5= fields and without the
// info suffix; every other comma field (Dovecot's S=/W=) stays in the key,
// in its original place.
type fileName struct {
	key      string
	uid      uint32 // 0 when the name has no (valid) ,U= field
	fmd5     string // "" when the name has no ,FMD5= field
	info     string // the letters after "<infosep>2,"
	hasInfo  bool   // the name has an "<infosep>2," suffix
	otherEnd string // a suffix after infosep that is not "2,..." (kept as is)
}

// parseFileName takes a file name apart. It allocates only when the name
// carries a U= or FMD5= field, so that scanning 100,000 names stays cheap.
func parseFileName(name string, infosep byte) fileName {
	var fn fileName
	base := name
	if i := strings.IndexByte(name, infosep); i >= 0 {
		base = name[:i]
		suffix := name[i+1:]
		if strings.HasPrefix(suffix, "2,") {
			fn.hasInfo = true
			fn.info = suffix[2:]
		} else {
			fn.otherEnd = name[i:]
		}
	}
	comma := strings.IndexByte(base, ',')
	if comma < 0 || (!strings.Contains(base[comma:], ",U=") && !strings.Contains(base[comma:], ",FMD5=")) {
		fn.key = base
		return fn
	}
	// Fields are read in place. When the U= and FMD5= fields come last,
	// as in every name mailtrail and OfflineIMAP write, the key is a prefix
	// of the name and shares its memory (a large folder holds one key per
	// message); otherwise it is built from the other fields.
	special := -1 // where the first U= or FMD5= field starts (its comma)
	plainAfter := false
	for pos := comma; pos < len(base); {
		end := strings.IndexByte(base[pos+1:], ',')
		if end < 0 {
			end = len(base)
		} else {
			end += pos + 1
		}
		switch field := base[pos+1 : end]; {
		case strings.HasPrefix(field, "U="):
			if fn.uid == 0 {
				if u, err := strconv.ParseUint(field[2:], 10, 32); err == nil {
					fn.uid = uint32(u)
				}
			}
			if special < 0 {
				special = pos
			}
		case strings.HasPrefix(field, "FMD5="):
			if fn.fmd5 == "" {
				fn.fmd5 = field[5:]
			}
			if special < 0 {
				special = pos
			}
		default:
			plainAfter = plainAfter || special >= 0
		}
		pos = end
	}
	if !plainAfter {
		fn.key = base[:special]
		return fn
	}
	var key strings.Builder
	key.Grow(len(base))
	key.WriteString(base[:comma])
	for _, field := range strings.Split(base[comma+1:], ",") {
		if !strings.HasPrefix(field, "U=") && !strings.HasPrefix(field, "FMD5=") {
			key.WriteByte(',')
			key.WriteString(field)
		}
	}
	fn.key = key.String()
	return fn
}

// formatBase builds the part of a file name before the info: the key, then
// ",U=<uid>,FMD5=<fmd5>" when uid is not 0 (OfflineIMAP's field order).
func formatBase(key string, uid uint32, fmd5 string) string {
	if uid == 0 {
		return key
	}
	return key + ",U=" + strconv.FormatUint(uint64(uid), 10) + ",FMD5=" + fmd5
}

// infoSuffix is "<infosep>2,<letters>".
func infoSuffix(infosep byte, letters string) string {
	return string(infosep) + "2," + letters
}

// infoLetters returns the info part for flags plus the extra letters kept
// from an earlier name: every letter once, in ASCII order, as OfflineIMAP
// writes it (the sorted set of its flag letters).
func infoLetters(flags model.Flags, extra string) string {
	std := flags.Maildir()
	if extra == "" {
		return std
	}
	seen := make(map[byte]bool, len(std)+len(extra))
	letters := make([]byte, 0, len(std)+len(extra))
	for _, s := range []string{std, extra} {
		for i := 0; i < len(s); i++ {
			if !seen[s[i]] {
				seen[s[i]] = true
				letters = append(letters, s[i])
			}
		}
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return string(letters)
}

// folderMD5 is OfflineIMAP's FMD5: the md5 hex digest of the folder's
// visible local name (with the Maildir separator, after the local nametrans).
func folderMD5(visibleName string) string {
	sum := md5.Sum([]byte(visibleName))
	return hex.EncodeToString(sum[:])
}

// sanitizeHostname makes a host name safe inside a file name. OfflineIMAP
// replaces '/' by '-' (its sep_subst); ':' (the info separator), '!' (the
// Windows-compatible info separator) and ',' (the field separator) would
// break parsing of the name, so they become '-' too.
func sanitizeHostname(host string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', ':', '!', ',':
			return '-'
		}
		return r
	}, host)
}

// timeSeq hands out OfflineIMAP's "<time>_<seq>" pairs: seq counts the names
// made for the same second in this process (OfflineIMAP's _gettimeseq).
// It is process-wide, like OfflineIMAP's, so that two Store values on the
// same Maildir never make the same name.
var timeSeq = struct {
	sync.Mutex
	last map[int64]uint64
}{last: map[int64]uint64{}}

func nextTimeSeq(t time.Time) (sec int64, seq uint64) {
	sec = t.Unix()
	timeSeq.Lock()
	defer timeSeq.Unlock()
	seq, ok := timeSeq.last[sec]
	if ok {
		seq++
	}
	timeSeq.last[sec] = seq
	return sec, seq
}

// uniqueKey is the unique part of a new file name, exactly as OfflineIMAP's
// new_message_filename makes it: "<time>_<seq>.<pid>.<host>".
func uniqueKey(t time.Time, pid int, host string) string {
	sec, seq := nextTimeSeq(t)
	return strconv.FormatInt(sec, 10) + "_" + strconv.FormatUint(seq, 10) + "." +
		strconv.Itoa(pid) + "." + host
}
