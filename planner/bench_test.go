package planner

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"mailtrail/model"
)

// The planner benchmarks plan one folder of 1,000,000 messages, as the
// engine does when a folder's fast path does not apply: with nothing
// changed, and with 1% changed on both sides. They report time and bytes
// allocated per message (ns/msg, B/msg), and what the input itself weighs
// in memory per message (input-B/msg): the planner's share of a sync's
// peak memory. docs/PERFORMANCE.md quotes them.
//
// CI runs them once (-benchtime 1x) so that they keep working.

const benchMsgs = 1_000_000

var bench struct {
	once          sync.Once
	same, changed Input
	inputBytes    float64 // heap bytes per message of the no-change input
}

func benchKey(uid uint32) string {
	return fmt.Sprintf("1700000000.M%dP4242Q%d.mail.example.org", uid, uid)
}

// benchInputs builds the inputs once per process (building them costs
// more than planning them).
func benchInputs() {
	bench.once.Do(func() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		rows := make([]model.StatusRow, benchMsgs)
		remote := make([]model.RemoteMsg, benchMsgs)
		local := make([]model.LocalMsg, benchMsgs)
		for i := range benchMsgs {
			uid := uint32(i + 1)
			f := model.Seen
			if i%10 == 0 {
				f |= model.Answered
			}
			key := benchKey(uid)
			rows[i] = model.StatusRow{UID: uid, Key: key, Flags: f}
			remote[i] = model.RemoteMsg{UID: uid, Flags: f, Size: 4096}
			local[i] = model.LocalMsg{Key: key, UID: uid, FMD5: fmd5, Flags: f, Size: 4000}
		}
		bench.same = Input{
			Folder: "INBOX",
			Remote: RemoteState{Exists: true, Status: model.RemoteFolderStatus{Name: "INBOX", UIDValidity: 7, UIDNext: benchMsgs + 1, Messages: benchMsgs}, Msgs: remote},
			Local:  LocalState{Exists: true, FMD5: fmd5, Msgs: local},
			Status: model.FolderStatus{Name: "INBOX", UIDValidity: 7, Rows: model.StatusRowsOf(rows...)},
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		bench.inputBytes = float64(after.HeapAlloc-before.HeapAlloc) / benchMsgs

		// 1% changed, spread over the folder: 0.4% flags changed on the
		// server, 0.2% locally, 0.1% each expunged on the server, deleted
		// locally, new on the server and new locally.
		var r2 []model.RemoteMsg
		var l2 []model.LocalMsg
		for i := range benchMsgs {
			rm, lm := remote[i], local[i]
			switch i % 1000 {
			case 0, 1, 2, 3:
				rm.Flags |= model.Flagged
			case 4, 5:
				lm.Flags &^= model.Seen
			case 6:
				continue // expunged on the server: the local copy goes
			case 7:
				r2 = append(r2, rm)
				continue // deleted locally: expunged on the server
			}
			r2 = append(r2, rm)
			l2 = append(l2, lm)
		}
		for i := range benchMsgs / 1000 {
			uid := uint32(benchMsgs + 1 + i)
			r2 = append(r2, model.RemoteMsg{UID: uid, Flags: 0, Size: 4096})
			l2 = append(l2, model.LocalMsg{Key: fmt.Sprintf("1800000000.M%dP99.laptop", i), Flags: model.Seen, Size: 3000})
		}
		bench.changed = bench.same
		bench.changed.Remote.Msgs = r2
		bench.changed.Remote.Status.UIDNext = uint32(benchMsgs + 1 + benchMsgs/1000)
		bench.changed.Local.Msgs = l2
	})
}

func benchPlan(b *testing.B, in Input, wantOps int) {
	benchInputs()
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var p Plan
	for b.Loop() {
		p = PlanFolder(in, Options{CreateLocalFolders: true, CreateRemoteFolders: true})
	}
	runtime.ReadMemStats(&ms1)
	if p.Refused != "" || len(p.Ops) < wantOps {
		b.Fatalf("plan: %d ops (want at least %d), refused %q", len(p.Ops), wantOps, p.Refused)
	}
	n := float64(b.N) * benchMsgs
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/msg")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/n, "B/msg")
	b.ReportMetric(bench.inputBytes, "input-B/msg")
}

// BenchmarkPlanNoChange1M: nothing changed; the plan is empty.
func BenchmarkPlanNoChange1M(b *testing.B) {
	benchInputs()
	benchPlan(b, bench.same, 0)
}

// BenchmarkPlanChanged1M: 1% of a 1,000,000-message folder changed on
// both sides (about 10,000 operations).
func BenchmarkPlanChanged1M(b *testing.B) {
	benchPlan(b, bench.changed, 8000)
}
