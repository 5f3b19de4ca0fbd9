package journal

import (
	"time"

	"mailtrail/model"
)

// Operation states, as the audit shows them.
const (
	StatePending = "pending" // journalled, no result yet (in flight, or the run was interrupted)
	StateDone    = "done"
	StateFailed  = "failed"
	StateSkipped = "skipped"
)

// OpEntry is one journalled operation with its outcome: an intent joined
// with its done record.
type OpEntry struct {
	Seq  uint64
	Run  uint64
	Time time.Time // when it was journalled
	Op   model.Op
	Msg  *MsgInfo // nil when not recorded (version 1 records, bookkeeping)
	// State is StatePending, StateDone, StateFailed or StateSkipped; Err
	// says why it failed; Finished is when its result was recorded.
	State    string
	Err      string
	Finished time.Time
	// ResultUID and ResultKey are what it produced (an upload's UID, a
	// fetch's file key).
	ResultUID uint32
	ResultKey string
}

// Operations calls fn with every operation in the journal, by ascending
// position, each with its outcome. It stops at fn's first error.
func (s *Store) Operations(fn func(OpEntry) error) error {
	var order []uint64
	byseq := map[uint64]*OpEntry{}
	err := s.Records(1, func(rec Record) error {
		switch rec.Kind {
		case KindIntent:
			byseq[rec.Seq] = &OpEntry{Seq: rec.Seq, Run: rec.Run, Time: rec.Time, Op: *rec.Op, Msg: rec.Msg, State: StatePending}
			order = append(order, rec.Seq)
		case KindDone:
			e := byseq[rec.Result.Seq]
			if e == nil {
				return nil // its intent was compacted away (never: compaction drops whole runs)
			}
			e.Finished, e.ResultUID, e.ResultKey = rec.Time, rec.Result.UID, rec.Result.Key
			if e.Msg == nil && rec.Result.Msg != nil {
				e.Msg = rec.Result.Msg
			}
			switch {
			case rec.Result.Err != "":
				e.State, e.Err = StateFailed, rec.Result.Err
			case rec.Result.Skipped:
				e.State = StateSkipped
			default:
				e.State = StateDone
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, seq := range order {
		if err := fn(*byseq[seq]); err != nil {
			return err
		}
	}
	return nil
}
