package config

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// maxConfigBytes bounds how much of a configuration file is read; a real
// ~/.offlineimaprc is a few kilobytes.
const maxConfigBytes = 8 << 20

// maxInterpolationDepth is Python configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// defaultSection is the name of the section every other section inherits
// from. It is case-sensitive, as in Python.
const defaultSection = "DEFAULT"

// iniFile is one configuration file as Python's configparser.ConfigParser
// (the parser OfflineIMAP uses, with its defaults: strict, '=' and ':' as
// delimiters, '#' and ';' full-line comments, no inline comments, empty
// lines allowed inside values, BasicInterpolation) reads it. Values are
// kept raw; interpolation happens when a value is read, as in Python, so a
// broken %(...)s in an option nobody reads is not an error.
type iniFile struct {
	name     string
	defaults *iniSection   // [DEFAULT]; never nil, line 0 when absent
	sections []*iniSection // in order of appearance, without DEFAULT
	byName   map[string]*iniSection
	warnings []Warning // about the syntax: text Python ignores
}

// iniSection is one [section]. Section names are case-sensitive.
type iniSection struct {
	name    string
	line    int          // line of the header
	options []*iniOption // in order of appearance
	byKey   map[string]*iniOption
}

// iniOption is one key = value, with the line it starts on.
type iniOption struct {
	key   string // lower-cased, as Python's optionxform does
	line  int
	value string   // raw: continuation lines joined with "\n"
	parts []string // the lines of the value while parsing
}

func newSection(name string, line int) *iniSection {
	return &iniSection{name: name, line: line, byKey: map[string]*iniOption{}}
}

// parseINI reads a whole file. It returns every syntax error it finds, each
// an *Error naming the file and line, rather than stopping at the first.
func parseINI(name string, r io.Reader) (*iniFile, []*Error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return nil, []*Error{&Error{File: name, Msg: "cannot read the configuration file", Err: err}}
	}
	if len(data) > maxConfigBytes {
		return nil, []*Error{&Error{File: name, Msg: fmt.Sprintf("larger than %d bytes; is this really a configuration file?", maxConfigBytes)}}
	}
	text := strings.TrimPrefix(string(data), "\ufeff")
	// Python reads text files with universal newlines.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")

	f := &iniFile{
		name:     name,
		defaults: newSection(defaultSection, 0),
		byName:   map[string]*iniSection{},
	}
	var (
		errs        []*Error
		cur         *iniSection // nil before the first header
		curOpt      *iniOption  // the option continuation lines extend
		indent      int         // indentation of the last non-continuation line
		missingHead bool        // reported "no section header" already
	)
	fail := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for i, line := range lines {
		lineno := i + 1
		stripped := strings.TrimSpace(line)
		comment := strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";")
		if stripped == "" || comment {
			// An empty line belongs to the value being continued (it is
			// kept if more continuation lines follow); a comment line does
			// not, and does not end the value either.
			if !comment && curOpt != nil {
				curOpt.parts = append(curOpt.parts, "")
			}
			continue
		}
		lineIndent := indentation(line)
		if curOpt != nil && lineIndent > indent {
			curOpt.parts = append(curOpt.parts, stripped)
			continue
		}
		indent = lineIndent
		curOpt = nil

		if header, rest, ok := sectionHeader(stripped); ok {
			if header == defaultSection {
				// [DEFAULT] may appear several times; its options merge.
				if f.defaults.line == 0 {
					f.defaults.line = lineno
				}
				cur = f.defaults
			} else if prev, dup := f.byName[header]; dup {
				fail(lineno, "section [%s] appears a second time (first on line %d); merge the two", header, prev.line)
				cur = nil
				missingHead = true // skip its options quietly
				continue
			} else {
				cur = newSection(header, lineno)
				f.sections = append(f.sections, cur)
				f.byName[header] = cur
			}
			missingHead = false
			if rest != "" {
				f.warnings = append(f.warnings, Warning{File: name, Line: lineno, Section: header,
					Message: fmt.Sprintf("[%s] the text %q after the section header is ignored (by OfflineIMAP too); comments go on lines of their own", header, rest)})
			}
			continue
		}
		if cur == nil {
			if !missingHead {
				fail(lineno, "line is not a [section] header, and there is no section above it; a configuration starts with a header such as [general]")
				missingHead = true
			}
			continue
		}
		key, value, ok := splitOption(stripped)
		if !ok {
			fail(lineno, "line is neither a [section] nor key = value")
			continue
		}
		if key == "" {
			fail(lineno, "line has no option name before the '=' or ':'")
			continue
		}
		if prev, dup := cur.byKey[key]; dup {
			fail(lineno, "[%s] option '%s' is set a second time (first on line %d); keep one", cur.name, key, prev.line)
			continue
		}
		opt := &iniOption{key: key, line: lineno, parts: []string{value}}
		cur.options = append(cur.options, opt)
		cur.byKey[key] = opt
		curOpt = opt
	}
	for _, s := range append([]*iniSection{f.defaults}, f.sections...) {
		for _, o := range s.options {
			o.value = strings.TrimRightFunc(strings.Join(o.parts, "\n"), unicode.IsSpace)
			o.parts = nil
		}
	}
	return f, errs
}

// indentation counts the characters before the first non-space character,
// as Python's NONSPACECRE.search(line).start() does.
func indentation(line string) int {
	n := 0
	for _, r := range line {
		if !unicode.IsSpace(r) {
			return n
		}
		n++
	}
	return 0
}

// sectionHeader matches Python's SECTCRE, `\[(?P<header>.+)\]`, against a
// stripped line: the name runs to the last ']' and anything after it is
// ignored by Python (returned in rest so that it can be reported).
func sectionHeader(stripped string) (name, rest string, ok bool) {
	if !strings.HasPrefix(stripped, "[") {
		return "", "", false
	}
	end := strings.LastIndexByte(stripped, ']')
	if end < 2 {
		return "", "", false
	}
	return stripped[1:end], strings.TrimSpace(stripped[end+1:]), true
}

// splitOption matches Python's OPTCRE on a stripped line: the key ends at
// the first '=' or ':', whichever comes first.
func splitOption(stripped string) (key, value string, ok bool) {
	i := strings.IndexAny(stripped, "=:")
	if i < 0 {
		return "", "", false
	}
	key = strings.ToLower(strings.TrimRightFunc(stripped[:i], unicode.IsSpace))
	value = strings.TrimSpace(stripped[i+1:])
	return key, value, true
}

// lookup finds key in sec, then in [DEFAULT].
func (f *iniFile) lookup(sec *iniSection, key string) *iniOption {
	if o, ok := sec.byKey[key]; ok {
		return o
	}
	return f.defaults.byKey[key]
}

// interpolate expands %(name)s references and %% in opt's value as read in
// section sec, as Python's BasicInterpolation does: names are looked up in
// sec, then in [DEFAULT], and expanded recursively. When secret is set the
// error never quotes any part of the value.
func (f *iniFile) interpolate(sec *iniSection, opt *iniOption, secret bool) (string, error) {
	var out strings.Builder
	if err := f.interpolateInto(&out, sec, opt.value, 1, secret); err != nil {
		return "", err
	}
	return out.String(), nil
}

func (f *iniFile) interpolateInto(out *strings.Builder, sec *iniSection, rest string, depth int, secret bool) error {
	if depth > maxInterpolationDepth {
		return fmt.Errorf("%%(name)s references nest deeper than %d levels; is there a loop?", maxInterpolationDepth)
	}
	quote := func(s string) string {
		if secret {
			return ""
		}
		return fmt.Sprintf(" (at %q)", s)
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			out.WriteString(rest)
			return nil
		}
		out.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			out.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Errorf("bad reference%s: write %%(name)s, or %%%% for a literal %%", quote(rest))
			}
			name := strings.ToLower(rest[2:end])
			rest = rest[end+2:]
			ref := f.lookup(sec, name)
			if ref == nil {
				if secret {
					return fmt.Errorf("a %%(name)s reference names an option that is set neither in [%s] nor in [DEFAULT]; write %%%% for a literal %%", sec.name)
				}
				return fmt.Errorf("%%(%s)s refers to an option that is set neither in [%s] nor in [DEFAULT]", name, sec.name)
			}
			if !strings.Contains(ref.value, "%") {
				out.WriteString(ref.value)
				continue
			}
			if err := f.interpolateInto(out, sec, ref.value, depth+1, secret); err != nil {
				return err
			}
		default:
			return fmt.Errorf("'%%' must be followed by '%%' or '('%s; write %%%% for a literal %%", quote(rest))
		}
	}
	return nil
}

// references lists every name used in a %(name)s anywhere in the file,
// lower-cased. An option so referenced is a variable for interpolation, not
// a setting, and gets no "unsupported option" warning.
func (f *iniFile) references() map[string]bool {
	refs := map[string]bool{}
	for _, s := range append([]*iniSection{f.defaults}, f.sections...) {
		for _, o := range s.options {
			v := o.value
			for {
				i := strings.Index(v, "%(")
				if i < 0 {
					break
				}
				run := 0 // '%' characters right before this one
				for j := i - 1; j >= 0 && v[j] == '%'; j-- {
					run++
				}
				if run%2 == 1 {
					// "%%(" is a literal "%(".
					v = v[i+2:]
					continue
				}
				v = v[i+2:]
				if end := strings.Index(v, ")s"); end > 0 {
					refs[strings.ToLower(v[:end])] = true
					v = v[end+2:]
				}
			}
		}
	}
	return refs
}
