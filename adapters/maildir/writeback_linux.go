package maildir

import "golang.org/x/sys/unix"

// startWriteback asks the kernel to start writing path's data to the disk
// now, without waiting for it (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE). It makes nothing durable: the fsync that
// follows does, and reports any error of the write. Its use is to let a
// small batch's files be written to the disk together, so that their
// fsyncs find the data written and their block allocations in one
// committed journal transaction instead of committing one each (ext4: 14
// files of 13 KB fsynced by two workers 4.3 ms, with their write-back
// started first 1.6 ms). An error here is left to that fsync.
func startWriteback(path string) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	_ = unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	unix.Close(fd)
}
