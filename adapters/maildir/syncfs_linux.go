package maildir

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs: Linux has syncfs(2), which since Linux 5.8 also reports the
// write-back errors of the file system since the descriptor was opened.
const haveSyncfs = true

// syncfs flushes the file system holding dir: every file written there,
// data and metadata, is on stable storage when it returns nil.
func syncfs(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
