package imap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// OAuth2 are the credentials for XOAUTH2 and OAUTHBEARER, as OfflineIMAP
// reads them (oauth2_client_id, oauth2_client_secret,
// oauth2_refresh_token, oauth2_access_token, oauth2_request_url).
//
// With an AccessToken it is used as it is until it expires; with a
// RefreshToken and a RequestURL a new access token is asked for over HTTPS
// when there is none, when the last one expired (expires_in from the token
// endpoint), or when the server refuses the one held. No token, secret or
// response body ever appears in an error or a log event.
type OAuth2 struct {
	ClientID     string
	ClientSecret string
	RefreshToken string
	AccessToken  string
	// RequestURL is the token endpoint; it must be https.
	RequestURL string
	// HTTPClient makes the token request; nil: a client with a 30 s
	// timeout and the system's roots.
	HTTPClient *http.Client
	// Now is the clock for expiry; nil: time.Now.
	Now func() time.Time

	mu        sync.Mutex
	token     string
	expires   time.Time // zero: unknown (a configured token)
	refreshed bool      // token came from the endpoint
	loaded    bool
}

// canRefresh reports whether a new access token can be asked for.
func (o *OAuth2) canRefresh() bool { return o.RefreshToken != "" && o.RequestURL != "" }

// usable reports whether there is any way to get an access token.
func (o *OAuth2) usable() bool { return o != nil && (o.AccessToken != "" || o.canRefresh()) }

func (o *OAuth2) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// accessToken returns a token to present: the held one while it is valid,
// else a fresh one from the endpoint. fresh says whether it was just
// fetched (so that a refusal is final).
func (o *OAuth2) accessToken(ctx context.Context) (token string, fresh bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.loaded {
		o.loaded = true
		o.token = o.AccessToken
	}
	if o.token != "" && (o.expires.IsZero() || o.now().Before(o.expires)) {
		return o.token, false, nil
	}
	if err := o.refreshLocked(ctx); err != nil {
		return "", false, err
	}
	return o.token, true, nil
}

// invalidate drops token (a server refused it), so that the next
// accessToken refreshes; it reports whether a refresh is possible.
func (o *OAuth2) invalidate(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.token == token {
		o.token = ""
	}
	return o.canRefresh()
}

// refreshLocked asks the token endpoint for a new access token, as
// OfflineIMAP does: a form POST of client_id, client_secret, refresh_token
// and grant_type=refresh_token; the answer is JSON with access_token and
// perhaps expires_in (seconds).
func (o *OAuth2) refreshLocked(ctx context.Context) error {
	if !o.canRefresh() {
		if o.AccessToken != "" {
			return errors.New("the OAuth2 access token expired and there is no oauth2_refresh_token and oauth2_request_url to get a new one")
		}
		return errors.New("no OAuth2 access token, and no oauth2_refresh_token and oauth2_request_url to get one")
	}
	u, err := url.Parse(o.RequestURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("oauth2_request_url %s: want an https:// URL (the refresh token must not cross the network in clear)", redactURL(o.RequestURL))
	}
	form := url.Values{
		"client_id":     {o.ClientID},
		"client_secret": {o.ClientSecret},
		"refresh_token": {o.RefreshToken},
		"grant_type":    {"refresh_token"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("OAuth2 token request to %s: %v", redactURL(o.RequestURL), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		// url.Error holds the URL only (no body, no form): still, name the
		// endpoint ourselves and keep the cause's text minimal.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("OAuth2 token request to %s: %v", redactURL(o.RequestURL), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("OAuth2 token request to %s: reading the answer: %v", redactURL(o.RequestURL), err)
	}
	var answer struct {
		AccessToken      string          `json:"access_token"`
		ExpiresIn        json.Number     `json:"expires_in"`
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	jerr := json.Unmarshal(body, &answer)
	if resp.StatusCode != http.StatusOK || len(answer.Error) > 0 || jerr != nil || answer.AccessToken == "" {
		// Only the endpoint's error code and description are shown: the
		// body of a successful answer holds tokens.
		var code string
		_ = json.Unmarshal(answer.Error, &code)
		msg := fmt.Sprintf("OAuth2 token request to %s failed: HTTP %d", redactURL(o.RequestURL), resp.StatusCode)
		if code != "" {
			msg += ", error " + quoteShort(code)
		}
		if answer.ErrorDescription != "" {
			msg += ": " + quoteShort(answer.ErrorDescription)
		}
		if resp.StatusCode == http.StatusOK && code == "" {
			msg += ": the answer holds no access_token"
		}
		return errors.New(msg)
	}
	o.token = answer.AccessToken
	o.refreshed = true
	o.expires = time.Time{}
	if s, err := answer.ExpiresIn.Int64(); err == nil && s > 0 {
		// Renew a little early, so that a token is not refused in the
		// middle of a connection's login.
		margin := min(time.Duration(s)*time.Second/10, time.Minute)
		o.expires = o.now().Add(time.Duration(s)*time.Second - margin)
	}
	return nil
}

// redactURL drops the query and user info of a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

func quoteShort(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// String never shows a token or the client secret.
func (o *OAuth2) String() string {
	return fmt.Sprintf("imap.OAuth2{client_id=%q request_url=%s tokens=<redacted>}", o.ClientID, redactURL(o.RequestURL))
}

// GoString is String, for %#v.
func (o *OAuth2) GoString() string { return o.String() }
