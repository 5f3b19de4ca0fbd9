// Package lambda evaluates the Python expressions OfflineIMAP users put in
// their configuration — folderfilter, folderincludes, nametrans and the
// *eval options — with Starlark, a Python dialect that runs in-process and
// cannot touch files, the network or the clock.
//
// What it accepts: one Python expression, usually a lambda of one argument
// ("lambda folder: folder not in ['Trash']"); string methods, list and
// tuple literals, comprehensions, `in`, conditionals; and a module `re`
// with search, match, fullmatch, sub, split, findall, compile and the
// flags I (IGNORECASE), M, S, X (VERBOSE is not), mapped onto Go's regexp
// (RE2: no look-ahead, look-behind or back-references; a pattern using them
// is an error quoting it). Python accepts unknown backslash escapes in
// ordinary string literals ('^\[Gmail\]\.' is common); they are kept as
// Python keeps them, so patterns mean what they mean to OfflineIMAP.
//
// Invariants: evaluation is deterministic and bounded (a step limit stops a
// runaway expression); an expression that cannot be run gets an error that
// quotes it and says what to change.
package lambda

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// maxSteps bounds one call, so that no configuration can hang a sync.
const maxSteps = 1_000_000

// Func is a compiled one-argument expression.
type Func struct {
	src    string
	option string
	fn     starlark.Callable
}

// Source is the expression as written.
func (f *Func) Source() string { return f.src }

var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: false}

// Error is an expression that cannot be compiled or run.
type Error struct {
	Option string // the configuration option, e.g. "nametrans"
	Source string
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s = %s: %s", e.Option, e.Source, e.Msg)
}

func newError(option, src, format string, args ...any) *Error {
	return &Error{Option: option, Source: src, Msg: fmt.Sprintf(format, args...)}
}

// Compile compiles src, which must evaluate to a function of one argument.
// option names the configuration option in errors.
func Compile(option, src string) (*Func, error) {
	v, err := eval(option, src)
	if err != nil {
		return nil, err
	}
	fn, ok := v.(starlark.Callable)
	if !ok {
		return nil, newError(option, src, "is a %s, not a function: write it as a lambda, e.g. lambda folder: ...", v.Type())
	}
	if l, ok := fn.(*starlark.Function); ok && l.NumParams() != 1 {
		return nil, newError(option, src, "takes %d arguments; OfflineIMAP calls it with one (the folder name)", l.NumParams())
	}
	return &Func{src: src, option: option, fn: fn}, nil
}

// Eval evaluates an expression that is not a function (the *eval options).
// Python calls into a pythonfile cannot be run; the error says so.
func Eval(option, src string) (string, error) {
	v, err := eval(option, src)
	if err != nil {
		return "", err
	}
	s, ok := starlark.AsString(v)
	if !ok {
		return "", newError(option, src, "gives a %s, want a string", v.Type())
	}
	return s, nil
}

func eval(option, src string) (starlark.Value, error) {
	text := strings.TrimSpace(src)
	if text == "" {
		return nil, newError(option, src, "is empty")
	}
	fixed, err := keepPythonEscapes(text)
	if err != nil {
		return nil, newError(option, src, "%v", err)
	}
	thread := newThread()
	v, err := starlark.EvalOptions(fileOptions, thread, option, fixed, predeclared())
	if err != nil {
		return nil, explain(option, src, err)
	}
	return v, nil
}

func newThread() *starlark.Thread {
	th := &starlark.Thread{Name: "config", Print: func(*starlark.Thread, string) {}}
	th.SetMaxExecutionSteps(maxSteps)
	return th
}

func predeclared() starlark.StringDict {
	return starlark.StringDict{
		"re":   reModule,
		"True": starlark.True, "False": starlark.False, "None": starlark.None,
	}
}

// explain turns a Starlark error into advice.
func explain(option, src string, err error) error {
	msg := err.Error()
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		msg = ee.Msg
	}
	switch {
	case strings.Contains(msg, "undefined:"):
		name := strings.TrimSpace(msg[strings.Index(msg, "undefined:")+len("undefined:"):])
		return newError(option, src, "uses %s, which mailtrail cannot run: only the expression itself, string methods and the re module are available "+
			"(functions from a pythonfile, os, subprocess and other modules are not); rewrite it without %s or set the value directly", name, name)
	case strings.Contains(msg, "too many steps"):
		return newError(option, src, "did not finish within %d steps; simplify it", maxSteps)
	}
	return newError(option, src, "%s", msg)
}

// CallString calls f with s and wants a string back (nametrans).
func (f *Func) CallString(s string) (string, error) {
	v, err := f.call(s)
	if err != nil {
		return "", err
	}
	out, ok := starlark.AsString(v)
	if !ok {
		return "", newError(f.option, f.src, "returned a %s for %q, want a string", v.Type(), s)
	}
	return out, nil
}

// CallBool calls f with s and takes the truth of the result, as Python's
// `if` would (folderfilter).
func (f *Func) CallBool(s string) (bool, error) {
	v, err := f.call(s)
	if err != nil {
		return false, err
	}
	return bool(v.Truth()), nil
}

func (f *Func) call(s string) (starlark.Value, error) {
	v, err := starlark.Call(newThread(), f.fn, starlark.Tuple{starlark.String(s)}, nil)
	if err != nil {
		var ee *starlark.EvalError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = ee.Msg
		}
		return nil, newError(f.option, f.src, "failed for %q: %s", s, msg)
	}
	return v, nil
}

// keepPythonEscapes rewrites backslash escapes that Python keeps literally
// but Starlark rejects ('\[' and the like) into explicit backslashes, in
// every non-raw string literal of src.
//
// Outside strings it also turns Python's identity tests, which Starlark
// lacks, into equality: "x is None" into "x == None", "is not" into "!=".
// For None, True and False, the only operands configurations use them
// with, the meaning is the same.
func keepPythonEscapes(src string) (string, error) {
	var b strings.Builder
	code := 0 // start of the current run of code outside strings
	flushCode := func(end int) {
		b.WriteString(pythonIdentity.Replace(src[code:end]))
	}
	for i := 0; i < len(src); {
		c := src[i]
		if c != '\'' && c != '"' {
			i++
			continue
		}
		flushCode(i)
		raw := i > 0 && (src[i-1] == 'r' || src[i-1] == 'R') && (i < 2 || !isIdent(src[i-2]))
		quote := string(c)
		if strings.HasPrefix(src[i:], strings.Repeat(quote, 3)) {
			quote = strings.Repeat(quote, 3)
		}
		b.WriteString(quote)
		j := i + len(quote)
		for {
			if j >= len(src) {
				return "", errors.New("a string is not closed")
			}
			if strings.HasPrefix(src[j:], quote) {
				b.WriteString(quote)
				j += len(quote)
				break
			}
			if src[j] == '\\' && j+1 < len(src) {
				next := src[j+1]
				if raw || strings.IndexByte("\\'\"abfnrtvx01234567uUN\n", next) >= 0 {
					b.WriteByte('\\')
					b.WriteByte(next)
				} else {
					b.WriteString(`\\`)
					b.WriteByte(next)
				}
				j += 2
				continue
			}
			b.WriteByte(src[j])
			j++
		}
		i = j
		code = i
	}
	flushCode(len(src))
	return b.String(), nil
}

var pythonIdentity = strings.NewReplacer(" is not ", " != ", " is ", " == ")

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
