package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"mailtrail/adapters/imap"
	"mailtrail/internal/sample"
	"mailtrail/internal/testdovecot"
	"mailtrail/model"
)

// TestDifferentialOfflineIMAP runs OfflineIMAP 3 and mailtrail with the
// same configuration, each against its own Dovecot user holding the same
// mail, through the same changes on both sides, and compares what they
// leave: the Maildirs (folders; messages by Message-ID with their flags,
// UID, folder tag and cur/new; the file names apart from their unique
// part), the server folders, and the mbnames file. Every difference is
// either fixed or explained in docs/COMPATIBILITY.md; the test allows none.
func TestDifferentialOfflineIMAP(t *testing.T) {
	offlineIMAPBinary(t)
	t.Run("plain", func(t *testing.T) { differential(t, "", "", "Archive.2024") })
	// Nested directories instead of dots.
	t.Run("sep=/", func(t *testing.T) { differential(t, "sep = /", "", "Archive/2024") })
	// nametrans on both sides, inverse of each other, as OfflineIMAP's
	// documentation asks: the server's Archive/2024 is the local Old.2024.
	t.Run("nametrans", func(t *testing.T) {
		differential(t, `nametrans = lambda f: re.sub('^Old\.', 'Archive.', f)`,
			`nametrans = lambda f: re.sub('^Archive/', 'Old/', f)`, "Old.2024")
	})
}

// differential runs the comparison with extra options for the local and
// the remote repository; archive is the local directory of the server's
// Archive/2024.
func differential(t *testing.T, localOpts, remoteOpts, archive string) {
	d := testdovecot.Start(t, "oi:secret", "mt:secret")
	servers := map[string]server{}
	for _, u := range []string{"oi", "mt"} {
		servers[u] = server{host: d.Host, port: d.TLSPort, user: u, pass: "secret", ca: d.CAFile, tls: imap.TLSImplicit}
	}
	// Entwürfe: a local folder named in modified UTF-7, as OfflineIMAP
	// names it without utf8foldernames.
	folders := map[string]int{"INBOX": 20, "Archive/2024": 12, "Lists/go": 8, "Entwürfe": 3}
	setups := map[string]oiSetup{}
	for u, s := range servers {
		seedSmall(t, s, folders)
		su := newOISetup(t, s, "", localOpts, remoteOpts, "")
		// The mutt example of OfflineIMAP's FAQ; with nametrans, a filter,
		// a sort key and incremental writing as well.
		mb := fmt.Sprintf(`[mbnames]
enabled = yes
filename = %s/mailboxes
header = "mailboxes "
peritem = "+%%(accountname)s/%%(foldername)s"
sep = " "
footer = "\n"
`, su.dir)
		if strings.Contains(localOpts, "nametrans") {
			mb += `incremental = yes
folderfilter = lambda account, folder: not re.search('^Lists', folder)
sort_keyfunc = lambda d: (d['foldername'] != 'INBOX', d['foldername'].lower())
`
		}
		f, err := os.OpenFile(su.config, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(mb)
		f.Close()
		setups[u] = su
	}
	syncBoth := func(step string) {
		setups["oi"].offlineIMAP(t)
		setups["mt"].mailtrail(t)
		compareOutcome(t, step, setups, servers)
	}

	syncBoth("cold sync")

	// The same changes on both sides of both.
	for u, su := range setups {
		s := servers[u]
		inbox := filepath.Join(su.maildir, "INBOX")
		for _, f := range messageFiles(t, inbox) {
			switch {
			case strings.Contains(f, ",U=2,"):
				if err := os.Remove(filepath.Join(inbox, f)); err != nil {
					t.Fatal(err)
				}
			case strings.Contains(f, ",U=1,"), strings.Contains(f, ",U=5,"):
				// A mail reader flags the message: the letters stay sorted.
				setLocalFlags(t, inbox, f, func(fl model.Flags) model.Flags { return fl | model.Flagged })
			case strings.Contains(f, ",U=6,"):
				// ... and marks one unread.
				setLocalFlags(t, inbox, f, func(fl model.Flags) model.Flags { return fl &^ model.Seen })
			}
		}
		deliver(t, filepath.Join(su.maildir, archive), "local-new",
			"From: me\nSubject: written offline\nMessage-ID: <offline@example.org>\n\nhello\n")
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(su.maildir, "Projects", sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		deliver(t, filepath.Join(su.maildir, "Projects"), "proj-1",
			"From: me\nSubject: project\nMessage-ID: <proj@example.org>\n\nplan\n")

		ctx := context.Background()
		rs := s.dial(t)
		rin, err := rs.SelectFolder(ctx, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if err := rin.StoreFlags(ctx, []uint32{3}, model.Flagged|model.Answered, 0); err != nil {
			t.Fatal(err)
		}
		// Changed on both sides since the last sync: 5 and 6 (see above).
		if err := rin.StoreFlags(ctx, []uint32{5, 6}, model.Answered, 0); err != nil {
			t.Fatal(err)
		}
		if err := rin.Expunge(ctx, []uint32{4}); err != nil {
			t.Fatal(err)
		}
		rin.Close()
		rl, err := rs.SelectFolder(ctx, "Lists/go")
		if err != nil {
			t.Fatal(err)
		}
		nm := sample.Messages("late", 1, 77)[0]
		if _, err := rl.Append(ctx, int64(len(nm.Body)), bytes.NewReader(nm.Body), model.Seen, nm.Date); err != nil {
			t.Fatal(err)
		}
		rl.Close()
	}
	syncBoth("changes on both sides")
	syncBoth("a sync with nothing to do")
}

// setLocalFlags renames a message file (relative to folder) as a mail
// reader does when it changes flags: letters sorted, into cur/.
func setLocalFlags(t *testing.T, folder, rel string, change func(model.Flags) model.Flags) {
	t.Helper()
	name := filepath.Base(rel)
	i := strings.LastIndex(name, ":2,")
	fl, extra := model.ParseMaildir(name[i+3:])
	renamed := name[:i+3] + change(fl).Maildir() + extra
	if err := os.Rename(filepath.Join(folder, rel), filepath.Join(folder, "cur", renamed)); err != nil {
		t.Fatal(err)
	}
}

// maildirView is what a mail reader sees of a Maildir tree: per folder,
// one line per message, sorted.
type maildirView map[string][]string

var uniquePart = regexp.MustCompile(`^[^,:!]+`)

func viewMaildir(t *testing.T, root string) maildirView {
	t.Helper()
	v := maildirView{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if _, err := os.Stat(filepath.Join(p, "cur")); err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		lines := []string{}
		for _, sub := range []string{"cur", "new"} {
			ents, err := os.ReadDir(filepath.Join(p, sub))
			if err != nil {
				return err
			}
			for _, e := range ents {
				name := e.Name()
				id := messageID(t, filepath.Join(p, sub, name))
				// The unique part (time, sequence, pid, host) differs by
				// nature; the rest of the name must not.
				lines = append(lines, fmt.Sprintf("%s %s %s", id, sub, uniquePart.ReplaceAllString(name, "<unique>")))
			}
		}
		sort.Strings(lines)
		v[rel] = lines
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func messageID(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return "<no Message-ID>"
}

// serverView lists each server folder's messages as Message-ID and flags.
func serverView(t *testing.T, s server) map[string][]string {
	t.Helper()
	ctx := context.Background()
	st := s.dial(t)
	list, err := st.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, fs := range list {
		if fs.NoSelect {
			continue
		}
		f, err := st.SelectFolder(ctx, fs.Name)
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := f.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		flags := map[uint32]model.Flags{}
		var uids []uint32
		for _, m := range msgs {
			flags[m.UID] = m.Flags
			uids = append(uids, m.UID)
		}
		lines := []string{}
		err = f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
			var b bytes.Buffer
			if _, err := b.ReadFrom(body); err != nil {
				return err
			}
			id := "<no Message-ID>"
			for _, line := range strings.Split(b.String(), "\r\n") {
				if line == "" {
					break
				}
				if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Message-ID") {
					id = strings.TrimSpace(v)
				}
			}
			lines = append(lines, fmt.Sprintf("%d %s %s", m.UID, id, flags[m.UID]))
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(lines)
		out[fs.Name] = lines
	}
	return out
}

func compareOutcome(t *testing.T, step string, setups map[string]oiSetup, servers map[string]server) {
	t.Helper()
	oi, mt := viewMaildir(t, setups["oi"].maildir), viewMaildir(t, setups["mt"].maildir)
	diffViews(t, step+": Maildir", oi, mt)
	diffViews(t, step+": server", serverView(t, servers["oi"]), serverView(t, servers["mt"]))
	a, errA := os.ReadFile(filepath.Join(setups["oi"].dir, "mailboxes"))
	b, errB := os.ReadFile(filepath.Join(setups["mt"].dir, "mailboxes"))
	t.Logf("%s: mbnames file %q", step, b)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("%s: mbnames file differs:\nofflineimap: %q (%v)\nmailtrail:   %q (%v)", step, a, errA, b, errB)
	}
}

func diffViews(t *testing.T, what string, oi, mt map[string][]string) {
	t.Helper()
	names := map[string]bool{}
	for k := range oi {
		names[k] = true
	}
	for k := range mt {
		names[k] = true
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		a, aok := oi[k]
		b, bok := mt[k]
		switch {
		case !aok:
			t.Errorf("%s: folder %s only with mailtrail", what, k)
		case !bok:
			t.Errorf("%s: folder %s only with offlineimap", what, k)
		case strings.Join(a, "\n") != strings.Join(b, "\n"):
			t.Errorf("%s: folder %s differs:\nofflineimap:\n  %s\nmailtrail:\n  %s", what, k, strings.Join(a, "\n  "), strings.Join(b, "\n  "))
		}
	}
}
