// Package maildir is the Local store on disk: an OfflineIMAP-compatible tree
// of Maildir folders (adapters.Local, adapters.LocalFolder,
// adapters.LocalBatch). It owns everything about that tree: folder layout,
// file names, line-ending conversion, and the order of writes, renames and
// fsyncs that makes new messages durable.
//
// Layout, as OfflineIMAP's Maildir repository: a folder is a directory
// under root holding cur/, new/ and tmp/. The canonical name "a/b" is the
// local name "a<sep>b": with sep '.' the directory root/a.b, with sep '/'
// the nested directory root/a/b. INBOX is root/INBOX.
//
// File names, as OfflineIMAP writes them:
//
//	<time>_<seq>.<pid>.<host>,U=<uid>,FMD5=<md5 of the local folder name>:2,<flags>
//
// A message's key is its file name without the ,U= and ,FMD5= fields and
// without the ":2,<info>" suffix, so it survives flag and UID renames. Names
// written by other clients (neomutt, Dovecot, mbsync) are read the same way.
//
// Invariants:
//   - Message files hold LF line ends: Add turns every CRLF into LF and
//     changes nothing else; OpenForUpload turns every LF not preceded by CR
//     into CRLF. Bodies are streamed, never held whole in memory.
//   - A file's mtime (and atime) is the message's internal date.
//   - A message is in cur/ when it is Seen and in new/ otherwise whenever
//     this package writes or re-flags it (OfflineIMAP's rule).
//   - Flag letters that are not the five standard flags (Dovecot keyword
//     letters) are kept across renames; info letters are in ASCII order.
//   - A ,U= counts as this folder's UID only when the ,FMD5= beside it is
//     this folder's (otherwise Scan reports UID 0, as OfflineIMAP treats such
//     a file as new).
//   - Durability: Batch.Add writes to tmp/ without fsync; Batch.Commit
//     fsyncs the files, renames them into place and fsyncs the directories.
//     SetFlags, SetUID and Delete do not fsync; Folder.Flush fsyncs the
//     directories they touched. Commit never replaces an existing file.
//   - Scan reads cur/ and new/ once each, without a stat per file (Size is
//     0 unless Options.ScanSizes), and rereads when their mtimes moved
//     during the read, so that a file renamed meanwhile is never missed
//     (a missed file would look deleted to the planner).
//   - Every mutation is idempotent: deleting what is gone, setting the flags
//     or UID a file already has, creating an existing folder all succeed.
package maildir
