package journal

import (
	"encoding/binary"
	"errors"
	"fmt"

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

// storedRowNamed reads folder's row for uid from r with dec: its key and
// the record naming its message (rowDecoder.named); found is false when
// there is no such row or it cannot be read.
func (s *Store) storedRowNamed(r pebble.Reader, dec *rowDecoder, folder string, uid uint32) (key string, named uint64, found bool, err error) {
	v, closer, err := r.Get(statusKey(folder, uid))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, s.readError(fmt.Sprintf("read folder %q row %d", folder, uid), err)
	}
	defer closer.Close()
	key, named, found = dec.named(v)
	return key, named, found, nil
}

// rowLink returns the naming record of folder's stored row for row.UID
// when it is for the same key (0 otherwise).
func (s *Store) rowLink(dec *rowDecoder, folder string, row model.StatusRow) (uint64, error) {
	key, named, found, err := s.storedRowNamed(s.db, dec, folder, row.UID)
	if err != nil || !found || key != row.Key {
		return 0, err
	}
	return named, nil
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
	dec := newRowDecoder()
	names := make(map[uint32]MsgInfo, len(uids))
	for _, uid := range uids {
		key, seq, found, err := s.storedRowNamed(snap, dec, folder, uid)
		if err != nil {
			return nil, err
		}
		if !found || seq == 0 {
			continue
		}
		rv, rcloser, err := snap.Get(journalKey(seq))
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, s.readError(fmt.Sprintf("read record %d", seq), err)
		}
		rec, err := decodeRecord(seq, rv)
		rcloser.Close()
		if err != nil {
			continue // a damaged record names nothing; `journal check` reports it
		}
		if r := rec.Result; rec.Kind == KindDone && r != nil && r.Msg != nil && r.UID == uid && r.Key == key {
			names[uid] = *r.Msg
		}
	}
	return names, nil
}
