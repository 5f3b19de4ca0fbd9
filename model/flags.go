package model

import "strings"

// Flags is the set of the five standard message flags that both IMAP and
// Maildir can express. Keywords and unknown Maildir letters are not part of
// it: adapters preserve them untouched.
type Flags uint8

const (
	Seen     Flags = 1 << iota // IMAP \Seen, Maildir S
	Answered                   // IMAP \Answered, Maildir R
	Flagged                    // IMAP \Flagged, Maildir F
	Draft                      // IMAP \Draft, Maildir D
	Deleted                    // IMAP \Deleted, Maildir T
)

// AllFlags is every flag mailtrail synchronises.
const AllFlags = Seen | Answered | Flagged | Draft | Deleted

// maildirOrder lists the flags in the ASCII order of their Maildir letters,
// the order Maildir requires in the info part of a file name.
var maildirOrder = []struct {
	flag   Flags
	letter byte
}{
	{Draft, 'D'}, {Flagged, 'F'}, {Answered, 'R'}, {Seen, 'S'}, {Deleted, 'T'},
}

// Maildir returns the flags as Maildir info letters, sorted ("FRS").
func (f Flags) Maildir() string {
	var b strings.Builder
	for _, m := range maildirOrder {
		if f&m.flag != 0 {
			b.WriteByte(m.letter)
		}
	}
	return b.String()
}

// ParseMaildir reads Maildir info letters. Letters that are not one of the
// five standard flags are returned in extra, in their original order, so
// that an adapter can keep them when it renames the file.
func ParseMaildir(info string) (f Flags, extra string) {
	var ex strings.Builder
	for i := 0; i < len(info); i++ {
		found := false
		for _, m := range maildirOrder {
			if info[i] == m.letter {
				f |= m.flag
				found = true
				break
			}
		}
		if !found {
			ex.WriteByte(info[i])
		}
	}
	return f, ex.String()
}

// IMAPNames returns the IMAP system flag names, in a fixed order.
func (f Flags) IMAPNames() []string {
	var out []string
	for _, m := range imapOrder {
		if f&m.flag != 0 {
			out = append(out, m.name)
		}
	}
	return out
}

var imapOrder = []struct {
	flag Flags
	name string
}{
	{Seen, `\Seen`}, {Answered, `\Answered`}, {Flagged, `\Flagged`}, {Draft, `\Draft`}, {Deleted, `\Deleted`},
}

// FromIMAP maps IMAP flag names (case-insensitive) to Flags; names that are
// not one of the five system flags (keywords, \Recent) are ignored.
func FromIMAP(names []string) Flags {
	var f Flags
	for _, n := range names {
		for _, m := range imapOrder {
			if strings.EqualFold(n, m.name) {
				f |= m.flag
			}
		}
	}
	return f
}

// String is the Maildir form, or "-" for no flags; used in logs and plans.
func (f Flags) String() string {
	if f == 0 {
		return "-"
	}
	return f.Maildir()
}
