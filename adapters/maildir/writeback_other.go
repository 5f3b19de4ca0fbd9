//go:build !linux

package maildir

// startWriteback does nothing where sync_file_range(2) is missing: each
// file's fsync then writes it (writeback_linux.go says what it is for).
func startWriteback(string) {}
