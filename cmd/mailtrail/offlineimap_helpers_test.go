package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
)

// offlineIMAPBinary returns the path of OfflineIMAP 3, or skips the test
// (fails it with MAILTRAIL_REQUIRE_DOVECOT set: CI installs both).
func offlineIMAPBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"offlineimap3", "offlineimap"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(testdovecot.RequireEnv) != "" {
		t.Fatalf("offlineimap3 is not installed (apt-get install offlineimap3) and %s is set", testdovecot.RequireEnv)
	}
	t.Skip("offlineimap3 is not installed (apt-get install offlineimap3)")
	return ""
}

// oiSetup is one OfflineIMAP-format configuration in a directory of its
// own: the same file is read by offlineimap and by mailtrail.
type oiSetup struct {
	dir, config, maildir, meta string
}

// newOISetup writes a configuration for the Dovecot user of s; extra goes
// at the end (more sections). The host is "localhost": OfflineIMAP's
// imaplib2 cannot match an IP address against the certificate.
func newOISetup(t *testing.T, s server, general, local, remote, extra string) oiSetup {
	t.Helper()
	dir := t.TempDir()
	su := oiSetup{dir: dir, config: filepath.Join(dir, "offlineimaprc"), maildir: filepath.Join(dir, "Mail"), meta: filepath.Join(dir, "meta")}
	cfg := fmt.Sprintf(`[general]
accounts = Test
metadata = %s
%s

[Account Test]
localrepository = Local
remoterepository = Remote

[Repository Local]
type = Maildir
localfolders = %s
%s

[Repository Remote]
type = IMAP
remotehost = %s
remoteport = %d
remoteuser = %s
remotepass = %s
ssl = yes
sslcacertfile = %s
%s

%s
`, su.meta, general, su.maildir, local, "localhost", s.port, s.user, s.pass, s.ca, remote, extra)
	if err := os.WriteFile(su.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return su
}

// offlineIMAP runs OfflineIMAP once on the setup.
func (su oiSetup) offlineIMAP(t *testing.T, args ...string) {
	t.Helper()
	bin := offlineIMAPBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-c", su.config, "-o", "-u", "quiet"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+su.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("offlineimap: %v\n%s", err, out)
	}
	// OfflineIMAP 3 exits 0 even when an account failed; its errors go to
	// the output.
	if bytes.Contains(out, []byte("ERROR")) {
		t.Fatalf("offlineimap reported errors:\n%s", out)
	}
}

// mailtrail runs mailtrail on the setup and returns its stdout.
func (su oiSetup) mailtrail(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := run(t, append([]string{"-c", su.config, "-o", "-u", "basic"}, args...)...)
	if code != 0 {
		t.Fatalf("mailtrail %v exited %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out
}

// seedSmall fills a small mailbox: folders with a few messages each, some
// with flags.
func seedSmall(t *testing.T, s server, folders map[string]int) int {
	t.Helper()
	ctx := context.Background()
	st := s.dial(t)
	total := 0
	names := make([]string, 0, len(folders))
	for f := range folders {
		names = append(names, f)
	}
	sort.Strings(names)
	for i, name := range names {
		if name != "INBOX" {
			if err := st.CreateFolder(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		f, err := st.SelectFolder(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sample.Messages(name, folders[name], int64(100+i)) {
			if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
				t.Fatal(err)
			}
			total++
		}
		f.Close()
	}
	return total
}

// fileInodes maps every message file under root (relative path) to its
// inode.
func fileInodes(t *testing.T, root string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		dir := filepath.Base(filepath.Dir(p))
		if dir != "cur" && dir != "new" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = info.Sys().(*syscall.Stat_t).Ino
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// messageFiles lists the message files of one folder directory.
func messageFiles(t *testing.T, folderDir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(folderDir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, filepath.Join(sub, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}
