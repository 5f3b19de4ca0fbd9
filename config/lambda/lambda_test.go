package lambda

import (
	"strings"
	"testing"
)

// The shapes people write, from OfflineIMAP's reference configuration, its
// FAQ and nametrans documentation.
func TestNametransShapes(t *testing.T) {
	cases := []struct{ src, in, want string }{
		{`lambda folder: re.sub('^INBOX\.', '', folder)`, "INBOX.Sent", "Sent"},
		{`lambda f: re.sub('^\[Gmail\]\.', '', f)`, "[Gmail].Sent Mail", "Sent Mail"},
		{`lambda folder: re.sub(r'^\[Gmail\]/', '', folder)`, "[Gmail]/Drafts", "Drafts"},
		{`lambda folder: re.sub('(^|/)\.', '\\1', folder)`, ".Trash", "Trash"},
		{`lambda foldername: foldername.replace('.', '/')`, "a.b.c", "a/b/c"},
		{`lambda f: 'INBOX.' + f if f != 'INBOX' else f`, "Sent", "INBOX.Sent"},
		{`lambda f: {'Sent': '[Gmail].Sent Mail', 'Drafts': '[Gmail].Drafts'}.get(f, f)`, "Sent", "[Gmail].Sent Mail"},
		{`lambda folder: re.sub('_', ' ', re.sub('^INBOX/', '', folder))`, "INBOX/My_Stuff", "My Stuff"},
		{`lambda f: re.sub(r'(\w+)\.(\w+)', r'\2.\1', f)`, "a.b", "b.a"},
		{`lambda f: re.sub('x', '$1', f)`, "axb", "a$1b"},
		{`lambda f: f.lower()`, "INBOX", "inbox"},
		{`lambda f: re.compile('^old-').sub('', f)`, "old-stuff", "stuff"},
		{"lambda folder: re.sub('(?i)^inbox$', 'INBOX', folder)", "Inbox", "INBOX"},
	}
	for _, c := range cases {
		f, err := Compile("nametrans", c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		got, err := f.CallString(c.in)
		if err != nil {
			t.Errorf("%s(%q): %v", c.src, c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.src, c.in, got, c.want)
		}
	}
}

func TestFolderfilterShapes(t *testing.T) {
	cases := []struct {
		src  string
		in   string
		want bool
	}{
		{`lambda foldername: foldername in ['INBOX', 'Sent', 'Drafts']`, "Sent", true},
		{`lambda foldername: foldername in ['INBOX', 'Sent', 'Drafts']`, "Spam", false},
		{`lambda folder: folder not in ['[Gmail]/All Mail', '[Gmail]/Spam', '[Gmail]/Trash']`, "[Gmail]/All Mail", false},
		{`lambda folder: folder not in ['[Gmail]/All Mail', '[Gmail]/Spam']`, "INBOX", true},
		{`lambda folder: not re.search('(^Trash$|Del)', folder)`, "Deleted Items", false},
		{`lambda folder: re.search('^(INBOX|Sent)', folder)`, "Sent/2024", true},
		{`lambda folder: re.match('^Lists/', folder) is None`, "Lists/go", false},
		{`lambda f: not f.startswith('Archive')`, "Archive/2019", false},
		{`lambda folder: folder.startswith('INBOX') or folder == 'Sent'`, "Sent", true},
		{`lambda folder: folder in ['INBOX', 'Sent Mail', 'Entwürfe']`, "Entwürfe", true},
		{`lambda name: len(name) < 20`, "short", true},
		{`lambda f: re.search('spam', f, re.I)`, "SPAM", true},
	}
	for _, c := range cases {
		f, err := Compile("folderfilter", c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		got, err := f.CallBool(c.in)
		if err != nil {
			t.Errorf("%s(%q): %v", c.src, c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s(%q) = %v, want %v", c.src, c.in, got, c.want)
		}
	}
}

func TestErrorsQuoteTheExpressionAndSayWhatToDo(t *testing.T) {
	cases := []struct{ option, src, want string }{
		{"remotepasseval", `get_password("work")`, "get_password, which mailtrail cannot run"},
		{"nametrans", `lambda f: os.path.basename(f)`, "os, which mailtrail cannot run"},
		{"folderfilter", `lambda f: re.search('(?!Spam)', f)`, "look-ahead"},
		{"nametrans", `'INBOX'`, "not a function"},
		{"nametrans", `lambda a, b: a`, "takes 2 arguments"},
		{"folderfilter", `lambda f: f in [`, "folderfilter = lambda f: f in ["},
		{"nametrans", `lambda f: 'unclosed`, "not closed"},
	}
	for _, c := range cases {
		var err error
		if f, cerr := Compile(c.option, c.src); cerr != nil {
			err = cerr
		} else {
			_, err = f.CallBool("x")
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.option+" = ") {
			t.Errorf("%s = %s: error %v, want one containing %q and quoting the option", c.option, c.src, err, c.want)
		}
	}
}

func TestRunawayExpressionIsStopped(t *testing.T) {
	f, err := Compile("folderfilter", `lambda f: len([x for x in range(100000000)])`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CallBool("x"); err == nil || !strings.Contains(err.Error(), "steps") {
		t.Fatalf("want a step-limit error, got %v", err)
	}
}

func TestEvalString(t *testing.T) {
	got, err := Eval("remoteusereval", `'jane' + '@' + 'example.org'`)
	if err != nil || got != "jane@example.org" {
		t.Fatalf("got %q %v", got, err)
	}
}
