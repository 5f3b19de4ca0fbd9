package main_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mailtrail/adapters/maildir"
	"mailtrail/internal/converge"
	"mailtrail/model"

	_ "modernc.org/sqlite"
)

// TestTakeoverFromOfflineIMAP: OfflineIMAP 3 syncs a Dovecot mailbox; then
// mailtrail, with the same configuration file, takes the Maildir and
// OfflineIMAP's metadata over. Its first sync fetches nothing, uploads
// nothing and deletes nothing: every file keeps its name and inode. Then
// the adopted status does what only a status can: a message deleted
// locally since OfflineIMAP's last sync is expunged on the server (not
// downloaded again), and a flag removed on the server is removed locally
// (not merged back in).
func TestTakeoverFromOfflineIMAP(t *testing.T) {
	offlineIMAPBinary(t)
	s := dovecotServer(t)
	total := seedSmall(t, s, map[string]int{"INBOX": 25, "Archive/2024": 15, "Lists/go": 10, "Entwürfe": 3})
	for _, status := range []string{"sqlite", "plain"} {
		t.Run(status, func(t *testing.T) {
			su := newOISetup(t, s, "", "", "", "")
			su.offlineIMAP(t)
			if status == "plain" {
				// OfflineIMAP before 7 kept LocalStatus/ in plain text;
				// convert what OfflineIMAP 3 wrote, to read that format too.
				convertStatusToPlain(t, filepath.Join(su.meta, "Account-Test"))
			}
			before := fileInodes(t, su.maildir)
			if len(before) != total {
				t.Fatalf("offlineimap wrote %d files, want %d", len(before), total)
			}

			// --info says what would be adopted, and changes nothing.
			info := su.mailtrail(t, "--info")
			for _, want := range []string{"INBOX: 25 messages", "Archive/2024: 15 messages", "Entw&APw-rfe: 3 messages", "would adopt 6 folders (53 messages)"} {
				if !strings.Contains(info, want) {
					t.Errorf("--info lacks %q:\n%s", want, info)
				}
			}

			// A dry run plans against what would be adopted.
			if out := su.mailtrail(t, "--dry-run"); !strings.Contains(out, "nothing to do") {
				t.Errorf("dry run before the takeover plans changes:\n%s", out)
			}
			out := su.mailtrail(t)
			if !strings.Contains(out, "nothing to do") {
				t.Fatalf("first mailtrail sync after OfflineIMAP did something:\n%s", out)
			}
			after := fileInodes(t, su.maildir)
			if len(after) != len(before) {
				t.Fatalf("%d files after, %d before", len(after), len(before))
			}
			for name, ino := range before {
				if after[name] != ino {
					t.Errorf("%s: renamed, rewritten or gone (inode %d, now %d)", name, ino, after[name])
				}
			}
			info = su.mailtrail(t, "--info")
			if !strings.Contains(info, "adopted 6 folders (53 messages)") {
				t.Errorf("--info after the takeover:\n%s", info)
			}
		})
	}
}

// TestTakeoverPendingChanges: changes made after OfflineIMAP's last sync
// are synced with OfflineIMAP's status as the common ancestor.
func TestTakeoverPendingChanges(t *testing.T) {
	offlineIMAPBinary(t)
	s := dovecotServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 12})
	su := newOISetup(t, s, "", "", "", "")
	su.offlineIMAP(t)
	ctx := context.Background()

	// Locally: delete one message file (as a mail reader does).
	files := messageFiles(t, filepath.Join(su.maildir, "INBOX"))
	var victim string
	for _, f := range files {
		if strings.Contains(f, ",U=2,") {
			victim = f
		}
	}
	if victim == "" {
		t.Fatalf("no file of UID 2 in %v", files)
	}
	if err := os.Remove(filepath.Join(su.maildir, "INBOX", victim)); err != nil {
		t.Fatal(err)
	}
	// On the server: flag UID 3, and clear \Seen of every message that has
	// it (so at least one flag removal happens).
	rs := s.dial(t)
	f, err := rs.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var seen []uint32
	for _, m := range msgs {
		if m.Flags&model.Seen != 0 && m.UID != 2 {
			seen = append(seen, m.UID)
		}
	}
	if len(seen) == 0 {
		t.Fatal("sample has no \\Seen message")
	}
	if err := f.StoreFlags(ctx, seen, 0, model.Seen); err != nil {
		t.Fatal(err)
	}
	f.Close()

	out := su.mailtrail(t)
	if !strings.Contains(out, "1 expunge-remote") || strings.Contains(out, "fetch") || strings.Contains(out, "upload") {
		t.Fatalf("want exactly the local deletion propagated, no fetch or upload:\n%s", out)
	}
	flags := remoteFlags(t, s, "INBOX")
	if _, ok := flags[2]; ok {
		t.Errorf("UID 2, deleted locally before the takeover, is still on the server")
	}
	for _, uid := range seen {
		if flags[uid]&model.Seen != 0 {
			t.Errorf("UID %d: \\Seen removed on the server came back (flags %s)", uid, flags[uid])
		}
	}
	for _, name := range messageFiles(t, filepath.Join(su.maildir, "INBOX")) {
		for _, uid := range seen {
			if strings.Contains(name, ",U="+strconv.FormatUint(uint64(uid), 10)+",") && strings.Contains(name[strings.LastIndex(name, ":2,"):], "S") {
				t.Errorf("local %s still carries S", name)
			}
		}
	}
	assertConvergedDir(t, s, su.maildir)
}

// assertConvergedDir checks that the server and the Maildir at dir hold the
// same messages with the same flags.
func assertConvergedDir(t *testing.T, s server, dir string) {
	t.Helper()
	local, err := maildir.New(dir, '.', maildir.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := converge.Check(context.Background(), s.dial(t), local)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() {
		t.Fatalf("server and Maildir differ:\n  %s", strings.Join(sum.Diffs, "\n  "))
	}
}

// convertStatusToPlain rewrites OfflineIMAP's LocalStatus-sqlite databases
// of an account directory as the plain-text LocalStatus files older
// OfflineIMAPs kept (format 2: uid|flags|mtime|labels).
func convertStatusToPlain(t *testing.T, accountDir string) {
	t.Helper()
	sqliteDir := filepath.Join(accountDir, "LocalStatus-sqlite")
	plainDir := filepath.Join(accountDir, "LocalStatus")
	if err := os.MkdirAll(plainDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(sqliteDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		db, err := sql.Open("sqlite", filepath.Join(sqliteDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query("SELECT id, flags, mtime, labels FROM status ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n")
		for rows.Next() {
			var id, mtime int64
			var flags, labels sql.NullString
			if err := rows.Scan(&id, &flags, &mtime, &labels); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d|%s|%d|%s\n", id, flags.String, mtime, labels.String)
		}
		rows.Close()
		db.Close()
		if err := os.WriteFile(filepath.Join(plainDir, e.Name()), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(sqliteDir); err != nil {
		t.Fatal(err)
	}
}
