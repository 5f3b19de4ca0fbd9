package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// OfflineIMAP flags that mailtrail does not carry out say so, and why,
// instead of kong's "unknown flag" (docs/COMPATIBILITY.md).
func (g *Globals) unsupported() error {
	switch {
	case g.DeleteFolder != "":
		return fmt.Errorf("--delete-folder %s: not supported: mailtrail never deletes a folder on one side only (a server folder deleted alone would be "+
			"created again from the local copy at the next sync, as a folder that vanished is never mirrored as deletions); "+
			"to remove a folder, delete it on the server (with a mail client) and its local Maildir folder before the next sync, "+
			"and mailtrail forgets it; to stop syncing it, leave it out with folderfilter", g.DeleteFolder)
	case g.MigrateFMD5:
		return errors.New("--migrate-fmd5-using-nametrans: not supported: it converts Maildirs written by OfflineIMAP before 6.3.5 (2013); " +
			"run `offlineimap --migrate-fmd5-using-nametrans` once before switching to mailtrail (files whose FMD5 is not their folder's are taken for new messages)")
	}
	return nil
}

// startProfile is -P DIR, OfflineIMAP's profile mode: a CPU profile of
// the run in DIR/cpu.pprof and the heap at its end in DIR/heap.pprof, for
// `go tool pprof` (OfflineIMAP writes Python profiles, one per thread).
// DIR is created when missing. stop writes the heap profile and ends the
// CPU profile.
func startProfile(dir string) (stop func(), err error) {
	dir = expandHome(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("-P %s: %w", dir, err)
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		return nil, fmt.Errorf("-P %s: %w", dir, err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("-P %s: %w (is MAILTRAIL_CPUPROFILE set too?)", dir, err)
	}
	fmt.Fprintf(os.Stderr, "mailtrail: profile mode: writing Go profiles to %s (cpu.pprof, heap.pprof; read them with go tool pprof)\n", dir)
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		heap, err := os.Create(filepath.Join(dir, "heap.pprof"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: -P %s: %v\n", dir, err)
			return
		}
		defer heap.Close()
		runtime.GC()
		if err := pprof.WriteHeapProfile(heap); err != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: -P %s: %v\n", dir, err)
		}
	}, nil
}
