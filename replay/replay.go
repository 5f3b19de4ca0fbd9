package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"mailtrail/adapters/memstore"
	"mailtrail/engine"
	"mailtrail/internal/converge"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

// FolderDiff is how this build's plan of one folder differs from the
// recorded one. Differences in the wording of reasons alone are listed in
// Notes and do not count.
type FolderDiff struct {
	Folder string
	Lines  []string // "- recorded op" / "+ replanned op" / other differences
	Notes  []string
}

// Replan plans every folder of the bundle again with this build's planner
// and returns the folders whose plan differs from the recorded one.
func Replan(b *Bundle) ([]FolderDiff, error) {
	var out []FolderDiff
	for _, f := range b.Folders {
		obs, err := f.Observation()
		if err != nil {
			return nil, err
		}
		in, opts, err := engine.Input(obs)
		if err != nil {
			return nil, fmt.Errorf("folder %s: options: %w", f.Name, err)
		}
		got := planner.PlanFolder(in, opts)
		d := comparePlans(f.Name, obs, got)
		if len(d.Lines) > 0 || len(d.Notes) > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// Differs reports whether any diff counts (beyond notes).
func Differs(diffs []FolderDiff) bool {
	for _, d := range diffs {
		if len(d.Lines) > 0 {
			return true
		}
	}
	return false
}

// opLine renders an op with every field, without its reason.
func opLine(op model.Op) string {
	op.Reason = ""
	return op.String()
}

func comparePlans(folder string, rec journal.Observation, got planner.Plan) FolderDiff {
	d := FolderDiff{Folder: folder}
	switch {
	case rec.Refused != "" && got.Refused == "":
		d.Lines = append(d.Lines, "- recorded: refused: "+rec.Refused, fmt.Sprintf("+ replanned: not refused, %d operations", len(got.Ops)))
	case rec.Refused == "" && got.Refused != "":
		d.Lines = append(d.Lines, fmt.Sprintf("- recorded: not refused, %d operations", len(rec.Ops)), "+ replanned: refused: "+got.Refused)
	case rec.Refused != got.Refused:
		d.Notes = append(d.Notes, fmt.Sprintf("refusal worded differently: recorded %q, replanned %q", rec.Refused, got.Refused))
	}
	if rec.VoidedStatus != got.VoidedStatus {
		d.Lines = append(d.Lines, fmt.Sprintf("- recorded: status set aside %v", rec.VoidedStatus), fmt.Sprintf("+ replanned: status set aside %v", got.VoidedStatus))
	}
	a, b := make([]string, len(rec.Ops)), make([]string, len(got.Ops))
	for i, op := range rec.Ops {
		a[i] = opLine(op)
	}
	for i, op := range got.Ops {
		b[i] = opLine(op)
	}
	if reflect.DeepEqual(a, b) {
		for i := range rec.Ops {
			if rec.Ops[i].Reason != got.Ops[i].Reason {
				d.Notes = append(d.Notes, fmt.Sprintf("op %d %s: reason recorded %q, replanned %q", i+1, a[i], rec.Ops[i].Reason, got.Ops[i].Reason))
			}
		}
		return d
	}
	d.Lines = append(d.Lines, diffLines(a, b)...)
	return d
}

// diffLines is a line diff of two op lists (longest common subsequence).
func diffLines(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, fmt.Sprintf("+ replanned #%d: %s", j+1, b[j]))
			j++
		default:
			out = append(out, fmt.Sprintf("- recorded #%d: %s", i+1, a[i]))
			i++
		}
	}
	return out
}

// ExecResult is what Execute found.
type ExecResult struct {
	// Done counts the operations carried out per folder.
	Done map[string]map[model.OpKind]int
	// Failed lists operations and folders that failed.
	Failed []string
	// Diffs lists where the two sides still disagree after the sync, and
	// Leftover the operations a second plan still wants: both empty when
	// the plan converged.
	Diffs    []string
	Leftover []string
	// Refused are the folders refused (not executed, not checked).
	Refused []string
}

// OK reports whether the plan carried out cleanly and converged.
func (r ExecResult) OK() bool {
	return len(r.Failed) == 0 && len(r.Diffs) == 0 && len(r.Leftover) == 0
}

// Execute rebuilds the observed folders as in-memory stores (a synthetic
// body per message: the same body on both sides for a message that the
// observation pairs, by UID in its file name or by its status row), syncs
// them with this build's engine, then checks that both sides hold the same
// messages with the same flags and that a second sync plans nothing.
func Execute(ctx context.Context, b *Bundle) (ExecResult, error) {
	res := ExecResult{Done: map[string]map[model.OpKind]int{}}
	remote, local := memstore.NewRemote(), memstore.NewLocal()
	j, err := journal.Open("", journal.Options{InMemory: true})
	if err != nil {
		return res, err
	}
	defer j.Close()
	inboxObserved := false
	var cp journal.Checkpoint
	var folders []string
	var opts planner.Options
	for fi, f := range b.Folders {
		obs, err := f.Observation()
		if err != nil {
			return res, err
		}
		in, o, err := engine.Input(obs)
		if err != nil {
			return res, err
		}
		if fi == 0 {
			opts = o
		}
		folders = append(folders, f.Name)
		if f.Plan.Refused != "" {
			res.Refused = append(res.Refused, f.Name)
		}
		if strings.EqualFold(f.Name, "INBOX") && f.Remote.Exists {
			inboxObserved = true
		}
		if err := rebuild(remote, local, in); err != nil {
			return res, fmt.Errorf("folder %s: rebuild: %w", f.Name, err)
		}
		if in.Status.UIDValidity != 0 || in.Status.Rows.Len() > 0 {
			cp.Folders = append(cp.Folders, journal.FolderMeta{Name: f.Name, UIDValidity: in.Status.UIDValidity})
			for _, r := range in.Status.Rows.All() {
				cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: f.Name, Row: r})
			}
		}
	}
	if !inboxObserved {
		remote.DeleteFolder("INBOX") // a new Remote has it; the bundle says whether the server had it
	}
	if err := j.Checkpoint(cp); err != nil {
		return res, err
	}
	acct := &engine.Account{Name: "replay", Remote: remote, Local: local, Journal: j, Log: zerolog.Nop(),
		Folders: folders, MaxConnections: 1, Planner: opts, Command: "replay"}
	rep, err := acct.Sync(ctx)
	if err != nil {
		return res, err
	}
	refused := map[string]bool{}
	for _, n := range res.Refused {
		refused[n] = true
	}
	for _, fr := range rep.Folders {
		res.Done[fr.Name] = fr.Done
		if fr.Err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", fr.Name, fr.Err))
		}
		for _, e := range fr.Failed {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %v", fr.Name, e))
		}
		if fr.Plan.Refused != "" && !refused[fr.Name] {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: refused on replay: %s", fr.Name, fr.Plan.Refused))
		}
	}
	sum, err := converge.Check(ctx, remote, local)
	if err != nil {
		return res, err
	}
	for _, d := range sum.Diffs {
		name, _, _ := strings.Cut(d, ": ")
		if !refused[name] {
			res.Diffs = append(res.Diffs, d)
		}
	}
	acct.Now = nil
	again, err := acct.Sync(ctx)
	if err != nil {
		return res, err
	}
	for _, fr := range again.Folders {
		if refused[fr.Name] {
			continue
		}
		for _, op := range fr.Plan.Ops {
			res.Leftover = append(res.Leftover, fmt.Sprintf("%s: %s", fr.Name, op))
		}
	}
	return res, nil
}

// rebuild puts one observed folder into the stores.
func rebuild(remote *memstore.Remote, local *memstore.Local, in planner.Input) error {
	name := in.Folder
	// A message's identity: a remote UID, which a local file shares when
	// its name carries that UID for this folder or its status row pairs
	// them; other local files are messages of their own.
	rowByKey := map[string]uint32{}
	for _, r := range in.Status.Rows.All() {
		rowByKey[r.Key] = r.UID
	}
	body := func(id string) []byte {
		return []byte("Message-ID: <" + id + "@replay.mailtrail>\r\nSubject: replay\r\n\r\n" + id + "\r\n")
	}
	if in.Remote.Exists {
		if err := remote.CreateFolder(context.Background(), name); err != nil {
			return err
		}
		if v := in.Remote.Status.UIDValidity; v != 0 {
			if err := remote.SetUIDValidity(name, v); err != nil {
				return err
			}
		}
		for _, m := range in.Remote.Msgs {
			id := fmt.Sprintf("r%d.%s", m.UID, hashName(name))
			if c, ok := contentID(in, m.UID, ""); ok {
				id = c
			}
			if err := remote.PutMessage(name, memstore.RemoteMessage{UID: m.UID, Flags: m.Flags, InternalDate: m.InternalDate.Time(),
				Body: body(id)}); err != nil {
				return err
			}
		}
		var top uint32
		for _, m := range in.Remote.Msgs {
			top = max(top, m.UID)
		}
		if next := in.Remote.Status.UIDNext; next > top {
			if err := remote.SetUIDNext(name, next); err != nil {
				return err
			}
		}
	}
	if in.Local.Exists {
		if err := local.CreateFolder(context.Background(), name); err != nil {
			return err
		}
		for _, m := range in.Local.Msgs {
			id := "l" + m.Key + "." + hashName(name)
			uid := m.UID
			if uid != 0 && m.FMD5 == in.Local.FMD5 {
				id = fmt.Sprintf("r%d.%s", uid, hashName(name))
			} else if u, ok := rowByKey[m.Key]; ok {
				id = fmt.Sprintf("r%d.%s", u, hashName(name))
			}
			if c, ok := contentID(in, 0, m.Key); ok {
				id = c
			}
			fmd5 := ""
			switch {
			case uid == 0:
			case m.FMD5 == in.Local.FMD5:
				fmd5 = memstore.FolderMD5(name)
			default:
				fmd5 = "other-" + m.FMD5
			}
			lb := body(id)
			lb = []byte(strings.ReplaceAll(string(lb), "\r\n", "\n"))
			if err := local.PutMessage(name, memstore.LocalMessage{Key: m.Key, UID: uid, FMD5: fmd5, Flags: m.Flags, Body: lb}); err != nil {
				return err
			}
		}
	}
	return nil
}

// contentID is the synthetic identity of a message whose content identity
// was observed: messages with equal identities get equal bodies, so the
// executor identifies them alike again.
func contentID(in planner.Input, uid uint32, key string) (string, bool) {
	if in.Identities == nil {
		return "", false
	}
	var id string
	var ok bool
	if key != "" {
		id, ok = in.Identities.Local[key]
	} else {
		id, ok = in.Identities.Remote[uid]
	}
	if !ok {
		return "", false
	}
	return "c" + hashName(id), true
}

func hashName(name string) string {
	b, _ := json.Marshal(name)
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, string(b))
	return s
}

// Summary renders diffs for people.
func Summary(diffs []FolderDiff) string {
	var sb strings.Builder
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].Folder < diffs[j].Folder })
	for _, d := range diffs {
		if len(d.Lines) > 0 {
			fmt.Fprintf(&sb, "folder %s: plan differs\n", d.Folder)
		} else {
			fmt.Fprintf(&sb, "folder %s: same plan\n", d.Folder)
		}
		for _, l := range d.Lines {
			fmt.Fprintf(&sb, "  %s\n", l)
		}
		for _, n := range d.Notes {
			fmt.Fprintf(&sb, "  note: %s\n", n)
		}
	}
	return sb.String()
}
