package imap

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
)

// The SASL mechanisms go-sasl lacks (CRAM-MD5, XOAUTH2), and OAUTHBEARER,
// whose go-sasl client ends the exchange with an error when the server
// reports a failure instead of answering it, which leaves the AUTHENTICATE
// command unfinished on the wire.

// cramMD5Client is CRAM-MD5 (RFC 2195): the server sends a challenge, the
// client answers with its user name and the hex HMAC-MD5 of the challenge
// keyed with the password. The password never crosses the wire.
// before, when set, is waited for before the challenge is answered; its
// error ends the exchange unanswered.
type cramMD5Client struct {
	user, password string
	before         func() error
	done           bool
}

func (c *cramMD5Client) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.done {
		return nil, errors.New("CRAM-MD5: the server sent a second challenge")
	}
	if c.before != nil {
		if err := c.before(); err != nil {
			return nil, err
		}
	}
	c.done = true
	return []byte(cramMD5Response(c.user, c.password, challenge)), nil
}

// cramMD5Response is "user hex(HMAC-MD5(password, challenge))".
func cramMD5Response(user, password string, challenge []byte) string {
	mac := hmac.New(md5.New, []byte(password))
	mac.Write(challenge)
	return user + " " + hex.EncodeToString(mac.Sum(nil))
}

// oauthError is the JSON a server sends as a challenge when it refuses an
// OAuth2 token (XOAUTH2 and OAUTHBEARER both).
type oauthError struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

func (e oauthError) String() string {
	s := "the server refused the OAuth2 access token"
	if e.Status != "" {
		s += " (status " + e.Status
		if e.Scope != "" {
			s += ", scope " + e.Scope
		}
		s += ")"
	}
	return s
}

// xoauth2Client is Google's XOAUTH2: one initial response
// "user=U^Aauth=Bearer T^A^A". A refusal comes as a challenge holding a
// JSON error; the client answers it with an empty response and the server
// then ends the command with NO.
type xoauth2Client struct {
	user, token string
	refusal     *oauthError
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	var e oauthError
	_ = json.Unmarshal(challenge, &e)
	c.refusal = &e
	return []byte{}, nil
}

// oauthBearerClient is OAUTHBEARER (RFC 7628). On a refusal the client
// answers with a single 0x01, as the RFC says, and the server ends with NO.
type oauthBearerClient struct {
	user, token, host string
	port              int
	refusal           *oauthError
}

func (c *oauthBearerClient) Start() (string, []byte, error) {
	var b strings.Builder
	b.WriteString("n,")
	if c.user != "" {
		b.WriteString("a=" + saslName(c.user))
	}
	b.WriteString(",")
	if c.host != "" {
		b.WriteString("\x01host=" + c.host)
	}
	if c.port != 0 {
		b.WriteString("\x01port=" + strconv.Itoa(c.port))
	}
	b.WriteString("\x01auth=Bearer " + c.token + "\x01\x01")
	return sasl.OAuthBearer, []byte(b.String()), nil
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	var e oauthError
	_ = json.Unmarshal(challenge, &e)
	c.refusal = &e
	return []byte{0x01}, nil
}

// saslName escapes ',' and '=' in a GS2 authzid (RFC 5801).
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// refusalOf returns what the server said about a refused token, or nil.
func refusalOf(c sasl.Client) *oauthError {
	switch c := c.(type) {
	case *xoauth2Client:
		return c.refusal
	case *oauthBearerClient:
		return c.refusal
	}
	return nil
}

// mechanismError names the mechanism that failed; for OAuth2 it adds what
// the server said about the token.
func mechanismError(c sasl.Client, err error) error {
	if r := refusalOf(c); r != nil {
		return fmt.Errorf("%w: %s", err, r)
	}
	return err
}
