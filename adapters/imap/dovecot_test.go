package imap

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"mailtrail/internal/testdovecot"
	"mailtrail/model"
)

// TestDovecot runs the suite against a real Dovecot whose hierarchy
// separator is '.', so that every folder name crosses a translation, then
// the tests only a real server can answer: TLS, authentication, memory.
func TestDovecot(t *testing.T) {
	srv := testdovecot.StartWith(t, testdovecot.Options{Users: []string{"alice:s3cret-pw"}, Separator: "."})
	b := dovecotBackend(t, srv, ".")
	runSuite(t, b)

	t.Run("ImplicitTLSWithCAFile", func(t *testing.T) {
		cfg := b.cfg
		cfg.Port, cfg.TLS, cfg.CAFile = srv.TLSPort, TLSImplicit, srv.CAFile
		checkDial(t, cfg)
	})
	t.Run("STARTTLSWithCAFile", func(t *testing.T) {
		cfg := b.cfg
		cfg.TLS, cfg.CAFile = TLSStartTLS, srv.CAFile
		checkDial(t, cfg)
	})
	// The default order's mechanism: CRAM-MD5 in clear text; over TLS
	// that verified the server, PLAIN with its initial response (one
	// round trip); as configured otherwise.
	t.Run("CRAMChallengeWhileFirstLogsIn", func(t *testing.T) { testCRAMChallengeWhileFirstLogsIn(t, b) })
	t.Run("DefaultMechanismByTransport", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			set  func(*Config)
			want string
		}{
			{"clear text", func(c *Config) { c.TLS = TLSNone }, "CRAM-MD5"},
			{"implicit TLS", func(c *Config) { c.Port, c.TLS, c.CAFile = srv.TLSPort, TLSImplicit, srv.CAFile }, "PLAIN"},
			{"STARTTLS", func(c *Config) { c.TLS, c.CAFile = TLSStartTLS, srv.CAFile }, "PLAIN"},
			{"TLS not verified", func(c *Config) { c.Port, c.TLS, c.InsecureSkipVerify = srv.TLSPort, TLSImplicit, true }, "CRAM-MD5"},
			{"TLS, configured", func(c *Config) {
				c.Port, c.TLS, c.CAFile, c.AuthMechanisms = srv.TLSPort, TLSImplicit, srv.CAFile, []string{"CRAM-MD5", "PLAIN"}
			}, "CRAM-MD5"},
		} {
			cfg := b.cfg
			cfg.AuthMechanisms = nil
			tc.set(&cfg)
			var log bytes.Buffer
			cfg.Logger = zerolog.New(&log).Level(zerolog.DebugLevel)
			checkDial(t, cfg)
			if want := fmt.Sprintf(`"mechanism":%q,"message":"imap: logged in"`, tc.want); !strings.Contains(log.String(), want) {
				t.Errorf("%s: logged in otherwise than with %s:\n%s", tc.name, tc.want, log.String())
			}
			if tc.want == "PLAIN" && !strings.Contains(log.String(), `"AUTHENTICATE PLAIN"`) {
				t.Errorf("%s: no AUTHENTICATE PLAIN command logged:\n%s", tc.name, log.String())
			}
		}
	})
	t.Run("TLSWithoutCAFails", func(t *testing.T) {
		for _, mode := range []TLSMode{TLSImplicit, TLSStartTLS} {
			cfg := b.cfg
			cfg.TLS = mode
			if mode == TLSImplicit {
				cfg.Port = srv.TLSPort
			}
			_, err := Dial(ctxT(t), cfg)
			if err == nil {
				t.Fatalf("%s: Dial trusted a self-signed certificate without CAFile", mode)
			}
			for _, want := range []string{"imap alice@127.0.0.1:", "certificate", "cert_fingerprint = "} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q does not say %q", mode, err, want)
				}
			}
		}
	})
	t.Run("InsecureSkipVerify", func(t *testing.T) {
		cfg := b.cfg
		cfg.Port, cfg.TLS, cfg.InsecureSkipVerify = srv.TLSPort, TLSImplicit, true
		checkDial(t, cfg)
	})
	t.Run("AuthenticatePlain", func(t *testing.T) {
		cfg := b.cfg
		cfg.AuthMechanisms = []string{"CRAM-MD5", "PLAIN"}
		checkDial(t, cfg)
	})
	t.Run("Fetch20MBInConstantMemory", func(t *testing.T) { testBigFetch(t, b) })
	// Last: after a failed login Dovecot delays every login from the same
	// address by seconds.
	t.Run("WrongPassword", func(t *testing.T) {
		cfg := b.cfg
		cfg.Password = "wrong-password-xyzzy"
		// One attempt only: Dovecot delays every further failure from the
		// same address by seconds.
		_, err := Dial(ctxT(t), cfg)
		if err == nil {
			t.Fatal("Dial with a wrong password succeeded")
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("imap alice@127.0.0.1:%d: login failed: ", srv.Port)) {
			t.Errorf("error %q does not start with the account and \"login failed\"", err)
		}
		if strings.Contains(err.Error(), cfg.Password) {
			t.Errorf("error %q holds the password", err)
		}
	})
}

func checkDial(t *testing.T, cfg Config) {
	t.Helper()
	s, err := Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", cfg.TLS, err)
	}
	defer s.Close()
	if _, err := s.ListFolders(ctxT(t)); err != nil {
		t.Fatalf("ListFolders over %s: %v", cfg.TLS, err)
	}
}

// testBigFetch appends a 20 MB message and fetches it: the bytes
// allocated while fetching stay far below the message's size.
func testBigFetch(t *testing.T, b *backend) {
	ctx := ctxT(t)
	const size = 20 << 20
	var buf bytes.Buffer
	buf.WriteString("From: a@example.org\r\nSubject: big\r\nMessage-ID: <big@test>\r\n\r\n")
	line := strings.Repeat("All work and no play makes Jack a dull boy. ", 2)[:76] + "\r\n"
	for buf.Len()+len(line) < size {
		buf.WriteString(line)
	}
	body := buf.Bytes()
	want := sha256.Sum256(body)

	b.mkdir(t, b.serverName("Big"))
	s := b.dial(t)
	f, err := s.Select(ctx, "Big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	uid, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), model.Seen, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	buf = bytes.Buffer{}
	body = nil

	// The in-process imapmemserver would count its own copy of the body
	// here: this check needs a server in another process.
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h := sha256.New()
	var n int64
	err = f.Fetch(ctx, []uint32{uid}, func(m model.RemoteMsg, r io.Reader) error {
		var err error
		n, err = io.Copy(h, r)
		return err
	})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	var got [32]byte
	copy(got[:], h.Sum(nil))
	if n < size-100 || got != want {
		t.Fatalf("fetched %d bytes, digest differs: %v", n, got != want)
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("fetching %d bytes allocated %d bytes", n, allocated)
	if allocated > size/10 {
		t.Errorf("fetching %d bytes allocated %d bytes: the body is being buffered", n, allocated)
	}
}
