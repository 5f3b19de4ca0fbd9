package adaptertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"

	"mailtrail/adapters"
	"mailtrail/model"
)

// RunRemote runs the conformance suite for adapters.Remote. newStore is
// called once per subtest (see the package doc for what it may share).
func RunRemote(t *testing.T, newStore func(t *testing.T) adapters.Remote) {
	open := func(t *testing.T) (context.Context, adapters.Remote) {
		t.Helper()
		ctx := testContext(t)
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Remote.Close: %v", err)
			}
		})
		return ctx, s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, s adapters.Remote)
	}{
		{"ListFoldersHasINBOX", remoteListFoldersHasINBOX},
		{"CreateFolderNested", remoteCreateFolderNested},
		{"CreateFolderIdempotent", remoteCreateFolderIdempotent},
		{"FolderNames", remoteFolderNames},
		{"SelectMissingFolder", remoteSelectMissingFolder},
		{"EmptyFolder", remoteEmptyFolder},
		{"AppendFetchByteExact", remoteAppendFetchByteExact},
		{"AppendFlags", remoteAppendFlags},
		{"StoreFlags", remoteStoreFlags},
		{"FetchSkipsMissingSortsDedups", remoteFetchSkipsMissing},
		{"FetchListed", remoteFetchListed},
		{"SelectListed", remoteSelectListed},
		{"FetchDoesNotSetSeen", remoteFetchDoesNotSetSeen},
		{"FetchPartialRead", remoteFetchPartialRead},
		{"FetchCallbackError", remoteFetchCallbackError},
		{"Expunge", remoteExpunge},
		{"StoreFlagsAndExpunge", remoteStoreFlagsAndExpunge},
		{"AppendBatchWith", remoteAppendBatchWith},
		{"UIDsAndValidity", remoteUIDsAndValidity},
		{"HighestModSeq", remoteHighestModSeq},
		{"ListChanges", remoteListChanges},
		{"OpenWithChanges", remoteOpenWithChanges},
		{"OpenListing", remoteOpenListing},
		{"SurveyChanges", remoteSurveyChanges},
		{"FindByIdentity", remoteFindByIdentity},
		{"MessageIDs", remoteMessageIDs},
		{"Move", remoteMove},
		{"LongUIDLists", remoteLongUIDLists},
		{"ConcurrentFolders", remoteConcurrentFolders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := open(t)
			tc.fn(t, ctx, s)
		})
	}
}

// createSelect creates name and selects it; the folder is closed at the end
// of the test.
func createSelect(t *testing.T, ctx context.Context, s adapters.Remote, name string) adapters.RemoteFolder {
	t.Helper()
	if err := s.CreateFolder(ctx, name); err != nil {
		t.Fatalf("CreateFolder(%q): %v", name, err)
	}
	return selectFolder(t, ctx, s, name)
}

func selectFolder(t *testing.T, ctx context.Context, s adapters.Remote, name string) adapters.RemoteFolder {
	t.Helper()
	f, err := s.SelectFolder(ctx, name)
	if err != nil {
		t.Fatalf("SelectFolder(%q): %v", name, err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			f.Close()
		}
	})
	return closeOnce{f, &closed}
}

// closeOnce lets a test close a folder early without the cleanup closing it
// again.
type closeOnce struct {
	adapters.RemoteFolder
	closed *bool
}

func (c closeOnce) Close() error {
	if *c.closed {
		return nil
	}
	*c.closed = true
	return c.RemoteFolder.Close()
}

// appendMessage appends m and returns its UID. When Append returns 0 (no
// UIDPLUS) the UID is found with FindByIdentity: the highest UID with m's
// size and Message-ID.
func appendMessage(t *testing.T, ctx context.Context, f adapters.RemoteFolder, m Message, flags model.Flags, date int) uint32 {
	t.Helper()
	uid, err := f.Append(ctx, m.Size(), bytesReader(m.Body), flags, Date(date))
	if err != nil {
		t.Fatalf("Append(%s, flags %s): %v", m.Name, flags, err)
	}
	if uid != 0 {
		return uid
	}
	found, err := f.FindByIdentity(ctx, 1, m.Size(), m.MessageID)
	if err != nil {
		t.Fatalf("Append(%s) returned UID 0 (no UIDPLUS); FindByIdentity(1, %d, %q): %v", m.Name, m.Size(), m.MessageID, err)
	}
	if len(found) == 0 {
		t.Fatalf("Append(%s) returned UID 0 (no UIDPLUS), and FindByIdentity(1, %d, %q) finds nothing", m.Name, m.Size(), m.MessageID)
	}
	return slices.Max(found)
}

func listMap(t *testing.T, ctx context.Context, f adapters.RemoteFolder) map[uint32]model.RemoteMsg {
	t.Helper()
	msgs, err := f.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := map[uint32]model.RemoteMsg{}
	for i, m := range msgs {
		if i > 0 && msgs[i-1].UID >= m.UID {
			t.Errorf("List: UIDs not strictly ascending: %d then %d", msgs[i-1].UID, m.UID)
		}
		out[m.UID] = m
	}
	return out
}

func listedFlags(t *testing.T, ctx context.Context, f adapters.RemoteFolder, uid uint32) model.Flags {
	t.Helper()
	m, ok := listMap(t, ctx, f)[uid]
	if !ok {
		t.Fatalf("List: UID %d is missing", uid)
	}
	return m.Flags
}

type fetched struct {
	msg  model.RemoteMsg
	body []byte
}

// fetchAll fetches uids and returns what fn saw, in call order.
func fetchAll(t *testing.T, ctx context.Context, f adapters.RemoteFolder, uids []uint32) []fetched {
	t.Helper()
	var out []fetched
	err := f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return fmt.Errorf("reading body of UID %d: %w", m.UID, err)
		}
		out = append(out, fetched{m, b})
		return nil
	})
	if err != nil {
		t.Fatalf("Fetch(%v): %v", uids, err)
	}
	return out
}

func fetchedUIDs(fs []fetched) []uint32 {
	var out []uint32
	for _, f := range fs {
		out = append(out, f.msg.UID)
	}
	return out
}

// folderStatus returns name's entry in ListFolders.
func folderStatus(t *testing.T, ctx context.Context, s adapters.Remote, name string) model.RemoteFolderStatus {
	t.Helper()
	all, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	for _, st := range all {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("ListFolders: %q is not listed (got %v)", name, folderNames(all))
	return model.RemoteFolderStatus{}
}

func folderNames(all []model.RemoteFolderStatus) []string {
	var out []string
	for _, st := range all {
		out = append(out, st.Name)
	}
	return out
}

func remoteListFoldersHasINBOX(t *testing.T, ctx context.Context, s adapters.Remote) {
	st := folderStatus(t, ctx, s, "INBOX")
	if st.NoSelect {
		t.Errorf("INBOX is listed as \\Noselect")
	}
	if st.UIDValidity == 0 {
		t.Errorf("INBOX: UIDVALIDITY 0 in ListFolders")
	}
	f := selectFolder(t, ctx, s, "INBOX")
	if got := f.Status().Name; got != "INBOX" {
		t.Errorf("SelectFolder(INBOX).Status().Name = %q", got)
	}
}

func remoteCreateFolderNested(t *testing.T, ctx context.Context, s adapters.Remote) {
	const leaf = "cf-nested/a/b"
	for i := 0; i < 2; i++ { // the second time, everything exists already
		if err := s.CreateFolder(ctx, leaf); err != nil {
			t.Fatalf("CreateFolder(%q) (call %d): %v", leaf, i+1, err)
		}
	}
	all, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	for _, name := range []string{"cf-nested", "cf-nested/a", leaf} {
		i := slices.IndexFunc(all, func(st model.RemoteFolderStatus) bool { return st.Name == name })
		if i < 0 {
			t.Errorf("ListFolders after CreateFolder(%q): %q is missing (CreateFolder must create each missing parent, as OfflineIMAP does); got %q", leaf, name, folderNames(all))
			continue
		}
		if all[i].NoSelect {
			t.Errorf("ListFolders: %q is \\Noselect; CreateFolder must create parents as real folders", name)
		}
		f := selectFolder(t, ctx, s, name)
		if got := f.Status().Name; got != name {
			t.Errorf("SelectFolder(%q).Status().Name = %q", name, got)
		}
		f.Close()
	}
	seen := map[string]bool{}
	for _, st := range all {
		if seen[st.Name] {
			t.Errorf("ListFolders lists %q twice", st.Name)
		}
		seen[st.Name] = true
	}
	for _, name := range []string{"cf-nested", "cf-nested/a"} {
		if err := s.CreateFolder(ctx, name); err != nil {
			t.Errorf("CreateFolder(%q) of an existing parent: %v", name, err)
		}
	}
}

func remoteCreateFolderIdempotent(t *testing.T, ctx context.Context, s adapters.Remote) {
	const name = "cf-idempotent"
	f := createSelect(t, ctx, s, name)
	st := f.Status()
	m := NewMessage("cf-idempotent-1", "kept")
	uid := appendMessage(t, ctx, f, m, model.Seen, 0)
	f.Close()
	if err := s.CreateFolder(ctx, name); err != nil {
		t.Fatalf("CreateFolder of an existing folder: %v", err)
	}
	f = selectFolder(t, ctx, s, name)
	if f.Status().UIDValidity != st.UIDValidity {
		t.Errorf("UIDVALIDITY changed from %d to %d by CreateFolder of an existing folder", st.UIDValidity, f.Status().UIDValidity)
	}
	if got, ok := listMap(t, ctx, f)[uid]; !ok || got.Flags != model.Seen {
		t.Errorf("after a second CreateFolder, UID %d is %+v (present %v), want it kept with flags S", uid, got, ok)
	}
}

func remoteFolderNames(t *testing.T, ctx context.Context, s adapters.Remote) {
	names := []string{"Sent Items", "Entwürfe", "R&D", "Archiv/2024 Q1"}
	for i, name := range names {
		f := createSelect(t, ctx, s, name)
		if got := f.Status().Name; got != name {
			t.Errorf("SelectFolder(%q).Status().Name = %q", name, got)
		}
		m := NewMessage(fmt.Sprintf("folder-names-%d", i), name)
		uid := appendMessage(t, ctx, f, m, 0, i)
		got := fetchAll(t, ctx, f, []uint32{uid})
		if len(got) != 1 {
			t.Errorf("folder %q: Fetch of the appended UID %d gave %d messages", name, uid, len(got))
		} else if d := diffBytes(got[0].body, m.Body); d != "" {
			t.Errorf("folder %q: Fetch: %s", name, d)
		}
		f.Close()
	}
	all, err := s.ListFolders(ctx)
	if err != nil {
		t.Fatalf("ListFolders: %v", err)
	}
	if missing := missingFrom(folderNames(all), names...); len(missing) > 0 {
		t.Errorf("ListFolders: missing %q; got %q", missing, folderNames(all))
	}
}

func remoteSelectMissingFolder(t *testing.T, ctx context.Context, s adapters.Remote) {
	f, err := s.SelectFolder(ctx, "no-such-folder/really")
	if err == nil {
		f.Close()
		t.Fatalf("SelectFolder of a missing folder succeeded")
	}
	if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("SelectFolder of a missing folder: %v; want an error wrapping adapters.ErrNoFolder", err)
	}
}

func remoteEmptyFolder(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "empty")
	st := f.Status()
	if st.Name != "empty" || st.UIDValidity == 0 || st.Messages != 0 || st.UIDNext == 0 || st.NoSelect {
		t.Errorf("Status of a new folder = %+v; want Name empty, UIDValidity > 0, Messages 0, UIDNext > 0", st)
	}
	msgs, err := f.List(ctx)
	if err != nil || len(msgs) != 0 {
		t.Errorf("List of an empty folder = %v, %v; want nothing", msgs, err)
	}
	if got := fetchAll(t, ctx, f, []uint32{1, 2, 3}); len(got) != 0 {
		t.Errorf("Fetch in an empty folder called fn for %v", fetchedUIDs(got))
	}
	if got := fetchAll(t, ctx, f, nil); len(got) != 0 {
		t.Errorf("Fetch(nil) called fn for %v", fetchedUIDs(got))
	}
}

func remoteAppendFetchByteExact(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "byte-exact")
	msgs := Messages()
	uids := make([]uint32, len(msgs))
	for i, m := range msgs {
		uids[i] = appendMessage(t, ctx, f, m, 0, i)
	}
	listed := listMap(t, ctx, f)
	got := fetchAll(t, ctx, f, uids)
	byUID := map[uint32]fetched{}
	for _, g := range got {
		byUID[g.msg.UID] = g
	}
	for i, m := range msgs {
		t.Run(m.Name, func(t *testing.T) {
			l, ok := listed[uids[i]]
			if !ok {
				t.Fatalf("List: UID %d is missing", uids[i])
			}
			if l.Size != m.Size() {
				t.Errorf("List: size %d, want %d", l.Size, m.Size())
			}
			if !sameInstant(l.InternalDate.Time(), Date(i)) {
				t.Errorf("List: internal date %v, want %v", l.InternalDate.Time(), Date(i))
			}
			if l.Flags != 0 {
				t.Errorf("List: flags %s, want none", l.Flags)
			}
			g, ok := byUID[uids[i]]
			if !ok {
				t.Fatalf("Fetch: UID %d not delivered", uids[i])
			}
			if d := diffBytes(g.body, m.Body); d != "" {
				t.Errorf("Fetch: body differs: %s", d)
			}
			if g.msg.Size != int64(len(g.body)) {
				t.Errorf("Fetch: fn got size %d for a body of %d bytes", g.msg.Size, len(g.body))
			}
		})
	}
}

func remoteAppendFlags(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "append-flags")
	cases := append(slices.Clone(eachFlag), namedFlags{"all", model.AllFlags}, namedFlags{"none", 0})
	uids := map[uint32]model.Flags{}
	for i, c := range cases {
		uid := appendMessage(t, ctx, f, NewMessage("append-flags-"+c.name, c.name), c.flag, i)
		uids[uid] = c.flag
	}
	listed := listMap(t, ctx, f)
	for uid, want := range uids {
		if got := listed[uid].Flags; got != want {
			t.Errorf("List: UID %d appended with flags %s has %s", uid, want, got)
		}
	}
	for _, g := range fetchAll(t, ctx, f, slices.Collect(maps.Keys(uids))) {
		if g.msg.Flags != uids[g.msg.UID] {
			t.Errorf("Fetch: fn got flags %s for UID %d appended with %s", g.msg.Flags, g.msg.UID, uids[g.msg.UID])
		}
	}
}

func remoteStoreFlags(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "store-flags")
	uid := appendMessage(t, ctx, f, NewMessage("store-flags-1", "target"), 0, 0)
	other := appendMessage(t, ctx, f, NewMessage("store-flags-2", "bystander"), model.Answered, 1)
	var want model.Flags
	for _, c := range eachFlag {
		want |= c.flag
		for range 2 { // the second add is a no-op and must succeed
			if err := f.StoreFlags(ctx, []uint32{uid}, c.flag, 0); err != nil {
				t.Fatalf("StoreFlags(+%s): %v", c.name, err)
			}
			if got := listedFlags(t, ctx, f, uid); got != want {
				t.Errorf("after +%s: flags %s, want %s", c.name, got, want)
			}
		}
	}
	for _, c := range eachFlag {
		want &^= c.flag
		for range 2 {
			if err := f.StoreFlags(ctx, []uint32{uid}, 0, c.flag); err != nil {
				t.Fatalf("StoreFlags(-%s): %v", c.name, err)
			}
			if got := listedFlags(t, ctx, f, uid); got != want {
				t.Errorf("after -%s: flags %s, want %s", c.name, got, want)
			}
		}
	}
	// Add and remove in one call.
	if err := f.StoreFlags(ctx, []uint32{uid}, model.Answered, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.StoreFlags(ctx, []uint32{uid}, model.Seen|model.Flagged, model.Answered); err != nil {
		t.Fatalf("StoreFlags(+SF -R): %v", err)
	}
	if got := listedFlags(t, ctx, f, uid); got != model.Seen|model.Flagged {
		t.Errorf("after +SF -R: flags %s, want FS", got)
	}
	// A missing UID among existing ones is ignored; alone it is no error.
	if err := f.StoreFlags(ctx, []uint32{uid, 999999}, model.Draft, 0); err != nil {
		t.Fatalf("StoreFlags on an existing and a missing UID: %v", err)
	}
	if got := listedFlags(t, ctx, f, uid); got != model.Seen|model.Flagged|model.Draft {
		t.Errorf("after +D on [uid, missing]: flags %s, want DFS", got)
	}
	if err := f.StoreFlags(ctx, []uint32{999999}, model.Seen, model.Draft); err != nil {
		t.Errorf("StoreFlags on a missing UID: %v", err)
	}
	if err := f.StoreFlags(ctx, nil, model.Seen, 0); err != nil {
		t.Errorf("StoreFlags(nil): %v", err)
	}
	if got := listedFlags(t, ctx, f, other); got != model.Answered {
		t.Errorf("a message not named in StoreFlags changed: flags %s, want R", got)
	}
}

func remoteFetchSkipsMissing(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "fetch-missing")
	var uids []uint32
	var bodies = map[uint32][]byte{}
	for i := range 4 {
		m := NewMessage(fmt.Sprintf("fetch-missing-%d", i), fmt.Sprintf("message %d", i))
		u := appendMessage(t, ctx, f, m, 0, i)
		uids = append(uids, u)
		bodies[u] = m.Body
	}
	if err := f.Expunge(ctx, []uint32{uids[1]}); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	ask := []uint32{uids[3], 999999, uids[1], uids[0], uids[3], uids[2]}
	got := fetchAll(t, ctx, f, ask)
	want := []uint32{uids[0], uids[2], uids[3]}
	if !slices.Equal(fetchedUIDs(got), want) {
		t.Errorf("Fetch(%v) (UID %d expunged, 999999 never existed) called fn for %v, want %v", ask, uids[1], fetchedUIDs(got), want)
	}
	for _, g := range got {
		if d := diffBytes(g.body, bodies[g.msg.UID]); d != "" {
			t.Errorf("Fetch: UID %d: %s", g.msg.UID, d)
		}
	}
}

// remoteFetchListed: bodies of listed messages, each handed on as listed
// with the body's size, a message expunged since its listing skipped, the
// flags left alone (adapters.ListedFetcher).
func remoteFetchListed(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "fetch-listed")
	lf, ok := f.(closeOnce).RemoteFolder.(adapters.ListedFetcher)
	if !ok {
		t.Skip("the folder cannot fetch listed messages (no adapters.ListedFetcher)")
	}
	bodies, listed := threeListed(t, ctx, f, "fetch-listed")
	if err := f.Expunge(ctx, []uint32{listed[1].UID}); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	var got []fetched
	err := lf.FetchListed(ctx, listed, func(m model.RemoteMsg, body io.Reader) error {
		b, err := io.ReadAll(body)
		got = append(got, fetched{m, b})
		return err
	})
	if err != nil {
		t.Fatalf("FetchListed: %v", err)
	}
	if want := []uint32{listed[0].UID, listed[2].UID}; !slices.Equal(fetchedUIDs(got), want) {
		t.Fatalf("FetchListed (UID %d expunged since the listing) called fn for %v, want %v", listed[1].UID, fetchedUIDs(got), want)
	}
	for i, g := range got {
		want := listed[2*i]
		if d := diffBytes(g.body, bodies[g.msg.UID]); d != "" {
			t.Errorf("UID %d: %s", g.msg.UID, d)
		}
		if g.msg.Size != int64(len(g.body)) || g.msg.Flags != want.Flags || g.msg.InternalDate != want.InternalDate {
			t.Errorf("UID %d handed on as %+v, want the listing's %+v with the body's size %d", g.msg.UID, g.msg, want, len(g.body))
		}
	}
	if got := listedFlags(t, ctx, f, listed[0].UID); got != model.Flagged {
		t.Errorf("after FetchListed: flags %s, want F (no \\Seen)", got)
	}
}

// threeListed appends three \Flagged messages named prefix-0.. to f and
// returns their bodies by UID and f's listing of them.
func threeListed(t *testing.T, ctx context.Context, f adapters.RemoteFolder, prefix string) (map[uint32][]byte, []model.RemoteMsg) {
	t.Helper()
	bodies := map[uint32][]byte{}
	for i := range 3 {
		m := NewMessage(fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("listed %d", i))
		bodies[appendMessage(t, ctx, f, m, model.Flagged, i)] = m.Body
	}
	listed, err := f.List(ctx)
	if err != nil || len(listed) != 3 {
		t.Fatalf("List: %v, %v", listed, err)
	}
	return bodies, listed
}

// remoteSelectListed checks adapters.ListedSelector: a folder opened with
// the status it was listed with downloads and changes as a selected one
// does, its status then the server's; one opened with another UIDVALIDITY
// than the server's refuses every command and changes nothing, whichever
// command comes first; a missing folder fails with ErrNoFolder.
func remoteSelectListed(t *testing.T, ctx context.Context, s adapters.Remote) {
	ls, ok := s.(adapters.ListedSelector)
	if !ok {
		t.Skip("the store cannot select a folder as listed (no adapters.ListedSelector)")
	}
	const name = "select-listed"
	f := createSelect(t, ctx, s, name)
	bodies, listed := threeListed(t, ctx, f, "select-listed")
	f.Close()
	status := folderStatus(t, ctx, s, name)
	open := func(st model.RemoteFolderStatus) adapters.RemoteFolder {
		t.Helper()
		lf, err := ls.SelectListed(ctx, name, st)
		if err != nil {
			t.Fatalf("SelectListed(%q): %v", name, err)
		}
		t.Cleanup(func() { lf.Close() })
		return lf
	}
	fetchListed := func(lf adapters.RemoteFolder) ([]fetched, error) {
		var got []fetched
		err := lf.(adapters.ListedFetcher).FetchListed(ctx, listed, func(m model.RemoteMsg, body io.Reader) error {
			b, err := io.ReadAll(body)
			got = append(got, fetched{m, b})
			return err
		})
		return got, err
	}

	// As listed: the download comes, then a change; the status is the
	// server's from the first command on.
	claimed := status
	claimed.Messages = 99
	lf := open(claimed)
	if got := lf.Status(); got.UIDValidity != status.UIDValidity || got.Messages != 99 {
		t.Errorf("Status before any command = %+v, want the listed %+v", got, claimed)
	}
	got, err := fetchListed(lf)
	if err != nil {
		t.Fatalf("FetchListed on a folder opened as listed: %v", err)
	}
	if want := []uint32{listed[0].UID, listed[1].UID, listed[2].UID}; !slices.Equal(fetchedUIDs(got), want) {
		t.Fatalf("FetchListed called fn for %v, want %v", fetchedUIDs(got), want)
	}
	for _, g := range got {
		if d := diffBytes(g.body, bodies[g.msg.UID]); d != "" {
			t.Errorf("UID %d: %s", g.msg.UID, d)
		}
	}
	if got := lf.Status(); got.UIDValidity != status.UIDValidity || got.Messages != 3 {
		t.Errorf("Status after the first command = %+v, want the server's (3 messages, UIDVALIDITY %d)", got, status.UIDValidity)
	}
	if err := lf.StoreFlags(ctx, []uint32{listed[0].UID}, model.Seen, 0); err != nil {
		t.Fatalf("StoreFlags on a folder opened as listed: %v", err)
	}
	lf.Close()

	// Another UIDVALIDITY: refused, whether a read or a change comes
	// first, and nothing changes.
	stale := status
	stale.UIDValidity++
	lf = open(stale)
	got, err = fetchListed(lf)
	if !errors.Is(err, adapters.ErrValidityChanged) {
		t.Errorf("FetchListed with UIDVALIDITY %d listed, %d on the server: error %v, want one wrapping ErrValidityChanged", stale.UIDValidity, status.UIDValidity, err)
	}
	if len(got) > 0 {
		t.Errorf("FetchListed with another UIDVALIDITY handed on UIDs %v; want none (they may mean other messages)", fetchedUIDs(got))
	}
	if err := lf.StoreFlags(ctx, []uint32{listed[1].UID}, model.Seen, 0); !errors.Is(err, adapters.ErrValidityChanged) {
		t.Errorf("StoreFlags after the refusal: error %v, want one wrapping ErrValidityChanged", err)
	}
	lf.Close()
	lf = open(stale)
	if err := lf.StoreFlags(ctx, []uint32{listed[2].UID}, model.Seen, 0); !errors.Is(err, adapters.ErrValidityChanged) {
		t.Errorf("StoreFlags as the first command with UIDVALIDITY %d listed, %d on the server: error %v, want one wrapping ErrValidityChanged", stale.UIDValidity, status.UIDValidity, err)
	}
	if err := lf.Expunge(ctx, []uint32{listed[2].UID}); !errors.Is(err, adapters.ErrValidityChanged) {
		t.Errorf("Expunge after the refusal: error %v, want one wrapping ErrValidityChanged", err)
	}
	lf.Close()
	f = selectFolder(t, ctx, s, name)
	now := listMap(t, ctx, f)
	want := map[uint32]model.Flags{listed[0].UID: model.Flagged | model.Seen, listed[1].UID: model.Flagged, listed[2].UID: model.Flagged}
	for uid, flags := range want {
		if m, ok := now[uid]; !ok || m.Flags != flags {
			t.Errorf("after the refusals UID %d: present %v, flags %s; want flags %s (only the change made as listed)", uid, ok, m.Flags, flags)
		}
	}
	f.Close()

	// A folder that does not exist.
	lf, err = ls.SelectListed(ctx, "select-listed-missing", status)
	if err == nil {
		defer lf.Close()
		err = lf.(adapters.ListedFetcher).FetchListed(ctx, listed, func(model.RemoteMsg, io.Reader) error { return nil })
	}
	if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("SelectListed of a missing folder, then FetchListed: error %v, want one wrapping ErrNoFolder", err)
	}
}

func remoteFetchDoesNotSetSeen(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "fetch-peek")
	uid := appendMessage(t, ctx, f, NewMessage("fetch-peek", "unread"), model.Flagged, 0)
	fetchAll(t, ctx, f, []uint32{uid})
	if got := listedFlags(t, ctx, f, uid); got != model.Flagged {
		t.Errorf("after Fetch: flags %s, want F (Fetch must not set \\Seen)", got)
	}
	f.Close()
	f = selectFolder(t, ctx, s, "fetch-peek")
	if got := listedFlags(t, ctx, f, uid); got != model.Flagged {
		t.Errorf("after Fetch, on a new selection: flags %s, want F", got)
	}
}

func remoteFetchPartialRead(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "fetch-partial")
	msgs := Messages()
	var uids []uint32
	bodies := map[uint32][]byte{}
	for i, m := range msgs {
		u := appendMessage(t, ctx, f, m, 0, i)
		uids = append(uids, u)
		bodies[u] = m.Body
	}
	// Read only a little of every other message; the others must still
	// arrive whole.
	var whole []uint32
	n := 0
	err := f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		n++
		if n%2 == 1 {
			buf := make([]byte, 10)
			_, err := io.ReadFull(body, buf)
			return err
		}
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if d := diffBytes(b, bodies[m.UID]); d != "" {
			t.Errorf("UID %d after partly read messages: %s", m.UID, d)
		}
		whole = append(whole, m.UID)
		return nil
	})
	if err != nil {
		t.Fatalf("Fetch with partial reads: %v", err)
	}
	if n != len(uids) {
		t.Errorf("fn called %d times, want %d", n, len(uids))
	}
	if got := listMap(t, ctx, f); len(got) != len(uids) {
		t.Errorf("List after a partial-read Fetch: %d messages, want %d", len(got), len(uids))
	}
}

func remoteFetchCallbackError(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "fetch-error")
	msgs := Messages()
	var uids []uint32
	bodies := map[uint32][]byte{}
	for i, m := range msgs {
		u := appendMessage(t, ctx, f, m, 0, i)
		uids = append(uids, u)
		bodies[u] = m.Body
	}
	stop := errors.New("adaptertest: fn stops here")
	calls := 0
	err := f.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Fetch whose fn fails: %v; want an error wrapping fn's error", err)
	}
	if calls != 1 {
		t.Errorf("fn called %d times after returning an error, want 1", calls)
	}
	// The folder must still work: the rest of the response was drained.
	if got := listMap(t, ctx, f); len(got) != len(uids) {
		t.Errorf("List after a failed Fetch: %d messages, want %d", len(got), len(uids))
	}
	got := fetchAll(t, ctx, f, uids)
	if len(got) != len(uids) {
		t.Errorf("Fetch after a failed Fetch: %d messages, want %d", len(got), len(uids))
	}
	for _, g := range got {
		if d := diffBytes(g.body, bodies[g.msg.UID]); d != "" {
			t.Errorf("Fetch after a failed Fetch: UID %d: %s", g.msg.UID, d)
		}
	}
}

// remoteStoreFlagsAndExpunge: flag changes and an expunge together, as
// StoreFlagChanges then Expunge (adapters.FlagExpunger); with no flag
// change it is Expunge, with nothing to expunge StoreFlagChanges.
func remoteStoreFlagsAndExpunge(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "store-expunge")
	fe, ok := f.(closeOnce).RemoteFolder.(adapters.FlagExpunger)
	if !ok {
		t.Skip("the folder cannot store flags and expunge together (no adapters.FlagExpunger)")
	}
	var u []uint32
	for i := range 5 {
		u = append(u, appendMessage(t, ctx, f, NewMessage(fmt.Sprintf("store-expunge-%d", i), "x"), model.Seen, i))
	}
	changes := []adapters.FlagChange{{UIDs: u[:2], Add: model.Flagged}, {UIDs: u[1:2], Remove: model.Seen}}
	if err := fe.StoreFlagsAndExpunge(ctx, changes, []uint32{u[2], u[3]}); err != nil {
		t.Fatalf("StoreFlagsAndExpunge: %v", err)
	}
	want := map[uint32]model.Flags{u[0]: model.Seen | model.Flagged, u[1]: model.Flagged, u[4]: model.Seen}
	listed := listMap(t, ctx, f)
	if len(listed) != len(want) {
		t.Errorf("after StoreFlagsAndExpunge: %d messages listed, want %d (UIDs %d and %d expunged)", len(listed), len(want), u[2], u[3])
	}
	for uid, fl := range want {
		if listed[uid].Flags != fl {
			t.Errorf("UID %d: flags %s, want %s", uid, listed[uid].Flags, fl)
		}
	}
	if err := fe.StoreFlagsAndExpunge(ctx, nil, []uint32{u[4]}); err != nil {
		t.Fatalf("StoreFlagsAndExpunge with no flag change: %v", err)
	}
	if err := fe.StoreFlagsAndExpunge(ctx, []adapters.FlagChange{{UIDs: u[:1], Remove: model.Flagged}}, nil); err != nil {
		t.Fatalf("StoreFlagsAndExpunge with nothing to expunge: %v", err)
	}
	listed = listMap(t, ctx, f)
	if _, gone := listed[u[4]]; gone || listed[u[0]].Flags != model.Seen || len(listed) != 2 {
		t.Errorf("after the second and third calls: %+v", listed)
	}
}

// remoteAppendBatchWith: an upload batch with flag changes and an expunge
// (adapters.BatchAppendStorer) stores the batch, returning its UIDs in
// order, and carries out the changes and the expunge on the other
// messages, as AppendBatch then StoreFlagsAndExpunge would; a batch of one
// message is a batch too, and with no expunge it is AppendBatch and
// StoreFlagChanges.
func remoteAppendBatchWith(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "append-with")
	bas, ok := f.(closeOnce).RemoteFolder.(adapters.BatchAppendStorer)
	if !ok || !bas.CanAppendBatch() {
		t.Skip("the folder cannot send an upload batch with flag stores (no adapters.BatchAppendStorer, or no MULTIAPPEND)")
	}
	var u []uint32
	for i := range 4 {
		u = append(u, appendMessage(t, ctx, f, NewMessage(fmt.Sprintf("append-with-old-%d", i), "x"), model.Seen, i))
	}
	batch := func(names ...string) []adapters.AppendMsg {
		var out []adapters.AppendMsg
		for i, n := range names {
			m := NewMessage(n, "new")
			out = append(out, adapters.AppendMsg{Size: m.Size(), Body: bytesReader(m.Body), Flags: model.Flags(i) & model.Seen, Date: Date(10 + i)})
		}
		return out
	}
	changes := []adapters.FlagChange{{UIDs: u[:2], Add: model.Flagged}, {UIDs: u[1:2], Remove: model.Seen}}
	uids, appendErr, sent, err := bas.AppendBatchWith(ctx, batch("append-with-new-0", "append-with-new-1"), changes, []uint32{u[2]})
	if appendErr != nil || err != nil || !sent {
		t.Fatalf("AppendBatchWith: batch %v, stores sent %v, %v", appendErr, sent, err)
	}
	if len(uids) != 2 || uids[0] <= u[3] || uids[1] <= uids[0] {
		t.Fatalf("AppendBatchWith returned UIDs %v, want two ascending above %d", uids, u[3])
	}
	want := map[uint32]model.Flags{u[0]: model.Seen | model.Flagged, u[1]: model.Flagged, u[3]: model.Seen, uids[0]: 0, uids[1]: model.Seen}
	listed := listMap(t, ctx, f)
	if len(listed) != len(want) {
		t.Errorf("after AppendBatchWith: %d messages listed, want %d (UID %d expunged, two appended)", len(listed), len(want), u[2])
	}
	for uid, fl := range want {
		if m, ok := listed[uid]; !ok || m.Flags != fl {
			t.Errorf("UID %d: listed %v, flags %s, want %s", uid, ok, m.Flags, fl)
		}
	}
	uids, appendErr, sent, err = bas.AppendBatchWith(ctx, batch("append-with-new-2"), []adapters.FlagChange{{UIDs: u[:1], Remove: model.Flagged}}, nil)
	if appendErr != nil || err != nil || !sent || len(uids) != 1 {
		t.Fatalf("AppendBatchWith of one message and no expunge: UIDs %v, batch %v, stores sent %v, %v", uids, appendErr, sent, err)
	}
	listed = listMap(t, ctx, f)
	if m, ok := listed[uids[0]]; !ok || m.Flags != 0 || listed[u[0]].Flags != model.Seen || len(listed) != len(want)+1 {
		t.Errorf("after the second call: %+v", listed)
	}
}

func remoteExpunge(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "expunge")
	a := appendMessage(t, ctx, f, NewMessage("expunge-a", "a"), model.Seen, 0)
	b := appendMessage(t, ctx, f, NewMessage("expunge-b", "b"), 0, 1)
	c := appendMessage(t, ctx, f, NewMessage("expunge-c", "c"), 0, 2)
	if err := f.StoreFlags(ctx, []uint32{b}, model.Deleted, 0); err != nil {
		t.Fatalf("StoreFlags(+T): %v", err)
	}
	if err := f.Expunge(ctx, []uint32{a, 999999}); err != nil {
		t.Fatalf("Expunge([a, missing]): %v", err)
	}
	listed := listMap(t, ctx, f)
	if _, ok := listed[a]; ok {
		t.Errorf("UID %d still listed after Expunge (it had no \\Deleted flag before)", a)
	}
	if m, ok := listed[b]; !ok || m.Flags != model.Deleted {
		t.Errorf("UID %d, marked \\Deleted but not named in Expunge: %+v (present %v); want it kept", b, m, ok)
	}
	if _, ok := listed[c]; !ok {
		t.Errorf("UID %d, not named in Expunge, is gone", c)
	}
	if got := fetchAll(t, ctx, f, []uint32{a}); len(got) != 0 {
		t.Errorf("Fetch of an expunged UID delivered it")
	}
	for _, uids := range [][]uint32{{a}, {999999}, nil} {
		if err := f.Expunge(ctx, uids); err != nil {
			t.Errorf("Expunge(%v) of what is not there: %v", uids, err)
		}
	}
	if err := f.Expunge(ctx, []uint32{b, c}); err != nil {
		t.Fatalf("Expunge([b, c]): %v", err)
	}
	if got := listMap(t, ctx, f); len(got) != 0 {
		t.Errorf("after expunging everything, List has %d messages", len(got))
	}
	f.Close()
	if st := folderStatus(t, ctx, s, "expunge"); st.Messages != 0 {
		t.Errorf("ListFolders after expunging everything: Messages %d, want 0", st.Messages)
	}
}

func remoteUIDsAndValidity(t *testing.T, ctx context.Context, s adapters.Remote) {
	const name = "uids"
	f := createSelect(t, ctx, s, name)
	st0 := f.Status()
	var uids []uint32
	for i := range 3 {
		u := appendMessage(t, ctx, f, NewMessage(fmt.Sprintf("uids-%d", i), "x"), 0, i)
		if i == 0 && u < st0.UIDNext {
			t.Errorf("first UID %d is below the UIDNEXT %d of the selection", u, st0.UIDNext)
		}
		if i > 0 && u <= uids[i-1] {
			t.Errorf("UIDs do not grow: %d after %d", u, uids[i-1])
		}
		uids = append(uids, u)
	}
	f.Close()
	check := func(when string, st model.RemoteFolderStatus, messages uint32, maxUID uint32) {
		t.Helper()
		if st.UIDValidity != st0.UIDValidity {
			t.Errorf("%s: UIDVALIDITY %d, was %d", when, st.UIDValidity, st0.UIDValidity)
		}
		if st.Messages != messages {
			t.Errorf("%s: Messages %d, want %d", when, st.Messages, messages)
		}
		if st.UIDNext <= maxUID {
			t.Errorf("%s: UIDNEXT %d is not above UID %d", when, st.UIDNext, maxUID)
		}
	}
	check("ListFolders after 3 appends", folderStatus(t, ctx, s, name), 3, uids[2])
	f = selectFolder(t, ctx, s, name)
	check("SelectFolder after 3 appends", f.Status(), 3, uids[2])
	if err := f.Expunge(ctx, []uint32{uids[2]}); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	u := appendMessage(t, ctx, f, NewMessage("uids-after-expunge", "y"), 0, 4)
	if u <= uids[2] {
		t.Errorf("UID %d reused or lower after expunging UID %d", u, uids[2])
	}
	f.Close()
	check("ListFolders after expunge and append", folderStatus(t, ctx, s, name), 3, u)
	f = selectFolder(t, ctx, s, name)
	check("SelectFolder after expunge and append", f.Status(), 3, u)
}

func remoteHighestModSeq(t *testing.T, ctx context.Context, s adapters.Remote) {
	const name = "modseq"
	if err := s.CreateFolder(ctx, name); err != nil {
		t.Fatal(err)
	}
	last := folderStatus(t, ctx, s, name).HighestModSeq
	if last == 0 {
		t.Skip("the store reports no HIGHESTMODSEQ (no CONDSTORE)")
	}
	step := func(what string, do func(f adapters.RemoteFolder)) {
		t.Helper()
		f := selectFolder(t, ctx, s, name)
		if got := f.Status().HighestModSeq; got != last {
			t.Errorf("before %s: SelectFolder says HIGHESTMODSEQ %d, ListFolders said %d", what, got, last)
		}
		do(f)
		f.Close()
		got := folderStatus(t, ctx, s, name).HighestModSeq
		if got <= last {
			t.Errorf("HIGHESTMODSEQ after %s: %d, was %d; want it to grow", what, got, last)
		}
		last = got
	}
	var uid uint32
	step("Append", func(f adapters.RemoteFolder) {
		uid = appendMessage(t, ctx, f, NewMessage("modseq-1", "x"), 0, 0)
	})
	step("StoreFlags", func(f adapters.RemoteFolder) {
		if err := f.StoreFlags(ctx, []uint32{uid}, model.Seen, 0); err != nil {
			t.Fatal(err)
		}
	})
	step("Expunge", func(f adapters.RemoteFolder) {
		if err := f.Expunge(ctx, []uint32{uid}); err != nil {
			t.Fatal(err)
		}
	})
}

// remoteListChanges: every UID, and in full exactly the messages added or
// re-flagged since a HIGHESTMODSEQ (adapters.ChangeLister).
func remoteListChanges(t *testing.T, ctx context.Context, s adapters.Remote) {
	f, uids, since := seenSince(t, ctx, s, "changes", 4)
	cl := f.(closeOnce).RemoteFolder.(adapters.ChangeLister)
	all, changed, err := cl.ListChanges(ctx, since)
	if err != nil || !slices.Equal(all, uids) || len(changed) != 0 {
		t.Fatalf("nothing changed: uids %v (want %v), changed %v, %v", all, uids, changed, err)
	}
	if err := f.StoreFlags(ctx, uids[1:2], model.Flagged, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Expunge(ctx, uids[2:3]); err != nil {
		t.Fatal(err)
	}
	added := appendMessage(t, ctx, f, NewMessage("changes-new", "hello"), model.Answered, 9)
	all, changed, err = cl.ListChanges(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{uids[0], uids[1], uids[3], added}; !slices.Equal(all, want) {
		t.Errorf("uids %v, want %v", all, want)
	}
	if len(changed) != 2 || changed[0].UID != uids[1] || changed[0].Flags != model.Seen|model.Flagged ||
		changed[1].UID != added || changed[1].Flags != model.Answered || changed[1].Size == 0 || changed[1].InternalDate.IsZero() {
		t.Errorf("changed %+v, want uid %d \\Seen \\Flagged and uid %d \\Answered with its size and date", changed, uids[1], added)
	}
}

// seenSince creates folder name with n \Seen messages and selects it
// again, returning it with their UIDs and the HIGHESTMODSEQ after them;
// it skips the test where the store keeps no modification sequences
// (no CONDSTORE, adapters.ChangeLister).
func seenSince(t *testing.T, ctx context.Context, s adapters.Remote, name string, n int) (adapters.RemoteFolder, []uint32, uint64) {
	t.Helper()
	f := createSelect(t, ctx, s, name)
	if _, ok := f.(closeOnce).RemoteFolder.(adapters.ChangeLister); !ok || f.Status().HighestModSeq == 0 {
		t.Skip("the store has no modification sequences (no CONDSTORE)")
	}
	var uids []uint32
	for i := range n {
		uids = append(uids, appendMessage(t, ctx, f, NewMessage(fmt.Sprintf("%s-%d", name, i), "x"), model.Seen, i))
	}
	f.Close()
	since := folderStatus(t, ctx, s, name).HighestModSeq
	return selectFolder(t, ctx, s, name), uids, since
}

// flaggedAndAdded creates folder name with three \Seen messages, then
// flags the first and adds one: it returns the HIGHESTMODSEQ before those
// changes, and what ListChanges lists since it (every UID, and the two
// changed messages). It skips the test as seenSince does.
func flaggedAndAdded(t *testing.T, ctx context.Context, s adapters.Remote, name string) (uint64, []uint32, []model.RemoteMsg) {
	t.Helper()
	f, uids, since := seenSince(t, ctx, s, name, 3)
	defer f.Close()
	if err := f.StoreFlags(ctx, uids[:1], model.Flagged, 0); err != nil {
		t.Fatal(err)
	}
	added := appendMessage(t, ctx, f, NewMessage(name+"-new", "hello"), model.Answered, 9)
	all, changed, err := f.(closeOnce).RemoteFolder.(adapters.ChangeLister).ListChanges(ctx, since)
	if err != nil || len(changed) != 2 || changed[0].UID != uids[0] || changed[1].UID != added {
		t.Fatalf("ListChanges: uids %v, changed %+v, %v", all, changed, err)
	}
	return since, all, changed
}

// remoteOpenWithChanges: opening a folder with its changes listed in the
// same round trip lists what ListChanges lists, selected or examined; with
// since above HIGHESTMODSEQ, or 0, no listing comes and the folder is open
// all the same; a missing folder fails as SelectFolder does and leaves the
// store usable (adapters.ChangeOpener).
func remoteOpenWithChanges(t *testing.T, ctx context.Context, s adapters.Remote) {
	co, ok := s.(adapters.ChangeOpener)
	if !ok {
		t.Skip("the store cannot open a folder with its changes (no adapters.ChangeOpener)")
	}
	const name = "open-changes"
	since, wantAll, wantChanged := flaggedAndAdded(t, ctx, s, name)
	for _, readOnly := range []bool{false, true} {
		of, changes, err := co.OpenWithChanges(ctx, name, readOnly, since)
		if err != nil {
			t.Fatalf("readOnly %v: %v", readOnly, err)
		}
		if changes == nil || !slices.Equal(changes.UIDs, wantAll) || !slices.Equal(changes.Changed, wantChanged) {
			t.Errorf("readOnly %v: changes %+v, want uids %v and changed %+v (as ListChanges)", readOnly, changes, wantAll, wantChanged)
		}
		if st := of.Status(); st.Name != name || st.Messages != 4 {
			t.Errorf("readOnly %v: status %+v", readOnly, st)
		}
		of.Close()
	}
	for _, since := range []uint64{0, folderStatus(t, ctx, s, name).HighestModSeq + 1000} {
		of, changes, err := co.OpenWithChanges(ctx, name, false, since)
		if err != nil {
			t.Fatalf("since %d: %v", since, err)
		}
		if changes != nil {
			t.Errorf("since %d: changes %+v, want none", since, changes)
		}
		if msgs, err := of.List(ctx); err != nil || len(msgs) != 4 {
			t.Errorf("since %d: the folder opened is not usable: %d messages, %v", since, len(msgs), err)
		}
		of.Close()
	}
	if of, _, err := co.OpenWithChanges(ctx, "no-such-folder/really", false, since); err == nil {
		of.Close()
		t.Fatal("OpenWithChanges of a missing folder succeeded")
	} else if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("OpenWithChanges of a missing folder: %v; want an error wrapping adapters.ErrNoFolder", err)
	}
	of, changes, err := co.OpenWithChanges(ctx, name, false, since)
	if err != nil || changes == nil || len(changes.Changed) != 2 {
		t.Fatalf("after a missing folder: changes %+v, %v", changes, err)
	}
	of.Close()
}

// remoteOpenListing: opening a folder with its listing in the same round
// trip lists what List lists, selected or examined, with the folder's
// status; an empty folder lists nothing; the folder opened is usable (a
// selected one takes changes); a missing folder fails with ErrNoFolder and
// leaves the store usable (adapters.ListingOpener).
func remoteOpenListing(t *testing.T, ctx context.Context, s adapters.Remote) {
	lo, ok := s.(adapters.ListingOpener)
	if !ok {
		t.Skip("the store cannot open a folder with its listing (no adapters.ListingOpener)")
	}
	const name = "open-listing"
	f := createSelect(t, ctx, s, name)
	for i := range 3 {
		appendMessage(t, ctx, f, NewMessage(fmt.Sprintf("%s-%d", name, i), "listed"), model.Flags(i)&model.Seen, i)
	}
	want, err := f.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := f.Status()
	f.Close()
	for _, readOnly := range []bool{false, true} {
		of, msgs, err := lo.OpenListing(ctx, name, readOnly)
		if err != nil {
			t.Fatalf("readOnly %v: %v", readOnly, err)
		}
		if !slices.Equal(msgs, want) {
			t.Errorf("readOnly %v: listed %+v, want %+v (as List)", readOnly, msgs, want)
		}
		if st := of.Status(); st.Name != name || st.Messages != 3 || st.UIDValidity != wantStatus.UIDValidity {
			t.Errorf("readOnly %v: status %+v, want %+v", readOnly, st, wantStatus)
		}
		if !readOnly {
			if err := of.StoreFlags(ctx, []uint32{want[0].UID}, model.Flagged, 0); err != nil {
				t.Errorf("the folder opened takes no change: %v", err)
			}
			want[0].Flags |= model.Flagged
		}
		of.Close()
	}
	empty := createSelect(t, ctx, s, name+"-empty")
	empty.Close()
	if of, msgs, err := lo.OpenListing(ctx, name+"-empty", false); err != nil || len(msgs) != 0 {
		t.Errorf("an empty folder: %d messages, %v", len(msgs), err)
	} else {
		of.Close()
	}
	if of, _, err := lo.OpenListing(ctx, "no-such-folder/really", false); err == nil {
		of.Close()
		t.Fatal("OpenListing of a missing folder succeeded")
	} else if !errors.Is(err, adapters.ErrNoFolder) {
		t.Errorf("OpenListing of a missing folder: %v; want an error wrapping adapters.ErrNoFolder", err)
	}
	of, msgs, err := lo.OpenListing(ctx, name, true)
	if err != nil || len(msgs) != 3 || msgs[0].Flags&model.Flagged == 0 {
		t.Fatalf("after a missing folder: %+v, %v", msgs, err)
	}
	of.Close()
}

// remoteSurveyChanges: surveying several folders lists in each what
// ListChanges lists, with the folder's status; a missing folder among them
// fails alone with ErrNoFolder; since above HIGHESTMODSEQ gives a status
// and no listing; no folder is left open, and the store stays usable
// (adapters.ChangeSurveyor).
func remoteSurveyChanges(t *testing.T, ctx context.Context, s adapters.Remote) {
	cs, ok := s.(adapters.ChangeSurveyor)
	if !ok {
		t.Skip("the store cannot survey folders (no adapters.ChangeSurveyor)")
	}
	since, wantAll, wantChanged := flaggedAndAdded(t, ctx, s, "survey-a")
	g, uidsB, sinceB := seenSince(t, ctx, s, "survey-b", 2)
	g.Close()
	stA, stB := folderStatus(t, ctx, s, "survey-a"), folderStatus(t, ctx, s, "survey-b")
	got := cs.SurveyChanges(ctx, []adapters.ChangeRequest{
		{Name: "survey-a", Since: since},
		{Name: "no-such-folder/really", Since: since},
		{Name: "survey-b", Since: sinceB},
		{Name: "survey-a", Since: stA.HighestModSeq + 1000},
	})
	if len(got) != 4 {
		t.Fatalf("%d surveys for 4 folders", len(got))
	}
	a := got[0]
	if a.Err != nil || a.Changes == nil || !slices.Equal(a.Changes.UIDs, wantAll) || !slices.Equal(a.Changes.Changed, wantChanged) {
		t.Errorf("survey-a: %+v, want uids %v and changed %+v (as ListChanges)", a, wantAll, wantChanged)
	}
	if a.Status.UIDValidity != stA.UIDValidity || a.Status.UIDNext != stA.UIDNext || a.Status.Messages != 4 ||
		a.Status.HighestModSeq != stA.HighestModSeq {
		t.Errorf("survey-a: status %+v, want %+v", a.Status, stA)
	}
	if !errors.Is(got[1].Err, adapters.ErrNoFolder) {
		t.Errorf("missing folder: %+v; want an error wrapping adapters.ErrNoFolder", got[1])
	}
	b := got[2]
	if b.Err != nil || b.Changes == nil || !slices.Equal(b.Changes.UIDs, uidsB) || len(b.Changes.Changed) != 0 ||
		b.Status.UIDValidity != stB.UIDValidity || b.Status.Messages != 2 {
		t.Errorf("survey-b (after the missing folder): %+v, want uids %v, nothing changed, status %+v", b, uidsB, stB)
	}
	if late := got[3]; late.Err != nil || late.Changes != nil || late.Status.UIDValidity != stA.UIDValidity {
		t.Errorf("since above HIGHESTMODSEQ: %+v, want the status and no listing", late)
	}
	if sel, ok := s.(interface{ Selected() int }); ok && sel.Selected() != 0 {
		t.Errorf("%d folders left open after the survey", sel.Selected())
	}
	if msgs := listMap(t, ctx, selectFolder(t, ctx, s, "survey-a")); len(msgs) != 4 {
		t.Errorf("after the survey: survey-a lists %d messages, want 4", len(msgs))
	}
}

func remoteFindByIdentity(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "find-identity")
	one := NewMessage("fbi-one", "same text")
	two := NewMessage("fbi-two", "same text") // same size as one
	longer := NewMessage("fbi-one", "same text, but longer")
	if one.Size() != two.Size() || one.Size() == longer.Size() {
		t.Fatalf("test messages: sizes %d %d %d", one.Size(), two.Size(), longer.Size())
	}
	eight := Messages()[1] // its header is spelt "Message-Id"
	u1 := appendMessage(t, ctx, f, one, 0, 0)
	u2 := appendMessage(t, ctx, f, two, model.Seen, 1)
	u1dup := appendMessage(t, ctx, f, one, 0, 2)
	u3 := appendMessage(t, ctx, f, longer, 0, 3)
	u8 := appendMessage(t, ctx, f, eight, 0, 4)
	if u1 == u1dup {
		t.Fatalf("the same message appended twice got UID %d twice", u1)
	}
	cases := []struct {
		what   string
		minUID uint32
		size   int64
		id     string
		want   []uint32
	}{
		{"by size and Message-ID", 1, one.Size(), one.MessageID, []uint32{u1, u1dup}},
		{"minUID is inclusive", u1dup, one.Size(), one.MessageID, []uint32{u1dup}},
		{"minUID excludes lower UIDs", u2, one.Size(), "", []uint32{u2, u1dup}},
		{"above every UID", u8 + 1, one.Size(), one.MessageID, nil},
		{"empty Message-ID matches any", 1, one.Size(), "", []uint32{u1, u2, u1dup}},
		{"other Message-ID, same size", 1, two.Size(), two.MessageID, []uint32{u2}},
		{"same Message-ID, other size", 1, longer.Size(), one.MessageID, []uint32{u3}},
		{"unknown Message-ID", 1, one.Size(), "<nobody@mailtrail.test>", nil},
		{"wrong size", 1, one.Size() + 1, one.MessageID, nil},
		{"header spelt Message-Id", 1, eight.Size(), eight.MessageID, []uint32{u8}},
	}
	for _, c := range cases {
		got, err := f.FindByIdentity(ctx, c.minUID, c.size, c.id)
		if err != nil {
			t.Errorf("FindByIdentity(%d, %d, %q) (%s): %v", c.minUID, c.size, c.id, c.what, err)
			continue
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("FindByIdentity(%d, %d, %q) (%s) = %v, want %v", c.minUID, c.size, c.id, c.what, got, c.want)
		}
	}
}

func remoteMessageIDs(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "message-ids")
	one := NewMessage("mid-one", "text")
	eight := Messages()[1] // its header is spelt "Message-Id"
	none := Message{Name: "no-id", Body: []byte("From: a@example.org\r\nSubject: none\r\n\r\nno id\r\n")}
	u1 := appendMessage(t, ctx, f, one, 0, 0)
	u8 := appendMessage(t, ctx, f, eight, 0, 1)
	if _, err := f.Append(ctx, none.Size(), bytesReader(none.Body), 0, Date(2)); err != nil {
		t.Fatal(err)
	}
	var un uint32
	for uid := range listMap(t, ctx, f) {
		if uid != u1 && uid != u8 {
			un = uid
		}
	}
	got, err := f.MessageIDs(ctx, []uint32{u1, u8, un, un + 100})
	if err != nil {
		t.Fatalf("MessageIDs: %v", err)
	}
	want := map[uint32]string{u1: adapters.TrimMessageID(one.MessageID), u8: adapters.TrimMessageID(eight.MessageID), un: ""}
	if !maps.Equal(got, want) {
		t.Fatalf("MessageIDs = %v, want %v (no brackets; missing UIDs left out)", got, want)
	}
}

func remoteMove(t *testing.T, ctx context.Context, s adapters.Remote) {
	if err := s.CreateFolder(ctx, "move-to"); err != nil {
		t.Fatal(err)
	}
	f := createSelect(t, ctx, s, "move-from")
	msgs := []Message{NewMessage("mv-1", "one"), NewMessage("mv-2", "two"), NewMessage("mv-3", "three")}
	u1 := appendMessage(t, ctx, f, msgs[0], model.Seen|model.Flagged, 0)
	u2 := appendMessage(t, ctx, f, msgs[1], 0, 1)
	u3 := appendMessage(t, ctx, f, msgs[2], model.Answered, 2)
	moved, validity, err := f.Move(ctx, []uint32{u1, u3, u3 + 100}, "move-to")
	if errors.Is(err, adapters.ErrUnsupported) {
		if got := listMap(t, ctx, f); len(got) != 3 {
			t.Fatalf("Move refused (%v) but the folder has %d messages, not 3", err, len(got))
		}
		return
	}
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	if len(moved) != 2 || moved[u1] == 0 || moved[u3] == 0 {
		t.Fatalf("Move = %v, want new UIDs for %d and %d only", moved, u1, u3)
	}
	if got := listMap(t, ctx, f); len(got) != 1 || got[u2].UID != u2 {
		t.Fatalf("source after Move: %v, want only %d", got, u2)
	}
	if st := folderStatus(t, ctx, s, "move-to"); st.UIDValidity != validity {
		t.Fatalf("Move reported UIDVALIDITY %d, the folder has %d", validity, st.UIDValidity)
	}
	to := selectFolder(t, ctx, s, "move-to")
	got := listMap(t, ctx, to)
	for old, want := range map[uint32]model.Flags{u1: model.Seen | model.Flagged, u3: model.Answered} {
		if m, ok := got[moved[old]]; !ok || m.Flags != want {
			t.Fatalf("moved %d -> %d: listed %+v, want flags %s", old, moved[old], m, want)
		}
	}
	for _, fm := range fetchAll(t, ctx, to, []uint32{moved[u1], moved[u3]}) {
		want := msgs[0].Body
		if fm.msg.UID == moved[u3] {
			want = msgs[2].Body
		}
		if string(fm.body) != string(want) {
			t.Fatalf("moved %d: body changed", fm.msg.UID)
		}
	}
}

func remoteConcurrentFolders(t *testing.T, ctx context.Context, s adapters.Remote) {
	names := []string{"concurrent-a", "concurrent-b"}
	folders := make([]adapters.RemoteFolder, len(names))
	for i, n := range names {
		folders[i] = createSelect(t, ctx, s, n)
	}
	const perFolder = 5
	errs := make(chan error, len(names)*perFolder)
	var wg sync.WaitGroup
	for i, f := range folders {
		wg.Go(func() {
			for j := range perFolder {
				m := NewMessage(fmt.Sprintf("%s-%d", names[i], j), names[i])
				if _, err := f.Append(ctx, m.Size(), bytesReader(m.Body), 0, Date(j)); err != nil {
					errs <- fmt.Errorf("%s: Append %d: %w", names[i], j, err)
					return
				}
				if _, err := f.List(ctx); err != nil {
					errs <- fmt.Errorf("%s: List: %w", names[i], err)
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
	// Listing the account while folders are selected.
	for _, n := range names {
		if st := folderStatus(t, ctx, s, n); st.Messages != perFolder {
			t.Errorf("ListFolders while %s is selected: Messages %d, want %d", n, st.Messages, perFolder)
		}
	}
	for i, f := range folders {
		if got := listMap(t, ctx, f); len(got) != perFolder {
			t.Errorf("%s: %d messages after concurrent appends, want %d", names[i], len(got), perFolder)
		}
	}
}

// remoteLongUIDLists passes 20,000 scattered UIDs, nearly all missing, to
// every UID-taking call: an adapter must split or compress them so that no
// command line exceeds what a server accepts (Dovecot: 64 KiB).
func remoteLongUIDLists(t *testing.T, ctx context.Context, s adapters.Remote) {
	f := createSelect(t, ctx, s, "long-uid-lists")
	keep := appendMessage(t, ctx, f, NewMessage("long-uids-keep", "kept"), 0, 0)
	gone := appendMessage(t, ctx, f, NewMessage("long-uids-gone", "expunged"), 0, 1)
	var uids []uint32
	for u := uint32(1); len(uids) < 20000; u += 2 {
		if u != keep && u != gone {
			uids = append(uids, u)
		}
	}
	withKeep := append(slices.Clone(uids), keep)
	if err := f.StoreFlags(ctx, withKeep, model.Flagged, 0); err != nil {
		t.Fatalf("StoreFlags on %d UIDs: %v", len(withKeep), err)
	}
	if got := listedFlags(t, ctx, f, keep); got != model.Flagged {
		t.Errorf("StoreFlags on %d UIDs: UID %d has flags %s, want F", len(withKeep), keep, got)
	}
	if got := fetchAll(t, ctx, f, withKeep); !slices.Equal(fetchedUIDs(got), []uint32{keep}) {
		t.Errorf("Fetch of %d UIDs delivered %v, want [%d]", len(withKeep), fetchedUIDs(got), keep)
	}
	withGone := append(slices.Clone(uids), gone)
	if err := f.Expunge(ctx, withGone); err != nil {
		t.Fatalf("Expunge of %d UIDs: %v", len(withGone), err)
	}
	listed := listMap(t, ctx, f)
	if _, ok := listed[gone]; ok || len(listed) != 1 {
		t.Errorf("after Expunge of %d UIDs including %d: List has %d messages, want only UID %d", len(withGone), gone, len(listed), keep)
	}
}
