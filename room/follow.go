package room

import (
	"context"
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
	printed := after
	printUpTo := func(seq int64) error {
		if seq <= printed {
			return nil
		}
		return r.Journal.ReplayRange(ctx, printed, seq, func(je journal.Event) error {
			ev, err := incident.FromJournal(je)
			if err != nil {
				return err
			}
			printed = ev.Seq
			_, err = fmt.Fprintln(w, ev.Line())
			return err
		})
	}
	for {
		snap, sub, err := r.Engine.Subscribe(ctx, 1024)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := printUpTo(snap.LastSeq); err != nil {
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
				if ev.Seq <= printed {
					continue
				}
				if ev.Seq != printed+1 { // never skip: fill any gap from the journal
					if err := printUpTo(ev.Seq - 1); err != nil {
						return err
					}
				}
				if _, err := fmt.Fprintln(w, ev.Line()); err != nil {
					return err
				}
				printed = ev.Seq
			}
		}
		if !sub.Lagged() {
			return nil // the engine stopped
		}
	}
}
