package config

import (
	"fmt"
	"mailtrail/config/lambda"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is one OfflineIMAP configuration file, read and checked.
type Config struct {
	// Path is the file the configuration was read from (as given to Parse,
	// or the absolute path given to Load).
	Path    string
	General General
	// Accounts are the accounts named in [general] accounts, in that
	// order. Each has both repositories set.
	Accounts []*Account
	// Mbnames is the [mbnames] section (zero, Enabled false, without one).
	Mbnames Mbnames
}

// Account returns the account called name, or nil.
func (c *Config) Account(name string) *Account {
	for _, a := range c.Accounts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// General is the [general] section.
type General struct {
	// Accounts are the names in "accounts", in order; never empty.
	Accounts []string
	// Metadata is the "metadata" directory with ~ and $NAME expanded, or ""
	// when the option is not set. OfflineIMAP's own default for it,
	// ~/.offlineimap, is in OfflineIMAPMetadata.
	Metadata string
	// OfflineIMAPMetadata is where OfflineIMAP keeps its state for this
	// configuration: Metadata, or ~/.offlineimap. mailtrail may read it (to
	// import OfflineIMAP's status) and never writes there.
	OfflineIMAPMetadata string
	// StateHome is $XDG_STATE_HOME, or ~/.local/state, as found at parse
	// time; StoreDir uses it when Metadata is not set.
	StateHome string
	// MaxSyncAccounts is "maxsyncaccounts", at least 1 (default 1).
	MaxSyncAccounts int
	// SockTimeout is "socktimeout" (seconds in the file): how long a
	// server may stay silent during a command before the connection is
	// given up. Zero when unset: the IMAP adapter's default (60 s) applies.
	// (OfflineIMAP waits forever by default; a sync that can hang forever
	// is worse than one that fails and resumes.)
	SockTimeout time.Duration
	// JournalRetention is "journalretention" (days in the file): `mailtrail
	// journal compact` removes the runs that finished longer ago, with
	// their operations; status rows are never removed. Zero when unset:
	// the journal's default (180 days) applies. A mailtrail option
	// (OfflineIMAP has no journal).
	JournalRetention time.Duration
	// Extra holds ui, pythonfile and the file-name defaults (extras.go).
	Extra GeneralExtra
}

// StoreDir is the directory holding mailtrail's state (journal and status)
// for one account: <metadata>/mailtrail/<account> when metadata is set,
// else <StateHome>/mailtrail/<account>. See the package documentation for
// why it is not OfflineIMAP's ~/.offlineimap by default.
func (g General) StoreDir(account string) string {
	base := g.Metadata
	if base == "" {
		base = g.StateHome
	}
	return filepath.Join(base, "mailtrail", account)
}

// Account is one [Account Name] section: a pair of repositories.
type Account struct {
	Name string
	Line int // line of the [Account Name] header
	// Local is the "localrepository": a Maildir, or IMAP for IMAP↔IMAP.
	Local *Repository
	// Remote is the "remoterepository": always IMAP.
	Remote *Repository
	// Extra holds autorefresh, the hooks and the other account options of
	// extras.go.
	Extra AccountExtra
}

// String describes the account without any password.
func (a *Account) String() string {
	return fmt.Sprintf("account %s: local %s, remote %s", a.Name, a.Local.Name, a.Remote.Name)
}

// RepositoryType is a repository's "type" option.
type RepositoryType string

// The repository types mailtrail supports. OfflineIMAP's "Gmail" and
// "GmailMaildir" are refused with an error for now.
const (
	Maildir RepositoryType = "Maildir"
	IMAP    RepositoryType = "IMAP"
)

// DefaultMaxDelete is maxdelete's default, in percent.
const DefaultMaxDelete = 50

// Repository is one [Repository Name] section. Which fields are meaningful
// depends on Type; the others are zero.
type Repository struct {
	Name string
	Line int // line of the [Repository Name] header
	Type RepositoryType

	// Both types.

	// CreateFolders is "createfolders" (default true): whether folders
	// that exist only on the other side are created here. OfflineIMAP
	// never creates folders in a read-only repository; use
	// MayCreateFolders for that combined answer.
	CreateFolders bool
	// ReadOnly is "readonly" (default false): nothing in this repository
	// is ever changed.
	ReadOnly bool
	// MaxDelete is "maxdelete" (a mailtrail option; default
	// DefaultMaxDelete): the largest share, in percent of a folder's
	// messages in this repository, that one sync may delete here. A sync
	// that would delete more refuses the folder and says how to override
	// it (--max-delete, --force). 100 lets every deletion through.
	MaxDelete int

	// FolderFilter is "folderfilter": a Python lambda called with each of
	// this repository's folder names in its own form (the server's
	// delimiter, or the Maildir's sep); a folder it rejects is not synced.
	// Nil when unset.
	FolderFilter *lambda.Func
	// NameTrans is "nametrans": a Python lambda turning this repository's
	// folder names (in its own form) into the other repository's. Nil when
	// unset. See package foldernames for how the pair must be inverse.
	NameTrans *lambda.Func
	// Extra holds the options read by extras.go (Maildir file names,
	// folderincludes, ...).
	Extra RepositoryExtra

	// Maildir.

	// LocalFolders is "localfolders" with ~ and $NAME expanded: the
	// directory holding one Maildir per folder. Required.
	LocalFolders string
	// Sep is "sep" (default "."): the one character that separates folder
	// hierarchy levels in the directory names ("/" nests directories).
	Sep string

	// IMAP.

	// RemoteHost is "remotehost". Required.
	RemoteHost string
	// RemotePort is "remoteport"; default 993 when SSL, else 143.
	RemotePort int
	// RemoteUser is "remoteuser". Required.
	RemoteUser string
	// RemotePass is the password, from "remotepass" or else the first line
	// of "remotepassfile". Unset when neither is given: the caller then
	// looks in ~/.netrc and /etc/netrc, or asks, as OfflineIMAP does.
	RemotePass Secret
	// RemotePassFile is the file RemotePass was read from (~ expanded), or
	// "" when the password did not come from a file.
	RemotePassFile string
	// PasswordFrom says where RemotePass came from when it was neither
	// remotepass nor remotepassfile: "remotepasseval", or the netrc file.
	PasswordFrom string
	// RemotePassCommand is mailtrail's "remotepasscommand": a shell command
	// whose first line of output is the password, run by Password when
	// the account is synced (never while the configuration is read).
	RemotePassCommand string
	// RemoteUserFrom is the netrc file the user name came from, or "".
	RemoteUserFrom string
	// AuthMechanisms is "auth_mechanisms", upper case, GSSAPI left out;
	// nil: OfflineIMAP's default order.
	AuthMechanisms []string
	// OAuth2 credentials for XOAUTH2 and OAUTHBEARER: oauth2_client_id,
	// oauth2_client_secret, oauth2_refresh_token, oauth2_access_token
	// (each possibly from its _eval variant) and oauth2_request_url.
	OAuth2ClientID     string
	OAuth2ClientSecret Secret
	OAuth2RefreshToken Secret
	OAuth2AccessToken  Secret
	OAuth2RequestURL   string
	// CertFingerprints is "cert_fingerprint": hex digests of the server
	// certificate, lower case without colons (the algorithm is told by the
	// length). With them the certificate must match one.
	CertFingerprints []string
	// TLSLevel is "tls_level" (tls_compat, tls_no_ssl, tls_secure) as
	// written; every level means TLS 1.2 or newer in mailtrail.
	TLSLevel string
	// SSLVersion is "ssl_version": "" or ssl23 (negotiate, TLS 1.2 or
	// newer), tls1_2 (exactly 1.2) or tls1_3 (exactly 1.3).
	SSLVersion string
	// SSLClientCert and SSLClientKey are "sslclientcert" and
	// "sslclientkey" with ~ and $NAME expanded: a client certificate to
	// present (the key may be in the certificate file).
	SSLClientCert, SSLClientKey string
	// SSL is "ssl" (default true): TLS from the first byte.
	SSL bool
	// STARTTLS is "starttls" (default true): without SSL, upgrade the
	// connection when the server offers STARTTLS.
	STARTTLS bool
	// SSLCACertFile is "sslcacertfile" with ~ and $NAME expanded: a PEM
	// file of CA certificates to verify the server against. "" means the
	// system's trusted roots (the option unset, or "OS-DEFAULT").
	SSLCACertFile string
	// MaxConnections is "maxconnections" (default 1, at least 1).
	MaxConnections int
	// Reference is "reference" (default none): the LIST reference, as the
	// server names it (surrounding double quotes removed, as IMAP reads
	// OfflineIMAP's raw value). Only folders under it are synced, under
	// their full names.
	Reference string
	// SubscribedOnly is "subscribedonly" (default false): sync only the
	// folders subscribed on the server.
	SubscribedOnly bool
	// HoldConnectionOpen is "holdconnectionopen" (default false): with
	// autorefresh, the connections stay open between syncs.
	HoldConnectionOpen bool
	// KeepAlive is "keepalive" (seconds in the file; 0: none): while the
	// connections are held between syncs, a NOOP is sent on each this
	// often.
	KeepAlive time.Duration
}

// MayCreateFolders reports whether folders may be created in this
// repository: createfolders and not readonly, as OfflineIMAP decides.
func (r *Repository) MayCreateFolders() bool {
	return r.CreateFolders && !r.ReadOnly
}

// String describes the repository on one line; the password is never
// shown, only where it comes from.
func (r *Repository) String() string {
	return r.Redacted()
}

// Redacted describes the repository on one line with every secret
// replaced by where it comes from.
func (r *Repository) Redacted() string {
	var b strings.Builder
	fmt.Fprintf(&b, "repository %s (%s):", r.Name, r.Type)
	switch r.Type {
	case Maildir:
		fmt.Fprintf(&b, " localfolders=%q sep=%q", r.LocalFolders, r.Sep)
	case IMAP:
		fmt.Fprintf(&b, " remotehost=%q remoteport=%d remoteuser=%q remotepass=%s",
			r.RemoteHost, r.RemotePort, r.RemoteUser, r.passwordSource())
		ca := "system roots"
		if r.SSLCACertFile != "" {
			ca = strconv.Quote(r.SSLCACertFile)
		}
		fmt.Fprintf(&b, " ssl=%t starttls=%t sslcacertfile=%s maxconnections=%d",
			r.SSL, r.STARTTLS, ca, r.MaxConnections)
		if len(r.CertFingerprints) > 0 {
			fmt.Fprintf(&b, " cert_fingerprint=%s", strings.Join(r.CertFingerprints, ","))
		}
		if len(r.AuthMechanisms) > 0 {
			fmt.Fprintf(&b, " auth_mechanisms=%s", strings.Join(r.AuthMechanisms, ","))
		}
		if r.HasOAuth2() {
			b.WriteString(" oauth2=<redacted>")
		}
		if r.Reference != "" {
			fmt.Fprintf(&b, " reference=%q", r.Reference)
		}
		if r.SubscribedOnly {
			b.WriteString(" subscribedonly=true")
		}
		if r.HoldConnectionOpen {
			fmt.Fprintf(&b, " holdconnectionopen=true keepalive=%s", r.KeepAlive)
		}
	}
	fmt.Fprintf(&b, " createfolders=%t readonly=%t", r.CreateFolders, r.ReadOnly)
	return b.String()
}

func (r *Repository) passwordSource() string {
	switch {
	case r.RemotePassFile != "":
		return "<from " + strconv.Quote(r.RemotePassFile) + ">"
	case r.PasswordFrom != "":
		return "<from " + r.PasswordFrom + ">"
	case r.RemotePass.IsSet():
		return "<set in the configuration>"
	case r.RemotePassCommand != "":
		return "<from remotepasscommand>"
	default:
		return "<none>"
	}
}

// String describes the whole configuration, one line per part, without
// any password.
func (c *Config) String() string {
	return c.Redacted()
}

// Redacted describes the whole configuration, one line per part, with
// every secret replaced by where it comes from.
func (c *Config) Redacted() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config %s\n", c.Path)
	meta := "(unset)"
	if c.General.Metadata != "" {
		meta = strconv.Quote(c.General.Metadata)
	}
	fmt.Fprintf(&b, "general: accounts=%s metadata=%s maxsyncaccounts=%d\n",
		strings.Join(c.General.Accounts, ","), meta, c.General.MaxSyncAccounts)
	seen := map[*Repository]bool{}
	for _, a := range c.Accounts {
		fmt.Fprintf(&b, "%s; state in %s\n", a, c.General.StoreDir(a.Name))
		for _, r := range []*Repository{a.Local, a.Remote} {
			if !seen[r] {
				seen[r] = true
				fmt.Fprintf(&b, "  %s\n", r.Redacted())
			}
		}
	}
	return b.String()
}

// Secret holds a password. Printing it with any fmt verb, or marshalling it
// as text or JSON, gives "<redacted>" (or "<unset>"); only Reveal returns
// the value, and only the code that logs in should call it.
type Secret struct {
	value string
}

// NewSecret wraps a password.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the password itself.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether there is a password.
func (s Secret) IsSet() bool { return s.value != "" }

// String returns "<redacted>", or "<unset>" when there is no password.
func (s Secret) String() string {
	if s.IsSet() {
		return "<redacted>"
	}
	return "<unset>"
}

// GoString is String, so that %#v does not print the value either.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb (%d or %x would otherwise print the
// struct's field).
func (s Secret) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalText returns String, so that encoders never see the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Warning is something in the configuration that mailtrail ignores or
// treats differently from OfflineIMAP. It never stops a sync; the caller
// shows it.
type Warning struct {
	File    string
	Line    int
	Section string // without brackets, e.g. "Repository Remote"
	Option  string // lower-cased option name, or "" for a whole section
	// Message is the whole sentence after "file:line: ", e.g.
	// "[Repository Remote] option 'folderfilter' is Python code, ...".
	Message string
	// Unsafe is set when ignoring the option could delete or duplicate
	// mail; the command line refuses to sync unless forced.
	Unsafe bool
}

// String is "file:line: message".
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
}

// Error is a problem that makes the configuration unusable. Parse and Load
// return all of them, joined with errors.Join; use errors.As to get one.
type Error struct {
	File string
	Line int    // 0 when the problem has no single line
	Msg  string // what is wrong and, where it helps, what to do
	Err  error  // underlying error (a failed file read), or nil
}

// Error is "file:line: msg: err".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
