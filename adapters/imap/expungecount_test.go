package imap

import (
	"strings"
	"testing"

	"mailtrail/model"
)

// testExpungeCountsOnlyItsOwn: an expunge is not taken for done because the
// server reported as many messages expunged as were asked. The EXPUNGE
// responses name sequence numbers, not UIDs, and those of other sessions'
// expunges come in the same answer. The proxy holds the client's expunge
// until a second session has taken the \Deleted mark off the message asked
// for and expunged another: the answer then reports one message expunged,
// not the one asked for, and the call must say that the server kept it,
// with the survey behind the expunge (CONDSTORE) and without.
func testExpungeCountsOnlyItsOwn(t *testing.T, b *backend) {
	ctx := ctxT(t)
	for _, surveyed := range []bool{false, true} {
		name := "ExpungeCount"
		if surveyed {
			name += "Surveyed"
		}
		uids, g, s, f := seededGated(t, b, name, 3)
		before := f.Status().HighestModSeq
		other := b.dial(t)
		var otherErr error
		g.beforeClient(" EXPUNGE", func() {
			of, err := other.Select(ctx, name)
			if err != nil {
				otherErr = err
				return
			}
			defer of.Close()
			if otherErr = of.StoreFlags(ctx, uids[:1], 0, model.Deleted); otherErr == nil {
				otherErr = of.Expunge(ctx, uids[1:2])
			}
		})
		var err error
		if surveyed {
			_, err = f.StoreFlagsAndExpungeSurveying(ctx, nil, uids[:1], before, false)
		} else {
			err = f.Expunge(ctx, uids[:1])
		}
		if otherErr != nil {
			t.Fatalf("the other session: %v", otherErr)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		left := serverFlags(t, s, name)
		if _, ok := left[uids[0]]; !ok || len(left) != 2 {
			t.Fatalf("surveyed %v: on the server after the expunges: %v; want UID %d kept (unmarked by the other session) and UID %d gone (its expunge)", surveyed, left, uids[0], uids[1])
		}
		if err == nil || !strings.Contains(err.Error(), "kept 1 of the messages") {
			t.Fatalf("surveyed %v: the expunge of UID %d, which the server kept, returned %v; want an error naming it kept", surveyed, uids[0], err)
		}
	}
}
