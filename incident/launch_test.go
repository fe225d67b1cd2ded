package incident

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
)

// launchConfig is testConfig with a launch plan: T-0 is an hour after
// the harness starts.
func launchConfig() *config.Config {
	c := testConfig()
	launch := t0.Add(time.Hour)
	c.Incident.Launch = &launch
	from := config.Offset(-50 * time.Minute)
	c.Launch = &config.Launch{
		Checkpoints: []config.Checkpoint{
			{At: config.Offset(-48 * time.Hour), Name: "load test passed", Criteria: []string{"load"}},
			{At: config.Offset(-55 * time.Minute), Name: "staffed", Criteria: []string{"staffed", "p95"}},
		},
		Criteria: []config.Criterion{
			{ID: "load", Title: "load test", LoadTest: []string{"p95 < 300ms", "error_rate < 1%", "rps >= 30000"}},
			{ID: "p95", Title: "tokens p95", Pane: "tokens/p95 < 0.3", For: config.Duration(10 * time.Second), From: &from},
			{ID: "staffed", Title: "staffed", Staffed: true},
			{ID: "sre", Title: "sign-off", SignOff: "bob"},
			{ID: "pre", Title: "preflight", Preflight: true, MaxAge: config.Duration(30 * time.Second)},
		},
	}
	return c
}

func launchHarness(t *testing.T) *harness {
	return openHarness(t, filepath.Join(t.TempDir(), "j.db"), launchConfig())
}

func green(h *harness, id string) bool {
	h.t.Helper()
	return h.state().Launch.Criterion(id).Green
}

func TestLoadTestEvidenceIsCheckedByTheEngine(t *testing.T) {
	h := launchHarness(t)
	h.refused(SubmitEvidence{By: "olga", Criterion: "load", Metrics: map[string]float64{"p95": 0.2}}, "observer")
	h.refused(SubmitEvidence{By: "maya", Criterion: "sre", Metrics: map[string]float64{"p95": 0.2}}, "takes sign-off evidence")
	h.refused(SubmitEvidence{By: "maya", Criterion: "lod", Metrics: map[string]float64{"p95": 0.2}}, `did you mean "load"`)

	// A failing threshold keeps it red, and says which.
	r := h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "k6", File: "peak.json",
		Metrics: map[string]float64{"p95": 0.42, "error_rate": 0.002, "rps": 31000}})
	ev := r.Events[0].Evidence
	if green(h, "load") || ev.Pass || !strings.Contains(ev.Summary, "fails p95 < 300ms") || len(ev.Detail) != 3 {
		t.Fatalf("a p95 over the threshold must stay red: %+v", ev)
	}
	if !strings.Contains(ev.Detail[0], "✗ p95 < 300ms: 420ms") || !strings.Contains(ev.Detail[1], "✓ error_rate < 1%: 0.2%") {
		t.Fatalf("detail: %q", ev.Detail)
	}
	// A missing metric is a failure too.
	h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "vegeta", Metrics: map[string]float64{"p95": 0.2, "rps": 40000}})
	if green(h, "load") {
		t.Fatal("a result without error_rate must not pass error_rate < 1%")
	}
	h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "vegeta", Metrics: map[string]float64{"p95": 0.2, "rps": 40000, "error_rate": 0}})
	c := h.state().Launch.Criterion("load")
	if !c.Green || c.By != "alice" || c.Evidence.Tool != "vegeta" {
		t.Fatalf("a passing result turns it green, supplied by alice: %+v", c)
	}
}

func TestSignOffOnlyByTheNamedPerson(t *testing.T) {
	h := launchHarness(t)
	h.refused(SignOff{By: "maya", Criterion: "sre"}, "signed off by bob, not maya")
	h.ok(SignOff{By: "bob", Criterion: "sre", Note: "NAT has 8 IPs"})
	h.refused(SignOff{By: "bob", Criterion: "sre"}, "already signed off")
	if !green(h, "sre") {
		t.Fatal("signed off")
	}
	h.ok(SignOff{By: "bob", Criterion: "sre", Withdraw: true})
	if green(h, "sre") {
		t.Fatal("withdrawn")
	}
}

func TestPaneCriterionHoldsThenLapsesOnBreachAndStale(t *testing.T) {
	h := launchHarness(t)
	p95 := func(v float64) { h.observe(Sample{Service: "tokens", Pane: "p95", Value: v}) }
	// Before its from (T-50m) it does not count.
	for range 5 {
		p95(0.2)
		h.advance(time.Second)
	}
	h.advance(10 * time.Minute)
	for range 12 {
		p95(0.2)
		h.advance(time.Second)
	}
	if !green(h, "p95") {
		t.Fatalf("held for 10s after T-50m: want green, got %+v", h.state().Launch.Criterion("p95"))
	}
	p95(0.35)
	c := h.state().Launch.Criterion("p95")
	if c.Green || !c.Evidence.Lapsed || !strings.Contains(c.Evidence.Summary, "tokens/p95 is 350ms") {
		t.Fatalf("a breach turns it red at once: %+v", c)
	}
	for range 12 {
		p95(0.25)
		h.advance(time.Second)
	}
	if !green(h, "p95") {
		t.Fatal("green again after holding again")
	}
	// Silence: the pane goes STALE and the criterion lapses.
	h.advance(20 * time.Second)
	c = h.state().Launch.Criterion("p95")
	if c.Green || !strings.Contains(c.Evidence.Summary, "STALE") {
		t.Fatalf("a STALE pane is never green: %+v", c.Evidence)
	}
}

func TestStaffedFollowsPresence(t *testing.T) {
	h := launchHarness(t)
	h.advance(time.Second)
	if green(h, "staffed") {
		t.Fatal("nobody is connected")
	}
	for _, who := range []string{"maya", "alice", "bob"} {
		h.ok(Join{Session: who, Handle: who, Via: ViaSSH})
	}
	h.advance(time.Second)
	if green(h, "staffed") {
		t.Fatalf("the scribe sam is not connected: %v", h.state().Staffing(h.e.cfg))
	}
	h.ok(Join{Session: "sam", Handle: "sam", Via: ViaLocal})
	h.advance(time.Second)
	if !green(h, "staffed") {
		t.Fatalf("everyone connected: %v", h.state().Staffing(h.e.cfg))
	}
	h.ok(Leave{Session: "bob"})
	h.advance(time.Second)
	c := h.state().Launch.Criterion("staffed")
	if c.Green || !strings.Contains(strings.Join(c.Evidence.Detail, ";"), "history owner bob is not connected") {
		t.Fatalf("bob left: %+v", c.Evidence)
	}
}

func TestPreflightEvidenceLapsesWithAge(t *testing.T) {
	h := launchHarness(t)
	h.ok(RecordCheck{By: "maya", Result: CheckInfo{Checks: 12, Problems: []string{"source prom: connection refused"}, Failed: []string{"sources"}}})
	if green(h, "pre") {
		t.Fatal("a failed preflight is red")
	}
	h.ok(RecordCheck{By: "maya", Result: CheckInfo{Checks: 12}})
	if !green(h, "pre") || h.state().Launch.Check.By != "maya" {
		t.Fatal("a clean preflight is green")
	}
	h.advance(31 * time.Second)
	c := h.state().Launch.Criterion("pre")
	if c.Green || !c.Evidence.Lapsed || c.By != "warroom" {
		t.Fatalf("older than max_age: red again: %+v", c)
	}
}

func TestDecisionNeedsAllGreenOrAnOverride(t *testing.T) {
	h := launchHarness(t)
	h.refused(Decide{By: "alice", Decision: DecisionGo}, "only the commander")
	h.refused(Decide{By: "maya", Decision: DecisionGo}, "5 of 5 criteria are not green (load, p95, staffed, sre, pre): give an override reason")
	h.refused(Decide{By: "maya", Decision: "maybe"}, "go, hold or abort")
	h.refused(Decide{By: "maya", Decision: DecisionHold}, "new T-0 in the future")
	newT0 := h.clk.Now().Add(2 * time.Hour)
	h.ok(Decide{By: "maya", Decision: DecisionHold, T0: newT0, Override: "waiting for the load test"})
	if got, _ := h.state().T0(h.e.cfg); !got.Equal(newT0.Truncate(time.Second)) {
		t.Fatalf("a hold moves T-0: %v", got)
	}
	r := h.ok(Decide{By: "maya", Decision: DecisionGo, Override: "the load test ran in staging only"})
	d := r.Events[0].Decision
	if d.Override == "" || len(d.Red) != 5 || !strings.Contains(r.Events[0].Text, "overriding 5 red criteria") {
		t.Fatalf("the override is on the record: %+v %q", d, r.Events[0].Text)
	}
	h.refused(Decide{By: "maya", Decision: DecisionAbort, Override: "x"}, "already decided: go")
}

func TestCheckpointsRecordTheirCriteriaAndReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	h := openHarness(t, path, launchConfig())
	h.ok(SubmitEvidence{By: "maya", Criterion: "load", Metrics: map[string]float64{"p95": 0.1, "error_rate": 0, "rps": 50000}})
	h.advance(5*time.Minute + time.Second) // past T-55m
	st := h.state()
	var cps []*CheckpointPassed
	for _, cp := range st.Launch.Checkpoints {
		cps = append(cps, cp)
	}
	// T-48h was before the room started: not recorded; T-55m was crossed.
	if len(cps) != 1 || cps[0].Name != "staffed" || len(cps[0].Red) != 2 {
		t.Fatalf("checkpoints: %+v", cps)
	}
	before := h.state().Launch
	h.close()
	h2 := openHarness(t, path, launchConfig())
	after := h2.state().Launch
	if !after.Criterion("load").Green || len(after.Checkpoints) != len(before.Checkpoints) {
		t.Fatalf("the board is a fold of the journal: %+v", after)
	}
}

// TestExpectedCurveFromTheLatestResult: a load-test criterion that
// expects panes gives each the latest imported result, scaled to the
// pane's unit, from the journal alone; a metric the result lacks draws
// nothing and says which.
func TestExpectedCurveFromTheLatestResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	cfg := launchConfig()
	cfg.Launch.Criteria[0].Expect = []config.Expect{
		{Pane: "tokens/p95", Band: []string{"p50", "p99"}},
		{Pane: "history/rps", Line: "rps", Scale: new(0.5)}, // one of two providers
	}
	h := openHarness(t, path, cfg)
	if _, ok := h.state().Expected("tokens", "p95"); ok {
		t.Fatal("no result yet: no expected curve")
	}
	if _, ok := h.state().Expected("tokens", "errors"); ok {
		t.Fatal("a pane no criterion expects has no curve")
	}
	// A failing result is still what the load test said: drawn.
	r := h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "k6", File: "peak.json",
		Metrics: map[string]float64{"p50": 0.12, "p95": 0.42, "p99": 0.61, "error_rate": 0.002, "rps": 31000}})
	x, ok := h.state().Expected("tokens", "p95")
	if !ok || !x.Drawable() || x.Lo != 0.12 || x.Hi != 0.61 || x.Pass || x.Seq != r.Events[0].Seq || x.Criterion != "load" {
		t.Fatalf("tokens/p95 band: %+v", x)
	}
	if want := "k6 peak.json #" + strconv.FormatInt(x.Seq, 10) + " p50–p99"; x.Label() != want {
		t.Fatalf("label %q, want %q", x.Label(), want)
	}
	if x, _ := h.state().Expected("history", "rps"); x.Lo != 15500 || x.Hi != 15500 {
		t.Fatalf("history/rps line at half the result's rps: %+v", x)
	}
	lines, err := h.state().LaunchBoard(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	board := strings.Join(lines, "\n")
	for _, want := range []string{
		"expected on tokens/p95 p50–p99: 120ms – 610ms from k6 peak.json #" + strconv.FormatInt(x.Seq, 10) + " (drawn after T-0)",
		"expected on history/rps rps: 15.5K req/s from k6 peak.json #",
	} {
		if !strings.Contains(board, want) {
			t.Errorf("the board (launch status) lacks %q:\n%s", want, board)
		}
	}
	// The next result replaces it; one without p99 cannot draw the band.
	h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "vegeta", File: "v.json",
		Metrics: map[string]float64{"p50": 0.1, "p95": 0.2, "error_rate": 0, "rps": 40000}})
	x, _ = h.state().Expected("tokens", "p95")
	if x.Drawable() || !slices.Equal(x.Missing, []string{"p99"}) || x.Tool != "vegeta" {
		t.Fatalf("a result without p99: %+v", x)
	}
	// The plan and the results are in the journal: the curves replay.
	h.ok(SubmitEvidence{By: "alice", Criterion: "load", Tool: "vegeta", File: "v2.json",
		Metrics: map[string]float64{"p50": 0.1, "p95": 0.2, "p99": 0.25, "error_rate": 0, "rps": 40000}})
	before, _ := h.state().Expected("tokens", "p95")
	h.close()
	h2 := openHarness(t, path, launchConfig()) // the file lost expect: the room keeps what it declared
	after, ok := h2.state().Expected("tokens", "p95")
	if !ok || after.Lo != 0.1 || after.Hi != 0.25 || after.Seq != before.Seq || !after.Pass {
		t.Fatalf("replayed curve %+v, before %+v", after, before)
	}
}
