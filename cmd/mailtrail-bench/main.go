// Command mailtrail-bench measures mailtrail side by side with mbsync and
// OfflineIMAP against a private Dovecot on loopback (docs/PERFORMANCE.md).
//
//	go run ./cmd/mailtrail-bench [--messages 5000] [--folders 8] [--big-folder 0] [--names peers|dovecot]
//	    [--tools mailtrail,mbsync,mbsync-nofsync,offlineimap] [--rounds 1]
//	    [--work DIR] [--mailtrail BIN] [--latency RTT] [--tls] [--profile] [--debug] [--strace] [--keep]
//
// It starts its own Dovecot (internal/testdovecot; needs root and the
// dovecot-imapd package), generates a deterministic corpus
// (internal/corpus) and gives every tool, in every round, a server user of
// its own holding an identical copy. Its files are named as the issue's
// peers-bench names them, or with --names dovecot as Dovecot's own
// deliveries do: the same messages, but names that Dovecot's file-name
// hash spreads, where the first kind makes most of Dovecot's work on a
// large folder lookups in that hash's table (docs/PERFORMANCE.md). Then
// it runs four phases, each tool after the other within a phase (the
// order rotates from round to round), with a sync(2) before every run:
//
//	cold   first sync into an empty Maildir
//	noop   again, nothing changed
//	incr   after 1% changes on both sides, the same for every tool (mutate.go)
//	noop2  again, nothing changed
//
// and, with --again N, N more rounds of 1% changes and a sync (incr2, ...):
// the server and the Maildir as a sync leaves them, not as a first import
// leaves them (Dovecot does work after an import that it does not do again);
// and last, with --mark-all-read, a sync after every unread message of the
// largest server folder was marked read there (allread: a webmail's
// "select all, mark as read"; a third of the messages of the corpus's
// folders are unread), then a sync after every message of the largest
// Maildir folder was marked unread in the Maildir (unreadlocal: a mail
// reader's "tag all, mark unread"; after allread that is every message of
// the folder, each a flag change to send to the server).
//
// Each run is one process, timed (wall, CPU) and measured (peak RSS from
// wait4) by a small runner process (./runner). After every run the server and the
// Maildir must hold the same messages (by Message-ID) with the same flags.
// It prints a table of medians over the rounds and the ratios of mailtrail
// to mbsync, and exits 1 when a tool failed or did not converge.
//
// Tools that are not installed (mbsync: isync; offlineimap: offlineimap3)
// are left out with a note. mailtrail is built from this module unless
// --mailtrail names a binary.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mailtrail/internal/corpus"
	"mailtrail/internal/latencyproxy"
	"mailtrail/internal/testdovecot"
)

// settle is the least time between a change to a tool's mail and its next
// run.
const settle = 1100 * time.Millisecond

// Rounds delete nothing: every round's Maildirs and server mailboxes go
// when the benchmark ends. ext4 without a journal (this VM's root file
// system, or any ext4 made or mounted without one) will not reuse an
// inode deleted less than 60 s ago, 360 s while its inode table block is
// dirty (fs/ext4/ialloc.c, recently_deleted), and finds that out by
// reading each free inode it passes over: after 100,000 files are deleted,
// creating a file here costs about 0.5 ms instead of 0.04 ms for minutes
// (20,000 files: 10.2 s against 0.8–0.9 s). A round that deleted the last
// round's mail would make the next cold syncs pay for it, the first tool
// most.

// phaseList is the phases run, in order: the four, then again incr2,
// incr3, ...
func phaseList(again int, markAllRead bool) []string {
	ps := []string{"cold", "noop", "incr", "noop2"}
	for k := 2; k <= again+1; k++ {
		ps = append(ps, "incr"+strconv.Itoa(k))
	}
	if markAllRead {
		ps = append(ps, "allread", "unreadlocal")
	}
	return ps
}

// repeat is the number of a phase of 1% changes (1 for incr, k for incrk),
// 0 for the others.
func repeat(phase string) int {
	if phase == "incr" {
		return 1
	}
	if k, err := strconv.Atoi(strings.TrimPrefix(phase, "incr")); err == nil && strings.HasPrefix(phase, "incr") {
		return k
	}
	return 0
}

func phaseTitle(phase string) string {
	switch phase {
	case "cold":
		return "cold"
	case "noop":
		return "no change"
	case "noop2":
		return "no change again"
	case "incr":
		return "1% changed on both sides"
	case "allread":
		return "largest folder marked read on the server"
	case "unreadlocal":
		return "largest folder marked unread in the Maildir"
	}
	return fmt.Sprintf("1%% changed on both sides, again (%d)", repeat(phase))
}

type options struct {
	messages, folders, big, rounds int
	tools                          []string
	work, mailtrail                string
	names                          corpus.Names
	profile, strace, keep, debug   bool
	latency                        time.Duration
	tls                            bool
	again                          int
	markAllRead                    bool
}

// result is one tool's run in one phase of one round.
type result struct {
	Round  int
	Phase  string
	Tool   string
	Sample sample
	// Floor, in the no-change phases, is connect + login + LIST-STATUS +
	// logout for the same user right after the run: what an unchanged
	// sync cannot avoid (the server's share).
	Floor time.Duration `json:",omitempty"`
	Diffs []string      `json:",omitempty"` // convergence failures
	Err   string        `json:",omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("mailtrail-bench", flag.ContinueOnError)
	var o options
	var tools string
	fs.IntVar(&o.messages, "messages", 5000, "messages spread over the folders")
	fs.IntVar(&o.folders, "folders", 8, "folders")
	fs.IntVar(&o.big, "big-folder", 0, "also this many small messages in folder Big")
	names := string(corpus.NamesPeers)
	fs.StringVar(&names, "names", names, "how the corpus's files are named on the server: peers (as the issue's peers-bench corpus names them; Dovecot's file-name hash spreads them badly, and a large folder's sync then measures mostly that) or dovecot (as Dovecot's own deliveries name them)")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds (fresh users and Maildirs each); the table shows medians")
	fs.StringVar(&tools, "tools", strings.Join(knownTools, ","), "tools to run, comma separated: "+strings.Join(knownTools, ","))
	fs.StringVar(&o.work, "work", "", "working directory (new or empty; default: a temporary one, removed at the end)")
	fs.StringVar(&o.mailtrail, "mailtrail", "", "mailtrail binary to measure (default: go build ./cmd/mailtrail of this module)")
	fs.BoolVar(&o.profile, "profile", false, "write a CPU profile and a peak heap profile of every mailtrail run (MAILTRAIL_CPUPROFILE, MAILTRAIL_HEAPPROFILE) to WORK/profiles")
	fs.BoolVar(&o.strace, "strace", false, "run mailtrail under strace -f -c -w (a syscall summary per run in WORK/strace; slows it: not for the table)")
	fs.BoolVar(&o.keep, "keep", false, "keep the working directory and the last round's Maildirs")
	fs.DurationVar(&o.latency, "latency", 0, "round-trip time added between the tools and the server by a proxy (e.g. 20ms: a server farther away than loopback); the floor column stays direct")
	fs.BoolVar(&o.tls, "tls", false, "the tools reach the server over implicit TLS (IMAPS, its self-signed certificate given to each tool as the CA to trust), as most users reach theirs; the floor column stays plain")
	fs.IntVar(&o.again, "again", 0, "after the four phases, this many more rounds of 1% changes on both sides and a sync each: what a sync costs once the server has settled after the import")
	fs.BoolVar(&o.markAllRead, "mark-all-read", false, "last, mark every unread message of the largest server folder read (a webmail's select all, mark as read) and sync: a third of a large folder's flags changed at once")
	fs.BoolVar(&o.debug, "debug", false, "run mailtrail with --debug: its log (WORK/<tool>-r<round>/log) times every IMAP command; slows it a little")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.names = corpus.Names(names)
	if err := o.names.Check(); err != nil {
		fmt.Fprintf(os.Stderr, "mailtrail-bench: --names: %v\n", err)
		return 2
	}
	if fs.NArg() > 0 || o.rounds < 1 || o.messages < 0 || o.folders < 1 || o.big < 0 || o.again < 0 || o.messages+o.big == 0 {
		fmt.Fprintln(os.Stderr, "mailtrail-bench: bad arguments; see -h")
		return 2
	}
	o.tools = strings.Split(tools, ",")
	if err := bench(o); err != nil {
		fmt.Fprintln(os.Stderr, "mailtrail-bench:", err)
		if _, ok := err.(failedError); ok {
			return 1
		}
		return 2
	}
	return 0
}

// failedError: the benchmark ran, but a tool failed or did not converge.
type failedError string

func (e failedError) Error() string { return string(e) }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func bench(o options) (err error) {
	work := o.work
	if work == "" {
		if work, err = os.MkdirTemp("", "mailtrail-bench-"); err != nil {
			return err
		}
		if !o.keep {
			defer os.RemoveAll(work)
		}
	} else {
		if entries, _ := os.ReadDir(work); len(entries) > 0 {
			return fmt.Errorf("--work %s is not empty", work)
		}
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
	}
	if work, err = filepath.Abs(work); err != nil {
		return err
	}
	build := buildInfo()
	logf("mailtrail-bench: working in %s", work)

	runner, err := buildRunner(filepath.Join(work, "bin"))
	if err != nil {
		return err
	}
	bin := o.mailtrail
	if bin == "" {
		bin = filepath.Join(work, "bin", "mailtrail")
		logf("building mailtrail (%s)", build)
		if err := buildMailtrail(bin); err != nil {
			return err
		}
	}
	if w := cgoWarning(bin); w != "" {
		logf("warning: %s", w)
	}
	if err := forgetCachedPages(bin); err != nil {
		logf("could not drop %s from the page cache (its runs' peak RSS may read a few MB high): %v", bin, err)
	}
	var tools []string
	paths := map[string]string{}
	for _, t := range o.tools {
		p, err := findTool(t, bin)
		if err != nil {
			if t == "mailtrail" || !slices.Contains(knownTools, t) {
				return err
			}
			logf("leaving out %s: %v", t, err)
			continue
		}
		tools = append(tools, t)
		paths[t] = p
	}

	var users []string
	for r := 1; r <= o.rounds; r++ {
		for _, t := range tools {
			users = append(users, serverUser(t, r))
		}
	}
	srv, err := testdovecot.Launch(testdovecot.Options{Users: users})
	if err != nil {
		return err
	}
	defer srv.Close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		srv.Close()
		os.Exit(130)
	}()
	logf("dovecot on %s (%s)", srv.Addr(), srv.Dir)

	if per, err := probeFileCreation(work, 2000); err == nil {
		logf("file creation here: %.0f µs a file (2,000 files; about 40 µs on this VM when nothing was deleted in the last minutes)", per.Seconds()*1e6)
	}
	tmpl := filepath.Join(work, "corpus")
	start := time.Now()
	sum, err := corpus.WriteMaildir(tmpl, corpus.Options{Messages: o.messages, Folders: o.folders, BigFolder: o.big, Names: o.names})
	if err != nil {
		return fmt.Errorf("corpus: %v", err)
	}
	logf("corpus: %s (%.1fs)", sum, time.Since(start).Seconds())
	if used, err := diskUsage(tmpl); err != nil {
		logf("free space not checked: could not measure the corpus on disk: %v", err)
	} else {
		// Every tool of every round: a server mailbox and a Maildir,
		// each a copy of the corpus, with a tenth more for logs,
		// journals and Dovecot's indexes.
		copies := int64(len(tools) * o.rounds)
		each := used + used/10
		warnings, err := checkSpace([]spaceNeed{{srv.Dir, copies * each}, {work, copies * each}})
		if err != nil {
			return err
		}
		for _, w := range warnings {
			logf("warning: %s", w)
		}
	}

	b := &benchRun{o: o, srv: srv, runner: runner, work: work, tmpl: tmpl, tools: tools, paths: paths, port: srv.Port}
	if o.tls {
		b.port, b.caFile = srv.TLSPort, srv.CAFile
		logf("tools reach the server over implicit TLS (port %d, CA %s)", b.port, b.caFile)
	}
	if o.latency > 0 {
		proxy, err := latencyproxy.Start(fmt.Sprintf("127.0.0.1:%d", b.port), o.latency)
		if err != nil {
			return fmt.Errorf("latency proxy: %v", err)
		}
		defer proxy.Close()
		b.port = proxy.Port()
		logf("tools reach the server through a proxy adding %v a round trip (port %d)", o.latency, b.port)
	}
	defer func() {
		for _, dir := range b.leftovers {
			os.RemoveAll(dir)
		}
	}()
	var results []result
	for r := 1; r <= o.rounds; r++ {
		res, err := b.round(r)
		results = append(results, res...)
		if err != nil {
			return err
		}
	}
	failures := 0
	for _, res := range results {
		if res.Err != "" || len(res.Diffs) > 0 {
			failures++
		}
	}

	report(os.Stdout, o, sum, build, tools, results)
	if b, err := json.MarshalIndent(results, "", "  "); err == nil && (o.keep || o.work != "") {
		_ = os.WriteFile(filepath.Join(work, "results.json"), b, 0o644)
	}
	if failures > 0 {
		return failedError(fmt.Sprintf("%d runs failed or did not converge (logs in %s)", failures, work))
	}
	return nil
}

// benchRun is what every round needs.
type benchRun struct {
	o                  options
	srv                *testdovecot.Server
	runner, work, tmpl string
	tools              []string
	paths              map[string]string // tool → its binary
	port               int               // where the tools reach the server (the latency proxy, or Dovecot)
	caFile             string            // with --tls: the server's certificate, the tools' CA
	leftovers          []string          // Maildirs and mailboxes of finished rounds, deleted at the end
}

// round gives every tool a fresh server user and Maildir, and runs the
// phases, tool after tool within each.
func (b *benchRun) round(r int) ([]result, error) {
	uid, gid := b.srv.MailOwner()
	runs := map[string]*toolRun{}
	for _, t := range b.tools {
		user := serverUser(t, r)
		if err := corpus.CopyTree(b.tmpl, b.srv.MailDir(user), uid, gid); err != nil {
			return nil, fmt.Errorf("copying the corpus for %s: %v", user, err)
		}
		tr, err := setupTool(t, b.paths[t], filepath.Join(b.work, fmt.Sprintf("r%d", r), t), user, b.srv.Password(user), b.port, b.caFile)
		if err != nil {
			return nil, err
		}
		runs[t] = tr
	}
	if !b.o.keep || r < b.o.rounds {
		for _, tr := range runs {
			b.leftovers = append(b.leftovers, tr.local, b.srv.MailDir(tr.user))
		}
	}
	// Rotate the order from round to round: no tool always runs first, on
	// the disk the previous one left busy.
	order := append(slices.Clone(b.tools[(r-1)%len(b.tools):]), b.tools[:(r-1)%len(b.tools)]...)
	// When each tool's mail was last changed (by its previous run or by the
	// benchmark's changes). A run starts at least settle later: a user's
	// changes are rarely within the second before a sync, and mbsync sleeps
	// out the rest of a second when a Maildir changed in the current one
	// (its guard against same-second mtimes), which would add up to a
	// second of pure benchmark artefact.
	touched := map[string]time.Time{}
	var results []result
	for _, phase := range phaseList(b.o.again, b.o.markAllRead) {
		if k := repeat(phase); k > 0 {
			for _, t := range order {
				if err := b.change(r, runs[t], k); err != nil {
					return results, err
				}
				touched[t] = time.Now()
			}
		}
		if phase == "allread" {
			for _, t := range order {
				tr := runs[t]
				folder, n, err := markAllRead(b.srv.Addr(), tr.user, b.srv.Password(tr.user))
				if err != nil {
					return results, fmt.Errorf("marking %s's largest folder read: %v", tr.user, err)
				}
				logf("round %d %-14s changes: server %d marked read in %s", r, t, n, folder)
				touched[t] = time.Now()
			}
		}
		if phase == "unreadlocal" {
			for _, t := range order {
				folder, n, err := markAllUnreadLocal(runs[t].local)
				if err != nil {
					return results, fmt.Errorf("marking %s's largest Maildir folder unread: %v", t, err)
				}
				logf("round %d %-14s changes: local %d marked unread in %s", r, t, n, folder)
				touched[t] = time.Now()
			}
		}
		for _, t := range order {
			time.Sleep(time.Until(touched[t].Add(settle)))
			res := runOne(b.o, b.srv, b.runner, runs[t], r, phase, b.work)
			touched[t] = time.Now()
			results = append(results, res)
			status := "ok"
			if res.Err != "" || len(res.Diffs) > 0 {
				status = "FAILED: " + res.Err + strings.Join(res.Diffs, "; ")
			}
			logf("round %d %-6s %-14s %7.2fs %6.1f MB  %s", r, phase, t, res.Sample.Wall.Seconds(), mb(res.Sample.MaxRSSKiB), status)
		}
	}
	return results, nil
}

// change makes the k-th "1% changed on both sides" changes to tr's mail
// (each k picks other messages).
func (b *benchRun) change(r int, tr *toolRun, k int) error {
	tag := "x"
	if k > 1 {
		tag += strconv.Itoa(k)
	}
	fl, ex, ap, err := mutateServer(b.srv.Addr(), tr.user, b.srv.Password(tr.user), tag)
	if err != nil {
		return fmt.Errorf("changing %s on the server: %v", tr.user, err)
	}
	se, de, ad, err := mutateLocal(tr.local, tag)
	if err != nil {
		return fmt.Errorf("changing %s's Maildir: %v", tr.tool, err)
	}
	logf("round %d %-14s changes: server %d flagged, %d expunged, %d new; local %d seen, %d deleted, %d new", r, tr.tool, fl, ex, ap, se, de, ad)
	return nil
}

// runOne runs one tool once, then checks convergence.
func runOne(o options, srv *testdovecot.Server, runner string, tr *toolRun, round int, phase, work string) result {
	res := result{Round: round, Phase: phase, Tool: tr.tool}
	log, err := os.OpenFile(filepath.Join(tr.dir, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer log.Close()
	var env []string
	if o.profile && tr.tool == "mailtrail" {
		dir := filepath.Join(work, "profiles")
		_ = os.MkdirAll(dir, 0o755)
		env = append(env, "MAILTRAIL_CPUPROFILE="+filepath.Join(dir, fmt.Sprintf("%s-r%d.pprof", phase, round)),
			"MAILTRAIL_HEAPPROFILE="+filepath.Join(dir, fmt.Sprintf("%s-r%d.heap", phase, round)))
	}
	argv := tr.argv
	if o.debug && tr.tool == "mailtrail" {
		argv = append(slices.Clone(argv), "--debug")
	}
	if o.strace && tr.tool == "mailtrail" {
		dir := filepath.Join(work, "strace")
		_ = os.MkdirAll(dir, 0o755)
		argv = append([]string{"strace", "-f", "-c", "-w", "-o", filepath.Join(dir, fmt.Sprintf("%s-r%d.txt", phase, round))}, argv...)
	}
	// Everything the previous run left dirty goes to disk first, so that
	// no run pays for another's writes.
	syscall.Sync()
	res.Sample, err = measure(runner, argv, env, log)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	if res.Sample.ExitCode != 0 {
		res.Err = fmt.Sprintf("exit status %d (see %s) ", res.Sample.ExitCode, filepath.Join(tr.dir, "log"))
	}
	if phase == "noop" || phase == "noop2" {
		if res.Floor, err = listStatusFloor(srv.Addr(), tr.user, srv.Password(tr.user)); err != nil {
			res.Err += "LIST-STATUS: " + err.Error()
			return res
		}
	}
	srvState, err := serverState(srv.Addr(), tr.user, srv.Password(tr.user))
	if err != nil {
		res.Err += "reading the server: " + err.Error()
		return res
	}
	locState, err := localState(tr.local)
	if err != nil {
		res.Err += "reading the Maildir: " + err.Error()
		return res
	}
	// Reading every message makes Dovecot rewrite its cache, and the next
	// STATUS of the folder pays for that (a quarter of a second for a
	// folder of 100,000): pay it here, not in the tool's next run.
	if _, err := listStatusFloor(srv.Addr(), tr.user, srv.Password(tr.user)); err != nil {
		res.Err += "LIST-STATUS: " + err.Error()
	}
	res.Diffs = compare(srvState, locState)
	if srvState.messages() == 0 {
		res.Diffs = append(res.Diffs, "the server holds no messages")
	}
	return res
}

// buildMailtrail builds ./cmd/mailtrail of the module this command belongs
// to (found from the working directory) into bin.
func buildMailtrail(bin string) error {
	cmd := exec.Command("go", "build", "-o", bin, "mailtrail/cmd/mailtrail")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build mailtrail/cmd/mailtrail (run this from the module, or give --mailtrail): %v\n%s", err, out)
	}
	return nil
}

// buildInfo names the build measured: the commit, whether the tree has
// uncommitted changes, and the date.
func buildInfo() string {
	rev, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown revision, " + time.Now().UTC().Format("2006-01-02")
	}
	s := strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		s += " with uncommitted changes"
	}
	return s + ", " + time.Now().UTC().Format("2006-01-02 15:04 UTC")
}

func mb(kib int64) float64 { return float64(kib) / 1024 }

// probeFileCreation creates n empty files in a new directory in work and
// returns the time per file: how expensive the file system makes every
// tool's cold sync right now (see the Rounds note above). The files stay
// (deleting them would slow the runs that follow).
func probeFileCreation(work string, n int) (time.Duration, error) {
	dir, err := os.MkdirTemp(work, "probe-")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := range n {
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return 0, err
		}
		f.Close()
	}
	return time.Since(start) / time.Duration(n), nil
}
