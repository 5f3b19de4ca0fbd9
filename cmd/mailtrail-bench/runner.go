package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sample is one measured run.
type sample struct {
	Wall      time.Duration
	User, Sys time.Duration
	MaxRSSKiB int64 // ru_maxrss of the tool, from wait4
	RunnerKiB int64 // the runner's own resident set: the floor under MaxRSSKiB
	ExitCode  int
	// Machine is the CPU time of the whole machine during the run (the
	// tool, the server, the kernel: machineCPU); 0 where not measured.
	Machine time.Duration
}

// The runs are measured by a small program of their own (./runner: see
// there why), built next to mailtrail.
func buildRunner(dir string) (string, error) {
	bin := filepath.Join(dir, "runner")
	out, err := exec.Command("go", "build", "-o", bin, "mailtrail/cmd/mailtrail-bench/runner").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build mailtrail/cmd/mailtrail-bench/runner (run this from the module): %v\n%s", err, out)
	}
	return bin, nil
}

// measure runs argv through the runner, with env added to the environment
// and its output appended to log.
func measure(runner string, argv, env []string, log io.Writer) (sample, error) {
	f, err := os.CreateTemp("", "mailtrail-bench-sample-")
	if err != nil {
		return sample{}, err
	}
	f.Close()
	defer os.Remove(f.Name())
	fmt.Fprintf(log, "$ %s\n", strings.Join(argv, " "))
	cmd := exec.Command(runner, append([]string{f.Name()}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	before, ok1 := machineCPU()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("runner: %v", err)
	}
	after, ok2 := machineCPU()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return sample{}, err
	}
	var n []int64
	for _, field := range strings.Fields(string(b)) {
		v, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return sample{}, fmt.Errorf("runner output %q", b)
		}
		n = append(n, v)
	}
	if len(n) != 6 {
		return sample{}, fmt.Errorf("runner output %q", b)
	}
	s := sample{Wall: time.Duration(n[0]), User: time.Duration(n[1]), Sys: time.Duration(n[2]), MaxRSSKiB: n[3], ExitCode: int(n[4]), RunnerKiB: n[5]}
	if ok1 && ok2 {
		s.Machine = after - before
	}
	return s, nil
}
