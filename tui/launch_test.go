package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// tBoard is when the launch board is drawn: 42m10s before T-0.
var tBoard = tLaunch.Add(-42*time.Minute - 10*time.Second)

// launchFixtureConfig is the fixture's room with the example's plan.
func launchFixtureConfig() *config.Config {
	c := fixtureConfig()
	hour := config.Offset(-time.Hour)
	c.Launch = &config.Launch{
		Checkpoints: []config.Checkpoint{
			{At: config.Offset(-14 * 24 * time.Hour), Name: "code freeze"},
			{At: config.Offset(-48 * time.Hour), Name: "load test passed", Criteria: []string{"load-test"}},
			{At: config.Offset(-time.Hour), Name: "war room staffed, preflight clean", Criteria: []string{"staffed", "preflight"}},
			{At: config.Offset(-5 * time.Minute), Name: "go/no-go", Criteria: []string{"tokens-p95", "nat-sign-off"}},
		},
		Criteria: []config.Criterion{
			{ID: "load-test", Title: "Load test at 30K req/s", LoadTest: []string{"rps >= 30000", "p95 < 500ms", "error_rate < 1%"}},
			{ID: "preflight", Title: "Preflight passes", Preflight: true},
			{ID: "staffed", Title: "Every role and owner connected", Staffed: true},
			{ID: "tokens-p95", Title: "Tokens p95 under 300 ms for 10s", Pane: "tokens/p95 < 0.3", For: config.Duration(10 * time.Second), From: &hour},
			{ID: "nat-sign-off", Title: "AWS DevOps signs off NAT capacity", SignOff: "ada"},
		},
		Baseline: &config.BaselineWindow{From: hour},
	}
	return c
}

// launchFixture is a fake engine before T-0 with some evidence in.
func launchFixture() *fakeEngine {
	cfg := launchFixtureConfig()
	b := &stateBuilder{st: incident.NewState(), cfg: cfg}
	setup := roles.FromConfig(cfg)
	launch := tLaunch.UTC()
	b.emit(tBoard.Add(-20*time.Minute), incident.Event{Kind: incident.KindDeclare, Actor: "warroom", Text: cfg.Incident.Name, Setup: &setup,
		Room: &incident.RoomInfo{Timezone: cfg.Incident.Timezone, Launch: &launch}})
	b.emit(tBoard.Add(-15*time.Minute), incident.Event{Kind: incident.KindEvidence, Actor: "tomas", Text: "load-test is green",
		Evidence: &incident.EvidenceInfo{Criterion: "load-test", Kind: "load_test", Pass: true, Tool: "k6", File: "peak-30k.json",
			Summary: "k6 result peak-30k.json meets 3 threshold(s)", Detail: []string{"✓ rps >= 30000: 30.8K req/s", "✓ p95 < 500ms: 403ms", "✓ error_rate < 1%: 0.01%"}}})
	b.emit(tBoard.Add(-10*time.Minute), incident.Event{Kind: incident.KindCheck, Actor: "rosa", Text: "preflight by rosa: 1 problem(s) in slack",
		Check: &incident.CheckInfo{Checks: 39, Problems: []string{"slack: conversations.info C06JUPWAR1: #launch: the bot is not a member; invite it (/invite @bot)"}, Failed: []string{"slack"}}})
	b.emit(tBoard.Add(-10*time.Minute), incident.Event{Kind: incident.KindEvidence, Actor: "rosa", Text: "preflight is red",
		Evidence: &incident.EvidenceInfo{Criterion: "preflight", Kind: "preflight", Summary: "preflight #4 failed: slack",
			Detail: []string{"slack: conversations.info C06JUPWAR1: #launch: the bot is not a member; invite it (/invite @bot)"}}})
	b.emit(tBoard.Add(-2*time.Minute), incident.Event{Kind: incident.KindEvidence, Actor: "warroom", Text: "tokens-p95 is green",
		Evidence: &incident.EvidenceInfo{Criterion: "tokens-p95", Kind: "pane", Pass: true, Summary: "tokens/p95 < 0.3 held for 10s (now 182ms)"}})
	b.series("tokens", "p95", tBoard, 40, 15*time.Second, ramp(0.16, 0.19))
	st := b.st
	st.Presence = map[string]incident.Presence{"s1": {Handle: "rosa", Via: incident.ViaLocal}, "s2": {Handle: "tomas", Via: incident.ViaSSH}}
	return &fakeEngine{cfg: cfg, roster: roles.NewRoster(cfg.Roster), clk: clock.NewFake(tBoard), st: st, feed: make(chan incident.Update, 16)}
}

func TestGoldenLaunch(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("launch_%dx%d", sz.w, sz.h), func(t *testing.T) {
			f := launchFixture()
			m := newTestModel(t, f, "rosa", sz.w, sz.h)
			if m.view != viewLaunch {
				t.Fatalf("before T-0 the dashboard opens on the launch board, not %s", viewNames[m.view])
			}
			if os.Getenv("TUI_SHOW") != "" {
				fmt.Println(plainView(m))
			}
			golden.RequireEqual(t, asciiView(m))
		})
	}
	// After T-0 it opens on the overview, as without a plan.
	f := launchFixture()
	f.clk = clock.NewFake(tLaunch.Add(time.Second))
	if m := newTestModel(t, f, "rosa", 80, 24); m.view != viewOverview {
		t.Fatalf("after T-0: %s", viewNames[m.view])
	}
}

// launchEngine runs the real engine with the launch plan, on a fake
// clock 42m10s before T-0.
func launchEngine(t *testing.T) (*incident.Engine, *clock.Fake) {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(tBoard)
	e, err := incident.New(incident.Options{Config: launchFixtureConfig(), Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	t.Cleanup(func() {
		cancel()
		<-e.Done()
		j.Close()
	})
	return e, clk
}

// TestFlowLaunchBoard: the board counts down; a criterion bound to a
// pane condition turns green once the pane has held and red at the
// breach; a go with red criteria is not sent without a reason, and is
// recorded with one.
func TestFlowLaunchBoard(t *testing.T) {
	e, clk := launchEngine(t)
	m := New(Options{Engine: guarded{e}, Handle: "rosa", Profile: colorprofile.ASCII, Theme: ThemeDark})
	tm := teatest.NewTestModel(t, &probed{m: m}, teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(append(ProgramOptions(Options{FPS: 30}), tea.WithColorProfile(colorprofile.ASCII))...))
	t.Cleanup(func() { _ = tm.Quit() })
	waitScreen(t, tm, "6 Launch", "T-00:42:10", "next T-5m go/no-go in 00:37:10", "0 of 5 green")

	// The countdown follows the clock.
	clk.Advance(5 * time.Second)
	waitScreen(t, tm, "T-00:42:05")

	// The pane holds below 0.3 for 10s (the engine's heartbeat sees it).
	step := func(v float64) {
		e.Submit(context.Background(), incident.Observe{Samples: []incident.Sample{{Service: "tokens", Pane: "p95", Time: clk.Now(), Value: v}}})
		clk.Advance(time.Second)
		engineState(t, e)
	}
	for range 12 {
		step(0.18)
	}
	waitScreen(t, tm, "tokens-p95", "GREEN", "tokens/p95 < 0.3 held for", "1 of 5 green")
	tm.Send(kp("down"))
	tm.Send(kp("down"))
	tm.Send(kp("down"))
	waitScreen(t, tm, "▶ tokens-p95", "Tokens p95 under 300 ms for 10s (pane tokens/p95 < 0.3 for 10s)")
	// A breach turns it red at once.
	step(0.42)
	s := waitScreen(t, tm, "tokens/p95 < 0.3 no longer holds: tokens/p95 is 420ms", "0 of 5 green")
	if strings.Contains(s, "GREEN") {
		t.Fatalf("a breached criterion is not green:\n%s", s)
	}

	// GO with red criteria: the reason is asked for; empty is refused
	// and nothing is sent.
	tm.Send(kp("d"))
	waitScreen(t, tm, "Launch decision…", "GO — needs an override: 5 red")
	tm.Send(kp("enter"))
	waitScreen(t, tm, "override 5 red (load-test, preflight, staffed, tokens-p95, nat-sign-off): reason")
	tm.Send(kp("enter"))
	waitScreen(t, tm, "needs an override reason")
	if d := engineState(t, e).Launch.LastDecision(); d != nil {
		t.Fatalf("a decision was recorded without a reason: %+v", d)
	}
	tm.Send(kp("d"))
	waitScreen(t, tm, "Launch decision…")
	tm.Send(kp("enter"))
	waitScreen(t, tm, "reason")
	tm.Type("load test ran in staging only")
	tm.Send(kp("enter"))
	eventually(t, "the DECISION to be committed", func() bool { return engineState(t, e).Launch.LastDecision() != nil })
	d := engineState(t, e).Launch.LastDecision()
	if d.Decision != incident.DecisionGo || d.By != "rosa" || d.Override != "load test ran in staging only" || len(d.Red) != 5 {
		t.Fatalf("decision %+v", d)
	}
	waitScreen(t, tm, " GO ", "override: load test ran in staging only")
	_ = finalScreen(t, tm)
}

// TestGoldenBaselineBand: after T-0 the detail chart shades the pane's
// baseline (p5 to p95 before T-0) behind the live series.
func TestGoldenBaselineBand(t *testing.T) {
	f := launchFixture()
	after := tLaunch.Add(5 * time.Minute)
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	b.emit(tLaunch, incident.Event{Kind: incident.KindBaseline, Actor: "warroom", Text: "baselines of 1 panes captured",
		Baselines: &incident.BaselinesInfo{From: tLaunch.Add(-time.Hour).UTC(), To: tLaunch.UTC(), Panes: []incident.BaselineInfo{
			{Service: "tokens", Pane: "p95", N: 240, Min: 0.14, P5: 0.15, P25: 0.16, P50: 0.17, P75: 0.18, P95: 0.2, Max: 0.22, Mean: 0.17}}}})
	b.series("tokens", "p95", after, 40, 15*time.Second, ramp(0.18, 0.9))
	f.clk = clock.NewFake(after)
	m := newTestModel(t, f, "tomas", 120, 40)
	press(m, "1", "enter")
	if !strings.Contains(plainView(m), "░░░") || !strings.Contains(plainView(m), "⠤ live  ░ baseline p5–p95 09:00–10:00") {
		t.Fatalf("no band, or no legend naming it, on the detail view:\n%s", plainView(m))
	}
	if os.Getenv("TUI_SHOW") != "" {
		fmt.Println(plainView(m))
	}
	golden.RequireEqual(t, asciiView(m))
	// Before T-0 there is no band: the baseline is still being taken.
	f.clk = clock.NewFake(tBoard)
	m = newTestModel(t, f, "tomas", 120, 40)
	press(m, "1", "enter")
	if strings.Contains(plainView(m), "░") {
		t.Fatal("a band before T-0")
	}
}

// expectedFixture is the launch fixture five minutes after T-0, with the
// tokens/p95 series climbing; with curves, the plan draws the load test's
// p50–p95 on tokens/p95, a k6 result is in (its event is seq) and the
// baseline was captured.
func expectedFixture(curves bool) (f *fakeEngine, seq int64) {
	f = launchFixture()
	after := tLaunch.Add(5 * time.Minute)
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	if curves {
		f.cfg.Launch.Criteria[0].Expect = []config.Expect{{Pane: "tokens/p95", Band: []string{"p50", "p95"}}}
		f.st.Room.Plan = incident.PlanOf(f.cfg)
		b.emit(tLaunch.Add(-30*time.Minute), incident.Event{Kind: incident.KindEvidence, Actor: "tomas", Text: "load-test is green",
			Evidence: &incident.EvidenceInfo{Criterion: "load-test", Kind: "load_test", Pass: true, Tool: "k6", File: "peak-30k.json",
				Summary: "k6 result peak-30k.json meets 3 threshold(s)", Metrics: map[string]float64{"p50": 0.31, "p95": 0.403, "rps": 30800, "error_rate": 0.0001}}})
		seq = f.st.LastSeq
		b.emit(tLaunch, incident.Event{Kind: incident.KindBaseline, Actor: "warroom", Text: "baselines of 1 panes captured",
			Baselines: &incident.BaselinesInfo{From: tLaunch.Add(-time.Hour).UTC(), To: tLaunch.UTC(), Panes: []incident.BaselineInfo{
				{Service: "tokens", Pane: "p95", N: 240, Min: 0.14, P5: 0.15, P25: 0.16, P50: 0.17, P75: 0.18, P95: 0.2, Max: 0.22, Mean: 0.17}}}})
	}
	b.series("tokens", "p95", after, 40, 15*time.Second, ramp(0.18, 0.9))
	f.clk = clock.NewFake(after)
	return f, seq
}

// TestGoldenExpectedCurve: after T-0 the detail chart draws the load
// test's result as the expected curve (dashed, p50 to p95 here) beside
// the baseline band and the live series, and a legend under the chart
// tells the three apart, naming the result's tool, file and event.
func TestGoldenExpectedCurve(t *testing.T) {
	// At 80×24 a detail chart has two rows: too few for a legend.
	for _, sz := range []struct{ w, h int }{{100, 30}, {120, 40}} {
		t.Run(fmt.Sprintf("expected_%dx%d", sz.w, sz.h), func(t *testing.T) {
			f, seq := expectedFixture(true)
			m := newTestModel(t, f, "tomas", sz.w, sz.h)
			press(m, "1", "enter")
			v := plainView(m)
			if os.Getenv("TUI_SHOW") != "" {
				fmt.Println(v)
			}
			wants := []string{"⠤ live", "░ baseline", fmt.Sprintf("╌ expected k6 peak-30k.json #%d p50–p95", seq)}
			if sz.h >= 40 { // tall enough for the band and both lines to show
				wants = append(wants, "░░░", "╌╌╌", "exp p50", "exp p95")
			}
			for _, want := range wants {
				if !strings.Contains(v, want) {
					t.Errorf("the detail view lacks %q:\n%s", want, v)
				}
			}
			golden.RequireEqual(t, asciiView(m))
			if sz.h >= 40 {
				press(m, "6") // the Launch view says which result is drawn where
				if want := fmt.Sprintf("Expected: tokens/p95 p50–p95 from k6 peak-30k.json #%d, drawn after T-0", seq); !strings.Contains(plainView(m), want) {
					t.Errorf("the Launch view lacks %q:\n%s", want, plainView(m))
				}
			}
			// Before T-0 there is no curve and no legend.
			f.clk = clock.NewFake(tBoard)
			m = newTestModel(t, f, "tomas", sz.w, sz.h)
			press(m, "1", "enter")
			if v := plainView(m); strings.Contains(v, "╌") || strings.Contains(v, "expected") {
				t.Fatalf("an expected curve before T-0:\n%s", v)
			}
		})
	}
}

// TestDrillIsMarkedOnEveryScreen: a drill's room says DRILL in the
// header of every view.
func TestDrillIsMarkedOnEveryScreen(t *testing.T) {
	f := newFakeEngine()
	f.cfg.Incident.Drill = "db-exhaustion"
	m := newTestModel(t, f, "rosa", 80, 24)
	for _, k := range []string{"1", "2", "3", "4", "5", "enter"} {
		press(m, k)
		if first := strings.SplitN(plainView(m), "\n", 2)[0]; !strings.Contains(first, "DRILL") {
			t.Fatalf("after %s the header says no DRILL: %s", k, first)
		}
	}
}

// TestPreflightFromThePalette: without a plan too, the palette runs the
// preflight through the hook and records it as a CHECK.
func TestPreflightFromThePalette(t *testing.T) {
	f := newFakeEngine()
	ran := false
	m := New(Options{Engine: f, Handle: "rosa", Width: 120, Height: 40, Profile: colorprofile.ASCII, NoTick: true,
		Launch: LaunchHooks{Preflight: func(context.Context) (incident.CheckInfo, error) {
			ran = true
			return incident.CheckInfo{Checks: 3, Problems: []string{"slack: auth.test: invalid_auth"}, Failed: []string{"slack"}}, nil
		}}})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	press(m, "ctrl+p")
	typeText(m, "run the preflight")
	press(m, "enter")
	if !ran {
		t.Fatal("the hook did not run")
	}
	var rec *incident.RecordCheck
	for _, c := range f.commands() {
		if r, ok := c.(incident.RecordCheck); ok {
			rec = &r
		}
	}
	if rec == nil || rec.By != "rosa" || rec.Result.Pass || len(rec.Result.Problems) != 1 {
		t.Fatalf("recorded %+v", rec)
	}
}
