package imap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// go-imap has no way to send a command it does not know (MULTIAPPEND,
// RFC 3502, is one). switchConn lets the adapter borrow the connection's
// byte stream between two of go-imap's commands: go-imap's reader is
// parked in Read, the adapter writes its command and reads the answer
// itself, and what the server sent that is not the answer (untagged
// responses such as EXISTS) is handed back to go-imap when it is let go.
//
// It sits directly below go-imap and above TLS: it sees clear text (which
// is why STARTTLS is negotiated by the adapter, starttls.go).

// switchConn is a net.Conn that can be borrowed from go-imap.
type switchConn struct {
	net.Conn // the clear-text stream (TCP, or TLS over TCP)

	mu        sync.Mutex
	cond      *sync.Cond
	borrowing bool      // a borrower wants go-imap's reader out of the way
	parked    bool      // go-imap's reader waits in Read
	deadline  time.Time // the read deadline go-imap last asked for
	pending   []byte    // bytes for go-imap, read while borrowed
}

func newSwitchConn(c net.Conn) *switchConn {
	s := &switchConn{Conn: c}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Read is go-imap's: while the stream is borrowed it waits; afterwards it
// first returns what the borrower handed back.
func (s *switchConn) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		for s.borrowing {
			s.parked = true
			s.cond.Broadcast()
			s.cond.Wait()
		}
		s.parked = false
		if len(s.pending) > 0 {
			n := copy(p, s.pending)
			s.pending = s.pending[n:]
			s.mu.Unlock()
			return n, nil
		}
		s.mu.Unlock()
		n, err := s.Conn.Read(p)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			s.mu.Lock()
			borrowing := s.borrowing
			s.mu.Unlock()
			if borrowing {
				continue // woken on purpose: park
			}
		}
		return n, err
	}
}

// SetReadDeadline is go-imap's: it is remembered, and applied only while
// the stream is not borrowed (go-imap sets deadlines from its reader,
// which may run just as a borrower starts).
func (s *switchConn) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	if s.borrowing {
		return nil
	}
	return s.Conn.SetReadDeadline(t)
}

// SetDeadline is SetReadDeadline and SetWriteDeadline.
func (s *switchConn) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.Conn.SetWriteDeadline(t)
}

// errNotParked: go-imap's reader did not come to rest (it has stopped:
// the connection is closed).
var errNotParked = errors.New("the connection's reader did not stop for the command")

// borrow parks go-imap's reader and returns the stream for the caller
// alone. The caller must not have a go-imap command in flight, and must
// call giveBack.
func (s *switchConn) borrow() (net.Conn, error) {
	s.mu.Lock()
	s.borrowing = true
	// Wake the reader: its Read fails with a timeout, and it parks.
	if err := s.Conn.SetReadDeadline(time.Unix(1, 0)); err != nil {
		s.borrowing = false
		s.mu.Unlock()
		return nil, err
	}
	// Wait for it, but not forever: a reader that has already returned
	// (the connection closed) never parks.
	timer := time.AfterFunc(5*time.Second, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	start := time.Now()
	for !s.parked && time.Since(start) < 5*time.Second {
		s.cond.Wait()
	}
	timer.Stop()
	parked := s.parked
	if parked {
		// The borrower has no deadline of its own: the watchdog guards it.
		if err := s.Conn.SetReadDeadline(time.Time{}); err != nil {
			parked = false
		}
	}
	s.mu.Unlock()
	if !parked {
		s.giveBack(nil)
		return nil, errNotParked
	}
	return s.Conn, nil
}

// giveBack ends a borrow: forward (untagged responses, and anything read
// after the borrower's answer) is what go-imap reads next, before the
// stream itself.
func (s *switchConn) giveBack(forward []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, forward...)
	_ = s.Conn.SetReadDeadline(s.deadline)
	s.borrowing = false
	s.cond.Broadcast()
}

// borrowed runs fn with the connection's stream: r reads from it, w writes
// to it. What fn returns as forward, and what r has buffered beyond it,
// go to go-imap.
func (c *conn) borrowed(fn func(r *bufio.Reader, w *bufio.Writer) (forward []byte, err error)) error {
	stream, err := c.sw.borrow()
	if err != nil {
		return err
	}
	r := bufio.NewReader(stream)
	w := bufio.NewWriter(stream)
	forward, err := fn(r, w)
	if n := r.Buffered(); n > 0 {
		rest, _ := r.Peek(n)
		forward = append(forward, rest...)
	}
	c.sw.giveBack(forward)
	return err
}

// maxResponseBytes bounds one response read outside go-imap.
const maxResponseBytes = 16 << 20

// readResponse reads one response, its literals included, from a stream
// go-imap does not read (a borrowed one, or one before go-imap has it).
func readResponse(r *bufio.Reader) ([]byte, error) {
	var out []byte
	seg := 0 // where the text after the last literal starts in out
	for {
		line, err := r.ReadSlice('\n')
		out = append(out, line...)
		if errors.Is(err, bufio.ErrBufferFull) && len(out) < maxResponseBytes {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the server's answer: %w", err)
		}
		if len(out) > maxResponseBytes {
			return nil, fmt.Errorf("a response of more than %d bytes from the server", maxResponseBytes)
		}
		// Only the text after the last literal can announce another: a
		// literal's own bytes may end in "{3}".
		n, ok := literalAtEnd(out[seg:])
		if !ok {
			if len(out) < 3 {
				return nil, fmt.Errorf("an empty response line from the server")
			}
			return out, nil
		}
		if n > maxResponseBytes-int64(len(out)) {
			return nil, fmt.Errorf("a response of more than %d bytes from the server", maxResponseBytes)
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(r, lit); err != nil {
			return nil, fmt.Errorf("reading the server's answer: %w", err)
		}
		out = append(out, lit...)
		seg = len(out)
	}
}

// literalAtEnd reports the size of the literal a line announces at its end
// ("{n}\r\n").
func literalAtEnd(line []byte) (int64, bool) {
	s := strings.TrimSuffix(string(line), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(s, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s[open+1:len(s)-1], "+"), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
