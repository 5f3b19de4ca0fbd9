// Package planner holds every sync rule of mailtrail. It turns three
// observed states of a folder pair — the remote folder, the local folder and
// the status (both sides as they were after the last successful sync) — into
// a list of operations, each with the reason it is needed.
//
// Invariants:
//   - Pure: no I/O, no clock, no randomness, no goroutines. The same input
//     gives the same plan, in the same order.
//   - Safe: a plan never deletes a message on either side unless the status
//     proves that both sides held it and the other side removed it since. A
//     vanished local or remote folder, a changed UIDVALIDITY or a lost status
//     never turns into deletions.
//   - Crash-tolerant: applying any prefix of a plan and planning again gives
//     a plan that completes the same end state. A message whose flags both
//     sides must change gets its flag operations, then an OpPair that
//     records the agreed flags: no status row records flags one side does
//     not have yet. A message whose flags only one side must change gets
//     one flag operation that records its row itself (Op.RecordsRow): its
//     checkpoint comes after its effect, when both sides have the flags.
//   - Copied at most once: a message both sides hold is paired, never
//     copied both ways; where UIDs cannot say which is which (a changed
//     UIDVALIDITY, a reset, a first meeting of a folder with messages on
//     both sides whose files name no UID of it) the engine's identities
//     do (rebase.go).
//   - Modification beats deletion: a message deleted on one side whose flags
//     were changed on the other since the last sync is kept (copied back),
//     because a deletion can be repeated and lost mail cannot. \Deleted
//     (Maildir T) added on the other side is no such change: it agrees with
//     the deletion. It is also what an expunge interrupted between UID STORE
//     +FLAGS (\Deleted) and UID EXPUNGE leaves on the server.
//
// Imports only mailtrail/model and the standard library.
package planner
