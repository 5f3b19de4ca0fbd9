package maildir

import (
	"math"
	"sort"
	"strings"

	"mailtrail/model"
)

// fileIndex is where each message file of a folder is: what the last scan
// found, held compactly and sorted by key, and what this Folder changed
// since, in a map over it. A folder of 100,000 messages costs 24 bytes a
// file here and the names' bytes, which the scan's keys share; where a map
// from key to place cost about 60.
//
// The index may be incomplete (files a Batch added, files other programs
// delivered since the scan); a key it lacks makes its user scan again
// (Folder.lookupLocked), so incompleteness costs time, never correctness.
type fileIndex struct {
	scanned []scannedFile      // sorted by key
	changed map[string]fileRef // key → where the file is now, since the scan; a zero fileRef: gone
	fmd5    string             // the folder's, for the names kept without it (scannedFile.elided)
}

// scannedFile is one file a scan found.
type scannedFile struct {
	name   string // the file's name; without the folder's own ",FMD5=…" field when elided
	keyLen int32  // the key is name[:keyLen]; -1: it is not a prefix of the name (parse the name)
	// elided, when not 0, is 1 + where the field ",FMD5=<the folder's
	// FMD5>" was cut out of name: every file mailtrail or OfflineIMAP
	// names carries it, 38 bytes of a name of about 75.
	elided int16
	inNew  bool // in new/, else in cur/
}

// key is the file's message key. Eliding the FMD5 field leaves it as it
// was: the key never includes that field.
func (sf scannedFile) key(infosep byte) string {
	if sf.keyLen >= 0 {
		return sf.name[:sf.keyLen]
	}
	return parseFileName(sf.name, infosep).key
}

// ref is where the file is; fmd5 is its folder's.
func (sf scannedFile) ref(fmd5 string) fileRef {
	name := sf.name
	if sf.elided != 0 {
		at := int(sf.elided) - 1
		name = name[:at] + ",FMD5=" + fmd5 + name[at:]
	}
	if sf.inNew {
		return fileRef{sub: "new", name: name}
	}
	return fileRef{sub: "cur", name: name}
}

// nameArena keeps the names a scan holds end to end in a few large
// strings instead of one allocation each. A strings.Builder never changes
// the bytes it has written, so each string taken from it stays valid
// while later names are appended.
type nameArena struct {
	b     strings.Builder
	chunk int // the size of the next block: doubles up to maxArenaChunk
}

const maxArenaChunk = 64 << 10

// keep returns a copy of head+tail held by the arena.
func (a *nameArena) keep(head, tail string) string {
	n := len(head) + len(tail)
	if a.b.Cap()-a.b.Len() < n {
		a.chunk = min(max(2*a.chunk, 4<<10), maxArenaChunk)
		a.b = strings.Builder{}
		a.b.Grow(max(n, a.chunk))
	}
	start := a.b.Len()
	a.b.WriteString(head)
	a.b.WriteString(tail)
	return a.b.String()[start:]
}

// keepScanned copies name (in sub/, parsed as fn) into the arena, without
// the field ",FMD5=<fmd5>" when it is the name's FMD5 field and the key is
// a prefix of the name, and returns the file and the parsed name's key
// and FMD5 as strings that share the copy's memory (or fmd5's), so that
// the name ReadDir returned is not kept.
func (a *nameArena) keepScanned(name, sub string, fn fileName, fmd5 string) (sf scannedFile, key, fmd5Field string) {
	sf = scannedFile{keyLen: -1, inNew: sub == "new"}
	prefix := strings.HasPrefix(name, fn.key)
	field := -1 // where the FMD5 field's ",FMD5=" is in name
	if fn.fmd5 != "" {
		field = strings.Index(name, ",FMD5=")
	}
	if prefix && field >= len(fn.key) && fn.fmd5 == fmd5 && field < math.MaxInt16 &&
		strings.HasPrefix(name[field+len(",FMD5="):], fmd5) {
		end := field + len(",FMD5=") + len(fmd5)
		sf.name = a.keep(name[:field], name[end:])
		sf.elided = int16(field + 1)
	} else {
		sf.name = a.keep(name, "")
	}
	key = fn.key
	if prefix {
		sf.keyLen = int32(len(fn.key))
		key = sf.name[:len(fn.key)]
	}
	switch fn.fmd5 {
	case "":
	case fmd5:
		fmd5Field = fmd5
	default: // another folder's: not cut, so where it was in name
		at := field + len(",FMD5=")
		fmd5Field = sf.name[at : at+len(fn.fmd5)]
	}
	return sf, key, fmd5Field
}

// size is how many files the index knows (an upper bound: changes may
// repeat scanned files).
func (ix *fileIndex) size() int { return len(ix.scanned) + len(ix.changed) }

// get returns where key's file is, if the index knows.
func (ix *fileIndex) get(key string, infosep byte) (fileRef, bool) {
	if ref, ok := ix.changed[key]; ok {
		return ref, ref.name != ""
	}
	if i, ok := ix.find(key, infosep); ok {
		return ix.scanned[i].ref(ix.fmd5), true
	}
	return fileRef{}, false
}

// find is key's position in scanned.
func (ix *fileIndex) find(key string, infosep byte) (int, bool) {
	i := sort.Search(len(ix.scanned), func(i int) bool { return ix.scanned[i].key(infosep) >= key })
	return i, i < len(ix.scanned) && ix.scanned[i].key(infosep) == key
}

// set records that key's file is now at ref.
func (ix *fileIndex) set(key string, ref fileRef) {
	if ix.changed == nil {
		ix.changed = map[string]fileRef{}
	}
	ix.changed[key] = ref
}

// remove records that key's file is gone.
func (ix *fileIndex) remove(key string, infosep byte) {
	if _, ok := ix.find(key, infosep); ok {
		ix.set(key, fileRef{})
		return
	}
	delete(ix.changed, key)
}

// scanResult is a scan's messages and files, in the same order, while it
// is sorted by key, and the arena holding the files' names.
type scanResult struct {
	msgs  []model.LocalMsg
	files []scannedFile
	names *nameArena
}

func (r scanResult) Len() int           { return len(r.msgs) }
func (r scanResult) Less(i, j int) bool { return r.msgs[i].Key < r.msgs[j].Key }
func (r scanResult) Swap(i, j int) {
	r.msgs[i], r.msgs[j] = r.msgs[j], r.msgs[i]
	r.files[i], r.files[j] = r.files[j], r.files[i]
}
