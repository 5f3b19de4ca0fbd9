package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func journalDir(su setup) string {
	return filepath.Join(su.dir, "meta", "mailtrail", "Test", "journal")
}

// TestLostStatusNeverDeletes: with the whole journal gone, a sync after
// changes on both sides deletes nothing anywhere: messages are paired again
// by the UIDs in the file names and nothing is copied twice.
func TestLostStatusNeverDeletes(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	if err := os.RemoveAll(journalDir(su)); err != nil {
		t.Fatal(err)
	}
	// A local deletion made while the status is lost cannot be told from a
	// new server message: it must come back, not be expunged.
	files, _ := filepath.Glob(filepath.Join(su.maildir, "INBOX", "cur", "*"))
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	out := su.sync(t)
	for _, bad := range []string{"expunge-remote", "delete-local", " upload"} {
		if strings.Contains(out, bad) {
			t.Fatalf("sync without status did %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "1 fetch") {
		t.Fatalf("the locally deleted message was not brought back:\n%s", out)
	}
	assertConverged(t, s, su, total)
	if out := su.sync(t); !strings.Contains(out, "nothing to do") {
		t.Fatalf("not settled after re-pairing:\n%s", out)
	}
}

// TestDamagedJournal: a garbled store gives a clear error naming the
// directory and what to do; `journal check` says how to recover; following
// its advice loses nothing.
func TestDamagedJournal(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	if code, out, _ := run(t, "-c", su.config, "journal", "check"); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check of a good journal: exit %d: %s", code, out)
	}
	dir := journalDir(su)
	manifests, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if len(manifests) == 0 {
		t.Fatal("no MANIFEST in the journal")
	}
	for _, m := range manifests {
		if err := os.WriteFile(m, []byte(strings.Repeat("garbage!", 64)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errs := run(t, "-c", su.config, "-o")
	if code != 1 || !strings.Contains(errs, dir) || !strings.Contains(errs, "move the directory aside") {
		t.Fatalf("sync on a damaged journal: exit %d, stderr:\n%s", code, errs)
	}
	code, _, errs = run(t, "-c", su.config, "journal", "check")
	if code != 1 || !strings.Contains(errs, "mv "+dir+" "+dir+".damaged") {
		t.Fatalf("journal check on a damaged journal: exit %d, stderr:\n%s", code, errs)
	}
	if err := os.Rename(dir, dir+".damaged"); err != nil {
		t.Fatal(err)
	}
	out := su.sync(t)
	if strings.Contains(out, "expunge") || strings.Contains(out, "delete") || strings.Contains(out, "fetch") || strings.Contains(out, "upload") {
		t.Fatalf("recovery copied or deleted mail:\n%s", out)
	}
	assertConverged(t, s, su, total)
}
