package planner

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"mailtrail/model"
)

const (
	S = model.Seen
	R = model.Answered
	F = model.Flagged
	D = model.Draft
	T = model.Deleted
)

const fmd5 = "0123456789abcdef0123456789abcdef"

func rmsg(uid uint32, f model.Flags) model.RemoteMsg {
	return model.RemoteMsg{UID: uid, Flags: f, Size: 100}
}
func lmsg(key string, uid uint32, f model.Flags) model.LocalMsg {
	m := model.LocalMsg{Key: key, UID: uid, Flags: f, Size: 98}
	if uid != 0 {
		m.FMD5 = fmd5
	}
	return m
}

func input(status []model.StatusRow, remote []model.RemoteMsg, local []model.LocalMsg) Input {
	st := model.FolderStatus{Name: "INBOX", Rows: model.StatusRowsOf(slices.Clone(status)...)}
	if status != nil {
		st.UIDValidity = 7
	}
	return Input{
		Folder: "INBOX",
		Remote: RemoteState{Exists: true, Status: model.RemoteFolderStatus{Name: "INBOX", UIDValidity: 7, UIDNext: 50}, Msgs: remote},
		Local:  LocalState{Exists: true, FMD5: fmd5, Msgs: local},
		Status: st,
	}
}

var opts = Options{CreateRemoteFolders: true, CreateLocalFolders: true}

// short renders ops compactly for table comparison: "kind uid key flags",
// then "+row" for an operation that records its status row.
func short(ops []model.Op) []string {
	var out []string
	for _, o := range ops {
		s := o.Kind.String()
		if o.UID != 0 {
			s += " " + itoa(o.UID)
		}
		if o.Key != "" {
			s += " " + o.Key
		}
		switch o.Kind {
		case model.OpStoreRemote:
			s += " +" + o.Add.String() + " -" + o.Remove.String()
		case model.OpFetch, model.OpUpload, model.OpSetLocalFlags, model.OpPair:
			s += " " + o.Flags.String()
		}
		if o.RecordsRow {
			s += " +row"
		}
		out = append(out, s)
	}
	return out
}

func itoa(u uint32) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for u > 0 {
		b = append([]byte{byte('0' + u%10)}, b...)
		u /= 10
	}
	return string(b)
}

func TestRuleTable(t *testing.T) {
	row := func(uid uint32, key string, f model.Flags) model.StatusRow {
		return model.StatusRow{UID: uid, Key: key, Flags: f}
	}
	cases := []struct {
		name   string
		status []model.StatusRow
		remote []model.RemoteMsg
		local  []model.LocalMsg
		want   []string
	}{
		{"new on server is fetched", nil, []model.RemoteMsg{rmsg(1, S)}, nil,
			[]string{"fetch 1 S"}},
		{"new local file is uploaded", nil, nil, []model.LocalMsg{lmsg("k1", 0, F)},
			[]string{"upload k1 F"}},
		{"expunged on server deletes local", []model.StatusRow{row(1, "k1", S)}, nil, []model.LocalMsg{lmsg("k1", 1, S)},
			[]string{"delete-local 1 k1"}},
		{"deleted locally expunges on server", []model.StatusRow{row(1, "k1", S)}, []model.RemoteMsg{rmsg(1, S)}, nil,
			[]string{"expunge-remote 1 k1"}},
		{"gone on both sides forgets the row", []model.StatusRow{row(1, "k1", S)}, nil, nil,
			[]string{"forget 1"}},
		{"unchanged pair plans nothing", []model.StatusRow{row(1, "k1", S)}, []model.RemoteMsg{rmsg(1, S)}, []model.LocalMsg{lmsg("k1", 1, S)},
			nil},
		{"flag added on server goes local", []model.StatusRow{row(1, "k1", 0)}, []model.RemoteMsg{rmsg(1, S)}, []model.LocalMsg{lmsg("k1", 1, 0)},
			[]string{"set-local-flags 1 k1 S +row"}},
		{"flag removed locally goes to server", []model.StatusRow{row(1, "k1", S|F)}, []model.RemoteMsg{rmsg(1, S|F)}, []model.LocalMsg{lmsg("k1", 1, S)},
			[]string{"store-remote-flags 1 k1 +- -F +row"}},
		{"flags changed on both sides merge", []model.StatusRow{row(1, "k1", S)}, []model.RemoteMsg{rmsg(1, S|F)}, []model.LocalMsg{lmsg("k1", 1, R)},
			[]string{"store-remote-flags 1 +R -S", "set-local-flags 1 k1 FR", "pair 1 k1 FR"}},
		{"same change on both sides only updates status", []model.StatusRow{row(1, "k1", 0)}, []model.RemoteMsg{rmsg(1, S)}, []model.LocalMsg{lmsg("k1", 1, S)},
			[]string{"pair 1 k1 S"}},
		{"all five flags map", []model.StatusRow{row(1, "k1", 0)}, []model.RemoteMsg{rmsg(1, S|R|F|D|T)}, []model.LocalMsg{lmsg("k1", 1, 0)},
			[]string{"set-local-flags 1 k1 DFRST +row"}},
		{"deleted locally but flagged on server is kept", []model.StatusRow{row(1, "k1", S)}, []model.RemoteMsg{rmsg(1, S|F)}, nil,
			[]string{"fetch 1 FS"}},
		{"expunged on server but flagged locally is kept", []model.StatusRow{row(1, "k1", S)}, nil, []model.LocalMsg{lmsg("k1", 1, S|F)},
			[]string{"upload 1 k1 FS"}},
		{"new on both sides: both copied", nil, []model.RemoteMsg{rmsg(3, 0)}, []model.LocalMsg{lmsg("new", 0, S)},
			[]string{"fetch 3 -", "upload new S"}},
		{"local file with this folder's UID but no status is paired, flags unioned", nil,
			[]model.RemoteMsg{rmsg(4, S)}, []model.LocalMsg{lmsg("k4", 4, F)},
			[]string{"store-remote-flags 4 +F --", "set-local-flags 4 k4 FS", "pair 4 k4 FS"}},
		{"local file with another folder's UID is new", nil, []model.RemoteMsg{rmsg(4, 0)},
			[]model.LocalMsg{{Key: "moved", UID: 4, FMD5: "ffffffffffffffffffffffffffffffff"}},
			[]string{"fetch 4 -", "upload moved -"}},
		{"a copied file with the same UID is uploaded once", []model.StatusRow{row(1, "a", 0)}, []model.RemoteMsg{rmsg(1, 0)},
			[]model.LocalMsg{lmsg("a", 1, 0), lmsg("b", 1, 0)},
			[]string{"upload b -"}},
		{"file renamed by another program re-pairs by UID", []model.StatusRow{row(1, "old", S)}, []model.RemoteMsg{rmsg(1, S)},
			[]model.LocalMsg{lmsg("new", 1, S)},
			[]string{"pair 1 new S"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanFolder(input(c.status, c.remote, c.local), opts)
			if p.Refused != "" {
				t.Fatalf("refused: %s", p.Refused)
			}
			if got := short(p.Ops); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("ops\n got %q\nwant %q", got, c.want)
			}
			for _, op := range p.Ops {
				if op.Reason == "" {
					t.Errorf("op %v has no reason", op)
				}
			}
		})
	}
}

func TestUIDValidityChangeRefusesAndDeletesNothing(t *testing.T) {
	in := input([]model.StatusRow{{UID: 1, Key: "k1"}}, []model.RemoteMsg{rmsg(1, 0)}, []model.LocalMsg{lmsg("k1", 1, 0)})
	in.Remote.Status.UIDValidity = 8
	p := PlanFolder(in, opts)
	if len(p.Ops) != 0 || !strings.Contains(p.Refused, "UIDVALIDITY from 7 to 8") {
		t.Fatalf("want refusal naming both UIDVALIDITYs and no ops, got %q %v", p.Refused, p.Ops)
	}
}

func TestVanishedLocalFolderRedownloads(t *testing.T) {
	in := input([]model.StatusRow{{UID: 1, Key: "k1"}, {UID: 2, Key: "k2"}}, []model.RemoteMsg{rmsg(1, 0), rmsg(2, S)}, nil)
	in.Local.Exists = false
	p := PlanFolder(in, opts)
	want := []string{"create-local-folder", "fetch 1 -", "fetch 2 S"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) || !p.VoidedStatus {
		t.Fatalf("got %q voided=%v, want %q voided", got, p.VoidedStatus, want)
	}
}

func TestVanishedRemoteFolderReuploads(t *testing.T) {
	in := input([]model.StatusRow{{UID: 1, Key: "k1"}}, nil, []model.LocalMsg{lmsg("k1", 1, S)})
	in.Remote = RemoteState{}
	p := PlanFolder(in, opts)
	want := []string{"create-remote-folder", "upload k1 S"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestCreateFoldersDisabledRefuses(t *testing.T) {
	in := input(nil, nil, []model.LocalMsg{lmsg("k1", 0, 0)})
	in.Remote = RemoteState{}
	if p := PlanFolder(in, Options{CreateLocalFolders: true}); p.Refused == "" || len(p.Ops) != 0 {
		t.Fatalf("want refusal, got %+v", p)
	}
}

func TestMergeIsThreeWay(t *testing.T) {
	for s := model.Flags(0); s <= model.AllFlags; s++ {
		for r := model.Flags(0); r <= model.AllFlags; r++ {
			// One side unchanged: the other side wins exactly.
			if got := Merge(s, r, s); got != r {
				t.Fatalf("Merge(%s,%s,%s)=%s want %s", s, r, s, got, r)
			}
			if got := Merge(s, s, r); got != r {
				t.Fatalf("Merge(%s,%s,%s)=%s want %s", s, s, r, got, r)
			}
			// Merging again with the result as the new status is stable.
			for l := model.Flags(0); l <= model.AllFlags; l++ {
				m := Merge(s, r, l)
				if Merge(m, m, m) != m || Merge(s, m, l) != m || Merge(s, r, m) != m {
					t.Fatalf("merge not idempotent for s=%s r=%s l=%s", s, r, l)
				}
			}
		}
	}
}

func TestDeterministicOrder(t *testing.T) {
	in := input(nil, []model.RemoteMsg{rmsg(9, 0), rmsg(2, 0), rmsg(5, 0)}, []model.LocalMsg{lmsg("z", 0, 0), lmsg("a", 0, 0)})
	first := short(PlanFolder(in, opts).Ops)
	for i := 0; i < 20; i++ {
		if got := short(PlanFolder(in, opts).Ops); !reflect.DeepEqual(got, first) {
			t.Fatalf("plan order changed: %q vs %q", got, first)
		}
	}
	want := []string{"fetch 2 -", "fetch 5 -", "fetch 9 -", "upload a -", "upload z -"}
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("got %q want %q", first, want)
	}
}

func TestReadOnlyRemoteNeverWrittenAndStatusKept(t *testing.T) {
	in := input([]model.StatusRow{{UID: 1, Key: "k1", Flags: 0}, {UID: 2, Key: "k2"}},
		[]model.RemoteMsg{rmsg(1, 0), rmsg(2, 0), rmsg(3, S)},
		[]model.LocalMsg{lmsg("k1", 1, S), lmsg("new", 0, 0)})
	p := PlanFolder(in, Options{RemoteReadOnly: true, CreateLocalFolders: true})
	// k1's flag change cannot reach the server, so its status row must not
	// record S (that would later read as "removed on the server"); k2's
	// local deletion cannot be propagated; the new local file stays local.
	want := []string{"fetch 3 S"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestReadOnlyLocalNeverWritten(t *testing.T) {
	in := input([]model.StatusRow{{UID: 1, Key: "k1"}}, []model.RemoteMsg{rmsg(1, F), rmsg(2, 0)}, []model.LocalMsg{lmsg("k1", 1, 0), lmsg("n", 0, 0)})
	p := PlanFolder(in, Options{LocalReadOnly: true, CreateRemoteFolders: true})
	want := []string{"upload n -"}
	if got := short(p.Ops); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}
