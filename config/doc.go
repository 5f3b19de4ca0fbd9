// Package config reads OfflineIMAP's configuration file (~/.offlineimaprc,
// or $XDG_CONFIG_HOME/offlineimap/config; see DefaultPath) so that mailtrail
// is a drop-in replacement, and turns it into a typed, checked Config.
//
// # Syntax
//
// The file is read exactly as Python's configparser (what OfflineIMAP
// uses, with its default settings) reads it:
//   - [section] headers; section names are case-sensitive, keys are not.
//   - key = value and key: value; the key ends at the first '=' or ':'.
//   - Lines whose first non-blank character is '#' or ';' are comments.
//     There are no comments at the end of a line: "remotepass = x # y"
//     sets the password to "x # y", in OfflineIMAP too.
//   - A line indented deeper than the key line above it continues that
//     value (joined with "\n"); empty and comment lines in between do not
//     end it.
//   - [DEFAULT] holds keys every section inherits.
//   - %(name)s is replaced by option name of the same section or of
//     [DEFAULT], recursively (10 levels at most), when the value is read;
//     %% is a literal %.
//   - A section or a key given twice is an error.
//   - Booleans are yes/no, true/false, on/off, 1/0 in any case.
//
// # Model
//
// Parse and Load return a Config only when it is usable: [general] names at
// least one account; each named account has an [Account X] section whose
// localrepository and remoterepository name two different, existing
// [Repository Y] sections; the remote one is IMAP and the local one Maildir
// or IMAP; every value has the right type and range; required options are
// set; paths have ~ (and, where OfflineIMAP does so, $NAME) expanded; the
// password file has been read. Every problem is an *Error naming the file,
// the line and what to do; all of them are returned together.
//
// Everything mailtrail does not (yet) understand is a Warning, never
// silently dropped: options not in the table of understood options for
// their kind of section (options.go), options whose value is Python code
// (nametrans, folderfilter, remotepasseval...), sections nothing reads,
// accounts not listed in [general] accounts. The one exception is an option
// used as a %(name)s variable, which is a variable, not a setting. When a
// required value is given only as Python code (remotepasseval,
// remoteusereval, remotehosteval), that is an error saying so.
//
// # Secrets
//
// The password is held in a Secret, which prints as "<redacted>" with every
// fmt verb and marshals the same way; Reveal returns it. No error, warning,
// String or Redacted output contains a password or any part of one.
//
// # Where mailtrail keeps its state
//
// General.StoreDir(account) is <metadata>/mailtrail/<account> when
// [general] metadata is set, and otherwise
// $XDG_STATE_HOME/mailtrail/<account> (~/.local/state/mailtrail/<account>
// when XDG_STATE_HOME is unset or relative). mailtrail does not default to
// OfflineIMAP's ~/.offlineimap, so that running both tools on one
// configuration never mixes their state in one directory, and so that
// removing mailtrail's state never touches OfflineIMAP's. An explicit
// metadata is honoured because the user chose that place for sync state;
// the "mailtrail" level keeps the two tools apart inside it.
// OfflineIMAP's own directory is still known, as
// General.OfflineIMAPMetadata, for importing its status.
package config
