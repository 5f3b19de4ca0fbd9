package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
)

// Identities names the messages of a folder pair by what they are, for a
// folder whose UIDs cannot be trusted (see planner.Identities): equal
// strings on both sides mean the same message.
//
// A message with a Message-ID is named by it and its size in wire form
// (CRLF): one header fetch for the server, one header read per local
// file. Messages without a Message-ID, or whose name is shared by another
// message on their side, are named by a SHA-256 of their wire bytes
// instead; only server messages of a size that such a local message has
// are downloaded to be hashed. A message that cannot be read is left
// unnamed ("" : never paired, so copied rather than lost).
func Identities(ctx context.Context, p *Pair, remote []model.RemoteMsg, local []model.LocalMsg) (map[uint32]string, map[string]string, error) {
	rIDs := make(map[uint32]string, len(remote))
	lIDs := make(map[string]string, len(local))

	uids := make([]uint32, len(remote))
	for i, m := range remote {
		uids[i] = m.UID
	}
	mids, err := p.RemoteFolder.MessageIDs(ctx, uids)
	if err != nil {
		return nil, nil, fmt.Errorf("read the Message-IDs of %q on the server: %w", p.Name, err)
	}
	for _, m := range remote {
		if id := mids[m.UID]; id != "" {
			rIDs[m.UID] = byMessageID(id, m.Size)
		}
	}
	localSize := make(map[string]int64, len(local))
	for _, m := range local {
		r, size, _, err := p.LocalFolder.OpenForUpload(ctx, m.Key)
		if errors.Is(err, adapters.ErrNoMessage) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read local message %q: %w", m.Key, err)
		}
		id := adapters.TrimMessageID(messageID(r))
		r.Close()
		localSize[m.Key] = size
		if id != "" {
			lIDs[m.Key] = byMessageID(id, size)
		}
	}

	// Hash what the Message-ID does not tell apart.
	rCount, lCount := map[string]int{}, map[string]int{}
	for _, id := range rIDs {
		rCount[id]++
	}
	for _, id := range lIDs {
		lCount[id]++
	}
	wantSize := map[int64]bool{}
	for _, m := range local {
		size, ok := localSize[m.Key]
		if !ok {
			continue
		}
		id := lIDs[m.Key]
		if id != "" && lCount[id] == 1 && rCount[id] <= 1 {
			continue
		}
		exact, _, err := localDigests(ctx, p, m.Key)
		if errors.Is(err, adapters.ErrNoMessage) {
			delete(lIDs, m.Key)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		lIDs[m.Key] = byContent(exact)
		wantSize[size] = true
	}
	var fetch []uint32
	for _, m := range remote {
		id := rIDs[m.UID]
		if (id == "" || rCount[id] > 1 || lCount[id] > 1) && wantSize[m.Size] {
			fetch = append(fetch, m.UID)
		} else if id != "" && (rCount[id] > 1 || lCount[id] > 1) {
			delete(rIDs, m.UID) // ambiguous, and no local message to hash against
		}
	}
	if len(fetch) > 0 {
		err := p.RemoteFolder.Fetch(ctx, fetch, func(m model.RemoteMsg, body io.Reader) error {
			h := sha256.New()
			if _, err := io.Copy(h, body); err != nil {
				return err
			}
			rIDs[m.UID] = byContent(h.Sum(nil))
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read messages of %q on the server to compare them: %w", p.Name, err)
		}
	}
	return rIDs, lIDs, nil
}

func byMessageID(id string, size int64) string {
	return "m:" + strconv.FormatInt(size, 10) + ":" + id
}

func byContent(sum []byte) string { return "h:" + hex.EncodeToString(sum) }

// rebase carries out an OpRebaseFolder and the OpPair steps that follow it
// (the messages re-paired by identity), which it returns how many of it
// consumed. The local file names get the new UIDs (and lose stale ones),
// then one checkpoint sets the old status aside and records the new
// UIDVALIDITY and the re-paired rows together. Until that checkpoint the
// status still holds the old UIDVALIDITY, so a crash anywhere before it
// makes the next run re-pair again, ignoring whatever UIDs the file names
// carry by then.
func (e *Executor) rebase(ctx context.Context, p *Pair, steps []Step, res *Result) (int, error) {
	s := steps[0]
	if p.RemoteFolder == nil || p.LocalFolder == nil {
		return 0, fmt.Errorf("rebase %q: the folder must exist on both sides", p.Name)
	}
	if uv := p.RemoteFolder.Status().UIDValidity; uv != s.Op.Validity {
		return 0, fmt.Errorf("rebase %q: the server's UIDVALIDITY is now %d, not %d as planned; sync again", p.Name, uv, s.Op.Validity)
	}
	pairs := steps[1:]
	n := 0
	for n < len(pairs) && pairs[n].Op.Kind == model.OpPair {
		n++
	}
	pairs = pairs[:n]
	newUID := make(map[string]uint32, len(pairs))
	for _, ps := range pairs {
		newUID[ps.Op.Key] = ps.Op.UID
	}
	msgs, err := p.LocalFolder.Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("scan local folder %q: %w", p.Name, err)
	}
	renamed := 0
	for _, m := range msgs {
		want := newUID[m.Key]
		fmd5OK := m.FMD5 == "" || m.FMD5 == p.LocalFolder.FMD5()
		if m.UID == want && (want == 0 || fmd5OK) {
			continue
		}
		if want == 0 && !fmd5OK {
			continue // another folder's UID: not this folder's to clear
		}
		if err := p.LocalFolder.SetUID(ctx, m.Key, want); err != nil && !errors.Is(err, adapters.ErrNoMessage) {
			return 0, fmt.Errorf("rebase %q: write uid %d into local file %q: %w", p.Name, want, m.Key, err)
		}
		renamed++
	}
	if renamed > 0 {
		if err := p.LocalFolder.Flush(ctx); err != nil {
			return 0, fmt.Errorf("flush local folder %q: %w", p.Name, err)
		}
	}
	cp := journal.Checkpoint{
		Results: []journal.OpResult{{Seq: s.Seq}},
		Folders: []journal.FolderMeta{{Name: p.Name, Deleted: true}, remoteMeta(p)},
	}
	ok := []model.Op{*s.Op}
	for _, ps := range pairs {
		cp.Results = append(cp.Results, journal.OpResult{Seq: ps.Seq, UID: ps.Op.UID, Key: ps.Op.Key})
		cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name,
			Row: model.StatusRow{UID: ps.Op.UID, Key: ps.Op.Key, Flags: ps.Op.Flags}})
		ok = append(ok, *ps.Op)
	}
	e.Log.Info().Int("repaired", len(pairs)).Int("renamed", renamed).Uint32("uidvalidity", s.Op.Validity).
		Msg("folder re-paired under a new UIDVALIDITY")
	return n, e.checkpoint(p, res, cp, ok, false)
}
