package main

import (
	"context"
	"fmt"
	"os"

	"mailtrail/adapters"
	"mailtrail/engine"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/report"
)

// PlanCmd previews a sync: it observes both sides and the status, plans,
// and prints the plan; nothing changes on the server, in the Maildir or in
// the journal. `mailtrail --dry-run` prints the same.
type PlanCmd struct {
	JSON bool `name:"json" help:"Print one JSON object per operation (and per refused folder), one per line."`
}

// Run plans each selected account in turn.
func (p *PlanCmd) Run(g *Globals, ctx context.Context) error {
	g.DryRun = true
	log, err := newLogger(g)
	if err != nil {
		return usageError{err}
	}
	cfg, accounts, err := configAndAccounts(g, true) // refuses what a sync refuses
	if err != nil {
		return err
	}
	failed := false
	for _, acct := range accounts {
		a, closeAll, err := openAccount(ctx, g, cfg, acct, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: account %s: %v\n", acct.Name, err)
			failed = true
			continue
		}
		a.Command = "plan"
		rep, err := a.Sync(ctx)
		if err == nil && p.JSON {
			describeAll(ctx, a, &rep)
			err = report.PlanJSON(os.Stdout, rep)
		} else if err == nil {
			report.Plan(os.Stdout, rep)
		}
		closeAll()
		if err != nil {
			fmt.Fprintf(os.Stderr, "mailtrail: account %s: %v\n", acct.Name, err)
			failed = true
		}
	}
	if failed {
		return failedError{}
	}
	return ctx.Err()
}

// describeAll names the messages of every operation of the plan that
// changes one (the engine's dry run names only the deletions, which is
// all the text preview shows): only those header fields, only for those
// messages.
func describeAll(ctx context.Context, a *engine.Account, rep *engine.Report) {
	for i := range rep.Folders {
		f := &rep.Folders[i]
		if f.Err != nil || f.Plan.Refused != "" || len(f.Plan.Ops) == 0 {
			continue
		}
		if len(f.Msgs) < len(f.Plan.Ops) {
			f.Msgs = append(f.Msgs, make([]journal.MsgInfo, len(f.Plan.Ops)-len(f.Msgs))...)
		}
		missing := func(i int, op model.Op) bool { return op.Kind.ChangesMail() && f.Msgs[i].IsZero() }
		need := false
		for i, op := range f.Plan.Ops {
			need = need || missing(i, op)
		}
		if !need {
			continue
		}
		var rf adapters.RemoteFolder
		// Reading headers only: examined, nothing changes on the server.
		if r, err := adapters.LookAt(ctx, a.Remote, f.Name); err == nil {
			rf = r
		}
		var lf adapters.LocalFolder
		if l, err := a.Local.OpenFolder(ctx, f.Name); err == nil {
			lf = l
		}
		msgs, err := engine.Describe(ctx, rf, lf, f.Plan.Ops, missing)
		if rf != nil {
			rf.Close()
		}
		if err != nil {
			a.Log.Warn().Str("folder", f.Name).Err(err).Msg("could not read some message headers")
		}
		for i, op := range f.Plan.Ops {
			if missing(i, op) {
				f.Msgs[i] = msgs[i]
			}
		}
	}
}
