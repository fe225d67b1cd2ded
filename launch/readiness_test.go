package launch

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

func TestReadinessRecord(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 17, 0, 0, 0, time.UTC)
	launch := t0.Add(time.Hour)
	cfg := &config.Config{
		Incident: config.Incident{Name: "JUP airdrop", Launch: &launch},
		Services: []config.Service{{ID: "aws", Owner: "ada", Panes: []config.Pane{
			{ID: "lat", Unit: "ms"}, {ID: "rps", Unit: "req/s"}, {ID: "tail", Unit: "s"}}}},
		Roster: []config.Person{{Handle: "rosa"}, {Handle: "ada"}},
		Roles:  config.Roles{Commander: "rosa"},
		Launch: &config.Launch{
			Checkpoints: []config.Checkpoint{{At: config.Offset(-50 * time.Minute), Name: "go/no-go", Criteria: []string{"load", "nat"}}},
			Criteria: []config.Criterion{
				{ID: "load", Title: "Load test", LoadTest: []string{"p95 < 500ms"}, Expect: []config.Expect{
					{Pane: "aws/lat", Band: []string{"p50", "p95"}}, {Pane: "aws/rps", Line: "rps"}, {Pane: "aws/tail", Line: "p99"}}},
				{ID: "nat", Title: "NAT capacity", SignOff: "ada"},
			},
		},
	}
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := journal.Open(path)
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
	do := func(c incident.Command) {
		if r := e.Do(ctx, c); r.Err != nil {
			t.Fatalf("%T: %v", c, r.Err)
		}
	}
	do(incident.SubmitEvidence{By: "ada", Criterion: "load", Tool: "k6", File: "peak.json", Metrics: map[string]float64{"p50": 0.12, "p95": 0.2, "rps": 31000}})
	do(incident.SignOff{By: "ada", Criterion: "nat", Note: "8 IPs attached | 440K ports"})
	for range 11 * 60 {
		// The engine sets its heartbeat again before it handles one: once
		// the clock has as many timers as before, the heartbeat of this
		// second is being handled, and the note queues behind it. Without
		// the wait a loaded machine let the checkpoint of 17:10:00 be
		// stamped a second later.
		n := clk.Waiters()
		clk.Advance(time.Second)
		for deadline := time.Now().Add(10 * time.Second); clk.Waiters() < n && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
		e.Do(ctx, incident.Note{By: "rosa", Text: "tick"})
	}
	do(incident.RecordCheck{By: "rosa", Result: incident.CheckInfo{Checks: 3}})
	do(incident.Decide{By: "rosa", Decision: incident.DecisionGo})
	cancel()
	<-e.Done()
	j.Close()

	r, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rec, err := ReadRecord(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Criteria) != 2 || !rec.Criteria[0].Green || rec.Criteria[1].By != "ada" || len(rec.Decisions) != 1 || len(rec.Checkpoints) != 1 || len(rec.SignOffs) != 1 {
		t.Fatalf("record: %+v", rec)
	}
	var md bytes.Buffer
	if err := rec.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Readiness record: JUP airdrop",
		"- **GO** by rosa at 2024-01-31 17:11:00Z",
		"2 green, 0 red",
		"| load | Load test (p95 < 500ms) | green | k6 result peak.json meets 1 threshold(s): ✓ p95 < 500ms: 200ms | ada |",
		`nat: ada signed off: 8 IPs attached \| 440K ports`,
		"- T-50m go/no-go at 2024-01-31 17:10:00Z",
		"✓ rosa: preflight by rosa: 3 checks passed",
		"## Expected curves",
		"| aws/lat | band p50–p95 | 120ms – 200ms | k6 peak.json #2 (load) |",
		"| aws/rps | line at rps | 31K req/s | k6 peak.json #2 (load) |",
		"| aws/tail | line at p99 | the result has no p99 | k6 peak.json #2 (load) |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("missing %q in:\n%s", want, md.String())
		}
	}
	var js bytes.Buffer
	if err := rec.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"decision": "go"`) || !strings.Contains(js.String(), `"hi": 200`) {
		t.Errorf("json: %v\n%s", err, js.String())
	}
}

// TestReadinessBaselinesPrintAsPanesDo: a baseline's values read as the
// pane shows them (12K req/s, 430ms), not as 1.2e+04.
func TestReadinessBaselinesPrintAsPanesDo(t *testing.T) {
	rec := Record{Name: "JUP airdrop", Baselines: []RecordBaseline{
		{incident.BaselineInfo{Service: "aws", Pane: "rps", N: 300, P5: 9800, P50: 12000, P95: 15500, Max: 20000}, "req/s"},
		{incident.BaselineInfo{Service: "aws", Pane: "p95", N: 300, P5: 0.1, P50: 0.43, P95: 1.2, Max: 2}, "s"},
	}}
	var md bytes.Buffer
	if err := rec.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| aws/rps | 300 | 9800 req/s | 12K req/s | 15.5K req/s | 20K req/s |",
		"| aws/p95 | 300 | 100ms | 430ms | 1.2s | 2s |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("missing %q in:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "e+") {
		t.Errorf("a value in exponent notation:\n%s", md.String())
	}
}
