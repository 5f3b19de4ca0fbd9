// Package utf7 is IMAP's modified UTF-7 (RFC 3501 5.1.3), the encoding of
// folder names on the wire and of OfflineIMAP's local folder names without
// utf8foldernames. It has no project imports: the IMAP adapter and the
// folder-name mapping both use it.
package utf7

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// IMAP's modified UTF-7 (RFC 3501 5.1.3), in which servers send folder
// names and OfflineIMAP, without utf8foldernames, names local folders:
// printable ASCII stands for itself except '&', written "&-"; every other
// run of characters is "&" + base64 of its UTF-16 (with ',' for '/', no
// padding) + "-".

var b64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// Encode writes name in modified UTF-7.
func Encode(name string) string {
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		raw := make([]byte, 0, 2*len(u))
		for _, c := range u {
			raw = append(raw, byte(c>>8), byte(c))
		}
		b.WriteByte('&')
		b.WriteString(b64.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			run = append(run, r)
		}
	}
	flush()
	return b.String()
}

var errUTF7 = errors.New("not valid modified UTF-7")

// Decode reads a modified UTF-7 name.
func Decode(name string) (string, error) {
	if !strings.Contains(name, "&") {
		return name, nil
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '&' {
			if c < 0x20 || c > 0x7e {
				return "", errUTF7
			}
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(name[i+1:], '-')
		if end < 0 {
			return "", errUTF7
		}
		enc := name[i+1 : i+1+end]
		i += end + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := b64.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", errUTF7
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for _, r := range utf16.Decode(u) {
			if r == utf8.RuneError || (r >= 0x20 && r <= 0x7e) {
				// Printable ASCII must not be encoded; a broken
				// surrogate pair decodes to RuneError.
				return "", errUTF7
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
