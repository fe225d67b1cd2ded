package sources_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
	"github.com/warroom/warroom/sources/prometheus"
	"github.com/warroom/warroom/sources/rpc"
)

// End to end: a Prometheus and two Solana providers feed a real engine and
// journal; the panes, imported alerts, health and stored samples agree.
func TestEndToEndWithEngineAndJournal(t *testing.T) {
	clk := clock.NewFake(t0)
	prom := fakes.NewProm(clk.Now)
	prom.SetVector(`sum by (pod) (rate(http_requests_total{service="api"}[1m]))`,
		fakes.PromSample{Labels: map[string]string{"pod": "a"}, Value: "1.5"},
		fakes.PromSample{Labels: map[string]string{"pod": "b"}, Value: "2"})
	prom.SetAlerts(fakes.PromAlert{Labels: map[string]string{"alertname": "APIDown", "service": "api", "severity": "critical"},
		Annotations: map[string]string{"summary": "api is down"}, State: "firing"},
		fakes.PromAlert{Labels: map[string]string{"alertname": "Soon", "service": "api", "severity": "warning"}, State: "pending"})
	psrv := httptest.NewServer(prom)
	defer psrv.Close()
	triton := fakes.NewSolana(300_000_000)
	quick := fakes.NewSolana(300_000_000 - 60) // 60 slots behind, yet getHealth says ok
	tsrv, qsrv := httptest.NewServer(triton), httptest.NewServer(quick)
	defer tsrv.Close()
	defer qsrv.Close()

	cfg := baseConfig()
	cfg.Sources = []config.Source{
		{ID: "prom", Type: config.SourcePrometheus, URL: psrv.URL, Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second)},
		{ID: "triton", Type: config.SourceRPC, URL: tsrv.URL, Chain: config.ChainSolana, Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second)},
		{ID: "quicknode", Type: config.SourceRPC, URL: qsrv.URL, Chain: config.ChainSolana, Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second)},
	}
	cfg.Services = []config.Service{
		{ID: "api", Owner: "maya", Panes: []config.Pane{
			{ID: "rps", Source: "prom", Query: `sum by (pod) (rate(http_requests_total{service="api"}[1m]))`, Unit: "req/s"},
			{ID: "none", Source: "prom", Query: `absent_metric`},
		}},
		{ID: "rpc", Owner: "maya", Panes: []config.Pane{
			{ID: "triton_lag", Source: "triton", Query: "lag", Unit: "slots", Warn: fp(20), Crit: fp(50)},
			{ID: "quick_lag", Source: "quicknode", Query: "lag", Unit: "slots", Warn: fp(20), Crit: fp(50)},
			{ID: "quick_health", Source: "quicknode", Query: "health"},
			{ID: "quick_slot", Source: "quicknode", Query: "slot"},
			{ID: "quick_p95", Source: "quicknode", Query: "latency_p95", Unit: "s"},
		}},
	}
	eng, j := engine(t, cfg, clk)
	s, err := sources.Start(context.Background(), cfg, eng, j, clk, sources.Options{Builders: map[config.SourceType]sources.Builder{
		config.SourcePrometheus: prometheus.Builder(prometheus.Options{Backfill: 10 * time.Minute}),
		config.SourceRPC:        rpc.Builder(rpc.Options{}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	advance(t, clk, s, 12*time.Second, time.Second, nil)

	var st *incident.State
	waitFor(t, 5*time.Second, "the engine to see every pane", func() bool {
		st = state(t, eng)
		for _, k := range []string{"api/rps", "api/none", "rpc/triton_lag", "rpc/quick_lag", "rpc/quick_health", "rpc/quick_slot", "rpc/quick_p95"} {
			if p := st.Panes[k]; p == nil || (!p.HasData && !p.NoData) {
				return false
			}
		}
		return true
	})
	pane := func(k string) *incident.Pane { return st.Panes[k] }
	if p := pane("api/rps"); p.Value != 3.5 || p.Stale {
		t.Fatalf("api/rps: two series must sum to 3.5: %+v", p)
	}
	// The backfill (query_range, 10 minutes at the 5 s interval) filled
	// the sparkline with the original times.
	if p := pane("api/rps"); len(p.Series) < 100 || !p.Series[0].T.Before(t0.Add(-9*time.Minute)) {
		t.Fatalf("api/rps history: %d points from %v", len(p.Series), p.Series[0].T)
	}
	if p := pane("api/none"); !p.NoData || p.Stale {
		t.Fatalf("empty vector must be NO DATA: %+v", p)
	}
	if p := pane("rpc/quick_lag"); p.Value != 60 {
		t.Fatalf("quicknode lag %v, want 60 slots behind triton", p.Value)
	}
	if p := pane("rpc/triton_lag"); p.Value != 0 {
		t.Fatalf("triton lag %v, want 0", p.Value)
	}
	if p := pane("rpc/quick_health"); p.Value != 1 {
		t.Fatalf("quicknode says ok: health %v", p.Value)
	}
	if p := pane("rpc/quick_slot"); p.Value != 300_000_000-60-2 {
		t.Fatalf("quicknode slot at confirmed: %v", p.Value)
	}
	// Lag 60 > crit 50: the rule fired although the provider said ok.
	if a := openAlert(st, "rpc", func(a *incident.Alert) bool { return a.Pane == "quick_lag" }); a == nil || a.Level != incident.LevelCrit {
		t.Fatalf("no crit alert for the lagging provider: %+v", a)
	}
	if a := openAlert(st, "api", func(a *incident.Alert) bool { return a.Origin == "prometheus" }); a == nil || a.Level != incident.LevelCrit || a.Pane != "APIDown" {
		t.Fatalf("imported Prometheus alert: %+v", a)
	}
	if a := openAlert(st, "api", func(a *incident.Alert) bool { return a.Pane == "Soon" }); a != nil {
		t.Fatalf("a pending alert was imported: %+v", a)
	}
	for id, h := range s.Health() {
		if h.Health != incident.SourceUp {
			t.Fatalf("source %s: %+v", id, h)
		}
	}

	// Batched to the journal every second of the scheduler's clock,
	// before any Stop.
	waitFor(t, 5*time.Second, "samples in the journal", func() bool {
		n := 0
		j.Samples(context.Background(), "api", "rps", time.Time{}, time.Time{}, func(journal.Sample) error { n++; return nil })
		return n > 100 // the backfill and the polls
	})

	s.Stop()
	st2 := s.Stats()
	n, nodata := 0, 0
	err = j.Samples(context.Background(), "", "", time.Time{}, time.Time{}, func(sm journal.Sample) error {
		n++
		if sm.NoData {
			nodata++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("journal: %d samples (%d NO DATA); stats %+v", n, nodata, st2)
	if n == 0 || nodata == 0 || int64(n) > st2.Recorded || st2.DroppedRecords != 0 {
		t.Fatalf("journal has %d samples (%d no data), stats %+v", n, nodata, st2)
	}
}

// A query that ignores its context still turns its panes STALE at the
// timeout, and no second request starts while it hangs.
type stubbornQuery struct {
	release  chan struct{}
	inFlight atomic.Int32
	maxIn    atomic.Int32
	calls    atomic.Int32
}

func (q *stubbornQuery) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: "stub", Name: "stubborn", Panes: []sources.PaneRef{{Service: "api", Pane: "p"}}}
}

func (q *stubbornQuery) Poll(ctx context.Context) (sources.Result, error) {
	n := q.inFlight.Add(1)
	defer q.inFlight.Add(-1)
	for {
		m := q.maxIn.Load()
		if n <= m || q.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	q.calls.Add(1)
	<-q.release // ignores ctx
	return sources.Result{}, errors.New("late")
}

func TestTimeoutWithoutCooperationAndOneInFlight(t *testing.T) {
	clk := clock.NewFake(t0)
	q := &stubbornQuery{release: make(chan struct{})}
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "stub", Type: "stub", Interval: dur(time.Second), Timeout: dur(3 * time.Second)}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Jitter: -1,
		Builders: map[config.SourceType]sources.Builder{"stub": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
			return []sources.Query{q}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first poll", func() bool { return q.calls.Load() == 1 })
	for range 3 {
		waitFor(t, 5*time.Second, "the timeout timer", func() bool { return clk.Waiters() > 0 })
		clk.Advance(time.Second)
	}
	waitFor(t, 5*time.Second, "a STALE sample at the timeout", func() bool {
		ps := sink.paneSamples("api", "p")
		return len(ps) == 1 && ps[0].s.Stale && strings.Contains(ps[0].s.Error, "stub: no answer within 3s") && ps[0].at.Equal(t0.Add(3*time.Second))
	})
	// Health said so at the timeout, not when the request finally ends.
	if h := s.Health()["stub"]; h.Health != incident.SourceDown || !strings.Contains(h.Error, "no answer within 3s") || !h.Since.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("health %+v", h)
	}
	// Hung for a minute: still one request, and one STALE sample.
	for range 60 {
		clk.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	if c := q.calls.Load(); c != 1 {
		t.Fatalf("%d requests started while the first hung", c)
	}
	if ps := sink.paneSamples("api", "p"); len(ps) != 1 {
		t.Fatalf("%d samples while hung, want the one STALE", len(ps))
	}
	close(q.release)
	waitFor(t, 5*time.Second, "the next poll after the hung one returned", func() bool {
		clk.Advance(time.Second)
		return q.calls.Load() >= 2
	})
	if m := q.maxIn.Load(); m != 1 {
		t.Fatalf("%d requests in flight at once", m)
	}
	s.Stop()
}

// Unknown source types are a start-up error that says what to import.
func TestStartNeedsABuilder(t *testing.T) {
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "x", Type: "nosuch"}}
	_, err := sources.Start(context.Background(), cfg, &recSink{clk: clock.Real{}}, nil, clock.Real{}, sources.Options{})
	if err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("err = %v", err)
	}
}

// scriptQuery fails or succeeds as its mode says.
type scriptQuery struct {
	name string
	mode atomic.Value // "ok", "fail", "429"
}

func (q *scriptQuery) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: "src", Name: q.name, Panes: []sources.PaneRef{{Service: "api", Pane: q.name}}}
}

func (q *scriptQuery) Poll(ctx context.Context) (sources.Result, error) {
	switch q.mode.Load() {
	case "fail":
		return sources.Result{}, &sources.Error{Class: sources.Transient, Status: 502, Msg: "HTTP 502 from " + q.name}
	case "429":
		return sources.Result{}, &sources.Error{Class: sources.RateLimited, Status: 429, RetryAfter: 20 * time.Second, Msg: "429 on " + q.name}
	}
	return sources.Result{Samples: []incident.Sample{{Service: "api", Pane: q.name, Time: time.Now(), Value: 1}}}, nil
}

// Health: degraded when some queries fail, down when all do, rate-limited
// on a 429, up again after; reported to the engine only on a change, and
// Health() carries the latest reason.
func TestHealthStatesAndReportsOnChangeOnly(t *testing.T) {
	clk := clock.NewFake(t0)
	a, b := &scriptQuery{name: "a"}, &scriptQuery{name: "b"}
	a.mode.Store("ok")
	b.mode.Store("ok")
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "src", Type: "script", Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second)}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Jitter: -1,
		Builders: map[config.SourceType]sources.Builder{"script": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
			return []sources.Query{a, b}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	step := func(d time.Duration) { advance(t, clk, s, d, time.Second, nil) }
	expect := func(health incident.SourceHealth, errPart string) {
		t.Helper()
		h := s.Health()["src"]
		if h.Health != health || !strings.Contains(h.Error, errPart) || (health == incident.SourceUp) != (h.Error == "") {
			t.Fatalf("health %+v, want %s %q", h, health, errPart)
		}
	}
	waitFor(t, 5*time.Second, "the first polls", func() bool { return fakes.Settled(s, clk.Now()) })
	expect(incident.SourceUp, "")
	step(20 * time.Second)
	b.mode.Store("fail")
	step(10 * time.Second)
	expect(incident.SourceDegraded, "src: HTTP 502 from b")
	if h := s.Health()["src"]; h.Failing != 1 || h.Queries != 2 {
		t.Fatalf("counts %+v", h)
	}
	a.mode.Store("fail")
	step(10 * time.Second)
	expect(incident.SourceDown, "HTTP 502 from")
	a.mode.Store("429")
	step(10 * time.Second)
	expect(incident.SourceRateLimited, "429 on a")
	if h := s.Health()["src"]; !h.RateLimitedUntil.After(clk.Now()) {
		t.Fatalf("rate limited until %v", h.RateLimitedUntil)
	}
	a.mode.Store("ok")
	b.mode.Store("ok")
	step(40 * time.Second)
	expect(incident.SourceUp, "")
	want := []incident.SourceHealth{incident.SourceUp, incident.SourceDegraded, incident.SourceDown, incident.SourceRateLimited, incident.SourceUp}
	got := sink.healths("src")
	// Between rate-limited and up, b may recover first (degraded).
	if len(got) > 5 && got[4] == incident.SourceDegraded {
		got = append(got[:4], got[5:]...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reports %v, want %v", got, want)
	}
}

// flakyBackfill fails its backfill until the source is "up", then
// succeeds; polls fail the same way.
type flakyBackfill struct {
	up       atomic.Bool
	attempts []time.Time
	mu       sync.Mutex
	clk      clock.Clock
}

func (q *flakyBackfill) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: "prom", Name: "p95", Panes: []sources.PaneRef{{Service: "api", Pane: "p"}}}
}

func (q *flakyBackfill) Poll(ctx context.Context) (sources.Result, error) {
	if !q.up.Load() {
		return sources.Result{}, &sources.Error{Class: sources.Transient, Msg: "connection refused"}
	}
	return sources.Result{Samples: []incident.Sample{{Service: "api", Pane: "p", Time: q.clk.Now(), Value: 2}}}, nil
}

func (q *flakyBackfill) Backfill(ctx context.Context) ([]incident.Sample, error) {
	q.mu.Lock()
	q.attempts = append(q.attempts, q.clk.Now())
	q.mu.Unlock()
	if !q.up.Load() {
		return nil, &sources.Error{Class: sources.Transient, Msg: "connection refused"}
	}
	now := q.clk.Now()
	return []incident.Sample{{Service: "api", Pane: "p", Time: now.Add(-2 * time.Minute), Value: 1}, {Service: "api", Pane: "p", Time: now.Add(-time.Minute), Value: 1}}, nil
}

// TestBackfillRetriedUntilItSucceeds: the source is down when the room
// starts; its backfill is tried again before polls, with back-off (never
// later than an interval apart), and once the source is up the
// history arrives once, before the first live value.
func TestBackfillRetriedUntilItSucceeds(t *testing.T) {
	clk := clock.NewFake(t0)
	q := &flakyBackfill{clk: clk}
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: "stub", Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second)}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Jitter: -1, Rand: func() float64 { return 0.5 },
		Builders: map[config.SourceType]sources.Builder{"stub": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
			return []sources.Query{q}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	waitFor(t, 5*time.Second, "the first attempt", func() bool { return fakes.Settled(s, clk.Now()) })
	advance(t, clk, s, 30*time.Second, time.Second, nil)
	q.mu.Lock()
	down := len(q.attempts)
	var gaps []time.Duration
	for i := 1; i < down; i++ {
		gaps = append(gaps, q.attempts[i].Sub(q.attempts[i-1]))
	}
	q.mu.Unlock()
	// Full-jitter back-off (here the middle of each range): the waits
	// grow, and never pass one interval, so a source that comes back is
	// backfilled within an interval.
	for i, g := range gaps {
		if g > 5*time.Second+time.Second || (i > 0 && g < gaps[i-1]) {
			t.Fatalf("backfill attempts %v apart", gaps)
		}
	}
	if down < 5 || gaps[len(gaps)-1] < 4*time.Second {
		t.Fatalf("%d backfill attempts in 30 s, %v apart", down, gaps)
	}
	q.up.Store(true)
	advance(t, clk, s, 15*time.Second, time.Second, nil)
	q.mu.Lock()
	total := len(q.attempts)
	q.mu.Unlock()
	ps := sink.paneSamples("api", "p")
	var values []float64
	for _, o := range ps {
		if !o.s.Stale {
			values = append(values, o.s.Value)
		}
	}
	if total != down+1 || len(values) < 3 || values[0] != 1 || values[1] != 1 || values[2] != 2 {
		t.Fatalf("after the source came up: %d attempts (%d while down), values %v", total, down, values)
	}
}

// TestFirstPollAtOnceThenHistory: at start every query polls at once,
// whatever its jitter, so panes have their value as soon as the room
// starts; the history (backfill) comes right after, and the jitter
// spreads the polls that follow.
func TestFirstPollAtOnceThenHistory(t *testing.T) {
	clk := clock.NewFake(t0)
	q := &flakyBackfill{clk: clk}
	q.up.Store(true)
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: "stub", Interval: dur(10 * time.Second), Timeout: dur(2 * time.Second)}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Jitter: 0.2, Rand: func() float64 { return 0.99 },
		Builders: map[config.SourceType]sources.Builder{"stub": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
			return []sources.Query{q}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	waitFor(t, 5*time.Second, "the first poll and the history, without the clock moving", func() bool { return len(sink.paneSamples("api", "p")) == 3 })
	ps := sink.paneSamples("api", "p")
	if ps[0].s.Value != 2 || !ps[0].s.Time.Equal(t0) || ps[1].s.Value != 1 || !ps[1].s.Time.Before(t0) {
		t.Fatalf("samples %+v: want the live value at start, then the history", ps)
	}
	waitFor(t, 5*time.Second, "the scheduler to wait", func() bool { return fakes.Settled(s, clk.Now()) })
	if next := s.Queries()[0].Next; !next.After(t0.Add(10 * time.Second)) {
		t.Fatalf("the second poll is due at %s: the jitter should spread it past one interval (%s)", next, t0.Add(10*time.Second))
	}
}

// heldQuery's first poll answers only when release is closed.
type heldQuery struct {
	clk     clock.Clock
	release chan struct{}
}

func (q *heldQuery) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: "prom", Name: "held", Panes: []sources.PaneRef{{Service: "api", Pane: "held"}}}
}

func (q *heldQuery) Poll(ctx context.Context) (sources.Result, error) {
	select {
	case <-q.release:
	case <-ctx.Done():
		return sources.Result{}, ctx.Err()
	}
	return sources.Result{Samples: []incident.Sample{{Service: "api", Pane: "held", Time: q.clk.Now(), Value: 3}}}, nil
}

// TestHistoryWaitsForTheFirstRound: a pane's history is loaded only once
// every pane of its source has its first answer, so that thousands of
// past samples never sit ahead of another pane's first value.
func TestHistoryWaitsForTheFirstRound(t *testing.T) {
	clk := clock.NewFake(t0)
	q := &flakyBackfill{clk: clk}
	q.up.Store(true)
	held := &heldQuery{clk: clk, release: make(chan struct{})}
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: "stub", Interval: dur(10 * time.Second), Timeout: dur(2 * time.Second)}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Jitter: -1,
		Builders: map[config.SourceType]sources.Builder{"stub": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
			return []sources.Query{q, held}, nil
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	waitFor(t, 5*time.Second, "the first answer of p", func() bool { return len(sink.paneSamples("api", "p")) == 1 })
	time.Sleep(50 * time.Millisecond) // time for a backfill that should not happen
	q.mu.Lock()
	early := len(q.attempts)
	q.mu.Unlock()
	if early != 0 {
		t.Fatal("p's history was loaded before the held pane's first answer")
	}
	close(held.release)
	waitFor(t, 5*time.Second, "p's history after the held pane's answer", func() bool { return len(sink.paneSamples("api", "p")) == 3 })
	if len(sink.paneSamples("api", "held")) != 1 {
		t.Fatalf("held pane: %+v", sink.paneSamples("api", "held"))
	}
}

// stampQuery records when it was polled.
type stampQuery struct {
	name  string
	clk   clock.Clock
	mu    sync.Mutex
	polls []time.Time
}

func (q *stampQuery) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: "prom", Name: q.name, Panes: []sources.PaneRef{{Service: "api", Pane: q.name}}}
}

func (q *stampQuery) Poll(ctx context.Context) (sources.Result, error) {
	q.mu.Lock()
	q.polls = append(q.polls, q.clk.Now())
	q.mu.Unlock()
	return sources.Result{Samples: []incident.Sample{{Service: "api", Pane: q.name, Time: q.clk.Now(), Value: 1}}}, nil
}

// TestSourcePollsInRounds: the queries of a source poll together, at a
// phase of the interval set by the jitter, so a room wakes once a round
// rather than once a pane; beyond RoundSize queries they go in evenly
// spaced groups.
func TestSourcePollsInRounds(t *testing.T) {
	for _, c := range []struct {
		n, instants int
	}{{3, 1}, {sources.RoundSize + 5, 2}} {
		t.Run(fmt.Sprint(c.n), func(t *testing.T) {
			clk := clock.NewFake(t0)
			cfg := baseConfig()
			cfg.Sources = []config.Source{{ID: "prom", Type: "stub", Interval: dur(10 * time.Second), Timeout: dur(2 * time.Second)}}
			var qs []*stampQuery
			for i := range c.n {
				qs = append(qs, &stampQuery{name: fmt.Sprintf("q%d", i), clk: clk})
			}
			s, err := sources.Start(context.Background(), cfg, &recSink{clk: clk}, nil, clk, sources.Options{Jitter: 0.2, Rand: func() float64 { return 0.5 },
				Builders: map[config.SourceType]sources.Builder{"stub": func(sources.Env, []sources.Spec) ([]sources.Query, error) {
					out := make([]sources.Query, len(qs))
					for i, q := range qs {
						out[i] = q
					}
					return out, nil
				}}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			waitFor(t, 5*time.Second, "the first polls", func() bool { return fakes.Settled(s, clk.Now()) })
			advance(t, clk, s, 35*time.Second, 500*time.Millisecond, nil)
			instants := map[time.Time]int{}
			for _, q := range qs {
				q.mu.Lock()
				if len(q.polls) != 4 || !q.polls[0].Equal(t0) {
					t.Fatalf("%s polled at %v: want at once, then every 10 s", q.name, q.polls)
				}
				for _, p := range q.polls[1:] {
					instants[p]++
				}
				q.mu.Unlock()
			}
			// phase = 0.5 × 0.2 × 10 s = 1 s; groups 5 s apart.
			want := map[time.Time]bool{}
			for k := 0; k <= 3; k++ {
				for g := range c.instants {
					want[t0.Add(time.Second+time.Duration(k)*10*time.Second+time.Duration(g)*5*time.Second)] = true
				}
			}
			for at := range instants {
				if !want[at] {
					t.Errorf("a poll at +%s, off the schedule", at.Sub(t0))
				}
			}
			if len(instants) > 3*c.instants {
				t.Errorf("%d poll instants for %d queries in three rounds", len(instants), c.n)
			}
		})
	}
}
