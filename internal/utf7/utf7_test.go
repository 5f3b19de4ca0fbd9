package utf7

import "testing"

func TestCodec(t *testing.T) {
	for dec, enc := range map[string]string{
		"INBOX": "INBOX", "Entwürfe": "Entw&APw-rfe", "A&B": "A&-B", "日本語": "&ZeVnLIqe-",
		"Gel&öscht": "Gel&-&APY-scht", "~peter/mail/台北/日本語": "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
	} {
		if got := Encode(dec); got != enc {
			t.Errorf("Encode(%q) = %q, want %q", dec, got, enc)
		}
		if got, err := Decode(enc); err != nil || got != dec {
			t.Errorf("Decode(%q) = %q, %v", enc, got, err)
		}
	}
	for _, bad := range []string{"&", "&Jjo", "&AGE-", "&Jjo!-"} {
		if got, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) = %q, want an error", bad, got)
		}
	}
}
