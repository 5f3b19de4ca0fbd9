package adaptertest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Message is one test message in wire form (CRLF line ends).
type Message struct {
	Name      string // short name, used in subtest names
	MessageID string // the Message-ID header's value, with angle brackets
	Body      []byte // wire form; shared, never modify it
}

// Size is the length of the wire form.
func (m Message) Size() int64 { return int64(len(m.Body)) }

// NewMessage builds a small well-formed message with the given Message-ID
// local part (the full ID is "<local@mailtrail.test>") and text as the body
// (one line, CRLF added).
func NewMessage(local, text string) Message {
	id := "<" + local + "@mailtrail.test>"
	body := "From: Alice <alice@mailtrail.test>\r\n" +
		"To: Bob <bob@mailtrail.test>\r\n" +
		"Subject: " + local + "\r\n" +
		"Date: Fri, 01 Mar 2024 12:00:00 +0100\r\n" +
		"Message-ID: " + id + "\r\n" +
		"\r\n" + text + "\r\n"
	return Message{Name: local, MessageID: id, Body: []byte(body)}
}

func header(subject, id string, extra ...string) string {
	h := "From: Alice <alice@mailtrail.test>\r\n" +
		"To: Bob <bob@mailtrail.test>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Fri, 01 Mar 2024 12:00:00 +0100\r\n" +
		"Message-ID: " + id + "\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h
}

var messages = sync.OnceValue(func() []Message {
	var out []Message
	add := func(name, hdr, body string) {
		id := "<" + name + "@mailtrail.test>"
		out = append(out, Message{Name: name, MessageID: id, Body: []byte(hdr + body)})
	}
	id := func(name string) string { return "<" + name + "@mailtrail.test>" }

	add("plain", header("plain", id("plain")),
		"\r\nHello Bob,\r\n\r\nthis is a plain message.\r\n\r\n-- \r\nAlice\r\n")

	var eight bytes.Buffer
	eight.WriteString("\r\nLatin-1: caf\xe9, na\xefve, \xdcbung.\r\nEvery high byte:\r\n")
	for c := 0x80; c <= 0xff; c++ {
		eight.WriteByte(byte(c))
		if c%32 == 31 {
			eight.WriteString("\r\n")
		}
	}
	// The header name is spelt "Message-Id" here: header names are
	// case-insensitive.
	out = append(out, Message{Name: "8bit", MessageID: id("8bit"), Body: []byte(
		strings.Replace(header("8bit", id("8bit"),
			"MIME-Version: 1.0", "Content-Type: text/plain; charset=ISO-8859-1", "Content-Transfer-Encoding: 8bit"),
			"Message-ID:", "Message-Id:", 1) + eight.String())})

	var long strings.Builder
	long.WriteString("\r\n")
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := 0; i < 1<<20; i++ {
		long.WriteByte(alphabet[i%len(alphabet)])
	}
	long.WriteString("\r\nshort last line\r\n")
	add("long-line", header("a 1 MiB line", id("long-line")), long.String())

	add("no-trailing-newline", header("no trailing newline", id("no-trailing-newline")),
		"\r\nfirst line\r\nlast line, no newline")

	add("bare-cr", header("bare CR", id("bare-cr")),
		"\r\nbefore\rafter\r\n\rleading CR\r\ntrailing CR\r \r\n")

	add("headers-only", header("headers only, empty body", id("headers-only")), "\r\n")

	// Blank lines put a CRLF at every even offset in one message and at
	// every odd offset in the other, so that any buffer boundary splits a
	// CRLF in one of them.
	blank := strings.Repeat("\r\n", 40000)
	for _, parity := range []int{0, 1} {
		name := [...]string{"blank-lines-even", "blank-lines-odd"}[parity]
		subject := "blank lines"
		if len(header(subject, id(name)))%2 != parity {
			subject += "!"
		}
		add(name, header(subject, id(name)), "\r\n"+blank)
	}
	return out
})

// Messages returns the quirky test messages, all in wire form: plain,
// 8-bit bytes (every byte 0x80-0xff), a 1 MiB line, no trailing newline,
// bare CRs inside lines, headers only with an empty body, and long runs of
// blank lines at both parities. Message-IDs are unique. The bodies are
// shared: do not modify them.
//
// No message ends in a bare CR: Dovecot drops a CR that is the very last
// byte of an appended message (observed with Dovecot 2.3), which is the
// server's doing, not the adapter's. LineEndRule covers a final CR locally.
func Messages() []Message {
	return append([]Message(nil), messages()...)
}

// Date returns the i-th test date: whole seconds, in a non-UTC zone.
func Date(i int) time.Time {
	step := time.Hour + time.Minute + time.Second
	return time.Date(2024, 3, 1, 12, 34, 56, 0, time.FixedZone("", 3600)).Add(time.Duration(i) * step)
}

// StoredForm is what a Local store must hold for a message written in wire
// form: every CRLF becomes LF, nothing else changes.
func StoredForm(wire []byte) []byte {
	return bytes.ReplaceAll(wire, []byte("\r\n"), []byte("\n"))
}

// UploadForm is what OpenForUpload must give for a stored message: every LF
// not preceded by CR becomes CRLF, nothing else changes.
func UploadForm(stored []byte) []byte {
	var b bytes.Buffer
	for i, c := range stored {
		if c == '\n' && (i == 0 || stored[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
	}
	return b.Bytes()
}

func describe(body []byte) string {
	if len(body) <= 80 {
		return fmt.Sprintf("%q", body)
	}
	return fmt.Sprintf("%d bytes %q...%q", len(body), body[:40], body[len(body)-40:])
}
