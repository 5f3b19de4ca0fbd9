package imap

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestFolderNameTranslation(t *testing.T) {
	for _, tc := range []struct {
		server    string
		delim     rune
		canonical string
		ok        bool
	}{
		{"INBOX", '.', "INBOX", true},
		{"INBOX.Sent", '.', "INBOX/Sent", true},
		{"a.b.c", '.', "a/b/c", true},
		{"a/b", '.', "", false}, // a literal '/' cannot be canonical
		{"a/b", '/', "a/b", true},
		{"a.b", '/', "a.b", true},
		{"flat/name", 0, "flat/name", true},
		{"Café.Ünï", '.', "Café/Ünï", true},
	} {
		got, ok := fromServerName(tc.server, tc.delim)
		if got != tc.canonical || ok != tc.ok {
			t.Errorf("fromServerName(%q, %q) = %q, %v; want %q, %v", tc.server, tc.delim, got, ok, tc.canonical, tc.ok)
		}
		if !ok {
			continue
		}
		back, err := toServerName(got, tc.delim)
		if err != nil || back != tc.server {
			t.Errorf("toServerName(%q, %q) = %q, %v; want %q", got, tc.delim, back, err, tc.server)
		}
	}
	if _, err := toServerName("a.b/c", '.'); err == nil {
		t.Error("toServerName accepted a name holding the server delimiter")
	}
	if _, err := toServerName("", '/'); err == nil {
		t.Error("toServerName accepted an empty name")
	}
}

func TestUIDChunks(t *testing.T) {
	got := uidChunks([]uint32{9, 3, 1, 2, 3, 0, 5, 6, 7, 20}, 0, 0)
	if len(got) != 1 || got[0].String() != "1:3,5:7,9,20" {
		t.Errorf("uidChunks = %v, want [1:3,5:7,9,20]", got)
	}
	got = uidChunks([]uint32{1, 2, 3, 5, 6, 7, 9, 20}, 4, 0)
	if len(got) != 2 || got[0].String() != "1:3,5" || got[1].String() != "6:7,9,20" {
		t.Errorf("uidChunks by count = %v", got)
	}
	got = uidChunks([]uint32{1, 3, 5, 7, 8}, 0, 2)
	if len(got) != 2 || got[0].String() != "1,3" || got[1].String() != "5,7:8" {
		t.Errorf("uidChunks by ranges = %v", got)
	}
	if got := uidChunks(nil, 10, 10); len(got) != 0 {
		t.Errorf("uidChunks(nil) = %v", got)
	}
	long := uidChunks([]uint32{1, 3, 5, 7, 9, 11}, 0, 0)[0]
	if got := setLabel(long); got != "1,3,5,7,... (6 ranges)" {
		t.Errorf("setLabel = %q", got)
	}
}

func TestChooseAuth(t *testing.T) {
	plain := imap.CapSet{imap.CapIMAP4rev1: {}, "AUTH=PLAIN": {}}
	disabled := imap.CapSet{imap.CapIMAP4rev1: {}, "AUTH=PLAIN": {}, imap.CapLoginDisabled: {}}
	all := imap.CapSet{imap.CapIMAP4rev1: {}, "AUTH=PLAIN": {}, "AUTH=CRAM-MD5": {}, "AUTH=XOAUTH2": {}, "AUTH=OAUTHBEARER": {}, "AUTH=GSSAPI": {}}
	allIR := imap.CapSet{imap.CapSASLIR: {}}
	for c := range all {
		allIR[c] = struct{}{}
	}
	for _, tc := range []struct {
		configured  []string
		caps        imap.CapSet
		pass, oauth bool
		tls         bool // verified TLS
		want        string
	}{
		// OfflineIMAP's default order, strongest first.
		{nil, plain, true, false, false, "PLAIN LOGIN"},
		{nil, disabled, true, false, false, "PLAIN"},
		{nil, all, true, false, false, "CRAM-MD5 PLAIN LOGIN"},
		{nil, all, true, true, false, "XOAUTH2 OAUTHBEARER CRAM-MD5 PLAIN LOGIN"},
		{nil, all, false, true, false, "XOAUTH2 OAUTHBEARER"},
		{nil, imap.CapSet{imap.CapLoginDisabled: {}}, true, true, false, ""},
		// Over verified TLS, to a server with SASL-IR, PLAIN (one round
		// trip) before CRAM-MD5 (two); not without either.
		{nil, allIR, true, false, true, "PLAIN CRAM-MD5 LOGIN"},
		{nil, allIR, true, true, true, "XOAUTH2 OAUTHBEARER PLAIN CRAM-MD5 LOGIN"},
		{nil, allIR, true, false, false, "CRAM-MD5 PLAIN LOGIN"},
		{nil, all, true, false, true, "CRAM-MD5 PLAIN LOGIN"},
		// A configured order is followed as written, TLS or not.
		{[]string{"CRAM-MD5", "PLAIN"}, allIR, true, false, true, "CRAM-MD5 PLAIN"},
		{[]string{"GSSAPI", "XOAUTH2", "CRAM-MD5", "PLAIN", "LOGIN"}, plain, true, true, false, "PLAIN LOGIN"},
		{[]string{"login", "plain"}, disabled, true, false, false, "PLAIN"},
		{[]string{"LOGIN", "CRAM-MD5"}, all, true, false, false, "LOGIN CRAM-MD5"},
		{[]string{"CRAM-MD5"}, plain, true, false, false, ""},
		{[]string{"PLAIN"}, imap.CapSet{imap.CapIMAP4rev1: {}}, true, false, false, ""},
		{[]string{"OAUTHBEARER", "XOAUTH2"}, all, true, true, false, "OAUTHBEARER XOAUTH2"},
		{[]string{"XOAUTH2"}, all, true, false, false, ""},
	} {
		got := strings.Join(chooseAuth(tc.configured, tc.caps, tc.pass, tc.oauth, tc.tls), " ")
		if got != tc.want {
			t.Errorf("chooseAuth(%v, %v, pass %t, oauth %t, tls %t) = %q, want %q", tc.configured, capList(tc.caps), tc.pass, tc.oauth, tc.tls, got, tc.want)
		}
	}
	if got := strings.Join(DefaultAuthMechanisms, " "); got != "XOAUTH2 OAUTHBEARER CRAM-MD5 PLAIN LOGIN" {
		t.Errorf("DefaultAuthMechanisms changed: %s", got)
	}
	if got := plainBeforeCRAM([]string{"PLAIN", "LOGIN"}); strings.Join(got, " ") != "PLAIN LOGIN" {
		t.Errorf("plainBeforeCRAM without CRAM-MD5 = %v", got)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{60 * time.Second: "60s", 300 * time.Millisecond: "300ms", 90 * time.Second: "90s", 1500 * time.Millisecond: "1.5s"} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestConfigDefaultsAndTLSModes(t *testing.T) {
	cfg, err := Config{Host: "h"}.withDefaults()
	if err != nil || cfg.Port != 993 || cfg.MaxConnections != 1 || cfg.Timeout != DefaultTimeout || cfg.TLS != TLSImplicit {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, _ = Config{Host: "h", TLS: TLSStartTLS}.withDefaults()
	if cfg.Port != 143 {
		t.Errorf("STARTTLS default port %d", cfg.Port)
	}
	if _, err := (Config{}).withDefaults(); err == nil {
		t.Error("empty Host accepted")
	}
	if _, err := (Config{Host: "h", CAFile: "/nonexistent/ca.pem"}).tlsConfig(); err == nil {
		t.Error("missing CA file accepted")
	}
	for s, want := range map[string]TLSMode{"IMAPS": TLSImplicit, "starttls": TLSStartTLS, "none": TLSNone} {
		if got, err := ParseTLSMode(s); err != nil || got != want {
			t.Errorf("ParseTLSMode(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseTLSMode("maybe"); err == nil {
		t.Error("ParseTLSMode accepted nonsense")
	}
}

func TestMessageIDMatching(t *testing.T) {
	block := []byte("Message-ID:\r\n <folded@example.org>\r\n\r\n")
	if got := headerValue(block, "Message-ID"); got != "<folded@example.org>" {
		t.Errorf("headerValue of a folded header = %q", got)
	}
	if !sameMessageID("<a@b>", " a@b ") || sameMessageID("<a@b>", "<a@b.c>") || sameMessageID("", "") {
		t.Error("sameMessageID")
	}
}
