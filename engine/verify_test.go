package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtrail/adapters/maildir"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// The verification after a sync records Maildir folders it has just
// written (it waits for their directories' mtimes to be trustworthy,
// while the server side is listed), so that the next sync skips them; and
// a file renamed right after a sync is never skipped.
func TestVerificationRecordsMaildirFoldersJustWritten(t *testing.T) {
	r := newRig(t)
	r.remote.SetCondstore(true)
	root := t.TempDir()
	local, err := maildir.New(root, '.', maildir.Options{Hostname: "h", PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	r.acct.Local = local
	for _, f := range []string{"INBOX", "Archive"} {
		for _, m := range sample.Messages(f, 20, 3) {
			r.remote.AddMessage(f, m.Body, m.Flags, m.Date)
		}
	}
	unchanged := func(rep Report) map[string]bool {
		out := map[string]bool{}
		for _, f := range rep.Folders {
			out[f.Name] = f.Unchanged
		}
		return out
	}
	if c := total(r.sync(t)); c[model.OpFetch] != 40 {
		t.Fatalf("cold sync: %v", c)
	}
	if u := unchanged(r.sync(t)); !u["INBOX"] || !u["Archive"] {
		t.Fatalf("the sync after a cold one did not skip the folders it wrote: %v", u)
	}
	for round := range 3 {
		// Flag one message of Archive at once, then sync: never skipped.
		files, err := filepath.Glob(filepath.Join(root, "Archive", "cur", "*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("Archive/cur: %v %v", files, err)
		}
		var plain, info string
		for _, f := range files {
			base, i, _ := strings.Cut(filepath.Base(f), ":2,")
			if !strings.Contains(i, "F") {
				plain, info = filepath.Join(filepath.Dir(f), base), i
				break
			}
		}
		if plain == "" {
			t.Fatal("no unflagged file left")
		}
		flagged := plain + ":2," + info + "F"
		plain += ":2," + info
		if err := os.Rename(plain, flagged); err != nil {
			t.Fatal(err)
		}
		rep := r.sync(t)
		if u := unchanged(rep); u["Archive"] || !u["INBOX"] {
			t.Fatalf("round %d: after flagging a file in Archive: %v", round, u)
		}
		if c := total(rep); c[model.OpStoreRemote] != 1 {
			t.Fatalf("round %d: the flag did not reach the server: %v", round, c)
		}
		if u := unchanged(r.sync(t)); !u["INBOX"] || !u["Archive"] {
			t.Fatalf("round %d: the sync after did not skip both: %v", round, u)
		}
	}
	r.converged(t, 40)
}
