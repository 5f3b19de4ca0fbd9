package memstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// RemoteSnapshot is the whole content of a Remote at one moment, folders
// sorted by name and messages by UID.
type RemoteSnapshot struct {
	Folders []RemoteFolderSnapshot
}

// RemoteFolderSnapshot is one folder of a RemoteSnapshot. HighestModSeq is
// the real counter, whether or not CONDSTORE is switched on.
type RemoteFolderSnapshot struct {
	Name          string
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      []RemoteMessage
}

// LocalSnapshot is the whole content of a Local at one moment, folders
// sorted by name and messages by key.
type LocalSnapshot struct {
	Folders []LocalFolderSnapshot
}

// LocalFolderSnapshot is one folder of a LocalSnapshot.
type LocalFolderSnapshot struct {
	Name     string
	Messages []LocalMessage
}

// Snapshot copies the whole content of r.
func (r *Remote) Snapshot() RemoteSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s RemoteSnapshot
	for _, name := range r.sortedNamesLocked() {
		rf := r.folders[name]
		fs := RemoteFolderSnapshot{Name: rf.name, UIDValidity: rf.uidValidity, UIDNext: rf.uidNext, HighestModSeq: rf.modSeq}
		for _, u := range rf.sortedUIDs() {
			fs.Messages = append(fs.Messages, rf.msgs[u].export())
		}
		s.Folders = append(s.Folders, fs)
	}
	return s
}

// Snapshot copies the whole content of l.
func (l *Local) Snapshot() LocalSnapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s LocalSnapshot
	names := make([]string, 0, len(l.folders))
	for n := range l.folders {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		lf := l.folders[name]
		fs := LocalFolderSnapshot{Name: name}
		for _, k := range lf.sortedKeys() {
			fs.Messages = append(fs.Messages, lf.msgs[k].export())
		}
		s.Folders = append(s.Folders, fs)
	}
	return s
}

// String renders the snapshot one line per folder and per message, with
// bodies as size and a short SHA-256: stable text for golden files and
// diffs. Dates are in UTC.
func (s RemoteSnapshot) String() string {
	var b strings.Builder
	for _, f := range s.Folders {
		fmt.Fprintf(&b, "folder %q uidvalidity=%d uidnext=%d highestmodseq=%d\n", f.Name, f.UIDValidity, f.UIDNext, f.HighestModSeq)
		for _, m := range f.Messages {
			fmt.Fprintf(&b, "  uid=%d flags=%s date=%s modseq=%d %s\n", m.UID, m.Flags, formatDate(m.InternalDate), m.ModSeq, bodyDigest(m.Body))
		}
	}
	return b.String()
}

// String renders the snapshot like RemoteSnapshot.String.
func (s LocalSnapshot) String() string {
	var b strings.Builder
	for _, f := range s.Folders {
		fmt.Fprintf(&b, "folder %q\n", f.Name)
		for _, m := range f.Messages {
			fmt.Fprintf(&b, "  key=%s uid=%d flags=%s date=%s %s", m.Key, m.UID, m.Flags, formatDate(m.Date), bodyDigest(m.Body))
			if m.FMD5 != "" {
				fmt.Fprintf(&b, " fmd5=%s", m.FMD5)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func bodyDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return fmt.Sprintf("size=%d sha256=%s", len(body), hex.EncodeToString(sum[:8]))
}

// Clone returns an independent copy of r with the same content, counters
// and options; dry-run executes a plan against a clone. Selections are not
// copied.
func (r *Remote) Clone() *Remote {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &Remote{folders: make(map[string]*remoteFolder, len(r.folders)), nextValidity: r.nextValidity, noUIDPlus: r.noUIDPlus, noCondstore: r.noCondstore}
	for name, rf := range r.folders {
		cf := *rf
		cf.msgs = make(map[uint32]*remoteMsg, len(rf.msgs))
		for u, m := range rf.msgs {
			cm := *m // bodies are never modified in place: sharing them is safe
			cf.msgs[u] = &cm
		}
		c.folders[name] = &cf
	}
	return c
}

// Clone returns an independent copy of l with the same content and key
// counters.
func (l *Local) Clone() *Local {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := &Local{folders: make(map[string]*localFolder, len(l.folders))}
	for name, lf := range l.folders {
		cf := *lf
		cf.msgs = make(map[string]*localMsg, len(lf.msgs))
		for k, m := range maps.All(lf.msgs) {
			cm := *m
			cf.msgs[k] = &cm
		}
		c.folders[name] = &cf
	}
	return c
}
