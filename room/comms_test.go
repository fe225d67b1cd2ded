package room

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// TestPublishingDoesNotNeedTheSources: the room's only source is down
// (nothing listens on its port) and its pane reads STALE; a public update
// still reaches Statuspage, and the publisher's status says so.
func TestPublishingDoesNotNeedTheSources(t *testing.T) {
	const key = "sp-room-test-key-0123456789"
	sp := spsim.New(spsim.Options{APIKey: key, Components: []spsim.Component{{ID: "cmpapi000001", Name: "API"}}})
	if err := sp.Start(); err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	t.Setenv("WR_TEST_SP_KEY", key)
	dir := t.TempDir()
	cfg := &config.Config{
		Path:     filepath.Join(dir, "warroom.yaml"),
		Incident: config.Incident{Name: "room test", Severities: config.DefaultSeverityNames},
		Sources: []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:9",
			Interval: config.Duration(200 * time.Millisecond), Timeout: config.Duration(100 * time.Millisecond)}},
		Services: []config.Service{{ID: "api", Name: "API", Owner: "ola", Panes: []config.Pane{{ID: "p95", Source: "prom", Query: "q", Crit: f(1)}}}},
		Roster:   []config.Person{{Handle: "maya"}, {Handle: "ola"}},
		Roles:    config.Roles{Commander: "maya"},
		Comms: &config.Comms{
			Components: []config.Component{{ID: "api", Name: "API", Services: []string{"api"}, StatuspageID: "cmpapi000001"}},
			Statuspage: &config.Statuspage{APIURL: sp.APIURL(), PageID: sp.PageID(), APIKey: config.Secret{Env: "WR_TEST_SP_KEY"}},
		},
	}
	r, err := Open(context.Background(), Options{Config: cfg, JournalPath: filepath.Join(dir, "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Lead().Publisher == nil {
		t.Fatal("a comms.statuspage section starts the publisher")
	}
	waitFor(t, "the source to be down", func() bool {
		st := state(t, r)
		return st.Sources["prom"].Health == "down"
	})
	draft := incident.Draft{Title: "Slow API", Status: incident.StatusInvestigating, Body: "We are looking into slow answers.", Notify: true,
		Components: []incident.ComponentChange{{ID: "api", Status: incident.ComponentDegraded}}}
	if rep := r.Engine.Do(context.Background(), incident.SubmitUpdate{By: "maya", Draft: draft}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	waitFor(t, "the update on Statuspage", func() bool {
		incs := sp.Incidents()
		return len(incs) == 1 && len(incs[0].IncidentUpdates) == 1 && incs[0].IncidentUpdates[0].Body == draft.Body
	})
	// The delivery is an event, and the publisher reads ok while the
	// source is still down.
	waitFor(t, "the DELIVERY event", func() bool {
		u := state(t, r).Life.Updates
		return len(u) == 1 && u[0].Delivery["statuspage"].State == incident.DeliveryDelivered
	})
	if st := r.Lead().Publisher.Status(); st.State != "ok" || st.Delivered != 1 || st.Queued != 0 || state(t, r).Sources["prom"].Health != "down" {
		t.Errorf("publisher %+v (status line %q), source %+v", st, r.PublisherStatus(), state(t, r).Sources["prom"])
	}
}

func state(t *testing.T, r *Room) *incident.State {
	t.Helper()
	st, sub, err := r.Engine.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	r.Engine.Unsubscribe(sub)
	return st
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
