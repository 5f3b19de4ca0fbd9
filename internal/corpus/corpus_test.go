package corpus

import (
	"bytes"
	"crypto/sha256"
	"fmt"
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

// dovecotNameHash is Dovecot's hash of a Maildir file name in its
// uidlist's table (maildir_filename_base_hash, lib-storage's
// maildir-filename.c): the ELF hash of the name up to ':'.
func dovecotNameHash(name string) uint32 {
	var h uint32
	for i := 0; i < len(name) && name[i] != ':'; i++ {
		h = h<<4 + uint32(name[i])
		if g := h & 0xf0000000; g != 0 {
			h ^= g >> 24
			h ^= g
		}
	}
	return h
}

// TestNamesInDovecotsHash: the names of a folder of 100,000 messages, by
// each scheme, as Dovecot's table of a folder's files hashes them. The
// mean number of names sharing a name's hash is a floor on the comparisons
// of a lookup, whatever the table's size. The peers' names (gen-corpus's)
// share their hash with hundreds of others on average, the reason a
// benchmark with them measures mostly Dovecot's lookups in that table;
// names as Dovecot's deliveries make them share it with almost none.
func TestNamesInDovecotsHash(t *testing.T) {
	meanSharing := func(names Names) float64 {
		counts := map[uint32]int{}
		seen := map[string]bool{}
		n := 0
		_, err := Generate(Options{BigFolder: 100_000, Names: names}, func(m Message) error {
			base, _, _ := strings.Cut(m.Name, ":")
			if seen[base] {
				t.Fatalf("%s: two messages named %s", names, base)
			}
			seen[base] = true
			counts[dovecotNameHash(m.Name)]++
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var sq int
		for _, c := range counts {
			sq += c * c
		}
		return float64(sq) / float64(n)
	}
	dovecot, peers := meanSharing(NamesDovecot), meanSharing(NamesPeers)
	t.Logf("a name shares its hash with %.2f names as Dovecot's, %.0f of the peers'", dovecot, peers)
	if m := dovecot; m > 1.1 {
		t.Errorf("names as Dovecot's: a name shares its hash with %.1f on average, want about 1", m)
	}
	if m := peers; m < 50 {
		t.Errorf("the peers' names: a name shares its hash with %.1f on average; the docs say hundreds", m)
	}
	if _, err := Generate(Options{Messages: 1, Names: "maildrop"}, func(Message) error { return nil }); err == nil || !strings.Contains(err.Error(), `"maildrop"`) {
		t.Errorf("unknown names scheme: %v", err)
	}
}

// TestDovecotNamesChangeOnlyNames: the same options but the names give the
// same messages, and the names carry the size twice (S= and W=).
func TestDovecotNamesChangeOnlyNames(t *testing.T) {
	var peers []Message
	opts := Options{Messages: 300, Folders: 4, BigFolder: 20}
	if _, err := Generate(opts, func(m Message) error { peers = append(peers, m); return nil }); err != nil {
		t.Fatal(err)
	}
	opts.Names = NamesDovecot
	i := 0
	if _, err := Generate(opts, func(m Message) error {
		p := peers[i]
		i++
		if m.Folder != p.Folder || !bytes.Equal(m.Data, p.Data) || !m.Date.Equal(p.Date) {
			t.Fatalf("message %d differs beyond its name", i)
		}
		_, flags, _ := strings.Cut(m.Name, ":2,")
		_, pflags, _ := strings.Cut(p.Name, ":2,")
		size := fmt.Sprintf(",S=%d,W=%d:", len(m.Data), len(m.Data))
		if flags != pflags || !strings.Contains(m.Name, size) || !strings.Contains(m.Name, ".mail.corpus.example,") {
			t.Fatalf("%s: want flags %q and %s", m.Name, pflags, size)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if i != len(peers) {
		t.Fatalf("%d messages against %d", i, len(peers))
	}
}
