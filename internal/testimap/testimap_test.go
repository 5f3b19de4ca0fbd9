package testimap

import (
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestServeSeedAndClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve(ln, Options{Users: map[string]string{"alice": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	uid, err := s.Append("alice", "Work/Sub", []byte("Subject: hi\r\n\r\nbody\r\n"), []string{`\Seen`}, date)
	if err != nil || uid != 1 {
		t.Fatalf("Append: uid %d, %v", uid, err)
	}
	if err := s.CreateFolder("alice", "Work/Sub"); err != nil {
		t.Fatalf("CreateFolder of an existing folder: %v", err)
	}

	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Select("Work/Sub", nil).Wait()
	if err != nil || data.NumMessages != 1 {
		t.Fatalf("SELECT: %+v, %v", data, err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true}).Collect()
	if err != nil || len(msgs) != 1 || !msgs[0].InternalDate.Equal(date) || len(msgs[0].Flags) != 1 {
		t.Fatalf("FETCH: %+v, %v", msgs, err)
	}
	if err := c.Login("alice", "wrong").Wait(); err == nil {
		t.Error("second LOGIN accepted")
	}
	c.Close()

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		conn.Close()
		t.Error("the server still accepts connections after Close")
	}
}

func TestStartWithBareIMAP4rev1(t *testing.T) {
	s := StartWith(t, Options{Users: map[string]string{"bob": "pw"}, Caps: imap.CapSet{imap.CapIMAP4rev1: {}}})
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapListStatus) || caps.Has(imap.CapIMAP4rev2) {
		t.Errorf("bare server advertises %v", caps)
	}
}
