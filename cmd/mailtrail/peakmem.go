package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
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
//     heap grow to twice that before the next collection (GOGC=100), so
//     this is what decides the peak.
func peakHeapProfile(path string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	liveMax := make(chan struct{}, 1)
	afterEachCollection(stop, liveMax)
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

// afterEachCollection signals liveMax (without blocking) after each garbage
// collection that found more live heap than any before, until stop is
// closed: a finalizer on an object that is garbage at every collection
// runs after it, and sets itself again on a new one.
func afterEachCollection(stop <-chan struct{}, liveMax chan<- struct{}) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var most uint64
	type sentinel struct{ _ [16]byte }
	var arm func(*sentinel)
	arm = func(*sentinel) {
		select {
		case <-stop:
			return
		default:
		}
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > most {
			most = live
			select {
			case liveMax <- struct{}{}:
			default:
			}
		}
		runtime.SetFinalizer(&sentinel{}, arm)
	}
	runtime.SetFinalizer(&sentinel{}, arm)
}
