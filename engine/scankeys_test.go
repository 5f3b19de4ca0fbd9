package engine

import (
	"testing"
	"unsafe"

	"mailtrail/model"
)

func TestScanKeysFindsTheScansOwnStrings(t *testing.T) {
	var msgs []model.LocalMsg
	for _, k := range []string{"a", "b", "c", "d"} {
		msgs = append(msgs, model.LocalMsg{Key: string([]byte(k))})
	}
	known := scanKeys(msgs)
	if known == nil {
		t.Fatal("no lookup for a sorted scan")
	}
	// In order (the hint), out of order (the search), missing, and in
	// order again after a miss.
	for _, c := range []struct {
		key  string
		want int // index in msgs; -1: not found
	}{{"a", 0}, {"b", 1}, {"d", 3}, {"c", 2}, {"bb", -1}, {"", -1}, {"zz", -1}, {"a", 0}, {"b", 1}} {
		got, ok := known([]byte(c.key))
		if ok != (c.want >= 0) {
			t.Fatalf("known(%q) found %v", c.key, ok)
		}
		if ok && unsafe.StringData(got) != unsafe.StringData(msgs[c.want].Key) {
			t.Fatalf("known(%q) = %q, not the scan's own string", c.key, got)
		}
	}
	for _, bad := range [][]model.LocalMsg{nil, {{Key: "b"}, {Key: "a"}}, {{Key: "a"}, {Key: "a"}}} {
		if scanKeys(bad) != nil {
			t.Errorf("scanKeys(%v) gave a lookup; want none for a scan that is empty or not sorted by key", bad)
		}
	}
}
