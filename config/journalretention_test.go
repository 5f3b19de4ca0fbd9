package config

import (
	"strings"
	"testing"
	"time"
)

func TestJournalRetention(t *testing.T) {
	with := func(v string) string {
		return strings.Replace(base, "accounts = Test", "accounts = Test\njournalretention = "+v, 1)
	}
	c, warnings, err := parseString(with("30"))
	if err != nil {
		t.Fatal(err)
	}
	if c.General.JournalRetention != 30*24*time.Hour {
		t.Fatalf("journalretention = 30: %v", c.General.JournalRetention)
	}
	for _, w := range warnings {
		if w.Option == "journalretention" {
			t.Errorf("warning about journalretention: %+v", w)
		}
	}
	c, _, err = parseString(base)
	if err != nil || c.General.JournalRetention != 0 {
		t.Fatalf("unset journalretention: %v %v", c.General.JournalRetention, err)
	}
	_, _, err = parseString(with("0"))
	if err == nil || !strings.Contains(err.Error(), "journalretention = 0") {
		t.Fatalf("journalretention = 0: %v", err)
	}
}
