package imap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// conn is one logged-in IMAP connection with its watchdog.
type conn struct {
	store  *Store
	raw    net.Conn // the TCP connection; closing it unblocks every call
	client *imapclient.Client
	dog    *watchdog
	caps   imap.CapSet

	// broken is why the connection can no longer be used, or nil.
	broken   error
	ready    bool // logged in: later I/O errors are a lost connection
	lastUsed time.Time

	// Counted by the unilateral data handler, read by Fetch.
	expunges     atomic.Uint64 // untagged EXPUNGE no command asked for
	orphanBodies atomic.Uint64 // FETCH bodies go-imap could not match to a command
}

// isServerRefusal reports whether err is a tagged NO or BAD from the server,
// after which the connection is still in a known state.
func isServerRefusal(err error) bool {
	var ie *imap.Error
	return errors.As(err, &ie)
}

// run executes one exchange with the server under the watchdog and ctx:
// when the server stays silent for the timeout, or ctx is done, the
// connection is closed, f returns, and the error says why. Any error other
// than the server refusing the command leaves the connection broken.
func (c *conn) run(ctx context.Context, command string, f func() error) error {
	if c.broken != nil {
		return fmt.Errorf("connection unusable: %w", c.broken)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cancelled: %w", err)
	}
	c.dog.arm(command)
	stopCtx := context.AfterFunc(ctx, func() {
		c.dog.abort(fmt.Errorf("cancelled: %w", context.Cause(ctx)))
	})
	err := f()
	stopCtx()
	c.dog.disarm()
	c.lastUsed = time.Now()
	if reason := c.dog.reason(); reason != nil {
		c.markBroken(reason)
		if err == nil {
			return nil // it finished before the connection was closed
		}
		return reason
	}
	var cb *errCallback
	var be *bodyError
	if err != nil && !isServerRefusal(err) && !errors.As(err, &cb) && !errors.As(err, &be) {
		// go-imap gave up on the connection (an I/O error, a response it
		// cannot parse), or f did: it is closed, and nothing on it will
		// answer. The error says so, whatever go-imap's words were, so
		// that a caller can tell a lost connection (a command may have
		// been carried out unanswered) from a refusal.
		if c.ready && !errors.Is(err, errConnectionLost) {
			err = &lostError{err}
		}
		c.markBroken(err)
	}
	return err
}

// errConnectionLost is wrapped by every error of a command whose
// connection was lost (not refused by the server, not timed out: see
// ErrTimeout) after login.
var errConnectionLost = errors.New("connection lost")

// lostError is an error that ended a logged-in connection.
type lostError struct{ err error }

func (e *lostError) Error() string {
	return "connection lost: " + e.err.Error() + " (sync again to resume)"
}

func (e *lostError) Unwrap() []error { return []error{errConnectionLost, e.err} }

// bodyError is an error of the message a command was sending (its local
// file), not of the connection: the connection was closed on purpose, the
// server stored nothing, and the error is the message's alone.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// markBroken retires the connection: it is closed and never used again.
func (c *conn) markBroken(err error) {
	if c.broken == nil {
		c.broken = err
	}
	c.dog.stop()
	c.raw.Close()
}

// close ends the connection: LOGOUT when it is healthy (bounded by a short
// watchdog), then close.
func (c *conn) close() {
	if c.broken == nil && c.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), min(c.store.cfg.Timeout, 5*time.Second))
		_ = c.run(ctx, "LOGOUT", func() error { return c.client.Logout().Wait() })
		cancel()
	}
	c.dog.stop()
	if c.client != nil {
		_ = c.client.Close()
	} else {
		c.raw.Close()
	}
	if c.broken == nil {
		c.broken = errors.New("connection closed")
	}
}

// dial opens, secures and authenticates a new connection.
func (s *Store) dial(ctx context.Context) (*conn, error) {
	c := &conn{store: s, dog: newWatchdog(s.cfg.Timeout)}
	dialer := net.Dialer{Timeout: s.cfg.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", s.cfg.address())
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", s.name, err)
	}
	c.raw = raw
	c.dog.kill = func() { raw.Close() }
	watched := &watchedConn{Conn: raw, dog: c.dog}

	options := &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Expunge: func(uint32) { c.expunges.Add(1) },
			Fetch: func(msg *imapclient.FetchMessageData) {
				for item := msg.Next(); item != nil; item = msg.Next() {
					if _, ok := item.(imapclient.FetchItemDataBodySection); ok {
						c.orphanBodies.Add(1)
					}
				}
			},
		},
	}

	fail := func(step string, err error) (*conn, error) {
		c.markBroken(err)
		if c.client != nil {
			_ = c.client.Close()
		}
		return nil, fmt.Errorf("%s: %s: %w", s.name, step, explainTLS(err))
	}

	switch s.cfg.TLS {
	case TLSImplicit:
		tlsConn := tls.Client(watched, s.tls.Clone())
		if err := c.run(ctx, "TLS handshake", func() error { return tlsConn.HandshakeContext(ctx) }); err != nil {
			return fail("TLS handshake", err)
		}
		c.client = imapclient.New(tlsConn, options)
	case TLSStartTLS:
		options.TLSConfig = s.tls.Clone()
		if err := c.run(ctx, "STARTTLS", func() error {
			var err error
			c.client, err = imapclient.NewStartTLS(watched, options)
			return err
		}); err != nil {
			return fail("STARTTLS", err)
		}
	default:
		c.client = imapclient.New(watched, options)
	}

	if err := c.run(ctx, "greeting", c.client.WaitGreeting); err != nil {
		return fail("greeting", err)
	}
	if err := c.loadCaps(ctx); err != nil {
		return fail("CAPABILITY", err)
	}
	if err := c.authenticate(ctx); err != nil {
		return fail("login failed", err)
	}
	if err := c.loadCaps(ctx); err != nil {
		return fail("CAPABILITY", err)
	}
	if !c.caps.Has(imap.CapIMAP4rev1) && !c.caps.Has(imap.CapIMAP4rev2) {
		return fail("CAPABILITY", fmt.Errorf("the server is not IMAP4rev1 (capabilities: %s)", capList(c.caps)))
	}
	c.ready = true
	return c, nil
}

// loadCaps asks for the capabilities unless the server already sent them.
func (c *conn) loadCaps(ctx context.Context) error {
	return c.run(ctx, "CAPABILITY", func() error {
		caps := c.client.Caps()
		if caps == nil {
			return errors.New("the server sent no capability list")
		}
		c.caps = caps
		return nil
	})
}

// authenticate logs in with the first configured mechanism the server
// offers; when one is refused it tries the next, like OfflineIMAP.
func (c *conn) authenticate(ctx context.Context) error {
	cfg := c.store.cfg
	mechs := chooseAuth(cfg.AuthMechanisms, c.caps)
	if len(mechs) == 0 {
		return fmt.Errorf("no usable authentication mechanism: asked for %v, server offers %s", cfg.AuthMechanisms, capList(c.caps))
	}
	var errs []string
	for _, mech := range mechs {
		var err error
		switch mech {
		case "PLAIN":
			err = c.run(ctx, "AUTHENTICATE PLAIN", func() error {
				return c.client.Authenticate(sasl.NewPlainClient("", cfg.User, cfg.Password))
			})
		case "LOGIN":
			err = c.run(ctx, "LOGIN", func() error { return c.client.Login(cfg.User, cfg.Password).Wait() })
		}
		if err == nil {
			return nil
		}
		if c.broken != nil {
			return err // the connection is gone: nothing more to try on it
		}
		errs = append(errs, mech+": "+err.Error())
	}
	if len(errs) == 1 {
		return errors.New(strings.TrimPrefix(errs[0], mechs[0]+": "))
	}
	return errors.New(strings.Join(errs, "; "))
}

// chooseAuth picks the mechanisms to try, in order. "LOGIN" means the LOGIN
// command, usable unless LOGINDISABLED; "PLAIN" needs AUTH=PLAIN.
func chooseAuth(configured []string, caps imap.CapSet) []string {
	loginOK := !caps.Has(imap.CapLoginDisabled)
	plainOK := caps.Has(imap.AuthCap(sasl.Plain))
	if len(configured) == 0 {
		if loginOK {
			return []string{"LOGIN"}
		}
		if plainOK {
			return []string{"PLAIN"}
		}
		return nil
	}
	var out []string
	for _, m := range configured {
		switch strings.ToUpper(strings.TrimSpace(m)) {
		case "LOGIN":
			if loginOK {
				out = append(out, "LOGIN")
			}
		case "PLAIN":
			if plainOK {
				out = append(out, "PLAIN")
			}
		}
	}
	return out
}

func capList(caps imap.CapSet) string {
	var l []string
	for c := range caps {
		l = append(l, string(c))
	}
	if len(l) == 0 {
		return "none"
	}
	sort.Strings(l)
	return strings.Join(l, " ")
}

// explainTLS adds what to do to a certificate verification failure.
func explainTLS(err error) error {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (the server's certificate is not signed by a trusted authority: give its CA certificate with CAFile)", err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w (the certificate does not name the host you connect to)", err)
	}
	return err
}
