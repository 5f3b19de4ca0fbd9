package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailtrail/adapters/imap"
	"mailtrail/internal/testdovecot"
)

// plainDovecot is a real Dovecot reached in clear text on loopback, with a
// client of its own for what the adapter does not do (subscriptions).
func plainDovecot(t *testing.T) (server, func(folder string, on bool)) {
	d := testdovecot.Start(t, "alice:secret")
	s := server{host: d.Host, port: d.Port, user: "alice", pass: "secret", tls: imap.TLSNone}
	subscribe := func(folder string, on bool) {
		t.Helper()
		c, err := imapclient.DialInsecure(d.Addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login("alice", "secret").Wait(); err != nil {
			t.Fatal(err)
		}
		cmd := c.Unsubscribe
		if on {
			cmd = c.Subscribe
		}
		if err := cmd(folder).Wait(); err != nil {
			t.Fatalf("(UN)SUBSCRIBE %s: %v", folder, err)
		}
	}
	return s, subscribe
}

// serverCounts is every server folder with its number of messages.
func serverCounts(t *testing.T, s server) map[string]uint32 {
	t.Helper()
	list, err := s.dial(t).ListFolders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint32{}
	for _, f := range list {
		out[f.Name] = f.Messages
	}
	return out
}

func localFolders(t *testing.T, su setup) []string {
	t.Helper()
	ents, err := os.ReadDir(su.maildir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func newLocalFolder(t *testing.T, su setup, name, msgID string) {
	t.Helper()
	dir := filepath.Join(su.maildir, name)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	deliver(t, dir, "1.local", "From: a@example.org\nSubject: local\nMessage-ID: "+msgID+"\n\nwritten locally\n")
}

// TestSubscribedOnly against a real Dovecot: only subscribed folders are
// synced; a folder unsubscribed after it was synced is left alone on both
// sides (not taken for a folder deleted on the server, which would copy it
// there again); a new local folder is created on the server subscribed.
func TestSubscribedOnly(t *testing.T) {
	s, subscribe := plainDovecot(t)
	seedSmall(t, s, map[string]int{"INBOX": 1, "Lists/go": 2, "Lists/rust": 1, "Work": 3})
	subscribe("Lists/go", true)
	subscribe("Work", true)
	su := newSetup(t, s, "subscribedonly = yes")
	su.sync(t)
	if got := strings.Join(localFolders(t, su), " "); got != "Lists.go Work" {
		t.Fatalf("subscribedonly synced the local folders %q, want Lists.go Work", got)
	}

	subscribe("Work", false)
	su.sync(t)
	if n := len(messageFiles(t, filepath.Join(su.maildir, "Work"))); n != 3 {
		t.Errorf("the unsubscribed folder holds %d local messages, want its 3 left alone", n)
	}
	if n := serverCounts(t, s)["Work"]; n != 3 {
		t.Errorf("the unsubscribed folder holds %d messages on the server, want its 3 left alone", n)
	}

	newLocalFolder(t, su, "Fresh", "<fresh@test>")
	su.sync(t)
	if n := serverCounts(t, s)["Fresh"]; n != 1 {
		t.Errorf("the new local folder holds %d messages on the server, want 1", n)
	}
	// Subscribed: synced again (and so nothing to do), not created anew.
	out := su.sync(t)
	if strings.Contains(out, "Fresh") {
		t.Errorf("a sync after creating Fresh on the server did something there:\n%s", out)
	}
	subscribe("Fresh", false) // fails unless it was subscribed
}

// TestReference against a real Dovecot: only folders under the reference
// are synced, under their full names; folderincludes adds one outside it;
// a new local folder outside it is refused, not created on the server.
func TestReference(t *testing.T) {
	s, _ := plainDovecot(t)
	seedSmall(t, s, map[string]int{"INBOX": 1, "Lists/go": 2, "Lists/rust": 1, "Work": 3})
	su := newSetup(t, s, "reference = \"Lists/\"\nfolderincludes = ['INBOX']")
	su.sync(t)
	if got := strings.Join(localFolders(t, su), " "); got != "INBOX Lists.go Lists.rust" {
		t.Fatalf("reference = Lists/ synced the local folders %q, want INBOX Lists.go Lists.rust", got)
	}
	newLocalFolder(t, su, "Elsewhere", "<elsewhere@test>")
	newLocalFolder(t, su, "Lists.new", "<lists-new@test>")
	code, out, errs := run(t, "-c", su.config, "-o")
	if code != 1 || !strings.Contains(out+errs, "outside reference = Lists/") {
		t.Errorf("a new local folder outside the reference: exit %d, want 1 and the reason\n%s%s", code, out, errs)
	}
	counts := serverCounts(t, s)
	if _, ok := counts["Elsewhere"]; ok {
		t.Error("the folder outside the reference was created on the server")
	}
	if counts["Lists/new"] != 1 {
		t.Errorf("Lists/new holds %d messages on the server, want 1", counts["Lists/new"])
	}
	if counts["Work"] != 3 {
		t.Errorf("Work, outside the reference, holds %d messages, want 3 untouched", counts["Work"])
	}
}
