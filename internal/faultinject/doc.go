// Package faultinject lets the crash tests end the process abruptly at an
// exact step: after the N-th durable journal write, or after the N-th side
// effect on mail (a file written or renamed or removed, an APPEND, STORE,
// EXPUNGE or CREATE sent).
//
// It is compiled in only with the build tag `faultinject`. In a release
// build Step is an empty function and the environment is never read, so no
// setting can make a user's mailtrail crash on purpose.
//
// With the tag, the environment drives it:
//
//	MAILTRAIL_CRASH_AT=journal:N   SIGKILL itself right after the N-th journal write
//	MAILTRAIL_CRASH_AT=effect:N    SIGKILL itself right after the N-th side effect
//	MAILTRAIL_FAULT_TRACE=FILE     append "kind N what" for every step (to count them)
//
// Steps are counted per process, from 1, in the order they complete; steps
// in parallel folders are serialised by a mutex so the count is exact.
package faultinject

// Kinds of step.
const (
	Journal = "journal" // a synced Pebble batch committed
	Effect  = "effect"  // a change to mail on either side completed
)
