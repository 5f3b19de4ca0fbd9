// Package engine orchestrates the sync of one account: it observes both
// sides and the status, asks the planner for each folder's plan, records the
// plan's intent in the journal, hands it to the executor, and reports.
//
// Invariants:
//   - Nothing changes mail before the folder's whole plan is durable in the
//     journal as intents.
//   - A folder is the unit of parallel work and of failure: up to
//     MaxConnections folders hold a server folder at once (a folder whose
//     operations left are local gives its place to the next and finishes
//     beside it), and one folder failing does not stop the others.
//   - Before planning a folder, operations left pending by an interrupted
//     run are resolved (uploads found again by identity, downloads already
//     in place paired) or superseded; a folder with pending operations is
//     visited even when it is gone from both sides.
//   - A plan takes the server's side from a listing of what changed since
//     a HIGHESTMODSEQ only where the status rows are what that
//     HIGHESTMODSEQ vouched for: the folder's record in the journal, or,
//     after local moves this run mirrored on the server, its record from
//     before the run (surveyMoved: the moves' own changes are server
//     changes after it); otherwise it lists the folder in full.
//   - What the verification records as a folder's server state was
//     looked at no later than the listing that found nothing left to do
//     (a survey's EXAMINE and listing together, or a large folder's STATUS
//     before its open survey's listing): a change the listing missed
//     shows up next time, never is skipped.
//   - The run changes no local folder before every local folder of the
//     run is scanned (scanLocal, then moveIn), so a folder's scan may be
//     made while the server lists its folders (scanEarly) as well as
//     after: either is a snapshot that the verification checks.
//   - When folders were created on the server, it is listed again and the
//     folders it made on its own (the parents of a new folder, on some
//     servers) are synced in the same run, so that the next run finds
//     nothing to do.
//   - A dry run observes and plans, prints, and changes nothing: the
//     journal is opened read-only.
package engine
