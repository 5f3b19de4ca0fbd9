package main_test

import (
	"strings"
	"testing"
)

// TestDebugTypes: -d turns on the debug messages of the parts it names,
// as OfflineIMAP's types; an unknown type is a usage error listing them.
func TestDebugTypes(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 2})
	su := newSetup(t, s, "")
	for _, c := range []struct {
		types      string
		imap, sync bool
	}{
		{"imap", true, false},
		{"maildir", false, true},
		{"thread", false, true},
		{"IMAP, maildir", true, true},
		{"all", true, true},
	} {
		seedSmall(t, s, map[string]int{"INBOX": 1}) // something to do
		code, out, errs := run(t, "-c", su.config, "-o", "-d", c.types)
		if code != 0 {
			t.Fatalf("-d %s: exit %d\n%s%s", c.types, code, out, errs)
		}
		selected := strings.Contains(errs, "command=SELECT") || strings.Contains(errs, `command="SELECT `)
		if got := strings.Contains(errs, "imap command") && selected; got != c.imap {
			t.Errorf("-d %s: IMAP commands logged: %v, want %v\n%s", c.types, got, c.imap, errs)
		}
		if got := strings.Contains(errs, "folder progress") && strings.Contains(errs, "phase=execute"); got != c.sync {
			t.Errorf("-d %s: engine debug logged: %v, want %v\n%s", c.types, got, c.sync, errs)
		}
		if strings.Contains(errs, s.pass) {
			t.Errorf("-d %s: the password is in the log", c.types)
		}
	}
	code, out, errs := run(t, "-c", su.config, "-o", "-d", "imap,bogus")
	if code != 2 || !strings.Contains(errs, `unknown debug type "bogus"`) || !strings.Contains(errs, "imap, maildir, thread, all") {
		t.Errorf("-d imap,bogus: exit %d, want 2 naming the types\n%s%s", code, out, errs)
	}
}
