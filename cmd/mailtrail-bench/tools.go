package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// knownTools are the tools the benchmark can run, in table order.
var knownTools = []string{"mailtrail", "mbsync", "mbsync-nofsync", "offlineimap"}

// toolRun is one tool set up for one round: its server user, its local
// Maildir and the command that syncs them.
type toolRun struct {
	tool  string
	user  string
	dir   string // everything of this run: config, Maildir, state, log
	local string // the local Maildir root
	argv  []string
	env   []string
}

// serverUser is the Dovecot user of tool in round r.
func serverUser(tool string, r int) string {
	return fmt.Sprintf("%sr%d", strings.ReplaceAll(tool, "-", ""), r)
}

// findTool says how tool is run, or why it cannot be.
func findTool(tool, mailtrailBin string) (string, error) {
	switch tool {
	case "mailtrail":
		return mailtrailBin, nil
	case "mbsync", "mbsync-nofsync":
		p, err := exec.LookPath("mbsync")
		if err != nil {
			return "", fmt.Errorf("mbsync is not installed (apt-get install isync)")
		}
		return p, nil
	case "offlineimap":
		p, err := exec.LookPath("offlineimap")
		if err != nil {
			return "", fmt.Errorf("offlineimap is not installed (apt-get install offlineimap3)")
		}
		return p, nil
	}
	return "", fmt.Errorf("unknown tool %q (known: %s)", tool, strings.Join(knownTools, ","))
}

// setupTool writes tool's configuration for a sync of user's mail on
// 127.0.0.1:port into dir/mail; over implicit TLS, to localhost:port,
// when caFile (the server's certificate, to trust) is given.
func setupTool(tool, bin, dir, user, password string, port int, caFile string) (*toolRun, error) {
	t := &toolRun{tool: tool, user: user, dir: dir, local: filepath.Join(dir, "mail")}
	if err := os.MkdirAll(t.local, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config")
	var text string
	switch tool {
	case "mbsync", "mbsync-nofsync":
		text = mbsyncrc(port, user, password, t.local, tool == "mbsync", caFile)
		t.argv = []string{bin, "-c", cfg, "-a", "-q"}
	case "offlineimap", "mailtrail":
		// mailtrail reads OfflineIMAP's configuration: one file for both.
		text = offlineimaprc(port, user, password, t.local, filepath.Join(dir, "meta"), caFile)
		t.argv = []string{bin, "-c", cfg, "-o", "-u", "quiet"}
	default:
		return nil, fmt.Errorf("unknown tool %q", tool)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	return t, nil
}

// offlineimaprc is the configuration ../shared/maillab/peers-bench writes,
// which issue 8's table was measured with; with caFile, over implicit TLS.
func offlineimaprc(port int, user, password, local, meta, caFile string) string {
	host, security := "127.0.0.1", "ssl = no\nstarttls = no"
	if caFile != "" {
		host, security = tlsHost, "ssl = yes\nsslcacertfile = "+caFile
	}
	return fmt.Sprintf(`[general]
accounts = bench
metadata = %[5]s
maxsyncaccounts = 1
ui = quiet

[Account bench]
localrepository = bench-local
remoterepository = bench-remote

[Repository bench-local]
type = Maildir
localfolders = %[4]s
sep = /

[Repository bench-remote]
type = IMAP
remotehost = %[7]s
remoteport = %[1]d
remoteuser = %[2]s
remotepass = %[3]s
%[6]s
maxconnections = 3
`, port, user, password, local, meta, security, host)
}

// tlsHost is the server's name over TLS: its certificate names localhost
// and 127.0.0.1, and mbsync checks the name only against the
// certificate's DNS names.
const tlsHost = "localhost"

// mbsyncrc is peers-bench's mbsync configuration: both ways, create and
// expunge on both sides, state files in the Maildir folders; with caFile,
// over implicit TLS.
func mbsyncrc(port int, user, password, local string, fsync bool, caFile string) string {
	fs := "no"
	if fsync {
		fs = "yes"
	}
	host, security := "127.0.0.1", "SSLType None"
	if caFile != "" {
		host, security = tlsHost, "SSLType IMAPS\nCertificateFile "+caFile
	}
	return fmt.Sprintf(`FSync %[5]s
IMAPAccount bench
Host %[7]s
Port %[1]d
User %[2]s
Pass %[3]s
%[6]s
AuthMechs LOGIN

IMAPStore bench-remote
Account bench

MaildirStore bench-local
Path %[4]s/
Inbox %[4]s/INBOX
SubFolders Verbatim

Channel bench
Far :bench-remote:
Near :bench-local:
Patterns *
Create Both
Expunge Both
SyncState *
`, port, user, password, local, fs, security, host)
}
