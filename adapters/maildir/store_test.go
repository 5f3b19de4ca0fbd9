package maildir

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"mailtrail/adapters"
)

func TestNewCreatesRootAndRejectsFile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "a", "Mail")
	if _, err := New(root, '.', Options{Hostname: "h"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("root after New: %v %v", st, err)
	}
	file := filepath.Join(dir, "file")
	writeFile(t, file, "")
	if _, err := New(file, '.', Options{Hostname: "h"}); err == nil {
		t.Fatal("New on a plain file succeeded")
	}
}

func TestFolderNames(t *testing.T) {
	dot := &Store{sep: '.'}
	slash := &Store{sep: '/'}
	for _, tc := range []struct {
		s         *Store
		canonical string
		local     string
	}{
		{dot, "INBOX", "INBOX"},
		{dot, "a/b/c", "a.b.c"},
		{slash, "a/b/c", "a/b/c"},
		{slash, "a.b/c", "a.b/c"},
		{dot, "/Trash", ".Trash"}, // Maildir++
		{dot, "a//b", "a..b"},
	} {
		got, err := tc.s.LocalName(tc.canonical)
		if err != nil || got != tc.local {
			t.Errorf("sep %q: LocalName(%q) = %q, %v; want %q", tc.s.sep, tc.canonical, got, err, tc.local)
		}
		if back := tc.s.CanonicalName(got); back != tc.canonical {
			t.Errorf("sep %q: CanonicalName(%q) = %q, want %q", tc.s.sep, got, back, tc.canonical)
		}
	}
	for _, tc := range []struct {
		s    *Store
		name string
	}{
		{dot, ""}, {dot, "a.b"}, {dot, "../x"}, {dot, "/"}, {dot, "//"}, {dot, "cur"}, {dot, "a\x00"},
		{slash, "a/new"}, {slash, "tmp"}, {slash, "a/../b"}, {slash, "a/"},
	} {
		if got, err := tc.s.LocalName(tc.name); err == nil {
			t.Errorf("sep %q: LocalName(%q) = %q, want an error", tc.s.sep, tc.name, got)
		}
	}
}

func TestCreateAndListFoldersDotSep(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	for _, name := range []string{"INBOX", "Archive/2024", "Sent"} {
		if err := s.CreateFolder(ctx, name); err != nil {
			t.Fatal(err)
		}
		// Creating it again changes nothing and is not an error.
		if err := s.CreateFolder(ctx, name); err != nil {
			t.Fatalf("second CreateFolder(%q): %v", name, err)
		}
	}
	// A Maildir++ folder made by another program.
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(s.Root(), ".Trash", sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A directory that is not a Maildir, and a file.
	if err := os.MkdirAll(filepath.Join(s.Root(), "junk", "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.Root(), "notes.txt"), "")
	if got := listDir(t, s.Root()); !reflect.DeepEqual(got, []string{".Trash", "Archive.2024", "INBOX", "Sent", "junk", "notes.txt"}) {
		t.Fatalf("root holds %v", got)
	}
	if got := listDir(t, filepath.Join(s.Root(), "Archive.2024")); !reflect.DeepEqual(got, []string{"cur", "new", "tmp"}) {
		t.Fatalf("Archive.2024 holds %v", got)
	}
	got, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/Trash", "Archive/2024", "INBOX", "Sent"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListFolders = %v, want %v", got, want)
	}
	// Every listed name opens.
	for _, name := range got {
		if _, err := s.OpenFolder(ctx, name); err != nil {
			t.Errorf("OpenFolder(%q) of a listed folder: %v", name, err)
		}
	}
}

func TestCreateAndListFoldersSlashSep(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '/')
	for _, name := range []string{"a/b/c", "a", "INBOX", "x.y/z"} {
		if err := s.CreateFolder(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if got := listDir(t, filepath.Join(s.Root(), "a")); !reflect.DeepEqual(got, []string{"b", "cur", "new", "tmp"}) {
		t.Fatalf("a/ holds %v", got)
	}
	if got := listDir(t, filepath.Join(s.Root(), "a", "b")); !reflect.DeepEqual(got, []string{"c"}) {
		t.Fatalf("a/b/ holds %v (a parent made for a nested folder is a plain directory)", got)
	}
	got, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"INBOX", "a", "a/b/c", "x.y/z"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListFolders = %v, want %v", got, want)
	}
}

func TestCreateFolderOverFile(t *testing.T) {
	s := newTestStore(t, '.')
	writeFile(t, filepath.Join(s.Root(), "Sent"), "")
	if err := s.CreateFolder(context.Background(), "Sent"); err == nil {
		t.Fatal("CreateFolder over a plain file succeeded")
	}
}

func TestOpenFolderMissing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	if _, err := s.OpenFolder(ctx, "Nope"); !errors.Is(err, adapters.ErrNoFolder) {
		t.Fatalf("OpenFolder of a missing folder: %v, want ErrNoFolder", err)
	}
	if err := os.MkdirAll(filepath.Join(s.Root(), "Half", "cur"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenFolder(ctx, "Half"); !errors.Is(err, adapters.ErrNoFolder) {
		t.Fatalf("OpenFolder of a folder without new/ and tmp/: %v, want ErrNoFolder", err)
	}
	f := newTestFolder(t, s, "INBOX")
	if f.Path() != filepath.Join(s.Root(), "INBOX") || f.Name() != "INBOX" {
		t.Fatalf("INBOX at %s named %s", f.Path(), f.Name())
	}
}

func TestVisibleNameFeedsFMD5(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, '.', Options{Hostname: "h", VisibleName: func(n string) string { return "x" + n }})
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFolder(t, s, "INBOX")
	if f.FMD5() != folderMD5("xINBOX") {
		t.Fatalf("FMD5 %s is not md5 of the visible name", f.FMD5())
	}
}

func TestOpenFolderRemovesOnlyStaleTmpFiles(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, '.', Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.CreateFolder(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(root, "INBOX", "tmp", "stale")
	fresh := filepath.Join(root, "INBOX", "tmp", "fresh")
	os.WriteFile(stale, []byte("x"), 0o600)
	os.WriteFile(fresh, []byte("x"), 0o600)
	old := time.Now().Add(-StaleTmpAge - time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := s.OpenFolder(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale tmp file kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh tmp file (a delivery in progress) removed: %v", err)
	}
}
