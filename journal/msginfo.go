package journal

import (
	"bytes"
	"mime"
	"net/mail"
	"strings"
)

var wordDecoder = mime.WordDecoder{}

// ParseMsgInfo reads the fields of a header block; a field that cannot be
// parsed is kept as written (RFC 2047 words decoded where possible).
func ParseMsgInfo(header []byte) MsgInfo {
	block := append(bytes.Clone(header), "\r\n\r\n"...)
	m, err := mail.ReadMessage(bytes.NewReader(block))
	if err != nil {
		return MsgInfo{}
	}
	h := m.Header
	info := MsgInfo{
		MessageID: strings.TrimSpace(h.Get("Message-Id")),
		Subject:   decodeWords(h.Get("Subject")),
		From:      decodeWords(h.Get("From")),
	}
	if a, err := mail.ParseAddress(h.Get("From")); err == nil {
		info.From = a.String()
		if a.Name != "" {
			info.From = a.Name + " <" + a.Address + ">"
		}
	}
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		info.Date = d
	}
	return info
}

func decodeWords(s string) string {
	s = strings.TrimSpace(s)
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// MaxHeader bounds how much of a message is read for its header.
const MaxHeader = 64 << 10

// HeaderSniffer passes a message's bytes through and keeps a copy of its
// header block (up to MaxHeader bytes), to name the message from bytes
// that are read anyway (a download, an upload).
type HeaderSniffer struct {
	r    interface{ Read([]byte) (int, error) }
	buf  []byte
	done bool
}

// NewHeaderSniffer wraps r.
func NewHeaderSniffer(r interface{ Read([]byte) (int, error) }) *HeaderSniffer {
	return &HeaderSniffer{r: r}
}

func (h *HeaderSniffer) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if !h.done && n > 0 {
		start := max(len(h.buf)-3, 0)
		h.buf = append(h.buf, p[:n]...)
		if i := headerEnd(h.buf[start:]); i >= 0 {
			h.buf, h.done = h.buf[:start+i], true
		} else if len(h.buf) >= MaxHeader {
			h.buf, h.done = h.buf[:MaxHeader], true
		}
	}
	return n, err
}

// Info names the message from the header seen so far.
func (h *HeaderSniffer) Info() MsgInfo { return ParseMsgInfo(h.buf) }

// headerEnd is where the header block of b ends (at its blank line), or -1.
func headerEnd(b []byte) int {
	crlf, lf := bytes.Index(b, []byte("\r\n\r\n")), bytes.Index(b, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf < lf):
		return crlf
	case lf >= 0:
		return lf
	}
	return -1
}
