package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMessageID(t *testing.T) {
	for in, want := range map[string]string{
		"From: a\r\nMessage-ID: <x@y>\r\n\r\nbody\r\nMessage-ID: <no>\r\n": "<x@y>",
		"message-id:\n <folded@y>\nSubject: s\n\n":                         "<folded@y>",
		"Subject: none\r\n\r\nMessage-ID: <in-body>\r\n":                   "",
		"Message-Id: <last@y>":                                             "<last@y>",
	} {
		if got := messageID(strings.NewReader(in)); got != want {
			t.Errorf("messageID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompareCountsDuplicates(t *testing.T) {
	a, b := state{}, state{}
	a.add("INBOX", "<1>", "S")
	b.add("INBOX", "<1>", "S")
	if d := compare(a, b); len(d) != 0 {
		t.Fatalf("equal states differ: %v", d)
	}
	b.add("INBOX", "<1>", "S")
	if d := compare(a, b); len(d) != 1 {
		t.Fatalf("a duplicate went unnoticed: %v", d)
	}
	a.add("Sent", "<2>", "")
	b.add("Sent", "<2>", "S")
	if d := compare(a, b); len(d) != 2 {
		t.Fatalf("a flag difference went unnoticed: %v", d)
	}
}

// TestMutateLocalIsTheSameForEveryTool: two Maildirs holding the same
// messages under different file names get the same changes.
func TestMutateLocalIsTheSameForEveryTool(t *testing.T) {
	roots := []string{t.TempDir(), t.TempDir()}
	for k, root := range roots {
		for _, sub := range []string{"INBOX/cur", "INBOX/new", "INBOX/tmp"} {
			if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 300; i++ {
			name := filepath.Join(root, "INBOX", "cur", strings.Repeat("n", k+1)+string(rune('a'+i%26))+strings.Repeat("x", i/26)+":2,")
			if i%3 == 0 {
				name += "S"
			}
			body := "Message-ID: <m" + strings.Repeat("1", i%7) + "." + string(rune('a'+i%26)) + "." + strings.Repeat("z", i/26) + ">\r\n\r\nb\r\n"
			if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var states []state
	for _, root := range roots {
		seen, del, added, err := mutateLocal(root, "x")
		if err != nil {
			t.Fatal(err)
		}
		if seen != 3 || del != 1 || added != 1 {
			t.Fatalf("changes: %d seen, %d deleted, %d new; want 3, 1, 1", seen, del, added)
		}
		st, err := localState(root)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	if d := compare(states[0], states[1]); len(d) != 0 {
		t.Fatalf("the two Maildirs were changed differently: %v", d)
	}
}
