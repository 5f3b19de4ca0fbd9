// Package converge checks that a server and a Maildir hold the same mail:
// per folder, the same messages (by Message-ID, or by content hash when a
// message has none) with the same flags, and no duplicates. Tests, the demo
// and benchmarks use it; it only reads.
package converge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/textproto"
	"sort"
	"strings"

	"mailtrail/adapters"
	"mailtrail/model"
)

// Summary is what Check found.
type Summary struct {
	Folders  int
	Messages int // per side
	// Diffs lists every disagreement in plain words; empty when the sides
	// agree.
	Diffs []string
}

// OK reports whether the sides agree.
func (s Summary) OK() bool { return len(s.Diffs) == 0 }

// Check compares every folder of both stores.
func Check(ctx context.Context, remote adapters.Remote, local adapters.Local) (Summary, error) {
	var sum Summary
	rl, err := remote.ListFolders(ctx)
	if err != nil {
		return sum, err
	}
	ll, err := local.ListFolders(ctx)
	if err != nil {
		return sum, err
	}
	names := map[string]int{}
	for _, f := range rl {
		if !f.NoSelect {
			names[f.Name] |= 1
		}
	}
	for _, f := range ll {
		names[f] |= 2
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		sum.Folders++
		var r, l map[string]int
		if names[n]&1 != 0 {
			if r, err = RemoteIdentities(ctx, remote, n); err != nil {
				return sum, err
			}
		}
		if names[n]&2 != 0 {
			if l, err = LocalIdentities(ctx, local, n); err != nil {
				return sum, err
			}
		}
		for id, c := range r {
			sum.Messages += c
			if c > 1 {
				sum.Diffs = append(sum.Diffs, fmt.Sprintf("%s: %s is %d times on the server", n, id, c))
			}
			if l[id] != c {
				sum.Diffs = append(sum.Diffs, fmt.Sprintf("%s: %s: server has %d, Maildir has %d", n, id, c, l[id]))
			}
		}
		for id, c := range l {
			if c > 1 {
				sum.Diffs = append(sum.Diffs, fmt.Sprintf("%s: %s is %d times in the Maildir", n, id, c))
			}
			if _, ok := r[id]; !ok {
				sum.Diffs = append(sum.Diffs, fmt.Sprintf("%s: %s: only in the Maildir", n, id))
			}
		}
	}
	sort.Strings(sum.Diffs)
	return sum, nil
}

// RemoteIdentities counts the messages of a server folder by "identity
// flags" strings.
func RemoteIdentities(ctx context.Context, remote adapters.Remote, folder string) (map[string]int, error) {
	rf, err := remote.SelectFolder(ctx, folder)
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	msgs, err := rf.List(ctx)
	if err != nil {
		return nil, err
	}
	flags := map[uint32]model.Flags{}
	uids := make([]uint32, 0, len(msgs))
	for _, m := range msgs {
		flags[m.UID] = m.Flags
		uids = append(uids, m.UID)
	}
	out := map[string]int{}
	err = rf.Fetch(ctx, uids, func(m model.RemoteMsg, body io.Reader) error {
		id, err := Identity(body)
		if err != nil {
			return err
		}
		out[id+" "+flags[m.UID].String()]++
		return nil
	})
	return out, err
}

// LocalIdentities counts the messages of a local folder the same way.
func LocalIdentities(ctx context.Context, local adapters.Local, folder string) (map[string]int, error) {
	lf, err := local.OpenFolder(ctx, folder)
	if err != nil {
		return nil, err
	}
	msgs, err := lf.Scan(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range msgs {
		r, _, _, err := lf.OpenForUpload(ctx, m.Key)
		if err != nil {
			return nil, err
		}
		id, err := Identity(r)
		r.Close()
		if err != nil {
			return nil, err
		}
		out[id+" "+m.Flags.String()]++
	}
	return out, nil
}

// Identity names a message by its Message-ID, and always by a hash of its
// bytes too, so that two different messages sharing a Message-ID stay
// apart. The hash is over the bytes with every run of CRs before an LF
// removed: a Maildir stores LF line ends, so "\r\r\n" on the server and
// "\r\n" in a file are the same message.
func Identity(body io.Reader) (string, error) {
	raw, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	hdr, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	h := sha256.Sum256(normalize(raw))
	id := strings.TrimSpace(hdr.Get("Message-Id"))
	return id + "#" + hex.EncodeToString(h[:])[:12], nil
}

func normalize(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' {
			j := i
			for j < len(b) && b[j] == '\r' {
				j++
			}
			if j < len(b) && b[j] == '\n' {
				i = j - 1
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}
