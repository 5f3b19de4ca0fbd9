package engine

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/internal/converge"
	"mailtrail/internal/sample"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

type rig struct {
	remote *memstore.Remote
	local  *memstore.Local
	j      *journal.Store
	acct   *Account
}

func newRig(t *testing.T) *rig {
	t.Helper()
	j, err := journal.Open(t.TempDir(), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	r := &rig{remote: memstore.NewRemote(), local: memstore.NewLocal(), j: j}
	r.acct = &Account{Name: "t", Remote: r.remote, Local: r.local, Journal: j, Log: zerolog.Nop(), MaxConnections: 2,
		Planner: planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}}
	return r
}

func (r *rig) sync(t *testing.T) Report {
	t.Helper()
	rep, err := r.acct.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Folders {
		if !f.OK() {
			t.Fatalf("folder %s: err=%v failed=%v refused=%q", f.Name, f.Err, f.Failed, f.Plan.Refused)
		}
	}
	return rep
}

// statusRows is how many status rows the journal holds for folder.
func (r *rig) statusRows(t *testing.T, folder string) int {
	t.Helper()
	st, _, err := r.j.FolderStatus(folder)
	if err != nil {
		t.Fatal(err)
	}
	return st.Rows.Len()
}

func (r *rig) converged(t *testing.T, want int) {
	t.Helper()
	sum, err := converge.Check(context.Background(), r.remote, r.acct.Local) // the local store the account syncs
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Messages != want {
		t.Fatalf("%d messages (want %d), diffs:\n%s", sum.Messages, want, strings.Join(sum.Diffs, "\n"))
	}
}

func total(rep Report) map[model.OpKind]int {
	c := map[model.OpKind]int{}
	for _, f := range rep.Folders {
		for k, n := range f.Done {
			c[k] += n
		}
	}
	return c
}

func TestTwoWayThenNothing(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 30, 1) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	for _, m := range sample.Messages("Notes", 5, 2) {
		r.local.AddMessage("Notes", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), m.Flags, m.Date)
	}
	rep := r.sync(t)
	c := total(rep)
	if c[model.OpFetch] != 30 || c[model.OpUpload] != 5 || c[model.OpCreateRemoteFolder] != 1 {
		t.Fatalf("first sync did %v", c)
	}
	r.converged(t, 35)
	rep = r.sync(t)
	if c := total(rep); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
}

func TestUploadWithoutUIDPlusFindsTheUID(t *testing.T) {
	r := newRig(t)
	r.remote.SetUIDPlus(false)
	for _, m := range sample.Messages("INBOX", 3, 3) {
		r.local.AddMessage("INBOX", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), m.Flags, m.Date)
	}
	r.sync(t)
	r.converged(t, 3)
	if n := r.statusRows(t, "INBOX"); n != 3 {
		t.Fatalf("%d status rows, want 3", n)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v (UIDs not found without UIDPLUS?)", c)
	}
}

// TestInterruptedUploadIsNotRepeated: the run was killed after APPEND and
// before its checkpoint. The next run must find the copy, not append again
// nor download it as new.
func TestInterruptedUploadIsNotRepeated(t *testing.T) {
	r := newRig(t)
	m := sample.Messages("INBOX", 1, 4)[0]
	key, err := r.local.AddMessage("INBOX", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), model.Seen, m.Date)
	if err != nil {
		t.Fatal(err)
	}
	r.journalUploadIntent(t, key)
	// The APPEND reached the server; then the process died.
	if _, err := r.remote.AddMessage("INBOX", m.Body, model.Seen, m.Date); err != nil {
		t.Fatal(err)
	}
	rep := r.sync(t)
	if c := total(rep); c[model.OpUpload] != 0 || c[model.OpFetch] != 0 {
		t.Fatalf("resumed run copied again: %v", c)
	}
	r.converged(t, 1)
	pending, _ := r.j.Pending()
	if len(pending) != 0 {
		t.Fatalf("%d intents still pending", len(pending))
	}
}

// TestVanishedLocalFolderIsDownloadedNotDeleted: an unmounted or removed
// local folder must never empty the server.
func TestVanishedLocalFolderIsDownloadedNotDeleted(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 10, 5) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	// Another folder stays: a Maildir with no folder left at all refuses
	// the account (TestEmptyLocalSideRefusesAccount).
	r.remote.AddMessage("Sent", sample.Messages("Sent", 1, 6)[0].Body, model.Seen, sample.Base)
	r.sync(t)
	if err := r.local.DeleteFolder("INBOX"); err != nil {
		t.Fatal(err)
	}
	c := total(r.sync(t))
	if c[model.OpExpungeRemote] != 0 || c[model.OpFetch] != 10 {
		t.Fatalf("after the local folder vanished: %v", c)
	}
	r.converged(t, 11)
}

func TestEmptyLocalSideRefusesAccount(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 10, 5) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	r.sync(t)
	if err := r.local.DeleteFolder("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.acct.Sync(context.Background()); err == nil || !strings.Contains(err.Error(), "local Maildir has no folders") {
		t.Fatalf("want the account refused, got %v", err)
	}
	if got, _ := r.remote.Messages("INBOX"); len(got) != 10 {
		t.Fatalf("%d server messages left of 10", len(got))
	}
	r.acct.Force = true
	if c := total(r.sync(t)); c[model.OpFetch] != 10 || c[model.OpExpungeRemote] != 0 {
		t.Fatalf("forced: %v", c)
	}
	r.converged(t, 10)
}

func TestUIDValidityChangeRepairsByIdentity(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 4, 6) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
		r.remote.AddMessage("Other", m.Body, m.Flags, m.Date)
	}
	r.sync(t)
	if err := r.remote.ChangeUIDValidity("INBOX", 999); err != nil {
		t.Fatal(err)
	}
	r.remote.AddMessage("Other", sample.Messages("x", 1, 7)[0].Body, 0, sample.Base)
	c := total(r.sync(t))
	if c[model.OpRebaseFolder] != 1 || c[model.OpPair] != 4 || c[model.OpFetch] != 1 || c[model.OpUpload] != 0 {
		t.Fatalf("want INBOX re-paired without copying and Other synced on: %v", c)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
	r.converged(t, 9)
}

func TestUIDValidityChangeWithTooFewFoundRefusesFolderOnly(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 4, 6) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
		r.remote.AddMessage("Other", m.Body, m.Flags, m.Date)
	}
	r.sync(t)
	if err := r.remote.ChangeUIDValidity("INBOX", 999); err != nil {
		t.Fatal(err)
	}
	for uid := uint32(1); uid <= 3; uid++ {
		if err := r.remote.DeleteMessage("INBOX", uid); err != nil {
			t.Fatal(err)
		}
	}
	r.remote.AddMessage("Other", sample.Messages("x", 1, 7)[0].Body, 0, sample.Base)
	rep, err := r.acct.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Folders {
		switch f.Name {
		case "INBOX":
			if !strings.Contains(f.Plan.Refused, "mailtrail reset-folder -a t INBOX") || len(f.Done) != 0 {
				t.Fatalf("INBOX not refused with the reset command: %+v", f)
			}
		case "Other":
			if !f.OK() || f.Done[model.OpFetch] != 1 {
				t.Fatalf("Other did not sync on: %+v", f)
			}
		}
	}
	if rep.Failed() != 1 {
		t.Fatalf("%d folders failed, want 1", rep.Failed())
	}
	// reset-folder: the one message left is re-paired, the three the
	// server lost are uploaded again.
	r.acct.Planner.Reset, r.acct.Folders = true, []string{"INBOX"}
	c := total(r.sync(t))
	if c[model.OpUpload] != 3 || c[model.OpFetch] != 0 || c[model.OpExpungeRemote]+c[model.OpDeleteLocal] != 0 {
		t.Fatalf("reset: %v", c)
	}
	r.acct.Planner.Reset, r.acct.Folders = false, nil
	r.converged(t, 9)
}

func TestEmptyServerListRefusesAccount(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 4, 6) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	r.sync(t)
	if err := r.remote.DeleteFolder("INBOX"); err != nil {
		t.Fatal(err)
	}
	_, err := r.acct.Sync(context.Background())
	if err == nil || !strings.Contains(err.Error(), "server lists no folders, but 4 messages in 1 folders") {
		t.Fatalf("want the account refused, got %v", err)
	}
	if msgs, _ := r.local.Messages("INBOX"); len(msgs) != 4 {
		t.Fatalf("%d local messages left of 4", len(msgs))
	}
	r.acct.Force = true
	if c := total(r.sync(t)); c[model.OpUpload] != 4 {
		t.Fatalf("forced: %v", c)
	}
	r.converged(t, 4)
}

// moveLocal moves a local message to another folder as a mail client does:
// the file keeps its name, so its UID and FMD5 name the old folder.
func (r *rig) moveLocal(t *testing.T, from, to, key string) {
	t.Helper()
	m, err := r.local.Message(from, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.local.DeleteMessage(from, key); err != nil {
		t.Fatal(err)
	}
	if err := r.local.PutMessage(to, m); err != nil {
		t.Fatal(err)
	}
}

func TestLocalMoveBecomesServerMove(t *testing.T) {
	for _, uidplus := range []bool{true, false} {
		r := newRig(t)
		r.remote.SetUIDPlus(uidplus)
		for _, m := range sample.Messages("INBOX", 5, 9) {
			r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
		}
		// memstore's keys are only unique within a folder (Maildir's are
		// unique on the host): Archive starts empty so that the moved
		// files keep their names, as a mail client's move does.
		if err := r.remote.CreateFolder(context.Background(), "Archive"); err != nil {
			t.Fatal(err)
		}
		r.sync(t)
		msgs, _ := r.local.Messages("INBOX")
		r.moveLocal(t, "INBOX", "Archive", msgs[0].Key)
		r.moveLocal(t, "INBOX", "Archive", msgs[1].Key)
		c := total(r.sync(t))
		want := map[model.OpKind]int{model.OpMoveRemote: 2}
		if !uidplus { // the new UIDs cannot be known: uploaded and expunged
			want = map[model.OpKind]int{model.OpUpload: 2, model.OpExpungeRemote: 2}
		}
		for k, n := range want {
			if c[k] != n {
				t.Fatalf("uidplus=%v: %v, want %v", uidplus, c, want)
			}
		}
		if c[model.OpFetch] != 0 || (uidplus && c[model.OpUpload] != 0) {
			t.Fatalf("uidplus=%v: copied: %v", uidplus, c)
		}
		if c := total(r.sync(t)); len(c) != 0 {
			t.Fatalf("uidplus=%v: second sync did %v", uidplus, c)
		}
		r.converged(t, 5)
		if got, _ := r.remote.Messages("Archive"); len(got) != 2 {
			t.Fatalf("uidplus=%v: %d messages in Archive on the server, want 2", uidplus, len(got))
		}
	}
}

// A message moved locally whose server copy carries a \Deleted mark the
// status does not (what an expunge interrupted between its UID STORE and
// its UID EXPUNGE leaves) is moved on the server without the mark: the
// moved file must not come out marked deleted (the full crash sweep's
// TestCrashTwice move-between-folders found this).
func TestLocalMoveClearsAStrayDeletedMark(t *testing.T) {
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 3, 9) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags&^model.Deleted, m.Date)
	}
	if err := r.remote.CreateFolder(context.Background(), "Archive"); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
	msgs, _ := r.local.Messages("INBOX")
	moved := msgs[0]
	rm, err := r.remote.Message("INBOX", moved.UID)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.remote.SetMessageFlags("INBOX", moved.UID, rm.Flags|model.Deleted); err != nil {
		t.Fatal(err)
	}
	r.moveLocal(t, "INBOX", "Archive", moved.Key)
	if c := total(r.sync(t)); c[model.OpMoveRemote] != 1 {
		t.Fatalf("did %v, want one move-remote", c)
	}
	r.sync(t)
	server, _ := r.remote.Messages("Archive")
	local, _ := r.local.Messages("Archive")
	if len(server) != 1 || len(local) != 1 || server[0].Flags&model.Deleted != 0 || local[0].Flags&model.Deleted != 0 ||
		server[0].Flags != moved.Flags || local[0].Flags != moved.Flags {
		t.Fatalf("after the move: server %+v, local %+v; want one message flagged %s on both", server, local, moved.Flags)
	}
	r.converged(t, 3)
}

// TestInterruptedUploadFoundWhenServerRewritesIt: a server without UIDPLUS
// that adds a header to what it stores; the run was killed after APPEND.
// The copy is found by its Message-ID (the only one above the recorded
// UIDNEXT), not appended a second time.
func TestInterruptedUploadFoundWhenServerRewritesIt(t *testing.T) {
	r := newRig(t)
	r.remote.SetUIDPlus(false)
	m := sample.Messages("INBOX", 1, 8)[0]
	key, err := r.local.AddMessage("INBOX", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), model.Seen, m.Date)
	if err != nil {
		t.Fatal(err)
	}
	r.journalUploadIntent(t, key)
	rewritten := append([]byte("X-Scanned: yes\r\n"), m.Body...)
	if _, err := r.remote.AddMessage("INBOX", rewritten, model.Seen, m.Date); err != nil {
		t.Fatal(err)
	}
	rep := r.sync(t)
	if c := total(rep); c[model.OpUpload] != 0 || c[model.OpFetch] != 0 {
		t.Fatalf("resumed run copied again: %v", c)
	}
	msgs, _ := r.remote.Messages("INBOX")
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the server, want 1", len(msgs))
	}
	st, _, _ := r.j.FolderStatus("INBOX")
	if st.Rows.Len() != 1 {
		t.Fatalf("%d status rows, want 1", st.Rows.Len())
	}
}

// journalUploadIntent records the intent of uploading INBOX's key, as a
// run does just before its APPEND, and leaves it pending: the run "died".
func (r *rig) journalUploadIntent(t *testing.T, key string) {
	t.Helper()
	run, err := r.j.BeginRun(journal.RunInfo{Command: "crashed"})
	if err != nil {
		t.Fatal(err)
	}
	rf, err := r.remote.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	minUID := rf.Status().UIDNext
	rf.Close()
	if _, err := r.j.AppendIntents(run, []model.Op{{Kind: model.OpUpload, Folder: "INBOX", Key: key, Flags: model.Seen,
		MinUID: minUID, Reason: "new local message"}}); err != nil {
		t.Fatal(err)
	}
}

// moveRemote moves a server message to another folder, as another mail
// client does: it gets a new UID there.
func (r *rig) moveRemote(t *testing.T, from, to string, uid uint32) {
	t.Helper()
	m, err := r.remote.Message(from, uid)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.remote.DeleteMessage(from, uid); err != nil {
		t.Fatal(err)
	}
	if _, err := r.remote.AddMessage(to, m.Body, m.Flags, m.InternalDate); err != nil {
		t.Fatal(err)
	}
}

// syncedInboxAndArchive is a rig whose server has five seen messages in
// INBOX and an empty Archive, synced.
func syncedInboxAndArchive(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	for _, m := range sample.Messages("INBOX", 5, 11) {
		r.remote.AddMessage("INBOX", m.Body, m.Flags|model.Seen, m.Date)
	}
	if err := r.remote.CreateFolder(context.Background(), "Archive"); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
	return r
}

func TestServerMoveBecomesLocalRename(t *testing.T) {
	r := syncedInboxAndArchive(t)
	before, _ := r.local.Messages("INBOX")
	r.moveRemote(t, "INBOX", "Archive", 2)
	r.moveRemote(t, "INBOX", "Archive", 4)
	c := total(r.sync(t))
	if c[model.OpMoveLocal] != 2 || c[model.OpFetch] != 0 || c[model.OpDeleteLocal] != 0 {
		t.Fatalf("want 2 local moves and no copy: %v", c)
	}
	after, _ := r.local.Messages("Archive")
	if len(after) != 2 || after[0].Key != before[1].Key || after[1].Key != before[3].Key {
		t.Fatalf("Archive holds %+v, want the files %s and %s moved", after, before[1].Key, before[3].Key)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
	r.converged(t, 5)
}

func TestUnconfirmedServerMoveIsDownloaded(t *testing.T) {
	r := newRig(t)
	msgs := sample.Messages("INBOX", 2, 12)
	for _, m := range msgs {
		r.remote.AddMessage("INBOX", m.Body, m.Flags, m.Date)
	}
	if err := r.remote.CreateFolder(context.Background(), "Archive"); err != nil {
		t.Fatal(err)
	}
	r.sync(t)
	// One message expunged from INBOX, and another of exactly its size
	// (but another Message-ID) delivered to Archive: paired by size,
	// refused by content.
	gone, _ := r.remote.Message("INBOX", 1)
	other := bytes.Replace(gone.Body, []byte("Message-ID: <"), []byte("Message-ID: <x"), 1)
	other = bytes.Replace(other, []byte("Subject: "), []byte("Subject:"), 1)
	if len(other) != len(gone.Body) {
		t.Fatalf("test message sizes %d %d", len(other), len(gone.Body))
	}
	must(t, r.remote.DeleteMessage("INBOX", 1))
	if _, err := r.remote.AddMessage("Archive", other, 0, sample.Base); err != nil {
		t.Fatal(err)
	}
	c := total(r.sync(t))
	if c[model.OpMoveLocal] != 0 || c[model.OpFetch] != 1 || c[model.OpDeleteLocal] != 1 {
		t.Fatalf("want the unconfirmed pair downloaded: %v", c)
	}
	if c := total(r.sync(t)); len(c) != 0 {
		t.Fatalf("second sync did %v", c)
	}
	r.converged(t, 2)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnchangedFoldersAreSkipped(t *testing.T) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	for _, f := range []string{"INBOX", "Archive"} {
		for _, m := range sample.Messages(f, 5, 13) {
			r.remote.AddMessage(f, m.Body, m.Flags, m.Date)
		}
	}
	r.sync(t) // cold: the state after it is recorded
	unchanged := func(rep Report) map[string]bool {
		out := map[string]bool{}
		for _, f := range rep.Folders {
			out[f.Name] = f.Unchanged
		}
		return out
	}
	if u := unchanged(r.sync(t)); !u["INBOX"] || !u["Archive"] {
		t.Fatalf("nothing changed, yet not skipped: %v", u)
	}
	// A flag changed on the server: that folder only is synced.
	msgs, _ := r.remote.Messages("INBOX")
	must(t, r.remote.SetMessageFlags("INBOX", msgs[0].UID, msgs[0].Flags^model.Flagged))
	rep := r.sync(t)
	if u := unchanged(rep); u["INBOX"] || !u["Archive"] {
		t.Fatalf("after a server flag change: %v", u)
	}
	if c := total(rep); c[model.OpSetLocalFlags] != 1 {
		t.Fatalf("flag change not synced: %v", c)
	}
	// A local change: that folder is synced.
	lm, _ := r.local.Messages("Archive")
	must(t, r.local.SetMessageFlags("Archive", lm[0].Key, lm[0].Flags^model.Answered))
	rep = r.sync(t)
	if u := unchanged(rep); !u["INBOX"] || u["Archive"] {
		t.Fatalf("after a local flag change: %v", u)
	}
	if c := total(rep); c[model.OpStoreRemote] != 1 {
		t.Fatalf("local flag change not synced: %v", c)
	}
	r.converged(t, 10)
	// Other planner options (a maxsize set, here): synced again, not skipped.
	r.acct.Planner.Window.MaxSize = 1 << 30
	if u := unchanged(r.sync(t)); u["INBOX"] || u["Archive"] {
		t.Fatalf("skipped with other planner options: %v", u)
	}
	if u := unchanged(r.sync(t)); !u["INBOX"] || !u["Archive"] {
		t.Fatalf("not skipped again with the same options: %v", u)
	}
	// Without CONDSTORE nothing is skipped.
	r.remote.SetCondstore(false)
	if u := unchanged(r.sync(t)); u["INBOX"] || u["Archive"] {
		t.Fatalf("skipped without CONDSTORE: %v", u)
	}
}

// openCounting is a memstore Local that counts OpenFolder calls by folder.
type openCounting struct {
	*memstore.Local
	mu    sync.Mutex
	opens map[string]int
}

func (o *openCounting) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	o.mu.Lock()
	o.opens[name]++
	o.mu.Unlock()
	return o.Local.OpenFolder(ctx, name)
}

// TestServerMoveReadsTheSourceFolderItsPlanOpened: a server move confirmed
// by content reads and moves the file through the source folder the run
// opened for that folder's own plan (sharedLocal), not through a second
// copy of it: a second copy scans the folder anew while the folder's own
// execution changes it.
func TestServerMoveReadsTheSourceFolderItsPlanOpened(t *testing.T) {
	r := syncedInboxAndArchive(t)
	r.moveRemote(t, "INBOX", "Archive", 2)
	counting := &openCounting{Local: r.local, opens: map[string]int{}}
	r.acct.Local = counting
	if c := total(r.sync(t)); c[model.OpMoveLocal] != 1 {
		t.Fatalf("want 1 local move: %v", c)
	}
	if n := counting.opens["INBOX"]; n != 1 {
		t.Errorf("INBOX opened %d times in the sync, want once (for its plan)", n)
	}
	r.converged(t, 5)
}
