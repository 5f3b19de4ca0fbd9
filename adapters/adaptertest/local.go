package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"mailtrail/adapters"
	"mailtrail/model"
)

// RunLocal runs the conformance suite for adapters.Local. newStore is
// called once per subtest (see the package doc for what it may share).
func RunLocal(t *testing.T, newStore func(t *testing.T) adapters.Local) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, s adapters.Local)
	}{
		{"CreateFolderAndList", localCreateFolderAndList},
		{"FolderNames", localFolderNames},
		{"OpenMissingFolder", localOpenMissingFolder},
		{"NestedFolderIsolation", localNestedIsolation},
		{"BatchByteExact", localBatchByteExact},
		{"BatchVisibleOnlyAfterCommit", localBatchVisibility},
		{"BatchKeysUnique", localBatchKeysUnique},
		{"BatchAbort", localBatchAbort},
		{"BatchWithoutUID", localBatchWithoutUID},
		{"Flags", localFlags},
		{"SetUID", localSetUID},
		{"FMD5", localFMD5},
		{"MissingKey", localMissingKey},
		{"Delete", localDelete},
		{"LineEndRule", localLineEndRule},
		{"TwoHandles", localTwoHandles},
		{"ConcurrentFolders", localConcurrentFolders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			tc.fn(t, ctx, newStore(t))
		})
	}
}

func createOpen(t *testing.T, ctx context.Context, s adapters.Local, name string) adapters.LocalFolder {
	t.Helper()
	if err := s.CreateFolder(ctx, name); err != nil {
		t.Fatalf("CreateFolder(%q): %v", name, err)
	}
	f, err := s.OpenFolder(ctx, name)
	if err != nil {
		t.Fatalf("OpenFolder(%q): %v", name, err)
	}
	return f
}

func scanMap(t *testing.T, ctx context.Context, f adapters.LocalFolder) map[string]model.LocalMsg {
	t.Helper()
	msgs, err := f.Scan(ctx)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	out := map[string]model.LocalMsg{}
	for _, m := range msgs {
		if _, dup := out[m.Key]; dup {
			t.Errorf("Scan lists key %q twice", m.Key)
		}
		out[m.Key] = m
	}
	return out
}

func scanOne(t *testing.T, ctx context.Context, f adapters.LocalFolder, key string) model.LocalMsg {
	t.Helper()
	m, ok := scanMap(t, ctx, f)[key]
	if !ok {
		t.Fatalf("Scan: key %q is missing", key)
	}
	return m
}

// addCommit writes one message in a batch of its own and returns its key.
func addCommit(t *testing.T, ctx context.Context, f adapters.LocalFolder, uid uint32, flags model.Flags, date int, body []byte) string {
	t.Helper()
	b := f.NewBatch()
	key, err := b.Add(uid, flags, Date(date), bytesReader(body))
	if err != nil {
		t.Fatalf("LocalBatch.Add(uid %d): %v", uid, err)
	}
	if key == "" {
		t.Fatalf("LocalBatch.Add returned an empty key")
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatalf("LocalBatch.Commit: %v", err)
	}
	return key
}

// readUpload reads a message through OpenForUpload and checks that size is
// the length of what the reader yields.
func readUpload(t *testing.T, ctx context.Context, f adapters.LocalFolder, key string) ([]byte, time.Time) {
	t.Helper()
	r, size, date, err := f.OpenForUpload(ctx, key)
	if err != nil {
		t.Fatalf("OpenForUpload(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("OpenForUpload(%q): reading: %v", key, err)
	}
	if int64(len(b)) != size {
		t.Errorf("OpenForUpload(%q): size %d, but the reader yields %d bytes", key, size, len(b))
	}
	return b, date
}

func localCreateFolderAndList(t *testing.T, ctx context.Context, s adapters.Local) {
	names := []string{"lc-plain", "lc-nested/a/b"}
	for _, n := range names {
		for i := range 2 {
			if err := s.CreateFolder(ctx, n); err != nil {
				t.Fatalf("CreateFolder(%q) (call %d): %v", n, i+1, err)
			}
		}
	}
	all, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	if missing := missingFrom(all, names...); len(missing) > 0 {
		t.Errorf("ListFolders: missing %q; got %q", missing, all)
	}
	for i, n := range all {
		if slices.Contains(all[:i], n) {
			t.Errorf("ListFolders lists %q twice", n)
		}
	}
	for _, n := range names {
		f, err := s.OpenFolder(ctx, n)
		if err != nil {
			t.Fatalf("OpenFolder(%q): %v", n, err)
		}
		if got := scanMap(t, ctx, f); len(got) != 0 {
			t.Errorf("a new folder %q holds %d messages", n, len(got))
		}
	}
	// Creating an existing folder keeps its messages.
	f, _ := s.OpenFolder(ctx, "lc-plain")
	key := addCommit(t, ctx, f, 7, model.Seen, 0, Messages()[0].Body)
	if err := s.CreateFolder(ctx, "lc-plain"); err != nil {
		t.Fatalf("CreateFolder of a folder with messages: %v", err)
	}
	if m := scanOne(t, ctx, f, key); m.UID != 7 || m.Flags != model.Seen {
		t.Errorf("after a second CreateFolder: %+v, want UID 7 flags S", m)
	}
}

func localFolderNames(t *testing.T, ctx context.Context, s adapters.Local) {
	names := []string{"Sent Items", "Entwürfe", "R&D", "Archiv/2024 Q1"}
	for i, n := range names {
		f := createOpen(t, ctx, s, n)
		m := NewMessage(fmt.Sprintf("local-folder-names-%d", i), n)
		key := addCommit(t, ctx, f, uint32(i+1), 0, i, m.Body)
		if got, _ := readUpload(t, ctx, f, key); diffBytes(got, m.Body) != "" {
			t.Errorf("folder %q: %s", n, diffBytes(got, m.Body))
		}
	}
	all, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	if missing := missingFrom(all, names...); len(missing) > 0 {
		t.Errorf("ListFolders: missing %q; got %q", missing, all)
	}
}

func localOpenMissingFolder(t *testing.T, ctx context.Context, s adapters.Local) {
	_, err := s.OpenFolder(ctx, "no-such-folder")
	if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("OpenFolder of a missing folder: %v; want an error wrapping adapters.ErrNoFolder", err)
	}
}

func localNestedIsolation(t *testing.T, ctx context.Context, s adapters.Local) {
	parent := createOpen(t, ctx, s, "iso")
	child := createOpen(t, ctx, s, "iso/sub")
	pk := addCommit(t, ctx, parent, 1, 0, 0, NewMessage("iso-parent", "p").Body)
	ck := addCommit(t, ctx, child, 1, 0, 1, NewMessage("iso-child", "c").Body)
	if got := scanMap(t, ctx, parent); len(got) != 1 || got[pk].Key != pk {
		t.Errorf("Scan of the parent folder = %v, want only %q", got, pk)
	}
	if got := scanMap(t, ctx, child); len(got) != 1 || got[ck].Key != ck {
		t.Errorf("Scan of the child folder = %v, want only %q", got, ck)
	}
}

func localBatchByteExact(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "byte-exact")
	msgs := Messages()
	b := f.NewBatch()
	keys := make([]string, len(msgs))
	for i, m := range msgs {
		k, err := b.Add(uint32(100+i), 0, Date(i), bytesReader(m.Body))
		if err != nil {
			t.Fatalf("Add(%s): %v", m.Name, err)
		}
		keys[i] = k
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	scanned := scanMap(t, ctx, f)
	for i, m := range msgs {
		t.Run(m.Name, func(t *testing.T) {
			sm, ok := scanned[keys[i]]
			if !ok {
				t.Fatalf("Scan: key %q is missing", keys[i])
			}
			stored := StoredForm(m.Body)
			if sm.Size != 0 && sm.Size != int64(len(stored)) {
				t.Errorf("Scan: size %d, want %d (the LF form of %d wire bytes) or 0 (not measured)", sm.Size, len(stored), len(m.Body))
			}
			if sm.UID != uint32(100+i) || sm.Flags != 0 {
				t.Errorf("Scan: UID %d flags %s, want UID %d no flags", sm.UID, sm.Flags, 100+i)
			}
			got, date := readUpload(t, ctx, f, keys[i])
			if d := diffBytes(got, m.Body); d != "" {
				t.Errorf("OpenForUpload does not give back the wire form: %s", d)
			}
			if !sameInstant(date, Date(i)) {
				t.Errorf("OpenForUpload: date %v, want %v", date, Date(i))
			}
		})
	}
}

func localBatchVisibility(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "visibility")
	b := f.NewBatch()
	var keys []string
	for i := range 3 {
		k, err := b.Add(uint32(i+1), 0, Date(i), bytesReader(NewMessage(fmt.Sprintf("vis-%d", i), "v").Body))
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		keys = append(keys, k)
		if got := scanMap(t, ctx, f); len(got) != 0 {
			t.Errorf("Scan before Commit shows %d messages", len(got))
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got := scanMap(t, ctx, f)
	for i, k := range keys {
		if m, ok := got[k]; !ok || m.UID != uint32(i+1) {
			t.Errorf("after Commit, key %q: %+v (present %v), want UID %d", k, m, ok, i+1)
		}
	}
	if len(got) != len(keys) {
		t.Errorf("after Commit, Scan shows %d messages, want %d", len(got), len(keys))
	}
	if err := f.NewBatch().Commit(ctx); err != nil {
		t.Errorf("Commit of an empty batch: %v", err)
	}
	if err := f.NewBatch().Abort(); err != nil {
		t.Errorf("Abort of an empty batch: %v", err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Errorf("Flush: %v", err)
	}
}

func localBatchKeysUnique(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "keys")
	seen := map[string]bool{}
	body := NewMessage("keys", "identical bodies, distinct keys").Body
	for batch := range 3 {
		b := f.NewBatch()
		for i := range 4 {
			k, err := b.Add(uint32(batch*10+i+1), 0, Date(0), bytesReader(body))
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if seen[k] {
				t.Errorf("key %q handed out twice", k)
			}
			seen[k] = true
		}
		if err := b.Commit(ctx); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	if got := scanMap(t, ctx, f); len(got) != len(seen) {
		t.Errorf("Scan shows %d messages, want %d", len(got), len(seen))
	}
}

func localBatchAbort(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "abort")
	b := f.NewBatch()
	var aborted []string
	for i := range 2 {
		k, err := b.Add(uint32(i+1), model.Seen, Date(i), bytesReader(Messages()[i].Body))
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		aborted = append(aborted, k)
	}
	if err := b.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if got := scanMap(t, ctx, f); len(got) != 0 {
		t.Errorf("after Abort, Scan shows %v", got)
	}
	key := addCommit(t, ctx, f, 3, 0, 2, Messages()[0].Body)
	got := scanMap(t, ctx, f)
	if len(got) != 1 || got[key].UID != 3 {
		t.Errorf("a batch after an aborted one: Scan = %v, want only %q with UID 3", got, key)
	}
	for _, k := range aborted {
		if k == key {
			continue // a key may be handed out again once its file is gone
		}
		if _, ok := got[k]; ok {
			t.Errorf("key %q of the aborted batch shows in Scan", k)
		}
	}
}

func localBatchWithoutUID(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "no-uid")
	key := addCommit(t, ctx, f, 0, model.Flagged, 0, Messages()[0].Body)
	if m := scanOne(t, ctx, f, key); m.UID != 0 || m.Flags != model.Flagged {
		t.Errorf("Scan: %+v, want UID 0 flags F", m)
	}
}

func localFlags(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "flags")
	for i, c := range append(slices.Clone(eachFlag), namedFlags{"all", model.AllFlags}) {
		key := addCommit(t, ctx, f, uint32(i+1), c.flag, i, NewMessage("flags-"+c.name, c.name).Body)
		if got := scanOne(t, ctx, f, key).Flags; got != c.flag {
			t.Errorf("added with flags %s, Scan says %s", c.flag, got)
		}
	}
	body := NewMessage("flags-cycle", "cycle").Body
	key := addCommit(t, ctx, f, 77, 0, 0, body)
	for fl := model.Flags(0); fl <= model.AllFlags; fl++ {
		for range 2 { // the second time is a no-op and must succeed
			if err := f.SetFlags(ctx, key, fl); err != nil {
				t.Fatalf("SetFlags(%q, %s): %v", key, fl, err)
			}
		}
		m := scanOne(t, ctx, f, key)
		if m.Flags != fl || m.UID != 77 {
			t.Errorf("after SetFlags(%s): flags %s UID %d, want flags %s UID 77", fl, m.Flags, m.UID, fl)
		}
	}
	for fl := model.AllFlags; ; fl-- { // and back down, removing flags
		if err := f.SetFlags(ctx, key, fl); err != nil {
			t.Fatalf("SetFlags(%q, %s): %v", key, fl, err)
		}
		if got := scanOne(t, ctx, f, key).Flags; got != fl {
			t.Errorf("after SetFlags(%s): flags %s", fl, got)
		}
		if fl == 0 {
			break
		}
	}
	if got, _ := readUpload(t, ctx, f, key); diffBytes(got, body) != "" {
		t.Errorf("after flag changes the body changed: %s", diffBytes(got, body))
	}
}

func localSetUID(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "set-uid")
	body := Messages()[1].Body
	key := addCommit(t, ctx, f, 0, model.Seen|model.Flagged, 0, body)
	for range 2 { // the second time is a no-op and must succeed
		if err := f.SetUID(ctx, key, 42); err != nil {
			t.Fatalf("SetUID(%q, 42): %v", key, err)
		}
		if m := scanOne(t, ctx, f, key); m.UID != 42 || m.Flags != model.Seen|model.Flagged {
			t.Errorf("after SetUID(42): %+v, want UID 42 flags FS", m)
		}
	}
	if err := f.SetFlags(ctx, key, model.Answered); err != nil {
		t.Fatalf("SetFlags: %v", err)
	}
	if m := scanOne(t, ctx, f, key); m.UID != 42 || m.Flags != model.Answered {
		t.Errorf("after SetFlags(R): %+v, want UID 42 flags R", m)
	}
	if err := f.SetUID(ctx, key, 43); err != nil {
		t.Fatalf("SetUID(%q, 43): %v", key, err)
	}
	if m := scanOne(t, ctx, f, key); m.UID != 43 || m.Flags != model.Answered {
		t.Errorf("after SetUID(43): %+v, want UID 43 flags R", m)
	}
	got, date := readUpload(t, ctx, f, key)
	if d := diffBytes(got, body); d != "" {
		t.Errorf("after SetUID the body changed: %s", d)
	}
	if !sameInstant(date, Date(0)) {
		t.Errorf("after SetUID the date is %v, want %v", date, Date(0))
	}
}

func localFMD5(t *testing.T, ctx context.Context, s adapters.Local) {
	a := createOpen(t, ctx, s, "fmd5-a")
	b := createOpen(t, ctx, s, "fmd5-b")
	if a.FMD5() == "" || a.FMD5() == b.FMD5() {
		t.Errorf("FMD5 of two folders: %q and %q; want two different non-empty tags", a.FMD5(), b.FMD5())
	}
	again, err := s.OpenFolder(ctx, "fmd5-a")
	if err != nil {
		t.Fatal(err)
	}
	if again.FMD5() != a.FMD5() {
		t.Errorf("FMD5 of the same folder opened twice: %q and %q", a.FMD5(), again.FMD5())
	}
	added := addCommit(t, ctx, a, 11, 0, 0, NewMessage("fmd5-added", "x").Body)
	late := addCommit(t, ctx, a, 0, 0, 1, NewMessage("fmd5-late", "y").Body)
	if err := a.SetUID(ctx, late, 12); err != nil {
		t.Fatalf("SetUID: %v", err)
	}
	scanned := scanMap(t, ctx, a)
	for key, uid := range map[string]uint32{added: 11, late: 12} {
		if m := scanned[key]; m.UID != uid || m.FMD5 != a.FMD5() {
			t.Errorf("key %q: UID %d FMD5 %q; want UID %d with the folder's FMD5 %q", key, m.UID, m.FMD5, uid, a.FMD5())
		}
	}
}

func localMissingKey(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "missing-key")
	gone := addCommit(t, ctx, f, 1, 0, 0, Messages()[0].Body)
	if err := f.Delete(ctx, gone); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, key := range []string{gone, "never-existed"} {
		if err := f.SetFlags(ctx, key, model.Seen); !errors.Is(err, adapters.ErrNoMessage) {
			t.Errorf("SetFlags(%q) of a missing key: %v; want an error wrapping adapters.ErrNoMessage", key, err)
		}
		if err := f.SetUID(ctx, key, 9); !errors.Is(err, adapters.ErrNoMessage) {
			t.Errorf("SetUID(%q) of a missing key: %v; want an error wrapping adapters.ErrNoMessage", key, err)
		}
		r, _, _, err := f.OpenForUpload(ctx, key)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, adapters.ErrNoMessage) {
			t.Errorf("OpenForUpload(%q) of a missing key: %v; want an error wrapping adapters.ErrNoMessage", key, err)
		}
	}
	if got := scanMap(t, ctx, f); len(got) != 0 {
		t.Errorf("calls on missing keys created messages: %v", got)
	}
}

func localDelete(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "delete")
	k1 := addCommit(t, ctx, f, 1, 0, 0, NewMessage("delete-1", "x").Body)
	k2 := addCommit(t, ctx, f, 2, model.Seen, 1, NewMessage("delete-2", "y").Body)
	for i := range 2 {
		if err := f.Delete(ctx, k1); err != nil {
			t.Fatalf("Delete(%q) (call %d): %v", k1, i+1, err)
		}
	}
	if err := f.Delete(ctx, "never-existed"); err != nil {
		t.Errorf("Delete of a key that never existed: %v", err)
	}
	if err := f.Flush(ctx); err != nil {
		t.Errorf("Flush: %v", err)
	}
	got := scanMap(t, ctx, f)
	if _, ok := got[k1]; ok || len(got) != 1 || got[k2].UID != 2 || got[k2].Flags != model.Seen {
		t.Errorf("after Delete(%q): Scan = %v, want only %q with UID 2 flags S", k1, got, k2)
	}
}

func localLineEndRule(t *testing.T, ctx context.Context, s adapters.Local) {
	f := createOpen(t, ctx, s, "line-ends")
	hdr := "Subject: line ends\r\nMessage-ID: <line-ends@mailtrail.test>\r\n"
	bodies := []struct {
		name string
		body string
	}{
		{"CRLF", hdr + "\r\na\r\nb\r\n"},
		{"bare LF", "Subject: bare LF\n\na\nb\n"},
		{"mixed", hdr + "\r\na\r\nb\nc\r\n\n"},
		{"CR CR LF", hdr + "\r\nx\r\r\ny\r\r\n"},
		{"bare CR", hdr + "\r\n\rx\ry\r"},
		{"LF first", "\nSubject: odd\r\n\r\nz"},
		{"LF CR", hdr + "\r\na\n\rb\r\n"},
		{"only line ends", "\r\n\n\r\r\n\r"},
	}
	for i, c := range bodies {
		t.Run(c.name, func(t *testing.T) {
			key := addCommit(t, ctx, f, uint32(i+1), 0, i, []byte(c.body))
			stored := StoredForm([]byte(c.body))
			if m := scanOne(t, ctx, f, key); m.Size != 0 && m.Size != int64(len(stored)) {
				t.Errorf("written %q: Scan size %d, want %d (stored form %q) or 0 (not measured)", c.body, m.Size, len(stored), stored)
			}
			got, _ := readUpload(t, ctx, f, key)
			if d := diffBytes(got, UploadForm(stored)); d != "" {
				t.Errorf("written %q: OpenForUpload: %s", c.body, d)
			}
		})
	}
}

func localTwoHandles(t *testing.T, ctx context.Context, s adapters.Local) {
	a := createOpen(t, ctx, s, "two-handles")
	b, err := s.OpenFolder(ctx, "two-handles")
	if err != nil {
		t.Fatalf("OpenFolder again: %v", err)
	}
	key := addCommit(t, ctx, a, 5, 0, 0, Messages()[0].Body)
	if err := b.SetFlags(ctx, key, model.Seen); err != nil {
		t.Fatalf("SetFlags through the second handle: %v", err)
	}
	if m := scanOne(t, ctx, a, key); m.Flags != model.Seen || m.UID != 5 {
		t.Errorf("the first handle sees %+v, want UID 5 flags S", m)
	}
	c, err := s.OpenFolder(ctx, "two-handles")
	if err != nil {
		t.Fatalf("OpenFolder a third time: %v", err)
	}
	if got := scanMap(t, ctx, c); len(got) != 1 {
		t.Errorf("a third handle sees %d messages, want 1", len(got))
	}
}

func localConcurrentFolders(t *testing.T, ctx context.Context, s adapters.Local) {
	names := []string{"concurrent-a", "concurrent-b"}
	folders := make([]adapters.LocalFolder, len(names))
	for i, n := range names {
		folders[i] = createOpen(t, ctx, s, n)
	}
	const perFolder = 5
	errs := make(chan error, len(names)*perFolder*2)
	var wg sync.WaitGroup
	for i, f := range folders {
		wg.Go(func() {
			for j := range perFolder {
				b := f.NewBatch()
				m := NewMessage(fmt.Sprintf("%s-%d", names[i], j), names[i])
				key, err := b.Add(uint32(j+1), 0, Date(j), bytesReader(m.Body))
				if err == nil {
					err = b.Commit(ctx)
				}
				if err == nil {
					err = f.SetFlags(ctx, key, model.Seen)
				}
				if err == nil {
					_, err = f.Scan(ctx)
				}
				if err != nil {
					errs <- fmt.Errorf("%s: message %d: %w", names[i], j, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, f := range folders {
		got := scanMap(t, ctx, f)
		if len(got) != perFolder {
			t.Errorf("%s: %d messages after concurrent batches, want %d", names[i], len(got), perFolder)
		}
		for _, m := range got {
			if m.Flags != model.Seen {
				t.Errorf("%s: key %q has flags %s, want S", names[i], m.Key, m.Flags)
			}
		}
	}
}
