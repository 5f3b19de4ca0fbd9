package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtrail/config"
)

// The configuration the benchmark gives mailtrail (OfflineIMAP's format)
// is one mailtrail takes as it is, plain and over TLS.
func TestOfflineIMAPConfigs(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "tls.crt")
	if err := os.WriteFile(ca, []byte("the server's certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caFile, host string
		port         int
		ssl          bool
	}{
		{"", "127.0.0.1", 1143, false},
		{ca, "localhost", 1993, true},
	} {
		text := offlineimaprc(tc.port, "u", "pw", filepath.Join(dir, "mail"), filepath.Join(dir, "meta"), tc.caFile)
		cfg, _, err := config.Parse("bench", strings.NewReader(text), config.MapEnv(map[string]string{"HOME": dir}))
		if err != nil {
			t.Fatalf("CA %q: mailtrail refuses the benchmark's configuration: %v\n%s", tc.caFile, err, text)
		}
		r := cfg.Accounts[0].Remote
		if r.RemoteHost != tc.host || r.RemotePort != tc.port || r.SSL != tc.ssl || r.SSLCACertFile != tc.caFile || r.MaxConnections != 3 {
			t.Errorf("CA %q: read as host %s port %d ssl %v CA %q maxconnections %d", tc.caFile, r.RemoteHost, r.RemotePort, r.SSL, r.SSLCACertFile, r.MaxConnections)
		}
	}
}

// mbsync is told to check the server's certificate against the CA, by the
// name the certificate carries.
func TestMbsyncConfigs(t *testing.T) {
	plain := mbsyncrc(1143, "u", "pw", "/m", true, "")
	if !strings.Contains(plain, "Host 127.0.0.1\n") || !strings.Contains(plain, "SSLType None\n") || !strings.Contains(plain, "FSync yes\n") {
		t.Errorf("plain configuration:\n%s", plain)
	}
	tls := mbsyncrc(1993, "u", "pw", "/m", false, "/ca.crt")
	for _, want := range []string{"Host localhost\n", "Port 1993\n", "SSLType IMAPS\n", "CertificateFile /ca.crt\n", "FSync no\n"} {
		if !strings.Contains(tls, want) {
			t.Errorf("TLS configuration lacks %q:\n%s", want, tls)
		}
	}
}
