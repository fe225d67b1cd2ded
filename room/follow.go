package room

import (
	"context"
	"fmt"
	"io"

	"github.com/warroom/warroom/incident"
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
// (nil) or fn fails (see incident.FollowEvents: the backlog, and any gap
// left by a subscription that fell behind, is read from the journal's
// readers, so no event is ever skipped and the writer is never waited for).
func (r *Room) FollowEvents(ctx context.Context, after int64, fn func(incident.Event) error) error {
	return incident.FollowEvents(ctx, r.Engine, r.Journal, after, 1024, fn)
}
