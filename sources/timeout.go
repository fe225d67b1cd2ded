package sources

import (
	"context"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
)

// WithTimeout is context.WithTimeout on clk: on the real clock it is
// exactly that; on a fake or scaled clock the context is cancelled when
// clk says d has passed (a goroutine waits for it until then or until the
// returned cancel is called). After such a deadline, ctx.Err() is
// context.Canceled and context.Cause(ctx) is context.DeadlineExceeded.
func WithTimeout(ctx context.Context, clk clock.Clock, d time.Duration) (context.Context, context.CancelFunc) {
	switch clk.(type) {
	case nil, clock.Real, *clock.Real:
		return context.WithTimeout(ctx, d)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	go func() {
		select {
		case <-clk.After(d):
			cancel(context.DeadlineExceeded)
		case <-stop:
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() { close(stop) })
		cancel(context.Canceled)
	}
}
