package maildir

import (
	"time"

	"golang.org/x/sys/unix"
)

// clockTick is the resolution of the clock the kernel dates files with
// (CLOCK_REALTIME_COARSE: one tick); 10 ms, the longest usual tick, when
// it cannot be read.
func clockTick() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_REALTIME_COARSE, &ts); err != nil || ts.Nano() <= 0 {
		return 10 * time.Millisecond
	}
	return time.Duration(ts.Nano())
}
