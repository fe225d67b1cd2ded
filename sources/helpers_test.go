package sources_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
)

var t0 = time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)

func fp(v float64) *float64 { return &v }

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// baseConfig is a war room with a commander and no sources yet.
func baseConfig() *config.Config {
	return &config.Config{
		Incident: config.Incident{Name: "sources test"},
		Roster:   []config.Person{{Handle: "maya"}},
		Roles:    config.Roles{Commander: "maya"},
	}
}

// obs is one sample as the sink saw it.
type obs struct {
	at   time.Time // the scheduler clock's time when submitted
	real time.Time
	s    incident.Sample
}

// recSink records what the scheduler submits and forwards it (to an
// engine) when next is set.
type recSink struct {
	mu      sync.Mutex
	clk     clock.Clock
	next    sources.Sink
	samples []obs
	reports []incident.SourceInfo
	imports []incident.ImportAlerts
}

func (r *recSink) Submit(ctx context.Context, cmd incident.Command) error {
	now, real := r.clk.Now(), time.Now()
	r.mu.Lock()
	switch c := cmd.(type) {
	case incident.Observe:
		for _, s := range c.Samples {
			r.samples = append(r.samples, obs{at: now, real: real, s: s})
		}
	case incident.ReportSource:
		r.reports = append(r.reports, c.Info)
	case incident.ImportAlerts:
		r.imports = append(r.imports, c)
	}
	r.mu.Unlock()
	if r.next != nil {
		return r.next.Submit(ctx, cmd)
	}
	return nil
}

func (r *recSink) paneSamples(svc, pane string) []obs {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []obs
	for _, o := range r.samples {
		if o.s.Service == svc && o.s.Pane == pane {
			out = append(out, o)
		}
	}
	return out
}

func (r *recSink) healths(src string) []incident.SourceHealth {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []incident.SourceHealth
	for _, h := range r.reports {
		if h.ID == src {
			out = append(out, h.Health)
		}
	}
	return out
}

// engine starts a real engine on a journal in a temp dir.
func engine(t testing.TB, cfg *config.Config, clk clock.Clock) (*incident.Engine, *journal.SQLite) {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	t.Cleanup(func() {
		cancel()
		<-e.Done()
		j.Close()
	})
	return e, j
}

// state reads the engine's state.
func state(t testing.TB, e *incident.Engine) *incident.State {
	t.Helper()
	s, sub, err := e.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.Unsubscribe(sub)
	return s
}

func openAlert(s *incident.State, svc string, match func(*incident.Alert) bool) *incident.Alert {
	for _, a := range s.OpenAlerts() {
		if a.Service == svc && match(a) {
			return a
		}
	}
	return nil
}

// waitFor polls cond until it holds or the (real) timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// advance moves a fake clock forward in steps, letting the scheduler catch
// up (every query waiting for a future time) after each.
func advance(t testing.TB, clk *clock.Fake, s *sources.Scheduler, total, step time.Duration, each func()) {
	t.Helper()
	for el := time.Duration(0); el < total; el += step {
		clk.Advance(step)
		waitFor(t, 10*time.Second, "the scheduler to settle at "+clk.Now().Format(time.TimeOnly), func() bool { return fakes.Settled(s, clk.Now()) })
		if each != nil {
			each()
		}
	}
}

func gaps(os []obs) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(os); i++ {
		out = append(out, os[i].real.Sub(os[i-1].real))
	}
	slices.Sort(out)
	return out
}
