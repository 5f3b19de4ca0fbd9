package corpus

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func digest(t *testing.T, opts Options) ([32]byte, []int, Summary) {
	t.Helper()
	h := sha256.New()
	var sizes []int
	sum, err := Generate(opts, func(m Message) error {
		h.Write([]byte(m.Folder + "\x00" + m.Name + "\x00"))
		h.Write(m.Data)
		sizes = append(sizes, len(m.Data))
		if bytes.Contains(bytes.ReplaceAll(m.Data, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("%s/%s: a bare LF", m.Folder, m.Name)
		}
		if !bytes.Contains(m.Data, []byte("\r\nMessage-ID: <")) {
			t.Fatalf("%s/%s: no Message-ID", m.Folder, m.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d, sizes, sum
}

// TestDeterministicAndRealistic: the same options give the same bytes; the
// sizes are log-normal around 4 KiB with a few large attachments.
func TestDeterministicAndRealistic(t *testing.T) {
	opts := Options{Messages: 2000, Folders: 8, BigFolder: 10}
	a, sizes, sum := digest(t, opts)
	b, _, _ := digest(t, opts)
	if a != b {
		t.Fatal("two runs with the same options differ")
	}
	if c, _, _ := digest(t, Options{Messages: 2000, Folders: 8, BigFolder: 10, Seed: 2}); c == a {
		t.Fatal("another seed gives the same corpus")
	}
	if sum.Messages != 2010 || sum.Folders != 9 {
		t.Fatalf("summary %+v", sum)
	}
	sort.Ints(sizes)
	median := sizes[len(sizes)/2]
	big := 0
	for _, s := range sizes {
		if s > 100_000 {
			big++
		}
	}
	if median < 2500 || median > 6500 {
		t.Errorf("median size %d: want about 4 KiB", median)
	}
	if big < 10 || big > 120 {
		t.Errorf("%d messages over 100 KB: want a few percent", big)
	}
	if sizes[len(sizes)-1] > 2_800_000 {
		t.Errorf("largest message %d bytes", sizes[len(sizes)-1])
	}
}

// TestWriteMaildirAndCopy writes a Maildir++ tree and copies it.
func TestWriteMaildirAndCopy(t *testing.T) {
	root := filepath.Join(t.TempDir(), "a")
	sum, err := WriteMaildir(root, Options{Messages: 50, Folders: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"cur", ".Sent/cur", ".Lists.golang-nuts/tmp"} {
		if _, err := os.Stat(filepath.Join(root, d)); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "b")
	if err := CopyTree(root, dst, -1, -1); err != nil {
		t.Fatal(err)
	}
	n := 0
	filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, "/cur/") {
			n++
		}
		return nil
	})
	if n != sum.Messages {
		t.Fatalf("%d files copied, want %d", n, sum.Messages)
	}
	for _, d := range []string{"", "cur", ".Sent/cur"} {
		a, _ := os.Stat(filepath.Join(root, d))
		b, _ := os.Stat(filepath.Join(dst, d))
		if a == nil || b == nil || !a.ModTime().Equal(b.ModTime()) || time.Since(a.ModTime()) < 24*time.Hour {
			t.Errorf("%q: directory mtimes %v and %v: want equal, and old", d, a.ModTime(), b.ModTime())
		}
	}
}
