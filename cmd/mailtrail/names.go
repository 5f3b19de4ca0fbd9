package main

import (
	"context"
	"strings"

	"mailtrail/adapters"
	"mailtrail/adapters/imap"
	"mailtrail/adapters/maildir"
	"mailtrail/config"
	"mailtrail/foldernames"
	"mailtrail/internal/utf7"
	"mailtrail/takeover"
)

// folderNames is one account's folder-name translation (nametrans), or
// nil when neither repository sets one: the engine's folder names are then
// the canonical names both sides share.
type folderNames struct {
	m *foldernames.Mapper
}

// newFolderNames returns nil when the names need no translation. local
// lists the existing local folders (canonical), for the guard against a
// change of utf8foldernames; nil skips it.
func newFolderNames(ctx context.Context, acct *config.Account, remote *imap.Store, local []string) *folderNames {
	rr, lr := acct.Remote, acct.Local
	m := &foldernames.Mapper{
		UTF7: !acct.Extra.UTF8FolderNames,
		RemoteDelim: func() (byte, error) {
			if remote == nil {
				return '/', nil
			}
			d, err := remote.Delimiter(ctx)
			if err != nil || d == 0 || d > 127 {
				return 0, err
			}
			return byte(d), nil
		},
		LocalSep: lr.Sep[0],
	}
	if rr.NameTrans != nil {
		m.Remote = rr.NameTrans.CallString
	}
	if lr.NameTrans != nil {
		m.Local = lr.NameTrans.CallString
	}
	guard := false
	if local != nil {
		exists := map[string]bool{}
		for _, l := range local {
			exists[l] = true
			// A name that reads differently in the other naming: UTF-8
			// text, or an encoded modified UTF-7 sequence.
			if dec, err := utf7.Decode(l); err != nil || dec != l {
				guard = true
			}
		}
		m.LocalExists = func(l string) bool { return exists[l] }
	}
	if m.Identity() && !guard {
		return nil
	}
	return &folderNames{m: m}
}

// wrap returns the server store under the engine's folder names; wanted
// (the remote folderfilter, on canonical server names) leaves filtered
// server folders out before their translation is checked.
func (n *folderNames) wrap(remote adapters.Remote, wanted func(string) bool) adapters.Remote {
	if n == nil {
		return remote
	}
	return &foldernames.Remote{Inner: remote, Mapper: n.m, Wanted: wanted}
}

// serverName is the canonical server name of an engine folder name.
func (n *folderNames) serverName(name string) (string, error) {
	if n == nil {
		return name, nil
	}
	return n.m.RemoteOf(name)
}

// statusFileName is OfflineIMAP's LocalStatus file of an engine folder:
// the server folder's translated name, which is the local folder's name,
// with '.' between levels.
func (n *folderNames) statusFileName(name string) string {
	return takeover.BaseName(name)
}

// validityFileName is OfflineIMAP's FolderValidity file of the server
// folder of an engine folder: its untranslated name.
func (n *folderNames) validityFileName(name string) string {
	server, err := n.serverName(name)
	if err != nil {
		return takeover.BaseName(name)
	}
	if n != nil && n.m.UTF7 {
		server = utf7.Encode(server)
	}
	return takeover.BaseName(server)
}

// localVisibleName is the local nametrans applied to a local folder name
// (with the Maildir's sep): OfflineIMAP takes the FMD5 of file names from
// it. Nil without a local nametrans.
func localVisibleName(lr *config.Repository) func(string) string {
	if lr.NameTrans == nil {
		return nil
	}
	return func(local string) string {
		v, err := lr.NameTrans.CallString(local)
		if err != nil {
			return local
		}
		return v
	}
}

// inFolderIncludes reports whether a canonical server name is one of the
// remote repository's folderincludes (written with the server's
// delimiter).
func inFolderIncludes(rr *config.Repository, serverForm string) bool {
	for _, f := range rr.Extra.FolderIncludes {
		if strings.TrimSpace(f) == serverForm {
			return true
		}
	}
	return false
}

// serverForm writes a canonical server name with the server's delimiter.
func serverForm(ctx context.Context, remote *imap.Store, canonical string) (string, error) {
	d, err := remote.Delimiter(ctx)
	if err != nil {
		return "", err
	}
	if d != 0 && d != '/' {
		return strings.ReplaceAll(canonical, "/", string(d)), nil
	}
	return canonical, nil
}

// remoteFilter is the remote repository's folderfilter, or its
// folderincludes, on a canonical server name: OfflineIMAP syncs a folder
// that either accepts. It sees the name with the server's delimiter, in
// modified UTF-7 unless utf8foldernames is set, as OfflineIMAP shows it.
func remoteFilter(ctx context.Context, rr *config.Repository, remote *imap.Store, names *folderNames, server string) (bool, error) {
	if names != nil && names.m.UTF7 {
		server = utf7.Encode(server)
	}
	name, err := serverForm(ctx, remote, server)
	if err != nil {
		return false, err
	}
	if inFolderIncludes(rr, name) || rr.FolderFilter == nil {
		return true, nil
	}
	return rr.FolderFilter.CallBool(name)
}

// remoteWanted is remoteFilter for the nametrans check, where a failing
// filter counts as wanted (the sync then reports the failure).
func remoteWanted(ctx context.Context, rr *config.Repository, remote *imap.Store, names *folderNames) func(string) bool {
	if rr.FolderFilter == nil {
		return nil
	}
	return func(server string) bool {
		ok, err := remoteFilter(ctx, rr, remote, names, server)
		return ok || err != nil
	}
}

// maildirOptions are the Maildir store's options from the account and its
// local repository.
func maildirOptions(acct *config.Account) maildir.Options {
	o := maildir.Options{
		FilenameUseMailTimestamp: acct.Local.Extra.FilenameUseMailTimestamp,
		VisibleName:              localVisibleName(acct.Local),
	}
	if acct.Extra.WindowsCompatible {
		o.InfoSep = '!'
	}
	// maxage, maxsize and startdate judge local messages by their files'
	// mtime and size: one stat per file.
	o.ScanSizes = acct.Extra.MaxSize > 0 || acct.Extra.MaxAgeDays > 0 || !acct.Extra.MaxAgeDate.IsZero() ||
		!acct.Local.Extra.StartDate.IsZero()
	return o
}

// folderArgs is -f: each name as given (the engine's, that is the local
// folder's, canonical name) and, as OfflineIMAP takes -f, the local name
// of the server folder so called (untranslated, decoded).
func (n *folderNames) folderArgs(folders []string) []string {
	if n == nil || len(folders) == 0 {
		return folders
	}
	out := make([]string, 0, 2*len(folders))
	for _, f := range folders {
		out = append(out, f)
		if local, err := n.m.LocalOf(f); err == nil && local != f {
			out = append(out, local)
		}
	}
	return out
}
