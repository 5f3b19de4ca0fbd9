// Package engine orchestrates the sync of one account: it observes both
// sides and the status, asks the planner for each folder's plan, records the
// plan's intent in the journal, hands it to the executor, and reports.
//
// Invariants:
//   - Nothing changes mail before the folder's whole plan is durable in the
//     journal as intents.
//   - A folder is the unit of parallel work and of failure: up to
//     MaxConnections folders run at once, and one folder failing does not
//     stop the others.
//   - Before planning a folder, operations left pending by an interrupted
//     run are resolved (uploads found again by identity) or superseded.
//   - A dry run observes and plans, prints, and changes nothing: the
//     journal is opened read-only.
package engine
