// Package simcheck runs the real sources against the launch simulator
// (sim), with the example war room: the wiring `warroom demo` uses. It is
// its own package so that the simulator's build never blocks the sources'
// own tests.
package simcheck

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sim"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/datadog"
	"github.com/warroom/warroom/sources/prometheus"
	"github.com/warroom/warroom/sources/rpc"
)

func TestExampleRoomAgainstTheSimulator(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "..", "examples", "airdrop", "warroom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sm, err := sim.Start(ctx, sim.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DD_API_KEY", "0123456789abcdef0123456789abcdef")
	t.Setenv("DD_APP_KEY", "0123456789abcdef0123456789abcdef01234567")
	for i := range cfg.Sources {
		s := &cfg.Sources[i]
		s.Interval = config.Duration(time.Second)
		switch s.Type {
		case config.SourcePrometheus:
			s.URL = sm.PromURL
		case config.SourceDatadog:
			s.APIURL, s.Site = sm.DatadogURL, ""
		case config.SourceRPC:
			if u, ok := sm.RPC[s.ID]; ok {
				s.URL = u
			}
		}
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	s, err := sources.Start(ctx, cfg, eng, j, clock.Real{}, sources.Options{Builders: map[config.SourceType]sources.Builder{
		config.SourceDatadog:    datadog.Builder(datadog.Options{}),
		config.SourcePrometheus: prometheus.Builder(prometheus.Options{}),
		config.SourceRPC:        rpc.Builder(rpc.Options{}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, sub, err := eng.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		eng.Unsubscribe(sub)
		missing = missing[:0]
		for _, svc := range cfg.Services {
			for _, p := range svc.Panes {
				pn := st.Panes[incident.PaneKey(svc.ID, p.ID)]
				if pn == nil || pn.Stale || (!pn.HasData && !pn.NoData) {
					missing = append(missing, svc.ID+"/"+p.ID)
				}
			}
		}
		up := true
		for _, h := range s.Health() {
			up = up && h.Health == sources.HealthUp
		}
		if len(missing) == 0 && up {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: panes without a fresh value %v; health %+v", missing, s.Health())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestEVMAgainstTheSimulator: at the launch peak the simulator's Infura
// throttles the project with -32005 (HTTP 429, backoff_seconds in data).
// The room sees it as rate limiting: the 429 count rises and the source is
// rate-limited, never "0 % errors". The own Nethermind node, synced, answers
// eth_syncing with an object: health 1.
func TestEVMAgainstTheSimulator(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scn := sim.DefaultScenario()
	scn.InfuraAllowedRPS = 200          // most calls throttled at the peak
	scn.InfuraBackoff = 2 * time.Second // Infura's hint, honoured by the scheduler
	sm, err := sim.Start(ctx, sim.Options{Seed: 1, Start: time.Now().Add(-5 * time.Minute), Scenario: &scn, LatencyScale: -1})
	if err != nil {
		t.Fatal(err)
	}
	src := func(id string) config.Source {
		return config.Source{ID: id, Type: config.SourceRPC, Chain: config.ChainEVM, URL: sm.RPC[id],
			Interval: config.Duration(500 * time.Millisecond), Timeout: config.Duration(time.Second)}
	}
	cfg := &config.Config{Incident: config.Incident{Name: "evm"}, Roster: []config.Person{{Handle: "eli"}}, Roles: config.Roles{Commander: "eli"},
		Sources: []config.Source{src("infura"), src("nethermind")},
		Services: []config.Service{{ID: "ethereum", Owner: "eli", Panes: []config.Pane{
			{ID: "infura_429", Source: "infura", Query: "rate_429"},
			{ID: "infura_errors", Source: "infura", Query: "error_rate"},
			{ID: "node_synced", Source: "nethermind", Query: "health"},
			{ID: "node_lag", Source: "nethermind", Query: "lag"},
		}}}}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	s, err := sources.Start(ctx, cfg, eng, j, clock.Real{}, sources.Options{Builders: map[config.SourceType]sources.Builder{
		config.SourceRPC: rpc.Builder(rpc.Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	var seen []float64 // distinct 429 counts, in order
	limited, synced := false, false
	var last *incident.State
	deadline := time.Now().Add(20 * time.Second)
	for !(limited && synced && len(seen) >= 3) {
		if time.Now().After(deadline) {
			t.Fatalf("after 20s: 429 counts %v, rate-limited %v, synced %v; health %+v", seen, limited, synced, s.Health())
		}
		time.Sleep(50 * time.Millisecond)
		st, sub, err := eng.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		eng.Unsubscribe(sub)
		last = st
		if p := st.Panes[incident.PaneKey("ethereum", "infura_429")]; p != nil && p.HasData && !p.Stale {
			if n := len(seen); n == 0 || p.Value > seen[n-1] {
				seen = append(seen, p.Value)
			}
		}
		limited = limited || s.Health()["infura"].Health == sources.HealthRateLimited
		if p := st.Panes[incident.PaneKey("ethereum", "node_synced")]; p != nil && p.HasData && p.Value == 1 && s.Health()["nethermind"].Health == sources.HealthUp {
			synced = true
		}
	}
	if p := last.Panes[incident.PaneKey("ethereum", "infura_errors")]; p == nil || !p.HasData || p.Value == 0 {
		t.Fatalf("a throttled provider shows no errors: %+v", p)
	}
	t.Logf("Infura's 429 count rose %v; source %s (%s); node synced", seen, s.Health()["infura"].Health, s.Health()["infura"].Error)
}
