package testdovecot

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartServesPlainAndTLS starts Dovecot and checks that both ports
// greet, that the implicit-TLS certificate verifies against CAFile, and
// that a user can log in.
func TestStartServesPlainAndTLS(t *testing.T) {
	s := Start(t, "alice:pw1", "bob")
	if s.Password("alice") != "pw1" || s.Password("bob") != DefaultPassword {
		t.Fatalf("passwords: alice %q bob %q", s.Password("alice"), s.Password("bob"))
	}

	conn, err := net.DialTimeout("tcp", s.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "* OK") || !strings.Contains(line, "STARTTLS") {
		t.Fatalf("plain greeting %q: want * OK with STARTTLS", line)
	}
	if _, err := conn.Write([]byte("a LOGIN alice pw1\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "a OK") {
		t.Fatalf("LOGIN answer %q", line)
	}

	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("CAFile holds no certificate")
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", s.TLSAddr(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("implicit TLS with CAFile: %v", err)
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if line, _ := bufio.NewReader(tc).ReadString('\n'); !strings.HasPrefix(line, "* OK") {
		t.Fatalf("TLS greeting %q", line)
	}
	if fi, err := os.Stat(s.Dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("server dir mode: %v %v", fi.Mode(), err)
	}
}

// TestCleanupStopsEverything: after the test that started it ends, the
// master is gone, the ports are closed and the directory is removed.
func TestCleanupStopsEverything(t *testing.T) {
	var s *Server
	t.Run("server", func(t *testing.T) {
		s = StartWith(t, Options{Separator: "."})
		if err := greets(s.Addr()); err != nil {
			t.Fatal(err)
		}
	})
	if s == nil || s.cmd == nil {
		t.Skip("the server did not start")
	}
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err == nil {
		t.Errorf("dovecot master %d still runs", s.cmd.Process.Pid)
	}
	for _, addr := range []string{s.Addr(), s.TLSAddr()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections", addr)
		}
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", s.Dir, err)
	}
}

// TestLaunchAndClose: the non-test API starts the same server and Close
// stops it and removes its directory.
func TestLaunchAndClose(t *testing.T) {
	s, err := Launch(Options{Users: []string{"bench"}})
	if errors.Is(err, ErrUnavailable) {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := greets(s.Addr()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	if uid, _ := s.MailOwner(); uid == 0 {
		t.Errorf("mail owner uid 0: want nobody")
	}
	s.Close()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", s.Addr())
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close: %v", s.Dir, err)
	}
}

// TestLaunchRefusesBadOptions with an error that is not ErrUnavailable.
func TestLaunchRefusesBadOptions(t *testing.T) {
	if _, err := exec.LookPath("dovecot"); err != nil || os.Getuid() != 0 {
		t.Skip("needs dovecot and root to get as far as the options")
	}
	for _, opts := range []Options{{Separator: ":"}, {Users: []string{"a/b"}}} {
		s, err := Launch(opts)
		if err == nil {
			s.Close()
			t.Fatalf("Launch(%+v) succeeded", opts)
		}
		if errors.Is(err, ErrUnavailable) {
			t.Errorf("Launch(%+v): %v: want an error that is not ErrUnavailable", opts, err)
		}
	}
}
