package journal

import (
	"errors"
	"strings"
	"testing"
)

// TestHint: a hint survives a reopen, "" removes it, a read-only journal
// reads it and refuses to write it, and check accepts hints.
func TestHint(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	if v, err := s.Hint("imap-delimiter"); err != nil || v != "" {
		t.Fatalf("no hint yet: %q, %v", v, err)
	}
	if err := s.SetHint("imap-delimiter", "."); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHint("", "x"); err == nil {
		t.Fatal("a hint without a name was written")
	}
	if err := s.SetHint("big", strings.Repeat("x", hintMost+1)); err == nil {
		t.Fatal("an oversized hint was written")
	}
	if err := s.Check(); err != nil {
		t.Fatalf("check with a hint: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro := openT(t, dir, Options{ReadOnly: true})
	if v, err := ro.Hint("imap-delimiter"); err != nil || v != "." {
		t.Fatalf("after reopening: %q, %v; want \".\"", v, err)
	}
	if err := ro.SetHint("imap-delimiter", "/"); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only SetHint: %v, want ErrReadOnly", err)
	}
	ro.Close()
	s = openT(t, dir, Options{})
	defer s.Close()
	if err := s.SetHint("imap-delimiter", ""); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Hint("imap-delimiter"); err != nil || v != "" {
		t.Fatalf("removed: %q, %v", v, err)
	}
}
