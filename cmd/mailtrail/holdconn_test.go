package main_test

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refreshFor runs mailtrail with autorefresh for a while, stops it with
// SIGINT and returns its stderr.
func refreshFor(t *testing.T, d time.Duration, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
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
	return errb.String()
}

// TestHoldConnectionOpen against a real Dovecot: with holdconnectionopen
// and autorefresh, the syncs after the first use the connection the first
// one opened (one login in all), which keepalive NOOPs while waiting and
// which is logged out at the end; without it, every sync connects again.
func TestHoldConnectionOpen(t *testing.T) {
	s, _ := plainDovecot(t)
	seedSmall(t, s, map[string]int{"INBOX": 2})
	su := newSetup(t, s, "holdconnectionopen = yes\nkeepalive = 1")
	args := []string{"-c", su.config, "-u", "basic", "-d", "imap", "-k", "Account Test:autorefresh=0.03"} // 1.8 s
	errs := refreshFor(t, 4500*time.Millisecond, args...)
	syncs := strings.Count(errs, `command="LIST \"\" \"*\" RETURN (STATUS)`)
	if syncs < 2 {
		t.Fatalf("%d syncs in 4.5 s with autorefresh 1.8 s:\n%s", syncs, errs)
	}
	if n := strings.Count(errs, "imap connected"); n != 1 {
		t.Errorf("holdconnectionopen: %d logins for %d syncs, want 1:\n%s", n, syncs, errs)
	}
	if n := strings.Count(errs, "command=NOOP"); n < 2 {
		t.Errorf("keepalive = 1: %d NOOPs while waiting, want at least 2:\n%s", n, errs)
	}
	if !strings.Contains(errs, "command=LOGOUT") {
		t.Errorf("the held connection was not logged out at the end:\n%s", errs)
	}
	if strings.Index(errs, "command=LOGOUT") < strings.LastIndex(errs, `RETURN (STATUS)`) {
		t.Errorf("a sync logged out although the connection is held for the next:\n%s", errs)
	}
	if strings.Contains(errs, s.pass) {
		t.Error("the password is in the log")
	}

	// Without it: a login per sync, no keepalive.
	su = newSetup(t, s, "keepalive = 1")
	errs = refreshFor(t, 4500*time.Millisecond, "-c", su.config, "-u", "basic", "-d", "imap", "-k", "Account Test:autorefresh=0.03")
	syncs = strings.Count(errs, `command="LIST \"\" \"*\" RETURN (STATUS)`)
	if n := strings.Count(errs, "imap connected"); syncs < 2 || n != syncs {
		t.Errorf("without holdconnectionopen: %d logins for %d syncs, want one each:\n%s", n, syncs, errs)
	}
	if strings.Contains(errs, "command=NOOP") {
		t.Errorf("keepalive without held connections sent a NOOP:\n%s", errs)
	}
}
