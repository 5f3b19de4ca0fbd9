// Package adapters defines the two kinds of store the engine synchronises,
// Remote (UID-addressed: IMAP, memstore.Remote) and Local (key-addressed
// Maildir files: maildir, memstore.Local), and nothing else.
//
// Invariants every implementation keeps (the conformance suite in
// adapters/adaptertest checks them):
//   - Folder names crossing this interface are canonical ('/' separated).
//   - Every mutating call is idempotent: deleting what is already gone,
//     creating a folder that exists, setting flags a message already has, all
//     succeed.
//   - Message bodies cross the Remote interface in wire form (CRLF line
//     ends) and are never modified; Local converts CRLF to LF on write and
//     LF to CRLF on OpenForUpload, and changes nothing else.
//   - Adapters never import the planner, the journal or the executor.
package adapters
