package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// diskUsage is what the files under dir take on disk (allocated blocks,
// not their sizes: 100,000 small messages take 400 MB in 4 KiB blocks).
func diskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	return n, err
}

// spaceNeed is one directory the benchmark fills, with how much.
type spaceNeed struct {
	dir   string
	bytes int64
}

// checkSpace fails, before the first run, when a file system has less
// free space than the benchmark will write to it: every round keeps each
// tool's server mailbox and Maildir (a copy of the corpus each) until the
// end, and a file system that fills up mid-run makes Dovecot answer
// "Internal error" instead. Needs on the same file system add up.
func checkSpace(needs []spaceNeed) error {
	type fsNeed struct {
		dirs  []string
		bytes int64
		avail int64
	}
	byDev := map[uint64]*fsNeed{}
	var order []uint64
	for _, n := range needs {
		info, err := os.Stat(n.dir)
		if err != nil {
			return err
		}
		dev := uint64(info.Sys().(*syscall.Stat_t).Dev)
		f := byDev[dev]
		if f == nil {
			var st unix.Statfs_t
			if err := unix.Statfs(n.dir, &st); err != nil {
				return fmt.Errorf("free space of %s: %w", n.dir, err)
			}
			f = &fsNeed{avail: int64(st.Bavail) * st.Bsize}
			byDev[dev] = f
			order = append(order, dev)
		}
		f.dirs = append(f.dirs, n.dir)
		f.bytes += n.bytes
	}
	for _, dev := range order {
		if f := byDev[dev]; f.bytes > f.avail {
			return fmt.Errorf("not enough free space for the runs in %v: they write about %s there and %s is free; "+
				"free some, or use fewer --rounds or --tools, or put the work elsewhere (--work DIR for the Maildirs, TMPDIR for the server's mail)",
				f.dirs, gib(f.bytes), gib(f.avail))
		}
	}
	return nil
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
