package main_test

// The disk holding the journal fills up during a sync.

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtrail/internal/sample"
)

// TestJournalDiskFull: the journal's directory is on a small tmpfs that
// fills up during a first sync of 405 messages: at 64 KiB when Pebble
// writes its log (a commit fails), at 256 KiB when it flushes a memtable
// into a table (a background write fails, which Pebble would retry for
// ever while every commit stalled: the sync hung with its account locked).
// Either way the sync ends at once with exit status 1 and an error naming
// the journal, the full disk and what to do; the server is untouched. A
// second sync before any space is freed fails the same way, and does not
// hang. Once the tmpfs is made larger, one sync converges: every message
// once on each side, nothing left to do.
func TestJournalDiskFull(t *testing.T) {
	fltNeedRoot(t)
	for name, start := range fltLocalServers() {
		for _, size := range []string{"64k", "256k"} {
			t.Run(name+"/"+size, func(t *testing.T) {
				s := start(t)(t)
				su := fltSetupTimeout(t, s)
				meta := filepath.Join(su.dir, "meta")
				fltMountTmpfs(t, meta, size)
				fltPut(t, s, "INBOX", sample.Messages("INBOX", 400, 3))
				fltPut(t, s, "Small", sample.Messages("Small", 5, 9))
				before := fltCapture(t, s.dial(t), su.local(t))

				for i, when := range []string{"first", "again, no space freed"} {
					r := fltRun(t, nil, time.Minute, fltSyncArgs(su)...)
					t.Logf("sync %d (%s) with the journal's disk full: exit %d\n%s%s", i+1, when, r.code, r.stdout, r.stderr)
					if r.code != 1 {
						t.Fatalf("sync (%s) with the journal's disk full exited %d, want 1", when, r.code)
					}
					out := r.output()
					for _, want := range []string{"journal " + meta, "the disk holding it is full", "no space left on device", "free space on that disk", "then sync again"} {
						if !strings.Contains(out, want) {
							t.Errorf("sync (%s): output lacks %q", when, want)
						}
					}
				}
				during := fltCapture(t, s.dial(t), su.local(t))
				if d := fltDiff(fltState{remote: before.remote}, fltState{remote: during.remote}); len(d) > 0 {
					t.Errorf("the server changed:\n  %s", strings.Join(d, "\n  "))
				}

				fltConvergesOnceFreed(t, s, su, func() { fltRemount(t, meta, "size=64m") }, before.remote, 405)
			})
		}
	}
}
