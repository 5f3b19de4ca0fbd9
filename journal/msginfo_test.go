package journal

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
)

// parseMsgInfoNetMail is ParseMsgInfo as it was written first, with
// net/mail reading the whole block: the reference the faster one must
// agree with.
func parseMsgInfoNetMail(header []byte) MsgInfo {
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

// msgInfoCases are header blocks with the shapes real mail has, and the
// corners of header syntax.
var msgInfoCases = []string{
	plainHeader,
	listHeader,
	"",
	"\r\n",
	"Subject: only\r\n",
	"Subject: no newline at the end",
	"subject: lower case\nMESSAGE-ID: <upper@x>\nfRoM: a@b\ndAtE: Mon, 15 Mar 2021 03:55:45 +0000\n",
	"Subject: first\r\nSubject: second\r\nMessage-ID: <1@x>\r\nMessage-ID: <2@x>\r\n",
	"Subject: folded\r\n over\r\n\tthree lines  \r\nFrom: a@b\r\n",
	"Subject: folded with a blank continuation\r\n \r\n\t\r\nFrom: a@b\r\n",
	" Subject: starts with a continuation\r\n",
	"\tSubject: starts with a tab\r\n",
	"Subject: fine\r\ngarbage without colon\r\nMessage-ID: <after@x>\r\n",
	"garbage without colon\n",
	": empty name\r\nSubject: after it\r\n",
	"Subject : space before the colon\r\nSubject: the real one\r\n",
	"Subject:no space\r\nMessage-ID:<a@b>\r\n",
	"Subject: body follows\r\n\r\nMessage-ID: <in the body@x>\r\n",
	"Subject: bare CR\rinside\r\nFrom: a@b\r\n",
	"Subject: CR CR LF\r\r\nFrom: a@b\r\n",
	"Subject: trailing continuation\r\n ",
	"Subject: x\r\n1-digit: next line starts with a digit\r\n",
	"ſubject: long s is not an s\r\nSubject: real\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100 (CET)\r\n",
	"Date: Tue, 05 Nov 2024 10:11:09 -0800\r\n",
	"Date: 5 Nov 2024 10:11:09 +0100\r\n",
	"Date: 05 Nov 24 10:11 +0100\r\n",
	"Date: Tue, 5 Nov 24 10:11:09 +0100\r\n",
	"Date: Tue, 5 Nov 2024 10:11 +0100\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 GMT\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 UT\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 EST\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100 (CET) trailing\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100 ((nested))\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100 (a\\)b)\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +0100 (unclosed\r\n",
	"Date: Tue, 5 Nov 2024 10:11:09 +01\r\n",
	"Date: Tue, 5-Nov-2024 10:11:09 +0100\r\n",
	"Date: 2024-11-05T10:11:09+01:00\r\n",
	"Date: Tue, 31 Feb 2024 10:11:09 +0100\r\n",
	"Date: Xyz, 5 Nov 2024 10:11:09 +0100\r\n",
	"Date:   Tue, 5 Nov 2024 10:11:09 +0100   \r\n",
	"Date: Tue,\r\n 5 Nov 2024\r\n 10:11:09 +0100\r\n",
	"Date: garbage\r\n",
	"Date:\r\n",
	"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>\r\n",
	"From: \"Quoted, Name\" <q@x>\r\n",
	"From: a@b, c@d\r\n",
	"From: not an address\r\n",
	"Subject: =?UTF-8?B?broken base64?=\r\n",
	"Subject: =?unknown-charset?Q?x?=\r\n",
	"Message-ID:   <spaces@x>   \r\n",
}

func TestParseMsgInfoAsNetMail(t *testing.T) {
	for _, h := range msgInfoCases {
		got, want := ParseMsgInfo([]byte(h)), parseMsgInfoNetMail([]byte(h))
		if !sameMsgInfo(got, want) {
			t.Errorf("header %q:\n got %+v\nwant %+v (net/mail)", h, got, want)
		}
	}
	// The shortcut for dates is taken, and agrees, for the usual forms.
	for _, d := range []string{"Mon, 15 Mar 2021 03:55:45 +0000", "5 Nov 2024 10:11:09 +0100", "Tue, 5 Nov 2024 10:11:09 +0100 (CET)"} {
		got, ok := parseDate(d)
		want, err := mail.ParseDate(d)
		if !ok || err != nil || !got.Equal(want) || got.Location().String() != want.Location().String() {
			t.Errorf("parseDate(%q) = %v, %v; net/mail: %v, %v", d, got, ok, want, err)
		}
	}
}

func FuzzParseMsgInfo(f *testing.F) {
	for _, h := range msgInfoCases {
		f.Add([]byte(h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		got, want := ParseMsgInfo(h), parseMsgInfoNetMail(h)
		if !sameMsgInfo(got, want) {
			t.Errorf("header %q:\n got %+v\nwant %+v (net/mail)", h, got, want)
		}
	})
}

// sameMsgInfo compares the fields, and dates as instants with the same
// offset.
func sameMsgInfo(a, b MsgInfo) bool {
	_, ao := a.Date.Zone()
	_, bo := b.Date.Zone()
	return a.MessageID == b.MessageID && a.Subject == b.Subject && a.From == b.From &&
		a.Date.Equal(b.Date) && ao == bo && a.Date.IsZero() == b.Date.IsZero()
}

func FuzzParseDate(f *testing.F) {
	for _, h := range msgInfoCases {
		if v, ok := strings.CutPrefix(h, "Date:"); ok {
			f.Add(strings.TrimSpace(v))
		}
	}
	f.Fuzz(func(t *testing.T, d string) {
		got, ok := parseDate(d)
		want, err := mail.ParseDate(d)
		_, gotOffset := got.Zone()
		_, wantOffset := want.Zone()
		if ok != (err == nil) || !got.Equal(want) || gotOffset != wantOffset {
			t.Errorf("parseDate(%q) = %v, %v; net/mail: %v, %v", d, got, ok, want, err)
		}
	})
}
