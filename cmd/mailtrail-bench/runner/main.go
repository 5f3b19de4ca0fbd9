// Command runner runs one command and writes what wait4 measured of it to
// a file: mailtrail-bench's measuring instrument.
//
//	runner OUTFILE COMMAND [ARG...]
//
// OUTFILE gets one line: wall_ns user_ns sys_ns maxrss_kib exit_code
// runner_kib.
//
// Why a process of its own: on Linux a child started with vfork (Go's
// os/exec) or fork carries its parent's resident set into its own
// ru_maxrss at exec. Measured from the benchmark process, every tool would
// weigh at least what the benchmark weighs. This runner is small and does
// nothing before it starts the command: its own peak (runner_kib, reset
// through /proc/self/clear_refs first) is the floor under the figures. It
// imports as little as it can for that reason.
package main

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		os.Stderr.WriteString("usage: runner OUTFILE COMMAND [ARG...]\n")
		os.Exit(2)
	}
	// Forget the peak of the start-up; what remains is the floor.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	floor := vmHWM()
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	ps := cmd.ProcessState
	if ps == nil {
		os.Stderr.WriteString("runner: " + err.Error() + "\n")
		os.Exit(3)
	}
	ru := ps.SysUsage().(*syscall.Rusage)
	line := ""
	for _, n := range []int64{int64(wall), ru.Utime.Nano(), ru.Stime.Nano(), ru.Maxrss, int64(ps.ExitCode()), floor} {
		line += strconv.FormatInt(n, 10) + " "
	}
	if err := os.WriteFile(os.Args[1], []byte(line+"\n"), 0o600); err != nil {
		os.Stderr.WriteString("runner: " + err.Error() + "\n")
		os.Exit(3)
	}
}

// vmHWM is this process's peak resident set in KiB (0 where unknown).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	s := string(b)
	const key = "VmHWM:"
	for i := 0; i+len(key) <= len(s); i++ {
		if s[i:i+len(key)] != key {
			continue
		}
		var n int64
		for j := i + len(key); j < len(s) && s[j] != '\n'; j++ {
			if c := s[j]; c >= '0' && c <= '9' {
				n = n*10 + int64(c-'0')
			}
		}
		return n
	}
	return 0
}
