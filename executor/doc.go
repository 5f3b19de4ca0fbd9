// Package executor carries out a folder's planned operations through the
// adapters and checkpoints each one in the journal.
//
// Invariants:
//   - An operation reaches the executor only after its intent is durable in
//     the journal (the engine appends intents first).
//   - Every side effect is idempotent, so an operation interrupted by a
//     crash can be planned and carried out again.
//   - Durability is batched: a batch of downloaded messages is written to
//     tmp/ without fsync, made durable together, moved into place, and only
//     then checkpointed, with one synced journal write per batch. Renames and
//     deletions are made durable by one directory fsync before the
//     checkpoint that records them.
//   - Status rows change only in the checkpoint of the operation that made
//     both sides agree (fetch, upload, pair, expunge, delete, forget); flag
//     operations never touch the status.
//   - The executor never plans: it does what it is told or records why it
//     could not.
package executor
