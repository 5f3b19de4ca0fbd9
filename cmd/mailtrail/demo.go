package main

import (
	"context"
	"os"

	"mailtrail/internal/demo"
)

// DemoCmd runs the self-contained demonstration.
type DemoCmd struct {
	Dir string `help:"Directory for the demo's Maildir and journal (replaced if an earlier demo made it)." default:"mailtrail-demo" placeholder:"DIR"`
}

// Run starts the embedded server, syncs, changes both sides, syncs again
// and prints the journal.
func (d *DemoCmd) Run(g *Globals, ctx context.Context) error {
	return demo.Run(ctx, d.Dir, os.Stdout)
}
