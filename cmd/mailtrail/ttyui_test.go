package main_test

import (
	"strings"
	"testing"
)

// TestTTYUIProgress: -u ttyui with stderr not a terminal prints the
// progress of every folder as plain lines; basic prints none.
func TestTTYUIProgress(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 3, "Work": 2})
	su := newSetup(t, s, "")
	code, out, errs := run(t, "-c", su.config, "-o", "-u", "ttyui")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"[Test] INBOX: planning\n", "[Test] INBOX: fetch 3/3\n", "[Test] INBOX: done\n",
		"[Test] Work: fetch 2/2\n", "[Test] Work: done\n"} {
		if !strings.Contains(errs, want) {
			t.Errorf("ttyui's stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "\r") {
		t.Errorf("ttyui off a terminal rewrote a line:\n%q", errs)
	}
	seedSmall(t, s, map[string]int{"INBOX": 1})
	code, out, errs = run(t, "-c", su.config, "-o", "-u", "basic")
	if code != 0 || strings.Contains(errs, "fetch 1/1") {
		t.Errorf("basic: exit %d, progress shown:\n%s%s", code, out, errs)
	}
}
