package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mailtrail/config/lambda"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Load reads the configuration file at path ("~" is expanded) with the
// process environment. Messages name the file with the home directory
// written as "~". See Parse for what is returned.
func Load(path string) (*Config, []Warning, error) {
	return load(path, OSEnv)
}

// LoadWithOverrides is Load with OfflineIMAP's -k overrides applied on top
// of the file, in order, before anything is checked.
func LoadWithOverrides(path string, overrides []Override) (*Config, []Warning, error) {
	return loadWith(path, OSEnv, overrides)
}

func load(path string, env Env) (*Config, []Warning, error) {
	return loadWith(path, env, nil)
}

func loadWith(path string, env Env, overrides []Override) (*Config, []Warning, error) {
	path = env.expandUser(path)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, &Error{File: path, Msg: "cannot find the configuration file", Err: err}
	}
	display := env.abbreviate(abs)
	f, err := os.Open(abs)
	if err != nil {
		return nil, nil, &Error{File: display, Msg: "cannot open the configuration file", Err: err}
	}
	defer f.Close()
	cfg, warnings, err := parse(display, f, env, overrides)
	if cfg != nil {
		cfg.Path = abs
	}
	return cfg, warnings, err
}

// Parse reads an OfflineIMAP configuration from r; name is used in every
// message (and as Config.Path). env supplies HOME, XDG_STATE_HOME and the
// variables for $NAME expansion; nil means the process environment.
//
// On success the Config is complete and checked (see the package
// documentation). Otherwise the error joins one *Error per problem found,
// in line order; syntax errors are reported alone, before any check of the
// values. The warnings, in line order, are returned in both cases.
func Parse(name string, r io.Reader, env Env) (*Config, []Warning, error) {
	return parse(name, r, env, nil)
}

func parse(name string, r io.Reader, env Env, overrides []Override) (*Config, []Warning, error) {
	if env == nil {
		env = OSEnv
	}
	file, errs := parseINI(name, r)
	if len(errs) > 0 {
		return nil, nil, joinErrors(errs)
	}
	for _, o := range overrides {
		file.override(o)
	}
	b := &builder{
		file:      file,
		env:       env,
		refs:      file.references(),
		repos:     map[string]*Repository{},
		usedRepos: map[string]bool{},
		warnings:  file.warnings,
	}
	cfg := b.build()
	sort.SliceStable(b.warnings, func(i, j int) bool { return b.warnings[i].Line < b.warnings[j].Line })
	if len(b.errs) > 0 {
		return nil, b.warnings, joinErrors(b.errs)
	}
	return cfg, b.warnings, nil
}

func joinErrors(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// secretOptions are options whose value is never written into a message.
var secretOptions = set("remotepass", "remotepasseval", "remotepasscommand", "oauth2_client_secret",
	"oauth2_refresh_token", "oauth2_access_token", "oauth2_client_secret_eval",
	"oauth2_refresh_token_eval", "oauth2_access_token_eval")

// builder turns the syntax tree into the model, collecting errors and
// warnings as it goes.
type builder struct {
	file      *iniFile
	env       Env
	refs      map[string]bool // names used in %(name)s references
	errs      []*Error
	warnings  []Warning
	repos     map[string]*Repository // read so far; nil value: unusable
	usedRepos map[string]bool        // named by a listed account
}

func (b *builder) errorf(line int, format string, args ...any) {
	b.errs = append(b.errs, &Error{File: b.file.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) warnf(sec *iniSection, line int, option, format string, args ...any) {
	b.warnings = append(b.warnings, Warning{
		File: b.file.name, Line: line, Section: sec.name, Option: option,
		Message: fmt.Sprintf(format, args...),
	})
}

func (b *builder) build() *Config {
	gsec := b.file.byName["general"]
	if gsec == nil {
		b.errorf(0, "no [general] section%s; add one naming the accounts to synchronise: a line [general], then accounts = Personal", b.caseHint("general"))
		return nil
	}
	cfg := &Config{Path: b.file.name}
	g, accountsOpt := b.general(view{b, gsec})
	b.readGeneralExtras(view{b, gsec}, &g)
	cfg.General = g
	b.checkOptions(gsec, kindGeneral)
	for _, name := range g.Accounts {
		if acc := b.account(name, accountsOpt); acc != nil {
			cfg.Accounts = append(cfg.Accounts, acc)
		}
	}
	b.readMbnames(cfg)
	b.checkOtherSections(g.Accounts)
	b.checkDefaults()
	return cfg
}

func (b *builder) general(v view) (General, *iniOption) {
	g := General{
		StateHome:       b.env.stateHome(),
		MaxSyncAccounts: v.integer("maxsyncaccounts", 1, 1, 1000),
		SockTimeout:     time.Duration(v.integer("socktimeout", 0, 1, 86400)) * time.Second,
	}
	g.JournalRetention = time.Duration(v.integer("journalretention", 0, 1, 36500)) * 24 * time.Hour
	// The list may go on over several lines ("A,\n  B"), as in OfflineIMAP.
	list, opt, ok := v.value("accounts")
	switch {
	case opt == nil:
		b.errorf(v.sec.line, "[general] has no accounts option; name the accounts to synchronise, as in accounts = Personal, Work")
	case ok && list == "":
		b.errorf(opt.line, "[general] accounts is empty; name the accounts to synchronise, as in accounts = Personal, Work")
	case ok:
		seen := map[string]bool{}
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				b.errorf(opt.line, "[general] accounts = %s: an account name is empty; is there a stray comma?", strings.ReplaceAll(list, "\n", " "))
			case strings.Contains(name, "\n"):
				b.errorf(opt.line, "[general] accounts: %q is not one account name; separate the names with commas", strings.ReplaceAll(name, "\n", " "))
			case !validAccountName(name):
				b.errorf(opt.line, "[general] accounts: the account name %q cannot be used as a directory name; use letters, digits, '-', '_' and '.'", name)
			case seen[name]:
				b.warnf(v.sec, opt.line, opt.key, "[general] accounts names %q twice; it is synchronised once", name)
			default:
				seen[name] = true
				g.Accounts = append(g.Accounts, name)
			}
		}
	}

	if meta, o, ok := v.line("metadata"); ok {
		if meta == "" {
			b.errorf(o.line, "%s is empty; name a directory, or remove the line", v.where(o))
		} else {
			g.Metadata = b.env.expandPath(meta)
			b.warnRelative(v, o, g.Metadata)
		}
	}
	g.OfflineIMAPMetadata = g.Metadata
	if g.OfflineIMAPMetadata == "" {
		g.OfflineIMAPMetadata = b.env.expandPath("~/.offlineimap")
	}
	return g, opt
}

// validAccountName refuses names that cannot be one directory level under
// the store directory.
func validAccountName(name string) bool {
	if name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (b *builder) account(name string, accountsOpt *iniOption) *Account {
	sec := b.file.byName["Account "+name]
	if sec == nil {
		b.errorf(accountsOpt.line, "[general] accounts names %q, but there is no [Account %s] section%s", name, name, b.caseHint("Account "+name))
		return nil
	}
	v := view{b, sec}
	acc := &Account{Name: name, Line: sec.line}
	localName, localOpt, localOK := v.requiredLine("localrepository",
		"name the [Repository ...] section of the local Maildir, as in localrepository = "+name+"-local")
	remoteName, remoteOpt, remoteOK := v.requiredLine("remoterepository",
		"name the [Repository ...] section of the IMAP server, as in remoterepository = "+name+"-remote")
	b.checkOptions(sec, kindAccount)
	b.readAccountExtras(v, acc)
	if localOK && remoteOK && localName == remoteName {
		b.errorf(remoteOpt.line, "[Account %s]: localrepository and remoterepository both name %q; they must be two different repositories", name, localName)
		return nil
	}
	// Read each repository that is named, even if the other is not, so
	// that all the errors are reported at once.
	if localOK {
		acc.Local = b.repository(localName, v, localOpt, false)
	}
	if remoteOK {
		acc.Remote = b.repository(remoteName, v, remoteOpt, true)
	}
	if acc.Local == nil || acc.Remote == nil {
		return nil
	}
	if o := v.lookup("maxage"); o != nil && (!acc.Local.Extra.StartDate.IsZero() || !acc.Remote.Extra.StartDate.IsZero()) {
		b.errorf(o.line, "[Account %s]: maxage cannot be used with startdate (in the repositories), as in OfflineIMAP; keep one", name)
	}
	return acc
}

// repository returns the repository that ref (localrepository or
// remoterepository in the account section av) names, reading it the first
// time, or nil when it is unusable (the errors are recorded).
func (b *builder) repository(name string, av view, ref *iniOption, remote bool) *Repository {
	sec := b.file.byName["Repository "+name]
	if sec == nil {
		b.errorf(ref.line, "%s = %s: there is no [Repository %s] section%s", av.where(ref), name, name, b.caseHint("Repository "+name))
		return nil
	}
	b.usedRepos[name] = true
	r, done := b.repos[name]
	if !done {
		r = b.readRepository(sec, name)
		b.repos[name] = r
	}
	if r == nil {
		return nil
	}
	if remote && r.Type != IMAP {
		b.errorf(ref.line, "%s = %s: [Repository %s] is of type %s, but the remote repository must be of type IMAP", av.where(ref), name, name, r.Type)
		return nil
	}
	return r
}

func (b *builder) readRepository(sec *iniSection, name string) *Repository {
	v := view{b, sec}
	errsBefore := len(b.errs)
	typ, typeOpt, ok := v.requiredLine("type", "add type = Maildir (for a local Maildir) or type = IMAP (for a server)")
	if !ok {
		return nil
	}
	r := &Repository{Name: name, Line: sec.line}
	switch typ {
	case string(Maildir):
		r.Type = Maildir
		b.readMaildir(v, r)
		b.checkOptions(sec, kindMaildir)
	case string(IMAP):
		r.Type = IMAP
		b.readIMAP(v, r)
		b.checkOptions(sec, kindIMAP)
	case "Gmail":
		b.errorf(typeOpt.line, "%s = Gmail: Gmail repositories are not supported yet; use type = IMAP with remotehost = imap.gmail.com (labels are then seen as folders)", v.where(typeOpt))
	case "GmailMaildir":
		b.errorf(typeOpt.line, "%s = GmailMaildir: GmailMaildir repositories are not supported yet; use type = Maildir", v.where(typeOpt))
	default:
		hint := ""
		for _, t := range []string{"Maildir", "IMAP", "Gmail", "GmailMaildir"} {
			if strings.EqualFold(typ, t) {
				hint = fmt.Sprintf(" (type names are case-sensitive: write %s)", t)
			}
		}
		b.errorf(typeOpt.line, "%s = %s: unknown repository type; want Maildir or IMAP%s", v.where(typeOpt), typ, hint)
	}
	if src, o, ok := v.value("folderfilter"); ok {
		fn, err := lambda.Compile("folderfilter", src)
		if err != nil {
			b.errorf(o.line, "[%s] %v", sec.name, err)
		} else {
			r.FolderFilter = fn
		}
	}
	if src, o, ok := v.value("nametrans"); ok {
		fn, err := lambda.Compile("nametrans", src)
		if err != nil {
			b.errorf(o.line, "[%s] %v", sec.name, err)
		} else {
			r.NameTrans = fn
		}
	}
	b.readExtras(v, r)
	if len(b.errs) > errsBefore {
		return nil
	}
	return r
}

func (b *builder) readMaildir(v view, r *Repository) {
	if dir, o, ok := v.requiredLine("localfolders", "name the directory holding the Maildir folders, as in localfolders = ~/Mail"); ok {
		r.LocalFolders = b.env.expandPath(dir)
		b.warnRelative(v, o, r.LocalFolders)
	}
	r.Sep = "."
	if sep, o, ok := v.line("sep"); ok {
		if utf8.RuneCountInString(sep) != 1 {
			b.errorf(o.line, "%s = %s: want exactly one character, such as . or /", v.where(o), sep)
		} else {
			r.Sep = sep
		}
	}
	r.CreateFolders = v.boolean("createfolders", true)
	r.ReadOnly = v.boolean("readonly", false)
	r.MaxDelete = v.integer("maxdelete", DefaultMaxDelete, 0, 100)
}

func (b *builder) readIMAP(v view, r *Repository) {
	r.SSL = v.boolean("ssl", true)
	r.STARTTLS = v.boolean("starttls", true)

	tunnel := ""
	for _, t := range []string{"preauthtunnel", "transporttunnel"} {
		if v.has(t) {
			tunnel = fmt.Sprintf(" (%s is not supported yet)", t)
		}
	}
	r.RemoteHost, _, _ = v.requiredUnlessEval("remotehost", "remotehosteval",
		"name the IMAP server, as in remotehost = imap.example.org"+tunnel)
	defaultPort := 143
	if r.SSL {
		defaultPort = 993
	}
	r.RemotePort = v.integer("remoteport", defaultPort, 1, 65535)
	b.readUser(v, r)
	b.readPassword(v, r)
	b.readOAuth2(v, r)
	b.readAuthMechanisms(v, r)
	b.readTLSOptions(v, r)
	if ca, o, ok := v.line("sslcacertfile"); ok {
		switch {
		case ca == "OS-DEFAULT":
			// The system's trusted roots: SSLCACertFile stays "".
		case ca == "":
			b.errorf(o.line, "%s is empty; name a PEM file of CA certificates, or write OS-DEFAULT for the system's", v.where(o))
		default:
			path := b.env.expandPath(ca)
			if _, err := os.Stat(path); err != nil {
				b.errs = append(b.errs, &Error{File: b.file.name, Line: o.line,
					Msg: fmt.Sprintf("%s: cannot use the CA certificate file %s (write OS-DEFAULT for the system's)", v.where(o), path), Err: err})
			}
			r.SSLCACertFile = path
		}
	}
	r.MaxConnections = v.integer("maxconnections", 1, 1, 1000)
	if ref, o, ok := v.line("reference"); ok {
		r.Reference = imapReference(ref)
		if strings.ContainsAny(r.Reference, "*%") {
			b.errorf(o.line, "%s = %s: a reference holds no wildcard (* or %%); name the folder the others are under, as in reference = Mail", v.where(o), ref)
		}
	}
	r.SubscribedOnly = v.boolean("subscribedonly", false)
	r.HoldConnectionOpen = v.boolean("holdconnectionopen", false)
	r.KeepAlive = time.Duration(v.integer("keepalive", 0, 0, 86400)) * time.Second
	r.CreateFolders = v.boolean("createfolders", true)
	r.ReadOnly = v.boolean("readonly", false)
	r.MaxDelete = v.integer("maxdelete", DefaultMaxDelete, 0, 100)
}

// imapReference reads "reference" as the IMAP string OfflineIMAP sends it
// as: "" (its default) or another quoted string is unquoted (\" and \\
// undone), anything else is taken as it is.
func imapReference(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		s = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(s)
	}
	return s
}

// readPassFile returns the first line of the file with surrounding white
// space removed, as OfflineIMAP's readline().strip() does.
func readPassFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func (b *builder) warnRelative(v view, o *iniOption, path string) {
	if !filepath.IsAbs(path) {
		b.warnf(v.sec, o.line, o.key, "%s = %s is a relative path: it is taken relative to the directory mailtrail is started in", v.where(o), path)
	}
}

// checkOptions warns about every option set in sec itself (not inherited
// from [DEFAULT]) that mailtrail does not read for this kind of section.
func (b *builder) checkOptions(sec *iniSection, kind sectionKind) {
	for _, o := range sec.options {
		if understood[kind][o.key] || b.refs[o.key] {
			continue
		}
		b.warnUnsupported(sec, o, kind)
	}
}

func (b *builder) warnUnsupported(sec *iniSection, o *iniOption, kind sectionKind) {
	if harmlessAlways[o.key] {
		return
	}
	if want, ok := harmlessWhen[o.key]; ok {
		if got, valid := parseBool(o.value); valid && got == want {
			return
		}
	}
	msg := fmt.Sprintf("[%s] option '%s' ", sec.name, o.key)
	switch {
	case kind != kindDefault && understoodAnywhere(o.key):
		msg += fmt.Sprintf("is read by mailtrail only in %s sections, so here it is ignored", kindsUnderstanding(o.key))
	case pythonOptions[o.key]:
		msg += "is not supported yet and is ignored (it is Python code, which mailtrail does not run)"
	case offlineIMAPOptions[o.key]:
		msg += "is not supported yet and is ignored"
	case kind == kindDefault:
		msg += fmt.Sprintf("is neither an option mailtrail reads nor used in a %%(%s)s reference, so it is ignored", o.key)
	default:
		msg += "is not an OfflineIMAP option (a typo?) and is ignored"
	}
	if c := consequence[o.key]; c != "" {
		msg += ": " + c
	} else if strings.HasPrefix(o.key, "customflag_") {
		msg += ": the keyword is not mapped to a Maildir flag letter"
	}
	unsafe := unsafeToIgnore[o.key] && kind != kindDefault && kind != kindMbnames
	b.warnings = append(b.warnings, Warning{File: b.file.name, Line: o.line, Section: sec.name, Option: o.key, Message: msg,
		Unsafe: unsafe})
}

// kindsUnderstanding names the kinds of section in which mailtrail reads
// key, as "Maildir repository and IMAP repository".
func kindsUnderstanding(key string) string {
	var names []string
	for k := kindGeneral; k < kindDefault; k++ {
		if understood[k][key] {
			names = append(names, k.String())
		}
	}
	return strings.Join(names, " and ")
}

// checkOtherSections warns about sections nothing reads.
func (b *builder) checkOtherSections(accounts []string) {
	listed := set(accounts...)
	for _, s := range b.file.sections {
		switch {
		case s.name == "general" || s.name == "mbnames":
		case strings.HasPrefix(s.name, "Account "):
			if !listed[strings.TrimPrefix(s.name, "Account ")] {
				b.warnf(s, s.line, "", "[%s] is not listed in [general] accounts, so it is ignored", s.name)
			}
		case strings.HasPrefix(s.name, "Repository "):
			if !b.usedRepos[strings.TrimPrefix(s.name, "Repository ")] {
				b.warnf(s, s.line, "", "[%s] is not used by any account listed in [general] accounts, so it is ignored", s.name)
			}
		default:
			hint := ""
			lower := strings.ToLower(strings.TrimSpace(s.name))
			for _, want := range []string{"general", "mbnames", "DEFAULT"} {
				if lower == strings.ToLower(want) {
					hint = fmt.Sprintf(" (section names are case-sensitive: write [%s])", want)
				}
			}
			for _, want := range []string{"Account ", "Repository "} {
				if strings.HasPrefix(lower, strings.ToLower(want)) {
					hint = fmt.Sprintf(" (section names are case-sensitive and spaces count: write [%sName])", want)
				}
			}
			b.warnf(s, s.line, "", "[%s] is not a section mailtrail reads, so it is ignored%s", s.name, hint)
		}
	}
}

// checkDefaults warns about [DEFAULT] options that no section uses.
func (b *builder) checkDefaults() {
	for _, o := range b.file.defaults.options {
		if understoodAnywhere(o.key) || b.refs[o.key] {
			continue
		}
		b.warnUnsupported(b.file.defaults, o, kindDefault)
	}
}

// caseHint points at a section whose name differs from want only in case
// or surrounding spaces.
func (b *builder) caseHint(want string) string {
	for _, s := range b.file.sections {
		if s.name != want && strings.EqualFold(strings.Join(strings.Fields(s.name), " "), want) {
			return fmt.Sprintf(" (there is a [%s] section on line %d, but section names are case-sensitive and spaces count)", s.name, s.line)
		}
	}
	return ""
}

// view reads typed options of one section, recording errors.
type view struct {
	b   *builder
	sec *iniSection
}

func (v view) lookup(key string) *iniOption { return v.b.file.lookup(v.sec, key) }

func (v view) has(key string) bool { return v.lookup(key) != nil }

// where names an option for a message: "[Section] key", noting when the
// value comes from [DEFAULT].
func (v view) where(o *iniOption) string {
	if v.sec.byKey[o.key] != o {
		return fmt.Sprintf("[%s] %s (set in [DEFAULT])", v.sec.name, o.key)
	}
	return fmt.Sprintf("[%s] %s", v.sec.name, o.key)
}

// value returns the interpolated value of key, which may span several
// lines. o is nil when the option is not set; ok is false then and when
// the value is unusable (the error is recorded).
func (v view) value(key string) (value string, o *iniOption, ok bool) {
	o = v.lookup(key)
	if o == nil {
		return "", nil, false
	}
	value, err := v.b.file.interpolate(v.sec, o, secretOptions[key])
	if err != nil {
		v.b.errorf(o.line, "%s: %v", v.where(o), err)
		return "", o, false
	}
	return value, o, true
}

// line is value for an option that must fit on one line.
func (v view) line(key string) (value string, o *iniOption, ok bool) {
	value, o, ok = v.value(key)
	if ok && strings.Contains(value, "\n") {
		v.b.errorf(o.line, "%s: the value goes on over the next lines because they are indented; unindent them, or start them with #", v.where(o))
		return "", o, false
	}
	return value, o, ok
}

// requiredLine is line for an option that must be set and not empty; hint
// says what to write.
func (v view) requiredLine(key, hint string) (string, *iniOption, bool) {
	value, o, ok := v.line(key)
	switch {
	case o == nil:
		v.b.errorf(v.sec.line, "[%s] has no %s; %s", v.sec.name, key, hint)
		return "", nil, false
	case ok && value == "":
		v.b.errorf(o.line, "%s is empty; %s", v.where(o), hint)
		return "", o, false
	}
	return value, o, ok
}

// requiredUnlessEval is requiredLine, with a clearer error when the value
// is only given by OfflineIMAP's Python-evaluated variant (evalKey).
func (v view) requiredUnlessEval(key, evalKey, hint string) (string, *iniOption, bool) {
	if !v.has(key) {
		if e := v.lookup(evalKey); e != nil {
			v.b.errorf(e.line, "[%s] gets %s only from %s, which is Python code that mailtrail does not run yet; set %s", v.sec.name, key, evalKey, key)
			return "", nil, false
		}
	}
	return v.requiredLine(key, hint)
}

// boolean reads a yes/no option; def when it is not set.
func (v view) boolean(key string, def bool) bool {
	value, o, ok := v.line(key)
	if !ok {
		return def
	}
	b, valid := parseBool(value)
	if !valid {
		v.b.errorf(o.line, "%s = %s: want yes or no (or true/false, on/off, 1/0)", v.where(o), value)
		return def
	}
	return b
}

// integer reads a whole number in [lo, hi]; def when it is not set.
func (v view) integer(key string, def, lo, hi int) int {
	value, o, ok := v.line(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < lo || n > hi {
		v.b.errorf(o.line, "%s = %s: want a whole number from %d to %d", v.where(o), value, lo, hi)
		return def
	}
	return n
}

// parseBool accepts what Python's configparser accepts, in any case.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// Override is one -k [section:]option=value from the command line.
type Override struct {
	Section string // "general" when the argument names none
	Option  string
	Value   string
}

// ParseOverride reads OfflineIMAP's -k argument: "[section:]option=value".
// A section name may itself contain ':' only before the last one that
// precedes '=' (as in "Repository Work:remotehost=..."); OfflineIMAP
// splits the same way.
func ParseOverride(arg string) (Override, error) {
	lhs, value, ok := strings.Cut(arg, "=")
	if !ok || strings.TrimSpace(lhs) == "" {
		return Override{}, fmt.Errorf("-k %s: want [section:]option=value", arg)
	}
	section, option := "general", lhs
	if i := strings.LastIndex(lhs, ":"); i >= 0 {
		section, option = lhs[:i], lhs[i+1:]
	}
	section, option = strings.TrimSpace(section), strings.TrimSpace(option)
	if section == "" || option == "" {
		return Override{}, fmt.Errorf("-k %s: want [section:]option=value", arg)
	}
	return Override{Section: section, Option: option, Value: strings.TrimSpace(value)}, nil
}

// override sets one option, creating its section when the file has none.
// The option keeps no line number: it comes from the command line.
func (f *iniFile) override(o Override) {
	var sec *iniSection
	if strings.EqualFold(o.Section, "DEFAULT") {
		sec = f.defaults
	} else if sec = f.byName[o.Section]; sec == nil {
		sec = newSection(o.Section, 0)
		f.sections = append(f.sections, sec)
		f.byName[o.Section] = sec
	}
	key := strings.ToLower(o.Option)
	if opt := sec.byKey[key]; opt != nil {
		opt.value, opt.line = o.Value, 0
		return
	}
	opt := &iniOption{key: key, value: o.Value}
	sec.options = append(sec.options, opt)
	sec.byKey[key] = opt
}
