package sources_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
	"github.com/warroom/warroom/sources/prometheus"
)

type discardSink struct{ n atomic.Int64 }

func (d *discardSink) Submit(ctx context.Context, cmd incident.Command) error {
	if o, ok := cmd.(incident.Observe); ok {
		d.n.Add(int64(len(o.Samples)))
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakGoroutines samples runtime.NumGoroutine until stop is closed.
func peakGoroutines(stop <-chan struct{}) func() int {
	var peak atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int { wg.Wait(); return int(peak.Load()) }
}

// config500 is one source with n panes (50 services × n/50 panes).
func config500(n int, url string, interval time.Duration) *config.Config {
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: url, Interval: dur(interval), Timeout: dur(5 * time.Second)}}
	for s := range 50 {
		svc := config.Service{ID: fmt.Sprintf("svc%02d", s), Owner: "maya"}
		for p := range n / 50 {
			svc.Panes = append(svc.Panes, config.Pane{ID: fmt.Sprintf("p%02d", p), Source: "prom", Query: "q"})
		}
		cfg.Services = append(cfg.Services, svc)
	}
	return cfg
}

func runScheduler(b *testing.B, cfg *config.Config, builders map[config.SourceType]sources.Builder, interval time.Duration) {
	sink := &discardSink{}
	stop := make(chan struct{})
	peak := peakGoroutines(stop)
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	s, err := sources.Start(context.Background(), cfg, sink, nil, clock.Real{}, sources.Options{Builders: builders})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Duration(b.N) * interval)
	s.Stop()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	close(stop)
	st := s.Stats()
	if st.Errors > 0 {
		b.Fatalf("%d failed polls", st.Errors)
	}
	polls := float64(st.Polls)
	b.ReportMetric(polls/wall.Seconds(), "polls/s")
	b.ReportMetric(float64(cpu.Microseconds())/polls, "cpu-µs/poll")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(runtime.NumCPU()), "cpu-%")
	b.ReportMetric(float64(st.MeanLateness.Microseconds())/1000, "late-mean-ms")
	b.ReportMetric(float64(st.MaxLateness.Microseconds())/1000, "late-max-ms")
	b.ReportMetric(float64(peak()), "peak-goroutines")
	b.ReportMetric(0, "ns/op") // wall time is b.N intervals by construction
}

// BenchmarkScheduler500: 500 Prometheus queries per interval (1 s)
// against a local fake Prometheus over HTTP. One op is one interval.
// Metrics: polls/s achieved, process CPU per poll and in % of the
// machine, how late polls started versus due (mean, max), and the peak
// goroutine count (sampled every 10 ms).
// cpu-µs/poll is the whole process (client, HTTP, the fake server and
// the scheduler); BenchmarkSchedulerOverhead isolates the scheduler.
func BenchmarkScheduler500(b *testing.B) {
	prom := fakes.NewProm(nil)
	prom.SetVector("q", fakes.PromSample{Labels: map[string]string{"job": "x"}, Value: "1"})
	srv := httptest.NewServer(prom)
	defer srv.Close()
	const interval = time.Second
	cfg := config500(500, srv.URL, interval)
	runScheduler(b, cfg, map[config.SourceType]sources.Builder{
		config.SourcePrometheus: prometheus.Builder(prometheus.Options{Backfill: -1})}, interval)
}

// instantQuery answers at once, without I/O: what remains is the
// scheduler's own cost per poll (goroutine, timers, sink, health).
type instantQuery struct {
	info sources.QueryInfo
}

func (q *instantQuery) Info() sources.QueryInfo { return q.info }
func (q *instantQuery) Poll(ctx context.Context) (sources.Result, error) {
	p := q.info.Panes[0]
	return sources.Result{Samples: []incident.Sample{{Service: p.Service, Pane: p.Pane, Time: time.Now(), Value: 1}}}, nil
}

// BenchmarkSchedulerOverhead: 500 in-memory queries per interval (1 s).
func BenchmarkSchedulerOverhead(b *testing.B) {
	const interval = time.Second
	cfg := config500(500, "http://unused", interval)
	cfg.Sources[0].Type = "mem"
	builder := func(env sources.Env, specs []sources.Spec) ([]sources.Query, error) {
		var qs []sources.Query
		for _, sp := range specs {
			for _, p := range sp.Panes {
				qs = append(qs, &instantQuery{info: sources.QueryInfo{Source: sp.Source.ID, Name: p.Service + "/" + p.ID, Panes: []sources.PaneRef{p.Ref()}}})
			}
		}
		return qs, nil
	}
	runScheduler(b, cfg, map[config.SourceType]sources.Builder{"mem": builder}, interval)
}
