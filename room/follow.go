package room

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// Follow prints every event of the room as one line, from the first one
// in the journal, as soon as it is committed (the engine publishes only
// after the commit, and the backlog is read from the journal itself). It
// returns when ctx ends or the engine stops.
func (r *Room) Follow(ctx context.Context, w io.Writer) error {
	return r.FollowAfter(ctx, w, 0)
}

// FollowAfter is Follow starting after event seq after.
func (r *Room) FollowAfter(ctx context.Context, w io.Writer, after int64) error {
	return r.FollowEvents(ctx, after, func(ev incident.Event) error {
		_, err := fmt.Fprintln(w, ev.Line())
		return err
	})
}

// FollowEvents calls fn for every committed event after seq after, in
// order, then for each new one, until ctx ends (nil), the engine stops
// (nil) or fn fails. The backlog, and any gap left by a subscription that
// fell behind, is read from the journal through its readers, so no event
// is ever skipped and the writer is never waited for.
func (r *Room) FollowEvents(ctx context.Context, after int64, fn func(incident.Event) error) error {
	if err := r.follow(ctx, after, fn); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func (r *Room) follow(ctx context.Context, after int64, fn func(incident.Event) error) error {
	sent := after
	upTo := func(seq int64) error {
		if seq <= sent {
			return nil
		}
		return r.Journal.ReplayRange(ctx, sent, seq, func(je journal.Event) error {
			ev, err := incident.FromJournal(je)
			if err != nil {
				return err
			}
			sent = ev.Seq
			return fn(ev)
		})
	}
	for range 1 << 20 { // bounded: one round per resync
		snap, sub, err := r.Engine.Subscribe(ctx, 1024)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, incident.ErrStopped) {
				return nil
			}
			return err
		}
		if err := upTo(snap.LastSeq); err != nil {
			r.Engine.Unsubscribe(sub)
			return err
		}
	recv:
		for {
			var u incident.Update
			var ok bool
			select {
			case <-ctx.Done():
				r.Engine.Unsubscribe(sub)
				return nil
			case u, ok = <-sub.C:
			}
			if !ok {
				break recv
			}
			for _, ev := range u.Events {
				if ev.Seq <= sent {
					continue
				}
				if ev.Seq != sent+1 { // never skip: fill any gap from the journal
					if err := upTo(ev.Seq - 1); err != nil {
						r.Engine.Unsubscribe(sub)
						return err
					}
				}
				if err := fn(ev); err != nil {
					r.Engine.Unsubscribe(sub)
					return err
				}
				sent = ev.Seq
			}
		}
		if !sub.Lagged() {
			return nil // the engine stopped
		}
	}
	return errors.New("follow: too many resyncs")
}
