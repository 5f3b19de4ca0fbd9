package maildir

import (
	"errors"
	"syscall"
)

// adviceError is a file-system error with what the user must do about it.
type adviceError struct {
	err    error
	advice string
}

func (e *adviceError) Error() string { return e.err.Error() + " (" + e.advice + ")" }
func (e *adviceError) Unwrap() error { return e.err }

// withAdvice adds what to do to the file-system errors a user has to act
// on: a full disk, a read-only file system, a permission refused. Other
// errors, and errors that already carry advice, come back unchanged.
func withAdvice(err error) error {
	if err == nil {
		return nil
	}
	var ae *adviceError
	if errors.As(err, &ae) {
		return err
	}
	var advice string
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		advice = "the file system holding the Maildir is full or over quota: free space on it, then sync again"
	case errors.Is(err, syscall.EROFS):
		advice = "the Maildir is on a read-only file system: remount it read-write (or set readonly = yes " +
			"on the local repository to sync one way), then sync again"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		advice = "permission denied: make the Maildir's directories and files writable by this user, then sync again"
	default:
		return err
	}
	return &adviceError{err: err, advice: advice}
}
