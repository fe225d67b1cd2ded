package incident

import (
	"context"
	"testing"
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
	go Follow(ctx, h.e, sub, 64, func(s *State) {
		select {
		case resynced <- s.LastSeq:
		default:
		}
	}, func(u Update) {
		for _, ev := range u.Events {
			updated <- ev.Seq
		}
	})
	if got := <-resynced; got < last {
		t.Fatalf("the snapshot after the lag ends at #%d, want #%d", got, last)
	}
	r := h.do(Note{By: "maya", Text: "after"})
	for seq := range updated {
		if seq == r.Seq {
			return
		}
	}
}
