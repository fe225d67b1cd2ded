package incident

import (
	"strings"
	"testing"
	"time"
)

// A pane its source's rate limit holds back (a 429 we wait out for two
// minutes, longer than the pane's 16 s watchdog) is rate-limited, not
// STALE: no STALE pane, no source alert, until the hold has lasted
// rateLimitedHold. A source that stops answering after its hold is STALE
// once the watchdog passes, and never reads as answering.
func TestRateLimitHoldIsNotStale(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 100}, Sample{Service: "tokens", Pane: "p95", Value: 0.1})
	next := h.clk.Now().Add(2 * time.Minute)
	h.observe(Sample{Service: "history", Pane: "rps", Limited: next, Error: "infura: rate-limited (-32005), retry in 2m0s"},
		Sample{Service: "tokens", Pane: "p95", Limited: next, Error: "infura: rate-limited (-32005), retry in 2m0s"})
	h.advance(90 * time.Second)
	p := h.state().Panes["history/rps"]
	if p.Stale || !p.LimitedUntil.Equal(next) || p.Value != 100 {
		t.Fatalf("the held pane: %+v", p)
	}
	if a := h.openAlert(""); a != nil {
		t.Fatalf("a source alert while the source paces us: %+v", a)
	}
	// The next poll answers: fresh again.
	h.advance(30 * time.Second)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 120}, Sample{Service: "tokens", Pane: "p95", Value: 0.1})
	if p := h.state().Panes["history/rps"]; !p.LimitedUntil.IsZero() || p.Value != 120 {
		t.Fatalf("after the hold: %+v", p)
	}
	// Held back again, and after the hold nothing comes: the watchdog
	// (16 s after the announced next poll) calls it STALE.
	next = h.clk.Now().Add(time.Minute)
	h.observe(Sample{Service: "history", Pane: "rps", Limited: next, Error: "429"}, Sample{Service: "tokens", Pane: "p95", Limited: next, Error: "429"})
	h.advance(time.Minute + 10*time.Second)
	if p := h.state().Panes["history/rps"]; p.Stale {
		t.Fatalf("STALE within the watchdog after the hold: %+v", p)
	}
	h.advance(10 * time.Second)
	src := h.openAlert("")
	if src == nil || src.Level != LevelStale || !strings.Contains(src.Text, "STALE") {
		t.Fatalf("a source silent after its hold is STALE: %+v", src)
	}
}

// A source whose rate limit holds its panes back for minutes blinds the
// room: after rateLimitedHold its source alert opens and says why.
func TestLongRateLimitHoldAlerts(t *testing.T) {
	h := newHarness(t)
	for range int(rateLimitedHold/time.Minute) + 1 {
		next := h.clk.Now().Add(time.Minute)
		h.observe(Sample{Service: "history", Pane: "rps", Limited: next, Error: "prom: 429 Too Many Requests"},
			Sample{Service: "tokens", Pane: "p95", Limited: next, Error: "prom: 429 Too Many Requests"})
		if a := h.openAlert(""); a != nil && h.clk.Now().Sub(t0) < rateLimitedHold {
			t.Fatalf("a source alert after %s: %+v", h.clk.Now().Sub(t0), a)
		}
		h.advance(time.Minute)
	}
	if a := h.openAlert(""); a == nil || !strings.Contains(a.Text, "429") {
		t.Fatalf("no source alert after %s held back: %+v", rateLimitedHold, a)
	}
}
