package takeover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
)

// Options says where OfflineIMAP's state is and how mailtrail's canonical
// folder names map to OfflineIMAP's file names.
type Options struct {
	Dir Dir
	// StatusName returns the base name of a folder's LocalStatus file;
	// default BaseName of the canonical name (right without nametrans).
	StatusName func(canonical string) string
	// ValidityName returns the base name of the server folder's
	// FolderValidity file; default BaseName of the canonical name.
	ValidityName func(canonical string) string
	// DryRun finds what would be adopted and writes nothing.
	DryRun bool
}

// Folder is what was (or would be) adopted for one folder, or why not.
type Folder struct {
	Name        string // canonical
	Source      string // the status file read
	Backend     Backend
	UIDValidity uint32
	// Rows is the number of status rows adopted; WithFile of them name a
	// local file found by its ",U=" (the others were deleted locally since
	// OfflineIMAP's last sync, and mailtrail will propagate that).
	Rows, WithFile int
	// Skipped, when not empty, says why nothing was adopted.
	Skipped string
}

// Result is the outcome for one account.
type Result struct {
	// NotFirstRun is set when the journal has recorded a run already: the
	// OfflineIMAP state is then older than mailtrail's and is never read.
	NotFirstRun bool
	Folders     []Folder
}

// Adopted counts the folders adopted.
func (r Result) Adopted() int {
	n := 0
	for _, f := range r.Folders {
		if f.Skipped == "" {
			n++
		}
	}
	return n
}

// Adopt copies OfflineIMAP's status into the journal for every local
// folder that mailtrail has no status for, before mailtrail's first run on
// the account. Each folder is one durable checkpoint (its rows and its
// UIDVALIDITY), so an interrupted adoption is finished by the next run.
//
// A row keeps the key of the local file carrying its UID (",U=" with this
// folder's FMD5), or none when the file is gone: the planner then sees a
// message deleted locally since the last sync, as OfflineIMAP would.
//
// Why only before the first run: once mailtrail has synced, OfflineIMAP's
// files are stale; adopting them later (for a folder whose status mailtrail
// cleared, say) would read every message fetched since as deleted.
func Adopt(ctx context.Context, j *journal.Store, local adapters.Local, opt Options) (Result, error) {
	var res Result
	if opt.StatusName == nil {
		opt.StatusName = BaseName
	}
	if opt.ValidityName == nil {
		opt.ValidityName = BaseName
	}
	runs, err := j.Runs()
	if err != nil {
		return res, fmt.Errorf("takeover: %w", err)
	}
	if len(runs) > 0 {
		res.NotFirstRun = true
		return res, nil
	}
	if !opt.Dir.Exists() {
		return res, nil
	}
	names, err := local.ListFolders(ctx)
	if err != nil {
		return res, fmt.Errorf("takeover: list local folders: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		f, rows, err := adoptFolder(ctx, j, local, opt, name)
		if err != nil {
			return res, fmt.Errorf("takeover of folder %s: %w", name, err)
		}
		if f == nil {
			continue
		}
		if f.Skipped == "" && !opt.DryRun {
			cp := journal.Checkpoint{Upsert: rows, Folders: []journal.FolderMeta{{Name: name, UIDValidity: f.UIDValidity}}}
			if err := j.Checkpoint(cp); err != nil {
				return res, fmt.Errorf("takeover of folder %s: %w", name, err)
			}
		}
		res.Folders = append(res.Folders, *f)
	}
	return res, nil
}

// adoptFolder reads one folder; nil when OfflineIMAP has no status for it
// or mailtrail already has one.
func adoptFolder(ctx context.Context, j *journal.Store, local adapters.Local, opt Options, name string) (*Folder, []journal.FolderRow, error) {
	st, _, err := j.FolderStatus(name)
	if err != nil {
		return nil, nil, err
	}
	if st.UIDValidity != 0 || st.Rows.Len() > 0 {
		return nil, nil, nil
	}
	status, err := opt.Dir.ReadStatus(opt.StatusName(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	f := &Folder{Name: name}
	if err != nil {
		f.Skipped = "cannot read OfflineIMAP's status: " + err.Error()
		return f, nil, nil
	}
	f.Source, f.Backend = status.Path, status.Backend
	uv, err := opt.Dir.ReadValidity(opt.ValidityName(name))
	if err != nil {
		f.Skipped = "OfflineIMAP recorded no UIDVALIDITY for the server folder (" + err.Error() + "); its UIDs cannot be trusted"
		return f, nil, nil
	}
	f.UIDValidity = uv
	lf, err := local.OpenFolder(ctx, name)
	if errors.Is(err, adapters.ErrNoFolder) {
		f.Skipped = "the local folder is gone"
		return f, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	msgs, err := lf.Scan(ctx)
	if err != nil {
		return nil, nil, err
	}
	fmd5 := lf.FMD5()
	byUID := map[uint32]model.LocalMsg{}
	foreign := 0
	for _, m := range msgs {
		if m.FMD5 != "" && m.FMD5 != fmd5 {
			foreign++
			continue
		}
		if m.UID == 0 {
			continue
		}
		// Two files claiming one UID: the planner keeps the first key in
		// order, so the row must name that one.
		if prev, dup := byUID[m.UID]; dup && prev.Key < m.Key {
			continue
		}
		byUID[m.UID] = m
	}
	uids := make([]uint32, 0, len(status.Flags))
	for uid := range status.Flags {
		uids = append(uids, uid)
	}
	sort.Slice(uids, func(a, b int) bool { return uids[a] < uids[b] })
	rows := make([]journal.FolderRow, 0, len(uids))
	for _, uid := range uids {
		row := model.StatusRow{UID: uid, Flags: status.Flags[uid]}
		if m, ok := byUID[uid]; ok {
			row.Key = m.Key
			f.WithFile++
		}
		rows = append(rows, journal.FolderRow{Folder: name, Row: row})
	}
	f.Rows = len(rows)
	// Files tagged with another folder's FMD5 while status rows have no
	// file: mailtrail may compute this folder's tag differently from how
	// OfflineIMAP did (a nametrans that changed, say). Adopting would read
	// those messages as deleted locally; leave the folder to be paired by
	// what its files say.
	if foreign > 0 && f.WithFile < f.Rows {
		f.Skipped = fmt.Sprintf("%d files carry another folder's FMD5 and %d of OfflineIMAP's messages have no file with this folder's (%s); "+
			"adopting would treat them as deleted locally", foreign, f.Rows-f.WithFile, fmd5)
		return f, nil, nil
	}
	return f, rows, nil
}

// String describes the adoption of one folder on one line.
func (f Folder) String() string {
	if f.Skipped != "" {
		return fmt.Sprintf("%s: not adopted: %s", f.Name, f.Skipped)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d messages (UIDVALIDITY %d) from %s", f.Name, f.Rows, f.UIDValidity, f.Source)
	if gone := f.Rows - f.WithFile; gone > 0 {
		fmt.Fprintf(&b, "; %d deleted locally since OfflineIMAP's last sync (they will be expunged on the server)", gone)
	}
	return b.String()
}
