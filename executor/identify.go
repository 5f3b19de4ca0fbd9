package executor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"net/textproto"
	"strings"

	"mailtrail/model"
)

// findUploaded looks for the server copy of local message op.Key at or
// above op.MinUID (the UIDNEXT before the append) and not in taken. It is
// how an append is confirmed without UIDPLUS, and how an append
// interrupted by a crash is found again instead of being repeated.
//
// First exactly: the same size and Message-ID (FindByIdentity), then the
// same bytes (the candidates' bodies are fetched and hashed). Size and
// Message-ID alone are not enough: two messages without Message-ID and of
// one size (reports from one robot) would be told apart by nothing, and
// pairing the wrong one makes both sides miss a message for good.
//
// Then, when nothing matches exactly, by content alone: a server may store
// a message not quite as sent (Dovecot turns CR CR LF into CR LF), so its
// size differs. Every message at or above the UID is compared with CR
// runs before LF removed, the way a Maildir stores it. loose, when not
// nil, caches those hashes for several calls (Recover: nothing is
// appended meanwhile); nil lists the server afresh.
//
// Among identical copies, the one with op.Flags, then the highest UID (the
// latest append) wins. It returns 0 and no error when nothing matches.
func (e *Executor) findUploaded(ctx context.Context, p *Pair, op model.Op, taken map[uint32]model.StatusRow, loose *serverCopies) (uint32, error) {
	r, size, _, err := p.LocalFolder.OpenForUpload(ctx, op.Key)
	if err != nil {
		return 0, err
	}
	msgID := messageID(r)
	r.Close()
	exact, norm, err := localDigests(ctx, p, op.Key)
	if err != nil {
		return 0, err
	}
	uids, err := p.RemoteFolder.FindByIdentity(ctx, op.MinUID, size, msgID)
	if err != nil {
		return 0, fmt.Errorf("look for uploaded message in %q: %w", p.Name, err)
	}
	var cands []uint32
	for _, u := range uids {
		if _, ok := taken[u]; !ok && u != 0 {
			cands = append(cands, u)
		}
	}
	var pick picker
	if len(cands) > 0 {
		err = p.RemoteFolder.Fetch(ctx, cands, func(m model.RemoteMsg, body io.Reader) error {
			h := sha256.New()
			if _, err := io.Copy(h, body); err != nil {
				return err
			}
			if bytes.Equal(h.Sum(nil), exact) {
				pick.offer(m.UID, m.Flags, op.Flags)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("compare uploaded message candidates in %q: %w", p.Name, err)
		}
	}
	if pick.uid != 0 {
		return pick.uid, nil
	}
	if loose == nil {
		loose = &serverCopies{minUID: op.MinUID}
	}
	if err := loose.load(ctx, p); err != nil {
		return 0, err
	}
	for _, m := range loose.byHash[string(norm)] {
		if _, ok := taken[m.UID]; !ok && m.UID >= op.MinUID {
			pick.offer(m.UID, m.Flags, op.Flags)
		}
	}
	if pick.uid != 0 || msgID == "" {
		return pick.uid, nil
	}
	// Last, by Message-ID alone, when exactly one unpaired message above
	// the UID carries it: a server may rewrite what it stores (add a
	// header, re-encode), and appending again would duplicate the message.
	var only []uint32
	for _, m := range loose.byMsgID[msgID] {
		if _, ok := taken[m.UID]; !ok && m.UID >= op.MinUID {
			only = append(only, m.UID)
		}
	}
	if len(only) == 1 {
		return only[0], nil
	}
	return 0, nil
}

// picker chooses among identical copies: the one whose flags are those
// uploaded, then the highest UID.
type picker struct {
	uid       uint32
	sameFlags bool
}

func (p *picker) offer(uid uint32, flags, want model.Flags) {
	same := flags == want
	if p.uid == 0 || (same && !p.sameFlags) || (same == p.sameFlags && uid > p.uid) {
		p.uid, p.sameFlags = uid, same
	}
}

// serverCopies are a server folder's messages at or above minUID, by the
// hash of their content with CR runs before LF removed.
type serverCopies struct {
	minUID  uint32
	loaded  bool
	byHash  map[string][]model.RemoteMsg
	byMsgID map[string][]model.RemoteMsg
}

func (c *serverCopies) load(ctx context.Context, p *Pair) error {
	if c.loaded {
		return nil
	}
	msgs, err := p.RemoteFolder.List(ctx)
	if err != nil {
		return fmt.Errorf("list %q to look for uploaded messages: %w", p.Name, err)
	}
	var uids []uint32
	for _, m := range msgs {
		if m.UID >= c.minUID {
			uids = append(uids, m.UID)
		}
	}
	c.byHash = map[string][]model.RemoteMsg{}
	c.byMsgID = map[string][]model.RemoteMsg{}
	if len(uids) > 0 {
		flags := make(map[uint32]model.Flags, len(msgs))
		for _, m := range msgs {
			flags[m.UID] = m.Flags
		}
		err = p.RemoteFolder.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
			h := newNormHash()
			br := bufio.NewReader(io.TeeReader(body, h))
			hdr, _ := textproto.NewReader(br).ReadMIMEHeader()
			if _, err := io.Copy(io.Discard, br); err != nil {
				return err
			}
			k := string(h.Sum())
			rm := model.RemoteMsg{UID: m.UID, Flags: flags[m.UID]}
			c.byHash[k] = append(c.byHash[k], rm)
			if id := strings.TrimSpace(hdr.Get("Message-Id")); id != "" {
				c.byMsgID[id] = append(c.byMsgID[id], rm)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read %q to look for uploaded messages: %w", p.Name, err)
		}
	}
	c.loaded = true
	return nil
}

// localDigests hashes a local message in wire form: exactly, and with CR
// runs before LF removed.
func localDigests(ctx context.Context, p *Pair, key string) (exact, norm []byte, err error) {
	r, _, _, err := p.LocalFolder.OpenForUpload(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	h, n := sha256.New(), newNormHash()
	if _, err := io.Copy(io.MultiWriter(h, n), r); err != nil {
		return nil, nil, fmt.Errorf("read local message %q: %w", key, err)
	}
	return h.Sum(nil), n.Sum(), nil
}

// normHash is a SHA-256 of a stream with every run of CRs just before an
// LF left out: "a\r\r\nb" and "a\r\nb" and "a\nb" hash alike; a CR
// elsewhere counts.
type normHash struct {
	h   hash.Hash
	crs int // CRs seen and not yet written
	buf []byte
}

func newNormHash() *normHash { return &normHash{h: sha256.New()} }

func (n *normHash) Write(p []byte) (int, error) {
	out := n.buf[:0]
	for _, b := range p {
		switch b {
		case '\r':
			n.crs++
			continue
		case '\n':
			n.crs = 0
		default:
			for ; n.crs > 0; n.crs-- {
				out = append(out, '\r')
			}
		}
		out = append(out, b)
	}
	n.h.Write(out)
	n.buf = out
	return len(p), nil
}

// Sum ends the stream (CRs at its very end count) and returns the hash.
func (n *normHash) Sum() []byte {
	for ; n.crs > 0; n.crs-- {
		n.h.Write([]byte{'\r'})
	}
	return n.h.Sum(nil)
}
