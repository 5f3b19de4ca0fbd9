package main

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// machineCPU is the CPU time the whole machine has spent working since it
// started: every process (the tool, the server, the benchmark's own latency
// proxy) and the kernel, from the first line of /proc/stat (user, nice,
// system, irq, softirq, steal; not idle or iowait). The difference over a
// run, against the run's wall time and the number of cores, says whether
// the run was bound by the processors. Its unit is the kernel's clock tick
// (10 ms here): read it for runs of a tenth of a second or more.
func machineCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += v
	}
	// USER_HZ is 100 on every Linux architecture Go builds for.
	return time.Duration(ticks) * 10 * time.Millisecond, true
}
