// Package testimap starts the in-process IMAP server of package memserver
// for one test, on 127.0.0.1 and a free port, and stops it at the test's
// cleanup. The server's own API (Server, Options, Serve, seeding) is
// memserver's, re-exported here so tests need one import.
package testimap

import (
	"net"
	"sync"
	"testing"

	"mailtrail/internal/memserver"
)

// Server, Options, Serve and DefaultCaps are memserver's.
type (
	Server  = memserver.Server
	Options = memserver.Options
)

var (
	Serve       = memserver.Serve
	DefaultCaps = memserver.DefaultCaps
)

// Start runs a server on 127.0.0.1 (a free port) with the given users
// (name → password) and stops it when the test ends.
func Start(t testing.TB, users map[string]string) *Server {
	t.Helper()
	return StartWith(t, Options{Users: users})
}

// StartWith is Start with all the options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testimap: listen on 127.0.0.1: %v", err)
	}
	logger := &testLogger{t: t}
	if opts.Logger == nil {
		opts.Logger = logger
	}
	s, err := Serve(ln, opts)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logger.stop()
		if err := s.Close(); err != nil {
			t.Errorf("testimap: stopping the server: %v", err)
		}
	})
	return s
}

// testLogger logs to the test until the test's cleanup begins: logging to
// a finished test panics, and connection goroutines may outlive it.
type testLogger struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (l *testLogger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("testimap server: "+format, args...)
	}
}

func (l *testLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
