package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoRunsTwiceAndConverges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mailtrail-demo")
	for i := 0; i < 2; i++ { // a second demo replaces the first
		var out bytes.Buffer
		if err := Run(context.Background(), dir, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		for _, want := range []string{"Server and Maildir agree: 55 messages in 5 folders", "1 upload", "2 delete-local",
			"1 expunge-remote", "intent INBOX: store-remote-flags", "nothing to do"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run %d: output lacks %q:\n%s", i, want, out.String())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "Maildir", "Projects.mailtrail", "cur")); err != nil {
		t.Fatal(err)
	}
}

func TestDemoRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o600)
	if err := Run(context.Background(), dir, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not made by the demo") {
		t.Fatalf("want refusal, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Fatal("the demo removed a file it did not make")
	}
}
