package lambda

import (
	"fmt"
	"regexp"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Python re flags, with Python's values.
const (
	flagI = 2
	flagM = 8
	flagS = 16
	flagX = 64
)

var reModule = &starlarkstruct.Module{
	Name: "re",
	Members: starlark.StringDict{
		"search":     starlark.NewBuiltin("re.search", reSearch("search")),
		"match":      starlark.NewBuiltin("re.match", reSearch("match")),
		"fullmatch":  starlark.NewBuiltin("re.fullmatch", reSearch("fullmatch")),
		"sub":        starlark.NewBuiltin("re.sub", reSub),
		"split":      starlark.NewBuiltin("re.split", reSplit),
		"findall":    starlark.NewBuiltin("re.findall", reFindall),
		"compile":    starlark.NewBuiltin("re.compile", reCompile),
		"escape":     starlark.NewBuiltin("re.escape", reEscape),
		"I":          starlark.MakeInt(flagI),
		"IGNORECASE": starlark.MakeInt(flagI),
		"M":          starlark.MakeInt(flagM),
		"MULTILINE":  starlark.MakeInt(flagM),
		"S":          starlark.MakeInt(flagS),
		"DOTALL":     starlark.MakeInt(flagS),
	},
}

// compilePattern turns a Python pattern into a Go regexp, or explains why
// it cannot.
func compilePattern(pat string, flags int) (*regexp.Regexp, error) {
	prefix := ""
	if flags&flagI != 0 {
		prefix += "i"
	}
	if flags&flagM != 0 {
		prefix += "m"
	}
	if flags&flagS != 0 {
		prefix += "s"
	}
	if flags&flagX != 0 {
		return nil, fmt.Errorf("re.VERBOSE is not supported; write the pattern on one line")
	}
	goPat := pat
	if prefix != "" {
		goPat = "(?" + prefix + ")" + pat
	}
	re, err := regexp.Compile(goPat)
	if err != nil {
		hint := ""
		if strings.Contains(pat, "(?=") || strings.Contains(pat, "(?!") || strings.Contains(pat, "(?<") {
			hint = " (look-ahead and look-behind are not available: Go's regexp is RE2)"
		}
		return nil, fmt.Errorf("pattern %q: %v%s", pat, err, hint)
	}
	return re, nil
}

// pattern is a compiled re object.
type pattern struct {
	src string
	re  *regexp.Regexp
}

func (p *pattern) String() string        { return fmt.Sprintf("re.compile(%q)", p.src) }
func (p *pattern) Type() string          { return "re.Pattern" }
func (p *pattern) Freeze()               {}
func (p *pattern) Truth() starlark.Bool  { return true }
func (p *pattern) Hash() (uint32, error) { return starlark.String(p.src).Hash() }
func (p *pattern) AttrNames() []string {
	return []string{"search", "match", "fullmatch", "sub", "split", "findall", "pattern"}
}

func (p *pattern) Attr(name string) (starlark.Value, error) {
	bind := func(fn func(re *regexp.Regexp, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)) starlark.Value {
		return starlark.NewBuiltin("re.Pattern."+name, func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			return fn(p.re, args, kwargs)
		})
	}
	switch name {
	case "search", "match", "fullmatch":
		mode := name
		return bind(func(re *regexp.Regexp, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var s string
			if err := starlark.UnpackPositionalArgs("re.Pattern."+mode, args, kw, 1, &s); err != nil {
				return nil, err
			}
			return doMatch(re, mode, s), nil
		}), nil
	case "sub":
		return bind(func(re *regexp.Regexp, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var repl, s string
			count := 0
			if err := starlark.UnpackArgs("re.Pattern.sub", args, kw, "repl", &repl, "string", &s, "count?", &count); err != nil {
				return nil, err
			}
			return doSub(re, repl, s, count)
		}), nil
	case "split":
		return bind(func(re *regexp.Regexp, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var s string
			if err := starlark.UnpackPositionalArgs("re.Pattern.split", args, kw, 1, &s); err != nil {
				return nil, err
			}
			return doSplit(re, s), nil
		}), nil
	case "findall":
		return bind(func(re *regexp.Regexp, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var s string
			if err := starlark.UnpackPositionalArgs("re.Pattern.findall", args, kw, 1, &s); err != nil {
				return nil, err
			}
			return doFindall(re, s), nil
		}), nil
	case "pattern":
		return starlark.String(p.src), nil
	}
	return nil, nil
}

// match is a match object: truthy, with group() and groups().
type match struct {
	s   string
	idx []int
}

func (m *match) String() string        { return fmt.Sprintf("<re.Match %q>", m.s[m.idx[0]:m.idx[1]]) }
func (m *match) Type() string          { return "re.Match" }
func (m *match) Freeze()               {}
func (m *match) Truth() starlark.Bool  { return true }
func (m *match) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: re.Match") }
func (m *match) AttrNames() []string   { return []string{"group", "groups", "start", "end"} }

func (m *match) group(i int) starlark.Value {
	if 2*i+1 >= len(m.idx) || m.idx[2*i] < 0 {
		return starlark.None
	}
	return starlark.String(m.s[m.idx[2*i]:m.idx[2*i+1]])
}

func (m *match) Attr(name string) (starlark.Value, error) {
	switch name {
	case "group":
		return starlark.NewBuiltin("re.Match.group", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			i := 0
			if err := starlark.UnpackPositionalArgs("group", args, kw, 0, &i); err != nil {
				return nil, err
			}
			if i < 0 || 2*i+1 >= len(m.idx) {
				return nil, fmt.Errorf("no such group: %d", i)
			}
			return m.group(i), nil
		}), nil
	case "groups":
		return starlark.NewBuiltin("re.Match.groups", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var out starlark.Tuple
			for i := 1; 2*i+1 < len(m.idx); i++ {
				out = append(out, m.group(i))
			}
			return out, nil
		}), nil
	case "start", "end":
		pos := m.idx[0]
		if name == "end" {
			pos = m.idx[1]
		}
		return starlark.NewBuiltin("re.Match."+name, func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.MakeInt(pos), nil
		}), nil
	}
	return nil, nil
}

func doMatch(re *regexp.Regexp, mode, s string) starlark.Value {
	idx := re.FindStringSubmatchIndex(s)
	if idx == nil {
		return starlark.None
	}
	switch mode {
	case "match", "fullmatch":
		// Python's match is anchored at the start; find a match that
		// starts at 0 by anchoring the pattern.
		anchored := regexp.MustCompile(`^(?:` + re.String() + `)`)
		if mode == "fullmatch" {
			anchored = regexp.MustCompile(`^(?:` + re.String() + `)$`)
		}
		idx = anchored.FindStringSubmatchIndex(s)
		if idx == nil {
			return starlark.None
		}
		// Drop the anchoring group's effect: it adds none (non-capturing).
	}
	return &match{s: s, idx: idx}
}

// pythonRepl turns a Python replacement ("\1", "\g<1>", "\g<name>") into
// Go's expansion syntax, escaping '$'.
func pythonRepl(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9':
			j := i + 1
			for j < len(repl) && j < i+3 && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			b.WriteString("${" + repl[i+1:j] + "}")
			i = j - 1
		case c == '\\' && strings.HasPrefix(repl[i:], `\g<`):
			end := strings.IndexByte(repl[i:], '>')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			b.WriteString("${" + repl[i+3:i+end] + "}")
			i += end
		case c == '\\' && i+1 < len(repl):
			switch repl[i+1] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte('\\')
				b.WriteByte(repl[i+1])
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func doSub(re *regexp.Regexp, repl, s string, count int) (starlark.Value, error) {
	tmpl := pythonRepl(repl)
	n := -1
	if count > 0 {
		n = count
	}
	var out []byte
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, n) {
		out = append(out, s[last:m[0]]...)
		out = re.ExpandString(out, tmpl, s, m)
		last = m[1]
	}
	out = append(out, s[last:]...)
	return starlark.String(out), nil
}

func doSplit(re *regexp.Regexp, s string) starlark.Value {
	var out []starlark.Value
	for _, p := range re.Split(s, -1) {
		out = append(out, starlark.String(p))
	}
	return starlark.NewList(out)
}

func doFindall(re *regexp.Regexp, s string) starlark.Value {
	var out []starlark.Value
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		switch len(m) {
		case 1:
			out = append(out, starlark.String(m[0]))
		case 2:
			out = append(out, starlark.String(m[1]))
		default:
			var t starlark.Tuple
			for _, g := range m[1:] {
				t = append(t, starlark.String(g))
			}
			out = append(out, t)
		}
	}
	return starlark.NewList(out)
}

func patternArg(v starlark.Value, flags int) (*regexp.Regexp, error) {
	switch p := v.(type) {
	case *pattern:
		return p.re, nil
	case starlark.String:
		return compilePattern(string(p), flags)
	}
	return nil, fmt.Errorf("pattern must be a string, not %s", v.Type())
}

func reSearch(mode string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var pat starlark.Value
		var s string
		flags := 0
		if err := starlark.UnpackArgs(b.Name(), args, kw, "pattern", &pat, "string", &s, "flags?", &flags); err != nil {
			return nil, err
		}
		re, err := patternArg(pat, flags)
		if err != nil {
			return nil, err
		}
		return doMatch(re, mode, s), nil
	}
}

func reSub(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var pat starlark.Value
	var repl, s string
	count, flags := 0, 0
	if err := starlark.UnpackArgs(b.Name(), args, kw, "pattern", &pat, "repl", &repl, "string", &s, "count?", &count, "flags?", &flags); err != nil {
		return nil, err
	}
	re, err := patternArg(pat, flags)
	if err != nil {
		return nil, err
	}
	return doSub(re, repl, s, count)
}

// rePatternString unpacks the (pattern, string) arguments of re.split and
// re.findall.
func rePatternString(b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (*regexp.Regexp, string, error) {
	var pat starlark.Value
	var s string
	if err := starlark.UnpackArgs(b.Name(), args, kw, "pattern", &pat, "string", &s); err != nil {
		return nil, "", err
	}
	re, err := patternArg(pat, 0)
	return re, s, err
}

func reSplit(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	re, s, err := rePatternString(b, args, kw)
	if err != nil {
		return nil, err
	}
	return doSplit(re, s), nil
}

func reFindall(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	re, s, err := rePatternString(b, args, kw)
	if err != nil {
		return nil, err
	}
	return doFindall(re, s), nil
}

func reCompile(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var pat string
	flags := 0
	if err := starlark.UnpackArgs(b.Name(), args, kw, "pattern", &pat, "flags?", &flags); err != nil {
		return nil, err
	}
	re, err := compilePattern(pat, flags)
	if err != nil {
		return nil, err
	}
	return &pattern{src: pat, re: re}, nil
}

func reEscape(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
	var s string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &s); err != nil {
		return nil, err
	}
	return starlark.String(regexp.QuoteMeta(s)), nil
}
