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

// TestGuardEmptiedByMoves: a server folder emptied by moves into other
// folders is no lost folder. Once the engine has found most of its
// deletions to be moves (movedOut), the deletions left pass if the share
// limit lets them; with fewer moves than deletions left, the emptied-side
// refusal stands and says how many were moves.
func TestGuardEmptiedByMoves(t *testing.T) {
	st, _, ls := synced(20)
	in := input(st, nil, ls)
	all := PlanFolder(in, opts) // made without the guard, as the engine does
	if n := all.Counts()[model.OpDeleteLocal]; n != 20 {
		t.Fatalf("%d local deletions planned, want 20", n)
	}
	keep := func(n int) Plan {
		p := all
		p.Ops = nil
		for _, op := range all.Ops {
			if op.Kind != model.OpDeleteLocal || n > 0 {
				p.Ops = append(p.Ops, op)
				if op.Kind == model.OpDeleteLocal {
					n--
				}
			}
		}
		return p
	}
	if p := CheckGuard(in, keep(6), guarded(50), 14); p.Refused != "" || p.Counts()[model.OpDeleteLocal] != 6 {
		t.Errorf("14 moved, 6 left to delete (30%% of 20): got %q %v", p.Refused, p.Counts())
	}
	if p := CheckGuard(in, keep(6), guarded(20), 14); !strings.Contains(p.Refused, "delete 6 of the 20 messages locally (30%)") {
		t.Errorf("14 moved, 6 left, maxdelete 20%%: got %q", p.Refused)
	}
	if p := CheckGuard(in, keep(17), guarded(90), 3); !strings.Contains(p.Refused, "server folder is empty, but 17 messages") ||
		!strings.Contains(p.Refused, "besides 3 found moved to other folders") {
		t.Errorf("3 moved, 17 left: got %q", p.Refused)
	}
	if p := CheckGuard(in, keep(20), guarded(90), 0); !strings.Contains(p.Refused, "server folder is empty, but 20 messages") ||
		strings.Contains(p.Refused, "moved") {
		t.Errorf("no move: got %q", p.Refused)
	}
}
