// Package lockfile gives one process at a time exclusive use of an account.
//
// The lock is an flock(2) on a file that also holds the owner's PID, so a
// lock left by a dead process is free again by construction (the kernel
// drops flocks when their process dies); the PID only serves to name the
// holder in the refusal message.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// HeldError says who holds a lock.
type HeldError struct {
	What string
	PID  int
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is locked by process %d", e.What, e.PID)
	}
	return fmt.Sprintf("%s is locked by another process", e.What)
}

// Acquire takes the lock file at path without waiting. what names the
// locked thing in the error ("account Personal").
func Acquire(path, what string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory for %s: %w", what, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &HeldError{What: what, PID: pid}
		}
		return nil, fmt.Errorf("lock %s (%s): %w", what, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release frees the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close()
	l.f = nil
	return err
}
