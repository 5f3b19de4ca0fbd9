package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/latencyproxy"
	"mailtrail/model"
)

// The fast paths (a folder skipped because LIST-STATUS and its directory
// stamps say nothing changed, plans from a survey of the changes, a
// verification that records the state the next run trusts) are only
// correct if no change made while a sync runs is ever taken for one the
// sync has seen. TestChangesDuringSync makes random changes on both sides,
// some before each sync and some while it runs, as a mail program and
// another IMAP client would, and keeps a ledger of what each change calls
// for. After every round one quiet sync must leave both sides holding
// exactly the ledger's mail: every message in its folder once, with its
// \Seen and \Flagged, nothing deleted that no change deleted, nothing kept
// that one did. A change a sync wrongly recorded as seen would stay
// unsynced after the quiet sync, and a message taken for deleted would be
// missing.
//
// No message is changed twice in a round, so the outcome does not depend
// on how the sync orders concurrent changes: the ledger is exact.
//
// Servers: Dovecot, imapmemserver, and Dovecot 20 ms away
// (internal/latencyproxy): there the verification's survey of each folder
// goes behind its execution (engine: surveysBehindFrom), taken while the
// other folders still execute and changes are still being made.
//
// MAILTRAIL_CONCURRENT_ROUNDS sets the rounds per server (default 8; the
// full setting in docs/RELIABILITY.md is 300), MAILTRAIL_CONCURRENT_SEED the
// seed (default: the clock, logged so that a failure can be replayed).

var concurrentFolders = []string{"INBOX", "Work", "Archive"}

func TestChangesDuringSync(t *testing.T) {
	rounds := 8
	if v := os.Getenv("MAILTRAIL_CONCURRENT_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MAILTRAIL_CONCURRENT_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("MAILTRAIL_CONCURRENT_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("MAILTRAIL_CONCURRENT_SEED=%q: want a number", v)
		}
		seed = n
	}
	for _, tc := range []struct {
		name string
		srv  func(*testing.T) server
	}{{"dovecot", dovecotServer}, {"memserver", memServer}, {"dovecot-far", farDovecotServer}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("seed %d (MAILTRAIL_CONCURRENT_SEED=%d replays it), %d rounds", seed, seed, rounds)
			w := newWorld(t, tc.srv(t), seed)
			for r := 1; r <= rounds; r++ {
				w.round(r)
			}
			t.Logf("%d changes made during syncs, %d of them before the sync had ended; %d syncs killed before they ended", w.made, w.whileRunning, w.killed)
			if w.whileRunning == 0 {
				t.Errorf("no change was made while a sync ran: the test tests nothing it means to")
			}
		})
	}
}

// expected is what the ledger says of one message.
type expected struct {
	folder string
	flags  model.Flags // Seen and Flagged only
}

const ledgerFlags = model.Seen | model.Flagged

// world is one user's server and Maildir, and the ledger of what they
// must hold.
type world struct {
	t   *testing.T
	srv server
	su  setup
	rng *rand.Rand
	// mu guards ledger and next: changes made during a sync come from
	// their own goroutine.
	mu     sync.Mutex
	ledger map[string]expected // by Message-ID
	next   int
	client adapters.Remote // the other IMAP client, one connection
	// made counts the changes made during syncs, whileRunning those of
	// them made before the sync had ended; killed the syncs killed.
	made, whileRunning, killed int
}

func newWorld(t *testing.T, s server, seed int64) *world {
	w := &world{t: t, srv: s, su: newSetup(t, s, ""), rng: rand.New(rand.NewSource(seed)), ledger: map[string]expected{}}
	w.client = s.dial(t)
	ctx := context.Background()
	for _, name := range concurrentFolders {
		if name != "INBOX" {
			if err := w.client.CreateFolder(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 12; i++ {
			if err := w.serverNew(name, randomFlags(w.rng)); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.su.sync(t)
	w.check("the first sync")
	return w
}

// message makes a new message with a Message-ID of its own.
func (w *world) message() (id string, body []byte) {
	w.mu.Lock()
	w.next++
	n := w.next
	w.mu.Unlock()
	id = fmt.Sprintf("c%d@concurrent.example", n)
	body = []byte(fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\n"+
		"Date: Mon, 3 Mar 2025 10:00:00 +0000\r\nMessage-ID: <%s>\r\n\r\nbody of message %d\r\n", n, id, n))
	return id, body
}

func (w *world) expect(id string, e expected, deleted bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if deleted {
		delete(w.ledger, id)
	} else {
		w.ledger[id] = e
	}
}

// randomFlags is \Seen and \Flagged at random.
func randomFlags(rng *rand.Rand) model.Flags {
	var f model.Flags
	if rng.Intn(2) == 0 {
		f |= model.Seen
	}
	if rng.Intn(3) == 0 {
		f |= model.Flagged
	}
	return f
}

// change is one change to one message (or a new one).
type change struct {
	kind   string // server-new, server-flags, server-delete, server-move, local-new, local-flags, local-delete, local-move
	id     string // the message changed (empty for a new one)
	folder string // where the message is (or goes, for a new one)
	dest   string // a move's destination
	flags  model.Flags
	strip  bool // a local move that drops ",U=<uid>" from the name, as some tools do
}

var changeKinds = []string{"server-new", "server-flags", "server-delete", "server-move",
	"local-new", "local-flags", "local-delete", "local-move"}

// pick chooses n changes, each to a message no other one touches.
func (w *world) pick(n int, taken map[string]bool) []change {
	w.mu.Lock()
	ids := make([]string, 0, len(w.ledger))
	for id := range w.ledger {
		if !taken[id] {
			ids = append(ids, id)
		}
	}
	ledger := make(map[string]expected, len(w.ledger))
	for id, e := range w.ledger {
		ledger[id] = e
	}
	w.mu.Unlock()
	sort.Strings(ids)
	var out []change
	for len(out) < n {
		c := change{kind: changeKinds[w.rng.Intn(len(changeKinds))], flags: randomFlags(w.rng)}
		if strings.HasSuffix(c.kind, "-new") {
			c.folder = concurrentFolders[w.rng.Intn(len(concurrentFolders))]
			out = append(out, c)
			continue
		}
		if len(ids) == 0 {
			continue
		}
		i := w.rng.Intn(len(ids))
		c.id = ids[i]
		ids = append(ids[:i], ids[i+1:]...)
		taken[c.id] = true
		c.folder = ledger[c.id].folder
		for c.dest = c.folder; c.dest == c.folder; {
			c.dest = concurrentFolders[w.rng.Intn(len(concurrentFolders))]
		}
		c.strip = w.rng.Intn(2) == 0
		if c.kind == "local-flags" || c.kind == "server-flags" {
			for c.flags == ledger[c.id].flags {
				c.flags = randomFlags(w.rng)
			}
		}
		out = append(out, c)
	}
	return out
}

// apply makes one change and records what it calls for. A change made
// during a sync may find its message moved by the sync meanwhile (a
// download renamed, say): it looks for it again.
func (w *world) apply(c change) error {
	switch c.kind {
	case "server-new":
		return w.serverNew(c.folder, c.flags)
	case "local-new":
		return w.localNew(c.folder, c.flags)
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		switch c.kind {
		case "server-flags", "server-delete", "server-move":
			err = w.serverChange(c)
		default:
			err = w.localChange(c)
		}
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s of %s in %s: %w", c.kind, c.id, c.folder, err)
}

func (w *world) serverNew(folder string, flags model.Flags) error {
	ctx := context.Background()
	id, body := w.message()
	f, err := w.client.SelectFolder(ctx, folder)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), flags, time.Time{}); err != nil {
		return fmt.Errorf("append to %s: %w", folder, err)
	}
	w.expect(id, expected{folder: folder, flags: flags}, false)
	return nil
}

// serverMessages lists folder f on the server with each message's
// Message-ID (without its angle brackets).
func serverMessages(ctx context.Context, f adapters.RemoteFolder) ([]model.RemoteMsg, map[uint32]string, error) {
	msgs, err := f.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	ids, err := f.MessageIDs(ctx, uids)
	if err != nil {
		return nil, nil, err
	}
	for uid, id := range ids {
		ids[uid] = strings.Trim(id, "<> ")
	}
	return msgs, ids, nil
}

// serverUID finds message id in folder on the server.
func serverUID(ctx context.Context, f adapters.RemoteFolder, id string) (uint32, model.Flags, error) {
	msgs, ids, err := serverMessages(ctx, f)
	if err != nil {
		return 0, 0, err
	}
	for _, m := range msgs {
		if ids[m.UID] == id {
			return m.UID, m.Flags, nil
		}
	}
	return 0, 0, fmt.Errorf("not on the server")
}

func (w *world) serverChange(c change) error {
	ctx := context.Background()
	f, err := w.client.SelectFolder(ctx, c.folder)
	if err != nil {
		return err
	}
	defer f.Close()
	uid, flags, err := serverUID(ctx, f, c.id)
	if err != nil {
		return err
	}
	switch c.kind {
	case "server-flags":
		add, remove := c.flags&^flags&ledgerFlags, flags&^c.flags&ledgerFlags
		if err := f.StoreFlags(ctx, []uint32{uid}, add, remove); err != nil {
			return err
		}
		w.expect(c.id, expected{folder: c.folder, flags: c.flags}, false)
	case "server-delete":
		if err := f.Expunge(ctx, []uint32{uid}); err != nil {
			return err
		}
		w.expect(c.id, expected{}, true)
	case "server-move":
		if _, _, err := f.Move(ctx, []uint32{uid}, c.dest); err != nil {
			return err
		}
		w.expect(c.id, expected{folder: c.dest, flags: flags & ledgerFlags}, false)
	}
	return nil
}

func (w *world) folderDir(folder string) string { return filepath.Join(w.su.maildir, folder) }

// withFlags is a Maildir file name with \Seen and \Flagged as flags says,
// its other info letters kept.
func withFlags(name string, flags model.Flags) string {
	base, info := name, ""
	if i := strings.Index(name, ":2,"); i >= 0 {
		base, info = name[:i], name[i+3:]
	}
	old, extra := model.ParseMaildir(info)
	return base + ":2," + (old&^ledgerFlags | flags&ledgerFlags).Maildir() + extra
}

// nameFlags reads \Seen and \Flagged from a file name's info, in new/
// too (OfflineIMAP names an unseen message it downloads with its other
// flags there).
func nameFlags(name string) model.Flags {
	i := strings.Index(name, ":2,")
	if i < 0 {
		return 0
	}
	f, _ := model.ParseMaildir(name[i+3:])
	return f & ledgerFlags
}

func (w *world) localNew(folder string, flags model.Flags) error {
	id, body := w.message()
	name := fmt.Sprintf("%d.C%sP%d.concurrent", time.Now().Unix(), strings.TrimSuffix(id, "@concurrent.example"), os.Getpid())
	tmp := filepath.Join(w.folderDir(folder), "tmp", name)
	if err := os.WriteFile(tmp, bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), 0o600); err != nil {
		return err
	}
	// As a mail program does: a message it writes with flags goes to
	// cur/, one without to new/.
	dst := filepath.Join(w.folderDir(folder), "new", name)
	if flags != 0 {
		dst = filepath.Join(w.folderDir(folder), "cur", withFlags(name, flags))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	w.expect(id, expected{folder: folder, flags: flags}, false)
	return nil
}

var messageIDLine = regexp.MustCompile(`(?mi)^Message-ID:\s*<([^>]*)>`)

// localFiles lists a local folder: Message-ID to the file's sub-directory
// and name, and every ID seen, counted.
type localFile struct{ sub, name string }

func (w *world) localFiles(folder string) (map[string][]localFile, error) {
	out := map[string][]localFile{}
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(w.folderDir(folder), sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if os.IsNotExist(err) {
				continue // renamed meanwhile (a sync runs)
			}
			if err != nil {
				return nil, err
			}
			id := "(none) " + e.Name()
			if m := messageIDLine.FindSubmatch(b); m != nil {
				id = string(m[1])
			}
			out[id] = append(out[id], localFile{sub, e.Name()})
		}
	}
	return out, nil
}

var uidPart = regexp.MustCompile(`,U=[0-9]+`)

func (w *world) localChange(c change) error {
	files, err := w.localFiles(c.folder)
	if err != nil {
		return err
	}
	if len(files[c.id]) != 1 {
		return fmt.Errorf("%d local files", len(files[c.id]))
	}
	lf := files[c.id][0]
	path := filepath.Join(w.folderDir(c.folder), lf.sub, lf.name)
	switch c.kind {
	case "local-flags":
		// A mail program that changes flags moves the file to cur/.
		if err := os.Rename(path, filepath.Join(w.folderDir(c.folder), "cur", withFlags(lf.name, c.flags))); err != nil {
			return err
		}
		w.expect(c.id, expected{folder: c.folder, flags: c.flags}, false)
	case "local-delete":
		if err := os.Remove(path); err != nil {
			return err
		}
		w.expect(c.id, expected{}, true)
	case "local-move":
		name := lf.name
		if c.strip {
			name = uidPart.ReplaceAllString(name, "")
		}
		if err := os.Rename(path, filepath.Join(w.folderDir(c.dest), lf.sub, name)); err != nil {
			return err
		}
		w.expect(c.id, expected{folder: c.dest, flags: nameFlags(lf.name)}, false)
	}
	return nil
}

// round makes changes, some while a sync runs, then syncs once more and
// checks both sides against the ledger.
func (w *world) round(r int) {
	t := w.t
	taken := map[string]bool{}
	before := w.pick(2+w.rng.Intn(5), taken)
	during := w.pick(1+w.rng.Intn(5), taken)
	// When each change is made, from the sync's start: a sync of this
	// little mail takes a few tens of milliseconds.
	at := make([]time.Duration, len(during))
	for i := range at {
		at[i] = time.Duration(w.rng.Intn(40_000)) * time.Microsecond
	}
	if w.rng.Intn(3) == 0 {
		// A burst of new messages a millisecond or so apart, some of
		// them bound to land within the clock tick of a directory the
		// sync writes or stamps (file times move in ticks of a few
		// milliseconds).
		folder := concurrentFolders[w.rng.Intn(len(concurrentFolders))]
		next := time.Duration(w.rng.Intn(30_000)) * time.Microsecond
		for i := 8 + w.rng.Intn(12); i > 0; i-- {
			during = append(during, change{kind: "local-new", folder: folder, flags: randomFlags(w.rng)})
			at = append(at, next)
			next += time.Duration(w.rng.Intn(2000)) * time.Microsecond
		}
	}
	order := make([]int, len(during))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return at[order[i]] < at[order[j]] })
	for _, c := range before {
		if err := w.apply(c); err != nil {
			t.Fatalf("round %d, before the sync: %v", r, err)
		}
	}
	// One sync in three is killed (SIGKILL) at a random instant: the next
	// one resumes its interrupted operations among the changes made
	// meanwhile.
	kill := w.rng.Intn(3) == 0
	killAt := time.Duration(w.rng.Intn(40_000)) * time.Microsecond
	cmd := exec.Command(binary, "-c", w.su.config, "-o", "-u", "quiet")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if kill {
		timer := time.AfterFunc(killAt, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	errs := make(chan error, 1)
	var madeAt []time.Time // when each change during the sync was made
	start := time.Now()
	go func() {
		var first error
		for _, i := range order {
			time.Sleep(time.Until(start.Add(at[i])))
			if err := w.apply(during[i]); err != nil && first == nil {
				first = err
			}
			madeAt = append(madeAt, time.Now())
		}
		errs <- first
	}()
	serr := cmd.Wait()
	ended := time.Now()
	if err := <-errs; err != nil {
		t.Fatalf("round %d, during the sync: %v", r, err)
	}
	for _, at := range madeAt {
		w.made++
		if at.Before(ended) {
			w.whileRunning++
		}
	}
	var exit *exec.ExitError
	switch {
	case serr == nil:
	case kill && errors.As(serr, &exit) && !exit.Exited():
		w.killed++
	default:
		// A sync that met a change under its feet may fail a folder; the
		// quiet sync after it must still converge.
		t.Logf("round %d: the sync during changes: %v\n%s", r, serr, out.String())
	}
	w.su.sync(t)
	w.check(fmt.Sprintf("round %d (changes before the sync: %s; during it: %s)", r, describe(before), describe(during)))
}

func describe(cs []change) string {
	var parts []string
	for _, c := range cs {
		s := c.kind + " " + c.folder
		if c.id != "" {
			s += " " + c.id
		}
		if strings.HasSuffix(c.kind, "-move") {
			s += " to " + c.dest
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// check compares both sides with the ledger.
func (w *world) check(when string) {
	t := w.t
	t.Helper()
	ctx := context.Background()
	w.mu.Lock()
	want := make(map[string]expected, len(w.ledger))
	for id, e := range w.ledger {
		want[id] = e
	}
	w.mu.Unlock()
	var diffs []string
	serverSeen := map[string]int{}
	localSeen := map[string]int{}
	for _, folder := range concurrentFolders {
		f, err := w.client.SelectFolder(ctx, folder)
		if err != nil {
			t.Fatal(err)
		}
		msgs, ids, err := serverMessages(ctx, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			id := ids[m.UID]
			serverSeen[id]++
			e, ok := want[id]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("server %s holds %s, which was deleted or never made", folder, id))
			case e.folder != folder:
				diffs = append(diffs, fmt.Sprintf("server %s holds %s, which belongs in %s", folder, id, e.folder))
			case m.Flags&ledgerFlags != e.flags:
				diffs = append(diffs, fmt.Sprintf("server %s: %s has flags %v, want %v", folder, id, m.Flags&ledgerFlags, e.flags))
			}
		}
		files, err := w.localFiles(folder)
		if err != nil {
			t.Fatal(err)
		}
		for id, fs := range files {
			for _, lf := range fs {
				localSeen[id]++
				e, ok := want[id]
				switch {
				case !ok:
					diffs = append(diffs, fmt.Sprintf("local %s holds %s (%s/%s), which was deleted or never made", folder, id, lf.sub, lf.name))
				case e.folder != folder:
					diffs = append(diffs, fmt.Sprintf("local %s holds %s (%s/%s), which belongs in %s", folder, id, lf.sub, lf.name, e.folder))
				case nameFlags(lf.name) != e.flags:
					diffs = append(diffs, fmt.Sprintf("local %s: %s (%s/%s) has flags %v, want %v", folder, id, lf.sub, lf.name, nameFlags(lf.name), e.flags))
				}
			}
		}
	}
	for id, e := range want {
		if n := serverSeen[id]; n != 1 {
			diffs = append(diffs, fmt.Sprintf("server holds %s %d times, want once (in %s)", id, n, e.folder))
		}
		if n := localSeen[id]; n != 1 {
			diffs = append(diffs, fmt.Sprintf("local holds %s %d times, want once (in %s)", id, n, e.folder))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("after %s, one quiet sync left the sides off the ledger:\n  %s", when, strings.Join(diffs, "\n  "))
	}
}

// farDovecotServer is dovecotServer 20 ms away: reached through a proxy
// that adds that round trip (the syncs' link delay is then over the
// engine's surveysBehindFrom).
func farDovecotServer(t *testing.T) server {
	s := dovecotServer(t)
	p, err := latencyproxy.Start(net.JoinHostPort(s.host, strconv.Itoa(s.port)), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	s.port = p.Port()
	return s
}
