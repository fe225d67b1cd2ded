package sources

import (
	"fmt"
	"time"
)

// Budget is a rate-limit bucket as its service last described it
// (Datadog's X-RateLimit-* headers on every answer) and the pace the
// scheduler keeps in it.
//
// Pacing policy: after each answer, the requests the bucket's queries
// would send before the reset at their intervals are compared with what is
// left. When they would spend more than BudgetShare of it, every query of
// the bucket polls less often, by the same factor, so that it would spend
// just that share (and waits at most until the reset). Recomputed at every
// answer, this spreads what is left over the rest of the period and keeps
// adapting as other users spend from the same budget: the panes refresh
// more slowly instead of going blank until the reset.
// The source reads rate-limited while it is paced (the timeline says so,
// with the numbers) and the engine waits that much longer before calling
// its panes STALE. At Remaining 0 the bucket is held until the reset; a
// 429 waits exactly the reset.
type Budget struct {
	Bucket string // the queries' bucket within the source ("" default)
	RateLimit
	At time.Time // when the answer came
	// Every is how often the bucket's queries poll to make the budget last
	// until the reset; 0 while their intervals fit in it.
	Every time.Duration
	// ResetIn is the time left until the reset when Scheduler.Health was
	// read (on the scheduler's clock).
	ResetIn time.Duration
}

// BudgetShare is the part of the remaining budget the scheduler plans to
// spend before the reset; the rest is left to the other users of the same
// organisation (dashboards, other tools), whose requests share it.
const BudgetShare = 0.8

// ResetAt is when the bucket's period ends.
func (b Budget) ResetAt() time.Time { return b.At.Add(b.Reset) }

// String is the budget for people, e.g. "412 of 1600 per 1h0m0s left" or
// "the rate limit: 40 of 1600 left until 15:04:05, polling every 45s".
func (b Budget) String() string {
	s := fmt.Sprintf("%d of %d per %s left", b.Remaining, b.Limit, b.Period)
	if b.Limit == 0 {
		s = fmt.Sprintf("%d left", b.Remaining)
	}
	if b.Every > 0 {
		s = fmt.Sprintf("%s: %d of %d left until %s, polling every %s to make it last",
			b.Label(), b.Remaining, b.Limit, b.ResetAt().UTC().Format(time.TimeOnly), b.Every.Round(time.Second))
	}
	return s
}

// Short is the budget for a status bar: "412/1600 per 1h" (the period
// rounded), and ", every 45s" while paced.
func (b Budget) Short() string {
	s := fmt.Sprintf("%d/%d", b.Remaining, b.Limit)
	switch p := b.Period; {
	case p <= 0:
	case p%time.Hour == 0:
		s += fmt.Sprintf(" per %dh", p/time.Hour)
	case p%time.Minute == 0:
		s += fmt.Sprintf(" per %dm", p/time.Minute)
	default:
		s += " per " + p.String()
	}
	if b.Every > 0 {
		s += ", every " + b.Every.Round(time.Second).String()
	}
	return s
}

// pace is how much slower than their intervals the queries of a bucket
// poll to spend at most BudgetShare of remaining before reset, given the
// requests they send per second at their intervals (≥ 1; 1: no pacing).
func pace(rl RateLimit, perSecond float64) float64 {
	if rl.Remaining <= 0 || rl.Reset <= 0 || perSecond <= 0 {
		return 1
	}
	demand := perSecond * rl.Reset.Seconds()
	usable := BudgetShare * float64(rl.Remaining)
	if demand <= usable {
		return 1
	}
	return demand / max(usable, 1)
}

// noteBudget records a bucket's budget from an answer of w's query and
// sets the bucket's pace. Scheduler.mu is held.
func (s *Scheduler) noteBudget(w *worker, rl RateLimit, now time.Time) {
	g := s.gates[w.gateKey]
	perSecond := 0.0
	var longest time.Duration
	for _, o := range w.src.workers {
		if o.gateKey == w.gateKey {
			perSecond += 1 / o.interval.Seconds()
			longest = max(longest, o.interval)
		}
	}
	b := Budget{Bucket: w.info.Bucket, RateLimit: rl, At: now}
	g.slow = pace(rl, perSecond)
	if g.slow > 1 {
		b.Every = min(time.Duration(float64(longest)*g.slow), rl.Reset)
	}
	g.budget = &b
}

// paced stretches a query's wait before its next poll while its bucket is
// paced (until the budget's reset, at the latest). Scheduler.mu is held.
func (s *Scheduler) paced(w *worker, d time.Duration, now time.Time) time.Duration {
	g := s.gates[w.gateKey]
	if g.budget == nil || g.slow <= 1 || !now.Before(g.budget.ResetAt()) {
		return d
	}
	return max(d, min(time.Duration(float64(d)*g.slow), g.budget.ResetAt().Sub(now)))
}

// budgets lists a source's buckets as last reported; a budget whose reset
// has passed is dropped. Scheduler.mu is held.
func (s *Scheduler) budgets(st *sourceState, now time.Time) []Budget {
	var out []Budget
	seen := map[[2]string]bool{}
	for _, w := range st.workers {
		if seen[w.gateKey] {
			continue
		}
		seen[w.gateKey] = true
		g := s.gates[w.gateKey]
		if g.budget == nil || !now.Before(g.budget.ResetAt()) {
			continue
		}
		b := *g.budget
		b.ResetIn = b.ResetAt().Sub(now)
		out = append(out, b)
	}
	return out
}
