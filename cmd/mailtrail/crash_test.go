package main_test

// The crash-at-every-step suite (mbsync's run-tests.pl model): for each
// scenario, one uninterrupted run of the fault-injecting binary counts the
// journal writes J and the side effects E and gives the reference end
// state; then for every N in 1..J and 1..E a fresh copy of the starting
// state is synced by the binary with MAILTRAIL_CRASH_AT=kind:N (it must
// die by SIGKILL), the normal binary resumes until it exits 0, and the end
// state must equal the reference: each side's messages per folder
// (Message-ID + content hash + flags, counted, so a duplicate shows), the
// status (as many rows per folder, every row pairing a server message and
// a file with the same content, nothing pending), and a dry run that plans
// nothing.
//
// CI setting: every crash point against imapmemserver, every 3rd against
// Dovecot. MAILTRAIL_CRASH_FULL=1: every point everywhere.
// MAILTRAIL_CRASH_ONLY=scenario/backend (or a scenario, or a backend)
// limits the run; MAILTRAIL_CRASH_VERBOSE=1 logs every step and resume.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/internal/converge"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/internal/testimap"
	"mailtrail/journal"
	"mailtrail/model"
)

// crashFull reports whether the full settings were asked for.
func crashFull() bool { return os.Getenv("MAILTRAIL_CRASH_FULL") == "1" }

// crashVerbose (MAILTRAIL_CRASH_VERBOSE=1) logs every step of each
// scenario and the output of every resume.
func crashVerbose() bool { return os.Getenv("MAILTRAIL_CRASH_VERBOSE") == "1" }

var crFaultBin struct {
	once sync.Once
	path string
	err  error
}

// crFaultBinary builds mailtrail with the faultinject tag once, beside the
// normal test binary (TestMain removes that directory).
func crFaultBinary(t *testing.T) string {
	t.Helper()
	crFaultBin.once.Do(func() {
		crFaultBin.path = filepath.Join(filepath.Dir(binary), "mailtrail-faultinject")
		build := exec.Command("go", "build", "-tags", "faultinject", "-o", crFaultBin.path, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			crFaultBin.err = fmt.Errorf("building mailtrail -tags faultinject: %v\n%s", err, out)
		}
	})
	if crFaultBin.err != nil {
		t.Fatal(crFaultBin.err)
	}
	return crFaultBin.path
}

// crRunResult is how one run of a binary ended.
type crRunResult struct {
	code    int  // exit code; -1 when killed by a signal
	killed  bool // died by SIGKILL
	stdout  string
	stderr  string
	elapsed time.Duration
}

// crashRunTimeout bounds one run: a sync of a small scenario that takes
// longer hangs.
const crashRunTimeout = 2 * time.Minute

// crRun runs bin with args and extra environment, and reports how it
// ended. A run that outlives crashRunTimeout fails the test (a hang).
func crRun(t *testing.T, bin string, env []string, args ...string) crRunResult {
	t.Helper()
	return runBounded(t, bin, crashRunTimeout, env, args...)
}

// runBounded runs bin with args and extra environment and reports how it
// ended: exit code, or -1 and whether it was SIGKILL when a signal ended
// it. A run that outlives limit is killed and fails the test: it hung.
// The crash and fault suites both run the binary through it.
func runBounded(t *testing.T, bin string, limit time.Duration, env []string, args ...string) crRunResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := crRunResult{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("%s %v hung: killed after %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, limit, res.stdout, res.stderr)
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run %s: %v", bin, err)
		}
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		res.code = -1
		res.killed = ws.Signal() == syscall.SIGKILL
	default:
		res.code = ws.ExitStatus()
	}
	return res
}

// crashEnv is one fresh starting state: a server with its user, and a
// Maildir, configuration and journal of their own.
type crashEnv struct {
	srv  server
	mem  *testimap.Server    // imapmemserver backends
	user *imapmemserver.User // its user, for direct changes
	dove *testdovecot.Server // Dovecot backend
	su   setup
}

func (e *crashEnv) syncArgs() []string { return []string{"-c", e.su.config, "-o", "-u", "basic"} }

// close stops an imapmemserver now rather than at the end of the test.
func (e *crashEnv) close() {
	if e.mem != nil {
		e.mem.Close()
	}
}

// crSerialSetup is newSetup with one connection, so that folders sync one
// after the other and the N-th step is the same step in every run: with
// folders in parallel, the step a crash point names would vary between the
// counting run and the crashing one. (The kill -9 rounds run folders in
// parallel.)
func crSerialSetup(t *testing.T, s server) setup {
	t.Helper()
	su := newSetup(t, s, "")
	su.oneConnection(t)
	return su
}

// crBackend makes starting states on one kind of server.
type crBackend struct {
	name string
	// stride samples crash points in the CI setting (1: every point).
	stride int
	start  func(t *testing.T) func(t *testing.T) *crashEnv
}

func crMemBackend(name string, caps goimap.CapSet) crBackend {
	return crBackend{name: name, stride: 1, start: func(*testing.T) func(t *testing.T) *crashEnv {
		return func(t *testing.T) *crashEnv {
			srv := testimap.StartWith(t, testimap.Options{Caps: caps})
			u, err := srv.AddUser("alice", "secret")
			if err != nil {
				t.Fatal(err)
			}
			s := server{host: srv.Host, port: srv.Port, user: "alice", pass: "secret", tls: imap.TLSNone}
			return &crashEnv{srv: s, mem: srv, user: u, su: crSerialSetup(t, s)}
		}
	}}
}

// crDovecotUsers is how many fresh users one Dovecot offers: one per
// starting state.
const crDovecotUsers = 600

func crDovecotBackend() crBackend {
	return crBackend{name: "dovecot", stride: 3, start: func(t *testing.T) func(t *testing.T) *crashEnv {
		users := make([]string, crDovecotUsers)
		for i := range users {
			users[i] = fmt.Sprintf("u%d:secret", i+1)
		}
		d := testdovecot.Start(t, users...)
		next := 0
		var mu sync.Mutex
		return func(t *testing.T) *crashEnv {
			mu.Lock()
			next++
			n := next
			mu.Unlock()
			if n > crDovecotUsers {
				t.Fatalf("more than %d starting states on one Dovecot", crDovecotUsers)
			}
			s := server{host: d.Host, port: d.TLSPort, user: fmt.Sprintf("u%d", n), pass: "secret", tls: imap.TLSImplicit, ca: d.CAFile}
			return &crashEnv{srv: s, dove: d, su: crSerialSetup(t, s)}
		}
	}}
}

var (
	crBackendMem     = crMemBackend("memserver", nil)
	crBackendMemBare = crMemBackend("memserver-no-uidplus", goimap.CapSet{goimap.CapIMAP4rev1: {}})
	crBackendDovecot = crDovecotBackend()
)

// crashScenario is a starting state and the sync that is interrupted.
type crashScenario struct {
	name string
	// prepare builds the starting state: seeds the server, may sync with
	// the normal binary, then changes either side.
	prepare func(t *testing.T, e *crashEnv)
}

// --- building starting states ---

// crPutRemote appends msgs to folder (created when missing) and returns
// their UIDs.
func crPutRemote(t *testing.T, e *crashEnv, folder string, msgs []sample.Message) []uint32 {
	t.Helper()
	ctx := context.Background()
	st := e.srv.dial(t)
	defer st.Close()
	if err := st.CreateFolder(ctx, folder); err != nil {
		t.Fatal(err)
	}
	f, err := st.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var uids []uint32
	for _, m := range msgs {
		uid, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date)
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	return uids
}

// crChangeRemote runs fn on a selected server folder.
func crChangeRemote(t *testing.T, e *crashEnv, folder string, fn func(f adapters.RemoteFolder)) {
	t.Helper()
	st := e.srv.dial(t)
	defer st.Close()
	f, err := st.SelectFolder(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fn(f)
}

// crMoveRemote moves uids of folder from into folder to as another client
// without MOVE would: appended there (flags and dates kept), expunged here.
func crMoveRemote(t *testing.T, e *crashEnv, from, to string, uids []uint32) {
	t.Helper()
	var moved []sample.Message
	crChangeRemote(t, e, from, func(f adapters.RemoteFolder) {
		crMust(t, f.Fetch(context.Background(), uids, func(m model.RemoteMsg, body io.Reader) error {
			b, err := io.ReadAll(body)
			moved = append(moved, sample.Message{Body: b, Flags: m.Flags, Date: m.InternalDate.Time()})
			return err
		}))
		crMust(t, f.Expunge(context.Background(), uids))
	})
	crPutRemote(t, e, to, moved)
}

// crLocalDir is a local folder's directory (sep '.').
func crLocalDir(e *crashEnv, folder string) string {
	return filepath.Join(e.su.maildir, strings.ReplaceAll(folder, "/", "."))
}

// crMakeLocalFolder creates an empty Maildir folder, as a mail client does.
func crMakeLocalFolder(t *testing.T, e *crashEnv, folder string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(crLocalDir(e, folder), d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// crPutLocal writes a new local message as a mail client does: LF line
// ends, into cur/ with its flags (or new/ when it has none).
func crPutLocal(t *testing.T, e *crashEnv, folder, name string, body []byte, flags model.Flags) {
	t.Helper()
	dir := crLocalDir(e, folder)
	lf := bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, lf, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "new", name)
	if flags != 0 {
		dst = filepath.Join(dir, "cur", name+":2,"+flags.Maildir())
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// crLocalFiles maps the UIDs in a synced local folder's file names to the
// files' paths.
func crLocalFiles(t *testing.T, e *crashEnv, folder string) map[uint32]string {
	t.Helper()
	lf, err := e.su.local(t).Folder(folder)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := lf.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]string{}
	for _, m := range msgs {
		if m.UID != 0 {
			files, _ := filepath.Glob(filepath.Join(lf.Path(), "*", m.Key+"*"))
			if len(files) != 1 {
				t.Fatalf("%s: key %s: %d files", folder, m.Key, len(files))
			}
			out[m.UID] = files[0]
		}
	}
	return out
}

// crSetLocalFlags renames a file so that it carries flags, moving it to
// cur/, as a mail client does.
// crSyncedSeen puts n sample messages (of seed), each \Seen, in the
// server folder and syncs: their UIDs, and the local files by UID.
func crSyncedSeen(t *testing.T, e *crashEnv, folder string, n int, seed int64) ([]uint32, map[uint32]string) {
	t.Helper()
	msgs := sample.Messages(folder, n, seed)
	for i := range msgs {
		msgs[i].Flags = model.Seen
	}
	uids := crPutRemote(t, e, folder, msgs)
	crInitialSync(t, e)
	return uids, crLocalFiles(t, e, folder)
}

func crSetLocalFlags(t *testing.T, path string, flags model.Flags) {
	t.Helper()
	base := filepath.Base(path)
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	dst := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", base+":2,"+flags.Maildir())
	if err := os.Rename(path, dst); err != nil {
		t.Fatal(err)
	}
}

// crDeleteRemoteFolder deletes a server folder, as another client would.
func crDeleteRemoteFolder(t *testing.T, e *crashEnv, folder string) {
	t.Helper()
	if e.user != nil {
		crMust(t, e.user.Delete(folder))
		return
	}
	c, err := imapclient.DialInsecure(e.dove.Addr(), nil)
	crMust(t, err)
	defer c.Close()
	crMust(t, c.Login(e.srv.user, e.srv.pass).Wait())
	crMust(t, c.Delete(folder).Wait())
	crMust(t, c.Logout().Wait())
}

// crInitialSync syncs the starting state with the normal binary.
func crInitialSync(t *testing.T, e *crashEnv) {
	t.Helper()
	r := crRun(t, binary, nil, e.syncArgs()...)
	if r.code != 0 {
		t.Fatalf("initial sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// crNoID is a message without Message-ID; the ones made with the same
// length of text have the same size, so only their content tells them
// apart.
func crNoID(text string, flags model.Flags) sample.Message {
	body := "From: cron@example.org\r\nSubject: report " + text + "\r\nDate: Sat, 01 Mar 2025 09:30:00 +0000\r\n\r\nall fine: " + text + "\r\n"
	return sample.Message{Body: []byte(body), Flags: flags, Date: sample.Base}
}

var crashScenarios = []crashScenario{
	{
		name: "cold-download",
		prepare: func(t *testing.T, e *crashEnv) {
			crPutRemote(t, e, "INBOX", sample.Messages("INBOX", 5, 1))
			crPutRemote(t, e, "Archive/2024", sample.Messages("Archive/2024", 4, 2))
			crPutRemote(t, e, "Archive/2025", sample.Messages("Archive/2025", 3, 3))
			crPutRemote(t, e, "Lists/go/nuts", sample.Messages("Lists/go/nuts", 3, 4))
		},
	},
	{
		name: "uploads",
		prepare: func(t *testing.T, e *crashEnv) {
			crPutRemote(t, e, "INBOX", sample.Messages("INBOX", 2, 1))
			crPutRemote(t, e, "Sent", sample.Messages("Sent", 1, 2))
			crInitialSync(t, e)
			for i, m := range sample.Messages("up", 6, 11) {
				crPutLocal(t, e, "INBOX", fmt.Sprintf("local-%02d", i), m.Body, m.Flags)
			}
			// Two messages without Message-ID and of the same size: only
			// their content tells them apart.
			crPutLocal(t, e, "INBOX", "local-noid-a", crNoID("A", model.Seen).Body, model.Seen)
			crPutLocal(t, e, "INBOX", "local-noid-b", crNoID("B", model.Flagged).Body, model.Flagged)
			for i, m := range sample.Messages("Sent", 3, 12) {
				crPutLocal(t, e, "Sent", fmt.Sprintf("sent-%02d", i), m.Body, m.Flags|model.Seen)
			}
			// A file with CR CR LF, which Dovecot stores as CR LF: its copy
			// on the server is one byte shorter than what was sent.
			crcrlf := "From: old-client@example.org\nSubject: CR CR LF\nMessage-ID: <crcrlf@mailtrail.example>\n\nline one\r\r\nline two\n"
			crMust(t, os.WriteFile(filepath.Join(crLocalDir(e, "Sent"), "cur", "sent-crcrlf:2,S"), []byte(crcrlf), 0o600))
		},
	},
	{
		// One message filed alone (a sent message), the run's only
		// operation: where the server can (Dovecot: UIDPLUS, CONDSTORE)
		// the verification's survey and the LOGOUT go with its APPEND
		// (adapters.SurveyingAppender).
		name: "sent-filed",
		prepare: func(t *testing.T, e *crashEnv) {
			crPutRemote(t, e, "Sent", sample.Messages("Sent", 2, 31))
			crInitialSync(t, e)
			m := sample.Messages("filed", 1, 32)[0]
			crPutLocal(t, e, "Sent", "filed-00", m.Body, m.Flags|model.Seen)
		},
	},
	{
		// Uploads, flag changes and a deletion in one folder: where the
		// server has MULTIAPPEND (Dovecot) the stores and the \Deleted mark
		// go with the upload batch (adapters.BatchAppendStorer).
		name: "uploads-with-stores",
		prepare: func(t *testing.T, e *crashEnv) {
			uids, files := crSyncedSeen(t, e, "INBOX", 6, 21)
			crSetLocalFlags(t, files[uids[0]], model.Seen|model.Flagged)
			crSetLocalFlags(t, files[uids[1]], 0)
			crMust(t, os.Remove(files[uids[2]]))
			for i, m := range sample.Messages("joined", 3, 22) {
				crPutLocal(t, e, "INBOX", fmt.Sprintf("joined-%02d", i), m.Body, m.Flags)
			}
		},
	},
	{
		name: "flags-both-ways",
		prepare: func(t *testing.T, e *crashEnv) {
			uids, files := crSyncedSeen(t, e, "INBOX", 10, 5)
			// Local: 1-4 (flagged, unread, answered, flagged+answered).
			crSetLocalFlags(t, files[uids[0]], model.Seen|model.Flagged)
			crSetLocalFlags(t, files[uids[1]], 0)
			crSetLocalFlags(t, files[uids[2]], model.Seen|model.Answered)
			crSetLocalFlags(t, files[uids[3]], model.Seen|model.Flagged|model.Answered)
			// Both sides: 9 and 10, changes that merge.
			crSetLocalFlags(t, files[uids[8]], model.Seen|model.Flagged)
			crSetLocalFlags(t, files[uids[9]], model.Flagged)
			crChangeRemote(t, e, "INBOX", func(f adapters.RemoteFolder) {
				ctx := context.Background()
				// Server: 5-8.
				crMust(t, f.StoreFlags(ctx, []uint32{uids[4], uids[5]}, model.Flagged, 0))
				crMust(t, f.StoreFlags(ctx, []uint32{uids[6]}, 0, model.Seen))
				crMust(t, f.StoreFlags(ctx, []uint32{uids[7]}, model.Answered|model.Draft, model.Seen))
				crMust(t, f.StoreFlags(ctx, []uint32{uids[8]}, model.Answered, 0))
				crMust(t, f.StoreFlags(ctx, []uint32{uids[9]}, model.Answered, 0))
			})
		},
	},
	{
		name: "deletions-both-ways",
		prepare: func(t *testing.T, e *crashEnv) {
			msgs := sample.Messages("INBOX", 10, 6)
			for i := range msgs {
				msgs[i].Flags = model.Seen
			}
			uids := crPutRemote(t, e, "INBOX", msgs)
			crInitialSync(t, e)
			files := crLocalFiles(t, e, "INBOX")
			// Local deletes 1-3; 7 too, but the server flags it meanwhile
			// (it comes back).
			for _, i := range []int{0, 1, 2, 6} {
				crMust(t, os.Remove(files[uids[i]]))
			}
			// 8 is expunged on the server but flagged locally (it goes back).
			crSetLocalFlags(t, files[uids[7]], model.Seen|model.Flagged)
			crChangeRemote(t, e, "INBOX", func(f adapters.RemoteFolder) {
				ctx := context.Background()
				crMust(t, f.StoreFlags(ctx, []uint32{uids[6]}, model.Flagged, 0))
				crMust(t, f.Expunge(ctx, []uint32{uids[3], uids[4], uids[5], uids[7]}))
			})
		},
	},
	{
		name: "folder-creation",
		prepare: func(t *testing.T, e *crashEnv) {
			crPutRemote(t, e, "INBOX", sample.Messages("INBOX", 2, 1))
			crInitialSync(t, e)
			crPutRemote(t, e, "Remote/New", sample.Messages("Remote/New", 3, 7))
			crMakeLocalFolder(t, e, "Local/Projects")
			for i, m := range sample.Messages("Local/Projects", 3, 8) {
				crPutLocal(t, e, "Local/Projects", fmt.Sprintf("proj-%d", i), m.Body, m.Flags)
			}
		},
	},
	{
		// A folder removed on one side is recreated there and copied back,
		// never propagated as deletions.
		name: "folder-vanished",
		prepare: func(t *testing.T, e *crashEnv) {
			crPutRemote(t, e, "INBOX", sample.Messages("INBOX", 2, 1))
			crPutRemote(t, e, "GoneLocal", sample.Messages("GoneLocal", 3, 9))
			crPutRemote(t, e, "GoneRemote", sample.Messages("GoneRemote", 3, 10))
			crInitialSync(t, e)
			crMust(t, os.RemoveAll(crLocalDir(e, "GoneLocal")))
			crDeleteRemoteFolder(t, e, "GoneRemote")
		},
	},
	{
		name: "move-between-folders",
		prepare: func(t *testing.T, e *crashEnv) {
			// Moves both ways, so that the folder synced first is once the
			// source (expunge, then upload) and once the destination
			// (upload, then expunge).
			a := crPutRemote(t, e, "A", sample.Messages("A", 5, 13))
			b := crPutRemote(t, e, "B", sample.Messages("B", 3, 14))
			crInitialSync(t, e)
			files := crLocalFiles(t, e, "A")
			for _, i := range []int{1, 3} {
				f := files[a[i]]
				crMust(t, os.Rename(f, filepath.Join(crLocalDir(e, "B"), "cur", filepath.Base(f))))
			}
			f := crLocalFiles(t, e, "B")[b[0]]
			crMust(t, os.Rename(f, filepath.Join(crLocalDir(e, "A"), "cur", filepath.Base(f))))
		},
	},
	{
		// Another client moved messages between folders on the server:
		// renamed locally from one folder to the other, not downloaded.
		name: "server-move",
		prepare: func(t *testing.T, e *crashEnv) {
			a := crPutRemote(t, e, "A", sample.Messages("A", 5, 16))
			crPutRemote(t, e, "B", sample.Messages("B", 2, 17))
			crInitialSync(t, e)
			crMoveRemote(t, e, "A", "B", []uint32{a[1], a[3]})
		},
	},
	{
		// The same, with messages of one size: four in A with Message-IDs
		// of their own, three of them moved into B, paired by Message-ID
		// (engine.pairByMessageID) rather than downloaded again.
		name: "server-move-one-size",
		prepare: func(t *testing.T, e *crashEnv) {
			var same []sample.Message
			for i := 0; i < 4; i++ {
				same = append(same, oneSizeMessage("one-size", i))
			}
			a := crPutRemote(t, e, "A", same)
			crPutRemote(t, e, "B", sample.Messages("B", 2, 19))
			crInitialSync(t, e)
			crMoveRemote(t, e, "A", "B", a[:3])
		},
	},
	{
		// A first sync of a folder whose messages are on both sides
		// already, the local files named by another program (no UID in
		// their names), one alone on each side and one flagged locally:
		// paired by identity (rebase-folder), only the two alone copied.
		name: "first-meeting",
		prepare: func(t *testing.T, e *crashEnv) {
			msgs := sample.Messages("M", 7, 18)
			crPutRemote(t, e, "M", msgs[:6])
			crMakeLocalFolder(t, e, "M")
			for i, m := range msgs[1:] {
				flags := m.Flags
				if i == 0 {
					flags |= model.Flagged
				}
				crPutLocal(t, e, "M", fmt.Sprintf("other-%02d", i), m.Body, flags)
			}
		},
	},
	{
		// The server renumbers a folder (new UIDVALIDITY) and lost one
		// message meanwhile; a flag changed locally. The folder is
		// re-paired by identity: nothing copied but the lost message
		// (uploaded back), the flag change kept.
		name: "uidvalidity-change",
		prepare: func(t *testing.T, e *crashEnv) {
			msgs := sample.Messages("R", 6, 15)
			uids := crPutRemote(t, e, "R", msgs)
			crInitialSync(t, e)
			crDeleteRemoteFolder(t, e, "R")
			crPutRemote(t, e, "R", msgs[1:])
			crSetLocalFlags(t, crLocalFiles(t, e, "R")[uids[2]], model.Flagged|model.Seen)
		},
	},
}

func crMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// --- the end state ---

// crashState is what a finished sync left: each side's messages per folder
// as "identity flags" counts, and the status rows per folder.
type crashState struct {
	Remote map[string]map[string]int
	Local  map[string]map[string]int
	Rows   map[string]int
}

func (s crashState) messages() int {
	n := 0
	for _, m := range s.Remote {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// diff lists how got differs from want, in words.
func (want crashState) diff(got crashState) []string {
	var out []string
	cmp := func(side string, w, g map[string]map[string]int) {
		folders := map[string]bool{}
		for f := range w {
			folders[f] = true
		}
		for f := range g {
			folders[f] = true
		}
		for f := range folders {
			ids := map[string]bool{}
			for id := range w[f] {
				ids[id] = true
			}
			for id := range g[f] {
				ids[id] = true
			}
			for id := range ids {
				if w[f][id] != g[f][id] {
					out = append(out, fmt.Sprintf("%s %s: %s: %d, uninterrupted run %d", side, f, id, g[f][id], w[f][id]))
				}
			}
			if _, ok := w[f]; !ok {
				out = append(out, fmt.Sprintf("%s: folder %s exists, not after the uninterrupted run", side, f))
			} else if _, ok := g[f]; !ok {
				out = append(out, fmt.Sprintf("%s: folder %s missing", side, f))
			}
		}
	}
	cmp("server", want.Remote, got.Remote)
	cmp("Maildir", want.Local, got.Local)
	for f := range want.Rows {
		if want.Rows[f] != got.Rows[f] {
			out = append(out, fmt.Sprintf("status %s: %d rows, uninterrupted run %d", f, got.Rows[f], want.Rows[f]))
		}
	}
	for f := range got.Rows {
		if _, ok := want.Rows[f]; !ok {
			out = append(out, fmt.Sprintf("status %s: %d rows, none after the uninterrupted run", f, got.Rows[f]))
		}
	}
	sort.Strings(out)
	return out
}

// crEndState reads the end state of e and checks what must hold after any
// finished sync: both sides agree (converge), the journal passes its
// check and nothing in it is pending, every status row pairs a server message and a file of the same
// content, and a dry run plans nothing.
func crEndState(t *testing.T, e *crashEnv) (crashState, []string) {
	t.Helper()
	ctx := context.Background()
	var problems []string
	rs := e.srv.dial(t)
	defer rs.Close()
	ls := e.su.local(t)
	sum, err := converge.Check(ctx, rs, ls)
	if err != nil {
		t.Fatalf("convergence check: %v", err)
	}
	problems = append(problems, sum.Diffs...)

	st := crashState{Remote: map[string]map[string]int{}, Local: map[string]map[string]int{}, Rows: map[string]int{}}
	remoteByUID := map[string]map[uint32]string{}
	localByKey := map[string]map[string]string{}
	rl, err := rs.ListFolders(ctx)
	crMust(t, err)
	for _, f := range rl {
		if f.NoSelect {
			continue
		}
		ids, byUID := crRemoteContents(t, rs, f.Name)
		st.Remote[f.Name], remoteByUID[f.Name] = ids, byUID
	}
	ll, err := ls.ListFolders(ctx)
	crMust(t, err)
	for _, name := range ll {
		lf, err := ls.Folder(name)
		crMust(t, err)
		msgs, err := lf.Scan(ctx)
		crMust(t, err)
		ids, byKey := map[string]int{}, map[string]string{}
		for _, m := range msgs {
			r, _, _, err := lf.OpenForUpload(ctx, m.Key)
			crMust(t, err)
			id, err := converge.Identity(r)
			r.Close()
			crMust(t, err)
			ids[id+" "+m.Flags.String()]++
			byKey[m.Key] = id
		}
		st.Local[name], localByKey[name] = ids, byKey
	}

	// Before opening the journal: the dry run needs it too.
	dry := crRun(t, binary, nil, append(e.syncArgs(), "--dry-run")...)
	if dry.code != 0 || strings.Contains(dry.stdout, "would do") {
		problems = append(problems, fmt.Sprintf("a further run is not idle (dry run exit %d):\n%s%s", dry.code, dry.stdout, dry.stderr))
	}
	j, err := journal.Open(crashJournalDir(e), journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open the journal read-only: %v", err)
	}
	defer j.Close()
	if err := j.Check(); err != nil {
		problems = append(problems, fmt.Sprintf("journal check: %v", err))
	}
	pending, err := j.Pending()
	crMust(t, err)
	for _, in := range pending {
		problems = append(problems, fmt.Sprintf("journal: intent %d still pending: %s", in.Seq, in.Op))
	}
	folders, err := j.Folders()
	crMust(t, err)
	for _, fm := range folders {
		fs, _, err := j.FolderStatus(fm.Name)
		crMust(t, err)
		if fs.Rows.Len() == 0 {
			continue
		}
		st.Rows[fm.Name] = fs.Rows.Len()
		for _, row := range fs.Rows.All() {
			uid := row.UID
			rid, rok := remoteByUID[fm.Name][uid]
			lid, lok := localByKey[fm.Name][row.Key]
			switch {
			case !rok || !lok:
				problems = append(problems, fmt.Sprintf("status %s: row uid %d <-> %s: server has it %v, Maildir has it %v", fm.Name, uid, row.Key, rok, lok))
			case rid != lid:
				problems = append(problems, fmt.Sprintf("status %s: row pairs uid %d (%s) with file %s (%s): different messages", fm.Name, uid, rid, row.Key, lid))
			}
		}
	}

	sort.Strings(problems)
	return st, problems
}

// crRemoteContents fetches a server folder: "identity flags" counts, and
// each UID's identity.
func crRemoteContents(t *testing.T, rs *imap.Store, folder string) (map[string]int, map[uint32]string) {
	t.Helper()
	ctx := context.Background()
	rf, err := rs.SelectFolder(ctx, folder)
	crMust(t, err)
	defer rf.Close()
	msgs, err := rf.List(ctx)
	crMust(t, err)
	flags := map[uint32]model.Flags{}
	var uids []uint32
	for _, m := range msgs {
		flags[m.UID] = m.Flags
		uids = append(uids, m.UID)
	}
	ids, byUID := map[string]int{}, map[uint32]string{}
	err = rf.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		id, err := converge.Identity(body)
		if err != nil {
			return err
		}
		ids[id+" "+flags[m.UID].String()]++
		byUID[m.UID] = id
		return nil
	})
	crMust(t, err)
	return ids, byUID
}

func crashJournalDir(e *crashEnv) string {
	return filepath.Join(e.su.dir, "meta", "mailtrail", "Test", "journal")
}

// --- the suite ---

// crTraceSteps counts the steps of each kind in a fault trace, and returns
// the lines.
func crTraceSteps(t *testing.T, path string) (map[string]int, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("fault trace: %v", err)
	}
	defer f.Close()
	counts := map[string]int{}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kind, _, _ := strings.Cut(sc.Text(), " ")
		counts[kind]++
		lines = append(lines, sc.Text())
	}
	return counts, lines
}

// crashFigures collects what the suite ran, for the report at the end.
type crashFigures struct {
	mu     sync.Mutex
	points map[string][2]int // scenario/backend: crash points run, passed
}

// report logs the figures at the end of a test.
func (f *crashFigures) report(t *testing.T, start time.Time) {
	keys := make([]string, 0, len(f.points))
	total := [2]int{}
	for k, p := range f.points {
		keys = append(keys, k)
		total[0] += p[0]
		total[1] += p[1]
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("figures: %-40s %3d crash points, %3d passed", k, f.points[k][0], f.points[k][1])
	}
	t.Logf("figures: total %d crash points, %d passed, in %v (full setting: %v)", total[0], total[1], time.Since(start).Round(time.Second), crashFull())
}

func (f *crashFigures) add(key string, passed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.points[key]
	p[0]++
	if passed {
		p[1]++
	}
	f.points[key] = p
}

func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite: not in -short")
	}
	fbin := crFaultBinary(t)
	only := os.Getenv("MAILTRAIL_CRASH_ONLY")
	start := time.Now()
	fig := &crashFigures{points: map[string][2]int{}}
	backends := []crBackend{crBackendMem, crBackendMemBare, crBackendDovecot}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			var newEnv func(t *testing.T) *crashEnv
			for _, sc := range crashScenarios {
				if only != "" && only != sc.name+"/"+b.name && only != sc.name && only != b.name {
					continue
				}
				if newEnv == nil {
					newEnv = b.start(t)
				}
				t.Run(sc.name, func(t *testing.T) { crashScenarioRun(t, fbin, sc, b, newEnv, nil, b.stride, fig) })
			}
		})
	}
	t.Cleanup(func() { fig.report(t, start) })
}

// TestCrashTwice: the same sweep, but the resume is killed too, at the
// steps where it resolves the interrupted run (Recover's renames and its
// checkpoint come first), then again at the next ones, before a resume
// that finishes. CI setting: imapmemserver without UIDPLUS (where finding
// uploads again does the most work), every first crash point of the
// scenarios that leave uploads, moves or deletions half done. Full: both
// imapmemserver variants, every scenario.
func TestCrashTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("crash suite: not in -short")
	}
	fbin := crFaultBinary(t)
	start := time.Now()
	fig := &crashFigures{points: map[string][2]int{}}
	chain := []string{"effect:1", "journal:2", "effect:2", "journal:3"}
	backends := []crBackend{crBackendMemBare}
	scenarios := map[string]bool{"uploads": true, "deletions-both-ways": true, "folder-vanished": true, "move-between-folders": true}
	if crashFull() {
		backends, scenarios = []crBackend{crBackendMem, crBackendMemBare}, nil
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			newEnv := b.start(t)
			for _, sc := range crashScenarios {
				if scenarios != nil && !scenarios[sc.name] {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { crashScenarioRun(t, fbin, sc, b, newEnv, chain, 1, fig) })
			}
		})
	}
	t.Cleanup(func() { fig.report(t, start) })
}

func crashScenarioRun(t *testing.T, fbin string, sc crashScenario, b crBackend, newEnv func(*testing.T) *crashEnv, chain []string, stride int, fig *crashFigures) {
	// The uninterrupted run: the reference, and the step counts.
	ref := newEnv(t)
	sc.prepare(t, ref)
	tracePath := filepath.Join(ref.su.dir, "trace")
	r := crRun(t, fbin, []string{"MAILTRAIL_FAULT_TRACE=" + tracePath}, ref.syncArgs()...)
	if r.code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	counts, lines := crTraceSteps(t, tracePath)
	want, problems := crEndState(t, ref)
	if len(problems) > 0 {
		t.Fatalf("the uninterrupted run did not end well:\n  %s\n%s", strings.Join(problems, "\n  "), r.stdout)
	}
	ref.close()
	t.Logf("%s on %s: %d journal writes, %d side effects, %d messages; the uninterrupted run:\n%s", sc.name, b.name,
		counts["journal"], counts["effect"], want.messages(), r.stdout)
	if crashVerbose() {
		t.Logf("steps:\n  %s", strings.Join(lines, "\n  "))
	}
	if crashFull() {
		stride = 1
	}
	for _, kind := range []string{"journal", "effect"} {
		for n := 1; n <= counts[kind]; n++ {
			// Sampled runs always include the last point.
			if (n-1)%stride != 0 && n != counts[kind] {
				continue
			}
			point := fmt.Sprintf("%s:%d", kind, n)
			ok := t.Run(point, func(t *testing.T) { crashAt(t, fbin, sc, newEnv, point, chain, want) })
			fig.add(sc.name+"/"+b.name, ok)
		}
	}
}

// crashAt runs one crash point: fresh start, crash, resume, compare.
// chain lists crash points for the resumes that follow, one run each,
// before the resume that must finish.
func crashAt(t *testing.T, fbin string, sc crashScenario, newEnv func(*testing.T) *crashEnv, point string, chain []string, want crashState) {
	e := newEnv(t)
	defer e.close()
	sc.prepare(t, e)
	tracePath := filepath.Join(e.su.dir, "trace")
	r := crRun(t, fbin, []string{"MAILTRAIL_CRASH_AT=" + point, "MAILTRAIL_FAULT_TRACE=" + tracePath}, e.syncArgs()...)
	_, lines := crTraceSteps(t, tracePath)
	last := ""
	if len(lines) > 0 {
		last = lines[len(lines)-1]
	}
	if !r.killed {
		t.Fatalf("crash at %s: the run was not killed (exit %d; last step %q)\n%s%s", point, r.code, last, r.stdout, r.stderr)
	}
	var resumes []crRunResult
	for _, again := range chain {
		res := crRun(t, fbin, []string{"MAILTRAIL_CRASH_AT=" + again}, e.syncArgs()...)
		if !res.killed && res.code != 0 {
			t.Fatalf("after a crash at %s (%s), the resume crashed at %s ended with exit %d:\n%s%s", point, last, again, res.code, res.stdout, res.stderr)
		}
		last += ", then " + again
		if !res.killed {
			last += " (finished before)"
		}
	}
	for attempt := 1; ; attempt++ {
		res := crRun(t, binary, nil, e.syncArgs()...)
		resumes = append(resumes, res)
		if res.code == 0 {
			break
		}
		if attempt == 3 {
			t.Fatalf("after a crash at %s (%s), three runs failed; the last:\nexit %d\n%s%s", point, last, res.code, res.stdout, res.stderr)
		}
	}
	if crashVerbose() {
		for i, res := range resumes {
			t.Logf("crash at %s (%s); resume %d, exit %d:\n%s%s", point, last, i+1, res.code, res.stdout, res.stderr)
		}
	}
	got, problems := crEndState(t, e)
	problems = append(problems, want.diff(got)...)
	if len(resumes) > 1 {
		problems = append(problems, fmt.Sprintf("the resume needed %d runs; the first failed:\n%s%s", len(resumes), resumes[0].stdout, resumes[0].stderr))
	}
	if len(problems) > 0 {
		var outs []string
		for i, res := range resumes {
			outs = append(outs, fmt.Sprintf("resume %d (exit %d):\n%s%s", i+1, res.code, res.stdout, res.stderr))
		}
		t.Fatalf("crash at %s, right after %q:\n  %s\ncrashed run:\n%s%s\n%s", point, last, strings.Join(problems, "\n  "),
			r.stdout, r.stderr, strings.Join(outs, "\n"))
	}
}

// crashEnvInt reads an integer setting from the environment.
func crashEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestCrashThenUIDValidityChange: a sync is killed right after appending a
// local message; before the next run the server folder is replaced by
// another of the same name (a new UIDVALIDITY) holding other messages and,
// by chance, that one at a UID above the one recorded. The resume must not
// take it for the interrupted upload: pairing it would record the new
// UIDVALIDITY beside the old status rows, whose UIDs then pair other
// messages. The folder must be refused, and nothing change on either side.
func TestCrashThenUIDValidityChange(t *testing.T) {
	fbin := crFaultBinary(t)
	e := crBackendMem.start(t)(t)
	crPutRemote(t, e, "Work", sample.Messages("Work", 3, 21))
	crInitialSync(t, e)
	local := sample.Messages("Work-local", 1, 22)[0]
	crPutLocal(t, e, "Work", "local-new", local.Body, model.Seen)
	r := crRun(t, fbin, []string{"MAILTRAIL_CRASH_AT=effect:1"}, e.syncArgs()...)
	if !r.killed {
		t.Fatalf("not killed after the APPEND: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	filesBefore := crashLocalNames(t, e, "Work")

	crDeleteRemoteFolder(t, e, "Work")
	others := sample.Messages("Other", 3, 23)
	crPutRemote(t, e, "Work", append(others, sample.Message{Body: local.Body, Flags: model.Seen, Date: local.Date}))

	res := crRun(t, binary, nil, e.syncArgs()...)
	if res.code == 0 || !strings.Contains(res.stdout+res.stderr, "UIDVALIDITY") {
		t.Fatalf("the folder with a new UIDVALIDITY was not refused (exit %d):\n%s%s", res.code, res.stdout, res.stderr)
	}
	if after := crashLocalNames(t, e, "Work"); strings.Join(after, "\n") != strings.Join(filesBefore, "\n") {
		t.Fatalf("local files changed:\nbefore:\n  %s\nafter:\n  %s", strings.Join(filesBefore, "\n  "), strings.Join(after, "\n  "))
	}
	j, err := journal.Open(crashJournalDir(e), journal.Options{ReadOnly: true})
	crMust(t, err)
	defer j.Close()
	st, meta, err := j.FolderStatus("Work")
	crMust(t, err)
	if st.Rows.Len() != 3 {
		t.Errorf("status of Work: %d rows, want the 3 of the old folder", st.Rows.Len())
	}
	rs := e.srv.dial(t)
	defer rs.Close()
	rf, err := rs.SelectFolder(context.Background(), "Work")
	crMust(t, err)
	defer rf.Close()
	if meta.UIDValidity == rf.Status().UIDValidity {
		t.Errorf("the status now records the new folder's UIDVALIDITY %d beside the old folder's rows", meta.UIDValidity)
	}
	if msgs, err := rf.List(context.Background()); err != nil || len(msgs) != 4 {
		t.Errorf("the new server folder has %d messages (err %v), want its 4 untouched", len(msgs), err)
	}
}

// crashLocalNames lists a local folder's file names, sorted.
func crashLocalNames(t *testing.T, e *crashEnv, folder string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(crLocalDir(e, folder), sub))
		crMust(t, err)
		for _, de := range entries {
			names = append(names, sub+"/"+de.Name())
		}
	}
	sort.Strings(names)
	return names
}

// TestCrashFetchThenServerFlagChange: a download is killed after its files
// are in place and before its checkpoint; meanwhile another client removes
// flags on the server. The resume must pair the files with the flags they
// were written with, so that the removals are seen as changes and reach
// the Maildir, instead of pairing with the union of both sides (which
// would put the removed flags back on the server).
func TestCrashFetchThenServerFlagChange(t *testing.T) {
	fbin := crFaultBinary(t)
	msgs := sample.Messages("INBOX", 4, 31)
	for i := range msgs {
		msgs[i].Flags = model.Seen | model.Flagged
	}
	count := crBackendMem.start(t)(t)
	crPutRemote(t, count, "INBOX", msgs)
	trace := filepath.Join(count.su.dir, "trace")
	if r := crRun(t, fbin, []string{"MAILTRAIL_FAULT_TRACE=" + trace}, count.syncArgs()...); r.code != 0 {
		t.Fatalf("counting run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	steps, lines := crTraceSteps(t, trace)
	if !strings.Contains(lines[len(lines)-2], "rename into") && !strings.Contains(lines[len(lines)-3], "rename into") {
		t.Fatalf("the last side effect is not a download moved into place:\n%s", strings.Join(lines, "\n"))
	}

	e := crBackendMem.start(t)(t)
	uids := crPutRemote(t, e, "INBOX", msgs)
	point := fmt.Sprintf("effect:%d", steps["effect"])
	if r := crRun(t, fbin, []string{"MAILTRAIL_CRASH_AT=" + point}, e.syncArgs()...); !r.killed {
		t.Fatalf("not killed at %s: exit %d\n%s%s", point, r.code, r.stdout, r.stderr)
	}
	if n := len(crLocalFiles(t, e, "INBOX")); n != len(msgs) {
		t.Fatalf("%d files in place after the crash, want %d", n, len(msgs))
	}
	crChangeRemote(t, e, "INBOX", func(f adapters.RemoteFolder) {
		crMust(t, f.StoreFlags(context.Background(), []uint32{uids[0]}, 0, model.Seen))
		crMust(t, f.StoreFlags(context.Background(), []uint32{uids[1]}, 0, model.Flagged))
	})
	if r := crRun(t, binary, nil, e.syncArgs()...); r.code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := map[uint32]model.Flags{uids[0]: model.Flagged, uids[1]: model.Seen, uids[2]: model.Seen | model.Flagged, uids[3]: model.Seen | model.Flagged}
	got := remoteFlags(t, e.srv, "INBOX")
	files := crLocalFiles(t, e, "INBOX")
	lf, err := e.su.local(t).Folder("INBOX")
	crMust(t, err)
	scan, err := lf.Scan(context.Background())
	crMust(t, err)
	local := map[uint32]model.Flags{}
	for _, m := range scan {
		local[m.UID] = m.Flags
	}
	for uid, w := range want {
		if got[uid] != w || local[uid] != w {
			t.Errorf("uid %d: server %s, Maildir %s (%s), want %s on both", uid, got[uid], local[uid], filepath.Base(files[uid]), w)
		}
	}
	if _, problems := crEndState(t, e); len(problems) > 0 {
		t.Fatalf("after the resume:\n  %s", strings.Join(problems, "\n  "))
	}
}

// TestCrashInBulkFlagChange: every message of a folder flagged on the
// server (a webmail's select all), and the sync killed in the middle of
// the renames that follow, after the first checkpoint of renames
// (executor.bulkCheckpoint) and before the second. The first checkpoint
// must be in the journal, the rest pending; the next sync resolves the
// pending renames (the files renamed since the checkpoint carry the new
// flags already) and converges.
func TestCrashInBulkFlagChange(t *testing.T) {
	const n, bulk = 2500, 2048 // bulk: executor.bulkCheckpoint
	fbin := crFaultBinary(t)
	e := crBackendMem.start(t)(t)
	msgs := sample.Messages("INBOX", n, 41)
	for i := range msgs {
		msgs[i].Flags = model.Seen
	}
	uids := crPutRemote(t, e, "INBOX", msgs)
	crInitialSync(t, e)
	crChangeRemote(t, e, "INBOX", func(f adapters.RemoteFolder) {
		crMust(t, f.StoreFlags(context.Background(), uids, model.Flagged, 0))
	})
	// The renames are the sync's only side effects; kill it after the
	// (bulk+52)-th.
	point := fmt.Sprintf("effect:%d", bulk+52)
	if r := crRun(t, fbin, []string{"MAILTRAIL_CRASH_AT=" + point}, e.syncArgs()...); !r.killed {
		t.Fatalf("not killed at %s: exit %d\n%s%s", point, r.code, r.stdout, r.stderr)
	}
	flagged := 0
	for _, path := range crLocalFiles(t, e, "INBOX") {
		if strings.HasSuffix(path, "FS") {
			flagged++
		}
	}
	if flagged != bulk+52 {
		t.Errorf("%d files renamed before the kill, want %d", flagged, bulk+52)
	}
	j, err := journal.Open(crashJournalDir(e), journal.Options{ReadOnly: true})
	crMust(t, err)
	pending, err := j.Pending()
	crMust(t, err)
	st, _, err := j.FolderStatus("INBOX")
	j.Close()
	crMust(t, err)
	renames := 0
	for _, p := range pending {
		switch {
		case p.Op.Kind == model.OpSetLocalFlags && p.Op.RecordsRow:
			renames++
		case p.Op.Kind == model.OpPair:
			// Only the server changed: each rename records its row.
			t.Errorf("pending %v: a pairing planned after a one-sided flag change", p.Op)
		}
	}
	if renames != n-bulk {
		t.Errorf("%d renames pending after the kill, want %d: the first %d checkpointed, none after", renames, n-bulk, bulk)
	}
	// The checkpointed renames recorded their rows (FS), the rest not yet.
	recorded := 0
	for _, row := range st.Rows.All() {
		if row.Flags == model.Seen|model.Flagged {
			recorded++
		}
	}
	if recorded != bulk {
		t.Errorf("%d status rows record FS after the kill, want %d (the renames checkpointed)", recorded, bulk)
	}
	if r := crRun(t, binary, nil, e.syncArgs()...); r.code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, problems := crEndState(t, e); len(problems) > 0 {
		t.Fatalf("after the resume:\n  %s", strings.Join(problems[:min(len(problems), 10)], "\n  "))
	}
	for uid, flags := range remoteFlags(t, e.srv, "INBOX") {
		if flags != model.Seen|model.Flagged {
			t.Fatalf("uid %d: %s on the server after the resume, want FS", uid, flags)
		}
	}
	j, err = journal.Open(crashJournalDir(e), journal.Options{ReadOnly: true})
	crMust(t, err)
	defer j.Close()
	if pending, err := j.Pending(); err != nil || len(pending) != 0 {
		t.Fatalf("%d intents pending after the resume (%v)", len(pending), err)
	}
}
