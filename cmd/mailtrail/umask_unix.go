//go:build unix

package main

import "syscall"

// restrictUmask makes every file and directory mailtrail creates private
// to the user (0600 and 0700 at most), whatever the umask it was started
// with: Maildir files, the journal (Pebble's own files included), lock and
// log files. Modes asked for explicitly are already that strict; this
// covers what libraries create.
func restrictUmask() { syscall.Umask(0o077) }
