package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters"
	adimap "mailtrail/adapters/imap"
	"mailtrail/internal/lockfile"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// The scenarios of docs/RELIABILITY.md "Safety guards", each on a real
// Dovecot, asserting the exact state of both sides afterwards.

// rawIMAP logs in to the test server with a bare IMAP client, to do what
// another mail client (or the server's administrator) would.
func rawIMAP(t *testing.T, s server) *imapclient.Client {
	t.Helper()
	addr := net.JoinHostPort(s.host, strconv.Itoa(s.port))
	var c *imapclient.Client
	var err error
	if s.tls == adimap.TLSImplicit {
		pem, rerr := os.ReadFile(s.ca)
		if rerr != nil {
			t.Fatal(rerr)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		c, err = imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: pool, ServerName: s.host}})
	} else {
		c, err = imapclient.DialInsecure(addr, nil)
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(s.user, s.pass).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// renumber gives a server folder a new UIDVALIDITY and new UIDs, keeping
// its messages and their flags: rename it away, create it again, move the
// messages back. This is what a server migration or a rebuilt index does.
func renumber(t *testing.T, s server, folder string) {
	t.Helper()
	c := rawIMAP(t, s)
	old := folder + "-renumbered"
	must(t, c.Rename(folder, old, nil).Wait())
	must(t, c.Create(folder, nil).Wait())
	if _, err := c.Select(old, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(goimap.SeqSet{goimap.SeqRange{Start: 1, Stop: 0}}, folder).Wait(); err != nil {
		t.Fatal(err)
	}
	must(t, c.Unselect().Wait())
	must(t, c.Delete(old).Wait())
	must(t, c.Logout().Wait())
}

// expungeFirst expunges the first n messages of a server folder.
func expungeFirst(t *testing.T, s server, folder string, n int) {
	t.Helper()
	c := rawIMAP(t, s)
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	set := goimap.SeqSet{goimap.SeqRange{Start: 1, Stop: uint32(n)}}
	must(t, c.Store(set, &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true, Flags: []goimap.Flag{goimap.FlagDeleted}}, nil).Close())
	must(t, c.Expunge().Close())
	must(t, c.Logout().Wait())
}

// serverCount is how many messages a server folder holds.
func serverCount(t *testing.T, s server, folder string) int {
	t.Helper()
	return len(remoteFlags(t, s, folder))
}

// localKeys lists a local folder's message keys (file names without UID,
// FMD5 and flags): a message downloaded again gets a new key.
func localKeys(t *testing.T, su setup, dir string) []string {
	t.Helper()
	var keys []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(su.maildir, dir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range ents {
			k := e.Name()
			if i := strings.Index(k, ",U="); i >= 0 {
				k = k[:i]
			} else if i := strings.Index(k, ":2,"); i >= 0 {
				k = k[:i]
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// runSync runs a sync and returns its exit code and output.
func (su setup) runSync(t *testing.T, extra ...string) (int, string, string) {
	t.Helper()
	return run(t, append([]string{"-c", su.config, "-o", "-u", "basic"}, extra...)...)
}

// debugSync runs a sync with --debug, fails the test unless it exits 0,
// and returns its log (stderr).
func (su setup) debugSync(t *testing.T) string {
	t.Helper()
	code, out, errs := su.runSync(t, "--debug")
	if code != 0 {
		t.Fatalf("sync exited %d:\n%s\n%s", code, out, errs)
	}
	return errs
}

func requireNothingToDo(t *testing.T, su setup) {
	t.Helper()
	out := su.sync(t)
	if !strings.Contains(out, "nothing to do") {
		t.Fatalf("a sync after convergence still did something:\n%s", out)
	}
}

func TestUIDValidityChangeRepairedWithoutCopying(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	before := localKeys(t, su, "Archive.2024")
	renumber(t, s, "Archive/2024")
	// A flag changed locally meanwhile survives the re-pairing: \Flagged
	// added to the first message (by UID: which one has the first file
	// name depends on how the parallel downloads interleaved) without it.
	byUID := localByUID(t, su, "Archive/2024")
	var flagged model.LocalMsg
	for uid := uint32(1); flagged.Key == ""; uid++ {
		if m, ok := byUID[uid]; ok && m.Flags&model.Flagged == 0 {
			flagged = m
		} else if uid > 1000 {
			t.Fatal("no message without \\Flagged in Archive/2024")
		}
	}
	renameFlags(t, su, "Archive.2024", flagged.Key, (flagged.Flags | model.Flagged).Maildir())

	code, out, errs := su.runSync(t, "--dry-run")
	if code != 0 || !strings.Contains(out, "rebase-folder") || strings.Contains(out, "fetch") || strings.Contains(out, "upload") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	out = su.sync(t)
	if !strings.Contains(out, "Archive/2024: 1 rebase-folder, 1 store-remote-flags") || strings.Contains(out, "fetch") || strings.Contains(out, "upload") {
		t.Fatalf("re-pairing copied messages or lost the flag change:\n%s", out)
	}
	if after := localKeys(t, su, "Archive.2024"); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("local files replaced:\nbefore %v\nafter  %v", before, after)
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}

func TestUIDValidityChangeTooFewFoundNeedsResetFolder(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	renumber(t, s, "Archive/2024")
	expungeFirst(t, s, "Archive/2024", 60) // 20 of 80 left

	if _, out, errs := su.runSync(t, "--dry-run"); !strings.Contains(out+errs, "mailtrail reset-folder -a Test Archive/2024") {
		t.Fatalf("dry run does not show the refusal:\n%s%s", out, errs)
	}
	code, out, errs := su.runSync(t)
	if code != 1 || !strings.Contains(errs, "only 20 of the 80 messages") ||
		!strings.Contains(errs, "mailtrail reset-folder -a Test Archive/2024") {
		t.Fatalf("want a refusal naming reset-folder: exit %d\n%s%s", code, out, errs)
	}
	if n := len(localKeys(t, su, "Archive.2024")); n != 80 {
		t.Fatalf("refused folder lost local messages: %d left of 80", n)
	}
	if n := serverCount(t, s, "Archive/2024"); n != 20 {
		t.Fatalf("refused folder changed on the server: %d messages, want 20", n)
	}

	code, out, errs = run(t, "-c", su.config, "reset-folder", "-a", "Test", "Archive/2024")
	if code != 0 || !strings.Contains(out, "60 upload") || strings.Contains(out, "fetch") || strings.Contains(out, "delete") {
		t.Fatalf("reset-folder: exit %d\n%s%s", code, out, errs)
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}

func TestMaxDeleteGuard(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	keys := localKeys(t, su, "Archive.2024")
	for _, k := range keys[:50] {
		removeByKey(t, su, "Archive.2024", k)
	}
	for _, args := range [][]string{{"--dry-run"}, nil} {
		code, out, errs := su.runSync(t, args...)
		all := out + errs
		if code == 0 && args == nil || !strings.Contains(all, "REFUSED") ||
			!strings.Contains(all, "delete 50 of the 80 messages on the server (62%)") || !strings.Contains(all, "--max-delete 63") {
			t.Fatalf("%v: want the folder refused with counts and the override: exit %d\n%s", args, code, all)
		}
	}
	if n := serverCount(t, s, "Archive/2024"); n != 80 {
		t.Fatalf("guard let %d deletions through", 80-n)
	}
	out := su.sync(t, "--max-delete", "63")
	if !strings.Contains(out, "Archive/2024: 50 expunge-remote") {
		t.Fatalf("override did not delete:\n%s", out)
	}
	assertConverged(t, s, su, total-50)
}

func TestEmptiedServerFolderDeletesNothingLocally(t *testing.T) {
	s := dovecotServer(t)
	seed(t, s)
	su := newSetup(t, s, "maxdelete = 100") // the remote repository's own limit does not matter here
	su.sync(t)
	expungeFirst(t, s, "Archive/2024", 80)
	if _, out, errs := su.runSync(t, "--dry-run"); !strings.Contains(out+errs, "server folder is empty, but 80 messages") {
		t.Fatalf("dry run does not show the refusal:\n%s%s", out, errs)
	}
	code, out, errs := su.runSync(t)
	if code != 1 || !strings.Contains(errs, "server folder is empty, but 80 messages") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if n := len(localKeys(t, su, "Archive.2024")); n != 80 {
		t.Fatalf("%d local messages left of 80", n)
	}
}

func TestMissingMaildirRootRefusesAccount(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	must(t, os.Rename(su.maildir, su.maildir+".unmounted"))
	if code, out, errs := su.runSync(t, "--dry-run"); code != 1 || !strings.Contains(errs, "local Maildir has no folders, but") {
		t.Fatalf("dry run does not show the refusal: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := su.runSync(t)
	if code != 1 || !strings.Contains(errs, "local Maildir has no folders, but") || !strings.Contains(errs, "--force") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, c := range corpus {
		if n := serverCount(t, s, c.folder); n != c.n {
			t.Fatalf("%s: %d messages on the server, want %d", c.folder, n, c.n)
		}
	}
	// Told to, it downloads everything again rather than delete anything.
	su.sync(t, "--force")
	assertConverged(t, s, su, total)
}

func TestVanishedLocalFolderDownloadsAgain(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	must(t, os.RemoveAll(filepath.Join(su.maildir, "Archive.2024")))
	out := su.sync(t)
	if !strings.Contains(out, "Archive/2024: 1 create-local-folder, 80 fetch") || strings.Contains(out, "expunge") {
		t.Fatalf("want the folder downloaded again and nothing expunged:\n%s", out)
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}

// moveFiles moves (or copies) the files of keys from one local folder to
// another keeping their names, as a mail client does.
func moveFiles(t *testing.T, su setup, from, to string, keys []string, copyOnly bool) {
	t.Helper()
	for _, k := range keys {
		src := findFile(t, su, from, k)
		dst := filepath.Join(su.maildir, to, "cur", filepath.Base(src))
		if copyOnly {
			b, err := os.ReadFile(src)
			must(t, err)
			must(t, os.WriteFile(dst, b, 0o600))
			continue
		}
		must(t, os.Rename(src, dst))
	}
}

func TestLocalMoveIsMovedOnServer(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	keys := localKeys(t, su, "Archive.2024")[:3]
	renameFlags(t, su, "Archive.2024", keys[0], "FS") // flagged, then moved
	moveFiles(t, su, "Archive.2024", "Archive.2025", keys, false)

	out := su.sync(t)
	if !strings.Contains(out, "Archive/2025: 3 move-remote") || strings.Contains(out, "upload") ||
		strings.Contains(out, "expunge") || strings.Contains(out, "fetch") {
		t.Fatalf("want 3 server-side moves and no copy:\n%s", out)
	}
	if a, b := serverCount(t, s, "Archive/2024"), serverCount(t, s, "Archive/2025"); a != 77 || b != 63 {
		t.Fatalf("server: Archive/2024 %d (want 77), Archive/2025 %d (want 63)", a, b)
	}
	got := strings.Join(localKeys(t, su, "Archive.2025"), " ")
	for _, k := range keys {
		if !strings.Contains(got, k) {
			t.Fatalf("moved file %s replaced by a download", k)
		}
	}
	assertConverged(t, s, su, total) // the flag reached the server with the message
	requireNothingToDo(t, su)
}

// TestLocalMoveClearsOnlyAMarkTheServerHas: a message moved locally is
// moved on the server with one SELECT (the changes since the last sync
// listed behind it) and the UID MOVE, no \Deleted cleared first where the
// changes show none; a message whose server copy was marked \Deleted
// since (another client, an interrupted expunge) has the mark cleared
// first, and arrives unmarked on both sides.
func TestLocalMoveClearsOnlyAMarkTheServerHas(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	const clear = `command="UID STORE -FLAGS.SILENT (\\Deleted)"`

	keys := localKeys(t, su, "Archive.2024")
	moveFiles(t, su, "Archive.2024", "Archive.2025", keys[:1], false)
	errs := su.debugSync(t)
	if !strings.Contains(errs, `SELECT (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE`) ||
		!strings.Contains(errs, `command="UID MOVE"`) || strings.Contains(errs, clear) {
		t.Fatalf("an unmarked message: want the SELECT with the changes, the UID MOVE, and no mark cleared:\n%s", errs)
	}

	var uid uint32
	for u, m := range localByUID(t, su, "Archive/2024") {
		if m.Key == keys[1] {
			uid = u
		}
	}
	if uid == 0 {
		t.Fatalf("no UID for %s", keys[1])
	}
	ctx := context.Background()
	f, err := s.dial(t).SelectFolder(ctx, "Archive/2024")
	must(t, err)
	must(t, f.StoreFlags(ctx, []uint32{uid}, model.Deleted, 0))
	must(t, f.Close())
	moveFiles(t, su, "Archive.2024", "Archive.2025", keys[1:2], false)
	errs = su.debugSync(t)
	if !strings.Contains(errs, clear) || !strings.Contains(errs, `command="UID MOVE"`) {
		t.Fatalf("a message marked on the server: want its mark cleared, then the UID MOVE:\n%s", errs)
	}
	for u, fl := range remoteFlags(t, s, "Archive/2025") {
		if fl&model.Deleted != 0 {
			t.Fatalf("Archive/2025 uid %d arrived marked \\Deleted", u)
		}
	}
	for _, m := range localByUID(t, su, "Archive/2025") {
		if m.Flags&model.Deleted != 0 {
			t.Fatalf("local %s arrived marked deleted", m.Key)
		}
	}
	if a, b := serverCount(t, s, "Archive/2024"), serverCount(t, s, "Archive/2025"); a != 78 || b != 62 {
		t.Fatalf("server: Archive/2024 %d (want 78), Archive/2025 %d (want 62)", a, b)
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}

// TestLocalMoveSurveysBothFolders: after a message moved locally is moved
// on the server, the two folders are looked at again for their plans in
// one round trip (a survey of their changes since the last sync, one
// exchange per connection), not each opened and listed in full; and the
// folder moved into is recorded as in step, so that the next sync, with
// nothing changed, looks at neither folder.
func TestLocalMoveSurveysBothFolders(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	requireNothingToDo(t, su)

	keys := localKeys(t, su, "Archive.2024")
	moveFiles(t, su, "Archive.2024", "Archive.2025", keys[:1], false)
	errs := su.debugSync(t)
	move := strings.Index(errs, `command="UID MOVE"`)
	if move < 0 {
		t.Fatalf("the message was not moved on the server:\n%s", errs)
	}
	if strings.Contains(errs, `SELECT (CONDSTORE) + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"`) {
		t.Fatalf("a folder was listed in full after the move:\n%s", errs)
	}
	named := map[string]int{}
	exchanges := 0
	for _, command := range debugCommands(errs[move:]) {
		if !strings.HasPrefix(command, "EXAMINE (CONDSTORE)") || !isSurvey(command) {
			continue
		}
		exchanges++
		_, folders, _ := strings.Cut(command, "(CHANGEDSINCE n), of ")
		for _, f := range strings.Split(folders, ", ") {
			named[f]++
		}
	}
	if exchanges == 0 || exchanges > 2 || len(named) != 2 || named["Archive/2024"] != 1 || named["Archive/2025"] != 1 {
		t.Fatalf("after the move: %d surveys naming %v; want both folders once, in one exchange per connection (2):\n%s", exchanges, named, errs)
	}
	errs = su.debugSync(t)
	for _, command := range debugCommands(errs) {
		if strings.Contains(command, "Archive/2024") || strings.Contains(command, "Archive/2025") || strings.HasPrefix(command, "SELECT") {
			t.Fatalf("the sync after it looked at a folder again (%s):\n%s", command, errs)
		}
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}

func TestLocalCopyIsUploadedOnce(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	key := localKeys(t, su, "Archive.2024")[0]
	moveFiles(t, su, "Archive.2024", "Archive.2025", []string{key}, true)

	out := su.sync(t)
	if !strings.Contains(out, "Archive/2025: 1 upload") || strings.Contains(out, "move") ||
		strings.Contains(out, "expunge") || strings.Contains(out, "fetch") || strings.Contains(out, "delete") {
		t.Fatalf("want the copy uploaded once and nothing else:\n%s", out)
	}
	if a, b := serverCount(t, s, "Archive/2024"), serverCount(t, s, "Archive/2025"); a != 80 || b != 61 {
		t.Fatalf("server: Archive/2024 %d (want 80), Archive/2025 %d (want 61)", a, b)
	}
	// The copy keeps its file: it now carries the new UID.
	if f := findFile(t, su, "Archive.2025", key); !strings.Contains(f, ",U=61,") && !strings.Contains(filepath.Base(f), ",U=") {
		t.Fatalf("copy %s has no UID of its own", f)
	}
	assertConverged(t, s, su, total+1)
	requireNothingToDo(t, su)
}

func TestStaleLockIsTakenOver(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	// The lock file of a process that died without releasing it (kill -9,
	// power loss): its PID is there, its flock went with it.
	dead := exec.Command("true")
	must(t, dead.Run())
	lock := filepath.Join(su.dir, "meta", "mailtrail", "Test", "lock")
	must(t, os.MkdirAll(filepath.Dir(lock), 0o700))
	must(t, os.WriteFile(lock, []byte(strconv.Itoa(dead.ProcessState.Pid())+"\n"), 0o600))
	su.sync(t)
	assertConverged(t, s, su, total)
}

func TestSeparateMetadataAllowsAnotherInstance(t *testing.T) {
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	held, err := lockfile.Acquire(filepath.Join(su.dir, "meta", "mailtrail", "Test", "lock"), "account Test")
	must(t, err)
	defer held.Release()
	if code, _, errs := su.runSync(t); code != 1 || !strings.Contains(errs, "account Test is locked by process") {
		t.Fatalf("same metadata: exit %d, %s", code, errs)
	}
	// Another metadata directory (and Maildir): another instance, as the
	// OfflineIMAP FAQ describes.
	cfg, err := os.ReadFile(su.config)
	must(t, err)
	other := setup{dir: su.dir, config: filepath.Join(su.dir, "other.rc"), maildir: filepath.Join(su.dir, "Mail2")}
	text := strings.Replace(string(cfg), "metadata = "+su.dir+"/meta", "metadata = "+su.dir+"/meta2", 1)
	text = strings.Replace(text, "localfolders = "+su.maildir, "localfolders = "+other.maildir, 1)
	must(t, os.WriteFile(other.config, []byte(text), 0o600))
	other.sync(t)
	assertConverged(t, s, other, total)
}

// TestWholeFolderMovedOnServer: every message of INBOX moved into Archive
// on the server by another client, eight of them of one size with
// Message-IDs of their own, two of another size without one. INBOX,
// empty on the server, is not taken for a lost folder, since what left it
// is found in Archive (before, INBOX was refused as "emptied", with its
// messages counted as deletions). The twelve of sizes of their own are
// paired by size, the eight by Message-ID (before, they were downloaded
// again and their old files deleted); the two without a Message-ID cannot
// be told apart and are downloaded, their old files deleted. The sync
// exits 0 and the next has nothing to do.
func TestWholeFolderMovedOnServer(t *testing.T) {
	wholeFolderOnEachServer(t, wholeFolderMovedOnServer)
}

func wholeFolderMovedOnServer(t *testing.T, s server, oneConnection bool) {
	su := wholeFolderToMove(t, s, oneConnection)
	fltOnEveryMessage(t, s, "INBOX", func(f adapters.RemoteFolder, uids []uint32) error {
		_, _, err := f.Move(context.Background(), uids, "Archive")
		return err
	})
	// A new folder with a message, planned after the two: with one
	// connection, it holds that connection, kept selected for its
	// execution, when Archive must be opened to read Message-IDs.
	fltPut(t, s, "Work", sample.Messages("Work", 1, 52))
	want := fltCapture(t, s.dial(t), su.local(t))

	// The dry run tells the same.
	dry := fltRun(t, nil, time.Minute, append(fltSyncArgs(su), "--dry-run")...)
	if dry.code != 0 || strings.Contains(dry.output(), "REFUSED") || !strings.Contains(dry.output(), "move-local") {
		t.Errorf("dry run: exit %d\n%s", dry.code, dry.output())
	}
	r := fltRun(t, nil, time.Minute, append(fltSyncArgs(su), "-d", "thread")...)
	out := r.output()
	wants := []string{"Archive: 20 move-local, 2 fetch", "INBOX: 2 delete-local", "Work: 1 create-local-folder, 1 fetch"}
	if oneConnection {
		// The case this variant is for: Work gave its connection up.
		wants = append(wants, "hold given up: its connection reads Message-IDs in another folder")
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	fltAssertNothingToDo(t, su)
	got := fltCapture(t, s.dial(t), su.local(t))
	if d := fltDiff(fltState{remote: want.remote, local: want.remote}, got); len(d) > 0 {
		t.Errorf("after the sync:\n  %s", strings.Join(d, "\n  "))
	}
}

// TestSameSizeInOneFolderIsNoMove: two messages of one size expunged
// from INBOX on the server and two others of that size new in it, while
// another folder gets one of that size too. Gone and new in one folder is
// no move, so INBOX's new messages' Message-IDs are not asked for; the
// one in Other is the only download with a deletion of its size elsewhere,
// and its Message-ID (no deletion has it) is asked in one FETCH of Other.
func TestSameSizeInOneFolderIsNoMove(t *testing.T) {
	s := memServer(t)
	su := fltSetupTimeout(t, s)
	oneSize := func(n int) sample.Message { return oneSizeMessage("size", n) }
	fltPut(t, s, "INBOX", []sample.Message{oneSize(0), oneSize(1)})
	fltPut(t, s, "Other", sample.Messages("Other", 2, 53))
	fltMustSync(t, su)
	fltOnEveryMessage(t, s, "INBOX", func(f adapters.RemoteFolder, uids []uint32) error {
		return f.Expunge(context.Background(), uids)
	})
	fltPut(t, s, "INBOX", []sample.Message{oneSize(2), oneSize(3)})
	fltPut(t, s, "Other", []sample.Message{oneSize(4)})
	want := fltCapture(t, s.dial(t), su.local(t))
	r := fltRun(t, nil, time.Minute, append(fltSyncArgs(su), "-d", "imap")...)
	out := r.output()
	if r.code != 0 || !strings.Contains(out, "INBOX: 2 fetch, 2 delete-local") || !strings.Contains(out, "Other: 1 fetch") {
		t.Errorf("want INBOX's two deleted and two downloaded, Other's one downloaded; exit %d:\n%s", r.code, out)
	}
	if n := strings.Count(out, "HEADER.FIELDS"); n != 1 {
		t.Errorf("%d header fetches, want 1 (Other's new message):\n%s", n, out)
	}
	fltAssertNothingToDo(t, su)
	got := fltCapture(t, s.dial(t), su.local(t))
	if d := fltDiff(fltState{remote: want.remote, local: want.remote}, got); len(d) > 0 {
		t.Errorf("after the sync:\n  %s", strings.Join(d, "\n  "))
	}
}

// oneSizeMessage is a read message whose size is the same for every i
// below 10 and every tag of one length (a template's notifications), with
// the Message-ID <tag.i@mailtrail.example>.
func oneSizeMessage(tag string, i int) sample.Message {
	id := fmt.Sprintf("<%s.%d@mailtrail.example>", tag, i)
	return sample.Message{MessageID: id, Flags: model.Seen, Date: time.Date(2026, 11, 1, 9, i, 0, 0, time.UTC),
		Body: []byte("From: a@example.org\r\nSubject: one size\r\nMessage-ID: " + id + "\r\n\r\nbody " + strconv.Itoa(i) + "\r\n")}
}

// wholeFolderOnEachServer runs test against imapmemserver and Dovecot
// (where the plans are made from surveys, without selecting the folders),
// each with maxconnections = 2 and 1 (OfflineIMAP's default: the one
// connection is held by the folder planned last, kept selected for its
// execution, when another folder must be opened to pair the moves).
func wholeFolderOnEachServer(t *testing.T, test func(t *testing.T, s server, oneConnection bool)) {
	for name, servers := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			next := servers(t)
			t.Run("two-connections", func(t *testing.T) { test(t, next(t), false) })
			t.Run("one-connection", func(t *testing.T) { test(t, next(t), true) })
		})
	}
}

// wholeFolderToMove: a synced account on s with 22 read messages in
// INBOX, 8 of them of one size, 2 of another size and without a
// Message-ID, and an empty Archive.
func wholeFolderToMove(t *testing.T, s server, oneConnection bool) setup {
	t.Helper()
	su := fltSetupTimeout(t, s)
	if oneConnection {
		su.oneConnection(t)
	}
	msgs := sample.Messages("INBOX", 12, 51)
	for i := 0; i < 8; i++ {
		msgs = append(msgs, oneSizeMessage("same", i))
	}
	for i := 0; i < 2; i++ {
		msgs = append(msgs, sample.Message{Flags: model.Seen, Date: time.Date(2026, 11, 1, 10, i, 0, 0, time.UTC),
			Body: []byte("From: cron@example.org\r\nSubject: no identity\r\n\r\nrun " + strconv.Itoa(i) + " ok\r\n")})
	}
	fltPut(t, s, "INBOX", msgs)
	fltPut(t, s, "Archive", nil)
	fltMustSync(t, su)
	return su
}

// TestWholeFolderMovedLocally: the same set moved in the Maildir, every
// file of INBOX renamed into Archive by a mail client. A local move is
// known by its file name (the key, and the FMD5 of the folder it was
// synced in), whatever its size or Message-ID: all 22 are moved on the server, nothing
// uploaded or expunged, and INBOX, empty locally, is not refused.
func TestWholeFolderMovedLocally(t *testing.T) {
	wholeFolderOnEachServer(t, wholeFolderMovedLocally)
}

func wholeFolderMovedLocally(t *testing.T, s server, oneConnection bool) {
	su := wholeFolderToMove(t, s, oneConnection)
	want := fltCapture(t, s.dial(t), su.local(t))
	keys := localKeys(t, su, "INBOX")
	moveFiles(t, su, "INBOX", "Archive", keys, false)
	r := fltMustSync(t, su)
	out := r.output()
	if !strings.Contains(out, "Archive: 22 move-remote") || strings.Contains(out, "upload") || strings.Contains(out, "expunge") {
		t.Errorf("want 22 moves on the server and nothing else:\n%s", out)
	}
	fltAssertNothingToDo(t, su)
	got := fltCapture(t, s.dial(t), su.local(t))
	moved := map[string]map[string]int{"Archive": want.remote["INBOX"], "INBOX": {}}
	if d := fltDiff(fltState{remote: moved, local: moved}, got); len(d) > 0 {
		t.Errorf("after the sync:\n  %s", strings.Join(d, "\n  "))
	}
}

// TestFolderRenamedOnBothSides: a folder renamed by hand on the server
// (RENAME) and in the Maildir (mv). The new folder meets for the first
// time with messages on both sides whose files name the old folder's
// UIDs: paired by Message-ID and content (rebase-folder, 8 pair), nothing
// copied either way, and the old folder, gone on both sides, forgotten.
// Before, each of the 8 was downloaded and uploaded: twice on both sides.
// (A folder renamed on one side only is still copied: see docs/FAQ.md.)
func TestFolderRenamedOnBothSides(t *testing.T) {
	s := memServer(t)
	su := fltSetupTimeout(t, s)
	fltPut(t, s, "Work", sample.Messages("Work", 8, 61))
	fltMustSync(t, su)
	want := fltCapture(t, s.dial(t), su.local(t))
	must(t, os.Rename(filepath.Join(su.maildir, "Work"), filepath.Join(su.maildir, "Projects")))
	c := rawIMAP(t, s)
	must(t, c.Rename("Work", "Projects", nil).Wait())
	must(t, c.Logout().Wait())

	r := fltMustSync(t, su)
	if out := r.output(); !strings.Contains(out, "Projects: 1 rebase-folder, 8 pair") || strings.Contains(out, "fetch") || strings.Contains(out, "upload") {
		t.Errorf("want the 8 paired and nothing copied:\n%s", out)
	}
	fltAssertNothingToDo(t, su)
	renamed := map[string]map[string]int{"INBOX": {}, "Projects": want.remote["Work"]}
	if d := fltDiff(fltState{remote: renamed, local: renamed}, fltCapture(t, s.dial(t), su.local(t))); len(d) > 0 {
		t.Errorf("after the sync:\n  %s", strings.Join(d, "\n  "))
	}
}

// TestFirstSyncPairsWhatBothSidesHave: a first sync (no journal) of a
// folder whose messages are on both sides already, the local files named
// by another program (no UID in their names), one message on each side
// alone. The six on both sides are paired by Message-ID and content;
// only the two alone are copied, once each.
func TestFirstSyncPairsWhatBothSidesHave(t *testing.T) {
	s := memServer(t)
	su := fltSetupTimeout(t, s)
	msgs := sample.Messages("INBOX", 7, 71)
	fltPut(t, s, "INBOX", msgs)
	inbox := filepath.Join(su.maildir, "INBOX")
	for _, sub := range []string{"cur", "new", "tmp"} {
		must(t, os.MkdirAll(filepath.Join(inbox, sub), 0o700))
	}
	for i, m := range msgs[1:] {
		deliver(t, inbox, fmt.Sprintf("1764000000.other%d.host", i), strings.ReplaceAll(string(m.Body), "\r\n", "\n"))
	}
	deliver(t, inbox, "1764000000.local-only.host", "From: me@example.org\nSubject: local\nMessage-ID: <local-only@x>\n\nlocal\n")

	r := fltMustSync(t, su)
	if out := r.output(); !strings.Contains(out, "INBOX: 1 rebase-folder, 1 fetch, 1 upload") {
		t.Errorf("want the 6 paired, 1 fetch, 1 upload:\n%s", out)
	}
	fltAssertNothingToDo(t, su)
	got := fltCapture(t, s.dial(t), su.local(t))
	for side, folders := range map[string]map[string]map[string]int{"server": got.remote, "local": got.local} {
		n := 0
		for id, c := range folders["INBOX"] {
			n += c
			if c != 1 {
				t.Errorf("%s: %s %d times", side, id, c)
			}
		}
		if n != 8 {
			t.Errorf("%s: %d messages in INBOX, want 8", side, n)
		}
	}
}

func TestServerMoveIsRenamedLocally(t *testing.T) {
	s := dovecotServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	before := localKeys(t, su, "Archive.2024")
	c := rawIMAP(t, s)
	if _, err := c.Select("Archive/2024", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Move(goimap.SeqSet{goimap.SeqRange{Start: 1, Stop: 3}}, "Archive/2025").Wait(); err != nil {
		t.Fatal(err)
	}
	must(t, c.Logout().Wait())

	out := su.sync(t)
	if !strings.Contains(out, "Archive/2025: 3 move-local") || strings.Contains(out, "fetch") || strings.Contains(out, "delete") {
		t.Fatalf("want 3 local renames and no download:\n%s", out)
	}
	left := map[string]bool{}
	for _, k := range localKeys(t, su, "Archive.2024") {
		left[k] = true
	}
	got := strings.Join(localKeys(t, su, "Archive.2025"), " ")
	moved := 0
	for _, k := range before {
		if left[k] {
			continue
		}
		moved++
		if !strings.Contains(got, k) {
			t.Fatalf("file %s left Archive.2024 but is not in Archive.2025 (downloaded again?)", k)
		}
	}
	if moved != 3 || len(left) != 77 {
		t.Fatalf("%d files left Archive.2024 (%d stay), want 3 (77)", moved, len(left))
	}
	assertConverged(t, s, su, total)
	requireNothingToDo(t, su)
}
