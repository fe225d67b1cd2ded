package export

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// TestChartDrawsTheLaunchReferences: a postmortem's chart of a launch
// draws what the room drew after T-0, so that its author can read the
// live series against them: T-0, the pane's baseline band (p5–p95 of the
// hour before) and the load test's expected curve (p50–p95 of the latest
// result the plan draws on the pane), each named in the legend. Before a
// result arrives there is no curve; a hostile file name stays inert.
func TestChartDrawsTheLaunchReferences(t *testing.T) {
	t0 := ptime("2026-11-20T10:00:00Z")
	chart := func(withResult bool, file string) string {
		room := &incident.RoomInfo{Launch: &t0,
			Services: []incident.ServiceInfo{{ID: "api", Name: "API", Panes: []incident.PaneInfo{{ID: "p95", Title: "p95 latency", Unit: "s"}}}},
			Plan: &incident.PlanInfo{Criteria: []incident.PlanCriterion{{ID: "load-test", Title: "peak load test", Kind: "load_test",
				Expect: []incident.PlanExpect{{Service: "api", Pane: "p95", Metrics: []string{"p50", "p95"}, Scale: 1}}}}}}
		s := newSynth(t, t0.Add(-2*time.Hour), room)
		seq := int64(0)
		if withResult {
			seq = s.add(incident.Event{Time: t0.Add(-30 * time.Minute), Kind: incident.KindEvidence, Actor: "tomas", Text: "load-test is green",
				Evidence: &incident.EvidenceInfo{Criterion: "load-test", Kind: "load_test", Pass: true, Tool: "k6", File: file,
					Metrics: map[string]float64{"p50": 0.31, "p95": 0.45}}})
		}
		s.add(incident.Event{Time: t0, Kind: incident.KindBaseline, Actor: "warroom", Text: "baselines of 1 panes captured",
			Baselines: &incident.BaselinesInfo{From: t0.Add(-time.Hour), To: t0, Panes: []incident.BaselineInfo{
				{Service: "api", Pane: "p95", N: 240, Min: 0.14, P5: 0.15, P25: 0.16, P50: 0.17, P75: 0.18, P95: 0.2, Max: 0.22, Mean: 0.17}}}})
		var smp []journal.Sample
		for i := range 120 {
			at := t0.Add(-time.Hour + time.Duration(i)*time.Minute)
			smp = append(smp, journal.Sample{Time: at, Service: "api", Pane: "p95", Value: 0.17 + float64(max(0, i-60))*0.006})
		}
		s.samples(smp...)
		s.add(incident.Event{Time: t0.Add(time.Hour), Kind: incident.KindNote, Actor: "maya", Service: "api", Text: "peak over"})
		r := s.load(Options{})
		for _, c := range r.Charts() {
			if c.Service == "api" && c.Pane == "p95" {
				return string(c.SVG) + fmt.Sprintf("\n<!-- seq %d -->", seq)
			}
		}
		t.Fatal("no chart of api/p95")
		return ""
	}
	svg := chart(true, "peak-30k.json")
	seq := svg[strings.LastIndex(svg, "seq ")+4 : strings.LastIndex(svg, " -->")]
	for _, want := range []string{
		">T-0</text>",
		"<title>baseline p5–p95: 150ms – 200ms</title>",
		">baseline p5–p95</text>",
		">exp p50 310ms</text>", ">exp p95 450ms</text>",
		"<title>expected: k6 peak-30k.json #" + seq + " p50–p95</title>",
		">expected: k6 peak-30k.json #" + seq + " p50–p95</text>",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q:\n%s", want, svg)
		}
	}
	if svg := chart(false, ""); strings.Contains(svg, "exp ") || strings.Contains(svg, "expected") || !strings.Contains(svg, ">baseline p5–p95</text>") {
		t.Errorf("without a result: no expected curve, a baseline:\n%s", svg)
	}
	hostile := chart(true, "x\x1b[2J\u202e<script>.json")
	if strings.ContainsAny(hostile, "\x1b\u202e") || strings.Contains(hostile, "<script>") {
		t.Errorf("a hostile file name reached the chart raw:\n%s", hostile)
	}
}
