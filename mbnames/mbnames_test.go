package mbnames

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtrail/config"
)

// parse reads a configuration whose [mbnames] section is mb.
func parse(t *testing.T, mb string) config.Mbnames {
	t.Helper()
	home := t.TempDir()
	src := `[general]
accounts = Personal, Work
[Account Personal]
localrepository = PL
remoterepository = PR
[Account Work]
localrepository = WL
remoterepository = WR
[Repository PL]
type = Maildir
localfolders = ~/Mail/Personal
[Repository WL]
type = Maildir
localfolders = ~/Mail/Work
[Repository PR]
type = IMAP
remotehost = h
remoteuser = u
remotepass = p
[Repository WR]
type = IMAP
remotehost = h
remoteuser = u
remotepass = p
[mbnames]
` + mb
	cfg, _, err := config.Parse("test.conf", strings.NewReader(src), config.MapEnv(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Mbnames
}

// The mutt example of OfflineIMAP's FAQ and reference offlineimap.conf:
// peritem is not evaluated, so its quotes are written.
const muttExample = `enabled = yes
filename = ~/Mutt/muttrc.mailboxes
header = "mailboxes "
peritem = "+%(accountname)s/%(foldername)s"
sep = " "
footer = "\n"
`

func TestMuttExample(t *testing.T) {
	cfg := parse(t, muttExample)
	if !strings.HasSuffix(cfg.Filename, "/Mutt/muttrc.mailboxes") || cfg.Header != "mailboxes " || cfg.Sep != " " || cfg.Footer != "\n" {
		t.Fatalf("%+v", cfg)
	}
	dir := t.TempDir()
	cfg.Filename = filepath.Join(dir, "mailboxes")
	w := &Writer{Cfg: cfg, Dir: filepath.Join(dir, "inter")}
	if err := w.AccountDone("Work", "/m/Work", []string{"INBOX", "Archive.2025"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AccountDone("Personal", "/m/Personal", []string{"Sent", "INBOX", "INBOX"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.Filename); err == nil {
		t.Fatal("written before Finish without incremental")
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(cfg.Filename)
	want := `mailboxes "+Personal/INBOX" "+Personal/Sent" "+Work/Archive.2025" "+Work/INBOX"` + "\n"
	if string(got) != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}

	// Syncing one account again keeps the other's folders.
	if err := w.AccountDone("Work", "/m/Work", []string{"INBOX"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(cfg.Filename)
	if want := `mailboxes "+Personal/INBOX" "+Personal/Sent" "+Work/INBOX"` + "\n"; string(got) != want {
		t.Errorf("after -a Work: %q", got)
	}

	// --mbnames-prune with Work gone from the accounts.
	removed, err := w.Prune([]string{"Personal"})
	if err != nil || len(removed) != 1 || !strings.HasSuffix(removed[0], "Work.json") {
		t.Fatalf("prune: %v %v", removed, err)
	}
	if err := w.Write(); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(cfg.Filename)
	if want := `mailboxes "+Personal/INBOX" "+Personal/Sent"` + "\n"; string(got) != want {
		t.Errorf("after prune: %q", got)
	}
}

func TestFilterSortIncremental(t *testing.T) {
	cfg := parse(t, `enabled = yes
filename = /dev/null
header = ""
peritem = %(localfolders)s/%(foldername)s %%
sep = "\n"
footer = "\n# end\n"
incremental = yes
folderfilter = lambda account, folder: not re.search('Trash', folder)
sort_keyfunc = lambda d: (d['foldername'] != 'INBOX', d['foldername'])
`)
	dir := t.TempDir()
	cfg.Filename = filepath.Join(dir, "mb")
	w := &Writer{Cfg: cfg, Dir: filepath.Join(dir, "inter")}
	if err := w.AccountDone("Personal", "/m", []string{"Archive", "Trash", "INBOX", "Zebra"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(cfg.Filename)
	if want := "/m/INBOX %\n/m/Archive %\n/m/Zebra %\n# end\n"; string(got) != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	cfg := parse(t, muttExample)
	dir := t.TempDir()
	cfg.Filename = filepath.Join(dir, "mb")
	var said []string
	w := &Writer{Cfg: cfg, Dir: filepath.Join(dir, "inter"), DryRun: true, Report: func(s string) { said = append(said, s) }}
	if err := w.AccountDone("Personal", "/m", []string{"INBOX"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("dry run wrote %v", ents)
	}
	if len(said) != 2 || !strings.Contains(said[1], "would write "+cfg.Filename) {
		t.Errorf("reported %q", said)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ mb, want string }{
		{"enabled = yes\nfilename = x\nheader = \"\"\nsep = \" \"\nfooter = \"\"\n", "has no peritem"},
		{"enabled = yes\nfilename = x\nheader = mailboxes\nperitem = %(foldername)s\nsep = \" \"\nfooter = \"\"\n", "header"},
		{"enabled = yes\nfilename = x\nheader = \"\"\nperitem = %(folder)s\nsep = \" \"\nfooter = \"\"\n", "unknown name"},
		{"enabled = yes\nfilename = x\nheader = \"\"\nperitem = %(foldername)s\nsep = \" \"\nfooter = \"\"\nfolderfilter = lambda f: True\n", "takes 1 arguments"},
	} {
		home := t.TempDir()
		src := "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n[Repository L]\ntype = Maildir\nlocalfolders = /m\n" +
			"[Repository R]\ntype = IMAP\nremotehost = h\nremoteuser = u\nremotepass = p\n[mbnames]\n" + tc.mb
		_, _, err := config.Parse("t.conf", strings.NewReader(src), config.MapEnv(map[string]string{"HOME": home}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.mb, err, tc.want)
		}
	}
	// Disabled: nothing else is read or required.
	home := t.TempDir()
	src := "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n[Repository L]\ntype = Maildir\nlocalfolders = /m\n" +
		"[Repository R]\ntype = IMAP\nremotehost = h\nremoteuser = u\nremotepass = p\n[mbnames]\nenabled = no\nheader = oops\n"
	if _, _, err := config.Parse("t.conf", strings.NewReader(src), config.MapEnv(map[string]string{"HOME": home})); err != nil {
		t.Errorf("disabled: %v", err)
	}
}
