// Package memserver runs go-imap's in-memory IMAP server (imapmemserver) in
// process, for the `mailtrail demo` command and (through testimap) for
// tests. It does not import the testing package, so the release binary does
// not link it.
//
// It owns the server's lifetime and its seeding helpers. Invariants: the
// server listens only where it is told (tests: 127.0.0.1 on a free port);
// it speaks plain text with insecure authentication allowed unless TLS is
// configured; every user gets an INBOX; Close (or the test's cleanup)
// stops it and waits for it to finish. Folders use '/' as hierarchy
// delimiter and the server has no CONDSTORE.
package memserver

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Options configure a server.
type Options struct {
	// Users maps user names to passwords. Each user gets an INBOX.
	Users map[string]string
	// Caps are the capabilities advertised. Nil: IMAP4rev1 and IMAP4rev2,
	// which bring UIDPLUS, LIST-STATUS, ESEARCH, MOVE, UNSELECT and more.
	// imap.CapSet{imap.CapIMAP4rev1: {}} gives a bare IMAP4rev1 server (no
	// UIDPLUS, no LIST-STATUS), to exercise fallbacks.
	Caps imap.CapSet
	// TLSConfig, when set, offers STARTTLS.
	TLSConfig *tls.Config
	// RequireTLS refuses authentication before STARTTLS (LOGINDISABLED).
	RequireTLS bool
	// Logger receives the server's error messages. Nil: discarded.
	Logger imapserver.Logger
	// DebugWriter receives the raw protocol, both ways. It includes
	// passwords: tests only.
	DebugWriter io.Writer
}

// Server is a running in-memory IMAP server.
type Server struct {
	// Addr is the listening address, "127.0.0.1:port".
	Addr string
	Host string
	Port int

	server *imapserver.Server
	mem    *imapmemserver.Server
	ln     net.Listener
	done   chan error

	closeOnce sync.Once
	closeErr  error

	mu    sync.Mutex
	users map[string]*imapmemserver.User
}

// DefaultCaps is what Serve advertises when Options.Caps is nil.
func DefaultCaps() imap.CapSet {
	return imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
}

// Serve runs a server on ln until Close. It takes no testing.TB: the demo
// command embeds it.
func Serve(ln net.Listener, opts Options) (*Server, error) {
	host, portStr, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return nil, fmt.Errorf("memserver: listener address %q: %w", ln.Addr(), err)
	}
	port, _ := strconv.Atoi(portStr)
	caps := opts.Caps
	if caps == nil {
		caps = DefaultCaps()
	}
	logger := opts.Logger
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &Server{
		Addr:  ln.Addr().String(),
		Host:  host,
		Port:  port,
		mem:   imapmemserver.New(),
		ln:    ln,
		done:  make(chan error, 1),
		users: make(map[string]*imapmemserver.User),
	}
	for name, password := range opts.Users {
		if _, err := s.AddUser(name, password); err != nil {
			return nil, err
		}
	}
	s.server = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return s.mem.NewSession(), nil, nil
		},
		Caps:         caps,
		TLSConfig:    opts.TLSConfig,
		InsecureAuth: !opts.RequireTLS,
		Logger:       logger,
		DebugWriter:  opts.DebugWriter,
	})
	go func() { s.done <- s.server.Serve(ln) }()
	return s, nil
}

// Close stops the server, closes every connection and waits for it to
// stop accepting. Closing again does nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.server.Close()
		err := <-s.done
		if err != nil && err.Error() == serveAfterClose {
			// Closed before its Serve began: it never served, nor took
			// the listener.
			s.ln.Close()
			err = nil
		}
		if err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// serveAfterClose is what imapserver's Serve returns when the server was
// closed before it began (the error is not exported).
const serveAfterClose = "imapserver: server closed"

// AddUser adds a user with an INBOX and returns it for direct seeding.
func (s *Server) AddUser(name, password string) (*imapmemserver.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return nil, fmt.Errorf("memserver: user %q exists", name)
	}
	u := imapmemserver.NewUser(name, password)
	if err := u.Create("INBOX", nil); err != nil {
		return nil, fmt.Errorf("memserver: user %q: create INBOX: %w", name, err)
	}
	s.mem.AddUser(u)
	s.users[name] = u
	return u, nil
}

func (s *Server) user(name string) (*imapmemserver.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return nil, fmt.Errorf("memserver: no user %q", name)
	}
	return u, nil
}

// CreateFolder creates folder (with '/' as delimiter) for user; an existing
// folder is not an error.
func (s *Server) CreateFolder(user, folder string) error {
	u, err := s.user(user)
	if err != nil {
		return err
	}
	err = u.Create(folder, nil)
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("memserver: user %q: create %q: %w", user, folder, err)
	}
	return nil
}

// Append stores body in user's folder (created when missing) with flags
// (IMAP names such as `\Seen`) and internal date (zero: now), and returns
// the new UID. Connected clients see it at their next command.
func (s *Server) Append(user, folder string, body []byte, flags []string, date time.Time) (uint32, error) {
	if err := s.CreateFolder(user, folder); err != nil {
		return 0, err
	}
	u, _ := s.user(user)
	opts := &imap.AppendOptions{Time: date}
	for _, f := range flags {
		opts.Flags = append(opts.Flags, imap.Flag(f))
	}
	data, err := u.Append(folder, literal{bytes.NewReader(body)}, opts)
	if err != nil {
		return 0, fmt.Errorf("memserver: user %q: append to %q: %w", user, folder, err)
	}
	return uint32(data.UID), nil
}

// literal adapts a bytes.Reader to imap.LiteralReader.
type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }
