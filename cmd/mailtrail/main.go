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
	"syscall"

	"github.com/alecthomas/kong"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// Exit codes, as documented in the README.
const (
	exitOK      = 0
	exitFailed  = 1 // a folder or an account failed; the others were synced
	exitUsage   = 2 // bad command line or configuration
	exitSignals = 130
)

// Globals are the options OfflineIMAP users pass on every invocation.
type Globals struct {
	Config     string           `short:"c" help:"Configuration file (OfflineIMAP format)." default:"~/.offlineimaprc" placeholder:"FILE"`
	Accounts   []string         `short:"a" help:"Sync only these accounts (comma separated)." sep:"," placeholder:"ACCT"`
	Folders    []string         `short:"f" help:"Sync only these folders (comma separated; levels separated by /, e.g. Archive/2025)." sep:"," placeholder:"FOLDER"`
	Once       bool             `short:"o" help:"Run only once (mailtrail always does; accepted for OfflineIMAP compatibility)."`
	UI         string           `short:"u" help:"Interface: quiet or basic (ttyui, blinkenlights, syslog and machineui act as basic)." default:"basic" placeholder:"UI"`
	DryRun     bool             `name:"dry-run" help:"Plan and print what a sync would do; change nothing."`
	Override   []string         `short:"k" help:"Override a configuration option: [section:]option=value (repeatable)." sep:"none" placeholder:"SEC:OPT=VAL"`
	Single     bool             `short:"1" help:"Use one connection and sync one account at a time."`
	LogFile    string           `short:"l" help:"Also write the log to this file (appended)." placeholder:"FILE"`
	DebugTypes string           `short:"d" help:"Debug output (OfflineIMAP's types, e.g. imap,maildir: any value enables full debug logging)." placeholder:"TYPES"`
	Quick      bool             `short:"q" help:"OfflineIMAP's quick sync: accepted; mailtrail always does a full sync (it never misses a flag change)."`
	Version    kong.VersionFlag `short:"V" help:"Print the version and exit."`
	Force      bool             `help:"Sync even though the configuration sets options that mailtrail does not support yet and whose absence could delete or duplicate mail."`
	Debug      bool             `help:"Log every operation."`
}

type cli struct {
	Globals

	Sync    SyncCmd    `cmd:"" default:"withargs" help:"Synchronise the accounts (the default command)."`
	Demo    DemoCmd    `cmd:"" help:"Run a self-contained demonstration on an embedded IMAP server."`
	Log     LogCmd     `cmd:"" help:"Print what the journal recorded."`
	Journal JournalCmd `cmd:"" help:"Look after the journal (check)."`
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
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
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
