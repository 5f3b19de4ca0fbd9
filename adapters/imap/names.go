package imap

import (
	"fmt"
	"strings"
)

// canonicalSep is the hierarchy separator of canonical folder names.
const canonicalSep = '/'

// fromServerName turns a server mailbox name (already decoded from modified
// UTF-7 by go-imap) with hierarchy delimiter delim into a canonical name.
// ok is false when the name cannot be represented: it contains a literal
// '/' on a server whose delimiter is something else, so that the canonical
// name would mean a different folder.
func fromServerName(name string, delim rune) (canonical string, ok bool) {
	if delim == 0 || delim == canonicalSep {
		return name, true
	}
	if strings.ContainsRune(name, canonicalSep) {
		return "", false
	}
	return strings.ReplaceAll(name, string(delim), string(canonicalSep)), true
}

// toServerName turns a canonical name into the server's, for a server whose
// hierarchy delimiter is delim (0: a flat server, names pass unchanged).
func toServerName(canonical string, delim rune) (string, error) {
	if canonical == "" {
		return "", fmt.Errorf("folder name is empty")
	}
	if delim == 0 || delim == canonicalSep {
		return canonical, nil
	}
	if strings.ContainsRune(canonical, delim) {
		return "", fmt.Errorf("folder %q: the name contains %q, the server's hierarchy delimiter, so the server cannot hold it", canonical, delim)
	}
	return strings.ReplaceAll(canonical, string(canonicalSep), string(delim)), nil
}
