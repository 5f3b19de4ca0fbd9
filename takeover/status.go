// Package takeover reads what OfflineIMAP knows about an account (its
// LocalStatus per folder and the UIDVALIDITY it recorded per server folder)
// and adopts it into mailtrail's journal, so that the first mailtrail sync
// of a Maildir that OfflineIMAP wrote downloads nothing, uploads nothing and
// deletes nothing.
//
// OfflineIMAP's metadata directory (general.metadata, default
// ~/.offlineimap) holds, for an account A whose remote repository is R:
//
//	Account-A/LocalStatus-sqlite/<folder>   SQLite: table status(id, flags, mtime, labels)
//	Account-A/LocalStatus/<folder>          the older plain-text format
//	Repository-R/FolderValidity/<folder>    the folder's UIDVALIDITY, one decimal line
//
// <folder> is the server folder's visible name (after the remote nametrans)
// with the server's hierarchy delimiter and every '/' written as '.'. This
// package only reads these files; it never writes under OfflineIMAP's
// directory.
package takeover

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // pure Go: CGO_ENABLED=0 builds keep working

	"mailtrail/model"
)

// Backend names the format a folder's status was read from.
type Backend string

// The two LocalStatus formats of OfflineIMAP.
const (
	SQLite Backend = "sqlite"
	Plain  Backend = "plain"
)

// Status is OfflineIMAP's memory of one folder: for every UID, the flags
// both sides had after its last sync of the folder.
type Status struct {
	Path    string // the file it was read from
	Backend Backend
	Flags   map[uint32]model.Flags
}

// Dir is one account's view of an OfflineIMAP metadata directory.
type Dir struct {
	// Metadata is OfflineIMAP's metadata directory (~ expanded).
	Metadata string
	// Account is the account name (Account-<name>).
	Account string
	// RemoteRepository is the name of the account's remote repository
	// (Repository-<name>/FolderValidity).
	RemoteRepository string
}

// AccountDir is Account-<name> under the metadata directory.
func (d Dir) AccountDir() string { return filepath.Join(d.Metadata, "Account-"+d.Account) }

// ValidityDir is Repository-<remote>/FolderValidity.
func (d Dir) ValidityDir() string {
	return filepath.Join(d.Metadata, "Repository-"+d.RemoteRepository, "FolderValidity")
}

// Exists reports whether OfflineIMAP has kept any status for the account.
func (d Dir) Exists() bool {
	for _, sub := range []string{"LocalStatus-sqlite", "LocalStatus"} {
		if st, err := os.Stat(filepath.Join(d.AccountDir(), sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

var dotOnly = regexp.MustCompile(`(^|/)\.$`)

// BaseName is the file name OfflineIMAP gives a folder's status and
// validity files: the name with every '/' written as '.', and a name that
// is then "." written "dot" (OfflineIMAP's getfolderbasename).
func BaseName(name string) string {
	if name == "" {
		return "."
	}
	return dotOnly.ReplaceAllString(strings.ReplaceAll(name, "/", "."), "${1}dot")
}

// ReadStatus reads the status of the folder whose status file is called
// base (see BaseName). The SQLite file wins when both exist, as in
// OfflineIMAP 7 and later. It returns fs.ErrNotExist (wrapped) when
// OfflineIMAP has no status for the folder.
func (d Dir) ReadStatus(base string) (Status, error) {
	if base == "" || strings.ContainsAny(base, "/\x00") || base == "." || base == ".." {
		return Status{}, fmt.Errorf("offlineimap status: bad folder file name %q", base)
	}
	sqlitePath := filepath.Join(d.AccountDir(), "LocalStatus-sqlite", base)
	if st, err := os.Stat(sqlitePath); err == nil && st.Mode().IsRegular() {
		return readSQLite(sqlitePath)
	}
	plainPath := filepath.Join(d.AccountDir(), "LocalStatus", base)
	if st, err := os.Stat(plainPath); err == nil && st.Mode().IsRegular() {
		return readPlain(plainPath)
	}
	return Status{}, fmt.Errorf("offlineimap status for %q: %w", base, fs.ErrNotExist)
}

// ReadValidity reads the UIDVALIDITY OfflineIMAP recorded for the server
// folder whose file is called base; fs.ErrNotExist (wrapped) when there is
// none.
func (d Dir) ReadValidity(base string) (uint32, error) {
	path := filepath.Join(d.ValidityDir(), base)
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("offlineimap folder validity: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return 0, fmt.Errorf("offlineimap folder validity %s: empty file", path)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(line), 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("offlineimap folder validity %s: %q is not a UIDVALIDITY", path, strings.TrimSpace(line))
	}
	return uint32(v), nil
}

// StatusFiles lists the base names of every folder status file, from both
// formats, sorted and without duplicates.
func (d Dir) StatusFiles() ([]string, error) {
	seen := map[string]bool{}
	for _, sub := range []string{"LocalStatus-sqlite", "LocalStatus"} {
		ents, err := os.ReadDir(filepath.Join(d.AccountDir(), sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			n := e.Name()
			// OfflineIMAP's own temporary and journal files.
			if !e.Type().IsRegular() || strings.HasSuffix(n, ".tmp") || strings.HasSuffix(n, "-journal") || strings.HasSuffix(n, "-wal") || strings.HasSuffix(n, "-shm") {
				continue
			}
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func readSQLite(path string) (Status, error) {
	st := Status{Path: path, Backend: SQLite, Flags: map[uint32]model.Flags{}}
	// Read-only, through a URI so that no name character is taken for an
	// option; a database OfflineIMAP is writing right now is locked, and
	// the read then fails instead of seeing half a transaction.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?mode=ro&_pragma=busy_timeout(2000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return Status{}, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	defer db.Close()
	var version string
	if err := db.QueryRow(`SELECT value FROM metadata WHERE key='db_version'`).Scan(&version); err != nil {
		return Status{}, fmt.Errorf("offlineimap status %s: not an OfflineIMAP status database: %w", path, err)
	}
	if version != "1" && version != "2" {
		return Status{}, fmt.Errorf("offlineimap status %s: database version %s; mailtrail reads versions 1 and 2", path, version)
	}
	rows, err := db.Query(`SELECT id, flags FROM status`)
	if err != nil {
		return Status{}, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var flags sql.NullString
		if err := rows.Scan(&id, &flags); err != nil {
			return Status{}, fmt.Errorf("offlineimap status %s: %w", path, err)
		}
		if id <= 0 || id > 1<<32-1 {
			return Status{}, fmt.Errorf("offlineimap status %s: UID %d out of range", path, id)
		}
		f, _ := model.ParseMaildir(flags.String)
		st.Flags[uint32(id)] = f
	}
	if err := rows.Err(); err != nil {
		return Status{}, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	return st, nil
}

const plainMagic = "OFFLINEIMAP LocalStatus CACHE DATA - DO NOT MODIFY - FORMAT "

func readPlain(path string) (Status, error) {
	st := Status{Path: path, Backend: Plain, Flags: map[uint32]model.Flags{}}
	f, err := os.Open(path)
	if err != nil {
		return Status{}, fmt.Errorf("offlineimap status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return Status{}, fmt.Errorf("offlineimap status %s: empty file", path)
	}
	head := strings.TrimSpace(sc.Text())
	var format int
	switch head {
	case plainMagic + "1":
		format = 1
	case plainMagic + "2":
		format = 2
	default:
		return Status{}, fmt.Errorf("offlineimap status %s: first line %q is not OfflineIMAP's status header", path, head)
	}
	n := 1
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var uidStr, flags string
		var ok bool
		if format == 1 {
			uidStr, flags, ok = strings.Cut(line, ":")
		} else {
			parts := strings.Split(line, "|")
			ok = len(parts) == 4
			if ok {
				uidStr, flags = parts[0], parts[1]
			}
		}
		uid, err := strconv.ParseUint(uidStr, 10, 32)
		if !ok || err != nil || uid == 0 {
			return Status{}, fmt.Errorf("offlineimap status %s:%d: corrupt line %q", path, n, line)
		}
		fl, _ := model.ParseMaildir(flags)
		st.Flags[uint32(uid)] = fl
	}
	if err := sc.Err(); err != nil {
		return Status{}, fmt.Errorf("offlineimap status %s: %w", path, err)
	}
	return st, nil
}
