// Command mailtrail synchronises IMAP folders with a local Maildir, reading
// OfflineIMAP's configuration file. Run `mailtrail --help`.
//
// This package is wiring only: one file per command, each turning flags and
// the configuration into calls on the engine and the stores.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/alecthomas/kong"

	"mailtrail/internal/heapgoal"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// The process's memory policy (internal/heapgoal): the collector does not
// run until the process's memory reaches the floor, and once what is live
// passes about half the floor, the heap may grow a quarter past it (and the
// runtime's own overhead) before the collector runs, instead of doubling.
// With 100,000 messages in one folder the peak is about 60 MB instead of
// 80, for no CPU time measurable; with 200,000, 89 MB instead of 115 for 8%
// more time in a cold sync; a sync of 5,000 messages collects 3 times
// instead of 19 (docs/PERFORMANCE.md).
const (
	heapGoalFloor    = 40 << 20
	heapGoalHeadroom = 0.25
)

// Exit codes, as documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1 // a folder or an account failed; the others were synced
	exitUsage   = 2 // bad command line or configuration
	exitSignals = 130
)

// Globals are the options OfflineIMAP users pass on every invocation.
type Globals struct {
	Config       string           `short:"c" help:"Configuration file (OfflineIMAP format)." default:"~/.offlineimaprc" placeholder:"FILE"`
	Accounts     []string         `short:"a" help:"Sync only these accounts (comma separated)." sep:"," placeholder:"ACCT"`
	Folders      []string         `short:"f" help:"Sync only these folders (comma separated; levels separated by /, e.g. Archive/2025)." sep:"," placeholder:"FOLDER"`
	Once         bool             `short:"o" help:"Run only once, ignoring autorefresh."`
	UI           string           `short:"u" help:"Interface: quiet, basic, ttyui, blinkenlights (as ttyui), syslog or machineui (default: [general] ui, else basic)." placeholder:"UI"`
	DryRun       bool             `name:"dry-run" help:"Plan and print what a sync would do; change nothing."`
	Override     []string         `short:"k" help:"Override a configuration option: [section:]option=value (repeatable)." sep:"none" placeholder:"SEC:OPT=VAL"`
	Single       bool             `short:"1" help:"Use one connection and sync one account at a time."`
	LogFile      string           `short:"l" help:"Also write the log to this file (appended)." placeholder:"FILE"`
	DebugTypes   string           `short:"d" help:"Debug output of some parts, as OfflineIMAP's types: imap (IMAP commands), maildir and thread (the sync engine), all (everything, as --debug); comma separated." placeholder:"TYPES"`
	Quick        bool             `short:"q" help:"OfflineIMAP's quick sync: accepted; mailtrail always does a full sync (it never misses a flag change)."`
	Version      kong.VersionFlag `short:"V" help:"Print the version and exit."`
	Force        bool             `help:"Lift the safety guards: sync although the configuration sets options mailtrail does not support and whose absence could delete or duplicate mail, although a plan deletes more than maxdelete allows, or although one whole side has no folders."`
	MaxDelete    int              `name:"max-delete" help:"Allow one sync to delete up to this percentage of a folder's messages on either side (overrides maxdelete; default from the configuration, 50)." default:"-1" placeholder:"PERCENT"`
	Debug        bool             `help:"Log every operation."`
	Info         bool             `help:"Print what mailtrail makes of the configuration, where it keeps its state and what it adopted (or would adopt) from OfflineIMAP; sync nothing."`
	MbnamesPrune bool             `name:"mbnames-prune" help:"Remove the mbnames entries of accounts no longer in [general] accounts, rewrite the mbnames file, and sync nothing."`
	// OfflineIMAP's other flags (oiflags.go).
	Syslog       bool   `short:"s" help:"Also log to the system log (as -u syslog does, besides the interface's own output)."`
	ProfileDir   string `short:"P" name:"profile" help:"Profile mode: write Go CPU and heap profiles of the run into DIR (created when missing)." placeholder:"DIR"`
	DeleteFolder string `name:"delete-folder" hidden:"" help:"OfflineIMAP's; not supported (says why)." placeholder:"FOLDER"`
	MigrateFMD5  bool   `name:"migrate-fmd5-using-nametrans" hidden:"" help:"OfflineIMAP's; not supported (says why)."`
}

type cli struct {
	Globals

	Sync        SyncCmd        `cmd:"" default:"withargs" help:"Synchronise the accounts (the default command)."`
	Demo        DemoCmd        `cmd:"" help:"Run a self-contained demonstration on an embedded IMAP server."`
	Log         LogCmd         `cmd:"" help:"Print what the journal recorded."`
	Journal     JournalCmd     `cmd:"" help:"Look after the journal (check, compact, export)."`
	Plan        PlanCmd        `cmd:"" help:"Preview a sync: what it would do, every deletion named; changes nothing."`
	Runs        RunsCmd        `cmd:"" help:"List the sync runs the journal remembers."`
	Replay      ReplayCmd      `cmd:"" help:"Re-plan a replay bundle with this build and show the differences."`
	ResetFolder ResetFolderCmd `cmd:"" name:"reset-folder" help:"Re-pair a folder's messages by content after its UIDs changed (UIDVALIDITY): nothing is deleted."`
}

// usageError marks errors that exit with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// failedError marks a run that finished but where something failed (exit 1);
// the details were already printed.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

func main() {
	restrictUmask()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if path := os.Getenv("MAILTRAIL_CPUPROFILE"); path != "" {
		// A developer's aid (docs/PERFORMANCE.md): a CPU profile of the run.
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	// No collection under 40 MiB; above, the heap may grow a quarter past
	// what is live, not Go's double (internal/heapgoal, docs/PERFORMANCE.md).
	stopHeapGoal := make(chan struct{})
	defer close(stopHeapGoal)
	heapgoal.Follow(stopHeapGoal, heapGoalFloor, heapGoalHeadroom)
	if path := os.Getenv("MAILTRAIL_HEAPPROFILE"); path != "" {
		// A developer's aid: the heap profile taken when the heap in use
		// was largest (sampled every 50 ms), to see what the peak is made of.
		defer peakHeapProfile(path)()
	}
	var c cli
	parser, err := kong.New(&c,
		kong.Name("mailtrail"),
		kong.Description("Two-way IMAP <-> Maildir synchroniser; reads OfflineIMAP's configuration."),
		kong.UsageOnError(),
		kong.Vars{"version": "mailtrail " + version},
		kong.Exit(func(code int) { panic(exitCode(code)) }),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mailtrail:", err)
		return exitUsage
	}
	code := exitOK
	func() {
		defer func() {
			if r := recover(); r != nil {
				if ec, ok := r.(exitCode); ok {
					code = int(ec)
					return
				}
				panic(r)
			}
		}()
		kctx, perr := parser.Parse(args)
		if perr != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: %v\n", perr)
			code = exitUsage
			return
		}
		if err := c.Globals.unsupported(); err != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: %v\n", err)
			code = exitUsage
			return
		}
		if c.ProfileDir != "" {
			stopProfile, err := startProfile(c.ProfileDir)
			if err != nil {
				fmt.Fprintf(os.Stderr, "mailtrail: %v\n", err)
				code = exitUsage
				return
			}
			defer stopProfile()
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		kctx.BindTo(ctx, (*context.Context)(nil))
		err := kctx.Run(&c.Globals)
		code = codeFor(err)
		if err != nil {
			var fe failedError
			if !errors.As(err, &fe) || fe.msg != "" {
				fmt.Fprintf(os.Stderr, "mailtrail: %v\n", err)
			}
		}
		if ctx.Err() != nil && code == exitOK {
			code = exitSignals
		}
		if c.Debug {
			fmt.Fprintf(os.Stderr, "mailtrail: peak memory %d KiB\n", peakRSSKiB())
		}
	}()
	return code
}

type exitCode int

func codeFor(err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitFailed
	}
}
