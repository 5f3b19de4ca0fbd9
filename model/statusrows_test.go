package model

import (
	"reflect"
	"testing"
)

func TestStatusRowsSortedByUIDLastRowWins(t *testing.T) {
	rows := StatusRowsOf(
		StatusRow{UID: 7, Key: "a"}, StatusRow{UID: 3, Key: "b"}, StatusRow{UID: 7, Key: "c"},
		StatusRow{UID: 1, Key: "d"}, StatusRow{UID: 3, Key: "e"}, StatusRow{UID: 9, Key: "f"},
	)
	want := []StatusRow{{UID: 1, Key: "d"}, {UID: 3, Key: "e"}, {UID: 7, Key: "c"}, {UID: 9, Key: "f"}}
	if !reflect.DeepEqual(rows.All(), want) || rows.Len() != 4 {
		t.Fatalf("rows %+v, want %+v", rows.All(), want)
	}
	for _, w := range want {
		if got, ok := rows.Get(w.UID); !ok || got != w || !rows.Has(w.UID) {
			t.Errorf("Get(%d) = %+v, %v", w.UID, got, ok)
		}
	}
	for _, uid := range []uint32{0, 2, 8, 10} {
		if got, ok := rows.Get(uid); ok || got != (StatusRow{}) || rows.Has(uid) {
			t.Errorf("Get(%d) = %+v, %v: no such row", uid, got, ok)
		}
	}
	if z := StatusRowsOf(); z.Len() != 0 || z.All() != nil || !reflect.DeepEqual(z, StatusRows{}) {
		t.Errorf("no rows: %+v", z)
	}
}

func TestStatusRowsGetNearWalksWithoutSearching(t *testing.T) {
	rows := StatusRowsOf(StatusRow{UID: 2}, StatusRow{UID: 4}, StatusRow{UID: 6}, StatusRow{UID: 8})
	next := 0
	for _, uid := range []uint32{2, 4, 5, 6, 8, 9, 4} {
		row, at, ok := rows.GetNear(uid, next)
		want := uid%2 == 0 && uid <= 8
		if ok != want || (ok && (row.UID != uid || rows.All()[at].UID != uid)) {
			t.Errorf("GetNear(%d, %d) = %+v, %d, %v", uid, next, row, at, ok)
		}
		next = at + 1
	}
	// A wrong hint (out of range, or another row's index) still finds the row.
	for _, hint := range []int{-5, 0, 3, 4, 100} {
		if row, at, ok := rows.GetNear(6, hint); !ok || row.UID != 6 || at != 2 {
			t.Errorf("GetNear(6, hint %d) = %+v, %d, %v", hint, row, at, ok)
		}
	}
}
