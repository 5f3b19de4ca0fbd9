package imap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"mailtrail/adapters"
)

// conn is one logged-in IMAP connection with its watchdog.
type conn struct {
	store  *Store
	raw    net.Conn    // the TCP connection; closing it unblocks every call
	sw     *switchConn // go-imap's stream, to borrow for commands it lacks
	client *imapclient.Client
	dog    *watchdog
	caps   imap.CapSet

	// broken is why the connection can no longer be used, or nil.
	broken   error
	ready    bool // logged in: later I/O errors are a lost connection
	lastUsed time.Time
	rawTags  uint64 // tags of commands sent on the borrowed stream
	// leaving is closed once the LOGOUT logOutBehind started has ended
	// and the connection is closed; nil until then. Once it is set, the
	// connection belongs to that LOGOUT.
	leaving chan struct{}

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
// connection is closed, f returns, and the error says why. Should f not
// return even then (waitCommand), it is left behind. Any error other than
// the server refusing the command leaves the connection broken.
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
	start := time.Now()
	err := c.waitCommand(f)
	stopCtx()
	c.dog.disarm()
	c.lastUsed = time.Now()
	c.debugCommand(command, c.lastUsed.Sub(start), err)
	if reason := c.dog.reason(); reason != nil {
		c.markBroken(reason)
		if err == nil {
			return nil // it finished before the connection was closed
		}
		if errors.Is(err, errLeftBehind) {
			return fmt.Errorf("%w; %w", reason, err)
		}
		return reason
	}
	var cb *errCallback
	var be *bodyError
	if err != nil && !isServerRefusal(err) && !errors.As(err, &cb) && !errors.As(err, &be) && !errors.Is(err, adapters.ErrValidityChanged) {
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

// errLeftBehind is wrapped by the error of a command waitCommand left
// behind.
var errLeftBehind = errors.New("the command was left behind: it did not end")

// abandonAfter is how long waitCommand still waits for a command once the
// watchdog has closed its connection.
var abandonAfter = 10 * time.Second

// waitCommand runs f on a goroutine of its own and waits for it. Closing
// the connection makes go-imap fail every pending command, so f returns
// soon after the watchdog fires; but go-imap's reader hands each response
// to the command it belongs to and waits until that command takes it, and
// a command nobody drains (a bug, like the sequential wait of pipelined
// stores that once deadlocked here) keeps it waiting for good, closed
// connection or not. Then f is left behind, blocked for ever on a
// connection nobody uses again, abandonAfter after the close, and the
// watchdog's reason is the error: a sync fails that folder instead of
// hanging with the account locked. A panic in f is raised again here.
func (c *conn) waitCommand(f func() error) error {
	type outcome struct {
		err      error
		panicked bool
		value    any
		stack    []byte
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{panicked: true, value: r, stack: debug.Stack()}
			}
		}()
		done <- outcome{err: f()}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-c.dog.killed():
		select {
		case o = <-done:
		case <-time.After(abandonAfter):
			return fmt.Errorf("%w %s after its connection was closed", errLeftBehind, formatDuration(abandonAfter))
		}
	}
	if o.panicked {
		panic(fmt.Sprintf("%v\n\n%s", o.value, o.stack))
	}
	return o.err
}

// debugCommand logs a command at debug level (OfflineIMAP's -d imap): its
// name (never its arguments, which may hold a password), how long it took
// and how it ended.
func (c *conn) debugCommand(command string, took time.Duration, err error) {
	if e := c.store.cfg.Logger.Debug(); e != nil {
		e.Str("server", c.store.name).Str("command", command).Dur("took", took).Err(err).Msg("imap command")
	}
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
		// go-imap's Close closes the socket, then waits for its reader,
		// which a response nobody takes keeps waiting for good (see
		// waitCommand): the close does not wait for it longer than a
		// command left behind is waited for.
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = c.client.Close()
		}()
		select {
		case <-closed:
		case <-time.After(abandonAfter):
		}
	} else {
		c.raw.Close()
	}
	if c.broken == nil {
		c.broken = errors.New("connection closed")
	}
}

// dial opens, secures and authenticates a new connection, once Dial's
// first one has logged in.
func (s *Store) dial(ctx context.Context) (*conn, error) { return s.dialAfter(ctx, s.firstLogin) }

// errFirstLoginFailed ends a connection opened beside Dial's first one
// when that one could not log in: the same credentials are not tried
// twice.
var errFirstLoginFailed = errors.New("not logging in: the first connection's login failed")

// dialAfter is dial, authenticating only once loggedIn is closed (nil: at
// once) and the first login did not fail.
func (s *Store) dialAfter(ctx context.Context, loggedIn <-chan struct{}) (*conn, error) {
	c := &conn{store: s, dog: newWatchdog(s.cfg.Timeout)}
	start := time.Now()
	dialer := net.Dialer{Timeout: s.cfg.Timeout}
	raw, err := dialer.DialContext(ctx, "tcp", s.cfg.address())
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", s.name, explainDial(ctx, err, s.cfg.address(), s.cfg.Timeout))
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
		c.sw = newSwitchConn(tlsConn)
		c.client = imapclient.New(c.sw, options)
	case TLSStartTLS:
		var tlsConn *tls.Conn
		if err := c.run(ctx, "STARTTLS", func() error {
			var err error
			tlsConn, err = startTLS(ctx, watched, s.tls.Clone())
			return err
		}); err != nil {
			if isServerRefusal(err) {
				// Never go on in clear text: an attacker on the way can
				// make a server seem to lack STARTTLS.
				err = fmt.Errorf("%w (the server, or something between it and you, refused STARTTLS; mailtrail never "+
					"logs in unencrypted when starttls is on: use ssl = yes if the server has implicit TLS, or set "+
					"starttls = no to send the password in clear text on purpose)", err)
			}
			return fail("STARTTLS", err)
		}
		c.sw = newSwitchConn(tlsConn)
		c.sw.pending = []byte(tlsGreeting)
		c.client = imapclient.New(c.sw, options)
	default:
		c.sw = newSwitchConn(watched)
		c.client = imapclient.New(c.sw, options)
	}

	if err := c.run(ctx, "greeting", c.client.WaitGreeting); err != nil {
		if s.cfg.TLS == TLSNone && errors.Is(err, ErrTimeout) {
			// A server port that speaks TLS from the start waits for the
			// client's handshake and says nothing.
			err = fmt.Errorf("%w (a server's TLS port is silent like this until the client starts TLS: if port %d is "+
				"one, usually 993, set ssl = yes)", err, s.cfg.Port)
		}
		return fail("greeting", err)
	}
	s.noteGreeted(time.Since(start)) // for Store.LinkDelay
	if err := c.loadCaps(ctx); err != nil {
		return fail("CAPABILITY", err)
	}
	if err := c.authenticate(ctx, s.afterFirstLogin(ctx, loggedIn)); err != nil {
		if errors.Is(err, errFirstLoginFailed) || errors.Is(err, ctx.Err()) {
			return fail("login", err)
		}
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

// DefaultAuthMechanisms is OfflineIMAP's default auth_mechanisms order,
// strongest first (its GSSAPI left out), with OAUTHBEARER beside XOAUTH2.
// chooseAuth moves PLAIN before CRAM-MD5 where TLS already protects the
// password (see there).
var DefaultAuthMechanisms = []string{"XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "PLAIN", "LOGIN"}

func knownMechanism(m string) bool {
	m = strings.ToUpper(strings.TrimSpace(m))
	if m == "GSSAPI" {
		return true
	}
	for _, k := range DefaultAuthMechanisms {
		if m == k {
			return true
		}
	}
	return false
}

// afterFirstLogin returns the wait of a connection opened beside Dial's
// first one for that one's login (loggedIn closed): nil once it has
// logged in, errFirstLoginFailed when it could not (the same credentials
// are not tried twice), or ctx's error. Once it has returned nil it
// returns nil at once. loggedIn nil: nothing to wait for.
func (s *Store) afterFirstLogin(ctx context.Context, loggedIn <-chan struct{}) func() error {
	return func() error {
		if loggedIn == nil {
			return nil
		}
		select {
		case <-loggedIn:
		case <-ctx.Done():
			return ctx.Err()
		}
		if s.firstErr != nil {
			return errFirstLoginFailed
		}
		return nil
	}
}

// authenticate logs in with the configured mechanisms the server offers,
// in order; when one is refused it tries the next, like OfflineIMAP.
// Nothing that proves the credentials is sent before afterFirst has
// returned nil: a mechanism that sends them at once waits for it before
// it starts, CRAM-MD5 (whose server speaks first) only before it answers
// the challenge, so that a connection opened beside the first one has its
// challenge while the first logs in, a round trip sooner. Should the
// first login fail, the exchange is left unanswered and the connection
// closed (Dovecot logs "client didn't finish SASL auth", not a failed
// login).
func (c *conn) authenticate(ctx context.Context, afterFirst func() error) error {
	cfg := c.store.cfg
	mechs := chooseAuth(cfg.AuthMechanisms, c.caps, cfg.Password != "", cfg.OAuth2.usable(), cfg.verifiedTLS())
	if len(mechs) == 0 {
		asked := cfg.AuthMechanisms
		if len(asked) == 0 {
			asked = DefaultAuthMechanisms
		}
		why := ""
		if cfg.Password == "" && !cfg.OAuth2.usable() {
			why = " (there is neither a password nor an OAuth2 token)"
		} else if cfg.Password == "" {
			why = " (there is no password, so only XOAUTH2 and OAUTHBEARER can be used)"
		} else if !cfg.OAuth2.usable() {
			why = " (XOAUTH2 and OAUTHBEARER need oauth2_access_token, or oauth2_refresh_token with oauth2_request_url)"
		}
		return fmt.Errorf("no usable authentication mechanism: asked for %s, the server offers %s%s",
			strings.Join(asked, ", "), authOffered(c.caps), why)
	}
	var errs []string
	for _, mech := range mechs {
		if mech != "CRAM-MD5" {
			if err := afterFirst(); err != nil {
				return err
			}
		}
		err := c.authenticateWith(ctx, mech, afterFirst)
		if errors.Is(err, errFirstLoginFailed) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
			return err
		}
		if err == nil {
			cfg.Logger.Debug().Str("server", c.store.name).Str("mechanism", mech).Msg("imap: logged in")
			return nil
		}
		if c.broken != nil {
			return fmt.Errorf("%s: %w", mech, err) // the connection is gone: nothing more to try on it
		}
		cfg.Logger.Debug().Str("server", c.store.name).Str("mechanism", mech).Err(err).Msg("imap: authentication failed, trying the next mechanism")
		errs = append(errs, mech+": "+err.Error())
	}
	return errors.New(strings.Join(errs, "; "))
}

// authenticateWith runs one mechanism. For OAuth2 a token the server
// refuses is replaced by a fresh one from the token endpoint, once.
func (c *conn) authenticateWith(ctx context.Context, mech string, afterFirst func() error) error {
	cfg := c.store.cfg
	switch mech {
	case "LOGIN":
		return c.run(ctx, "LOGIN", func() error { return c.client.Login(cfg.User, cfg.Password).Wait() })
	case "PLAIN":
		return c.saslRun(ctx, sasl.NewPlainClient("", cfg.User, cfg.Password))
	case "CRAM-MD5":
		return c.saslRun(ctx, &cramMD5Client{user: cfg.User, password: cfg.Password, before: afterFirst})
	case "XOAUTH2", "OAUTHBEARER":
		for attempt := 0; ; attempt++ {
			token, fresh, err := cfg.OAuth2.accessToken(ctx)
			if err != nil {
				return err
			}
			var client sasl.Client
			if mech == "XOAUTH2" {
				client = &xoauth2Client{user: cfg.User, token: token}
			} else {
				client = &oauthBearerClient{user: cfg.User, token: token, host: cfg.Host, port: cfg.Port}
			}
			err = c.saslRun(ctx, client)
			if err == nil || c.broken != nil || fresh || attempt > 0 || !cfg.OAuth2.invalidate(token) {
				return err
			}
			cfg.Logger.Debug().Str("server", c.store.name).Msg("imap: the OAuth2 access token was refused; asking for a new one")
		}
	}
	return fmt.Errorf("mechanism %s is not implemented", mech)
}

// saslRun runs AUTHENTICATE with client.
func (c *conn) saslRun(ctx context.Context, client sasl.Client) error {
	mech, _, _ := client.Start()
	// Start is called again by go-imap; it has no side effects here.
	err := c.run(ctx, "AUTHENTICATE "+mech, func() error { return c.client.Authenticate(client) })
	if err != nil {
		return mechanismError(client, err)
	}
	return nil
}

// chooseAuth picks the mechanisms to try, in order: the configured ones
// (or DefaultAuthMechanisms) that the server offers and that there are
// credentials for. "LOGIN" is the LOGIN command, usable unless
// LOGINDISABLED; the others need the server's AUTH=<name>. GSSAPI is
// never used.
//
// With no configured order, over a connection whose TLS has verified the
// server (verifiedTLS) to a server that takes an initial response
// (SASL-IR), PLAIN goes before CRAM-MD5: it logs in with one round trip
// where CRAM-MD5 needs two (its challenge first), and CRAM-MD5 hides
// nothing there that TLS does not (the server of a CRAM-MD5 account keeps
// the password anyway). Every connection's login is one round trip
// shorter; a sync with nothing to do is little more than its login. A
// configured auth_mechanisms is followed as written, and without TLS
// CRAM-MD5 stays first, so that the password never crosses in clear.
func chooseAuth(configured []string, caps imap.CapSet, havePassword, haveOAuth, verifiedTLS bool) []string {
	if len(configured) == 0 {
		configured = DefaultAuthMechanisms
		if verifiedTLS && caps.Has(imap.CapSASLIR) {
			configured = plainBeforeCRAM(configured)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range configured {
		m = strings.ToUpper(strings.TrimSpace(m))
		if seen[m] {
			continue
		}
		seen[m] = true
		switch m {
		case "LOGIN":
			if havePassword && !caps.Has(imap.CapLoginDisabled) {
				out = append(out, m)
			}
		case "PLAIN", "CRAM-MD5":
			if havePassword && caps.Has(imap.AuthCap(m)) {
				out = append(out, m)
			}
		case "XOAUTH2", "OAUTHBEARER":
			if haveOAuth && caps.Has(imap.AuthCap(m)) {
				out = append(out, m)
			}
		}
	}
	return out
}

// plainBeforeCRAM is mechs with PLAIN moved to just before CRAM-MD5 (a
// copy; mechs itself when either is missing or PLAIN is already first).
func plainBeforeCRAM(mechs []string) []string {
	cram, plain := slices.Index(mechs, "CRAM-MD5"), slices.Index(mechs, "PLAIN")
	if cram < 0 || plain < cram {
		return mechs
	}
	out := slices.Delete(slices.Clone(mechs), plain, plain+1)
	return slices.Insert(out, cram, "PLAIN")
}

// authOffered lists the server's AUTH= mechanisms and LOGIN.
func authOffered(caps imap.CapSet) string {
	var l []string
	for c := range caps {
		if m, ok := strings.CutPrefix(string(c), "AUTH="); ok {
			l = append(l, m)
		}
	}
	sort.Strings(l)
	if !caps.Has(imap.CapLoginDisabled) {
		l = append(l, "LOGIN")
	}
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
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

// explainDial adds what to check to a failed connect: no answer within
// the timeout (a server down or unreachable, or a firewall that drops
// the connection rather than refusing it), a refusal, an unknown host, no
// route. A connect ended by ctx comes back unchanged.
func explainDial(ctx context.Context, err error, address string, timeout time.Duration) error {
	if ctx.Err() != nil {
		return err
	}
	var dns *net.DNSError
	var advice string
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		advice = "no such host: check remotehost"
	case errors.Is(err, syscall.ECONNREFUSED):
		advice = "nothing accepts connections there: check remoteport, and that the IMAP server runs"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		advice = "no route to the server: check the network connection and remotehost"
	case isTimeout(err):
		advice = fmt.Sprintf("no answer from %s within %s: the server is down or unreachable, or a firewall drops "+
			"the connection; check remotehost, remoteport and the network, or raise socktimeout for a slow one",
			address, formatDuration(timeout))
	default:
		return err
	}
	return fmt.Errorf("%w (%s)", err, advice)
}

// isTimeout reports whether err is a network operation's timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// explainTLS adds what to do to a certificate verification failure
// (a CertificateError says it itself) and to a plain-text answer where
// TLS was expected (ssl = yes on the server's plain port).
func explainTLS(err error) error {
	var ce *CertificateError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var plain tls.RecordHeaderError
	switch {
	case errors.As(err, &ce):
		return err
	case errors.As(err, &plain):
		return fmt.Errorf("%w (the server answered without TLS: this port does not speak TLS from the start; give the "+
			"server's TLS port, usually 993, or set ssl = no with starttls = yes)", err)
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (the server's certificate is not signed by a trusted authority: give its CA certificate with sslcacertfile, or pin it with cert_fingerprint)", err)
	case errors.As(err, &hostname):
		return fmt.Errorf("%w (the certificate does not name the host you connect to)", err)
	}
	return err
}
