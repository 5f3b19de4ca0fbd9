package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"mailtrail/config/lambda"
)

// This file reads the options of issue 5 beyond the core: [general] ui,
// the account's hooks and autorefresh, the Maildir file-name options,
// folderincludes and [mbnames]. Each one listed in init below is read and
// acted on; the rest still get a warning.

func init() {
	add := func(kind sectionKind, keys ...string) {
		for _, k := range keys {
			understood[kind][k] = true
		}
	}
	add(kindGeneral, "ui", "filename_use_mail_timestamp")
	add(kindAccount, "autorefresh", "presynchook", "postsynchook", "maildir-windows-compatible", "utf8foldernames",
		"maxage", "maxsize")
	add(kindMaildir, "nametrans", "filename_use_mail_timestamp", "restoreatime", "startdate")
	add(kindIMAP, "nametrans", "folderincludes", "startdate")
	// Every sync is as cheap as a quick one when little changed and never
	// misses a flag change.
	harmlessAlways["quick"] = true
	// mailtrail sets a new file's mtime to the server's internal date,
	// which is what utime_from_header = yes asks for in substance.
	harmlessWhen["utime_from_header"] = true
	consequence["utime_from_header"] = "a new file's mtime is the server's internal date of the message"
	add(kindMbnames, "filename", "header", "peritem", "sep", "footer", "incremental", "folderfilter", "sort_keyfunc")
}

// GeneralExtra is the rest of [general].
type GeneralExtra struct {
	// UI is "ui": the interface when -u is not given ("" when unset).
	UI string
	// PythonFile is "pythonfile" (~ expanded), or "". mailtrail never runs
	// it; an expression calling a function from it fails with an error
	// naming the option and the file.
	PythonFile string
}

// AccountExtra is the rest of an [Account X] section.
type AccountExtra struct {
	// AutoRefresh is "autorefresh" (minutes in the file, fractions
	// allowed): sync again after this long, until stopped; zero when unset.
	// -o runs once.
	AutoRefresh time.Duration
	// PreSyncHook and PostSyncHook are shell commands run before and after
	// each sync of the account ("" when unset).
	PreSyncHook, PostSyncHook string
	// WindowsCompatible is "maildir-windows-compatible": file names use
	// '!' instead of ':' before the flags.
	WindowsCompatible bool
	// UTF8FolderNames is "utf8foldernames": local folders are named in
	// UTF-8 ("Entwürfe"); without it, as in OfflineIMAP, in the server's
	// modified UTF-7 ("Entw&APw-rfe"), which is also what folderfilter and
	// nametrans are given.
	UTF8FolderNames bool
	// MaxAgeDays is "maxage" given as a number of days (0 when unset or
	// given as a date); MaxAgeDate is "maxage" given as yyyy-mm-dd. Only
	// messages dated from then on are synced; older ones are left alone on
	// both sides.
	MaxAgeDays int
	MaxAgeDate time.Time
	// MaxSize is "maxsize" in bytes (0: no limit): larger messages are left
	// alone on both sides.
	MaxSize int64
}

// Cutoff is the date before which maxage leaves messages alone, for a sync
// starting at now: the start of the day maxage days ago (local time), as
// OfflineIMAP's SEARCH SINCE; zero without maxage.
func (e AccountExtra) Cutoff(now time.Time) time.Time {
	switch {
	case !e.MaxAgeDate.IsZero():
		return e.MaxAgeDate
	case e.MaxAgeDays > 0:
		d := now.AddDate(0, 0, -e.MaxAgeDays)
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, now.Location())
	}
	return time.Time{}
}

// RepositoryExtra is the rest of a repository section.
type RepositoryExtra struct {
	// StartDate is "startdate": this repository's messages dated before it
	// are left alone (not copied, not deleted). Zero when unset.
	StartDate time.Time

	// Maildir.

	// FilenameUseMailTimestamp is "filename_use_mail_timestamp" (default
	// from [general]): new file names start with the message's date.
	FilenameUseMailTimestamp bool
	// RestoreAtime is "restoreatime": put back the access times of every
	// folder's cur/ and new/ after a sync (for programs that tell new mail
	// by atime < mtime).
	RestoreAtime bool

	// IMAP.

	// FolderIncludes is "folderincludes": server folders synced even when
	// folderfilter rejects them (a Python list of names).
	FolderIncludes []string
}

// Mbnames is the [mbnames] section: a file listing every synced folder,
// for mail readers (mutt's "mailboxes" line).
type Mbnames struct {
	Enabled bool
	// Filename is "filename" with ~ and $NAME expanded.
	Filename string
	// Header, Sep and Footer are Python string expressions, evaluated.
	Header, Sep, Footer string
	// PerItem is "peritem" as written (OfflineIMAP does not evaluate it):
	// Python %-format with %(accountname)s, %(foldername)s and
	// %(localfolders)s.
	PerItem string
	// Incremental is "incremental": write the file after each account
	// instead of once at the end.
	Incremental bool
	// FolderFilter is "folderfilter": lambda accountname, foldername.
	FolderFilter *lambda.Func
	// SortKey is "sort_keyfunc": lambda d, d a dict with accountname,
	// foldername and localfolders. Nil: by (accountname, foldername).
	SortKey *lambda.Func
	// Line is the [mbnames] header line (for messages).
	Line int
}

func (b *builder) readGeneralExtras(v view, g *General) {
	if ui, _, ok := v.line("ui"); ok {
		g.Extra.UI = strings.TrimSpace(ui)
	}
	if pf, _, ok := v.line("pythonfile"); ok && pf != "" {
		g.Extra.PythonFile = b.env.expandPath(pf)
	}
}

func (b *builder) readAccountExtras(v view, a *Account) {
	if s, o, ok := v.line("autorefresh"); ok {
		m, err := strconv.ParseFloat(s, 64)
		if err != nil || m < 0 || math.IsInf(m, 0) || math.IsNaN(m) || m > 60*24*365 {
			b.errorf(o.line, "%s = %s: want a number of minutes, such as 5 or 0.5", v.where(o), s)
		} else {
			a.Extra.AutoRefresh = time.Duration(m * float64(time.Minute))
		}
	}
	if s, _, ok := v.value("presynchook"); ok {
		a.Extra.PreSyncHook = strings.TrimSpace(s)
	}
	if s, _, ok := v.value("postsynchook"); ok {
		a.Extra.PostSyncHook = strings.TrimSpace(s)
	}
	a.Extra.WindowsCompatible = v.boolean("maildir-windows-compatible", false)
	a.Extra.UTF8FolderNames = v.boolean("utf8foldernames", false)
	if s, o, ok := v.line("maxage"); ok {
		if d, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
			a.Extra.MaxAgeDate = d
		} else if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 365*200 {
			a.Extra.MaxAgeDays = n
		} else {
			b.errorf(o.line, "%s = %s: want a number of days (such as 30) or a date yyyy-mm-dd", v.where(o), s)
		}
	}
	if s, o, ok := v.line("maxsize"); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			b.errorf(o.line, "%s = %s: want a size in bytes, such as 2000000", v.where(o), s)
		} else {
			a.Extra.MaxSize = n
		}
	}
}

// readExtras reads a repository's extra options; general is the [general]
// view for the options whose default is set there.
func (b *builder) readExtras(v view, r *Repository) {
	gv := view{b, b.file.byName["general"]}
	if s, o, ok := v.line("startdate"); ok {
		if d, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
			r.Extra.StartDate = d
		} else {
			b.errorf(o.line, "%s = %s: want a date yyyy-mm-dd", v.where(o), s)
		}
	}
	switch r.Type {
	case Maildir:
		r.Extra.FilenameUseMailTimestamp = v.boolean("filename_use_mail_timestamp", gv.boolean("filename_use_mail_timestamp", false))
		r.Extra.RestoreAtime = v.boolean("restoreatime", false)
	case IMAP:
		if src, o, ok := v.value("folderincludes"); ok {
			list, err := lambda.EvalStrings("folderincludes", src)
			if err != nil {
				b.errorf(o.line, "[%s] %v", v.sec.name, err)
			} else {
				r.Extra.FolderIncludes = list
			}
		}
	}
}

// readMbnames reads [mbnames]. Its options mean nothing while it is
// disabled, in OfflineIMAP too, so then only "enabled" is read.
func (b *builder) readMbnames(cfg *Config) {
	sec := b.file.byName["mbnames"]
	if sec == nil {
		return
	}
	v := view{b, sec}
	m := &cfg.Mbnames
	m.Line = sec.line
	m.Enabled = v.boolean("enabled", false)
	if !m.Enabled {
		return
	}
	b.checkOptions(sec, kindMbnames)
	// OfflineIMAP requires every one of these once mbnames is enabled.
	if s, _, ok := v.requiredLine("filename", "name the file to write, as in filename = ~/.mutt/mailboxes"); ok {
		m.Filename = b.env.expandPath(s)
	}
	for _, e := range []struct {
		key string
		dst *string
	}{{"header", &m.Header}, {"sep", &m.Sep}, {"footer", &m.Footer}} {
		src, o, ok := v.value(e.key)
		if o == nil {
			b.errorf(sec.line, "[mbnames] has no %s; OfflineIMAP requires it when enabled: write %s = \"\" for none", e.key, e.key)
			continue
		}
		if !ok {
			continue
		}
		s, err := lambda.Eval(e.key, src)
		if err != nil {
			b.errorf(o.line, "[mbnames] %v (it is a Python expression: quote a string, as in %s = \"mailboxes \")", err, e.key)
			continue
		}
		*e.dst = s
	}
	if o := v.lookup("peritem"); o == nil {
		b.errorf(sec.line, "[mbnames] has no peritem; OfflineIMAP requires it when enabled, as in peritem = +%%(accountname)s/%%(foldername)s")
	} else {
		// Raw, as OfflineIMAP reads it: no %(name)s interpolation.
		m.PerItem = o.value
		if err := checkPerItem(m.PerItem); err != nil {
			b.errorf(o.line, "[mbnames] peritem = %s: %v", m.PerItem, err)
		}
	}
	m.Incremental = v.boolean("incremental", false)
	// folderfilter and sort_keyfunc are read only from [mbnames] itself: a
	// [DEFAULT] folderfilter is a repository's one-argument filter.
	if src, o, ok := v.value("folderfilter"); ok && sec.byKey["folderfilter"] == o {
		fn, err := lambda.CompileN("folderfilter", src, 2)
		if err != nil {
			b.errorf(o.line, "[mbnames] %v", err)
		} else {
			m.FolderFilter = fn
		}
	}
	if src, o, ok := v.value("sort_keyfunc"); ok && sec.byKey["sort_keyfunc"] == o {
		fn, err := lambda.Compile("sort_keyfunc", src)
		if err != nil {
			b.errorf(o.line, "[mbnames] %v", err)
		} else {
			m.SortKey = fn
		}
	}
}

// checkPerItem accepts what Python's "%" with a dict of the three names
// formats: %(accountname)s, %(foldername)s, %(localfolders)s and %%.
func checkPerItem(s string) error {
	_, err := FormatPerItem(s, map[string]string{"accountname": "", "foldername": "", "localfolders": ""})
	return err
}

// FormatPerItem formats peritem as Python's `peritem % d` does for the
// conversions people use: %(name)s (and %(name)r, quoted), %%.
func FormatPerItem(format string, d map[string]string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			out.WriteByte(c)
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			out.WriteByte('%')
			i++
			continue
		}
		if i+1 >= len(format) || format[i+1] != '(' {
			return "", fmt.Errorf("a %% must be followed by (name)s or %%; write %%%% for a literal %%")
		}
		end := strings.IndexByte(format[i+2:], ')')
		if end < 0 {
			return "", fmt.Errorf("%%( without a closing )")
		}
		name := format[i+2 : i+2+end]
		j := i + 2 + end + 1
		if j >= len(format) || (format[j] != 's' && format[j] != 'r') {
			return "", fmt.Errorf("%%(%s) must be followed by s", name)
		}
		val, ok := d[name]
		if !ok {
			return "", fmt.Errorf("unknown name %%(%s)s; use accountname, foldername or localfolders", name)
		}
		if format[j] == 'r' {
			val = pythonRepr(val)
		}
		out.WriteString(val)
		i = j
	}
	return out.String(), nil
}

// pythonRepr is Python's repr of a str, for the plain text folder names
// have: single quotes unless the text holds one and no double quote.
func pythonRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case byte(r) == q && r < 128:
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
