package incident

import (
	"context"
	"errors"
	"time"
)

// Subscriber is what Follow needs of an engine: the engine itself, a
// standby's, or a test double.
type Subscriber interface {
	Subscribe(ctx context.Context, buffer int) (*State, *Subscription, error)
	Unsubscribe(*Subscription)
}

// Follow keeps a reader current from sub, which the caller took with its
// first snapshot: update gets every update; when the reader lagged and was
// dropped, Follow subscribes again (retrying while the engine is busy) and
// resync gets the fresh snapshot. It returns when ctx ends or the engine
// stops.
func Follow(ctx context.Context, eng Subscriber, sub *Subscription, buffer int, resync func(*State), update func(Update)) {
	for {
		select {
		case <-ctx.Done():
			eng.Unsubscribe(sub)
			return
		case u, ok := <-sub.C:
			if ok {
				update(u)
				continue
			}
			if !sub.Lagged() {
				return // the engine stopped
			}
			for {
				snap, s2, err := eng.Subscribe(ctx, buffer)
				if err == nil {
					sub = s2
					resync(snap)
					break
				}
				if ctx.Err() != nil || errors.Is(err, ErrStopped) {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
}
