// Package outbox is the one pattern for every effect the war room has
// outside itself: public status updates (Statuspage), and next paging
// (PagerDuty). It knows no service; a Sender per destination does.
//
// A reader follows the journal with a durable cursor and plans, for each
// committed event, the effects it asks for: rows written in the same
// transaction as the cursor (journal.Enqueue), so a crash leaves both or
// neither. A row moves pending → sending → delivered, or uncertain (the
// request went out and its answer was lost: the service is asked with
// Sender.Check before anything is sent again), or failed (the service
// refused it). A row found in state sending at start-up was on its way
// when the process died: it is uncertain. Each row carries an idempotency
// key, which a sender passes to the service where the service has one; a
// service that deduplicates by it but cannot be asked (Destination.Resend)
// gets an uncertain row again instead of a check.
//
// Each destination delivers its rows one at a time in order (a later
// effect may need an earlier one's result, as an incident update needs
// its incident), paced by a token bucket (golang.org/x/time/rate) on the
// room's clock; a destination split into lanes (Destination.Lane) does so
// per lane. A rate limit holds the lane until its Retry-After has passed; failures back off with equal jitter; a fatal answer (bad
// credentials) stops the destination with the reason and keeps its queue.
// Status reports each destination's state and lag for status bars and
// /metrics.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/journal"
)

// Row is one intended effect (see journal.OutboxRow).
type Row = journal.OutboxRow

// Lookup finds an earlier row of the same destination by key, as it is
// now (a delivered create's Remote, say).
type Lookup interface {
	Row(key string) (Row, bool)
}

// Sender performs one destination's effects. Its errors are *Error values
// saying whether the effect may have happened; any other error counts as
// Uncertain.
type Sender interface {
	// Send performs r's effect and returns the service's id of it.
	Send(ctx context.Context, r Row, earlier Lookup) (remote string, err error)
	// Check asks the service whether r's effect, whose answer was lost,
	// happened: found (with its id), or not (it is safe to send again).
	// An error means it cannot tell now; it is asked again later.
	Check(ctx context.Context, r Row, earlier Lookup) (remote string, found bool, err error)
}

// Destination is one service the outbox delivers to.
type Destination struct {
	Name   string // the rows' Dest
	Sender Sender
	// Rate and Burst pace requests (checks included): Rate per second,
	// Burst at once (default 1 and 1).
	Rate  float64
	Burst int
	// DefaultRetryAfter is waited after a rate limit that says nothing
	// (default 60 s).
	DefaultRetryAfter time.Duration
	// MaxBackoff caps the wait between attempts while the service fails
	// (default 60 s).
	MaxBackoff time.Duration
	// CheckAfter is how long after a lost answer the service is asked
	// (default 5 s): long enough for it to have finished the request.
	CheckAfter time.Duration
	// Resend says the service applies a repeated request once (it
	// deduplicates by the row's key, as PagerDuty does by dedup_key) and
	// cannot be asked: an uncertain row is sent again after CheckAfter,
	// without Sender.Check.
	Resend bool
	// Lane, when set, splits the destination into lanes by what the
	// service limits separately (PagerDuty limits each integration key):
	// each lane keeps its rows in order with its own pacing (Rate, Burst),
	// rate-limit holds and back-off, so one throttled lane delays no
	// other. Rows whose order matters must share a lane.
	Lane func(Row) string
}

// Planner turns one committed event into the effects it asks for. It is
// called for every event in seq order, from the first; replay is set for
// events the cursor already covers (their rows were enqueued before a
// restart), whose rows are ignored: the planner only folds them.
type Planner func(ev journal.Event, replay bool) []Row

// Options configure an Outbox.
type Options struct {
	Journal journal.Journal
	Clock   clock.Clock // default real time
	// Cursor names the reader's journal cursor (required with Plan).
	Cursor string
	// Plan, when set, follows the journal: wake it with Wake when events
	// are committed. Without it, rows come only from Enqueue.
	Plan         Planner
	Destinations []Destination
	// OnSettled is called, from the destination's goroutine, after a row
	// durably reached delivered, uncertain or failed (DELIVERY events).
	OnSettled func(Row)
	// Logf receives diagnostics. Default: discarded.
	Logf func(format string, args ...any)
	// Seed makes backoff jitter reproducible (0: random).
	Seed uint64
}

// Outbox is a running outbox: one reader and its destinations.
type Outbox struct {
	o     Options
	j     journal.Journal
	clk   clock.Clock
	dests map[string]*dest
	order []*dest
	wake  chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	cursor int64 // planned through
}

// New checks the options; Start runs the outbox.
func New(o Options) (*Outbox, error) {
	if o.Journal == nil {
		return nil, errors.New("outbox: no journal")
	}
	if o.Plan != nil && o.Cursor == "" {
		return nil, errors.New("outbox: a planner needs a cursor name")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	ob := &Outbox{o: o, j: o.Journal, clk: o.Clock, dests: map[string]*dest{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	for i, d := range o.Destinations {
		if d.Name == "" || d.Sender == nil {
			return nil, fmt.Errorf("outbox: destination %d needs a name and a sender", i)
		}
		if ob.dests[d.Name] != nil {
			return nil, fmt.Errorf("outbox: destination %q twice", d.Name)
		}
		if d.Rate <= 0 {
			d.Rate = 1
		}
		if d.Burst <= 0 {
			d.Burst = 1
		}
		if d.DefaultRetryAfter <= 0 {
			d.DefaultRetryAfter = time.Minute
		}
		if d.MaxBackoff <= 0 {
			d.MaxBackoff = time.Minute
		}
		if d.CheckAfter <= 0 {
			d.CheckAfter = 5 * time.Second
		}
		x := &dest{d: d, ob: ob, byKey: map[string]*Row{}, lanes: map[string]*lane{}, rng: rand.New(rand.NewPCG(seed, uint64(i)+1))}
		ob.dests[d.Name] = x
		ob.order = append(ob.order, x)
	}
	return ob, nil
}

// Start loads the open rows (a row found sending becomes uncertain),
// replays the journal up to the cursor into the planner, and starts the
// destinations and the reader. It returns once they run; they stop when
// ctx ends (Done is closed then).
func (ob *Outbox) Start(ctx context.Context) error {
	if err := ob.j.InitOutbox(ctx); err != nil {
		return err
	}
	names := make([]string, 0, len(ob.order))
	for _, d := range ob.order {
		names = append(names, d.d.Name)
	}
	rows, err := ob.j.OutboxRows(ctx, false, names...)
	if err != nil {
		return fmt.Errorf("outbox: read rows: %w", err)
	}
	now := ob.clk.Now()
	for i := range rows {
		r := rows[i]
		d := ob.dests[r.Dest]
		if r.State == journal.OutboxSending {
			// Killed mid-request: the service may or may not have it.
			r.State, r.WasUncertain, r.Updated = journal.OutboxUncertain, true, now
			if err := ob.j.UpdateOutbox(ctx, &r); err != nil {
				return fmt.Errorf("outbox: mark uncertain: %w", err)
			}
			ob.settled(r)
		}
		d.add(r, now)
	}
	if ob.o.Plan != nil {
		cur, err := ob.j.Cursor(ctx, ob.o.Cursor)
		if err != nil {
			return fmt.Errorf("outbox: read cursor: %w", err)
		}
		ob.cursor = cur
		if cur > 0 {
			err := ob.j.ReplayRange(ctx, 0, cur, func(e journal.Event) error {
				ob.o.Plan(e, true)
				return nil
			})
			if err != nil {
				return fmt.Errorf("outbox: replay to the cursor: %w", err)
			}
		}
	}
	var wg sync.WaitGroup
	for _, d := range ob.order {
		wg.Add(1)
		go func() { defer wg.Done(); d.run(ctx) }()
	}
	if ob.o.Plan != nil {
		wg.Add(1)
		go func() { defer wg.Done(); ob.follow(ctx) }()
	}
	go func() { wg.Wait(); close(ob.done) }()
	return nil
}

func (ob *Outbox) settled(r Row) {
	if ob.o.OnSettled != nil {
		ob.o.OnSettled(r)
	}
}

// Done is closed once every goroutine of the outbox has returned.
func (ob *Outbox) Done() <-chan struct{} { return ob.done }

// Wake tells the reader that events were committed. It never blocks.
func (ob *Outbox) Wake() {
	select {
	case ob.wake <- struct{}{}:
	default:
	}
}

// Resume restarts destinations stopped by a fatal answer (once the
// credentials are fixed, say); their queues were kept.
func (ob *Outbox) Resume() {
	for _, d := range ob.order {
		d.resume()
	}
}

// Quiet reports whether the outbox has nothing to do now: the reader has
// planned every committed event and each destination waits, for work or
// for a time that has not come. Tests that drive a fake clock advance it
// only then.
func (ob *Outbox) Quiet() bool {
	if ob.o.Plan != nil && ob.Cursor() < ob.j.LastSeq() {
		return false
	}
	for _, d := range ob.order {
		if !d.quiet() {
			return false
		}
	}
	return true
}

// Cursor is the seq the reader has planned through.
func (ob *Outbox) Cursor() int64 {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.cursor
}

// Enqueue adds rows for their destinations durably, moving the reader's
// cursor to cursorSeq in the same transaction when cursorSeq > 0, and
// wakes the destinations. A key already enqueued is kept as it was.
func (ob *Outbox) Enqueue(ctx context.Context, rows []Row, cursorSeq int64) error {
	now := ob.clk.Now()
	for i := range rows {
		r := &rows[i]
		if ob.dests[r.Dest] == nil {
			return fmt.Errorf("outbox: no destination %q", r.Dest)
		}
		if r.Key == "" {
			return fmt.Errorf("outbox: a row for %s needs a key", r.Dest)
		}
		r.State, r.Created, r.Updated = journal.OutboxPending, now, now
	}
	if len(rows) == 0 && cursorSeq <= ob.Cursor() {
		return nil
	}
	if err := ob.j.Enqueue(ctx, rows, ob.o.Cursor, cursorSeq); err != nil {
		return err
	}
	if cursorSeq > 0 {
		ob.mu.Lock()
		ob.cursor = max(ob.cursor, cursorSeq)
		ob.mu.Unlock()
	}
	for _, r := range rows {
		ob.dests[r.Dest].add(r, now)
	}
	return nil
}

// follow plans the events after the cursor, in pages, whenever woken.
func (ob *Outbox) follow(ctx context.Context) {
	const page = 500
	retry := time.Duration(0)
	for {
		var timer <-chan time.Time
		if retry > 0 {
			timer = ob.clk.After(retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-ob.wake:
		case <-timer:
		}
		retry = 0
		for ctx.Err() == nil {
			from := ob.Cursor()
			upto := min(ob.j.LastSeq(), from+page)
			if upto <= from {
				break
			}
			var rows []Row
			err := ob.j.ReplayRange(ctx, from, upto, func(e journal.Event) error {
				rows = append(rows, ob.o.Plan(e, false)...)
				return nil
			})
			if err == nil {
				err = ob.Enqueue(ctx, rows, upto)
			}
			if err != nil {
				if ctx.Err() == nil {
					ob.o.Logf("outbox: plan #%d-#%d: %v", from+1, upto, err)
					retry = time.Second
				}
				break
			}
		}
	}
}

// ---- status ----------------------------------------------------------------

// Destination states, as Status reports them.
const (
	StateOK          = "ok"           // nothing queued, or delivering
	StateRateLimited = "rate-limited" // waiting out a Retry-After
	StateRetrying    = "retrying"     // the service fails; backing off
	StateChecking    = "checking"     // an answer was lost; asking the service
	StateStopped     = "stopped"      // a fatal answer; see Err
)

// Status is one destination's health.
type Status struct {
	Dest      string
	Lane      string // the lane the state is about (destinations with lanes)
	State     string
	Queued    int       // rows not yet delivered (pending, sending, uncertain)
	Uncertain int       // of which the service is being asked about
	Failed    int       // rows the service refused (since start)
	Delivered int       // rows delivered (since start)
	Oldest    time.Time // when the oldest queued row was enqueued (lag)
	RetryAt   time.Time // rate-limited or retrying: when it tries again
	Err       string    // the last failure; why it stopped
	Cause     error     // the last failure as an *Error (nil after a success)
}

// Lag is how long the oldest queued row has waited (0 when none).
func (s Status) Lag(now time.Time) time.Duration {
	if s.Oldest.IsZero() {
		return 0
	}
	return max(now.Sub(s.Oldest), 0)
}

// Status reports every destination, in the order they were given.
func (ob *Outbox) Status() []Status {
	out := make([]Status, 0, len(ob.order))
	for _, d := range ob.order {
		out = append(out, d.status())
	}
	return out
}

// Line is the destination's state for status bars: "ok", "ok, 2
// queued", "rate-limited, 1 queued, retry in 25s", "rate-limited
// (person:alice), 3 queued, retry in 25s" (the lane held), "stopped: the
// routing key is not valid".
func (s Status) Line(now time.Time) string {
	out := s.State
	if s.Lane != "" {
		out += " (" + s.Lane + ")"
	}
	if s.Queued > 0 {
		out += fmt.Sprintf(", %d queued", s.Queued)
	}
	if s.Uncertain > 0 {
		out += fmt.Sprintf(", %d uncertain", s.Uncertain)
	}
	if s.Failed > 0 {
		out += fmt.Sprintf(", %d failed", s.Failed)
	}
	if s.RetryAt.After(now) {
		out += ", retry in " + s.RetryAt.Sub(now).Round(time.Second).String()
	}
	if s.Err != "" && s.State != StateOK {
		out += ": " + s.Err
	}
	return out
}
