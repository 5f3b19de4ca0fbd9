package memstore

import (
	"bytes"
	"context"
	"strings"

	"mailtrail/adapters"
)

var _ adapters.HeaderFetcher = (*RemoteFolder)(nil)

// FetchHeaderFields returns the named header fields of each of uids that
// exists, in ascending UID order, as an IMAP server answers
// BODY.PEEK[HEADER.FIELDS (...)].
func (f *RemoteFolder) FetchHeaderFields(ctx context.Context, uids []uint32, fields []string, fn func(uid uint32, header []byte) error) error {
	want := map[uint32]bool{}
	for _, u := range uids {
		want[u] = true
	}
	rf, err := f.lock(ctx)
	if err != nil {
		return err
	}
	type hit struct {
		uid    uint32
		header []byte
	}
	var hits []hit
	for _, u := range rf.sortedUIDs() {
		if want[u] {
			hits = append(hits, hit{u, headerFields(rf.msgs[u].body, fields)})
		}
	}
	f.store.mu.Unlock()
	for _, h := range hits {
		if err := fn(h.uid, h.header); err != nil {
			return err
		}
	}
	return nil
}

// headerFields copies the fields of msg's header section whose names are in
// fields (with their continuation lines), then an empty line.
func headerFields(msg []byte, fields []string) []byte {
	var out bytes.Buffer
	keep := false
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i+1], msg[i+1:]
		} else {
			msg = nil
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			break
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if keep {
				out.Write(trimmed)
				out.WriteString("\r\n")
			}
			continue
		}
		keep = false
		if i := bytes.IndexByte(trimmed, ':'); i > 0 {
			name := strings.TrimSpace(string(trimmed[:i]))
			for _, f := range fields {
				if strings.EqualFold(name, f) {
					keep = true
				}
			}
		}
		if keep {
			out.Write(trimmed)
			out.WriteString("\r\n")
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

var _ adapters.HeaderReader = (*LocalFolder)(nil)

// ReadHeader returns the header section of local message key as stored.
func (f *LocalFolder) ReadHeader(ctx context.Context, key string) ([]byte, error) {
	lf, err := f.lock(ctx)
	if err != nil {
		return nil, err
	}
	m, err := lf.messageLocked(key)
	var body []byte
	if err == nil {
		body = m.body
	}
	f.store.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return adapters.ReadHeaderSection(bytes.NewReader(body))
}
