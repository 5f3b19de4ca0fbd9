// Package archtest checks that the packages depend on each other only in
// the direction docs/ARCHITECTURE.md states.
package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imports returns the project imports of the package in dir (its non-test
// files).
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p := strings.Trim(im.Path.Value, `"`)
			if p == "mailtrail" || strings.HasPrefix(p, "mailtrail/") {
				out[p] = true
			}
		}
	}
	return out
}

func root(t *testing.T) string {
	wd, _ := os.Getwd()
	return filepath.Join(wd, "..", "..")
}

func TestDependencyDirection(t *testing.T) {
	r := root(t)
	rules := []struct {
		pkg     string
		allowed []string // project imports allowed (prefix match)
	}{
		{"model", nil},
		{"planner", []string{"mailtrail/model"}},
		{"journal", []string{"mailtrail/model"}},
		{"adapters", []string{"mailtrail/model"}},
		{"adapters/maildir", []string{"mailtrail/model", "mailtrail/adapters"}},
		{"adapters/imap", []string{"mailtrail/model", "mailtrail/adapters", "mailtrail/internal/utf7"}},
		{"adapters/memstore", []string{"mailtrail/model", "mailtrail/adapters"}},
		{"executor", []string{"mailtrail/model", "mailtrail/adapters", "mailtrail/journal"}},
		{"engine", []string{"mailtrail/model", "mailtrail/adapters", "mailtrail/journal", "mailtrail/executor", "mailtrail/planner"}},
		{"takeover", []string{"mailtrail/model", "mailtrail/adapters", "mailtrail/journal"}},
		{"foldernames", []string{"mailtrail/model", "mailtrail/adapters", "mailtrail/internal/utf7"}},
		{"internal/utf7", nil},
		{"mbnames", []string{"mailtrail/config"}},
		{"replay", []string{"mailtrail/model", "mailtrail/journal", "mailtrail/planner", "mailtrail/engine", "mailtrail/adapters/memstore", "mailtrail/internal/converge"}},
	}
	for _, rule := range rules {
		for imp := range imports(t, filepath.Join(r, rule.pkg)) {
			// The crash-test hook is a no-op leaf every layer may call.
			ok := imp == "mailtrail/internal/faultinject"
			for _, a := range rule.allowed {
				if imp == a || (strings.HasPrefix(imp, a+"/") && a != "mailtrail/adapters") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s imports %s; allowed: %v", rule.pkg, imp, rule.allowed)
			}
		}
	}
}

// TestPlannerIsPure: the planner does no I/O and reads no clock.
func TestPlannerIsPure(t *testing.T) {
	banned := []string{`"os"`, `"io"`, `"net"`, `"time"`, `"math/rand"`, `"crypto/rand"`, `"sync"`, `"syscall"`, `"os/exec"`}
	files, _ := filepath.Glob(filepath.Join(root(t), "planner", "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			for _, b := range banned {
				if im.Path.Value == b {
					t.Errorf("%s imports %s: the planner must stay pure", filepath.Base(f), b)
				}
			}
		}
	}
}
