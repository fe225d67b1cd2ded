package incident

import (
	"testing"
	"time"
)

// TestLateBackfillFillsHistoryOnly: a backfill that succeeds after live
// samples came fills the pane's history in time order; the live value,
// its freshness and its staleness stay those of the newest sample, and a
// copy of the state taken before keeps its own history.
func TestLateBackfillFillsHistoryOnly(t *testing.T) {
	s := NewState()
	t0 := time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)
	live := []Sample{{Service: "api", Pane: "p95", Time: t0.Add(60 * time.Second), Value: 7}, {Service: "api", Pane: "p95", Time: t0.Add(65 * time.Second), Value: 8}}
	s.ApplySamples(live, t0.Add(66*time.Second))
	s.ApplySamples([]Sample{{Service: "api", Pane: "p95", Time: t0.Add(66 * time.Second), Stale: true, Error: "timeout"}}, t0.Add(67*time.Second))
	before := append([]Point(nil), s.Panes[PaneKey("api", "p95")].Series...)
	shared := s.Panes[PaneKey("api", "p95")].Series
	var backfill []Sample
	for i := 0; i < 12; i++ {
		backfill = append(backfill, Sample{Service: "api", Pane: "p95", Time: t0.Add(time.Duration(i*5) * time.Second), Value: float64(i)})
	}
	backfill = append(backfill, Sample{Service: "api", Pane: "p95", Time: t0.Add(60 * time.Second), Value: 99}) // already there
	s.ApplySamples(backfill, t0.Add(90*time.Second))
	p := s.Panes[PaneKey("api", "p95")]
	if p.Value != 8 || !p.Stale || p.Error != "timeout" || !p.Updated.Equal(t0.Add(67*time.Second)) {
		t.Fatalf("the backfill changed the live pane: %+v", p)
	}
	if len(p.Series) != 14 {
		t.Fatalf("%d points: %v", len(p.Series), p.Series)
	}
	for i := 1; i < len(p.Series); i++ {
		if !p.Series[i].T.After(p.Series[i-1].T) {
			t.Fatalf("history out of order at %d: %v", i, p.Series)
		}
	}
	if p.Series[12].V != 7 || p.Series[13].V != 8 {
		t.Fatalf("live points replaced: %v", p.Series[12:])
	}
	for i := range before {
		if shared[i] != before[i] {
			t.Fatal("an older copy's history changed")
		}
	}
}
