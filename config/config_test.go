package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base is the smallest useful configuration; tests append to its last
// section, [Repository Remote], or edit it.
const base = `[general]
accounts = Test

[Account Test]
localrepository = Local
remoterepository = Remote

[Repository Local]
type = Maildir
localfolders = ~/Mail

[Repository Remote]
type = IMAP
remotehost = imap.example.org
remoteuser = jane
`

var testEnv = MapEnv(map[string]string{"HOME": "/home/jane", "MAILROOT": "/srv/mail"})

func parseString(text string) (*Config, []Warning, error) {
	return Parse("~/.offlineimaprc", strings.NewReader(text), testEnv)
}

// lineOf is the number of the first line of text that equals want after
// trimming, so that tests name the line they blame by its content.
func lineOf(t *testing.T, text, want string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == want {
			return i + 1
		}
	}
	t.Fatalf("no line %q in the test input", want)
	return 0
}

// configErrors splits the joined error returned by Parse.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *config.Error", e)
		}
		out = append(out, ce)
	}
	return out
}

func TestDefaults(t *testing.T) {
	cfg, warnings, err := parseString(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	wantGeneral := General{
		Accounts:            []string{"Test"},
		OfflineIMAPMetadata: "/home/jane/.offlineimap",
		StateHome:           "/home/jane/.local/state",
		MaxSyncAccounts:     1,
	}
	if !reflect.DeepEqual(cfg.General, wantGeneral) {
		t.Errorf("general = %+v\nwant %+v", cfg.General, wantGeneral)
	}
	if len(cfg.Accounts) != 1 || cfg.Accounts[0].Name != "Test" || cfg.Accounts[0].Line != 4 || cfg.Account("Test") != cfg.Accounts[0] {
		t.Fatalf("accounts = %v", cfg.Accounts)
	}
	local, remote := cfg.Accounts[0].Local, cfg.Accounts[0].Remote
	wantLocal := &Repository{Name: "Local", Line: 8, Type: Maildir, LocalFolders: "/home/jane/Mail", Sep: ".", CreateFolders: true, MaxDelete: 50}
	if !reflect.DeepEqual(local, wantLocal) {
		t.Errorf("local = %+v\nwant %+v", local, wantLocal)
	}
	wantRemote := &Repository{Name: "Remote", Line: 12, Type: IMAP, RemoteHost: "imap.example.org", RemotePort: 993,
		RemoteUser: "jane", SSL: true, STARTTLS: true, MaxConnections: 1, CreateFolders: true, MaxDelete: 50}
	if !reflect.DeepEqual(remote, wantRemote) {
		t.Errorf("remote = %+v\nwant %+v", remote, wantRemote)
	}
	if got := cfg.General.StoreDir("Test"); got != "/home/jane/.local/state/mailtrail/Test" {
		t.Errorf("StoreDir = %q", got)
	}
}

func TestSetValues(t *testing.T) {
	cfg, warnings, err := parseString(strings.Replace(base, "[Account Test]", `metadata = ~/.meta
maxsyncaccounts = 4

[Account Test]`, 1) + `remoteport = 10993
ssl = No
starttls = off
sslcacertfile = OS-DEFAULT
maxconnections = 3
createfolders = 0
readonly = TRUE
remotepass = p
`)
	if err != nil || len(warnings) != 0 {
		t.Fatal(err, warnings)
	}
	g := cfg.General
	if g.Metadata != "/home/jane/.meta" || g.OfflineIMAPMetadata != "/home/jane/.meta" || g.MaxSyncAccounts != 4 {
		t.Errorf("general = %+v", g)
	}
	if got := g.StoreDir("Test"); got != "/home/jane/.meta/mailtrail/Test" {
		t.Errorf("StoreDir = %q", got)
	}
	r := cfg.Accounts[0].Remote
	if r.RemotePort != 10993 || r.SSL || r.STARTTLS || r.SSLCACertFile != "" || r.MaxConnections != 3 ||
		r.CreateFolders || !r.ReadOnly || r.MayCreateFolders() || r.RemotePass.Reveal() != "p" {
		t.Errorf("remote = %+v", r)
	}
}

func TestAccountsOverSeveralLines(t *testing.T) {
	text := strings.Replace(base, "accounts = Test", "accounts = Test,\n    Two", 1) + `
[Account Two]
localrepository = Local
remoterepository = Remote
`
	cfg, _, err := parseString(text)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.General.Accounts, []string{"Test", "Two"}) || len(cfg.Accounts) != 2 || cfg.Accounts[1].Local != cfg.Accounts[0].Local {
		t.Errorf("accounts %v %v", cfg.General.Accounts, cfg.Accounts)
	}
}

func TestPortDefaultFollowsSSL(t *testing.T) {
	for ssl, port := range map[string]int{"yes": 993, "no": 143} {
		cfg, _, err := parseString(base + "ssl = " + ssl + "\n")
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Accounts[0].Remote.RemotePort; got != port {
			t.Errorf("ssl = %s: port %d, want %d", ssl, got, port)
		}
	}
}

func TestBooleans(t *testing.T) {
	for _, v := range []string{"yes", "YES", "true", "True", "on", "On", "1"} {
		if b, ok := parseBool(v); !b || !ok {
			t.Errorf("%q: %v %v", v, b, ok)
		}
	}
	for _, v := range []string{"no", "No", "false", "FALSE", "off", "0"} {
		if b, ok := parseBool(v); b || !ok {
			t.Errorf("%q: %v %v", v, b, ok)
		}
	}
	for _, v := range []string{"", "maybe", "y", "n", "2", "enabled"} {
		if _, ok := parseBool(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestMaildirOptions(t *testing.T) {
	text := strings.Replace(base, "localfolders = ~/Mail", "localfolders = $MAILROOT/${USERNAME}/x\nsep = /\ncreatefolders = no\nreadonly = yes", 1)
	cfg, _, err := parseString(text)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Accounts[0].Local
	// $MAILROOT is set and expanded; ${USERNAME} is not set and stays.
	if l.LocalFolders != "/srv/mail/${USERNAME}/x" || l.Sep != "/" || l.CreateFolders || !l.ReadOnly {
		t.Errorf("local = %+v", l)
	}
}

func TestTildeExpansion(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	env := MapEnv(map[string]string{"HOME": "/home/jane/", "V": "v"})
	tests := map[string]string{
		"~":                              "/home/jane",
		"~/Mail":                         "/home/jane/Mail",
		"~" + me.Username + "/Mail":      me.HomeDir + "/Mail",
		"~no-such-user-mailtrail/Mail":   "~no-such-user-mailtrail/Mail",
		"/abs/~/x":                       "/abs/~/x",
		"rel/Mail":                       "rel/Mail",
		"~/$V/${V}/$UNSET/${UNSET}/$/a$": "/home/jane/v/v/$UNSET/${UNSET}/$/a$",
	}
	for in, want := range tests {
		if got := env.expandPath(in); got != want {
			t.Errorf("expandPath(%q) = %q, want %q", in, got, want)
		}
	}
	// remotepassfile gets ~ expansion only, as in OfflineIMAP.
	if got := env.expandUser("~/$V"); got != "/home/jane/$V" {
		t.Errorf("expandUser = %q", got)
	}
}

func TestStateHome(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HOME": "/h"}, "/h/.local/state/mailtrail/A"},
		{map[string]string{"HOME": "/h", "XDG_STATE_HOME": "/state"}, "/state/mailtrail/A"},
		{map[string]string{"HOME": "/h", "XDG_STATE_HOME": "relative"}, "/h/.local/state/mailtrail/A"},
	}
	for _, tt := range tests {
		cfg, _, err := Parse("rc", strings.NewReader(strings.Replace(base, "Test", "A", -1)), MapEnv(tt.env))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.General.StoreDir("A"); got != tt.want {
			t.Errorf("%v: StoreDir = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestDefaultInheritance(t *testing.T) {
	text := `[DEFAULT]
ssl = no
maildir = ~/Mail
server = example.org
remoteuser = shared

[general]
accounts = A, B

[Account A]
localrepository = A-local
remoterepository = A-remote

[Account B]
localrepository = B-local
remoterepository = B-remote

[Repository A-local]
type = Maildir
localfolders = %(maildir)s/A

[Repository B-local]
type = Maildir
localfolders = %(maildir)s/B

[Repository A-remote]
type = IMAP
remotehost = imap.%(server)s

[Repository B-remote]
type = IMAP
server = b.example
remotehost = imap.%(server)s
remoteuser = own
ssl = yes
`
	cfg, warnings, err := parseString(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	a, b := cfg.Account("A"), cfg.Account("B")
	if a.Local.LocalFolders != "/home/jane/Mail/A" || b.Local.LocalFolders != "/home/jane/Mail/B" {
		t.Errorf("localfolders %q %q", a.Local.LocalFolders, b.Local.LocalFolders)
	}
	if r := a.Remote; r.RemoteHost != "imap.example.org" || r.RemoteUser != "shared" || r.SSL || r.RemotePort != 143 {
		t.Errorf("A remote = %+v", r)
	}
	if r := b.Remote; r.RemoteHost != "imap.b.example" || r.RemoteUser != "own" || !r.SSL || r.RemotePort != 993 {
		t.Errorf("B remote = %+v", r)
	}
}

func TestPasswords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("pass", "  s3cret pw \nsecond line\n")
	write("noeol", "x")
	write("empty", "\nsecret on line two\n")
	env := MapEnv(map[string]string{"HOME": dir})
	parse := func(extra string) (*Repository, []Warning, error) {
		cfg, w, err := Parse("rc", strings.NewReader(base+extra), env)
		if err != nil {
			return nil, w, err
		}
		return cfg.Accounts[0].Remote, w, nil
	}

	r, w, err := parse("remotepassfile = ~/pass\n")
	if err != nil || r.RemotePass.Reveal() != "s3cret pw" || r.RemotePassFile != filepath.Join(dir, "pass") || len(w) != 0 {
		t.Errorf("passfile: %+v %v %v", r, w, err)
	}
	r, _, err = parse("remotepassfile = ~/noeol\n")
	if err != nil || r.RemotePass.Reveal() != "x" {
		t.Errorf("passfile without newline: %v %v", r, err)
	}
	r, _, err = parse("remotepass = a%%b\n")
	if err != nil || r.RemotePass.Reveal() != "a%b" || r.RemotePassFile != "" {
		t.Errorf("remotepass: %+v %v", r, err)
	}
	r, _, err = parse("")
	if err != nil || r.RemotePass.IsSet() {
		t.Errorf("no password: %+v %v", r, err)
	}

	// remotepass wins over remotepassfile, as in OfflineIMAP, which is said.
	r, w, err = parse("remotepass = inline\nremotepassfile = ~/missing\n")
	if err != nil || r.RemotePass.Reveal() != "inline" || len(w) != 1 ||
		!strings.HasPrefix(w[0].String(), "rc:17: [Repository Remote] option 'remotepassfile' is ignored because remotepass is set (OfflineIMAP takes") {
		t.Errorf("both: %+v %v %v", r, w, err)
	}
	// remotepasseval comes first, as in OfflineIMAP (more in security_test.go).
	r, w, err = parse("remotepasseval = 'from' + '-eval'\nremotepassfile = ~/pass\n")
	if err != nil || r.RemotePass.Reveal() != "from-eval" || len(w) != 1 || w[0].Option != "remotepassfile" {
		t.Errorf("eval and file: %+v %v %v", r, w, err)
	}

	errorsFor := []struct{ extra, want string }{
		{"remotepassfile = ~/missing\n", "rc:16: [Repository Remote] remotepassfile: cannot read the password file " + filepath.Join(dir, "missing") + ": open "},
		{"remotepassfile = ~/empty\n", "rc:16: [Repository Remote] remotepassfile: the first line of the password file " + filepath.Join(dir, "empty") + " is empty"},
		{"remotepass =\n", "rc:16: [Repository Remote] remotepass is empty"},
		{"remotepasseval = get_pass('work')\n", "rc:16: [Repository Remote] remotepasseval: the expression uses get_pass, which mailtrail cannot run"},
	}
	for _, tt := range errorsFor {
		_, _, err := parse(tt.extra)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v\nwant prefix %q", tt.extra, err, tt.want)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const pw = "Tr0ub4dor&3"
	cfg, _, err := parseString(base + "remotepass = " + pw + "\n")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Accounts[0].Remote
	if r.RemotePass.Reveal() != pw {
		t.Fatal("password not read")
	}
	js, _ := json.Marshal(r)
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, r), fmt.Sprintf(verb, *r), fmt.Sprintf(verb, r.RemotePass))
	}
	outputs = append(outputs, r.String(), r.Redacted(), cfg.String(), cfg.Redacted(), cfg.Accounts[0].String(), string(js))
	hexPW := fmt.Sprintf("%x", pw)
	for _, out := range outputs {
		if strings.Contains(out, pw) || strings.Contains(out, hexPW) || strings.Contains(out, "Tr0ub") {
			t.Errorf("password printed: %s", out)
		}
	}
	if !strings.Contains(r.Redacted(), "remotepass=<set in the configuration>") || r.RemotePass.String() != "<redacted>" {
		t.Errorf("Redacted() = %s", r.Redacted())
	}

	// Nor in errors: a bad interpolation, a multi-line value.
	for _, extra := range []string{
		"remotepass = " + pw + "%z\n",
		"remotepass = " + pw + "%(Tr0ub)s\n",
		"remotepass = " + pw + "\n  Tr0ub second line\n",
	} {
		_, _, err := parseString(base + extra)
		if err == nil || strings.Contains(err.Error(), "Tr0ub") {
			t.Errorf("%q: error %v", extra, err)
		}
	}
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		blame    string // the line the error names, by content; "" for none
		contains string
	}{
		{"bad boolean", base + "ssl = maybe\n", "ssl = maybe",
			"[Repository Remote] ssl = maybe: want yes or no"},
		{"bad boolean from DEFAULT", "[DEFAULT]\nstarttls = sometimes\n" + base, "starttls = sometimes",
			"[Repository Remote] starttls (set in [DEFAULT]) = sometimes: want yes or no"},
		{"port not a number", base + "remoteport = imaps\n", "remoteport = imaps",
			"[Repository Remote] remoteport = imaps: want a whole number from 1 to 65535"},
		{"port out of range", base + "remoteport = 70000\n", "remoteport = 70000", "want a whole number from 1 to 65535"},
		{"maxconnections zero", base + "maxconnections = 0\n", "maxconnections = 0", "want a whole number from 1 to 1000"},
		{"maxsyncaccounts", strings.Replace(base, "accounts = Test", "accounts = Test\nmaxsyncaccounts = -1", 1), "maxsyncaccounts = -1",
			"[general] maxsyncaccounts = -1: want a whole number from 1"},
		{"bad interpolation", base + "remoteuser2 = x\nreadonly = 5%\n", "readonly = 5%",
			`[Repository Remote] readonly: '%' must be followed by '%' or '(' (at "%"); write %% for a literal %`},
		{"missing reference", strings.Replace(base, "~/Mail", "%(root)s/Mail", 1), "localfolders = %(root)s/Mail",
			"[Repository Local] localfolders: %(root)s refers to an option that is set neither in [Repository Local] nor in [DEFAULT]"},
		{"multi-line value", strings.Replace(base, "remoteuser = jane", "remoteuser = jane\n  sep = .", 1), "remoteuser = jane",
			"[Repository Remote] remoteuser: the value goes on over the next lines because they are indented"},
		{"no general", "[General]\naccounts = A\n", "",
			"no [general] section (there is a [General] section on line 1, but section names are case-sensitive and spaces count)"},
		{"no accounts", "[general]\nmetadata = /m\n", "[general]", "[general] has no accounts option"},
		{"empty accounts", "[general]\naccounts =\n", "accounts =", "[general] accounts is empty"},
		{"stray comma", strings.Replace(base, "accounts = Test", "accounts = Test,", 1), "accounts = Test,",
			"[general] accounts = Test,: an account name is empty; is there a stray comma?"},
		{"account names on two lines without a comma", strings.Replace(base, "accounts = Test", "accounts = Test\n  Other", 1), "accounts = Test",
			`[general] accounts: "Test Other" is not one account name; separate the names with commas`},
		{"account name with slash", strings.Replace(base, "Test", "a/b", -1), "accounts = a/b",
			`the account name "a/b" cannot be used as a directory name`},
		{"no account section", strings.Replace(base, "accounts = Test", "accounts = Test, test2", 1) + "[Account Test2]\n", "accounts = Test, test2",
			`[general] accounts names "test2", but there is no [Account test2] section (there is a [Account Test2] section on line 16`},
		{"no localrepository", strings.Replace(base, "localrepository = Local\n", "", 1), "[Account Test]",
			"[Account Test] has no localrepository; name the [Repository ...] section of the local Maildir"},
		{"empty remoterepository", strings.Replace(base, "remoterepository = Remote", "remoterepository =", 1), "remoterepository =",
			"[Account Test] remoterepository is empty"},
		{"no repository section", strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote2", 1), "remoterepository = Remote2",
			"[Account Test] remoterepository = Remote2: there is no [Repository Remote2] section"},
		{"same repository twice", strings.Replace(base, "remoterepository = Remote", "remoterepository = Local", 1), "remoterepository = Local",
			`[Account Test]: localrepository and remoterepository both name "Local"`},
		{"remote is a Maildir", strings.Replace(strings.Replace(base, "remoterepository = Remote", "remoterepository = Local", 1), "localrepository = Local", "localrepository = Remote", 1), "remoterepository = Local",
			"[Account Test] remoterepository = Local: [Repository Local] is of type Maildir, but the remote repository must be of type IMAP"},
		{"no type", strings.Replace(base, "type = Maildir\n", "", 1), "[Repository Local]",
			"[Repository Local] has no type; add type = Maildir"},
		{"Gmail", strings.Replace(base, "type = IMAP", "type = Gmail", 1), "type = Gmail",
			"[Repository Remote] type = Gmail: Gmail repositories are not supported yet; use type = IMAP with remotehost = imap.gmail.com"},
		{"GmailMaildir", strings.Replace(base, "type = Maildir", "type = GmailMaildir", 1), "type = GmailMaildir",
			"[Repository Local] type = GmailMaildir: GmailMaildir repositories are not supported yet; use type = Maildir"},
		{"type in the wrong case", strings.Replace(base, "type = Maildir", "type = maildir", 1), "type = maildir",
			"[Repository Local] type = maildir: unknown repository type; want Maildir or IMAP (type names are case-sensitive: write Maildir)"},
		{"unknown type", strings.Replace(base, "type = IMAP", "type = POP3", 1), "type = POP3",
			"[Repository Remote] type = POP3: unknown repository type; want Maildir or IMAP"},
		{"no localfolders", strings.Replace(base, "localfolders = ~/Mail\n", "", 1), "[Repository Local]",
			"[Repository Local] has no localfolders; name the directory holding the Maildir folders"},
		{"sep too long", strings.Replace(base, "localfolders = ~/Mail", "localfolders = ~/Mail\nsep = ::", 1), "sep = ::",
			"[Repository Local] sep = ::: want exactly one character"},
		{"no remotehost", strings.Replace(base, "remotehost = imap.example.org\n", "", 1), "[Repository Remote]",
			"[Repository Remote] has no remotehost; name the IMAP server"},
		{"no remotehost, tunnel", strings.Replace(base, "remotehost = imap.example.org", "preauthtunnel = ssh host imapd", 1), "[Repository Remote]",
			"(preauthtunnel is not supported yet)"},
		{"remotehosteval only", strings.Replace(base, "remotehost = imap.example.org", "remotehosteval = host()", 1), "remotehosteval = host()",
			"[Repository Remote] gets remotehost only from remotehosteval, which is Python code that mailtrail does not run yet; set remotehost"},
		{"remoteusereval only", strings.Replace(base, "remoteuser = jane", "remoteusereval = user()", 1), "remoteusereval = user()",
			"[Repository Remote] remoteusereval: the expression uses user, which mailtrail cannot run"},
		{"no remoteuser", strings.Replace(base, "remoteuser = jane\n", "", 1), "[Repository Remote]",
			"[Repository Remote] has no remoteuser"},
		{"CA file missing", base + "sslcacertfile = ~/ca.pem\n", "sslcacertfile = ~/ca.pem",
			"[Repository Remote] sslcacertfile: cannot use the CA certificate file /home/jane/ca.pem (write OS-DEFAULT for the system's): stat /home/jane/ca.pem: no such file or directory"},
		{"metadata empty", strings.Replace(base, "accounts = Test", "accounts = Test\nmetadata =", 1), "metadata =",
			"[general] metadata is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := parseString(tt.text)
			if err == nil {
				t.Fatalf("no error; config:\n%s", cfg)
			}
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Errorf("%d errors, want 1:\n%v", len(errs), err)
			}
			line := 0
			if tt.blame != "" {
				line = lineOf(t, tt.text, tt.blame)
			}
			if errs[0].Line != line || errs[0].File != "~/.offlineimaprc" || !strings.Contains(errs[0].Error(), tt.contains) {
				t.Errorf("error %q\nwant line %d containing %q", errs[0].Error(), line, tt.contains)
			}
			wantPrefix := "~/.offlineimaprc: "
			if line > 0 {
				wantPrefix = fmt.Sprintf("~/.offlineimaprc:%d: ", line)
			}
			if !strings.HasPrefix(errs[0].Error(), wantPrefix) {
				t.Errorf("error %q does not start with %q", errs[0].Error(), wantPrefix)
			}
		})
	}
}

func TestAllErrorsReportedInLineOrder(t *testing.T) {
	text := strings.Replace(base, "type = Maildir", "type = Maildir\ncreatefolders = perhaps", 1) + "ssl = maybe\nremoteport = x\n"
	_, _, err := parseString(text)
	if err == nil {
		t.Fatal("no error")
	}
	var lines []int
	for _, e := range configErrors(t, err) {
		lines = append(lines, e.Line)
	}
	want := []int{lineOf(t, text, "createfolders = perhaps"), lineOf(t, text, "ssl = maybe"), lineOf(t, text, "remoteport = x")}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("error lines %v, want %v\n%v", lines, want, err)
	}
}

func TestErrorsInEveryAccount(t *testing.T) {
	text := "[general]\naccounts = A, B\n[Account A]\nlocalrepository = L\n[Repository L]\ntype = maildir\n"
	_, _, err := parseString(text)
	var got []string
	for _, e := range configErrors(t, err) {
		got = append(got, e.Error())
	}
	want := []string{
		`~/.offlineimaprc:2: [general] accounts names "B", but there is no [Account B] section`,
		"~/.offlineimaprc:3: [Account A] has no remoterepository; name the [Repository ...] section of the IMAP server, as in remoterepository = A-remote",
		"~/.offlineimaprc:6: [Repository L] type = maildir: unknown repository type; want Maildir or IMAP (type names are case-sensitive: write Maildir)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSyntaxErrorsComeAlone(t *testing.T) {
	_, _, err := parseString("[general]\nnonsense\n")
	errs := configErrors(t, err)
	if len(errs) != 1 || errs[0].Error() != "~/.offlineimaprc:2: line is neither a [section] nor key = value" {
		t.Errorf("errors: %v", err)
	}
}

func TestWarnings(t *testing.T) {
	text := `[general]
accounts = Test, Test
ignore-readonly = yes
acounts = typo
fsync = yes
pythonfile = ~/.offlineimap.py

[DEFAULT]
host = example.org
gmailtrashfolder = [Gmail]/Trash
folderfilter = lambda f: True
lonely = nobody uses me

[mbnames]
enabled = yes
filename = ~/.mutt/mailboxes
header = "mailboxes "
peritem = "+%(accountname)s/%(foldername)s"
sep = " "
footer = "\n"
sorting = yes

[Account Test]
localrepository = Local
remoterepository = Remote
maxsize = 5
remotehost = misplaced

[Account Unlisted]
localrepository = Local

[Repository Local]
type = Maildir
localfolders = Mail
sync_deletes = no
customflag_a = work

[Repository Remote]
type = IMAP
remotehost = imap.%(host)s
remoteuser = jane
sep = /
expunge = yes
nametrans = lambda f: f.replace('INBOX.', '')
usecompression = yes

[Repository Spare]
type = IMAP

[Ui.Curses.Blinkenlights]
statuschar = .

[Account  Test]
x = 1
`
	_, warnings, err := parseString(text)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	at := func(line, msg string) string {
		return fmt.Sprintf("~/.offlineimaprc:%d: %s", lineOf(t, text, line), msg)
	}
	want := []string{
		at("accounts = Test, Test", `[general] accounts names "Test" twice; it is synchronised once`),
		at("ignore-readonly = yes", "[general] option 'ignore-readonly' is not supported yet and is ignored"),
		at("acounts = typo", "[general] option 'acounts' is not an OfflineIMAP option (a typo?) and is ignored"),
		// fsync = yes is what mailtrail does anyway: no warning.
		at("pythonfile = ~/.offlineimap.py", "[general] option 'pythonfile' is not supported yet and is ignored (it is Python code, which mailtrail does not run)"),
		// host is used in a %(host)s reference: a variable, no warning.
		at("gmailtrashfolder = [Gmail]/Trash", "[DEFAULT] option 'gmailtrashfolder' is neither an option mailtrail reads nor used in a %(gmailtrashfolder)s reference, so it is ignored"),
		at("lonely = nobody uses me", "[DEFAULT] option 'lonely' is neither an option mailtrail reads nor used in a %(lonely)s reference, so it is ignored"),
		// [DEFAULT] folderfilter is not [mbnames]' own: not read there.
		at("sorting = yes", "[mbnames] option 'sorting' is not an OfflineIMAP option (a typo?) and is ignored"),
		at("remotehost = misplaced", "[Account Test] option 'remotehost' is read by mailtrail only in IMAP repository sections, so here it is ignored"),
		at("[Account Unlisted]", "[Account Unlisted] is not listed in [general] accounts, so it is ignored"),
		at("localfolders = Mail", "[Repository Local] localfolders = Mail is a relative path: it is taken relative to the directory mailtrail is started in"),
		at("sync_deletes = no", "[Repository Local] option 'sync_deletes' is not supported yet and is ignored: deletions ARE propagated to the other side"),
		at("customflag_a = work", "[Repository Local] option 'customflag_a' is not supported yet and is ignored: the keyword is not mapped to a Maildir flag letter"),
		at("sep = /", "[Repository Remote] option 'sep' is read by mailtrail only in Maildir repository and mbnames sections, so here it is ignored"),
		// expunge = yes is what mailtrail does anyway: no warning.
		at("usecompression = yes", "[Repository Remote] option 'usecompression' is not supported yet and is ignored"),
		at("[Repository Spare]", "[Repository Spare] is not used by any account listed in [general] accounts, so it is ignored"),
		at("[Ui.Curses.Blinkenlights]", "[Ui.Curses.Blinkenlights] is not a section mailtrail reads, so it is ignored"),
		at("[Account  Test]", "[Account  Test] is not listed in [general] accounts, so it is ignored"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range warnings {
		if w.File != "~/.offlineimaprc" || w.Section == "" || w.Line == 0 {
			t.Errorf("incomplete warning %+v", w)
		}
	}
	if w := warnings[1]; w.Section != "general" || w.Option != "ignore-readonly" {
		t.Errorf("warning fields %+v", w)
	}
}

func TestMbnamesDisabledIsQuiet(t *testing.T) {
	_, warnings, err := parseString(base + "\n[mbnames]\nenabled = no\nfilename = ~/x\nheader = \"mailboxes \"\n")
	if err != nil || len(warnings) != 0 {
		t.Errorf("%v %v", warnings, err)
	}
}

func TestSectionNameHints(t *testing.T) {
	_, warnings, err := parseString(base + "[repository Other]\ntype = IMAP\n[mbNames]\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 2 ||
		!strings.HasSuffix(warnings[0].Message, "(section names are case-sensitive and spaces count: write [Repository Name])") ||
		!strings.HasSuffix(warnings[1].Message, "(section names are case-sensitive: write [mbnames])") {
		t.Errorf("warnings %v", warnings)
	}
}

// TestFullConfig reads a realistic ~/.offlineimaprc (testdata) with HOME at
// testdata/home, where its password file and CA file are.
func TestFullConfig(t *testing.T) {
	home, err := filepath.Abs("testdata/home")
	if err != nil {
		t.Fatal(err)
	}
	env := MapEnv(map[string]string{"HOME": home, "XDG_STATE_HOME": "/var/state"})
	cfg, warnings, err := load("testdata/full.offlineimaprc", env)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/full.offlineimaprc")
	if cfg.Path != abs {
		t.Errorf("Path = %q", cfg.Path)
	}
	if !reflect.DeepEqual(cfg.General, General{
		Accounts: []string{"Personal", "Work"}, MaxSyncAccounts: 1,
		OfflineIMAPMetadata: home + "/.offlineimap", StateHome: "/var/state", SockTimeout: time.Minute,
		Extra: GeneralExtra{UI: "ttyui", PythonFile: home + "/.offlineimap.py"},
	}) {
		t.Errorf("general = %+v", cfg.General)
	}
	if got := cfg.General.StoreDir("Work"); got != "/var/state/mailtrail/Work" {
		t.Errorf("StoreDir = %q", got)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[0].Name != "Personal" || cfg.Accounts[1].Name != "Work" {
		t.Fatalf("accounts %v", cfg.Accounts)
	}
	p, w := cfg.Accounts[0], cfg.Accounts[1]
	want := map[string]*Repository{
		"Personal-Local": {Name: "Personal-Local", Line: 37, Type: Maildir, LocalFolders: home + "/Mail/Personal", Sep: "/", CreateFolders: true, MaxDelete: 50},
		"Personal-Remote": {Name: "Personal-Remote", Line: 43, Type: IMAP, RemoteHost: "imap.fastmail.com", RemotePort: 993,
			RemoteUser: "jane@fastmail.com", RemotePass: NewSecret("correct horse battery staple"), RemotePassFile: home + "/.mailpass-personal",
			SSL: true, STARTTLS: true, MaxConnections: 3, CreateFolders: true, MaxDelete: 50},
		"Work-Local": {Name: "Work-Local", Line: 60, Type: Maildir, LocalFolders: home + "/Mail/Work", Sep: ".", MaxDelete: 50},
		"Work-Remote": {Name: "Work-Remote", Line: 65, Type: IMAP, RemoteHost: "mail.corp.example", RemotePort: 1143,
			RemoteUser: "jdoe", RemotePass: NewSecret("100%-secret"), SSL: false, STARTTLS: true,
			SSLCACertFile: home + "/.certs/work-ca.pem", MaxConnections: 1, CreateFolders: true, ReadOnly: true, MaxDelete: 50,
			HoldConnectionOpen: true, KeepAlive: 60 * time.Second},
	}
	if f := p.Remote.FolderFilter; f == nil || !strings.Contains(f.Source(), "'Spam'") {
		t.Errorf("Personal-Remote folderfilter not compiled: %v", f)
	} else if ok, _ := f.CallBool("Spam"); ok {
		t.Errorf("Personal-Remote folderfilter keeps Spam")
	}
	want["Personal-Remote"].FolderFilter = p.Remote.FolderFilter
	for _, r := range []*Repository{p.Local, p.Remote} {
		if r.NameTrans == nil {
			t.Fatalf("%s nametrans not compiled", r.Name)
		}
		want[r.Name].NameTrans = r.NameTrans
	}
	if got, _ := p.Local.NameTrans.CallString("Sent"); got != "Sent Items" {
		t.Errorf("Personal-Local nametrans(Sent) = %q", got)
	}
	if got, _ := p.Remote.NameTrans.CallString("Sent Items"); got != "Sent" {
		t.Errorf("Personal-Remote nametrans(Sent Items) = %q", got)
	}
	if p.Extra != (AccountExtra{AutoRefresh: 5 * time.Minute, PostSyncHook: "notmuch new"}) {
		t.Errorf("Personal account extras %+v", p.Extra)
	}
	if cfg.General.Extra.UI != "ttyui" || !strings.HasSuffix(cfg.General.Extra.PythonFile, "/.offlineimap.py") {
		t.Errorf("general extras %+v", cfg.General.Extra)
	}
	for _, r := range []*Repository{p.Local, p.Remote, w.Local, w.Remote} {
		if !reflect.DeepEqual(r, want[r.Name]) {
			t.Errorf("%s:\n got %#v\nwant %#v", r.Name, *r, *want[r.Name])
		}
	}
	var got []string
	for _, w := range warnings {
		got = append(got, fmt.Sprintf("%d %s %s", w.Line, w.Section, w.Option))
	}
	wantWarnings := []string{
		"12 general pythonfile",
		"80 ui.Curses.Blinkenlights ",
	}
	if !reflect.DeepEqual(got, wantWarnings) {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantWarnings, "\n"))
	}
	if want := "full.offlineimaprc:12: [general] option 'pythonfile' is not supported yet and is ignored (it is Python code, which mailtrail does not run)"; !strings.HasSuffix(warnings[0].String(), want) {
		t.Errorf("warning %q", warnings[0])
	}
}

// TestOfflineIMAPReferenceConfigs reads the configurations OfflineIMAP
// ships as documentation, when they are installed.
func TestOfflineIMAPReferenceConfigs(t *testing.T) {
	env := MapEnv(map[string]string{"HOME": "/home/u"})
	for _, path := range []string{"/usr/share/doc/offlineimap3/examples/offlineimap.conf", "/usr/share/doc/offlineimap3/examples/offlineimap.conf.minimal"} {
		if _, err := os.Stat(path); err != nil {
			t.Skipf("%s is not installed", path)
		}
		cfg, warnings, err := load(path, env)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		a := cfg.Account("Test")
		if a == nil || a.Local.Type != Maildir || a.Local.LocalFolders != "/home/u/Test" || a.Remote.Type != IMAP ||
			a.Remote.RemoteHost != "examplehost" || a.Remote.RemotePort != 993 || a.Remote.RemotePass.IsSet() {
			t.Errorf("%s: %s", path, cfg)
		}
		// The full reference file also defines Gmail repositories no
		// account uses: they are reported, not refused.
		for _, w := range warnings {
			if !strings.Contains(w.Message, "is not used by any account") {
				t.Errorf("%s: unexpected warning %s", path, w)
			}
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	home := t.TempDir()
	env := MapEnv(map[string]string{"HOME": home})
	if err := os.WriteFile(filepath.Join(home, ".offlineimaprc"), []byte("[general]\naccounts = A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := load("~/.offlineimaprc", env)
	if err == nil || err.Error() != `~/.offlineimaprc:2: [general] accounts names "A", but there is no [Account A] section` {
		t.Errorf("error %v", err)
	}
	_, _, err = load("~/missing", env)
	var ce *Error
	if !errors.As(err, &ce) || ce.File != "~/missing" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	env := MapEnv(map[string]string{"HOME": home})
	if got := DefaultPath(env); got != home+"/.offlineimaprc" {
		t.Errorf("DefaultPath = %q", got)
	}
	xdg := filepath.Join(home, ".config", "offlineimap", "config")
	if err := os.MkdirAll(filepath.Dir(xdg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(xdg, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultPath(env); got != xdg {
		t.Errorf("DefaultPath = %q, want %q", got, xdg)
	}
	other := filepath.Join(home, "x")
	env = MapEnv(map[string]string{"HOME": home, "XDG_CONFIG_HOME": other})
	if got := DefaultPath(env); got != home+"/.offlineimaprc" {
		t.Errorf("DefaultPath with XDG_CONFIG_HOME = %q", got)
	}
}

func TestUnsafeOptionsAreMarked(t *testing.T) {
	text := base + `nametrans = lambda f: f
folderfilter = lambda f: f != 'Spam'
sync_deletes = no
expunge = no
maxage = 30
`
	_, warnings, err := parseString(text)
	if err != nil {
		t.Fatal(err)
	}
	unsafe := map[string]bool{}
	for _, w := range warnings {
		if w.Unsafe {
			unsafe[w.Option] = true
		}
		if w.Option == "expunge" {
			t.Errorf("expunge = no is what mailtrail does; no warning wanted: %s", w)
		}
	}
	if unsafe["nametrans"] {
		t.Errorf("nametrans marked unsafe: it is read now")
	}
	for _, o := range []string{"sync_deletes"} {
		if !unsafe[o] {
			t.Errorf("%s not marked unsafe (warnings %v)", o, warnings)
		}
	}
	if unsafe["maxage"] {
		t.Errorf("maxage marked unsafe: ignoring it loses nothing")
	}
}

func TestSockTimeout(t *testing.T) {
	c, _, err := parseString(strings.Replace(base, "accounts = Test", "accounts = Test\nsocktimeout = 15", 1))
	if err != nil {
		t.Fatal(err)
	}
	if c.General.SockTimeout != 15*time.Second {
		t.Fatalf("socktimeout: %v", c.General.SockTimeout)
	}
	c, _, _ = parseString(base)
	if c.General.SockTimeout != 0 {
		t.Fatalf("default socktimeout: %v", c.General.SockTimeout)
	}
	_, _, err = parseString(strings.Replace(base, "accounts = Test", "accounts = Test\nsocktimeout = soon", 1))
	if err == nil || !strings.Contains(err.Error(), "socktimeout = soon") {
		t.Fatalf("bad socktimeout: %v", err)
	}
}

func TestOverrides(t *testing.T) {
	for _, c := range []struct {
		arg  string
		want Override
	}{
		{"maxsyncaccounts=3", Override{"general", "maxsyncaccounts", "3"}},
		{"Repository Remote:remotehost=imap.other.org", Override{"Repository Remote", "remotehost", "imap.other.org"}},
		{"Account Test:localrepository = Local", Override{"Account Test", "localrepository", "Local"}},
	} {
		got, err := ParseOverride(c.arg)
		if err != nil || got != c.want {
			t.Errorf("ParseOverride(%q) = %+v, %v; want %+v", c.arg, got, err, c.want)
		}
	}
	for _, bad := range []string{"novalue", "=x", ":opt=x", "sec:=x"} {
		if _, err := ParseOverride(bad); err == nil {
			t.Errorf("ParseOverride(%q) accepted", bad)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rc")
	os.WriteFile(path, []byte(base), 0o600)
	ovs := []Override{{"Repository Remote", "remotehost", "imap.other.org"}, {"general", "maxsyncaccounts", "4"},
		{"Repository Remote", "remotepass", "x"}}
	cfg, _, err := LoadWithOverrides(path, ovs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Accounts[0].Remote.RemoteHost != "imap.other.org" || cfg.General.MaxSyncAccounts != 4 {
		t.Fatalf("overrides not applied: host %s, maxsyncaccounts %d", cfg.Accounts[0].Remote.RemoteHost, cfg.General.MaxSyncAccounts)
	}
	if _, _, err := LoadWithOverrides(path, []Override{{"Repository Remote", "ssl", "maybe"}}); err == nil || !strings.Contains(err.Error(), "ssl = maybe") {
		t.Fatalf("bad override value: %v", err)
	}
}

func TestWindowOptions(t *testing.T) {
	acct := strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote\nmaxage = 30\nmaxsize = 2000000", 1)
	c, _, err := parseString(acct)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accounts[0]
	if a.Extra.MaxAgeDays != 30 || a.Extra.MaxSize != 2000000 {
		t.Fatalf("maxage/maxsize read as %+v", a.Extra)
	}
	now := time.Date(2026, 3, 31, 15, 4, 5, 0, time.Local)
	if got := a.Extra.Cutoff(now); !got.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local)) {
		t.Fatalf("cutoff of maxage = 30 on 2026-03-31: %v", got)
	}
	c, _, err = parseString(strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote\nmaxage = 2025-04-01", 1))
	if err != nil || !c.Accounts[0].Extra.MaxAgeDate.Equal(time.Date(2025, 4, 1, 0, 0, 0, 0, time.Local)) {
		t.Fatalf("maxage as a date: %v %+v", err, c)
	}
	for _, bad := range []struct{ text, want string }{
		{strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote\nmaxage = soon", 1), "want a number of days"},
		{strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote\nmaxsize = -3", 1), "want a size in bytes"},
		{strings.Replace(base, "remoterepository = Remote", "remoterepository = Remote\nmaxage = 3", 1) + "startdate = 2025-01-01\n", "maxage cannot be used with startdate"},
		{base + "startdate = 1.1.2025\n", "want a date yyyy-mm-dd"},
	} {
		if _, _, err := parseString(bad.text); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("want an error containing %q, got %v", bad.want, err)
		}
	}
}
