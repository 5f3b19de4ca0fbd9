package main_test

// Network faults: the binary syncs through internal/faultproxy, which cuts
// the connection after a chosen IMAP message or byte in either direction,
// stalls it, or slips an unknown or malformed untagged response into the
// server's stream. For each fault point: a fresh starting state (a synced
// account, then changes on both sides: new messages both ways, flag
// changes both ways, deletions both ways, a new folder on each side); the
// faulted sync must end within a bounded time with exit 0 or 1, naming the
// folder (or the account step) and why when it fails; then a sync without
// faults must exit 0, a further sync must plan nothing, and both sides must
// hold exactly what an uninterrupted sync of the same starting state gives
// (each message once per folder per side, by Message-ID, content hash and
// flags).
//
// The uninterrupted reference run, through the same proxy, lists every
// message boundary; fault points are chosen from it, so "after the 7th
// command" is the same point in every run.
//
// CI setting (default): per server 22 cuts (after every command that
// changes mail, plus message boundaries and byte offsets spread over the
// run), 2 outages (a cut after which no connection gets through until the
// next run), 3 stalls and 4 injected responses: 31 points, about 10 s.
// MAILTRAIL_FAULTS_FULL=1: a cut after every message in both directions,
// 40 byte offsets per direction, an outage at every 16th server message, a
// stall at every 8th and each injected line at every 8th: 421 to 464
// points per server, 1,422 with the TLS ones, about 9 minutes.
//
// Against Dovecot's TLS port the proxy sees no IMAP: cuts and stalls are
// placed by byte counts (CI: 8 cuts, 2 stalls; full: 80 cuts, 10 stalls).
// MAILTRAIL_FAULTS_ONLY=memserver|memserver-no-uidplus|dovecot|dovecot-tls|dovecot/sent-filed
// limits the servers.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"mailtrail/adapters/imap"
	"mailtrail/internal/converge"
	"mailtrail/internal/faultproxy"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/internal/testimap"
	"mailtrail/model"
)

// fltTimeout is the IMAP watchdog timeout of the faulted runs: the
// configuration's socktimeout (seconds) in [general]. The other runs (the
// reference, the recoveries) use fltSlowTimeout, through a configuration
// of their own for the same account and state.
const fltTimeout = 2 * time.Second

// fltNetEnv is one starting state behind its own proxy.
type fltNetEnv struct {
	direct server // the server itself, for seeding and checking
	proxy  *faultproxy.Proxy
	su     setup  // configured to reach the server through the proxy
	fast   string // the same configuration with socktimeout fltTimeout
}

// fltNetServer makes starting states on one kind of server.
type fltNetServer struct {
	name string
	// tls: the binary speaks implicit TLS through the proxy, which then
	// sees no IMAP: faults are placed by byte counts only.
	tls   bool
	start func(t *testing.T) func(t *testing.T) *fltNetEnv
}

// fltProxied builds the environment for a server: a proxy in front of it,
// and a configuration (plain TCP, one connection, so that the order of
// the bytes on the wire is the same in every run) pointing at the proxy.
func fltProxied(t *testing.T, direct server, target string) *fltNetEnv {
	p := faultproxy.Start(t, target)
	via := server{host: p.Host(), port: p.Port(), user: direct.user, pass: direct.pass, tls: direct.tls, ca: direct.ca}
	su := newSetup(t, via, "")
	cfg, err := os.ReadFile(su.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("maxconnections = 2"), []byte("maxconnections = 1"), 1)
	fast := filepath.Join(su.dir, "offlineimaprc-fast")
	if err := os.WriteFile(fast, fltWithSockTimeout(t, cfg, fltTimeout), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(su.config, fltWithSockTimeout(t, cfg, fltSlowTimeout), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fltNetEnv{direct: direct, proxy: p, su: su, fast: fast}
}

func fltMemServer(name string, caps goimap.CapSet) fltNetServer {
	return fltNetServer{name: name, start: func(*testing.T) func(t *testing.T) *fltNetEnv {
		return func(t *testing.T) *fltNetEnv {
			addr := fltStartMem(t, caps)
			host, port := fltSplitHostPort(t, addr)
			direct := server{host: host, port: port, user: "alice", pass: "secret", tls: imap.TLSNone}
			return fltProxied(t, direct, addr)
		}
	}}
}

// fltStartMem runs go-imap's imapmemserver, as internal/testimap does,
// with one user alice (password secret), except that an APPEND whose
// literal ends early stores nothing. imapmemserver as it is stores the
// bytes it got when the connection drops inside the literal (it reads the
// literal with bytes.Buffer.ReadFrom, which takes the early EOF for the
// end): a truncated copy no real server keeps, which the sweep would
// otherwise report as a duplicate of the uploaded message.
func fltStartMem(t *testing.T, caps goimap.CapSet) string {
	t.Helper()
	if caps == nil {
		caps = testimap.DefaultCaps()
	}
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("alice", "secret")
	fltMust(t, u.Create("INBOX", nil))
	mem.AddUser(u)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &fltWholeLiteralSession{mem.NewSession().(imapserver.SessionIMAP4rev2)}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// fltWholeLiteralSession is an imapmemserver session whose APPEND reads
// the whole literal before storing anything.
type fltWholeLiteralSession struct {
	imapserver.SessionIMAP4rev2
}

func (s *fltWholeLiteralSession) Append(mailbox string, r goimap.LiteralReader, options *goimap.AppendOptions) (*goimap.AppendData, error) {
	body := make([]byte, r.Size())
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("APPEND literal ended after fewer than %d bytes: %w", r.Size(), err)
	}
	return s.SessionIMAP4rev2.Append(mailbox, fltLiteral{bytes.NewReader(body)}, options)
}

type fltLiteral struct{ *bytes.Reader }

func (l fltLiteral) Size() int64 { return l.Reader.Size() }

func fltDovecot(useTLS bool) fltNetServer {
	name := "dovecot"
	if useTLS {
		name = "dovecot-tls"
	}
	return fltNetServer{name: name, tls: useTLS, start: func(t *testing.T) func(t *testing.T) *fltNetEnv {
		n := 80
		if fltFull() {
			n = 2500
		}
		users := make([]string, n)
		for i := range users {
			users[i] = fmt.Sprintf("f%d:secret", i+1)
		}
		d := testdovecot.StartWith(t, testdovecot.Options{Users: users})
		var mu sync.Mutex
		next := 0
		return func(t *testing.T) *fltNetEnv {
			mu.Lock()
			next++
			i := next
			mu.Unlock()
			if i > n {
				t.Fatalf("more than %d starting states on one Dovecot", n)
			}
			if useTLS {
				direct := server{host: d.Host, port: d.TLSPort, user: fmt.Sprintf("f%d", i), pass: "secret", tls: imap.TLSImplicit, ca: d.CAFile}
				return fltProxied(t, direct, d.TLSAddr())
			}
			// The plain port: the proxy must see IMAP, not TLS, to count
			// messages and inject responses.
			direct := server{host: d.Host, port: d.Port, user: fmt.Sprintf("f%d", i), pass: "secret", tls: imap.TLSNone}
			return fltProxied(t, direct, d.Addr())
		}
	}}
}

// fltPrepare builds the starting state through the proxy (unarmed): a
// first sync of three server folders, then changes on both sides.
func fltPrepare(t *testing.T, e *fltNetEnv) {
	t.Helper()
	ctx := context.Background()
	rs := e.direct.dial(t)
	put := func(folder string, msgs []sample.Message) {
		t.Helper()
		if err := rs.CreateFolder(ctx, folder); err != nil {
			t.Fatal(err)
		}
		f, err := rs.SelectFolder(ctx, folder)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, m := range msgs {
			if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags, m.Date); err != nil {
				t.Fatal(err)
			}
		}
	}
	inbox := sample.Messages("INBOX", 10, 1)
	// A bigger message, so that byte offsets land inside a long literal.
	big := sample.Big(200 << 10)
	big.Flags = model.Seen
	put("INBOX", append(inbox, big))
	put("Work/Projects", sample.Messages("Work/Projects", 8, 2))
	put("Lists/go", sample.Messages("Lists/go", 6, 3))
	fltMustSync(t, e.su)

	// Server side: new messages, a flag added and one removed, an expunge,
	// a new folder.
	put("INBOX", sample.Messages("INBOX-late", 3, 4))
	put("Remote/Fresh", sample.Messages("Remote/Fresh", 2, 5))
	f, err := rs.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[uint32]model.Flags{}
	for _, m := range msgs {
		flags[m.UID] = m.Flags
	}
	fltMust(t, f.StoreFlags(ctx, []uint32{1}, model.Flagged, 0))
	fltMust(t, f.StoreFlags(ctx, []uint32{2}, model.Answered, model.Seen))
	fltMust(t, f.Expunge(ctx, []uint32{3}))
	f.Close()
	wf, err := rs.SelectFolder(ctx, "Work/Projects")
	if err != nil {
		t.Fatal(err)
	}
	fltMust(t, wf.StoreFlags(ctx, []uint32{2, 3}, model.Flagged, 0))
	wf.Close()

	// Local side: flags changed on two messages, one deleted, new messages
	// in two folders, and a new folder.
	fltSetFileFlags(t, fltFileByUID(t, e.su, "INBOX", 4), flags[4]|model.Flagged|model.Answered)
	fltSetFileFlags(t, fltFileByUID(t, e.su, "INBOX", 6), (flags[6]|model.Seen)&^model.Flagged)
	if err := os.Remove(fltFileByUID(t, e.su, "INBOX", 5)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(fltFileByUID(t, e.su, "Lists.go", 1)); err != nil {
		t.Fatal(err)
	}
	deliver(t, filepath.Join(e.su.maildir, "INBOX"), "local-1", "From: me@example.org\nSubject: written offline\nMessage-ID: <local-1@x>\n\nhello\n")
	deliver(t, filepath.Join(e.su.maildir, "Work.Projects"), "local-2", "From: me@example.org\nSubject: plan\nMessage-ID: <local-2@x>\n\n"+strings.Repeat("a plan line\n", 400))
	fltMakeLocalFolder(t, e.su, "Drafts")
	deliver(t, filepath.Join(e.su.maildir, "Drafts"), "local-3", "From: me@example.org\nSubject: draft\nMessage-ID: <local-3@x>\n\ndraft\n")
}

// fltPrepareFiled builds the starting state of a sent message filed: a
// first sync of a Sent folder, then one new local message in it, the
// run's only change.
func fltPrepareFiled(t *testing.T, e *fltNetEnv) {
	t.Helper()
	ctx := context.Background()
	rs := e.direct.dial(t)
	fltMust(t, rs.CreateFolder(ctx, "Sent"))
	f, err := rs.SelectFolder(ctx, "Sent")
	fltMust(t, err)
	for _, m := range sample.Messages("Sent", 4, 6) {
		if _, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), m.Flags|model.Seen, m.Date); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	fltMustSync(t, e.su)
	deliver(t, filepath.Join(e.su.maildir, "Sent"), "filed-1", "From: me@example.org\nTo: you@example.org\nSubject: sent\nMessage-ID: <filed-1@x>\n\n"+strings.Repeat("a sent line\n", 40))
}

// fltMust fails the test on an error.
func fltMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fltPoint is one fault to inject.
type fltPoint struct {
	label string
	fault faultproxy.Fault
}

// fltInjected are the lines slipped into the server's stream: an unknown
// untagged response, malformed ones, and a harmless one.
var fltInjected = [][]byte{
	[]byte("* FROBNICATE 1 2 3\r\n"),
	[]byte("* 1 FETCH (UID\r\n"),
	[]byte("* OK [XFROB 7] an untagged OK with an unknown code\r\n"),
	[]byte("* 4294967296 EXISTS\r\n"),
}

// fltChooseTLSPoints places faults in a TLS stream by byte counts only.
func fltChooseTLSPoints(upBytes, downBytes int64) []fltPoint {
	var pts []fltPoint
	add := func(d faultproxy.Direction, a faultproxy.Action, n int64) {
		pts = append(pts, fltPoint{fmt.Sprintf("%s %s after byte %d (TLS)", a, d, n),
			faultproxy.Fault{Dir: d, Action: a, Bytes: n}})
	}
	downCuts, upCuts, stalls := int64(5), int64(3), int64(2)
	if fltFull() {
		downCuts, upCuts, stalls = 40, 40, 10
	}
	for i := int64(1); i <= downCuts; i++ {
		add(faultproxy.Down, faultproxy.Cut, downBytes*i/(downCuts+1))
	}
	for i := int64(1); i <= upCuts; i++ {
		add(faultproxy.Up, faultproxy.Cut, upBytes*i/(upCuts+1))
	}
	for i := int64(1); i <= stalls; i++ {
		add(faultproxy.Down, faultproxy.Stall, downBytes*i/(stalls+1))
	}
	return pts
}

// fltChoosePoints turns the reference run's boundaries into fault points.
func fltChoosePoints(bounds []faultproxy.Boundary, upBytes, downBytes int64) []fltPoint {
	var up, dn []faultproxy.Boundary
	for _, b := range bounds {
		if b.Dir == faultproxy.Up {
			up = append(up, b)
		} else {
			dn = append(dn, b)
		}
	}
	mutating := regexp.MustCompile(`\b(APPEND|STORE|EXPUNGE|CREATE)\b`)
	var pts []fltPoint
	cut := func(b faultproxy.Boundary) {
		pts = append(pts, fltPoint{fmt.Sprintf("cut %s after message %d (%s)", b.Dir, b.N, b.Head),
			faultproxy.Fault{Dir: b.Dir, Action: faultproxy.Cut, Messages: b.N}})
	}
	cutBytes := func(d faultproxy.Direction, n int64) {
		pts = append(pts, fltPoint{fmt.Sprintf("cut %s after byte %d", d, n),
			faultproxy.Fault{Dir: d, Action: faultproxy.Cut, Bytes: n}})
	}
	down := func(b faultproxy.Boundary) { // the network stays down
		pts = append(pts, fltPoint{fmt.Sprintf("network down: cut %s after message %d (%s), no new connection", b.Dir, b.N, b.Head),
			faultproxy.Fault{Dir: b.Dir, Action: faultproxy.Cut, Messages: b.N, RefuseAfter: true}})
	}
	stall := func(b faultproxy.Boundary) {
		pts = append(pts, fltPoint{fmt.Sprintf("stall %s after message %d (%s)", b.Dir, b.N, b.Head),
			faultproxy.Fault{Dir: b.Dir, Action: faultproxy.Stall, Messages: b.N}})
	}
	inject := func(b faultproxy.Boundary, line []byte) {
		pts = append(pts, fltPoint{fmt.Sprintf("inject %q after message %d (%s)", bytes.TrimSpace(line), b.N, b.Head),
			faultproxy.Fault{Dir: faultproxy.Down, Action: faultproxy.Inject, Messages: b.N, Line: line}})
	}
	spread := func(n, k int) []int { // k indexes spread over 0..n-1
		var out []int
		if n == 0 || k == 0 {
			return out
		}
		for i := 0; i < k; i++ {
			idx := (2*i + 1) * n / (2 * k)
			if len(out) == 0 || out[len(out)-1] != idx {
				out = append(out, idx)
			}
		}
		return out
	}

	if fltFull() {
		for _, b := range up {
			cut(b)
		}
		for _, b := range dn {
			cut(b)
		}
		for i := int64(1); i <= 40; i++ {
			cutBytes(faultproxy.Up, upBytes*i/41)
			cutBytes(faultproxy.Down, downBytes*i/41)
		}
		for i := 0; i < len(dn); i += 8 {
			stall(dn[i])
		}
		for i := 4; i < len(dn); i += 16 {
			down(dn[i])
		}
		for i := 0; i < len(up); i += 8 {
			stall(up[i])
		}
		for _, line := range fltInjected {
			for i := 0; i < len(dn); i += 8 {
				inject(dn[i], line)
			}
		}
		return pts
	}
	// CI: every command that changes mail (the server may carry it out
	// while its answer is lost), then points spread over the run.
	for _, b := range up {
		if mutating.MatchString(b.Head) {
			cut(b)
		}
	}
	for _, i := range spread(len(dn), 5) {
		cut(dn[i])
	}
	for _, i := range spread(len(up), 2) {
		cut(up[i])
	}
	for i := int64(1); i <= 4; i++ {
		cutBytes(faultproxy.Down, downBytes*i/5)
	}
	cutBytes(faultproxy.Up, upBytes/2)
	for _, i := range spread(len(dn), 2) {
		stall(dn[i])
	}
	for _, i := range spread(len(dn), 2) {
		down(dn[min(i+1, len(dn)-1)])
	}
	for _, i := range spread(len(up), 1) {
		stall(up[i])
	}
	for i, idx := range spread(len(dn), len(fltInjected)) {
		inject(dn[idx], fltInjected[i])
	}
	return pts
}

// fltFailureNamed matches the line that says which folder failed and why,
// or an account-level failure (listing folders, connecting). A network
// fault must fail the folder (or the account), never pass for one failed
// message: a command whose answer was lost may have been carried out, and
// only a stopped folder leaves its intent pending for the next sync to
// check (an APPEND that failed "per message" would be appended again).
var fltFailureNamed = regexp.MustCompile(`(?m)^(Test: [^:\n]+: FAILED: folder [^:\n]+: .{8,}|mailtrail: account Test: .{8,})$`)

// fltFigures counts what the sweeps ran, for the log and the report.
type fltFigures struct {
	mu                            sync.Mutex
	points, fired, failed, passed int
	maxElapsed                    map[faultproxy.Action]time.Duration
}

func TestNetworkFaults(t *testing.T) {
	servers := []fltNetServer{
		fltMemServer("memserver", nil),
		fltMemServer("memserver-no-uidplus", goimap.CapSet{goimap.CapIMAP4rev1: {}}),
		fltDovecot(false),
		fltDovecot(true),
	}
	only := os.Getenv("MAILTRAIL_FAULTS_ONLY")
	for _, srv := range servers {
		if only != "" && only != srv.name {
			continue
		}
		t.Run(srv.name, func(t *testing.T) { fltNetworkSweep(t, srv, fltPrepare) })
	}
	// A message filed alone (a sent message): on Dovecot its APPEND
	// carries the verification's survey and the LOGOUT, one exchange that
	// a fault can cut anywhere.
	if srv := fltDovecot(false); only == "" || only == srv.name+"/sent-filed" {
		t.Run(srv.name+"/sent-filed", func(t *testing.T) { fltNetworkSweep(t, srv, fltPrepareFiled) })
	}
}

func fltNetworkSweep(t *testing.T, srv fltNetServer, prepare func(*testing.T, *fltNetEnv)) {
	newEnv := srv.start(t)
	figs := &fltFigures{maxElapsed: map[faultproxy.Action]time.Duration{}}

	// The reference: the same starting state synced without a fault.
	ref := newEnv(t)
	prepare(t, ref)
	ref.proxy.ResetCounts()
	fltMustSync(t, ref.su)
	bounds := ref.proxy.Boundaries()
	upBytes, upMsgs := ref.proxy.Counts(faultproxy.Up)
	downBytes, downMsgs := ref.proxy.Counts(faultproxy.Down)
	fltAssertNothingToDo(t, ref.su)
	want := fltCapture(t, ref.direct.dial(t), ref.su.local(t))
	if r, l := want.messages(); r != l || r == 0 {
		t.Fatalf("reference run: %d messages on the server, %d in the Maildir", r, l)
	}
	if sum, err := converge.Check(context.Background(), ref.direct.dial(t), ref.su.local(t)); err != nil || !sum.OK() {
		t.Fatalf("reference run did not converge: %v %v", err, sum.Diffs)
	}
	if srv.tls {
		t.Logf("reference sync: %d bytes up, %d bytes down (TLS)", upBytes, downBytes)
	} else {
		t.Logf("reference sync: %d messages / %d bytes up, %d messages / %d bytes down", upMsgs, upBytes, downMsgs, downBytes)
	}

	points := fltChoosePoints(bounds, upBytes, downBytes)
	if srv.tls {
		points = fltChooseTLSPoints(upBytes, downBytes)
	}
	start := time.Now()
	for i, pt := range points {
		ok := t.Run(fmt.Sprintf("%03d", i), func(t *testing.T) {
			t.Log(pt.label)
			fltNetworkPoint(t, newEnv(t), prepare, pt, want, figs)
		})
		figs.mu.Lock()
		figs.points++
		if ok {
			figs.passed++
		} else {
			figs.failed++
		}
		figs.mu.Unlock()
	}
	t.Logf("%s: %d fault points (%d fired, %d passed, %d failed) in %v; longest faulted run: cut %v, stall %v, inject %v",
		srv.name, figs.points, figs.fired, figs.passed, figs.failed, time.Since(start).Round(time.Second),
		figs.maxElapsed[faultproxy.Cut].Round(time.Millisecond), figs.maxElapsed[faultproxy.Stall].Round(time.Millisecond),
		figs.maxElapsed[faultproxy.Inject].Round(time.Millisecond))
}

func fltNetworkPoint(t *testing.T, e *fltNetEnv, prepare func(*testing.T, *fltNetEnv), pt fltPoint, want fltState, figs *fltFigures) {
	prepare(t, e)
	e.proxy.Arm(pt.fault)
	// Bounded: a cut fails at once; a stall costs one watchdog timeout per
	// stalled command (one here), plus closing.
	limit := 30 * time.Second
	r := fltRun(t, nil, limit, "-c", e.fast, "-o", "-u", "basic")
	fired, where := e.proxy.Fired()
	e.proxy.Disarm()
	t.Logf("faulted run: exit %d in %v; fired: %v %s", r.code, r.elapsed.Round(time.Millisecond), fired, where)
	figs.mu.Lock()
	if fired {
		figs.fired++
	}
	if r.elapsed > figs.maxElapsed[pt.fault.Action] {
		figs.maxElapsed[pt.fault.Action] = r.elapsed
	}
	figs.mu.Unlock()

	bound := 10 * time.Second
	if pt.fault.Action == faultproxy.Stall {
		bound = 3*fltTimeout + 10*time.Second
	}
	if r.elapsed > bound {
		t.Errorf("the faulted run took %v, more than %v", r.elapsed, bound)
	}
	switch r.code {
	case 0:
		// The fault hit where nothing depended on it (LOGOUT, a
		// connection already done with), or the line was ignored.
	case 1:
		lines := fltFailureNamed.FindAllString(r.output(), -1)
		if len(lines) == 0 {
			t.Errorf("exit 1 but no line names the failed folder and why:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		for _, l := range lines {
			t.Logf("  %s", l)
		}
	default:
		t.Errorf("faulted run exited %d, want 0 or 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.output(), "secret") {
		t.Errorf("the password is in the output:\n%s", r.output())
	}

	// Recovery: one sync without faults converges, the next plans nothing.
	rec := fltRun(t, nil, 2*time.Minute, fltSyncArgs(e.su)...)
	if rec.code != 0 {
		t.Fatalf("the sync after the fault exited %d\nstdout:\n%s\nstderr:\n%s", rec.code, rec.stdout, rec.stderr)
	}
	fltAssertNothingToDo(t, e.su)
	got := fltCapture(t, e.direct.dial(t), e.su.local(t))
	if d := fltDiff(want, got); len(d) > 0 {
		t.Errorf("after the fault and a clean sync, the mail differs from an uninterrupted sync:\n  %s\nfaulted run:\n%s%s\nrecovery run:\n%s%s",
			strings.Join(d, "\n  "), r.stdout, r.stderr, rec.stdout, rec.stderr)
	}
}
