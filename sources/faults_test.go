package sources_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
	"github.com/warroom/warroom/sources/prometheus"
)

func promBuilders() map[config.SourceType]sources.Builder {
	return map[config.SourceType]sources.Builder{config.SourcePrometheus: prometheus.Builder(prometheus.Options{Backfill: -1})}
}

// hungListener accepts connections and never answers. It keeps the most
// recent ones open (the client gives up on them at its timeout) and
// closes older ones, so a long test does not run out of descriptors.
func hungListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			if len(conns) > 32 {
				conns[0].Close()
				conns = conns[1:]
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// Fault (a): a source that accepts connections and never answers. Its
// pane is STALE at the timeout (well within timeout + 1 s), the other
// source keeps its cadence, and goroutines stay flat over 200 polls.
func TestHungSourceDoesNotDelayOthers(t *testing.T) {
	const interval, timeout = 10 * time.Millisecond, 30 * time.Millisecond
	good := fakes.NewProm(nil)
	good.SetVector("up_good", fakes.PromSample{Labels: map[string]string{"job": "good"}, Value: "1"})
	gsrv := httptest.NewServer(good)
	defer gsrv.Close()
	hung := hungListener(t)

	cfg := baseConfig()
	cfg.Sources = []config.Source{
		// A generous timeout for the good source: a GC pause under -race
		// must not make it time out; the hung one times out fast.
		{ID: "good", Type: config.SourcePrometheus, URL: gsrv.URL, Interval: dur(interval), Timeout: dur(time.Second)},
		{ID: "hung", Type: config.SourcePrometheus, URL: "http://" + hung, Interval: dur(interval), Timeout: dur(timeout)},
	}
	cfg.Services = []config.Service{{ID: "api", Name: "API", Owner: "maya", Panes: []config.Pane{
		{ID: "ok", Title: "good", Source: "good", Query: "up_good"},
		{ID: "stuck", Title: "stuck", Source: "hung", Query: "up"},
	}}}
	eng, _ := engine(t, cfg, clock.Real{})
	sink := &recSink{clk: clock.Real{}, next: eng}
	before := runtime.NumGoroutine()
	start := time.Now()
	s, err := sources.Start(context.Background(), cfg, sink, nil, clock.Real{}, sources.Options{Builders: promBuilders()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	// STALE at the timeout, with the reason.
	var firstStale obs
	waitFor(t, 3*time.Second, "a STALE sample for the hung pane", func() bool {
		for _, o := range sink.paneSamples("api", "stuck") {
			if o.s.Stale {
				firstStale = o
				return true
			}
		}
		return false
	})
	staleAfter := firstStale.real.Sub(start)
	t.Logf("hung pane STALE %s after start (timeout %s, first poll within %s)", staleAfter.Round(time.Millisecond), timeout, interval/10)
	if staleAfter > timeout+time.Second {
		t.Fatalf("STALE after %s, want within timeout+1s = %s", staleAfter, timeout+time.Second)
	}
	if !strings.Contains(firstStale.s.Error, "hung: no answer within 30ms") {
		t.Fatalf("STALE reason %q", firstStale.s.Error)
	}
	// One alert for the dead source, naming the pane it blanks.
	waitFor(t, 3*time.Second, "the engine to show the pane STALE and its source's alert", func() bool {
		st := state(t, eng)
		p := st.Panes[incident.PaneKey("api", "stuck")]
		a := openAlert(st, "api", func(a *incident.Alert) bool { return a.Origin == "source" && a.Key == "hung" })
		return p != nil && p.Stale && a != nil && a.Level == incident.LevelStale && strings.Join(a.Panes, ",") == "api/stuck"
	})

	polls := func() int64 {
		for _, q := range s.Queries() {
			if q.Name == "api/stuck" {
				return q.Polls
			}
		}
		return -1
	}
	waitFor(t, 30*time.Second, "20 polls of the hung source", func() bool { return polls() >= 20 })
	g0 := runtime.NumGoroutine()
	w0 := time.Now()
	p0 := polls()
	waitFor(t, 60*time.Second, "200 more polls of the hung source", func() bool { return polls() >= p0+200 })
	w1 := time.Now()
	g1 := runtime.NumGoroutine()
	t.Logf("goroutines: %d before start, %d after 20 hung polls, %d after %d more (%s)", before, g0, g1, polls()-p0, w1.Sub(w0).Round(time.Millisecond))
	if g1 > g0+6 {
		t.Fatalf("goroutines grew from %d to %d over 200 hung polls", g0, g1)
	}

	// The good pane kept its cadence meanwhile.
	var win []obs
	for _, o := range sink.paneSamples("api", "ok") {
		if !o.real.Before(w0) && !o.real.After(w1) {
			win = append(win, o)
		}
		if o.s.Stale || o.s.Value != 1 {
			t.Fatalf("good pane got %+v", o.s)
		}
	}
	expect := float64(w1.Sub(w0)) / float64(interval)
	g := gaps(win)
	med, p99 := g[len(g)/2], g[len(g)*99/100]
	t.Logf("good pane: %d samples in %s (%.0f expected at %s), gap median %s p99 %s max %s",
		len(win), w1.Sub(w0).Round(time.Millisecond), expect, interval, med, p99, g[len(g)-1])
	// Were the good pane waiting on the hung one, it would poll once per
	// timeout (a third of its cadence) and its median gap would be 30 ms.
	// A loaded machine starts some polls late, which the median shrugs
	// off; the count allows for it.
	if float64(len(win)) < 0.6*expect {
		t.Fatalf("good pane: %d samples, want at least 60%% of %.0f", len(win), expect)
	}
	if med > interval*13/10 || med < interval*8/10 {
		t.Fatalf("good pane median gap %s, want about %s", med, interval)
	}
	if h := s.Health(); h["good"].Health != incident.SourceUp || h["hung"].Health != incident.SourceDown {
		t.Fatalf("health: %+v", h)
	}

	s.Stop()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Stop, %d before Start:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rateBucket is a Datadog-like calendar-aligned budget: limit requests per
// period; past it, 429 with Retry-After = seconds to the period's end.
type rateBucket struct {
	mu         sync.Mutex
	clk        clock.Clock
	period     time.Duration
	limit      int
	start      time.Time
	used       int
	reset      time.Time // the latest reset announced with a 429
	told       time.Time // when it was announced
	pending    bool      // a 429 was answered; the next request is the retry
	lateBy     []time.Duration
	violations []string
	perPeriod  map[time.Time]int
	n429       int
	n          int
}

func (b *rateBucket) hook(w http.ResponseWriter, r *http.Request) bool {
	now := b.clk.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	// A request at the very instant of the 429 (the fake clock has not
	// moved) was sent before the client could know of it.
	if now.Before(b.reset) && now.After(b.told) {
		b.violations = append(b.violations, fmt.Sprintf("request at %s before the announced reset %s", now.Format(time.TimeOnly), b.reset.Format(time.TimeOnly)))
	} else if b.pending && !now.Before(b.reset) {
		b.lateBy = append(b.lateBy, now.Sub(b.reset))
		b.pending = false
	}
	ps := now.Truncate(b.period)
	if !ps.Equal(b.start) {
		b.start, b.used = ps, 0
	}
	b.used++
	b.perPeriod[ps]++
	reset := int(math.Ceil(ps.Add(b.period).Sub(now).Seconds()))
	w.Header().Set("X-RateLimit-Limit", fmt.Sprint(b.limit))
	w.Header().Set("X-RateLimit-Period", fmt.Sprint(int(b.period.Seconds())))
	w.Header().Set("X-RateLimit-Remaining", fmt.Sprint(max(0, b.limit-b.used)))
	w.Header().Set("X-RateLimit-Reset", fmt.Sprint(reset))
	if b.used <= b.limit {
		return false
	}
	b.n429++
	b.pending, b.told = true, now
	b.reset = now.Add(time.Duration(reset) * time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(reset))
	fakes.PromError(w, http.StatusTooManyRequests, "client_error", "rate limit exceeded")
	return true
}

// Fault (b): a source answering 429 for minutes gets no request before
// each reset it announced.
func TestRateLimitedSourceWaitsForReset(t *testing.T) {
	clk := clock.NewFake(t0)
	prom := fakes.NewProm(clk.Now)
	prom.SetVector("rps", fakes.PromSample{Value: "5"})
	b := &rateBucket{clk: clk, period: time.Minute, limit: 3, perPeriod: map[time.Time]int{}}
	prom.SetHook(b.hook)
	srv := httptest.NewServer(prom)
	defer srv.Close()

	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: srv.URL, Interval: dur(10 * time.Second), Timeout: dur(5 * time.Second)}}
	cfg.Services = []config.Service{{ID: "api", Owner: "maya", Panes: []config.Pane{{ID: "rps", Source: "prom", Query: "rps"}}}}
	sink := &recSink{clk: clk}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Builders: promBuilders()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	sawLimited := false
	advance(t, clk, s, 10*time.Minute, time.Second, func() {
		if h := s.Health()["prom"]; h.Health == incident.SourceRateLimited && h.RateLimitedUntil.After(clk.Now()) {
			sawLimited = true
		}
	})

	b.mu.Lock()
	defer b.mu.Unlock()
	t.Logf("%d requests in 10 minutes, %d answered 429; per period: %v", b.n, b.n429, b.perPeriod)
	for _, v := range b.violations {
		t.Error(v)
	}
	if b.n429 < 9 {
		t.Fatalf("only %d 429s: the source was not rate limited for minutes", b.n429)
	}
	// Exactly: the first request after each 429 comes at the reset.
	for i, d := range b.lateBy {
		if d != 0 {
			t.Errorf("retry %d came %s after the reset", i, d)
		}
	}
	// Per period: the budget, plus at most one 429 per query (two
	// queries share the bucket: the pane and the alerts).
	for ps, n := range b.perPeriod {
		if n > b.limit+2 {
			t.Errorf("period %s: %d requests, budget %d", ps.Format(time.TimeOnly), n, b.limit)
		}
	}
	if !sawLimited {
		t.Fatal("health never said rate-limited")
	}
	hs := sink.healths("prom")
	if len(hs) == 0 || !slices.Contains(hs, incident.SourceRateLimited) {
		t.Fatalf("health reports %v lack rate-limited", hs)
	}
	// A source that paces us is not dead: its pane reads rate-limited
	// until the reset it announced (the next poll), never STALE.
	limited := 0
	for _, o := range sink.paneSamples("api", "rps") {
		if o.s.Stale {
			t.Fatalf("a STALE sample while the source paced us: %+v", o.s)
		}
		if !o.s.Limited.IsZero() {
			limited++
			if !strings.Contains(o.s.Error, "429") || !o.s.Limited.After(o.s.Time) {
				t.Fatalf("rate-limited sample %+v: want the 429 and the next poll", o.s)
			}
		}
	}
	if limited == 0 {
		t.Fatal("no rate-limited sample while rate limited")
	}
}

// Fault (c): 5xx then recovery: STALE while failing, fresh again within
// one interval of the recovery, and health reported on changes only.
func TestRecoversWithinOneInterval(t *testing.T) {
	const interval = 10 * time.Second
	clk := clock.NewFake(t0)
	prom := fakes.NewProm(clk.Now)
	prom.SetVector("rps", fakes.PromSample{Value: "42"})
	var failing atomic.Bool
	failing.Store(true)
	prom.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if failing.Load() {
			fakes.PromError(w, http.StatusServiceUnavailable, "timeout", "query timed out in query execution")
			return true
		}
		return false
	})
	srv := httptest.NewServer(prom)
	defer srv.Close()

	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: srv.URL, Interval: dur(interval), Timeout: dur(5 * time.Second)}}
	cfg.Services = []config.Service{{ID: "api", Owner: "maya", Panes: []config.Pane{{ID: "rps", Title: "requests", Source: "prom", Query: "rps", Crit: fp(100)}}}}
	eng, _ := engine(t, cfg, clk)
	sink := &recSink{clk: clk, next: eng}
	s, err := sources.Start(context.Background(), cfg, sink, nil, clk, sources.Options{Builders: promBuilders()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	advance(t, clk, s, 60*time.Second, time.Second, nil)
	st := state(t, eng)
	p := st.Panes[incident.PaneKey("api", "rps")]
	if p == nil || !p.Stale || !strings.Contains(p.Error, "503") {
		t.Fatalf("pane while failing: %+v", p)
	}
	if a := openAlert(st, "api", func(a *incident.Alert) bool { return a.Origin == "source" }); a == nil || a.Level != incident.LevelStale || !strings.Contains(a.Text, "503") {
		t.Fatalf("no source alert while failing: %+v", a)
	}
	if h := s.Health()["prom"]; h.Health != incident.SourceDown || !strings.Contains(h.Error, "503") {
		t.Fatalf("health while failing: %+v", h)
	}
	failures := 0
	for _, q := range s.Queries() {
		if q.Name == "api/rps" {
			failures = q.Failures
		}
	}
	if failures < 4 {
		t.Fatalf("only %d consecutive failures in a minute: no retrying?", failures)
	}

	recovered := clk.Now()
	failing.Store(false)
	var freshAt time.Time
	advance(t, clk, s, 2*interval, time.Second, func() {
		for _, o := range sink.paneSamples("api", "rps") {
			if freshAt.IsZero() && !o.s.Stale && !o.at.Before(recovered) {
				freshAt = o.at
			}
		}
	})
	if freshAt.IsZero() || freshAt.Sub(recovered) > interval {
		t.Fatalf("fresh sample %s after recovery, want within one interval (%s)", freshAt.Sub(recovered), interval)
	}
	t.Logf("fresh %s after the source recovered (after %d consecutive failures)", freshAt.Sub(recovered), failures)
	waitFor(t, 5*time.Second, "the engine to show the pane fresh and resolve the STALE alert", func() bool {
		st := state(t, eng)
		p := st.Panes[incident.PaneKey("api", "rps")]
		return p != nil && !p.Stale && p.Value == 42 && openAlert(st, "api", func(a *incident.Alert) bool { return a.Origin == "source" }) == nil
	})
	// Health is up again after two good polls in a row of each query.
	advance(t, clk, s, 3*interval, time.Second, nil)
	hs := sink.healths("prom")
	if len(hs) < 2 || hs[0] != incident.SourceDown || hs[len(hs)-1] != incident.SourceUp {
		t.Fatalf("health reports %v, want down … up", hs)
	}
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			t.Fatalf("health reported twice in a row without a change: %v", hs)
		}
	}
}
