package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// forgetCachedPages writes out and drops from the page cache the pages of
// the executable at path, so that the runs map it as an installed program
// that was not read lately is mapped: page by page as they fault it in.
// How the cache holds an executable changes the runs' peak RSS: after one
// sequential read of the whole file (a copy, a checksum), `mailtrail
// --help` peaked at 26.6 MB instead of 19.0 MB (docs/PERFORMANCE.md, "The
// executable's pages"). Only this file's clean pages go, and no privilege
// is needed; a failure leaves the cache as it was.
func forgetCachedPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
