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
	// Three runs as the room takes them: one cancelled while it awaited
	// approval, one cancelled while it ran (the runner reports the kill),
	// one that succeeded.
	var ids []string
	request := func(maxIdle string) string {
		rep := g.do(incident.RequestRun{By: "alice", Playbook: "db-terminate-idle", Params: map[string]string{"max_idle": maxIdle},
			Hash: "max_idle=" + maxIdle, Policies: fixturePlaybooks})
		ids = append(ids, rep.Events[0].Run.ID)
		return rep.Events[0].Run.ID
	}
	start := func(id string) {
		hash := g.sync().Runs[id].Hash
		g.do(incident.ApproveRun{By: "maya", RunID: id, Hash: hash, Policies: fixturePlaybooks})
		g.do(incident.StartRun{By: "alice", RunID: id, Hash: hash, Policies: fixturePlaybooks})
	}
	end := func(id string, state incident.RunState) {
		g.do(incident.AdvanceRun{By: "alice", RunID: id, Transitions: []incident.RunTransition{{State: state, Text: id + " " + string(state)}}})
	}
	for i := 0; i < 20; i++ {
		g.observe(incident.Sample{Service: "tokens", Pane: "p95", Value: 0.3 + float64(i)/100})
		switch i {
		case 2:
			request("60s")
		case 4:
			g.do(incident.CancelRun{By: "alice", RunID: ids[0], Reason: "not needed"})
			start(request("30s"))
		case 8:
			g.do(incident.CancelRun{By: "alice", RunID: ids[1], Reason: "wrong role"})
			end(ids[1], incident.RunCancelled)
			start(request("90s"))
		case 12:
			end(ids[2], incident.RunSucceeded)
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
	if b := band(ids[0]); b != "" {
		t.Errorf("%s was cancelled before it ran but is drawn: %s", ids[0], b)
	}
	if b := band(ids[1]); !strings.Contains(b, `fill="#8c8c8c"`) {
		t.Errorf("%s was cancelled while applying: want a grey band, got %q", ids[1], b)
	}
	if b := band(ids[2]); !strings.Contains(b, `fill="#1f77b4"`) {
		t.Errorf("%s succeeded: want a blue band, got %q", ids[2], b)
	}
}
