package journal

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// prefixHint holds hints under meta/hint/<name>: small values a run may
// use to save a round trip, learned by an earlier run (the IMAP server's
// hierarchy delimiter). A hint is never trusted for correctness: whoever
// uses one checks it against what the run then sees, and a hint lost,
// stale or damaged costs only the round trip it would have saved.
const prefixHint = prefixMeta + "hint/"

// hintMost bounds a hint's name and value.
const hintMost = 256

func hintKey(name string) []byte { return []byte(prefixHint + name) }

// Hint returns the hint name, "" when there is none.
func (s *Store) Hint(name string) (string, error) {
	if err := s.checkOpen(); err != nil {
		return "", err
	}
	v, closer, err := s.db.Get(hintKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", s.readError("read hint "+name, err)
	}
	defer closer.Close()
	return string(v), nil
}

// SetHint records the hint name (value "" removes it), synced.
func (s *Store) SetHint(name, value string) error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	if name == "" || len(name) > hintMost || len(value) > hintMost {
		return fmt.Errorf("journal %s: hint %q: name empty, or name or value over %d bytes", s.dir, name, hintMost)
	}
	var err error
	if value == "" {
		err = s.db.Delete(hintKey(name), pebble.Sync)
	} else {
		err = s.db.Set(hintKey(name), []byte(value), pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("journal %s: write hint %s: %w", s.dir, name, err)
	}
	return nil
}
