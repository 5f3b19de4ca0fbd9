package heapgoal

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimitIsTheFloorOrAQuarterPastLiveAndOverhead(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct{ live, overhead, want uint64 }{
		{0, 0, 40 * mib},
		{20 * mib, 4 * mib, 40 * mib},
		{28 * mib, 4 * mib, 40 * mib},
		{32 * mib, 4 * mib, 44 * mib},
		{40 * mib, 0, 50 * mib},
		{400 * mib, 20 * mib, 520 * mib},
	} {
		if got := Limit(tt.live, tt.overhead, 40*mib, 0.25); got != tt.want {
			t.Errorf("Limit(%d MiB live, %d MiB overhead) = %d MiB, want %d MiB", tt.live/mib, tt.overhead/mib, got/mib, tt.want/mib)
		}
	}
}

func TestOverheadIsSomeButNotTheHeap(t *testing.T) {
	held := make([][]byte, 32)
	for i := range held {
		held[i] = make([]byte, 1<<20)
	}
	runtime.GC()
	if o := Overhead(); o == 0 || o > 16<<20 {
		t.Errorf("overhead %d bytes with 32 MiB of objects: want the runtime's own few MiB", o)
	}
	runtime.KeepAlive(held)
}

// waitLimit waits for the finalizer goroutine to set the limit ok says
// is right, collecting to make it run.
func waitLimit(t *testing.T, ok func(int64) bool) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		l := debug.SetMemoryLimit(-1)
		if ok(l) {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("memory limit stayed %d", l)
		}
	}
}

func TestFollowRaisesTheLimitWithWhatIsLiveAndRestoresIt(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set: Follow leaves it alone")
	}
	if _, set := os.LookupEnv("GOGC"); set {
		t.Skip("GOGC is set: Follow leaves the pacing alone")
	}
	const floor = 8 << 20
	before := debug.SetMemoryLimit(-1)
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	stop := make(chan struct{})
	if !Follow(stop, floor, 0.25) {
		t.Fatal("Follow did nothing without GOMEMLIMIT")
	}
	// The limit alone paces the collector.
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Errorf("GOGC percentage %d while following, want -1 (off: the limit paces the collector)", p)
	}
	// Little is live: the floor.
	waitLimit(t, func(l int64) bool { return l == floor })
	// 64 MiB live: a quarter past it, and never below it.
	held := make([][]byte, 64)
	for i := range held {
		held[i] = make([]byte, 1<<20)
		held[i][0] = 1
	}
	// The limit follows at each collection's end, so a limit taken while
	// the slices were being made (less live) may be read first: wait for
	// one a quarter past the whole, then check it is no more than that
	// and the runtime's own overhead.
	l := waitLimit(t, func(l int64) bool { return l >= 64<<20+64<<20/4 })
	if l > 64<<20+64<<20/4+16<<20 {
		t.Errorf("limit %d MiB with 64 MiB live, want a quarter past what is live", l>>20)
	}
	runtime.KeepAlive(held)
	// Garbage now: back to the floor.
	waitLimit(t, func(l int64) bool { return l == floor })
	close(stop)
	waitLimit(t, func(l int64) bool { return l == before })
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GOGC percentage %d after stop, want 100 as it was", p)
	}
}

func TestFollowLeavesAGivenGOGCAlone(t *testing.T) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		t.Skip("GOMEMLIMIT is set: Follow leaves it alone")
	}
	t.Setenv("GOGC", "150")
	percent := debug.SetGCPercent(150)
	defer debug.SetGCPercent(percent)
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	stop := make(chan struct{})
	defer close(stop)
	if !Follow(stop, 8<<20, 0.25) {
		t.Fatal("Follow did nothing without GOMEMLIMIT")
	}
	if p := debug.SetGCPercent(150); p != 150 {
		t.Errorf("GOGC percentage %d with GOGC=150 given, want it left at 150", p)
	}
}

func TestFollowLeavesAGivenGOMEMLIMITAlone(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	stop := make(chan struct{})
	defer close(stop)
	if Follow(stop, 8<<20, 0.25) {
		t.Fatal("Follow set a limit although GOMEMLIMIT is given")
	}
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Errorf("limit %d, want %d as it was", l, before)
	}
}
