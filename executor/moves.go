package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"mailtrail/adapters"
	"mailtrail/journal"
	"mailtrail/model"
)

// moveLocal carries out OpMoveLocal steps: the server moved a message from
// folder op.From (where it was op.FromUID, and locally the file op.Key)
// into this folder as op.UID. The planner paired the two only by size; the
// move is made only when the server message is confirmed to be the local
// file: the same Message-ID, or, for a message without one, the same
// bytes. Then the file is renamed into this folder (nothing downloaded),
// the status row From/FromUID replaced by this folder's row, in one
// checkpoint after both directories are flushed.
//
// Unconfirmed, each step falls back to what the planner would have done
// without the pairing: the message is downloaded here and the old file
// removed. A crash anywhere needs no recovery of its own: before the
// rename the next plan pairs the two again; after it, the file carries
// this folder's FMD5 and the new UID, and the next plan pairs it with the
// server message by that UID.
func (e *Executor) moveLocal(ctx context.Context, p *Pair, steps []Step, res *Result) error {
	ids, err := p.RemoteFolder.MessageIDs(ctx, stepUIDs(steps))
	if err != nil {
		return fmt.Errorf("read Message-IDs in %q to confirm moves: %w", p.Name, err)
	}
	sources := map[string]adapters.LocalFolder{}
	source := func(name string) (adapters.LocalFolder, error) {
		if lf, ok := sources[name]; ok {
			return lf, nil
		}
		lf, err := p.Local.OpenFolder(ctx, name)
		if err != nil {
			return nil, err
		}
		sources[name] = lf
		return lf, nil
	}
	cp := journal.Checkpoint{}
	var ok []model.Op
	var fallback []Step
	var stop error // stops the folder: the local file system takes no more changes
	for _, s := range steps {
		op := *s.Op
		from, err := source(op.From)
		if err != nil {
			if errors.Is(err, adapters.ErrNoFolder) {
				fallback = append(fallback, s)
				continue
			}
			return fmt.Errorf("open local folder %q: %w", op.From, err)
		}
		same, err := e.sameMessage(ctx, p, from, op, ids[op.UID])
		if errors.Is(err, adapters.ErrNoMessage) || (err == nil && !same) {
			fallback = append(fallback, s)
			continue
		}
		if err != nil {
			return err
		}
		err = from.MoveTo(ctx, op.Key, p.LocalFolder, op.UID, op.Flags)
		if errors.Is(err, adapters.ErrNoMessage) {
			fallback = append(fallback, s)
			continue
		}
		if err != nil && isFolderFatal(err) {
			// The moves done are recorded below; this one and the rest
			// stay pending for the next run.
			stop = err
			break
		}
		if err != nil {
			failed(res, &cp, s, err)
			continue
		}
		cp.Results = append(cp.Results, journal.OpResult{Seq: s.Seq, UID: op.UID, Key: op.Key})
		cp.Delete = append(cp.Delete, journal.FolderUID{Folder: op.From, UID: op.FromUID})
		cp.Upsert = append(cp.Upsert, journal.FolderRow{Folder: p.Name, Row: model.StatusRow{UID: op.UID, Key: op.Key, Flags: op.Flags}})
		ok = append(ok, op)
	}
	if len(ok) > 0 {
		for _, lf := range sources {
			if err := lf.Flush(ctx); err != nil {
				return fmt.Errorf("flush local folder: %w", err)
			}
		}
		if err := p.LocalFolder.Flush(ctx); err != nil {
			return fmt.Errorf("flush local folder %q: %w", p.Name, err)
		}
	}
	if err := e.checkpoint(p, res, cp, ok, false); err != nil {
		return err
	}
	if stop != nil {
		return stop
	}
	if len(fallback) == 0 {
		return nil
	}
	e.Log.Info().Int("unconfirmed", len(fallback)).Msg("server moves not confirmed by content: downloading instead")
	return e.moveFallback(ctx, p, fallback, res, source)
}

// sameMessage reports whether the server's op.UID (with Message-ID
// remoteID) is the local file op.Key of folder from.
func (e *Executor) sameMessage(ctx context.Context, p *Pair, from adapters.LocalFolder, op model.Op, remoteID string) (bool, error) {
	r, size, _, err := from.OpenForUpload(ctx, op.Key)
	if err != nil {
		return false, err
	}
	localID := adapters.TrimMessageID(messageID(r))
	r.Close()
	if size != op.Size {
		return false, nil
	}
	if localID != "" || remoteID != "" {
		return localID == remoteID, nil
	}
	exact, _, err := localDigests(ctx, &Pair{Name: op.From, LocalFolder: from}, op.Key)
	if err != nil {
		return false, err
	}
	same := false
	err = p.RemoteFolder.Fetch(ctx, []uint32{op.UID}, func(m model.RemoteMsg, body io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		same = bytes.Equal(h.Sum(nil), exact)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("read uid %d in %q to confirm a move: %w", op.UID, p.Name, err)
	}
	return same, nil
}

// moveFallback downloads the messages of unconfirmed moves into this
// folder and removes the old files from their folders: what the plan
// would have been without the pairing.
func (e *Executor) moveFallback(ctx context.Context, p *Pair, steps []Step, res *Result, source func(string) (adapters.LocalFolder, error)) error {
	fetches := make([]Step, len(steps))
	for i, s := range steps {
		fetches[i] = Step{Seq: s.Seq, Op: &model.Op{Kind: model.OpFetch, Folder: p.Name, UID: s.Op.UID, Flags: s.Op.Flags,
			Size: s.Op.Size, Reason: s.Op.Reason}}
	}
	// fetchBatch checkpoints each step's result, as a fetch.
	if err := e.fetch(ctx, p, fetches, res, false); err != nil {
		return err
	}
	cp := journal.Checkpoint{}
	touched := map[string]adapters.LocalFolder{}
	deleted := 0
	for _, s := range steps {
		from, err := source(s.Op.From)
		if errors.Is(err, adapters.ErrNoFolder) {
			cp.Delete = append(cp.Delete, journal.FolderUID{Folder: s.Op.From, UID: s.Op.FromUID})
			continue
		}
		if err != nil {
			return fmt.Errorf("open local folder %q: %w", s.Op.From, err)
		}
		if err := from.Delete(ctx, s.Op.Key); err != nil {
			return fmt.Errorf("remove %q from %q (its message moved to %q on the server): %w", s.Op.Key, s.Op.From, p.Name, err)
		}
		touched[s.Op.From] = from
		cp.Delete = append(cp.Delete, journal.FolderUID{Folder: s.Op.From, UID: s.Op.FromUID})
		deleted++
	}
	for name, lf := range touched {
		if err := lf.Flush(ctx); err != nil {
			return fmt.Errorf("flush local folder %q: %w", name, err)
		}
	}
	// The downloads' results first: they are what makes the removals safe.
	if err := e.commitHeld(p, res); err != nil {
		return err
	}
	if err := e.Journal.Checkpoint(cp); err != nil {
		return fmt.Errorf("journal checkpoint: %w", err)
	}
	res.Done[model.OpDeleteLocal] += deleted
	return nil
}
