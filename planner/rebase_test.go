package planner

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mailtrail/model"
)

// renumbered is a folder of n synced messages after the server changed its
// UIDVALIDITY to 9 and renumbered every message (old UID i is now 100+i).
func renumbered(n int) Input {
	st, rs, ls := synced(n)
	in := input(st, rs, ls)
	in.Remote.Status.UIDValidity = 9
	ids := &Identities{Remote: map[uint32]string{}, Local: map[string]string{}}
	for i := range in.Remote.Msgs {
		old := in.Remote.Msgs[i].UID
		in.Remote.Msgs[i].UID = 100 + old
		ids.Remote[100+old] = fmt.Sprintf("id%d", old)
		ids.Local[fmt.Sprintf("k%03d", old)] = fmt.Sprintf("id%d", old)
	}
	in.Identities = ids
	return in
}

func TestUIDValidityChangeNeedsIdentities(t *testing.T) {
	in := renumbered(3)
	if !NeedsIdentities(in, opts) {
		t.Fatal("UIDVALIDITY change: identities needed")
	}
	in.Identities = nil
	p := PlanFolder(in, opts)
	if len(p.Ops) != 0 || !p.NeedsReset || !strings.Contains(p.Refused, "UIDVALIDITY from 7 to 9") {
		t.Fatalf("got %q %v", p.Refused, short(p.Ops))
	}
}

func TestUIDValidityChangeRepairsByIdentity(t *testing.T) {
	in := renumbered(4)
	// Flags changed meanwhile: the server flagged one, the local side
	// unflagged Seen on another. The old row's flags are the ancestor.
	in.Remote.Msgs[0].Flags = S | F
	in.Local.Msgs[1].Flags = 0
	p := PlanFolder(in, opts)
	if p.Refused != "" {
		t.Fatalf("refused: %s", p.Refused)
	}
	want := []string{
		"rebase-folder",
		"pair 101 k001 S", "pair 102 k002 S", "pair 103 k003 S", "pair 104 k004 S",
		"store-remote-flags 102 k002 +- -S +row", "set-local-flags 101 k001 FS +row",
	}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n got %q\nwant %q", got, want)
	}
	if p.Ops[0].Validity != 9 {
		t.Fatalf("rebase records UIDVALIDITY %d, want 9", p.Ops[0].Validity)
	}
}

func TestUIDValidityChangeNewAndUnconfirmedAreCopiedNotDeleted(t *testing.T) {
	in := renumbered(5)
	in.Identities.Local["k005"] = "" // cannot be identified
	in.Remote.Msgs = append(in.Remote.Msgs, rmsg(200, 0))
	in.Identities.Remote[200] = "new-on-server"
	in.Local.Msgs = append(in.Local.Msgs, lmsg("new", 0, S))
	in.Identities.Local["new"] = "new-local"
	p := PlanFolder(in, opts)
	c := p.Counts()
	if p.Refused != "" || c[model.OpExpungeRemote]+c[model.OpDeleteLocal] != 0 {
		t.Fatalf("refused %q or deletes %v", p.Refused, c)
	}
	// 105 (k005 on the server) and 200 are fetched; k005 and "new" are
	// uploaded: an unconfirmed message may come twice, never zero times.
	if c[model.OpFetch] != 2 || c[model.OpUpload] != 2 || c[model.OpRebaseFolder] != 1 {
		t.Fatalf("counts %v: %q", c, short(p.Ops))
	}
}

func TestUIDValidityChangeTooFewConfirmedRefuses(t *testing.T) {
	in := renumbered(6)
	for k := range in.Identities.Local {
		if k != "k001" && k != "k002" {
			in.Identities.Local[k] = ""
		}
	}
	p := PlanFolder(in, opts)
	if len(p.Ops) != 0 || !p.NeedsReset || !strings.Contains(p.Refused, "only 2 of the 6 messages") {
		t.Fatalf("got %q %v", p.Refused, short(p.Ops))
	}
	// reset-folder goes ahead: two re-paired, the rest copied both ways.
	o := opts
	o.Reset = true
	p = PlanFolder(in, o)
	c := p.Counts()
	if p.Refused != "" || c[model.OpFetch] != 4 || c[model.OpUpload] != 4 || c[model.OpExpungeRemote]+c[model.OpDeleteLocal] != 0 {
		t.Fatalf("reset: %q %v", p.Refused, c)
	}
}

func TestDuplicateIdentitiesAreNotPaired(t *testing.T) {
	in := renumbered(6)
	in.Identities.Remote[103] = "id4" // two server messages claim id4
	p := PlanFolder(in, opts)
	if p.Refused != "" {
		t.Fatalf("refused: %s", p.Refused)
	}
	for _, op := range p.Ops {
		if op.Kind == model.OpPair && (op.Key == "k004" || op.Key == "k003") {
			t.Fatalf("ambiguous identity paired: %v", op)
		}
	}
}

func TestResetWithoutUIDValidityChangeIgnoresFileUIDs(t *testing.T) {
	st, rs, ls := synced(3)
	in := input(st, rs, ls)
	// The file names claim the wrong UIDs (k001 says 2, k002 says 1).
	in.Local.Msgs[0].UID, in.Local.Msgs[1].UID = 2, 1
	in.Identities = &Identities{
		Remote: map[uint32]string{1: "a", 2: "b", 3: "c"},
		Local:  map[string]string{"k001": "a", "k002": "b", "k003": "c"},
	}
	o := opts
	o.Reset = true
	p := PlanFolder(in, o)
	want := []string{"rebase-folder", "pair 1 k001 S", "pair 2 k002 S", "pair 3 k003 S"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestRebaseRefusedOnReadOnlyLocal(t *testing.T) {
	in := renumbered(3)
	o := opts
	o.LocalReadOnly = true
	if p := PlanFolder(in, o); p.Refused == "" || len(p.Ops) != 0 {
		t.Fatalf("got %q %v", p.Refused, short(p.Ops))
	}
}

// TestFirstMeetingPairsByIdentity: a folder never synced, with messages on
// both sides whose files name no UID of this folder (renamed by hand on
// both sides: they carry the old folder's FMD5). With identities, the
// same messages are paired, not copied both ways; each side's own goes
// across once. Without identities (none computed), everything is copied,
// as before. With a read-only local side, or files naming this folder's
// UIDs (a lost journal), no identities are asked for.
func TestFirstMeetingPairsByIdentity(t *testing.T) {
	_, rs, ls := synced(3)
	for i := range ls {
		ls[i].FMD5 = "another-folder"
	}
	in := input(model.FolderStatus{}.Rows.All(), rs, ls)
	in.Status = model.FolderStatus{Name: in.Folder}
	in.Remote.Msgs = append(in.Remote.Msgs, rmsg(4, 0))         // only on the server
	in.Local.Msgs = append(in.Local.Msgs, lmsg("k009", 0, S|F)) // only local
	in.Local.Msgs[0].Flags = S | F                              // flagged locally meanwhile
	if !NeedsIdentities(in, opts) {
		t.Fatal("a first meeting needs identities")
	}
	plain := PlanFolder(in, opts)
	if c := plain.Counts(); c[model.OpFetch] != 4 || c[model.OpUpload] != 4 {
		t.Fatalf("without identities: want everything copied, got %v", short(plain.Ops))
	}
	in.Identities = &Identities{Remote: map[uint32]string{1: "a", 2: "b", 3: "c", 4: "d"},
		Local: map[string]string{"k001": "a", "k002": "b", "k003": "c", "k009": "z"}}
	p := PlanFolder(in, opts)
	if p.Refused != "" {
		t.Fatalf("refused: %s", p.Refused)
	}
	c := p.Counts()
	if c[model.OpFetch] != 1 || c[model.OpUpload] != 1 || c[model.OpRebaseFolder] != 1 || c[model.OpStoreRemote] != 1 {
		t.Fatalf("want the three paired, one fetch, one upload, the local flag sent: got %v", short(p.Ops))
	}
	if !strings.Contains(p.Ops[0].Reason, "first sync of a folder with messages on both sides") {
		t.Errorf("reason: %q", p.Ops[0].Reason)
	}

	ro := opts
	ro.LocalReadOnly = true
	if NeedsIdentities(in, ro) {
		t.Error("read-only local side: its file names cannot take UIDs, no identities")
	}
	lost := in
	lost.Local.Msgs = append([]model.LocalMsg(nil), in.Local.Msgs[:3]...)
	for i := range lost.Local.Msgs {
		lost.Local.Msgs[i].FMD5 = in.Local.FMD5
	}
	if NeedsIdentities(lost, opts) {
		t.Error("every file names this folder's UID (a lost journal): paired by UID, no identities")
	}

	// Interrupted after one file was named with its UID: still a first
	// meeting; the named file is paired by its UID, the rest by identity.
	resumed := in
	resumed.Local.Msgs = append([]model.LocalMsg(nil), in.Local.Msgs...)
	resumed.Local.Msgs[1].FMD5 = in.Local.FMD5
	resumed.Identities = &Identities{Remote: in.Identities.Remote, Local: map[string]string{"k001": "a", "k002": "", "k003": "c", "k009": "z"}}
	if !NeedsIdentities(resumed, opts) {
		t.Fatal("a first meeting interrupted after naming one file: identities needed still")
	}
	p = PlanFolder(resumed, opts)
	c = p.Counts()
	if p.Refused != "" || c[model.OpFetch] != 1 || c[model.OpUpload] != 1 {
		t.Fatalf("resumed: want the three paired (k002 by its UID), one fetch, one upload: got %q %v", p.Refused, short(p.Ops))
	}
	if !slices.Contains(short(p.Ops), "pair 2 k002 S") {
		t.Errorf("resumed: k002 not paired by its UID: %v", short(p.Ops))
	}
}
