package maildir_test

import (
	"testing"

	"mailtrail/adapters"
	"mailtrail/adapters/adaptertest"
	"mailtrail/adapters/maildir"
)

// TestConformance runs the shared adapter suite against a fresh Maildir
// tree per subtest, with nested folders ('/' separator).
func TestConformance(t *testing.T) {
	adaptertest.RunLocal(t, func(t *testing.T) adapters.Local {
		s, err := maildir.New(t.TempDir(), '/', maildir.Options{})
		if err != nil {
			t.Fatalf("maildir.New: %v", err)
		}
		return s
	})
}
