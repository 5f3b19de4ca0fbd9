package replay

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"mailtrail/journal"
)

// ErrNoObservations: the run recorded nothing to replay.
var ErrNoObservations = errors.New("no observations")

// Export builds the bundle of run (0: the latest run that recorded
// observations) from an account's journal. It is not redacted; call Redact.
func Export(j *journal.Store, account string, run uint64, now time.Time) (*Bundle, error) {
	runs, err := j.Runs()
	if err != nil {
		return nil, err
	}
	var obs []journal.Observation
	var info *journal.Run
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if run != 0 && r.ID != run {
			continue
		}
		if obs, err = j.Observations(r.ID); err != nil {
			return nil, err
		}
		if len(obs) > 0 || run != 0 {
			info = &runs[i]
			break
		}
	}
	switch {
	case info == nil && run != 0:
		return nil, fmt.Errorf("run %d is not in the journal (compacted, or never ran); `mailtrail runs` lists the runs", run)
	case info == nil:
		return nil, fmt.Errorf("%w: no run in the journal recorded observations (only runs that changed something or refused a folder do, and only the latest %d runs keep them)", ErrNoObservations, journal.DefaultObservationRuns)
	case len(obs) == 0:
		return nil, fmt.Errorf("%w: run %d recorded none (it changed nothing and refused nothing, or its observations were pruned: only the latest runs keep them)", ErrNoObservations, info.ID)
	}

	// The journalled intents of the run, per folder in order: their
	// message fields and results.
	type entry struct {
		msg *journal.MsgInfo
		res Result
	}
	byFolder := map[string][]entry{}
	err = j.Operations(func(e journal.OpEntry) error {
		if e.Run == info.ID {
			byFolder[e.Op.Folder] = append(byFolder[e.Op.Folder], entry{e.Msg, Result{State: e.State, Err: e.Err, UID: e.ResultUID, Key: e.ResultKey}})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b := &Bundle{Format: Format, Version: Version, Created: now.UTC(), Account: account,
		Run: Run{ID: info.ID, Command: info.Info.Command, Args: scrubArgs(info.Info.Args), Started: info.Info.Started.UTC(), Ended: info.Ended}}
	if info.Ended {
		b.Run.Finished, b.Run.Counts, b.Run.Err = info.Summary.Finished.UTC(), info.Summary.Counts, info.Summary.Err
	}
	for _, o := range obs {
		var msgs []*journal.MsgInfo
		var results []Result
		// Intents of a folder in a run come from one AppendObserved, in
		// plan order; a folder moved into by another's op has none.
		if es := byFolder[o.Folder]; len(es) == len(o.Ops) {
			for _, e := range es {
				msgs = append(msgs, e.msg)
				results = append(results, e.res)
			}
		}
		f, err := FolderFromObservation(o, msgs, results)
		if err != nil {
			return nil, fmt.Errorf("folder %s: %w", o.Folder, err)
		}
		b.Folders = append(b.Folders, f)
	}
	return b, nil
}

// scrubArgs drops command-line values that may hold a secret (-k
// remotepass=...).
func scrubArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.Contains(strings.ToLower(a), "pass") {
			a = "(removed: may hold a secret)"
		}
		out = append(out, a)
	}
	return out
}

// redactor replaces names with pseudonyms: the same name always gets the
// same pseudonym within one bundle, so the bundle still replays, and
// message keys keep their order (the planner orders operations by key).
// The hash key is random and not kept: a pseudonym cannot be checked
// against a guessed name.
type redactor struct {
	secret  []byte
	folders map[string]string
	keys    map[string]string
	fmd5s   map[string]string
}

func (r *redactor) hash(prefix, s string) string {
	if s == "" {
		return ""
	}
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(prefix + "\x00" + s))
	return prefix + hex.EncodeToString(m.Sum(nil))[:12]
}

// folder pseudonymises each level of a folder name; INBOX, which every
// server has, stays.
func (r *redactor) folder(name string) string {
	if name == "" {
		return ""
	}
	if p, ok := r.folders[name]; ok {
		return p
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if !(i == 0 && strings.EqualFold(p, "INBOX")) {
			parts[i] = r.hash("f", p)
		}
	}
	p := strings.Join(parts, "/")
	r.folders[name] = p
	return p
}

// Redact replaces, throughout the bundle: folder names, message keys and
// FMD5 tags by consistent pseudonyms; Message-IDs, subjects and senders by
// keyed hashes; error texts and command-line arguments (which name paths,
// hosts and users) by "(redacted)". UIDs, flags, sizes and dates stay:
// replay needs them and they say nothing of the content.
func (b *Bundle) Redact() error {
	if b.Redacted {
		return nil
	}
	r := &redactor{secret: make([]byte, 32), folders: map[string]string{}, keys: map[string]string{}, fmd5s: map[string]string{}}
	if _, err := rand.Read(r.secret); err != nil {
		return err
	}
	// Keys: numbered in sorted order across the whole bundle.
	keySet := map[string]bool{}
	fmd5Set := map[string]bool{}
	for _, f := range b.Folders {
		for _, m := range f.Local.Msgs {
			keySet[m.Key] = true
			fmd5Set[m.FMD5] = true
		}
		fmd5Set[f.Local.FMD5] = true
		for _, row := range f.Status.Rows {
			keySet[row.Key] = true
		}
		if f.Identities != nil {
			for k := range f.Identities.Local {
				keySet[k] = true
			}
		}
		for _, op := range f.Plan.Ops {
			if k, ok := op["Key"].(string); ok {
				keySet[k] = true
			}
		}
		for _, res := range f.Results {
			keySet[res.Key] = true
		}
	}
	delete(keySet, "")
	delete(fmd5Set, "")
	for i, k := range sortedKeys(keySet) {
		r.keys[k] = fmt.Sprintf("k%07d", i+1)
	}
	for i, k := range sortedKeys(fmd5Set) {
		r.fmd5s[k] = fmt.Sprintf("fmd5-%04d", i+1)
	}
	for _, f := range b.Folders {
		r.folder(f.Name)
		for _, op := range f.Plan.Ops {
			if from, ok := op["From"].(string); ok {
				r.folder(from)
			}
		}
	}
	// Free text (reasons, refusals) may quote names: replace them, longest
	// first so that "Archive/2024" goes before "Archive".
	var olds []string
	repl := map[string]string{}
	for k, v := range r.keys {
		olds, repl[k] = append(olds, k), v
	}
	for k, v := range r.folders {
		olds, repl[k] = append(olds, k), v
	}
	sort.Slice(olds, func(i, j int) bool {
		return len(olds[i]) > len(olds[j]) || len(olds[i]) == len(olds[j]) && olds[i] < olds[j]
	})
	var pairs []string
	for _, o := range olds {
		pairs = append(pairs, o, repl[o])
	}
	text := strings.NewReplacer(pairs...)

	b.Account = r.hash("a", b.Account)
	if len(b.Run.Args) > 0 {
		b.Run.Args = []string{"(redacted)"}
	}
	if b.Run.Err != "" {
		b.Run.Err = "(redacted)"
	}
	for fi := range b.Folders {
		f := &b.Folders[fi]
		f.Name = r.folders[f.Name]
		f.Local.FMD5 = r.fmd5s[f.Local.FMD5]
		for i := range f.Local.Msgs {
			m := &f.Local.Msgs[i]
			m.Key, m.FMD5 = r.keys[m.Key], r.fmd5s[m.FMD5]
		}
		for i := range f.Status.Rows {
			f.Status.Rows[i].Key = r.keys[f.Status.Rows[i].Key]
		}
		if ids := f.Identities; ids != nil {
			red := &Identities{Remote: map[uint32]string{}, Local: map[string]string{}}
			for u, id := range ids.Remote {
				red.Remote[u] = r.hash("c", id)
			}
			for k, id := range ids.Local {
				red.Local[r.keys[k]] = r.hash("c", id)
			}
			f.Identities = red
		}
		f.Plan.Refused = text.Replace(f.Plan.Refused)
		for _, op := range f.Plan.Ops {
			if v, ok := op["Folder"].(string); ok {
				op["Folder"] = r.folder(v)
			}
			if v, ok := op["From"].(string); ok {
				op["From"] = r.folder(v)
			}
			if v, ok := op["Key"].(string); ok {
				op["Key"] = r.keys[v]
			}
			if v, ok := op["Reason"].(string); ok {
				op["Reason"] = text.Replace(v)
			}
			switch m := op["Msg"].(type) {
			case *journal.MsgInfo:
				op["Msg"] = &journal.MsgInfo{MessageID: r.hash("id-", m.MessageID), Subject: r.hash("subj-", m.Subject), From: r.hash("from-", m.From), Date: m.Date}
			case map[string]any:
				for _, k := range []string{"message_id", "subject", "from"} {
					if s, ok := m[k].(string); ok {
						m[k] = r.hash(k+"-", s)
					}
				}
			}
		}
		for i := range f.Results {
			res := &f.Results[i]
			res.Key = r.keys[res.Key]
			if res.Err != "" {
				res.Err = "(redacted)"
			}
		}
	}
	b.Redacted = true
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
