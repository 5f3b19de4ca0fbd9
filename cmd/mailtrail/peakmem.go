package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// peakRSSKiB is this process's peak resident memory (VmHWM), or 0 where
// /proc is not available. Unlike getrusage, it does not count the memory
// of the parent that forked us before exec.
func peakRSSKiB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
