package imap

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/model"
)

var _ adapters.ListOpener = (*Store)(nil)

// ListFoldersOpening implements adapters.ListOpener: ListFolders'
// LIST-STATUS with the folder's SELECT (EXAMINE when readOnly) with
// CONDSTORE and ListChanges' two commands written right behind it, on the
// same connection: the listing and the open in one round trip, where
// ListFolders then OpenWithChanges take two. The server carries out the
// LIST before the SELECT (RFC 3501, 5.5), as it would have a moment later.
//
// The folder's name on the server depends on the hierarchy delimiter,
// which the listing teaches: before the store knows it, the delimiter an
// earlier run learned names the folder (HintDelimiter); without one, a
// name holding '/', '.' or '\' (a level, or what might be one) is not
// opened with the listing. The name the folder was opened under is
// checked against the delimiter the listing showed (a name holding the
// delimiter cannot be a folder's): if they differ, the folder is closed
// again and not returned. A server without CONDSTORE or LIST-STATUS,
// since 0, or a narrowed listing (Config.Reference, SubscribedOnly),
// whose second LIST comes after the first's answer, get ListFolders
// alone; Opened.Err then wraps adapters.ErrUnsupported.
func (s *Store) ListFoldersOpening(ctx context.Context, name string, readOnly bool, since uint64) ([]model.RemoteFolderStatus, adapters.Opened, error) {
	if err := s.checkListable(); err != nil {
		return nil, adapters.Opened{}, err
	}
	server, why := s.serverNameBeforeListing(name)
	if why == nil && (since == 0 || !s.looksWithListing()) {
		why = fmt.Errorf("%s: folder %q: not opened with the listing: %w", s.name, name, adapters.ErrUnsupported)
	}
	if why != nil {
		list, err := s.ListFolders(ctx)
		return list, adapters.Opened{Err: why}, err
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, adapters.Opened{}, err
	}
	f := &Folder{store: s, conn: c, name: name, server: server, readOnly: readOnly}
	command, opts := f.selectRequest()
	var (
		data    *imap.SelectData
		selErr  error
		uids    []uint32
		listErr error
	)
	byUID := map[uint32]model.RemoteMsg{}
	list, err := s.listOn(ctx, c, &sentBehind{
		command: command + " + " + changesCommand(since),
		send: func() func() {
			sel := c.client.Select(server, opts)
			sent := sendChanges(c, since)
			return func() {
				// The SELECT keeps its answers while the listing's
				// commands are read (as OpenWithChanges reads them).
				uids, listErr = sent.wait(byUID)
				data, selErr = sel.Wait()
			}
		},
	})
	if err != nil {
		if c.broken == nil && selErr == nil {
			s.unselectUnawaited(c) // the listing refused, the folder selected
		}
		s.release(c)
		return nil, adapters.Opened{}, err
	}
	if selErr != nil {
		// A failed SELECT leaves no folder selected (RFC 3501, 6.3.1).
		s.release(c)
		return list, adapters.Opened{Err: f.errorf(command, noFolder(selErr))}, nil
	}
	if d, ok := s.KnownDelimiter(); !ok || !sameServerName(name, d, server) {
		s.unselectUnawaited(c)
		s.release(c)
		return list, adapters.Opened{Err: fmt.Errorf("%s: folder %q: opened with the listing as %q, which the server's hierarchy delimiter does not confirm: %w",
			s.name, name, server, adapters.ErrUnsupported)}, nil
	}
	f.status = selectedStatus(name, data)
	s.keep(f)
	changes, err := f.changesListed(ctx, since, uids, byUID, listErr)
	if err != nil {
		return list, adapters.Opened{Err: err}, nil
	}
	return list, adapters.Opened{Folder: f, Changes: changes}, nil
}

// looksWithListing reports whether folders can be looked at with the
// listing's round trip: the server keeps modification sequences and
// answers LIST with the folders' status, and one LIST lists them all (a
// narrowed listing's second LIST comes after the first's answer).
func (s *Store) looksWithListing() bool {
	return s.hasCondStore() && s.has(imap.CapListStatus) && !s.narrowed()
}

// serverNameBeforeListing is the server's name for the canonical name
// before the listing: with the delimiter known, or hinted
// (HintDelimiter; the listing checks it), or for a name that holds none of
// the characters servers use as one. Otherwise an error wrapping
// adapters.ErrUnsupported.
func (s *Store) serverNameBeforeListing(name string) (string, error) {
	d, ok := s.KnownDelimiter()
	if !ok {
		s.delimMu.Lock()
		d, ok = s.delimHint, s.delimHinted
		s.delimMu.Unlock()
	}
	if ok {
		server, err := toServerName(name, d)
		if err != nil {
			return "", fmt.Errorf("%s: %w: %w", s.name, err, adapters.ErrUnsupported)
		}
		return server, nil
	}
	if name == "" || strings.ContainsAny(name, `/.\`) {
		return "", fmt.Errorf("%s: folder %q: its name on the server depends on the hierarchy delimiter, not known before the listing: %w",
			s.name, name, adapters.ErrUnsupported)
	}
	return name, nil
}

// sameServerName reports whether the canonical name is server with the
// delimiter d.
func sameServerName(name string, d rune, server string) bool {
	want, err := toServerName(name, d)
	return err == nil && want == server
}

var _ adapters.ListSurveyor = (*Store)(nil)

// ListFoldersSurveying implements adapters.ListSurveyor: ListFolders'
// LIST-STATUS with SurveyChanges' commands for every folder written right
// behind it, on the same connection (one round trip for the listing and
// the survey, where ListFolders then SurveyChanges take two); the server
// carries out the LIST before the EXAMINEs (RFC 3501, 5.5). The folders
// are named as ListFoldersOpening names its folder, and checked against
// the listing the same way; a folder that cannot be named before the
// listing is not surveyed (its Err wraps adapters.ErrUnsupported). Where
// ListFoldersOpening lists alone, so does this, every survey's Err
// wrapping adapters.ErrUnsupported. The connection is left with UNSELECT,
// not waited for.
func (s *Store) ListFoldersSurveying(ctx context.Context, reqs []adapters.ChangeRequest) ([]model.RemoteFolderStatus, []adapters.ChangeSurvey, error) {
	if err := s.checkListable(); err != nil {
		return nil, nil, err
	}
	out := make([]adapters.ChangeSurvey, len(reqs))
	servers := make([]string, len(reqs))
	var names []string
	for i, r := range reqs {
		server, err := s.serverNameBeforeListing(r.Name)
		if err == nil && (!s.looksWithListing() || len(names) >= surveyMost) {
			err = fmt.Errorf("%s: folder %q: not surveyed with the listing: %w", s.name, r.Name, adapters.ErrUnsupported)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		servers[i] = server
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		list, err := s.ListFolders(ctx)
		return list, out, err
	}
	c, err := s.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	command := surveyCommand(names)
	var (
		answers []folderAnswer
		lost    error
	)
	list, err := s.listOn(ctx, c, &sentBehind{
		command: command,
		send: func() func() {
			wait := sendSurvey(c, servers, reqs)
			return func() { answers, lost = wait() }
		},
	})
	if err != nil {
		if c.broken == nil {
			s.unselectUnawaited(c)
		}
		s.release(c)
		return nil, nil, err
	}
	if lost == nil {
		s.unselectUnawaited(c)
	} else {
		c.markBroken(lost)
	}
	s.release(c)
	d, known := s.KnownDelimiter()
	for i, r := range reqs {
		if servers[i] != "" && (!known || !sameServerName(r.Name, d, servers[i])) {
			out[i].Err = fmt.Errorf("%s: folder %q: surveyed with the listing as %q, which the server's hierarchy delimiter does not confirm: %w",
				s.name, r.Name, servers[i], adapters.ErrUnsupported)
		}
	}
	s.surveyed(reqs, answers, lost, command, out)
	return list, out, nil
}
