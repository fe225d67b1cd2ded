package launch

import (
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

func TestParseResults(t *testing.T) {
	for _, c := range []struct {
		file string
		tool string
		want map[string]float64
	}{
		{"k6-summary-pass.json", "k6", map[string]float64{"p95": 0.4028, "p50": 0.1607, "max": 1.2049, "mean": 0.1824, "rps": 30758.9, "requests": 18480000, "error_rate": 0.0000876}},
		{"k6-summary-fail.json", "k6", map[string]float64{"p95": 1.3106, "error_rate": 0.0457778, "rps": 15000}},
		{"k6-handlesummary.json", "k6", map[string]float64{"p95": 0.2604, "p99": 0.4809, "error_rate": 0.002, "rps": 29960.4}},
		{"vegeta-pass.json", "vegeta", map[string]float64{"p95": 0.288, "p50": 0.098, "p99": 0.611, "rps": 30478.7, "requests": 30500000, "error_rate": 0.0006}},
		{"vegeta-fail.json", "vegeta", map[string]float64{"p95": 1.9, "error_rate": 0.0895, "rps": 27310.5}},
	} {
		r, err := ReadResult(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if r.Tool != c.tool || r.File != c.file {
			t.Errorf("%s: tool %q file %q", c.file, r.Tool, r.File)
		}
		for k, want := range c.want {
			if got, ok := r.Metrics[k]; !ok || abs(got-want) > 1e-6*max(1, abs(want)) {
				t.Errorf("%s: %s = %v (present %v), want %v", c.file, k, got, ok, want)
			}
		}
	}
	// k6's own verdicts are kept: true in --summary-export means failed.
	r, _ := ReadResult("testdata/k6-summary-fail.json")
	if r.ToolThresholds["http_req_duration p(95)<500"] {
		t.Error("k6 said p(95)<500 failed")
	}
	for _, bad := range []string{`{}`, `[1,2]`, `not json`, `{"metrics": {"vus": {"value": 1}}}`} {
		if _, err := ParseResult([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestImportedResultsAreEvidence: each file goes to a real engine; a
// failing threshold keeps the criterion red, a passing file turns it
// green, and the board says who supplied it.
func TestImportedResultsAreEvidence(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 17, 0, 0, 0, time.UTC)
	launch := t0.Add(48 * time.Hour)
	cfg := &config.Config{
		Incident: config.Incident{Name: "load", Launch: &launch},
		Services: []config.Service{{ID: "tokens", Owner: "tomas"}},
		Roster:   []config.Person{{Handle: "rosa"}, {Handle: "tomas"}, {Handle: "olga"}},
		Roles:    config.Roles{Commander: "rosa"},
		Launch: &config.Launch{Criteria: []config.Criterion{
			{ID: "load-test", LoadTest: []string{"rps >= 30000", "p95 < 500ms", "error_rate < 1%"}},
		}},
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	t.Cleanup(func() { cancel(); <-e.Done(); j.Close() })
	state := func() *incident.CriterionState {
		st, sub, err := e.Subscribe(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		e.Unsubscribe(sub)
		return st.Launch.Criterion("load-test")
	}
	for _, c := range []struct {
		file  string
		green bool
		why   string
	}{
		{"k6-summary-fail.json", false, "fails rps >= 30000, p95 < 500ms, error_rate < 1%"},
		{"k6-summary-pass.json", true, "meets 3 threshold(s)"},
		{"vegeta-fail.json", false, "fails rps >= 30000, p95 < 500ms, error_rate < 1%"},
		{"vegeta-pass.json", true, "meets 3 threshold(s)"},
		{"k6-handlesummary.json", false, "fails rps >= 30000"},
	} {
		if err := submit(ctx, e, "tomas", filepath.Join("testdata", c.file)); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		got := state()
		if got.Green != c.green || !strings.Contains(got.Evidence.Summary, c.why) || got.By != "tomas" || got.Evidence.File != c.file {
			t.Errorf("%s: green %v, summary %q, by %s, want green %v and %q", c.file, got.Green, got.Evidence.Summary, got.By, c.green, c.why)
		}
	}
	if err := submit(ctx, e, "olga", "testdata/k6-summary-pass.json"); err == nil || !strings.Contains(err.Error(), "observer") {
		t.Errorf("an observer supplied evidence: %v", err)
	}
}

// submit does what warroom launch import does: read the result file here
// and send its numbers to the room as the criterion's evidence.
func submit(ctx context.Context, e *incident.Engine, by, path string) error {
	r, err := ReadResult(path)
	if err != nil {
		return err
	}
	return e.Do(ctx, incident.SubmitEvidence{By: by, Criterion: "load-test", Tool: r.Tool, File: r.File, Metrics: r.Metrics}).Err
}
