package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestDiskUsageCountsWhatFilesTake(t *testing.T) {
	dir := t.TempDir()
	b := make([]byte, 1<<20)
	rand.Read(b)
	if err := os.MkdirAll(filepath.Join(dir, "a", "cur"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a/cur/1", "a/cur/2"} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n < 2<<20 || n > 3<<20 {
		t.Fatalf("two 1 MiB files take %d bytes, want 2–3 MiB", n)
	}
}

func TestCheckSpaceAddsUpNeedsOnOneFileSystem(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(a, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	if _, err := checkSpace([]spaceNeed{{a, avail / 4}, {b, avail / 4}}); err != nil {
		t.Fatalf("half the free space: %v", err)
	}
	_, err := checkSpace([]spaceNeed{{a, avail/2 + avail/8}, {b, avail/2 + avail/8}})
	if err == nil || !strings.Contains(err.Error(), "not enough free space") || !strings.Contains(err.Error(), a) || !strings.Contains(err.Error(), "--work") {
		t.Fatalf("each need fits, both together do not: %v", err)
	}
	if _, err := checkSpace([]spaceNeed{{filepath.Join(a, "missing"), 1}}); err == nil {
		t.Fatal("a directory that does not exist: no error")
	}
}

// TestCheckSpaceWarnsWhenNearlyFull: needs that fit but would leave the
// file system more than fullWarnAt in use give one warning naming it and
// the share; needs that leave it well under give none.
func TestCheckSpaceWarnsWhenNearlyFull(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(a, &st); err != nil {
		t.Fatal(err)
	}
	used := int64(st.Blocks-st.Bfree) * st.Bsize
	total := used + int64(st.Bavail)*st.Bsize
	room := int64(fullWarnAt*float64(total)) - used // what may be written before the warning
	if room < 2<<20 {
		t.Skipf("the file system of %s is already %.0f%% full", a, 100*float64(used)/float64(total))
	}
	if w, err := checkSpace([]spaceNeed{{a, room / 4}, {b, room / 4}}); err != nil || len(w) != 0 {
		t.Fatalf("half the room before the warning: %v, %q; want no warning", err, w)
	}
	free := total - used
	w, err := checkSpace([]spaceNeed{{a, room/2 + (free-room)/4}, {b, room/2 + (free-room)/4}})
	if err != nil || len(w) != 1 || !strings.Contains(w[0], a) || !strings.Contains(w[0], "full by the last run") {
		t.Fatalf("needs past the warning's share, within the free space: %v, %q; want one warning naming %s", err, w, a)
	}
}
