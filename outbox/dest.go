package outbox

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/warroom/warroom/journal"
)

// dest delivers one destination's rows, one at a time, in order.
type dest struct {
	d    Destination
	ob   *Outbox
	lim  *rate.Limiter
	rng  *rand.Rand
	wake chan struct{}

	mu      sync.Mutex
	queue   []*Row          // open rows, oldest first
	byKey   map[string]*Row // every row by key, for Lookup
	checkAt time.Time       // the head is uncertain: when to ask the service
	state   string
	err     string
	cause   *Error
	// blockedUntil holds the destination after a rate limit or a failure.
	blockedUntil time.Time
	failures     int
	failed       int
	delivered    int

	// What the loop is doing, for Quiet: woken (a kick is pending), busy
	// (working on a row), idle (waiting for work), parked (waiting on the
	// clock until then).
	woken, busy, idle bool
	parked            time.Time
}

// add takes a row the journal holds. m.mu is not held.
func (d *dest) add(r Row, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.byKey[r.Key]; ok {
		return
	}
	c := r
	d.byKey[r.Key] = &c
	if !r.State.Open() {
		return
	}
	if len(d.queue) == 0 && r.State == journal.OutboxUncertain {
		d.checkAt = now.Add(d.d.CheckAfter)
	}
	d.queue = append(d.queue, &c)
	d.kickLocked()
}

func (d *dest) kick() {
	d.mu.Lock()
	d.kickLocked()
	d.mu.Unlock()
}

func (d *dest) kickLocked() {
	d.woken = true
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Row implements Lookup.
func (d *dest) Row(key string) (Row, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.byKey[key]
	if !ok {
		return Row{}, false
	}
	return *r, true
}

func (d *dest) run(ctx context.Context) {
	for ctx.Err() == nil {
		now := d.ob.clk.Now()
		d.mu.Lock()
		d.woken, d.idle, d.parked = false, false, time.Time{}
		r, wait := d.next(now)
		switch {
		case r != nil:
			d.busy = true
		case wait > 0:
			d.parked = now.Add(wait)
		default:
			d.idle = true
		}
		d.mu.Unlock()
		if r == nil {
			var timer <-chan time.Time
			if wait > 0 {
				timer = d.ob.clk.After(wait)
			}
			select {
			case <-ctx.Done():
			case <-d.wake:
			case <-timer:
			}
			continue
		}
		d.attempt(ctx, *r)
		d.mu.Lock()
		d.busy = false
		d.mu.Unlock()
	}
}

// quiet reports whether the loop waits: for work, or for a time that has
// not come (tests advance a fake clock only then).
func (d *dest) quiet() bool {
	now := d.ob.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.busy && !d.woken && (d.idle || d.parked.After(now))
}

// next is the row to work on now, or how long to wait (-1: until woken).
// d.mu is held.
func (d *dest) next(now time.Time) (*Row, time.Duration) {
	if d.state == StateStopped || len(d.queue) == 0 {
		return nil, -1
	}
	if w := d.blockedUntil.Sub(now); w > 0 {
		return nil, w
	}
	head := d.queue[0]
	if head.State == journal.OutboxUncertain {
		if w := d.checkAt.Sub(now); w > 0 {
			return nil, w
		}
	}
	res := d.lim.ReserveN(now, 1)
	if w := res.DelayFrom(now); w > 0 {
		res.CancelAt(now)
		return nil, w
	}
	return head, 0
}

// attempt does one request for the head row r: a check when it is
// uncertain, else a send.
func (d *dest) attempt(ctx context.Context, r Row) {
	if r.State == journal.OutboxUncertain && !d.d.Resend {
		d.check(ctx, r)
		return
	}
	// Durably "sending" before the request goes out: a crash from here on
	// leaves the row uncertain, never sent again blindly.
	r.State, r.Attempts, r.Updated = journal.OutboxSending, r.Attempts+1, d.ob.clk.Now()
	if err := d.ob.j.UpdateOutbox(ctx, &r); err != nil {
		d.trouble(&Error{Class: Retryable, Code: "journal", Reason: "outbox: " + err.Error()})
		return
	}
	d.replace(r)
	remote, err := d.d.Sender.Send(ctx, r, d)
	if ctx.Err() != nil {
		return // shutting down: the row stays sending (uncertain at restart)
	}
	now := d.ob.clk.Now()
	e := classify(err)
	r.Updated = now
	switch {
	case e == nil:
		r.State, r.Remote, r.Error = journal.OutboxDelivered, remote, ""
	case e.Class == Uncertain:
		r.State, r.WasUncertain, r.Error = journal.OutboxUncertain, true, e.Reason
	case e.Class == Refused:
		r.State, r.Error = journal.OutboxFailed, e.Reason
	default: // not applied
		r.State, r.Error = journal.OutboxPending, e.Reason
	}
	d.finish(ctx, r, e, now)
}

// check asks the service about an uncertain row.
func (d *dest) check(ctx context.Context, r Row) {
	remote, found, err := d.d.Sender.Check(ctx, r, d)
	if ctx.Err() != nil {
		return
	}
	now := d.ob.clk.Now()
	r.Checks++
	r.Updated = now
	e := classify(err)
	switch {
	case e != nil:
		if e.Class == Uncertain || e.Class == Refused {
			e = &Error{Class: Retryable, Code: e.Code, Reason: "cannot tell whether it arrived: " + e.Reason}
		}
	case found:
		r.State, r.Remote, r.Error = journal.OutboxDelivered, remote, ""
	default:
		// Never arrived: send it again (the next attempt, paced).
		r.State, r.Error = journal.OutboxPending, "not applied by the service; sending again"
	}
	d.finish(ctx, r, e, now)
}

// finish records a row's new state durably, then in memory, and moves the
// destination on: the next row, a wait, or a stop.
func (d *dest) finish(ctx context.Context, r Row, e *Error, now time.Time) {
	if err := d.ob.j.UpdateOutbox(ctx, &r); err != nil {
		d.ob.o.Logf("outbox: %s row %s: %v", d.d.Name, r.Key, err)
		if r.State != journal.OutboxDelivered && r.State != journal.OutboxFailed {
			d.trouble(&Error{Class: Retryable, Code: "journal", Reason: "outbox: " + err.Error()})
			return
		}
		// The service has it; the journal will say "sending" until the
		// next start, which finds it again through Check.
	}
	d.replace(r)
	settled := r.State == journal.OutboxDelivered || r.State == journal.OutboxFailed ||
		(r.State == journal.OutboxUncertain && e != nil && e.Class == Uncertain)
	d.mu.Lock()
	switch r.State {
	case journal.OutboxDelivered:
		d.delivered++
		d.pop(r.ID)
		d.ok()
	case journal.OutboxFailed:
		d.failed++
		d.pop(r.ID)
		if e != nil {
			d.err, d.cause = e.Reason, e
		}
	case journal.OutboxUncertain:
		d.checkAt = now.Add(d.d.CheckAfter)
		if e != nil && e.Class != Uncertain {
			d.failedLocked(now, e) // a check that could not tell
		} else if e != nil {
			d.err, d.cause = e.Reason, e
		}
	case journal.OutboxPending:
		if e != nil {
			d.failedLocked(now, e)
		}
	}
	d.mu.Unlock()
	if settled {
		d.ob.settled(r)
	}
}

// replace updates the in-memory copy of r (queue and index).
func (d *dest) replace(r Row) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p := d.byKey[r.Key]; p != nil {
		*p = r
	}
}

func (d *dest) pop(id int64) {
	for i, q := range d.queue {
		if q.ID == id {
			d.queue = append(d.queue[:i], d.queue[i+1:]...)
			break
		}
	}
	if len(d.queue) > 0 && d.queue[0].State == journal.OutboxUncertain {
		d.checkAt = d.ob.clk.Now().Add(d.d.CheckAfter)
	}
}

// ok notes a success. d.mu is held.
func (d *dest) ok() {
	d.failures = 0
	d.blockedUntil = time.Time{}
	if d.state != StateStopped {
		d.state = StateOK
	}
	d.err, d.cause = "", nil
}

// trouble notes a failure that happened before any request. d.mu is not
// held.
func (d *dest) trouble(e *Error) {
	d.mu.Lock()
	d.failedLocked(d.ob.clk.Now(), e)
	d.mu.Unlock()
}

// failedLocked holds the destination after a request that was not
// applied. d.mu is held.
func (d *dest) failedLocked(now time.Time, e *Error) {
	d.err, d.cause = e.Reason, e
	switch e.Class {
	case RateLimited:
		ra := e.RetryAfter
		if ra <= 0 {
			ra = d.d.DefaultRetryAfter
		}
		d.blockedUntil = now.Add(ra)
		d.state = StateRateLimited
	case Fatal:
		d.state = StateStopped
		d.ob.o.Logf("outbox: %s stopped: %s", d.d.Name, e.Reason)
	default:
		d.failures++
		w := time.Second << min(d.failures-1, 16)
		w = min(w, d.d.MaxBackoff)
		w = w/2 + time.Duration(d.rng.Int64N(int64(w/2)+1)) // equal jitter
		d.blockedUntil = now.Add(w)
		d.state = StateRetrying
	}
}

func (d *dest) status() Status {
	now := d.ob.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{Dest: d.d.Name, State: d.state, Queued: len(d.queue), Failed: d.failed, Delivered: d.delivered, Err: d.err}
	if d.cause != nil {
		s.Cause = d.cause
	}
	for _, r := range d.queue {
		if r.State == journal.OutboxUncertain {
			s.Uncertain++
		}
		if s.Oldest.IsZero() || r.Created.Before(s.Oldest) {
			s.Oldest = r.Created
		}
	}
	switch {
	case d.state == StateStopped:
	case len(d.queue) > 0 && d.blockedUntil.After(now):
		s.RetryAt = d.blockedUntil
	case len(d.queue) > 0 && d.queue[0].State == journal.OutboxUncertain:
		s.State = StateChecking
	default:
		s.State = StateOK
	}
	return s
}
