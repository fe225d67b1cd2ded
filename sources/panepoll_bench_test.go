package sources_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/prometheus"
)

// BenchmarkPanePoll is what one pane's poll costs this process, end to
// end: the scheduler, the HTTP request to a real Prometheus (a process of
// its own, so its work is not counted), decoding the answer, the engine's
// fold and its publication to a subscriber (as a dashboard's feed), and
// recording the sample in the journal (SQLite in a temporary directory).
// 16 panes poll every 50 ms; one op is one interval. cpu-µs/poll is this
// process's CPU time (user+system, from getrusage) divided by the polls:
// "moving" answers a new value at every poll, "constant" the same one.
func BenchmarkPanePoll(b *testing.B) {
	url := startPrometheus(b)
	for _, c := range []struct{ name, query string }{
		{"moving", "vector(time())"},
		{"constant", "vector(42)"},
	} {
		b.Run(c.name, func(b *testing.B) { benchPanePoll(b, url, c.query) })
	}
}

func benchPanePoll(b *testing.B, url, query string) {
	const panes, interval = 16, 50 * time.Millisecond
	cfg := baseConfig()
	cfg.Sources = []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: url, Interval: dur(interval), Timeout: dur(2 * time.Second)}}
	cfg.Services = nil
	for i := range panes {
		cfg.Services = append(cfg.Services, config.Service{ID: fmt.Sprintf("svc%02d", i), Owner: "maya",
			Panes: []config.Pane{{ID: "p", Source: "prom", Query: query}}})
	}
	j, err := journal.Open(filepath.Join(b.TempDir(), "journal.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	// A subscriber reads every update, as a dashboard does.
	_, sub, err := eng.Subscribe(ctx, 1024)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for range sub.C {
		}
	}()
	builders := map[config.SourceType]sources.Builder{config.SourcePrometheus: prometheus.Builder(prometheus.Options{Backfill: -1})}
	b.ResetTimer()
	cpu0, wall0 := cpuTime(), time.Now()
	s, err := sources.Start(ctx, cfg, eng, j, clock.Real{}, sources.Options{Builders: builders})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Duration(b.N) * interval)
	s.Stop()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.StopTimer()
	st := s.Stats()
	if st.Errors > 0 || st.Polls == 0 {
		b.Fatalf("%d polls, %d failed", st.Polls, st.Errors)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(st.Polls), "cpu-µs/poll")
	b.ReportMetric(float64(st.Polls)/wall.Seconds(), "polls/s")
	b.ReportMetric(float64(st.Recorded)/float64(st.Polls), "recorded/poll")
	b.ReportMetric(0, "ns/op") // wall time is b.N intervals by construction
}

// startPrometheus runs the real Prometheus (the Debian package) on a free
// loopback port with nothing to scrape: the benchmark's queries need no
// series. Without the binary the benchmark is skipped.
func startPrometheus(b *testing.B) string {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		b.Skip("prometheus is not installed")
	}
	dir := b.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address=127.0.0.1:"+port)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "http://127.0.0.1:" + port
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("prometheus did not get ready in 30 s")
		}
	}
}
