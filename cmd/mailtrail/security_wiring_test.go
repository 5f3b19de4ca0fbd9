package main

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"mailtrail/adapters/imap"
	"mailtrail/config"
)

// TestSecurityWiring: every security option read from the configuration
// reaches the IMAP adapter.
func TestSecurityWiring(t *testing.T) {
	text := `[general]
accounts = T
[Account T]
localrepository = L
remoterepository = R
[Repository L]
type = Maildir
localfolders = /tmp/x
[Repository R]
type = IMAP
remotehost = imap.example.org
remoteuser = u
remotepasscommand = echo cmd-pw
cert_fingerprint = ` + strings.Repeat("ab", 32) + `
ssl_version = tls1_3
auth_mechanisms = OAUTHBEARER, PLAIN
oauth2_client_id = id
oauth2_client_secret = cs
oauth2_refresh_token = rt
oauth2_request_url = https://oauth.example/token
`
	cfg, _, err := config.Parse("rc", strings.NewReader(text), config.MapEnv(map[string]string{"HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	rr := cfg.Accounts[0].Remote
	pass, err := remotePassword(context.Background(), cfg, rr)
	if err != nil || pass.Reveal() != "cmd-pw" {
		t.Fatalf("remotePassword = %q, %v", pass.Reveal(), err)
	}
	var icfg imap.Config
	imapSecurity(rr, &icfg)
	if len(icfg.Fingerprints) != 1 || icfg.MinTLSVersion != tls.VersionTLS13 || icfg.MaxTLSVersion != tls.VersionTLS13 ||
		strings.Join(icfg.AuthMechanisms, " ") != "OAUTHBEARER PLAIN" || icfg.OAuth2 == nil ||
		icfg.OAuth2.ClientID != "id" || icfg.OAuth2.ClientSecret != "cs" || icfg.OAuth2.RefreshToken != "rt" ||
		icfg.OAuth2.RequestURL != "https://oauth.example/token" {
		t.Errorf("imap config = %+v %+v", icfg, icfg.OAuth2)
	}

	// No password and no OAuth2: an error saying where a password can come from.
	rr.RemotePassCommand = ""
	rr.OAuth2RefreshToken = config.Secret{}
	if _, err := remotePassword(context.Background(), cfg, rr); err == nil || !strings.Contains(err.Error(), "~/.netrc") {
		t.Errorf("no password: %v", err)
	}
}
