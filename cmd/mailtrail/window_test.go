package main_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"mailtrail/internal/sample"
)

// TestMaxAgeAndMaxSize: messages older than maxage or larger than maxsize
// are left alone on both sides — not downloaded, not uploaded, not
// deleted — and come in once the limits are lifted.
func TestMaxAgeAndMaxSize(t *testing.T) {
	s := dovecotServer(t)
	ctx := context.Background()
	st := s.dial(t)
	f, err := st.SelectFolder(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	recent := time.Now().Add(-48 * time.Hour)
	msgs := sample.Messages("INBOX", 6, 31)
	for i, m := range msgs {
		date := recent
		if i < 2 {
			date = sample.Base // more than 30 days ago
		}
		body := m.Body
		if i == 5 {
			body = append(bytes.Clone(body), bytes.Repeat([]byte("x"), 50000)...) // too large
		}
		if _, err := f.Append(ctx, int64(len(body)), bytes.NewReader(body), m.Flags, date); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	su := newSetup(t, s, "")
	cfg, err := os.ReadFile(su.config)
	must(t, err)
	limited := strings.Replace(string(cfg), "remoterepository = Remote", "remoterepository = Remote\nmaxage = 30\nmaxsize = 40000", 1)
	must(t, os.WriteFile(su.config, []byte(limited), 0o600))

	out := su.sync(t)
	if !strings.Contains(out, "INBOX: 1 create-local-folder, 3 fetch\n") {
		t.Fatalf("want only the 3 recent small messages:\n%s", out)
	}
	// A local file older than maxage (its mtime) is not uploaded; deleting
	// an old message's absence changes nothing on the server.
	deliver(t, su.maildir+"/INBOX", "1600000000.old.host", "From: a@example.org\nSubject: old\nMessage-ID: <old@x>\n\nold\n")
	must(t, os.Chtimes(su.maildir+"/INBOX/new/1600000000.old.host", sample.Base, sample.Base))
	requireNothingToDo(t, su)
	if n := serverCount(t, s, "INBOX"); n != 6 {
		t.Fatalf("server has %d messages, want the 6 untouched", n)
	}
	// Limits lifted: everything syncs, nothing is lost or doubled.
	must(t, os.WriteFile(su.config, cfg, 0o600))
	out = su.sync(t)
	if !strings.Contains(out, "INBOX: 3 fetch, 1 upload") {
		t.Fatalf("want the 3 left out downloaded and the old local one uploaded:\n%s", out)
	}
	assertConverged(t, s, su, 7)
}
