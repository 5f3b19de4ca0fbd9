package imap

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/model"
)

// orderServer answers UID STORE after a delay and notes, for every
// command, how many stores were still unanswered when it arrived.
type orderServer struct {
	mu       sync.Mutex
	pending  int
	arrivals []arrival
}

// arrival is a command as orderServer received it.
type arrival struct {
	command, args string
	unanswered    int // stores not yet answered when it came
}

func (o *orderServer) respond(w io.Writer, tag, command, args string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.arrivals = append(o.arrivals, arrival{command, args, o.pending})
	switch command {
	case "UID STORE":
		o.pending++
		go func() {
			time.Sleep(80 * time.Millisecond)
			o.mu.Lock()
			defer o.mu.Unlock()
			o.pending--
			fmt.Fprintf(w, "%s OK stored\r\n", tag)
		}()
	case "UID EXPUNGE":
		fmt.Fprintf(w, "%s OK expunged\r\n", tag) // reports nothing expunged: Expunge then asks
	case "UID SEARCH":
		fmt.Fprintf(w, "* SEARCH\r\n%s OK none left\r\n", tag)
	default:
		fmt.Fprintf(w, "%s BAD unexpected\r\n", tag)
	}
}

// unansweredAt returns, for each arrival of command, how many stores were
// unanswered then.
func (o *orderServer) unansweredAt(command string) []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []int
	for _, a := range o.arrivals {
		if a.command == command {
			out = append(out, a.unanswered)
		}
	}
	return out
}

// TestExpungeWaitsForItsStores: UID EXPUNGE is sent only once every UID
// STORE marking the messages \Deleted has been answered (a server may run
// pipelined commands in any order; Dovecot did, and left messages marked
// but not expunged, even for a one-message expunge while other sessions
// changed the folder). The stores themselves go out together.
func TestExpungeWaitsForItsStores(t *testing.T) {
	o := &orderServer{}
	f := fakeInbox(t, startFake(t, o.respond), 5*time.Second)
	var uids []uint32 // every other UID: one range each, so several stores
	for u := uint32(1); len(uids) < 2*maxRangesPerCommand+10; u += 2 {
		uids = append(uids, u)
	}
	if err := f.Expunge(context.Background(), uids); err != nil {
		t.Fatal(err)
	}
	stores, expunges := o.unansweredAt("UID STORE"), o.unansweredAt("UID EXPUNGE")
	if len(stores) != 3 || len(expunges) != 3 {
		t.Fatalf("%d stores and %d expunges, want 3 and 3: %v", len(stores), len(expunges), o.arrivals)
	}
	if stores[2] == 0 {
		t.Errorf("the stores were not pipelined: %v", o.arrivals)
	}
	for _, n := range expunges {
		if n != 0 {
			t.Fatalf("an expunge was sent while %d stores were unanswered: %v", n, o.arrivals)
		}
	}
}

// TestFlagStoresThatCouldUndoEachOtherWait: a store removing a flag
// another adds on the same UIDs is sent after that one is answered; stores
// that cannot undo each other are pipelined.
func TestFlagStoresThatCouldUndoEachOtherWait(t *testing.T) {
	o := &orderServer{}
	f := fakeInbox(t, startFake(t, o.respond), 5*time.Second)
	err := f.StoreFlagChanges(context.Background(), []adapters.FlagChange{
		{UIDs: []uint32{1, 2, 3}, Add: model.Seen | model.Flagged},
		{UIDs: []uint32{7, 8}, Remove: model.Seen}, // other UIDs: pipelined
		{UIDs: []uint32{9}, Add: model.Answered},   // another flag: pipelined
		{UIDs: []uint32{3, 4}, Remove: model.Flagged},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := o.unansweredAt("UID STORE")
	if want := []int{0, 1, 2, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stores unanswered as each store arrived: %v, want %v (%v)", got, want, o.arrivals)
	}
}

func TestStoreWaves(t *testing.T) {
	set := func(rs ...uint32) imap.UIDSet {
		var s imap.UIDSet
		for i := 0; i < len(rs); i += 2 {
			s = append(s, imap.UIDRange{Start: imap.UID(rs[i]), Stop: imap.UID(rs[i+1])})
		}
		return s
	}
	st := func(add bool, fl model.Flags, s imap.UIDSet) flagStore {
		return flagStore{set: s, add: add, changed: fl}
	}
	stores := []flagStore{
		st(true, model.Seen, set(1, 5, 10, 12)),
		st(false, model.Seen, set(6, 9, 13, 20)), // meets none of the first's UIDs
		st(false, model.Flagged, set(1, 20)),     // another flag
		st(false, model.Seen, set(12, 12)),       // undoes the first on 12
		st(true, model.Seen|model.Draft, set(30, 40)),
		st(true, model.Flagged, set(15, 15)), // undoes the third, whose wave has ended
		st(false, model.Draft, set(35, 35)),  // undoes the fifth on 35
	}
	var sizes []int
	for _, w := range storeWaves(stores) {
		sizes = append(sizes, len(w))
	}
	if fmt.Sprint(sizes) != "[3 3 1]" {
		t.Fatalf("waves of %v, want [3 3 1]", sizes)
	}
	if setsMeet(set(1, 5), set(6, 9)) || !setsMeet(set(1, 5, 8, 8), set(6, 7, 8, 9)) || setsMeet(nil, set(1, 1)) {
		t.Error("setsMeet")
	}
}

// expungeServer answers UID STORE and UID EXPUNGE, reporting expunged as
// many messages as each UID EXPUNGE names when report is set, and answers
// UID SEARCH with kept.
func expungeServer(report bool, kept string, searched *int) func(io.Writer, string, string, string) {
	var mu sync.Mutex
	return func(w io.Writer, tag, command, args string) {
		mu.Lock()
		defer mu.Unlock()
		switch command {
		case "UID STORE":
			fmt.Fprintf(w, "%s OK stored\r\n", tag)
		case "UID EXPUNGE":
			if report {
				for _, r := range strings.Split(args, ",") {
					lo, hi := 0, 0
					if n, _ := fmt.Sscanf(r, "%d:%d", &lo, &hi); n < 2 {
						hi = lo
					}
					for range hi - lo + 1 {
						fmt.Fprintf(w, "* 1 EXPUNGE\r\n")
					}
				}
			}
			fmt.Fprintf(w, "%s OK expunged\r\n", tag)
		case "UID SEARCH":
			*searched++
			fmt.Fprintf(w, "* SEARCH%s\r\n%s OK searched\r\n", kept, tag)
		default:
			fmt.Fprintf(w, "%s BAD unexpected\r\n", tag)
		}
	}
}

// TestExpungeReportsMessagesTheServerKept: a server that answers UID
// EXPUNGE with OK but keeps messages makes Expunge fail, naming them, so
// that they are not recorded as expunged (and downloaded again later).
func TestExpungeReportsMessagesTheServerKept(t *testing.T) {
	var searched int
	f := fakeInbox(t, startFake(t, expungeServer(false, " 5 7", &searched)), 5*time.Second)
	err := f.Expunge(context.Background(), []uint32{3, 5, 7})
	if err == nil || !strings.Contains(err.Error(), "kept 2 of the messages (UIDs 5,7)") {
		t.Fatalf("Expunge with two messages kept: %v", err)
	}
	if searched != 1 {
		t.Errorf("%d UID SEARCH, want 1", searched)
	}
}

// TestExpungeAsksWhatTheServerKept: the count of messages the server
// reports expunged decides nothing (other sessions' expunges are reported
// in the same answer): with as many reported as asked, a UID SEARCH still
// asks which are left, and one left is an error naming it; with fewer
// reported and none left (they were gone already), it is no error.
func TestExpungeAsksWhatTheServerKept(t *testing.T) {
	var searched int
	f := fakeInbox(t, startFake(t, expungeServer(true, " 5", &searched)), 5*time.Second)
	err := f.Expunge(context.Background(), []uint32{3, 5, 7})
	if err == nil || !strings.Contains(err.Error(), "kept 1 of the messages (UIDs 5)") || searched != 1 {
		t.Fatalf("all reported expunged, one left: %v, %d UID SEARCH sent; want an error naming UID 5, one UID SEARCH", err, searched)
	}
	searched = 0
	g := fakeInbox(t, startFake(t, expungeServer(false, "", &searched)), 5*time.Second)
	if err := g.Expunge(context.Background(), []uint32{3, 5, 7}); err != nil || searched != 1 {
		t.Fatalf("none reported, none left: %v, %d UID SEARCH sent", err, searched)
	}
}
