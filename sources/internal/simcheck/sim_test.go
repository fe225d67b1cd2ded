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
