package maildir

import (
	"sort"
	"strings"

	"mailtrail/model"
)

// fileIndex is where each message file of a folder is: what the last scan
// found, held compactly and sorted by key, and what this Folder changed
// since, in a map over it. A folder of 100,000 messages costs 24 bytes a
// file here (the name's memory is shared with the scan's keys), where a map
// from key to place cost about 60.
//
// The index may be incomplete (files a Batch added, files other programs
// delivered since the scan); a key it lacks makes its user scan again
// (Folder.lookupLocked), so incompleteness costs time, never correctness.
type fileIndex struct {
	scanned []scannedFile      // sorted by key
	changed map[string]fileRef // key → where the file is now, since the scan; a zero fileRef: gone
}

// scannedFile is one file a scan found.
type scannedFile struct {
	name   string
	keyLen int32 // the key is name[:keyLen]; -1: it is not a prefix of the name (parse the name)
	inNew  bool  // in new/, else in cur/
}

// newScannedFile describes name, whose key is key, in sub.
func newScannedFile(name, key, sub string) scannedFile {
	sf := scannedFile{name: name, keyLen: -1, inNew: sub == "new"}
	if strings.HasPrefix(name, key) {
		sf.keyLen = int32(len(key))
	}
	return sf
}

func (sf scannedFile) key(infosep byte) string {
	if sf.keyLen >= 0 {
		return sf.name[:sf.keyLen]
	}
	return parseFileName(sf.name, infosep).key
}

func (sf scannedFile) ref() fileRef {
	if sf.inNew {
		return fileRef{sub: "new", name: sf.name}
	}
	return fileRef{sub: "cur", name: sf.name}
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
		return ix.scanned[i].ref(), true
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
// is sorted by key.
type scanResult struct {
	msgs  []model.LocalMsg
	files []scannedFile
}

func (r scanResult) Len() int           { return len(r.msgs) }
func (r scanResult) Less(i, j int) bool { return r.msgs[i].Key < r.msgs[j].Key }
func (r scanResult) Swap(i, j int) {
	r.msgs[i], r.msgs[j] = r.msgs[j], r.msgs[i]
	r.files[i], r.files[j] = r.files[j], r.files[i]
}
