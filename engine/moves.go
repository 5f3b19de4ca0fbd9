package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
)

// localScan is a local folder opened and scanned at the start of a run,
// with the moves made into it (moveIn).
type localScan struct {
	lf    adapters.LocalFolder
	msgs  []model.LocalMsg
	moved int        // moves carried out
	from  []string   // the folders moves were carried out from
	moves []model.Op // in a dry run: the moves that would be made
	gone  bool       // the folder vanished since the listing
	err   error
	// stamp is the folder as the scan saw it (stampOK: trusted), for the
	// no-change fast path (quiet.go).
	stamp   adapters.Stamp
	stampOK bool
}

// localScanners bounds how many local folders are scanned at once.
const localScanners = 4

// scanLocal opens and scans every local folder of folders, then mirrors on
// the server the moves a mail client made between them (moveIn), folder by
// folder, before any folder is synced: were the folders synced first, the
// one a message left could expunge it on the server before the one it
// arrived in moved it, and the message would be uploaded again. known
// (the status's folders) tells each scan how many messages to expect.
func (a *Account) scanLocal(ctx context.Context, run uint64, folders []string, exists map[string]bool,
	pending map[string][]journal.Intent, known []journal.FolderMeta, early *earlyScans) map[string]*localScan {
	expected := map[string]int{}
	for _, k := range known {
		expected[k.Name] = int(k.Messages)
	}
	scans := map[string]*localScan{}
	var names, left []string
	for _, n := range folders {
		if exists[n] {
			names = append(names, n)
			if sc := early.take(n); sc != nil {
				scans[n] = sc
			} else {
				scans[n] = &localScan{}
				left = append(left, n)
			}
		}
	}
	parallel(len(left), localScanners, func(i int) {
		*scans[left[i]] = a.scanFolder(ctx, left[i], expected[left[i]])
	})
	for _, n := range names {
		if scans[n].gone {
			delete(scans, n) // gone since the listing: synced as missing
		}
	}
	if a.folders != nil {
		a.folders.scans = scans
	}
	for _, n := range names {
		sc := scans[n]
		if sc == nil || sc.err != nil {
			continue
		}
		sc.moved, sc.from, sc.moves, sc.err = a.moveIn(ctx, run, n, sc.lf, sc.msgs, pending[n])
		if sc.err != nil {
			sc.err = fmt.Errorf("mirror local moves on the server: %w", sc.err)
		}
	}
	return scans
}

// scanFolder opens and scans the local folder name (expected: the messages
// the journal last recorded there, 0 if unknown).
func (a *Account) scanFolder(ctx context.Context, name string, expected int) localScan {
	var sc localScan
	lf, err := a.Local.OpenFolder(ctx, name)
	if errors.Is(err, adapters.ErrNoFolder) {
		sc.gone = true
		return sc
	}
	if err != nil {
		sc.err = fmt.Errorf("open local folder: %w", err)
		return sc
	}
	sc.lf = lf
	if s, ok := lf.(adapters.ScanSizer); ok && expected > 0 {
		s.ExpectMessages(expected)
	}
	if sc.msgs, err = lf.Scan(ctx); err != nil {
		sc.err = fmt.Errorf("scan local folder: %w", err)
	}
	if ss, ok := lf.(adapters.ScanStamper); ok && sc.err == nil {
		sc.stamp, sc.stampOK = ss.ScanStamp()
	}
	return sc
}

// earlyScans are the scans of the local folders that the journal and the
// local stamps alone show to have work (localWork), started before the
// server is asked for its folders and made while it lists them: a large
// folder's scan (0.17 s for 100,000 files) then overlaps the listing (2 s
// for the same folder after changes on the server) instead of following
// it. A scan is a snapshot of the folder whenever it is made: nothing the
// run does locally comes before scanLocal, and a change another program
// makes after either scan is found by the verification, as before. Not
// at a first sync, whose scans would be held beside the listings of every
// folder at the run's memory peak; nor for more than localWork's bound.
type earlyScans struct {
	done chan struct{}
	// scans by folder: the scans are made behind these pointers until
	// done is closed; the map itself is read and emptied by take alone.
	scans map[string]*localScan
}

// scanEarly starts the early scans of the local folders look shows work in.
func (a *Account) scanEarly(ctx context.Context, look localLook) *earlyScans {
	l := look()
	if l.first || len(l.work) == 0 {
		return nil
	}
	e := &earlyScans{done: make(chan struct{}), scans: map[string]*localScan{}}
	scans := make([]*localScan, len(l.work)) // the goroutine's own: take empties the map
	for i, m := range l.work {
		scans[i] = &localScan{}
		e.scans[m.Name] = scans[i]
	}
	go func() {
		defer close(e.done)
		parallel(len(l.work), localScanners, func(i int) {
			*scans[i] = a.scanFolder(ctx, l.work[i].Name, int(l.work[i].Messages))
		})
	}()
	return e
}

// take returns the early scan of name once made, or nil: none was started,
// or it found nothing to use (the folder gone or unreadable then: scanned
// again). Each is taken once (scanLocal's goroutine alone calls it).
func (e *earlyScans) take(name string) *localScan {
	if e == nil {
		return nil
	}
	sc := e.scans[name]
	if sc == nil {
		return nil
	}
	delete(e.scans, name)
	<-e.done
	if sc.gone || sc.err != nil {
		return nil
	}
	return sc
}

// wait returns once the early scans are made (a run that ends before
// scanLocal leaves none running).
func (e *earlyScans) wait() {
	if e != nil {
		<-e.done
	}
}

// folderIndex is what one run knows of the account's folders beyond the
// one being synced: the server's folder list and the local folders by the
// FMD5 their file names carry. Local moves between folders are found with
// it.
type folderIndex struct {
	local  []string
	remote map[string]model.RemoteFolderStatus
	scans  map[string]*localScan // the local folders of this run, scanned

	once   sync.Once
	byFMD5 map[string]string
	err    error
}

// folderForFMD5 names the local folder whose file names carry fmd5, or "".
// The first call opens every local folder once to learn their FMD5s.
func (x *folderIndex) folderForFMD5(ctx context.Context, local adapters.Local, fmd5 string) (string, error) {
	x.once.Do(func() {
		x.byFMD5 = make(map[string]string, len(x.local))
		for _, name := range x.local {
			lf, err := local.OpenFolder(ctx, name)
			if errors.Is(err, adapters.ErrNoFolder) {
				continue
			}
			if err != nil {
				x.err = fmt.Errorf("open local folder %s: %w", name, err)
				return
			}
			x.byFMD5[lf.FMD5()] = name
		}
	})
	return x.byFMD5[fmd5], x.err
}

// moveIn mirrors on the server the moves a mail client made locally into
// folder name: a file that arrived here from folder A still carries A's
// FMD5 and its UID n there. When A's status pairs n with that very file,
// the message is moved on the server (UID MOVE from A to this folder)
// instead of being uploaded here and expunged from A: no body crosses the
// network again, flags stay, no duplicate. The status row A/n becomes
// this folder's row under the new UID, with A's row flags as the common
// ancestor of later changes, and the file gets the new UID and this
// folder's FMD5, so the plan that follows finds the message paired.
//
// It runs before the folder is selected (it needs its own connection to A)
// and only when the server can report the new UIDs (UIDPLUS); otherwise,
// or when anything does not line up, the ordinary plan uploads the file
// and expunges it from A: slower, never wrong. Files that an interrupted
// run was already moving are left to Recover. In a dry run it returns the
// moves it would make without making them.
func (a *Account) moveIn(ctx context.Context, run uint64, name string, lf adapters.LocalFolder, local []model.LocalMsg,
	pending []journal.Intent) (moved int, from []string, planned []model.Op, err error) {
	x := a.folders
	if x == nil || lf == nil {
		return 0, nil, nil, nil
	}
	dest, ok := x.remote[name]
	if !ok || a.Planner.RemoteReadOnly || a.Planner.LocalReadOnly {
		return 0, nil, nil, nil
	}
	busy := map[string]bool{}
	for _, in := range pending {
		busy[in.Op.Key] = true
	}
	bySource := map[string][]model.LocalMsg{}
	for _, m := range local {
		if m.FromUID == 0 || m.FMD5 == "" || m.FMD5 == lf.FMD5() || busy[m.Key] {
			continue
		}
		source, err := x.folderForFMD5(ctx, a.Local, m.FMD5)
		if err != nil {
			return 0, nil, nil, err
		}
		if source != "" && source != name {
			bySource[source] = append(bySource[source], m)
		}
	}
	if len(bySource) == 0 {
		return 0, nil, nil, nil
	}
	_, destMeta, err := a.Journal.FolderStatus(name)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read status: %w", err)
	}
	if destMeta.UIDValidity != 0 && destMeta.UIDValidity != dest.UIDValidity {
		return 0, nil, nil, nil // re-paired by identity instead (rebase)
	}
	sources := make([]string, 0, len(bySource))
	for s := range bySource {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	for _, source := range sources {
		ops, srcMeta, err := a.planMovesFrom(source, name, dest, bySource[source])
		if err != nil {
			return moved, from, planned, err
		}
		if len(ops) == 0 {
			continue
		}
		planned = append(planned, ops...)
		if a.DryRun {
			continue
		}
		n, err := a.moveFrom(ctx, run, source, name, lf, srcMeta, destMeta.UIDValidity, ops)
		moved += n
		if n > 0 {
			from = append(from, source)
		}
		if err != nil {
			return moved, from, planned, err
		}
	}
	return moved, from, planned, nil
}

// planMovesFrom keeps the candidates whose UID in folder from is paired,
// in from's status, with the same file (the message the file was), and
// that are no longer in from (a move, not a copy: a copy is uploaded). It
// returns from's meta in the journal too (moveFrom's).
func (a *Account) planMovesFrom(from, to string, dest model.RemoteFolderStatus, cands []model.LocalMsg) ([]model.Op, journal.FolderMeta, error) {
	var meta journal.FolderMeta
	src, ok := a.folders.remote[from]
	scan := a.folders.scans[from]
	if !ok || scan == nil || scan.err != nil {
		return nil, meta, nil // not synced in this run: cannot tell a move from a copy
	}
	left := make(map[string]bool, len(scan.msgs))
	for _, m := range scan.msgs {
		left[m.Key] = true
	}
	st, meta, err := a.Journal.FolderStatus(from)
	if err != nil {
		return nil, meta, fmt.Errorf("read status of %s: %w", from, err)
	}
	if meta.UIDValidity != src.UIDValidity {
		return nil, meta, nil
	}
	var ops []model.Op
	for _, m := range cands {
		row, ok := st.Rows.Get(m.FromUID)
		if !ok || row.Key != m.Key || left[m.Key] {
			continue // not that message, or a copy: the original is still there
		}
		ops = append(ops, model.Op{Kind: model.OpMoveRemote, Folder: to, Key: m.Key, Flags: row.Flags,
			From: from, FromUID: m.FromUID, MinUID: dest.UIDNext,
			Reason: "moved here from " + from + " by a mail client: moved on the server too, not uploaded again"})
	}
	return ops, meta, nil
}

// moveFrom journals and carries out the moves ops from folder from into
// folder to. srcMeta is from's meta in the journal (planMovesFrom's);
// destValidity is the UIDVALIDITY the status records for to (0: never
// synced).
func (a *Account) moveFrom(ctx context.Context, run uint64, from, to string, lf adapters.LocalFolder, srcMeta journal.FolderMeta, destValidity uint32, ops []model.Op) (int, error) {
	// Selected with the changes since the status's HIGHESTMODSEQ behind
	// the SELECT where the server can (one round trip): a message not
	// among them carries its status row's flags. Another UIDVALIDITY
	// than the status's: no move (the plans re-pair the folder).
	rf, changes, err := a.openListing(ctx, from, false, srcMeta.HighestModSeq, false)
	if err != nil {
		return 0, fmt.Errorf("select %s on server to move messages out of it: %w", from, err)
	}
	if rf.Status().UIDValidity != srcMeta.UIDValidity {
		_ = rf.Close()
		return 0, nil
	}
	seqs, err := a.Journal.AppendIntents(run, ops)
	if err != nil {
		_ = rf.Close()
		return 0, fmt.Errorf("journal intents: %w", err)
	}
	var changed map[uint32]model.Flags
	if changes != nil {
		changed = make(map[uint32]model.Flags, len(changes.Changed))
		for _, m := range changes.Changed {
			changed[m.UID] = m.Flags
		}
	}
	uids := make([]uint32, len(ops))
	var unmark []uint32
	for i, op := range ops {
		uids[i] = op.FromUID
		if op.Flags&model.Deleted != 0 {
			continue
		}
		if f, ok := changed[op.FromUID]; changes != nil && (!ok || f&model.Deleted == 0) {
			continue // not marked on the server: nothing to clear
		}
		unmark = append(unmark, op.FromUID)
	}
	// A message marked \Deleted on the server but not in the status (an
	// expunge of ours interrupted between its UID STORE and its UID
	// EXPUNGE, or another client's mark) would take the mark along into
	// the destination, where the next sync would read it as a change made
	// there and mark the moved file deleted too. The user kept the
	// message by moving it: the mark goes first. (A crash after this
	// leaves the message unmarked where it was, as before the expunge.)
	if len(unmark) > 0 {
		if err := rf.StoreFlags(ctx, unmark, 0, model.Deleted); err != nil {
			_ = rf.Close()
			return 0, fmt.Errorf("clear \\Deleted in %s on the server before moving messages out of it: %w", from, err)
		}
	}
	newUIDs, validity, moveErr := rf.Move(ctx, uids, to)
	_ = rf.Close()
	cp := journal.Checkpoint{}
	if errors.Is(moveErr, adapters.ErrUnsupported) {
		for _, s := range seqs {
			cp.Results = append(cp.Results, journal.OpResult{Seq: s, Skipped: true,
				Err: "the server cannot report moved UIDs (no UIDPLUS): uploaded and expunged instead"})
		}
		return 0, a.Journal.Checkpoint(cp)
	}
	record := destValidity == 0 || destValidity == validity
	moved := 0
	for i, op := range ops {
		uid, ok := newUIDs[op.FromUID]
		if !ok {
			if moveErr == nil {
				cp.Results = append(cp.Results, journal.OpResult{Seq: seqs[i], Skipped: true,
					Err: "no longer in " + from + " on the server: planned again"})
			}
			continue // after an error: left pending for Recover
		}
		if err := lf.SetUID(ctx, op.Key, uid); err != nil && !errors.Is(err, adapters.ErrNoMessage) {
			return moved, fmt.Errorf("record uid %d of moved message in %q: %w", uid, op.Key, err)
		}
		cp.Results = append(cp.Results, journal.OpResult{Seq: seqs[i], UID: uid, Key: op.Key})
		cp.Delete = append(cp.Delete, journal.FolderUID{Folder: from, UID: op.FromUID})
		if record {
			cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: to, Row: model.StatusRow{UID: uid, Key: op.Key, Flags: op.Flags}})
		}
		moved++
	}
	if moved > 0 {
		if err := lf.Flush(ctx); err != nil {
			return 0, fmt.Errorf("flush local folder %q: %w", to, err)
		}
	}
	if record && destValidity == 0 && len(cp.Upsert) > 0 {
		cp.Folders = []journal.FolderMeta{{Name: to, UIDValidity: validity}}
	}
	if len(cp.Results) > 0 {
		if err := a.Journal.Checkpoint(cp); err != nil {
			return moved, fmt.Errorf("journal checkpoint: %w", err)
		}
	}
	if moveErr != nil {
		return moved, fmt.Errorf("move from %s on the server: %w", from, moveErr)
	}
	a.Log.Info().Str("folder", to).Str("from", from).Int("moved", moved).Msg("local moves mirrored on the server")
	return moved, nil
}

// withoutMovedUploads drops, from a dry run's plan, the uploads of the
// files that the moves at its head would move instead.
func withoutMovedUploads(ops []model.Op) []model.Op {
	moved := map[string]bool{}
	for _, op := range ops {
		if op.Kind == model.OpMoveRemote {
			moved[op.Key] = true
		}
	}
	out := ops[:0]
	for _, op := range ops {
		if op.Kind == model.OpUpload && moved[op.Key] {
			continue
		}
		out = append(out, op)
	}
	return out
}

// matchServerMoves finds the messages the server moved between folders
// since the last sync: a message gone from folder A (so A's plan deletes
// its local file) and new in folder B (so B's plan downloads it) in the
// same run. Such a pair becomes one OpMoveLocal in B's plan: the file is
// renamed from A into B, not downloaded again. The plans know sizes: a
// pair is made at once where exactly one deletion and one download of the
// account have that size (in wire form). Where several have one size (a
// whole folder moved often holds messages of one size: notifications of
// one template), they are paired by Message-ID (pairByMessageID): one
// FETCH of the downloads' Message-IDs per folder, the files' own headers
// read. The executor confirms every pair by Message-ID or content before
// renaming, and otherwise downloads and deletes as planned.
func (a *Account) matchServerMoves(ctx context.Context, works []*folderWork) {
	executable := func(w *folderWork) bool {
		return w.fr.Err == nil && w.fr.Plan.Refused == "" && w.p.LocalFolder != nil && !a.Planner.LocalReadOnly
	}
	fetches := map[int64][]moveRef{}
	for _, w := range works {
		if !executable(w) || !w.in.Remote.Exists {
			continue
		}
		for i, op := range w.fr.Plan.Ops {
			if op.Kind == model.OpFetch && op.Size > 0 {
				fetches[op.Size] = append(fetches[op.Size], moveRef{w, i})
			}
		}
	}
	if len(fetches) == 0 {
		return
	}
	deletes := map[int64][]moveRef{}
	for _, w := range works {
		if !executable(w) {
			continue
		}
		for i, op := range w.fr.Plan.Ops {
			if op.Kind != model.OpDeleteLocal {
				continue
			}
			r, size, _, err := w.p.LocalFolder.OpenForUpload(ctx, op.Key)
			if err != nil {
				continue // gone or unreadable: deleted as planned
			}
			r.Close()
			if len(fetches[size]) > 0 {
				deletes[size] = append(deletes[size], moveRef{w, i})
			}
		}
	}
	drop := map[*folderWork]map[int]bool{}
	pair := func(d, f moveRef) {
		if d.w == f.w {
			return // gone and new in one folder: not a move
		}
		del, fetch := d.w.fr.Plan.Ops[d.i], f.w.fr.Plan.Ops[f.i]
		f.w.fr.Plan.Ops[f.i] = model.Op{Kind: model.OpMoveLocal, Folder: f.w.fr.Name, UID: fetch.UID, Key: del.Key,
			Flags: fetch.Flags, Size: fetch.Size, From: d.w.fr.Name, FromUID: del.UID,
			Reason: "moved on the server from " + d.w.fr.Name + ": the local file is moved too, not downloaded again"}
		if len(d.w.fr.Msgs) == len(d.w.fr.Plan.Ops) && len(f.w.fr.Msgs) == len(f.w.fr.Plan.Ops) {
			f.w.fr.Msgs[f.i] = d.w.fr.Msgs[d.i] // the same message
		}
		if drop[d.w] == nil {
			drop[d.w] = map[int]bool{}
		}
		drop[d.w][d.i] = true
		a.Log.Debug().Str("from", d.w.fr.Name).Str("folder", f.w.fr.Name).Uint32("uid", fetch.UID).Msg("server move candidate")
	}
	var ambiguous []int64
	for size, ds := range deletes {
		if fs := fetches[size]; len(ds) == 1 && len(fs) == 1 {
			pair(ds[0], fs[0])
		} else {
			ambiguous = append(ambiguous, size)
		}
	}
	if len(ambiguous) > 0 {
		sort.Slice(ambiguous, func(i, j int) bool { return ambiguous[i] < ambiguous[j] })
		a.pairByMessageID(ctx, works, ambiguous, deletes, fetches, pair)
	}
	for w, idx := range drop {
		w.fr.Plan.Ops, w.fr.Msgs = dropOps(w.fr.Plan.Ops, w.fr.Msgs, idx)
		w.movedOut += len(idx)
	}
	for _, w := range works {
		moveLocalFirst(&w.fr)
	}
}

// moveRef is an operation of a folder's plan: w.fr.Plan.Ops[i].
type moveRef struct {
	w *folderWork
	i int
}

// pairByMessageID pairs, for each of sizes, the deletions and downloads
// of that size (several of either) whose Message-ID is the same and found
// once among each: a message moved on the server keeps its Message-ID.
// Messages without one, or whose Message-ID is on several of them, are
// left to be downloaded and deleted. The downloads' Message-IDs are asked
// of the server, one FETCH per folder. A folder the plan closed is opened
// for it on a free connection, or, when every connection is held by a
// folder kept selected for its execution (maxconnections = 1, the
// default, holds one), on the connection of one of those, which gives
// its hold up (its execution selects it again: waiting for a held
// connection would never end). A folder opened here is held for its
// execution in turn when it could have been at its plan's end, else
// closed again. Any failure leaves the downloads as they are: pairing
// saves transfers, it is never needed.
func (a *Account) pairByMessageID(ctx context.Context, works []*folderWork, sizes []int64,
	deletes, fetches map[int64][]moveRef, pair func(d, f moveRef)) {
	// Only what has a counterpart of its size in another folder: a
	// message expunged and another of its size new in one folder (common
	// in a large folder of small messages) is no move.
	deleteFolder, fetchFolder := onlyFolders(deletes, sizes), onlyFolders(fetches, sizes)
	elsewhere := func(r moveRef, only *folderWork) bool { return only == nil || only != r.w }
	byFolder := map[*folderWork][]uint32{}
	for _, size := range sizes {
		for _, f := range fetches[size] {
			if elsewhere(f, deleteFolder[size]) {
				byFolder[f.w] = append(byFolder[f.w], f.w.fr.Plan.Ops[f.i].UID)
			}
		}
	}
	if len(byFolder) == 0 {
		return
	}
	held := 0
	for _, w := range works {
		if w.held {
			held++
		}
	}
	remoteIDs := map[*folderWork]map[uint32]string{}
	for _, w := range works { // in the plans' order: the same choices each run
		uids := byFolder[w]
		if len(uids) == 0 {
			continue
		}
		opened := false
		if w.p.RemoteFolder == nil {
			if held >= a.connections() {
				held -= a.unholdOne(works)
			}
			if err := a.openForPlan(ctx, w.p, w.in.Remote.Status); err != nil {
				w.log.Debug().Err(err).Msg("could not open the server folder to read Message-IDs: same-size server moves downloaded")
				a.closeOpened(w)
				continue
			}
			opened = true
		}
		ids, err := w.p.RemoteFolder.MessageIDs(ctx, uids)
		if opened {
			if err == nil && a.mayHold(w) && a.holdsConnections() {
				w.held = true
				held++
			} else {
				a.closeOpened(w) // before the next folder needs a connection
			}
		}
		if err != nil {
			w.log.Debug().Err(err).Msg("could not read Message-IDs: same-size server moves downloaded")
			continue
		}
		remoteIDs[w] = ids
	}
	for _, size := range sizes {
		fetchByID := map[string][]moveRef{}
		for _, f := range fetches[size] {
			if id := remoteIDs[f.w][f.w.fr.Plan.Ops[f.i].UID]; id != "" {
				fetchByID[id] = append(fetchByID[id], f)
			}
		}
		if len(fetchByID) == 0 {
			continue
		}
		deleteByID := map[string][]moveRef{}
		var order []string
		for _, d := range deletes[size] {
			if !elsewhere(d, fetchFolder[size]) {
				continue
			}
			id := a.localMessageID(ctx, d)
			if id == "" || len(fetchByID[id]) == 0 {
				continue
			}
			if len(deleteByID[id]) == 0 {
				order = append(order, id)
			}
			deleteByID[id] = append(deleteByID[id], d)
		}
		for _, id := range order {
			if ds, fs := deleteByID[id], fetchByID[id]; len(ds) == 1 && len(fs) == 1 {
				pair(ds[0], fs[0])
			}
		}
	}
}

// onlyFolders gives, for each of sizes, the one folder all of refs[size]
// are in, or nil when they are in several.
func onlyFolders(refs map[int64][]moveRef, sizes []int64) map[int64]*folderWork {
	only := make(map[int64]*folderWork, len(sizes))
	for _, size := range sizes {
		var w *folderWork
		for i, r := range refs[size] {
			if i == 0 {
				w = r.w
			} else if r.w != w {
				w = nil
				break
			}
		}
		only[size] = w
	}
	return only
}

// unholdOne closes the server folder of the first folder held for its
// execution, freeing its connection; its execution selects it again. It
// returns how many holds it ended (0 when none is held).
func (a *Account) unholdOne(works []*folderWork) int {
	for _, h := range works {
		if h.held {
			a.closeOpened(h)
			h.held = false
			h.log.Debug().Msg("hold given up: its connection reads Message-IDs in another folder")
			return 1
		}
	}
	return 0
}

// closeOpened closes w's server folder (the execution selects it again);
// a failure to close is logged unless the folder has failed already.
func (a *Account) closeOpened(w *folderWork) {
	if w.p.RemoteFolder == nil {
		return
	}
	if err := w.p.RemoteFolder.Close(); err != nil && w.fr.Err == nil {
		w.log.Debug().Err(err).Msg("closing remote folder")
	}
	w.p.RemoteFolder = nil
}

// mayHold reports whether w, its server folder open, may keep it
// selected for its execution (executeFolder then selects it no more):
// its plan has work on the server side, nothing refused it, and it is no
// dry run. planFolder asks it at a plan's end, pairByMessageID of a
// folder it opened; each also asks whether holding can block a folder
// still to plan (holdsConnections).
func (a *Account) mayHold(w *folderWork) bool {
	fr := &w.fr
	return w.p.RemoteFolder != nil && fr.Err == nil && fr.Plan.Refused == "" && !w.guardLater && !a.DryRun &&
		len(fr.Plan.Ops) > 0
}

// holdsConnections reports whether folders may be held at all: the server
// gives as many connections as maxconnections runs folders at once (with
// fewer, a held one could leave a running plan waiting forever).
func (a *Account) holdsConnections() bool { return a.connections() >= max(a.MaxConnections, 1) }

// localMessageID is the Message-ID of the file a deletion would remove,
// trimmed as RemoteFolder.MessageIDs gives it, or "".
func (a *Account) localMessageID(ctx context.Context, d moveRef) string {
	lf := d.w.p.LocalFolder
	hr, _ := lf.(adapters.HeaderReader)
	h, err := localHeader(ctx, lf, hr, d.w.fr.Plan.Ops[d.i].Key)
	if err != nil {
		return ""
	}
	return adapters.TrimMessageID(ParseMsgInfo(h).MessageID)
}

// dropOps removes the operations at the indexes idx, and the message
// descriptions beside them when there are.
func dropOps(ops []model.Op, msgs []journal.MsgInfo, idx map[int]bool) ([]model.Op, []journal.MsgInfo) {
	keepMsgs := len(msgs) == len(ops)
	var outOps []model.Op
	var outMsgs []journal.MsgInfo
	for i := range ops {
		if idx[i] {
			continue
		}
		outOps = append(outOps, ops[i])
		if keepMsgs {
			outMsgs = append(outMsgs, msgs[i])
		}
	}
	if !keepMsgs {
		outMsgs = msgs
	}
	return outOps, outMsgs
}

// moveLocalFirst puts a plan's OpMoveLocal operations first (where the
// downloads they replace were), so that they run as one group before the
// downloads.
func moveLocalFirst(fr *FolderReport) {
	ops := fr.Plan.Ops
	n := 0
	for _, op := range ops {
		if op.Kind == model.OpMoveLocal {
			n++
		}
	}
	if n == 0 {
		return
	}
	withMsgs := len(fr.Msgs) == len(ops)
	outOps := make([]model.Op, 0, len(ops))
	var outMsgs []journal.MsgInfo
	for pass := 0; pass < 2; pass++ {
		for i, op := range ops {
			if (op.Kind == model.OpMoveLocal) == (pass == 0) {
				outOps = append(outOps, op)
				if withMsgs {
					outMsgs = append(outMsgs, fr.Msgs[i])
				}
			}
		}
	}
	fr.Plan.Ops = outOps
	if withMsgs {
		fr.Msgs = outMsgs
	}
}
