package main_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"

	"mailtrail/internal/sample"
	"mailtrail/model"
)

// TestOnlyChangesListed: once a sync found nothing to do, the next one
// asks Dovecot only for what changed since (UID SEARCH + CHANGEDSINCE), and
// every kind of change still syncs exactly: a flag set and one cleared on
// the server, a message expunged there, one delivered there, a flag set
// locally, a file deleted locally. So does a change made after the sync
// that followed (its verification listed only the changes too).
func TestOnlyChangesListed(t *testing.T) {
	s := dovecotServer(t)
	ctx := context.Background()
	seenInINBOX(t, s, 12, 5)
	su := newSetup(t, s, "")
	su.sync(t)
	requireNothingToDo(t, su)

	local := localByUID(t, su, "INBOX")
	c := rawIMAP(t, s)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	store := func(uid uint32, op goimap.StoreFlagsOp, fl goimap.Flag) {
		t.Helper()
		must(t, c.Store(goimap.UIDSetNum(goimap.UID(uid)), &goimap.StoreFlags{Op: op, Silent: true, Flags: []goimap.Flag{fl}}, nil).Close())
	}
	store(2, goimap.StoreFlagsAdd, goimap.FlagFlagged)
	store(3, goimap.StoreFlagsDel, goimap.FlagSeen)
	store(4, goimap.StoreFlagsAdd, goimap.FlagDeleted)
	must(t, c.UIDExpunge(goimap.UIDSetNum(4)).Close())
	must(t, c.Logout().Wait())
	f, err := s.dial(t).SelectFolder(ctx, "INBOX")
	must(t, err)
	extra := sample.Messages("INBOX", 1, 99)[0]
	_, err = f.Append(ctx, int64(len(extra.Body)), bytes.NewReader(extra.Body), model.Answered, extra.Date)
	must(t, err)
	f.Close()
	renameFlags(t, su, "INBOX", local[5].Key, "FS")
	removeByKey(t, su, "INBOX", local[6].Key)

	// A dry run looks without selecting: EXAMINE changes nothing on the
	// server, \Recent included.
	code, out, errs := su.runSync(t, "--dry-run", "--debug")
	if code != 0 || strings.Contains(errs, `SELECT (CONDSTORE)`) || !strings.Contains(errs, `EXAMINE (CONDSTORE)`) {
		t.Fatalf("dry run exited %d, or selected a folder instead of examining it:\n%s\n%s", code, out, errs)
	}
	errs = su.debugSync(t)
	if !strings.Contains(errs, "listed the changes since the last sync") {
		t.Fatalf("the server folder was listed in full, not only its changes:\n%s", errs)
	}
	// The flag stored and the \Deleted mark go in one round trip, and the
	// verification's survey with the expunge (the run's last use of the
	// folder).
	if !strings.Contains(errs, `command="UID STORE +FLAGS.SILENT (\\Flagged) + UID STORE +FLAGS.SILENT (\\Deleted), then UID EXPUNGE + EXAMINE (CONDSTORE)`) {
		t.Fatalf("the flag change and the expunge were not sent together:\n%s", errs)
	}
	// The one folder to sync is opened for its plan with the listing of
	// its changes behind the SELECT (one round trip), and kept selected
	// for its execution: the download asks for the body alone (the plan
	// listed the rest), with no SELECT of its own.
	if n := strings.Count(errs, `SELECT (CONDSTORE)`); n != 1 || !strings.Contains(errs, `SELECT (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE 13)"`) {
		t.Fatalf("INBOX was selected %d times, want once, for its plan with its changes listed behind:\n%s", n, errs)
	}
	if !strings.Contains(errs, `command="UID FETCH 13 BODY.PEEK[]"`) {
		t.Fatalf("the new message was not downloaded with one command for its body:\n%s", errs)
	}
	// The verification examines the folder with the listing of the changes
	// behind (a survey of the folders), written behind the expunge: no
	// round trip of its own; then the connection logs out (the run's last
	// use of the server). It examines the folder: Dovecot answers EXAMINE
	// of a large Maildir folder at once, SELECT after a rescan.
	if n := strings.Count(errs, ` + EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of INBOX"`); n != 1 || strings.Count(errs, `EXAMINE`) != 1 {
		t.Fatalf("the folder was surveyed %d times after the sync, want once, with the expunge:\n%s", n, errs)
	}
	requireLastUseThenLogout(t, errs)
	got := remoteFlags(t, s, "INBOX")
	want := map[uint32]model.Flags{1: model.Seen, 2: model.Seen | model.Flagged, 3: 0, 5: model.Seen | model.Flagged, 13: model.Answered}
	for uid, fl := range want {
		if got[uid] != fl {
			t.Errorf("server uid %d: flags %s, want %s", uid, got[uid], fl)
		}
	}
	if _, ok := got[4]; ok {
		t.Error("uid 4 expunged on the server came back")
	}
	if _, ok := got[6]; ok {
		t.Error("uid 6 deleted locally is still on the server")
	}
	assertConverged(t, s, su, 11)
	requireNothingToDo(t, su)
	// The verification after that sync listed only the changes too; a
	// change now is found again.
	renameFlags(t, su, "INBOX", local[7].Key, "RS")
	if out := su.sync(t); !strings.Contains(out, "1 store-remote") {
		t.Fatalf("a local flag change after the sync:\n%s", out)
	}
	if got := remoteFlags(t, s, "INBOX")[7]; got != model.Seen|model.Answered {
		t.Fatalf("server uid 7: %s, want \\Seen \\Answered", got)
	}
	assertConverged(t, s, su, 11)
}

// TestFirstSyncVerifiedByItsChanges: the verification after a folder's
// first sync lists only what changed since the plan's listing (the rows
// it just wrote are the server's state as of then), and still records
// the folder as it is: the next sync skips it, and a flag set on the
// server after that is found and synced.
func TestFirstSyncVerifiedByItsChanges(t *testing.T) {
	s := dovecotServer(t)
	seenInINBOX(t, s, 12, 7)
	su := newSetup(t, s, "")
	code, out, errs := su.runSync(t, "--debug")
	if code != 0 {
		t.Fatalf("first sync exited %d:\n%s\n%s", code, out, errs)
	}
	// The plan lists in full (there are no rows), in the SELECT's round
	// trip.
	if want := `command="SELECT (CONDSTORE) + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"`; !strings.Contains(errs, want) {
		t.Errorf("the first sync's log has no %s:\n%s", want, errs)
	}
	// Only the verification after the EXAMINE can list the changes (its
	// survey goes with the download, the folder's last use).
	i := strings.LastIndex(errs, `EXAMINE (CONDSTORE)`)
	if i < 0 || !strings.Contains(errs[i:], "listed the changes since the last sync") ||
		strings.Contains(errs[i:], `command="UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"`) {
		t.Fatalf("the verification after the first sync listed the folder in full:\n%s", errs)
	}
	code, out, errs = su.runSync(t, "--debug")
	if code != 0 || strings.Contains(errs, "folder synced in full") {
		t.Fatalf("the sync after the first one did not skip INBOX (exit %d):\n%s\n%s", code, out, errs)
	}
	c := rawIMAP(t, s)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	must(t, c.Store(goimap.UIDSetNum(3), &goimap.StoreFlags{Op: goimap.StoreFlagsAdd, Silent: true,
		Flags: []goimap.Flag{goimap.FlagFlagged}}, nil).Close())
	must(t, c.Logout().Wait())
	if out := su.sync(t); !strings.Contains(out, "1 set-local") {
		t.Fatalf("a server flag change after the skipped sync:\n%s", out)
	}
	if got := localByUID(t, su, "INBOX")[3].Flags; got != model.Seen|model.Flagged {
		t.Fatalf("local uid 3: %s, want \\Seen \\Flagged", got)
	}
	assertConverged(t, s, su, 12)
}

// TestOneFolderFlagChangeSelectsOnce: a flag changed in the one folder
// to sync (mail read locally) costs one SELECT, its plan's, with the
// changes listed behind it, and the flag store follows on that selected
// folder; with a survey for the plan the execution had to select the
// folder again, a round trip of its own before the store. The SELECT goes
// with the folder listing, in its round trip: the local change was known
// before the listing was sent. The verification's survey of the folder,
// and the LOGOUT, go with the store, in its round trip: the folder is
// examined once, and recorded in step (nothing to do after); so with the
// expunge of a message deleted locally, and with the download of new mail,
// which the listing's survey of INBOX (where new mail lands) plans.
func TestOneFolderFlagChangeSelectsOnce(t *testing.T) {
	s := dovecotServer(t)
	seenIn(t, s, "INBOX", 6, 3)
	seenIn(t, s, "Archive", 4, 4)
	seenIn(t, s, "Lists/go", 2, 5)
	su := newSetup(t, s, "")
	su.sync(t)
	requireNothingToDo(t, su)
	local := localByUID(t, su, "INBOX")
	renameFlags(t, su, "INBOX", local[2].Key, "FS")
	errs := su.debugSync(t)
	sel := strings.Index(errs, `RETURN (STATUS) + SELECT (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE`)
	const surveyed = ` + EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of `
	store := strings.Index(errs, `command="UID STORE +FLAGS.SILENT (\\Flagged)`+surveyed+`INBOX"`)
	if n := strings.Count(errs, `SELECT (CONDSTORE)`); n != 1 || sel < 0 || store < sel {
		t.Fatalf("INBOX selected %d times, want once, with the folder listing and its changes listed, then the flag stored on it with the verification's survey:\n%s", n, errs)
	}
	requireLastUseThenLogout(t, errs)
	if n := strings.Count(errs, `EXAMINE`); n != 1 {
		t.Fatalf("INBOX examined %d times, want once, by the verification's survey with the store:\n%s", n, errs)
	}
	if got := remoteFlags(t, s, "INBOX")[2]; got != model.Seen|model.Flagged {
		t.Fatalf("server uid 2: %s, want \\Seen \\Flagged", got)
	}
	requireNothingToDo(t, su)

	// A folder with levels: its name on the server needs the hierarchy
	// delimiter, which the journal remembers from the last run.
	local = localByUID(t, su, "Lists/go")
	renameFlags(t, su, "Lists.go", local[1].Key, "FS") // the Maildir's sep is '.'
	errs = su.debugSync(t)
	if !strings.Contains(errs, `RETURN (STATUS) + SELECT (CONDSTORE)`) || strings.Count(errs, `SELECT (CONDSTORE)`) != 1 {
		t.Fatalf("Lists/go was not opened with the folder listing:\n%s", errs)
	}
	if !strings.Contains(errs, surveyed+`Lists/go"`) || strings.Count(errs, `EXAMINE`) != 1 {
		t.Fatalf("Lists/go was not surveyed with its flag store, and only then:\n%s", errs)
	}
	if got := remoteFlags(t, s, "Lists/go")[1]; got != model.Seen|model.Flagged {
		t.Fatalf("Lists/go server uid 1: %s, want \\Seen \\Flagged", got)
	}
	requireNothingToDo(t, su)

	// A message deleted locally: the survey goes with the expunge.
	removeByKey(t, su, "INBOX", localByUID(t, su, "INBOX")[4].Key)
	errs = su.debugSync(t)
	if !strings.Contains(errs, `then UID EXPUNGE`+surveyed+`INBOX"`) || strings.Count(errs, `EXAMINE`) != 1 {
		t.Fatalf("INBOX was not surveyed with its expunge, and only then:\n%s", errs)
	}
	if _, ok := remoteFlags(t, s, "INBOX")[4]; ok {
		t.Fatal("server uid 4 is still there after its local deletion")
	}
	requireNothingToDo(t, su)

	// New mail on the server: INBOX is surveyed with the folder listing
	// (new mail lands there), planned from that survey, and selected with
	// its download, the verification's survey behind it.
	seenIn(t, s, "INBOX", 1, 6)
	errs = su.debugSync(t)
	if !strings.Contains(errs, `RETURN (STATUS) + EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of INBOX"`) ||
		!strings.Contains(errs, `command="SELECT (CONDSTORE) + UID FETCH 7 BODY.PEEK[]`+surveyed+`INBOX"`) ||
		strings.Count(errs, `EXAMINE`) != 2 || strings.Count(errs, `SELECT (CONDSTORE)`) != 1 {
		t.Fatalf("INBOX was not surveyed with the listing, then selected with its download and surveyed with it:\n%s", errs)
	}
	if n := len(localByUID(t, su, "INBOX")); n != 6 {
		t.Fatalf("INBOX has %d messages locally, want 6", n)
	}
	requireNothingToDo(t, su)

	// A message filed locally (a sent message, as a mail reader files
	// it): the survey goes with its APPEND, which names its UID.
	deliver(t, filepath.Join(su.maildir, "Archive"), "1795000000.M1P2.here",
		"From: me@example.org\r\nTo: you@example.org\r\nSubject: filed\r\nMessage-ID: <filed@example.org>\r\n\r\nSent.\r\n")
	errs = su.debugSync(t)
	if !strings.Contains(errs, `command="APPEND`+surveyed+`Archive"`) || strings.Count(errs, `EXAMINE`) != 1 {
		t.Fatalf("Archive was not surveyed with the upload, and only then:\n%s", errs)
	}
	requireLastUseThenLogout(t, errs)
	if n := len(remoteFlags(t, s, "Archive")); n != 5 {
		t.Fatalf("Archive has %d messages on the server, want 5", n)
	}
	if _, ok := localByUID(t, su, "Archive")[5]; !ok {
		t.Fatal("the filed message's local file does not carry the UID the server gave it (5)")
	}
	requireNothingToDo(t, su)
}

// TestLargeChangeInOneFolder: one folder changed alone, by many messages,
// has its verification's survey written behind its last use of the server
// (as every folder has with a server farther than loopback), and that
// use's answers are longer than go-imap buffers for a command (128
// responses): 140 messages deleted locally and 200 flagged, with 3 filed
// (the upload batch, the stores and the expunge, whose EXPUNGE responses
// and, from Dovecot with CONDSTORE, a FETCH per message stored come before
// the survey's answers), then 150 unflagged (the stores alone). The sync
// hung there, its connection's reader waiting for good behind answers
// read only after the survey's.
func TestLargeChangeInOneFolder(t *testing.T) {
	s := dovecotServer(t)
	seenIn(t, s, "INBOX", 400, 11)
	seenIn(t, s, "Archive", 3, 12)
	su := newSetup(t, s, "")
	su.sync(t)
	local := localByUID(t, su, "INBOX")
	uids := slices.Sorted(maps.Keys(local))
	for i, uid := range uids {
		switch {
		case i < 140:
			removeByKey(t, su, "INBOX", local[uid].Key)
		case i < 340:
			renameFlags(t, su, "INBOX", local[uid].Key, "FS")
		}
	}
	for i := range 3 {
		deliver(t, filepath.Join(su.maildir, "INBOX"), fmt.Sprintf("1795000000.M%dP2.here", i),
			fmt.Sprintf("From: me@example.org\r\nSubject: filed %d\r\nMessage-ID: <filed-%d@example.org>\r\n\r\nSent.\r\n", i, i))
	}
	const surveyed = ` + EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of INBOX"`
	errs := su.debugSync(t)
	if !strings.Contains(errs, `command="MULTIAPPEND (3 messages) + UID STORE +FLAGS.SILENT (\\Flagged) + UID STORE +FLAGS.SILENT (\\Deleted), then UID EXPUNGE`+surveyed) {
		t.Fatalf("INBOX was not surveyed behind its upload batch, stores and expunge:\n%s", errs)
	}
	if n, flagged := flaggedOn(t, s, "INBOX"); n != 263 || flagged != 200 {
		t.Fatalf("INBOX on the server: %d messages, %d flagged; want 263, 200", n, flagged)
	}
	requireNothingToDo(t, su)

	local = localByUID(t, su, "INBOX")
	for _, uid := range uids[140:290] {
		renameFlags(t, su, "INBOX", local[uid].Key, "S")
	}
	errs = su.debugSync(t)
	if !strings.Contains(errs, `command="UID STORE -FLAGS.SILENT (\\Flagged)`+surveyed) {
		t.Fatalf("INBOX was not surveyed behind its flag stores:\n%s", errs)
	}
	if _, flagged := flaggedOn(t, s, "INBOX"); flagged != 50 {
		t.Fatalf("%d messages flagged on the server, want 50:\n%s", flagged, errs)
	}
	requireNothingToDo(t, su)
}

// flaggedOn counts the messages of the server's folder, and those of them
// flagged.
func flaggedOn(t *testing.T, s server, folder string) (n, flagged int) {
	t.Helper()
	for _, f := range remoteFlags(t, s, folder) {
		n++
		if f&model.Flagged != 0 {
			flagged++
		}
	}
	return n, flagged
}

// TestOpenedWithListingDropped: a local change in INBOX alone opens it
// with the folder listing, but the listing shows new mail in Archive as
// well: two folders to sync, so INBOX is closed again and both are planned
// as any two folders are; the sync converges and leaves nothing to do.
func TestOpenedWithListingDropped(t *testing.T) {
	s := dovecotServer(t)
	seenIn(t, s, "INBOX", 5, 7)
	seenIn(t, s, "Archive", 3, 8)
	su := newSetup(t, s, "")
	su.sync(t)
	requireNothingToDo(t, su)
	local := localByUID(t, su, "INBOX")
	renameFlags(t, su, "INBOX", local[2].Key, "FS")
	seenIn(t, s, "Archive", 1, 9)
	errs := su.debugSync(t)
	if !strings.Contains(errs, `RETURN (STATUS) + SELECT (CONDSTORE)`) {
		t.Fatalf("INBOX was not opened with the listing:\n%s", errs)
	}
	if !strings.Contains(errs, `+ UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of Archive, INBOX"`) {
		t.Fatalf("the two folders were not surveyed for their plans:\n%s", errs)
	}
	if got := remoteFlags(t, s, "INBOX")[2]; got != model.Seen|model.Flagged {
		t.Fatalf("server uid 2: %s, want \\Seen \\Flagged", got)
	}
	if n := len(localByUID(t, su, "Archive")); n != 4 {
		t.Fatalf("Archive has %d messages locally, want 4", n)
	}
	requireNothingToDo(t, su)
	assertConverged(t, s, su, 9)
}

// TestSurveyedWithListing: local changes in two folders have both
// surveyed for their plans with the folder listing, in its round trip
// (the changes were known before the listing was sent): no survey of
// their own after it, only the verification's. With one connection, a
// local change in one folder alone opens it with the listing, as with
// more.
func TestSurveyedWithListing(t *testing.T) {
	s := dovecotServer(t)
	seenIn(t, s, "INBOX", 5, 11)
	seenIn(t, s, "Archive", 3, 12)
	su := newSetup(t, s, "")
	su.sync(t)
	requireNothingToDo(t, su)
	inbox, archive := localByUID(t, su, "INBOX"), localByUID(t, su, "Archive")
	renameFlags(t, su, "INBOX", inbox[2].Key, "FS")
	renameFlags(t, su, "Archive", archive[1].Key, "FS")
	errs := su.debugSync(t)
	const survey = `EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of Archive, INBOX`
	if !strings.Contains(errs, `RETURN (STATUS) + `+survey+`"`) || planSurveys(errs) != 0 {
		t.Fatalf("the two folders were not surveyed with the listing, and then only by the verification:\n%s", errs)
	}
	for folder, uid := range map[string]uint32{"INBOX": 2, "Archive": 1} {
		if got := remoteFlags(t, s, folder)[uid]; got != model.Seen|model.Flagged {
			t.Fatalf("%s server uid %d: %s, want \\Seen \\Flagged", folder, uid, got)
		}
	}
	requireNothingToDo(t, su)

	su.oneConnection(t)
	renameFlags(t, su, "INBOX", inbox[3].Key, "FS")
	errs = su.debugSync(t)
	if !strings.Contains(errs, `RETURN (STATUS) + SELECT (CONDSTORE) + UID SEARCH ALL`) || strings.Count(errs, "SELECT (CONDSTORE)") != 1 || planSurveys(errs) != 0 {
		t.Fatalf("one connection: INBOX was not opened with the listing, or surveyed for its plan:\n%s", errs)
	}
	requireNothingToDo(t, su)
	assertConverged(t, s, su, 8)
}

// TestOneConnectionMovedInFromLeftOut: with one connection, the one
// folder to sync is held from the listing to its execution; a file a mail
// client moved into it from a folder the run leaves out (-f) asks for no
// other connection meanwhile (a move is mirrored on the server only from
// a folder of the run): the sync ends, uploading the file as a copy, and
// the next full sync expunges the original.
func TestOneConnectionMovedInFromLeftOut(t *testing.T) {
	s := dovecotServer(t)
	seenIn(t, s, "INBOX", 4, 21)
	seenIn(t, s, "Archive", 3, 22)
	su := newSetup(t, s, "")
	su.oneConnection(t)
	su.sync(t)
	requireNothingToDo(t, su)
	moved := findFile(t, su, "Archive", localByUID(t, su, "Archive")[2].Key)
	must(t, os.Rename(moved, filepath.Join(su.maildir, "INBOX", "cur", filepath.Base(moved))))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-c", su.config, "-o", "-u", "basic", "-f", "INBOX", "--debug")
	var errs bytes.Buffer
	cmd.Stderr = &errs
	if err := cmd.Run(); err != nil {
		t.Fatalf("sync -f INBOX with one connection: %v (a context deadline means it hung)\n%s", err, errs.String())
	}
	if !strings.Contains(errs.String(), `RETURN (STATUS) + SELECT (CONDSTORE)`) {
		t.Fatalf("INBOX was not opened with the listing:\n%s", errs.String())
	}
	su.sync(t)
	requireNothingToDo(t, su)
	assertConverged(t, s, su, 7)
}

// planSurveys counts the surveys in a --debug log that are exchanges of
// their own (neither written behind the listing nor behind a folder's
// last command) and not the verification's: some other look at the
// server's folders than a survey comes after them (sessionCommand's do
// not count: a connection opened in the background greets at any time).
func planSurveys(log string) int {
	n, pending := 0, 0
	for _, command := range debugCommands(log) {
		switch {
		case sessionCommand(command):
		case strings.HasPrefix(command, "EXAMINE (CONDSTORE)") && isSurvey(command):
			pending++
		default:
			n, pending = n+pending, 0
		}
	}
	return n
}

// sessionCommand reports whether a command of a --debug log is about the
// connection rather than the folders: its set-up (TLS, the greeting, the
// capabilities, the login), its end, or an UNSELECT.
func sessionCommand(command string) bool {
	switch command {
	case "TLS handshake", "greeting", "CAPABILITY", "LOGOUT", "NOOP", "STARTTLS", "UNSELECT (answer not awaited)":
		return true
	}
	return strings.HasPrefix(command, "AUTHENTICATE ") || strings.HasPrefix(command, "LOGIN")
}

// isSurvey reports whether a command of a --debug log carries a survey
// (EXAMINE, UID SEARCH and UID FETCH … CHANGEDSINCE of some folders),
// alone or behind other commands.
func isSurvey(command string) bool {
	return strings.Contains(command, "EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of ")
}

// debugCommands lists the commands of a --debug log's "imap command"
// events, in order.
func debugCommands(log string) []string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, "DBG imap command ") {
			continue
		}
		_, rest, ok := strings.Cut(line, " command=")
		if !ok {
			continue
		}
		if strings.HasPrefix(rest, `"`) {
			if unq, err := strconv.QuotedPrefix(rest); err == nil {
				rest, _ = strconv.Unquote(unq)
			}
		} else {
			rest, _, _ = strings.Cut(rest, " ")
		}
		out = append(out, rest)
	}
	return out
}

// requireLastUseThenLogout fails the test unless, in a --debug log, the
// run's last look at the server's folders is a survey (the check after
// the sync, alone or behind a folder's last commands), and every
// connection logged in logged out.
func requireLastUseThenLogout(t *testing.T, log string) {
	t.Helper()
	last := ""
	for _, command := range debugCommands(log) {
		if !sessionCommand(command) {
			last = command
		}
	}
	if !isSurvey(last) {
		t.Errorf("the run's last command before its LOGOUTs was not the check after the sync: %q\n%s", last, log)
	}
	if in, out := strings.Count(log, "imap: logged in"), strings.Count(log, "command=LOGOUT"); in == 0 || out != in {
		t.Errorf("%d logins and %d LOGOUTs, want as many:\n%s", in, out, log)
	}
}

// TestVerificationSurveysFolders: the check after a sync looks at all the
// folders it synced together, one exchange per connection (EXAMINE and
// the listing of the changes of every folder written before any answer is
// read), and what it records still lets the next sync skip every one.
// Where the server seemed far (engine: surveysBehindFrom; a machine busy
// enough delays even a server on loopback's greetings past it), each
// executed folder's survey goes behind its execution instead: then every
// folder is to be surveyed once after its execution, either way.
func TestVerificationSurveysFolders(t *testing.T) {
	s := dovecotServer(t)
	folders := []string{"INBOX", "Lists/a", "Lists/b", "Sent", "Work"}
	for i, f := range folders {
		seenIn(t, s, f, 3+i, int64(20+i))
	}
	su := newSetup(t, s, "")
	code, out, errs := su.runSync(t, "--debug")
	if code != 0 {
		t.Fatalf("first sync exited %d:\n%s\n%s", code, out, errs)
	}
	var surveys []string
	for _, line := range strings.Split(errs, "\n") {
		if strings.Contains(line, `command="EXAMINE (CONDSTORE) + UID SEARCH ALL`) {
			surveys = append(surveys, line)
		}
	}
	// Surveys behind the executions: after another command in one
	// exchange, the listing's (the plan's) aside.
	var behind []string
	for _, line := range strings.Split(errs, "\n") {
		if strings.Contains(line, ` + EXAMINE (CONDSTORE) + UID SEARCH ALL`) && !strings.Contains(line, `command="LIST `) {
			behind = append(behind, line)
		}
	}
	named := 0
	for _, line := range append(surveys, behind...) {
		for _, f := range folders {
			if strings.Contains(line, " "+f+",") || strings.Contains(line, " "+f+`" `) {
				named++
			}
		}
	}
	if len(behind) > 0 {
		if named != len(folders) {
			t.Fatalf("the server seemed far (surveys behind the executions), and the folders were surveyed %d times after their executions, want once each (%d):\n%s",
				named, len(folders), strings.Join(append(surveys, behind...), "\n"))
		}
	} else if len(surveys) == 0 || len(surveys) > 2 || named != len(folders) {
		t.Fatalf("the check after the sync took %d exchanges naming %d of the %d folders, want at most one per connection (2) for all:\n%s",
			len(surveys), named, len(folders), strings.Join(surveys, "\n"))
	}
	// The check is the run's last use of the server: the connections log
	// out after it. Every connection is logged out before the process ends
	// (the LOGOUTs follow the check's answers or overlap the journal's
	// close, and are waited for).
	requireLastUseThenLogout(t, errs)
	if in := strings.Count(errs, "imap: logged in"); in < 2 { // each with its LOGOUT: requireLastUseThenLogout
		t.Errorf("the first sync logged in %d times, want at least 2:\n%s", in, errs)
	}
	code, out, errs = su.runSync(t, "--debug")
	if code != 0 || strings.Contains(errs, "folder synced in full") || strings.Contains(errs, `command="EXAMINE`) || strings.Contains(errs, `command="SELECT`) {
		t.Fatalf("the sync after the first one did not skip every folder (exit %d):\n%s\n%s", code, out, errs)
	}
	assertConverged(t, s, su, 3+4+5+6+7)
}

// seenInINBOX appends n sample messages (of seed) to the server's INBOX,
// each \Seen.
func seenInINBOX(t *testing.T, s server, n int, seed int64) { seenIn(t, s, "INBOX", n, seed) }

// seenIn is seenInINBOX into folder, created when missing.
func seenIn(t *testing.T, s server, folder string, n int, seed int64) {
	t.Helper()
	ctx := context.Background()
	store := s.dial(t)
	must(t, store.CreateFolder(ctx, folder))
	f, err := store.SelectFolder(ctx, folder)
	must(t, err)
	defer f.Close()
	for _, m := range sample.Messages(folder, n, seed) {
		_, err := f.Append(ctx, int64(len(m.Body)), bytes.NewReader(m.Body), model.Seen, m.Date)
		must(t, err)
	}
}

// TestUploadsGoWithFlagStores: a folder with new local messages, a local
// flag change and a local deletion sends its upload batch, its flag store
// and its \Deleted mark in one exchange (adapters.BatchAppendStorer), the
// expunge after them; both sides end alike, and the next sync has nothing
// to do.
func TestUploadsGoWithFlagStores(t *testing.T) {
	s := dovecotServer(t)
	seenInINBOX(t, s, 4, 31)
	su := newSetup(t, s, "")
	su.sync(t)
	ctx := context.Background()
	f, err := su.local(t).Folder("INBOX")
	must(t, err)
	byUID := localByUID(t, su, "INBOX")
	must(t, f.SetFlags(ctx, byUID[1].Key, model.Seen|model.Flagged))
	must(t, f.Delete(ctx, byUID[2].Key))
	for i, m := range sample.Messages("INBOX", 2, 32) {
		name := filepath.Join(su.maildir, "INBOX", "new", fmt.Sprintf("1700000000.joined%d.test", i))
		must(t, os.WriteFile(name, bytes.ReplaceAll(m.Body, []byte("\r\n"), []byte("\n")), 0o600))
	}
	errs := su.debugSync(t)
	// The folder's last use of the server: the verification's survey goes
	// behind the expunge, the LOGOUT after it.
	want := `command="MULTIAPPEND (2 messages) + UID STORE +FLAGS.SILENT (\\Flagged) + UID STORE +FLAGS.SILENT (\\Deleted), then UID EXPUNGE` +
		` + EXAMINE (CONDSTORE) + UID SEARCH ALL + UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) (CHANGEDSINCE n), of INBOX"`
	if !strings.Contains(errs, want) {
		t.Errorf("the sync's log has no %s:\n%s", want, errs)
	}
	requireLastUseThenLogout(t, errs)
	assertConverged(t, s, su, 5)
	if got := remoteFlags(t, s, "INBOX")[1]; got != model.Seen|model.Flagged {
		t.Errorf("server UID 1: %s, want \\Seen \\Flagged", got)
	}
	if out := su.sync(t); strings.Contains(out, "upload") || strings.Contains(out, "fetch") {
		t.Errorf("the next sync did more:\n%s", out)
	}
}
