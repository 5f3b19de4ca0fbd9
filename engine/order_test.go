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
