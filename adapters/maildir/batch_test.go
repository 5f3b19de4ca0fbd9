package maildir

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/model"
)

// A batch larger than the fsync pool, committed while another goroutine
// renames messages of the same folder.
func TestLargeBatchWithConcurrentRenames(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	var early []string
	for i := range 10 {
		early = append(early, addOne(t, f, uint32(1000+i), 0, testNow, "early\r\n"))
	}
	b := f.NewBatch()
	const n = 40
	for i := range n {
		flags := model.Flags(0)
		if i%2 == 0 {
			flags = model.Seen
		}
		if _, err := b.Add(uint32(i+1), flags, testNow.Add(-time.Duration(i)*time.Hour), strings.NewReader(fmt.Sprintf("Subject: %d\r\n", i))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, k := range early {
			if err := f.SetFlags(ctx, k, model.Seen); err != nil {
				t.Error(err)
			}
		}
	}()
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.dirty) != 0 {
		t.Errorf("directories still waiting for fsync after Flush: %v", f.dirty)
	}
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != n+len(early) {
		t.Fatalf("Scan found %d messages, want %d", len(msgs), n+len(early))
	}
	if got := len(listDir(t, filepath.Join(f.path, "cur"))); got != n/2+len(early) {
		t.Errorf("cur/ holds %d files, want %d", got, n/2+len(early))
	}
	if got := len(listDir(t, filepath.Join(f.path, "new"))); got != n/2 {
		t.Errorf("new/ holds %d files, want %d", got, n/2)
	}
	// A batch this large is made durable with syncfs: every file still
	// carries its own date.
	checked := 0
	for _, sub := range []string{"cur", "new"} {
		for _, name := range listDir(t, filepath.Join(f.path, sub)) {
			var uid int
			if i := strings.Index(name, ",U="); i >= 0 {
				fmt.Sscanf(name[i+3:], "%d", &uid)
			}
			if uid < 1 || uid > n {
				continue // an early message
			}
			st, err := os.Stat(filepath.Join(f.path, sub, name))
			if want := testNow.Add(-time.Duration(uid-1) * time.Hour); err != nil || !st.ModTime().Equal(want) {
				t.Errorf("%s/%s: mtime %v, %v; want %v", sub, name, st.ModTime(), err, want)
			}
			checked++
		}
	}
	if checked != n {
		t.Errorf("checked the dates of %d files, want %d", checked, n)
	}
}

func TestWindowsCompatibleInfoSep(t *testing.T) {
	ctx := context.Background()
	s, err := New(t.TempDir(), '.', Options{Hostname: "h", PID: 1, InfoSep: '!'})
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFolder(t, s, "INBOX")
	k := addOne(t, f, 9, model.Seen, testNow, "x\r\n")
	names := listDir(t, filepath.Join(f.path, "cur"))
	if len(names) != 1 || !strings.HasSuffix(names[0], "!2,S") || strings.Contains(names[0], ":") {
		t.Fatalf("cur/ holds %v, want one name ending in !2,S", names)
	}
	if err := f.SetFlags(ctx, k, model.Seen|model.Draft); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.Scan(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].UID != 9 || msgs[0].Flags != model.Seen|model.Draft || msgs[0].Key != k {
		t.Fatalf("Scan = %+v, %v", msgs, err)
	}
}

func TestFilenameUseMailTimestamp(t *testing.T) {
	s, err := New(t.TempDir(), '.', Options{Hostname: "h", PID: 1, FilenameUseMailTimestamp: true})
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFolder(t, s, "INBOX")
	date := time.Date(2003, 4, 5, 6, 7, 8, 0, time.UTC)
	k := addOne(t, f, 9, 0, date, "x\r\n")
	if want := fmt.Sprintf("%d_", date.Unix()); !strings.HasPrefix(k, want) {
		t.Fatalf("key %q does not start with the message date %s", k, want)
	}
}

// benchFolder is a new store's INBOX in a temporary directory.
func benchFolder(b *testing.B) *Folder {
	s, err := New(b.TempDir(), '.', Options{Hostname: "h", PID: 1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateFolder(context.Background(), "INBOX"); err != nil {
		b.Fatal(err)
	}
	f, err := s.Folder("INBOX")
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkScan100k measures Scan of a folder of 100,000 files (creating
// them takes a while; run with -bench Scan -benchtime 10x), and what a
// scan holds afterwards per file: its messages and the folder's index
// (held-B/file).
func BenchmarkScan100k(b *testing.B) {
	ctx := context.Background()
	f := benchFolder(b)
	for i := range 100000 {
		sub, info := "cur", "S"
		if i%10 == 0 {
			sub, info = "new", ""
		}
		name := fmt.Sprintf("1700000000_%d.1.h,U=%d,FMD5=%s:2,%s", i, i+1, f.FMD5(), info)
		file, err := os.Create(filepath.Join(f.path, sub, name))
		if err != nil {
			b.Fatal(err)
		}
		file.Close()
	}
	f.index = fileIndex{}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	held, err := f.Scan(ctx)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heldPerFile := float64(after.HeapAlloc-before.HeapAlloc) / 100000
	runtime.KeepAlive(held)

	b.ResetTimer()
	for b.Loop() {
		msgs, err := f.Scan(ctx)
		if err != nil || len(msgs) != 100000 {
			b.Fatalf("Scan: %d messages, %v", len(msgs), err)
		}
	}
	b.ReportMetric(heldPerFile, "held-B/file")
}

func TestRemoveStaleTmp(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	tmp := filepath.Join(f.path, "tmp")
	writeFile(t, filepath.Join(tmp, "old"), "x")
	writeFile(t, filepath.Join(tmp, "fresh"), "y")
	old := testNow.Add(-48 * time.Hour)
	fresh := testNow.Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(tmp, "old"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(tmp, "fresh"), fresh, fresh); err != nil {
		t.Fatal(err)
	}
	n, err := f.RemoveStaleTmp(36 * time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStaleTmp = %d, %v; want 1", n, err)
	}
	if got := listDir(t, tmp); len(got) != 1 || got[0] != "fresh" {
		t.Fatalf("tmp/ holds %v, want [fresh]", got)
	}
}

// A file is never renamed over another: renameNoReplace and its fallback
// refuse, leaving both files, and rename otherwise.
func TestRenameNoReplace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rename func(from, to string) error
	}{{"renameat2", renameNoReplace}, {"fallback", noReplaceFallback}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
			for _, p := range []string{a, b} {
				if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.rename(a, b); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("rename over an existing file: %v, want fs.ErrExist", err)
			}
			if got, _ := os.ReadFile(b); string(got) != b {
				t.Fatalf("the existing file was replaced: %q", got)
			}
			if err := tc.rename(a, c); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the source is still there: %v", err)
			}
		})
	}
}

// BenchmarkBatch256 measures a batch of 256 new messages of 13 KB (a
// cold sync's average) from Add to Commit: file creation, the CRLF copy,
// dates, durability and renames. The file system under TMPDIR decides
// most of it; compare builds on the same one.
func BenchmarkBatch256(b *testing.B) { benchBatch(b, 256) }

// BenchmarkBatch8 is the same for a batch of 8, a usual sync's new mail:
// small enough that Commit fsyncs each file instead of the file system.
func BenchmarkBatch8(b *testing.B) { benchBatch(b, 8) }

func benchBatch(b *testing.B, n int) {
	ctx := context.Background()
	f := benchFolder(b)
	body := strings.Repeat("Subject: a line of text of about sixty bytes, as mail has\r\n", 13000/60)
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	uid := uint32(0)
	b.SetBytes(int64(n) * int64(len(body)))
	for b.Loop() {
		batch := f.NewBatch()
		for range n {
			uid++
			if _, err := batch.Add(uid, model.Seen, date, strings.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
		if err := batch.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// A name already taken in tmp/ (another process with our pid, a clock
// step) is skipped for the next sequence number; the file found there is
// left alone.
func TestAddSkipsANameTakenInTmp(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	sec := testNow.Unix()
	timeSeq.Lock()
	next, used := timeSeq.last[sec]
	timeSeq.Unlock()
	if used {
		next++
	}
	key := fmt.Sprintf("%d_%d.%d.%s", sec, next, testPID, testHost)
	taken := filepath.Join(f.path, "tmp", formatBase(key, 7, f.FMD5())+infoSuffix(':', "S"))
	if err := os.WriteFile(taken, []byte("someone else's\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := f.NewBatch()
	got, err := b.Add(7, model.Seen, testNow, strings.NewReader("Subject: mine\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got == key {
		t.Fatalf("Add took the key %s of a file already in tmp/", key)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if body, err := os.ReadFile(taken); err != nil || string(body) != "someone else's\n" {
		t.Errorf("the file already in tmp/ now holds %q, %v", body, err)
	}
}

// startWriteback changes nothing of the file (its bytes, its date) and
// does nothing for a file that is not there: it only starts a write the
// fsync after it waits for.
func TestStartWritebackLeavesTheFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "msg")
	body := []byte("Subject: kept\n\nas it was\n")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(path, date, date); err != nil {
		t.Fatal(err)
	}
	startWriteback(path)
	startWriteback(path + ".missing")
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(body) {
		t.Fatalf("the file now holds %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.ModTime().Equal(date) {
		t.Fatalf("the file's date is now %v, %v; want %v", fi.ModTime(), err, date)
	}
	if _, err := os.Stat(path + ".missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// renameFile does what os.Rename does for a message file (it only skips
// os.Rename's look at the destination): it renames, replaces a file of the
// destination's name, says fs.ErrNotExist for a source gone (withFile
// looks the key up again on it) and refuses to replace a directory.
func TestRenameFileIsOSRename(t *testing.T) {
	dir := t.TempDir()
	a, b, gone, sub := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "gone"), filepath.Join(dir, "sub")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := renameFile(a, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(b); string(got) != a {
		t.Fatalf("b holds %q after renaming a over it, want %q", got, a)
	}
	var le *os.LinkError
	if err := renameFile(gone, a); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &le) {
		t.Fatalf("renaming a file that is gone: %v, want an *os.LinkError for fs.ErrNotExist", err)
	}
	if err := renameFile(b, sub); err == nil {
		t.Fatalf("a file renamed over a directory")
	}
	if got, _ := os.ReadFile(b); string(got) != a {
		t.Fatalf("b after the refused rename: %q", got)
	}
}
