package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCgoWarning: a Go program built with CGO_ENABLED=0 gets no warning;
// a dynamically linked executable (the system's shell) gets one naming
// it; a script is no ELF file and gets none.
func TestCgoWarning(t *testing.T) {
	static := filepath.Join(t.TempDir(), "static")
	cmd := exec.Command("go", "build", "-o", static, "mailtrail/cmd/mailtrail-bench/runner")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if w := cgoWarning(static); w != "" {
		t.Errorf("a CGO_ENABLED=0 build warned: %s", w)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	sh, _ = filepath.EvalSymlinks(sh)
	if dyn, err := dynamicallyLinked(sh); err != nil || !dyn {
		t.Skipf("%s is not a dynamically linked ELF file here (%v)", sh, err)
	}
	if w := cgoWarning(sh); !strings.Contains(w, sh) || !strings.Contains(w, "CGO_ENABLED=0") {
		t.Errorf("warning for %s: %q", sh, w)
	}
	script := filepath.Join(t.TempDir(), "wrapper")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if w := cgoWarning(script); w != "" {
		t.Errorf("a script warned: %s", w)
	}
}
