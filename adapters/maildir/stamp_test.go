package maildir

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStampMarginCoversTheFileSystemClock checks, on the file system the
// tests run on, what ScanStamp's trust rests on: a change made after an
// instant S dates its directory later than S - stampMargin. (With no
// margin it fails: the kernel dates files from a clock that lags by up to
// a tick.)
func TestStampMarginCoversTheFileSystemClock(t *testing.T) {
	dir := t.TempDir()
	var worst time.Duration
	for i := range 400 {
		s := time.Now()
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Nanosecond() == 0 {
			t.Skipf("%s keeps whole seconds: stampMarginCoarse applies", dir)
		}
		worst = max(worst, s.Sub(fi.ModTime()))
		if i%50 == 0 {
			time.Sleep(time.Duration(i%7) * time.Millisecond) // land at other points of a tick
		}
	}
	t.Logf("clock tick %v, margin %v, a change dated at most %v before it was made", clockTick(), stampMargin, worst)
	if worst >= stampMargin {
		t.Fatalf("a change was dated %v before it was made, not less than the margin %v: a scan's stamp could miss it", worst, stampMargin)
	}
}

func TestMarginForIsThreeTicksWithinBounds(t *testing.T) {
	for _, c := range []struct{ tick, want time.Duration }{
		{500 * time.Microsecond, 2 * time.Millisecond},
		{time.Millisecond, 3 * time.Millisecond},
		{4 * time.Millisecond, 12 * time.Millisecond},
		{10 * time.Millisecond, 20 * time.Millisecond},
		{40 * time.Millisecond, 20 * time.Millisecond},
		{0, 2 * time.Millisecond},
	} {
		if got := marginFor(c.tick); got != c.want {
			t.Errorf("marginFor(%v) = %v, want %v", c.tick, got, c.want)
		}
	}
}
