package planner

import (
	"reflect"
	"testing"
	"time"

	"mailtrail/model"
)

func TestWindowLeavesOldAndLargeMessagesAlone(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 3, d, 12, 0, 0, 0, time.UTC) }
	cut := day(10)
	old, recent := day(1), day(20)
	r := func(uid uint32, date time.Time, size int64) model.RemoteMsg {
		return model.RemoteMsg{UID: uid, Flags: S, Size: size, InternalDate: model.DateOf(date)}
	}
	l := func(key string, uid uint32, date time.Time, size int64) model.LocalMsg {
		m := lmsg(key, uid, S)
		m.Date, m.Size = model.DateOf(date), size
		return m
	}
	st := []model.StatusRow{{UID: 1, Key: "a", Flags: S}, {UID: 2, Key: "b", Flags: S}, {UID: 3, Key: "c", Flags: S},
		{UID: 4, Key: "d", Flags: S}, {UID: 5, Key: "e", Flags: S}}
	in := input(st,
		[]model.RemoteMsg{
			r(1, old, 100),    // old, and deleted locally: not expunged
			r(2, recent, 100), // recent, deleted locally: expunged
			r(4, recent, 100), // local copy old (touched file): left alone
			r(5, recent, 900), // too large on the server only: left alone
			r(6, old, 100),    // new on the server but old: not fetched
			r(7, recent, 100), // new and recent: fetched
			r(8, recent, 900), // new and too large: not fetched
		},
		[]model.LocalMsg{
			l("c", 3, old, 100),    // expunged on the server, but old: kept
			l("d", 4, old, 100),    //
			l("e", 5, recent, 500), //
			l("n1", 0, old, 100),   // new local, old: not uploaded
			l("n2", 0, recent, 100),
		})
	o := opts
	o.Window = Window{RemoteSince: cut.Unix(), LocalSince: cut.Unix(), MaxSize: 800}
	p := PlanFolder(in, o)
	want := []string{"fetch 7 S", "upload n2 S", "expunge-remote 2 b"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n got %q\nwant %q", got, want)
	}
	// Without the window every message counts.
	if p := PlanFolder(in, opts); len(p.Ops) <= len(want) {
		t.Fatalf("without a window: %q", short(p.Ops))
	}
}
