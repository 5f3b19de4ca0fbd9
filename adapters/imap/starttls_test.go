package imap

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStartTLSRefusals: startTLS goes no further than the clear-text
// exchange when the server greets as logged in, refuses STARTTLS, or sends
// anything after accepting it before TLS (command injection): no handshake
// is tried, and a refusal is the server's (*imap.Error, never a reason to
// go on in clear text).
func TestStartTLSRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, greeting, answer, want string
		refusal                      bool
	}{
		{"PREAUTH", "* PREAUTH logged in\r\n", "", "PREAUTH", false},
		{"BYE", "* BYE too many connections\r\n", "", "refused the connection", false},
		{"refused", "* OK hi\r\n", "* CAPABILITY IMAP4rev1\r\nS1 NO not now\r\n", "not now", true},
		{"injected", "* OK hi\r\n", "S1 OK begin TLS\r\nA1 LOGIN evil evil\r\n", "clear text after accepting STARTTLS", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			got := make(chan string, 1)
			go func() {
				defer server.Close()
				// One write: what an attacker injects arrives with the OK.
				server.Write([]byte(tc.greeting))
				if tc.answer == "" {
					got <- ""
					return
				}
				line, _ := bufio.NewReader(server).ReadString('\n')
				got <- line
				server.Write([]byte(tc.answer))
				time.Sleep(100 * time.Millisecond)
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := startTLS(ctx, client, &tls.Config{ServerName: "localhost"})
			if err == nil || conn != nil {
				t.Fatalf("startTLS: %v, %v; want an error", conn, err)
			}
			if !strings.Contains(err.Error(), tc.want) || isServerRefusal(err) != tc.refusal {
				t.Errorf("error %q (server refusal: %v), want one saying %q (refusal: %v)", err, isServerRefusal(err), tc.want, tc.refusal)
			}
			if sent := <-got; tc.answer != "" && sent != "S1 STARTTLS\r\n" {
				t.Errorf("the client sent %q, want only STARTTLS", sent)
			}
		})
	}
}
