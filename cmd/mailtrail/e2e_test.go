package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/internal/converge"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/internal/testimap"
	"mailtrail/model"
)

// binary is the mailtrail built once for these tests: they run the real
// program, as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailtrail-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "mailtrail")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mailtrail: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server describes the IMAP server a scenario runs against.
type server struct {
	host, user, pass string
	port             int
	tls              imap.TLSMode
	ca               string
}

func (s server) dial(t *testing.T) *imap.Store {
	t.Helper()
	st, err := imap.Dial(context.Background(), imap.Config{Host: s.host, Port: s.port, User: s.user, Password: s.pass,
		TLS: s.tls, CAFile: s.ca, MaxConnections: 2, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("dial test server: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// setup is one user's mailtrail configuration in a temp dir.
type setup struct {
	dir, config, maildir string
}

func newSetup(t *testing.T, s server, extra string) setup {
	t.Helper()
	dir := t.TempDir()
	su := setup{dir: dir, config: filepath.Join(dir, "offlineimaprc"), maildir: filepath.Join(dir, "Mail")}
	ssl := "no"
	cafile := ""
	if s.tls == imap.TLSImplicit {
		ssl = "yes"
		cafile = "sslcacertfile = " + s.ca
	}
	cfg := fmt.Sprintf(`# written by the test
[general]
accounts = Test
metadata = %s/meta

[Account Test]
localrepository = Local
remoterepository = Remote

[Repository Local]
type = Maildir
localfolders = %s

[Repository Remote]
type = IMAP
remotehost = %s
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = %s
starttls = no
%s
maxconnections = 2
%s
`, dir, su.maildir, s.host, s.port, s.user, s.pass, ssl, cafile, extra)
	if err := os.WriteFile(su.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return su
}

// run runs the binary and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run mailtrail: %v", err)
	}
	return code, out.String(), errb.String()
}

func (su setup) sync(t *testing.T, extra ...string) string {
	t.Helper()
	code, out, errs := run(t, append([]string{"-c", su.config, "-o", "-u", "basic"}, extra...)...)
	if code != 0 {
		t.Fatalf("mailtrail exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if strings.Contains(errs, "password") && strings.Contains(errs, "secret") {
		t.Fatalf("password in output: %s", errs)
	}
	return out
}

// oneConnection turns the setup's maxconnections = 2 into 1.
func (su setup) oneConnection(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(su.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "maxconnections = 2", "maxconnections = 1", 1)
	if cfg == string(b) {
		t.Fatal("oneConnection: newSetup no longer writes maxconnections = 2")
	}
	if err := os.WriteFile(su.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (su setup) local(t *testing.T) *maildir.Store {
	t.Helper()
	l, err := maildir.New(su.maildir, '.', maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func assertConverged(t *testing.T, s server, su setup, wantMessages int) {
	t.Helper()
	sum, err := converge.Check(context.Background(), s.dial(t), su.local(t))
	if err != nil {
		t.Fatalf("convergence check: %v", err)
	}
	if !sum.OK() {
		t.Fatalf("server and Maildir differ:\n  %s", strings.Join(sum.Diffs, "\n  "))
	}
	if sum.Messages != wantMessages {
		t.Fatalf("%d messages on each side, want %d", sum.Messages, wantMessages)
	}
}

var corpus = []struct {
	folder string
	n      int
}{{"INBOX", 120}, {"Archive/2024", 80}, {"Archive/2025", 60}, {"Lists/go/nuts", 40}}

func seed(t *testing.T, s server) int {
	t.Helper()
	ctx := context.Background()
	st := s.dial(t)
	total := 0
	for i, c := range corpus {
		if err := st.CreateFolder(ctx, c.folder); err != nil {
			t.Fatal(err)
		}
		f, err := st.SelectFolder(ctx, c.folder)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sample.Messages(c.folder, c.n, int64(i+1)) {
			if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
				t.Fatal(err)
			}
			total++
		}
		f.Close()
	}
	if err := st.CreateFolder(ctx, "Odd"); err != nil {
		t.Fatal(err)
	}
	f, err := st.SelectFolder(ctx, "Odd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, m := range sample.Odd(0) {
		if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), 0, m.Date); err != nil {
			t.Fatal(err)
		}
		total++
	}
	return total
}

// scenario is the whole life of a mailbox: cold sync, changes on both
// sides, a sync, and a sync that changes nothing.
func scenario(t *testing.T, s server) {
	ctx := context.Background()
	total := seed(t, s)
	su := newSetup(t, s, "")

	// Cold sync.
	out := su.sync(t)
	if !strings.Contains(out, fmt.Sprintf("%d fetch", total)) {
		t.Fatalf("cold sync output does not report %d fetches:\n%s", total, out)
	}
	assertConverged(t, s, su, total)
	for _, dir := range []string{"INBOX", "Archive.2024", "Lists.go.nuts", "Odd"} {
		if _, err := os.Stat(filepath.Join(su.maildir, dir, "cur")); err != nil {
			t.Fatalf("folder %s not laid out as OfflineIMAP does: %v", dir, err)
		}
	}
	checkOddBytes(t, s, su)

	// Changes on both sides.
	byUID := localByUID(t, su, "INBOX")
	// Local: flag uid 1 and clear its \Seen, delete uid 2 (as a mail client
	// does: plain file operations).
	renameFlags(t, su, "INBOX", byUID[1].Key, "F")
	removeByKey(t, su, "INBOX", byUID[2].Key)
	deliver(t, filepath.Join(su.maildir, "Archive.2024"), "local-new", "From: me\r\nSubject: written offline\r\nMessage-ID: <offline@x>\r\n\r\nhello\r\n")
	// A new local folder must appear on the server.
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(su.maildir, "Projects", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	deliver(t, filepath.Join(su.maildir, "Projects"), "proj-1", "From: me\nSubject: project\nMessage-ID: <proj@x>\n\nplan\n")

	// Remote: flag uid 3, expunge uid 4, and a new message in Lists/go/nuts.
	rs := s.dial(t)
	rin, err := rs.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := rin.StoreFlags(ctx, []uint32{3}, model.Flagged|model.Answered, 0); err != nil {
		t.Fatal(err)
	}
	if err := rin.Expunge(ctx, []uint32{4}); err != nil {
		t.Fatal(err)
	}
	rin.Close()
	rl, err := rs.SelectFolder(ctx, "Lists/go/nuts")
	if err != nil {
		t.Fatal(err)
	}
	nm := sample.Messages("late", 1, 77)[0]
	if _, err := rl.Append(ctx, int64(len(nm.Body)), bytes.NewReader(nm.Body), 0, nm.Date); err != nil {
		t.Fatal(err)
	}
	rl.Close()

	out = su.sync(t)
	for _, want := range []string{"INBOX: ", "1 store-remote-flags", "1 set-local-flags", "1 expunge-remote", "1 delete-local",
		"1 create-remote-folder"} {
		if !strings.Contains(out, want) {
			t.Errorf("second sync output lacks %q:\n%s", want, out)
		}
	}
	// +2 new local, +1 new remote, -1 deleted locally, -1 expunged remotely.
	assertConverged(t, s, su, total+2+1-1-1)
	flags := remoteFlags(t, s, "INBOX")
	if flags[1] != model.Flagged {
		t.Errorf("uid 1 on the server has %s, want F (flagged and unread locally)", flags[1])
	}
	if _, ok := flags[2]; ok {
		t.Errorf("uid 2 deleted locally is still on the server")
	}
	if got := flags[3]; got&(model.Flagged|model.Answered) != model.Flagged|model.Answered {
		t.Errorf("uid 3 has %s on the server", got)
	}

	// A further sync changes nothing and writes nothing to the journal: a
	// run that did nothing is not recorded (docs/JOURNAL.md).
	out = su.sync(t)
	if !strings.Contains(out, "nothing to do") {
		t.Fatalf("third sync did something:\n%s", out)
	}
	code, runsOut, runsErr := run(t, "-c", su.config, "runs")
	if code != 0 || strings.Count(strings.TrimSpace(runsOut), "\n") != 1 {
		t.Fatalf("runs after the no-change sync (exit %d), want the 2 runs that did something:\n%s%s", code, runsOut, runsErr)
	}
}

// checkOddBytes compares the Odd folder's files with what the server has:
// CRLF became LF and nothing else changed. (Not with what was appended:
// Dovecot itself turns "\r\r\n" into "\r\n".)
func checkOddBytes(t *testing.T, s server, su setup) {
	t.Helper()
	f, err := s.dial(t).SelectFolder(context.Background(), "Odd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]byte{}
	var uids []uint32
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	err = f.Fetch(context.Background(), uids, func(m model.RemoteMsg, body io.Reader) error {
		b, err := io.ReadAll(body)
		want[m.UID] = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lf, err := su.local(t).Folder("Odd")
	if err != nil {
		t.Fatal(err)
	}
	files, err := lf.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(sample.Odd(0)) || len(files) != len(want) {
		t.Fatalf("Odd folder: %d files, %d on the server, %d sent", len(files), len(want), len(sample.Odd(0)))
	}
	for _, m := range files {
		b, err := os.ReadFile(findFile(t, su, "Odd", m.Key))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want[m.UID]) {
			t.Errorf("uid %d: the file (%d bytes) is not the server's message with LF line ends (%d bytes)", m.UID, len(b), len(want[m.UID]))
		}
	}
}

func findFile(t *testing.T, su setup, folder, key string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(su.maildir, folder, "*", key+"*"))
	if len(files) != 1 {
		t.Fatalf("key %s in %s: %d files", key, folder, len(files))
	}
	return files[0]
}

func renameFlags(t *testing.T, su setup, folder, key, flags string) {
	t.Helper()
	f := findFile(t, su, folder, key)
	base := filepath.Base(f)
	base = base[:strings.Index(base, ":2,")]
	if err := os.Rename(f, filepath.Join(su.maildir, folder, "cur", base+":2,"+flags)); err != nil {
		t.Fatal(err)
	}
}

func removeByKey(t *testing.T, su setup, folder, key string) {
	t.Helper()
	if err := os.Remove(findFile(t, su, folder, key)); err != nil {
		t.Fatal(err)
	}
}

func deliver(t *testing.T, folder, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(folder, "tmp", name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(folder, "tmp", name), filepath.Join(folder, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// localByUID scans a synced local folder and maps its messages by the UID
// their file names carry.
func localByUID(t *testing.T, su setup, folder string) map[uint32]model.LocalMsg {
	t.Helper()
	f, err := su.local(t).Folder(folder)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byUID := map[uint32]model.LocalMsg{}
	for _, m := range msgs {
		byUID[m.UID] = m
	}
	return byUID
}

func remoteFlags(t *testing.T, s server, folder string) map[uint32]model.Flags {
	t.Helper()
	f, err := s.dial(t).SelectFolder(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]model.Flags{}
	for _, m := range msgs {
		out[m.UID] = m.Flags
	}
	return out
}

func memServer(t *testing.T) server {
	srv := testimap.Start(t, map[string]string{"alice": "secret"})
	return server{host: srv.Host, port: srv.Port, user: "alice", pass: "secret", tls: imap.TLSNone}
}

func dovecotServer(t *testing.T) server {
	d := testdovecot.Start(t, "alice:secret")
	return server{host: d.Host, port: d.TLSPort, user: "alice", pass: "secret", tls: imap.TLSImplicit, ca: d.CAFile}
}

func TestSyncAgainstMemServer(t *testing.T) { scenario(t, memServer(t)) }

func TestSyncAgainstDovecot(t *testing.T) { scenario(t, dovecotServer(t)) }

// syncPeakKiB syncs and returns the binary's own peak memory, which it
// reports with --debug (from /proc; rusage would count this test process).
func syncPeakKiB(t *testing.T, su setup) int64 {
	t.Helper()
	code, out, errs := run(t, "-c", su.config, "-o", "-u", "quiet", "--debug")
	if code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errs)
	}
	i := strings.LastIndex(errs, "peak memory ")
	if i < 0 {
		t.Fatalf("no peak memory report in:\n%s", errs)
	}
	var kib int64
	fmt.Sscanf(errs[i:], "peak memory %d KiB", &kib)
	return kib
}

// TestBigMessage syncs a 20 MB message both ways; the binary's memory must
// not grow by its size (a plain sync peaks near 30 MB).
func TestBigMessage(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) server{"memserver": memServer, "dovecot": dovecotServer} {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			ctx := context.Background()
			su := newSetup(t, s, "")
			base := syncPeakKiB(t, su)
			t.Logf("peak memory of a sync with nothing to do: %d KiB", base)
			// Holding the body would add 20 MiB at least; streaming adds
			// buffers only.
			limit := base + 8<<10
			big := sample.Big(20 << 20)
			st := s.dial(t)
			f, err := st.SelectFolder(ctx, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Append(ctx, int64(len(big.Body)), bytes.NewReader(big.Body), model.Seen, big.Date); err != nil {
				t.Fatal(err)
			}
			f.Close()
			rss := syncPeakKiB(t, su)
			t.Logf("peak memory syncing a 20 MB message down: %d KiB", rss)
			if rss > limit {
				t.Errorf("peak memory %d KiB, more than %d KiB: the 20 MB body was held in memory", rss, limit)
			}
			files, _ := filepath.Glob(filepath.Join(su.maildir, "INBOX", "cur", "*"))
			if len(files) != 1 {
				t.Fatalf("%d files in INBOX/cur", len(files))
			}
			b, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, bytes.ReplaceAll(big.Body, []byte("\r\n"), []byte("\n"))) {
				t.Fatal("20 MB message differs from what the server has")
			}
			// And up: a 20 MB local message in a new folder.
			for _, d := range []string{"cur", "new", "tmp"} {
				os.MkdirAll(filepath.Join(su.maildir, "Big", d), 0o700)
			}
			if err := os.WriteFile(filepath.Join(su.maildir, "Big", "new", "big-up"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			rss = syncPeakKiB(t, su)
			t.Logf("peak memory syncing a 20 MB message up: %d KiB", rss)
			if rss > limit {
				t.Errorf("peak memory %d KiB, more than %d KiB: the 20 MB body was held in memory", rss, limit)
			}
			assertConverged(t, s, su, 2)
		})
	}
}

// TestNotmuchReadsTheMaildir: a mail indexer finds every synced message
// and its flags (notmuch maps Maildir S to the absence of "unread").
func TestNotmuchReadsTheMaildir(t *testing.T) {
	bin, err := exec.LookPath("notmuch")
	if err != nil {
		if os.Getenv("MAILTRAIL_REQUIRE_DOVECOT") == "1" {
			t.Fatal("notmuch is not installed (apt-get install notmuch)")
		}
		t.Skip("notmuch is not installed")
	}
	s := memServer(t)
	total := seed(t, s)
	su := newSetup(t, s, "")
	su.sync(t)
	cfg := filepath.Join(su.dir, "notmuch-config")
	os.WriteFile(cfg, []byte("[database]\npath="+su.maildir+"\n[new]\ntags=unread;inbox;\n[maildir]\nsynchronize_flags=true\n"), 0o600)
	notmuch := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "NOTMUCH_CONFIG="+cfg)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("notmuch %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	notmuch("new", "--quiet")
	if got := notmuch("count", "*"); got != strconv.Itoa(total) {
		t.Fatalf("notmuch counts %s messages, want %d", got, total)
	}
	unseen := 0
	for _, c := range corpus {
		for _, m := range sample.Messages(c.folder, c.n, int64(indexOf(c.folder)+1)) {
			if m.Flags&model.Seen == 0 {
				unseen++
			}
		}
	}
	unseen += len(sample.Odd(0)) // appended without flags
	if got := notmuch("count", "tag:unread"); got != strconv.Itoa(unseen) {
		t.Fatalf("notmuch counts %s unread, want %d", got, unseen)
	}
}

func indexOf(folder string) int {
	for i, c := range corpus {
		if c.folder == folder {
			return i
		}
	}
	return -1
}
