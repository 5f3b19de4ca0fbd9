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
//     both sides agree (fetch, upload, pair, expunge, delete, forget, and a
//     flag operation the planner marked Op.RecordsRow: the other side had
//     its flags already); other flag operations never touch the status.
//   - Creating a folder that vanished first sets its old status aside in a
//     checkpoint of its own, before the folder exists (and, for a server
//     folder, clears the old UIDs from the local file names): a crash
//     between the creation and its checkpoint must not leave an empty new
//     folder beside a status that reads every message as deleted there.
//   - After a crash (Recover), an upload is found again on the server by
//     size, Message-ID and content, never by size and Message-ID alone; a
//     download already moved into place is paired with the flags it was
//     written with. Nothing is resolved when the server folder's
//     UIDVALIDITY is no longer the status's.
//   - The server folder is used only until the last operation that needs
//     it; then Pair.ReleaseRemote (when set) is called, once, and nothing
//     after it reads Pair.RemoteFolder: checkpoints carry the UIDVALIDITY
//     taken when execution began.
//   - A store-remote group and an expunge-remote group with only local
//     operations between them are carried out together where the server
//     folder can (adapters.FlagExpunger: their stores in one round trip,
//     the expunge once they have ended); each is checkpointed as it would
//     have been alone, and an error in either stops the folder with
//     neither recorded (the next run resolves both, as any interrupted
//     operation).
//   - Where the server folder can (adapters.BatchAppendStorer), those
//     stores (and that expunge) go with the last upload batch when the
//     upload group comes right before the store group: one round trip for
//     the batch and the stores, the expunge once they have ended. Each
//     kind is still checkpointed where it would have been alone: the
//     plan's every intent was journaled before its first effect, and the
//     batch concerns other messages than the stores.
//   - With Pair.SurveyAfter set, the operations that are the last use of
//     the server folder (a store-remote group, an expunge-remote group
//     alone or with the stores, the last download batch, an upload group
//     of one message, the upload batch that takes the stores and an
//     expunge) have the folder's survey for the check after the sync
//     written behind them (adapters.SurveyingStorer, SurveyingExpunger,
//     SurveyingFetcher, SurveyingAppender, SurveyingBatchAppendStorer),
//     read-only, and handed back in Result.Survey; their effects and
//     checkpoints are as without it, and the folder takes no command
//     after it. An upload surveyed so whose server named no UID after
//     all is left pending, for the next sync to find by identity (the
//     folder can no longer be searched).
//   - One operation that fails is recorded as failed and the folder goes
//     on; an error that every later operation would meet too stops the
//     folder at once, with what was done checkpointed and the rest left
//     pending for the next run: a lost connection or an ended context, and
//     a local file system that takes no more changes (full, over quota,
//     read-only), whether a download, a rename for new flags or for a UID,
//     or a deletion met it.
//   - The executor never plans: it does what it is told or records why it
//     could not.
package executor
