package outbox

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/warroom/warroom/journal"
)

// dest is one destination: its lanes, and every row by key. One mutex
// guards the destination and its lanes (a row is shared by both).
type dest struct {
	d   Destination
	ob  *Outbox
	rng *rand.Rand

	mu        sync.Mutex
	byKey     map[string]*Row // every row by key, for Lookup
	lanes     map[string]*lane
	order     []*lane
	failed    int
	delivered int
	// The lanes' goroutines: started by run, and at once for a lane
	// created while it runs; none after it stops.
	ctx      context.Context
	stopping bool
	wg       sync.WaitGroup
}

// lane delivers the rows of one lane of a destination, one at a time, in
// order, with its own pacing and its own holds: a rate limit on one
// PagerDuty integration does not delay another's pages.
type lane struct {
	dest *dest
	name string
	lim  *rate.Limiter
	wake chan struct{}

	queue   []*Row    // open rows, oldest first
	checkAt time.Time // the head is uncertain: when to ask the service
	state   string
	err     string
	cause   *Error
	// blockedUntil holds the lane after a rate limit or a failure.
	blockedUntil time.Time
	failures     int

	// What the loop is doing, for Quiet: woken (a kick is pending), busy
	// (working on a row), idle (waiting for work), parked (waiting on the
	// clock until then).
	woken, busy, idle bool
	parked            time.Time
}

// laneLocked is the lane for name, made (and started, if the destination
// runs) on first use. d.mu is held.
func (d *dest) laneLocked(name string) *lane {
	if l := d.lanes[name]; l != nil {
		return l
	}
	l := &lane{dest: d, name: name, lim: rate.NewLimiter(rate.Limit(d.d.Rate), d.d.Burst), wake: make(chan struct{}, 1), state: StateOK}
	d.lanes[name] = l
	d.order = append(d.order, l)
	if d.ctx != nil {
		d.startLocked(l)
	}
	return l
}

func (d *dest) startLocked(l *lane) {
	if d.stopping {
		return
	}
	d.wg.Add(1)
	go func() { defer d.wg.Done(); l.run(d.ctx) }()
}

// run runs the lanes until ctx ends and they have returned.
func (d *dest) run(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	for _, l := range d.order {
		d.startLocked(l)
	}
	d.mu.Unlock()
	<-ctx.Done()
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	d.wg.Wait()
}

// add takes a row the journal holds. d.mu is not held.
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
	name := ""
	if d.d.Lane != nil {
		name = d.d.Lane(r)
	}
	l := d.laneLocked(name)
	if len(l.queue) == 0 && r.State == journal.OutboxUncertain {
		l.checkAt = now.Add(d.d.CheckAfter)
	}
	l.queue = append(l.queue, &c)
	l.kickLocked()
}

// resume restarts lanes stopped by a fatal answer.
func (d *dest) resume() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.order {
		if l.state == StateStopped {
			l.state, l.err = StateOK, ""
		}
		l.kickLocked()
	}
}

func (l *lane) kickLocked() {
	l.woken = true
	select {
	case l.wake <- struct{}{}:
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

func (l *lane) run(ctx context.Context) {
	d := l.dest
	for ctx.Err() == nil {
		// The time is read and the timer set under d.mu, where quiet looks:
		// a fake clock is advanced only once the lane is seen parked, so
		// the timer cannot end later than the time parked says.
		var timer <-chan time.Time
		d.mu.Lock()
		now := d.ob.clk.Now()
		l.woken, l.idle, l.parked = false, false, time.Time{}
		r, wait := l.next(now)
		switch {
		case r != nil:
			l.busy = true
		case wait > 0:
			l.parked = now.Add(wait)
			timer = d.ob.clk.After(wait)
		default:
			l.idle = true
		}
		d.mu.Unlock()
		if r == nil {
			select {
			case <-ctx.Done():
			case <-l.wake:
			case <-timer:
			}
			continue
		}
		l.attempt(ctx, *r)
		d.mu.Lock()
		l.busy = false
		d.mu.Unlock()
	}
}

// quiet reports whether every lane waits: for work, or for a time that
// has not come (tests advance a fake clock only then).
func (d *dest) quiet() bool {
	now := d.ob.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range d.order {
		if l.busy || l.woken || !(l.idle || l.parked.After(now)) {
			return false
		}
	}
	return true
}

// next is the row to work on now, or how long to wait (-1: until woken).
// d.mu is held.
func (l *lane) next(now time.Time) (*Row, time.Duration) {
	if l.state == StateStopped || len(l.queue) == 0 {
		return nil, -1
	}
	if w := l.blockedUntil.Sub(now); w > 0 {
		return nil, w
	}
	head := l.queue[0]
	if head.State == journal.OutboxUncertain {
		if w := l.checkAt.Sub(now); w > 0 {
			return nil, w
		}
	}
	res := l.lim.ReserveN(now, 1)
	if w := res.DelayFrom(now); w > 0 {
		res.CancelAt(now)
		return nil, w
	}
	return head, 0
}

// attempt does one request for the head row r: a check when it is
// uncertain, else a send.
func (l *lane) attempt(ctx context.Context, r Row) {
	d := l.dest
	if r.State == journal.OutboxUncertain && !d.d.Resend {
		l.check(ctx, r)
		return
	}
	// Durably "sending" before the request goes out: a crash from here on
	// leaves the row uncertain, never sent again blindly.
	r.State, r.Attempts, r.Updated = journal.OutboxSending, r.Attempts+1, d.ob.clk.Now()
	if err := d.ob.j.UpdateOutbox(ctx, &r); err != nil {
		l.trouble(&Error{Class: Retryable, Code: "journal", Reason: "outbox: " + err.Error()})
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
	l.finish(ctx, r, e, now)
}

// check asks the service about an uncertain row.
func (l *lane) check(ctx context.Context, r Row) {
	remote, found, err := l.dest.d.Sender.Check(ctx, r, l.dest)
	if ctx.Err() != nil {
		return
	}
	now := l.dest.ob.clk.Now()
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
	l.finish(ctx, r, e, now)
}

// finish records a row's new state durably, then in memory, and moves the
// lane on: the next row, a wait, or a stop.
func (l *lane) finish(ctx context.Context, r Row, e *Error, now time.Time) {
	d := l.dest
	if err := d.ob.j.UpdateOutbox(ctx, &r); err != nil {
		d.ob.o.Logf("outbox: %s row %s: %v", d.d.Name, r.Key, err)
		if r.State != journal.OutboxDelivered && r.State != journal.OutboxFailed {
			l.trouble(&Error{Class: Retryable, Code: "journal", Reason: "outbox: " + err.Error()})
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
		l.pop(r.ID)
		l.ok()
	case journal.OutboxFailed:
		d.failed++
		l.pop(r.ID)
		if e != nil {
			l.err, l.cause = e.Reason, e
		}
	case journal.OutboxUncertain:
		l.checkAt = now.Add(d.d.CheckAfter)
		if e != nil && e.Class != Uncertain {
			l.failedLocked(now, e) // a check that could not tell
		} else if e != nil {
			l.err, l.cause = e.Reason, e
		}
	case journal.OutboxPending:
		if e != nil {
			l.failedLocked(now, e)
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

func (l *lane) pop(id int64) {
	for i, q := range l.queue {
		if q.ID == id {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			break
		}
	}
	if len(l.queue) > 0 && l.queue[0].State == journal.OutboxUncertain {
		l.checkAt = l.dest.ob.clk.Now().Add(l.dest.d.CheckAfter)
	}
}

// ok notes a success. d.mu is held.
func (l *lane) ok() {
	l.failures = 0
	l.blockedUntil = time.Time{}
	if l.state != StateStopped {
		l.state = StateOK
	}
	l.err, l.cause = "", nil
}

// trouble notes a failure that happened before any request. d.mu is not
// held.
func (l *lane) trouble(e *Error) {
	l.dest.mu.Lock()
	l.failedLocked(l.dest.ob.clk.Now(), e)
	l.dest.mu.Unlock()
}

// failedLocked holds the lane after a request that was not applied.
// d.mu is held.
func (l *lane) failedLocked(now time.Time, e *Error) {
	d := l.dest
	l.err, l.cause = e.Reason, e
	switch e.Class {
	case RateLimited:
		ra := e.RetryAfter
		if ra <= 0 {
			ra = d.d.DefaultRetryAfter
		}
		l.blockedUntil = now.Add(ra)
		l.state = StateRateLimited
	case Fatal:
		l.state = StateStopped
		d.ob.o.Logf("outbox: %s stopped: %s", d.d.Name, e.Reason)
	default:
		l.failures++
		w := time.Second << min(l.failures-1, 16)
		w = min(w, d.d.MaxBackoff)
		w = w/2 + time.Duration(d.rng.Int64N(int64(w/2)+1)) // equal jitter
		l.blockedUntil = now.Add(w)
		l.state = StateRetrying
	}
}

// status is one lane's health. d.mu is held.
func (l *lane) status(now time.Time) Status {
	s := Status{Dest: l.dest.d.Name, Lane: l.name, State: l.state, Queued: len(l.queue), Err: l.err}
	if l.cause != nil {
		s.Cause = l.cause
	}
	for _, r := range l.queue {
		if r.State == journal.OutboxUncertain {
			s.Uncertain++
		}
		if s.Oldest.IsZero() || r.Created.Before(s.Oldest) {
			s.Oldest = r.Created
		}
	}
	switch {
	case l.state == StateStopped:
	case len(l.queue) > 0 && l.blockedUntil.After(now):
		s.RetryAt = l.blockedUntil
	case len(l.queue) > 0 && l.queue[0].State == journal.OutboxUncertain:
		s.State = StateChecking
	default:
		s.State = StateOK
	}
	return s
}

// severity orders states for a destination's summary: the worst lane
// speaks for it.
var severity = map[string]int{StateOK: 0, StateChecking: 1, StateRetrying: 2, StateRateLimited: 3, StateStopped: 4}

// status sums the lanes; the worst lane gives the state, wait and error,
// and is named when the destination has lanes.
func (d *dest) status() Status {
	now := d.ob.clk.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{Dest: d.d.Name, State: StateOK, Failed: d.failed, Delivered: d.delivered}
	worst := -1
	for _, l := range d.order {
		ls := l.status(now)
		s.Queued += ls.Queued
		s.Uncertain += ls.Uncertain
		if !ls.Oldest.IsZero() && (s.Oldest.IsZero() || ls.Oldest.Before(s.Oldest)) {
			s.Oldest = ls.Oldest
		}
		if sev := severity[ls.State]; sev > worst || (sev == worst && s.Err == "" && ls.Err != "") {
			worst = sev
			s.State, s.RetryAt, s.Err, s.Cause = ls.State, ls.RetryAt, ls.Err, ls.Cause
			s.Lane = ""
			if d.d.Lane != nil && sev > 0 {
				s.Lane = ls.Lane
			}
		}
	}
	return s
}
