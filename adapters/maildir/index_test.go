package maildir

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"mailtrail/model"
)

// The index finds every scanned file by key, whether the key is a prefix
// of the name or not, follows the folder's own renames and deletions, and
// leaves out what a batch added (a lookup scans again for it).
func TestIndexFollowsScanRenamesDeletionsAndBatches(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	names := map[string]string{ // key → file name
		"1700000001_0.9.h":                   "1700000001_0.9.h,U=1,FMD5=" + f.FMD5() + ":2,S",
		"1700000002.M1P2.host,S=1234,W=1260": "1700000002.M1P2.host,S=1234,W=1260:2,S",
		"1700000003.M1,S=20":                 "1700000003.M1,U=3,FMD5=" + f.FMD5() + ",S=20:2,S", // U= in the middle: the key is not a prefix
		"1700000004.new":                     "1700000004.new",
	}
	for key, name := range names {
		sub := "cur"
		if key == "1700000004.new" {
			sub = "new"
		}
		writeFile(t, filepath.Join(f.path, sub, name), key)
	}
	msgs, err := f.Scan(ctx)
	if err != nil || len(msgs) != len(names) {
		t.Fatalf("Scan: %d messages, %v", len(msgs), err)
	}
	for key, name := range names {
		ref, ok := f.index.get(key, s.infosep)
		if !ok || ref.name != name {
			t.Errorf("index of %q: %+v %v, want %q", key, ref, ok, name)
		}
	}
	if sf := f.index.scanned; len(sf) != len(names) || sf[2].keyLen != -1 || sf[0].keyLen != int32(len("1700000001_0.9.h")) {
		t.Errorf("scanned entries %+v: want the third's key not a prefix of its name", sf)
	}
	if _, ok := f.index.get("1700000000.absent", s.infosep); ok {
		t.Error("index has a key no file has")
	}

	if err := f.SetFlags(ctx, "1700000003.M1,S=20", model.Flagged); err != nil {
		t.Fatal(err)
	}
	if ref, ok := f.index.get("1700000003.M1,S=20", s.infosep); !ok || ref.sub != "new" || ref.name != "1700000003.M1,U=3,FMD5="+f.FMD5()+",S=20:2,F" {
		t.Errorf("index after SetFlags: %+v %v", ref, ok)
	}
	if err := f.Delete(ctx, "1700000001_0.9.h"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.index.get("1700000001_0.9.h", s.infosep); ok {
		t.Error("index still has a deleted file")
	}

	added := addOne(t, f, 9, model.Seen, time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "new\r\n")
	if _, ok := f.index.get(added, s.infosep); ok {
		t.Error("a batch's file is indexed")
	}
	if err := f.SetFlags(ctx, added, model.Seen|model.Answered); err != nil {
		t.Fatalf("SetFlags on a batch's file (found by scanning again): %v", err)
	}
	if ref, ok := f.index.get(added, s.infosep); !ok || ref.sub != "cur" {
		t.Errorf("index after the rescan: %+v %v", ref, ok)
	}
}

// A scan keeps each name in its arena, without the folder's own FMD5
// field where it can, and gives the key and the FMD5 field as strings of
// that copy (or the folder's FMD5): the name ReadDir returned is not kept,
// and the file's name comes back whole.
func TestScanKeepsNamesCompactly(t *testing.T) {
	const own = "0123456789abcdef0123456789abcdef"
	const other = "fedcba9876543210fedcba9876543210"
	cases := []struct {
		name   string
		elided bool
	}{
		{"1700000001_0.9.h,U=1,FMD5=" + own + ":2,S", true},
		{"1700000001_1.9.h,FMD5=" + own + ",U=2:2,", true},
		{"1700000001_2.9.h,U=3,FMD5=" + own, true},
		{"1700000001_3.9.h,U=4,FMD5=" + other + ":2,S", false},                       // moved here from another folder
		{"1700000001_4.9.h,U=5,FMD5=" + own + "0:2,S", false},                        // not quite ours
		{"1700000003.M1,U=3,FMD5=" + own + ",S=20:2,S", false},                       // the key is not a prefix
		{"1700000002.M1P2.host,S=1234,W=1260:2,S", false},                            // no FMD5
		{"1700000004.new", false},                                                    // no info
		{"1700000005.x,U=6:2,S,FMD5=" + own, false},                                  // FMD5 text in the info only
		{",U=7,FMD5=" + own + ":2,S", true},                                          // an empty key
		{"1700000006.y,U=8,FMD5=" + own + ",FMD5=" + other + ":2,S", true},           // the first field counts
		{"1700000007.z,U=9,FMD5=" + other + ",FMD5=" + own + ":2,S", false},          // the first field counts
		{"1700000008.w,FMD5=" + own + ",U=10,FMD5=" + own + ":2,RS", true},           // only the first is cut
		{strings.Repeat("k", 300) + ",U=11,FMD5=" + own + ":2,S", true},              // longer than a name should be
		{"1700000009.v,U=12,FMD5=" + own + ":2,S" + strings.Repeat("x", 5000), true}, // longer than a block
	}
	var a nameArena
	for _, c := range cases {
		for _, sub := range []string{"cur", "new"} {
			orig := string([]byte(c.name)) // memory of its own, like ReadDir's
			fn := parseFileName(orig, ':')
			sf, key, fmd5 := a.keepScanned(orig, sub, fn, own)
			if got := sf.ref(own); got.name != c.name || got.sub != sub {
				t.Errorf("%q in %s/ comes back as %s/%q", c.name, sub, got.sub, got.name)
			}
			if (sf.elided != 0) != c.elided {
				t.Errorf("%q: elided %v, want %v (kept as %q)", c.name, sf.elided != 0, c.elided, sf.name)
			}
			if key != fn.key || fmd5 != fn.fmd5 || sf.key(':') != fn.key {
				t.Errorf("%q: key %q, FMD5 %q, index key %q; the name parses to %q, %q", c.name, key, fmd5, sf.key(':'), fn.key, fn.fmd5)
			}
			for what, s := range map[string]string{"name": sf.name, "key": key, "FMD5": fmd5} {
				if s != "" && within(s, orig) {
					t.Errorf("%q: the %s kept is part of the name ReadDir returned", c.name, what)
				}
			}
		}
	}
	// own as the empty string (a folder without FMD5): nothing is cut.
	fn := parseFileName("1700000001_0.9.h,U=1,FMD5=:2,S", ':')
	if sf, _, _ := a.keepScanned("1700000001_0.9.h,U=1,FMD5=:2,S", "cur", fn, ""); sf.elided != 0 || sf.ref("").name != "1700000001_0.9.h,U=1,FMD5=:2,S" {
		t.Errorf("a folder without FMD5: kept %+v", sf)
	}
}

// within reports whether s's bytes lie inside t's.
func within(s, t string) bool {
	if len(s) == 0 || len(t) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(t)))
	return p >= lo && p < lo+uintptr(len(t))
}
