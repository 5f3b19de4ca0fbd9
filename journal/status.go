package journal

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"mailtrail/model"
)

// FolderStatus returns what the status store remembers of folder name: its
// rows by ascending UID, and its meta. A folder never synced (or deleted)
// gives zero values with Name set, no rows, and no error. Both
// come from one consistent view of the store.
func (s *Store) FolderStatus(name string) (model.FolderStatus, FolderMeta, error) {
	return s.FolderStatusSharing(name, nil)
}

// FolderStatusSharing is FolderStatus whose rows take their keys from
// known where it has them: known(key) returns a string equal to key (the
// local scan's own, say) and true, and the row holds that string instead
// of a copy of its own; nil known, or false, and the row gets a copy. The
// rows of a folder of 100,000 messages hold about 4 MB of keys that the
// scan of the same folder holds already. known must not keep key.
func (s *Store) FolderStatusSharing(name string, known func(key []byte) (string, bool)) (model.FolderStatus, FolderMeta, error) {
	return s.folderStatus(name, known, false)
}

// FolderFlags is FolderStatus without the rows' keys: every row's Key is
// empty. For what needs only each message's UID and flags (listing a
// server folder from its rows), without holding a copy of every key; never
// for planning, which would read every row as a message without a file.
func (s *Store) FolderFlags(name string) (model.FolderStatus, FolderMeta, error) {
	return s.folderStatus(name, nil, true)
}

func (s *Store) folderStatus(name string, known func(key []byte) (string, bool), noKeys bool) (model.FolderStatus, FolderMeta, error) {
	if err := s.checkOpen(); err != nil {
		return model.FolderStatus{}, FolderMeta{}, err
	}
	if err := checkFolderName(name); err != nil {
		return model.FolderStatus{}, FolderMeta{}, fmt.Errorf("journal %s: folder status: %w", s.dir, err)
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()

	meta, _, err := s.folderMeta(snap, name)
	if err != nil {
		return model.FolderStatus{}, FolderMeta{}, err
	}

	// The remote message count is a good size hint; capped so that a
	// damaged meta cannot ask for gigabytes.
	st := model.FolderStatus{Name: name, UIDValidity: meta.UIDValidity}
	rows := make([]model.StatusRow, 0, min(meta.Messages, 1<<20))
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: statusFolderPrefix(name), UpperBound: statusFolderUpperBound(name)})
	if err != nil {
		return model.FolderStatus{}, FolderMeta{}, s.readError(fmt.Sprintf("read folder %q rows", name), err)
	}
	defer it.Close()
	dec := newRowDecoder()
	dec.known, dec.noKeys = known, noKeys
	keyLen := len(statusFolderPrefix(name)) + 4
	for ok := it.First(); ok; ok = it.Next() {
		// The bounds fix the prefix; the key is the prefix and a UID.
		k := it.Key()
		if len(k) != keyLen {
			return model.FolderStatus{}, FolderMeta{}, kinded(ErrCorrupt, "journal %s: key %q in folder %q's rows is not a status row key; run `mailtrail journal check`", s.dir, k, name)
		}
		uid := binary.BigEndian.Uint32(k[keyLen-4:])
		row, err := dec.decode(name, uid, it.Value())
		if err != nil {
			return model.FolderStatus{}, FolderMeta{}, fmt.Errorf("journal %s: %w", s.dir, err)
		}
		rows = append(rows, row)
	}
	if err := it.Error(); err != nil {
		return model.FolderStatus{}, FolderMeta{}, s.readError(fmt.Sprintf("read folder %q rows", name), err)
	}
	// In key order, so by ascending UID (big-endian in the key).
	st.Rows = model.StatusRowsOf(rows...)
	return st, meta, nil
}

// folderMeta reads the meta of folder name from r: found is false (and
// the meta zero but for its name) when there is none.
func (s *Store) folderMeta(r pebble.Reader, name string) (meta FolderMeta, found bool, err error) {
	v, closer, err := r.Get(folderKey(name))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return FolderMeta{Name: name}, false, nil
	case err != nil:
		return FolderMeta{}, false, s.readError(fmt.Sprintf("read folder %q meta", name), err)
	}
	defer closer.Close()
	meta, err = decodeFolderMeta(name, v)
	if err != nil {
		return FolderMeta{}, false, fmt.Errorf("journal %s: %w", s.dir, err)
	}
	return meta, true, nil
}

// Folders returns the meta of every folder the status store knows, sorted
// by name (byte order).
func (s *Store) Folders() ([]FolderMeta, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixFolder), UpperBound: prefixUpperBound(prefixFolder)})
	if err != nil {
		return nil, s.readError("folders", err)
	}
	defer it.Close()
	var out []FolderMeta
	for ok := it.First(); ok; ok = it.Next() {
		name := string(it.Key()[len(prefixFolder):])
		fm, err := decodeFolderMeta(name, it.Value())
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", s.dir, err)
		}
		out = append(out, fm)
	}
	if err := it.Error(); err != nil {
		return nil, s.readError("folders", err)
	}
	return out, nil
}

// namedRow is a status row's UID and key, as a done record produced them.
type namedRow struct {
	uid uint32
	key string
}

// seekEach reads the values at keys (in ascending byte order; repeats
// allowed) from r through one iterator, which goes on from where the
// last key was found instead of seeking each key afresh as Get would, and
// calls found with the index in keys and the value of each key present.
// The value is valid during the call only. A plan or a checkpoint that
// touches 100,000 rows of a folder reads them in one pass this way: as
// many Gets, each finding its block again, cost seconds.
func (s *Store) seekEach(r pebble.Reader, what string, keys [][]byte, found func(i int, value []byte) error) error {
	if len(keys) == 0 {
		return nil
	}
	last := keys[len(keys)-1]
	upper := append(append(make([]byte, 0, len(last)+1), last...), 0) // the first key after last
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: keys[0], UpperBound: upper})
	if err != nil {
		return s.readError(what, err)
	}
	valid := it.First()
	for i, want := range keys {
		if valid && bytes.Compare(it.Key(), want) < 0 {
			valid = it.SeekGE(want)
		}
		if !valid || !bytes.Equal(it.Key(), want) {
			continue
		}
		if err := found(i, it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return s.readError(what, err)
	}
	if err := it.Close(); err != nil {
		return s.readError(what, err)
	}
	return nil
}

// storedRowsNamed reads from r the stored rows of folder's uids (in
// ascending order, repeats allowed) with dec, and calls found with the
// index in uids, key and naming record (rowDecoder.named) of each row
// there; a row that cannot be read is left out, as if there were none.
func (s *Store) storedRowsNamed(r pebble.Reader, dec *rowDecoder, folder string, uids []uint32, found func(i int, key string, named uint64)) error {
	keys := make([][]byte, len(uids))
	for i, uid := range uids {
		keys[i] = statusKey(folder, uid)
	}
	return s.seekEach(r, fmt.Sprintf("read folder %q rows", folder), keys, func(i int, v []byte) error {
		if key, named, ok := dec.named(v); ok {
			found(i, key, named)
		}
		return nil
	})
}

// rowLinks returns, for each of ups, the naming record of its folder's
// stored row for its UID when that row is for the same key (0
// otherwise), read in one pass per folder; need(i) false skips ups[i].
func (s *Store) rowLinks(ups []FolderRow, need func(i int) bool) ([]uint64, error) {
	var idx []int
	for i := range ups {
		if need(i) {
			idx = append(idx, i)
		}
	}
	links := make([]uint64, len(ups))
	if len(idx) == 0 {
		return links, nil
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := strings.Compare(ups[a].Folder, ups[b].Folder); c != 0 {
			return c
		}
		return cmp.Compare(ups[a].Row.UID, ups[b].Row.UID)
	})
	dec := newRowDecoder()
	for start := 0; start < len(idx); {
		folder := ups[idx[start]].Folder
		end := start
		for end < len(idx) && ups[idx[end]].Folder == folder {
			end++
		}
		group := idx[start:end]
		uids := make([]uint32, len(group))
		for j, i := range group {
			uids[j] = ups[i].Row.UID
		}
		err := s.storedRowsNamed(s.db, dec, folder, uids, func(j int, key string, named uint64) {
			if u := ups[group[j]]; key == u.Row.Key {
				links[group[j]] = named
			}
		})
		if err != nil {
			return nil, err
		}
		start = end
	}
	return links, nil
}

// MessageNames returns what the journal recorded of the messages of
// folder's status rows uids (Message-ID, subject, sender, date): the name
// in the done record of the download or upload that made each row, which
// the row points at. Rows made otherwise (paired, adopted, taken over),
// rows whose record a `journal compact` removed, and UIDs without a row
// are left out: the caller reads those messages' headers instead.
func (s *Store) MessageNames(folder string, uids []uint32) (map[uint32]MsgInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	snap := s.db.NewSnapshot()
	defer snap.Close()
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	// The rows first, in UID order; then the records they point at, in
	// the order of their sequence numbers: two passes, no random reads.
	type naming struct {
		uid uint32
		key string
		seq uint64
	}
	var links []naming
	err := s.storedRowsNamed(snap, newRowDecoder(), folder, sorted, func(i int, key string, seq uint64) {
		if seq != 0 {
			links = append(links, naming{sorted[i], key, seq})
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(links, func(a, b naming) int { return cmp.Compare(a.seq, b.seq) })
	keys := make([][]byte, len(links))
	for i, l := range links {
		keys[i] = journalKey(l.seq)
	}
	names := make(map[uint32]MsgInfo, len(links))
	err = s.seekEach(snap, "read the records naming folder "+strconv.Quote(folder)+"'s messages", keys, func(i int, v []byte) error {
		l := links[i]
		rec, err := decodeRecord(l.seq, v)
		if err != nil {
			return nil // a damaged record names nothing; `journal check` reports it
		}
		if r := rec.Result; rec.Kind == KindDone && r != nil && r.Msg != nil && r.UID == l.uid && r.Key == l.key {
			names[l.uid] = *r.Msg
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}
