package export

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// TestPeaksAndBandsOfTheIncident: two defects of the old export. Samples
// a source backfilled from before the incident are drawn but not taken
// as its peak, and a run cancelled before it ran is not drawn as a
// mitigation band (a run cancelled while applying is drawn grey, one
// that succeeded blue).
func TestPeaksAndBandsOfTheIncident(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	g := newRig(t, path, fixtureConfig(), fixtureStart)
	// A backfill: an hour of history before the declaration with a
	// spike far above anything during the incident.
	var old []journal.Sample
	for i := 60; i > 0; i-- {
		v := 0.2
		if i == 30 {
			v = 42
		}
		old = append(old, journal.Sample{Service: "tokens", Pane: "p95", Time: fixtureStart.Add(-time.Duration(i) * time.Minute), Value: v})
	}
	if err := g.j.AppendSamples(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	run := func(id string, state incident.RunState, text string) {
		g.do(incident.RecordRun{By: "alice", Service: "tokens", Text: text, Info: incident.RunInfo{ID: id, Playbook: "db-terminate-idle", State: state}})
	}
	for i := 0; i < 20; i++ {
		g.observe(incident.Sample{Service: "tokens", Pane: "p95", Value: 0.3 + float64(i)/100})
		switch i {
		case 2:
			run("R1", "requested", "alice requested R1")
			run("R1", "awaiting_approval", "R1 awaits approval")
		case 4:
			run("R1", "cancelled", "alice cancelled R1 before it ran")
			run("R2", "requested", "alice requested R2")
			run("R2", "approved", "maya approved R2")
			run("R2", "running", "R2 running")
		case 8:
			run("R2", "cancelled", "alice cancelled R2 while it ran")
			run("R3", "requested", "alice requested R3")
			run("R3", "approved", "maya approved R3")
			run("R3", "running", "R3 running")
		case 12:
			run("R3", "succeeded", "R3 succeeded")
		}
		g.advance(30 * time.Second)
	}
	g.close()

	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := Load(context.Background(), j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p95 *PaneData
	for _, p := range r.Panes {
		if p.Service == "tokens" && p.Info.ID == "p95" {
			p95 = p
		}
	}
	if p95 == nil {
		t.Fatal("no tokens/p95 pane")
	}
	if p95.Peak > 1 || p95.PeakAt.Before(fixtureStart) {
		t.Errorf("peak %v at %v: taken from before the incident (%v)", p95.Peak, p95.PeakAt, fixtureStart)
	}
	var svg string
	for _, c := range r.Charts() {
		if c.Service == "tokens" && c.Pane == "p95" {
			svg = string(c.SVG)
		}
	}
	if !strings.Contains(svg, "42") && !strings.Contains(svg, "40") {
		t.Errorf("the backfilled spike is not on the chart's scale:\n%s", svg)
	}
	band := func(id string) string {
		i := strings.Index(svg, "<title>"+id+" ")
		if i < 0 {
			return ""
		}
		end := strings.Index(svg[i:], "</g>")
		return svg[i : i+end]
	}
	if b := band("R1"); b != "" {
		t.Errorf("R1 was cancelled before it ran but is drawn: %s", b)
	}
	if b := band("R2"); !strings.Contains(b, `fill="#8c8c8c"`) {
		t.Errorf("R2 was cancelled while applying: want a grey band, got %q", b)
	}
	if b := band("R3"); !strings.Contains(b, `fill="#1f77b4"`) {
		t.Errorf("R3 succeeded: want a blue band, got %q", b)
	}
}
