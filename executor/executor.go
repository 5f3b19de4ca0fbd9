package executor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
)

// Pair is one folder pair being synced: both stores, and the opened
// folders (nil until the folder exists on that side).
type Pair struct {
	Name         string
	Remote       adapters.Remote
	Local        adapters.Local
	RemoteFolder adapters.RemoteFolder
	LocalFolder  adapters.LocalFolder
	// ReleaseRemote, when set, is called at most once, from Execute's
	// goroutine, as soon as the operations left need the server folder no
	// more (the last download received, or before a tail of local renames,
	// deletions and bookkeeping): it closes RemoteFolder and sets it to
	// nil, so that its connection serves another folder while this one
	// makes its files durable and checkpoints them.
	ReleaseRemote func()
	// SurveyAfter, when set, asks for the server folder's survey by the
	// check after the sync to go with the execution's last use of the
	// server folder where the folder can: flag stores
	// (adapters.SurveyingStorer), an expunge (adapters.SurveyingExpunger),
	// a download of bodies listed (adapters.SurveyingFetcher), the upload
	// of one message (adapters.SurveyingAppender) or an upload batch with
	// the stores and an expunge (adapters.SurveyingBatchAppendStorer); one
	// round trip for both. Result.Survey then holds it.
	SurveyAfter *SurveyAfter
}

// SurveyAfter is what Pair.SurveyAfter asks for: the folder's changes
// since Since (the HIGHESTMODSEQ the plan listed), and with Leave the
// connection's LOGOUT once they are read (the run's last look at the
// server).
type SurveyAfter struct {
	Since uint64
	Leave bool
}

// Executor applies operations for one run.
type Executor struct {
	Journal *journal.Store
	Log     zerolog.Logger
	// FetchBatchMessages and FetchBatchBytes bound one durability batch of
	// downloads (defaults 500 messages, 64 MiB).
	FetchBatchMessages int
	FetchBatchBytes    int64
	// CheckpointEvery bounds how many uploads are done before a directory
	// fsync and a journal checkpoint (default 200); local renames and
	// removals go by bulkCheckpoint.
	CheckpointEvery int
	// Progress, when set, is called after each checkpoint with each kind
	// of operation it finished and how many of that kind are done so far.
	Progress func(kind model.OpKind, done int)

	held heldCheckpoint // see checkpoint
	// meta is the server folder's metadata, recorded with status rows
	// (remoteMeta); taken when the folder is known to be selected, so
	// that commits read no RemoteFolder (which ReleaseRemote takes away,
	// and which a batch's commit in the background must not touch).
	meta *journal.FolderMeta
}

// heldCheckpoint is the results of operations whose effects are durable
// but not yet recorded: the checkpoints of several groups of operations,
// merged into one synced journal write.
type heldCheckpoint struct {
	cp      journal.Checkpoint
	ok      []model.Op
	touched map[journal.FolderUID]bool // the status rows cp changes
	// flush: local files were renamed or removed for cp; the directories
	// are synced before it is committed.
	flush bool
}

// Result tallies what was done for one folder.
type Result struct {
	Done   map[model.OpKind]int
	Failed []OpError
	// Survey is the survey Pair.SurveyAfter asked for, made with the
	// folder's last use of the server; nil when it was not made.
	Survey *adapters.ChangeSurvey

	// unsettled holds the UIDs whose local flag change failed or found
	// the file gone in this run: their pair must not record the flags.
	unsettled map[uint32]bool
}

// OpError is an operation that could not be carried out.
type OpError struct {
	Op  model.Op
	Err error
}

func (e OpError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }

// Step is an operation with its journal sequence number.
type Step struct {
	Seq uint64
	// Op points into the plan's operations, which the steps share rather
	// than copy: a cold sync of 100,000 messages would otherwise hold
	// both, 10 MB each, while it builds the steps.
	Op *model.Op
	// Date is a fetch's internal date as the plan's listing had it (zero
	// when not known): with every step's date known, the download asks
	// the server for the bodies only (adapters.ListedFetcher).
	Date model.Date
}

func (e *Executor) defaults() {
	if e.FetchBatchMessages <= 0 {
		e.FetchBatchMessages = 500
	}
	if e.FetchBatchBytes <= 0 {
		e.FetchBatchBytes = 64 << 20
	}
	if e.CheckpointEvery <= 0 {
		e.CheckpointEvery = 200
	}
}

// Execute carries out steps in order, grouped by kind. It returns an error
// only when the folder cannot go on (a lost connection, a failed journal
// write); single operations that fail are listed in Result.Failed and
// recorded in the journal.
func (e *Executor) Execute(ctx context.Context, p *Pair, steps []Step) (Result, error) {
	e.defaults()
	e.noteMeta(p)
	res := Result{Done: map[model.OpKind]int{}, unsettled: map[uint32]bool{}}
	early := expungeWithStores(p, steps)
	joined := storesWithUploads(p, steps, early)
	remoteUntil := remoteNeededUntil(steps, early)
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].Op.Kind == steps[i].Op.Kind {
			j++
		}
		group := steps[i:j]
		var err error
		if i >= remoteUntil {
			e.releaseRemote(p)
		}
		if !mergesCheckpoints(steps[i].Op.Kind) {
			// It reads or writes the journal itself.
			if err := e.commitHeld(p, &res); err != nil {
				return res, err
			}
		}
		switch steps[i].Op.Kind {
		case model.OpCreateLocalFolder:
			err = e.createLocal(ctx, p, group, &res)
		case model.OpCreateRemoteFolder:
			err = e.createRemote(ctx, p, group, &res)
		case model.OpFetch:
			err = e.fetch(ctx, p, group, &res, j >= remoteUntil)
		case model.OpMoveLocal:
			err = e.moveLocal(ctx, p, group, &res)
		case model.OpUpload:
			err = e.upload(ctx, p, group, &res, joined, j >= remoteUntil || joined != nil && joined.end >= remoteUntil)
		case model.OpStoreRemote:
			if joined != nil && joined.done {
				err = e.joinedCheckpoints(p, joined, &res)
			} else if early.ok {
				err = e.storeAndExpunge(ctx, p, group, steps[early.start:early.end], &res, j >= remoteUntil)
			} else {
				err = e.storeRemote(ctx, p, group, &res, j >= remoteUntil)
			}
		case model.OpSetLocalFlags, model.OpDeleteLocal:
			err = e.localChanges(ctx, p, group, &res)
		case model.OpExpungeRemote:
			if !early.ok || i != early.start {
				err = e.expungeRemote(ctx, p, group, &res, j >= remoteUntil)
			} // else carried out with the stores
		case model.OpPair, model.OpForget:
			err = e.bookkeeping(p, group, &res)
		case model.OpRebaseFolder:
			var pairs int
			pairs, err = e.rebase(ctx, p, steps[i:], &res)
			j = i + 1 + pairs
		default:
			err = fmt.Errorf("executor: unknown operation %v", steps[i].Op)
		}
		if err != nil {
			// What was done before the error is recorded all the same.
			if cerr := e.commitHeld(p, &res); cerr != nil {
				e.Log.Warn().Err(cerr).Msg("could not record the operations done before the error; the next sync resolves them")
			}
			return res, err
		}
		if !mergesCheckpoints(steps[i].Op.Kind) {
			if err := e.commitHeld(p, &res); err != nil {
				return res, err
			}
		}
		i = j
	}
	return res, e.commitHeld(p, &res)
}

// needsRemote reports whether carrying out an operation of kind k reads
// or changes the server folder.
func needsRemote(k model.OpKind) bool {
	switch k {
	case model.OpSetLocalFlags, model.OpDeleteLocal, model.OpPair, model.OpForget, model.OpCreateLocalFolder:
		return false
	}
	return true
}

// remoteNeededUntil is the index after the last step that needs the
// server folder (0 when none does), an expunge carried out with the
// stores (early) aside.
func remoteNeededUntil(steps []Step, early stepRange) int {
	for i := len(steps) - 1; i >= 0; i-- {
		if early.ok && i >= early.start && i < early.end {
			continue
		}
		if needsRemote(steps[i].Op.Kind) {
			return i + 1
		}
	}
	return 0
}

// stepRange is steps[start:end], when ok.
type stepRange struct {
	start, end int
	ok         bool
}

// expungeWithStores finds the expunge-remote steps that can be carried out
// with the store-remote steps, in one round trip for the stores of both
// (adapters.FlagExpunger): the server folder can, there is one group of
// each kind, and only local operations come between them. Each kind's
// effects stay as they are and are checkpointed as they would have been;
// the expunge only comes before the local renames between them, which it
// does not depend on.
func expungeWithStores(p *Pair, steps []Step) stepRange {
	if _, ok := p.RemoteFolder.(adapters.FlagExpunger); !ok {
		return stepRange{}
	}
	stores, expunges := kindGroup(steps, model.OpStoreRemote), kindGroup(steps, model.OpExpungeRemote)
	if !stores.ok || !expunges.ok || stores.end > expunges.start {
		return stepRange{}
	}
	for _, s := range steps[stores.end:expunges.start] {
		if needsRemote(s.Op.Kind) {
			return stepRange{}
		}
	}
	return expunges
}

// kindGroup is the one run of steps of kind k (not ok when there is none,
// or more than one).
func kindGroup(steps []Step, k model.OpKind) stepRange {
	var r stepRange
	for i, s := range steps {
		if s.Op.Kind != k {
			continue
		}
		switch {
		case !r.ok:
			r = stepRange{start: i, end: i + 1, ok: true}
		case i == r.end:
			r.end++
		default:
			return stepRange{}
		}
	}
	return r
}

// joinedStores are the store-remote steps, and the expunge-remote steps
// carried out with them (expungeWithStores), that go with a folder's last
// upload batch in one round trip (adapters.BatchAppendStorer); done once
// they went, err then their error. Their effects are checkpointed where
// the store-remote steps' would have been: every intent of the plan was
// journaled before the first effect, and the uploads concern other
// messages than the stores.
type joinedStores struct {
	stores, expunges []Step
	done             bool
	err              error
	// end is the index in the plan's steps after the store-remote steps:
	// the batch is the folder's last use of the server when no later
	// step needs it (Execute's remoteUntil).
	end int
}

// storesWithUploads is the joinedStores of steps (nil when none can be):
// the server folder can (adapters.BatchAppendStorer), and the one group of
// uploads is followed right away by the one group of stores.
func storesWithUploads(p *Pair, steps []Step, early stepRange) *joinedStores {
	if _, ok := p.RemoteFolder.(adapters.BatchAppendStorer); !ok {
		return nil
	}
	uploads, stores := kindGroup(steps, model.OpUpload), kindGroup(steps, model.OpStoreRemote)
	if !uploads.ok || !stores.ok || stores.start != uploads.end {
		return nil
	}
	j := &joinedStores{stores: steps[stores.start:stores.end], end: stores.end}
	if early.ok {
		j.expunges = steps[early.start:early.end]
	}
	return j
}

// joinedCheckpoints records the joined store-remote and expunge-remote
// steps as storeAndExpunge does.
func (e *Executor) joinedCheckpoints(p *Pair, j *joinedStores, res *Result) error {
	if j.err != nil {
		return fmt.Errorf("store flags and expunge in %q: %w", p.Name, j.err)
	}
	if err := e.storeCheckpoint(p, j.stores, res); err != nil {
		return err
	}
	if len(j.expunges) == 0 {
		return nil
	}
	return e.expungeCheckpoint(p, j.expunges, res)
}

// noteMeta takes the selected server folder's metadata for the status
// rows' checkpoints (meta).
func (e *Executor) noteMeta(p *Pair) {
	if p.RemoteFolder != nil {
		m := remoteMeta(p)
		e.meta = &m
	}
}

// releaseRemote calls p.ReleaseRemote while the server folder is open:
// the folder is no longer needed. ReleaseRemote sets RemoteFolder to nil,
// so it is called once.
func (e *Executor) releaseRemote(p *Pair) {
	if p.ReleaseRemote != nil && p.RemoteFolder != nil {
		p.ReleaseRemote()
	}
}

// mergesCheckpoints reports whether the operations of a kind record their
// results through checkpoint only, so that they can be held and merged.
func mergesCheckpoints(k model.OpKind) bool {
	switch k {
	case model.OpFetch, model.OpUpload, model.OpStoreRemote, model.OpSetLocalFlags, model.OpDeleteLocal,
		model.OpExpungeRemote, model.OpPair, model.OpForget:
		return true
	}
	return false
}

// checkpoint records results and status changes, counting what succeeded,
// once the operations' effects are durable (local is true when local files
// were renamed or removed and their directories still need a sync). The
// checkpoints of consecutive groups of operations are held and merged, so
// that a run with a few changes of each kind makes one synced journal write
// instead of one per kind: held results are committed when they reach
// CheckpointEvery, before a checkpoint that changes a status row they
// change too (the journal applies a checkpoint's deletions before its
// upserts, not in their order), before operations that read or write the
// journal themselves, and when Execute returns. A crash while results are
// held is a crash between effects and their checkpoint, which the next
// run resolves (Recover) like any other.
func (e *Executor) checkpoint(p *Pair, res *Result, cp journal.Checkpoint, ok []model.Op, local bool) error {
	if emptyCheckpoint(cp) {
		return nil
	}
	h := &e.held
	conflict := len(cp.Folders) > 0
	for _, u := range cp.Upsert {
		conflict = conflict || h.touched[journal.FolderUID{Folder: u.Folder, UID: u.Row.UID}]
	}
	for _, d := range cp.Delete {
		conflict = conflict || h.touched[d]
	}
	if conflict {
		if err := e.commitHeld(p, res); err != nil {
			return err
		}
	}
	if h.touched == nil {
		h.touched = map[journal.FolderUID]bool{}
	}
	for _, u := range cp.Upsert {
		h.touched[journal.FolderUID{Folder: u.Folder, UID: u.Row.UID}] = true
	}
	for _, d := range cp.Delete {
		h.touched[d] = true
	}
	h.cp.Results = append(h.cp.Results, cp.Results...)
	h.cp.Upsert = append(h.cp.Upsert, cp.Upsert...)
	h.cp.Delete = append(h.cp.Delete, cp.Delete...)
	h.cp.Folders = append(h.cp.Folders, cp.Folders...)
	h.ok = append(h.ok, ok...)
	h.flush = h.flush || local
	if len(h.cp.Results) >= e.CheckpointEvery || len(cp.Folders) > 0 {
		return e.commitHeld(p, res)
	}
	return nil
}

// emptyCheckpoint reports whether cp records nothing.
func emptyCheckpoint(cp journal.Checkpoint) bool {
	return len(cp.Results) == 0 && len(cp.Upsert) == 0 && len(cp.Delete) == 0 && len(cp.Folders) == 0
}

// commitHeld commits the held checkpoint (checkpoint), the local
// directories synced first when it needs them.
func (e *Executor) commitHeld(p *Pair, res *Result) error {
	h := &e.held
	cp, ok, flush := h.cp, h.ok, h.flush
	e.held = heldCheckpoint{}
	if emptyCheckpoint(cp) {
		return nil
	}
	if flush && p.LocalFolder != nil {
		if err := p.LocalFolder.Flush(context.Background()); err != nil {
			return fmt.Errorf("flush local folder %q: %w", p.Name, err)
		}
	}
	if len(cp.Upsert) > 0 && e.meta != nil && len(cp.Folders) == 0 {
		cp.Folders = []journal.FolderMeta{*e.meta}
	}
	if err := e.Journal.Checkpoint(cp); err != nil {
		return fmt.Errorf("journal checkpoint: %w", err)
	}
	for _, op := range ok {
		res.Done[op.Kind]++
	}
	for i, op := range ok {
		if e.Progress != nil && (i == len(ok)-1 || ok[i+1].Kind != op.Kind) {
			e.Progress(op.Kind, res.Done[op.Kind])
		}
	}
	return nil
}

func failed(res *Result, cp *journal.Checkpoint, s Step, err error) {
	res.Failed = append(res.Failed, OpError{Op: *s.Op, Err: err})
	cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Err: err.Error()})
}

func (e *Executor) createLocal(ctx context.Context, p *Pair, steps []Step, res *Result) error {
	s := steps[0]
	if err := e.voidStatus(p); err != nil {
		return err
	}
	if err := p.Local.CreateFolder(ctx, p.Name); err != nil {
		return fmt.Errorf("create local folder %q: %w", p.Name, err)
	}
	lf, err := p.Local.OpenFolder(ctx, p.Name)
	if err != nil {
		return fmt.Errorf("open new local folder %q: %w", p.Name, err)
	}
	p.LocalFolder = lf
	// A vanished folder's old rows go with the same checkpoint: from now on
	// the folder is synced as new.
	cp := journal.Checkpoint{Results: []journal.OpResult{{Seq: s.Seq}},
		Folders: []journal.FolderMeta{{Name: p.Name, Deleted: true}}}
	return e.checkpoint(p, res, cp, []model.Op{*s.Op}, false)
}

func (e *Executor) createRemote(ctx context.Context, p *Pair, steps []Step, res *Result) error {
	s := steps[0]
	if err := e.voidStatus(p); err != nil {
		return err
	}
	if err := e.clearLocalUIDs(ctx, p); err != nil {
		return err
	}
	if err := p.Remote.CreateFolder(ctx, p.Name); err != nil {
		return fmt.Errorf("create remote folder %q: %w", p.Name, err)
	}
	rf, err := p.Remote.SelectFolder(ctx, p.Name)
	if err != nil {
		return fmt.Errorf("select new remote folder %q: %w", p.Name, err)
	}
	p.RemoteFolder = rf
	e.noteMeta(p)
	cp := journal.Checkpoint{Results: []journal.OpResult{{Seq: s.Seq}},
		Folders: []journal.FolderMeta{{Name: p.Name, Deleted: true}, remoteMeta(p)}}
	return e.checkpoint(p, res, cp, []model.Op{*s.Op}, false)
}

// voidStatus sets aside the status of a folder about to be created, in a
// checkpoint of its own, before the folder exists. The plan to create a
// folder that vanished on one side treats both sides as new to each other;
// if the status were voided only with the creation's result, a crash
// between the two would leave an empty new folder beside the old status,
// and the next plan would read every message missing from it as deleted
// there: a mass deletion on the other side (or, on the server, a refusal
// for the new UIDVALIDITY). A folder never synced has nothing to void.
func (e *Executor) voidStatus(p *Pair) error {
	st, meta, err := e.Journal.FolderStatus(p.Name)
	if err != nil {
		return fmt.Errorf("read the status of %q: %w", p.Name, err)
	}
	if st.Rows.Len() == 0 && meta.UIDValidity == 0 {
		return nil
	}
	if err := e.Journal.Checkpoint(journal.Checkpoint{Folders: []journal.FolderMeta{{Name: p.Name, Deleted: true}}}); err != nil {
		return fmt.Errorf("journal: set aside the status of vanished folder %q: %w", p.Name, err)
	}
	return nil
}

// clearLocalUIDs removes the UIDs from the local file names of a folder
// whose server folder is about to be created. They name messages of a
// server folder that is gone; left in place, one could be taken for the
// new folder's message of the same UID (a message delivered there, or one
// uploaded before a crash and not found again) and pair two different
// messages. Each upload writes the new UID.
func (e *Executor) clearLocalUIDs(ctx context.Context, p *Pair) error {
	if p.LocalFolder == nil {
		return nil
	}
	msgs, err := p.LocalFolder.Scan(ctx)
	if err != nil {
		return fmt.Errorf("scan local folder %q: %w", p.Name, err)
	}
	cleared := 0
	for _, m := range msgs {
		if m.UID == 0 {
			continue
		}
		if err := p.LocalFolder.SetUID(ctx, m.Key, 0); err != nil && !errors.Is(err, adapters.ErrNoMessage) {
			return fmt.Errorf("clear the old uid %d from local file %q: %w", m.UID, m.Key, err)
		}
		cleared++
	}
	if cleared == 0 {
		return nil
	}
	if err := p.LocalFolder.Flush(ctx); err != nil {
		return fmt.Errorf("flush local folder %q: %w", p.Name, err)
	}
	return nil
}

// remoteMeta is the folder metadata to record with status rows: the rows
// are only meaningful together with the UIDVALIDITY they were taken under.
func remoteMeta(p *Pair) journal.FolderMeta {
	st := p.RemoteFolder.Status()
	return journal.FolderMeta{Name: p.Name, UIDValidity: st.UIDValidity}
}

// fetch downloads in batches (FetchBatchMessages, FetchBatchBytes), each
// made durable and checkpointed as a whole. A batch's commit (the files'
// sync, their renames into place, the checkpoint) runs while the next
// batch downloads, so that the disk's waits (a file system sync, a synced
// journal write) overlap the network's. One commit runs at a time, in
// batch order, so the journal sees the checkpoints one after the other as
// before; a crash can leave one batch in place but not checkpointed (it
// is paired by the UIDs in its file names, as always) and the next still
// in tmp/ (never seen as mail). When lastRemote (no later operation needs
// the server folder), the folder is released (releaseRemote) once the last
// batch is received, before its commit.
func (e *Executor) fetch(ctx context.Context, p *Pair, steps []Step, res *Result, lastRemote bool) error {
	var committing chan error // the previous batch's commit, while it runs
	wait := func() error {
		if committing == nil {
			return nil
		}
		err := <-committing
		committing = nil
		return err
	}
	for start := 0; start < len(steps); {
		end := start
		var bytes int64
		for end < len(steps) && end-start < e.FetchBatchMessages && (end == start || bytes+steps[end].Op.Size <= e.FetchBatchBytes) {
			bytes += steps[end].Op.Size
			end++
		}
		d, err := e.download(ctx, p, steps[start:end], lastRemote && end == len(steps))
		if err != nil {
			// What the previous batch did is recorded all the same.
			return errors.Join(err, wait())
		}
		if lastRemote && end == len(steps) {
			res.Survey = d.survey
			e.releaseRemote(p)
		}
		if err := wait(); err != nil {
			_ = d.batch.Abort()
			return err
		}
		committing = make(chan error, 1)
		go func() { committing <- e.commitDownloads(ctx, p, d, res) }()
		start = end
	}
	return wait()
}

// downloads is one batch of messages written into tmp/, not yet durable.
type downloads struct {
	steps []Step
	batch adapters.LocalBatch
	keys  map[uint32]string
	names map[uint32]journal.MsgInfo
	// survey is the one Pair.SurveyAfter asked for, made with the fetch.
	survey *adapters.ChangeSurvey
}

// download fetches the bodies of steps into a new local batch; last: no
// later operation needs the server folder (Pair.SurveyAfter's survey may
// go with the fetch).
func (e *Executor) download(ctx context.Context, p *Pair, steps []Step, last bool) (*downloads, error) {
	byUID := make(map[uint32]Step, len(steps))
	uids := make([]uint32, 0, len(steps))
	for _, s := range steps {
		byUID[s.Op.UID] = s
		uids = append(uids, s.Op.UID)
	}
	d := &downloads{steps: steps, batch: p.LocalFolder.NewBatch(),
		keys: make(map[uint32]string, len(steps)), names: make(map[uint32]journal.MsgInfo, len(steps))}
	fetch := p.RemoteFolder.Fetch
	if lf, ok := p.RemoteFolder.(adapters.ListedFetcher); ok && datesKnown(steps) {
		listed := make([]model.RemoteMsg, len(steps))
		for i, s := range steps {
			listed[i] = model.RemoteMsg{UID: s.Op.UID, Flags: s.Op.Flags, Size: s.Op.Size, InternalDate: s.Date}
		}
		fetch = func(ctx context.Context, _ []uint32, fn func(model.RemoteMsg, io.Reader) error) error {
			return lf.FetchListed(ctx, listed, fn)
		}
		if sf, ok := lf.(adapters.SurveyingFetcher); ok && surveysHere(p, last) {
			fetch = func(ctx context.Context, _ []uint32, fn func(model.RemoteMsg, io.Reader) error) error {
				sv, err := sf.FetchListedSurveying(ctx, listed, fn, p.SurveyAfter.Since, p.SurveyAfter.Leave)
				d.survey = &sv
				return err
			}
		}
	}
	err := fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		s, ok := byUID[m.UID]
		if !ok {
			return nil
		}
		sniff := journal.NewHeaderSniffer(body)
		key, err := d.batch.Add(m.UID, s.Op.Flags, m.InternalDate.Time(), sniff)
		if err != nil {
			return fmt.Errorf("write uid %d into local folder %q: %w", m.UID, p.Name, err)
		}
		d.keys[m.UID] = key
		d.names[m.UID] = sniffedInfo(sniff, m.InternalDate.Time())
		return nil
	})
	if err != nil {
		_ = d.batch.Abort()
		return nil, fmt.Errorf("fetch from %q: %w", p.Name, err)
	}
	return d, nil
}

// datesKnown reports whether every step has its listed date.
func datesKnown(steps []Step) bool {
	for _, s := range steps {
		if s.Date.IsZero() {
			return false
		}
	}
	return true
}

// commitDownloads makes a batch durable and puts it in place, then
// checkpoints it.
func (e *Executor) commitDownloads(ctx context.Context, p *Pair, d *downloads, res *Result) error {
	if err := d.batch.Commit(ctx); err != nil {
		_ = d.batch.Abort()
		return fmt.Errorf("make downloads in %q durable: %w", p.Name, err)
	}
	cp := journal.Checkpoint{}
	var ok []model.Op
	for _, s := range d.steps {
		key, got := d.keys[s.Op.UID]
		if !got {
			// Expunged on the server between listing and fetching: the
			// next sync sees it gone.
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Skipped: true})
			continue
		}
		info := d.names[s.Op.UID]
		cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: s.Op.UID, Key: key, Msg: &info})
		cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name, Row: model.StatusRow{UID: s.Op.UID, Key: key, Flags: s.Op.Flags}})
		ok = append(ok, *s.Op)
	}
	return e.checkpoint(p, res, cp, ok, false)
}

// localCheckpoints collects the results of operations that rename or
// remove local files, and commits them every so many operations
// (CheckpointEvery uploads, bulkCheckpoint renames and removals): first
// one fsync of the directories touched, then one synced checkpoint.
type localCheckpoints struct {
	e   *Executor
	p   *Pair
	res *Result
	cp  journal.Checkpoint
	ok  []model.Op
}

func (l *localCheckpoints) flush(ctx context.Context) error {
	err := l.e.checkpoint(l.p, l.res, l.cp, l.ok, true)
	l.cp, l.ok = journal.Checkpoint{}, nil
	return err
}

// upload carries out upload steps, in batches where the server folder
// can (and with's stores with the last), else one by one; last: no later
// step needs the server folder, with's stores aside, so that
// Pair.SurveyAfter's survey may go with a lone upload
// (adapters.SurveyingAppender) or with the batch that takes with's
// stores and expunge (adapters.SurveyingBatchAppendStorer).
func (e *Executor) upload(ctx context.Context, p *Pair, steps []Step, res *Result, with *joinedStores, last bool) error {
	lc := &localCheckpoints{e: e, p: p, res: res}
	cp := &lc.cp
	done := 0
	// record records one upload's outcome; a non-nil error stops the
	// folder.
	record := func(s Step, uid uint32, info journal.MsgInfo, err error) error {
		var unrec *uidNotRecordedError
		switch {
		case errors.As(err, &unrec):
			// On the server, but the local file does not say so: leave
			// the intent pending, so that the next sync finds the copy by
			// identity instead of uploading the message again.
			if ferr := lc.flush(ctx); ferr != nil {
				return ferr
			}
			return err
		case errors.Is(err, adapters.ErrNoMessage):
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Skipped: true})
		case err != nil && isFolderFatal(err):
			return err
		case err != nil:
			failed(res, cp, s, err)
		default:
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: uid, Key: s.Op.Key, Msg: &info})
			if s.Op.UID != 0 && s.Op.UID != uid {
				cp.Delete = append(cp.Delete, journal.FolderUID{Folder: p.Name, UID: s.Op.UID})
			}
			cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name, Row: model.StatusRow{UID: uid, Key: s.Op.Key, Flags: s.Op.Flags}})
			lc.ok = append(lc.ok, *s.Op)
		}
		done++
		if done%e.CheckpointEvery == 0 {
			return lc.flush(ctx)
		}
		return nil
	}
	ba, _ := p.RemoteFolder.(adapters.BatchAppender)
	single := 0   // steps to upload one by one before batching again
	refusals := 0 // batches the server refused: after two, no more
	for i := 0; i < len(steps); {
		if single == 0 && refusals < 2 && ba != nil && (len(steps)-i > 1 || with != nil && !with.done) && ba.CanAppendBatch() {
			var keep *Result // the batch that takes with's stores, the folder's last use of the server: surveyed
			if with != nil && surveysHere(p, last) {
				keep = res
			}
			n, batched, err := e.uploadBatch(ctx, p, ba, steps[i:], record, with, keep)
			if err != nil {
				return err
			}
			if batched {
				i += n
				continue
			}
			if n > 1 {
				refusals++
			}
			single = max(n, 1)
		}
		var keep *Result // a lone upload, the folder's last use of the server: surveyed
		if len(steps) == 1 && with == nil && surveysHere(p, last) {
			keep = res
		}
		uid, info, err := e.uploadOne(ctx, p, *steps[i].Op, keep)
		if err := record(steps[i], uid, info, err); err != nil {
			return err
		}
		i++
		single = max(single-1, 0)
	}
	return lc.flush(ctx)
}

// A batch of uploads (one MULTIAPPEND) holds at most this many messages and
// about this many bytes: what a failed batch costs to send again one by
// one, and the files open at once.
const (
	uploadBatchMessages = 100
	uploadBatchBytes    = 16 << 20
)

// uploadBatch appends the first messages of steps with one command
// (adapters.BatchAppender) and records each outcome with record; when the
// batch takes all of steps, with's stores go with it (one message is then
// a batch too). It
// returns how many steps it took; batched is false when it stored nothing
// and those steps are to be uploaded one by one: a file that cannot be
// opened (the single path records why), or a batch the server refused or
// whose body failed (one message must not keep the others from the
// server). The error it returns stops the folder: a lost connection (the
// batch may be on the server; the next sync finds it by identity), or
// record's.
func (e *Executor) uploadBatch(ctx context.Context, p *Pair, ba adapters.BatchAppender, steps []Step,
	record func(Step, uint32, journal.MsgInfo, error) error, with *joinedStores, keep *Result) (n int, batched bool, err error) {
	var msgs []adapters.AppendMsg
	var files []io.Closer
	var sniffs []*journal.HeaderSniffer
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var total int64
	for _, s := range steps {
		if len(msgs) == uploadBatchMessages || (len(msgs) > 0 && total >= uploadBatchBytes) {
			break
		}
		r, size, date, err := p.LocalFolder.OpenForUpload(ctx, s.Op.Key)
		if err != nil {
			break // the single path meets it again and records it
		}
		if size == 0 {
			// Servers refuse an empty message, and a refusal would cost
			// the whole batch: it goes alone.
			r.Close()
			break
		}
		files = append(files, r)
		sniff := journal.NewHeaderSniffer(r)
		sniffs = append(sniffs, sniff)
		msgs = append(msgs, adapters.AppendMsg{Size: size, Body: sniff, Flags: s.Op.Flags, Date: date})
		total += size
	}
	bas, joins := ba.(adapters.BatchAppendStorer)
	joins = joins && with != nil && !with.done && len(msgs) == len(steps)
	if len(msgs) < 2 && !(joins && len(msgs) == 1) {
		return max(len(msgs), 1), false, nil
	}
	var uids []uint32
	surveyed := false // the folder's survey went with the batch: it takes no more commands
	sbs, surveys := bas.(adapters.SurveyingBatchAppendStorer)
	switch {
	case joins && surveys && keep != nil:
		var serr error
		var sv adapters.ChangeSurvey
		uids, err, with.done, serr, sv = sbs.AppendBatchWithSurveying(ctx, msgs, flagChanges(with.stores), stepUIDs(with.expunges),
			p.SurveyAfter.Since, p.SurveyAfter.Leave)
		with.err = serr
		keep.Survey = &sv
		surveyed = surveyWent(sv)
	case joins:
		var serr error
		uids, err, with.done, serr = bas.AppendBatchWith(ctx, msgs, flagChanges(with.stores), stepUIDs(with.expunges))
		with.err = serr
	default:
		uids, err = ba.AppendBatch(ctx, msgs)
	}
	if err != nil {
		if isFolderFatal(err) {
			return 0, false, fmt.Errorf("append to %q: %w", p.Name, err)
		}
		e.Log.Warn().Str("folder", p.Name).Int("messages", len(msgs)).Err(err).
			Msg("the server stored none of a batch of uploads; sending them one at a time")
		return len(msgs), false, nil
	}
	for k, s := range steps[:len(msgs)] {
		info := sniffedInfo(sniffs[k], msgs[k].Date)
		var uid uint32
		if uids != nil {
			uid = uids[k]
		}
		uid, err := e.recordUploadSurveyed(ctx, p, *s.Op, uid, surveyed)
		if err := record(s, uid, info, err); err != nil {
			return k + 1, true, err
		}
	}
	return len(msgs), true, nil
}

// sniffedInfo names a message from the header its bytes carried; one
// without a Date header is dated by its internal date.
func sniffedInfo(sniff *journal.HeaderSniffer, date time.Time) journal.MsgInfo {
	info := sniff.Info()
	if info.Date.IsZero() {
		info.Date = date
	}
	return info
}

// uploadOne appends local op.Key, named from the bytes sent, and records
// its UID in the file name. With keep (the folder's last use of the
// server), Pair.SurveyAfter's survey goes with the APPEND where the
// server folder can (adapters.SurveyingAppender), kept in keep.Survey.
func (e *Executor) uploadOne(ctx context.Context, p *Pair, op model.Op, keep *Result) (uint32, journal.MsgInfo, error) {
	var info journal.MsgInfo
	r, size, date, err := p.LocalFolder.OpenForUpload(ctx, op.Key)
	if err != nil {
		return 0, info, err
	}
	defer r.Close()
	sniff := journal.NewHeaderSniffer(r)
	var uid uint32
	surveyed := false // the folder's survey went with the APPEND: it takes no more commands
	if sa, ok := p.RemoteFolder.(adapters.SurveyingAppender); ok && keep != nil {
		var sv adapters.ChangeSurvey
		uid, sv, err = sa.AppendSurveying(ctx, size, sniff, op.Flags, date, p.SurveyAfter.Since, p.SurveyAfter.Leave)
		keep.Survey = &sv
		surveyed = surveyWent(sv)
	} else {
		uid, err = p.RemoteFolder.Append(ctx, size, sniff, op.Flags, date)
	}
	info = sniffedInfo(sniff, date)
	if err != nil {
		return 0, info, fmt.Errorf("append to %q: %w", p.Name, err)
	}
	uid, err = e.recordUploadSurveyed(ctx, p, op, uid, surveyed)
	return uid, info, err
}

// surveyWent reports whether a survey asked to go with an upload went
// (whatever its answer): the folder then takes no more commands. One that
// could not go says so with adapters.ErrUnsupported.
func surveyWent(sv adapters.ChangeSurvey) bool { return !errors.Is(sv.Err, adapters.ErrUnsupported) }

// recordUploadSurveyed is recordUpload, for a folder surveyed behind the
// upload when surveyed: it takes no command to look for a copy whose UID
// the server did not name, which then stays pending for the next sync to
// find by identity, as after a crash here.
func (e *Executor) recordUploadSurveyed(ctx context.Context, p *Pair, op model.Op, uid uint32, surveyed bool) (uint32, error) {
	if uid == 0 && surveyed {
		return 0, &uidNotRecordedError{key: op.Key, err: errors.New("the server named no UID for the new message (no APPENDUID)")}
	}
	return e.recordUpload(ctx, p, op, uid)
}

// recordUpload records the UID of a message just appended (0: the server
// did not say; it is looked for) in its local file name.
func (e *Executor) recordUpload(ctx context.Context, p *Pair, op model.Op, uid uint32) (uint32, error) {
	if uid == 0 {
		var err error
		uid, err = e.findUploaded(ctx, p, op, nil, nil)
		if err != nil {
			return 0, err
		}
		if uid == 0 {
			return 0, fmt.Errorf("appended to %q, but the copy was not found on the server (no UIDPLUS, and no message at or above UID %d has the same size and content: the server changed the message?)", p.Name, op.MinUID)
		}
	}
	if err := p.LocalFolder.SetUID(ctx, op.Key, uid); err != nil {
		if errors.Is(err, adapters.ErrNoMessage) {
			// Deleted locally meanwhile: the copy on the server comes
			// back at the next sync; nothing is lost.
			return 0, fmt.Errorf("record uid %d in local file %q: %w", uid, op.Key, err)
		}
		return 0, &uidNotRecordedError{uid: uid, key: op.Key, err: err}
	}
	return uid, nil
}

// uidNotRecordedError: a message reached the server, but its UID could
// not be written into the local file name.
type uidNotRecordedError struct {
	uid uint32
	key string
	err error
}

func (e *uidNotRecordedError) Error() string {
	if e.uid == 0 {
		return fmt.Sprintf("uploaded local file %q, but its UID on the server is not known: %v "+
			"(the next sync finds the copy on the server instead of uploading it again)", e.key, e.err)
	}
	return fmt.Sprintf("uploaded local file %q as uid %d, but could not record the uid in its name: %v "+
		"(the next sync finds the copy on the server instead of uploading it again)", e.key, e.uid, e.err)
}

func (e *uidNotRecordedError) Unwrap() error { return e.err }

// messageID reads the Message-ID header of a message, or "".
func messageID(r io.Reader) string {
	tp := textproto.NewReader(bufio.NewReader(io.LimitReader(r, 256<<10)))
	h, _ := tp.ReadMIMEHeader()
	return strings.TrimSpace(h.Get("Message-Id"))
}

// storeRemote carries out store-remote steps; last: no later step needs
// the server folder, so that Pair.SurveyAfter's survey may go with them
// (as it may with expungeRemote's and storeAndExpunge's when last).
func (e *Executor) storeRemote(ctx context.Context, p *Pair, steps []Step, res *Result, last bool) error {
	changes := flagChanges(steps)
	if ss, ok := p.RemoteFolder.(adapters.SurveyingStorer); ok && surveysHere(p, last) {
		if err := keepSurvey(res)(ss.StoreFlagChangesSurveying(ctx, changes, p.SurveyAfter.Since, p.SurveyAfter.Leave)); err != nil {
			return fmt.Errorf("store flags in %q: %w", p.Name, err)
		}
	} else if fb, ok := p.RemoteFolder.(adapters.FlagBatcher); ok {
		if err := fb.StoreFlagChanges(ctx, changes); err != nil {
			return fmt.Errorf("store flags in %q: %w", p.Name, err)
		}
	} else {
		for _, c := range changes {
			if err := p.RemoteFolder.StoreFlags(ctx, c.UIDs, c.Add, c.Remove); err != nil {
				return fmt.Errorf("store flags in %q: %w", p.Name, err)
			}
		}
	}
	return e.storeCheckpoint(p, steps, res)
}

// surveysHere reports whether Pair.SurveyAfter's survey is to go with the
// operations being carried out: p asks for it, and they are the last to
// need the server folder (last).
func surveysHere(p *Pair, last bool) bool { return last && p.SurveyAfter != nil }

// keepSurvey keeps, in res, a survey made with the folder's last operations
// (Pair.SurveyAfter), and returns their error.
func keepSurvey(res *Result) func(adapters.ChangeSurvey, error) error {
	return func(sv adapters.ChangeSurvey, err error) error {
		res.Survey = &sv
		return err
	}
}

// flagChanges groups store-remote steps by the flags they add and remove,
// in the order of their first step.
func flagChanges(steps []Step) []adapters.FlagChange {
	type change struct{ add, remove model.Flags }
	groups := map[change]int{}
	var out []adapters.FlagChange
	for _, s := range steps {
		c := change{s.Op.Add, s.Op.Remove}
		i, seen := groups[c]
		if !seen {
			i = len(out)
			groups[c] = i
			out = append(out, adapters.FlagChange{Add: c.add, Remove: c.remove})
		}
		out[i].UIDs = append(out[i].UIDs, s.Op.UID)
	}
	return out
}

// storeCheckpoint records store-remote steps carried out, and the status
// rows of those that record theirs (Op.RecordsRow), in checkpoints of at
// most bulkCheckpoint steps: the server has every step's flags already,
// and a crash between two of them leaves the rest pending, superseded and
// planned again (an idempotent store, or a row recorded).
func (e *Executor) storeCheckpoint(p *Pair, steps []Step, res *Result) error {
	for chunk := range slices.Chunk(steps, bulkCheckpoint) {
		cp := journal.Checkpoint{}
		ok := make([]model.Op, 0, len(chunk))
		for _, s := range chunk {
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: s.Op.UID})
			if s.Op.RecordsRow {
				cp.Upsert = append(cp.Upsert, recordedRow(s.Op))
			}
			ok = append(ok, *s.Op)
		}
		if err := e.checkpoint(p, res, cp, ok, false); err != nil {
			return err
		}
	}
	return nil
}

// recordedRow is the status row a flag operation that records its row
// (Op.RecordsRow) writes once carried out: both sides have its flags.
func recordedRow(op *model.Op) journal.FolderRow {
	return journal.FolderRow{Folder: op.Folder, Row: model.StatusRow{UID: op.UID, Key: op.Key, Flags: op.Flags}}
}

// storeAndExpunge carries out store-remote steps and expunge-remote steps
// together (expungeWithStores), then checkpoints each as storeRemote and
// expungeRemote would; last: as storeRemote's.
func (e *Executor) storeAndExpunge(ctx context.Context, p *Pair, stores, expunges []Step, res *Result, last bool) error {
	var err error
	if se, ok := p.RemoteFolder.(adapters.SurveyingExpunger); ok && surveysHere(p, last) {
		err = keepSurvey(res)(se.StoreFlagsAndExpungeSurveying(ctx, flagChanges(stores), stepUIDs(expunges), p.SurveyAfter.Since, p.SurveyAfter.Leave))
	} else {
		err = p.RemoteFolder.(adapters.FlagExpunger).StoreFlagsAndExpunge(ctx, flagChanges(stores), stepUIDs(expunges))
	}
	if err != nil {
		return fmt.Errorf("store flags and expunge in %q: %w", p.Name, err)
	}
	if err := e.storeCheckpoint(p, stores, res); err != nil {
		return err
	}
	return e.expungeCheckpoint(p, expunges, res)
}

func (e *Executor) localChanges(ctx context.Context, p *Pair, steps []Step, res *Result) error {
	lc := &localCheckpoints{e: e, p: p, res: res}
	cp := &lc.cp
	for i, s := range steps {
		var err error
		if s.Op.Kind == model.OpSetLocalFlags {
			err = p.LocalFolder.SetFlags(ctx, s.Op.Key, s.Op.Flags)
		} else {
			err = p.LocalFolder.Delete(ctx, s.Op.Key)
		}
		if err != nil && s.Op.Kind == model.OpSetLocalFlags {
			res.unsettled[s.Op.UID] = true
		}
		switch {
		case err != nil && errors.Is(err, adapters.ErrNoMessage):
			// Gone since the scan: the next sync sees it gone.
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Skipped: true})
		case err != nil && isFolderFatal(err):
			// What is done is recorded; this step and the rest stay
			// pending, planned again by the next sync.
			if ferr := lc.flush(ctx); ferr != nil {
				return ferr
			}
			return err
		case err != nil:
			failed(res, cp, s, err)
		default:
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Key: s.Op.Key})
			if s.Op.Kind == model.OpDeleteLocal {
				cp.Delete = append(cp.Delete, journal.FolderUID{Folder: p.Name, UID: s.Op.UID})
			}
			if s.Op.Kind == model.OpSetLocalFlags && s.Op.RecordsRow {
				cp.Upsert = append(cp.Upsert, recordedRow(s.Op))
			}
			lc.ok = append(lc.ok, *s.Op)
		}
		if (i+1)%bulkCheckpoint == 0 {
			if err := lc.flush(ctx); err != nil {
				return err
			}
		}
	}
	return lc.flush(ctx)
}

// expungeRemote carries out expunge-remote steps; last: as storeRemote's.
func (e *Executor) expungeRemote(ctx context.Context, p *Pair, steps []Step, res *Result, last bool) error {
	var err error
	if se, ok := p.RemoteFolder.(adapters.SurveyingExpunger); ok && surveysHere(p, last) {
		err = keepSurvey(res)(se.StoreFlagsAndExpungeSurveying(ctx, nil, stepUIDs(steps), p.SurveyAfter.Since, p.SurveyAfter.Leave))
	} else {
		err = p.RemoteFolder.Expunge(ctx, stepUIDs(steps))
	}
	if err != nil {
		return fmt.Errorf("expunge in %q: %w", p.Name, err)
	}
	return e.expungeCheckpoint(p, steps, res)
}

// stepUIDs is the UIDs of steps' operations, in order.
func stepUIDs(steps []Step) []uint32 {
	uids := make([]uint32, len(steps))
	for i, s := range steps {
		uids[i] = s.Op.UID
	}
	return uids
}

// expungeCheckpoint records expunge-remote steps carried out: their rows
// go.
func (e *Executor) expungeCheckpoint(p *Pair, steps []Step, res *Result) error {
	cp := journal.Checkpoint{}
	var ok []model.Op
	for _, s := range steps {
		cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: s.Op.UID})
		cp.Delete = append(cp.Delete, journal.FolderUID{Folder: p.Name, UID: s.Op.UID})
		ok = append(ok, *s.Op)
	}
	return e.checkpoint(p, res, cp, ok, false)
}

// bookkeeping records pair and forget steps, which change the journal
// only, in checkpoints of at most bulkCheckpoint steps.
func (e *Executor) bookkeeping(p *Pair, steps []Step, res *Result) error {
	for chunk := range slices.Chunk(steps, bulkCheckpoint) {
		if err := e.bookkeepingCheckpoint(p, chunk, res); err != nil {
			return err
		}
	}
	return nil
}

// bulkCheckpoint bounds the steps of one checkpoint of local renames and
// removals (localChanges) and of bookkeeping, which a server-side "mark
// all as read" on a folder of 100,000 messages makes 100,000 of each.
// Every local checkpoint costs two directory fsyncs and a synced journal
// commit: at CheckpointEvery (200) they took 5 of that sync's 29 s
// (measured: 23.7 s at 2,000). Nothing is redone for a larger bound: a file
// renamed or removed whose checkpoint a crash lost is found so by the next
// plan and paired or forgotten. Bookkeeping was one checkpoint of all its
// steps, which held some 40 MB at once (the steps, the journal batch) and
// wrote one batch larger than Pebble's memtable; in 2,048 steps a batch
// stays near 0.6 MB.
const bulkCheckpoint = 2048

func (e *Executor) bookkeepingCheckpoint(p *Pair, steps []Step, res *Result) error {
	cp := journal.Checkpoint{}
	var ok []model.Op
	for _, s := range steps {
		if s.Op.Kind == model.OpPair && res.unsettled[s.Op.UID] {
			// The local side does not have these flags: recording them
			// would later read as a change made locally.
			cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, Skipped: true,
				Err: "not recorded: the local flag change did not happen; planned again at the next sync"})
			continue
		}
		cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: s.Op.UID, Key: s.Op.Key})
		if s.Op.Kind == model.OpPair {
			cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: s.Op.Folder, Row: model.StatusRow{UID: s.Op.UID, Key: s.Op.Key, Flags: s.Op.Flags}})
		} else {
			cp.Delete = append(cp.Delete, journal.FolderUID{Folder: s.Op.Folder, UID: s.Op.UID})
		}
		ok = append(ok, *s.Op)
	}
	return e.checkpoint(p, res, cp, ok, false)
}

// isFolderFatal reports whether an error means the folder cannot go on
// (the connection or the context is gone, or the local file system takes
// no more changes: full, over quota, read-only), rather than one message
// failing. A full disk fails every later rename and write of the folder
// too: one error says so, not one per message.
func isFolderFatal(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "timed out") || strings.Contains(s, "connection") || strings.Contains(s, "broken pipe")
}

// uploadLike reports whether an operation puts a local message into this
// server folder: an upload, or a server-side move mirroring a local one.
// Interrupted, both are found again the same way.
func uploadLike(k model.OpKind) bool { return k == model.OpUpload || k == model.OpMoveRemote }

// Recover resolves the operations a previous run journaled but never
// checkpointed, before the folder is planned again:
//
//   - An upload (or a server-side move, OpMoveRemote) may have reached
//     the server before the crash. Its copy is
//     looked for at or above the UIDNEXT recorded in the intent, by size,
//     Message-ID and content (findUploaded), among the UIDs the status st
//     does not pair yet; when found, the UID goes into the local file name
//     and a status row pairs them with the flags uploaded, so the re-plan
//     neither uploads it again nor downloads the copy.
//   - A download may have been moved into place (its file carries the
//     UID). It is paired with the flags it was written with: the common
//     ancestor of both sides' later changes.
//   - Every other pending operation is marked superseded: planning again
//     from the observed state redoes what is still needed, idempotently.
//
// When the server folder's UIDVALIDITY is no longer the status's, nothing
// is resolved (the UIDs recorded mean other messages now, and a pairing
// would record the new UIDVALIDITY beside the old rows): all is superseded
// and the planner refuses the folder. It returns how many operations it
// resolved.
func (e *Executor) Recover(ctx context.Context, p *Pair, pending []journal.Intent, st model.FolderStatus) (int, error) {
	e.defaults()
	known := make(map[uint32]model.StatusRow, st.Rows.Len())
	for _, row := range st.Rows.All() {
		known[row.UID] = row
	}
	sameFolder := p.RemoteFolder != nil && p.LocalFolder != nil &&
		(st.UIDValidity == 0 || st.UIDValidity == p.RemoteFolder.Status().UIDValidity)
	// One listing of what reached the server since the earliest pending
	// upload was planned serves every upload the exact search misses.
	var loose *serverCopies
	for _, in := range pending {
		if uploadLike(in.Op.Kind) && (loose == nil || in.Op.MinUID < loose.minUID) {
			loose = &serverCopies{minUID: in.Op.MinUID}
		}
	}
	// Files that a download renamed into place carry their UID.
	var fetched map[uint32]string
	fetchedFile := func(uid uint32) (string, error) {
		if fetched == nil {
			msgs, err := p.LocalFolder.Scan(ctx)
			if err != nil {
				return "", fmt.Errorf("scan local folder %q: %w", p.Name, err)
			}
			fetched = map[uint32]string{}
			for _, m := range msgs { // sorted by key: the first claim wins, as in the planner
				if _, dup := fetched[m.UID]; m.UID != 0 && !dup {
					fetched[m.UID] = m.Key
				}
			}
		}
		return fetched[uid], nil
	}
	cp := journal.Checkpoint{}
	found := 0
	for _, in := range pending {
		op := in.Op
		if op.Kind == model.OpFetch && sameFolder {
			// Downloaded and moved into place, not checkpointed: the
			// intent's flags are what the file was written with, the
			// common ancestor of both sides' later changes. (Without this
			// row the planner pairs file and message by UID with the union
			// of their flags, and a flag removed on the server meanwhile
			// would come back.)
			key, err := fetchedFile(op.UID)
			if err != nil {
				return found, err
			}
			if key != "" {
				cp.Results = append(cp.Results, journal.OpResult{Seq: in.Seq, UID: op.UID, Key: key})
				cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name, Row: model.StatusRow{UID: op.UID, Key: key, Flags: op.Flags}})
				known[op.UID] = model.StatusRow{UID: op.UID, Key: key, Flags: op.Flags}
				found++
				continue
			}
		}
		if uploadLike(op.Kind) && sameFolder {
			uid, err := e.findUploaded(ctx, p, op, known, loose)
			if err != nil && !errors.Is(err, adapters.ErrNoMessage) {
				return found, err
			}
			if uid != 0 {
				if err := p.LocalFolder.SetUID(ctx, op.Key, uid); err != nil {
					return found, fmt.Errorf("record recovered uid %d for %q: %w", uid, op.Key, err)
				}
				cp.Results = append(cp.Results, journal.OpResult{Seq: in.Seq, UID: uid, Key: op.Key})
				cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name, Row: model.StatusRow{UID: uid, Key: op.Key, Flags: op.Flags}})
				if op.UID != 0 && op.UID != uid {
					cp.Delete = append(cp.Delete, journal.FolderUID{Folder: p.Name, UID: op.UID})
				}
				if op.Kind == model.OpMoveRemote {
					cp.Delete = append(cp.Delete, journal.FolderUID{Folder: op.From, UID: op.FromUID})
				}
				known[uid] = model.StatusRow{UID: uid, Key: op.Key, Flags: op.Flags}
				found++
				continue
			}
		}
		cp.Results = append(cp.Results, journal.OpResult{Seq: in.Seq, Skipped: true, Err: "superseded: interrupted run, planned again"})
	}
	if len(cp.Results) == 0 {
		return 0, nil
	}
	if p.LocalFolder != nil {
		if err := p.LocalFolder.Flush(ctx); err != nil {
			return found, err
		}
	}
	if p.RemoteFolder != nil && len(cp.Upsert) > 0 {
		cp.Folders = []journal.FolderMeta{remoteMeta(p)}
	}
	return found, e.Journal.Checkpoint(cp)
}
