package main

import (
	"slices"
	"testing"
)

// --again adds phases of 1% changes after the four, each numbered, each
// with changes of its own (repeat gives change its k) and a title of its
// own in the tables; --mark-all-read adds the last two phases, of their own.
func TestPhasesAgain(t *testing.T) {
	if got := phaseList(0, false); !slices.Equal(got, []string{"cold", "noop", "incr", "noop2"}) {
		t.Errorf("phaseList(0) = %v", got)
	}
	got := phaseList(2, true)
	if !slices.Equal(got, []string{"cold", "noop", "incr", "noop2", "incr2", "incr3", "allread", "unreadlocal"}) {
		t.Fatalf("phaseList(2, true) = %v", got)
	}
	wantRepeat := []int{0, 0, 1, 0, 2, 3, 0, 0}
	titles := map[string]bool{}
	for i, p := range got {
		if r := repeat(p); r != wantRepeat[i] {
			t.Errorf("repeat(%q) = %d, want %d", p, r, wantRepeat[i])
		}
		if titles[phaseTitle(p)] {
			t.Errorf("phase %q: title %q used twice", p, phaseTitle(p))
		}
		titles[phaseTitle(p)] = true
	}
	if phaseTitle("incr3") != "1% changed on both sides, again (3)" {
		t.Errorf("phaseTitle(incr3) = %q", phaseTitle("incr3"))
	}
}
