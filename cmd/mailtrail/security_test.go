package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mailtrail/adapters/imap"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
)

// secCfg writes a configuration for account Test whose [Repository Remote]
// holds remote (everything after "type = IMAP").
func secCfg(t *testing.T, dir, remote string) string {
	t.Helper()
	cfg := fmt.Sprintf(`[general]
accounts = Test
metadata = %[1]s/meta

[Account Test]
localrepository = Local
remoterepository = Remote

[Repository Local]
type = Maildir
localfolders = %[1]s/Mail

[Repository Remote]
type = IMAP
%[2]s
`, dir, remote)
	path := filepath.Join(dir, "offlineimaprc")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runIn runs the binary with the given umask (the child inherits it) and
// HOME.
func runIn(t *testing.T, home string, umask int, args ...string) (int, string, string) {
	t.Helper()
	old := syscall.Umask(umask)
	defer syscall.Umask(old)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
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

// secretForms are the ways a password could leak: as it is, base64 (a
// logged SASL exchange), and inside AUTHENTICATE PLAIN's base64 blob.
func secretForms(user, pass string) []string {
	return []string{
		pass,
		base64.StdEncoding.EncodeToString([]byte(pass)),
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
	}
}

// grepTree returns how many files are under root and the ones holding
// one of the secrets.
func grepTree(t *testing.T, root string, secrets []string) (int, []string) {
	t.Helper()
	files := 0
	var hits []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				hits = append(hits, fmt.Sprintf("%s holds %q", p, s))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, hits
}

func seedDovecot(t *testing.T, d *testdovecot.Server, user string) {
	t.Helper()
	st, err := imap.Dial(context.Background(), imap.Config{Host: d.Host, Port: d.Port, TLS: imap.TLSNone, User: user, Password: d.Password(user)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f, err := st.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, m := range sample.Messages("INBOX", 5, 7) {
		if _, err := f.Append(context.Background(), int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSecuritySecretsNeverWritten syncs with --debug, -d imap and a log
// file, then fails a login with a wrong password (its own Dovecot: failed
// logins slow later ones down), and greps stdout, stderr, the log file,
// `mailtrail log`, the journal and the whole Maildir for both passwords.
func TestSecuritySecretsNeverWritten(t *testing.T) {
	const good = "Gd-Pw-8c1f-secret-Q7"
	const wrong = "Wr0ng-Pw-55aa-secret-Z9"
	d := testdovecot.Start(t, "alice:"+good)
	seedDovecot(t, d, "alice")
	dir := t.TempDir()
	logFile := filepath.Join(dir, "mailtrail.log")
	cfg := secCfg(t, dir, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepass = %s\nsslcacertfile = %s\n",
		d.Host, d.TLSPort, good, d.CAFile))

	var outputs []string
	for _, args := range [][]string{
		{"-c", cfg, "-o", "--debug", "-l", logFile},
		{"-c", cfg, "-o", "-d", "imap,maildir", "-l", logFile},
	} {
		code, out, errs := runIn(t, dir, 0o022, args...)
		if code != 0 {
			t.Fatalf("mailtrail %v exited %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
		}
		if !strings.Contains(errs, "DBG") {
			t.Fatalf("--debug logged nothing at debug level: the test would prove nothing\n%s", errs)
		}
		outputs = append(outputs, out, errs)
	}
	bundle := filepath.Join(dir, "bundle")
	for _, args := range [][]string{{"-c", cfg, "log"}, {"-c", cfg, "journal", "check"}, {"-c", cfg, "journal", "export", bundle}} {
		_, out, errs := runIn(t, dir, 0o022, args...)
		outputs = append(outputs, out, errs)
	}
	if _, err := os.Stat(bundle); err != nil {
		t.Errorf("journal export wrote no replay bundle to grep: %v\n%s", err, outputs[len(outputs)-1])
	}

	// The same with a password that the server refuses, given by
	// remotepasscommand this time, on a server of its own.
	d2 := testdovecot.Start(t, "alice:"+good)
	dir2 := t.TempDir()
	passFile := filepath.Join(dir2, "pw")
	if err := os.WriteFile(passFile, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg2 := secCfg(t, dir2, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepasscommand = cat %s\nsslcacertfile = %s\nauth_mechanisms = PLAIN\n",
		d2.Host, d2.TLSPort, passFile, d2.CAFile))
	code, out, errs := runIn(t, dir2, 0o022, "-c", cfg2, "-o", "--debug", "-l", logFile)
	if code == 0 || !strings.Contains(errs, "login failed") {
		t.Fatalf("a wrong password did not fail the login (exit %d)\n%s", code, errs)
	}
	outputs = append(outputs, out, errs)
	// A failing remotepasscommand whose output is the password.
	cfg3 := secCfg(t, dir2, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepasscommand = cat %s; exit 1\nsslcacertfile = %s\n",
		d2.Host, d2.TLSPort, passFile, d2.CAFile))
	code, out, errs = runIn(t, dir2, 0o022, "-c", cfg3, "-o", "--debug", "-l", logFile)
	if code == 0 || !strings.Contains(errs, "remotepasscommand failed") {
		t.Fatalf("a failing remotepasscommand did not stop the sync (exit %d)\n%s", code, errs)
	}
	outputs = append(outputs, out, errs)

	secrets := append(secretForms("alice", good), secretForms("alice", wrong)...)
	for i, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("output %d holds the secret %q:\n%s", i, s, o)
			}
		}
	}
	logBytes, err := os.ReadFile(logFile)
	if err != nil || !bytes.Contains(logBytes, []byte("DBG")) {
		t.Fatalf("log file %s has no debug lines (%v): the test would prove nothing", logFile, err)
	}
	// The grep itself works: the configuration does hold the password.
	if _, hits := grepTree(t, cfg, secrets); len(hits) != 1 {
		t.Fatalf("the grep does not find the password in the configuration: %v", hits)
	}
	files := 0
	for _, root := range []string{filepath.Join(dir, "meta"), filepath.Join(dir, "Mail"), filepath.Join(dir2, "meta"), logFile, bundle} {
		n, hits := grepTree(t, root, secrets)
		files += n
		for _, h := range hits {
			t.Error(h)
		}
	}
	if files < 6 {
		t.Errorf("only %d files in the journal and Maildir: the sync did not write what the test means to check", files)
	}
}

// TestSecurityFileModes: with umask 000, everything mailtrail creates is
// still private: files 0600, directories 0700.
func TestSecurityFileModes(t *testing.T) {
	s := memServer(t)
	seedMem := s.dial(t)
	f, err := seedMem.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sample.Messages("INBOX", 3, 1) {
		if _, err := f.Append(context.Background(), int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := seedMem.CreateFolder(context.Background(), "Archive"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := secCfg(t, dir, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = %s\nremotepass = %s\nssl = no\nstarttls = no\n",
		s.host, s.port, s.user, s.pass))
	logFile := filepath.Join(dir, "logs", "mailtrail.log")
	if err := os.Mkdir(filepath.Dir(logFile), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIn(t, dir, 0, "-c", cfg, "-o", "-l", logFile)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	checked := 0
	for _, root := range []string{filepath.Join(dir, "Mail"), filepath.Join(dir, "meta", "mailtrail"), logFile} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %04o: others may read it", p, fi.Mode().Perm())
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 10 {
		t.Errorf("only %d paths checked", checked)
	}
}

// TestSecurityTrustAdvice: a self-signed certificate is refused with its
// subject and fingerprint and the line that trusts it; with that line
// added as told, the sync works. STARTTLS works too, and a plaintext
// login to an address that is not loopback is warned about.
func TestSecurityTrustAdvice(t *testing.T) {
	d := testdovecot.Start(t, "alice:trust-pw-1")
	dir := t.TempDir()
	remote := fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepass = trust-pw-1\n", d.Host, d.TLSPort)
	cfg := secCfg(t, dir, remote)
	code, _, errs := runIn(t, dir, 0o022, "-c", cfg, "-o")
	if code != 1 {
		t.Fatalf("exit %d with an untrusted certificate, want 1\n%s", code, errs)
	}
	line := "cert_fingerprint = " + d.Fingerprint
	for _, want := range []string{"CN=localhost", d.Fingerprint, line} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
	cfg = secCfg(t, dir, remote+line+"\n")
	if code, out, errs := runIn(t, dir, 0o022, "-c", cfg, "-o"); code != 0 {
		t.Fatalf("with the advised line: exit %d\n%s\n%s", code, out, errs)
	}

	// STARTTLS on the plain port.
	cfg = secCfg(t, dir, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepass = trust-pw-1\nssl = no\nstarttls = yes\nsslcacertfile = %s\n",
		d.Host, d.Port, d.CAFile))
	if code, out, errs := runIn(t, dir, 0o022, "-c", cfg, "-o"); code != 0 || strings.Contains(errs, "TLS is off") {
		t.Fatalf("STARTTLS: exit %d\n%s\n%s", code, out, errs)
	}

	// Clear text to an address of this machine that is not loopback.
	ip := nonLoopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", ip, err)
	}
	defer ln.Close()
	go forward(ln, d.Addr())
	cfg = secCfg(t, dir, fmt.Sprintf("remotehost = %s\nremoteport = %d\nremoteuser = alice\nremotepass = trust-pw-1\nssl = no\nstarttls = no\n",
		ip, ln.Addr().(*net.TCPAddr).Port))
	code, out, errs := runIn(t, dir, 0o022, "-c", cfg, "-o")
	if code != 0 {
		t.Fatalf("clear text: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "WARNING: TLS is off") || !strings.Contains(errs, ip) {
		t.Errorf("no loud warning for a clear-text login to %s:\n%s", ip, errs)
	}
}

func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no IPv4 address besides loopback")
	return ""
}

func forward(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}
