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

	// AuthMechanisms lists the mechanisms to try, in order, as in
	// OfflineIMAP's auth_mechanisms: "PLAIN" is AUTHENTICATE PLAIN (when the
	// server advertises AUTH=PLAIN), "LOGIN" is the LOGIN command (unless the
	// server advertises LOGINDISABLED). Names this adapter does not
	// implement (GSSAPI, XOAUTH2, CRAM-MD5) are skipped. Empty: LOGIN, or
	// AUTHENTICATE PLAIN when the server advertises LOGINDISABLED.
	AuthMechanisms []string

	// MaxConnections bounds the connections open at once (0: 1). A selected
	// folder holds one until it is closed.
	MaxConnections int
	// Timeout is how long a command may wait without the server sending a
	// byte before the connection is closed (0: DefaultTimeout).
	Timeout time.Duration

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
	return cfg, nil
}

func (cfg Config) address() string {
	return net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
}

// tlsConfig builds the TLS client configuration: certificates are verified
// against CAFile when given, else against the system roots.
func (cfg Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{
		ServerName:         cfg.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("imap CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("imap CA file %s: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = roots
	}
	return tc, nil
}
