package config

// sectionKind is what a section configures; it decides which options
// mailtrail understands there.
type sectionKind int

const (
	kindGeneral sectionKind = iota
	kindAccount
	kindMaildir
	kindIMAP
	kindMbnames
	kindDefault
)

func (k sectionKind) String() string {
	return [...]string{"general", "account", "Maildir repository", "IMAP repository", "mbnames", "DEFAULT"}[k]
}

// understood lists, per kind of section, the options mailtrail reads. An
// option set in such a section that is not listed here gets a Warning. To
// support a new option: read it in build.go, add it to the model, and list
// it here.
var understood = map[sectionKind]map[string]bool{
	kindGeneral: set("accounts", "metadata", "maxsyncaccounts", "socktimeout", "journalretention"),
	kindAccount: set("localrepository", "remoterepository"),
	kindMaildir: set("type", "localfolders", "sep", "createfolders", "readonly", "folderfilter", "maxdelete"),
	kindIMAP: set("type", "remotehost", "remoteport", "remoteuser", "remotepass",
		"remotepassfile", "ssl", "starttls", "sslcacertfile", "maxconnections",
		"createfolders", "readonly", "folderfilter", "maxdelete",
		"reference", "subscribedonly", "holdconnectionopen", "keepalive",
		// Security (docs/SECURITY.md): credentials, authentication, TLS.
		"remoteusereval", "remotepasseval", "remotepasscommand", "auth_mechanisms",
		"oauth2_client_id", "oauth2_client_secret", "oauth2_refresh_token",
		"oauth2_access_token", "oauth2_request_url", "oauth2_client_id_eval",
		"oauth2_client_secret_eval", "oauth2_refresh_token_eval",
		"oauth2_access_token_eval", "cert_fingerprint", "tls_level", "ssl_version",
		"sslclientcert", "sslclientkey"),
	// mbnames writes a mailboxes file for mail readers; its other options
	// are read (extras.go) and checked only when it is enabled.
	kindMbnames: set("enabled"),
}

// harmlessWhen lists boolean options that mailtrail does not read but whose
// value, when it equals the one given here, asks for exactly what mailtrail
// always does; then there is nothing to warn about.
//
// "expunge" is harmless either way: mailtrail never expunges a message just
// because it carries \Deleted (it syncs the flag as Maildir's T); it only
// expunges what was deleted locally. That is what expunge = no asks for,
// and a safe reading of expunge = yes (docs/CONFIGURATION.md says so).
var harmlessWhen = map[string]bool{
	"fsync":        true, // mailtrail always makes mail durable
	"sync_deletes": true, // deletions are propagated
}

// harmlessAlways lists options mailtrail does not read because every value
// gives what mailtrail does.
var harmlessAlways = set("expunge")

// unsafeToIgnore lists options whose being ignored could delete or
// duplicate mail: sync_deletes = no left out propagates deletions the user
// wanted kept. (folderfilter and nametrans, once on this list, are read
// now.) The command line refuses to sync while one is set, unless told
// --force.
var unsafeToIgnore = set("sync_deletes")

// pythonOptions are OfflineIMAP options whose value is Python code (or a
// Python literal) evaluated by OfflineIMAP. mailtrail does not evaluate
// them yet.
var pythonOptions = set(
	"pythonfile", "remotehosteval", "remoteporteval", "remoteusereval",
	"remotepasseval", "nametrans", "folderfilter", "folderincludes",
	"foldersort", "copy_ignore_eval", "newmail_hook", "idlefolders",
	"sort_keyfunc", "oauth2_client_id_eval", "oauth2_client_secret_eval",
	"oauth2_access_token_eval", "oauth2_refresh_token_eval",
)

// offlineIMAPOptions is every option OfflineIMAP 3 reads anywhere (from its
// sources and the reference offlineimap.conf). An unknown option that is
// not in it is likely a typo, and the warning says so.
var offlineIMAPOptions = set(
	// [general]
	"accounts", "metadata", "maxsyncaccounts", "ui", "ignore-readonly",
	"pythonfile", "socktimeout", "fsync", "dry-run",
	"filename_use_mail_timestamp", "utime_from_header",
	// [mbnames]
	"enabled", "filename", "header", "peritem", "sep", "footer",
	"incremental", "folderfilter", "sort_keyfunc",
	// [Account X]
	"localrepository", "remoterepository", "autorefresh", "quick",
	"presynchook", "postsynchook", "maxsize", "maxage", "synclabels",
	"labelsheader", "ignorelabels", "filterheaders", "proxy", "authproxy",
	"utf8foldernames", "maildir-windows-compatible", "skipsleep",
	"status_backend", "newmail_hook",
	// [Repository X], every type
	"type", "readonly", "nametrans", "folderfilter", "folderincludes",
	"foldersort", "createfolders", "sync_deletes", "dynamic_folderfilter",
	"startdate",
	// Maildir
	"localfolders", "restoreatime", "customflag_a", "customflag_b",
	"customflag_c", "customflag_d", "customflag_e", "customflag_f",
	"customflag_g", "customflag_h", "customflag_i", "customflag_j",
	"customflag_k", "customflag_l", "customflag_m", "customflag_n",
	"customflag_o", "customflag_p", "customflag_q", "customflag_r",
	"customflag_s", "customflag_t", "customflag_u", "customflag_v",
	"customflag_w", "customflag_x", "customflag_y", "customflag_z",
	// IMAP and Gmail
	"remotehost", "remotehosteval", "remoteport", "remoteporteval",
	"remoteuser", "remoteusereval", "remotepass", "remotepasseval",
	"remotepassfile", "ssl", "starttls", "sslcacertfile", "sslclientcert",
	"sslclientkey", "cert_fingerprint", "ssl_version", "tls_level", "ipv6",
	"remote_identity", "auth_mechanisms", "oauth2_client_id",
	"oauth2_client_secret", "oauth2_client_id_eval",
	"oauth2_client_secret_eval", "oauth2_access_token",
	"oauth2_refresh_token", "oauth2_access_token_eval",
	"oauth2_refresh_token_eval", "oauth2_request_url", "preauthtunnel",
	"transporttunnel", "reference", "decodefoldernames", "idlefolders",
	"usecompression", "maxconnections", "singlethreadperfolder",
	"holdconnectionopen", "keepalive", "expunge", "subscribedonly",
	"copy_ignore_eval", "retrycount", "trashfolder", "spamfolder",
)

// consequence says, for options whose being ignored changes what happens
// to mail, what mailtrail does instead. It is appended to the warning.
var consequence = map[string]string{
	"nametrans":        "folder names are used untranslated",
	"folderfilter":     "every folder is synchronised",
	"folderincludes":   "no extra folders are added",
	"sync_deletes":     "deletions ARE propagated to the other side",
	"presynchook":      "the hook is not run",
	"postsynchook":     "the hook is not run",
	"newmail_hook":     "the hook is not run",
	"preauthtunnel":    "mailtrail connects to remotehost directly",
	"transporttunnel":  "mailtrail connects to remotehost directly",
	"cert_fingerprint": "the server certificate is verified against the CA roots only", // unused since it is read (kept to spare a realignment)
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// understoodAnywhere reports whether some kind of section understands key;
// an option set in [DEFAULT] is inherited by every section.
func understoodAnywhere(key string) bool {
	for _, opts := range understood {
		if opts[key] {
			return true
		}
	}
	return false
}
