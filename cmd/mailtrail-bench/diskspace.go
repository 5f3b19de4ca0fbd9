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

// fullWarnAt is the share of a file system in use past which checkSpace
// warns: creating files slows down on a nearly full file system (ext4's
// block allocator searches longer), for every tool, but not by the same
// amount for each, so such runs compare neither with each other nor with
// runs made on emptier file systems. Measured on the journaled ext4 of
// docs/PERFORMANCE.md: peers-bench's cold sync of 102,000 messages took
// mailtrail 43.7 s with the file system filled by earlier runs' kept
// Maildirs (the next run stopped with ENOSPC), 19.6 s on the emptied one.
const fullWarnAt = 0.8

// checkSpace fails, before the first run, when a file system has less
// free space than the benchmark will write to it: every round keeps each
// tool's server mailbox and Maildir (a copy of the corpus each) until the
// end, and a file system that fills up mid-run makes Dovecot answer
// "Internal error" instead. Needs on the same file system add up. When
// they fit but would leave a file system more than fullWarnAt in use, it
// returns a warning saying so (one per file system).
func checkSpace(needs []spaceNeed) (warnings []string, err error) {
	type fsNeed struct {
		dirs  []string
		bytes int64
		avail int64
		used  int64 // in use now, by everything
		total int64 // what non-root users could have: used + avail
	}
	byDev := map[uint64]*fsNeed{}
	var order []uint64
	for _, n := range needs {
		info, err := os.Stat(n.dir)
		if err != nil {
			return nil, err
		}
		dev := uint64(info.Sys().(*syscall.Stat_t).Dev)
		f := byDev[dev]
		if f == nil {
			var st unix.Statfs_t
			if err := unix.Statfs(n.dir, &st); err != nil {
				return nil, fmt.Errorf("free space of %s: %w", n.dir, err)
			}
			f = &fsNeed{avail: int64(st.Bavail) * int64(st.Bsize), used: int64(st.Blocks-st.Bfree) * int64(st.Bsize)}
			f.total = f.used + f.avail
			byDev[dev] = f
			order = append(order, dev)
		}
		f.dirs = append(f.dirs, n.dir)
		f.bytes += n.bytes
	}
	for _, dev := range order {
		f := byDev[dev]
		if f.bytes > f.avail {
			return nil, fmt.Errorf("not enough free space for the runs in %v: they write about %s there and %s is free; "+
				"free some, or use fewer --rounds or --tools, or put the work elsewhere (--work DIR for the Maildirs, TMPDIR for the server's mail)",
				f.dirs, gib(f.bytes), gib(f.avail))
		}
		if f.total > 0 && float64(f.used+f.bytes) > fullWarnAt*float64(f.total) {
			warnings = append(warnings, fmt.Sprintf("the file system of %v will be %.0f%% full by the last run (%s in use, the runs write about %s, %s in all): "+
				"creating files slows down on a nearly full file system, so these figures will not compare with runs made on an emptier one; "+
				"free some space, or use fewer --rounds or --tools, to stay under %.0f%%",
				f.dirs, 100*float64(f.used+f.bytes)/float64(f.total), gib(f.used), gib(f.bytes), gib(f.total), 100*fullWarnAt))
		}
	}
	return warnings, nil
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
