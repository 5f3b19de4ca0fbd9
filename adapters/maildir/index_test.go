package maildir

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
