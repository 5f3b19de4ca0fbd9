package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters/memstore"
	"mailtrail/engine"
	"mailtrail/internal/sample"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// bundleDir holds bundles that replay in the test suite: a planner bug
// reported with a bundle becomes a regression test by adding its file here.
const bundleDir = "../testdata/replay"

// scenario builds an account in memory, syncs it, lets change run, syncs
// again and returns the second run's bundle.
type scenario struct {
	name   string
	opts   planner.Options
	change func(t *testing.T, r *memstore.Remote, l *memstore.Local)
}

var scenarios = []scenario{
	{"deletions-both-ways", planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}, func(t *testing.T, r *memstore.Remote, l *memstore.Local) {
		must(t, r.DeleteMessage("INBOX", 2))
		must(t, r.DeleteMessage("Archive/2024", 1))
		lm, _ := l.Messages("INBOX")
		must(t, l.DeleteMessage("INBOX", lm[4].Key))
		must(t, l.DeleteMessage("INBOX", lm[5].Key))
	}},
	{"flags-and-new-mail", planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}, func(t *testing.T, r *memstore.Remote, l *memstore.Local) {
		must(t, r.SetMessageFlags("INBOX", 1, model.Flagged|model.Seen))
		lm, _ := l.Messages("INBOX")
		must(t, l.SetMessageFlags("INBOX", lm[2].Key, model.Answered))
		must(t, l.SetMessageFlags("INBOX", lm[3].Key, model.Seen|model.Draft))
		must(t, r.SetMessageFlags("INBOX", 4, model.Deleted))
		for _, m := range sample.Messages("INBOX", 2, 50) {
			_, err := r.AddMessage("INBOX", m.Body, m.Flags, m.Date)
			must(t, err)
		}
		m := sample.Messages("Archive/2024", 1, 51)[0]
		_, err := l.AddMessage("Archive/2024", bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), model.Seen, m.Date)
		must(t, err)
	}},
	{"modification-beats-deletion", planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}, func(t *testing.T, r *memstore.Remote, l *memstore.Local) {
		lm, _ := l.Messages("INBOX")
		// Deleted locally, flagged on the server: copied back.
		must(t, l.DeleteMessage("INBOX", lm[0].Key))
		must(t, r.SetMessageFlags("INBOX", 1, model.Flagged))
		// Deleted on the server, flag changed locally: uploaded again.
		must(t, r.DeleteMessage("INBOX", 3))
		must(t, l.SetMessageFlags("INBOX", lm[2].Key, model.Flagged))
	}},
	{"uidvalidity-changed", planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}, func(t *testing.T, r *memstore.Remote, l *memstore.Local) {
		must(t, r.ChangeUIDValidity("INBOX", 999))
		must(t, r.SetMessageFlags("INBOX", 2, model.Flagged))
		m := sample.Messages("INBOX", 1, 77)[0]
		_, err := r.AddMessage("INBOX", m.Body, 0, m.Date)
		must(t, err)
	}},
	{"refused-local-only-folder", planner.Options{CreateLocalFolders: true}, func(t *testing.T, r *memstore.Remote, l *memstore.Local) {
		must(t, l.CreateFolder(context.Background(), "Drafts/Local"))
		_, err := l.AddMessage("Drafts/Local", []byte("Subject: x\n\nbody\n"), 0, time.Unix(1e9, 0))
		must(t, err)
		must(t, r.DeleteMessage("INBOX", 5))
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (sc scenario) bundle(t *testing.T) *Bundle {
	t.Helper()
	ctx := context.Background()
	r, l := memstore.NewRemote(), memstore.NewLocal()
	for i, f := range []string{"INBOX", "Archive/2024"} {
		for _, m := range sample.Messages(f, 8, int64(i+1)) {
			_, err := r.AddMessage(f, m.Body, m.Flags, m.Date)
			must(t, err)
		}
	}
	clock := time.Date(2025, 4, 1, 8, 0, 0, 0, time.UTC)
	j, err := journal.Open("", journal.Options{InMemory: true, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	must(t, err)
	t.Cleanup(func() { j.Close() })
	a := &engine.Account{Name: "Test", Remote: r, Local: l, Journal: j, Log: zerolog.Nop(), Planner: sc.opts, Command: "sync",
		Now: func() time.Time { return clock }}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	sc.change(t, r, l)
	rep, err := a.Sync(ctx)
	must(t, err)
	b, err := Export(j, "Test", rep.Run, clock)
	must(t, err)
	return b
}

// TestBundlesInTestdataReplay replays every bundle under testdata/replay:
// this build plans the same, and the plan converges when carried out.
// MAILTRAIL_UPDATE_BUNDLES=1 writes the scenarios' bundles there first.
func TestBundlesInTestdataReplay(t *testing.T) {
	if os.Getenv("MAILTRAIL_UPDATE_BUNDLES") == "1" {
		must(t, os.MkdirAll(bundleDir, 0o755))
		for _, sc := range scenarios {
			b := sc.bundle(t)
			b.Producer = "mailtrail replay tests"
			must(t, b.Redact())
			var buf bytes.Buffer
			must(t, b.Write(&buf))
			must(t, os.WriteFile(filepath.Join(bundleDir, sc.name+".json"), buf.Bytes(), 0o644))
		}
	}
	files, _ := filepath.Glob(filepath.Join(bundleDir, "*.json"))
	if len(files) < len(scenarios) {
		t.Fatalf("%d bundles in %s, want at least %d (MAILTRAIL_UPDATE_BUNDLES=1 writes them)", len(files), bundleDir, len(scenarios))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := ReadFile(f)
			must(t, err)
			if !b.Redacted {
				t.Errorf("bundle in the repository is not redacted")
			}
			diffs, err := Replan(b)
			must(t, err)
			if Differs(diffs) {
				t.Fatalf("this build plans differently:\n%s", Summary(diffs))
			}
			res, err := Execute(context.Background(), b)
			must(t, err)
			if !res.OK() {
				t.Fatalf("executed plan does not converge: failed %v, diffs %v, leftover %v", res.Failed, res.Diffs, res.Leftover)
			}
			total := 0
			for _, d := range res.Done {
				for k, n := range d {
					if k.ChangesMail() {
						total += n
					}
				}
			}
			if total == 0 {
				t.Fatalf("replay changed no mail: %+v", res.Done)
			}
		})
	}
}

// Redaction keeps the plan: a redacted bundle replans identically, and
// holds none of the names.
func TestRedactedBundleReplansIdentically(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			b := sc.bundle(t)
			diffs, err := Replan(b)
			must(t, err)
			if Differs(diffs) {
				t.Fatalf("unredacted bundle replans differently:\n%s", Summary(diffs))
			}
			must(t, b.Redact())
			var buf bytes.Buffer
			must(t, b.Write(&buf))
			for _, s := range []string{"Archive", "mailtrail.example", "Drafts", "Meeting notes", "Lovelace"} {
				if bytes.Contains(buf.Bytes(), []byte(s)) {
					t.Errorf("redacted bundle holds %q", s)
				}
			}
			b2, err := Read(&buf)
			must(t, err)
			diffs, err = Replan(b2)
			must(t, err)
			if Differs(diffs) {
				t.Fatalf("redacted bundle replans differently:\n%s", Summary(diffs))
			}
			if sc.name == "refused-local-only-folder" {
				refused := 0
				for _, f := range b2.Folders {
					if f.Plan.Refused != "" {
						refused++
					}
				}
				if refused != 1 {
					t.Fatalf("%d refused folders in the bundle, want 1", refused)
				}
			}
		})
	}
}

// An edited bundle — a recorded plan that this build would not make — is
// caught, with the differing operation named.
func TestEditedBundleIsCaught(t *testing.T) {
	b := scenarios[0].bundle(t)
	must(t, b.Redact())
	var inbox *Folder
	for i := range b.Folders {
		if b.Folders[i].Name == "INBOX" {
			inbox = &b.Folders[i]
		}
	}
	if inbox == nil || len(inbox.Plan.Ops) == 0 {
		t.Fatalf("no INBOX plan in %+v", b.Folders)
	}
	// The recorded plan loses its first operation.
	inbox.Plan.Ops = inbox.Plan.Ops[1:]
	diffs, err := Replan(b)
	must(t, err)
	if !Differs(diffs) || !strings.Contains(Summary(diffs), "+ replanned #1:") {
		t.Fatalf("edited plan not caught:\n%s", Summary(diffs))
	}
	// An observation changed instead: a flag on the server.
	b = scenarios[0].bundle(t)
	for i := range b.Folders {
		if b.Folders[i].Name == "Archive/2024" {
			b.Folders[i].Remote.Msgs[0].Flags = "F"
		}
	}
	diffs, err = Replan(b)
	must(t, err)
	if !Differs(diffs) || !strings.Contains(Summary(diffs), "set-local-flags") {
		t.Fatalf("edited observation not caught:\n%s", Summary(diffs))
	}
}

func TestReadRefusesOtherFormatsAndNewerVersions(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"format":"something","version":1}`, "not a replay bundle"},
		{`{"format":"mailtrail-replay-bundle","version":99}`, "newer than this mailtrail reads"},
		{`{"format":"mailtrail-replay-bundle","version":1,"folders":[{"name":"A","plan":{"ops":[{"Kind":"teleport"}]}}]}`, "unknown kind"},
		{`{"format":"mailtrail-replay-bundle","version":1,"folders":[{"name":"A","remote":{"msgs":[{"uid":1,"flags":"XYZ"}]}}]}`, "unknown letters"},
	} {
		_, err := Read(strings.NewReader(c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Read(%s): %v, want %q", c.json, err, c.want)
		}
	}
}

// Every op field survives the bundle form.
func TestOpRoundTrip(t *testing.T) {
	op := model.Op{Kind: model.OpStoreRemote, Folder: "A/B", UID: 7, Key: "k", Flags: model.Seen, Add: model.Flagged, Remove: model.Draft, Size: 12, MinUID: 3, Reason: "why"}
	bop, err := FromOp(op, &journal.MsgInfo{Subject: "s"})
	must(t, err)
	raw, err := json.Marshal(bop)
	must(t, err)
	var back Op
	must(t, json.Unmarshal(raw, &back))
	got, err := back.ToOp()
	must(t, err)
	if got != op {
		t.Fatalf("round trip: %+v, want %+v (%s)", got, op, raw)
	}
}
