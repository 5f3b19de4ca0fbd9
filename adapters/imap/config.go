package imap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// TLSMode says how the connection to the server is encrypted.
type TLSMode int

const (
	// TLSImplicit speaks TLS from the first byte (IMAPS, port 993). It is
	// the zero value: encryption is the default.
	TLSImplicit TLSMode = iota
	// TLSStartTLS connects in clear text and upgrades with STARTTLS before
	// logging in (port 143). A server that refuses STARTTLS is an error.
	TLSStartTLS
	// TLSNone never encrypts. The password crosses the network in clear.
	TLSNone
)

func (m TLSMode) String() string {
	switch m {
	case TLSImplicit:
		return "implicit"
	case TLSStartTLS:
		return "starttls"
	case TLSNone:
		return "none"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode reads "implicit" (also "tls", "ssl", "imaps"), "starttls" or
// "none" (also "plain"), case-insensitively.
func ParseTLSMode(s string) (TLSMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "implicit", "tls", "ssl", "imaps":
		return TLSImplicit, nil
	case "starttls":
		return TLSStartTLS, nil
	case "none", "plain":
		return TLSNone, nil
	}
	return 0, fmt.Errorf("imap TLS mode %q: want implicit, starttls or none", s)
}

// DefaultTimeout is the watchdog's timeout when Config.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Config says where the server is and how to log in.
type Config struct {
	Host     string
	Port     int // 0: 993 for TLSImplicit, 143 otherwise
	User     string
	Password string // never logged, never put in an error

	TLS TLSMode
	// CAFile is a PEM file of the certificate authorities to trust instead
	// of the system's (OfflineIMAP's sslcacertfile). Empty: system roots.
	CAFile string
	// InsecureSkipVerify accepts any certificate. For tests only.
	InsecureSkipVerify bool
	// Fingerprints pin the server's certificate (OfflineIMAP's
	// cert_fingerprint): hex digests of its DER encoding, SHA-512, -384,
	// -256, -224 or SHA-1 told apart by their length, colons allowed. When
	// set, the certificate must have one of them; when CAFile is empty too,
	// only the pin is checked (a self-signed certificate is then usable),
	// otherwise the chain and host name are verified as well.
	Fingerprints []string
	// ClientCertFile and ClientKeyFile are a PEM certificate and key to
	// present to the server (sslclientcert, sslclientkey). An empty key
	// file means the key is in the certificate file.
	ClientCertFile, ClientKeyFile string
	// MinTLSVersion and MaxTLSVersion bound the TLS versions offered
	// (tls.VersionTLS12 ...). Zero: TLS 1.2 and the newest. A minimum below
	// TLS 1.2 is refused.
	MinTLSVersion, MaxTLSVersion uint16

	// AuthMechanisms lists the mechanisms to try, in order, as in
	// OfflineIMAP's auth_mechanisms: "XOAUTH2" and "OAUTHBEARER" (with
	// OAuth2 set, when the server advertises them), "CRAM-MD5" and "PLAIN"
	// (AUTHENTICATE, when advertised), "LOGIN" (the LOGIN command, unless
	// the server advertises LOGINDISABLED). "GSSAPI" is skipped. When one
	// fails the next is tried, as OfflineIMAP does. Empty: OfflineIMAP's
	// default order, DefaultAuthMechanisms.
	AuthMechanisms []string
	// OAuth2 holds the OAuth2 credentials for XOAUTH2 and OAUTHBEARER; nil
	// when there are none.
	OAuth2 *OAuth2

	// MaxConnections bounds the connections open at once (0: 1). A selected
	// folder holds one until it is closed.
	MaxConnections int
	// WarmWhileDialling, when set, is called by Dial beside the first
	// connection's login: the connections the work to come will want, the
	// first included, opened at once (Warm) so that their connect, TLS
	// handshake and greeting overlap the first login. They authenticate
	// only once the first has logged in, and not at all when it fails: a
	// wrong password is tried once.
	WarmWhileDialling func() int
	// Timeout is how long a command may wait without the server sending a
	// byte before the connection is closed (0: DefaultTimeout).
	Timeout time.Duration

	// Reference is the reference of every LIST (OfflineIMAP's reference):
	// folders are listed with LIST "<Reference>" "*", so only those the
	// server matches under it; their names are the full names the server
	// gives (nothing is stripped). A folder created outside it would not
	// be listed again, so CreateFolder refuses one (unless it is in
	// Include). Empty: every folder.
	Reference string
	// SubscribedOnly lists only the subscribed folders (OfflineIMAP's
	// subscribedonly), with LIST (SUBSCRIBED): the server must offer
	// LIST-EXTENDED or IMAP4rev2. A folder CreateFolder creates is
	// subscribed, so that it is listed again.
	SubscribedOnly bool
	// Include names server folders (with the server's delimiter, UTF-8)
	// that ListFolders lists when they exist even though Reference or
	// SubscribedOnly leave them out (OfflineIMAP's folderincludes).
	Include []string

	// Logger receives debug and warning events; the zero value logs nothing.
	Logger zerolog.Logger
}

// withDefaults returns the config with its zero fields filled in, or an
// error naming the field that is wrong.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Host == "" {
		return cfg, errors.New("imap config: Host is empty")
	}
	switch cfg.TLS {
	case TLSImplicit, TLSStartTLS, TLSNone:
	default:
		return cfg, fmt.Errorf("imap config: unknown TLS mode %d", int(cfg.TLS))
	}
	if cfg.Port == 0 {
		if cfg.TLS == TLSImplicit {
			cfg.Port = 993
		} else {
			cfg.Port = 143
		}
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return cfg, fmt.Errorf("imap config: port %d is out of range", cfg.Port)
	}
	if cfg.MaxConnections < 0 {
		return cfg, fmt.Errorf("imap config: MaxConnections %d is negative", cfg.MaxConnections)
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = 1
	}
	if cfg.Timeout < 0 {
		return cfg, fmt.Errorf("imap config: Timeout %s is negative", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MinTLSVersion == 0 {
		cfg.MinTLSVersion = tls.VersionTLS12
	}
	if cfg.MinTLSVersion < tls.VersionTLS12 {
		return cfg, fmt.Errorf("imap config: TLS versions before 1.2 are refused (asked for %s)", tls.VersionName(cfg.MinTLSVersion))
	}
	if cfg.MaxTLSVersion != 0 && cfg.MaxTLSVersion < cfg.MinTLSVersion {
		return cfg, fmt.Errorf("imap config: the newest TLS version allowed (%s) is older than the oldest (%s)",
			tls.VersionName(cfg.MaxTLSVersion), tls.VersionName(cfg.MinTLSVersion))
	}
	for _, m := range cfg.AuthMechanisms {
		if !knownMechanism(m) {
			return cfg, fmt.Errorf("imap config: unknown authentication mechanism %q: want %s", m, strings.Join(append([]string{"GSSAPI"}, DefaultAuthMechanisms...), ", "))
		}
	}
	for _, f := range cfg.Fingerprints {
		if _, err := ParseFingerprint(f); err != nil {
			return cfg, fmt.Errorf("imap config: %w", err)
		}
	}
	return cfg, nil
}

func (cfg Config) address() string {
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
}

// verifiedTLS reports whether the connection is encrypted before login
// with the server's certificate verified (by CAFile, the system roots or
// a pin): not TLSNone, not InsecureSkipVerify.
func (cfg Config) verifiedTLS() bool { return cfg.TLS != TLSNone && !cfg.InsecureSkipVerify }

// tlsConfig builds the TLS client configuration. Verification is done by
// verifyConnection (certificate chain against CAFile or the system roots,
// host name, pins), so that a rejected certificate can be described.
func (cfg Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		ServerName: cfg.Host,
		MinVersion: cfg.MinTLSVersion,
		MaxVersion: cfg.MaxTLSVersion,
		// Verification is verifyConnection's: it does what crypto/tls
		// would, then checks the pins, and says which certificate it
		// rejected and how to trust it.
		InsecureSkipVerify: true,
	}
	v := &verifier{host: cfg.Host, skip: cfg.InsecureSkipVerify}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("imap CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("imap CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		v.roots = roots
		v.caFile = cfg.CAFile
	}
	for _, f := range cfg.Fingerprints {
		fp, err := ParseFingerprint(f)
		if err != nil {
			return nil, err
		}
		v.pins = append(v.pins, fp)
	}
	v.pinOnly = len(v.pins) > 0 && cfg.CAFile == ""
	tc.VerifyConnection = v.verifyConnection
	if cfg.ClientCertFile != "" {
		keyFile := cfg.ClientKeyFile
		if keyFile == "" {
			keyFile = cfg.ClientCertFile
		}
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("imap client certificate %s with key %s: %w", cfg.ClientCertFile, keyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	} else if cfg.ClientKeyFile != "" {
		return nil, errors.New("imap config: a client key without a client certificate (set sslclientcert too)")
	}
	return tc, nil
}

// String describes the configuration without its secrets, so that printing
// a Config (with %v or %+v) never shows the password or a token.
func (cfg Config) String() string {
	pass := "<unset>"
	if cfg.Password != "" {
		pass = "<redacted>"
	}
	oauth := "none"
	if cfg.OAuth2 != nil {
		oauth = "<redacted>"
	}
	return fmt.Sprintf("imap.Config{%s@%s tls=%s cafile=%q pins=%d clientcert=%q password=%s oauth2=%s mechanisms=%v}",
		cfg.User, cfg.address(), cfg.TLS, cfg.CAFile, len(cfg.Fingerprints), cfg.ClientCertFile, pass, oauth, cfg.AuthMechanisms)
}

// GoString is String, for %#v.
func (cfg Config) GoString() string { return cfg.String() }
