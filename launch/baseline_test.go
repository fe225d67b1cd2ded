package launch

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

func TestStats(t *testing.T) {
	var vals []float64
	for i := 1; i <= 100; i++ {
		vals = append(vals, float64(i))
	}
	ones := make([]float64, len(vals))
	for i := range ones {
		ones[i] = 1
	}
	b := weightedStats("s", "p", vals, ones)
	if b.N != 100 || b.Min != 1 || b.Max != 100 || b.P5 != 5 || b.P50 != 50 || b.P95 != 95 || b.Mean != 50.5 {
		t.Fatalf("%+v", b)
	}
}

// TestBaselineCapturedAfterItsWindow: samples stored before T-0 become
// the panes' baselines, recorded once the window has passed.
func TestBaselineCapturedAfterItsWindow(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 17, 0, 0, 0, time.UTC)
	launch := t0.Add(10 * time.Minute)
	cfg := &config.Config{
		Incident: config.Incident{Name: "b", Launch: &launch},
		Sources:  []config.Source{{ID: "prom", Type: config.SourcePrometheus}},
		Services: []config.Service{{ID: "tokens", Panes: []config.Pane{{ID: "p95", Source: "prom"}, {ID: "rps", Source: "prom"}}}},
		Roster:   []config.Person{{Handle: "rosa"}},
		Roles:    config.Roles{Commander: "rosa"},
		Launch:   &config.Launch{Criteria: []config.Criterion{{ID: "s", SignOff: "rosa"}}, Baseline: &config.BaselineWindow{From: config.Offset(-5 * time.Minute)}},
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	t.Cleanup(func() { cancel(); <-e.Done(); j.Close() })
	var samples []journal.Sample
	for i := range 600 { // one a second from T-10m to T-0
		at := t0.Add(time.Duration(i) * time.Second)
		samples = append(samples, journal.Sample{Service: "tokens", Pane: "p95", Time: at, Value: 0.1 + float64(i%10)/100})
	}
	if err := j.AppendSamples(ctx, samples); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { WatchBaseline(ctx, e, j, cfg, clk); close(done) }()
	for {
		select {
		case <-done:
		case <-time.After(time.Millisecond):
			clk.Advance(30 * time.Second)
			continue
		}
		break
	}
	st, sub, _ := e.Subscribe(ctx, 1)
	e.Unsubscribe(sub)
	b, ok := st.Launch.Baseline["tokens/p95"]
	if !ok || b.N < 290 || b.N > 302 || b.P5 != 0.1 || b.P95 != 0.19 || !st.Launch.BaselineTo.Equal(launch) {
		t.Fatalf("baseline %+v (window %v–%v)", b, st.Launch.BaselineFrom, st.Launch.BaselineTo)
	}
	if _, ok := st.Launch.Baseline["tokens/rps"]; ok {
		t.Fatal("a pane without samples has no baseline")
	}
}

// TestBaselineWeighsChangePoints: the journal keeps change points, so a
// value that held for nine minutes is a few samples; it still counts for
// nine minutes against one minute of varied values at one a second.
func TestBaselineWeighsChangePoints(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 17, 0, 0, 0, time.UTC)
	cfg := &config.Config{Services: []config.Service{{ID: "tokens", Panes: []config.Pane{{ID: "p95", Source: "prom"}}}}}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var ss []journal.Sample
	for _, s := range []int{0, 60, 120, 180, 240, 300, 360, 420, 480, 539} { // flat at 0.1, as recorded
		ss = append(ss, journal.Sample{Service: "tokens", Pane: "p95", Time: t0.Add(time.Duration(s) * time.Second), Value: 0.1})
	}
	for i := range 60 { // then a minute of 1.0 … 1.59, one a second
		ss = append(ss, journal.Sample{Service: "tokens", Pane: "p95", Time: t0.Add(time.Duration(540+i) * time.Second), Value: 1 + float64(i)/100})
	}
	if err := j.AppendSamples(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	bs, err := Baseline(context.Background(), j, cfg, t0, t0.Add(10*time.Minute))
	if err != nil || len(bs) != 1 {
		t.Fatal(bs, err)
	}
	b := bs[0]
	if b.N != 70 || b.P50 != 0.1 || b.P75 != 0.1 || b.P95 != 1.29 || b.Max < 1.58 || b.Mean > 0.25 {
		t.Fatalf("baseline %+v: want nine tenths of the time at 0.1", b)
	}
}
