//go:build !linux

package main

import "time"

// machineCPU is not measured where /proc/stat is not at hand (see
// machinecpu_linux.go).
func machineCPU() (time.Duration, bool) { return 0, false }
