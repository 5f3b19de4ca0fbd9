package main

import (
	"mailtrail/adapters/imap"
	"mailtrail/config"
	"mailtrail/internal/utf7"
)

// imapListing sets the IMAP store's reference, subscribedonly and
// folderincludes. OfflineIMAP sends the reference as written, so it is
// modified UTF-7 on the wire; folderincludes are written as folderfilter
// sees names (modified UTF-7 unless utf8foldernames). The store takes
// both in UTF-8.
func imapListing(acct *config.Account, icfg *imap.Config) {
	rr := acct.Remote
	icfg.Reference = decodeUTF7(rr.Reference)
	icfg.SubscribedOnly = rr.SubscribedOnly
	if icfg.Reference == "" && !icfg.SubscribedOnly {
		return // every folder is listed: folderincludes add nothing
	}
	for _, f := range rr.Extra.FolderIncludes {
		if !acct.Extra.UTF8FolderNames {
			f = decodeUTF7(f)
		}
		icfg.Include = append(icfg.Include, f)
	}
}

func decodeUTF7(s string) string {
	if d, err := utf7.Decode(s); err == nil {
		return d
	}
	return s
}

// unlisted reports whether the server folder of an engine folder name is
// on the server but left out of its listing (not subscribed, or outside
// the reference): such a folder is not synced at all, as in OfflineIMAP,
// rather than taken for one deleted on the server and created again.
func unlisted(remote *imap.Store, names *folderNames, name string) bool {
	server, err := names.serverName(name)
	return err == nil && remote.Unlisted(server)
}
