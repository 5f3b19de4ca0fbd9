package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"mailtrail/engine"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
)

func previewReport() engine.Report {
	date := time.Date(2025, 2, 3, 4, 5, 0, 0, time.UTC)
	return engine.Report{Account: "Work", Folders: []engine.FolderReport{
		{Name: "INBOX", Plan: planner.Plan{Ops: []model.Op{
			{Kind: model.OpFetch, Folder: "INBOX", UID: 9, Flags: model.Seen, Reason: "new on the server"},
			{Kind: model.OpExpungeRemote, Folder: "INBOX", UID: 4, Key: "k4", Reason: "deleted locally since the last sync"},
			{Kind: model.OpDeleteLocal, Folder: "INBOX", UID: 5, Key: "k5", Reason: "expunged on the server since the last sync"},
		}}, Msgs: []journal.MsgInfo{{}, {MessageID: "<a@x>", Subject: "Budget", From: "Ann <ann@x>", Date: date}, {}}},
		{Name: "Archive", Plan: planner.Plan{Refused: "would delete 120 of 130 messages (maxdelete = 50)"}},
		{Name: "Broken", Err: errors.New("select on server: gone")},
		{Name: "Quiet"},
	}}
}

func TestPlanPreviewGroupsCountsAndNamesDeletions(t *testing.T) {
	var b bytes.Buffer
	Plan(&b, previewReport())
	out := b.String()
	for _, want := range []string{
		"Work: INBOX: would do 1 fetch, 1 expunge-remote, 1 delete-local\n",
		"    expunge-remote uid 4 file k4: deleted locally since the last sync\n        " + time.Date(2025, 2, 3, 4, 5, 0, 0, time.UTC).Local().Format("2006-01-02 15:04") + "  from Ann <ann@x>  \"Budget\"  <a@x>\n",
		"    delete-local uid 5 file k5: expunged on the server since the last sync\n        (message header not available)\n",
		"Work: Archive: REFUSED (nothing would be done in this folder): would delete 120 of 130 messages (maxdelete = 50)\n",
		"Work: Broken: cannot plan: select on server: gone\n",
		"Work: in all: 1 fetch, 1 expunge-remote, 1 delete-local; 2 deletions (1 on the server, 1 in the Maildir); 1 folders refused; 1 folders could not be planned\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Quiet") {
		t.Errorf("a folder with nothing to do is listed:\n%s", out)
	}
	b.Reset()
	Plan(&b, engine.Report{Account: "Work", Folders: []engine.FolderReport{{Name: "Quiet"}}})
	if b.String() != "Work: nothing to do (1 folders)\n" {
		t.Errorf("empty preview: %q", b.String())
	}
}

func TestPlanJSONHasTheIssueFields(t *testing.T) {
	var b bytes.Buffer
	if err := PlanJSON(&b, previewReport()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 3 ops + 1 refusal + 1 error:\n%s", len(lines), b.String())
	}
	var del map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &del); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"account", "folder", "op", "side", "uid", "key", "message_id", "subject", "from", "date", "flags", "reason"} {
		if _, ok := del[k]; !ok {
			t.Errorf("field %s missing: %s", k, lines[1])
		}
	}
	if del["op"] != "expunge" || del["side"] != "remote" || del["message_id"] != "<a@x>" || del["kind"] != "expunge-remote" {
		t.Errorf("deletion line: %s", lines[1])
	}
	if !strings.Contains(lines[3], `"op":"refused"`) || !strings.Contains(lines[3], "maxdelete = 50") {
		t.Errorf("refusal line: %s", lines[3])
	}
}

func TestOpClassCoversEveryKind(t *testing.T) {
	for k := model.OpKind(1); !strings.HasPrefix(k.String(), "op("); k++ {
		op, side := OpClass(k)
		if op == "" || side == "" {
			t.Errorf("%s: op %q side %q", k, op, side)
		}
	}
	if op, side := OpClass(model.OpDeleteLocal); op != "expunge" || side != "local" {
		t.Errorf("delete-local: %s %s", op, side)
	}
}

func TestLogFilter(t *testing.T) {
	t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	e := journal.OpEntry{Run: 3, Time: t0, Op: model.Op{Kind: model.OpExpungeRemote, Folder: "A/B", UID: 2}, Msg: &journal.MsgInfo{MessageID: "<X@y>"}}
	for _, c := range []struct {
		f    LogFilter
		want bool
	}{
		{LogFilter{}, true},
		{LogFilter{Folder: "A/B", Op: "expunge", Side: "remote", Run: 3, MessageID: "x@Y"}, true},
		{LogFilter{Op: "expunge-remote"}, true},
		{LogFilter{Op: "fetch"}, false},
		{LogFilter{Side: "local"}, false},
		{LogFilter{Folder: "A"}, false},
		{LogFilter{Run: 2}, false},
		{LogFilter{MessageID: "<z@y>"}, false},
		{LogFilter{Since: t0}, true},
		{LogFilter{Since: t0.Add(time.Second)}, false},
		{LogFilter{Until: t0}, false},
		{LogFilter{Until: t0.Add(time.Second)}, true},
	} {
		if got := c.f.Match(e); got != c.want {
			t.Errorf("%+v: %v, want %v", c.f, got, c.want)
		}
	}
}
