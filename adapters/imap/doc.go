// Package imap is mailtrail's IMAP adapter: it implements adapters.Remote
// (Store, a small pool of connections to one account) and
// adapters.RemoteFolder (Folder, one selected folder) on go-imap v2's
// imapclient.
//
// It owns everything that touches the IMAP wire: connecting (implicit TLS,
// STARTTLS or none; TLS 1.2 at least; certificates verified against the
// system roots or a given CA file, host name included, and optionally
// pinned by fingerprint; a client certificate), logging in (LOGIN, PLAIN,
// CRAM-MD5, XOAUTH2, OAUTHBEARER with OAuth2 token refresh), the hierarchy
// delimiter, the capability checks, and the timeouts go-imap does not have.
//
// Invariants:
//   - Folder names crossing the package boundary are canonical ('/'
//     separated); the server's delimiter is translated at this edge, and
//     modified UTF-7 is left to go-imap, which encodes and decodes it.
//   - The delimiter is learnt once per Store: from the first folder
//     listing when all its entries name the same one (no round trip of
//     its own), else with LIST "<reference>" "" before the first name is
//     put in the server's form. No Folder exists before it is known.
//   - Bodies are streamed in wire form, byte for byte, never held in
//     memory, and fetched with BODY.PEEK[] so that fetching never sets \Seen.
//     Every literal is read to its end, even after the caller's function
//     fails, or the connection would stall.
//   - Every command runs under a watchdog: when the server sends nothing
//     for Config.Timeout while a command waits on it, or the context is
//     done, the connection is closed, the call returns an error naming the
//     account, the folder and the command ("timed out after 60s"), and the
//     connection is never used again. A connection go-imap gives up on (an
//     untagged response it cannot parse) fails the same way: nothing hangs.
//   - At most Config.MaxConnections connections are open; a selected folder
//     holds one until Close.
//   - A folder opened with ExamineFolder (EXAMINE) refuses, sending
//     nothing, every command that would change the server.
//   - A folder opened with SelectListed sends its SELECT with its first
//     command; only a read (the body fetch of FetchListed) goes out behind
//     the SELECT before its answer, and nothing of that read is used
//     before the answer's UIDVALIDITY is checked against the listed one.
//     Another UIDVALIDITY (or a SELECT the server refused) refuses the
//     folder's every command from then on; nothing that would change the
//     server was sent. A connection lost before the answer fails only that
//     command: the next one reconnects and checks as reconnecting does.
//   - Reads are pipelined behind a SELECT only where the SELECT's answer
//     decides nothing they send: the changes since a HIGHESTMODSEQ
//     (OpenWithChanges) and the whole listing (OpenListing) are read only
//     once the SELECT succeeded, as the folder it opened.
//   - A folder's survey of itself written behind its last commands
//     (StoreFlagChangesSurveying, StoreFlagsAndExpungeSurveying,
//     FetchListedSurveying, AppendSurveying, AppendBatchWithSurveying)
//     only examines, comes after everything those commands change (the
//     server carries out an EXAMINE once the commands before it have
//     ended), and leaves the folder refusing every command after it;
//     when it is the store's last use, the connection logs out once its
//     answers are read (logOutBehind). Behind an APPEND only where the
//     server names the new message's UID (UIDPLUS), and never behind an
//     APPEND whose body failed.
//   - A folder surveyed while open (SurveyOpen) has its STATUS asked on
//     another connection, never its own (a STATUS of the selected mailbox
//     is answered from that session's view), and only one free at once,
//     never waited for; its listing goes out on its own connection after
//     that answer and after a NOOP's: the status is never newer than the
//     listing.
//   - Untagged FETCH responses read on the borrowed stream (a store's
//     MODSEQ, another session's flag change) are not handed back to
//     go-imap: nothing of go-imap's asked for them, and a command
//     written right after (a survey's UID FETCH 1:*) would take them as
//     its own answers.
//   - A LOGOUT is written only once every answer before it has been read
//     (Dovecot 2.3's TLS relay can drop what the server sent before it
//     when the client is still behind: logOutBehind); its answer is read
//     in the background where nothing needs it (Close waits for it).
//   - QRESYNC is never enabled (go-imap v2 beta.8 cannot parse its
//     responses); CONDSTORE is used when advertised.
//   - The password, OAuth2 tokens and the client secret never appear in
//     an error or a log event; Config and OAuth2 print redacted.
//   - With STARTTLS asked for, nothing is sent after a refused STARTTLS:
//     never a login in clear text.
package imap
