package takeover

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters/maildir"
	"mailtrail/journal"
	"mailtrail/model"
)

// writeSQLite writes a status database exactly as OfflineIMAP 3 creates it
// (LocalStatusSQLite.__create_db).
func writeSQLite(t *testing.T, path string, rows map[uint32]string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128))`,
		`INSERT INTO metadata VALUES('db_version', '2')`,
		`CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for uid, fl := range rows {
		if _, err := db.Exec(`INSERT INTO status (id,flags,mtime,labels) VALUES (?,?,0,'')`, uid, fl); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReadStatusFormats(t *testing.T) {
	meta := t.TempDir()
	d := Dir{Metadata: meta, Account: "A", RemoteRepository: "R"}
	writeSQLite(t, filepath.Join(d.AccountDir(), "LocalStatus-sqlite", "INBOX"), map[uint32]string{1: "S", 2: "FRS", 7: ""})
	writeFile(t, filepath.Join(d.AccountDir(), "LocalStatus", "Archive.2025"),
		"OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 2\n3|ST|1700000000|\n4||0|a, b\n")
	writeFile(t, filepath.Join(d.AccountDir(), "LocalStatus", "Old"),
		"OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT 1\n5:DS\n")
	writeFile(t, filepath.Join(d.AccountDir(), "LocalStatus", "Bad"), "hello\n")
	writeFile(t, filepath.Join(d.ValidityDir(), "INBOX"), "1234567\n")

	st, err := d.ReadStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]model.Flags{1: model.Seen, 2: model.Flagged | model.Answered | model.Seen, 7: 0}
	if st.Backend != SQLite || len(st.Flags) != 3 {
		t.Fatalf("sqlite: %+v", st)
	}
	for u, f := range want {
		if st.Flags[u] != f {
			t.Errorf("sqlite uid %d: flags %v, want %v", u, st.Flags[u], f)
		}
	}
	st, err = d.ReadStatus(BaseName("Archive/2025"))
	if err != nil || st.Backend != Plain || st.Flags[3] != model.Seen|model.Deleted || st.Flags[4] != 0 || len(st.Flags) != 2 {
		t.Fatalf("plain v2: %+v %v", st, err)
	}
	st, err = d.ReadStatus("Old")
	if err != nil || st.Flags[5] != model.Draft|model.Seen {
		t.Fatalf("plain v1: %+v %v", st, err)
	}
	if _, err := d.ReadStatus("Bad"); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("bad header: %v", err)
	}
	if _, err := d.ReadStatus("Nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if uv, err := d.ReadValidity("INBOX"); err != nil || uv != 1234567 {
		t.Errorf("validity %d %v", uv, err)
	}
	if _, err := d.ReadValidity("Nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing validity: %v", err)
	}
	files, err := d.StatusFiles()
	if err != nil || strings.Join(files, ",") != "Archive.2025,Bad,INBOX,Old" {
		t.Errorf("status files %v %v", files, err)
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{"INBOX": "INBOX", "a/b": "a.b", "": ".", "/.": "..", ".": "dot"} {
		if got := BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAdopt: rows named by ",U=" keep their file's key; a UID without a
// file keeps an empty key (deleted locally); a folder mailtrail knows, and
// any run after the first, adopt nothing.
func TestAdopt(t *testing.T) {
	ctx := context.Background()
	meta, mail := t.TempDir(), t.TempDir()
	d := Dir{Metadata: meta, Account: "A", RemoteRepository: "R"}
	writeSQLite(t, filepath.Join(d.AccountDir(), "LocalStatus-sqlite", "INBOX"), map[uint32]string{1: "S", 2: "F", 3: "S"})
	writeFile(t, filepath.Join(d.ValidityDir(), "INBOX"), "42\n")
	writeSQLite(t, filepath.Join(d.AccountDir(), "LocalStatus-sqlite", "NoValidity"), map[uint32]string{1: "S"})

	local, err := maildir.New(mail, '.', maildir.Options{Hostname: "h", PID: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"INBOX", "NoValidity", "Unknown"} {
		if err := local.CreateFolder(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	lf, err := local.OpenFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	b := lf.NewBatch()
	k1, _ := b.Add(1, model.Seen, time.Now(), strings.NewReader("Subject: 1\r\n\r\n1\r\n"))
	k2, _ := b.Add(2, model.Flagged|model.Seen, time.Now(), strings.NewReader("Subject: 2\r\n\r\n2\r\n"))
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	j, err := journal.Open(filepath.Join(t.TempDir(), "j"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()

	dry, err := Adopt(ctx, j, local, Options{Dir: d, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, _ := j.FolderStatus("INBOX"); st.Rows.Len() != 0 {
		t.Fatalf("dry run wrote %d rows", st.Rows.Len())
	}
	res, err := Adopt(ctx, j, local, Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Folders) != 2 || res.Adopted() != 1 || len(dry.Folders) != 2 {
		t.Fatalf("result %+v (dry %+v)", res, dry)
	}
	in := res.Folders[0]
	if in.Name != "INBOX" || in.Rows != 3 || in.WithFile != 2 || in.UIDValidity != 42 {
		t.Errorf("INBOX: %+v", in)
	}
	if res.Folders[1].Skipped == "" {
		t.Errorf("NoValidity adopted: %+v", res.Folders[1])
	}
	st, _, err := j.FolderStatus("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]model.StatusRow{
		1: {UID: 1, Key: k1, Flags: model.Seen},
		2: {UID: 2, Key: k2, Flags: model.Flagged}, // OfflineIMAP's flags, not the file's
		3: {UID: 3, Flags: model.Seen},
	}
	if st.UIDValidity != 42 || st.Rows.Len() != 3 {
		t.Fatalf("status %+v", st)
	}
	for u, r := range want {
		if got, _ := st.Rows.Get(u); got != r {
			t.Errorf("row %d = %+v, want %+v", u, got, r)
		}
	}

	// A folder whose files carry another folder's tag is not adopted while
	// some of OfflineIMAP's messages have no file here.
	writeSQLite(t, filepath.Join(d.AccountDir(), "LocalStatus-sqlite", "Moved"), map[uint32]string{1: "S", 2: "S"})
	writeFile(t, filepath.Join(d.ValidityDir(), "Moved"), "7\n")
	if err := local.CreateFolder(ctx, "Moved"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(mail, "Moved", "cur", "1700000000_0.1.h,U=1,FMD5=0123456789abcdef0123456789abcdef:2,S"), "x")
	j2, err := journal.Open(filepath.Join(t.TempDir(), "j2"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	res2, err := Adopt(ctx, j2, local, Options{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	moved := false
	for _, f := range res2.Folders {
		if f.Name == "Moved" {
			moved = true
			if !strings.Contains(f.Skipped, "another folder's FMD5") {
				t.Errorf("Moved adopted: %+v", f)
			}
		}
	}
	if !moved {
		t.Errorf("Moved not reported: %+v", res2.Folders)
	}

	// After a run, OfflineIMAP's state is never read again.
	run, err := j.BeginRun(journal.RunInfo{Started: time.Now(), Command: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	_ = j.EndRun(run, journal.RunSummary{Finished: time.Now()})
	res, err = Adopt(ctx, j, local, Options{Dir: d})
	if err != nil || !res.NotFirstRun || len(res.Folders) != 0 {
		t.Errorf("after a run: %+v %v", res, err)
	}
}
