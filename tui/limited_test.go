package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// TestRateLimitedPaneSaysSoAndWhen: a pane its source's rate limit holds
// back longer than its timeout reads RATE-LIMITED with its last value and
// when the next poll is; not STALE, never green. Once past the hold and
// the watchdog with nothing new, it is STALE.
func TestRateLimitedPaneSaysSoAndWhen(t *testing.T) {
	f := newFakeEngine()
	next := tNow.Add(2 * time.Minute)
	f.st.ApplySamples([]incident.Sample{{Service: "triton", Pane: "lag", Time: tNow.UTC(), Limited: next.UTC(),
		Error: "triton: rate-limited (-32005), retry in 2m0s"}}, tNow.UTC())
	m := newTestModel(t, f, "tara", 120, 40)
	view := plainView(m)
	line := ""
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "slots behind best") {
			line = l
			break
		}
	}
	want := next.In(m.loc).Format("15:04:05")
	if !strings.Contains(line, "RATE-LIMITED") || !strings.Contains(view, "next poll") || !strings.Contains(view, want) || strings.Contains(line, "STALE") {
		t.Fatalf("want RATE-LIMITED and %q:\n%s", want, view)
	}
	// Past the hold and the pane's watchdog, with no answer: STALE.
	m.Update(tickMsg{now: next.Add(time.Minute)})
	for _, l := range strings.Split(plainView(m), "\n") {
		if strings.Contains(l, "slots behind best") && !strings.Contains(l, "STALE") {
			t.Fatalf("silent after its hold, not STALE: %q", l)
		}
	}
}
