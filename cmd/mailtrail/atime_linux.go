package main

import (
	"os"
	"syscall"
	"time"
)

// atime is a file's last access time.
func atime(path string) (time.Time, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(sys.Atim.Sec, sys.Atim.Nsec), true
}
