package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
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
//	           mbnames), in colour on a terminal; no live progress display yet
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
	level := zerolog.WarnLevel
	var w io.Writer
	switch ui {
	case "quiet":
		level = zerolog.ErrorLevel
		w = consoleWriter()
	case "basic":
		w = consoleWriter()
	case "ttyui", "blinkenlights":
		level = zerolog.InfoLevel
		w = consoleWriter()
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
	if g.Debug || g.DebugTypes != "" {
		level = zerolog.DebugLevel
	}
	if g.LogFile != "" {
		f, err := os.OpenFile(expandHome(g.LogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return zerolog.Nop(), fmt.Errorf("-l %s: %w", g.LogFile, err)
		}
		// The file is closed by the process's exit.
		w = zerolog.MultiLevelWriter(w, zerolog.ConsoleWriter{Out: f, NoColor: true, TimeFormat: time.DateTime})
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

func consoleWriter() io.Writer {
	return zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly, NoColor: !isatty.IsTerminal(os.Stderr.Fd())}
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
			Planned: len(f.Plan.Ops), Refused: f.Plan.Refused, Failed: len(f.Failed), Elapsed: f.Elapsed.Seconds()}
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
