package imap

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/rs/zerolog"

	"mailtrail/model"
)

// dialWith dials the backend with a changed configuration.
func (b *backend) dialWith(t *testing.T, change func(*Config)) *Store {
	t.Helper()
	cfg := b.cfg
	change(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dialLogged is dialWith keeping the store's debug log, for tests that
// read which commands went to the server; logged returns it so far.
func (b *backend) dialLogged(t *testing.T, change func(*Config)) (s *Store, logged func() string) {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.Mutex
	s = b.dialWith(t, func(c *Config) {
		if change != nil {
			change(c)
		}
		c.Logger = zerolog.New(zerolog.SyncWriter(&lockedWriter{w: &buf, mu: &mu})).Level(zerolog.DebugLevel)
	})
	return s, func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// names lists the folder names of a listing whose name begins with one of
// prefixes (the other tests of the suite leave folders of their own).
func names(list []model.RemoteFolderStatus, prefixes ...string) []string {
	var out []string
	for _, f := range list {
		for _, p := range prefixes {
			if strings.HasPrefix(f.Name, p) {
				out = append(out, f.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

func sameNames(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s: listed %q, want %q", what, got, want)
	}
}

// testReferenceSubscribed checks OfflineIMAP's reference, subscribedonly and
// folderincludes: what is listed (with its status), what is reported as
// unlisted, what CreateFolder refuses, and that a folder it creates is
// listed again.
func testReferenceSubscribed(t *testing.T, b *backend) {
	ctx := ctxT(t)
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, f := range []string{"Ref", "Ref/a", "Ref/b", "Refuge", "Outside"} {
		b.mkdir(t, b.serverName(f))
	}
	b.seed(t, b.serverName("Ref/a"), msgWithID("<ref-a@test>", 0), nil, date)
	b.seed(t, b.serverName("Ref/a"), msgWithID("<ref-a2@test>", 1), nil, date)
	b.seed(t, b.serverName("Outside"), msgWithID("<outside@test>", 0), nil, date)
	b.subscribe(t, b.serverName("Ref/a"), true)
	b.subscribe(t, b.serverName("Outside"), true)
	b.subscribe(t, b.serverName("Refuge"), true)
	b.subscribe(t, b.serverName("Ref/b"), false)
	d := string(b.delim)
	all := []string{"Ref", "Outside", "INBOX"}

	t.Run("Reference", func(t *testing.T) {
		s := b.dialWith(t, func(c *Config) { c.Reference = "Ref" + d })
		list, err := s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Full names, nothing stripped; "Refuge" is not under "Ref/".
		sameNames(t, `reference "Ref/"`, names(list, all...), "Ref/a", "Ref/b")
		a, _ := findFolder(list, "Ref/a")
		if a.Messages != 2 || a.UIDValidity == 0 || a.UIDNext == 0 {
			t.Errorf("Ref/a status %+v, want 2 messages and a UIDVALIDITY", a)
		}
		for name, want := range map[string]bool{"Outside": true, "INBOX": true, "Refuge": true, "Ref/a": false, "Ref/b": false, "Nonexistent": false} {
			if got := s.Unlisted(name); got != want {
				t.Errorf("Unlisted(%q) = %v, want %v", name, got, want)
			}
		}
		err = s.CreateFolder(ctx, "Elsewhere")
		if err == nil || !strings.Contains(err.Error(), "outside reference") || !strings.Contains(err.Error(), "folderincludes") {
			t.Errorf("CreateFolder outside the reference: %v, want a refusal naming the reference and folderincludes", err)
		}
		if err := s.CreateFolder(ctx, "Ref/new"); err != nil {
			t.Fatalf("CreateFolder under the reference: %v", err)
		}
		list, err = s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, "after CreateFolder(Ref/new)", names(list, all...), "Ref/a", "Ref/b", "Ref/new")
		everything, err := b.dial(t).ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := findFolder(everything, "Elsewhere"); ok {
			t.Error("the refused folder Elsewhere was created on the server")
		}
	})

	t.Run("ReferenceWithoutDelimiter", func(t *testing.T) {
		s := b.dialWith(t, func(c *Config) { c.Reference = "Ref" })
		if _, err := s.ListFolders(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateFolder(ctx, "Refine"); err == nil {
			t.Error(`CreateFolder("Refine") under reference "Ref" succeeded; a server may list only Ref` + d + `*`)
		}
		if !s.underReference(b.serverName("Ref/x"), b.delim) || s.underReference("Ref", b.delim) {
			t.Error(`underReference: "Ref/x" must be under reference "Ref", "Ref" itself not`)
		}
	})

	t.Run("Include", func(t *testing.T) {
		s := b.dialWith(t, func(c *Config) { c.Reference, c.Include = "Ref"+d, []string{"INBOX", "Outside", "No such folder"} })
		list, err := s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, "reference with folderincludes", names(list, all...), "INBOX", "Outside", "Ref/a", "Ref/b", "Ref/new")
		o, _ := findFolder(list, "Outside")
		if o.Messages != 1 || o.UIDValidity == 0 {
			t.Errorf("included folder's status %+v, want 1 message and a UIDVALIDITY", o)
		}
		if s.Unlisted("Outside") || s.Unlisted("INBOX") {
			t.Error("an included folder is reported as unlisted")
		}
		if err := s.CreateFolder(ctx, "Outside"); err != nil {
			t.Errorf("CreateFolder of an included folder outside the reference: %v", err)
		}
	})

	probe := b.dial(t)
	if !probe.Capabilities().Has(imap.CapListExtended) {
		t.Run("SubscribedOnlyNeedsListExtended", func(t *testing.T) {
			s := b.dialWith(t, func(c *Config) { c.SubscribedOnly = true })
			_, err := s.ListFolders(ctx)
			if err == nil || !strings.Contains(err.Error(), "subscribedonly") || !strings.Contains(err.Error(), "LIST-EXTENDED") {
				t.Errorf("ListFolders with subscribedonly on a server without LIST-EXTENDED: %v", err)
			}
		})
		return
	}

	t.Run("SubscribedOnly", func(t *testing.T) {
		s := b.dialWith(t, func(c *Config) { c.SubscribedOnly = true })
		list, err := s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, "subscribedonly", names(list, "Ref", "Outside"), "Outside", "Ref/a", "Refuge")
		a, _ := findFolder(list, "Ref/a")
		if a.Messages != 2 || a.UIDValidity == 0 {
			t.Errorf("Ref/a status %+v, want 2 messages and a UIDVALIDITY", a)
		}
		if !s.Unlisted("Ref/b") || s.Unlisted("Ref/a") {
			t.Errorf("Unlisted: Ref/b (not subscribed) %v, Ref/a (subscribed) %v", s.Unlisted("Ref/b"), s.Unlisted("Ref/a"))
		}
		// A folder it creates is subscribed, so that it is listed again.
		if err := s.CreateFolder(ctx, "Refuge/sub"); err != nil {
			t.Fatal(err)
		}
		list, err = s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, "subscribedonly after CreateFolder(Refuge/sub)", names(list, "Ref", "Outside"), "Outside", "Ref/a", "Refuge", "Refuge/sub")
	})

	t.Run("ReferenceAndSubscribedOnly", func(t *testing.T) {
		s := b.dialWith(t, func(c *Config) { c.Reference, c.SubscribedOnly = "Ref"+d, true })
		list, err := s.ListFolders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameNames(t, "reference and subscribedonly", names(list, all...), "Ref/a")
		if !s.Unlisted("Ref/b") || !s.Unlisted("Outside") {
			t.Error("Ref/b (not subscribed) and Outside (outside the reference) must be reported as unlisted")
		}
	})
}
