package maildir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

func TestBatchCommitThenScan(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "Archive/2024")
	md5 := folderMD5("Archive.2024")
	date1 := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	date2 := time.Date(2021, 1, 2, 3, 4, 5, 0, time.UTC)

	b := f.NewBatch()
	k1, err := b.Add(10, model.Seen|model.Flagged, date1, strings.NewReader("Subject: one\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := b.Add(11, 0, date2, strings.NewReader("Subject: two\r\n\r\nno newline"))
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 {
		t.Fatalf("two messages got the same key %q", k1)
	}
	// Before Commit: in tmp/, invisible to Scan.
	if got := listDir(t, filepath.Join(f.path, "tmp")); len(got) != 2 {
		t.Fatalf("tmp/ before commit holds %v", got)
	}
	if msgs, err := f.Scan(ctx); err != nil || len(msgs) != 0 {
		t.Fatalf("Scan before commit: %v, %v", msgs, err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "tmp")); len(got) != 0 {
		t.Fatalf("tmp/ after commit holds %v", got)
	}
	sec := testNow.Unix()
	name1 := fmt.Sprintf("%s,U=10,FMD5=%s:2,FS", k1, md5)
	name2 := fmt.Sprintf("%s,U=11,FMD5=%s:2,", k2, md5)
	if !strings.HasPrefix(k1, fmt.Sprintf("%d_", sec)) || !strings.HasSuffix(k1, ".4242.testhost") {
		t.Errorf("key %q is not <now>_<seq>.4242.testhost", k1)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); !reflect.DeepEqual(got, []string{name1}) {
		t.Errorf("cur/ holds %v, want [%s] (Seen goes to cur/)", got, name1)
	}
	if got := listDir(t, filepath.Join(f.path, "new")); !reflect.DeepEqual(got, []string{name2}) {
		t.Errorf("new/ holds %v, want [%s] (unseen goes to new/)", got, name2)
	}
	body, err := os.ReadFile(filepath.Join(f.path, "cur", name1))
	if err != nil || string(body) != "Subject: one\n\nbody\n" {
		t.Errorf("cur file holds %q, %v", body, err)
	}
	body, err = os.ReadFile(filepath.Join(f.path, "new", name2))
	if err != nil || string(body) != "Subject: two\n\nno newline" {
		t.Errorf("new file holds %q, %v", body, err)
	}
	for name, date := range map[string]time.Time{"cur/" + name1: date1, "new/" + name2: date2} {
		st, err := os.Stat(filepath.Join(f.path, name))
		if err != nil || !st.ModTime().Equal(date) {
			t.Errorf("mtime of %s = %v, %v; want the internal date %v", name, st.ModTime(), err, date)
		}
	}

	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.LocalMsg{
		{Key: k1, UID: 10, FMD5: md5, Flags: model.Seen | model.Flagged},
		{Key: k2, UID: 11, FMD5: md5},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("Scan = %+v\nwant %+v", msgs, want)
	}
	// A second commit, and Add after commit, are refused or harmless.
	if err := b.Commit(ctx); err != nil {
		t.Errorf("second Commit: %v", err)
	}
	if _, err := b.Add(12, 0, date1, strings.NewReader("x")); err == nil {
		t.Errorf("Add after Commit succeeded")
	}
}

func TestOpenForUploadAfterCommit(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	date := time.Date(2019, 12, 31, 23, 59, 58, 0, time.UTC)
	wire := "From: a\r\nX: bare\rCR\r\n\r\n\xe9t\xe9\r\nlast"
	k := addOne(t, f, 3, model.Seen, date, wire)

	// A fresh Folder value: OpenForUpload must find the key by scanning.
	f2, err := s.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	r, size, gotDate, err := f2.OpenForUpload(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := readAllString(t, r)
	if got != wire || size != int64(len(wire)) || !gotDate.Equal(date) {
		t.Fatalf("OpenForUpload = %q (size %d, date %v), want %q (size %d, date %v)", got, size, gotDate, wire, len(wire), date)
	}
	if _, _, _, err := f2.OpenForUpload(ctx, "nope"); !errors.Is(err, adapters.ErrNoMessage) {
		t.Fatalf("OpenForUpload of a missing key: %v, want ErrNoMessage", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	b := f.NewBatch()
	for i := range 3 {
		if _, err := b.Add(uint32(i+1), model.Seen, testNow, strings.NewReader("x\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if got := listDir(t, filepath.Join(f.path, sub)); len(got) != 0 {
			t.Errorf("%s/ after Abort holds %v", sub, got)
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Errorf("Commit after Abort: %v", err)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); len(got) != 0 {
		t.Errorf("Commit after Abort put %v in cur/", got)
	}
	if err := b.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
}

// failingReader yields some bytes, then an error.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "Subject: half\r\n"), nil
	}
	return 0, errors.New("connection reset")
}

func TestAddFailureRemovesTmpFile(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	b := f.NewBatch()
	if _, err := b.Add(1, 0, testNow, &failingReader{}); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Add of a failing body: %v", err)
	}
	if got := listDir(t, filepath.Join(f.path, "tmp")); len(got) != 0 {
		t.Fatalf("tmp/ after a failed Add holds %v", got)
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCommitNeverReplacesAFile(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	b := f.NewBatch().(*Batch)
	if _, err := b.Add(1, model.Seen, testNow, strings.NewReader("new\r\n")); err != nil {
		t.Fatal(err)
	}
	// Someone else put a file of exactly that name in cur/ meanwhile.
	clash := filepath.Join(f.path, "cur", b.pending[0].name)
	writeFile(t, clash, "precious")
	if err := b.Commit(context.Background()); err == nil {
		t.Fatal("Commit replaced an existing file without error")
	}
	if got, _ := os.ReadFile(clash); string(got) != "precious" {
		t.Fatalf("existing file now holds %q", got)
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "tmp")); len(got) != 0 {
		t.Fatalf("tmp/ after Abort holds %v", got)
	}
}

func TestScanForeignNames(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	other := folderMD5("Sent")
	files := map[string]string{
		"cur/1700000000.R123.host:2,S":                        "neomutt",
		"new/1700000001.R456.host":                            "delivered",
		"cur/1700000002.M1P2.host,S=1234,W=1260:2,RSa":        "dovecot",
		"cur/1700000003_0.99.h,U=7,FMD5=" + f.FMD5() + ":2,S": "offlineimap",
		"cur/1700000004_0.99.h,U=8,FMD5=" + other + ":2,S":    "copied from Sent",
		"cur/1700000005.123_4.host,U=12:2,F":                  "mbsync",
		"cur/.hidden":                                         "dotfile",
		"tmp/1700000006.R789.host":                            "in delivery",
		"new/.nfs0001":                                        "dotfile",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(f.path, name), content)
	}
	if err := os.Mkdir(filepath.Join(f.path, "cur", "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.LocalMsg{
		{Key: "1700000000.R123.host", Flags: model.Seen},
		{Key: "1700000001.R456.host"},
		{Key: "1700000002.M1P2.host,S=1234,W=1260", Flags: model.Seen | model.Answered},
		{Key: "1700000003_0.99.h", UID: 7, FMD5: f.FMD5(), Flags: model.Seen},
		{Key: "1700000004_0.99.h", FMD5: other, FromUID: 8, Flags: model.Seen},
		{Key: "1700000005.123_4.host", Flags: model.Flagged},
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("Scan =\n%+v\nwant\n%+v", msgs, want)
	}
}

func TestScanRefusesDuplicateKeys(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	writeFile(t, filepath.Join(f.path, "cur", "1700000000.R1.h,U=1,FMD5=x:2,S"), "a")
	writeFile(t, filepath.Join(f.path, "new", "1700000000.R1.h"), "b")
	_, err := f.Scan(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1700000000.R1.h") {
		t.Fatalf("Scan of two files with one key: %v", err)
	}
}

func TestSetFlagsKeepsExtraLettersAndMoves(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	const key = "1700000002.M1P2.host,S=1234,W=1260"
	writeFile(t, filepath.Join(f.path, "cur", key+":2,Sab"), "dovecot")

	if err := f.SetFlags(ctx, key, model.Seen|model.Flagged|model.Answered); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); !reflect.DeepEqual(got, []string{key + ":2,FRSab"}) {
		t.Fatalf("cur/ after SetFlags holds %v", got)
	}
	// Unseen: OfflineIMAP moves it to new/, keeping the info.
	if err := f.SetFlags(ctx, key, model.Flagged); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "new")); !reflect.DeepEqual(got, []string{key + ":2,Fab"}) {
		t.Fatalf("new/ after clearing Seen holds %v", got)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); len(got) != 0 {
		t.Fatalf("cur/ after clearing Seen holds %v", got)
	}
	// The same flags again: nothing changes, even the mtime of new/.
	_, newBefore, _ := f.DirMtimes()
	time.Sleep(10 * time.Millisecond)
	if err := f.SetFlags(ctx, key, model.Flagged); err != nil {
		t.Fatal(err)
	}
	if _, newAfter, _ := f.DirMtimes(); !newAfter.Equal(newBefore) {
		t.Fatalf("SetFlags to the current flags touched new/")
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.Scan(ctx)
	if err != nil || len(msgs) != 1 || msgs[0].Flags != model.Flagged || msgs[0].Key != key {
		t.Fatalf("Scan after SetFlags: %+v, %v", msgs, err)
	}
}

func TestSetFlagsOnFileWithoutInfo(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	writeFile(t, filepath.Join(f.path, "new", "1700000001.R456.host"), "x")
	// No flags on a file without info: nothing to do, the name stays.
	if err := f.SetFlags(ctx, "1700000001.R456.host", 0); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "new")); !reflect.DeepEqual(got, []string{"1700000001.R456.host"}) {
		t.Fatalf("new/ holds %v", got)
	}
	if err := f.SetFlags(ctx, "1700000001.R456.host", model.Seen); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); !reflect.DeepEqual(got, []string{"1700000001.R456.host:2,S"}) {
		t.Fatalf("cur/ holds %v", got)
	}
}

func TestSetUIDKeepsKeyAndInfo(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	writeFile(t, filepath.Join(f.path, "cur", "1700000000.R123.host:2,Sa"), "neomutt")
	writeFile(t, filepath.Join(f.path, "new", "1700000001.R456.host"), "new")
	writeFile(t, filepath.Join(f.path, "cur", "1700000004_0.99.h,U=8,FMD5="+folderMD5("Sent")+":2,S"), "copied")

	for key, uid := range map[string]uint32{"1700000000.R123.host": 41, "1700000001.R456.host": 42, "1700000004_0.99.h": 43} {
		if err := f.SetUID(ctx, key, uid); err != nil {
			t.Fatal(err)
		}
		// Again: no change, no error.
		if err := f.SetUID(ctx, key, uid); err != nil {
			t.Fatal(err)
		}
	}
	md5 := f.FMD5()
	if got, want := listDir(t, filepath.Join(f.path, "cur")), []string{
		"1700000000.R123.host,U=41,FMD5=" + md5 + ":2,Sa",
		"1700000004_0.99.h,U=43,FMD5=" + md5 + ":2,S",
	}; !reflect.DeepEqual(got, want) {
		t.Fatalf("cur/ holds %v, want %v", got, want)
	}
	if got, want := listDir(t, filepath.Join(f.path, "new")), []string{"1700000001.R456.host,U=42,FMD5=" + md5 + ":2,"}; !reflect.DeepEqual(got, want) {
		// A file delivered without info gets an empty one, as OfflineIMAP
		// names it.
		t.Fatalf("new/ holds %v, want %v", got, want)
	}
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]uint32{}
	for _, m := range msgs {
		uids[m.Key] = m.UID
	}
	if want := map[string]uint32{"1700000000.R123.host": 41, "1700000001.R456.host": 42, "1700000004_0.99.h": 43}; !reflect.DeepEqual(uids, want) {
		t.Fatalf("UIDs after SetUID: %v, want %v", uids, want)
	}
	if err := f.SetUID(ctx, "gone", 1); !errors.Is(err, adapters.ErrNoMessage) {
		t.Fatalf("SetUID of a missing key: %v, want ErrNoMessage", err)
	}
}

func TestDeleteIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	k := addOne(t, f, 5, model.Seen, testNow, "x\r\n")
	if err := f.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, k); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := f.Delete(ctx, "never-there"); err != nil {
		t.Fatalf("Delete of an unknown key: %v", err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); len(got) != 0 {
		t.Fatalf("cur/ after Delete holds %v", got)
	}
	if err := f.SetFlags(ctx, k, model.Seen|model.Flagged); !errors.Is(err, adapters.ErrNoMessage) {
		t.Fatalf("SetFlags of a deleted key: %v, want ErrNoMessage", err)
	}
}

// Another client renamed the file since our Scan: the index is stale, and
// every operation finds the file again by rescanning once.
func TestStaleIndexRescans(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	k := addOne(t, f, 5, 0, testNow, "x\r\n")
	if _, err := f.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	old := listDir(t, filepath.Join(f.path, "new"))[0]
	moved := strings.TrimSuffix(old, ":2,") + ":2,S"
	if err := os.Rename(filepath.Join(f.path, "new", old), filepath.Join(f.path, "cur", moved)); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFlags(ctx, k, model.Seen|model.Answered); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(old, ":2,") + ":2,RS"
	if got := listDir(t, filepath.Join(f.path, "cur")); !reflect.DeepEqual(got, []string{want}) {
		t.Fatalf("cur/ holds %v, want [%s]", got, want)
	}
	// Renamed again behind our back, then deleted through a stale index.
	if err := os.Rename(filepath.Join(f.path, "cur", want), filepath.Join(f.path, "cur", moved)); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, filepath.Join(f.path, "cur")); len(got) != 0 {
		t.Fatalf("cur/ after Delete through a stale index holds %v", got)
	}
}

func TestDirMtimes(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(f.path, sub), old, old); err != nil {
			t.Fatal(err)
		}
	}
	cur, nw, err := f.DirMtimes()
	if err != nil || !cur.Equal(old) || !nw.Equal(old) {
		t.Fatalf("DirMtimes = %v %v %v", cur, nw, err)
	}
	addOne(t, f, 1, 0, testNow, "x")
	cur2, nw2, err := f.DirMtimes()
	if err != nil || !cur2.Equal(old) || !nw2.After(old) {
		t.Fatalf("after adding to new/: DirMtimes = %v %v %v", cur2, nw2, err)
	}
}

// sizedMessage generates a wire-form message of about n bytes line by line,
// without holding it in memory.
type sizedMessage struct {
	left int64
	line []byte
	pos  int
}

func newSizedMessage(n int64) *sizedMessage {
	return &sizedMessage{left: n, line: []byte(strings.Repeat("0123456789", 7) + "\r\n")}
}

func (m *sizedMessage) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && m.left > 0 {
		c := copy(p[n:min(len(p), n+int(min(m.left, int64(len(m.line)-m.pos))))], m.line[m.pos:])
		n += c
		m.left -= int64(c)
		m.pos = (m.pos + c) % len(m.line)
	}
	return n, nil
}

func TestTwentyMegabyteMessageIsStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20 MB")
	}
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	const size = 20 << 20
	lines := int64(size / 72)
	wireSize := lines * 72

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b := f.NewBatch()
	k, err := b.Add(1, model.Seen, testNow, newSizedMessage(wireSize))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	t.Logf("Add+Commit of %d bytes allocated %d bytes", wireSize, after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("Add+Commit of a %d-byte message allocated %d bytes; it is not streamed", wireSize, alloc)
	}
	name := listDir(t, filepath.Join(f.path, "cur"))[0]
	st, err := os.Stat(filepath.Join(f.path, "cur", name))
	if err != nil || st.Size() != wireSize-lines {
		t.Fatalf("file size %d, %v; want %d (one CR fewer per line)", st.Size(), err, wireSize-lines)
	}

	runtime.GC()
	runtime.ReadMemStats(&before)
	r, gotSize, _, err := f.OpenForUpload(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	// Compare with the generator instead of keeping either copy.
	n, err := io.Copy(&compareWriter{want: newSizedMessage(wireSize)}, r)
	r.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != wireSize || gotSize != wireSize {
		t.Fatalf("upload form: %d bytes (announced %d), %v; want %d", n, gotSize, err, wireSize)
	}
	t.Logf("OpenForUpload and reading %d bytes allocated %d bytes", wireSize, after.TotalAlloc-before.TotalAlloc)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Errorf("OpenForUpload of a %d-byte message allocated %d bytes; it is not streamed", wireSize, alloc)
	}
}

// compareWriter checks that what is written equals what want yields.
type compareWriter struct {
	want io.Reader
	buf  [64 << 10]byte
	off  int64
}

func (w *compareWriter) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		chunk := w.buf[:min(len(w.buf), len(p)-done)]
		n, err := io.ReadFull(w.want, chunk)
		if err != nil {
			return done, fmt.Errorf("at %d: expected content ended: %w", w.off, err)
		}
		if string(chunk[:n]) != string(p[done:done+n]) {
			return done, fmt.Errorf("content differs near offset %d", w.off)
		}
		done += n
		w.off += int64(n)
	}
	return len(p), nil
}

// Another client moves a message from new/ to cur/ between the two
// directory reads: the first read sees it twice, the mtimes moved, and the
// scan reads again.
func TestScanSurvivesMoveDuringRead(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	writeFile(t, filepath.Join(f.path, "new", "1700000000.R1.h"), "x")
	writeFile(t, filepath.Join(f.path, "cur", "1700000000.R2.h:2,S"), "y")
	moved := false
	reads := 0
	testHookAfterReadDir = func(sub string) {
		reads++
		if sub == "new" && !moved {
			moved = true
			if err := os.Rename(filepath.Join(f.path, "new", "1700000000.R1.h"), filepath.Join(f.path, "cur", "1700000000.R1.h:2,S")); err != nil {
				t.Error(err)
			}
			// Make the change visible in the mtimes even on a coarse clock.
			old := time.Now().Add(-time.Hour)
			for _, d := range []string{"new", "cur"} {
				if err := os.Chtimes(filepath.Join(f.path, d), old, old); err != nil {
					t.Error(err)
				}
			}
		}
	}
	t.Cleanup(func() { testHookAfterReadDir = nil })
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.LocalMsg{{Key: "1700000000.R1.h", Flags: model.Seen}, {Key: "1700000000.R2.h", Flags: model.Seen}}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("Scan = %+v, want %+v", msgs, want)
	}
	if reads != 4 {
		t.Errorf("%d directory reads, want 4 (the first pass saw a change)", reads)
	}
	st := f.LastScan()
	cur, nw, _ := f.DirMtimes()
	if !st.CurMtime.Equal(cur) || !st.NewMtime.Equal(nw) || st.Started.IsZero() {
		t.Fatalf("LastScan = %+v, dirs now %v %v", st, cur, nw)
	}
}

func TestScanGivesUpOnABusyFolder(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "INBOX")
	n := 0
	testHookAfterReadDir = func(sub string) {
		if sub == "cur" {
			n++
			at := time.Unix(int64(1000+n), 0)
			if err := os.Chtimes(filepath.Join(f.path, "cur"), at, at); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(func() { testHookAfterReadDir = nil })
	if _, err := f.Scan(context.Background()); err == nil || !strings.Contains(err.Error(), "changed during") {
		t.Fatalf("Scan of a folder that always changes: %v", err)
	}
	if n != scanAttempts {
		t.Fatalf("read the folder %d times, want %d", n, scanAttempts)
	}
}

// TestExpectMessagesSizesTheFirstScan: told how many messages to expect,
// a fresh Folder's first scan allocates its list and index once instead
// of growing them (3,000 files: about twenty fewer allocations, and none
// of the copies a growing list leaves behind), and finds the same
// messages; a wrong guess changes nothing but memory.
func TestExpectMessagesSizesTheFirstScan(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "Big")
	const n = 3000
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1.host,U=%d,FMD5=%s:2,S", 1700000000+i, i, i+1, f.FMD5())
		if err := os.WriteFile(filepath.Join(f.Path(), "cur", name), []byte("Subject: x\n\nhi\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(expect int) []model.LocalMsg {
		fresh, err := s.Folder("Big")
		if err != nil {
			t.Fatal(err)
		}
		if expect > 0 {
			fresh.ExpectMessages(expect)
		}
		msgs, err := fresh.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	allocs := func(expect int) float64 { return testing.AllocsPerRun(3, func() { scan(expect) }) }
	grown, sized := allocs(0), allocs(n)
	t.Logf("first scan of %d files: %.0f allocations growing, %.0f sized", n, grown, sized)
	if sized > grown-10 {
		t.Errorf("a sized first scan made %.0f allocations, a growing one %.0f: the hint is not used", sized, grown)
	}
	for _, expect := range []int{0, 10, n, 10 * n} {
		if got := scan(expect); len(got) != n || got[0].UID == 0 {
			t.Errorf("expecting %d: the scan found %d messages", expect, len(got))
		}
	}
}
