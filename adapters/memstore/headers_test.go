package memstore

import (
	"context"
	"testing"
	"time"
)

func TestFetchHeaderFieldsReturnsOnlyThoseFields(t *testing.T) {
	r := NewRemote()
	body := "From: Ann <a@x>\r\nSubject: long\r\n subject\r\nX-Other: no\r\nMessage-ID: <1@x>\r\n\r\nSubject: not a header\r\n"
	uid, err := r.AddMessage("INBOX", []byte(body), 0, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.SelectFolder(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	err = f.(*RemoteFolder).FetchHeaderFields(context.Background(), []uint32{uid, 99}, []string{"subject", "Message-ID"}, func(u uint32, h []byte) error {
		got = append(got, string(h))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "Subject: long\r\n subject\r\nMessage-ID: <1@x>\r\n\r\n"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want [%q]", got, want)
	}
}
