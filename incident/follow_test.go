package incident

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A reader that lags is dropped; Follow subscribes again and hands it a
// snapshot that holds everything committed meanwhile, then keeps updating.
func TestFollowResyncsALaggedReader(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, sub, err := h.e.Subscribe(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for range 50 { // more than the buffer holds: the reader is dropped
		r := h.do(Note{By: "maya", Text: "note"})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		last = r.Seq
	}
	resynced := make(chan int64, 1)
	updated := make(chan int64, 64)
	go Follow(ctx, h.e, sub, 64, func(s *State) error {
		select {
		case resynced <- s.LastSeq:
		default:
		}
		return nil
	}, func(u Update) error {
		for _, ev := range u.Events {
			updated <- ev.Seq
		}
		return nil
	})
	select {
	case got := <-resynced:
		if got < last {
			t.Fatalf("the snapshot after the lag ends at #%d, want #%d", got, last)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after the lag")
	}
	r := h.do(Note{By: "maya", Text: "after"})
	for seq := range updated {
		if seq == r.Seq {
			return
		}
	}
}

// A reader of events that lags is dropped; FollowEvents reads what it
// missed from the journal and goes on from the feed: every event once, in
// order. Nothing is committed after the lag, so only the resync can bring
// the last events.
func TestFollowEventsResumesALaggedReader(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan struct{})
	release := make(chan struct{})
	got := make(chan int64, 1024)
	done := make(chan error, 1)
	go func() {
		done <- FollowEvents(ctx, h.e, h.j, 0, 2, func(ev Event) error {
			if ev.Seq == 1 {
				close(first)
				<-release // hold the reader while the feed overflows
			}
			got <- ev.Seq
			return nil
		})
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("the backlog was not read")
	}
	var last int64
	for range 50 { // far more than the buffer of 2 holds: the reader is dropped
		r := h.do(Note{By: "maya", Text: "note"})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		last = r.Seq
	}
	close(release)
	timeout := time.After(10 * time.Second)
	for want := int64(1); want <= last; want++ {
		select {
		case seq := <-got:
			if seq != want {
				t.Fatalf("event #%d after #%d: want #%d (no gap, no repeat)", seq, want-1, want)
			}
		case <-timeout:
			t.Fatalf("events stopped after #%d of #%d", want-1, last)
		}
	}
	// Live again: a new event comes once, and nothing else.
	r := h.do(Note{By: "maya", Text: "after"})
	if seq := <-got; seq != r.Seq {
		t.Fatalf("after the resync got #%d, want #%d", seq, r.Seq)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("FollowEvents ended with %v when ctx ended, want nil", err)
	}
	if len(got) != 0 {
		t.Fatalf("%d events more than committed", len(got))
	}
}

// Feed hands a reader that selects the same: updates, and after a lag a
// fresh snapshot that holds everything committed meanwhile; the channel
// closes when ctx ends.
func TestFeedResyncsALaggedReader(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, sub, err := h.e.Subscribe(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for range 20 { // the feed is not read yet: far more than its buffer of 2
		last = h.ok(Note{By: "maya", Text: "note"}).Seq
	}
	feed := Feed(ctx, h.e, sub, 2)
	next := func() FeedItem {
		t.Helper()
		select {
		case it, ok := <-feed:
			if !ok {
				t.Fatal("the feed closed")
			}
			return it
		case <-time.After(10 * time.Second):
			t.Fatalf("the reader stays at #%d, want #%d", st.LastSeq, last)
		}
		return FeedItem{}
	}
	for st.LastSeq < last {
		if it := next(); it.State != nil {
			st = it.State
		} else {
			st.ApplyUpdate(it.Update)
		}
	}
	if want := h.state(); len(st.Recent) != len(want.Recent) {
		t.Fatalf("the reader holds %d events, the engine %d", len(st.Recent), len(want.Recent))
	}
	r := h.ok(Note{By: "maya", Text: "after"})
	for st.LastSeq < r.Seq {
		it := next()
		if it.State != nil {
			t.Fatal("a second resync without a lag")
		}
		st.ApplyUpdate(it.Update)
	}
	cancel()
	for range feed {
	}
}

// FollowEvents stops with fn's error, and returns nil when the engine
// stops.
func TestFollowEventsEnds(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.ok(Note{By: "maya", Text: "note"})
	stop := errors.New("enough")
	var seen int
	err := FollowEvents(ctx, h.e, h.j, 0, 4, func(Event) error {
		seen++
		if seen == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 2 {
		t.Fatalf("after %d events: %v, want fn's error after 2", seen, err)
	}
	done := make(chan error, 1)
	go func() { done <- FollowEvents(ctx, h.e, h.j, 0, 4, func(Event) error { return nil }) }()
	h.cancel() // the engine stops
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the engine stopped: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FollowEvents goes on after the engine stopped")
	}
}
