// Package sim is the launch simulator behind `warroom demo`.
//
// It runs a deterministic model of an airdrop launch (traffic ramp to ~90K
// requests/s, DB connection exhaustion, NAT port allocation errors, a
// degrading RPC provider, rising priority fees, bots at the WAF) and serves
// it over the real protocols on loopback ports, so that warroom's production
// sources work against it unchanged:
//
//   - Prometheus: /metrics (client_golang registry) and the HTTP query API
//     (/api/v1/query, /api/v1/query_range, /api/v1/alerts, /api/v1/rules).
//     Labelled series exist once first incremented (Prometheus'
//     instrumentation guide, "Avoid missing metrics"): a service's 5xx
//     series, and its 5xx-rate query, appear with its first 5xx. Besides
//     the launch's rules, kube-prometheus' always-firing Watchdog
//     (severity none) and CPUThrottlingHigh (severity info) fire;
//   - Datadog: POST /api/v2/query/timeseries and
//     GET /api/v1/monitor/groups/search, with keys and rate-limit headers.
//     AWS metrics arrive 10-20 minutes late (the crawler; see awsCrawl).
//     Monitor groups have the 15 fields of the recorded responses, with
//     the monitor's tags in all_tags and group_tags of group-by values
//     only; the organisation has other teams' monitors, muted and
//     downtimed ones and some in No Data (see the Monitors section of
//     datadog.go);
//   - Solana JSON-RPC 2.0: two providers, Triton and QuickNode;
//   - Ethereum JSON-RPC 2.0: Infura, which throttles the project with
//     EIP-1474's -32005 and a backoff hint beyond its allowed rate, and the
//     wallet's own Nethermind node;
//   - an admin API (JSON) that playbooks call to mitigate.
//
// The model is a function of simulated time (from the supplied clock), the
// seed and the mitigation history; the same seed gives the same series.
package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
)

// Options configure Start. The zero value is usable.
type Options struct {
	// Seed drives every noisy quantity; the same seed gives the same series.
	Seed uint64
	// Clock supplies simulated time (default: the wall clock). Use
	// clock.NewScaled to compress the launch, clock.NewFake in tests.
	Clock clock.Clock
	// Start is T-0, when the claim opens (default: one minute from now).
	Start time.Time
	// Scenario overrides DefaultScenario.
	Scenario *Scenario
	// LatencyScale multiplies the modelled RPC latency before the provider
	// sleeps (0 means 1: latency is real time, not scenario time, so the
	// room measures the modelled milliseconds at any speed; negative
	// disables sleeping).
	LatencyScale float64
	// MaxLatency caps one RPC sleep (default 2s).
	MaxLatency time.Duration
	// DatadogRateLimit is the request budget per bucket and period
	// (default 3000 per 60 s of simulated time).
	DatadogRateLimit  int
	DatadogRatePeriod time.Duration
	// AdminToken, if set, is required as "Authorization: Bearer <token>"
	// on the admin API.
	AdminToken string
}

// Sim is a running simulator.
type Sim struct {
	World *World

	// Base URLs (http://127.0.0.1:PORT, no trailing slash).
	PromURL      string // Prometheus: /metrics and /api/v1/...
	DatadogURL   string // Datadog API (server index 1: protocol http, name = host:port)
	AdminURL     string // admin API: /admin/...
	TritonURL    string // Solana JSON-RPC (POST /)
	QuickNodeURL string
	InfuraURL    string // Ethereum JSON-RPC (POST /)
	NodeURL      string
	// RPC maps provider name ("triton", "quicknode", "infura",
	// "nethermind") to its URL.
	RPC map[string]string

	servers     []*http.Server
	wg          sync.WaitGroup
	done        chan struct{}
	watcherDone chan struct{}
	once        sync.Once
}

// Start starts every server on a free 127.0.0.1 port. Cancelling ctx or
// calling Close stops them.
func Start(ctx context.Context, o Options) (*Sim, error) {
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	t0 := o.Start
	if t0.IsZero() {
		t0 = clk.Now().Add(time.Minute)
	}
	scn := DefaultScenario()
	if o.Scenario != nil {
		scn = *o.Scenario
	}
	scale := o.LatencyScale
	switch {
	case scale == 0:
		scale = 1
	case scale < 0:
		scale = 0
	}
	maxLat := o.MaxLatency
	if maxLat <= 0 {
		maxLat = 2 * time.Second
	}
	limit, period := o.DatadogRateLimit, o.DatadogRatePeriod
	if limit <= 0 {
		limit = 3000
	}
	if period < time.Second {
		period = time.Minute
	}

	w := NewWorld(scn, o.Seed, t0, clk)
	s := &Sim{World: w, RPC: map[string]string{}, done: make(chan struct{}), watcherDone: make(chan struct{})}
	handlers := []http.Handler{
		newPromHandler(w),
		newDatadogHandler(w, limit, period),
		newAdminHandler(w, o.AdminToken),
		newRPCHandler(w, provTriton, scale, maxLat, s.done),
		newRPCHandler(w, provQuickNode, scale, maxLat, s.done),
		newEVMHandler(w, evmInfura, scale, maxLat, s.done),
		newEVMHandler(w, evmNode, scale, maxLat, s.done),
	}
	var urls []string
	for _, h := range handlers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.shutdown()
			close(s.watcherDone)
			return nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
		s.servers = append(s.servers, srv)
		urls = append(urls, "http://"+ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				_ = err // the listener failed; Close still cleans up
			}
		}()
	}
	s.PromURL, s.DatadogURL, s.AdminURL, s.TritonURL, s.QuickNodeURL = urls[0], urls[1], urls[2], urls[3], urls[4]
	s.InfuraURL, s.NodeURL = urls[5], urls[6]
	s.RPC["triton"], s.RPC["quicknode"] = s.TritonURL, s.QuickNodeURL
	s.RPC["infura"], s.RPC["nethermind"] = s.InfuraURL, s.NodeURL
	go func() {
		defer close(s.watcherDone)
		select {
		case <-ctx.Done():
			s.once.Do(s.shutdown)
		case <-s.done:
		}
	}()
	return s, nil
}

func (s *Sim) shutdown() {
	close(s.done) // wakes sleeping RPC handlers
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
	s.wg.Wait()
}

// Close stops every server and waits for its goroutines.
// Point replaces the loopback endpoints of cfg's sources (the example war
// room's) with the simulator's free ports.
func (s *Sim) Point(cfg *config.Config) {
	for i := range cfg.Sources {
		src := &cfg.Sources[i]
		switch src.Type {
		case config.SourcePrometheus:
			src.URL = s.PromURL
		case config.SourceDatadog:
			src.APIURL, src.Site = s.DatadogURL, ""
		case config.SourceRPC:
			if u, ok := s.RPC[src.ID]; ok {
				src.URL = u
			}
		}
	}
}

func (s *Sim) Close() error {
	s.once.Do(s.shutdown)
	<-s.watcherDone
	return nil
}
