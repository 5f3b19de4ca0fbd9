package imap

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// This file holds what OfflineIMAP's reference, subscribedonly and
// folderincludes change in the listing of folders (ListFolders in
// store.go) and in their creation.

// narrowed reports whether ListFolders lists fewer folders than the server
// has: under a reference, or only the subscribed ones.
func (s *Store) narrowed() bool { return s.cfg.Reference != "" || s.cfg.SubscribedOnly }

// included reports whether a server name (the server's delimiter, UTF-8)
// is one of Config.Include. INBOX is matched in any case, as IMAP does.
func (s *Store) included(server string) bool {
	for _, in := range s.cfg.Include {
		if in == server || (strings.EqualFold(in, "INBOX") && strings.EqualFold(server, "INBOX")) {
			return true
		}
	}
	return false
}

// Unlisted reports whether the last ListFolders found the folder (a
// canonical name) on the server but left it out: outside the reference,
// or not subscribed. Such a folder is not gone; a caller must neither
// create it again nor take its absence from the list as its deletion.
func (s *Store) Unlisted(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unlisted[name]
}

// underReference reports whether a server folder name is one that
// LIST "<reference>" "*" surely returns: the reference and then, unless it
// ends with one, the hierarchy delimiter, begin the name. (RFC 3501 leaves
// a reference that does not end with the delimiter to the server: some
// join it to the pattern as it is, others put the delimiter between. A
// name only the former list is refused, which is the safe mistake.)
func (s *Store) underReference(server string, delim rune) bool {
	ref := s.cfg.Reference
	if len(server) >= 5 && len(ref) >= 5 && strings.EqualFold(ref[:5], "INBOX") && strings.EqualFold(server[:5], "INBOX") {
		// INBOX is the same folder in any case.
		server, ref = "INBOX"+server[5:], "INBOX"+ref[5:]
	}
	rest, ok := strings.CutPrefix(server, ref)
	if !ok {
		return false
	}
	if delim == 0 || strings.HasSuffix(ref, string(delim)) {
		return rest != ""
	}
	return strings.HasPrefix(rest, string(delim)) && len(rest) > len(string(delim))
}

// checkCreatable refuses to create a folder outside the reference: it
// would not be listed again, and the next sync would take it for a folder
// still to be created (OfflineIMAP puts the reference in front of such a
// name, and so creates a folder that is listed, and synced, under another
// name).
func (s *Store) checkCreatable(name, server string, delim rune) error {
	if s.cfg.Reference == "" || s.underReference(server, delim) || s.included(server) {
		return nil
	}
	return fmt.Errorf("%s: folder %q: not created on the server: the name %q is outside reference = %s, so the folder would not be listed again; "+
		"give it a name under the reference (nametrans on the local repository), add it to folderincludes, or leave it out with folderfilter",
		s.name, name, server, s.cfg.Reference)
}

// subscribe subscribes a folder CreateFolder created, with SubscribedOnly:
// an unsubscribed folder would not be listed again.
func (s *Store) subscribe(ctx context.Context, c *conn, name, server string) error {
	if !s.cfg.SubscribedOnly {
		return nil
	}
	if err := c.run(ctx, "SUBSCRIBE", func() error { return c.client.Subscribe(server).Wait() }); err != nil {
		return fmt.Errorf("%s: folder %q: SUBSCRIBE (subscribedonly = yes): %w", s.name, name, err)
	}
	return nil
}

// quoteRef writes a reference as LIST sends it, for messages.
func quoteRef(ref string) string { return strconv.Quote(ref) }

// listCommand describes a LIST with these options, for messages and the
// watchdog.
func listCommand(ref string, opts *imap.ListOptions) string {
	cmd := "LIST "
	if opts != nil && opts.SelectSubscribed {
		cmd += "(SUBSCRIBED) "
	}
	cmd += quoteRef(ref) + ` "*"`
	if opts != nil && opts.ReturnStatus != nil {
		cmd += " RETURN (STATUS)"
	}
	return cmd
}
