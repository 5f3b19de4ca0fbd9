package lambda

import (
	"errors"
	"sort"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// CompileN compiles src, which must evaluate to a function of nparams
// arguments ([mbnames] folderfilter takes two: account and folder).
func CompileN(option, src string, nparams int) (*Func, error) {
	v, err := eval(option, src)
	if err != nil {
		return nil, err
	}
	fn, ok := v.(starlark.Callable)
	if !ok {
		return nil, newError(option, src, "is a %s, not a function: write it as a lambda", v.Type())
	}
	if l, ok := fn.(*starlark.Function); ok && l.NumParams() != nparams {
		return nil, newError(option, src, "takes %d arguments; OfflineIMAP calls it with %d", l.NumParams(), nparams)
	}
	return &Func{src: src, option: option, fn: fn}, nil
}

// CallBoolN calls f with several string arguments and takes the truth of
// the result.
func (f *Func) CallBoolN(args ...string) (bool, error) {
	t := make(starlark.Tuple, len(args))
	for i, a := range args {
		t[i] = starlark.String(a)
	}
	v, err := f.callTuple(t, args)
	if err != nil {
		return false, err
	}
	return bool(v.Truth()), nil
}

// Key is a value a function returned, to be ordered with Less (a sort
// key, as [mbnames] sort_keyfunc returns).
type Key struct{ v starlark.Value }

// CallDict calls f with one dict of strings (Python's d['accountname']),
// its keys inserted in sorted order.
func (f *Func) CallDict(d map[string]string) (Key, error) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dict := starlark.NewDict(len(d))
	for _, k := range keys {
		_ = dict.SetKey(starlark.String(k), starlark.String(d[k]))
	}
	v, err := f.callTuple(starlark.Tuple{dict}, []string{dict.String()})
	if err != nil {
		return Key{}, err
	}
	return Key{v}, nil
}

// Less orders two keys as Python's sort does (tuples item by item, strings
// by code point, numbers by value); keys of kinds Python cannot compare
// are an error.
func Less(a, b Key) (bool, error) {
	return starlark.Compare(syntax.LT, a.v, b.v)
}

func (f *Func) callTuple(args starlark.Tuple, shown []string) (starlark.Value, error) {
	v, err := starlark.Call(newThread(), f.fn, args, nil)
	if err != nil {
		var ee *starlark.EvalError
		msg := err.Error()
		if errors.As(err, &ee) {
			msg = ee.Msg
		}
		return nil, newError(f.option, f.src, "failed for %q: %s", shown, msg)
	}
	return v, nil
}

// EvalStrings evaluates an expression giving a list (or tuple) of strings
// (folderincludes = ['INBOX', 'Sent']).
func EvalStrings(option, src string) ([]string, error) {
	v, err := eval(option, src)
	if err != nil {
		return nil, err
	}
	var seq starlark.Indexable
	switch l := v.(type) {
	case *starlark.List:
		seq = l
	case starlark.Tuple:
		seq = l
	default:
		return nil, newError(option, src, "gives a %s, want a list of folder names such as ['INBOX', 'Sent']", v.Type())
	}
	out := make([]string, 0, seq.Len())
	for i := 0; i < seq.Len(); i++ {
		s, ok := starlark.AsString(seq.Index(i))
		if !ok {
			return nil, newError(option, src, "item %d is a %s, want a string", i, seq.Index(i).Type())
		}
		out = append(out, s)
	}
	return out, nil
}
