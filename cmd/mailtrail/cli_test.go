package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailtrail/internal/lockfile"
)

func TestMalformedConfigExits2WithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "rc")
	os.WriteFile(cfg, []byte("[general]\naccounts = A\nthis line is nonsense\n"), 0o600)
	code, _, errs := run(t, "-c", cfg)
	if code != 2 || !strings.Contains(errs, cfg+":3:") {
		t.Fatalf("exit %d, stderr %q; want 2 naming %s:3", code, errs, cfg)
	}
}

func TestMissingConfigExits2(t *testing.T) {
	code, _, errs := run(t, "-c", filepath.Join(t.TempDir(), "none"))
	if code != 2 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestUnknownAccountAndFlagExit2(t *testing.T) {
	s := memServer(t)
	su := newSetup(t, s, "")
	if code, _, errs := run(t, "-c", su.config, "-a", "Nope"); code != 2 || !strings.Contains(errs, "Nope") {
		t.Fatalf("-a Nope: exit %d, %q", code, errs)
	}
	if code, _, _ := run(t, "--no-such-flag"); code != 2 {
		t.Fatalf("unknown flag: exit %d", code)
	}
}

func TestUnsafeUnsupportedOptionRefusedUnlessForced(t *testing.T) {
	s := memServer(t)
	su := newSetup(t, s, "sync_deletes = no")
	code, _, errs := run(t, "-c", su.config, "-o")
	if code != 2 || !strings.Contains(errs, "sync_deletes") || !strings.Contains(errs, "--force") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if _, err := os.Stat(su.maildir); err == nil {
		t.Fatal("the refused run created the Maildir")
	}
	if code, _, errs := run(t, "-c", su.config, "-o", "--force"); code != 0 {
		t.Fatalf("--force: exit %d, %s", code, errs)
	}
}

func TestLockedAccountExits1TouchingNothing(t *testing.T) {
	s := memServer(t)
	seed(t, s)
	su := newSetup(t, s, "")
	lock, err := lockfile.Acquire(filepath.Join(su.dir, "meta", "mailtrail", "Test", "lock"), "account Test")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	code, _, errs := run(t, "-c", su.config, "-o")
	want := "account Test is locked by process " + strconv.Itoa(os.Getpid())
	if code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, errs, want)
	}
	if _, err := os.Stat(su.maildir); err == nil {
		t.Fatal("the locked-out run created the Maildir")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	code, out, errs := run(t, "-c", su.config, "--dry-run")
	if code != 0 || !strings.Contains(out, "would do") || !strings.Contains(out, "fetch uid 1") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(su.maildir, "*", "*", "*"))
	if len(files) != 0 {
		t.Fatalf("dry run wrote %d files", len(files))
	}
	if _, err := os.Stat(filepath.Join(su.dir, "meta", "mailtrail", "Test", "journal")); err == nil {
		t.Fatal("dry run created a journal")
	}
	// After a real sync, a dry run plans nothing.
	su.sync(t)
	_, out, _ = run(t, "-c", su.config, "--dry-run")
	if strings.Contains(out, "would do") {
		t.Fatalf("dry run after sync plans something:\n%s", out)
	}
	assertConverged(t, s, su, total)
}

func TestOfflineIMAPFlags(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	// -k overrides the file: a wrong port in the file is corrected on the
	// command line; -1, -q, -d and -l are accepted; -l writes the log.
	broken := strings.Replace(readFile(t, su.config), "remoteport = ", "remoteport = 1", 1)
	os.WriteFile(su.config, []byte(broken), 0o600)
	logFile := filepath.Join(su.dir, "sync.log")
	code, out, errs := run(t, "-c", su.config, "-o", "-1", "-q", "-d", "imap", "-l", logFile,
		"-k", "Repository Remote:remoteport="+strconv.Itoa(s.port))
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	assertConverged(t, s, su, total)
	b, err := os.ReadFile(logFile)
	if err != nil || len(b) == 0 {
		t.Fatalf("-l wrote no log: %v", err)
	}
	if strings.Contains(string(b), s.pass) || strings.Contains(errs, s.pass) {
		t.Fatal("the password is in the debug log")
	}
	if code, out, _ := run(t, "-V"); code != 0 || !strings.HasPrefix(out, "mailtrail ") {
		t.Fatalf("-V: exit %d, %q", code, out)
	}
	if code, _, errs := run(t, "-c", su.config, "-k", "nonsense"); code != 2 || !strings.Contains(errs, "-k nonsense") {
		t.Fatalf("bad -k: exit %d, %q", code, errs)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFolderFilter: OfflineIMAP's folderfilter lambdas on both sides; a
// folder either rejects is not synced, not created, not deleted.
func TestFolderFilter(t *testing.T) {
	s := memServer(t)
	seed(t, s)
	su := newSetup(t, s, "folderfilter = lambda folder: folder not in ['Odd'] and not folder.startswith('Lists')")
	// A local-only folder the local filter rejects must not be uploaded.
	cfg := readFile(t, su.config)
	cfg = strings.Replace(cfg, "localfolders = ", "folderfilter = lambda f: f != 'Private'\nlocalfolders = ", 1)
	os.WriteFile(su.config, []byte(cfg), 0o600)
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(su.maildir, "Private", d), 0o700)
	}
	deliver(t, filepath.Join(su.maildir, "Private"), "secret-1", "From: me\nSubject: private\n\nkeep local\n")
	out := su.sync(t)
	for _, gone := range []string{"Odd", "Lists"} {
		if strings.Contains(out, gone) {
			t.Errorf("a filtered folder was synced:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(su.maildir, gone)); err == nil {
			t.Errorf("filtered folder %s was created locally", gone)
		}
	}
	if strings.Contains(out, "Private") {
		t.Errorf("the locally filtered folder was synced:\n%s", out)
	}
	if !strings.Contains(out, "INBOX") || !strings.Contains(out, "Archive/2024") {
		t.Fatalf("wanted folders not synced:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(su.maildir, "Private", "new", "secret-1")); err != nil {
		t.Fatal("the filtered local folder was touched")
	}
	// A lambda that fails for a folder fails that folder (exit 1) and says why.
	cfg = strings.Replace(readFile(t, su.config), "folderfilter = lambda f: f != 'Private'", "folderfilter = lambda f: f[20] != 'x'", 1)
	os.WriteFile(su.config, []byte(cfg), 0o600)
	code, _, _ := run(t, "-c", su.config, "-o")
	code2, out2, errs2 := run(t, "-c", su.config, "-o", "-u", "basic")
	if code != 1 || code2 != 1 || !strings.Contains(out2+errs2, "folderfilter = lambda f: f[20]") {
		t.Fatalf("failing filter: exit %d/%d\n%s%s", code, code2, out2, errs2)
	}
	// A lambda that does not compile is a configuration error with its line.
	cfg = strings.Replace(readFile(t, su.config), "folderfilter = lambda f: f[20] != 'x'", "folderfilter = lambda f: f in [", 1)
	os.WriteFile(su.config, []byte(cfg), 0o600)
	if code, _, errs := run(t, "-c", su.config, "-o"); code != 2 || !strings.Contains(errs, "folderfilter = lambda f: f in [") || !strings.Contains(errs, "offlineimaprc:") {
		t.Fatalf("bad lambda: exit %d: %s", code, errs)
	}
}
