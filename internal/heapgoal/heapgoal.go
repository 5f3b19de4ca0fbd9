// Package heapgoal sets how far the Go heap may grow past what is live
// before the collector runs: the process's memory policy.
//
// Go's default (GOGC=100) lets the heap grow to twice the live heap. For a
// sync that holds a large folder's state at once (its scan, status rows and
// listing: about 330 bytes a message), that doubling is most of the peak:
// 32 MB live became a 60–67 MB heap at 100,000 messages. Follow keeps the
// heap within a fraction of what the last collection found live, never
// below a floor under which the collector does not run at all: it sets the
// runtime's soft memory limit after each collection to max(floor, live ×
// (1 + headroom) + the runtime's own overhead), and turns the GOGC pacing
// off, so that the limit alone paces the collector. A run whose memory
// stays under the floor never collects (a short-lived process's garbage
// goes when it exits): with Go's default pacing beside the limit, a cold
// sync of 5,000 messages collected 19 times and a sync of 1% of them 6
// times; with the limit alone, 3 times and not at all (docs/PERFORMANCE.md
// has the time it saves). The
// overhead (stacks, metadata, unused parts of spans: what the limit counts
// beside the heap's objects) must be in it: without it, a live heap of
// 60 MB had a few MB to grow in, and the collector ran ten times as often
// as Go's default pacing would. When live memory grows past the limit
// before the next collection, the collector runs sooner and the next
// collection raises the limit again, so a growing heap is paced like
// GOGC=headroom×100, never stopped. The limit is soft: nothing fails for
// it, the collector only works harder.
//
// Invariants: the limit is never set below floor, nor below the live heap
// and overhead the last collection found; a GOMEMLIMIT given in the
// environment is the user's choice and Follow leaves it alone, and so is a
// GOGC given there (the limit then paces the collector beside it).
package heapgoal

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// OnEachCollection calls fn, on the runtime's finalizer goroutine, after
// each garbage collection until stop is closed: a finalizer on an object
// that is garbage at every collection runs after it, and sets itself again
// on a new one. fn must be quick and must not block.
func OnEachCollection(stop <-chan struct{}, fn func()) {
	type sentinel struct{ _ [16]byte } // 16 bytes: not a tiny allocation
	var arm func(*sentinel)
	arm = func(*sentinel) {
		select {
		case <-stop:
			return
		default:
		}
		fn()
		runtime.SetFinalizer(&sentinel{}, arm)
	}
	runtime.SetFinalizer(&sentinel{}, arm)
}

// Live is the live heap the last collection found, in bytes.
func Live() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// overheadNames are the metrics Overhead reads.
var overheadNames = []string{
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
}

// Overhead is the runtime's memory that counts against the memory limit
// beside the heap's objects and that no collection frees, in bytes: unused
// parts of spans in use, stacks, metadata and the rest (free spans, which
// the runtime returns to the system when near the limit, and memory
// already returned are left out).
func Overhead() uint64 {
	s := make([]metrics.Sample, len(overheadNames))
	for i, n := range overheadNames {
		s[i].Name = n
	}
	metrics.Read(s)
	total, released, objects, free := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()
	if released+objects+free >= total {
		return 0
	}
	return total - released - objects - free
}

// Limit is what Follow sets the memory limit to when live bytes are live
// and the runtime's overhead (Overhead) is overhead: the heap may grow
// headroom × live past what is live, on top of the overhead, and the limit
// is never under floor.
func Limit(live, overhead, floor uint64, headroom float64) uint64 {
	return max(floor, live+overhead+uint64(float64(live)*headroom))
}

// Follow keeps the soft memory limit at Limit(Live(), Overhead(), floor,
// headroom) after every collection until stop is closed, with the GOGC
// pacing off unless the environment sets GOGC, and then gives the runtime
// back the limit and the GOGC percentage it had. It does nothing, and
// returns false, when the environment sets GOMEMLIMIT.
func Follow(stop <-chan struct{}, floor uint64, headroom float64) bool {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return false
	}
	var mu sync.Mutex
	stopped := false
	before := debug.SetMemoryLimit(int64(Limit(Live(), Overhead(), floor, headroom)))
	percent, paced := 0, false
	if _, set := os.LookupEnv("GOGC"); !set {
		percent, paced = debug.SetGCPercent(-1), true
	}
	OnEachCollection(stop, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			debug.SetMemoryLimit(int64(Limit(Live(), Overhead(), floor, headroom)))
		}
	})
	go func() {
		<-stop
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if paced {
			debug.SetGCPercent(percent)
		}
		debug.SetMemoryLimit(before)
	}()
	return true
}
