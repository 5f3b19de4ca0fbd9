// Package demo is `mailtrail demo`: a complete, self-contained run of the
// engine against an in-process IMAP server, with a real Maildir and a real
// journal on disk. It needs no network and no configuration.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/engine"
	"mailtrail/internal/converge"
	"mailtrail/internal/memserver"
	"mailtrail/internal/sample"
	"mailtrail/journal"
	"mailtrail/model"
	"mailtrail/planner"
	"mailtrail/report"
)

const (
	user     = "demo"
	password = "demo"
	marker   = ".mailtrail-demo"
)

// seed is the demo mailbox: folder → number of messages.
var seed = []struct {
	folder string
	n      int
}{
	{"INBOX", 24}, {"Archive/2025", 12}, {"Lists/golang", 10}, {"Sent", 6},
}

// Run performs the demo in dir (created; a previous demo there is
// replaced) and narrates it to out.
func Run(ctx context.Context, dir string, out io.Writer) error {
	if err := prepare(dir); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen on loopback: %w", err)
	}
	srv, err := memserver.Serve(ln, memserver.Options{Users: map[string]string{user: password}})
	if err != nil {
		return err
	}
	defer srv.Close()
	total := 0
	for i, s := range seed {
		for _, m := range sample.Messages(s.folder, s.n, int64(i+1)) {
			if _, err := srv.Append(user, s.folder, m.Body, m.Flags.IMAPNames(), m.Date); err != nil {
				return err
			}
			total++
		}
	}
	fmt.Fprintf(out, "1. Started an IMAP server on %s with %d messages in %d folders.\n", srv.Addr, total, len(seed))

	maildirPath := filepath.Join(dir, "Maildir")
	local, err := maildir.New(maildirPath, '.', maildir.Options{})
	if err != nil {
		return err
	}
	remote, err := imap.Dial(ctx, imap.Config{Host: srv.Host, Port: srv.Port, User: user, Password: password,
		TLS: imap.TLSNone, MaxConnections: 2})
	if err != nil {
		return err
	}
	defer remote.Close()
	j, err := journal.Open(filepath.Join(dir, "state", "journal"), journal.Options{})
	if err != nil {
		return err
	}
	defer j.Close()
	acct := &engine.Account{Name: "demo", Remote: remote, Local: local, Journal: j, Log: zerolog.Nop(),
		MaxConnections: 2, Command: "demo",
		Planner: planner.Options{CreateRemoteFolders: true, CreateLocalFolders: true}}

	sync := func(step string) (engine.Report, error) {
		rep, err := acct.Sync(ctx)
		if err != nil {
			return rep, err
		}
		fmt.Fprintf(out, "%s\n", step)
		report.Summary(indent{out}, indent{out}, rep, true)
		if rep.Failed() > 0 {
			return rep, errors.New("demo: a folder failed to sync (see above)")
		}
		return rep, nil
	}
	if _, err := sync("2. First sync into " + maildirPath + ":"); err != nil {
		return err
	}

	// 3. Another mail client changes the Maildir, and another device
	// changes the server.
	changes, err := changeLocal(maildirPath)
	if err != nil {
		return err
	}
	more, err := changeRemote(ctx, remote, srv)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "3. Changed both sides behind mailtrail's back:")
	for _, c := range append(changes, more...) {
		fmt.Fprintf(out, "     - %s\n", c)
	}

	rep, err := sync("4. Second sync:")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "5. What the journal recorded for that sync (run %d):\n", rep.Run)
	if err := report.Journal(indent{out}, j, rep.Run); err != nil {
		return err
	}
	if _, err := sync("6. Third sync (nothing left to do):"); err != nil {
		return err
	}
	sum, err := converge.Check(ctx, remote, local)
	if err != nil {
		return err
	}
	if !sum.OK() {
		return fmt.Errorf("demo: server and Maildir disagree:\n  %s", strings.Join(sum.Diffs, "\n  "))
	}
	fmt.Fprintf(out, "7. Server and Maildir agree: %d messages in %d folders, same flags, no duplicates.\n", sum.Messages, sum.Folders)
	fmt.Fprintf(out, "\nRead the mail:  neomutt -f %s/INBOX\nThe journal:    %s\n", maildirPath, filepath.Join(dir, "state", "journal"))
	return nil
}

// prepare makes dir ready, replacing an earlier demo but nothing else.
func prepare(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("demo: %w", err)
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("demo: %s exists and was not made by the demo; pass another --dir or remove it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("demo: remove the previous demo: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("made by mailtrail demo; safe to delete\n"), 0o644)
}

// changeLocal acts like a mail client on the Maildir: it flags and reads a
// message by renaming its file, deletes one, and delivers a new one.
func changeLocal(root string) ([]string, error) {
	inbox := filepath.Join(root, "INBOX")
	files, err := listFiles(inbox)
	if err != nil {
		return nil, err
	}
	if len(files) < 3 {
		return nil, fmt.Errorf("demo: INBOX has only %d files", len(files))
	}
	var did []string
	// Flag a message that is not flagged yet (and mark it read), as mutt
	// would: by renaming its file. Then delete another one.
	flagged := -1
	for i, f := range files {
		base := filepath.Base(f)
		info := ""
		if j := strings.Index(base, ":2,"); j >= 0 {
			base, info = base[:j], base[j+3:]
		}
		if strings.Contains(info, "F") {
			continue
		}
		if err := os.Rename(f, filepath.Join(inbox, "cur", base+":2,FS")); err != nil {
			return nil, err
		}
		flagged = i
		break
	}
	if flagged < 0 {
		return nil, errors.New("demo: every INBOX message is flagged already")
	}
	did = append(did, "Maildir: flagged and read a message in INBOX")
	victim := 0
	if flagged == 0 {
		victim = 1
	}
	if err := os.Remove(files[victim]); err != nil {
		return nil, err
	}
	did = append(did, "Maildir: deleted a message from INBOX")
	msg := "From: You <you@example.org>\nTo: Ada Lovelace <ada.lovelace@example.org>\nSubject: Written offline\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\nMessage-ID: <offline.1@mailtrail.example>\n\nWritten in the train.\n"
	name := fmt.Sprintf("%d.M1P%d.demo", time.Now().Unix(), os.Getpid())
	tmp := filepath.Join(root, "Sent", "tmp", name)
	if err := os.WriteFile(tmp, []byte(msg), 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(root, "Sent", "new", name)); err != nil {
		return nil, err
	}
	did = append(did, "Maildir: saved a new message into Sent")
	return did, nil
}

func listFiles(folder string) ([]string, error) {
	var out []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			out = append(out, filepath.Join(folder, sub, e.Name()))
		}
	}
	// By the server UID in the name: the oldest messages first, whatever
	// order the downloads were named in (folders are fetched in parallel,
	// so the names' sequence numbers interleave). The server side changes
	// the newest message: the local changes must not touch it.
	sort.Slice(out, func(i, j int) bool {
		ui, uj := fileUID(out[i]), fileUID(out[j])
		if ui != uj {
			return ui < uj
		}
		return out[i] < out[j]
	})
	return out, nil
}

// fileUID is the ",U=" of a Maildir file name, or 0.
func fileUID(path string) int {
	base := filepath.Base(path)
	i := strings.Index(base, ",U=")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range base[i+3:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// changeRemote acts like another device on the server.
func changeRemote(ctx context.Context, remote *imap.Store, srv *memserver.Server) ([]string, error) {
	inbox, err := remote.SelectFolder(ctx, "INBOX")
	if err != nil {
		return nil, err
	}
	defer inbox.Close()
	msgs, err := inbox.List(ctx)
	if err != nil {
		return nil, err
	}
	last := msgs[len(msgs)-1]
	if err := inbox.StoreFlags(ctx, []uint32{last.UID}, model.Flagged|model.Answered, 0); err != nil {
		return nil, err
	}
	did := []string{"server: flagged and answered the newest message in INBOX"}
	lists, err := remote.SelectFolder(ctx, "Lists/golang")
	if err != nil {
		return nil, err
	}
	defer lists.Close()
	lmsgs, err := lists.List(ctx)
	if err != nil {
		return nil, err
	}
	if err := lists.Expunge(ctx, []uint32{lmsgs[0].UID, lmsgs[1].UID}); err != nil {
		return nil, err
	}
	did = append(did, "server: expunged two messages from Lists/golang")
	for _, m := range sample.Messages("INBOX", 3, 99) {
		if _, err := srv.Append(user, "INBOX", m.Body, nil, m.Date); err != nil {
			return nil, err
		}
	}
	did = append(did, "server: three new messages arrived in INBOX")
	for _, m := range sample.Messages("Projects/mailtrail", 2, 100) {
		if _, err := srv.Append(user, "Projects/mailtrail", m.Body, []string{`\Seen`}, m.Date); err != nil {
			return nil, err
		}
	}
	did = append(did, "server: a new folder Projects/mailtrail with two messages")
	return did, nil
}

// indent prefixes every line written through it with four spaces.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.ReplaceAll(strings.TrimSuffix(string(p), "\n"), "\n", "\n    ")
	if strings.HasSuffix(string(p), "\n") {
		s += "\n"
	}
	if !strings.HasPrefix(s, "\n") {
		s = "    " + s
	}
	if _, err := io.WriteString(i.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}
