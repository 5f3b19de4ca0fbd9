package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHooksMachineUIWindowsNames: presynchook and postsynchook run around
// the sync, machineui prints one JSON object per folder and per account,
// and maildir-windows-compatible names files with '!'.
func TestHooksMachineUIWindowsNames(t *testing.T) {
	s := memServer(t)
	total := seedSmall(t, s, map[string]int{"INBOX": 5, "Work": 3})
	su := newSetup(t, s, "")
	hooks := filepath.Join(su.dir, "hooks")
	code, out, errs := run(t, "-c", su.config, "-o", "-u", "machineui",
		"-k", "Account Test:presynchook=echo pre >> "+hooks,
		"-k", "Account Test:postsynchook=echo post-$((40+2)) >> "+hooks,
		"-k", "Account Test:maildir-windows-compatible=yes")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if got, _ := os.ReadFile(hooks); string(got) != "pre\npost-42\n" {
		t.Errorf("hooks wrote %q", got)
	}
	var folders, fetched int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Event, Account, Folder string
			Ops                    map[string]int
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("machineui line %q: %v", line, err)
		}
		switch ev.Event {
		case "folder":
			folders++
		case "account":
			fetched = ev.Ops["fetch"]
		default:
			t.Errorf("unknown event %q", line)
		}
	}
	if folders != 2 || fetched != total {
		t.Errorf("machineui: %d folder events, %d fetched (want 2, %d):\n%s", folders, fetched, total, out)
	}
	for _, f := range messageFiles(t, filepath.Join(su.maildir, "INBOX")) {
		if !strings.Contains(f, "!2,") || strings.Contains(f, ":") {
			t.Errorf("file %s is not named the Windows-compatible way", f)
		}
	}
	// A dry run calls no hook.
	if code, out, errs := run(t, "-c", su.config, "-o", "--dry-run", "-k", "Account Test:presynchook=echo dry >> "+hooks); code != 0 {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	if got, _ := os.ReadFile(hooks); strings.Contains(string(got), "dry") {
		t.Errorf("dry run ran a hook: %q", got)
	}
}

// TestMbnamesAndPrune: the mbnames file is written after a sync; a stale
// account's entries go with --mbnames-prune.
func TestMbnamesAndPrune(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 2, "Lists/go": 2})
	mailboxes := ""
	su := newSetup(t, s, "")
	mailboxes = filepath.Join(su.dir, "mailboxes")
	f, err := os.OpenFile(su.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`
[mbnames]
enabled = yes
filename = ` + mailboxes + `
header = "mailboxes "
peritem = "+%(accountname)s/%(foldername)s"
sep = " "
footer = "\n"
`)
	f.Close()
	su.sync(t)
	got, _ := os.ReadFile(mailboxes)
	if want := `mailboxes "+Test/INBOX" "+Test/Lists" "+Test/Lists.go"` + "\n"; string(got) != want {
		t.Errorf("mailboxes %q, want %q", got, want)
	}
	inter := filepath.Join(su.dir, "meta", "mailtrail", ".mbnames")
	stale := `[{"accountname":"Gone","foldername":"INBOX","localfolders":"/x"}]`
	if err := os.WriteFile(filepath.Join(inter, "Gone.json"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	su.sync(t)
	if got, _ := os.ReadFile(mailboxes); !strings.Contains(string(got), "+Gone/INBOX") {
		t.Errorf("another account's entries dropped by a sync: %q", got)
	}
	code, out, errs := run(t, "-c", su.config, "--mbnames-prune")
	if code != 0 || !strings.Contains(out, "removed "+filepath.Join(inter, "Gone.json")) {
		t.Fatalf("--mbnames-prune: exit %d\n%s\n%s", code, out, errs)
	}
	if got, _ := os.ReadFile(mailboxes); strings.Contains(string(got), "Gone") || !strings.Contains(string(got), "+Test/INBOX") {
		t.Errorf("after prune: %q", got)
	}
}

// TestNametransNotInverseRefused: a nametrans that maps two server folders
// onto one local folder stops the account before anything is synced.
func TestNametransNotInverseRefused(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 2, "Spam": 2})
	su := newSetup(t, s, "nametrans = lambda f: 'INBOX' if f == 'Spam' else f")
	code, out, errs := run(t, "-c", su.config, "-o")
	if code != 1 || !strings.Contains(errs, "refusing to sync: nametrans is not inverse: the server folder \"Spam\" becomes the local folder \"INBOX\"") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if ents, _ := os.ReadDir(su.maildir); len(ents) != 0 {
		t.Errorf("something was synced: %v", ents)
	}
	// Filtered out, the folder is no longer checked, and the rest syncs.
	code, out, errs = run(t, "-c", su.config, "-o", "-k", "Repository Remote:folderfilter=lambda f: f != 'Spam'")
	if code != 0 {
		t.Fatalf("with Spam filtered out: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestAutorefresh: without -o, an account with autorefresh syncs again
// until interrupted.
func TestAutorefresh(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 1})
	su := newSetup(t, s, "")
	cmd := exec.Command(binary, "-c", su.config, "-u", "basic", "-k", "Account Test:autorefresh=0.005") // 0.3 s
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("mailtrail did not stop on SIGINT")
	}
	// One summary line per sync (the journal records only syncs that did
	// something).
	if n := strings.Count(stdout.String(), "Test: 1 folders,"); n < 3 {
		t.Errorf("%d syncs in 1.5 s with autorefresh 0.3 s:\n%s", n, stdout.String())
	}
}

// TestFolderIncludesAndRestoreAtime: folderincludes brings back a folder
// the folderfilter rejects; restoreatime puts back the access time of
// cur/ and new/ that a sync changed.
func TestFolderIncludesAndRestoreAtime(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 2, "Spam": 1, "Work": 1})
	su := newSetup(t, s, `folderfilter = lambda f: f == 'INBOX'
folderincludes = ['Work']`)
	su.sync(t, "-k", "Repository Local:restoreatime=yes")
	for dir, want := range map[string]bool{"INBOX": true, "Work": true, "Spam": false} {
		if _, err := os.Stat(filepath.Join(su.maildir, dir)); (err == nil) != want {
			t.Errorf("folder %s synced: %v, want %v", dir, err == nil, want)
		}
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	cur := filepath.Join(su.maildir, "INBOX", "cur")
	st, err := os.Stat(cur)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(cur, old, st.ModTime()); err != nil {
		t.Fatal(err)
	}
	// A sync that reads the folder (a new message arrives).
	seedSmall(t, s, map[string]int{"INBOX": 1})
	su.sync(t, "-k", "Repository Local:restoreatime=yes")
	var sys syscall.Stat_t
	if err := syscall.Stat(cur, &sys); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(sys.Atim.Sec, sys.Atim.Nsec).UTC(); !got.Equal(old) {
		t.Errorf("atime of INBOX/cur is %s after the sync, want %s restored", got, old)
	}
}

// TestUTF7FolderNamesAndDashF: without utf8foldernames, a server folder
// named in UTF-8 is the local folder named in modified UTF-7, as
// OfflineIMAP names it; -f takes the server's name.
func TestUTF7FolderNamesAndDashF(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 1, "Entwürfe": 2})
	su := newSetup(t, s, "")
	su.sync(t, "-f", "Entwürfe")
	if got := messageFiles(t, filepath.Join(su.maildir, "Entw&APw-rfe")); len(got) != 2 {
		t.Errorf("Entw&APw-rfe holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(su.maildir, "INBOX")); err == nil {
		t.Errorf("-f Entwürfe synced INBOX")
	}
	su.sync(t)
	if ents, _ := os.ReadDir(su.maildir); len(ents) != 2 {
		t.Errorf("Maildir holds %v", ents)
	}
	// With utf8foldernames the same server folder would be Entwürfe: the
	// existing modified UTF-7 folder is then refused, not duplicated.
	code, out, errs := run(t, "-c", su.config, "-o", "-k", "Account Test:utf8foldernames=yes")
	if code != 1 || !strings.Contains(errs, "change utf8foldernames back, or rename the local folder") {
		t.Errorf("utf8foldernames switched on: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(su.maildir, "Entwürfe")); err == nil {
		t.Errorf("utf8foldernames made a second copy of the folder (exit %d)\n%s%s", code, out, errs)
	}
}

// TestUIOption: [general] ui chooses the interface when -u does not; an
// unknown one is a usage error naming the choices.
func TestUIOption(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 1})
	su := newSetup(t, s, "")
	code, out, errs := run(t, "-c", su.config, "-o", "-k", "general:ui=machineui")
	if code != 0 || !strings.HasPrefix(out, "{") || !strings.Contains(out, `"event":"account"`) {
		t.Fatalf("ui = machineui: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, "-c", su.config, "-o", "-u", "fancy")
	if code != 2 || !strings.Contains(errs, "use one of quiet, basic, ttyui, blinkenlights, syslog, machineui") {
		t.Fatalf("-u fancy: exit %d\n%s\n%s", code, out, errs)
	}
}
