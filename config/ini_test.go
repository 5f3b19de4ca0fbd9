package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawValues flattens a parsed file to "section/key" → raw value.
func rawValues(f *iniFile) map[string]string {
	out := map[string]string{}
	for _, s := range append([]*iniSection{f.defaults}, f.sections...) {
		for _, o := range s.options {
			out[s.name+"/"+o.key] = o.value
		}
	}
	return out
}

func TestParseINISyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "[s]\nkey = value\n", map[string]string{"s/key": "value"}},
		{"colon", "[s]\nkey: value\n", map[string]string{"s/key": "value"}},
		{"no spaces", "[s]\nkey=value\n", map[string]string{"s/key": "value"}},
		{"first delimiter wins, '='", "[s]\nk = a: b\n", map[string]string{"s/k": "a: b"}},
		{"first delimiter wins, ':'", "[s]\nk: a = b\n", map[string]string{"s/k": "a = b"}},
		{"keys are lower-cased, values are not", "[s]\nRemoteHost = IMAP.Example.ORG\n", map[string]string{"s/remotehost": "IMAP.Example.ORG"}},
		{"key with inner spaces", "[s]\nignore readonly = yes\n", map[string]string{"s/ignore readonly": "yes"}},
		{"empty value", "[s]\nk =\n", map[string]string{"s/k": ""}},
		{"value is trimmed", "[s]\nk =   v  \t\n", map[string]string{"s/k": "v"}},
		{"hash comment", "[s]\n# k = 1\nk = 2\n", map[string]string{"s/k": "2"}},
		{"semicolon comment", "[s]\n; k = 1\nk = 2\n", map[string]string{"s/k": "2"}},
		{"indented comment", "[s]\n   # k = 1\nk = 2\n", map[string]string{"s/k": "2"}},
		{"no inline comments", "[s]\nk = v # not a comment\n", map[string]string{"s/k": "v # not a comment"}},
		{"continuation", "[s]\nk = a\n  b\n  c\nj = d\n", map[string]string{"s/k": "a\nb\nc", "s/j": "d"}},
		{"continuation with a tab", "[s]\nk = a\n\tb\n", map[string]string{"s/k": "a\nb"}},
		{"blank line inside a continuation is kept", "[s]\nk = a\n\n  b\n", map[string]string{"s/k": "a\n\nb"}},
		{"trailing blank lines are dropped", "[s]\nk = a\n\n\nj = b\n", map[string]string{"s/k": "a", "s/j": "b"}},
		{"comment inside a continuation is skipped", "[s]\nk = a\n  # c\n  b\n", map[string]string{"s/k": "a\nb"}},
		{"indented key after a header is a key", "[s]\n  k = a\n  j = b\n", map[string]string{"s/k": "a", "s/j": "b"}},
		{"deeper than an indented key continues it", "[s]\n  k = a\n    j = b\n", map[string]string{"s/k": "a\nj = b"}},
		{"indented header-like line continues", "[s]\nk = a\n  [t]\n", map[string]string{"s/k": "a\n[t]"}},
		{"header name runs to the last ]", "[a]b]\nk = 1\n", map[string]string{"a]b/k": "1"}},
		{"header spaces are kept", "[Account  Two Words ]\nk = 1\n", map[string]string{"Account  Two Words /k": "1"}},
		{"DEFAULT", "[DEFAULT]\nk = 1\n[s]\nj = 2\n", map[string]string{"DEFAULT/k": "1", "s/j": "2"}},
		{"DEFAULT twice merges", "[DEFAULT]\nk = 1\n[s]\n[DEFAULT]\nj = 2\n", map[string]string{"DEFAULT/k": "1", "DEFAULT/j": "2"}},
		{"CRLF", "[s]\r\nk = a\r\n  b\r\n", map[string]string{"s/k": "a\nb"}},
		{"BOM", "\ufeff[s]\nk = 1\n", map[string]string{"s/k": "1"}},
		{"no final newline", "[s]\nk = 1", map[string]string{"s/k": "1"}},
		{"same key in two sections", "[s]\nk = 1\n[t]\nk = 2\n", map[string]string{"s/k": "1", "t/k": "2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errs := parseINI("x", strings.NewReader(tt.in))
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if got := rawValues(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseINILineNumbers(t *testing.T) {
	f, errs := parseINI("x", strings.NewReader("# c\n\n[general]\naccounts = A\n  B\n\n[DEFAULT]\nd = 1\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	g := f.byName["general"]
	if g.line != 3 || g.byKey["accounts"].line != 4 || f.defaults.line != 7 || f.defaults.byKey["d"].line != 8 {
		t.Errorf("lines: general %d, accounts %d, DEFAULT %d, d %d; want 3, 4, 7, 8",
			g.line, g.byKey["accounts"].line, f.defaults.line, f.defaults.byKey["d"].line)
	}
}

func TestParseINIHeaderJunkIsAWarning(t *testing.T) {
	f, errs := parseINI("rc", strings.NewReader("[s]\n[general] ; main\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if f.byName["general"] == nil {
		t.Fatal("no [general]")
	}
	if len(f.warnings) != 1 || f.warnings[0].Line != 2 || !strings.Contains(f.warnings[0].String(), `rc:2: [general] the text "; main" after the section header is ignored`) {
		t.Errorf("warnings = %v", f.warnings)
	}
}

func TestParseINIErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "line: substring", in order
	}{
		{"no section", "# c\nk = v\n[s]\n", []string{"2: line is not a [section] header, and there is no section above it"}},
		{"no section, reported once", "k = v\nj = w\n", []string{"1: line is not a [section] header"}},
		{"not key = value", "[general]\naccounts = A\nfoo bar\n", []string{"3: line is neither a [section] nor key = value"}},
		{"every bad line", "[s]\nfoo\nk = 1\nbar\n", []string{"2: line is neither", "4: line is neither"}},
		{"empty header", "[]\n", []string{"1: line is not a [section] header"}},
		{"empty key", "[s]\n= v\n", []string{"2: line has no option name before the '=' or ':'"}},
		{"duplicate section", "[s]\n\n[s]\n", []string{"3: section [s] appears a second time (first on line 1)"}},
		{"duplicate key, any case", "[s]\nk = 1\nK = 2\n", []string{"3: [s] option 'k' is set a second time (first on line 2)"}},
		{"duplicate key in DEFAULT across headers", "[DEFAULT]\nk = 1\n[DEFAULT]\nk = 2\n", []string{"4: [DEFAULT] option 'k' is set a second time (first on line 2)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := parseINI("~/.offlineimaprc", strings.NewReader(tt.in))
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.want))
			}
			for i, w := range tt.want {
				line, sub, _ := strings.Cut(w, ": ")
				wantPrefix := "~/.offlineimaprc:" + line + ": "
				if msg := errs[i].Error(); !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, sub) {
					t.Errorf("error %d = %q, want prefix %q containing %q", i, msg, wantPrefix, sub)
				}
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	const in = `[DEFAULT]
base = /srv/mail
Who = world
greeting = hello %(who)s

[s]
who = section
plain = no references
literal = 100%% sure
ref = %(base)s/x
Upper = %(BASE)s
nested = say %(greeting)s
chain = %(ref)s/y
double = %%%(who)s%%
bad_percent = 50% off
missing = %(nowhere)s
not_s = %(who)d
unterminated = %(who
loop = %(loop)s
pass = pw%(zq9)s%x
`
	f, errs := parseINI("x", strings.NewReader(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	sec := f.byName["s"]
	tests := []struct {
		key, want, wantErr string
	}{
		{key: "plain", want: "no references"},
		{key: "literal", want: "100% sure"},
		{key: "ref", want: "/srv/mail/x"},
		{key: "upper", want: "/srv/mail"},
		{key: "nested", want: "say hello section"}, // %(who)s resolves in [s], not [DEFAULT]
		{key: "chain", want: "/srv/mail/x/y"},
		{key: "double", want: "%section%"},
		{key: "greeting", want: "hello section"}, // inherited, interpolated in [s]
		{key: "bad_percent", wantErr: `'%' must be followed by '%' or '(' (at "% off")`},
		{key: "missing", wantErr: "%(nowhere)s refers to an option that is set neither in [s] nor in [DEFAULT]"},
		{key: "not_s", wantErr: `bad reference (at "%(who)d")`},
		{key: "unterminated", wantErr: "bad reference"},
		{key: "loop", wantErr: "deeper than 10 levels"},
	}
	for _, tt := range tests {
		got, err := f.interpolate(sec, f.lookup(sec, tt.key), false)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: got %q, %v; want error containing %q", tt.key, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	// A secret's error quotes no part of it, not even a reference name.
	_, err := f.interpolate(sec, f.lookup(sec, "pass"), true)
	if err == nil || strings.Contains(err.Error(), "zq9") || strings.Contains(err.Error(), "pw") {
		t.Errorf("secret interpolation error = %v; want an error quoting nothing of the value", err)
	}
}

func TestReferences(t *testing.T) {
	f, errs := parseINI("x", strings.NewReader("[s]\na = %(One)s %%(two)s %%%(three)s\nb = %(four\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := map[string]bool{"one": true, "three": true}
	if got := f.references(); !reflect.DeepEqual(got, want) {
		t.Errorf("references = %v, want %v", got, want)
	}
}

// oracleResult is what testdata/configparser_oracle.py prints for a file.
type oracleResult struct {
	ErrorLine int                 `json:"error_line"`
	Sections  [][]json.RawMessage `json:"sections"`
}

// goResult builds the same shape from the Go parser.
func goResult(t *testing.T, path string) (errLine int, sections [][]any) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, errs := parseINI(path, bytes.NewReader(data))
	if len(errs) > 0 {
		return errs[0].Line, nil
	}
	for _, s := range append([]*iniSection{f.defaults}, f.sections...) {
		opts := []any{}
		add := func(o *iniOption) {
			var val any
			if s != f.defaults {
				if v, err := f.interpolate(s, o, false); err == nil {
					val = v
				}
			}
			opts = append(opts, []any{o.key, o.value, val})
		}
		for _, o := range s.options {
			add(o)
		}
		if s != f.defaults {
			for _, o := range f.defaults.options {
				if s.byKey[o.key] == nil {
					add(o)
				}
			}
		}
		sections = append(sections, []any{s.name, opts})
	}
	return 0, sections
}

// TestAgainstPython reads every file in testdata/syntax, the realistic
// configuration and OfflineIMAP's reference configuration with both this
// parser and Python's configparser, and requires the same sections, keys,
// raw values, interpolated values (or failures), and first error line.
func TestAgainstPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	files, _ := filepath.Glob("testdata/syntax/*.ini")
	files = append(files, "testdata/full.offlineimaprc")
	for _, ref := range []string{"/usr/share/doc/offlineimap3/examples/offlineimap.conf", "/usr/share/doc/offlineimap3/examples/offlineimap.conf.minimal"} {
		if _, err := os.Stat(ref); err == nil {
			files = append(files, ref)
		}
	}
	out, err := exec.Command(python, append([]string{"testdata/configparser_oracle.py"}, files...)...).Output()
	if err != nil {
		t.Fatalf("configparser_oracle.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(files) {
		t.Fatalf("oracle printed %d results for %d files", len(lines), len(files))
	}
	for i, path := range files {
		var want oracleResult
		if err := json.Unmarshal([]byte(lines[i]), &want); err != nil {
			t.Fatal(err)
		}
		gotLine, gotSections := goResult(t, path)
		if gotLine != want.ErrorLine {
			t.Errorf("%s: first error on line %d, Python says %d", path, gotLine, want.ErrorLine)
			continue
		}
		if want.ErrorLine != 0 {
			continue
		}
		gotJSON, _ := json.Marshal(gotSections)
		wantJSON, _ := json.Marshal(want.Sections)
		if !bytes.Equal(gotJSON, wantJSON) {
			t.Errorf("%s:\n got  %s\n want %s", path, gotJSON, wantJSON)
		}
	}
}

func TestErrorUnwrap(t *testing.T) {
	e := &Error{File: "f", Line: 3, Msg: "m", Err: os.ErrNotExist}
	if !errors.Is(e, os.ErrNotExist) || e.Error() != "f:3: m: file does not exist" {
		t.Errorf("got %q", e.Error())
	}
}
