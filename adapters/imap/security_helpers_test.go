package imap

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// tapProxy forwards TCP connections from a loopback listener to target,
// recording what the client sent. With strip set it plays the attacker who
// removes STARTTLS: the word is taken out of every capability list the
// server sends, and the client's STARTTLS command is answered with BAD
// instead of being forwarded.
type tapProxy struct {
	ln     net.Listener
	target string
	strip  bool

	mu   sync.Mutex
	sent strings.Builder // everything the client sent, in order
}

func startTapProxy(t *testing.T, listen, target string, strip bool) *tapProxy {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	p := &tapProxy{ln: ln, target: target, strip: strip}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

// Write records bytes the client sent.
func (p *tapProxy) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent.Write(b)
}

func (p *tapProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *tapProxy) clientSent() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent.String()
}

var startTLSWord = regexp.MustCompile(`(?i) STARTTLS`)

func (p *tapProxy) serve(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var wmu sync.Mutex // client writes: the server's stream and our BAD
	done := make(chan struct{}, 2)
	go func() { // server -> client
		defer func() { done <- struct{}{} }()
		if !p.strip {
			io.Copy(client, server)
			return
		}
		r := bufio.NewReader(server)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				line = startTLSWord.ReplaceAllString(line, "")
				wmu.Lock()
				_, werr := client.Write([]byte(line))
				wmu.Unlock()
				if werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // client -> server
		defer func() { done <- struct{}{} }()
		if !p.strip {
			io.Copy(server, io.TeeReader(client, p))
			return
		}
		r := bufio.NewReader(client)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				p.mu.Lock()
				p.sent.WriteString(line)
				p.mu.Unlock()
				if f := strings.Fields(line); p.strip && len(f) == 2 && strings.EqualFold(f[1], "STARTTLS") {
					wmu.Lock()
					client.Write([]byte(f[0] + " BAD Unknown command\r\n"))
					wmu.Unlock()
				} else if _, werr := server.Write([]byte(line)); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	<-done
}

// oauthServer is a scripted IMAP server that knows just enough for Dial:
// the greeting, CAPABILITY, AUTHENTICATE XOAUTH2 / OAUTHBEARER (accepting
// the tokens in valid), LIST "" "", NOOP and LOGOUT.
type oauthServer struct {
	ln    net.Listener
	user  string
	caps  string
	mu    sync.Mutex
	valid map[string]bool
	log   []string // "MECH token ok|refused", and the client's answer to a refusal
}

func startOAuthServer(t *testing.T, user string, valid ...string) *oauthServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &oauthServer{ln: ln, user: user, caps: "IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER LOGINDISABLED", valid: map[string]bool{}}
	for _, v := range valid {
		s.valid[v] = true
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *oauthServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *oauthServer) events() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func (s *oauthServer) record(e string) {
	s.mu.Lock()
	s.log = append(s.log, e)
	s.mu.Unlock()
}

// tokenOf checks an XOAUTH2 or OAUTHBEARER initial response for the user
// and returns its bearer token, or "" when it is malformed.
func (s *oauthServer) tokenOf(mech string, ir []byte) string {
	str := string(ir)
	switch mech {
	case "XOAUTH2":
		rest, ok := strings.CutPrefix(str, "user="+s.user+"\x01auth=Bearer ")
		if !ok || !strings.HasSuffix(rest, "\x01\x01") {
			return ""
		}
		return strings.TrimSuffix(rest, "\x01\x01")
	case "OAUTHBEARER":
		gs2, kvs, ok := strings.Cut(str, "\x01")
		if !ok || gs2 != "n,a="+s.user+"," || !strings.HasSuffix(kvs, "\x01\x01") {
			return ""
		}
		for _, kv := range strings.Split(strings.TrimSuffix(kvs, "\x01\x01"), "\x01") {
			if tok, ok := strings.CutPrefix(kv, "auth=Bearer "); ok {
				return tok
			}
		}
	}
	return ""
}

func (s *oauthServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(line string) { c.Write([]byte(line + "\r\n")) }
	w("* OK [CAPABILITY " + s.caps + "] scripted server ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return
		}
		tag, cmd := f[0], strings.ToUpper(f[1])
		switch cmd {
		case "CAPABILITY":
			w("* CAPABILITY " + s.caps)
			w(tag + " OK done")
		case "AUTHENTICATE":
			mech := strings.ToUpper(f[2])
			var ir string
			if len(f) > 3 {
				ir = f[3]
			} else {
				w("+ ")
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				ir = strings.TrimSpace(l)
			}
			raw, _ := base64.StdEncoding.DecodeString(ir)
			tok := s.tokenOf(mech, raw)
			s.mu.Lock()
			ok := tok != "" && s.valid[tok]
			s.mu.Unlock()
			if ok {
				s.record(mech + " " + tok + " ok")
				w(tag + " OK [CAPABILITY IMAP4rev1] logged in")
				continue
			}
			s.record(mech + " " + tok + " refused")
			js, _ := json.Marshal(map[string]string{"status": "401", "schemes": "bearer", "scope": "https://mail.example/"})
			w("+ " + base64.StdEncoding.EncodeToString(js))
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			answer, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(l))
			if strings.TrimSpace(l) == "=" {
				answer = []byte{}
			}
			s.record("answer " + base64.StdEncoding.EncodeToString(answer))
			w(tag + " NO [AUTHENTICATIONFAILED] invalid token")
		case "LIST":
			w(`* LIST (\Noselect) "/" ""`)
			w(tag + " OK done")
		case "LOGOUT":
			w("* BYE bye")
			w(tag + " OK done")
			return
		default:
			w(tag + " OK done")
		}
	}
}
