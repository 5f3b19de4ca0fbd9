package config

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mailtrail/config/lambda"
	"net/url"
	"os"
	"os/exec"
	"strings"
)

// This file reads the IMAP repository's credentials and TLS options:
// where the user name and password come from (remoteusereval, remoteuser,
// remotepasseval, remotepass, remotepassfile, remotepasscommand, ~/.netrc),
// OAuth2 (oauth2_*), auth_mechanisms, cert_fingerprint, tls_level,
// ssl_version, sslclientcert and sslclientkey.

// systemNetrc is OfflineIMAP's second netrc file; a variable for tests.
var systemNetrc = "/etc/netrc"

// AuthMechanisms are the names auth_mechanisms accepts: OfflineIMAP's, and
// OAUTHBEARER (RFC 7628), which mailtrail adds.
var AuthMechanisms = []string{"GSSAPI", "XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "PLAIN", "LOGIN"}

// evalOption evaluates a *eval option (remotepasseval and the like) with
// Starlark. The error never quotes the expression: for remotepasseval it
// may hold the password itself.
func (b *builder) evalOption(v view, key string) (string, *iniOption, bool) {
	src, o, ok := v.value(key)
	if !ok {
		return "", o, false
	}
	out, err := lambda.Eval(key, src)
	if err != nil {
		msg := err.Error()
		var le *lambda.Error
		if errors.As(err, &le) {
			msg = le.Msg
		}
		b.errorf(o.line, "[%s] %s: the expression %s (OfflineIMAP's pythonfile is not read: write the value, or compute it with remotepasscommand)",
			v.sec.name, key, msg)
		return "", o, false
	}
	return out, o, true
}

// readUser sets RemoteUser from remoteusereval, remoteuser or the netrc
// entry for the host, in OfflineIMAP's order.
func (b *builder) readUser(v view, r *Repository) {
	if v.has("remoteusereval") {
		if user, o, ok := b.evalOption(v, "remoteusereval"); ok {
			if user == "" {
				b.errorf(o.line, "[%s] remoteusereval gives an empty user name", v.sec.name)
			}
			r.RemoteUser = user
		}
		if o := v.lookup("remoteuser"); o != nil {
			b.warnf(v.sec, o.line, o.key, "[%s] option 'remoteuser' is ignored because remoteusereval is set (OfflineIMAP does the same)", v.sec.name)
		}
		return
	}
	if v.has("remoteuser") || r.RemoteHost == "" {
		r.RemoteUser, _, _ = v.requiredLine("remoteuser", "name the user to log in as, as in remoteuser = jane@example.org")
		return
	}
	if e, err := b.netrcEntry(r.RemoteHost); err != nil {
		b.errs = append(b.errs, &Error{File: b.file.name, Line: v.sec.line, Msg: fmt.Sprintf("[%s] has no remoteuser, and the netrc file cannot be used", v.sec.name), Err: err})
	} else if e != nil && e.login != "" {
		r.RemoteUser = e.login
		r.RemoteUserFrom = e.file
	} else {
		b.errorf(v.sec.line, "[%s] has no remoteuser (and no netrc entry for %s names one); name the user to log in as, as in remoteuser = jane@example.org", v.sec.name, r.RemoteHost)
	}
}

// readPassword finds the password in OfflineIMAP's order: remotepasseval,
// remotepass, remotepassfile, then mailtrail's remotepasscommand, then the
// netrc files. Options after the one used are ignored, with a warning.
func (b *builder) readPassword(v view, r *Repository) {
	sources := []string{"remotepasseval", "remotepass", "remotepassfile", "remotepasscommand"}
	used := ""
	for _, key := range sources {
		if !v.has(key) {
			continue
		}
		if used != "" {
			o := v.lookup(key)
			b.warnf(v.sec, o.line, o.key, "[%s] option '%s' is ignored because %s is set (OfflineIMAP takes the first of remotepasseval, remotepass, remotepassfile)", v.sec.name, key, used)
			continue
		}
		used = key
		switch key {
		case "remotepasseval":
			if pass, o, ok := b.evalOption(v, key); ok {
				if pass == "" {
					b.errorf(o.line, "[%s] remotepasseval gives an empty password", v.sec.name)
				}
				r.RemotePass = NewSecret(pass)
				r.PasswordFrom = "remotepasseval"
			}
		case "remotepass":
			pass, o, ok := v.line("remotepass")
			if ok && pass == "" {
				b.errorf(o.line, "%s is empty; set the password, or remove the line to use remotepassfile, ~/.netrc or remotepasscommand", v.where(o))
			}
			r.RemotePass = NewSecret(pass)
		case "remotepassfile":
			file, o, ok := v.line("remotepassfile")
			if !ok {
				break
			}
			// OfflineIMAP expands only ~ here, not $NAME.
			path := b.env.expandUser(file)
			pass, err := readPassFile(path)
			switch {
			case err != nil:
				b.errs = append(b.errs, &Error{File: b.file.name, Line: o.line,
					Msg: fmt.Sprintf("%s: cannot read the password file %s", v.where(o), path), Err: err})
			case pass == "":
				b.errorf(o.line, "%s: the first line of the password file %s is empty; write the password on it", v.where(o), path)
			default:
				r.RemotePass = NewSecret(pass)
				r.RemotePassFile = path
			}
		case "remotepasscommand":
			cmd, o, ok := v.line("remotepasscommand")
			if ok && strings.TrimSpace(cmd) == "" {
				b.errorf(o.line, "%s is empty; give a command that prints the password, as in remotepasscommand = pass show mail", v.where(o))
			}
			r.RemotePassCommand = cmd
		}
	}
	if used != "" || r.RemoteHost == "" {
		return
	}
	e, err := b.netrcEntry(r.RemoteHost)
	if err != nil {
		b.errs = append(b.errs, &Error{File: b.file.name, Line: v.sec.line, Msg: fmt.Sprintf("[%s] has no password option, and the netrc file cannot be used", v.sec.name), Err: err})
		return
	}
	// As OfflineIMAP: the entry's password counts only when its login is
	// the user (or names none).
	if e != nil && e.password != "" && (e.login == "" || e.login == r.RemoteUser) {
		r.RemotePass = NewSecret(e.password)
		r.PasswordFrom = e.file
	}
}

// netrcEntry is one machine (or default) entry of a netrc file.
type netrcEntry struct {
	file            string // where it was found, for messages
	login, password string
}

// netrcEntry looks host up in ~/.netrc, then /etc/netrc, as Python's
// netrc module does for OfflineIMAP: the machine entry, else the default
// entry. A ~/.netrc that others may read, or that is not the user's, is
// an error, as in Python (it holds passwords).
func (b *builder) netrcEntry(host string) (*netrcEntry, error) {
	home := b.env.home()
	for _, path := range []string{home + "/.netrc", systemNetrc} {
		if home == "" && path != systemNetrc {
			continue
		}
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) || (path == systemNetrc && errors.Is(err, fs.ErrPermission)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		e, err := func() (*netrcEntry, error) {
			defer f.Close()
			if path != systemNetrc {
				if err := checkPrivate(f, path); err != nil {
					return nil, err
				}
			}
			return parseNetrc(path, io.LimitReader(f, 1<<20), host)
		}()
		if err != nil || e != nil {
			return e, err
		}
		// No entry for host: OfflineIMAP tries /etc/netrc next.
	}
	return nil, nil
}

// parseNetrc finds host's entry (or the default one) in a netrc file.
// Errors name the file and line, never a token's value.
func parseNetrc(path string, r io.Reader, host string) (*netrcEntry, error) {
	type tok struct {
		s    string
		line int
	}
	var toks []tok
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	inMacro := false
	for sc.Scan() {
		line++
		text := sc.Text()
		if inMacro {
			if strings.TrimSpace(text) == "" {
				inMacro = false
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(text), "#") {
			continue
		}
		fields := netrcFields(text)
		for i := 0; i < len(fields); i++ {
			if fields[i] == "macdef" {
				inMacro = true
				break
			}
			toks = append(toks, tok{fields[i], line})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var found, def *netrcEntry
	var cur *netrcEntry
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.s {
		case "machine", "default":
			cur = &netrcEntry{file: path}
			if t.s == "default" {
				if def == nil {
					def = cur
				}
				continue
			}
			if i+1 >= len(toks) {
				return nil, fmt.Errorf("%s:%d: machine without a name", path, t.line)
			}
			i++
			if toks[i].s == host && found == nil {
				found = cur
			}
		case "login", "password", "account":
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: %s before any machine entry", path, t.line, t.s)
			}
			if i+1 >= len(toks) {
				return nil, fmt.Errorf("%s:%d: %s without a value", path, t.line, t.s)
			}
			i++
			switch t.s {
			case "login":
				cur.login = toks[i].s
			case "password":
				cur.password = toks[i].s
			}
		default:
			return nil, fmt.Errorf("%s:%d: unexpected word (not machine, default, login, password, account or macdef)", path, t.line)
		}
	}
	if found != nil {
		return found, nil
	}
	return def, nil
}

// netrcFields splits a netrc line into words as Python's netrc does: white
// space separates them, a word may be "quoted" (holding spaces), and a
// backslash takes the next character as it is.
func netrcFields(line string) []string {
	var out []string
	var cur strings.Builder
	in, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			in = true
		case c == '"':
			quoted = !quoted
			in = true
		case !quoted && (c == ' ' || c == '\t' || c == '\r'):
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// readOAuth2 reads the oauth2_* options (each may instead be given by its
// _eval variant, a Starlark expression).
func (b *builder) readOAuth2(v view, r *Repository) {
	get := func(key string) (string, *iniOption) {
		if v.has(key + "_eval") {
			val, o, ok := b.evalOption(v, key+"_eval")
			if !ok {
				return "", o
			}
			return val, o
		}
		val, o, ok := v.line(key)
		if !ok {
			return "", o
		}
		return val, o
	}
	id, _ := get("oauth2_client_id")
	secret, _ := get("oauth2_client_secret")
	refresh, refreshOpt := get("oauth2_refresh_token")
	access, _ := get("oauth2_access_token")
	reqURL, urlOpt, _ := v.line("oauth2_request_url")
	r.OAuth2ClientID = id
	r.OAuth2ClientSecret = NewSecret(secret)
	r.OAuth2RefreshToken = NewSecret(refresh)
	r.OAuth2AccessToken = NewSecret(access)
	if urlOpt != nil && reqURL != "" {
		u, err := url.Parse(reqURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			b.errorf(urlOpt.line, "%s = %s: want an https:// URL (the refresh token must not cross the network in clear)", v.where(urlOpt), reqURL)
		}
		r.OAuth2RequestURL = reqURL
	}
	if refresh != "" && r.OAuth2RequestURL == "" {
		b.errorf(refreshOpt.line, "[%s] oauth2_refresh_token needs oauth2_request_url, the token endpoint (for Gmail https://accounts.google.com/o/oauth2/token)", v.sec.name)
	}
}

// readAuthMechanisms reads auth_mechanisms (comma separated, OfflineIMAP's
// order of preference when unset).
func (b *builder) readAuthMechanisms(v view, r *Repository) {
	list, o, ok := v.line("auth_mechanisms")
	if !ok {
		return
	}
	var usable []string
	for _, m := range strings.Split(list, ",") {
		m = strings.ToUpper(strings.TrimSpace(m))
		known := false
		for _, k := range AuthMechanisms {
			known = known || k == m
		}
		switch {
		case !known:
			b.errorf(o.line, "%s: unknown authentication mechanism %q; want some of %s", v.where(o), m, strings.Join(AuthMechanisms, ", "))
			return
		case m == "GSSAPI":
			b.warnf(v.sec, o.line, o.key, "%s: GSSAPI (Kerberos) is not supported; mailtrail skips it and tries the others", v.where(o))
		default:
			usable = append(usable, m)
		}
	}
	if len(usable) == 0 {
		b.errorf(o.line, "%s = %s: no mechanism mailtrail supports; add PLAIN, LOGIN, CRAM-MD5, XOAUTH2 or OAUTHBEARER", v.where(o), list)
		return
	}
	r.AuthMechanisms = usable
}

// readTLSOptions reads cert_fingerprint, tls_level, ssl_version,
// sslclientcert and sslclientkey.
func (b *builder) readTLSOptions(v view, r *Repository) {
	if list, o, ok := v.line("cert_fingerprint"); ok {
		errsBefore := len(b.errs)
		for _, f := range strings.Split(list, ",") {
			h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(f), ":", ""))
			if h == "" {
				continue
			}
			_, err := hex.DecodeString(h)
			switch {
			case err != nil:
				b.errorf(o.line, "%s: %q is not hexadecimal", v.where(o), strings.TrimSpace(f))
				continue
			case len(h) == 40:
				b.warnf(v.sec, o.line, o.key, "%s: %s is a SHA-1 fingerprint, which is accepted but weak; use the SHA-256 one (mailtrail shows it when it refuses a certificate)", v.where(o), strings.TrimSpace(f))
			case len(h) != 56 && len(h) != 64 && len(h) != 96 && len(h) != 128:
				b.errorf(o.line, "%s: %q has %d hex digits; want a SHA-256 (64 digits) or SHA-512 (128) fingerprint", v.where(o), strings.TrimSpace(f), len(h))
				continue
			}
			r.CertFingerprints = append(r.CertFingerprints, h)
		}
		if len(r.CertFingerprints) == 0 && len(b.errs) == errsBefore {
			b.errorf(o.line, "%s is empty; give the server certificate's SHA-256 fingerprint, or remove the line", v.where(o))
		}
	}
	if level, o, ok := v.line("tls_level"); ok {
		switch level {
		case "tls_compat", "tls_no_ssl", "tls_secure":
			// Every level means TLS 1.2 or newer here: the versions the
			// lower levels would add are refused by mailtrail.
			r.TLSLevel = level
		default:
			b.errorf(o.line, "%s = %s: want tls_compat, tls_no_ssl or tls_secure", v.where(o), level)
		}
	}
	if ver, o, ok := v.line("ssl_version"); ok {
		switch ver {
		case "ssl23", "tls1_2", "tls1_3":
			r.SSLVersion = ver
		case "tls1", "tls1_1", "ssl3":
			b.errorf(o.line, "%s = %s: mailtrail refuses TLS versions before 1.2 (they are broken); remove the line, or write tls1_2", v.where(o), ver)
		default:
			b.errorf(o.line, "%s = %s: want ssl23 (the newest both sides speak), tls1_2 or tls1_3", v.where(o), ver)
		}
	}
	for _, key := range []string{"sslclientcert", "sslclientkey"} {
		p, o, ok := v.line(key)
		if !ok {
			continue
		}
		path := b.env.expandPath(p)
		if _, err := os.Stat(path); err != nil || p == "" {
			b.errs = append(b.errs, &Error{File: b.file.name, Line: o.line, Msg: fmt.Sprintf("%s: cannot use %s", v.where(o), path), Err: err})
			continue
		}
		if key == "sslclientcert" {
			r.SSLClientCert = path
		} else {
			r.SSLClientKey = path
		}
	}
	if r.SSLClientKey != "" && r.SSLClientCert == "" && !v.has("sslclientcert") {
		o := v.lookup("sslclientkey")
		b.errorf(o.line, "[%s] sslclientkey is set without sslclientcert; set both", v.sec.name)
	}
}

// HasOAuth2 reports whether the repository has an OAuth2 token, or a way to
// get one.
func (r *Repository) HasOAuth2() bool {
	return r.OAuth2AccessToken.IsSet() || (r.OAuth2RefreshToken.IsSet() && r.OAuth2RequestURL != "")
}

// Password returns the password: the one read from the configuration, or
// the first line of what remotepasscommand prints (run with sh -c, its
// stderr passed through, so that a pinentry prompt can be seen). Neither
// the command's output nor the command itself is ever in the error: both
// may hold the password. Unset when there is no source.
func (r *Repository) Password(ctx context.Context) (Secret, error) {
	if r.RemotePass.IsSet() || r.RemotePassCommand == "" {
		return r.RemotePass, nil
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", r.RemotePassCommand)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	cmd.Stdin = os.Stdin
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		what := "could not be started"
		if errors.As(err, &ee) {
			what = "failed (" + ee.ProcessState.String() + ")"
		} else if ctx.Err() != nil {
			what = "was cancelled"
		}
		return Secret{}, fmt.Errorf("[Repository %s] remotepasscommand %s; its output is not shown, since it may hold the password", r.Name, what)
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	pass := strings.TrimSpace(line)
	if pass == "" {
		return Secret{}, fmt.Errorf("[Repository %s] remotepasscommand printed an empty first line; it must print the password on its first line", r.Name)
	}
	return NewSecret(pass), nil
}

// checkPrivate refuses a netrc file that others can read or that belongs
// to someone else, as Python's netrc module does for ~/.netrc.
func checkPrivate(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s may be read by others (mode %04o): it holds passwords; chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%s belongs to another user (uid %d)", path, uid)
	}
	return nil
}
