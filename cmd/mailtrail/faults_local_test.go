package main_test

// Local faults: the disk holding the Maildir fills up during a download;
// the Maildir is on a file system remounted read-only with changes pending
// on both sides; a message file vanishes (another mail client deleted it)
// between the scan and its use. Each must give a clear error naming the
// folder and what to do (or, for a vanished file, no error), lose nothing,
// duplicate nothing, and, once the cause is gone, the next sync must end
// in the state an undisturbed sync gives, with a further sync planning
// nothing.
//
// The disk tests mount a tmpfs as the Maildir root: they need root (they
// skip otherwise, saying so) and fail when root cannot mount one. Each runs
// against imapmemserver and Dovecot (Dovecot skips unless installed; with
// MAILTRAIL_REQUIRE_DOVECOT=1 it fails instead).

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/engine"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// fltNeedRoot skips a test that must mount file systems when not root.
func fltNeedRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a tmpfs as the Maildir (run the tests as root, as CI does)")
	}
}

// fltMountTmpfs mounts a tmpfs of size (mount's size=, e.g. "2m") on dir,
// creating dir, and unmounts it at cleanup.
func fltMountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s (root can, here): %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			// Busy: detach it, so that the temp dir can go.
			if out2, err2 := exec.Command("umount", "-l", dir).CombinedOutput(); err2 != nil {
				t.Errorf("umount %s: %v\n%s%s", dir, err, out, out2)
			}
		}
	})
}

// fltRemount changes the options of the tmpfs on dir ("ro", "rw",
// "size=64m").
func fltRemount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v\n%s", dir, opts, err, out)
	}
}

// fltLocalServers are the servers the local-fault tests run against; each
// call of the returned function gives a fresh account on it.
func fltLocalServers() map[string]func(t *testing.T) func(t *testing.T) server {
	return map[string]func(t *testing.T) func(t *testing.T) server{
		"memserver": func(*testing.T) func(t *testing.T) server {
			return func(t *testing.T) server { return memServer(t) }
		},
		"dovecot": func(t *testing.T) func(t *testing.T) server {
			users := make([]string, 4)
			for i := range users {
				users[i] = fmt.Sprintf("l%d:secret", i+1)
			}
			d := testdovecot.StartWith(t, testdovecot.Options{Users: users})
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the end of Dovecot's log:\n%s", d.Log())
				}
			})
			var mu sync.Mutex
			next := 0
			return func(t *testing.T) server {
				mu.Lock()
				defer mu.Unlock()
				next++
				if next > len(users) {
					t.Fatalf("more than %d accounts on one Dovecot", len(users))
				}
				return server{host: d.Host, port: d.TLSPort, user: fmt.Sprintf("l%d", next), pass: "secret", tls: imap.TLSImplicit, ca: d.CAFile}
			}
		},
	}
}

// fltSetupTimeout writes the configuration of newSetup with socktimeout
// set (fltSlowTimeout: a test that means a stall sets its own).
func fltSetupTimeout(t *testing.T, s server) setup {
	t.Helper()
	su := newSetup(t, s, "")
	cfg, err := os.ReadFile(su.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(su.config, fltWithSockTimeout(t, cfg, fltSlowTimeout), 0o600); err != nil {
		t.Fatal(err)
	}
	return su
}

// fltPut appends messages to a server folder, creating it.
func fltPut(t *testing.T, s server, folder string, msgs []sample.Message) {
	t.Helper()
	ctx := context.Background()
	rs := s.dial(t)
	fltMust(t, rs.CreateFolder(ctx, folder))
	f, err := rs.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, m := range msgs {
		if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
			t.Fatal(err)
		}
	}
}

// fltSized returns n messages of about size bytes each, each with its own
// Message-ID.
func fltSized(tag string, n, size int) []sample.Message {
	out := make([]sample.Message, n)
	for i := range out {
		m := sample.Big(size)
		id := fmt.Sprintf("<%s.%d@mailtrail.example>", tag, i)
		m.Body = bytes.Replace(m.Body, []byte(m.MessageID), []byte(id), 1)
		m.Body = bytes.Replace(m.Body, []byte("Subject: big"), []byte(fmt.Sprintf("Subject: %s %d", tag, i)), 1)
		m.MessageID = id
		m.Date = m.Date.Add(time.Duration(i) * time.Minute)
		if i%2 == 0 {
			m.Flags = model.Seen
		}
		out[i] = m
	}
	return out
}

// fltTmpFiles lists what is left in the tmp/ directories of a Maildir.
func fltTmpFiles(t *testing.T, root string) []string {
	t.Helper()
	var left []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(filepath.Dir(p)) == "tmp" {
			left = append(left, p)
		}
		return nil
	})
	return left
}

// TestDiskFullDuringDownload: 3 MB of mail into a 2 MB Maildir. The sync
// fails naming the folder, the cause and what to do; the server is
// untouched; every file in the Maildir is a complete message (nothing
// half-written is left in cur/ or new/, nothing in tmp/). With space freed,
// the next sync converges.
func TestDiskFullDuringDownload(t *testing.T) {
	fltNeedRoot(t)
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			s := start(t)(t)
			su := fltSetupTimeout(t, s)
			fltMountTmpfs(t, su.maildir, "2m")
			fltPut(t, s, "INBOX", fltSized("full", 30, 100<<10))
			fltPut(t, s, "Small", sample.Messages("Small", 5, 9))
			before := fltCapture(t, s.dial(t), su.local(t))

			r := fltRun(t, nil, 2*time.Minute, fltSyncArgs(su)...)
			t.Logf("sync on a full disk: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			if r.code != 1 {
				t.Fatalf("sync on a full disk exited %d, want 1", r.code)
			}
			out := r.output()
			for _, want := range []string{"Test: INBOX: FAILED: folder INBOX:", "no space left on device", "free space on it, then sync again"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if left := fltTmpFiles(t, su.maildir); len(left) > 0 {
				t.Errorf("files left in tmp/: %v", left)
			}
			during := fltCapture(t, s.dial(t), su.local(t))
			if d := fltDiff(fltState{remote: before.remote}, fltState{remote: during.remote}); len(d) > 0 {
				t.Errorf("the server changed:\n  %s", strings.Join(d, "\n  "))
			}
			// Every local file is one of the server's messages, whole.
			for folder, ids := range during.local {
				for id, n := range ids {
					if n != 1 || before.remote[folder][id] != 1 {
						t.Errorf("Maildir %s: %s %d times; the server has it %d times", folder, id, n, before.remote[folder][id])
					}
				}
			}

			fltConvergesOnceFreed(t, s, su, func() { fltRemount(t, su.maildir, "size=64m") }, before.remote, 35)
		})
	}
}

// fltConvergesOnceFreed frees space (free), then requires one sync to
// succeed and the next to have nothing to do, and both sides to hold
// exactly the messages of want (per folder, as fltState counts them), n
// of them each.
func fltConvergesOnceFreed(t *testing.T, s server, su setup, free func(), want map[string]map[string]int, n int) {
	t.Helper()
	free()
	fltMustSync(t, su)
	fltAssertNothingToDo(t, su)
	after := fltCapture(t, s.dial(t), su.local(t))
	if d := fltDiff(fltState{remote: want, local: want}, after); len(d) > 0 {
		t.Errorf("after freeing space:\n  %s", strings.Join(d, "\n  "))
	}
	if r, l := after.messages(); r != n || l != n {
		t.Errorf("%d messages on the server, %d in the Maildir, want %d each", r, l, n)
	}
}

// fltReadOnlyPrepare: a synced account, then changes on both sides. In
// INBOX: on the server a flag added and an expunge; locally a new
// message, a flag added and a deletion. In Work: a new message on the
// server. (INBOX has nothing to download: a download fails the folder at
// once, before the other operations get their turn.)
func fltReadOnlyPrepare(t *testing.T, s server, su setup) {
	t.Helper()
	ctx := context.Background()
	fltPut(t, s, "INBOX", sample.Messages("INBOX", 8, 21))
	fltPut(t, s, "Work", sample.Messages("Work", 4, 22))
	fltMustSync(t, su)

	fltPut(t, s, "Work", sample.Messages("Work-new", 1, 23))
	rs := s.dial(t)
	f, err := rs.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[uint32]model.Flags{}
	for _, m := range msgs {
		flags[m.UID] = m.Flags
	}
	fltMust(t, f.StoreFlags(ctx, []uint32{1}, model.Flagged, 0))
	fltMust(t, f.Expunge(ctx, []uint32{2}))
	f.Close()

	deliver(t, filepath.Join(su.maildir, "INBOX"), "offline-1", "From: me@example.org\nSubject: offline\nMessage-ID: <offline-ro@x>\n\nwritten offline\n")
	fltSetFileFlags(t, fltFileByUID(t, su, "INBOX", 3), flags[3]|model.Answered)
	if err := os.Remove(fltFileByUID(t, su, "INBOX", 4)); err != nil {
		t.Fatal(err)
	}
}

// TestReadOnlyMaildir: with changes pending on both sides, the Maildir's
// file system goes read-only. Two syncs fail, naming the folder, the cause
// and what to do; nothing is lost or duplicated meanwhile. Remounted
// read-write, the next sync ends where an undisturbed sync of the same
// changes ends, and the one after plans nothing.
func TestReadOnlyMaildir(t *testing.T) {
	fltNeedRoot(t)
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			newServer := start(t)
			// The reference: the same changes synced on a writable disk.
			rs := newServer(t)
			rsu := fltSetupTimeout(t, rs)
			fltReadOnlyPrepare(t, rs, rsu)
			fltMustSync(t, rsu)
			want := fltCapture(t, rs.dial(t), rsu.local(t))

			s := newServer(t)
			su := fltSetupTimeout(t, s)
			fltMountTmpfs(t, su.maildir, "16m")
			fltReadOnlyPrepare(t, s, su)
			fltRemount(t, su.maildir, "ro")
			for i := 1; i <= 2; i++ {
				r := fltRun(t, nil, 2*time.Minute, fltSyncArgs(su)...)
				t.Logf("sync %d on a read-only Maildir: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
				if r.code != 1 {
					t.Fatalf("sync %d on a read-only Maildir exited %d, want 1", i, r.code)
				}
				out := r.output()
				for _, want := range []string{"Test: INBOX:", "read-only file system", "remount it read-write"} {
					if !strings.Contains(out, want) {
						t.Errorf("sync %d: output lacks %q", i, want)
					}
				}
			}
			fltRemount(t, su.maildir, "rw")
			fltMustSync(t, su)
			fltAssertNothingToDo(t, su)
			got := fltCapture(t, s.dial(t), su.local(t))
			if d := fltDiff(want, got); len(d) > 0 {
				t.Errorf("after remounting read-write, the mail differs from an undisturbed sync:\n  %s", strings.Join(d, "\n  "))
			}
		})
	}
}

// fltVanishing wraps the Maildir so that, right before the executor uses a
// chosen message (to upload it, re-flag it or record its UID), another
// "mail client" deletes its file: the race between scan and use.
type fltVanishing struct {
	adapters.Local
	root   string
	sep    byte
	victim func(folder, op, key string) bool // delete key's file before op?
	mu     sync.Mutex
	done   []string
}

func (v *fltVanishing) OpenFolder(ctx context.Context, name string) (adapters.LocalFolder, error) {
	f, err := v.Local.OpenFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return &fltVanishingFolder{LocalFolder: f, v: v, name: name}, nil
}

type fltVanishingFolder struct {
	adapters.LocalFolder
	v    *fltVanishing
	name string
}

func (f *fltVanishingFolder) vanish(op, key string) {
	if !f.v.victim(f.name, op, key) {
		return
	}
	dir := filepath.Join(f.v.root, strings.ReplaceAll(f.name, "/", string(f.v.sep)))
	files, _ := filepath.Glob(filepath.Join(dir, "*", key+"*"))
	for _, p := range files {
		if err := os.Remove(p); err == nil {
			f.v.mu.Lock()
			f.v.done = append(f.v.done, op+" "+f.name+"/"+filepath.Base(p))
			f.v.mu.Unlock()
		}
	}
}

func (f *fltVanishingFolder) OpenForUpload(ctx context.Context, key string) (io.ReadCloser, int64, time.Time, error) {
	f.vanish("upload", key)
	r, size, date, err := f.LocalFolder.OpenForUpload(ctx, key)
	if err == nil && f.v.victim(f.name, "grow", key) {
		// Another program appends to the file after its size was taken.
		dir := filepath.Join(f.v.root, strings.ReplaceAll(f.name, "/", string(f.v.sep)))
		files, _ := filepath.Glob(filepath.Join(dir, "*", key+"*"))
		for _, p := range files {
			if af, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0); err == nil {
				af.WriteString("a line written while the file was uploaded\n")
				af.Close()
				f.v.mu.Lock()
				f.v.done = append(f.v.done, "grow "+f.name+"/"+filepath.Base(p))
				f.v.mu.Unlock()
			}
		}
	}
	return r, size, date, err
}

func (f *fltVanishingFolder) SetFlags(ctx context.Context, key string, flags model.Flags) error {
	f.vanish("set-flags", key)
	return f.LocalFolder.SetFlags(ctx, key, flags)
}

func (f *fltVanishingFolder) SetUID(ctx context.Context, key string, uid uint32) error {
	f.vanish("set-uid", key)
	return f.LocalFolder.SetUID(ctx, key, uid)
}

// TestFileVanishesBetweenScanAndUse runs the engine in process over the
// real Maildir and imapmemserver, with files deleted at the worst moment:
//   - a new local message, deleted right before its upload: nothing is
//     uploaded, nothing fails;
//   - a message whose flags changed on the server, deleted right before
//     its new flags are written: the server's change beats the local
//     deletion (docs/ARCHITECTURE.md, "modification beats deletion"), so
//     the next sync copies it back with its new flags, as it would had
//     the file been deleted before the scan;
//   - a new local message, deleted after its upload and before its UID is
//     written into the file name: the copy on the server stays and comes
//     back (never lost), once;
//   - a new local message that grows while it is uploaded: that upload
//     fails on its own, with an error naming the file, and stores nothing
//     on the server; the next sync uploads the file as it is then, once.
//
// Then the binary syncs twice: the first converges, the second plans
// nothing; both sides hold what an undisturbed sync of the same deletions
// made before the scan gives.
func TestFileVanishesBetweenScanAndUse(t *testing.T) {
	ctx := context.Background()
	prepare := func(t *testing.T) (server, setup, map[uint32]model.Flags) {
		// imapmemserver that stores nothing of an incomplete APPEND, as
		// real servers do (see fltStartMem).
		host, port := fltSplitHostPort(t, fltStartMem(t, nil))
		s := server{host: host, port: port, user: "alice", pass: "secret", tls: imap.TLSNone}
		su := fltSetupTimeout(t, s)
		fltPut(t, s, "INBOX", sample.Messages("INBOX", 6, 31))
		fltMustSync(t, su)
		rs := s.dial(t)
		f, err := rs.SelectFolder(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		msgs, _ := f.List(ctx)
		flags := map[uint32]model.Flags{}
		for _, m := range msgs {
			flags[m.UID] = m.Flags
		}
		fltMust(t, f.StoreFlags(ctx, []uint32{2}, model.Flagged, 0))
		f.Close()
		deliver(t, filepath.Join(su.maildir, "INBOX"), "gone-before-upload", "From: me@example.org\nSubject: a\nMessage-ID: <vanish-a@x>\n\na\n")
		deliver(t, filepath.Join(su.maildir, "INBOX"), "gone-after-upload", "From: me@example.org\nSubject: b\nMessage-ID: <vanish-b@x>\n\nb\n")
		deliver(t, filepath.Join(su.maildir, "INBOX"), "grows-during-upload", "From: me@example.org\nSubject: c\nMessage-ID: <grow-c@x>\n\nc\n")
		return s, su, flags
	}

	// The reference: the same files deleted before the sync looks.
	rs, rsu, _ := prepare(t)
	if err := os.Remove(filepath.Join(rsu.maildir, "INBOX", "new", "gone-before-upload")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(fltFileByUID(t, rsu, "INBOX", 2)); err != nil {
		t.Fatal(err)
	}
	grown, err := os.OpenFile(filepath.Join(rsu.maildir, "INBOX", "new", "grows-during-upload"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	grown.WriteString("a line written while the file was uploaded\n")
	grown.Close()
	fltMustSync(t, rsu)
	// The message deleted after its upload is on the server then, so it
	// comes back: once on each side, as in the reference, where it was
	// never deleted.
	want := fltCapture(t, rs.dial(t), rsu.local(t))

	s, su, _ := prepare(t)
	// The key of the message the server re-flagged.
	uid2Key := strings.SplitN(filepath.Base(fltFileByUID(t, su, "INBOX", 2)), ",", 2)[0]
	local, err := maildir.New(su.maildir, '.', maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := &fltVanishing{Local: local, root: su.maildir, sep: '.', victim: func(folder, op, key string) bool {
		switch {
		case op == "upload" && key == "gone-before-upload":
			return true
		case op == "set-flags" && key == uid2Key:
			return true
		case op == "set-uid" && key == "gone-after-upload":
			return true
		case op == "grow" && key == "grows-during-upload":
			return true
		}
		return false
	}}
	remote, err := imap.Dial(ctx, imap.Config{Host: s.host, Port: s.port, User: s.user, Password: s.pass, TLS: s.tls, MaxConnections: 2, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(su.dir, "meta", "mailtrail", "Test", "journal"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acct := &engine.Account{Name: "Test", Remote: remote, Local: v, Journal: j, Log: zerolog.Nop(), MaxConnections: 2,
		Planner: planner.Options{CreateLocalFolders: true, CreateRemoteFolders: true}}
	rep, err := acct.Sync(ctx)
	j.Close()
	remote.Close()
	if err != nil {
		t.Fatalf("sync with vanishing files: %v", err)
	}
	if len(v.done) != 4 {
		t.Fatalf("changed %v, want three files deleted and one grown mid-sync", v.done)
	}
	for _, f := range rep.Folders {
		t.Logf("folder %s: done %v, failed %v, err %v", f.Name, f.Done, f.Failed, f.Err)
		if f.Err != nil {
			t.Errorf("folder %s failed as a whole: %v", f.Name, f.Err)
		}
		// The grown file alone fails, saying so; a deleted file is no error.
		if len(f.Failed) != 1 || f.Failed[0].Op.Key != "grows-during-upload" ||
			!strings.Contains(f.Failed[0].Err.Error(), "changed while it was read") {
			t.Errorf("folder %s: failed operations %v, want the upload of the grown file alone, saying it changed", f.Name, f.Failed)
		}
	}

	fltMustSync(t, su)
	fltAssertNothingToDo(t, su)
	got := fltCapture(t, s.dial(t), su.local(t))
	if d := fltDiff(want, got); len(d) > 0 {
		t.Errorf("after files vanished mid-sync, the mail differs from deleting them before the sync:\n  %s", strings.Join(d, "\n  "))
	}
}
