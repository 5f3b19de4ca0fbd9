package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"mailtrail/engine"
)

// The interfaces of -u (and [general] ui), as OfflineIMAP names them:
//
//	quiet      errors only; no summary
//	basic      warnings and errors on stderr, a summary per account on stdout (default)
//	ttyui      basic, plus the informational messages (adoption, hooks,
//	           mbnames), in colour on a terminal, and the progress of every
//	           folder (progressView): a status line rewritten in place on a
//	           terminal, a plain line per step otherwise
//	blinkenlights  taken as ttyui
//	syslog     basic's messages go to the system log (daemon facility, tag
//	           mailtrail) instead of stderr; the summary still goes to stdout
//	machineui  one JSON object per line on stderr for every log event, and
//	           on stdout one per folder and per account (see
//	           docs/COMPATIBILITY.md, "machineui"); nothing else is printed
var uiNames = []string{"quiet", "basic", "ttyui", "blinkenlights", "syslog", "machineui"}

// uiName is the interface to use: -u, else [general] ui, else basic.
func uiName(g *Globals) string {
	if g.UI != "" {
		return strings.ToLower(g.UI)
	}
	return "basic"
}

// newLogger builds the logger for the interface and --debug. Logs go to
// stderr (or syslog); summaries and plans go to stdout.
func newLogger(g *Globals) (zerolog.Logger, error) {
	ui := uiName(g)
	types, err := debugTypes(g)
	if err != nil {
		return zerolog.Nop(), err
	}
	debug := g.Debug || types["all"]
	// A debug log is read to see where a sync's time went: its lines
	// carry milliseconds. (zerolog's field format is process-wide.)
	consoleTime, fileTime := time.TimeOnly, time.DateTime
	zerolog.TimeFieldFormat = time.RFC3339
	if debug {
		zerolog.TimeFieldFormat = time.RFC3339Nano
		consoleTime, fileTime = "15:04:05.000", "2006-01-02 15:04:05.000"
	}
	level := zerolog.WarnLevel
	var w io.Writer
	switch ui {
	case "quiet":
		level = zerolog.ErrorLevel
		w = consoleWriter(consoleTime)
	case "basic":
		w = consoleWriter(consoleTime)
	case "ttyui", "blinkenlights":
		level = zerolog.InfoLevel
		w = term.around(consoleWriter(consoleTime))
	case "machineui":
		level = zerolog.InfoLevel
		w = os.Stderr
	case "syslog":
		sw, err := syslogWriter()
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("-u syslog: cannot reach the system log: %w", err)
		}
		w = sw
		level = zerolog.InfoLevel
	default:
		return zerolog.Nop(), fmt.Errorf("-u %s: unknown interface; use one of %s", g.UI, strings.Join(uiNames, ", "))
	}
	if g.Syslog && ui != "syslog" {
		// -s: the system log as well, as OfflineIMAP's -s.
		sw, err := syslogWriter()
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("-s: cannot reach the system log: %w", err)
		}
		w = zerolog.MultiLevelWriter(w, sw)
	}
	if debug {
		level = zerolog.DebugLevel
	}
	if g.LogFile != "" {
		f, err := os.OpenFile(expandHome(g.LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("-l %s: %w", g.LogFile, err)
		}
		// The file is closed by the process's exit.
		w = zerolog.MultiLevelWriter(w, zerolog.ConsoleWriter{Out: f, NoColor: true, TimeFormat: fileTime})
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// consoleWriter writes log lines on stderr, their times in timeFormat.
func consoleWriter(timeFormat string) io.Writer {
	return zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: timeFormat, NoColor: !isatty.IsTerminal(os.Stderr.Fd())}
}

// machineEvent is one line of machineui's stdout.
type machineEvent struct {
	Time    string         `json:"time"`
	Event   string         `json:"event"` // "folder" or "account"
	Account string         `json:"account"`
	Folder  string         `json:"folder,omitempty"`
	Ops     map[string]int `json:"ops"`               // operations done, by kind
	Planned int            `json:"planned,omitempty"` // operations planned
	Refused string         `json:"refused,omitempty"`
	Error   string         `json:"error,omitempty"`
	Failed  int            `json:"failed,omitempty"` // failed operations (folder), failed folders (account)
	Elapsed float64        `json:"elapsed_s,omitempty"`
	Folders int            `json:"folders,omitempty"`
}

// machineSummary writes machineui's events for one account's sync.
func machineSummary(w io.Writer, rep engine.Report) {
	enc := json.NewEncoder(w)
	now := time.Now().UTC().Format(time.RFC3339)
	total := map[string]int{}
	for _, f := range rep.Folders {
		ev := machineEvent{Time: now, Event: "folder", Account: rep.Account, Folder: f.Name, Ops: map[string]int{},
			Planned: f.PlannedOps(), Refused: f.Plan.Refused, Failed: len(f.Failed), Elapsed: f.Elapsed.Seconds()}
		for k, n := range f.Done {
			ev.Ops[k.String()] = n
			total[k.String()] += n
		}
		if f.Err != nil {
			ev.Error = f.Err.Error()
		}
		_ = enc.Encode(ev)
	}
	_ = enc.Encode(machineEvent{Time: now, Event: "account", Account: rep.Account, Ops: total, Failed: rep.Failed(), Folders: len(rep.Folders)})
}

// progressView is ttyui's progress display: what each folder's sync is
// doing and how far it is ("[Personal] INBOX: fetch 500/5000"). On a
// terminal it is one status line on stderr, rewritten in place (\r) with
// every folder being synced, which log lines and summaries are written
// above; elsewhere each step is a plain line.
type progressView struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	active map[string]string // "[account] folder" → what it is doing
	order  []string          // the keys of active, in the order they came
	drawn  bool              // a status line is on the screen
}

// term is the progress display of the process's stderr.
var term = &progressView{w: os.Stderr, tty: isatty.IsTerminal(os.Stderr.Fd())}

// progressHook is the engine's Account.Progress for the interface: the
// progress display with ttyui (and blinkenlights), nil otherwise.
func progressHook(g *Globals) func(engine.Event) {
	switch uiName(g) {
	case "ttyui", "blinkenlights":
		return term.event
	}
	return nil
}

// event shows one step of a folder's sync.
func (v *progressView) event(ev engine.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := fmt.Sprintf("[%s] %s", ev.Account, ev.Folder)
	var state string
	switch ev.Phase {
	case engine.PhasePlan:
		state = "planning"
	case engine.PhaseExecute:
		state = fmt.Sprintf("%s %d/%d", ev.Op, ev.Done, ev.Total)
	case engine.PhaseDone:
		state = "done"
		if ev.Failed {
			state = "failed"
		}
	default:
		return
	}
	if !v.tty {
		fmt.Fprintf(v.w, "%s: %s\n", key, state)
		return
	}
	if v.active == nil {
		v.active = map[string]string{}
	}
	if ev.Phase == engine.PhaseDone {
		delete(v.active, key)
		for i, k := range v.order {
			if k == key {
				v.order = append(v.order[:i], v.order[i+1:]...)
				break
			}
		}
	} else {
		if _, ok := v.active[key]; !ok {
			v.order = append(v.order, key)
		}
		v.active[key] = state
	}
	v.draw()
}

// draw rewrites the status line: every active folder, cut to the width
// of the terminal ($COLUMNS, else 80).
func (v *progressView) draw() {
	parts := make([]string, 0, len(v.order))
	for _, k := range v.order {
		parts = append(parts, k+": "+v.active[k])
	}
	line := strings.Join(parts, " | ")
	width := 80
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 10 {
		width = n
	}
	if r := []rune(line); len(r) > width-1 {
		line = string(r[:width-2]) + "…"
	}
	fmt.Fprint(v.w, "\r\x1b[K"+line)
	v.drawn = line != ""
}

// erase takes the status line off the screen.
func (v *progressView) erase() {
	if v.drawn {
		fmt.Fprint(v.w, "\r\x1b[K")
		v.drawn = false
	}
}

// around returns w with the status line taken off the screen while
// something is written to w, then drawn again below it.
func (v *progressView) around(w io.Writer) io.Writer { return aroundStatus{v, w} }

type aroundStatus struct {
	v *progressView
	w io.Writer
}

func (a aroundStatus) Write(p []byte) (int, error) {
	a.v.mu.Lock()
	defer a.v.mu.Unlock()
	if !a.v.tty {
		return a.w.Write(p)
	}
	a.v.erase()
	n, err := a.w.Write(p)
	if len(a.v.order) > 0 {
		a.v.draw()
	}
	return n, err
}
