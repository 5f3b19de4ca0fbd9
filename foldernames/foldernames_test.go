package foldernames

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailtrail/adapters"
	"mailtrail/adapters/memstore"
	"mailtrail/config/lambda"
	"mailtrail/model"
)

func trans(t *testing.T, src string) Trans {
	t.Helper()
	f, err := lambda.Compile("nametrans", src)
	if err != nil {
		t.Fatal(err)
	}
	return f.CallString
}

// The FAQ's shape: the server keeps everything under INBOX. (with '.'),
// the Maildir has it at the top level.
func TestInverseTranslation(t *testing.T) {
	m := &Mapper{
		RemoteDelim: func() (byte, error) { return '.', nil },
		LocalSep:    '.',
		Remote:      trans(t, `lambda f: re.sub('^INBOX\.', '', f)`),
		Local:       trans(t, `lambda f: f if f == 'INBOX' else 'INBOX.' + f`),
	}
	for remote, local := range map[string]string{"INBOX": "INBOX", "INBOX/Sent": "Sent", "INBOX/Lists/go": "Lists/go"} {
		got, err := m.CheckRemote(remote)
		if err != nil || got != local {
			t.Errorf("CheckRemote(%q) = %q, %v; want %q", remote, got, err, local)
		}
		back, err := m.CheckLocal(local)
		if err != nil || back != remote {
			t.Errorf("CheckLocal(%q) = %q, %v; want %q", local, back, err, remote)
		}
	}
	// A server folder outside INBOX. comes back under it: not inverse.
	if _, err := m.CheckRemote("Archive"); err == nil || !strings.Contains(err.Error(), "not inverse") {
		t.Errorf("Archive: %v", err)
	}
}

// sentItems is a server with INBOX, "Sent Items" and Trash, and the
// nametrans that calls "Sent Items" Sent locally.
func sentItems(t *testing.T) (*memstore.Remote, *Mapper) {
	t.Helper()
	inner := memstore.NewRemote()
	for _, f := range []string{"INBOX", "Sent Items", "Trash"} {
		if err := inner.CreateFolder(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	return inner, &Mapper{
		LocalSep: '.',
		Remote:   trans(t, `lambda f: {'Sent Items': 'Sent'}.get(f, f)`),
		Local:    trans(t, `lambda f: {'Sent': 'Sent Items'}.get(f, f)`),
	}
}

func TestRemoteWrapper(t *testing.T) {
	ctx := context.Background()
	inner, m := sentItems(t)
	r := &Remote{Inner: inner, Mapper: m}
	list, err := r.ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "INBOX,Sent,Trash" {
		t.Fatalf("listed %v", names)
	}
	f, err := r.SelectFolder(ctx, "Sent")
	if err != nil {
		t.Fatal(err)
	}
	if f.Status().Name != "Sent Items" {
		t.Errorf("selected folder reports %q, want the server's name", f.Status().Name)
	}
	f.Close()
	// Looking only: examined under its translation where the inner store
	// can, selected where it cannot (memstore).
	if _, err := r.ExamineFolder(ctx, "Sent"); !errors.Is(err, adapters.ErrUnsupported) {
		t.Errorf("ExamineFolder over a store that cannot examine: %v, want ErrUnsupported", err)
	}
	if f, err := adapters.LookAt(ctx, r, "Sent"); err != nil || f.Status().Name != "Sent Items" {
		t.Errorf("LookAt falls back to SelectFolder: %v", err)
	} else {
		f.Close()
	}
	ex := &Remote{Inner: examining{inner}, Mapper: m}
	if f, err := adapters.LookAt(ctx, ex, "Sent"); err != nil || f.Status().Name != "examined Sent Items" {
		t.Errorf("LookAt over a store that examines: %v", err)
	}
	// A new local folder is created on the server under its translation.
	if err := r.CreateFolder(ctx, "Projects"); err != nil {
		t.Fatal(err)
	}
	raw, _ := inner.ListFolders(ctx)
	found := false
	for _, f := range raw {
		found = found || f.Name == "Projects"
	}
	if !found {
		t.Errorf("Projects not created on the server: %v", raw)
	}

	// Two server folders onto one local name: refused before anything.
	bad := &Remote{Inner: inner, Mapper: &Mapper{LocalSep: '.',
		Remote: trans(t, `lambda f: 'INBOX' if f == 'Trash' else f`),
		Local:  trans(t, `lambda f: f`)}}
	if _, err := bad.ListFolders(ctx); err == nil || !strings.Contains(err.Error(), "refusing to sync") {
		t.Errorf("collision: %v", err)
	}
	// A filtered folder is not checked.
	bad.Wanted = func(n string) bool { return n != "Trash" }
	if _, err := bad.ListFolders(ctx); err != nil {
		t.Errorf("with Trash filtered out: %v", err)
	}
	// A local folder whose translation does not come back is not created.
	oneWay := &Remote{Inner: inner, Mapper: &Mapper{LocalSep: '.',
		Remote: trans(t, `lambda f: f.lower()`), Local: trans(t, `lambda f: f`)}}
	if err := oneWay.CreateFolder(ctx, "NEW"); err == nil || !strings.Contains(err.Error(), "not inverse") {
		t.Errorf("one-way create: %v", err)
	}
}

func TestUTF7(t *testing.T) {
	m := &Mapper{LocalSep: '.', UTF7: true}
	if l, err := m.CheckRemote("Entwürfe/Alt"); err != nil || l != "Entw&APw-rfe/Alt" {
		t.Errorf("CheckRemote: %q %v", l, err)
	}
}

// examining is a Remote that examines: its folders report the name they
// were examined under, prefixed.
type examining struct{ adapters.Remote }

func (e examining) ExamineFolder(ctx context.Context, name string) (adapters.RemoteFolder, error) {
	f, err := e.SelectFolder(ctx, name)
	if err != nil {
		return nil, err
	}
	return examinedFolder{f}, nil
}

type examinedFolder struct{ adapters.RemoteFolder }

func (f examinedFolder) Status() model.RemoteFolderStatus {
	st := f.RemoteFolder.Status()
	st.Name = "examined " + st.Name
	return st
}

// listOpening is a Remote that opens a folder with its listing: the
// listing, then the folder selected; it notes what it opened and closed.
type listOpening struct {
	adapters.Remote
	asked  []string
	closed *int
}

func (l *listOpening) ListFoldersOpening(ctx context.Context, name string, readOnly bool, since uint64) ([]model.RemoteFolderStatus, adapters.Opened, error) {
	list, err := l.ListFolders(ctx)
	if err != nil {
		return nil, adapters.Opened{}, err
	}
	l.asked = append(l.asked, name)
	f, err := l.SelectFolder(ctx, name)
	if err != nil {
		return list, adapters.Opened{Err: err}, nil
	}
	return list, adapters.Opened{Folder: closeCounting{f, l.closed}, Changes: &adapters.Changes{}}, nil
}

type closeCounting struct {
	adapters.RemoteFolder
	n *int
}

func (c closeCounting) Close() error { *c.n++; return c.RemoteFolder.Close() }

// TestListFoldersOpening: the folder is opened under the local name's
// translation, asking the server nothing first, and returned when the
// listing pairs it with the local name; closed again when the listing
// leaves it out (a folder filter); over a store that cannot open with
// the listing, the listing alone.
func TestListFoldersOpening(t *testing.T) {
	ctx := context.Background()
	inner, m := sentItems(t)
	closed := 0
	lo := &listOpening{Remote: inner, closed: &closed}
	m.RemoteDelim = func() (byte, error) {
		if len(lo.asked) == 0 {
			t.Error("the delimiter asked for before the listing")
		}
		return '/', nil
	}
	r := &Remote{Inner: lo, Mapper: m}
	list, opened, err := r.ListFoldersOpening(ctx, "Sent", false, 1)
	if err != nil || opened.Err != nil || opened.Folder == nil {
		t.Fatalf("ListFoldersOpening: %v, %+v", err, opened)
	}
	if len(lo.asked) != 1 || lo.asked[0] != "Sent Items" || opened.Folder.Status().Name != "Sent Items" {
		t.Fatalf("opened %v as %q, want the server's Sent Items", lo.asked, opened.Folder.Status().Name)
	}
	if len(list) != 3 || list[1].Name != "Sent" {
		t.Fatalf("listed %+v, want the local names", list)
	}
	opened.Folder.Close()

	closed = 0
	r.Wanted = func(n string) bool { return n != "Sent Items" }
	list, opened, err = r.ListFoldersOpening(ctx, "Sent", false, 1)
	if err != nil || opened.Folder != nil || !errors.Is(opened.Err, adapters.ErrUnsupported) || closed != 1 {
		t.Fatalf("a folder the listing leaves out: %v, %+v, closed %d times; want closed once and ErrUnsupported", err, opened, closed)
	}
	if len(list) != 2 {
		t.Fatalf("listed %+v, want Sent filtered out", list)
	}

	plain := &Remote{Inner: inner, Mapper: m}
	list, opened, err = plain.ListFoldersOpening(ctx, "Sent", false, 1)
	if err != nil || len(list) != 3 || opened.Folder != nil || !errors.Is(opened.Err, adapters.ErrUnsupported) {
		t.Fatalf("over a store without it: %v, %d folders, %+v", err, len(list), opened)
	}
}

// listSurveying is a Remote that surveys with the listing: the listing,
// then each folder selected and listed; it notes the names it surveyed.
type listSurveying struct {
	adapters.Remote
	asked []string
}

func (l *listSurveying) ListFoldersSurveying(ctx context.Context, reqs []adapters.ChangeRequest) ([]model.RemoteFolderStatus, []adapters.ChangeSurvey, error) {
	list, err := l.ListFolders(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]adapters.ChangeSurvey, len(reqs))
	for i, q := range reqs {
		l.asked = append(l.asked, q.Name)
		f, err := l.SelectFolder(ctx, q.Name)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].Status = f.Status()
		out[i].Changes = &adapters.Changes{}
		f.Close()
	}
	return list, out, nil
}

// TestListFoldersSurveying: the folders are surveyed under the local
// names' translations, and a survey of a folder the listing leaves out
// (a folder filter) is an ErrUnsupported, the others answered.
func TestListFoldersSurveying(t *testing.T) {
	ctx := context.Background()
	inner, m := sentItems(t)
	ls := &listSurveying{Remote: inner}
	r := &Remote{Inner: ls, Mapper: m, Wanted: func(n string) bool { return n != "Trash" }}
	reqs := []adapters.ChangeRequest{{Name: "Sent", Since: 1}, {Name: "Trash", Since: 1}, {Name: "INBOX", Since: 1}}
	list, out, err := r.ListFoldersSurveying(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(ls.asked, ",") != "Sent Items,Trash,INBOX" {
		t.Fatalf("surveyed %v, want the translations", ls.asked)
	}
	if len(list) != 2 || out[0].Err != nil || out[0].Status.Name != "Sent Items" || out[2].Err != nil {
		t.Fatalf("listed %+v, surveyed %+v", list, out)
	}
	if !errors.Is(out[1].Err, adapters.ErrUnsupported) {
		t.Fatalf("Trash, filtered out: %+v, want ErrUnsupported", out[1])
	}
	plain := &Remote{Inner: inner, Mapper: m}
	list, out, err = plain.ListFoldersSurveying(ctx, reqs)
	if err != nil || len(list) != 3 || !errors.Is(out[0].Err, adapters.ErrUnsupported) {
		t.Fatalf("over a store without it: %v, %d folders, %+v", err, len(list), out)
	}
}
