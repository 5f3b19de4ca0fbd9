package main_test

// Random kill -9 against a real Dovecot: a few thousand messages in
// several folders; rounds of "start the normal binary, SIGKILL it after a
// random (seeded, logged) delay"; then a clean run, and the end state must
// be exactly the expected one: every message once per folder on each side,
// with the right flags, every status row pairing the same message, nothing
// pending, and a further run with nothing to do.
//
// Two phases: a cold download under kills; then rounds that each change
// both sides (flags, deletions, new messages, some without Message-ID) and
// start a sync that is killed: the changes pile up on half-done syncs.
//
// CI setting: 1500 messages, 10 rounds (2 in the cold download). Full
// setting (MAILTRAIL_CRASH_FULL=1): 5000 messages, 60 rounds (12). Override with
// MAILTRAIL_KILL_MESSAGES, MAILTRAIL_KILL_ROUNDS, MAILTRAIL_KILL_SEED,
// MAILTRAIL_KILL_MAX_DELAY_MS.

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/internal/converge"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/model"
)

// killFolders share the messages: name and weight in percent.
var killFolders = []struct {
	name   string
	weight int
}{{"INBOX", 40}, {"Archive/2024", 20}, {"Archive/2025", 15}, {"Lists/go/nuts", 15}, {"Sent", 10}}

// killGone, as the new flags of a message, means it is deleted.
const killGone = model.Flags(0xff)

// killStats counts how rounds ended.
type killStats struct {
	killed, finished int
	midWork          int // killed after at least one side effect
}

// killRound runs the binary and kills it with SIGKILL after delay. It is
// the fault-injecting build without MAILTRAIL_CRASH_AT, which behaves as
// the normal one and traces its steps, so that each kill reports how far
// the run got. A run that finishes first must exit 0; it returns how long
// that took (0 when killed).
func killRound(t *testing.T, e *crashEnv, fbin string, delay time.Duration, what string, st *killStats) time.Duration {
	t.Helper()
	trace := filepath.Join(e.su.dir, "kill-trace")
	os.Remove(trace)
	cmd := exec.Command(fbin, e.syncArgs()...)
	cmd.Env = append(os.Environ(), "MAILTRAIL_FAULT_TRACE="+trace)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	var took time.Duration
	select {
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	case <-done:
		took = time.Since(start)
	}
	steps := map[string]int{}
	if _, err := os.Stat(trace); err == nil {
		steps, _ = crTraceSteps(t, trace)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		st.killed++
		if steps["effect"] > 0 {
			st.midWork++
		}
		t.Logf("%s: killed after %v, at %d journal writes and %d side effects", what, delay.Round(time.Millisecond), steps["journal"], steps["effect"])
		return 0
	case ws.ExitStatus() == 0:
		st.finished++
		t.Logf("%s: finished in %v (%d journal writes, %d side effects), before its kill at %v", what, took.Round(time.Millisecond),
			steps["journal"], steps["effect"], delay.Round(time.Millisecond))
		return took
	default:
		t.Fatalf("%s: exit %d before its kill at %v:\n%s", what, ws.ExitStatus(), delay, out.String())
	}
	return 0
}

// killTimer draws kill delays up to the duration of the last run that
// finished, denser towards its end (est·√U): a run spends its first part
// starting, listing and planning, and most kills should land while side
// effects are in flight; some still land early.
type killTimer struct {
	rng *rand.Rand
	est time.Duration
	max time.Duration
}

func (k *killTimer) next() time.Duration {
	return time.Duration(math.Sqrt(k.rng.Float64())*float64(min(k.est, k.max))) + 5*time.Millisecond
}

func (k *killTimer) finished(took time.Duration) {
	if took > 0 {
		k.est = took + took/4
	}
}

// killExpect is the expected content: folder → "identity flags" → count.
type killExpect map[string]map[string]int

func (k killExpect) add(folder string, body []byte, flags model.Flags) string {
	id, err := converge.Identity(bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if k[folder] == nil {
		k[folder] = map[string]int{}
	}
	k[folder][id+" "+flags.String()]++
	return id
}

func (k killExpect) total() int {
	n := 0
	for _, m := range k {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// crCompareExpect lists how a side differs from the expected content.
func crCompareExpect(side string, want killExpect, got map[string]map[string]int) []string {
	var out []string
	for f, ids := range want {
		for id, c := range ids {
			if got[f][id] != c {
				out = append(out, fmt.Sprintf("%s %s: %s: %d, want %d", side, f, id, got[f][id], c))
			}
		}
	}
	for f, ids := range got {
		for id, c := range ids {
			if want[f][id] == 0 {
				out = append(out, fmt.Sprintf("%s %s: %s: %d, want none", side, f, id, c))
			}
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return out
}

// crLocalByIdentity maps each message identity of a local folder to its file.
func crLocalByIdentity(t *testing.T, e *crashEnv, folder string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, sub := range []string{"cur", "new"} {
		dir := filepath.Join(crLocalDir(e, folder), sub)
		entries, err := os.ReadDir(dir)
		crMust(t, err)
		for _, de := range entries {
			p := filepath.Join(dir, de.Name())
			b, err := os.ReadFile(p)
			crMust(t, err)
			id, err := converge.Identity(bytes.NewReader(b))
			crMust(t, err)
			out[id] = p
		}
	}
	return out
}

// crRemoteByIdentity maps each message identity of a server folder to its
// UID and flags.
func crRemoteByIdentity(t *testing.T, e *crashEnv, folder string) (map[string]uint32, map[uint32]model.Flags) {
	t.Helper()
	rs := e.srv.dial(t)
	defer rs.Close()
	_, byUID := crRemoteContents(t, rs, folder)
	out := map[string]uint32{}
	for uid, id := range byUID {
		out[id] = uid
	}
	rf, err := rs.SelectFolder(context.Background(), folder)
	crMust(t, err)
	defer rf.Close()
	msgs, err := rf.List(context.Background())
	crMust(t, err)
	flags := map[uint32]model.Flags{}
	for _, m := range msgs {
		flags[m.UID] = m.Flags
	}
	return out, flags
}

// checkKillEnd runs a clean sync and checks the end state against want.
func checkKillEnd(t *testing.T, e *crashEnv, want killExpect, phase string) {
	t.Helper()
	r := crRun(t, binary, nil, e.syncArgs()...)
	if r.code != 0 {
		t.Fatalf("%s: the clean run after the kills: exit %d\n%s%s", phase, r.code, r.stdout, r.stderr)
	}
	t.Logf("%s: the clean run after the kills (%v):\n%s", phase, r.elapsed.Round(time.Millisecond), r.stdout)
	got, problems := crEndState(t, e)
	problems = append(problems, crCompareExpect("server", want, got.Remote)...)
	problems = append(problems, crCompareExpect("Maildir", want, got.Local)...)
	for f, ids := range want {
		n := 0
		for _, c := range ids {
			n += c
		}
		if got.Rows[f] != n {
			problems = append(problems, fmt.Sprintf("status %s: %d rows, want %d", f, got.Rows[f], n))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("%s: after the kills and a clean run:\n  %s", phase, strings.Join(problems, "\n  "))
	}
}

// killChanger makes rounds of changes on both sides, each to messages no
// earlier round touched, so that the expected end state stays exact
// whatever the kills left half done.
type killChanger struct {
	t      *testing.T
	e      *crashEnv
	rng    *rand.Rand
	want   killExpect
	pool   map[string][]string          // folder → untouched identities
	local  map[string]map[string]string // folder → identity → file
	remote map[string]map[string]uint32 // folder → identity → UID
	flags  map[string]map[uint32]model.Flags
	newSeq int
	counts struct{ localFlags, remoteFlags, bothFlags, localDel, remoteDel, localNew, remoteNew int }
}

func newKillChanger(t *testing.T, e *crashEnv, rng *rand.Rand, want killExpect) *killChanger {
	c := &killChanger{t: t, e: e, rng: rng, want: want, pool: map[string][]string{}, local: map[string]map[string]string{},
		remote: map[string]map[string]uint32{}, flags: map[string]map[uint32]model.Flags{}}
	for _, f := range killFolders {
		c.local[f.name] = crLocalByIdentity(t, e, f.name)
		c.remote[f.name], c.flags[f.name] = crRemoteByIdentity(t, e, f.name)
		ids := make([]string, 0, len(c.remote[f.name]))
		for id := range c.remote[f.name] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		c.pool[f.name] = ids
	}
	return c
}

// take removes n untouched identities of folder from the pool.
func (c *killChanger) take(folder string, n int) []string {
	n = min(n, len(c.pool[folder]))
	out := c.pool[folder][:n]
	c.pool[folder] = c.pool[folder][n:]
	return out
}

// expect replaces a message's expected flags (killGone: deleted).
func (c *killChanger) expect(folder, id string, from, to model.Flags) {
	exp := c.want[folder]
	k := id + " " + from.String()
	exp[k]--
	if exp[k] == 0 {
		delete(exp, k)
	}
	if to != killGone {
		exp[id+" "+to.String()]++
	}
}

// round changes about n messages across the folders, on both sides.
func (c *killChanger) round(n int) {
	t, ctx := c.t, context.Background()
	for fi, f := range killFolders {
		k := max(1, n*f.weight/100/8)
		local, remote, rflags := c.local[f.name], c.remote[f.name], c.flags[f.name]
		type store struct{ add, remove model.Flags }
		stores := map[store][]uint32{}
		// Local flag changes: flag it and toggle Seen.
		for _, id := range c.take(f.name, 2*k) {
			old := rflags[remote[id]]
			nf := (old | model.Flagged) ^ model.Seen
			crSetLocalFlags(t, local[id], nf)
			c.expect(f.name, id, old, nf)
			c.counts.localFlags++
		}
		// Server flag changes: answer it, drop Seen.
		for _, id := range c.take(f.name, 2*k) {
			old := rflags[remote[id]]
			st := store{model.Answered, model.Seen}
			stores[st] = append(stores[st], remote[id])
			c.expect(f.name, id, old, (old|model.Answered)&^model.Seen)
			c.counts.remoteFlags++
		}
		// Both sides: flagged locally, marked as a draft on the server.
		for _, id := range c.take(f.name, max(1, k/2)) {
			old := rflags[remote[id]]
			crSetLocalFlags(t, local[id], old|model.Flagged)
			st := store{model.Draft, 0}
			stores[st] = append(stores[st], remote[id])
			c.expect(f.name, id, old, old|model.Flagged|model.Draft)
			c.counts.bothFlags++
		}
		for _, id := range c.take(f.name, k) {
			crMust(t, os.Remove(local[id]))
			c.expect(f.name, id, rflags[remote[id]], killGone)
			c.counts.localDel++
		}
		var expunge []uint32
		for _, id := range c.take(f.name, k) {
			expunge = append(expunge, remote[id])
			c.expect(f.name, id, rflags[remote[id]], killGone)
			c.counts.remoteDel++
		}
		crChangeRemote(t, c.e, f.name, func(rf adapters.RemoteFolder) {
			for ch, uids := range stores {
				crMust(t, rf.StoreFlags(ctx, uids, ch.add, ch.remove))
			}
			crMust(t, rf.Expunge(ctx, expunge))
		})
		// New messages on both sides; one local in five has no Message-ID.
		c.newSeq++
		for i, m := range sample.Messages(fmt.Sprintf("new-local/%s/%d", f.name, c.newSeq), k, int64(1000*c.newSeq+fi)) {
			body := m.Body
			if i%5 == 0 {
				body = crNoID(fmt.Sprintf("%s %d %03d", f.name, c.newSeq, i), m.Flags).Body
			}
			crPutLocal(t, c.e, f.name, fmt.Sprintf("offline-%d-%03d", c.newSeq, i), body, m.Flags)
			c.want.add(f.name, body, m.Flags)
			c.counts.localNew++
		}
		if fi == 0 {
			// A file with CR CR LF: Dovecot stores it one byte shorter.
			body := fmt.Sprintf("From: old-client@example.org\nSubject: CR CR LF %d\nMessage-ID: <crcrlf.%d@mailtrail.example>\n\nline one\r\r\nline two\n", c.newSeq, c.newSeq)
			crMust(t, os.WriteFile(filepath.Join(crLocalDir(c.e, f.name), "cur", fmt.Sprintf("crcrlf-%d:2,S", c.newSeq)), []byte(body), 0o600))
			c.want.add(f.name, []byte(body), model.Seen)
			c.counts.localNew++
		}
		newRemote := sample.Messages(fmt.Sprintf("new-remote/%s/%d", f.name, c.newSeq), k, int64(1000*c.newSeq+500+fi))
		crPutRemote(t, c.e, f.name, newRemote)
		for _, m := range newRemote {
			c.want.add(f.name, m.Body, m.Flags)
			c.counts.remoteNew++
		}
	}
}

func TestKillNineRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 rounds: not in -short")
	}
	total, rounds := 1500, 10
	if crashFull() {
		total, rounds = 5000, 60
	}
	total = crashEnvInt("MAILTRAIL_KILL_MESSAGES", total)
	rounds = max(4, crashEnvInt("MAILTRAIL_KILL_ROUNDS", rounds))
	seed := int64(crashEnvInt("MAILTRAIL_KILL_SEED", int(time.Now().UnixNano()%1_000_000_000)))
	maxDelay := time.Duration(crashEnvInt("MAILTRAIL_KILL_MAX_DELAY_MS", 5000)) * time.Millisecond
	t.Logf("seed %d (MAILTRAIL_KILL_SEED=%d repeats the choices; the timing is the machine's), %d messages, %d rounds, delays up to %v",
		seed, seed, total, rounds, maxDelay)
	rng := rand.New(rand.NewSource(seed))
	begin := time.Now()

	d := testdovecot.Start(t, "alice:secret")
	s := server{host: d.Host, port: d.TLSPort, user: "alice", pass: "secret", tls: imap.TLSImplicit, ca: d.CAFile}
	e := &crashEnv{srv: s, dove: d, su: newSetup(t, s, "")}

	// Phase 1: a cold download, killed again and again.
	want := killExpect{}
	for i, f := range killFolders {
		n := total * f.weight / 100
		msgs := sample.Messages(f.name, n, int64(100+i))
		crPutRemote(t, e, f.name, msgs)
		for _, m := range msgs {
			want.add(f.name, m.Body, m.Flags)
		}
	}
	t.Logf("seeded %d messages in %v", want.total(), time.Since(begin).Round(time.Millisecond))
	fbin := crFaultBinary(t)
	var st killStats
	// A cold sync here takes about 0.5 ms per message; the estimate adapts
	// to the runs that finish.
	timer := &killTimer{rng: rng, est: time.Duration(total) * 600 * time.Microsecond, max: maxDelay}
	cold := max(2, rounds/5)
	for i := 1; i <= cold; i++ {
		timer.finished(killRound(t, e, fbin, timer.next(), fmt.Sprintf("cold download round %d", i), &st))
	}
	checkKillEnd(t, e, want, "cold download")

	// Phase 2: each round, changes on both sides to messages not touched
	// before, then a sync killed at random.
	ch := newKillChanger(t, e, rng, want)
	perRound := max(16, total/2/(rounds-cold))
	timer.est = 300 * time.Millisecond
	for i := 1; i <= rounds-cold; i++ {
		ch.round(perRound)
		timer.finished(killRound(t, e, fbin, timer.next(), fmt.Sprintf("changes round %d", i), &st))
	}
	c := ch.counts
	t.Logf("changes: %d flag changes locally, %d on the server, %d on both sides; %d deleted locally, %d expunged on the server; %d new local, %d new on the server; %d messages expected",
		c.localFlags, c.remoteFlags, c.bothFlags, c.localDel, c.remoteDel, c.localNew, c.remoteNew, want.total())
	checkKillEnd(t, e, want, "changes")

	t.Logf("figures: %d rounds: %d killed (%d of them after side effects had begun), %d finished before their kill; %d messages at the end; seed %d; %v",
		rounds, st.killed, st.midWork, st.finished, want.total(), seed, time.Since(begin).Round(time.Second))
}
