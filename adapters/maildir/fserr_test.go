package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

// TestFileSystemErrorsSayWhatToDo: a full disk, a read-only file system
// and a refused permission carry what to do; the cause stays testable with
// errors.Is, and advice is never added twice.
func TestFileSystemErrorsSayWhatToDo(t *testing.T) {
	for errno, want := range map[syscall.Errno]string{
		syscall.ENOSPC: "free space on it, then sync again",
		syscall.EDQUOT: "full or over quota",
		syscall.EROFS:  "remount it read-write",
		syscall.EACCES: "permission denied: make the Maildir's directories and files writable",
	} {
		err := withAdvice(fmt.Errorf("write x: %w", &fs.PathError{Op: "write", Path: "/m/x", Err: errno}))
		if !strings.Contains(err.Error(), want) || !errors.Is(err, errno) {
			t.Errorf("%v: %q lacks %q or no longer wraps the errno", errno, err, want)
		}
		if again := withAdvice(fmt.Errorf("outer: %w", err)); strings.Count(again.Error(), want) != 1 {
			t.Errorf("advice added twice: %q", again)
		}
	}
	plain := errors.New("something else")
	if withAdvice(plain) != plain || withAdvice(nil) != nil {
		t.Error("withAdvice changed an error it has no advice for")
	}
}
