package maildir

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mailtrail/model"
)

const (
	testHost = "testhost"
	testPID  = 4242
)

// testNow is the clock of test stores: new file names start with its seconds.
var testNow = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestStore(t *testing.T, sep byte) *Store {
	t.Helper()
	root := filepath.Join(t.TempDir(), "Mail")
	s, err := New(root, sep, Options{Hostname: testHost, PID: testPID, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestFolder(t *testing.T, s *Store, name string) *Folder {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateFolder(ctx, name); err != nil {
		t.Fatal(err)
	}
	f, err := s.Folder(name)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// listDir returns the sorted names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readAllString(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// addOne adds one message in its own batch and commits it.
func addOne(t *testing.T, f *Folder, uid uint32, flags model.Flags, date time.Time, body string) string {
	t.Helper()
	b := f.NewBatch()
	key, err := b.Add(uid, flags, date, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return key
}
