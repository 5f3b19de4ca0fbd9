package maildir

import (
	"errors"
	"io/fs"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newFile is a message file being written into tmp/. On Linux it is a
// bare descriptor: an *os.File costs four fcntl calls and a refused
// epoll registration per file (a regular file cannot be polled), which a
// cold sync of thousands of messages pays thousands of times; and the
// date is set through the descriptor (futimens) instead of by looking
// the path up again at commit.
type newFile struct {
	fd   int
	path string
}

// datedOnClose reports whether newFile.close sets the file's date: then
// Commit does not.
const datedOnClose = true

// createNew creates path for writing; it fails with an error wrapping
// fs.ErrExist when path exists (unix.Errno answers errors.Is for it).
func createNew(path string) (*newFile, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, fileMode)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &newFile{fd: fd, path: path}, nil
	}
}

func (f *newFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(f.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "write", Path: f.path, Err: err}
		}
		if m == 0 {
			return n, &fs.PathError{Op: "write", Path: f.path, Err: errors.New("wrote nothing")}
		}
		n += m
	}
	return n, nil
}

// close sets the file's modification and access times to date (when
// setDate) and closes it. The descriptor is closed even when setting
// the date fails.
func (f *newFile) close(date time.Time, setDate bool) error {
	var err error
	if setDate {
		ts := [2]unix.Timespec{unix.NsecToTimespec(date.UnixNano()), unix.NsecToTimespec(date.UnixNano())}
		// utimensat(fd, NULL, times, 0) is futimens(fd, times).
		if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(f.fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0); e != 0 {
			err = &fs.PathError{Op: "set date of", Path: f.path, Err: e}
		}
	}
	if cerr := unix.Close(f.fd); cerr != nil && err == nil {
		err = &fs.PathError{Op: "close", Path: f.path, Err: cerr}
	}
	f.fd = -1
	return err
}
