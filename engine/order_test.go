package engine

import (
	"reflect"
	"testing"

	"mailtrail/model"
	"mailtrail/planner"
)

func TestExecutionOrderRunsHeldFoldersFirstThenTheLargest(t *testing.T) {
	work := func(name string, held bool, ops ...model.Op) *folderWork {
		return &folderWork{held: held, fr: FolderReport{Name: name, Plan: planner.Plan{Ops: ops}}}
	}
	fetch := func(size int64) model.Op { return model.Op{Kind: model.OpFetch, Size: size} }
	flag := model.Op{Kind: model.OpStoreRemote}
	works := []*folderWork{
		work("small", false, fetch(100)),
		work("held small", true, fetch(10)),
		work("big", false, fetch(1<<20), fetch(1<<20)),
		work("empty", false),
		work("held big", true, fetch(1<<20)),
		work("many flags", false, flag, flag, flag, flag, flag, flag, flag, flag, flag, flag),
		work("also small", false, fetch(100)), // ties keep their order
	}
	var got []string
	for _, w := range executionOrder(works) {
		got = append(got, w.fr.Name)
	}
	want := []string{"held big", "held small", "big", "many flags", "small", "also small", "empty"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
}

// TestLastLook: the verification logs out with its survey only when the
// Remote is closed after the run and no folder was created on the server
// (the folders are listed again then, Sync's second pass).
func TestLastLook(t *testing.T) {
	work := func(created int) *folderWork {
		return &folderWork{fr: FolderReport{Name: "F", Done: map[model.OpKind]int{model.OpCreateRemoteFolder: created, model.OpFetch: 3}}}
	}
	for _, tc := range []struct {
		closes  bool
		created int
		want    bool
	}{{true, 0, true}, {true, 1, false}, {false, 0, false}} {
		a := &Account{ClosesRemote: tc.closes}
		if got := a.lastLook([]*folderWork{work(0), work(tc.created)}); got != tc.want {
			t.Errorf("ClosesRemote %t, %d folder created: lastLook %t, want %t", tc.closes, tc.created, got, tc.want)
		}
	}
}
