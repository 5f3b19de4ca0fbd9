package journal

import (
	"context"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// DefaultRetention is how long the records of a finished run are kept when
// the configuration says nothing (journalretention = 180 days).
const DefaultRetention = 180 * 24 * time.Hour

// CompactStats says what Compact removed.
type CompactStats struct {
	Runs    int // runs removed with all their records
	Records int // journal records removed
	Kept    int // runs kept
}

// Compact removes every run that finished before cutoff — its run-started,
// intent, done and run-ended records, its run index entry and its
// observations — in one durable batch. A run with an intent still pending
// is kept whatever its age, and so is a run that never ended unless it
// started before cutoff and has nothing pending. Status rows and folder
// meta are never touched: they are the sync's memory, not its history.
//
// The highest journal position and run ID are recorded under meta/ so that
// they are never reused once the records holding them are gone.
func (s *Store) Compact(cutoff time.Time) (CompactStats, error) {
	var st CompactStats
	if err := s.checkWritable(); err != nil {
		return st, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	runs, err := s.Runs()
	if err != nil {
		return st, err
	}
	pending, err := s.Pending()
	if err != nil {
		return st, err
	}
	busy := map[uint64]bool{}
	for _, in := range pending {
		busy[in.Run] = true
	}
	drop := map[uint64]bool{}
	for _, r := range runs {
		end := r.Info.Started
		if r.Ended {
			end = r.Summary.Finished
		}
		if end.Before(cutoff) && !busy[r.ID] {
			drop[r.ID] = true
		} else {
			st.Kept++
		}
	}
	if len(drop) == 0 {
		return st, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	err = s.Records(1, func(rec Record) error {
		if drop[rec.Run] {
			st.Records++
			return b.Delete(journalKey(rec.Seq), nil)
		}
		return nil
	})
	if err != nil {
		return CompactStats{}, err
	}
	for id := range drop {
		if err := b.Delete(runKey(id), nil); err != nil {
			return CompactStats{}, s.writeError("compact", err)
		}
		if err := b.DeleteRange(seqKey(prefixObserved, id), seqKey(prefixObserved, id+1), nil); err != nil {
			return CompactStats{}, s.writeError("compact", err)
		}
	}
	for _, hw := range []struct {
		key []byte
		n   uint64
	}{{keyLastSeq, s.lastSeq}, {keyLastRun, s.lastRun}} {
		v, err := encodeValue(hw.n)
		if err != nil {
			return CompactStats{}, s.writeError("compact", err)
		}
		if err := b.Set(hw.key, v, nil); err != nil {
			return CompactStats{}, s.writeError("compact", err)
		}
	}
	if err := s.commit(b); err != nil {
		return CompactStats{}, s.writeError("compact", err)
	}
	// Reclaim the space now rather than at Pebble's leisure.
	if err := s.db.Compact(context.Background(), []byte(prefixJournal), []byte(prefixStatus), false); err != nil && err != pebble.ErrClosed {
		return CompactStats{}, s.writeError("compact", fmt.Errorf("reclaim space: %w", err))
	}
	st.Runs = len(drop)
	return st, nil
}
