// Package testdovecot runs a private, real Dovecot IMAP server for one test
// (Start, StartWith), or for a program such as cmd/mailtrail-bench (Launch,
// Close).
//
// It owns the server's whole life: a fresh directory under the system temp
// dir (mode 0755, so that Dovecot's mail processes, which run as nobody,
// can reach the mail), a generated self-signed certificate (Go crypto, no
// openssl), free loopback ports, the configuration, the start and the stop
// at the test's cleanup. Nothing outside that directory is touched.
//
// Invariants: the server listens on 127.0.0.1 only, plain IMAP with
// STARTTLS on Port and implicit TLS on TLSPort; mail is Maildir under
// MailDir(user), owned by nobody; when Dovecot is not installed or cannot
// start, Launch returns an error wrapping ErrUnavailable and the test is
// skipped with the reason, unless MAILTRAIL_REQUIRE_DOVECOT=1,
// in which case it fails. Stopping kills Dovecot's whole process group.
//
// Beware: after a failed login, Dovecot delays every later login from
// 127.0.0.1 by seconds (its authentication penalty). Run wrong-password
// tests last, or against a server of their own.
package testdovecot

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RequireEnv names the environment variable that turns "Dovecot is
// missing" from a skip into a failure.
const RequireEnv = "MAILTRAIL_REQUIRE_DOVECOT"

// DefaultPassword is the password of a user given without one.
const DefaultPassword = "secret"

// Options configure a server.
type Options struct {
	// Users are "name:password" or "name" (password DefaultPassword).
	// None: "alice:secret".
	Users []string
	// Separator is the IMAP hierarchy separator: "/" (the default) or ".".
	Separator string
	// RequireClientCert makes the server ask for a TLS client certificate
	// and refuse every login without one signed by its client CA; the
	// certificate and key to present are ClientCertFile and ClientKeyFile.
	RequireClientCert bool
}

// Server is a running Dovecot.
type Server struct {
	Host    string // 127.0.0.1
	Port    int    // plain IMAP, STARTTLS offered
	TLSPort int    // implicit TLS (IMAPS)
	CAFile  string // PEM of the self-signed certificate both ports present
	// Fingerprint is the SHA-256 of that certificate (hex, lower case);
	// FingerprintSHA512 and FingerprintSHA1 likewise.
	Fingerprint, FingerprintSHA512, FingerprintSHA1 string
	// ClientCertFile and ClientKeyFile are a client certificate the server
	// accepts (with Options.RequireClientCert), signed by a CA of its own.
	ClientCertFile, ClientKeyFile string
	Dir                           string // everything: config, logs, mail
	Users                         []string

	passwords map[string]string
	conf      string
	cmd       *exec.Cmd
	exited    chan struct{}
	mailUID   int
	mailGID   int
}

// Addr is "127.0.0.1:Port".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// TLSAddr is "127.0.0.1:TLSPort".
func (s *Server) TLSAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.TLSPort)) }

// Password returns user's password.
func (s *Server) Password(user string) string { return s.passwords[user] }

// MailDir is user's Maildir root (INBOX; folders are .Name subdirectories).
func (s *Server) MailDir(user string) string { return filepath.Join(s.Dir, "mail", user) }

// LogFile is Dovecot's log.
func (s *Server) LogFile() string { return filepath.Join(s.Dir, "dovecot.log") }

// Log returns the end of Dovecot's log, for failure messages.
func (s *Server) Log() string { return tail(s.LogFile(), 4000) }

// MailOwner is the user and group that must own the mail under MailDir.
func (s *Server) MailOwner() (uid, gid int) { return s.mailUID, s.mailGID }

// ChownMail gives everything under mail/ to the mail user again: call it
// after writing files into MailDir directly.
func (s *Server) ChownMail() error {
	return filepath.Walk(filepath.Join(s.Dir, "mail"), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.mailUID, s.mailGID)
	})
}

// ErrUnavailable is wrapped by the errors of Launch that mean "Dovecot
// cannot run here" (not installed, not root, missing system users, it did
// not start): the tests skip on them, other callers report them.
var ErrUnavailable = errors.New("dovecot is unavailable")

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// Start runs Dovecot with users ("name:password" or "name") for the test
// and stops it at cleanup.
func Start(t testing.TB, users ...string) *Server {
	t.Helper()
	return StartWith(t, Options{Users: users})
}

// StartWith is Start with all the options. When Dovecot cannot run here the
// test is skipped, or fails with RequireEnv=1.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Launch(opts)
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatal(err)
		}
		msg := "testdovecot: " + strings.TrimPrefix(err.Error(), ErrUnavailable.Error()+": ")
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg + " (" + RequireEnv + "=1)")
		}
		t.Skip(msg)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch runs Dovecot for a caller that is not a test (a benchmark): the
// same server as StartWith, which the caller must Close. An error wraps
// ErrUnavailable when Dovecot cannot run here; nothing is left behind.
func Launch(opts Options) (*Server, error) {
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/dovecot"); serr != nil {
			return nil, unavailable("dovecot is not installed (apt-get install dovecot-imapd)")
		}
		bin = "/usr/sbin/dovecot"
	}
	if os.Getuid() != 0 {
		return nil, unavailable("Dovecot needs root here (it switches to its own users)")
	}
	ids, err := lookupIDs()
	if err != nil {
		return nil, unavailable("%v", err)
	}
	sep := opts.Separator
	if sep == "" {
		sep = "/"
	}
	if sep != "/" && sep != "." {
		return nil, fmt.Errorf("testdovecot: separator %q: want \"/\" or \".\"", sep)
	}

	dir, err := os.MkdirTemp("", "mailtrail-dovecot-")
	if err != nil {
		return nil, fmt.Errorf("testdovecot: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Dir: dir, passwords: map[string]string{}, mailUID: ids.mailUID, mailGID: ids.mailGID}
	if err := s.launch(bin, sep, ids, opts); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// Close stops Dovecot (its whole process group) and removes Dir.
func (s *Server) Close() {
	s.stop()
	os.RemoveAll(s.Dir)
}

// launch writes the server's files into s.Dir and starts Dovecot.
func (s *Server) launch(bin, sep string, ids ids, opts Options) error {
	dir := s.Dir
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("testdovecot: %v", err)
	}
	users := opts.Users
	if len(users) == 0 {
		users = []string{"alice:" + DefaultPassword}
	}
	var passwd strings.Builder
	for _, u := range users {
		name, pass, ok := strings.Cut(u, ":")
		if !ok {
			pass = DefaultPassword
		}
		if name == "" || strings.ContainsAny(name, ":/\n") {
			return fmt.Errorf("testdovecot: bad user name %q", name)
		}
		s.Users = append(s.Users, name)
		s.passwords[name] = pass
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", name, pass)
	}
	// Modes are set with Chmod, not left to the umask: the process may run
	// with umask 077 (mailtrail sets it), and Dovecot's unprivileged
	// processes must still reach these.
	for _, sub := range []string{"run", "state", "mail", "home"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("testdovecot: %v", err)
		}
		if err := os.Chmod(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("testdovecot: %v", err)
		}
	}
	if err := writeFileMode(filepath.Join(dir, "users"), []byte(passwd.String()), 0o644); err != nil {
		return fmt.Errorf("testdovecot: %v", err)
	}
	s.CAFile = filepath.Join(dir, "tls.crt")
	if err := WriteCert(s.CAFile, filepath.Join(dir, "tls.key")); err != nil {
		return fmt.Errorf("testdovecot: certificate: %v", err)
	}
	if err := s.fingerprints(); err != nil {
		return fmt.Errorf("testdovecot: certificate: %v", err)
	}
	if opts.RequireClientCert {
		s.ClientCertFile, s.ClientKeyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
		if err := writeClientCert(filepath.Join(dir, "client-ca.crt"), s.ClientCertFile, s.ClientKeyFile); err != nil {
			return fmt.Errorf("testdovecot: client certificate: %v", err)
		}
	}
	for _, sub := range []string{"mail", "home"} {
		if err := os.Chown(filepath.Join(dir, sub), ids.mailUID, ids.mailGID); err != nil {
			return fmt.Errorf("testdovecot: %v", err)
		}
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return fmt.Errorf("testdovecot: %v", err)
		}
		s.Port, s.TLSPort = ports[0], ports[1]
		s.conf = filepath.Join(dir, "dovecot.conf")
		if err := writeFileMode(s.conf, []byte(s.config(sep, ids, opts)), 0o644); err != nil {
			return fmt.Errorf("testdovecot: %v", err)
		}
		lastErr = s.start(bin)
		if lastErr == nil {
			return nil
		}
		if !strings.Contains(lastErr.Error(), "in use") {
			break
		}
	}
	return unavailable("dovecot did not start: %v", lastErr)
}

func (s *Server) config(sep string, ids ids, opts Options) string {
	d := s.Dir
	var b strings.Builder
	fmt.Fprintf(&b, `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/tls.crt
ssl_key = <%[1]s/tls.key
disable_plaintext_auth = no
auth_failure_delay = 0
auth_mechanisms = plain login cram-md5
mail_location = maildir:%[1]s/mail/%%u
mail_fsync = never
default_login_user = %[2]s
default_internal_user = %[3]s
first_valid_uid = 1
first_valid_gid = 1
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[5]d
    ssl = yes
  }
  process_min_avail = 1
}
service imap {
  process_limit = 256
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=%[6]d gid=%[7]d home=%[1]s/home/%%u
}
protocol imap {
  mail_max_userip_connections = 100
}
namespace inbox {
  inbox = yes
  separator = %[8]s
}
`, d, ids.loginUser, ids.internalUser, s.Port, s.TLSPort, ids.mailUID, ids.mailGID, sep)
	if opts.RequireClientCert {
		fmt.Fprintf(&b, `ssl_ca = <%[1]s/client-ca.crt
ssl_verify_client_cert = yes
ssl_require_crl = no
auth_ssl_require_client_cert = yes
`, d)
	}
	return b.String()
}

// start launches dovecot in the foreground and waits until it greets.
func (s *Server) start(bin string) error {
	var out bytes.Buffer
	cmd := exec.Command(bin, "-F", "-c", s.conf)
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("dovecot exited: %s %s", strings.TrimSpace(out.String()), s.Log())
		default:
		}
		if err := greets(s.Addr()); err == nil {
			if conn, err := net.DialTimeout("tcp", s.TLSAddr(), time.Second); err == nil {
				conn.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("no IMAP greeting on %s after 15s: %s", s.Addr(), s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// greets connects and reads the "* OK" greeting.
func greets(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}

// stop kills Dovecot's process group (the master and every child) and
// waits for the master. A graceful SIGTERM costs Dovecot a second; the
// test's mail needs no shutdown.
func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if err := killGroup(s.cmd.Process.Pid); err != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.exited
	// The children die with the group; wait until the ports are closed so
	// that the next server can take them.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

type ids struct {
	mailUID, mailGID        int
	loginUser, internalUser string
}

func lookupIDs() (ids, error) {
	var r ids
	nobody, err := user.Lookup("nobody")
	if err != nil {
		return r, fmt.Errorf("no user nobody: %v", err)
	}
	r.mailUID, _ = strconv.Atoi(nobody.Uid)
	r.mailGID, _ = strconv.Atoi(nobody.Gid)
	if g, err := user.LookupGroup("nogroup"); err == nil {
		r.mailGID, _ = strconv.Atoi(g.Gid)
	}
	for _, name := range []string{"dovenull", "dovecot"} {
		if _, err := user.Lookup(name); err != nil {
			return r, fmt.Errorf("no user %s (installed by the dovecot-core package): %v", name, err)
		}
	}
	r.loginUser, r.internalUser = "dovenull", "dovecot"
	return r, nil
}

// freePorts finds n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// fingerprints fills in the digests of the server's certificate.
func (s *Server) fingerprints() error {
	b, err := os.ReadFile(s.CAFile)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return fmt.Errorf("%s: no PEM block", s.CAFile)
	}
	s256 := sha256.Sum256(block.Bytes)
	s512 := sha512.Sum512(block.Bytes)
	s1 := sha1.Sum(block.Bytes)
	s.Fingerprint, s.FingerprintSHA512, s.FingerprintSHA1 = hex.EncodeToString(s256[:]), hex.EncodeToString(s512[:]), hex.EncodeToString(s1[:])
	return nil
}

// writeFileMode writes a file with exactly mode, whatever the umask.
func writeFileMode(name string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(name, data, mode); err != nil {
		return err
	}
	return os.Chmod(name, mode)
}

// writeClientCert writes a CA (certificate only) and a client certificate
// and key it signed.
func writeClientCert(caFile, certFile, keyFile string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtrail test client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "alice"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileMode(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return err
	}
	if err := writeFileMode(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return writeFileMode(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// WriteCert writes a new self-signed ECDSA certificate for localhost,
// 127.0.0.1 and ::1, usable as its own CA (tests use a second one as "a
// CA that did not sign the server's certificate").
func WriteCert(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"mailtrail test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileMode(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return writeFileMode(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
