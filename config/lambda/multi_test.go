package lambda

import (
	"strings"
	"testing"
)

func TestMbnamesShapes(t *testing.T) {
	ff, err := CompileN("folderfilter", `lambda accountname, foldername: accountname == 'Work' and not re.search('^(Trash|Spam)$', foldername)`, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		acct, folder string
		want         bool
	}{{"Work", "INBOX", true}, {"Work", "Trash", false}, {"Home", "INBOX", false}} {
		if got, err := ff.CallBoolN(tc.acct, tc.folder); err != nil || got != tc.want {
			t.Errorf("folderfilter(%q, %q) = %v, %v", tc.acct, tc.folder, got, err)
		}
	}
	if _, err := CompileN("folderfilter", `lambda f: True`, 2); err == nil || !strings.Contains(err.Error(), "takes 1 arguments") {
		t.Errorf("one-argument mbnames filter: %v", err)
	}

	// The default sort key and one that puts INBOX first.
	key, err := Compile("sort_keyfunc", `lambda d: (d['foldername'] != 'INBOX', d['accountname'], d['foldername'])`)
	if err != nil {
		t.Fatal(err)
	}
	a, err := key.CallDict(map[string]string{"accountname": "B", "foldername": "INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := key.CallDict(map[string]string{"accountname": "A", "foldername": "Archive"})
	if err != nil {
		t.Fatal(err)
	}
	if less, err := Less(a, b); err != nil || !less {
		t.Errorf("INBOX of B should sort before Archive of A: %v %v", less, err)
	}
	bad, _ := Compile("sort_keyfunc", `lambda d: d['foldername'] if d['accountname'] == 'A' else 1`)
	x, _ := bad.CallDict(map[string]string{"accountname": "A", "foldername": "x"})
	y, _ := bad.CallDict(map[string]string{"accountname": "B", "foldername": "y"})
	if _, err := Less(x, y); err == nil {
		t.Errorf("a string and an int compared without error")
	}
	if _, err := key.CallDict(map[string]string{"accountname": "A"}); err == nil || !strings.Contains(err.Error(), "foldername") {
		t.Errorf("missing key: %v", err)
	}
}

func TestEvalStrings(t *testing.T) {
	got, err := EvalStrings("folderincludes", `['debian.user', 'debian.personal']`)
	if err != nil || strings.Join(got, ",") != "debian.user,debian.personal" {
		t.Errorf("%v %v", got, err)
	}
	if got, err := EvalStrings("folderincludes", `('INBOX',)`); err != nil || len(got) != 1 {
		t.Errorf("tuple: %v %v", got, err)
	}
	for _, src := range []string{`'INBOX'`, `[1, 2]`, `os.listdir('.')`} {
		if _, err := EvalStrings("folderincludes", src); err == nil {
			t.Errorf("%s accepted", src)
		}
	}
}
