package adaptertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"mailtrail/model"
)

// subtestTimeout bounds every subtest's context, so that a stalled
// connection fails the subtest instead of hanging the run (as far as the
// store honours its context).
const subtestTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), subtestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// namedFlags is a set of flags with a name for messages.
type namedFlags struct {
	name string
	flag model.Flags
}

// eachFlag lists the five flags one by one, with a name for messages.
var eachFlag = []namedFlags{
	{"Seen", model.Seen}, {"Answered", model.Answered}, {"Flagged", model.Flagged},
	{"Draft", model.Draft}, {"Deleted", model.Deleted},
}

// sameInstant compares two dates to the second.
func sameInstant(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// diffBytes is "" when got equals want, or else says where they differ.
func diffBytes(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(i-20, 0)
	return fmt.Sprintf("got %s, want %s; first difference at byte %d: got %q, want %q",
		describe(got), describe(want), i, got[lo:min(i+20, len(got))], want[lo:min(i+20, len(want))])
}

// missingFrom returns the names of want that are not in have.
func missingFrom(have []string, want ...string) []string {
	var missing []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
