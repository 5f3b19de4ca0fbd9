package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// surveying is a memstore Remote with a ChangeSurveyor made of its own
// SelectFolder and List: every message is listed as changed, which a
// survey may do (a changed entry carries the server's flags), and the
// folders surveyed are counted. bogus names a folder whose survey also
// claims a UID unchanged that has no status row: a listing the plan must
// not trust.
type surveying struct {
	*memstore.Remote
	mu       sync.Mutex
	surveyed map[string]int
	bogus    string
}

func (s *surveying) SurveyChanges(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	out := make([]adapters.ChangeSurvey, len(reqs))
	for i, q := range reqs {
		f, err := s.Remote.SelectFolder(ctx, q.Name)
		if err != nil {
			out[i].Err = err
			continue
		}
		msgs, err := f.List(ctx)
		out[i].Status = f.Status()
		f.Close()
		if err != nil {
			out[i].Err = err
			continue
		}
		var uids []uint32
		for _, m := range msgs {
			uids = append(uids, m.UID)
		}
		if q.Name == s.bogus {
			uids = append(uids, out[i].Status.UIDNext+100)
		}
		out[i].Changes = &adapters.Changes{UIDs: uids, Changed: slices.Clone(msgs)}
		s.mu.Lock()
		s.surveyed[q.Name]++
		s.mu.Unlock()
	}
	return out
}

// TestPlansFromASurvey: folders with a recorded state are planned from a
// survey of all of them (adapters.ChangeSurveyor), not opened one by one;
// a survey whose listing does not add up with the status rows is not
// trusted: that folder is opened and listed in full, and the sync is
// exact either way.
func TestPlansFromASurvey(t *testing.T) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	sv := &surveying{Remote: r.remote, surveyed: map[string]int{}}
	r.acct.Remote = sv
	var logged bytes.Buffer
	var mu sync.Mutex
	r.acct.Log = zerolog.New(zerolog.SyncWriter(&lockedBuffer{b: &logged, mu: &mu})).Level(zerolog.DebugLevel)
	for _, f := range []string{"INBOX", "Archive"} {
		for _, m := range sample.Messages(f, 6, 17) {
			r.remote.AddMessage(f, m.Body, m.Flags, m.Date)
		}
	}
	r.sync(t) // cold: listed in full, then recorded
	for round, bogus := range []string{"", "Archive"} {
		sv.bogus = bogus
		clear(sv.surveyed)
		mu.Lock()
		logged.Reset()
		mu.Unlock()
		// A flag set on the server in INBOX, a message delivered to Archive,
		// a flag set locally in Archive.
		msgs, _ := r.remote.Messages("INBOX")
		must(t, r.remote.SetMessageFlags("INBOX", msgs[round].UID, msgs[round].Flags|model.Flagged))
		m := sample.Messages("Archive", 1, int64(40+round))[0]
		r.remote.AddMessage("Archive", m.Body, m.Flags, m.Date)
		lm, _ := r.local.Messages("Archive")
		must(t, r.local.SetMessageFlags("Archive", lm[round].Key, lm[round].Flags^model.Answered))

		c := total(r.sync(t))
		if c[model.OpSetLocalFlags] != 1 || c[model.OpFetch] != 1 || c[model.OpStoreRemote] != 1 {
			t.Fatalf("round %d (bogus %q): %v, want one local flag change, one download, one server flag change", round, bogus, c)
		}
		// Each folder surveyed twice: for its plan and after the sync.
		if sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 {
			t.Fatalf("round %d: surveyed %v, want each folder twice (plan, verification)", round, sv.surveyed)
		}
		mu.Lock()
		full := strings.Contains(logged.String(), "an unchanged message has no status row: listing in full")
		mu.Unlock()
		if full != (bogus != "") {
			t.Fatalf("round %d (bogus %q): listed in full after the survey: %v", round, bogus, full)
		}
		r.converged(t, 12+round+1)
	}
}

type lockedBuffer struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// A local move mirrored on the server (moveIn) while the survey looks at
// the folders changes them under it: the plans then open their folders,
// and the moved message is neither deleted nor copied.
func TestLocalMoveWhileSurveyed(t *testing.T) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	sv := &surveying{Remote: r.remote, surveyed: map[string]int{}}
	r.acct.Remote = sv
	for _, m := range sample.Messages("INBOX", 5, 9) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	// Archive holds nothing with INBOX's keys (memstore's keys are unique
	// only within a folder), so that the moved file keeps its name.
	if err := r.remote.CreateFolder(context.Background(), "Archive"); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
	r.sync(t) // both recorded unchanged: surveyed from now on
	msgs, _ := r.local.Messages("INBOX")
	r.moveLocal(t, "INBOX", "Archive", msgs[0].Key)
	c := total(r.sync(t))
	if c[model.OpMoveRemote] != 1 || c[model.OpDeleteLocal] != 0 || c[model.OpFetch] != 0 || c[model.OpUpload] != 0 {
		t.Fatalf("did %v, want one move-remote and nothing else", c)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("the sync after did %v", c)
	}
	r.converged(t, 5)
}

// selectCounting counts the folders surveying's Remote selects.
type selectCounting struct {
	*surveying
	selects map[string]int
}

func (s *selectCounting) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	s.mu.Lock()
	s.selects[name]++
	s.mu.Unlock()
	return s.surveying.SelectFolder(ctx, name)
}

// surveyRig is a rig whose server keeps modification sequences, with n
// messages in each of folders, synced once (cold, then recorded), its
// Remote the surveying wrap returns over sv. flip toggles \Flagged on a
// local message of a folder.
func surveyRig(t *testing.T, folders []string, n int, seed int64, wrap func(sv *surveying) adapters.Remote) (r *rig, sv *surveying, flip func(f string)) {
	t.Helper()
	r = newRig(t)
	r.remote.SetCondstore(true)
	sv = &surveying{Remote: r.remote, surveyed: map[string]int{}}
	r.acct.Remote = wrap(sv)
	for _, f := range folders {
		for _, m := range sample.Messages(f, n, seed) {
			r.remote.AddMessage(f, m.Body, m.Flags, m.Date)
		}
	}
	r.sync(t)
	flip = func(f string) {
		lm, _ := r.local.Messages(f)
		must(t, r.local.SetMessageFlags(f, lm[0].Key, lm[0].Flags^model.Flagged))
	}
	return r, sv, flip
}

// TestOneFolderOpenedForItsPlanAndKept: with one folder to sync, it is not
// surveyed for its plan but opened (while the local folders are scanned)
// and kept selected for its execution: a local flag change costs one
// SELECT and no survey, where a survey and the execution's SELECT made
// two looks, with one connection as with more. With two folders to sync,
// the folders are surveyed as before.
func TestOneFolderOpenedForItsPlanAndKept(t *testing.T) {
	var sc *selectCounting
	r, sv, flip := surveyRig(t, []string{"INBOX", "Archive"}, 5, 31, func(sv *surveying) adapters.Remote {
		sc = &selectCounting{surveying: sv, selects: map[string]int{}}
		return sc
	})

	flip("INBOX")
	clear(sv.surveyed)
	clear(sc.selects)
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
		t.Fatalf("a local flag change in INBOX: %v, want one server flag change", c)
	}
	// The verification surveys it afterwards, as always.
	if sc.selects["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 || len(sc.selects) != 1 {
		t.Fatalf("one folder to sync: selected %v, surveyed %v; want INBOX selected once (its plan's, kept for the execution) and surveyed only by the verification",
			sc.selects, sv.surveyed)
	}

	flip("INBOX")
	flip("Archive")
	clear(sv.surveyed)
	clear(sc.selects)
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in each folder: %v, want two server flag changes", c)
	}
	if sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 {
		t.Fatalf("two folders to sync: surveyed %v, want each twice (plan, verification)", sv.surveyed)
	}

	// One connection: opened and kept all the same (nothing else needs a
	// connection meanwhile: see surveyPlans).
	r.acct.MaxConnections = 1
	flip("INBOX")
	clear(sv.surveyed)
	clear(sc.selects)
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
		t.Fatalf("a local flag change in INBOX, one connection: %v, want one server flag change", c)
	}
	if sc.selects["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 {
		t.Fatalf("one connection: selected %v, surveyed %v; want INBOX selected once and surveyed only by the verification", sc.selects, sv.surveyed)
	}
	r.converged(t, 10)
}

// listOpening opens a folder with the folder listing (adapters.ListOpener)
// over selectCounting: the listing, then the folder selected and listed
// in full as its changes. It notes the folders it opened and how many of
// them were closed.
type listOpening struct {
	*selectCounting
	opened []string
	closed int
}

func (l *listOpening) ListFoldersOpening(ctx context.Context, name string, readOnly bool, since uint64) ([]model.RemoteFolderStatus, adapters.Opened, error) {
	list, err := l.ListFolders(ctx)
	if err != nil {
		return nil, adapters.Opened{}, err
	}
	f, err := l.SelectFolder(ctx, name)
	if err != nil {
		return list, adapters.Opened{Err: err}, nil
	}
	msgs, err := f.List(ctx)
	if err != nil {
		f.Close()
		return list, adapters.Opened{Err: err}, nil
	}
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	l.mu.Lock()
	l.opened = append(l.opened, name)
	l.mu.Unlock()
	return list, adapters.Opened{Folder: &closeNoting{RemoteFolder: f, l: l}, Changes: &adapters.Changes{UIDs: uids, Changed: msgs}}, nil
}

type closeNoting struct {
	adapters.RemoteFolder
	l    *listOpening
	once sync.Once
}

func (c *closeNoting) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.closed++
		c.l.mu.Unlock()
	})
	return c.RemoteFolder.Close()
}

// TestOpenedWithListing: a local change in one folder alone opens that
// folder with the folder listing (adapters.ListOpener), and the plan and
// the execution use it: no other SELECT. Local changes in two folders
// list plainly; a folder opened with the listing when the listing then
// shows another folder to sync is closed and planned as any; with a
// folder filter the folder is not opened so; with one connection it is.
func TestOpenedWithListing(t *testing.T) {
	var lo *listOpening
	r, sv, flip := surveyRig(t, []string{"INBOX", "Archive"}, 5, 41, func(sv *surveying) adapters.Remote {
		lo = &listOpening{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}}}
		return lo
	})
	reset := func() {
		lo.opened, lo.closed = nil, 0
		clear(lo.selects)
		clear(sv.surveyed)
	}

	reset()
	flip("INBOX")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
		t.Fatalf("a local flag change in INBOX: %v, want one server flag change", c)
	}
	if len(lo.opened) != 1 || lo.opened[0] != "INBOX" || lo.selects["INBOX"] != 1 || len(lo.selects) != 1 || sv.surveyed["INBOX"] != 1 {
		t.Fatalf("one folder changed locally: opened with the listing %v, selected %v, surveyed %v; want INBOX opened with the listing, selected by it alone, surveyed by the verification",
			lo.opened, lo.selects, sv.surveyed)
	}

	reset()
	flip("INBOX")
	flip("Archive")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in each folder: %v, want two server flag changes", c)
	}
	if len(lo.opened) != 0 {
		t.Fatalf("two folders changed locally: opened %v with the listing, want none", lo.opened)
	}

	reset()
	flip("INBOX")
	m := sample.Messages("Archive", 1, 42)[0]
	r.remote.AddMessage("Archive", m.Body, m.Flags, m.Date)
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 || c[model.OpFetch] != 1 {
		t.Fatalf("a local flag change in INBOX and new mail in Archive: %v, want one server flag change and one download", c)
	}
	if len(lo.opened) != 1 || lo.closed != 1 || sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 {
		t.Fatalf("the listing showed a second folder: opened %v, closed %d, surveyed %v; want INBOX opened and closed, both surveyed for their plans and verified",
			lo.opened, lo.closed, sv.surveyed)
	}

	// A folder filter: not opened with the listing (it may leave the
	// folder out, and a folder left out is not selected).
	reset()
	r.acct.Filter = func(string) (bool, error) { return true, nil }
	flip("INBOX")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
		t.Fatalf("with a folder filter: %v, want one server flag change", c)
	}
	if len(lo.opened) != 0 {
		t.Fatalf("with a folder filter: opened %v with the listing, want none", lo.opened)
	}
	r.acct.Filter = nil

	reset()
	r.acct.MaxConnections = 1
	flip("INBOX")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
		t.Fatalf("one connection: %v, want one server flag change", c)
	}
	if len(lo.opened) != 1 || lo.selects["INBOX"] != 1 {
		t.Fatalf("one connection: opened %v with the listing, selected %v; want INBOX opened so, selected once", lo.opened, lo.selects)
	}
	r.converged(t, 11)
}

// listSurveying surveys folders with the folder listing
// (adapters.ListSurveyor) over surveying: the listing, then the survey. It
// counts the folders it surveyed so.
type listSurveying struct {
	*selectCounting
	withListing map[string]int
	opened      map[string]int // by OpenWithChanges: for their plans
}

// OpenWithChanges selects the folder (adapters.ChangeOpener), counting it
// as opened; it lists no changes, which the caller then lists itself.
func (l *listSurveying) OpenWithChanges(ctx context.Context, name string, readOnly bool, since uint64) (adapters.RemoteFolder, *adapters.Changes, error) {
	l.mu.Lock()
	if l.opened != nil {
		l.opened[name]++
	}
	l.mu.Unlock()
	rf, err := l.SelectFolder(ctx, name)
	return rf, nil, err
}

func (l *listSurveying) ListFoldersSurveying(ctx context.Context, reqs []adapters.ChangeRequest) ([]model.RemoteFolderStatus, []adapters.ChangeSurvey, error) {
	list, err := l.ListFolders(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, q := range reqs {
		l.withListing[q.Name]++
	}
	return list, l.SurveyChanges(ctx, reqs), nil
}

// TestSurveyedWithListing: local changes in two folders have both
// surveyed with the folder listing (adapters.ListSurveyor) and not again
// for their plans: each is surveyed twice in all, with the listing and by
// the verification.
func TestSurveyedWithListing(t *testing.T) {
	var ls *listSurveying
	r, sv, flip := surveyRig(t, []string{"INBOX", "Archive", "Sent"}, 4, 43, func(sv *surveying) adapters.Remote {
		ls = &listSurveying{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}}, withListing: map[string]int{}}
		return ls
	})
	reset := func() {
		clear(ls.withListing)
		clear(sv.surveyed)
	}

	reset()
	flip("INBOX")
	flip("Archive")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in two folders: %v, want two server flag changes", c)
	}
	for _, f := range []string{"INBOX", "Archive"} {
		if ls.withListing[f] != 1 || sv.surveyed[f] != 2 {
			t.Fatalf("%s: surveyed with the listing %v, surveyed in all %v; want once with the listing, twice in all (with the listing, verification)",
				f, ls.withListing, sv.surveyed)
		}
	}
	if ls.withListing["Sent"] != 0 || sv.surveyed["Sent"] != 0 {
		t.Fatalf("Sent, unchanged: surveyed with the listing %v, in all %v; want never", ls.withListing, sv.surveyed)
	}
	r.converged(t, 12)
}

// TestINBOXSurveyedWithListing: INBOX, where new mail lands, is surveyed
// with the folder listing whenever the journal holds its HIGHESTMODSEQ
// (withINBOX); new mail there, the run's only work, is planned from that
// survey, INBOX selected once (by the execution, for the download), where
// the plan would have opened it a round trip after the listing. Unchanged,
// or with the work elsewhere, the survey goes unused.
func TestINBOXSurveyedWithListing(t *testing.T) {
	var ls *listSurveying
	r, sv, _ := surveyRig(t, []string{"INBOX", "Archive"}, 4, 53, func(sv *surveying) adapters.Remote {
		ls = &listSurveying{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}}, withListing: map[string]int{}, opened: map[string]int{}}
		return ls
	})
	r.sync(t) // the first sync's verification recorded INBOX's state; now both are quiet
	reset := func() {
		clear(ls.withListing)
		clear(ls.selects)
		clear(ls.opened)
		clear(sv.surveyed)
	}

	reset()
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("nothing changed: did %v", c)
	}
	if ls.withListing["INBOX"] != 1 || len(ls.withListing) != 1 || len(ls.selects) != 0 {
		t.Fatalf("nothing changed: surveyed with the listing %v, selected %v; want INBOX surveyed with the listing, nothing selected", ls.withListing, ls.selects)
	}

	reset()
	m := sample.Messages("INBOX", 1, 54)[0]
	r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	if c := total(r.sync(t)); c[model.OpFetch] != 1 {
		t.Fatalf("new mail in INBOX: %v, want one download", c)
	}
	if ls.withListing["INBOX"] != 1 || len(ls.opened) != 0 || ls.selects["INBOX"] != 1 || sv.surveyed["INBOX"] != 2 {
		t.Fatalf("new mail in INBOX: surveyed with the listing %v, opened for its plan %v, selected %v, surveyed %v; want INBOX surveyed with the listing and planned from it, selected once (the download), surveyed by the verification",
			ls.withListing, ls.opened, ls.selects, sv.surveyed)
	}

	reset()
	m = sample.Messages("Archive", 1, 55)[0]
	r.remote.AddMessage("Archive", m.Body, m.Flags, m.Date)
	if c := total(r.sync(t)); c[model.OpFetch] != 1 {
		t.Fatalf("new mail in Archive: %v, want one download", c)
	}
	if ls.withListing["INBOX"] != 1 || ls.selects["INBOX"] != 0 || ls.opened["Archive"] != 1 || ls.selects["Archive"] != 1 {
		t.Fatalf("new mail in Archive: surveyed with the listing %v, opened %v, selected %v; want INBOX surveyed with the listing and left, Archive opened for its plan and kept",
			ls.withListing, ls.opened, ls.selects)
	}
	r.converged(t, 10)
}

// storeSurveying is a selectCounting whose folders survey themselves with
// their flag stores (adapters.SurveyingStorer) through surveying's
// SurveyChanges, noting each such survey and whether it was to log out.
type storeSurveying struct {
	*selectCounting
	withStores map[string]int
	leaves     []bool
	noUID      bool // AppendSurveying names no UID, as a folder whose UIDs are not sticky
	leftEarly  int  // SurveyChangesLast calls with no request: every connection to log out
	far        time.Duration
}

func (s *storeSurveying) LinkDelay() time.Duration { return s.far }

func (s *storeSurveying) SurveyChangesLast(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	if len(reqs) == 0 {
		s.mu.Lock()
		s.leftEarly++
		s.mu.Unlock()
	}
	return s.SurveyChanges(ctx, reqs)
}

func (s *storeSurveying) SelectFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	f, err := s.selectCounting.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &surveyingFolder{RemoteFolder: f.(*memstore.RemoteFolder), s: s, name: name}, nil
}

type surveyingFolder struct {
	*memstore.RemoteFolder
	s    *storeSurveying
	name string
}

func (f *surveyingFolder) StoreFlagChangesSurveying(ctx context.Context, changes []adapters.FlagChange, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	return f.surveyAfter(ctx, f.RemoteFolder.StoreFlagChanges(ctx, changes), since, leave)
}

func (f *surveyingFolder) StoreFlagsAndExpunge(ctx context.Context, changes []adapters.FlagChange, expunge []uint32) error {
	return errors.Join(f.RemoteFolder.StoreFlagChanges(ctx, changes), f.RemoteFolder.Expunge(ctx, expunge))
}

func (f *surveyingFolder) StoreFlagsAndExpungeSurveying(ctx context.Context, changes []adapters.FlagChange, expunge []uint32, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	return f.surveyAfter(ctx, f.StoreFlagsAndExpunge(ctx, changes, expunge), since, leave)
}

func (f *surveyingFolder) FetchListed(ctx context.Context, msgs []model.RemoteMsg, fn func(model.RemoteMsg, io.Reader) error) error {
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	return f.RemoteFolder.Fetch(ctx, uids, fn)
}

func (f *surveyingFolder) FetchListedSurveying(ctx context.Context, msgs []model.RemoteMsg, fn func(model.RemoteMsg, io.Reader) error, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	return f.surveyAfter(ctx, f.FetchListed(ctx, msgs, fn), since, leave)
}

func (f *surveyingFolder) AppendSurveying(ctx context.Context, size int64, body io.Reader, flags model.Flags, date time.Time, since uint64, leave bool) (uint32, adapters.ChangeSurvey, error) {
	uid, err := f.RemoteFolder.Append(ctx, size, body, flags, date)
	sv, err := f.surveyAfter(ctx, err, since, leave)
	if f.s.noUID {
		uid = 0
	}
	return uid, sv, err
}

// TestSurveyedUploadWithoutUID: a lone upload surveyed with its APPEND
// whose server names no UID after all (its folder cannot be searched for
// the copy once surveyed) is left pending, the folder reported failed;
// the next sync finds the copy by identity, records it, and uploads
// nothing again: one copy on the server, none duplicated locally.
func TestSurveyedUploadWithoutUID(t *testing.T) {
	var ss *storeSurveying
	r, _, _ := surveyRig(t, []string{"INBOX"}, 3, 53, func(sv *surveying) adapters.Remote {
		ss = &storeSurveying{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}}, withStores: map[string]int{}}
		return ss
	})
	ss.noUID = true
	clear(ss.withStores)
	m := sample.Messages("INBOX", 1, 54)[0]
	_, err := r.local.AddMessage("INBOX", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), model.Seen, m.Date)
	must(t, err)
	rep, err := r.acct.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 1 || ss.withStores["INBOX"] != 1 {
		t.Fatalf("the upload without a UID: %d folders failed, surveyed with it %v; want INBOX failed, surveyed with the upload", rep.Failed(), ss.withStores)
	}
	if msgs, _ := r.remote.Messages("INBOX"); len(msgs) != 4 {
		t.Fatalf("%d messages on the server, want 4", len(msgs))
	}
	ss.noUID = false
	if c := total(r.sync(t)); c[model.OpUpload] != 0 {
		t.Fatalf("the sync after uploaded again: %v", c)
	}
	r.converged(t, 4)
}

// surveyAfter surveys the folder after the changes that ended with err.
func (f *surveyingFolder) surveyAfter(ctx context.Context, err error, since uint64, leave bool) (adapters.ChangeSurvey, error) {
	sv := f.s.surveying.SurveyChanges(ctx, []adapters.ChangeRequest{{Name: f.name, Since: since}})[0]
	f.s.mu.Lock()
	f.s.withStores[f.name]++
	f.s.leaves = append(f.s.leaves, leave)
	f.s.mu.Unlock()
	return sv, err
}

// TestSurveyedWithTheStores: the one folder a sync carries out flag stores
// in has its verification's survey made with them (executor.Pair.
// SurveyAfter): surveyed once after the plan, not again by the
// verification, and recorded as in step all the same (the next sync, with
// nothing changed, neither selects nor surveys it). With the LOGOUT when
// the Remote is closed after the run. So with a download, with an
// expunge, alone or with stores, and with an upload. With two folders to
// sync, the verification surveys both, unless the server is far
// (adapters.Distancer): then each is surveyed with its own stores, none
// with the LOGOUT, and the connections log out once every survey is in;
// with a local change last, the verification surveys as before.
func TestSurveyedWithTheStores(t *testing.T) {
	var ss *storeSurveying
	r, sv, flip := surveyRig(t, []string{"INBOX", "Archive"}, 5, 47, func(sv *surveying) adapters.Remote {
		ss = &storeSurveying{selectCounting: &selectCounting{surveying: sv, selects: map[string]int{}}, withStores: map[string]int{}}
		return ss
	})
	reset := func() {
		clear(sv.surveyed)
		clear(ss.selects)
		clear(ss.withStores)
		ss.leaves = nil
		ss.leftEarly = 0
	}
	for _, closes := range []bool{false, true} {
		r.acct.ClosesRemote = closes
		reset()
		flip("INBOX")
		if c := total(r.sync(t)); c[model.OpStoreRemote] != 1 {
			t.Fatalf("a local flag change in INBOX: %v, want one server flag change", c)
		}
		if ss.withStores["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 || len(ss.leaves) != 1 || ss.leaves[0] != closes {
			t.Fatalf("closes %v: surveyed with the stores %v (leaving %v), surveyed in all %v; want INBOX once, with the stores, leaving %v",
				closes, ss.withStores, ss.leaves, sv.surveyed, closes)
		}
		reset()
		if c := total(r.sync(t)); len(c) != 0 {
			t.Fatalf("the sync after did %v", c)
		}
		if ss.selects["INBOX"] != 0 || sv.surveyed["INBOX"] != 0 {
			t.Fatalf("the sync after: selected %v, surveyed %v; want INBOX recorded in step by the survey with the stores, left alone",
				ss.selects, sv.surveyed)
		}
	}

	// New mail on the server: the survey goes with the download.
	reset()
	m := sample.Messages("INBOX", 1, 48)[0]
	r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	if c := total(r.sync(t)); c[model.OpFetch] != 1 {
		t.Fatalf("new mail in INBOX: %v, want one download", c)
	}
	if ss.withStores["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 {
		t.Fatalf("new mail: surveyed with the download %v, in all %v; want INBOX once, with the download", ss.withStores, sv.surveyed)
	}
	reset()
	if c := total(r.sync(t)); len(c) != 0 || ss.selects["INBOX"] != 0 || sv.surveyed["INBOX"] != 0 {
		t.Fatalf("the sync after the download did %v, selected %v, surveyed %v; want nothing", c, ss.selects, sv.surveyed)
	}

	// A deletion, alone and with a flag change: the survey goes with the
	// expunge.
	for _, withFlag := range []bool{false, true} {
		reset()
		lm, _ := r.local.Messages("INBOX")
		must(t, r.local.DeleteMessage("INBOX", lm[len(lm)-1].Key))
		if withFlag {
			flip("INBOX")
		}
		if c := total(r.sync(t)); c[model.OpExpungeRemote] != 1 || (c[model.OpStoreRemote] == 1) != withFlag {
			t.Fatalf("a local deletion in INBOX (and a flag change: %v): %v, want one expunge on the server", withFlag, c)
		}
		if ss.withStores["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 {
			t.Fatalf("a local deletion (and a flag change: %v): surveyed with the expunge %v, in all %v; want INBOX once, with the expunge",
				withFlag, ss.withStores, sv.surveyed)
		}
		reset()
		if c := total(r.sync(t)); len(c) != 0 || ss.selects["INBOX"] != 0 || sv.surveyed["INBOX"] != 0 {
			t.Fatalf("the sync after the deletion did %v, selected %v, surveyed %v; want nothing", c, ss.selects, sv.surveyed)
		}
	}

	// A message filed locally (a sent message): the survey goes with the
	// upload.
	reset()
	sent := sample.Messages("INBOX", 1, 49)[0]
	_, err := r.local.AddMessage("INBOX", bytes.ReplaceAll(sent.Body, []byte("\r\n"), []byte("\n")), model.Seen, sent.Date)
	must(t, err)
	if c := total(r.sync(t)); c[model.OpUpload] != 1 || len(c) != 1 {
		t.Fatalf("a message filed locally in INBOX: %v, want one upload", c)
	}
	if ss.withStores["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 {
		t.Fatalf("a message filed: surveyed with the upload %v, in all %v; want INBOX once, with the upload", ss.withStores, sv.surveyed)
	}
	reset()
	if c := total(r.sync(t)); len(c) != 0 || ss.selects["INBOX"] != 0 || sv.surveyed["INBOX"] != 0 {
		t.Fatalf("the sync after the upload did %v, selected %v, surveyed %v; want nothing", c, ss.selects, sv.surveyed)
	}

	// Two folders, a near server: the verification surveys both.
	reset()
	flip("INBOX")
	flip("Archive")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in each folder: %v, want two server flag changes", c)
	}
	if len(ss.withStores) != 0 || sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 {
		t.Fatalf("two folders, a near server: surveyed with the stores %v, in all %v; want none with the stores, each twice (plan, verification)",
			ss.withStores, sv.surveyed)
	}
	// A far one: each with its stores, and the connections log out once
	// both surveys are in.
	ss.far = surveysBehindFrom
	reset()
	flip("INBOX")
	flip("Archive")
	if c := total(r.sync(t)); c[model.OpStoreRemote] != 2 {
		t.Fatalf("a local flag change in each folder: %v, want two server flag changes", c)
	}
	if ss.withStores["INBOX"] != 1 || ss.withStores["Archive"] != 1 || sv.surveyed["INBOX"] != 2 || sv.surveyed["Archive"] != 2 ||
		slices.Contains(ss.leaves, true) || ss.leftEarly != 1 {
		t.Fatalf("two folders, a far server: surveyed with the stores %v (leaving %v), in all %v, connections left after %d empty last surveys; "+
			"want each once with its stores, not leaving, each twice in all (plan, stores), the connections left once all were in",
			ss.withStores, ss.leaves, sv.surveyed, ss.leftEarly)
	}
	reset()
	if c := total(r.sync(t)); len(c) != 0 || len(ss.selects) != 0 || len(sv.surveyed) != 0 {
		t.Fatalf("the sync after the two folders did %v, selected %v, surveyed %v; want nothing", c, ss.selects, sv.surveyed)
	}
	ss.far = 0

	// A flag change on the server: the last operation is local.
	reset()
	msgs, _ := r.remote.Messages("INBOX")
	must(t, r.remote.SetMessageFlags("INBOX", msgs[1].UID, msgs[1].Flags^model.Answered))
	if c := total(r.sync(t)); c[model.OpSetLocalFlags] != 1 || c[model.OpStoreRemote] != 0 {
		t.Fatalf("a server flag change in INBOX: %v, want one local flag change", c)
	}
	if len(ss.withStores) != 0 || ss.selects["INBOX"] != 1 || sv.surveyed["INBOX"] != 1 {
		t.Fatalf("a local change only: surveyed with the stores %v, selected %v, surveyed %v; want none with the stores, INBOX selected for its plan and surveyed by the verification",
			ss.withStores, ss.selects, sv.surveyed)
	}
	r.converged(t, 10)
}
