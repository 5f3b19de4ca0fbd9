package main_test

// Connecting fails: a network that drops packets silently at connect
// time (a firewall that drops rather than refuses, a server whose host is
// down behind a router), where the TCP handshake never completes; a port
// nothing listens on; TLS asked of a plain port and the other way round.
// The drop is reproduced on loopback without root or a firewall: a
// listening socket whose accept queue is full and is never accepted from
// makes the kernel drop further SYNs, so the client's connect waits as it
// would behind a dropping firewall.

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtrail/adapters/imap"
)

// fltBlackhole listens on a loopback port that never completes a TCP
// handshake: a backlog of 0, filled by connections nobody accepts, so the
// kernel drops every later SYN. It returns the port.
func fltBlackhole(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	addr := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	fltMust(t, syscall.Bind(fd, addr))
	fltMust(t, syscall.Listen(fd, 0))
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	// Fill the accept queue (a backlog of 0 holds one connection; a few
	// more make sure): non-blocking connects, left pending or completed,
	// never accepted.
	for i := 0; i < 4; i++ {
		c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Close(c) })
		if err := syscall.Connect(c, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil && err != syscall.EINPROGRESS {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	return port
}

// TestConnectFails: a server whose SYNs are dropped, a port nothing
// listens on, ssl = no against a port that waits for TLS (silent), and
// ssl = yes against a plain port (it greets in plain text). With
// socktimeout = 3 the silent ones end after about 3 s (not after the
// kernel's two minutes of SYN retries, not never); each exits 1 with an
// error that names the account and the address and says what to check,
// and none changes the Maildir or shows the password.
func TestConnectFails(t *testing.T) {
	refusedPort := func(t *testing.T) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return port
	}
	// A port that accepts and says nothing, as a server's TLS port does
	// until the client starts TLS.
	silentPort := func(t *testing.T) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		return l.Addr().(*net.TCPAddr).Port
	}
	// imapmemserver's plain port: it greets in plain text.
	plainPort := func(t *testing.T) int {
		_, port := fltSplitHostPort(t, fltStartMem(t, nil))
		return port
	}
	for _, c := range []struct {
		name   string
		port   func(t *testing.T) int
		ssl    bool
		advice []string
	}{
		{"dropped", fltBlackhole, false, []string{"i/o timeout", "no answer from 127.0.0.1:", "within 3s", "check remotehost, remoteport", "raise socktimeout"}},
		{"refused", refusedPort, false, []string{"connection refused", "check remoteport, and that the IMAP server runs"}},
		{"plain-to-tls-port", silentPort, false, []string{"greeting", "timed out after 3s", "set ssl = yes"}},
		{"tls-to-plain-port", plainPort, true, []string{"TLS handshake", "does not look like a TLS handshake", "usually 993, or set ssl = no with starttls = yes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := c.port(t)
			s := server{host: "127.0.0.1", port: port, user: "alice", pass: "secret-password", tls: imap.TLSNone}
			su := newSetup(t, s, "")
			cfg, err := os.ReadFile(su.config)
			if err != nil {
				t.Fatal(err)
			}
			cfg = fltWithSockTimeout(t, cfg, 3*time.Second)
			if c.ssl {
				cfg = bytes.Replace(cfg, []byte("ssl = no\n"), []byte("ssl = yes\nsslcacertfile = OS-DEFAULT\n"), 1)
			}
			fltMust(t, os.WriteFile(su.config, cfg, 0o600))
			fltMust(t, os.MkdirAll(filepath.Join(su.maildir, "INBOX", "cur"), 0o700))
			kept := filepath.Join(su.maildir, "INBOX", "cur", "1764330000.M1P1.host:2,S")
			fltMust(t, os.WriteFile(kept, []byte("Subject: kept\n\nkept\n"), 0o600))

			r := fltRun(t, nil, time.Minute, fltSyncArgs(su)...)
			t.Logf("sync: exit %d after %s\n%s%s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1", r.code)
			}
			if r.elapsed > 20*time.Second {
				t.Errorf("took %s to give up, with socktimeout = 3", r.elapsed)
			}
			out := r.output()
			for _, want := range append([]string{"account Test:", "127.0.0.1:" + strconv.Itoa(port) + ": "}, c.advice...) {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(out, "secret-password") {
				t.Errorf("the password is in the output")
			}
			entries, err := os.ReadDir(filepath.Join(su.maildir, "INBOX", "cur"))
			if err != nil || len(entries) != 1 || entries[0].Name() != filepath.Base(kept) {
				t.Errorf("the Maildir changed: %v %v", entries, err)
			}
		})
	}
}
