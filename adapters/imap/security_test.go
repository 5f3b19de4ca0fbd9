package imap

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtrail/internal/testdovecot"
)

func TestCRAMMD5ResponseRFC2195(t *testing.T) {
	// The example of RFC 2195, section 2.
	got := cramMD5Response("tim", "tanstaaftanstaaf", []byte("<1896.697170952@postoffice.reston.mci.net>"))
	if want := "tim b913a602c7eda7a495b4e6e7334d3890"; got != want {
		t.Errorf("CRAM-MD5 response = %q, want %q", got, want)
	}
}

func TestParseFingerprint(t *testing.T) {
	sha256hex := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		sha256hex:                                  "sha256 " + sha256hex,
		strings.ToUpper(sha256hex):                 "sha256 " + sha256hex,
		colons(strings.ToUpper(sha256hex)):         "sha256 " + sha256hex,
		strings.Repeat("01", 64):                   "sha512 " + strings.Repeat("01", 64),
		strings.Repeat("01", 48):                   "sha384 " + strings.Repeat("01", 48),
		strings.Repeat("01", 28):                   "sha224 " + strings.Repeat("01", 28),
		"bbfe29cf97acb204591edbafe0aa8c8f914287c9": "sha1 bbfe29cf97acb204591edbafe0aa8c8f914287c9",
	} {
		fp, err := ParseFingerprint(in)
		if err != nil {
			t.Errorf("ParseFingerprint(%q): %v", in, err)
			continue
		}
		if got := fp.Algorithm + " " + fp.Hex; got != want {
			t.Errorf("ParseFingerprint(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("ab", 31), strings.Repeat("zz", 32)} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted it", bad)
		}
	}
}

func colons(h string) string {
	var parts []string
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func TestConfigRefusesOldTLSAndUnknownMechanisms(t *testing.T) {
	for _, cfg := range []Config{
		{Host: "h", MinTLSVersion: tls.VersionTLS11},
		{Host: "h", MinTLSVersion: tls.VersionTLS13, MaxTLSVersion: tls.VersionTLS12},
		{Host: "h", AuthMechanisms: []string{"DIGEST-MD5"}},
		{Host: "h", Fingerprints: []string{"nothex"}},
	} {
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("withDefaults accepted %+v", cfg)
		}
	}
	cfg, err := Config{Host: "h"}.withDefaults()
	if err != nil || cfg.MinTLSVersion != tls.VersionTLS12 {
		t.Errorf("default minimum TLS version = %x (%v), want TLS 1.2", cfg.MinTLSVersion, err)
	}
}

// TestTLSAgainstDovecot checks certificate verification, pinning and
// STARTTLS against a real Dovecot (plain+STARTTLS on Port, implicit TLS on
// TLSPort, a self-signed certificate for localhost and 127.0.0.1).
func TestTLSAgainstDovecot(t *testing.T) {
	srv := testdovecot.Start(t, "alice:tls-pw-4711")
	base := Config{Host: srv.Host, User: "alice", Password: srv.Password("alice"), Timeout: 10 * time.Second}
	implicit := func() Config { c := base; c.Port, c.TLS = srv.TLSPort, TLSImplicit; return c }
	starttls := func() Config { c := base; c.Port, c.TLS = srv.Port, TLSStartTLS; return c }

	otherCA := filepath.Join(t.TempDir(), "other.crt")
	if err := testdovecot.WriteCert(otherCA, filepath.Join(filepath.Dir(otherCA), "other.key")); err != nil {
		t.Fatal(err)
	}

	t.Run("ImplicitTLS", func(t *testing.T) {
		c := implicit()
		c.CAFile = srv.CAFile
		checkDial(t, c)
	})
	t.Run("STARTTLS", func(t *testing.T) {
		c := starttls()
		c.CAFile = srv.CAFile
		checkDial(t, c)
	})
	t.Run("TLS12Only", func(t *testing.T) {
		c := implicit()
		c.CAFile, c.MaxTLSVersion = srv.CAFile, tls.VersionTLS12
		checkDial(t, c)
	})
	refused := func(t *testing.T, c Config, pinned bool, wants ...string) {
		t.Helper()
		_, err := Dial(ctxT(t), c)
		if err == nil {
			t.Fatalf("%s: Dial accepted the certificate", c.TLS)
		}
		var ce *CertificateError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: error %v is not a CertificateError", c.TLS, err)
		}
		if ce.Pinned != pinned || ce.SHA256 != srv.Fingerprint {
			t.Errorf("%s: CertificateError pinned %t fingerprint %s, want %t %s", c.TLS, ce.Pinned, ce.SHA256, pinned, srv.Fingerprint)
		}
		for _, want := range append([]string{"CN=localhost", srv.Fingerprint}, wants...) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not say %q", c.TLS, err, want)
			}
		}
		if strings.Contains(err.Error(), c.Password) {
			t.Errorf("error holds the password: %v", err)
		}
	}
	t.Run("SystemRootsRefuseSelfSigned", func(t *testing.T) {
		for _, c := range []Config{implicit(), starttls()} {
			refused(t, c, false, "system's trusted roots", "cert_fingerprint = "+srv.Fingerprint)
		}
	})
	t.Run("WrongCARefused", func(t *testing.T) {
		for _, c := range []Config{implicit(), starttls()} {
			c.CAFile = otherCA
			refused(t, c, false, otherCA, "cert_fingerprint = "+srv.Fingerprint)
		}
	})
	t.Run("HostNameChecked", func(t *testing.T) {
		// The certificate names localhost and 127.0.0.1; 127.0.0.2 is the
		// same machine under a name the certificate does not carry.
		p := startTapProxy(t, "127.0.0.2:0", srv.TLSAddr(), false)
		c := implicit()
		c.Host, c.Port, c.CAFile = "127.0.0.2", p.port(), srv.CAFile
		refused(t, c, false, "not for 127.0.0.2")
		c.Host, c.Port = "localhost", srv.TLSPort // a name it does carry
		checkDial(t, c)
	})
	t.Run("RightFingerprintAccepted", func(t *testing.T) {
		for _, fp := range []string{srv.Fingerprint, colons(strings.ToUpper(srv.Fingerprint)), srv.FingerprintSHA512, srv.FingerprintSHA1} {
			c := implicit()
			c.Fingerprints = []string{strings.Repeat("00", 32), fp}
			checkDial(t, c)
			c = starttls()
			c.Fingerprints = []string{fp}
			checkDial(t, c)
		}
		// Pin and CA together: both must hold.
		c := implicit()
		c.CAFile, c.Fingerprints = srv.CAFile, []string{srv.Fingerprint}
		checkDial(t, c)
	})
	t.Run("WrongFingerprintRefused", func(t *testing.T) {
		wrong := strings.Repeat("0f", 32)
		for _, c := range []Config{implicit(), starttls()} {
			c.Fingerprints = []string{wrong}
			refused(t, c, true, "cert_fingerprint pins", "intercepting")
			c.CAFile = srv.CAFile // a valid chain does not excuse a wrong pin
			refused(t, c, true, "cert_fingerprint pins")
		}
	})
	t.Run("StrippedSTARTTLSRefused", func(t *testing.T) {
		p := startTapProxy(t, "127.0.0.1:0", srv.Addr(), true)
		c := starttls()
		c.Port, c.CAFile = p.port(), srv.CAFile
		_, err := Dial(ctxT(t), c)
		if err == nil {
			t.Fatal("Dial went on without STARTTLS")
		}
		if !strings.Contains(err.Error(), "STARTTLS") || !strings.Contains(err.Error(), "never logs in unencrypted") {
			t.Errorf("error %q does not say that STARTTLS was refused", err)
		}
		sent := p.clientSent()
		if !strings.Contains(sent, "STARTTLS") {
			t.Fatalf("the client never asked for STARTTLS: %q", sent)
		}
		for _, bad := range []string{"LOGIN", "AUTHENTICATE", c.Password} {
			if strings.Contains(strings.ToUpper(sent), strings.ToUpper(bad)) {
				t.Errorf("the client sent %q in clear text after STARTTLS was refused: %q", bad, sent)
			}
		}
	})
	t.Run("CRAMMD5", func(t *testing.T) {
		// In clear text through a tap, so that the exchange can be seen:
		// CRAM-MD5 is chosen, and the password never crosses the wire.
		p := startTapProxy(t, "127.0.0.1:0", srv.Addr(), false)
		c := base
		c.Port, c.TLS, c.AuthMechanisms = p.port(), TLSNone, []string{"CRAM-MD5"}
		checkDial(t, c)
		sent := p.clientSent()
		if !strings.Contains(sent, "AUTHENTICATE CRAM-MD5") {
			t.Errorf("the client did not authenticate with CRAM-MD5: %q", sent)
		}
		if strings.Contains(sent, c.Password) || strings.Contains(sent, base64.StdEncoding.EncodeToString([]byte(c.Password))) {
			t.Errorf("the password crossed the wire: %q", sent)
		}
		// The default order (OfflineIMAP's) picks CRAM-MD5 too.
		c.AuthMechanisms = nil
		checkDial(t, c)
		if n := strings.Count(p.clientSent(), "AUTHENTICATE CRAM-MD5"); n != 2 {
			t.Errorf("the default mechanisms used CRAM-MD5 %d times in 2 logins", n)
		}
	})
}

// TestClientCertificateAgainstDovecot: a Dovecot that refuses logins
// without a client certificate accepts the one configured.
func TestClientCertificateAgainstDovecot(t *testing.T) {
	srv := testdovecot.StartWith(t, testdovecot.Options{Users: []string{"alice:cc-pw-1234"}, RequireClientCert: true})
	c := Config{Host: srv.Host, Port: srv.TLSPort, TLS: TLSImplicit, CAFile: srv.CAFile, User: "alice",
		Password: srv.Password("alice"), Timeout: 10 * time.Second,
		ClientCertFile: srv.ClientCertFile, ClientKeyFile: srv.ClientKeyFile}
	checkDial(t, c)
	// Last: a failed login delays the next ones.
	c.ClientCertFile, c.ClientKeyFile = "", ""
	if _, err := Dial(ctxT(t), c); err == nil {
		t.Fatal("the server accepted a login without the client certificate: the test proves nothing")
	}
}

// tokenEndpoint is a fake OAuth2 token endpoint over TLS.
type tokenEndpoint struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []map[string]string
	next     []string // access tokens to hand out, in order
	expires  int
	fail     string // an error code to answer with
}

func startTokenEndpoint(t *testing.T, expires int, tokens ...string) *tokenEndpoint {
	e := &tokenEndpoint{next: tokens, expires: expires}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "want a form POST", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		req := map[string]string{}
		for k := range r.PostForm {
			req[k] = r.PostForm.Get(k)
		}
		e.requests = append(e.requests, req)
		w.Header().Set("Content-Type", "application/json")
		if e.fail != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error": %q, "error_description": "Token has been expired or revoked."}`, e.fail)
			return
		}
		if len(e.next) == 0 {
			http.Error(w, "no more tokens", http.StatusInternalServerError)
			return
		}
		tok := e.next[0]
		e.next = e.next[1:]
		fmt.Fprintf(w, `{"access_token": %q, "expires_in": %d, "token_type": "Bearer"}`, tok, e.expires)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *tokenEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.requests)
}

func TestOAuth2(t *testing.T) {
	const user = "jane@example.org"
	oauth := func(e *tokenEndpoint) *OAuth2 {
		return &OAuth2{ClientID: "client-id-1", ClientSecret: "client-secret-XYZ", RefreshToken: "refresh-token-QQQ",
			RequestURL: e.srv.URL + "/token", HTTPClient: e.srv.Client()}
	}
	cfgFor := func(s *oauthServer, o *OAuth2, mechs ...string) Config {
		return Config{Host: "127.0.0.1", Port: s.port(), TLS: TLSNone, User: user, Timeout: 10 * time.Second,
			AuthMechanisms: mechs, OAuth2: o}
	}

	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		t.Run(mech+"RefreshThenLogin", func(t *testing.T) {
			e := startTokenEndpoint(t, 3600, "access-A")
			s := startOAuthServer(t, user, "access-A")
			st, err := Dial(ctxT(t), cfgFor(s, oauth(e), mech))
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			if got := s.events(); len(got) != 1 || got[0] != mech+" access-A ok" {
				t.Errorf("server saw %q", got)
			}
			want := map[string]string{"client_id": "client-id-1", "client_secret": "client-secret-XYZ",
				"refresh_token": "refresh-token-QQQ", "grant_type": "refresh_token"}
			if e.count() != 1 || fmt.Sprint(e.requests[0]) != fmt.Sprint(want) {
				t.Errorf("token endpoint got %v, want one request %v", e.requests, want)
			}
		})
	}

	t.Run("ExpiredTokenRefreshed", func(t *testing.T) {
		e := startTokenEndpoint(t, 600, "access-1", "access-2")
		s := startOAuthServer(t, user, "access-1", "access-2")
		now := time.Now()
		o := oauth(e)
		o.Now = func() time.Time { return now }
		c := cfgFor(s, o, "XOAUTH2")
		c.MaxConnections = 3
		st, err := Dial(ctxT(t), c)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		// A second connection while the token is valid reuses it ...
		first, err := st.acquire(ctxT(t)) // the idle one Dial opened
		if err != nil {
			t.Fatal(err)
		}
		defer st.release(first)
		second, err := st.acquire(ctxT(t)) // a new one
		if err != nil {
			t.Fatal(err)
		}
		defer st.release(second)
		if e.count() != 1 {
			t.Fatalf("token requests = %d with a valid token, want 1", e.count())
		}
		// ... and one opened after it expired gets a new one.
		now = now.Add(11 * time.Minute)
		third, err := st.acquire(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.release(third)
		if e.count() != 2 {
			t.Errorf("token requests = %d after expiry, want 2", e.count())
		}
		ev := s.events()
		if last := ev[len(ev)-1]; last != "XOAUTH2 access-2 ok" {
			t.Errorf("server events %q: the last login did not use the refreshed token", ev)
		}
	})

	t.Run("RefusedConfiguredTokenRefreshedOnce", func(t *testing.T) {
		e := startTokenEndpoint(t, 3600, "access-new")
		s := startOAuthServer(t, user, "access-new")
		o := oauth(e)
		o.AccessToken = "access-stale"
		st, err := Dial(ctxT(t), cfgFor(s, o, "XOAUTH2"))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		want := []string{"XOAUTH2 access-stale refused", "answer ", "XOAUTH2 access-new ok"}
		if got := s.events(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("server saw %q, want %q", got, want)
		}
	})

	t.Run("OAuthBearerRefusalAnsweredAndReported", func(t *testing.T) {
		s := startOAuthServer(t, user) // accepts nothing
		o := &OAuth2{AccessToken: "access-only-TTT"}
		_, err := Dial(ctxT(t), cfgFor(s, o, "OAUTHBEARER"))
		if err == nil {
			t.Fatal("Dial succeeded with a refused token")
		}
		// RFC 7628: the client answers the error challenge with 0x01.
		if got := s.events(); len(got) != 2 || got[1] != "answer "+base64.StdEncoding.EncodeToString([]byte{1}) {
			t.Errorf("server saw %q", got)
		}
		if !strings.Contains(err.Error(), "refused the OAuth2 access token (status 401") {
			t.Errorf("error %q does not say the token was refused", err)
		}
		if strings.Contains(err.Error(), "access-only-TTT") {
			t.Errorf("error holds the token: %v", err)
		}
	})

	t.Run("EndpointErrorKeepsSecrets", func(t *testing.T) {
		e := startTokenEndpoint(t, 3600)
		e.fail = "invalid_grant"
		s := startOAuthServer(t, user)
		_, err := Dial(ctxT(t), cfgFor(s, oauth(e), "XOAUTH2"))
		if err == nil {
			t.Fatal("Dial succeeded without a token")
		}
		if !strings.Contains(err.Error(), `"invalid_grant"`) || !strings.Contains(err.Error(), "HTTP 400") {
			t.Errorf("error %q does not give the endpoint's error", err)
		}
		for _, secret := range []string{"client-secret-XYZ", "refresh-token-QQQ"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds %s: %v", secret, err)
			}
		}
	})

	t.Run("PlainHTTPEndpointRefused", func(t *testing.T) {
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("the refresh token was sent over plain HTTP")
		}))
		defer plain.Close()
		s := startOAuthServer(t, user)
		o := &OAuth2{ClientID: "id", ClientSecret: "s", RefreshToken: "r", RequestURL: plain.URL + "/token"}
		_, err := Dial(ctxT(t), cfgFor(s, o, "XOAUTH2"))
		if err == nil || !strings.Contains(err.Error(), "https://") {
			t.Errorf("Dial with an http:// token URL: %v", err)
		}
	})

	t.Run("NoOAuthMeansNoOAuthMechanism", func(t *testing.T) {
		s := startOAuthServer(t, user)
		_, err := Dial(ctxT(t), cfgFor(s, nil))
		if err == nil || !strings.Contains(err.Error(), "no usable authentication mechanism") {
			t.Errorf("Dial without credentials: %v", err)
		}
	})
}

func TestConfigPrintsNoSecret(t *testing.T) {
	c := Config{Host: "h", User: "u", Password: "pw-PRINTED", OAuth2: &OAuth2{ClientSecret: "cs-PRINTED", RefreshToken: "rt-PRINTED", AccessToken: "at-PRINTED"}}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, c) + fmt.Sprintf(f, c.OAuth2) + fmt.Sprintf(f, &c)
		if strings.Contains(out, "PRINTED") {
			t.Errorf("%s shows a secret: %s", f, out)
		}
	}
}
