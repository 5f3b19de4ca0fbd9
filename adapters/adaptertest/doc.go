// Package adaptertest is the conformance suite every store implementation
// passes: RunRemote for adapters.Remote (IMAP, memstore.Remote) and RunLocal
// for adapters.Local (Maildir, memstore.Local). It checks the invariants of
// package adapters and the contract of each method in adapters/store.go
// against the real implementation, with the quirky messages of Messages.
//
// The suite owns no store. newStore is called once per subtest; it may
// return a store on a fresh backend or on one shared by the whole run:
// every subtest uses folder names of its own and asserts only on them. The
// suite closes each Remote it gets (t.Cleanup); newStore must not.
//
// Where store.go leaves a contract open, the suite decides as follows:
//
//   - Remote.ListFolders always lists INBOX, as every IMAP server has it.
//   - Remote.CreateFolder("a/b/c") makes "a", "a/b" and "a/b/c" selectable
//     folders, all listed (OfflineIMAP creates each level on IMAP).
//     Local.CreateFolder("a/b/c") must list "a/b/c"; its parents may be plain
//     directories and are not required to be listed (OfflineIMAP's Maildir
//     makes them with makedirs, without cur/new/tmp).
//   - A nested local folder is not part of its parent: a message in "p/q"
//     never shows in the scan of "p", nor the reverse.
//   - Folder names are UTF-8 and may contain spaces and '&' ("Sent Items",
//     "Entwürfe", "R&D"); an adapter encodes them at its edge (modified
//     UTF-7 on IMAP) and gives them back unchanged.
//   - SelectFolder, OpenFolder of a missing folder: an error wrapping
//     adapters.ErrNoFolder. SetFlags, SetUID, OpenForUpload of a missing
//     key: an error wrapping adapters.ErrNoMessage.
//   - Expunge removes the given UIDs and only them: another message marked
//     \Deleted stays (UID EXPUNGE, never a bare EXPUNGE).
//   - Fetch never sets \Seen (BODY.PEEK[]). Fetch sorts and de-duplicates
//     the UIDs it is given. When fn returns an error, Fetch returns an error
//     wrapping it, and the folder stays usable: the rest of the response is
//     read and dropped. fn may read only part of body.
//   - The size given to fn, and listed by List, is the body's exact length.
//   - InternalDate and the date of OpenForUpload keep the instant given to
//     Append or LocalBatch.Add, to the second (IMAP dates have seconds; the
//     suite only uses whole seconds, and compares instants, not zones).
//   - FindByIdentity's messageID is the header's value with its angle
//     brackets ("<id@host>"); the header name is matched case-insensitively.
//     The suite never relies on case or substring matching of the value.
//   - HIGHESTMODSEQ, when the store reports one (non-zero), grows strictly
//     with every Append, flag change and Expunge, as seen by ListFolders and
//     by a new SelectFolder.
//   - UID-taking calls (Fetch, StoreFlags, Expunge) accept 20,000 scattered
//     UIDs at once: an adapter splits or compresses them to fit a server's
//     command line limit.
//   - Two folders may be selected and used at once from two goroutines,
//     and ListFolders works meanwhile (the IMAP wiring dials with
//     MaxConnections 4 for this).
//   - UIDs returned by Append grow strictly, and are at least the UIDNEXT
//     the folder had when selected; UIDVALIDITY never changes under normal
//     operations. Append may return 0 (no UIDPLUS): the suite then finds the
//     message with FindByIdentity, which must then work.
//   - LocalBatch: Add before Commit shows nothing in Scan; after Commit
//     every message shows with the UID and flags given; Abort shows nothing
//     and leaves the folder usable. Add with UID 0 gives a message with
//     UID 0. Keys are unique within a folder, including across batches.
//   - Local line ends: on write every CRLF becomes LF (Scan's Size is that
//     length); OpenForUpload turns every LF not preceded by CR into CRLF.
//     Nothing else changes, so every body of Messages comes back byte for
//     byte, bare CRs included. The suite also checks the rule where it does
//     not round-trip: a bare LF comes back as CRLF, and CR CR LF as CR LF.
//   - Scan's Size is the stored (LF) length, or 0 when the store did not
//     measure it (model.LocalMsg allows that); any other value fails.
//   - LocalFolder.FMD5 is non-empty, stable for a folder and different for
//     two folders; a message given a UID (by Add or SetUID) scans with that
//     UID and FMD5 equal to its folder's.
//   - SetFlags and SetUID keep the key; SetUID keeps the flags and SetFlags
//     keeps the UID.
package adaptertest
