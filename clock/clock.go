// Package clock injects time so that the engine, sources and simulator can
// run on real time, on a fake clock in tests, or accelerated in the demo.
package clock

import (
	"sync"
	"time"
)

// Clock is the only way warroom code reads the time or waits.
type Clock interface {
	Now() time.Time
	// After fires once, d from now (in this clock's time).
	After(d time.Duration) <-chan time.Time
	// Since is Now().Sub(t).
	Since(t time.Time) time.Duration
}

// Real is the wall clock. Durations use Go's monotonic reading.
type Real struct{}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (Real) Since(t time.Time) time.Duration        { return time.Since(t) }

// Scaled runs Speed times faster than real time, starting at Start.
// The demo and soak runs use it to compress hours into minutes.
type Scaled struct {
	Start time.Time
	Speed float64
	base  time.Time
}

// NewScaled returns a clock that reads start now and advances speed× faster.
func NewScaled(start time.Time, speed float64) *Scaled {
	if speed <= 0 {
		speed = 1
	}
	return &Scaled{Start: start, Speed: speed, base: time.Now()}
}

func (s *Scaled) Now() time.Time {
	return s.Start.Add(time.Duration(float64(time.Since(s.base)) * s.Speed))
}
func (s *Scaled) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/s.Speed), func() { ch <- s.Now() })
	return ch
}
func (s *Scaled) Since(t time.Time) time.Duration { return s.Now().Sub(t) }

// Fake is a manual clock for tests: time moves only when Advance is called.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewFake returns a fake clock reading t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) Since(t time.Time) time.Duration { return f.Now().Sub(t) }

func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward and fires every timer that became due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	kept := f.waiters[:0]
	var due []waiter
	for _, w := range f.waiters {
		if !w.at.After(now) {
			due = append(due, w)
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
	f.mu.Unlock()
	for _, w := range due {
		w.ch <- now
	}
}

// WaiterAt reports whether a timer is pending for exactly t. A test that
// shares the clock among several goroutines uses it to know that one of
// them (an engine re-arming its heartbeat at now+tick) has handled what
// the last Advance fired.
func (f *Fake) WaiterAt(t time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.waiters {
		if w.at.Equal(t) {
			return true
		}
	}
	return false
}

// Waiters reports how many timers are pending; tests use it to know that a
// goroutine has reached its wait before advancing time.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}
