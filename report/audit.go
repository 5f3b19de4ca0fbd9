package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"mailtrail/journal"
	"mailtrail/model"
)

// RunJSON is one run as `runs --json` prints it.
type RunJSON struct {
	Account  string         `json:"account"`
	ID       uint64         `json:"id"`
	Command  string         `json:"command"`
	Started  time.Time      `json:"started"`
	Ended    *time.Time     `json:"ended"`
	Outcome  string         `json:"outcome"` // ok, failed, interrupted, running
	Error    string         `json:"error,omitempty"`
	Counts   map[string]int `json:"counts"`
	Failed   int            `json:"failed_folders,omitempty"`
	Observed bool           `json:"observed,omitempty"`
}

// RunOutcome says how a run ended: "ok", "failed" (an error, or folders
// that failed or were refused), or, for a run with no end, "interrupted"
// (or "running" when it is the last run and the journal was opened while
// it ran — which a read-only open prevents, so in practice interrupted).
func RunOutcome(r journal.Run) string {
	switch {
	case !r.Ended:
		return "interrupted"
	case r.Summary.Err != "" || r.Summary.Counts["failed-folders"] > 0:
		return "failed"
	}
	return "ok"
}

// NewRunJSON converts a run.
func NewRunJSON(account string, r journal.Run) RunJSON {
	j := RunJSON{Account: account, ID: r.ID, Command: r.Info.Command, Started: r.Info.Started, Outcome: RunOutcome(r), Counts: map[string]int{}}
	if r.Ended {
		t := r.Summary.Finished
		j.Ended, j.Error = &t, r.Summary.Err
		for k, n := range r.Summary.Counts {
			if k == "failed-folders" {
				j.Failed = n
				continue
			}
			j.Counts[k] = n
		}
	}
	return j
}

// Runs writes one line per run: id, start and end, account, outcome and
// the counts of each kind of operation carried out.
func Runs(w io.Writer, account string, runs []journal.Run) {
	for _, r := range runs {
		j := NewRunJSON(account, r)
		end := "-"
		if j.Ended != nil {
			end = j.Ended.Local().Format(time.DateTime)
		}
		keys := make([]string, 0, len(j.Counts))
		for k := range j.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%d %s", j.Counts[k], k))
		}
		counts := strings.Join(parts, ", ")
		if counts == "" {
			counts = "nothing changed"
		}
		if j.Failed > 0 {
			counts += fmt.Sprintf(", %d folders failed or refused", j.Failed)
		}
		fmt.Fprintf(w, "run %-5d %s  %s  %-8s %-11s %s: %s\n", j.ID, j.Started.Local().Format(time.DateTime), end, account, j.Outcome, j.Command, counts)
	}
}

// RunsJSON writes one JSON object per run.
func RunsJSON(w io.Writer, account string, runs []journal.Run) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range runs {
		if err := enc.Encode(NewRunJSON(account, r)); err != nil {
			return err
		}
	}
	return nil
}

// LogFilter selects journalled operations; zero fields select everything.
type LogFilter struct {
	Folder    string
	Op        string // a class (fetch, flag, expunge, ...) or a precise kind (expunge-remote)
	Side      string // local, remote, status
	Since     time.Time
	Until     time.Time
	Run       uint64
	MessageID string // with or without angle brackets
}

// Match reports whether the operation is selected.
func (f LogFilter) Match(e journal.OpEntry) bool {
	class, side := OpClass(e.Op.Kind)
	switch {
	case f.Folder != "" && e.Op.Folder != f.Folder:
		return false
	case f.Op != "" && !strings.EqualFold(f.Op, class) && !strings.EqualFold(f.Op, e.Op.Kind.String()):
		return false
	case f.Side != "" && !strings.EqualFold(f.Side, side):
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	case f.Run != 0 && e.Run != f.Run:
		return false
	case f.MessageID != "":
		if e.Msg == nil || normalizeID(e.Msg.MessageID) != normalizeID(f.MessageID) {
			return false
		}
	}
	return true
}

func normalizeID(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), "<>"))
}

// NewLogJSON converts a journalled operation.
func NewLogJSON(account string, e journal.OpEntry) OpJSON {
	j := NewOpJSON(account, e.Op, e.Msg)
	t := e.Time
	j.Run, j.Seq, j.Time, j.State, j.Error = e.Run, e.Seq, &t, e.State, e.Err
	if !e.Finished.IsZero() {
		f := e.Finished
		j.Finished = &f
	}
	j.ResultUID, j.ResultKey = e.ResultUID, e.ResultKey
	return j
}

// LogEntry writes one operation for people: when, run, folder, what, its
// state, and the message.
func LogEntry(w io.Writer, account string, e journal.OpEntry) {
	state := e.State
	if e.State == journal.StateFailed {
		state = "FAILED: " + e.Err
	}
	extra := ""
	switch {
	case e.Op.Kind == model.OpUpload && e.ResultUID != 0:
		extra = fmt.Sprintf(" (server uid %d)", e.ResultUID)
	case e.Op.Kind == model.OpFetch && e.ResultKey != "":
		extra = fmt.Sprintf(" (file %s)", e.ResultKey)
	}
	fmt.Fprintf(w, "%s run %d #%d %s: %s: %s: %s%s\n", e.Time.Local().Format(time.DateTime), e.Run, e.Seq, account, e.Op.Folder, Op(e.Op), state, extra)
	if e.Msg != nil {
		fmt.Fprintf(w, "    %s\n", MsgLine(*e.Msg))
	}
}

// opLevel reports whether the filter selects by something only operations
// have (so runs without a match are left out).
func (f LogFilter) opLevel() bool {
	return f.Folder != "" || f.Op != "" || f.Side != "" || f.MessageID != ""
}

// Log writes the selected operations of the journal, by run: a line when
// each run started, its operations (time, folder, what, state, and the
// message), a line when it ended. Runs with nothing selected are left out
// when the filter names folders, kinds, sides or a message. With asJSON it
// writes one OpJSON per line and nothing else. It returns how many
// operations it wrote.
func Log(w io.Writer, account string, s *journal.Store, f LogFilter, asJSON bool) (int, error) {
	runs, err := s.Runs()
	if err != nil {
		return 0, err
	}
	byRun := map[uint64][]journal.OpEntry{}
	n := 0
	err = s.Operations(func(e journal.OpEntry) error {
		if f.Match(e) {
			byRun[e.Run] = append(byRun[e.Run], e)
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, r := range runs {
		ops := byRun[r.ID]
		if f.Run != 0 && r.ID != f.Run {
			continue
		}
		if len(ops) == 0 {
			end := r.Summary.Finished
			if !r.Ended {
				end = r.Info.Started
			}
			if f.opLevel() || asJSON || (!f.Until.IsZero() && !r.Info.Started.Before(f.Until)) || (!f.Since.IsZero() && end.Before(f.Since)) {
				continue
			}
		}
		if asJSON {
			for _, e := range ops {
				if err := enc.Encode(NewLogJSON(account, e)); err != nil {
					return n, err
				}
			}
			continue
		}
		fmt.Fprintf(w, "%s run %d started: %s %s\n", r.Info.Started.Local().Format(time.DateTime), r.ID, r.Info.Command, strings.Join(r.Info.Args, " "))
		for _, e := range ops {
			LogEntry(w, account, e)
		}
		if r.Ended {
			j := NewRunJSON(account, r)
			var parts []string
			keys := make([]string, 0, len(j.Counts))
			for k := range j.Counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%d %s", j.Counts[k], k))
			}
			line := strings.Join(parts, ", ")
			if line == "" {
				line = "nothing changed"
			}
			fmt.Fprintf(w, "%s run %d ended (%s): %s\n", r.Summary.Finished.Local().Format(time.DateTime), r.ID, j.Outcome, line)
		} else {
			fmt.Fprintf(w, "run %d has no end: interrupted\n", r.ID)
		}
	}
	return n, nil
}
