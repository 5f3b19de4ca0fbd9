package imap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/model"
)

func TestMemServer(t *testing.T) {
	runSuite(t, memBackend(t, "memserver", nil))
}

// TestMemServerIMAP4rev1 runs against a bare IMAP4rev1 server: no UIDPLUS
// (APPEND returns 0, EXPUNGE instead of UID EXPUNGE), no LIST-STATUS (LIST
// then STATUS).
func TestMemServerIMAP4rev1(t *testing.T) {
	runSuite(t, memBackend(t, "memserver-rev1", imap.CapSet{imap.CapIMAP4rev1: {}}))
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func runSuite(t *testing.T, b *backend) {
	t.Run("ListFolders", func(t *testing.T) { testListFolders(t, b) })
	t.Run("FetchByteExact", func(t *testing.T) { testFetchByteExact(t, b) })
	t.Run("FetchCallbackError", func(t *testing.T) { testFetchCallbackError(t, b) })
	t.Run("EmptyFolder", func(t *testing.T) { testEmptyFolder(t, b) })
	t.Run("Append", func(t *testing.T) { testAppend(t, b) })
	t.Run("StoreFlagsAndExpunge", func(t *testing.T) { testStoreFlagsAndExpunge(t, b) })
	t.Run("ExamineLooksOnly", func(t *testing.T) { testExamineLooksOnly(t, b) })
	t.Run("StoreFlagsAndExpungeInManyCommands", func(t *testing.T) { testStoreAndExpungeInManyCommands(t, b) })
	t.Run("FindByIdentity", func(t *testing.T) { testFindByIdentity(t, b) })
	t.Run("CreateAndMissingFolder", func(t *testing.T) { testCreateAndMissingFolder(t, b) })
	t.Run("HierarchyDelimiter", func(t *testing.T) { testHierarchyDelimiter(t, b) })
	t.Run("SurveyOneConnection", func(t *testing.T) { testSurveyOneConnection(t, b) })
	t.Run("Warm", func(t *testing.T) { testWarm(t, b) })
	t.Run("SurveyLast", func(t *testing.T) { testSurveyLast(t, b) })
	t.Run("LoggingOutHoldsItsPlace", func(t *testing.T) { testLoggingOutHoldsItsPlace(t, b) })
	t.Run("StoreFlagChangesSurveying", func(t *testing.T) { testStoreFlagChangesSurveying(t, b) })
	t.Run("SurveyOpen", func(t *testing.T) { testSurveyOpen(t, b) })
	t.Run("StoreFlagsAndExpungeSurveying", func(t *testing.T) { testStoreFlagsAndExpungeSurveying(t, b) })
	t.Run("ExpungeCountsOnlyItsOwn", func(t *testing.T) { testExpungeCountsOnlyItsOwn(t, b) })
	t.Run("FetchListedSurveying", func(t *testing.T) { testFetchListedSurveying(t, b) })
	t.Run("AppendSurveying", func(t *testing.T) { testAppendSurveying(t, b) })
	t.Run("AppendBatchWithSurveying", func(t *testing.T) { testAppendBatchWithSurveying(t, b) })
	t.Run("SurveyBehindManyAnswers", func(t *testing.T) { testSurveyBehindManyAnswers(t, b) })
	t.Run("LinkDelay", func(t *testing.T) { testLinkDelay(t, b) })
	t.Run("ListFoldersOpening", func(t *testing.T) { testListFoldersOpening(t, b) })
	t.Run("ListFoldersSurveying", func(t *testing.T) { testListFoldersSurveying(t, b) })
	t.Run("SelectListedOneRoundTrip", func(t *testing.T) { testSelectListedOneRoundTrip(t, b) })
	t.Run("SelectListedReconnect", func(t *testing.T) { testSelectListedReconnect(t, b) })
	t.Run("OpenListingOneRoundTrip", func(t *testing.T) { testOpenListingOneRoundTrip(t, b) })
	t.Run("AppendBatchWithOneRoundTrip", func(t *testing.T) { testAppendBatchWithOneRoundTrip(t, b) })
	t.Run("ReconnectAfterBrokenConnection", func(t *testing.T) { testReconnect(t, b) })
	t.Run("ReferenceSubscribedInclude", func(t *testing.T) { testReferenceSubscribed(t, b) })
}

func findFolder(list []model.RemoteFolderStatus, name string) (model.RemoteFolderStatus, bool) {
	for _, f := range list {
		if f.Name == name {
			return f, true
		}
	}
	return model.RemoteFolderStatus{}, false
}

func testListFolders(t *testing.T, b *backend) {
	ctx := ctxT(t)
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	b.mkdir(t, b.serverName("Lists"))
	b.mkdir(t, b.serverName("Lists/Go"))
	b.mkdir(t, b.serverName("Lists/Go/Nuts"))
	b.mkdir(t, b.serverName("Café/Ünïcode ✓"))
	for i := 0; i < 3; i++ {
		b.seed(t, b.serverName("Lists/Go"), msgWithID("<list@test>", i), nil, date)
	}
	s := b.dial(t)
	list, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sort.SliceIsSorted(list, func(i, j int) bool { return list[i].Name < list[j].Name }) {
		t.Errorf("ListFolders is not sorted by name: %v", list)
	}
	for _, name := range []string{"INBOX", "Lists", "Lists/Go", "Lists/Go/Nuts", "Café/Ünïcode ✓"} {
		f, ok := findFolder(list, name)
		if !ok {
			t.Errorf("ListFolders has no %q: %+v", name, list)
			continue
		}
		if f.UIDValidity == 0 || f.UIDNext == 0 {
			t.Errorf("%q: UIDVALIDITY %d UIDNEXT %d, want both set", name, f.UIDValidity, f.UIDNext)
		}
		if (f.HighestModSeq != 0) != b.condstore {
			t.Errorf("%q: HIGHESTMODSEQ %d, server CONDSTORE %v", name, f.HighestModSeq, b.condstore)
		}
		if f.NoSelect {
			t.Errorf("%q: NoSelect set on a selectable folder", name)
		}
	}
	goFolder, _ := findFolder(list, "Lists/Go")
	if goFolder.Messages != 3 || goFolder.UIDNext != 4 {
		t.Errorf("Lists/Go: MESSAGES %d UIDNEXT %d, want 3 and 4", goFolder.Messages, goFolder.UIDNext)
	}
	for _, f := range list {
		if b.delim != '/' && bytes.ContainsRune([]byte(f.Name), b.delim) {
			t.Errorf("%q still holds the server delimiter %q", f.Name, b.delim)
		}
	}
	// The same status through SELECT.
	f, err := s.SelectFolder(ctx, "Lists/Go")
	if err != nil {
		t.Fatal(err)
	}
	st := f.Status()
	f.Close() // MaxConnections is 1: the next SELECT needs the connection
	if st.Name != "Lists/Go" || st.UIDValidity != goFolder.UIDValidity || st.UIDNext != 4 || st.Messages != 3 || st.HighestModSeq != goFolder.HighestModSeq {
		t.Errorf("SELECT status %+v, LIST-STATUS said %+v", st, goFolder)
	}
	// Non-ASCII names survive the round trip through modified UTF-7.
	u, err := s.SelectFolder(ctx, "Café/Ünïcode ✓")
	if err != nil {
		t.Fatalf("select the non-ASCII folder: %v", err)
	}
	u.Close()
}

func testFetchByteExact(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "Quirks"
	msgs := quirkyMessages()
	names := []string{"plain", "8bit", "1MB line", "no final EOL", "bare CR"}
	date := time.Date(2023, 11, 5, 8, 30, 15, 0, time.FixedZone("", 2*3600))
	want := make(map[uint32][]byte)
	wantName := make(map[uint32]string)
	var uids []uint32
	for i, name := range names {
		flags := []string{}
		if i%2 == 1 {
			flags = []string{`\Flagged`, `\Answered`}
		}
		uid := b.seed(t, b.serverName(folder), msgs[name], flags, date)
		want[uid] = msgs[name]
		wantName[uid] = name
		uids = append(uids, uid)
	}
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(names) {
		t.Fatalf("List: %d messages, want %d", len(list), len(names))
	}
	for i, m := range list {
		if i > 0 && list[i-1].UID >= m.UID {
			t.Errorf("List not in ascending UID order: %v", list)
		}
		if m.Size != int64(len(want[m.UID])) {
			t.Errorf("%s: RFC822.SIZE %d, want %d", wantName[m.UID], m.Size, len(want[m.UID]))
		}
		if !m.InternalDate.Time().Equal(date) {
			t.Errorf("%s: INTERNALDATE %v, want %v", wantName[m.UID], m.InternalDate, date)
		}
		wantFlags := model.Flags(0)
		if i%2 == 1 {
			wantFlags = model.Flagged | model.Answered
		}
		if m.Flags != wantFlags {
			t.Errorf("%s: flags %s, want %s", wantName[m.UID], m.Flags, wantFlags)
		}
	}

	// Ask in a scrambled order with a UID that does not exist: bodies come
	// ascending, byte for byte, the missing UID skipped.
	ask := []uint32{uids[3], 9999, uids[0], uids[4], uids[1], uids[2], uids[0]}
	var got []uint32
	err = f.Fetch(ctx, ask, func(m model.RemoteMsg, body io.Reader) error {
		data, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if !bytes.Equal(data, want[m.UID]) {
			t.Errorf("%s (UID %d): fetched %d bytes differ from the %d stored", wantName[m.UID], m.UID, len(data), len(want[m.UID]))
		}
		if m.Size != int64(len(data)) || !m.InternalDate.Time().Equal(date) {
			t.Errorf("%s: fn got size %d date %v, want %d %v", wantName[m.UID], m.Size, m.InternalDate, len(data), date)
		}
		got = append(got, m.UID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(uids) || !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
		t.Errorf("Fetch delivered %v, want each of %v once, ascending", got, uids)
	}
	// Fetching did not set \Seen.
	after, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range after {
		if m.Flags&model.Seen != 0 {
			t.Errorf("%s: \\Seen set by fetching", wantName[m.UID])
		}
	}
}

func testFetchCallbackError(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "CallbackError"
	var uids []uint32
	big := quirkyMessages()["1MB line"]
	for i := 0; i < 4; i++ {
		uids = append(uids, b.seed(t, b.serverName(folder), big, nil, time.Time{}))
	}
	s := b.dial(t)
	f, err := s.Select(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boom := errors.New("disk full")
	calls := 0
	err = f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		calls++
		var small [10]byte
		_, _ = io.ReadFull(body, small[:]) // read a little, leave the rest
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Fetch error %v, want the callback's", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times after failing, want 1", calls)
	}
	conn := f.conn
	// The literals were drained: the same connection still answers.
	list, err := f.List(ctx)
	if err != nil || len(list) != 4 {
		t.Fatalf("List after a failed Fetch: %d messages, %v", len(list), err)
	}
	if f.conn != conn || conn.broken != nil {
		t.Errorf("the connection was replaced or broken (%v): the failed Fetch should have drained it", conn.broken)
	}
}

func testEmptyFolder(t *testing.T, b *backend) {
	ctx := ctxT(t)
	b.mkdir(t, b.serverName("Empty"))
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, "Empty")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st := f.Status(); st.Messages != 0 {
		t.Errorf("status %+v", st)
	}
	list, err := f.List(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("List of an empty folder: %v, %v", list, err)
	}
	ids, err := f.FindByIdentity(ctx, 1, 100, "<x@y>")
	if err != nil || len(ids) != 0 {
		t.Errorf("FindByIdentity in an empty folder: %v, %v", ids, err)
	}
	if err := f.Fetch(ctx, []uint32{1, 2}, func(model.RemoteMsg, io.Reader) error {
		t.Error("fn called for an empty folder")
		return nil
	}); err != nil {
		t.Errorf("Fetch in an empty folder: %v", err)
	}
	if err := f.StoreFlags(ctx, []uint32{5}, model.Seen, 0); err != nil {
		t.Errorf("StoreFlags on a missing UID: %v", err)
	}
	if err := f.Expunge(ctx, []uint32{5}); err != nil {
		t.Errorf("Expunge of a missing UID: %v", err)
	}
}

func testAppend(t *testing.T, b *backend) {
	ctx := ctxT(t)
	b.mkdir(t, b.serverName("Appended"))
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, "Appended")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	date := time.Date(2022, 7, 14, 23, 59, 58, 0, time.UTC)
	var appended []uint32
	for name, body := range quirkyMessages() {
		uid, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), model.Seen|model.Flagged, date)
		if err != nil {
			t.Fatalf("Append %s: %v", name, err)
		}
		if b.uidplus && uid == 0 {
			t.Errorf("Append %s: UID 0 from a UIDPLUS server", name)
		}
		// Without UIDPLUS a server may still send APPENDUID (imapmemserver
		// does): then it must be right, which the List below checks.
		appended = append(appended, uid)
	}
	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(quirkyMessages()) {
		t.Fatalf("List after Append: %d messages", len(list))
	}
	for i, m := range list {
		if appended[i] != 0 && m.UID != appended[i] {
			t.Errorf("List UID %d, Append said %d", m.UID, appended[i])
		}
		if m.Flags != model.Seen|model.Flagged || !m.InternalDate.Time().Equal(date) {
			t.Errorf("UID %d: flags %s date %v, want FS %v", m.UID, m.Flags, m.InternalDate, date)
		}
	}
	// Bodies come back byte for byte.
	stored := make(map[string]bool)
	for _, body := range quirkyMessages() {
		stored[string(body)] = true
	}
	var uids []uint32
	for _, m := range list {
		uids = append(uids, m.UID)
	}
	n := 0
	if err := f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		data, _ := io.ReadAll(body)
		if !stored[string(data)] {
			t.Errorf("UID %d: fetched body (%d bytes) is none of the appended ones", m.UID, len(data))
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(uids) {
		t.Errorf("fetched %d of %d", n, len(uids))
	}

	// A body shorter than its size fails and does not leave a message.
	_, err = f.Append(ctx, 100, bytes.NewReader([]byte("Subject: short\r\n\r\n")), 0, time.Time{})
	if err == nil {
		t.Error("Append of a short body succeeded")
	}
	// A longer one too.
	_, err = f.Append(ctx, 5, bytes.NewReader([]byte("Subject: long\r\n\r\n")), 0, time.Time{})
	if err == nil {
		t.Error("Append of a body longer than its size succeeded")
	}
	// The folder still works (reconnecting when needed) and holds no
	// partial message.
	list2, err := f.List(ctx)
	if err != nil {
		t.Fatalf("List after failed appends: %v", err)
	}
	if len(list2) != len(list) {
		t.Errorf("failed appends left %d messages, want %d", len(list2), len(list))
	}
}

// Sets of UIDs too long for one command are sent as several, pipelined:
// the server may answer them interleaved (Dovecot runs such commands in
// parallel), and with CONDSTORE every silent store is answered with a
// FETCH of each message's new MODSEQ. This deadlocked go-imap's reader
// when the commands were waited for one by one.
func testStoreAndExpungeInManyCommands(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "ManyRanges"
	const n = 2*maxRangesPerCommand + 10
	var uids []uint32
	for i := 0; i < n; i++ {
		uids = append(uids, b.seed(t, b.serverName(folder), msgWithID("<many@test>", i%7), nil, time.Time{}))
	}
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var odd, even []uint32 // every other message: one range each
	for i, u := range uids {
		if i%2 == 1 {
			odd = append(odd, u)
		} else {
			even = append(even, u)
		}
	}
	done := make(chan error, 1)
	go func() {
		err := f.(adapters.FlagBatcher).StoreFlagChanges(ctx, []adapters.FlagChange{
			{UIDs: odd, Add: model.Seen | model.Flagged},
			{UIDs: even, Add: model.Answered},
			{UIDs: odd, Remove: model.Flagged},
		})
		if err == nil {
			err = f.Expunge(ctx, even)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		// Closing the folder would wait on the stuck connection too: end
		// the test binary now, with every goroutine's stack.
		panic(fmt.Sprintf("%s: storing flags and expunging in several pipelined commands did not end in 20 s", t.Name()))
	}
	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(odd) {
		t.Fatalf("%d messages left, want the %d odd ones", len(list), len(odd))
	}
	for i, m := range list {
		if m.UID != odd[i] || m.Flags != model.Seen {
			t.Fatalf("message %d: UID %d flags %s, want UID %d flags %s", i, m.UID, m.Flags, odd[i], model.Seen)
		}
	}
}

func testStoreFlagsAndExpunge(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "Flags"
	var uids []uint32
	for i := 0; i < 6; i++ {
		uids = append(uids, b.seed(t, b.serverName(folder), msgWithID("<flags@test>", i), []string{`\Seen`}, time.Time{}))
	}
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Add Flagged+Answered to 1,2,3 (plus a missing UID), remove Seen from 3,4.
	if err := f.StoreFlags(ctx, []uint32{uids[1], uids[2], uids[3], 7777}, model.Flagged|model.Answered, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.StoreFlags(ctx, []uint32{uids[3], uids[4]}, 0, model.Seen); err != nil {
		t.Fatal(err)
	}
	// Idempotent: again is fine.
	if err := f.StoreFlags(ctx, []uint32{uids[3], uids[4]}, 0, model.Seen); err != nil {
		t.Fatal(err)
	}
	if err := f.StoreFlags(ctx, []uint32{uids[0]}, model.Seen, model.Seen); err == nil {
		t.Error("StoreFlags adding and removing the same flag succeeded")
	}
	// Several changes in one round trip, a refused one sending nothing.
	fb := f.(adapters.FlagBatcher)
	if err := fb.StoreFlagChanges(ctx, []adapters.FlagChange{
		{UIDs: []uint32{uids[5]}, Add: model.Answered}, // must not be sent
		{UIDs: []uint32{uids[0]}, Add: model.Seen, Remove: model.Seen},
	}); err == nil {
		t.Error("StoreFlagChanges with a change adding and removing the same flag succeeded")
	}
	if err := fb.StoreFlagChanges(ctx, []adapters.FlagChange{
		{UIDs: []uint32{uids[5], 7777}, Add: model.Draft | model.Flagged},
		{UIDs: []uint32{uids[5]}, Remove: model.Draft},
		{UIDs: nil, Add: model.Seen},
	}); err != nil {
		t.Fatal(err)
	}
	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Flags{model.Seen, model.Seen | model.Flagged | model.Answered, model.Seen | model.Flagged | model.Answered, model.Flagged | model.Answered, 0, model.Seen | model.Flagged}
	for i, m := range list {
		if m.Flags != want[i] {
			t.Errorf("UID %d: flags %s, want %s", m.UID, m.Flags, want[i])
		}
	}
	// Expunge 0 and 2 (and a missing UID); the rest stay.
	if err := f.Expunge(ctx, []uint32{uids[0], uids[2], 8888}); err != nil {
		t.Fatal(err)
	}
	if err := f.Expunge(ctx, []uint32{uids[0]}); err != nil {
		t.Fatalf("Expunge of an already expunged UID: %v", err)
	}
	list, err = f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var left []uint32
	for _, m := range list {
		left = append(left, m.UID)
		if m.Flags&model.Deleted != 0 {
			t.Errorf("UID %d kept \\Deleted", m.UID)
		}
	}
	wantLeft := []uint32{uids[1], uids[3], uids[4], uids[5]}
	if len(left) != len(wantLeft) {
		t.Fatalf("after Expunge: %v, want %v", left, wantLeft)
	}
	for i := range left {
		if left[i] != wantLeft[i] {
			t.Fatalf("after Expunge: %v, want %v", left, wantLeft)
		}
	}
}

func testFindByIdentity(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "Identity"
	a := msgWithID("<abc@x>", 10)
	a2 := msgWithID("<abc@x.y>", 6) // same size, and "<abc@x" is a substring
	c := msgWithID("<abc@x>", 11)   // same id, other size
	if len(a) != len(a2) {
		t.Fatalf("test messages: sizes %d and %d should be equal", len(a), len(a2))
	}
	u1 := b.seed(t, b.serverName(folder), a, nil, time.Time{})
	u2 := b.seed(t, b.serverName(folder), a2, nil, time.Time{})
	u3 := b.seed(t, b.serverName(folder), c, nil, time.Time{})
	u4 := b.seed(t, b.serverName(folder), a, nil, time.Time{})
	s := b.dial(t)
	f, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	check := func(min uint32, size int64, id string, want ...uint32) {
		t.Helper()
		got, err := f.FindByIdentity(ctx, min, size, id)
		if err != nil {
			t.Fatalf("FindByIdentity(%d, %d, %q): %v", min, size, id, err)
		}
		if len(got) != len(want) {
			t.Fatalf("FindByIdentity(%d, %d, %q) = %v, want %v", min, size, id, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("FindByIdentity(%d, %d, %q) = %v, want %v", min, size, id, got, want)
			}
		}
	}
	check(1, int64(len(a)), "<abc@x>", u1, u4)
	check(u2, int64(len(a)), "<abc@x>", u4)
	check(1, int64(len(a)), "", u1, u2, u4)
	check(1, int64(len(c)), "<abc@x>", u3)
	check(1, int64(len(a)), "<abc@x.y>", u2)
	check(u4+1, int64(len(a)), "<abc@x>") // beyond the last UID: nothing
	check(1, 3, "<abc@x>")
}

func testCreateAndMissingFolder(t *testing.T, b *backend) {
	ctx := ctxT(t)
	s := b.dial(t)
	for _, name := range []string{"Created", "Created/Child", "Created/Child"} {
		if err := s.CreateFolder(ctx, name); err != nil {
			t.Fatalf("CreateFolder(%q): %v", name, err)
		}
	}
	list, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findFolder(list, "Created/Child"); !ok {
		t.Errorf("created folder not listed: %v", list)
	}
	f, err := s.SelectFolder(ctx, "Created/Child")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = s.SelectFolder(ctx, "No/Such/Folder")
	if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("SelectFolder of a missing folder: %v, want ErrNoFolder", err)
	}
	if b.delim != '/' {
		if err := s.CreateFolder(ctx, "bad"+string(b.delim)+"name"); err == nil {
			t.Errorf("CreateFolder of a name holding the delimiter %q succeeded", b.delim)
		}
	}
}

// testReconnect breaks the folder's TCP connection under it: the next
// operation fails, the one after reconnects and selects again.
func testReconnect(t *testing.T, b *backend) {
	ctx := ctxT(t)
	b.seed(t, b.serverName("Reconnect"), msgWithID("<r@test>", 1), nil, time.Time{})
	s := b.dial(t)
	f, err := s.Select(ctx, "Reconnect")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.conn.raw.Close()
	if _, err := f.List(ctx); err == nil {
		t.Fatal("List on a closed connection succeeded")
	}
	list, err := f.List(ctx)
	if err != nil {
		t.Fatalf("List after reconnecting: %v", err)
	}
	if len(list) != 1 {
		t.Errorf("List after reconnecting: %v", list)
	}
}

// testExamineLooksOnly: a folder opened with ExamineFolder has SELECT's
// status and listings (and the changes since a modification sequence,
// with CONDSTORE), and refuses, sending nothing, whatever would change the
// server; the server's folder stays as it was.
func testExamineLooksOnly(t *testing.T, b *backend) {
	ctx := ctxT(t)
	folder := "Examined"
	var uids []uint32
	for i := 0; i < 3; i++ {
		uids = append(uids, b.seed(t, b.serverName(folder), msgWithID("<examine@test>", i), []string{`\Seen`}, time.Time{}))
	}
	s := b.dial(t)
	sel, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	want := sel.Status()
	wantList, err := sel.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sel.Close()

	f, err := s.ExamineFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Status(); got != want {
		t.Errorf("EXAMINE status %+v, SELECT's %+v", got, want)
	}
	list, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(list, wantList) {
		t.Errorf("EXAMINE listing %+v, SELECT's %+v", list, wantList)
	}
	if b.condstore {
		present, changed, err := f.(adapters.ChangeLister).ListChanges(ctx, 0)
		if err != nil || len(present) != 3 || len(changed) != 3 {
			t.Errorf("ListChanges on an examined folder: %d present, %d changed, %v", len(present), len(changed), err)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "read-only (EXAMINE)") {
			t.Errorf("%s on an examined folder: %v, want a read-only refusal", what, err)
		}
	}
	refused("StoreFlags", f.StoreFlags(ctx, uids[:1], model.Flagged, 0))
	refused("Expunge", f.Expunge(ctx, uids[1:2]))
	body := msgWithID("<examine-new@test>", 9)
	_, err = f.Append(ctx, int64(len(body)), bytes.NewReader(body), 0, time.Time{})
	refused("Append", err)
	_, err = f.(adapters.BatchAppender).AppendBatch(ctx, []adapters.AppendMsg{{Size: int64(len(body)), Body: bytes.NewReader(body)}})
	refused("AppendBatch", err)
	_, _, err = f.Move(ctx, uids[2:], "INBOX")
	refused("Move", err)
	f.Close()

	again, err := s.SelectFolder(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	after, err := again.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, wantList) {
		t.Errorf("the folder changed through an examined folder: %+v, was %+v", after, wantList)
	}
}
