package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// STARTTLS is negotiated here rather than by go-imap, whose STARTTLS puts
// the TLS stream inside the client, out of the adapter's reach: with the
// TLS stream made here, go-imap reads it through a switchConn like any
// other, and commands go-imap lacks (MULTIAPPEND) work over STARTTLS too.

// startTLSTag tags the STARTTLS command, the only one sent in clear text.
const startTLSTag = "S1"

// tlsGreeting is the greeting go-imap reads after startTLS: the server's
// own came before TLS, and a client must forget what it said (RFC 3501
// 6.2.1), capabilities included.
const tlsGreeting = "* OK TLS started (STARTTLS negotiated by mailtrail)\r\n"

// startTLS reads the server's greeting on conn, sends STARTTLS and, when
// the server agrees, completes the TLS handshake. A server that refuses
// returns *imap.Error (never a reason to go on in clear text). Anything
// the server sends after agreeing and before the handshake is refused:
// it would be read as if it came over TLS (command injection,
// CVE-2011-0411).
func startTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	r := bufio.NewReader(conn)
	greeting, err := readResponse(r)
	if err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	switch g := strings.ToUpper(string(greeting)); {
	case strings.HasPrefix(g, "* OK"):
	case strings.HasPrefix(g, "* PREAUTH"):
		return nil, fmt.Errorf("the server greeted as already logged in (PREAUTH), where STARTTLS is not allowed")
	case strings.HasPrefix(g, "* BYE"):
		return nil, fmt.Errorf("the server refused the connection: %.120q", strings.TrimSpace(string(greeting)))
	default:
		return nil, fmt.Errorf("unexpected greeting from the server: %.80q", greeting)
	}
	if _, err := io.WriteString(conn, startTLSTag+" STARTTLS\r\n"); err != nil {
		return nil, err
	}
	for {
		resp, err := readResponse(r)
		if err != nil {
			return nil, err
		}
		line := strings.TrimRight(string(resp), "\r\n")
		if strings.HasPrefix(line, "* ") {
			continue // a CAPABILITY, say: forgotten with the clear text
		}
		rest, ok := strings.CutPrefix(line, startTLSTag+" ")
		if !ok {
			return nil, fmt.Errorf("unexpected answer to STARTTLS: %.80q", line)
		}
		status, text, _ := strings.Cut(rest, " ")
		switch status = strings.ToUpper(status); status {
		case "OK":
		case "NO", "BAD":
			return nil, &imap.Error{Type: imap.StatusResponseType(status), Text: text}
		default:
			return nil, fmt.Errorf("unexpected answer to STARTTLS: %.80q", line)
		}
		break
	}
	if n := r.Buffered(); n > 0 {
		return nil, fmt.Errorf("the server sent %d bytes in clear text after accepting STARTTLS; refused (something on the way may be injecting commands)", n)
	}
	tlsConn := tls.Client(conn, cfg)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tlsConn, nil
}
