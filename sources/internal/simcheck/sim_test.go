// Package simcheck runs the real sources against the launch simulator
// (sim), with the example war room: the wiring `warroom demo` uses. It is
// its own package so that the simulator's build never blocks the sources'
// own tests.
package simcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sim"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/datadog"
	"github.com/warroom/warroom/sources/internal/fakes"
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
	sm.Point(cfg)
	for i := range cfg.Sources {
		cfg.Sources[i].Interval = config.Duration(time.Second)
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
			up = up && h.Health == incident.SourceUp
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
		limited = limited || s.Health()["infura"].Health == incident.SourceRateLimited
		if p := st.Panes[incident.PaneKey("ethereum", "node_synced")]; p != nil && p.HasData && p.Value == 1 && s.Health()["nethermind"].Health == incident.SourceUp {
			synced = true
		}
	}
	if p := last.Panes[incident.PaneKey("ethereum", "infura_errors")]; p == nil || !p.HasData || p.Value == 0 {
		t.Fatalf("a throttled provider shows no errors: %+v", p)
	}
	t.Logf("Infura's 429 count rose %v; source %s (%s); node synced", seen, s.Health()["infura"].Health, s.Health()["infura"].Error)
}

// TestQuietHealthyRoomPagesNoOne is the war room of the example against a
// healthy simulated launch, the 30 minutes before T-0, on a fake clock,
// through the production sources: the sources answer, but the 5xx queries
// return empty vectors (no 5xx yet, so no series), the AWS metrics arrive
// 10-20 minutes late (the last minutes have no series), Prometheus has
// its always-firing Watchdog (imported here, not dropped) and an info
// alert, and Datadog has monitors in No Data, one muted and one under a
// downtime. In 30 simulated minutes nobody is paged, and no open alert
// asks anyone to act.
func TestQuietHealthyRoomPagesNoOne(t *testing.T) {
	cfg, err := config.Load(filepath.Join("..", "..", "..", "examples", "airdrop", "warroom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := clock.NewFake(time.Date(2026, 1, 31, 17, 0, 0, 0, time.UTC))
	scn := sim.DefaultScenario()
	scn.PreRoll = 90 * time.Minute  // the systems report long before T-0
	scn.BaseErrorPct = [3]float64{} // healthy: no 5xx, so no 5xx series
	sm, err := sim.Start(ctx, sim.Options{Seed: 1, Clock: clk, Start: clk.Now().Add(45 * time.Minute), Scenario: &scn, LatencyScale: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DD_API_KEY", "0123456789abcdef0123456789abcdef")
	t.Setenv("DD_APP_KEY", "0123456789abcdef0123456789abcdef01234567")
	sm.Point(cfg)
	for i := range cfg.Sources {
		if cfg.Sources[i].Type == config.SourcePrometheus {
			cfg.Sources[i].Drop = nil
		}
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	s, err := sources.Start(ctx, cfg, eng, j, clk, sources.Options{Builders: map[config.SourceType]sources.Builder{
		config.SourceDatadog:    datadog.Builder(datadog.Options{}),
		config.SourcePrometheus: prometheus.Builder(prometheus.Options{}),
		config.SourceRPC:        rpc.Builder(rpc.Options{}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	settle := func() {
		deadline := time.Now().Add(20 * time.Second)
		for !fakes.Settled(s, clk.Now()) {
			if time.Now().After(deadline) {
				t.Fatalf("the sources did not settle at %s: %+v", clk.Now().Format(time.TimeOnly), s.Queries())
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	settle()
	// Steps of the shortest poll interval: every query polls at least once
	// a step, the engine's watchdog and escalation run each step.
	for range 30 * 60 / 5 {
		clk.Advance(5 * time.Second)
		settle()
	}
	st, sub, err := eng.Subscribe(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	eng.Unsubscribe(sub)

	var pages, escalations int
	err = j.Replay(ctx, 0, func(je journal.Event) error {
		e, err := incident.FromJournal(je)
		switch e.Kind {
		case incident.KindPage:
			pages++
			t.Errorf("page: %s", e.Line())
		case incident.KindEscalate:
			escalations++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if pages != 0 || escalations != 0 {
		t.Fatalf("a quiet room paged %d times (%d escalations)", pages, escalations)
	}
	quiet := map[string]*incident.Alert{}
	for _, a := range st.OpenAlerts() {
		if a.Pages() {
			t.Errorf("an alert that asks someone to act: %s %s", a.ID, a.Text)
		}
		quiet[a.Pane] = a
	}
	for _, name := range []string{"Watchdog", "CPUThrottlingHigh", "Banners CDN cache hit rate", "Tokens canary error rate"} {
		if quiet[name] == nil {
			t.Errorf("%s is not shown (open: %v)", name, quiet)
		}
	}
	if a := quiet["Tokens canary error rate"]; a != nil && !strings.Contains(a.Silenced, "downtime") {
		t.Errorf("downtimed monitor: %+v", a)
	}
	// What made it quiet really was there: the 5xx queries answer empty
	// vectors (shown as 0, no_data: zero) and the AWS metrics' last
	// minutes have no series (the pane reads 15 minutes back).
	papi := promAPI(t, sm.PromURL)
	for _, svc := range []string{"history", "banners"} {
		q := cfg.Service(svc).Panes[1].Query
		v, _, _, err := papi.Query(ctx, q, clk.Now())
		if err != nil || v.String() != "" {
			t.Errorf("%s 5xx: %v %v, want an empty vector", svc, v, err)
		}
		if p := st.Panes[incident.PaneKey(svc, "errors_5xx")]; p == nil || !p.HasData || p.Value != 0 || p.Stale {
			t.Errorf("%s 5xx pane: want 0, not stale (no_data: zero)", svc)
		}
	}
	if p := st.Panes[incident.PaneKey("aws", "nat_errors_cw")]; p == nil || !p.HasData || p.Stale {
		t.Error("the delayed CloudWatch pane has no value")
	}
	// Its metric's last five minutes: no series at all.
	if v := ddSeries(t, sm, `sum:aws.natgateway.error_port_allocation{*}.as_rate()`, clk.Now().Add(-5*time.Minute), clk.Now()); v != 0 {
		t.Errorf("the last 5 minutes of an AWS metric: %d series", v)
	}
	t.Logf("30 simulated minutes: 0 pages; %d quiet alerts open", len(quiet))
}

func promAPI(t *testing.T, url string) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

// ddSeries counts the series Datadog's API answers for a query.
func ddSeries(t *testing.T, sm *sim.Sim, q string, from, to time.Time) int {
	t.Helper()
	body := fmt.Sprintf(`{"data":{"type":"timeseries_request","attributes":{"from":%d,"to":%d,"queries":[{"data_source":"metrics","name":"a","query":%q}]}}}`,
		from.UnixMilli(), to.UnixMilli(), q)
	req, _ := http.NewRequest("POST", sm.DatadogURL+"/api/v2/query/timeseries", strings.NewReader(body))
	req.Header.Set("DD-API-KEY", "k")
	req.Header.Set("DD-APPLICATION-KEY", "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Attributes struct {
				Series []any `json:"series"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("timeseries: %d %v", resp.StatusCode, err)
	}
	return len(out.Data.Attributes.Series)
}
