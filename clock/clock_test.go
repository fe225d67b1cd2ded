package clock

import (
	"testing"
	"time"
)

func TestFakeFiresOnlyWhenAdvancedPastDeadline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(t0)
	ch := f.After(10 * time.Second)
	if f.Waiters() != 1 {
		t.Fatal("want one waiter")
	}
	f.Advance(9 * time.Second)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-ch:
		if !got.Equal(t0.Add(10 * time.Second)) {
			t.Fatalf("fired at %v", got)
		}
	default:
		t.Fatal("did not fire at its deadline")
	}
	if f.Since(t0) != 10*time.Second {
		t.Fatal("Since")
	}
}

func TestScaledRunsFaster(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewScaled(start, 100)
	time.Sleep(20 * time.Millisecond)
	if el := s.Since(start); el < 2*time.Second || el > 10*time.Second {
		t.Fatalf("20ms at 100x read as %v", el)
	}
	t1 := time.Now()
	<-s.After(5 * time.Second) // 50 ms of real time
	if real := time.Since(t1); real > time.Second {
		t.Fatalf("After(5s) at 100x took %v", real)
	}
}
