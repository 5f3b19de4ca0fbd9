//go:build !linux

package maildir

import (
	"os"
	"time"
)

// newFile is a message file being written into tmp/: an *os.File here
// (newfile_linux.go says why Linux uses a bare descriptor).
type newFile struct{ *os.File }

// datedOnClose reports whether newFile.close sets the file's date: here
// Commit sets it by path.
const datedOnClose = false

// createNew creates path for writing; it fails with an error wrapping
// fs.ErrExist when path exists.
func createNew(path string) (*newFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, err
	}
	return &newFile{f}, nil
}

// close closes the file; the date is left to Commit.
func (f *newFile) close(time.Time, bool) error { return f.File.Close() }
