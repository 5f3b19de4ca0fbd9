package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOfflineIMAPOtherFlags: OfflineIMAP's -P, -s, --delete-folder and
// --migrate-fmd5-using-nametrans either work or say why not, with exit
// status 2, never kong's "unknown flag".
func TestOfflineIMAPOtherFlags(t *testing.T) {
	s := memServer(t)
	seedSmall(t, s, map[string]int{"INBOX": 2})
	su := newSetup(t, s, "")

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--delete-folder", "INBOX"}, []string{"--delete-folder INBOX: not supported", "delete it on the server", "folderfilter"}},
		{[]string{"--migrate-fmd5-using-nametrans"}, []string{"--migrate-fmd5-using-nametrans: not supported", "offlineimap --migrate-fmd5-using-nametrans"}},
	} {
		code, out, errs := run(t, append([]string{"-c", su.config, "-o"}, c.args...)...)
		if code != 2 || strings.Contains(errs, "unknown flag") {
			t.Errorf("%v: exit %d, want 2 with a reason\n%s%s", c.args, code, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%v: stderr lacks %q:\n%s", c.args, w, errs)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(su.maildir, "INBOX")); err == nil {
		t.Error("a refused flag still synced")
	}

	prof := filepath.Join(t.TempDir(), "profile")
	code, out, errs := run(t, "-c", su.config, "-o", "-P", prof)
	if code != 0 {
		t.Fatalf("-P: exit %d\n%s%s", code, out, errs)
	}
	for _, f := range []string{"cpu.pprof", "heap.pprof"} {
		if st, err := os.Stat(filepath.Join(prof, f)); err != nil || st.Size() == 0 {
			t.Errorf("-P: %s: %v", f, err)
		}
	}
	if n := len(messageFiles(t, filepath.Join(su.maildir, "INBOX"))); n != 2 {
		t.Errorf("-P synced %d messages, want 2", n)
	}

	code, out, errs = run(t, "-c", su.config, "-o", "-s")
	if _, err := os.Stat("/dev/log"); err != nil {
		if code != 2 || !strings.Contains(errs, "-s: cannot reach the system log") {
			t.Errorf("-s without a system log: exit %d, want 2 saying so\n%s%s", code, out, errs)
		}
	} else if code != 0 {
		t.Errorf("-s: exit %d\n%s%s", code, out, errs)
	}
}
