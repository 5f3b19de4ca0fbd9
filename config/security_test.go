package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// securityEnv is a home directory of the test's own, with /etc/netrc
// pointed at a file in it, so that the machine's files are never read.
func securityEnv(t *testing.T) (string, func(extra string) (*Repository, []Warning, error)) {
	t.Helper()
	home := t.TempDir()
	old := systemNetrc
	systemNetrc = filepath.Join(home, "etc-netrc")
	t.Cleanup(func() { systemNetrc = old })
	env := MapEnv(map[string]string{"HOME": home})
	return home, func(text string) (*Repository, []Warning, error) {
		cfg, w, err := Parse("rc", strings.NewReader(text), env)
		if err != nil {
			return nil, w, err
		}
		return cfg.Accounts[0].Remote, w, nil
	}
}

func writeMode(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestNetrc(t *testing.T) {
	home, parse := securityEnv(t)
	noUser := strings.Replace(base, "remoteuser = jane\n", "", 1)

	// No netrc at all: no password, and no user is an error.
	r, _, err := parse(base)
	if err != nil || r.RemotePass.IsSet() {
		t.Fatalf("without netrc: %v %v", r, err)
	}
	if _, _, err := parse(noUser); err == nil || !strings.Contains(err.Error(), "has no remoteuser") {
		t.Errorf("no user anywhere: %v", err)
	}

	writeMode(t, filepath.Join(home, ".netrc"), `# comment
machine other.example login x password nope
machine imap.example.org
  login jane
  password "n3trc pw"
macdef init
  password should-not-count

default login anon password anon-pw
`, 0o600)
	r, _, err = parse(base)
	if err != nil || r.RemotePass.Reveal() != "n3trc pw" || r.PasswordFrom != filepath.Join(home, ".netrc") {
		t.Errorf("netrc password: %+v %v", r, err)
	}
	if !strings.Contains(r.Redacted(), "remotepass=<from "+filepath.Join(home, ".netrc")+">") || strings.Contains(r.Redacted(), "n3trc") {
		t.Errorf("Redacted = %s", r.Redacted())
	}
	// The user from netrc when remoteuser is not set, as OfflineIMAP.
	r, _, err = parse(noUser)
	if err != nil || r.RemoteUser != "jane" || r.RemotePass.Reveal() != "n3trc pw" {
		t.Errorf("netrc user: %+v %v", r, err)
	}
	// An entry for another login gives no password (OfflineIMAP).
	r, _, err = parse(strings.Replace(base, "remoteuser = jane", "remoteuser = bob", 1))
	if err != nil || r.RemotePass.IsSet() {
		t.Errorf("netrc entry of another user was used: %+v %v", r, err)
	}
	// A configured password wins over netrc.
	r, _, err = parse(base + "remotepass = configured\n")
	if err != nil || r.RemotePass.Reveal() != "configured" {
		t.Errorf("remotepass vs netrc: %+v %v", r, err)
	}
	// The default entry for unknown hosts.
	r, _, err = parse(strings.Replace(strings.Replace(base, "imap.example.org", "elsewhere.example", 1), "remoteuser = jane", "remoteuser = anon", 1))
	if err != nil || r.RemotePass.Reveal() != "anon-pw" {
		t.Errorf("default entry: %+v %v", r, err)
	}

	// A ~/.netrc that others can read is refused, as by Python's netrc.
	if err := os.Chmod(filepath.Join(home, ".netrc"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = parse(base)
	if err == nil || !strings.Contains(err.Error(), "may be read by others") || strings.Contains(err.Error(), "n3trc") {
		t.Errorf("world-readable netrc: %v", err)
	}
	os.Remove(filepath.Join(home, ".netrc"))

	// /etc/netrc when ~/.netrc has nothing.
	writeMode(t, systemNetrc, "machine imap.example.org login jane password etc-pw\n", 0o644)
	r, _, err = parse(base)
	if err != nil || r.RemotePass.Reveal() != "etc-pw" {
		t.Errorf("/etc/netrc: %+v %v", r, err)
	}
	// A broken netrc names the line, never a value.
	writeMode(t, systemNetrc, "machine imap.example.org\nlogin jane password s3cr3t-tok bogus\n", 0o644)
	_, _, err = parse(base)
	if err == nil || !strings.Contains(err.Error(), "etc-netrc:2: unexpected word") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("broken netrc: %v", err)
	}
}

func TestEvalOptions(t *testing.T) {
	_, parse := securityEnv(t)
	r, w, err := parse(strings.Replace(base, "remoteuser = jane", "remoteusereval = 'ja' + 'ne'", 1) +
		"remotepasseval = '-'.join(['pw', 'from', 'eval'])\nremotepass = ignored\n")
	if err != nil || r.RemoteUser != "jane" || r.RemotePass.Reveal() != "pw-from-eval" || r.PasswordFrom != "remotepasseval" {
		t.Fatalf("eval: %+v %v", r, err)
	}
	if len(w) != 1 || w[0].Option != "remotepass" {
		t.Errorf("warnings %v: want one saying remotepass is ignored", w)
	}
	// A function from a pythonfile: the error names the option and the
	// function, and never quotes the expression (it may hold a password).
	_, _, err = parse(base + "remotepasseval = get_password('imap.example.org', 'Secr3tArg')\n")
	if err == nil {
		t.Fatal("an undefined function was accepted")
	}
	for _, want := range []string{"rc:16: [Repository Remote] remotepasseval:", "uses get_password, which mailtrail cannot run", "pythonfile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Secr3tArg") {
		t.Errorf("error quotes the expression: %v", err)
	}
	// Not a string.
	if _, _, err := parse(base + "remotepasseval = 42\n"); err == nil || !strings.Contains(err.Error(), "want a string") {
		t.Errorf("int password: %v", err)
	}
	// oauth2 *_eval.
	r, _, err = parse(base + "oauth2_access_token_eval = 'tok' + '123'\n")
	if err != nil || r.OAuth2AccessToken.Reveal() != "tok123" || !r.HasOAuth2() {
		t.Errorf("oauth2_access_token_eval: %+v %v", r, err)
	}
}

func TestRemotePassCommand(t *testing.T) {
	_, parse := securityEnv(t)
	r, _, err := parse(base + "remotepasscommand = printf 'cmd-pw-1\\nsecond line\\n'\n")
	if err != nil || r.RemotePass.IsSet() || r.RemotePassCommand == "" {
		t.Fatalf("the command must not run while the configuration is read: %+v %v", r, err)
	}
	if !strings.Contains(r.Redacted(), "remotepass=<from remotepasscommand>") {
		t.Errorf("Redacted = %s", r.Redacted())
	}
	pw, err := r.Password(context.Background())
	if err != nil || pw.Reveal() != "cmd-pw-1" {
		t.Errorf("Password = %q, %v", pw.Reveal(), err)
	}
	// A failing command: the error never holds its output or the command.
	r.RemotePassCommand = "echo leaked-pw-77; echo more >&2; exit 3"
	_, err = r.Password(context.Background())
	if err == nil || !strings.Contains(err.Error(), "[Repository Remote] remotepasscommand failed (exit status 3)") {
		t.Errorf("failing command: %v", err)
	}
	if strings.Contains(err.Error(), "leaked-pw-77") || strings.Contains(err.Error(), "echo") {
		t.Errorf("error shows the output or the command: %v", err)
	}
	r.RemotePassCommand = "true"
	if _, err := r.Password(context.Background()); err == nil || !strings.Contains(err.Error(), "empty first line") {
		t.Errorf("silent command: %v", err)
	}
	// remotepassfile comes before it (a warning says so).
	_, w, _ := parse(base + "remotepass = x\nremotepasscommand = pass show mail\n")
	if len(w) != 1 || w[0].Option != "remotepasscommand" {
		t.Errorf("warnings %v", w)
	}
}

func TestTLSAndAuthOptions(t *testing.T) {
	home, parse := securityEnv(t)
	sha256 := strings.Repeat("AB", 32)
	r, w, err := parse(base + "cert_fingerprint = " + colonize(sha256) + ", " + strings.Repeat("cd", 64) + "\n" +
		"tls_level = tls_secure\nssl_version = tls1_2\nauth_mechanisms = GSSAPI, XOAUTH2, CRAM-MD5, PLAIN, LOGIN, oauthbearer\n")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.CertFingerprints) != fmt.Sprint([]string{strings.ToLower(sha256), strings.Repeat("cd", 64)}) {
		t.Errorf("fingerprints %v", r.CertFingerprints)
	}
	if r.TLSLevel != "tls_secure" || r.SSLVersion != "tls1_2" {
		t.Errorf("tls_level %q ssl_version %q", r.TLSLevel, r.SSLVersion)
	}
	if fmt.Sprint(r.AuthMechanisms) != "[XOAUTH2 CRAM-MD5 PLAIN LOGIN OAUTHBEARER]" {
		t.Errorf("auth_mechanisms %v", r.AuthMechanisms)
	}
	if len(w) != 1 || !strings.Contains(w[0].Message, "GSSAPI (Kerberos) is not supported") {
		t.Errorf("warnings %v", w)
	}
	// SHA-1: accepted, with a warning.
	r, w, err = parse(base + "cert_fingerprint = bbfe29cf97acb204591edbafe0aa8c8f914287c9\n")
	if err != nil || len(r.CertFingerprints) != 1 || len(w) != 1 || !strings.Contains(w[0].Message, "SHA-1") {
		t.Errorf("sha1: %v %v %v", r, w, err)
	}
	// Client certificate files.
	writeMode(t, filepath.Join(home, "c.pem"), "x", 0o600)
	r, _, err = parse(base + "sslclientcert = ~/c.pem\nsslclientkey = $HOME/c.pem\n")
	if err != nil || r.SSLClientCert != filepath.Join(home, "c.pem") || r.SSLClientKey != filepath.Join(home, "c.pem") {
		t.Errorf("client cert: %+v %v", r, err)
	}
	// OAuth2.
	r, _, err = parse(base + "oauth2_client_id = id\noauth2_client_secret = csecret\noauth2_refresh_token = rtok\n" +
		"oauth2_request_url = https://oauth2.example/token\n")
	if err != nil || !r.HasOAuth2() || r.OAuth2ClientSecret.Reveal() != "csecret" || r.OAuth2RefreshToken.Reveal() != "rtok" {
		t.Errorf("oauth2: %+v %v", r, err)
	}
	if red := r.Redacted(); strings.Contains(red, "csecret") || strings.Contains(red, "rtok") || !strings.Contains(red, "oauth2=<redacted>") {
		t.Errorf("Redacted = %s", red)
	}

	for _, tc := range []struct{ extra, want string }{
		{"cert_fingerprint = 00:11\n", `"00:11" has 4 hex digits`},
		{"cert_fingerprint = nothex\n", "is not hexadecimal"},
		{"tls_level = tls_max\n", "want tls_compat, tls_no_ssl or tls_secure"},
		{"ssl_version = tls1_1\n", "refuses TLS versions before 1.2"},
		{"auth_mechanisms = PLAIN, DIGEST-MD5\n", `unknown authentication mechanism "DIGEST-MD5"`},
		{"auth_mechanisms = GSSAPI\n", "no mechanism mailtrail supports"},
		{"oauth2_refresh_token = r\n", "oauth2_refresh_token needs oauth2_request_url"},
		{"oauth2_refresh_token = r\noauth2_request_url = http://plain.example/token\n", "want an https:// URL"},
		{"sslclientcert = ~/missing.pem\n", "sslclientcert: cannot use"},
		{"sslclientkey = ~/c.pem\n", "sslclientkey is set without sslclientcert"},
	} {
		_, _, err := parse(base + tc.extra)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.extra, err, tc.want)
		}
	}
}

func colonize(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}
