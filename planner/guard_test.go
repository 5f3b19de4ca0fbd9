package planner

import (
	"fmt"
	"strings"
	"testing"

	"mailtrail/model"
)

// synced returns n messages known to the status and present on both sides.
func synced(n int) ([]model.StatusRow, []model.RemoteMsg, []model.LocalMsg) {
	var st []model.StatusRow
	var rs []model.RemoteMsg
	var ls []model.LocalMsg
	for i := 1; i <= n; i++ {
		key := fmt.Sprintf("k%03d", i)
		st = append(st, model.StatusRow{UID: uint32(i), Key: key, Flags: S})
		rs = append(rs, rmsg(uint32(i), S))
		ls = append(ls, lmsg(key, uint32(i), S))
	}
	return st, rs, ls
}

func guarded(percent int) Options {
	o := opts
	o.Guard = &DeleteGuard{RemotePercent: percent, LocalPercent: percent}
	return o
}

func TestGuardRefusesMassDeletionOnServer(t *testing.T) {
	st, rs, ls := synced(20)
	in := input(st, rs, ls[:8]) // 12 of 20 deleted locally
	p := PlanFolder(in, guarded(50))
	if len(p.Ops) != 0 || !strings.Contains(p.Refused, "delete 12 of the 20 messages on the server (60%)") ||
		!strings.Contains(p.Refused, "--max-delete 60") {
		t.Fatalf("want a refusal with counts and the override, got %q %v", p.Refused, short(p.Ops))
	}
	if p := PlanFolder(in, guarded(60)); p.Refused != "" || p.Counts()[model.OpExpungeRemote] != 12 {
		t.Fatalf("60%% allowed: got %q %v", p.Refused, p.Counts())
	}
	if p := PlanFolder(in, opts); p.Refused != "" {
		t.Fatalf("no guard (--force): refused %q", p.Refused)
	}
}

func TestGuardRefusesMassDeletionLocally(t *testing.T) {
	st, rs, ls := synced(20)
	in := input(st, rs[:5], ls)
	p := PlanFolder(in, guarded(50))
	if len(p.Ops) != 0 || !strings.Contains(p.Refused, "15 of the 20 messages locally") {
		t.Fatalf("got %q %v", p.Refused, short(p.Ops))
	}
}

func TestGuardEmptiedSide(t *testing.T) {
	st, rs, ls := synced(10)
	p := PlanFolder(input(st, rs, nil), guarded(90))
	if len(p.Ops) != 0 || !strings.Contains(p.Refused, "local folder is empty, but 10 messages") {
		t.Fatalf("emptied local folder: got %q %v", p.Refused, short(p.Ops))
	}
	p = PlanFolder(input(st, nil, ls), guarded(90))
	if len(p.Ops) != 0 || !strings.Contains(p.Refused, "server folder is empty, but 10 messages") {
		t.Fatalf("emptied server folder: got %q %v", p.Refused, short(p.Ops))
	}
	if p := PlanFolder(input(st, nil, ls), guarded(100)); p.Refused != "" || p.Counts()[model.OpDeleteLocal] != 10 {
		t.Fatalf("--max-delete 100 lets it through: got %q %v", p.Refused, p.Counts())
	}
}

func TestGuardFloorAndFlagChanges(t *testing.T) {
	st, rs, ls := synced(5)
	// Deleting all of a small folder is ordinary.
	if p := PlanFolder(input(st, rs, nil), guarded(10)); p.Refused != "" || p.Counts()[model.OpExpungeRemote] != 5 {
		t.Fatalf("floor: got %q %v", p.Refused, p.Counts())
	}
	// Flag changes and downloads are not deletions.
	st, rs, ls = synced(40)
	for i := range rs {
		rs[i].Flags = S | F
	}
	if p := PlanFolder(input(st, rs, ls), guarded(1)); p.Refused != "" {
		t.Fatalf("flag changes refused: %q", p.Refused)
	}
}

func TestGuardIgnoresDeletionsOnReadOnlySide(t *testing.T) {
	st, rs, ls := synced(20)
	o := guarded(10)
	o.RemoteReadOnly = true
	if p := PlanFolder(input(st, rs, ls[:2]), o); p.Refused != "" || p.Counts()[model.OpExpungeRemote] != 0 {
		t.Fatalf("read-only server: nothing to guard, got %q %v", p.Refused, p.Counts())
	}
}
