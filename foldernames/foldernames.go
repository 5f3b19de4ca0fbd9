// Package foldernames applies OfflineIMAP's nametrans to folder names.
//
// OfflineIMAP pairs a server folder r with the local folder named
// remote_nametrans(r) (the server's delimiter written as the Maildir's
// sep), and a local folder l with the server folder named
// local_nametrans(l). mailtrail's engine works on one name per folder
// pair; with nametrans that name is the local folder's canonical name, and
// Remote translates the server's names into it and back.
//
// The two translations must be inverse on every folder that exists: a
// server folder whose local name translates back to another server name
// would be created again on every run (OfflineIMAP's "INFINITE FOLDER
// CREATION DETECTED"), and two server folders with one local name would
// mix their messages. Remote.ListFolders refuses both before anything is
// synced.
package foldernames

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"mailtrail/adapters"
	"mailtrail/internal/utf7"
	"mailtrail/model"
)

// Trans is one repository's nametrans, called with a folder name in that
// repository's own form (the server's delimiter, or the Maildir's sep).
type Trans func(name string) (string, error)

// Mapper translates canonical names ('/' between levels) between the two
// sides.
type Mapper struct {
	// RemoteDelim returns the server's hierarchy delimiter (0 for a flat
	// server); it is known only once connected, and asking for it may
	// ask the server.
	RemoteDelim func() (byte, error)
	// LocalSep is the Maildir's sep.
	LocalSep byte
	// Remote and Local are the repositories' nametrans; nil is identity.
	Remote, Local Trans
	// UTF7 is set without the account's utf8foldernames: local folders
	// are named, and nametrans sees names, in the server's modified UTF-7
	// ("Entw&APw-rfe"), as OfflineIMAP does; mailtrail's server names are
	// decoded ("Entwürfe").
	UTF7 bool
	// LocalExists, when set, tells whether a local folder (canonical name)
	// exists. It guards against a change of utf8foldernames: a server
	// folder whose local folder exists under the other naming is refused,
	// not downloaded a second time beside it.
	LocalExists func(local string) bool
}

func swap(name string, from, to byte) string {
	if from == 0 || from == to {
		return name
	}
	return strings.ReplaceAll(name, string(from), string(to))
}

// LocalOf returns the canonical local name of the server folder whose
// canonical name is remote.
func (m *Mapper) LocalOf(remote string) (string, error) {
	if err := m.checkNaming(remote); err != nil {
		return "", err
	}
	if m.UTF7 {
		remote = utf7.Encode(remote)
	}
	if m.Remote == nil {
		return remote, nil
	}
	d, err := m.delim()
	if err != nil {
		return "", err
	}
	out, err := m.Remote(swap(remote, '/', d))
	if err != nil {
		return "", err
	}
	if out == "" {
		return "", fmt.Errorf("remote nametrans turns %q into an empty name", swap(remote, '/', d))
	}
	return swap(out, d, '/'), nil
}

// checkNaming refuses a server folder whose local folder exists only
// under the other utf8foldernames naming (without nametrans, where the two
// namings are known).
func (m *Mapper) checkNaming(remote string) error {
	if m.LocalExists == nil || m.Remote != nil {
		return nil
	}
	enc := utf7.Encode(remote)
	if enc == remote {
		return nil
	}
	mine, other, setting := remote, enc, "yes"
	if m.UTF7 {
		mine, other, setting = enc, remote, "no"
	}
	if m.LocalExists(other) && !m.LocalExists(mine) {
		return fmt.Errorf("the server folder %q is the local folder %q with utf8foldernames = %s, but the Maildir has it as %q, "+
			"the other naming: syncing would copy every message a second time; change utf8foldernames back, or rename the local folder to %q",
			remote, mine, setting, other, mine)
	}
	return nil
}

// RemoteOf returns the canonical server name of the local folder whose
// canonical name is local.
func (m *Mapper) RemoteOf(local string) (string, error) {
	out := local
	if m.Local != nil {
		sep := m.LocalSep
		if sep == 0 {
			sep = '.'
		}
		var err error
		out, err = m.Local(swap(local, '/', sep))
		if err != nil {
			return "", err
		}
		if out == "" {
			return "", fmt.Errorf("local nametrans turns %q into an empty name", swap(local, '/', sep))
		}
		out = swap(out, sep, '/')
	}
	if m.UTF7 {
		dec, err := utf7.Decode(out)
		if err != nil {
			return "", fmt.Errorf("the local folder %q is not named in IMAP's modified UTF-7 (%q), as OfflineIMAP and "+
				"mailtrail name local folders unless the account sets utf8foldernames = yes; set it, or rename the folder",
				out, utf7.Encode(out))
		}
		out = dec
	}
	return out, nil
}

func (m *Mapper) delim() (byte, error) {
	if m.RemoteDelim == nil {
		return '/', nil
	}
	return m.RemoteDelim()
}

// Identity reports whether no translation is configured.
func (m *Mapper) Identity() bool { return m == nil || (m.Remote == nil && m.Local == nil && !m.UTF7) }

// CheckRemote verifies that the server folder remote comes back to itself
// through its local name; it returns the local name.
func (m *Mapper) CheckRemote(remote string) (string, error) {
	local, err := m.LocalOf(remote)
	if err != nil {
		return "", err
	}
	back, err := m.RemoteOf(local)
	if err != nil {
		return "", err
	}
	if back != remote {
		return "", fmt.Errorf("nametrans is not inverse: the server folder %q becomes the local folder %q, "+
			"which translates back to the server folder %q; set nametrans on both repositories so that each "+
			"undoes the other, or exclude the folder with folderfilter", remote, local, back)
	}
	return local, nil
}

// CheckLocal verifies that the local folder local comes back to itself
// through its server name; it returns the server name.
func (m *Mapper) CheckLocal(local string) (string, error) {
	remote, err := m.RemoteOf(local)
	if err != nil {
		return "", err
	}
	back, err := m.LocalOf(remote)
	if err != nil {
		return "", err
	}
	if back != local {
		return "", fmt.Errorf("nametrans is not inverse: the local folder %q becomes the server folder %q, "+
			"which translates back to the local folder %q (OfflineIMAP calls this infinite folder creation); "+
			"set nametrans on both repositories so that each undoes the other, or exclude the folder with folderfilter",
			local, remote, back)
	}
	return remote, nil
}

// Remote is an adapters.Remote whose folder names are the local canonical
// names of Mapper.
type Remote struct {
	Inner  adapters.Remote
	Mapper *Mapper
	// Wanted, when set, says whether a server folder (canonical server
	// name) is synced at all (the remote folderfilter); the others are
	// left out of the listing and their translation is not checked.
	Wanted func(remote string) bool

	mu       sync.Mutex
	toRemote map[string]string
}

var _ adapters.Remote = (*Remote)(nil)

// ListFolders lists the server's folders under their local names. It fails
// when two server folders translate to one local name, or when a
// translation does not come back to the server name.
func (r *Remote) ListFolders(ctx context.Context) ([]model.RemoteFolderStatus, error) {
	list, err := r.Inner.ListFolders(ctx)
	if err != nil {
		return nil, err
	}
	return r.translate(list)
}

var _ adapters.ListOpener = (*Remote)(nil)

// ListFoldersOpening lists as ListFolders does, with the server folder
// that local translates to opened with the listing when the inner store
// can (Opened.Err wrapping adapters.ErrUnsupported otherwise). The server
// name is local's translation (Mapper.RemoteOf), which needs nothing from
// the server; a folder that the listing does not pair with local under
// that name (another translation, or the folder filtered out) is closed
// again and not returned.
func (r *Remote) ListFoldersOpening(ctx context.Context, local string, readOnly bool, since uint64) ([]model.RemoteFolderStatus, adapters.Opened, error) {
	lo, ok := r.Inner.(adapters.ListOpener)
	name, err := r.Mapper.RemoteOf(local)
	if !ok || err != nil {
		if err == nil {
			err = fmt.Errorf("open %s with the listing: %w", local, adapters.ErrUnsupported)
		}
		list, lerr := r.ListFolders(ctx)
		return list, adapters.Opened{Err: err}, lerr
	}
	inner, opened, err := lo.ListFoldersOpening(ctx, name, readOnly, since)
	var list []model.RemoteFolderStatus
	if err == nil {
		list, err = r.translate(inner)
	}
	if err != nil {
		if opened.Folder != nil {
			opened.Folder.Close()
		}
		return nil, adapters.Opened{}, err
	}
	if opened.Folder != nil {
		if err := r.pairedWith(local, name); err != nil {
			opened.Folder.Close()
			opened = adapters.Opened{Err: fmt.Errorf("open %s with the listing: %w", local, err)}
		}
	}
	return list, opened, nil
}

// pairedWith is nil when the last listing paired the local name with the
// server name, else an error wrapping adapters.ErrUnsupported.
func (r *Remote) pairedWith(local, server string) error {
	r.mu.Lock()
	listed, ok := r.toRemote[local]
	r.mu.Unlock()
	if !ok || listed != server {
		return fmt.Errorf("the listing pairs it with %q, not %q: %w", listed, server, adapters.ErrUnsupported)
	}
	return nil
}

var _ adapters.ListSurveyor = (*Remote)(nil)

// ListFoldersSurveying lists as ListFolders does, with the server folders
// the local names translate to surveyed with the listing when the inner
// store can (each survey's Err wrapping adapters.ErrUnsupported
// otherwise). The server names are the local names' translations
// (Mapper.RemoteOf); a survey of a folder that the listing does not pair
// with its local name under that name is an Err wrapping
// adapters.ErrUnsupported.
func (r *Remote) ListFoldersSurveying(ctx context.Context, reqs []adapters.ChangeRequest) ([]model.RemoteFolderStatus, []adapters.ChangeSurvey, error) {
	out := make([]adapters.ChangeSurvey, len(reqs))
	ls, ok := r.Inner.(adapters.ListSurveyor)
	var translated []adapters.ChangeRequest
	var at []int
	for i, q := range reqs {
		name, err := r.Mapper.RemoteOf(q.Name)
		if err == nil && !ok {
			err = fmt.Errorf("survey %s with the listing: %w", q.Name, adapters.ErrUnsupported)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		translated = append(translated, adapters.ChangeRequest{Name: name, Since: q.Since})
		at = append(at, i)
	}
	if len(translated) == 0 {
		list, err := r.ListFolders(ctx)
		return list, out, err
	}
	inner, surveys, err := ls.ListFoldersSurveying(ctx, translated)
	if err != nil {
		return nil, nil, err
	}
	list, err := r.translate(inner)
	if err != nil {
		return nil, nil, err
	}
	for k, sv := range surveys {
		local := reqs[at[k]].Name
		if sv.Err == nil {
			if err := r.pairedWith(local, translated[k].Name); err != nil {
				sv = adapters.ChangeSurvey{Err: fmt.Errorf("survey %s with the listing: %w", local, err)}
			}
		}
		out[at[k]] = sv
	}
	return list, out, nil
}

// translate is ListFolders' translation of the inner store's listing.
func (r *Remote) translate(list []model.RemoteFolderStatus) ([]model.RemoteFolderStatus, error) {
	byLocal := map[string]string{}
	out := make([]model.RemoteFolderStatus, 0, len(list))
	var problems []string
	for _, f := range list {
		if r.Wanted != nil && !r.Wanted(f.Name) {
			// Filtered out: never synced, created or deleted, and its
			// translation is not checked (OfflineIMAP checks only the
			// folders it syncs).
			continue
		}
		local, err := r.Mapper.CheckRemote(f.Name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if other, dup := byLocal[local]; dup {
			problems = append(problems, fmt.Sprintf("nametrans maps both server folders %q and %q to the local folder %q; "+
				"their messages would be mixed", other, f.Name, local))
			continue
		}
		byLocal[local] = f.Name
		f.Name = local
		out = append(out, f)
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("refusing to sync: %s", strings.Join(problems, "; "))
	}
	r.mu.Lock()
	r.toRemote = byLocal
	r.mu.Unlock()
	return out, nil
}

// remoteName is the server folder of a local name: the listed one, else
// the local translation (a folder about to be created).
func (r *Remote) remoteName(local string) (string, error) {
	r.mu.Lock()
	name, ok := r.toRemote[local]
	r.mu.Unlock()
	if ok {
		return name, nil
	}
	return r.Mapper.CheckLocal(local)
}

// CreateFolder creates the server folder that local translates to, after
// checking that it would come back as local.
func (r *Remote) CreateFolder(ctx context.Context, local string) error {
	name, err := r.remoteName(local)
	if err != nil {
		return err
	}
	if err := r.Inner.CreateFolder(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	if r.toRemote == nil {
		r.toRemote = map[string]string{}
	}
	r.toRemote[local] = name
	r.mu.Unlock()
	return nil
}

// SelectFolder selects the server folder of local. The folder is the
// inner store's own, unwrapped, so that the optional interfaces it
// implements (adapters.HeaderFetcher) stay visible; its Status().Name is
// the server's name.
func (r *Remote) SelectFolder(ctx context.Context, local string) (adapters.RemoteFolder, error) {
	name, err := r.remoteName(local)
	if err != nil {
		return nil, err
	}
	return r.Inner.SelectFolder(ctx, name)
}

var _ adapters.Examiner = (*Remote)(nil)

// ExamineFolder opens read-only the server folder that local translates
// to, when the inner store can (adapters.ErrUnsupported otherwise).
func (r *Remote) ExamineFolder(ctx context.Context, local string) (adapters.RemoteFolder, error) {
	e, ok := r.Inner.(adapters.Examiner)
	if !ok {
		return nil, fmt.Errorf("examine %s: %w", local, adapters.ErrUnsupported)
	}
	name, err := r.remoteName(local)
	if err != nil {
		return nil, err
	}
	return e.ExamineFolder(ctx, name)
}

var _ adapters.ChangeOpener = (*Remote)(nil)

// OpenWithChanges opens the server folder that local translates to with
// its changes since since listed, when the inner store can
// (adapters.ErrUnsupported otherwise).
func (r *Remote) OpenWithChanges(ctx context.Context, local string, readOnly bool, since uint64) (adapters.RemoteFolder, *adapters.Changes, error) {
	co, ok := r.Inner.(adapters.ChangeOpener)
	if !ok {
		return nil, nil, fmt.Errorf("open %s with its changes: %w", local, adapters.ErrUnsupported)
	}
	name, err := r.remoteName(local)
	if err != nil {
		return nil, nil, err
	}
	return co.OpenWithChanges(ctx, name, readOnly, since)
}

var _ adapters.ListingOpener = (*Remote)(nil)

// OpenListing opens and lists the server folder that local translates to,
// when the inner store can (adapters.ErrUnsupported otherwise).
func (r *Remote) OpenListing(ctx context.Context, local string, readOnly bool) (adapters.RemoteFolder, []model.RemoteMsg, error) {
	lo, ok := r.Inner.(adapters.ListingOpener)
	if !ok {
		return nil, nil, fmt.Errorf("open and list %s: %w", local, adapters.ErrUnsupported)
	}
	name, err := r.remoteName(local)
	if err != nil {
		return nil, nil, err
	}
	return lo.OpenListing(ctx, name, readOnly)
}

var _ adapters.ListedSelector = (*Remote)(nil)

// SelectListed opens the server folder that local translates to as
// adapters.ListedSelector says, when the inner store can
// (adapters.ErrUnsupported otherwise). The folder is the inner store's
// own, as with SelectFolder.
func (r *Remote) SelectListed(ctx context.Context, local string, listed model.RemoteFolderStatus) (adapters.RemoteFolder, error) {
	ls, ok := r.Inner.(adapters.ListedSelector)
	if !ok {
		return nil, fmt.Errorf("select %s: %w", local, adapters.ErrUnsupported)
	}
	name, err := r.remoteName(local)
	if err != nil {
		return nil, err
	}
	return ls.SelectListed(ctx, name, listed)
}

var _ adapters.Distancer = (*Remote)(nil)

// LinkDelay is the inner store's, 0 when it cannot tell.
func (r *Remote) LinkDelay() time.Duration {
	if d, ok := r.Inner.(adapters.Distancer); ok {
		return d.LinkDelay()
	}
	return 0
}

var _ adapters.Warmer = (*Remote)(nil)

// Warm opens connections of the inner store ahead of need, when it can.
func (r *Remote) Warm(n int) {
	if w, ok := r.Inner.(adapters.Warmer); ok {
		w.Warm(n)
	}
}

var _ adapters.ChangeSurveyor = (*Remote)(nil)

// SurveyChanges surveys the server folders the local names translate to,
// when the inner store can (each survey's error wraps
// adapters.ErrUnsupported otherwise). The statuses are the inner store's,
// as those of the folders OpenWithChanges opens.
func (r *Remote) SurveyChanges(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	cs, ok := r.Inner.(adapters.ChangeSurveyor)
	if !ok {
		return r.survey(reqs, nil)
	}
	return r.survey(reqs, func(inner []adapters.ChangeRequest) []adapters.ChangeSurvey { return cs.SurveyChanges(ctx, inner) })
}

var _ adapters.LastSurveyor = (*Remote)(nil)

// SurveyChangesLast is SurveyChanges with the inner store's
// SurveyChangesLast, or its SurveyChanges when it has only that.
func (r *Remote) SurveyChangesLast(ctx context.Context, reqs []adapters.ChangeRequest) []adapters.ChangeSurvey {
	if ls, ok := r.Inner.(adapters.LastSurveyor); ok {
		return r.survey(reqs, func(inner []adapters.ChangeRequest) []adapters.ChangeSurvey { return ls.SurveyChangesLast(ctx, inner) })
	}
	return r.SurveyChanges(ctx, reqs)
}

// survey translates the requests' names, has them surveyed by inner (nil:
// the inner store cannot survey) and puts the answers back in order.
func (r *Remote) survey(reqs []adapters.ChangeRequest, inner func([]adapters.ChangeRequest) []adapters.ChangeSurvey) []adapters.ChangeSurvey {
	out := make([]adapters.ChangeSurvey, len(reqs))
	if inner == nil {
		for i, q := range reqs {
			out[i].Err = fmt.Errorf("survey %s: %w", q.Name, adapters.ErrUnsupported)
		}
		return out
	}
	var translated []adapters.ChangeRequest
	var at []int
	for i, q := range reqs {
		name, err := r.remoteName(q.Name)
		if err != nil {
			out[i].Err = err
			continue
		}
		translated = append(translated, adapters.ChangeRequest{Name: name, Since: q.Since})
		at = append(at, i)
	}
	for k, sv := range inner(translated) {
		out[at[k]] = sv
	}
	return out
}

// Close closes the inner store.
func (r *Remote) Close() error { return r.Inner.Close() }
