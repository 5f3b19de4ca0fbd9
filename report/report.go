// Package report renders what mailtrail did or would do as text for people:
// sync summaries, dry-run plans and journal listings. It formats; it
// decides nothing and changes nothing.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"mailtrail/engine"
	"mailtrail/journal"
	"mailtrail/model"
)

// kindOrder is the order in which counts are printed.
var kindOrder = []model.OpKind{
	model.OpCreateLocalFolder, model.OpCreateRemoteFolder, model.OpRebaseFolder, model.OpMoveRemote, model.OpMoveLocal,
	model.OpFetch, model.OpUpload,
	model.OpStoreRemote, model.OpSetLocalFlags, model.OpExpungeRemote, model.OpDeleteLocal,
	model.OpPair, model.OpForget,
}

// Counts renders op counts as "3 fetch, 1 upload", or "nothing to do".
func Counts(c map[model.OpKind]int) string {
	var parts []string
	for _, k := range kindOrder {
		if c[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
		}
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	return strings.Join(parts, ", ")
}

// Summary writes one line per folder that did something (to w) or failed
// or was refused (to errw), and a total line (to w).
func Summary(w, errw io.Writer, r engine.Report, verbose bool) {
	total := map[model.OpKind]int{}
	for _, f := range r.Folders {
		for k, n := range f.Done {
			total[k] += n
		}
		switch {
		case f.Err != nil:
			fmt.Fprintf(errw, "%s: %s: FAILED: %v\n", r.Account, f.Name, f.Err)
		case f.Plan.Refused != "":
			fmt.Fprintf(errw, "%s: %s: REFUSED: %s\n", r.Account, f.Name, f.Plan.Refused)
		case len(f.Failed) > 0:
			fmt.Fprintf(errw, "%s: %s: %s; %d operations failed:\n", r.Account, f.Name, Counts(f.Done), len(f.Failed))
			for _, e := range f.Failed {
				fmt.Fprintf(errw, "    %v\n", e)
			}
		case verbose && len(f.Done) > 0:
			fmt.Fprintf(w, "%s: %s: %s\n", r.Account, f.Name, Counts(f.Done))
		}
	}
	if verbose {
		line := fmt.Sprintf("%s: %d folders, %s", r.Account, len(r.Folders), Counts(total))
		if n := r.Failed(); n > 0 {
			line += fmt.Sprintf(", %d folders not synced", n)
		}
		fmt.Fprintln(w, line)
	}
}

// Op renders an operation without its folder (printed above it).
func Op(o model.Op) string {
	var b strings.Builder
	b.WriteString(o.Kind.String())
	if o.UID != 0 {
		fmt.Fprintf(&b, " uid %d", o.UID)
	}
	if o.Key != "" {
		fmt.Fprintf(&b, " file %s", o.Key)
	}
	switch o.Kind {
	case model.OpStoreRemote:
		fmt.Fprintf(&b, " add %s remove %s", o.Add, o.Remove)
	case model.OpFetch, model.OpUpload, model.OpSetLocalFlags, model.OpPair:
		fmt.Fprintf(&b, " flags %s", o.Flags)
	}
	if o.Reason != "" {
		fmt.Fprintf(&b, ": %s", o.Reason)
	}
	return b.String()
}

// Journal writes the journal's records from run fromRun on, one line each.
func Journal(w io.Writer, s *journal.Store, fromRun uint64) error {
	runs, err := s.Runs()
	if err != nil {
		return err
	}
	var from uint64
	for _, r := range runs {
		if r.ID >= fromRun {
			from = r.StartSeq
			break
		}
	}
	if from == 0 && len(runs) > 0 && runs[len(runs)-1].ID < fromRun {
		return nil
	}
	intents := map[uint64]model.Op{}
	return s.Records(from, func(rec journal.Record) error {
		ts := rec.Time.Local().Format(time.DateTime)
		switch rec.Kind {
		case journal.KindRunStarted:
			fmt.Fprintf(w, "%s run %d started: %s %s\n", ts, rec.Run, rec.Info.Command, strings.Join(rec.Info.Args, " "))
		case journal.KindIntent:
			intents[rec.Seq] = *rec.Op
			fmt.Fprintf(w, "%s   #%d intent %s: %s\n", ts, rec.Seq, rec.Op.Folder, Op(*rec.Op))
		case journal.KindDone:
			res := rec.Result
			status := "done"
			switch {
			case res.Err != "":
				status = "failed: " + res.Err
			case res.Skipped:
				status = "skipped"
			}
			extra := ""
			if op, ok := intents[res.Seq]; ok {
				if op.Kind == model.OpUpload && res.UID != 0 {
					extra = fmt.Sprintf(" (server uid %d)", res.UID)
				}
				if op.Kind == model.OpFetch && res.Key != "" {
					extra = fmt.Sprintf(" (file %s)", res.Key)
				}
			}
			fmt.Fprintf(w, "%s   #%d %s%s\n", ts, res.Seq, status, extra)
		case journal.KindRunEnded:
			keys := make([]string, 0, len(rec.Summary.Counts))
			for k := range rec.Summary.Counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%d %s", rec.Summary.Counts[k], k))
			}
			line := strings.Join(parts, ", ")
			if line == "" {
				line = "nothing changed"
			}
			fmt.Fprintf(w, "%s run %d ended: %s\n", ts, rec.Run, line)
		}
		return nil
	})
}
