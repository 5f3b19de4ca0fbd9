package engine

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

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

func (r *rig) converged(t *testing.T, want int) {
	t.Helper()
	sum, err := converge.Check(context.Background(), r.remote, r.local)
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
	st, _, err := r.j.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 3 {
		t.Fatalf("%d status rows, want 3", len(st.Rows))
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
	r.sync(t)
	if err := r.local.DeleteFolder("INBOX"); err != nil {
		t.Fatal(err)
	}
	c := total(r.sync(t))
	if c[model.OpExpungeRemote] != 0 || c[model.OpFetch] != 10 {
		t.Fatalf("after the local folder vanished: %v", c)
	}
	r.converged(t, 10)
}

func TestUIDValidityChangeRefusesFolderOnly(t *testing.T) {
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
	rep, err := r.acct.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Folders {
		switch f.Name {
		case "INBOX":
			if f.Plan.Refused == "" || len(f.Done) != 0 {
				t.Fatalf("INBOX not refused: %+v", f)
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
	if len(st.Rows) != 1 {
		t.Fatalf("%d status rows, want 1", len(st.Rows))
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
