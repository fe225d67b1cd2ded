package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// RoundSize bounds how many queries of one source poll at the same
// instant (see Options.Jitter).
const RoundSize = 32

// recoverAfter is how many successful polls in a row clear a query's
// failure for health (its panes are fresh again at the first).
const recoverAfter = 2

// Options tune a Scheduler. The zero value is fine when the source types
// in use have registered themselves (see Register).
type Options struct {
	// Builders per source type; entries here win over registered ones.
	Builders map[config.SourceType]Builder
	// Jitter spreads sources: the queries of one source (and interval)
	// poll in rounds, together, so a room wakes once per round rather than
	// once per pane, and each source's rounds are offset by a random phase
	// in [0, Jitter·interval). A source with more than RoundSize queries
	// spreads them over the interval in groups of at most RoundSize.
	// Default 0.1; negative means no phase.
	Jitter float64
	// Backoff after failures; the zero value is the documented policy.
	Backoff Backoff
	// Samples are written to the journal in batches: every RecordEvery
	// (default DefaultRecordEvery, on the scheduler's clock) or
	// RecordBatch samples (default 500), whichever comes first; only
	// change points are written (see recorder). Up to RecordQueue batches
	// (default 256) wait for a slow journal; beyond that they are dropped
	// and counted (Stats), never blocking a poll.
	RecordEvery time.Duration
	RecordBatch int
	RecordQueue int
	// Rand returns a float in [0, 1) for jitter; default math/rand/v2.
	Rand   func() float64
	Logger *slog.Logger
}

// Status is one source's health, for the TUI. It is a copy.
type Status struct {
	Source string
	Type   config.SourceType
	// Health is "" until a query of the source has finished a poll.
	Health incident.SourceHealth
	// Error is the reason of the most recent failure of a failing query
	// ("" when up).
	Error string
	// Since is when Health last changed.
	Since       time.Time
	LastSuccess time.Time
	LastFailure time.Time
	// RateLimitedUntil is the latest reset the source asked us to wait for.
	RateLimitedUntil time.Time
	// Budgets are the source's rate-limit buckets as its answers last
	// described them (Datadog's X-RateLimit-* headers), until their reset.
	Budgets          []Budget
	Queries, Failing int
}

// QueryStatus is one query's scheduling state.
type QueryStatus struct {
	Source, Name string
	Panes        []PaneRef
	Interval     time.Duration
	Timeout      time.Duration
	// Polling is true while a request is in flight; otherwise Next is when
	// the next one is due.
	Polling   bool
	Next      time.Time
	LastPoll  time.Time
	LastError string
	Failures  int // consecutive
	Polls     int64
	Errors    int64
}

// Stats are counters for benchmarks and diagnostics.
type Stats struct {
	Queries        int
	Polls          int64 // finished polls
	Errors         int64
	Samples        int64 // sent to the engine
	Recorded       int64 // written to the journal
	DroppedRecords int64 // not written: journal too slow or failing
	// Repeats are samples not written because they repeated their
	// pane's value (the recorder keeps change points).
	Repeats int64
	// Lateness is how much later than due polls started (scheduling
	// delay, on the scheduler's clock): the mean and the maximum.
	MeanLateness, MaxLateness time.Duration
}

// Scheduler polls every query of a config. Create it with Start.
type Scheduler struct {
	cfg     *config.Config
	sink    Sink
	clk     clock.Clock
	log     *slog.Logger
	jitter  float64
	backoff Backoff
	rand    func() float64

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // workers and their requests
	recWG   sync.WaitGroup // the recorder
	stopped sync.Once

	mu      sync.Mutex // guards the status fields of workers and sources
	workers []*worker
	sources []*sourceState
	byID    map[string]*sourceState
	gates   map[[2]string]*gate

	rec     *recorder
	clients *clientSet
	origin  time.Time // the schedules' start (see placeRounds)
	polls   atomic.Int64
	errs    atomic.Int64
	samples atomic.Int64
	started atomic.Int64 // polls started
	lateSum atomic.Int64 // ns
	lateMax atomic.Int64 // ns
}

type sourceState struct {
	src     config.Source
	workers []*worker
	sendMu  sync.Mutex // orders health reports
	// guarded by Scheduler.mu
	health, reported        incident.SourceHealth
	err                     string
	reportedEvery           time.Duration
	since, lastOK, lastFail time.Time
	limitedUntil            time.Time
	// firstLeft counts the source's queries whose first poll has not
	// ended; firstRound is closed when it reaches zero (see worker.run).
	firstLeft  atomic.Int32
	firstRound chan struct{}
}

type gate struct {
	until  time.Time
	reason string
	budget *Budget // as the last answer of the bucket said
	slow   float64 // pace factor until the budget's reset (≤ 1: none)
}

type worker struct {
	s        *Scheduler
	q        Query
	info     QueryInfo
	src      *sourceState
	gateKey  [2]string
	interval time.Duration
	timeout  time.Duration
	offset   time.Duration // its place on the source's schedule
	fails    int
	okStreak int // successful polls in a row

	// guarded by Scheduler.mu
	polling   bool
	next      time.Time
	lastPoll  time.Time
	lastFail  time.Time
	lastErr   string
	lastClass Class
	polled    bool
	failing   bool
	nPolls    int64
	nErrs     int64
	gateStale time.Time // the gate for which STALE was already sent
	inFirst   bool      // waiting for the source's first round (firstRound)

	// calls runs the query's requests (polls and backfills) one at a
	// time on the worker's own goroutine, so a poll starts no goroutine;
	// done returns their outcome.
	calls chan call
	done  chan outcome
}

// call is one request for the worker's caller goroutine.
type call struct {
	ctx      context.Context
	backfill Backfiller // nil: a poll
}

// Start builds the queries of every source in cfg and starts polling.
// Samples, imported alerts and health changes go to sink (the engine);
// samples are also recorded in j (nil: not recorded). Polling stops when
// ctx ends or Stop is called.
func Start(ctx context.Context, cfg *config.Config, sink Sink, j journal.Journal, clk clock.Clock, opts Options) (*Scheduler, error) {
	if cfg == nil || sink == nil {
		return nil, errors.New("sources: config and sink are required")
	}
	if clk == nil {
		clk = clock.Real{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	jit := opts.Jitter
	switch {
	case jit == 0:
		jit = 0.1
	case jit < 0:
		jit = 0
	case jit > 0.5:
		jit = 0.5
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Float64
	}
	bo := opts.Backoff
	if bo.Rand == nil {
		bo.Rand = rnd
	}
	s := &Scheduler{cfg: cfg, sink: sink, clk: clk, log: log, jitter: jit, backoff: bo, rand: rnd,
		byID: map[string]*sourceState{}, gates: map[[2]string]*gate{}}

	specs, order := specsByType(cfg)
	s.clients = &clientSet{}
	env := Env{Clock: clk, Config: cfg, Logger: log, clients: s.clients}
	for _, t := range order {
		b := opts.Builders[t]
		if b == nil {
			b = registered(t)
		}
		if b == nil {
			return nil, fmt.Errorf("sources: no support for source type %q compiled in (import github.com/warroom/warroom/sources/%s)", t, t)
		}
		qs, err := b(env, specs[t])
		if err != nil {
			return nil, fmt.Errorf("sources: %s: %w", t, err)
		}
		for _, q := range qs {
			if err := s.add(q, specs[t]); err != nil {
				return nil, err
			}
		}
	}

	s.placeRounds()
	s.ctx, s.cancel = context.WithCancel(ctx)
	if j != nil {
		s.rec = newRecorder(j, clk, log, opts.RecordEvery, opts.RecordBatch, opts.RecordQueue)
	}
	for _, st := range s.sources {
		st.firstLeft.Store(int32(len(st.workers)))
		st.firstRound = make(chan struct{})
	}
	for _, w := range s.workers {
		s.wg.Add(1)
		go w.run()
	}
	if j != nil {
		workersDone := make(chan struct{})
		s.recWG.Add(2)
		go func() {
			defer s.recWG.Done()
			<-s.ctx.Done()
			s.wg.Wait()
			close(workersDone)
		}()
		go func() {
			defer s.recWG.Done()
			s.rec.run(s.ctx, workersDone)
		}()
	}
	return s, nil
}

// placeRounds puts every query on its schedule: the queries of a source
// that share an interval poll at the same instants (origin + offset + k
// intervals), a source's rounds offset by a random phase, and more than
// RoundSize such queries split into evenly spaced groups.
func (s *Scheduler) placeRounds() {
	s.origin = s.clk.Now()
	type key struct {
		src      string
		interval time.Duration
	}
	groups := map[key][]*worker{}
	var order []key
	for _, w := range s.workers {
		k := key{w.info.Source, w.interval}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], w)
	}
	for _, k := range order {
		ws := groups[k]
		phase := time.Duration(s.rand() * s.jitter * float64(k.interval))
		slots := (len(ws) + RoundSize - 1) / RoundSize
		for i, w := range ws {
			w.offset = phase + time.Duration(i%slots)*k.interval/time.Duration(slots)
		}
	}
}

// onSchedule is the first instant of the worker's schedule at or after t.
func (w *worker) onSchedule(t time.Time) time.Time {
	first := w.s.origin.Add(w.offset)
	if !t.After(first) {
		return first
	}
	k := (t.Sub(first) + w.interval - 1) / w.interval
	return first.Add(k * w.interval)
}

// specsByType groups the config's sources, with their panes and defaults,
// by type, in file order.
func specsByType(cfg *config.Config) (map[config.SourceType][]Spec, []config.SourceType) {
	specs := map[config.SourceType][]Spec{}
	var order []config.SourceType
	for _, src := range cfg.Sources {
		src.Interval, src.Timeout = config.Duration(src.PollInterval()), config.Duration(src.PollTimeout())
		sp := Spec{Source: src, Origin: Origin(cfg, src)}
		for _, svc := range cfg.Services {
			for _, p := range svc.Panes {
				if p.Source == src.ID {
					sp.Panes = append(sp.Panes, Pane{Service: svc.ID, Pane: p})
				}
			}
		}
		if _, ok := specs[src.Type]; !ok {
			order = append(order, src.Type)
		}
		specs[src.Type] = append(specs[src.Type], sp)
	}
	return specs, order
}

func (s *Scheduler) add(q Query, specs []Spec) error {
	info := q.Info()
	var src *config.Source
	for i := range specs {
		if specs[i].Source.ID == info.Source {
			src = &specs[i].Source
		}
	}
	if src == nil {
		return fmt.Errorf("sources: query %q names unknown source %q", info.Name, info.Source)
	}
	st := s.byID[src.ID]
	if st == nil {
		st = &sourceState{src: *src}
		s.byID[src.ID] = st
		s.sources = append(s.sources, st)
	}
	w := &worker{s: s, q: q, info: info, src: st, gateKey: [2]string{src.ID, info.Bucket},
		interval: src.Interval.D(), timeout: src.Timeout.D()}
	if info.Interval > 0 {
		w.interval = info.Interval
	}
	if info.Timeout > 0 {
		w.timeout = info.Timeout
	}
	if s.gates[w.gateKey] == nil {
		s.gates[w.gateKey] = &gate{}
	}
	st.workers = append(st.workers, w)
	s.workers = append(s.workers, w)
	return nil
}

// Stop stops polling, waits for every goroutine of the scheduler
// (in-flight requests are cancelled) and writes the samples still batched
// to the journal. It is safe to call more than once.
func (s *Scheduler) Stop() {
	s.stopped.Do(func() {
		s.cancel()
		s.wg.Wait()
		s.recWG.Wait()
		s.clients.closeIdle()
	})
}

// Health returns every source's status by source id. Safe for concurrent
// use; the map is a copy.
func (s *Scheduler) Health() map[string]Status {
	now := s.clk.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Status, len(s.sources))
	for _, st := range s.sources {
		failing := 0
		for _, w := range st.workers {
			if w.failing {
				failing++
			}
		}
		out[st.src.ID] = Status{Source: st.src.ID, Type: st.src.Type, Health: st.health, Error: st.err,
			Since: st.since, LastSuccess: st.lastOK, LastFailure: st.lastFail,
			RateLimitedUntil: st.limitedUntil, Budgets: s.budgets(st, now), Queries: len(st.workers), Failing: failing}
	}
	return out
}

// Queries returns every query's scheduling state, in start order.
func (s *Scheduler) Queries() []QueryStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]QueryStatus, len(s.workers))
	for i, w := range s.workers {
		out[i] = QueryStatus{Source: w.info.Source, Name: w.info.Name, Panes: slices.Clone(w.info.Panes),
			Interval: w.interval, Timeout: w.timeout, Polling: w.polling, Next: w.next, LastPoll: w.lastPoll,
			LastError: w.lastErr, Failures: w.fails, Polls: w.nPolls, Errors: w.nErrs}
	}
	return out
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	st := Stats{Queries: len(s.workers), Polls: s.polls.Load(), Errors: s.errs.Load(), Samples: s.samples.Load(),
		MaxLateness: time.Duration(s.lateMax.Load())}
	if n := s.started.Load(); n > 0 {
		st.MeanLateness = time.Duration(s.lateSum.Load() / n)
	}
	if s.rec != nil {
		st.Recorded, st.DroppedRecords, st.Repeats = s.rec.recorded.Load(), s.rec.dropped.Load(), s.rec.held.Load()
	}
	return st
}

// --- worker ---

// caller runs the worker's requests until calls is closed. One goroutine
// per query for its whole life: a poll costs no goroutine start and no
// stack growth.
func (w *worker) caller() {
	defer w.s.wg.Done()
	for c := range w.calls {
		var o outcome
		if c.backfill != nil {
			o.samples, o.err = c.backfill.Backfill(c.ctx)
		} else {
			o.res, o.err = w.q.Poll(c.ctx)
		}
		w.done <- o
	}
}

func (w *worker) run() {
	s := w.s
	defer s.wg.Done()
	ctx := s.ctx
	w.calls, w.done = make(chan call), make(chan outcome, 1)
	s.wg.Add(1)
	go w.caller()
	defer close(w.calls)
	bf, _ := w.q.(Backfiller)
	var bfDue time.Time // when the backfill may be tried again
	bfFails := 0
	tryBackfill := func() {
		if bf == nil || s.clk.Now().Before(bfDue) {
			return
		}
		e := w.backfill(ctx, bf, bfFails)
		if e == nil {
			bf = nil
			return
		}
		bfFails++
		bfDue = s.clk.Now().Add(s.backoff.Next(bfFails, e, w.interval))
	}
	// The first poll goes at once, so that every pane has its value as
	// soon as the room starts; the history (backfill) follows the first
	// answers of the source's panes, and the polls after keep the
	// source's schedule (see placeRounds).
	next := s.clk.Now()
	first := true
	for {
		var ok bool
		if next, ok = w.wait(ctx, next); !ok {
			return
		}
		// Until it has succeeded once, the backfill is tried again (with
		// its own back-off) before a poll, so a source down at start
		// still gets its history.
		if !first {
			tryBackfill()
		}
		if ctx.Err() != nil {
			return
		}
		start := s.clk.Now()
		late := int64(start.Sub(next))
		s.started.Add(1)
		s.lateSum.Add(late)
		for m := s.lateMax.Load(); late > m; m = s.lateMax.Load() {
			if s.lateMax.CompareAndSwap(m, late) {
				break
			}
		}
		s.mu.Lock()
		w.polling = true
		s.mu.Unlock()
		if next, ok = w.poll(ctx, start); !ok {
			return
		}
		if first {
			first = false
			// The history waits for the first answers of the source's
			// other panes (each bounded by its timeout): a pane's
			// thousands of past samples, ahead of them in the engine's
			// and the dashboard's queues, would delay their first values.
			if !w.firstRound(ctx, next) {
				return
			}
			tryBackfill()
		}
	}
}

// firstRound waits until every query of the source has had its first
// answer (or failure). Meanwhile the worker waits on the others, not on a
// request: it reads as waiting for its next poll, since one of the others
// may answer only once the clock moves (a rate limit's hold). The last to
// answer marks the waiters polling again before it lets them go, so no
// moment reads as settled while they start their backfill. It returns
// false when the scheduler stops.
func (w *worker) firstRound(ctx context.Context, next time.Time) bool {
	s, src := w.s, w.src
	s.mu.Lock()
	if src.firstLeft.Add(-1) == 0 {
		for _, o := range src.workers {
			if o.inFirst {
				o.polling, o.inFirst = true, false
			}
		}
		close(src.firstRound)
		s.mu.Unlock()
		return true
	}
	w.polling, w.next, w.inFirst = false, next, true
	s.mu.Unlock()
	select {
	case <-src.firstRound:
		return true
	case <-ctx.Done():
		return false
	}
}

// wait sleeps until next, or later while the query's rate-limit bucket is
// held. It returns false when the scheduler stops.
func (w *worker) wait(ctx context.Context, next time.Time) (time.Time, bool) {
	s := w.s
	for {
		now := s.clk.Now()
		s.mu.Lock()
		g := *s.gates[w.gateKey]
		sendStale := false
		if g.until.After(next) && !now.Before(next) {
			// Due, but held back by the bucket's rate limit. If that
			// delays the pane by more than a timeout, its panes say so
			// now, with the next poll: rate-limited, not STALE (a short
			// hold is not worth saying anything).
			if g.until.Sub(now) >= w.timeout && !w.gateStale.Equal(g.until) {
				w.gateStale, sendStale = g.until, true
			}
			next = g.until
		}
		s.mu.Unlock()
		if sendStale {
			w.emit(ctx, nil, w.blank(nil, g.reason, now, g.until))
		}
		d := next.Sub(now)
		if d <= 0 {
			return next, true
		}
		timer := s.clk.After(d)
		if moved := s.clk.Since(now); moved > time.Millisecond {
			// The clock jumped (a fake or fast clock) between reading it
			// and setting the timer, which may now fire late: set it again.
			continue
		}
		// Published only once the timer is set, so that Queries never
		// says "waiting" for a timer that does not exist yet (tests on a
		// fake clock wait for every query to wait before they advance it).
		s.mu.Lock()
		w.polling, w.next = false, next
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return next, false
		case <-timer:
		}
	}
}

type outcome struct {
	res     Result
	samples []incident.Sample // of a backfill
	err     error
}

// poll runs one request with the timeout on the scheduler's clock, handles
// its outcome and returns when the next poll is due. On a timeout the
// failure (STALE samples, health) is handled at once; the request is then
// cancelled and waited for (one request in flight per query) and its late
// answer, if any, is not used. ok is false when the scheduler stops.
func (w *worker) poll(ctx context.Context, start time.Time) (next time.Time, ok bool) {
	s := w.s
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.calls <- call{ctx: pctx}
	select {
	case o := <-w.done:
		if o.err == nil {
			return w.succeeded(ctx, start, o.res), true
		}
		return w.failed(ctx, o.res, Classify(o.err)), true
	case <-ctx.Done():
		return time.Time{}, false
	case <-s.clk.After(w.timeout):
	}
	cancel()
	next = w.failed(ctx, Result{}, &Error{Class: Transient, Msg: fmt.Sprintf("no answer within %s", w.timeout), Err: context.DeadlineExceeded})
	select {
	case <-w.done:
	case <-ctx.Done():
		return next, false
	}
	return next, true
}

func (w *worker) reason(e *Error) string {
	return config.Redact(w.info.Source + ": " + e.Error())
}

// blank returns a sample for each pane of the query that res did not
// answer: STALE, or, when the source's rate limit holds the query back
// until a known time (a 429 we wait out), rate-limited until then. A
// source that paces us is not dead, and its panes do not say it is.
func (w *worker) blank(res []incident.Sample, why string, now, until time.Time) []incident.Sample {
	var out []incident.Sample
	for _, p := range w.info.Panes {
		answered := false
		for i := range res {
			if res[i].Service == p.Service && res[i].Pane == p.Pane {
				answered = true
				break
			}
		}
		if !answered {
			sm := incident.Sample{Service: p.Service, Pane: p.Pane, Time: now, Stale: until.IsZero(), Error: why, Limited: until}
			out = append(out, sm)
		}
	}
	return out
}

// emit sends samples (and alerts) to the engine and the journal.
func (w *worker) emit(ctx context.Context, alerts *incident.ImportAlerts, samples []incident.Sample) {
	s := w.s
	if len(samples) > 0 {
		if err := s.sink.Submit(ctx, incident.Observe{Samples: samples}); err != nil && ctx.Err() == nil {
			s.log.Warn("sources: engine refused samples", "source", w.info.Source, "err", err)
		}
		s.samples.Add(int64(len(samples)))
		if s.rec != nil {
			s.rec.add(samples)
		}
	}
	if alerts != nil {
		if err := s.sink.Submit(ctx, *alerts); err != nil && ctx.Err() == nil {
			s.log.Warn("sources: engine refused alerts", "source", w.info.Source, "err", err)
		}
	}
}

// succeeded handles a successful poll and returns when the next is due:
// its next place on the schedule at least half an interval after this one
// started (an interval later when it was on time), later while its
// rate-limit budget is paced.
func (w *worker) succeeded(ctx context.Context, start time.Time, res Result) time.Time {
	s := w.s
	s.polls.Add(1)
	w.emit(ctx, res.Alerts, res.Samples)
	now := s.clk.Now()
	if rl := res.RateLimit; rl != nil {
		s.mu.Lock()
		s.noteBudget(w, *rl, now)
		s.mu.Unlock()
		if rl.Remaining == 0 && rl.Reset > 0 {
			until := now.Add(rl.Reset)
			s.hold(w, until, fmt.Sprintf("%s: %s used up (X-RateLimit-Remaining: 0), waiting for the reset at %s", w.info.Source, rl.Label(), until.UTC().Format(time.TimeOnly)))
		}
	}
	s.mu.Lock()
	w.fails = 0
	w.okStreak++
	// A failing query counts as failing for health until it has succeeded
	// recoverAfter times in a row: a flapping source (429, answer, 429)
	// stays rate-limited rather than filling the timeline with up/down.
	if !w.failing || w.okStreak >= recoverAfter {
		w.failing, w.lastErr = false, ""
	}
	w.polled = true
	w.lastPoll, w.nPolls = now, w.nPolls+1
	w.src.lastOK = now
	next := w.onSchedule(start.Add(s.paced(w, w.interval, now) - w.interval/2))
	s.mu.Unlock()
	s.report(ctx, w.src)
	if next.Before(now) {
		next = now
	}
	return next
}

// failed handles a failed poll: STALE samples for the panes it did not
// answer (its other samples are used), health, backoff. It returns when
// the next poll is due.
func (w *worker) failed(ctx context.Context, res Result, e *Error) time.Time {
	s := w.s
	s.polls.Add(1)
	s.errs.Add(1)
	now := s.clk.Now()
	s.mu.Lock()
	w.fails++
	w.okStreak = 0
	fails := w.fails
	if e.RateLimit != nil {
		s.noteBudget(w, *e.RateLimit, now)
	}
	s.mu.Unlock()
	why := w.reason(e)
	delay := s.backoff.Next(fails, e, w.interval)
	var until time.Time
	if e.Class == RateLimited {
		until = now.Add(delay)
	}
	w.emit(ctx, nil, append(slices.Clip(res.Samples), w.blank(res.Samples, why, now, until)...))
	if e.Class == RateLimited {
		s.hold(w, until, why)
	}
	s.mu.Lock()
	w.polled, w.failing, w.lastErr, w.lastClass = true, true, why, e.Class
	w.lastPoll, w.lastFail, w.nPolls, w.nErrs = now, now, w.nPolls+1, w.nErrs+1
	w.src.lastFail = now
	s.mu.Unlock()
	s.report(ctx, w.src)
	s.log.Debug("sources: poll failed", "source", w.info.Source, "query", w.info.Name, "class", e.Class, "retry_in", delay, "err", why)
	return now.Add(delay)
}

// hold keeps every query of w's rate-limit bucket from sending a request
// before until.
func (s *Scheduler) hold(w *worker, until time.Time, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.gates[w.gateKey]
	if until.After(g.until) {
		g.until, g.reason = until, reason
	}
	if until.After(w.src.limitedUntil) {
		w.src.limitedUntil = until
	}
}

// report recomputes the source's health and tells the engine if it changed.
func (s *Scheduler) report(ctx context.Context, st *sourceState) {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	now := s.clk.Now()
	s.mu.Lock()
	health, why := st.compute()
	// A bucket paced to make its budget last: rate-limited by our own
	// choice, and the engine waits longer before calling its panes STALE.
	var every time.Duration
	for _, b := range s.budgets(st, now) {
		if b.Every > every {
			every = b.Every
			if health == incident.SourceUp {
				health, why = incident.SourceRateLimited, st.src.ID+": "+b.String()
			}
		}
	}
	every = every.Round(time.Second)
	if health != st.health {
		st.health, st.since = health, now
	}
	st.err = why
	send := health != "" && (health != st.reported || every != st.reportedEvery)
	if send {
		st.reported, st.reportedEvery = health, every
	}
	s.mu.Unlock()
	if !send {
		return
	}
	s.log.Info("sources: health", "source", st.src.ID, "health", health, "err", why)
	info := incident.SourceInfo{ID: st.src.ID, Health: health, Error: why, Every: every}
	if err := s.sink.Submit(ctx, incident.ReportSource{Info: info}); err != nil && ctx.Err() == nil {
		s.log.Warn("sources: engine refused health", "source", st.src.ID, "err", err)
	}
}

// compute derives health from the queries' last outcomes (Scheduler.mu
// held): rate-limited if any query's last failure was a 429; down if every
// query that has finished a poll is failing; degraded if some are; up
// otherwise.
func (st *sourceState) compute() (health incident.SourceHealth, why string) {
	polled, failing, limited := 0, 0, false
	var latest *worker
	for _, w := range st.workers {
		if !w.polled {
			continue
		}
		polled++
		if !w.failing {
			continue
		}
		failing++
		if w.lastClass == RateLimited {
			limited = true
		}
		if latest == nil || w.lastFail.After(latest.lastFail) {
			latest = w
		}
	}
	if latest != nil {
		why = latest.lastErr
	}
	switch {
	case polled == 0:
		return "", ""
	case limited:
		return incident.SourceRateLimited, why
	case failing == polled:
		return incident.SourceDown, why
	case failing > 0:
		return incident.SourceDegraded, why
	}
	return incident.SourceUp, ""
}

// backfill runs one backfill attempt (the fails-th retry) within the
// query's timeout and sends its samples; it returns why it failed.
func (w *worker) backfill(ctx context.Context, bf Backfiller, fails int) *Error {
	s := w.s
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.calls <- call{ctx: bctx, backfill: bf}
	var e *Error
	select {
	case o := <-w.done:
		if o.err == nil {
			w.emit(ctx, nil, o.samples)
			if fails > 0 {
				s.log.Info("sources: backfill succeeded", "source", w.info.Source, "query", w.info.Name, "after_failures", fails)
			}
			return nil
		}
		e = Classify(o.err)
	case <-ctx.Done():
		return &Error{Class: Transient, Msg: "stopped", Err: ctx.Err()}
	case <-s.clk.After(w.timeout):
		cancel()
		<-w.done // one request in flight: it gives up now
		e = &Error{Class: Transient, Msg: fmt.Sprintf("no answer within %s", w.timeout), Err: context.DeadlineExceeded}
	}
	lvl := slog.LevelDebug
	if fails == 0 {
		lvl = slog.LevelInfo // the first failure; retries are quieter
	}
	s.log.Log(ctx, lvl, "sources: backfill failed; it is tried again before the next polls", "source", w.info.Source, "query", w.info.Name, "err", w.reason(e))
	return e
}
