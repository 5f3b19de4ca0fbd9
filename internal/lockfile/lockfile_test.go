package lockfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSecondAcquireNamesHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	l, err := Acquire(p, "account A")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(p, "account A")
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("want HeldError with our pid, got %v", err)
	}
	if err.Error() != "account A is locked by process "+itoa(os.Getpid()) {
		t.Fatalf("message: %q", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(p, "account A")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

func TestStalePIDFileIsTakenOver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	// A lock file left by a dead process: its PID is there but no flock.
	if err := os.WriteFile(p, []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(p, "account A")
	if err != nil {
		t.Fatalf("stale lock not taken over: %v", err)
	}
	l.Release()
}

func itoa(n int) string {
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}
