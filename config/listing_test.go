package config

import (
	"strings"
	"testing"
)

// TestReferenceAndSubscribedOnly: both are read (no warning), the
// reference unquoted as IMAP reads OfflineIMAP's raw value; a wildcard in
// the reference is an error.
func TestReferenceAndSubscribedOnly(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{`reference = Mail`, "Mail"},
		{`reference = "INBOX."`, "INBOX."},
		{`reference = ""`, ""},
		{`reference = "a \"b\" \\c"`, `a "b" \c`},
	} {
		cfg, warnings, err := parseString(base + c.line + "\nsubscribedonly = yes\n")
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		r := cfg.Accounts[0].Remote
		if r.Reference != c.want || !r.SubscribedOnly {
			t.Errorf("%s: Reference %q, SubscribedOnly %v; want %q, true", c.line, r.Reference, r.SubscribedOnly, c.want)
		}
		for _, w := range warnings {
			if w.Option == "reference" || w.Option == "subscribedonly" {
				t.Errorf("%s: warning %v", c.line, w)
			}
		}
	}
	cfg, _, err := parseString(base)
	if err != nil {
		t.Fatal(err)
	}
	if r := cfg.Accounts[0].Remote; r.Reference != "" || r.SubscribedOnly {
		t.Errorf("defaults: Reference %q, SubscribedOnly %v", r.Reference, r.SubscribedOnly)
	}
	_, _, err = parseString(base + "reference = Mail/*\n")
	if err == nil || !strings.Contains(err.Error(), "reference holds no wildcard") {
		t.Errorf("reference = Mail/*: %v, want an error about the wildcard", err)
	}
}
