// Package memstore is an in-memory implementation of both store kinds of
// package adapters: Remote (an IMAP-like server) and Local (a Maildir-like
// folder tree). Planner and executor tests, replay and dry-run use it in
// place of a server and a disk.
//
// It owns nothing on disk and no connection. It keeps these invariants:
//
//   - Everything is deterministic: UIDVALIDITY values are handed out by a
//     counter (1, 2, 3, ... in folder creation order), UIDs start at 1 and
//     only grow, local keys are "m000001", "m000002", ... counted per
//     folder, so the same calls in the same order per folder give the same
//     state, whatever the interleaving of folders.
//   - Remote bodies are stored exactly as appended (wire form, CRLF). Local
//     bodies are stored as a Maildir file would hold them: LF line ends
//     (every CRLF written becomes LF, nothing else changes), and
//     OpenForUpload gives back CRLF (every LF not preceded by CR becomes
//     CRLF, nothing else changes).
//   - HIGHESTMODSEQ of a remote folder starts at 1 and grows by one for
//     every change: an append, a flag change of one message (a STORE that
//     changes nothing does not count), an expunge of one message. Status and
//     ListFolders report 0 when CONDSTORE is switched off.
//   - A Remote starts with one folder, INBOX, as every IMAP server does.
//     Remote.CreateFolder creates each missing parent as a real folder (what
//     OfflineIMAP does on IMAP). Local.CreateFolder creates only the named
//     folder: parents are plain directories in a Maildir tree, not folders.
//   - A local message's UID is tagged with an FMD5 (FolderMD5 of the
//     canonical folder name) when it is set, and Scan reports the UID only
//     when the tag is the folder's, as OfflineIMAP and package maildir do.
//   - Stores are safe for concurrent use by several folders: one mutex per
//     store guards all its state, and no callback (Fetch's fn) runs under it.
//   - Nothing handed out aliases the store's memory: bodies given to Fetch,
//     OpenForUpload and the test helpers are copies or read-only readers.
//
// Beyond the adapter interfaces, both stores have helpers for tests and
// replay (seed a message, read one back, change things behind the engine's
// back, change UIDVALIDITY, snapshot everything). Helpers name folders
// canonically and return errors wrapping adapters.ErrNoFolder and
// adapters.ErrNoMessage like the interface methods do.
package memstore
