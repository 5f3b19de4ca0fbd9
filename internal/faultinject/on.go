//go:build faultinject

package faultinject

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether fault injection is compiled in.
const Enabled = true

var (
	mu      sync.Mutex
	counts  = map[string]int{}
	crashAt struct {
		kind string
		n    int
	}
	trace *os.File
)

func init() {
	if v := os.Getenv("MAILTRAIL_CRASH_AT"); v != "" {
		kind, n, ok := strings.Cut(v, ":")
		num, err := strconv.Atoi(n)
		if !ok || err != nil || num < 1 || (kind != Journal && kind != Effect) {
			fmt.Fprintf(os.Stderr, "faultinject: MAILTRAIL_CRASH_AT=%q: want journal:N or effect:N\n", v)
			os.Exit(3)
		}
		crashAt.kind, crashAt.n = kind, num
	}
	if p := os.Getenv("MAILTRAIL_FAULT_TRACE"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "faultinject: trace: %v\n", err)
			os.Exit(3)
		}
		trace = f
	}
}

// Step counts a completed step of kind and, when it is the one
// MAILTRAIL_CRASH_AT names, kills the process with SIGKILL: no deferred
// function, no flush, no goodbye, as a power cut or kill -9 would.
func Step(kind, what string) {
	mu.Lock()
	defer mu.Unlock()
	counts[kind]++
	n := counts[kind]
	if trace != nil {
		fmt.Fprintf(trace, "%s %d %s\n", kind, n, what)
	}
	if crashAt.kind == kind && crashAt.n == n {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never returns
	}
}
