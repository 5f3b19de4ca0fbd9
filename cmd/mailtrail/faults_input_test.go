package main_test

// Bad input, end to end with the real binary, against imapmemserver and
// Dovecot: messages no well-behaved mailer writes (NUL bytes, no header at
// all, a 1 MB line, 8-bit headers, bare CRs, no final newline, an empty
// file), a 50 MB attachment (memory stays bounded), and folder names with
// spaces, dots, slashes and non-ASCII letters (modified UTF-7 on the wire).
// Each gives either a correct sync (byte for byte, CRLF <-> LF being the
// only change) or a clear error for that message or folder that does not
// stop the others; never a silent loss, a duplicate or a merge of two
// folders.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/internal/converge"
	"mailtrail/internal/faultproxy"
	"mailtrail/internal/sample"
	"mailtrail/model"
)

// fltOddMessages are the messages, in wire form (CRLF).
func fltOddMessages() []struct {
	name string
	wire []byte
} {
	long := "From: a@example.org\r\nSubject: long line\r\nMessage-ID: <long@bad>\r\n\r\n" + strings.Repeat("0123456789abcdef", 1<<16) + "\r\n"
	longHeader := "From: a@example.org\r\nSubject: long header\r\nMessage-ID: <longhdr@bad>\r\nX-Long: " + strings.Repeat("h", 100<<10) + "\r\n\r\nbody\r\n"
	return []struct {
		name string
		wire []byte
	}{
		{"NUL bytes", []byte("From: a@example.org\r\nSubject: nul\r\nMessage-ID: <nul@bad>\r\n\r\nbefore\x00after\r\n\x00\x00\r\n")},
		{"no header at all", []byte("just a body, no header at all\r\nsecond line\r\n")},
		{"empty header block", []byte("\r\nthe body follows an empty header\r\n")},
		{"1 MB line", []byte(long)},
		{"100 KB header line", []byte(longHeader)},
		{"8-bit headers", []byte("From: J\xc3\xb6rg <j@example.org>\r\nSubject: Gr\xc3\xbc\xc3\x9fe \xe2\x82\xac 5\r\nX-Latin1: caf\xe9 na\xefve\r\nMessage-ID: <8bit-hdr@bad>\r\n\r\nbody \xff\xfe\r\n")},
		{"bare CR", []byte("From: a@example.org\r\nSubject: bare\rCR in a header\r\nMessage-ID: <cr@bad>\r\n\r\none\rtwo\r\nthree\r\r\n")},
		{"no final newline", []byte("From: a@example.org\r\nSubject: no newline\r\nMessage-ID: <noeol@bad>\r\n\r\nthe end has no newline")},
		{"CRs only", []byte("\r\r\r")},
	}
}

// fltLF is the Maildir form of a wire message: every CRLF becomes LF.
func fltLF(wire []byte) []byte { return bytes.ReplaceAll(wire, []byte("\r\n"), []byte("\n")) }

// fltWire is what mailtrail uploads for a file: every LF not preceded by
// CR becomes CRLF.
func fltWire(file []byte) []byte {
	var out []byte
	for i, b := range file {
		if b == '\n' && (i == 0 || file[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	return out
}

// fltServerBodies returns every message of a server folder, by UID, and
// the UIDs the server lists but sends no (or an empty) body for.
func fltServerBodies(t *testing.T, s server, folder string) (map[uint32][]byte, []uint32) {
	t.Helper()
	out := map[uint32][]byte{}
	var unread []uint32
	fltOnEveryMessage(t, s, folder, func(f adapters.RemoteFolder, uids []uint32) error {
		err := f.Fetch(context.Background(), uids, func(m model.RemoteMsg, body io.Reader) error {
			b, err := io.ReadAll(body)
			out[m.UID] = b
			return err
		})
		for _, u := range uids {
			if _, ok := out[u]; !ok {
				unread = append(unread, u)
			}
		}
		return err
	})
	return out, unread
}

// fltLocalBodies returns the content of every message file of a local
// folder directory, by file name.
func fltLocalBodies(t *testing.T, su setup, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"cur", "new"} {
		entries, _ := os.ReadDir(filepath.Join(su.maildir, dir, sub))
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(su.maildir, dir, sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[sub+"/"+e.Name()] = b
		}
	}
	return out
}

func fltCount(set map[string][]byte, want []byte) int {
	n := 0
	for _, b := range set {
		if bytes.Equal(b, want) {
			n++
		}
	}
	return n
}

// fltPlainServers are servers reached in plain text, so that a recording
// proxy can check what crosses the wire: imapmemserver (IMAP4rev2, and a
// bare IMAP4rev1 one) and Dovecot's plain port.
func fltPlainServers() map[string]func(t *testing.T) (server, string) {
	mem := func(caps goimap.CapSet) func(t *testing.T) (server, string) {
		return func(t *testing.T) (server, string) {
			addr := fltStartMem(t, caps)
			host, port := fltSplitHostPort(t, addr)
			return server{host: host, port: port, user: "alice", pass: "secret", tls: imap.TLSNone}, addr
		}
	}
	return map[string]func(t *testing.T) (server, string){
		"memserver":      mem(nil),
		"memserver-rev1": mem(goimap.CapSet{goimap.CapIMAP4rev1: {}, goimap.CapUIDPlus: {}, goimap.CapUnselect: {}}),
		"dovecot": func(t *testing.T) (server, string) {
			d := fltDovecotPlain(t)
			return server{host: d.Host, port: d.Port, user: "alice", pass: "secret", tls: imap.TLSNone}, d.Addr()
		},
	}
}

// fltBehindProxy returns a setup that reaches direct through a recording
// proxy.
func fltBehindProxy(t *testing.T, direct server, addr string) (setup, *faultproxy.Proxy) {
	t.Helper()
	p := faultproxy.Start(t, addr)
	via := direct
	via.host, via.port = p.Host(), p.Port()
	p.Record(true)
	return fltSetupTimeout(t, via), p
}

// TestOddMessages: odd messages go down byte for byte (CRLF -> LF only)
// and up byte for byte (LF -> CRLF only, checked on the wire: servers may
// store them otherwise). A message a server cannot serve is skipped with a
// warning naming it, never stored empty; one it refuses to store is a
// per-message error naming the file that does not stop the folder; none
// is ever uploaded twice and every local file stays.
func TestOddMessages(t *testing.T) {
	for name, start := range fltPlainServers() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			direct, addr := start(t)
			su, proxy := fltBehindProxy(t, direct, addr)

			// Down: what the server accepts must arrive unchanged.
			rs := direct.dial(t)
			fltMust(t, rs.CreateFolder(ctx, "Bad"))
			f, err := rs.SelectFolder(ctx, "Bad")
			if err != nil {
				t.Fatal(err)
			}
			accepted := 0
			for _, m := range fltOddMessages() {
				if _, err := f.Append(ctx, int64(len(m.wire)), bytes.NewReader(m.wire), 0, sample.Base); err != nil {
					t.Logf("down: %s: the server refuses it: %v", m.name, err)
					continue
				}
				accepted++
			}
			f.Close()
			r := fltMustSync(t, su)
			server, unread := fltServerBodies(t, direct, "Bad")
			local := fltLocalBodies(t, su, "Bad")
			if len(server)+len(unread) != accepted || len(local) != len(server) {
				t.Fatalf("down: %d accepted, %d on the server (%d it cannot serve), %d files", accepted, len(server)+len(unread), len(unread), len(local))
			}
			want := map[string]int{}
			for _, b := range server {
				want[string(fltLF(b))]++
			}
			for b, n := range want {
				if got := fltCount(local, []byte(b)); got != n {
					t.Errorf("down: a message of %d bytes (%q...) is %d times on the server, %d times in the Maildir (byte for byte with LF line ends)",
						len(b), b[:min(len(b), 40)], n, got)
				}
			}
			warned := fltWarnedUIDs(r.stderr, "Bad")
			for _, uid := range unread {
				t.Logf("down: the server cannot serve UID %d", uid)
				if !warned[uid] {
					t.Errorf("down: UID %d is not downloaded and no warning names it:\n%s", uid, r.stderr)
				}
			}

			// Up: each as a file written by a local mail client.
			fltMakeLocalFolder(t, su, "BadUp")
			for i, m := range fltOddMessages() {
				deliver(t, filepath.Join(su.maildir, "BadUp"), fmt.Sprintf("odd-%d", i), string(fltLF(m.wire)))
			}
			deliver(t, filepath.Join(su.maildir, "BadUp"), "empty", "")
			proxy.ResetCounts()
			var outputs string
			for round := 1; round <= 2; round++ {
				r := fltRun(t, nil, 2*time.Minute, fltSyncArgs(su)...)
				t.Logf("up, sync %d: exit %d\n%s%s", round, r.code, r.stdout, r.stderr)
				if r.code != 0 && r.code != 1 {
					t.Fatalf("up: exit %d", r.code)
				}
				if strings.Contains(r.output(), "FAILED") {
					t.Errorf("up, sync %d: a folder failed as a whole", round)
				}
				outputs += r.output()
			}
			wire := proxy.Transcript(faultproxy.Up)
			server, unread = fltServerBodies(t, direct, "BadUp")
			local = fltLocalBodies(t, su, "BadUp")
			sent := 0
			all := append(fltOddMessages(), struct {
				name string
				wire []byte
			}{"empty file", nil})
			for i, m := range all {
				file := fltLF(m.wire)
				key := fmt.Sprintf("odd-%d", i)
				if m.wire == nil {
					key = "empty"
				}
				if n := fltCount(local, file); n != 1 {
					t.Errorf("up: %s: %d local files hold it, want 1 (kept, never duplicated)", m.name, n)
				}
				if len(file) == 0 {
					// Nothing to look for on the wire: refused with an
					// error naming it, or on the server.
					if strings.Contains(outputs, "key=empty ") {
						t.Logf("up: the empty file: refused, reported for its file")
					} else {
						sent++
					}
					continue
				}
				switch n := bytes.Count(wire, fltWire(file)); {
				case n == 1:
					sent++
				case n == 0 && strings.Contains(outputs, "key="+key+" "):
					t.Logf("up: %s: refused, reported for its file", m.name)
				default:
					t.Errorf("up: %s was sent %d times (byte for byte, CRLF), want once", m.name, n)
				}
			}
			if len(server)+len(unread) != sent {
				t.Errorf("up: %d messages sent, %d on the server", sent, len(server)+len(unread))
			}
			for uid, b := range server {
				found := false
				for _, m := range all {
					if bytes.Equal(b, fltWire(fltLF(m.wire))) {
						found = true
					}
				}
				if !found {
					t.Logf("up: the server stores UID %d otherwise than it was sent: %q...", uid, b[:min(len(b), 60)])
				}
			}
		})
	}
}

// fltWarnedUIDs returns the UIDs that the sync's warnings about bodies
// the server did not send name for folder.
func fltWarnedUIDs(stderr, folder string) map[uint32]bool {
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(stderr, "")
	out := map[uint32]bool{}
	for _, line := range strings.Split(plain, "\n") {
		if !strings.Contains(line, "sent no body") || !strings.Contains(line, "folder="+folder+" ") {
			continue
		}
		if m := regexp.MustCompile(`uids=\[([0-9,]*)\]`).FindStringSubmatch(line); m != nil {
			for _, f := range strings.Split(m[1], ",") {
				var u uint32
				if _, err := fmt.Sscan(f, &u); err == nil {
					out[u] = true
				}
			}
		}
	}
	return out
}

// fltAttachment is a message with a base64 attachment of about size bytes.
func fltAttachment(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Big <big@example.org>\r\nTo: me@example.org\r\nSubject: a big attachment\r\n" +
		"Message-ID: <attachment@bad>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n")
	raw := make([]byte, 57)
	line := make([]byte, 76)
	for i := 0; b.Len() < size; i++ {
		for j := range raw {
			raw[j] = byte(i*7 + j*13)
		}
		base64.StdEncoding.Encode(line, raw)
		b.Write(line)
		b.WriteString("\r\n")
	}
	b.WriteString("--XYZ--\r\n")
	return b.Bytes()
}

// TestFiftyMegabyteAttachment: a 50 MB message goes down and up; the
// binary's peak memory grows by less than 16 MiB over a sync with nothing
// to do (the message is streamed, never held whole).
func TestFiftyMegabyteAttachment(t *testing.T) {
	for name, start := range fltLocalServers() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := start(t)(t)
			su := fltSetupTimeout(t, s)
			base := syncPeakKiB(t, su)
			limit := base + 16<<10
			big := fltAttachment(50 << 20)
			f, err := s.dial(t).SelectFolder(ctx, "INBOX")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Append(ctx, int64(len(big)), bytes.NewReader(big), model.Seen, sample.Base); err != nil {
				t.Fatal(err)
			}
			f.Close()
			down := syncPeakKiB(t, su)
			t.Logf("peak memory: %d KiB with nothing to do, %d KiB syncing %d MB down", base, down, len(big)>>20)
			if down > limit {
				t.Errorf("peak memory %d KiB syncing 50 MB down, more than %d KiB", down, limit)
			}
			local := fltLocalBodies(t, su, "INBOX")
			if len(local) != 1 || fltCount(local, fltLF(big)) != 1 {
				t.Fatalf("the 50 MB message did not arrive byte for byte (%d files)", len(local))
			}
			fltMakeLocalFolder(t, su, "Big")
			if err := os.WriteFile(filepath.Join(su.maildir, "Big", "new", "big-up"), fltLF(big), 0o600); err != nil {
				t.Fatal(err)
			}
			up := syncPeakKiB(t, su)
			t.Logf("peak memory syncing it up: %d KiB", up)
			if up > limit {
				t.Errorf("peak memory %d KiB syncing 50 MB up, more than %d KiB", up, limit)
			}
			inbox, _ := fltServerBodies(t, s, "INBOX")
			bigUp, _ := fltServerBodies(t, s, "Big")
			for folder, bodies := range map[string]map[uint32][]byte{"INBOX": inbox, "Big": bigUp} {
				if len(bodies) != 1 {
					t.Errorf("%s: %d messages on the server, want 1", folder, len(bodies))
				}
				for _, b := range bodies {
					if !bytes.Equal(b, big) {
						t.Errorf("%s: the server's copy (%d bytes) differs from the message (%d bytes)", folder, len(b), len(big))
					}
				}
			}
			fltAssertNothingToDo(t, su)
		})
	}
}

// TestOddFolderNames syncs folders named with spaces, slashes (hierarchy),
// non-ASCII letters and '&' both ways, through a recording proxy: every
// name crosses the wire in modified UTF-7, never as raw 8-bit bytes. A
// server folder whose name holds '.', the Maildir separator, cannot be
// represented ("a.b" would be the directory of "a/b"): it fails on its own,
// with an error saying why and what to do, every sync; it is never merged
// into "a/b", whose directory holds exactly a/b's messages.
func TestOddFolderNames(t *testing.T) {
	for name, start := range fltPlainServers() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			direct, addr := start(t)
			su, p := fltBehindProxy(t, direct, addr)
			p.Record(false)
			utf8Names := name == "memserver" // IMAP4rev2: names in UTF-8

			remoteNames := []string{"Spaced Name", "Ünïcödé/Ärchiv", "日本語 & Co", "a/b"}
			rs := direct.dial(t)
			dotted := true
			if err := rs.CreateFolder(ctx, "a.b"); err != nil {
				t.Logf("the server refuses a folder named a.b: %v", err)
				dotted = false
			} else {
				remoteNames = append(remoteNames, "a.b")
			}
			for i, n := range remoteNames {
				fltPut(t, direct, n, sample.Messages("folder-"+n, 2, int64(40+i)))
			}

			// Local folders named in UTF-8, not in OfflineIMAP's default
			// modified UTF-7.
			args := append(fltSyncArgs(su), "-k", "Account Test:utf8foldernames=yes")
			p.Record(true)
			r := fltRun(t, nil, 2*time.Minute, args...)
			t.Logf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			fltCheckDotted(t, r, dotted)

			// Locally created folders with odd names go up.
			for _, dir := range []string{"Lökal Späce", "Lökal Späce.Ünter"} {
				fltMakeLocalFolder(t, su, dir)
				deliver(t, filepath.Join(su.maildir, dir), "m1", "From: me@example.org\nSubject: local folder\nMessage-ID: <"+fmt.Sprint(len(dir))+"@x>\n\nhello\n")
			}
			r = fltRun(t, nil, 2*time.Minute, args...)
			t.Logf("sync: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			fltCheckDotted(t, r, dotted)

			// The wire: names in modified UTF-7 and 7-bit only from the
			// client; with IMAP4rev2, names in UTF-8 (RFC 9051).
			up, down := p.Transcript(faultproxy.Up), p.Transcript(faultproxy.Down)
			names := []string{"L&APY-kal Sp&AOQ-ce/&ANw-nter", "&ANw-n&AO8-c&APY-d&AOk-/&AMQ-rchiv", "&ZeVnLIqe- &- Co"}
			upNames := names
			if utf8Names {
				// go-imap sends UTF-8 names ('&' as "&-") to a server
				// that advertises IMAP4rev2, which answers in modified
				// UTF-7 as long as IMAP4rev2 is not enabled.
				upNames = []string{"Lökal Späce/Ünter", "Ünïcödé/Ärchiv", "日本語 &- Co"}
			} else {
				for i, b := range up {
					if b >= 0x80 {
						t.Fatalf("client sent a raw 8-bit byte at %d: %q", i, up[max(0, i-40):min(len(up), i+20)])
					}
				}
			}
			for i, n := range names {
				if !bytes.Contains(up, []byte(upNames[i])) || !bytes.Contains(down, []byte(n)) {
					t.Errorf("%q (up) / %q (down) did not cross the wire", upNames[i], n)
				}
			}

			// Both sides hold the same folders and messages, a.b aside.
			state := fltCapture(t, direct.dial(t), su.local(t))
			for folder, ids := range state.remote {
				if folder == "a.b" {
					if _, ok := state.local["a.b"]; ok {
						t.Errorf("a.b has a local folder")
					}
					continue
				}
				if d := fltDiff(fltState{remote: map[string]map[string]int{folder: ids}}, fltState{remote: map[string]map[string]int{folder: state.local[folder]}}); len(d) > 0 {
					t.Errorf("folder %q differs between the server and the Maildir:\n  %s", folder, strings.Join(d, "\n  "))
				}
			}
			var localNames []string
			for f := range state.local {
				localNames = append(localNames, f)
				if _, ok := state.remote[f]; !ok {
					t.Errorf("local folder %q is not on the server", f)
				}
			}
			sort.Strings(localNames)
			t.Logf("local folders: %q", localNames)
			for _, want := range []string{"Spaced Name", "Ünïcödé/Ärchiv", "日本語 & Co", "a/b", "Lökal Späce", "Lökal Späce/Ünter"} {
				if _, ok := state.local[want]; !ok {
					t.Errorf("no local folder %q", want)
				}
			}
			if st, err := os.Stat(filepath.Join(su.maildir, "Ünïcödé.Ärchiv", "cur")); err != nil || !st.IsDir() {
				t.Errorf("Ünïcödé/Ärchiv is not the directory Ünïcödé.Ärchiv: %v", err)
			}
			if n := len(fltLocalBodies(t, su, "a.b")); n != 2 {
				t.Errorf("the directory a.b (folder a/b) holds %d messages, want a/b's 2", n)
			}
			if sum, err := converge.Check(ctx, direct.dial(t), su.local(t)); err == nil {
				for _, d := range sum.Diffs {
					if !strings.HasPrefix(d, "a.b: ") {
						t.Errorf("converge: %s", d)
					}
				}
			} else {
				t.Fatal(err)
			}
		})
	}
}

// fltCheckDotted checks a sync's outcome when the server has (dotted) or
// lacks a folder "a.b": it alone fails, saying why and what to do.
func fltCheckDotted(t *testing.T, r fltRunResult, dotted bool) {
	t.Helper()
	failed := regexp.MustCompile(`(?m)^Test: ([^:]+): FAILED: (.*)$`).FindAllStringSubmatch(r.output(), -1)
	if !dotted {
		if r.code != 0 || len(failed) > 0 {
			t.Errorf("exit %d, failed %q", r.code, failed)
		}
		return
	}
	if r.code != 1 || len(failed) != 1 || failed[0][1] != "a.b" {
		t.Fatalf("exit %d, failed folders %q: want a.b alone", r.code, failed)
	}
	for _, want := range []string{"holds the Maildir separator", "rename it", "sep = /"} {
		if !strings.Contains(failed[0][2], want) {
			t.Errorf("the error for a.b lacks %q: %s", want, failed[0][2])
		}
	}
}
