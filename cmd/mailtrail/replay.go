package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"mailtrail/replay"
	"mailtrail/report"
)

// ReplayCmd re-plans a replay bundle with this build's planner.
type ReplayCmd struct {
	File    string `arg:"" help:"The replay bundle (mailtrail journal export)." type:"existingfile"`
	Execute bool   `name:"execute" help:"Also carry the plan out against in-memory stores built from the observations and check that both sides converge."`
}

// Run prints the differences from the recorded plan; exit 1 when the plan
// differs (or, with --execute, does not converge).
func (r *ReplayCmd) Run(g *Globals, ctx context.Context) error {
	b, err := replay.ReadFile(r.File)
	if err != nil {
		return usageError{err}
	}
	fmt.Printf("bundle: run %d of account %s, %d folders, written by %s, redacted: %v\n", b.Run.ID, b.Account, len(b.Folders), b.Producer, b.Redacted)
	diffs, err := replay.Replan(b)
	if err != nil {
		return err
	}
	fmt.Print(replay.Summary(diffs))
	differs := replay.Differs(diffs)
	if differs {
		fmt.Println("the plan differs from the recorded one")
	} else {
		fmt.Printf("same plan as recorded (%d folders)\n", len(b.Folders))
	}
	converged := true
	if r.Execute {
		res, err := replay.Execute(ctx, b)
		if err != nil {
			return fmt.Errorf("execute: %w", err)
		}
		names := make([]string, 0, len(res.Done))
		for n := range res.Done {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("executed %s: %s\n", n, report.Counts(res.Done[n]))
		}
		for _, n := range res.Refused {
			fmt.Printf("refused %s: not executed\n", n)
		}
		for _, l := range [][]string{res.Failed, res.Diffs, res.Leftover} {
			for _, s := range l {
				fmt.Printf("  %s\n", s)
			}
		}
		converged = res.OK()
		if converged {
			fmt.Println("executed: both sides converged, and a second plan has nothing to do")
		} else {
			fmt.Printf("executed: NOT converged (%s)\n", strings.Join(nonEmpty(
				count(len(res.Failed), "failures"), count(len(res.Diffs), "differences between the sides"), count(len(res.Leftover), "operations left")), ", "))
		}
	}
	if differs || !converged {
		return failedError{}
	}
	return nil
}

func count(n int, what string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d %s", n, what)
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
