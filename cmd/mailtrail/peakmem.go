package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"mailtrail/internal/heapgoal"
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

// peakHeapProfile writes two heap profiles, for MAILTRAIL_HEAPPROFILE
// (docs/PERFORMANCE.md); the returned function stops it:
//   - path, each time the heap in use, sampled every 50 ms, is larger than
//     ever: what the heap holds at its largest, garbage included;
//   - path + ".live", each time a collection finds more live memory than
//     any before it: what the process holds at once. The collector lets the
//     heap grow past that before the next collection (to twice it under
//     GOGC=100, a quarter past it under the heap goal once it is large),
//     so this is what decides the peak.
func peakHeapProfile(path string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	liveMax := make(chan struct{}, 1)
	var most uint64
	heapgoal.OnEachCollection(stop, func() {
		if live := heapgoal.Live(); live > most {
			most = live
			select {
			case liveMax <- struct{}{}:
			default:
			}
		}
	})
	write := func(path string) {
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	go func() {
		defer close(done)
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-liveMax:
				write(path + ".live")
				continue
			case <-tick.C:
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= peak {
				continue
			}
			peak = ms.HeapInuse
			write(path)
		}
	}()
	return func() { close(stop); <-done }
}
