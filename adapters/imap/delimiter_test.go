package imap

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/rs/zerolog"
)

// testHierarchyDelimiter: the folder listing teaches the store the
// server's hierarchy delimiter, without a LIST "" "" of its own; a store
// that has listed nothing asks for it when a name is first needed in the
// server's form.
func testHierarchyDelimiter(t *testing.T, b *backend) {
	ctx := ctxT(t)
	s, logged := b.dialLogged(t, nil)
	if _, err := s.ListFolders(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := s.Delimiter(ctx)
	if err != nil || d != b.delim {
		t.Fatalf("Delimiter after the listing: %q, %v; want %q", d, err, b.delim)
	}
	if strings.Contains(logged(), `LIST \"\" \"\"`) {
		t.Errorf("the store asked for the delimiter although the listing showed it:\n%s", logged())
	}
	if !strings.Contains(logged(), "the folder listing") {
		t.Errorf("the log does not say the listing taught the delimiter:\n%s", logged())
	}

	// No listing first: creating a folder two levels deep and opening it
	// need the delimiter, asked for once.
	fresh, logged := b.dialLogged(t, func(c *Config) { c.MaxConnections = 1 })
	if err := fresh.CreateFolder(ctx, "Delim/Child"); err != nil {
		t.Fatal(err)
	}
	f, err := fresh.SelectFolder(ctx, "Delim/Child")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if d, err := fresh.Delimiter(ctx); err != nil || d != b.delim {
		t.Errorf("Delimiter without a listing: %q, %v; want %q", d, err, b.delim)
	}
	if n := strings.Count(logged(), `"imap hierarchy delimiter"`); n != 1 {
		t.Errorf("the delimiter was learnt %d times, want once:\n%s", n, logged())
	}
	list, err := b.dial(t).ListFolders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findFolder(list, "Delim/Child"); !ok {
		t.Errorf("Delim/Child not created as a child of Delim: %v", list)
	}
}

// A listing whose entries disagree on the delimiter (folders of another
// namespace) teaches nothing: the store asks LIST "<reference>" "" then.
func TestDelimiterFromListing(t *testing.T) {
	entry := func(name string, d rune) *imap.ListData { return &imap.ListData{Mailbox: name, Delim: d} }
	for _, tc := range []struct {
		name   string
		list   []*imap.ListData
		want   rune
		learnt bool
	}{
		{"all the same", []*imap.ListData{entry("INBOX", '.'), entry("INBOX.a", '.')}, '.', true},
		{"flat server", []*imap.ListData{entry("INBOX", 0), entry("a", 0)}, 0, true},
		{"two namespaces", []*imap.ListData{entry("INBOX", '/'), entry("#news.x", '.')}, 0, false},
		{"empty", nil, 0, false},
	} {
		s := &Store{cfg: Config{Logger: zerolog.Nop()}}
		s.learnDelimiter(tc.list)
		d, ok := s.KnownDelimiter()
		if ok != tc.learnt || d != tc.want {
			t.Errorf("%s: learnt %q %v, want %q %v", tc.name, d, ok, tc.want, tc.learnt)
		}
	}
}
