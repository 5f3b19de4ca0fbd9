package maildir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtrail/model"
)

func TestParseFileName(t *testing.T) {
	md5a := folderMD5("INBOX")
	tests := []struct {
		about   string
		name    string
		infosep byte
		want    fileName
	}{
		{"ours", "1709294400_0.4242.testhost,U=17,FMD5=" + md5a + ":2,RS", ':',
			fileName{key: "1709294400_0.4242.testhost", uid: 17, fmd5: md5a, info: "RS", hasInfo: true}},
		{"ours, no flags", "1709294400_3.4242.testhost,U=1,FMD5=" + md5a + ":2,", ':',
			fileName{key: "1709294400_3.4242.testhost", uid: 1, fmd5: md5a, hasInfo: true}},
		{"neomutt in cur", "1700000000.R123.host:2,S", ':',
			fileName{key: "1700000000.R123.host", info: "S", hasInfo: true}},
		{"delivered to new, no info", "1700000000.R123.host", ':',
			fileName{key: "1700000000.R123.host"}},
		{"dovecot fields and keyword letters", "1700000000.M1P2.host,S=1234,W=1260:2,Sab", ':',
			fileName{key: "1700000000.M1P2.host,S=1234,W=1260", info: "Sab", hasInfo: true}},
		{"dovecot fields after ours", "1700000000.M1P2.host,S=12,U=5,FMD5=abc:2,S", ':',
			fileName{key: "1700000000.M1P2.host,S=12", uid: 5, fmd5: "abc", info: "S", hasInfo: true}},
		{"another program's field between ours", "1700000000.M1P2.host,U=5,S=12,FMD5=abc:2,S", ':',
			fileName{key: "1700000000.M1P2.host,S=12", uid: 5, fmd5: "abc", info: "S", hasInfo: true}},
		{"mbsync, U= without FMD5", "1700000000.123_4.host,U=12:2,S", ':',
			fileName{key: "1700000000.123_4.host", uid: 12, info: "S", hasInfo: true}},
		{"windows-compatible info separator", "1709294400_0.4242.h,U=3,FMD5=abc!2,FS", '!',
			fileName{key: "1709294400_0.4242.h", uid: 3, fmd5: "abc", info: "FS", hasInfo: true}},
		{"experimental info kept apart", "1700000000.x.host:1,foo", ':',
			fileName{key: "1700000000.x.host", otherEnd: ":1,foo"}},
		{"U= that is not a number is dropped from the key", "1700000000.x.host,U=zz:2,", ':',
			fileName{key: "1700000000.x.host", hasInfo: true}},
	}
	for _, tc := range tests {
		got := parseFileName(tc.name, tc.infosep)
		if got != tc.want {
			t.Errorf("%s: parseFileName(%q) = %+v, want %+v", tc.about, tc.name, got, tc.want)
		}
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	for _, uid := range []uint32{0, 1, 4294967295} {
		for _, flags := range []model.Flags{0, model.Seen, model.AllFlags} {
			name := formatBase("1709294400_0.4242.h", uid, "d41d8cd98f00b204e9800998ecf8427e") + infoSuffix(':', infoLetters(flags, ""))
			fn := parseFileName(name, ':')
			gotFlags, extra := model.ParseMaildir(fn.info)
			if fn.key != "1709294400_0.4242.h" || fn.uid != uid || gotFlags != flags || extra != "" || !fn.hasInfo {
				t.Errorf("round trip of uid %d flags %s through %q gave %+v", uid, flags, name, fn)
			}
			if uid == 0 && strings.Contains(name, "U=") {
				t.Errorf("name %q for uid 0 carries a U= field", name)
			}
		}
	}
}

func TestInfoLettersSortsAndKeepsExtras(t *testing.T) {
	tests := []struct {
		flags model.Flags
		extra string
		want  string
	}{
		{model.Seen | model.Flagged, "", "FS"},
		{model.Seen, "ba", "Sab"},
		{model.Seen, "Pa", "PSa"}, // Dovecot's P (passed) sorts among the capitals
		{0, "a", "a"},
		{model.Seen, "aa", "Sa"},
	}
	for _, tc := range tests {
		if got := infoLetters(tc.flags, tc.extra); got != tc.want {
			t.Errorf("infoLetters(%s, %q) = %q, want %q", tc.flags, tc.extra, got, tc.want)
		}
	}
}

func TestSanitizeHostname(t *testing.T) {
	if got := sanitizeHostname("a/b:c,d!e.example"); got != "a-b-c-d-e.example" {
		t.Errorf("sanitizeHostname = %q", got)
	}
}

func TestUniqueKeySequencePerSecond(t *testing.T) {
	at := time.Unix(1111111111, 0)
	k1 := uniqueKey(at, 7, "h")
	k2 := uniqueKey(at.Add(500*time.Millisecond), 7, "h")
	k3 := uniqueKey(at.Add(time.Second), 7, "h")
	if k1 != "1111111111_0.7.h" || k2 != "1111111111_1.7.h" || k3 != "1111111112_0.7.h" {
		t.Errorf("keys %q %q %q; want 1111111111_0.7.h 1111111111_1.7.h 1111111112_0.7.h", k1, k2, k3)
	}
}

func TestFolderMD5(t *testing.T) {
	// md5 hex of the local name, as OfflineIMAP's md5(getvisiblename()).
	for name, want := range map[string]string{
		"INBOX":        "7e33429f656f1e6e9d79b29c3f82c57e",
		"Archive.2024": "1a93ab4c536c71150dc4b4835ca6c7b0",
	} {
		if got := folderMD5(name); got != want {
			t.Errorf("folderMD5(%q) = %q, want %q", name, got, want)
		}
	}
}

// offlineIMAPPython runs a Python snippet with OfflineIMAP 3's own Maildir
// folder code importable, or skips the test when it is not installed.
func offlineIMAPPython(t *testing.T, script string) string {
	t.Helper()
	const src = "/usr/share/offlineimap3"
	python := "/usr/bin/python3"
	if _, err := os.Stat(filepath.Join(src, "offlineimap/folder/Maildir.py")); err != nil {
		t.Skip("offlineimap3 source not installed")
	}
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+src)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run OfflineIMAP's code: %v\n%s", err, out)
	}
	return string(out)
}

// pyFolder builds an OfflineIMAP MaildirFolder with only the attributes
// its file-name methods use.
const pyFolder = `
import re, os, socket
from hashlib import md5
from offlineimap.folder.Maildir import MaildirFolder
f = object.__new__(MaildirFolder)
f.infosep = ':'
f.re_flagmatch = re.compile('%s2,(\w*)' % f.infosep)
f.re_prefixmatch = re.compile('([^' + f.infosep + ',]*)')
f._foldermd5 = md5('Archive.2024'.encode('utf-8')).hexdigest()
f.sep_subst = '-'
`

// TestNamesAgainstOfflineIMAP checks both directions against OfflineIMAP's
// own code: it parses the names we write, we parse the names it writes.
func TestNamesAgainstOfflineIMAP(t *testing.T) {
	s := newTestStore(t, '.')
	f := newTestFolder(t, s, "Archive/2024")
	if f.localName != "Archive.2024" {
		t.Fatalf("local name %q, want Archive.2024", f.localName)
	}
	k := addOne(t, f, 31, model.Seen|model.Answered, testNow, "x\r\n")
	names := listDir(t, filepath.Join(f.path, "cur"))
	if len(names) != 1 {
		t.Fatalf("cur/ holds %v", names)
	}
	out := offlineIMAPPython(t, pyFolder+`
p = f._parse_filename(`+"'"+names[0]+"'"+`)
print(p[0], p[1], ''.join(sorted(p[3])))
n = f.new_message_filename(77, set('FS'))
print(n)
print(os.getpid(), socket.gethostname())
`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("python said %q", out)
	}
	if want := k + " 31 RS"; lines[0] != want {
		t.Errorf("OfflineIMAP parses our name %q as %q, want %q", names[0], lines[0], want)
	}
	theirs := parseFileName(lines[1], ':')
	flags, extra := model.ParseMaildir(theirs.info)
	if theirs.uid != 77 || theirs.fmd5 != f.FMD5() || flags != model.Flagged|model.Seen || extra != "" {
		t.Errorf("we parse OfflineIMAP's name %q as %+v", lines[1], theirs)
	}
	pidHost := strings.Fields(lines[2])
	wantKeySuffix := "." + pidHost[0] + "." + strings.ReplaceAll(pidHost[1], "/", "-")
	if !strings.HasSuffix(theirs.key, wantKeySuffix) || !strings.Contains(theirs.key, "_0.") {
		t.Errorf("key %q of OfflineIMAP's name does not look like <time>_0%s", theirs.key, wantKeySuffix)
	}
}
