package imap

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"strings"
)

// Fingerprint is one pinned certificate digest.
type Fingerprint struct {
	Algorithm string // "sha512", "sha384", "sha256", "sha224" or "sha1"
	Hex       string // lower case, no colons
}

// Weak reports whether the digest is SHA-1, which is accepted (OfflineIMAP
// accepts it) but no longer resists a determined forger.
func (f Fingerprint) Weak() bool { return f.Algorithm == "sha1" }

var fingerprintAlgorithms = map[int]struct {
	name string
	new  func() hash.Hash
}{
	128: {"sha512", sha512.New},
	96:  {"sha384", sha512.New384},
	64:  {"sha256", sha256.New},
	56:  {"sha224", sha256.New224},
	40:  {"sha1", sha1.New},
}

// ParseFingerprint reads a certificate fingerprint as OfflineIMAP's
// cert_fingerprint takes it: hexadecimal, case-insensitive, colons allowed,
// the algorithm told by the length (SHA-512, -384, -256, -224, SHA-1).
func ParseFingerprint(s string) (Fingerprint, error) {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	h = strings.TrimPrefix(h, "0x")
	if _, err := hex.DecodeString(h); err != nil || h == "" {
		return Fingerprint{}, fmt.Errorf("certificate fingerprint %q is not hexadecimal", s)
	}
	alg, ok := fingerprintAlgorithms[len(h)]
	if !ok {
		return Fingerprint{}, fmt.Errorf("certificate fingerprint %q has %d hex digits: want 64 (SHA-256), 128 (SHA-512), 96, 56 or 40 (SHA-1)", s, len(h))
	}
	return Fingerprint{Algorithm: alg.name, Hex: h}, nil
}

// CertFingerprint is the hex digest of a DER certificate with the named
// algorithm ("sha256" and the others ParseFingerprint knows).
func CertFingerprint(der []byte, algorithm string) string {
	for _, a := range fingerprintAlgorithms {
		if a.name == algorithm {
			h := a.new()
			h.Write(der)
			return hex.EncodeToString(h.Sum(nil))
		}
	}
	return ""
}

// CertificateError is a server certificate mailtrail refused: it names the
// certificate and says how to trust it, when that is the user's call.
type CertificateError struct {
	Host    string
	Subject string // the leaf certificate's subject
	Issuer  string
	SHA256  string // hex SHA-256 fingerprint of the leaf certificate
	Reason  error  // what failed: chain, host name, pin, or none presented
	Pinned  bool   // the refusal is a pin mismatch
	CAFile  string // the CA file it was verified against, or "" (system roots)
}

func (e *CertificateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the server's TLS certificate was refused: %v", e.Reason)
	if e.SHA256 == "" {
		return b.String()
	}
	fmt.Fprintf(&b, " (certificate subject %q, issuer %q, SHA-256 fingerprint %s)", e.Subject, e.Issuer, e.SHA256)
	if e.Pinned {
		b.WriteString("; the certificate is not the one cert_fingerprint pins: if the server's certificate was " +
			"replaced on purpose, check the new fingerprint with your provider and put it in cert_fingerprint; otherwise " +
			"someone may be intercepting the connection")
		return b.String()
	}
	var hn x509.HostnameError
	if errors.As(e.Reason, &hn) {
		fmt.Fprintf(&b, "; the certificate is not for %s: connect to a host name it names (set remotehost), or, if you have "+
			"checked that this is your server's certificate, trust exactly it with the line "+
			"cert_fingerprint = %s in the server's [Repository] section", e.Host, e.SHA256)
		return b.String()
	}
	where := "the system's trusted roots"
	if e.CAFile != "" {
		where = "the CA file " + e.CAFile
	}
	fmt.Fprintf(&b, "; it is not signed by an authority in %s. If it is your server's certificate (compare the fingerprint with "+
		"the one your provider publishes, or with the server's own), trust exactly it by adding the line "+
		"cert_fingerprint = %s to the server's [Repository] section, or give its CA certificate with sslcacertfile", where, e.SHA256)
	return b.String()
}

func (e *CertificateError) Unwrap() error { return e.Reason }

// verifier checks the server's certificate during the TLS handshake.
type verifier struct {
	host    string
	roots   *x509.CertPool // nil: the system roots
	caFile  string
	pins    []Fingerprint
	pinOnly bool // pins and no CA file: the pin alone decides
	skip    bool // InsecureSkipVerify: accept anything (tests)
}

func (v *verifier) verifyConnection(cs tls.ConnectionState) error {
	if v.skip {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return &CertificateError{Host: v.host, Reason: errors.New("the server presented no certificate")}
	}
	leaf := cs.PeerCertificates[0]
	fail := func(reason error, pinned bool) error {
		return &CertificateError{Host: v.host, Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(),
			SHA256: CertFingerprint(leaf.Raw, "sha256"), Reason: reason, Pinned: pinned, CAFile: v.caFile}
	}
	if !v.pinOnly {
		opts := x509.VerifyOptions{Roots: v.roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := leaf.Verify(opts); err != nil {
			return fail(err, false)
		}
		if err := leaf.VerifyHostname(hostForVerify(v.host)); err != nil {
			return fail(err, false)
		}
	}
	if len(v.pins) > 0 {
		for _, p := range v.pins {
			if CertFingerprint(leaf.Raw, p.Algorithm) == p.Hex {
				return nil
			}
		}
		return fail(errors.New("its fingerprint matches none in cert_fingerprint"), true)
	}
	return nil
}

// hostForVerify strips the brackets of an IPv6 literal.
func hostForVerify(h string) string {
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return ip.String()
	}
	return h
}
