package main

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// The "1% changed on both sides" phase makes the same changes for every
// tool: messages are chosen by a hash of their Message-ID (the tools number
// and name them differently), and every tool's mailbox holds the same
// messages after the cold sync. The shares are peers-bench's:
//
//	server, per folder: 2% flagged, 1% expunged, 1% new (at least 1 each)
//	local, per folder:  1% marked seen, 0.5% deleted, 0.5% new (at least 1 each)
//
// The messages flagged, expunged, marked seen and deleted are distinct.

func pick(tag, mid string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(tag + "\x00" + mid))
	return h.Sum64()
}

func atLeastOne(n, per int) int { return max(1, n/per) }

// mutateServer changes user's mailbox on the server; it returns how many
// messages it flagged, expunged and appended.
func mutateServer(addr, user, password, tag string) (flagged, expunged, appended int, err error) {
	c, err := dial(addr, user, password)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	folders, err := serverFolders(c)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, f := range folders {
		sel, err := c.Select(f, nil).Wait()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("select %s: %v", f, err)
		}
		msgs, err := folderMessages(c, sel.NumMessages)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("fetch %s: %v", f, err)
		}
		if len(msgs) == 0 {
			continue
		}
		sort.Slice(msgs, func(i, j int) bool { return pick(tag+"s", msgs[i].mid) < pick(tag+"s", msgs[j].mid) })
		var flag, del imap.UIDSet
		nflag, ndel := atLeastOne(len(msgs), 50), atLeastOne(len(msgs), 100)
		for _, m := range msgs {
			switch {
			case nflag > 0 && !strings.Contains(m.flags, "F"):
				flag.AddNum(m.uid)
				nflag--
				flagged++
			case ndel > 0:
				del.AddNum(m.uid)
				ndel--
				expunged++
			}
		}
		if len(flag) > 0 {
			if err := c.Store(flag, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
				return 0, 0, 0, fmt.Errorf("store %s: %v", f, err)
			}
		}
		if len(del) > 0 {
			if err := c.Store(del, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				return 0, 0, 0, fmt.Errorf("store %s: %v", f, err)
			}
			if err := c.UIDExpunge(del).Close(); err != nil {
				return 0, 0, 0, fmt.Errorf("expunge %s: %v", f, err)
			}
		}
		for i := 0; i < atLeastOne(len(msgs), 100); i++ {
			msg := fmt.Sprintf("From: new@example.org\r\nSubject: new %s %d\r\nMessage-ID: <srv.%s.%s.%d@bench>\r\n\r\nnew body\r\n",
				tag, i, tag, strings.ReplaceAll(f, "/", "."), i)
			cmd := c.Append(f, int64(len(msg)), nil)
			if _, err := cmd.Write([]byte(msg)); err != nil {
				return 0, 0, 0, err
			}
			if err := cmd.Close(); err != nil {
				return 0, 0, 0, err
			}
			if _, err := cmd.Wait(); err != nil {
				return 0, 0, 0, fmt.Errorf("append %s: %v", f, err)
			}
			appended++
		}
	}
	return flagged, expunged, appended, c.Logout().Wait()
}

// mutateLocal changes the Maildir at root; it returns how many messages it
// marked seen, deleted and added.
func mutateLocal(root, tag string) (seen, deleted, added int, err error) {
	folders, err := localFolders(root)
	if err != nil {
		return 0, 0, 0, err
	}
	var names []string
	for f := range folders {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		msgs := folders[f]
		if len(msgs) == 0 {
			continue
		}
		sort.Slice(msgs, func(i, j int) bool { return pick(tag+"l", msgs[i].mid) < pick(tag+"l", msgs[j].mid) })
		nseen, ndel := atLeastOne(len(msgs), 100), atLeastOne(len(msgs), 200)
		for _, m := range msgs {
			switch {
			case nseen > 0 && !strings.Contains(m.flags, "S"):
				if err := setInfo(m.path, func(info string) string { return letters([]byte(info + "S")) }); err != nil {
					return 0, 0, 0, err
				}
				nseen--
				seen++
			case ndel > 0:
				if err := os.Remove(m.path); err != nil {
					return 0, 0, 0, err
				}
				ndel--
				deleted++
			}
		}
		dir := filepath.Dir(filepath.Dir(msgs[0].path))
		for i := 0; i < atLeastOne(len(msgs), 200); i++ {
			name := fmt.Sprintf("1700000000.M%dP1.bench%s:2,S", i, tag)
			body := fmt.Sprintf("From: local@example.org\nSubject: local %s %d\nMessage-ID: <loc.%s.%s.%d@bench>\n\nlocal body\n",
				tag, i, tag, strings.ReplaceAll(f, "/", "."), i)
			if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
				return 0, 0, 0, err
			}
			tmp := filepath.Join(dir, "tmp", name)
			if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
				return 0, 0, 0, err
			}
			if err := os.Rename(tmp, filepath.Join(dir, "cur", name)); err != nil {
				return 0, 0, 0, err
			}
			added++
		}
	}
	return seen, deleted, added, nil
}

// markAllRead marks every unread message of user's largest server folder
// read, in one STORE, as a webmail's "select all, mark as read" does;
// it returns the folder and how many messages it changed.
func markAllRead(addr, user, password string) (folder string, marked int, err error) {
	c, err := dial(addr, user, password)
	if err != nil {
		return "", 0, err
	}
	defer c.Close()
	folders, err := serverFolders(c)
	if err != nil {
		return "", 0, err
	}
	most := int64(-1)
	for _, f := range folders {
		st, err := c.Status(f, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return "", 0, fmt.Errorf("status %s: %v", f, err)
		}
		if n := int64(*st.NumMessages); n > most {
			folder, most = f, n
		}
	}
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		return "", 0, fmt.Errorf("select %s: %v", folder, err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		return "", 0, fmt.Errorf("search %s: %v", folder, err)
	}
	unread := len(found.AllUIDs())
	// 1:*, not the unread UIDs: scattered, they would make a command line
	// longer than Dovecot takes.
	all := imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		return "", 0, fmt.Errorf("store %s: %v", folder, err)
	}
	return folder, unread, c.Logout().Wait()
}

// markAllUnreadLocal marks every read message of the largest folder of the
// Maildir at root unread, as a mail reader does (the file renamed within
// cur/, S taken out of its flags); it returns the folder and how many
// messages it changed.
func markAllUnreadLocal(root string) (folder string, marked int, err error) {
	folders, err := localFolders(root)
	if err != nil {
		return "", 0, err
	}
	most := -1
	for f, msgs := range folders {
		if len(msgs) > most || (len(msgs) == most && f < folder) {
			folder, most = f, len(msgs)
		}
	}
	for _, m := range folders[folder] {
		if !strings.Contains(m.flags, "S") {
			continue
		}
		if err := setInfo(m.path, func(info string) string { return strings.ReplaceAll(info, "S", "") }); err != nil {
			return "", 0, err
		}
		marked++
	}
	return folder, marked, nil
}

// setInfo changes the flags of the message file at path as a mail reader
// does: the file moves into cur/ with the flags change makes of its own.
func setInfo(path string, change func(info string) string) error {
	base, info, _ := strings.Cut(filepath.Base(path), ":2,")
	return os.Rename(path, filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", base+":2,"+change(info)))
}
