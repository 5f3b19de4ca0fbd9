package main_test

// Helpers shared by the faults_*_test.go files: running the binary under a
// deadline with extra environment, and capturing both sides' contents to
// compare an interrupted sync with an uninterrupted one.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/internal/converge"
	"mailtrail/internal/testdovecot"
	"mailtrail/model"
)

// fltFull reports whether the full fault sweeps were asked for
// (MAILTRAIL_FAULTS_FULL=1); the default is the short CI setting.
func fltFull() bool { return os.Getenv("MAILTRAIL_FAULTS_FULL") == "1" }

// fltRunResult is how one run of the binary ended.
type fltRunResult struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r fltRunResult) output() string { return r.stdout + r.stderr }

// fltRun runs the binary with extra environment. A run that outlives limit
// is killed and fails the test: it hung.
func fltRun(t *testing.T, env []string, limit time.Duration, args ...string) fltRunResult {
	t.Helper()
	r := runBounded(t, binary, limit, env, args...)
	if r.code == -1 {
		t.Fatalf("mailtrail died of a signal\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	return fltRunResult{code: r.code, stdout: r.stdout, stderr: r.stderr, elapsed: r.elapsed}
}

// fltSyncArgs are the arguments of a plain sync.
func fltSyncArgs(su setup) []string { return []string{"-c", su.config, "-o", "-u", "basic"} }

// fltMustSync syncs and requires exit 0.
func fltMustSync(t *testing.T, su setup, env ...string) fltRunResult {
	t.Helper()
	r := fltRun(t, env, 2*time.Minute, fltSyncArgs(su)...)
	if r.code != 0 {
		t.Fatalf("sync exited %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r
}

// fltAssertNothingToDo syncs once more and requires that nothing was
// planned: the previous run left both sides and the status in agreement.
func fltAssertNothingToDo(t *testing.T, su setup, env ...string) {
	t.Helper()
	r := fltMustSync(t, su, env...)
	if !strings.Contains(r.stdout, "nothing to do") || strings.Contains(r.output(), "FAILED") {
		t.Fatalf("a sync after convergence still did something:\n%s%s", r.stdout, r.stderr)
	}
}

// fltState is what both sides hold, per folder: message identities
// (Message-ID, content hash, flags) with their counts.
type fltState struct {
	remote, local map[string]map[string]int
}

// fltCapture reads both sides' contents.
func fltCapture(t *testing.T, rs *imap.Store, local adapters.Local) fltState {
	t.Helper()
	ctx := context.Background()
	st := fltState{remote: map[string]map[string]int{}, local: map[string]map[string]int{}}
	rl, err := rs.ListFolders(ctx)
	if err != nil {
		t.Fatalf("list server folders: %v", err)
	}
	for _, f := range rl {
		ids, err := converge.RemoteIdentities(ctx, rs, f.Name)
		if err != nil {
			t.Fatalf("read server folder %s: %v", f.Name, err)
		}
		st.remote[f.Name] = ids
	}
	ll, err := local.ListFolders(ctx)
	if err != nil {
		t.Fatalf("list local folders: %v", err)
	}
	for _, name := range ll {
		ids, err := converge.LocalIdentities(ctx, local, name)
		if err != nil {
			t.Fatalf("read local folder %s: %v", name, err)
		}
		st.local[name] = ids
	}
	return st
}

func (s fltState) messages() (remote, local int) {
	for _, f := range s.remote {
		for _, n := range f {
			remote += n
		}
	}
	for _, f := range s.local {
		for _, n := range f {
			local += n
		}
	}
	return remote, local
}

// fltDiff lists how got differs from want, in plain words ("" side names
// the server or the Maildir).
func fltDiff(want, got fltState) []string {
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
			_, wok := w[f]
			_, gok := g[f]
			if wok != gok {
				out = append(out, fmt.Sprintf("%s: folder %q exists: want %v, got %v", side, f, wok, gok))
				continue
			}
			ids := map[string]bool{}
			for id := range w[f] {
				ids[id] = true
			}
			for id := range g[f] {
				ids[id] = true
			}
			for id := range ids {
				if w[f][id] != g[f][id] {
					out = append(out, fmt.Sprintf("%s: %s: %s: want %d, got %d", side, f, id, w[f][id], g[f][id]))
				}
			}
		}
	}
	cmp("server", want.remote, got.remote)
	cmp("Maildir", want.local, got.local)
	sort.Strings(out)
	return out
}

// fltWithSockTimeout sets [general] socktimeout (the IMAP watchdog) in a
// configuration written by newSetup.
func fltWithSockTimeout(t *testing.T, cfg []byte, d time.Duration) []byte {
	t.Helper()
	line := []byte("accounts = Test\n")
	if !bytes.Contains(cfg, line) {
		t.Fatalf("configuration without %q:\n%s", line, cfg)
	}
	return bytes.Replace(cfg, line, []byte(fmt.Sprintf("accounts = Test\nsocktimeout = %d\n", int(d/time.Second))), 1)
}

// fltSlowTimeout is the socktimeout of every run that is not about a
// stalled connection: generous, so that a loaded machine (CI runs on two
// shared cores) is never taken for a silent server.
const fltSlowTimeout = 60 * time.Second

// fltSplitHostPort splits "host:port".
func fltSplitHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

// fltDovecotPlain starts a Dovecot with the user alice (password secret),
// to be reached on its plain port.
func fltDovecotPlain(t *testing.T) *testdovecot.Server {
	t.Helper()
	return testdovecot.Start(t, "alice:secret")
}

// fltFileByUID returns the path of the file that carries uid in a local
// folder (directory name with the Maildir separator).
func fltFileByUID(t *testing.T, su setup, dir string, uid uint32) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(su.maildir, dir, "*", "*,U="+strconv.Itoa(int(uid))+",*"))
	if len(files) != 1 {
		t.Fatalf("%s: %d files carry U=%d", dir, len(files), uid)
	}
	return files[0]
}

// fltSetFileFlags renames a message file so that it carries flags, as a
// mail client does.
func fltSetFileFlags(t *testing.T, path string, flags model.Flags) {
	t.Helper()
	base := filepath.Base(path)
	if i := strings.Index(base, ":2,"); i >= 0 {
		base = base[:i]
	}
	to := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", base+":2,"+flags.Maildir())
	if err := os.Rename(path, to); err != nil {
		t.Fatal(err)
	}
}

// fltMakeLocalFolder creates a Maildir folder directory by hand.
func fltMakeLocalFolder(t *testing.T, su setup, dir string) {
	t.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(su.maildir, dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}
