package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The convergence check reads both sides itself (go-imap and the file
// system), not through mailtrail's adapters: it judges mbsync and
// OfflineIMAP too, and must not share a bug with what it checks.

// state is, per folder, how many messages have each (Message-ID, flags).
type state map[string]map[string]int

func (s state) add(folder, mid, flags string) {
	m := s[folder]
	if m == nil {
		m = map[string]int{}
		s[folder] = m
	}
	m[mid+" "+flags]++
}

func (s state) messages() int {
	n := 0
	for _, m := range s {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// imapFlagLetters are the flags both sides can hold, as Maildir letters.
var imapFlagLetters = map[imap.Flag]byte{
	imap.FlagDraft: 'D', imap.FlagFlagged: 'F', imap.FlagAnswered: 'R', imap.FlagSeen: 'S', imap.FlagDeleted: 'T',
}

func letters(b []byte) string {
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

func dial(addr, user, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("login %s: %v", user, err)
	}
	return c, nil
}

// listStatusFloor times what an unchanged sync cannot avoid: connect, log
// in, one LIST-STATUS of every folder, log out.
func listStatusFloor(addr, user, password string) (time.Duration, error) {
	start := time.Now()
	c, err := dial(addr, user, password)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	opts := &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: true}}
	if _, err := c.List("", "*", opts).Collect(); err != nil {
		return 0, err
	}
	if err := c.Logout().Wait(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// serverFolders lists the selectable folders.
func serverFolders(c *imapclient.Client) ([]string, error) {
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range list {
		skip := false
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				skip = true
			}
		}
		if !skip {
			out = append(out, l.Mailbox)
		}
	}
	sort.Strings(out)
	return out, nil
}

var midSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}

// serverMsg is a message on the server.
type serverMsg struct {
	uid   imap.UID
	mid   string
	flags string
}

// folderMessages lists the selected folder's messages.
func folderMessages(c *imapclient.Client, n uint32) ([]serverMsg, error) {
	if n == 0 {
		return nil, nil
	}
	set := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{midSection}}).Collect()
	if err != nil {
		return nil, err
	}
	out := make([]serverMsg, 0, len(msgs))
	for _, m := range msgs {
		var fl []byte
		for _, f := range m.Flags {
			if l, ok := imapFlagLetters[imap.Flag(f)]; ok {
				fl = append(fl, l)
			}
		}
		out = append(out, serverMsg{uid: m.UID, mid: messageID(bytes.NewReader(m.FindBodySection(midSection))), flags: letters(fl)})
	}
	return out, nil
}

// serverState reads every folder of user's mailbox.
func serverState(addr, user, password string) (state, error) {
	c, err := dial(addr, user, password)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	folders, err := serverFolders(c)
	if err != nil {
		return nil, err
	}
	st := state{}
	for _, f := range folders {
		sel, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("select %s: %v", f, err)
		}
		msgs, err := folderMessages(c, sel.NumMessages)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %v", f, err)
		}
		for _, m := range msgs {
			st.add(f, m.mid, m.flags)
		}
	}
	_ = c.Logout().Wait()
	return st, nil
}

// localMsg is a message file in a local Maildir.
type localMsg struct {
	path  string // full path
	mid   string
	flags string // Maildir letters DFRST
}

// localFolders lists, per folder (the path relative to root with "/"),
// the messages in cur/ and new/.
func localFolders(root string) (map[string][]localMsg, error) {
	out := map[string][]localMsg{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (filepath.Base(filepath.Dir(p)) != "cur" && filepath.Base(filepath.Dir(p)) != "new") {
			return nil
		}
		folder, err := filepath.Rel(root, filepath.Dir(filepath.Dir(p)))
		if err != nil {
			return err
		}
		name := d.Name()
		var fl []byte
		if _, info, ok := strings.Cut(name, ":2,"); ok {
			for _, c := range []byte(info) {
				if strings.IndexByte("DFRST", c) >= 0 {
					fl = append(fl, c)
				}
			}
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		mid := messageID(f)
		f.Close()
		out[filepath.ToSlash(folder)] = append(out[filepath.ToSlash(folder)], localMsg{path: p, mid: mid, flags: letters(fl)})
		return nil
	})
	return out, err
}

func localState(root string) (state, error) {
	folders, err := localFolders(root)
	if err != nil {
		return nil, err
	}
	st := state{}
	for f, msgs := range folders {
		for _, m := range msgs {
			st.add(f, m.mid, m.flags)
		}
	}
	return st, nil
}

// compare lists the disagreements between the server and the Maildir;
// folders empty on both sides are equal.
func compare(srv, loc state) []string {
	names := map[string]bool{}
	for f := range srv {
		names[f] = true
	}
	for f := range loc {
		names[f] = true
	}
	var sorted []string
	for f := range names {
		sorted = append(sorted, f)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, f := range sorted {
		a, b := srv[f], loc[f]
		var onlySrv, onlyLoc []string
		for k, n := range a {
			if b[k] < n {
				onlySrv = append(onlySrv, k)
			}
		}
		for k, n := range b {
			if a[k] < n {
				onlyLoc = append(onlyLoc, k)
			}
		}
		if len(onlySrv)+len(onlyLoc) == 0 {
			continue
		}
		sort.Strings(onlySrv)
		sort.Strings(onlyLoc)
		d := fmt.Sprintf("%s: %d (Message-ID, flags) only or more often on the server, %d only or more often locally", f, len(onlySrv), len(onlyLoc))
		if len(onlySrv) > 0 {
			d += fmt.Sprintf("; e.g. server %q", onlySrv[0])
		}
		if len(onlyLoc) > 0 {
			d += fmt.Sprintf("; e.g. local %q", onlyLoc[0])
		}
		diffs = append(diffs, d)
	}
	return diffs
}

// messageID reads the header of a message (CRLF or LF) and returns its
// Message-ID, unfolded and trimmed, or "" when it has none.
func messageID(r io.Reader) string {
	br := bufio.NewReaderSize(r, 4096)
	var cur string
	found := ""
	flush := func() {
		if found == "" {
			if name, val, ok := strings.Cut(cur, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Message-ID") {
				found = strings.TrimSpace(val)
			}
		}
	}
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			flush()
			return found
		}
		if line[0] == ' ' || line[0] == '\t' {
			cur += " " + strings.TrimSpace(line)
		} else {
			flush()
			cur = line
		}
		if err != nil {
			flush()
			return found
		}
	}
}
