// Package journal owns mailtrail's durable memory of one account: the
// append-only journal of runs and operations, and the status store (what
// both sides of every folder pair looked like after the last successful
// sync). Both live in one Pebble database per account, in a directory the
// caller names; Open creates it.
//
// The protocol it serves: BeginRun; AppendIntents writes every planned
// operation durably *before* any side effect; the executor carries them out;
// Checkpoint records their results and the status changes they imply in
// one durable batch; EndRun. After a crash, Pending lists the intents that
// have no result: exactly those that may have been half done.
//
// # Invariants
//
//   - Every write that records an intent, a result, a run boundary or a
//     status change is one Pebble batch committed with pebble.Sync: it is
//     all there after a crash, or not at all.
//   - Journal positions (sequence numbers) increase strictly in key order
//     and are never reused: they are assigned and committed under one mutex,
//     and recovered on Open from the last journal key. All record kinds
//     share them, so an intent's Seq is its position: the intents of one
//     AppendIntents are consecutive, other records fall between calls.
//   - An intent is pending (p/ key present) until exactly one Done record
//     refers to it; Checkpoint removes the p/ key in the same batch as it
//     writes the Done record and the status rows. Check verifies this.
//   - Journal records are never changed. They are deleted only by Compact,
//     a whole run at a time (never a run with a pending intent), and
//     observations also by EndRun beyond the latest ObservationRuns runs.
//     Sequence numbers and run IDs are never reused (meta/lastseq and
//     meta/lastrun keep the highest ones once compaction removed them).
//     The run index, pending index and status keys are derived state,
//     rewritten as they change; status rows are never compacted.
//   - Every value is msgpack and carries a version field V (currently 2:
//     intents carry the message they are about, and observations exist;
//     version 1 values still decode). A reader refuses a V newer than it
//     knows.
//   - A write Pebble cannot make ends the process (its Logger's Fatalf):
//     a failed commit of its log, and a flush or compaction that failed
//     for want of space, which Pebble would retry for ever with every
//     commit stalled behind it. That is a crash, which every state of
//     the journal survives; the message names the journal and, for a
//     full disk, says to free space and sync again.
//   - This package imports only mailtrail/model, Pebble, msgpack and the
//     standard library.
//
// # Key layout
//
// Keys are bytes, ordered bytewise; numbers are big-endian so that numeric
// order is key order. Folder names are canonical model names (never
// containing NUL).
//
//	meta/format                  msgpack uint: FormatVersion (1)
//	meta/lastseq, meta/lastrun   msgpack uint: highest seq and run ever
//	                             written (by Compact)
//	meta/hint/<name>             a hint (Hint, SetHint): raw bytes that
//	                             save a round trip, never relied on
//	j/<seq:8>                    journal Record (run-started, intent,
//	                             done, run-ended), seq from 1
//	o/<run:8><folder>            Record of kind observed: what the run
//	                             observed of the folder and its plan
//	p/<seq:8>                    pending index: {V, Run} of an intent
//	                             that has no done record yet
//	r/<run:8>                    run index: {V, Info, StartSeq, Ended,
//	                             EndSeq, Summary}, run from 1
//	f/<folder>                   folder meta: {V, UIDValidity, UIDNext,
//	                             Messages, HighestModSeq, LocalCurMtime,
//	                             LocalNewMtime, Synced}
//	s/<folder> 0x00 <uid:4>      status row: msgpack array [V, Key, Flags]
//
// A folder's rows are the one range [s/<folder>0x00, s/<folder>0x01): the
// NUL terminator keeps the rows of "INBOX" apart from those of "INBOX/Sub",
// whose keys continue with '/' where INBOX's have 0x00.
//
// The Pebble on-disk format is pinned to PebbleFormat. docs/JOURNAL.md
// documents the records, the queries (Operations, Observations) and the
// replay bundles built from them.
//
// # Damage and locking
//
// Open refuses, with ErrCorrupt and advice naming the directory, a journal
// Pebble cannot read and a directory holding files that are not Pebble's;
// reads that meet a bad checksum return ErrCorrupt instead of Pebble's
// default of exiting the process. Close flushes the write-ahead log into
// checksummed tables, because Pebble may take damage at the start of a
// log for a torn end and skip it silently; the window left is the data
// written since the last Open.
//
// Pebble locks the directory even for ReadOnly, so a read-only Open (log,
// audit) fails with ErrLocked while a sync of the same account runs.
package journal
