package planner

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"mailtrail/model"
)

// world is a tiny simulation of both sides and the status store, so that
// plans can be applied, interrupted and re-planned without any I/O. Every
// message carries a content id so that convergence can be checked without
// caring about UIDs or keys.
type world struct {
	remote  map[uint32]simMsg
	local   map[string]simLocal
	status  map[uint32]model.StatusRow
	nextUID uint32
	nextKey int
}

type simMsg struct {
	content string
	flags   model.Flags
}

type simLocal struct {
	simMsg
	uid uint32
}

func (w *world) clone() *world {
	c := &world{remote: map[uint32]simMsg{}, local: map[string]simLocal{}, status: map[uint32]model.StatusRow{},
		nextUID: w.nextUID, nextKey: w.nextKey}
	for k, v := range w.remote {
		c.remote[k] = v
	}
	for k, v := range w.local {
		c.local[k] = v
	}
	for k, v := range w.status {
		c.status[k] = v
	}
	return c
}

func (w *world) input() Input {
	in := Input{Folder: "INBOX",
		Remote: RemoteState{Exists: true, Status: model.RemoteFolderStatus{UIDValidity: 1, UIDNext: w.nextUID}},
		Local:  LocalState{Exists: true, FMD5: fmd5},
		Status: model.FolderStatus{UIDValidity: 1}}
	rows := make([]model.StatusRow, 0, len(w.status))
	for _, r := range w.status {
		rows = append(rows, r)
	}
	in.Status.Rows = model.StatusRowsOf(rows...)
	for uid, m := range w.remote {
		in.Remote.Msgs = append(in.Remote.Msgs, model.RemoteMsg{UID: uid, Flags: m.flags})
	}
	sort.Slice(in.Remote.Msgs, func(i, j int) bool { return in.Remote.Msgs[i].UID < in.Remote.Msgs[j].UID })
	for k, m := range w.local {
		lm := model.LocalMsg{Key: k, UID: m.uid, Flags: m.flags}
		if m.uid != 0 {
			lm.FMD5 = fmd5
		}
		in.Local.Msgs = append(in.Local.Msgs, lm)
	}
	return in
}

// apply performs op's side effect, and its checkpoint unless crash is set.
func (w *world) apply(op model.Op, crash bool) {
	switch op.Kind {
	case model.OpFetch:
		w.nextKey++
		key := fmt.Sprintf("f%d", w.nextKey)
		w.local[key] = simLocal{simMsg{w.remote[op.UID].content, op.Flags}, op.UID}
		if !crash {
			w.status[op.UID] = model.StatusRow{UID: op.UID, Key: key, Flags: op.Flags}
		}
	case model.OpUpload:
		uid := w.nextUID
		w.nextUID++
		l := w.local[op.Key]
		w.remote[uid] = simMsg{l.content, op.Flags}
		// The executor renames the file with its new UID before the
		// checkpoint; a crash before that rename is resolved by identity
		// (outside the planner), so the simulation crashes after it.
		l.uid = uid
		w.local[op.Key] = l
		if !crash {
			delete(w.status, op.UID)
			w.status[uid] = model.StatusRow{UID: uid, Key: op.Key, Flags: op.Flags}
		}
	case model.OpStoreRemote:
		m := w.remote[op.UID]
		m.flags = (m.flags | op.Add) &^ op.Remove
		w.remote[op.UID] = m
		if op.RecordsRow && !crash {
			w.status[op.UID] = model.StatusRow{UID: op.UID, Key: op.Key, Flags: op.Flags}
		}
	case model.OpSetLocalFlags:
		l := w.local[op.Key]
		l.flags = op.Flags
		w.local[op.Key] = l
		if op.RecordsRow && !crash {
			w.status[op.UID] = model.StatusRow{UID: op.UID, Key: op.Key, Flags: op.Flags}
		}
	case model.OpExpungeRemote:
		delete(w.remote, op.UID)
		if !crash {
			delete(w.status, op.UID)
		}
	case model.OpDeleteLocal:
		delete(w.local, op.Key)
		if !crash {
			delete(w.status, op.UID)
		}
	case model.OpPair:
		if !crash {
			w.status[op.UID] = model.StatusRow{UID: op.UID, Key: op.Key, Flags: op.Flags}
		}
	case model.OpForget:
		if !crash {
			delete(w.status, op.UID)
		}
	}
}

// sync plans and applies until the plan is empty; it fails after 3 rounds.
func (w *world) sync(t *testing.T) {
	for round := 0; round < 3; round++ {
		p := PlanFolder(w.input(), opts)
		if p.Refused != "" {
			t.Fatalf("refused: %s", p.Refused)
		}
		if len(p.Ops) == 0 {
			return
		}
		for _, op := range p.Ops {
			w.apply(op, false)
		}
	}
	t.Fatalf("no convergence after 3 rounds: %v", short(PlanFolder(w.input(), opts).Ops))
}

// contents is what the mailbox holds, independent of UIDs and keys.
func (w *world) contents() (remote, local []string) {
	for _, m := range w.remote {
		remote = append(remote, m.content+":"+m.flags.String())
	}
	for _, m := range w.local {
		local = append(local, m.content+":"+m.flags.String())
	}
	sort.Strings(remote)
	sort.Strings(local)
	return
}

// randomWorld builds a synced mailbox and then changes both sides at random.
func randomWorld(rng *rand.Rand) *world {
	w := &world{remote: map[uint32]simMsg{}, local: map[string]simLocal{}, status: map[uint32]model.StatusRow{}, nextUID: 1}
	n := 3 + rng.Intn(8)
	for i := 0; i < n; i++ {
		uid := w.nextUID
		w.nextUID++
		f := model.Flags(rng.Intn(32))
		key := fmt.Sprintf("k%d", i)
		c := fmt.Sprintf("m%d", i)
		w.remote[uid] = simMsg{c, f}
		w.local[key] = simLocal{simMsg{c, f}, uid}
		w.status[uid] = model.StatusRow{UID: uid, Key: key, Flags: f}
	}
	for uid, m := range w.remote {
		switch rng.Intn(5) {
		case 0:
			delete(w.remote, uid)
		case 1:
			m.flags = model.Flags(rng.Intn(32))
			w.remote[uid] = m
		}
	}
	for k, m := range w.local {
		switch rng.Intn(5) {
		case 0:
			delete(w.local, k)
		case 1:
			m.flags = model.Flags(rng.Intn(32))
			w.local[k] = m
		}
	}
	for i := 0; i < rng.Intn(3); i++ {
		w.remote[w.nextUID] = simMsg{fmt.Sprintf("r%d", i), model.Flags(rng.Intn(32))}
		w.nextUID++
	}
	for i := 0; i < rng.Intn(3); i++ {
		w.local[fmt.Sprintf("n%d", i)] = simLocal{simMsg: simMsg{fmt.Sprintf("l%d", i), model.Flags(rng.Intn(32))}}
	}
	return w
}

// TestCrashAtEveryStepConverges is mbsync's "crash after step N, resume"
// applied to the planner: for random mailboxes, every op of the plan is
// interrupted in turn (side effect done, checkpoint lost), then syncing
// again must reach exactly the state of the uninterrupted sync, and both
// sides must hold the same messages with the same flags.
func TestCrashAtEveryStepConverges(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		start := randomWorld(rng)
		clean := start.clone()
		clean.sync(t)
		wantR, wantL := clean.contents()
		if !reflect.DeepEqual(wantR, wantL) {
			t.Fatalf("iter %d: sides differ after a clean sync:\n remote %v\n local  %v", iter, wantR, wantL)
		}
		ops := PlanFolder(start.input(), opts).Ops
		// One plan carried out leaves nothing to do: every row it
		// changes is recorded by its own operations (an OpPair, or the
		// flag operation that records its row).
		once := start.clone()
		for _, op := range ops {
			once.apply(op, false)
		}
		if p := PlanFolder(once.input(), opts); len(p.Ops) != 0 {
			t.Fatalf("iter %d: after the plan %v, the next plans %v", iter, short(ops), short(p.Ops))
		}
		for n := range ops {
			w := start.clone()
			for i := 0; i < n; i++ {
				w.apply(ops[i], false)
			}
			w.apply(ops[n], true)
			w.sync(t)
			gotR, gotL := w.contents()
			if !reflect.DeepEqual(gotR, wantR) || !reflect.DeepEqual(gotL, wantL) {
				t.Fatalf("iter %d crash at op %d (%v):\n remote %v\n local  %v\n want   %v", iter, n, ops[n], gotR, gotL, wantR)
			}
			if p := PlanFolder(w.input(), opts); len(p.Ops) != 0 {
				t.Fatalf("iter %d: a further sync still plans %v", iter, short(p.Ops))
			}
		}
	}
}

// TestNothingIsLostWithoutStatus: losing the status store entirely must not
// delete anything on either side.
func TestNothingIsLostWithoutStatus(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for iter := 0; iter < 200; iter++ {
		w := randomWorld(rng)
		w.status = map[uint32]model.StatusRow{}
		for _, op := range PlanFolder(w.input(), opts).Ops {
			if op.Kind == model.OpExpungeRemote || op.Kind == model.OpDeleteLocal {
				t.Fatalf("iter %d: planned %v without a status", iter, op)
			}
		}
	}
}
