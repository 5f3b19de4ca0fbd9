package imap_test

import (
	"testing"

	"mailtrail/adapters"
	"mailtrail/adapters/adaptertest"
	"mailtrail/adapters/imap"
	"mailtrail/internal/testdovecot"
	"mailtrail/internal/testimap"
)

// TestConformanceMemServer runs the shared adapter suite against go-imap's
// in-process imapmemserver (UIDPLUS, no CONDSTORE). One server serves the
// whole suite; every subtest dials its own Store.
func TestConformanceMemServer(t *testing.T) {
	srv := testimap.Start(t, map[string]string{"alice": "secret"})
	adaptertest.RunRemote(t, func(t *testing.T) adapters.Remote {
		return dialConformance(t, imap.Config{
			Host: srv.Host, Port: srv.Port, User: "alice", Password: "secret",
			TLS: imap.TLSNone,
		})
	})
}

// TestConformanceDovecot runs the shared adapter suite against a real
// Dovecot (skipped when Dovecot cannot run here). One server serves the
// whole suite; every subtest dials its own Store, over STARTTLS.
func TestConformanceDovecot(t *testing.T) {
	srv := testdovecot.Start(t, "alice")
	adaptertest.RunRemote(t, func(t *testing.T) adapters.Remote {
		return dialConformance(t, imap.Config{
			Host: srv.Host, Port: srv.Port, User: "alice", Password: srv.Password("alice"),
			TLS: imap.TLSStartTLS, CAFile: srv.CAFile,
		})
	})
}

// dialConformance dials with room for the suite's two concurrently
// selected folders plus a listing connection.
func dialConformance(t *testing.T, cfg imap.Config) adapters.Remote {
	t.Helper()
	cfg.MaxConnections = 4
	s, err := imap.Dial(t.Context(), cfg)
	if err != nil {
		t.Fatalf("imap.Dial %s:%d: %v", cfg.Host, cfg.Port, err)
	}
	return s
}
