package journal

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
)

// CheckError lists what Check found wrong. Problems holds at most
// maxProblems descriptions; Count is how many there were in all.
type CheckError struct {
	Dir      string
	Problems []string
	Count    int
}

const maxProblems = 1000

func (e *CheckError) Error() string {
	const shown = 10
	var b strings.Builder
	fmt.Fprintf(&b, "journal %s: check found %d problem(s)", e.Dir, e.Count)
	for i, p := range e.Problems {
		if i == shown {
			fmt.Fprintf(&b, "; and %d more", e.Count-shown)
			break
		}
		b.WriteString("; ")
		b.WriteString(p)
	}
	return b.String()
}

// intentState is what Check learned of one intent.
type intentState struct {
	run     uint64
	done    bool
	pending bool
}

// runState is what Check learned of one run from the journal.
type runState struct {
	startSeq uint64
	endSeq   uint64
	indexed  bool
}

// Check reads every key and value of the store from one consistent view,
// decodes each, and verifies that the indexes agree with the journal: each
// intent is either done (one Done record) or pending (one pending-index
// entry), never both or neither; each run's index matches its RunStarted
// and RunEnded records; every status row belongs to a folder with meta. It
// returns nil or a *CheckError. It changes nothing.
func (s *Store) Check() error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	ce := &CheckError{Dir: s.dir}
	problem := func(format string, args ...any) {
		ce.Count++
		if len(ce.Problems) < maxProblems {
			ce.Problems = append(ce.Problems, fmt.Sprintf(format, args...))
		}
	}

	snap := s.db.NewSnapshot()
	defer snap.Close()
	it, err := snap.NewIter(nil)
	if err != nil {
		return s.readError("check", err)
	}
	defer it.Close()

	intents := map[uint64]*intentState{}
	runs := map[uint64]*runState{}
	metaFolders := map[string]bool{}
	rowFolders := map[string]int{}
	var pendingSeqs []uint64
	pendingRun := map[uint64]uint64{}
	haveFormat := false
	dec := newRowDecoder()

	for ok := it.First(); ok; ok = it.Next() {
		k, v := it.Key(), it.Value()
		switch {
		case string(k) == string(keyFormat):
			haveFormat = true
			var format uint64
			if err := msgpack.Unmarshal(v, &format); err != nil || format == 0 || format > FormatVersion {
				problem("%s: unreadable or unsupported format version (%x)", keyFormat, v)
			}
		case string(k) == string(keyLastSeq) || string(k) == string(keyLastRun):
			var n uint64
			if err := msgpack.Unmarshal(v, &n); err != nil {
				problem("%s: unreadable (%x)", k, v)
			}
		case hasPrefix(k, prefixHint):
			if len(k) == len(prefixHint) || len(k) > len(prefixHint)+hintMost || len(v) > hintMost {
				problem("hint %q: name empty, or name or value over %d bytes", k, hintMost)
			}
		case hasPrefix(k, prefixObserved):
			k, v, err := readObserved(it)
			if errors.Is(err, errOrphanPiece) {
				continue // the remains of an interrupted write (setObserved)
			}
			if err == nil {
				_, err = decodeObserved(k, v)
			}
			if err != nil {
				problem("%v", err)
			}
		case hasPrefix(k, prefixJournal):
			seq, err := parseSeqKey(prefixJournal, k)
			if err != nil {
				problem("%v", err)
				continue
			}
			rec, err := decodeRecord(seq, v)
			if err != nil {
				problem("%v", err)
				continue
			}
			checkRecord(rec, intents, runs, problem)
		case hasPrefix(k, prefixPending):
			seq, err := parseSeqKey(prefixPending, k)
			if err != nil {
				problem("%v", err)
				continue
			}
			p, err := decodePending(seq, v)
			if err != nil {
				problem("%v", err)
				continue
			}
			pendingSeqs = append(pendingSeqs, seq)
			pendingRun[seq] = p.Run
		case hasPrefix(k, prefixRun):
			id, err := parseSeqKey(prefixRun, k)
			if err != nil {
				problem("%v", err)
				continue
			}
			ri, err := decodeRunIndex(id, v)
			if err != nil {
				problem("%v", err)
				continue
			}
			rs := runs[id]
			switch {
			case rs == nil:
				problem("run %d is in the run index but has no run-started record", id)
			case ri.StartSeq != rs.startSeq:
				problem("run %d: index says it started at record %d, the journal at %d", id, ri.StartSeq, rs.startSeq)
			case ri.Ended != (rs.endSeq != 0) || ri.EndSeq != rs.endSeq:
				problem("run %d: index says ended=%v at record %d, the journal has its run-ended record at %d (0: none)", id, ri.Ended, ri.EndSeq, rs.endSeq)
			}
			if rs != nil {
				rs.indexed = true
			}
		case hasPrefix(k, prefixFolder):
			name := string(k[len(prefixFolder):])
			if err := checkFolderName(name); err != nil {
				problem("folder meta key %q: %v", k, err)
				continue
			}
			if _, err := decodeFolderMeta(name, v); err != nil {
				problem("%v", err)
				continue
			}
			metaFolders[name] = true
		case hasPrefix(k, prefixStatus):
			name, uid, err := parseStatusKey(k)
			if err != nil {
				problem("%v", err)
				continue
			}
			if uid == 0 {
				problem("status row %q uid 0: a status row needs a UID", name)
			}
			if _, err := dec.decode(name, uid, v); err != nil {
				problem("%v", err)
				continue
			}
			rowFolders[name]++
		default:
			problem("unknown key %q", k)
		}
	}
	if err := it.Error(); err != nil {
		return s.readError("check: reading stopped", err)
	}

	if !haveFormat {
		problem("no %s key", keyFormat)
	}
	for _, seq := range pendingSeqs {
		is := intents[seq]
		switch {
		case is == nil:
			problem("pending index entry %d names no intent record", seq)
		case is.done:
			problem("intent %d is done but still in the pending index", seq)
		case is.run != pendingRun[seq]:
			problem("intent %d belongs to run %d, its pending index entry says run %d", seq, is.run, pendingRun[seq])
		default:
			is.pending = true
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(intents)) {
		if is := intents[seq]; !is.done && !is.pending {
			problem("intent %d has neither a done record nor a pending index entry", seq)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(runs)) {
		if !runs[id].indexed {
			problem("run %d has a run-started record but no run index entry", id)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rowFolders)) {
		if !metaFolders[name] {
			problem("folder %q has %d status rows but no folder meta (its UIDVALIDITY is unknown)", name, rowFolders[name])
		}
	}
	if ce.Count > 0 {
		return ce
	}
	return nil
}

// checkRecord verifies one journal record against what came before it.
func checkRecord(rec Record, intents map[uint64]*intentState, runs map[uint64]*runState, problem func(string, ...any)) {
	rs := runs[rec.Run]
	if rec.Kind == KindRunStarted {
		if rs != nil {
			problem("record %d: run %d started again (first at record %d)", rec.Seq, rec.Run, rs.startSeq)
			return
		}
		runs[rec.Run] = &runState{startSeq: rec.Seq}
		return
	}
	// A done record may follow its run's end: a later run resumes the
	// intents an earlier run left pending. An intent or a second end may not.
	if rs == nil {
		problem("record %d (%s) belongs to run %d, which has no earlier run-started record", rec.Seq, rec.Kind, rec.Run)
	} else if rs.endSeq != 0 && rec.Kind != KindDone {
		problem("record %d (%s) belongs to run %d, which ended at record %d", rec.Seq, rec.Kind, rec.Run, rs.endSeq)
	}
	switch rec.Kind {
	case KindIntent:
		intents[rec.Seq] = &intentState{run: rec.Run}
	case KindDone:
		is := intents[rec.Result.Seq]
		switch {
		case is == nil:
			problem("record %d: done for %d, which is not an earlier intent", rec.Seq, rec.Result.Seq)
		case is.done:
			problem("record %d: second done record for intent %d", rec.Seq, rec.Result.Seq)
		default:
			is.done = true
		}
	case KindRunEnded:
		if rs != nil && rs.endSeq == 0 {
			rs.endSeq = rec.Seq
		}
	}
}

func hasPrefix(k []byte, prefix string) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix
}
