package main

import (
	"bytes"
	"strings"
	"testing"

	"mailtrail/engine"
	"mailtrail/model"
)

// TestProgressViewPlain: off a terminal, every step is a line of its own.
func TestProgressViewPlain(t *testing.T) {
	var buf bytes.Buffer
	v := &progressView{w: &buf}
	v.event(engine.Event{Account: "Personal", Folder: "INBOX", Phase: engine.PhasePlan})
	v.event(engine.Event{Account: "Personal", Folder: "INBOX", Phase: engine.PhaseExecute, Op: model.OpFetch, Done: 120, Total: 5000})
	v.event(engine.Event{Account: "Personal", Folder: "Sent", Phase: engine.PhaseDone, Failed: true})
	v.event(engine.Event{Account: "Personal", Folder: "INBOX", Phase: engine.PhaseDone})
	want := "[Personal] INBOX: planning\n[Personal] INBOX: fetch 120/5000\n[Personal] Sent: failed\n[Personal] INBOX: done\n"
	if buf.String() != want {
		t.Errorf("plain progress:\n%q\nwant\n%q", buf.String(), want)
	}
	// Log lines pass through untouched.
	buf.Reset()
	v.around(&buf).Write([]byte("a log line\n"))
	if buf.String() != "a log line\n" {
		t.Errorf("log line written as %q", buf.String())
	}
}

// TestProgressViewTerminal: on a terminal, one status line with every
// active folder is rewritten in place; a log line takes it off the screen
// and it is drawn again below; a finished folder leaves it.
func TestProgressViewTerminal(t *testing.T) {
	t.Setenv("COLUMNS", "60")
	var buf bytes.Buffer
	v := &progressView{w: &buf, tty: true}
	v.event(engine.Event{Account: "P", Folder: "INBOX", Phase: engine.PhaseExecute, Op: model.OpFetch, Done: 120, Total: 5000})
	v.event(engine.Event{Account: "P", Folder: "Sent", Phase: engine.PhaseExecute, Op: model.OpUpload, Done: 1, Total: 2})
	const clear = "\r\x1b[K"
	if want := clear + "[P] INBOX: fetch 120/5000" + clear + "[P] INBOX: fetch 120/5000 | [P] Sent: upload 1/2"; buf.String() != want {
		t.Errorf("status lines %q, want %q", buf.String(), want)
	}
	buf.Reset()
	var log bytes.Buffer
	v.around(&log).Write([]byte("warning\n"))
	if log.String() != "warning\n" || buf.String() != clear+clear+"[P] INBOX: fetch 120/5000 | [P] Sent: upload 1/2" {
		t.Errorf("around a log line: log %q, screen %q", log.String(), buf.String())
	}
	buf.Reset()
	v.event(engine.Event{Account: "P", Folder: "INBOX", Phase: engine.PhaseDone})
	v.event(engine.Event{Account: "P", Folder: "Sent", Phase: engine.PhaseExecute, Op: model.OpUpload, Done: 2, Total: 2})
	v.event(engine.Event{Account: "P", Folder: "Sent", Phase: engine.PhaseDone})
	if want := clear + "[P] Sent: upload 1/2" + clear + "[P] Sent: upload 2/2" + clear; buf.String() != want {
		t.Errorf("status lines %q, want %q", buf.String(), want)
	}
	// Too long for the terminal: cut.
	buf.Reset()
	v.event(engine.Event{Account: "P", Folder: strings.Repeat("x", 100), Phase: engine.PhasePlan})
	if got := strings.TrimPrefix(buf.String(), clear); len([]rune(got)) != 59 || !strings.HasSuffix(got, "…") {
		t.Errorf("long status line %q (%d runes), want 59 ending in …", got, len([]rune(got)))
	}
}
