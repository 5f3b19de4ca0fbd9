package imap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"mailtrail/adapters"
	"mailtrail/internal/faultinject"
	"mailtrail/internal/utf7"
	"mailtrail/model"
)

// MULTIAPPEND (RFC 3502) stores several messages with one APPEND command,
// in one transaction: Dovecot takes about as long for 200 messages as for
// one when the folder holds 100,000 (its index and UID list are updated
// once). go-imap has no MULTIAPPEND, so the command is written and its
// answer read here, on the connection's borrowed stream (takeover.go).

var _ adapters.BatchAppender = (*Folder)(nil)

// dateTimeLayout is IMAP's date-time (RFC 3501), day padded with a space.
const dateTimeLayout = "_2-Jan-2006 15:04:05 -0700"

// CanAppendBatch reports whether the server has MULTIAPPEND and UIDPLUS
// (without UIDs, each message of a batch would have to be looked for).
func (f *Folder) CanAppendBatch() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.mailboxArg()
	return ok && !f.closed && f.conn.caps.Has(imap.CapMultiAppend) && f.conn.caps.Has(imap.CapUIDPlus)
}

// mailboxArg is the folder's name as a command argument: INBOX, or a quoted
// string in modified UTF-7 (UTF-8 on an IMAP4rev2 server, as go-imap
// sends it). ok is false for a name that would need a literal.
func (f *Folder) mailboxArg() (string, bool) {
	name := f.server
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", true
	}
	if f.conn.caps.Has(imap.CapIMAP4rev2) {
		name = strings.ReplaceAll(name, "&", "&-")
	} else {
		name = utf7.Encode(name)
	}
	if strings.ContainsAny(name, "\x00\r\n") {
		return "", false
	}
	return quoted(name), true
}

func quoted(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// AppendBatch stores msgs with one MULTIAPPEND and returns their UIDs from
// APPENDUID, in order (nil when the server sent none, or a set of another
// size). It returns adapters.ErrUnsupported, having sent nothing, when
// CanAppendBatch is false. A body that is not exactly its size closes the
// connection before the command ends (the server stores none of the
// messages) and is returned as that message's error.
func (f *Folder) AppendBatch(ctx context.Context, msgs []adapters.AppendMsg) ([]uint32, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	if err := f.refuseReadOnly("MULTIAPPEND"); err != nil {
		return nil, err
	}
	if !f.CanAppendBatch() {
		return nil, fmt.Errorf("%s: folder %q: MULTIAPPEND: %w", f.store.name, f.name, adapters.ErrUnsupported)
	}
	var uids []uint32
	err := f.do(ctx, fmt.Sprintf("MULTIAPPEND (%d messages)", len(msgs)), func(c *conn) error {
		mailbox, _ := f.mailboxArg()
		err := c.borrowed(func(r *bufio.Reader, w *bufio.Writer) ([]byte, error) {
			ma := &multiAppend{c: c, r: r, w: w, tag: c.nextTag()}
			var err error
			uids, err = ma.run(mailbox, msgs)
			var be *bodyError
			if errors.As(err, &be) {
				// The literal is incomplete: only closing the connection
				// ends the command without storing anything.
				c.markBroken(err)
			}
			return ma.forward, err
		})
		if err == nil {
			faultinject.Step(faultinject.Effect, "imap MULTIAPPEND")
		}
		return err
	})
	return uids, err
}

var _ adapters.BatchAppendStorer = (*Folder)(nil)

// AppendBatchWith implements adapters.BatchAppendStorer: the MULTIAPPEND of
// msgs and the UID STOREs of changes and of expunge's \Deleted marks (as
// StoreFlagsAndExpunge makes them) are all written on the borrowed stream
// before any answer is read, one round trip; then the UID EXPUNGEs of the
// sets marked, through go-imap, as StoreFlagsAndExpunge sends them. The
// stores are not sent with the batch (sent is false, nothing of them
// done) when they could not all be pipelined (storeWaves), or when the
// server refused the batch before its last message was sent (a
// synchronising literal refused): the caller sends them on their own.
func (f *Folder) AppendBatchWith(ctx context.Context, msgs []adapters.AppendMsg, changes []adapters.FlagChange, expunge []uint32) (uids []uint32, appendErr error, sent bool, err error) {
	uids, appendErr, sent, err, _ = f.appendBatchWith(ctx, msgs, changes, expunge, nil)
	return uids, appendErr, sent, err
}

var _ adapters.SurveyingBatchAppendStorer = (*Folder)(nil)

// AppendBatchWithSurveying implements adapters.SurveyingBatchAppendStorer:
// AppendBatchWith, with the folder's survey (ownSurvey) written right
// behind the UID EXPUNGEs that follow the borrowed exchange, before their
// answers are read, as StoreFlagsAndExpungeSurveying writes it. Only
// where there is an expunge (the MULTIAPPEND and the stores go on the
// borrowed stream, which nothing can follow before their answers) and
// the server has CONDSTORE, and only once the stores went with the
// batch: otherwise it is AppendBatchWith, the survey's error wrapping
// adapters.ErrUnsupported, and the folder stays usable.
func (f *Folder) AppendBatchWithSurveying(ctx context.Context, msgs []adapters.AppendMsg, changes []adapters.FlagChange, expunge []uint32, since uint64, leave bool) (uids []uint32, appendErr error, sent bool, err error, survey adapters.ChangeSurvey) {
	if len(expunge) == 0 || !f.store.hasCondStore() {
		uids, appendErr, sent, err = f.AppendBatchWith(ctx, msgs, changes, expunge)
		survey = noSurvey(f.store)
		if f.store.hasCondStore() {
			survey.Err = fmt.Errorf("%s: no expunge to write the survey behind: %w", f.store.name, adapters.ErrUnsupported)
		}
		return uids, appendErr, sent, err, survey
	}
	return f.appendBatchWith(ctx, msgs, changes, expunge, &surveyWish{since: since, leave: leave})
}

// surveyWish is the survey appendBatchWith is asked to write behind the
// expunges.
type surveyWish struct {
	since uint64
	leave bool
}

// appendBatchWith is AppendBatchWith, with wish's survey behind the
// expunges when there are some and the stores went with the batch.
func (f *Folder) appendBatchWith(ctx context.Context, msgs []adapters.AppendMsg, changes []adapters.FlagChange, expunge []uint32, wish *surveyWish) (uids []uint32, appendErr error, sent bool, err error, survey adapters.ChangeSurvey) {
	survey = adapters.ChangeSurvey{Err: fmt.Errorf("%s: the survey was not written behind the batch: %w", f.store.name, adapters.ErrUnsupported)}
	if len(msgs) == 0 || !f.CanAppendBatch() || f.readOnly {
		uids, appendErr = f.AppendBatch(ctx, msgs)
		return uids, appendErr, false, nil, survey
	}
	names, stores, err := flagStores(changes)
	if err != nil {
		uids, appendErr = f.AppendBatch(ctx, msgs)
		return uids, appendErr, false, nil, survey // StoreFlagsAndExpunge reports it, sending nothing
	}
	firstMark := len(stores)
	if len(expunge) > 0 {
		_, marks, _ := flagStores([]adapters.FlagChange{{UIDs: expunge, Add: model.Deleted}})
		stores = append(stores, marks...)
		names = append(names, "UID STORE +FLAGS.SILENT (\\Deleted), then UID EXPUNGE")
	}
	if len(stores) == 0 || len(storeWaves(stores)) > 1 {
		uids, appendErr = f.AppendBatch(ctx, msgs)
		return uids, appendErr, false, nil, survey
	}
	batch := fmt.Sprintf("MULTIAPPEND (%d messages)", len(msgs))
	if len(msgs) == 1 {
		batch = "MULTIAPPEND (1 message)"
	}
	command := batch + " + " + strings.Join(names, " + ")
	var own *ownSurvey
	if wish != nil {
		command += " + " + surveyCommand([]string{f.name})
	}
	var storeErr error
	err = f.do(ctx, command, func(c *conn) error {
		mailbox, _ := f.mailboxArg()
		ma := &multiAppend{c: c, tag: c.nextTag()}
		for _, st := range stores {
			ma.then = append(ma.then, &rawCommand{tag: c.nextTag(), line: storeLine(st)})
		}
		var runErr error
		err := c.borrowed(func(r *bufio.Reader, w *bufio.Writer) ([]byte, error) {
			ma.r, ma.w = r, w
			uids, runErr = ma.run(mailbox, msgs)
			var be *bodyError
			if errors.As(runErr, &be) {
				c.markBroken(runErr)
			}
			if runErr != nil && !isServerRefusal(runErr) {
				return ma.forward, runErr // the connection's: nothing is known
			}
			return ma.forward, nil
		})
		if err != nil {
			return err
		}
		appendErr = runErr
		if appendErr == nil {
			faultinject.Step(faultinject.Effect, "imap MULTIAPPEND")
		}
		if !ma.then[0].sent {
			return nil // refused before the stores went out
		}
		sent = true
		var errs []error
		var marked []imap.UIDSet
		for i, rc := range ma.then {
			switch {
			case rc.err != nil:
				errs = append(errs, rc.err)
			case i >= firstMark:
				faultinject.Step(faultinject.Effect, "imap UID STORE")
				marked = append(marked, stores[i].set)
			default:
				faultinject.Step(faultinject.Effect, "imap UID STORE")
			}
		}
		if wish == nil {
			storeErr = expungeMarked(c, errs, marked, true)
			return nil
		}
		own = f.newOwnSurvey(wish.since, wish.leave)
		finish := expungeSurveyed(c, errs, marked, true, len(expunge))
		return own.send(c)(func(a *folderAnswer) error {
			storeErr = finish(a)
			return nil
		})
	})
	if own != nil {
		survey, _, _ = own.result(err)
	}
	if err != nil {
		return nil, err, sent, err, survey
	}
	if appendErr != nil {
		appendErr = f.errorf(command, appendErr)
	}
	if storeErr != nil {
		storeErr = f.errorf(command, storeErr)
	}
	return uids, appendErr, sent, storeErr, survey
}

// storeLine is st as a command line without its tag.
func storeLine(st flagStore) string {
	op := "+FLAGS.SILENT"
	if !st.add {
		op = "-FLAGS.SILENT"
	}
	return "UID STORE " + st.set.String() + " " + op + " (" + strings.Join(st.changed.IMAPNames(), " ") + ")"
}

// nextTag is a tag for a command sent on the borrowed stream; go-imap's
// own tags are "T<n>".
func (c *conn) nextTag() string {
	c.rawTags++
	return "MT" + strconv.FormatUint(c.rawTags, 10)
}

// untaggedFetch matches an untagged FETCH response.
var untaggedFetch = regexp.MustCompile(`^\* [0-9]+ FETCH `)

// multiAppend is one MULTIAPPEND exchange.
type multiAppend struct {
	c       *conn
	r       *bufio.Reader
	w       *bufio.Writer
	tag     string
	forward []byte // untagged responses, for go-imap
	// then are commands written right behind the APPEND, before any
	// answer is read (AppendBatchWith); run reads their answers too.
	then []*rawCommand
}

// rawCommand is a command written on the borrowed stream and its answer.
type rawCommand struct {
	tag, line string
	sent      bool  // written (run wrote the APPEND to its end)
	answered  bool  // its tagged answer came
	err       error // the answer's refusal (*imap.Error), when it was one
}

func (ma *multiAppend) run(mailbox string, msgs []adapters.AppendMsg) ([]uint32, error) {
	litPlus := ma.c.caps.Has(imap.CapLiteralPlus)
	litMinus := ma.c.caps.Has(imap.CapLiteralMinus)
	ma.w.WriteString(ma.tag + " APPEND " + mailbox)
	for _, m := range msgs {
		ma.w.WriteByte(' ')
		if names := m.Flags.IMAPNames(); len(names) > 0 {
			ma.w.WriteString("(" + strings.Join(names, " ") + ") ")
		}
		if !m.Date.IsZero() {
			ma.w.WriteString(`"` + m.Date.Format(dateTimeLayout) + `" `)
		}
		if litPlus || (litMinus && m.Size <= 4096) {
			fmt.Fprintf(ma.w, "{%d+}\r\n", m.Size)
		} else {
			fmt.Fprintf(ma.w, "{%d}\r\n", m.Size)
			if err := ma.w.Flush(); err != nil {
				return nil, err
			}
			// The server says go on, or refuses the command here.
			line, err := ma.next()
			if err != nil {
				return nil, err
			}
			if line[0] != '+' {
				return ma.tagged(line, len(msgs))
			}
		}
		if err := copyBody(ma.w, m.Body, m.Size); err != nil {
			return nil, err
		}
	}
	ma.w.WriteString("\r\n")
	for _, rc := range ma.then {
		ma.w.WriteString(rc.tag + " " + rc.line + "\r\n")
		rc.sent = true
	}
	if err := ma.w.Flush(); err != nil {
		return nil, err
	}
	var line string
	for line == "" { // "": the answer to one of then
		var err error
		if line, err = ma.next(); err != nil {
			return nil, err
		}
	}
	if line[0] == '+' {
		return nil, fmt.Errorf("MULTIAPPEND: the server asked for more after the last message")
	}
	for _, rc := range ma.then {
		for !rc.answered {
			l, err := ma.next()
			if err != nil {
				return nil, err
			}
			if l != "" {
				return nil, fmt.Errorf("MULTIAPPEND: unexpected response from the server: %.80q", l)
			}
		}
	}
	return ma.tagged(line, len(msgs))
}

// next reads responses until a continuation request ("+") or the tagged
// answer, whose first line it returns (without CRLF), or the tagged answer
// to one of then, which it records and returns "" for; untagged responses
// are kept for go-imap.
func (ma *multiAppend) next() (string, error) {
	for {
		resp, err := readResponse(ma.r)
		if err != nil {
			return "", fmt.Errorf("MULTIAPPEND: %w", err)
		}
		switch {
		case untaggedFetch.Match(resp):
			// The stores' own FETCH responses (CONDSTORE names each
			// message's new MODSEQ even for a silent store), or another
			// session's flag change: nothing go-imap asked for, and handed
			// back to it they would meet the commands written next (a
			// survey's UID FETCH 1:* takes any FETCH response of its UIDs
			// as its own).
		case bytes.HasPrefix(resp, []byte("* ")):
			ma.forward = append(ma.forward, resp...)
		case resp[0] == '+' || bytes.HasPrefix(resp, []byte(ma.tag+" ")):
			return strings.TrimRight(string(resp), "\r\n"), nil
		default:
			rc := ma.answerTo(resp)
			if rc == nil {
				return "", fmt.Errorf("MULTIAPPEND: unexpected response from the server: %.80q", resp)
			}
			rc.answered = true
			rc.err = taggedError(strings.TrimPrefix(strings.TrimRight(string(resp), "\r\n"), rc.tag+" "))
			if errors.Is(rc.err, errNotAStatus) {
				return "", fmt.Errorf("MULTIAPPEND: unexpected answer from the server: %.80q", resp)
			}
			return "", nil
		}
	}
}

// answerTo is the command of then that resp is the tagged answer to, nil
// when it is none's.
func (ma *multiAppend) answerTo(resp []byte) *rawCommand {
	for _, rc := range ma.then {
		if rc.sent && !rc.answered && bytes.HasPrefix(resp, []byte(rc.tag+" ")) {
			return rc
		}
	}
	return nil
}

// errNotAStatus: a tagged answer that is none of OK, NO and BAD.
var errNotAStatus = errors.New("not a status response")

// taggedParts splits a tagged answer without its tag ("NO [CODE args]
// text") into its status (upper case), its response code, the code's
// arguments and its text.
func taggedParts(answer string) (status, code, args, text string) {
	status, text, _ = strings.Cut(answer, " ")
	if strings.HasPrefix(text, "[") {
		if end := strings.IndexByte(text, ']'); end > 0 {
			code, args, _ = strings.Cut(text[1:end], " ")
			text = strings.TrimSpace(text[end+1:])
		}
	}
	return strings.ToUpper(status), code, args, text
}

// taggedError is the error a tagged answer (without its tag) stands for:
// nil for OK, an *imap.Error for NO and BAD, errNotAStatus otherwise.
func taggedError(answer string) error {
	status, code, _, text := taggedParts(answer)
	switch status {
	case "OK":
		return nil
	case "NO", "BAD":
		return &imap.Error{Type: imap.StatusResponseType(status), Code: imap.ResponseCode(code), Text: text}
	}
	return errNotAStatus
}

// tagged reads the tagged answer to the command: the UIDs of APPENDUID
// when it is OK (nil when they are not there, or not count of them), the
// server's refusal (*imap.Error) otherwise.
func (ma *multiAppend) tagged(line string, count int) ([]uint32, error) {
	answer := strings.TrimPrefix(line, ma.tag+" ")
	if err := taggedError(answer); errors.Is(err, errNotAStatus) {
		return nil, fmt.Errorf("MULTIAPPEND: unexpected answer from the server: %.80q", line)
	} else if err != nil {
		return nil, err
	}
	_, code, args, _ := taggedParts(answer)
	if !strings.EqualFold(code, "APPENDUID") {
		return nil, nil
	}
	_, set, _ := strings.Cut(args, " ")
	uids := parseUIDList(set)
	if len(uids) != count {
		return nil, nil
	}
	return uids, nil
}

// parseUIDList expands a UID set ("4,7:9") in its order; nil when it is
// not one.
func parseUIDList(set string) []uint32 {
	var out []uint32
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil || a == 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 32); err != nil || b == 0 {
				return nil
			}
		}
		if b < a {
			a, b = b, a
		}
		if b-a > 1<<20 {
			return nil
		}
		for u := a; u <= b; u++ {
			out = append(out, uint32(u))
		}
	}
	return out
}
