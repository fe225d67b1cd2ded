package incident

import (
	"context"
	"errors"
	"time"

	"github.com/warroom/warroom/journal"
)

// Subscriber is what Follow needs of an engine: the engine itself, a
// standby's, or a test double.
type Subscriber interface {
	Subscribe(ctx context.Context, buffer int) (*State, *Subscription, error)
	Unsubscribe(*Subscription)
}

// Snapshot is the engine's state now, for a reader that looks once.
func Snapshot(ctx context.Context, eng Subscriber) (*State, error) {
	st, sub, err := eng.Subscribe(ctx, 1)
	if err != nil {
		return nil, err
	}
	eng.Unsubscribe(sub)
	return st, nil
}

// Follow keeps a reader current from sub, which the caller took with its
// first snapshot: update gets every update; when the reader lagged and was
// dropped, Follow subscribes again (retrying while the engine is busy) and
// resync gets the fresh snapshot. It is the one loop over a subscription:
// every reader that stays current goes through it.
//
// It returns nil when ctx ends or the engine stops, and the first error
// of resync or update otherwise (after unsubscribing).
func Follow(ctx context.Context, eng Subscriber, sub *Subscription, buffer int, resync func(*State) error, update func(Update) error) error {
	for {
		select {
		case <-ctx.Done():
			eng.Unsubscribe(sub)
			return nil
		case u, ok := <-sub.C:
			if ok {
				if err := update(u); err != nil {
					eng.Unsubscribe(sub)
					return err
				}
				continue
			}
			if !sub.Lagged() {
				return nil // the engine stopped
			}
			snap, s2, err := resubscribe(ctx, eng, buffer)
			if err != nil {
				return nil // ctx ended or the engine stopped
			}
			sub = s2
			if err := resync(snap); err != nil {
				eng.Unsubscribe(sub)
				return err
			}
		}
	}
}

// resubscribe takes a fresh snapshot and feed, retrying while the engine
// is busy; it fails only when ctx ends or the engine stops.
func resubscribe(ctx context.Context, eng Subscriber, buffer int) (*State, *Subscription, error) {
	for {
		snap, sub, err := eng.Subscribe(ctx, buffer)
		if err == nil {
			return snap, sub, nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrStopped) {
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// FeedItem is what Feed brings: an update, or, when State is set, a fresh
// snapshot after the reader lagged (it holds all the reader missed).
type FeedItem struct {
	State  *State
	Update Update
}

// maxFeedBuffer bounds Feed's own buffer, on top of the subscription's.
const maxFeedBuffer = 256

// Feed is Follow for a reader that selects on other things too (a clock,
// a deadline): Follow runs in a goroutine of its own and hands what it
// brings through the channel, which is closed when ctx ends or the engine
// stops. End ctx when done reading: Follow then unsubscribes.
func Feed(ctx context.Context, eng Subscriber, sub *Subscription, buffer int) <-chan FeedItem {
	c := make(chan FeedItem, min(max(buffer, 1), maxFeedBuffer))
	send := func(it FeedItem) error {
		select {
		case c <- it:
		case <-ctx.Done():
		}
		return nil
	}
	go func() {
		defer close(c)
		_ = Follow(ctx, eng, sub, buffer,
			func(st *State) error { return send(FeedItem{State: st}) },
			func(u Update) error { return send(FeedItem{Update: u}) })
	}()
	return c
}

// EventReader reads committed events from the journal (its readers, never
// the writer).
type EventReader interface {
	ReplayRange(ctx context.Context, after, upto int64, fn func(journal.Event) error) error
}

// FollowEvents calls fn for every committed event after seq after, in
// order and once each, then for each new one, until ctx ends (nil), the
// engine stops (nil) or fn fails (its error). It is Follow at the level
// of events: the backlog, and any gap left by a subscription that fell
// behind, is read from the journal j up to the fresh snapshot, and events
// the feed brings again are skipped.
func FollowEvents(ctx context.Context, eng Subscriber, j EventReader, after int64, buffer int, fn func(Event) error) error {
	sent := after
	upTo := func(seq int64) error {
		if seq <= sent {
			return nil
		}
		return j.ReplayRange(ctx, sent, seq, func(je journal.Event) error {
			ev, err := FromJournal(je)
			if err != nil {
				return err
			}
			sent = ev.Seq
			return fn(ev)
		})
	}
	resync := func(snap *State) error { return upTo(snap.LastSeq) }
	update := func(u Update) error {
		for _, ev := range u.Events {
			if ev.Seq <= sent {
				continue
			}
			// Never skip: fill any gap from the journal.
			if err := upTo(ev.Seq - 1); err != nil {
				return err
			}
			if err := fn(ev); err != nil {
				return err
			}
			sent = ev.Seq
		}
		return nil
	}
	snap, sub, err := eng.Subscribe(ctx, buffer)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrStopped) {
			return nil
		}
		return err
	}
	if err := resync(snap); err != nil {
		eng.Unsubscribe(sub)
		return quiet(ctx, err)
	}
	return quiet(ctx, Follow(ctx, eng, sub, buffer, resync, update))
}

// quiet drops an error that only says ctx ended.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}
