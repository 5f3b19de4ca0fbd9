package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"mailtrail/engine"
	"mailtrail/journal"
	"mailtrail/model"
)

// OpClass is how the audit and the previews name an operation for people
// and scripts: op is one of fetch, upload, flag, expunge, create-folder,
// move (or the kind's own name for bookkeeping: pair, forget, ...); side
// is where its effect lands: "local", "remote", or "status" for
// bookkeeping that changes no mail.
func OpClass(k model.OpKind) (op, side string) {
	switch k {
	case model.OpFetch:
		return "fetch", "local"
	case model.OpUpload:
		return "upload", "remote"
	case model.OpStoreRemote:
		return "flag", "remote"
	case model.OpSetLocalFlags:
		return "flag", "local"
	case model.OpExpungeRemote:
		return "expunge", "remote"
	case model.OpDeleteLocal:
		return "expunge", "local"
	case model.OpCreateLocalFolder:
		return "create-folder", "local"
	case model.OpCreateRemoteFolder:
		return "create-folder", "remote"
	}
	name := k.String()
	switch {
	case strings.HasPrefix(name, "move-"):
		return "move", strings.TrimPrefix(name, "move-")
	case !k.ChangesMail() || strings.HasPrefix(name, "rebase"):
		return name, "status"
	}
	return name, ""
}

// OpJSON is one operation as `plan --json` and `log --json` print it, one
// object per line.
type OpJSON struct {
	Account   string     `json:"account"`
	Folder    string     `json:"folder"`
	Op        string     `json:"op"`   // fetch, upload, flag, expunge, create-folder, move, ...
	Kind      string     `json:"kind"` // the precise kind: expunge-remote, set-local-flags, ...
	Side      string     `json:"side"` // local, remote, status
	UID       uint32     `json:"uid,omitempty"`
	Key       string     `json:"key,omitempty"`
	MessageID string     `json:"message_id"`
	Subject   string     `json:"subject"`
	From      string     `json:"from"`
	Date      *time.Time `json:"date"`
	Flags     string     `json:"flags"`
	Add       string     `json:"add,omitempty"`
	Remove    string     `json:"remove,omitempty"`
	Reason    string     `json:"reason"`
	// Set by log only.
	Run       uint64     `json:"run,omitempty"`
	Seq       uint64     `json:"seq,omitempty"`
	Time      *time.Time `json:"time,omitempty"`
	State     string     `json:"state,omitempty"` // pending, done, failed, skipped
	Error     string     `json:"error,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
	ResultUID uint32     `json:"result_uid,omitempty"`
	ResultKey string     `json:"result_key,omitempty"`
	// Set by plan for a refused folder (op "refused") or one that could
	// not be planned (op "error").
	Refused string `json:"refused,omitempty"`
}

// NewOpJSON fills the fields common to plan and log.
func NewOpJSON(account string, op model.Op, msg *journal.MsgInfo) OpJSON {
	class, side := OpClass(op.Kind)
	j := OpJSON{Account: account, Folder: op.Folder, Op: class, Kind: op.Kind.String(), Side: side,
		UID: op.UID, Key: op.Key, Flags: op.Flags.Maildir(), Reason: op.Reason}
	if op.Kind == model.OpStoreRemote {
		j.Add, j.Remove = op.Add.Maildir(), op.Remove.Maildir()
	}
	if msg != nil {
		j.MessageID, j.Subject, j.From = msg.MessageID, msg.Subject, msg.From
		if !msg.Date.IsZero() {
			d := msg.Date
			j.Date = &d
		}
	}
	return j
}

// Plan writes a preview (dry run): per folder of the account the counts
// of each kind of operation and every operation with its reason; every
// deletion also with the message's date, sender and subject; refusals
// with their reason; then a total line.
func Plan(w io.Writer, r engine.Report) {
	total := map[model.OpKind]int{}
	deletions, refused, failed, changed := 0, 0, 0, 0
	for _, f := range r.Folders {
		switch {
		case f.Err != nil:
			failed++
			fmt.Fprintf(w, "%s: %s: cannot plan: %v\n", r.Account, f.Name, f.Err)
			continue
		case f.Plan.Refused != "":
			refused++
			fmt.Fprintf(w, "%s: %s: REFUSED (nothing would be done in this folder): %s\n", r.Account, f.Name, f.Plan.Refused)
			continue
		case len(f.Plan.Ops) == 0:
			continue
		}
		changed++
		fmt.Fprintf(w, "%s: %s: would do %s\n", r.Account, f.Name, Counts(f.Plan.Counts()))
		for i, op := range f.Plan.Ops {
			total[op.Kind]++
			fmt.Fprintf(w, "    %s\n", Op(op))
			if engine.IsDeletion(op) {
				deletions++
				var msg journal.MsgInfo
				if i < len(f.Msgs) {
					msg = f.Msgs[i]
				}
				fmt.Fprintf(w, "        %s\n", MsgLine(msg))
			}
		}
	}
	if changed == 0 && refused == 0 && failed == 0 {
		fmt.Fprintf(w, "%s: nothing to do (%d folders)\n", r.Account, len(r.Folders))
		return
	}
	line := fmt.Sprintf("%s: in all: %s", r.Account, Counts(total))
	if deletions > 0 {
		line += fmt.Sprintf("; %d deletions (%d on the server, %d in the Maildir)", deletions, total[model.OpExpungeRemote], total[model.OpDeleteLocal])
	}
	if refused > 0 {
		line += fmt.Sprintf("; %d folders refused", refused)
	}
	if failed > 0 {
		line += fmt.Sprintf("; %d folders could not be planned", failed)
	}
	fmt.Fprintln(w, line)
}

// MsgLine renders what a person recognises a message by.
func MsgLine(m journal.MsgInfo) string {
	if m.IsZero() {
		return "(message header not available)"
	}
	date := "(no date)"
	if !m.Date.IsZero() {
		date = m.Date.Local().Format("2006-01-02 15:04")
	}
	from := m.From
	if from == "" {
		from = "(no sender)"
	}
	subj := m.Subject
	if subj == "" {
		subj = "(no subject)"
	}
	s := fmt.Sprintf("%s  from %s  %q", date, from, subj)
	if m.MessageID != "" {
		s += "  " + m.MessageID
	}
	return s
}

// PlanJSON writes the preview as JSON lines: one object per operation, one
// per refused folder (op "refused") and one per folder that could not be
// planned (op "error").
func PlanJSON(w io.Writer, r engine.Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, f := range r.Folders {
		switch {
		case f.Err != nil:
			if err := enc.Encode(OpJSON{Account: r.Account, Folder: f.Name, Op: "error", Kind: "error", Error: f.Err.Error()}); err != nil {
				return err
			}
			continue
		case f.Plan.Refused != "":
			if err := enc.Encode(OpJSON{Account: r.Account, Folder: f.Name, Op: "refused", Kind: "refused", Refused: f.Plan.Refused, Reason: f.Plan.Refused}); err != nil {
				return err
			}
			continue
		}
		for i, op := range f.Plan.Ops {
			var msg *journal.MsgInfo
			if i < len(f.Msgs) {
				msg = &f.Msgs[i]
			}
			if err := enc.Encode(NewOpJSON(r.Account, op, msg)); err != nil {
				return err
			}
		}
	}
	return nil
}
