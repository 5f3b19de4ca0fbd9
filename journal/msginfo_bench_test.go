package journal

import (
	"strings"
	"testing"
)

// A header as the benchmark corpus writes it, and one as mail arrives
// from a list: trace fields, signatures, list fields.
var (
	plainHeader = "Return-Path: <sender49@example.org>\r\nFrom: Sender 49 <sender49@example.org>\r\n" +
		"To: Alice <alice@example.com>\r\nSubject: update update resume release update\r\n" +
		"Date: Mon, 15 Mar 2021 03:55:45 +0000\r\nMessage-ID: <INBOX.1213.1615780545@corpus.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	listHeader = strings.Repeat("Received: from mail.example.net (mail.example.net [192.0.2.7])\r\n"+
		"\tby mx.example.com (Postfix) with ESMTPS id 4Xyz123\r\n\tfor <alice@example.com>; Tue, 5 Nov 2024 10:11:12 +0100 (CET)\r\n", 4) +
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=sel;\r\n" +
		strings.Repeat("\tb=QWxpY2Ugd2FzIGJlZ2lubmluZyB0byBnZXQgdmVyeSB0aXJlZCBvZiBzaXR0aW5nIGJ5IGhlcg==\r\n", 6) +
		"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>\r\n" +
		"Subject: =?UTF-8?B?UmU6IFtnb2xhbmctbnV0c10gcGVyZm9ybWFuY2Ugb2YgbmV0L21haWw=?=\r\n" +
		"Date: Tue, 5 Nov 2024 10:11:09 +0100 (CET)\r\nMessage-ID: <CAF+abc123@mail.example.net>\r\n" +
		"List-Id: golang-nuts <golang-nuts.googlegroups.com>\r\nList-Unsubscribe: <mailto:unsub@example.net>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n"
)

func BenchmarkParseMsgInfo(b *testing.B) {
	for _, tc := range []struct{ name, header string }{{"plain", plainHeader}, {"list", listHeader}} {
		b.Run(tc.name, func(b *testing.B) {
			h := []byte(tc.header)
			b.ReportAllocs()
			for b.Loop() {
				if ParseMsgInfo(h).MessageID == "" {
					b.Fatal("no Message-ID")
				}
			}
		})
	}
}
