package adapters

import (
	"bufio"
	"bytes"
	"context"
	"io"
)

// HeaderFetcher is implemented by remote folders that can fetch a few
// header fields of some messages without their bodies (IMAP's
// BODY.PEEK[HEADER.FIELDS (...)]). Previews and the journal use it to name
// the messages an operation is about. It is optional: a caller falls back
// to Fetch when a folder does not implement it.
type HeaderFetcher interface {
	// FetchHeaderFields calls fn with the header block (only the named
	// fields, CRLF or LF line ends) of each of uids that still exists, in
	// ascending UID order. It never sets \Seen.
	FetchHeaderFields(ctx context.Context, uids []uint32, fields []string, fn func(uid uint32, header []byte) error) error
}

// HeaderReader is implemented by local folders that can read a message's
// header section without reading its body. Optional, like HeaderFetcher.
type HeaderReader interface {
	// ReadHeader returns the header section of message key (up to
	// MaxHeader bytes, line ends as stored); ErrNoMessage when key is gone.
	ReadHeader(ctx context.Context, key string) ([]byte, error)
}

// MaxHeader bounds how much of a message ReadHeaderSection reads.
const MaxHeader = 64 << 10

// ReadHeaderSection reads a message's header section from r, line by line
// up to the empty line that ends it (at most MaxHeader bytes): the body is
// not read.
func ReadHeaderSection(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxHeader), 4096)
	var buf []byte
	for {
		line, err := br.ReadSlice('\n')
		if len(bytes.TrimRight(line, "\r\n")) == 0 && (len(line) > 0 || err != nil) {
			return buf, nil
		}
		buf = append(buf, line...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}
