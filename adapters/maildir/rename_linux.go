package maildir

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames from to to, failing with an error that wraps
// fs.ErrExist when to exists: renameat2(RENAME_NOREPLACE), one system call
// and no window between the check and the rename. On a file system
// without it, a check then a rename (noReplaceFallback).
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrExist}
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		return noReplaceFallback(from, to)
	}
	return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
}
