package incident

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	"github.com/warroom/warroom/roles"
)

// benchBackends are the journals the engine benchmarks run on: the SQLite
// file and a room in a throwaway local PostgreSQL (fsync on).
var benchBackends = []struct {
	name  string
	where func(b *testing.B) string
}{
	{"sqlite", func(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }},
	{"postgres", func(b *testing.B) string { return journaltest.PostgresURL(b) }},
}

func benchEngine(b *testing.B, where string) (*Engine, func()) {
	b.Helper()
	j, err := journal.OpenJournal(context.Background(), where)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clock.Real{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	return e, func() { cancel(); <-e.Done(); j.Close() }
}

// BenchmarkDurableAck measures one person's ack-like command end to end:
// decide, commit (SQLite synchronous=FULL; Postgres synchronous_commit,
// one round trip), reply. Reports p50/p99.
func BenchmarkDurableAck(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) { benchDurableAck(b, be.where(b)) })
	}
}

func benchDurableAck(b *testing.B, where string) {
	e, stop := benchEngine(b, where)
	defer stop()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		if r := e.Do(ctx, Note{By: "alice", Service: "tokens", Text: "ack-sized note"}); r.Err != nil {
			b.Fatal(r.Err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	reportLatency(b, lat)
}

// BenchmarkGroupCommit measures events/s with 64 concurrent senders, whose
// commands the engine commits together, and how many it commits at once.
func BenchmarkGroupCommit(b *testing.B) {
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) { benchGroupCommit(b, be.where(b)) })
	}
}

func benchGroupCommit(b *testing.B, where string) {
	e, stop := benchEngine(b, where)
	defer stop()
	ctx := context.Background()
	const senders = 64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < senders; w++ {
		n := b.N / senders
		if w < b.N%senders {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, n)
			for i := 0; i < n; i++ {
				t := time.Now()
				if r := e.Do(ctx, Note{By: "alice", Service: "tokens", Text: "burst"}); r.Err != nil {
					b.Error(r.Err)
					return
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	// How much the engine could group: commits are as many as batches.
	if n := e.CommitLatency().Count; n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "events/commit")
	}
	reportLatency(b, lat)
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

var replayOnce sync.Once
var replayPath string

const replayTotal = 1_000_000

// replayJournal writes (once per process) a journal of one million events
// and returns its path.
func replayJournal(b *testing.B) string {
	const total = replayTotal
	replayOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			b.Fatal(err)
		}
		replayPath = filepath.Join(dir, "replay.db")
		j, err := journal.Open(replayPath)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		batch := make([]journal.Event, 0, 10000)
		t := t0
		for seq := 1; seq <= total; seq++ {
			ev := Event{Time: t, Kind: KindNote, Actor: "maya", Service: "tokens", Text: fmt.Sprintf("note %d about the launch", seq)}
			if seq == 1 {
				setup := roles.FromConfig(testConfig())
				ev.Kind, ev.Text, ev.Setup = KindDeclare, "replay bench", &setup
			} else if seq%10 == 0 {
				ev.Kind = KindAlert
				ev.Alert = &AlertInfo{ID: fmt.Sprintf("A%d", seq), Pane: "p95", Level: LevelCrit, Value: 2.3, Threshold: 1, Unit: "s", Origin: "rule"}
			} else if seq%10 == 1 {
				ev.Kind = KindResolve
				ev.Alert = &AlertInfo{ID: fmt.Sprintf("A%d", seq-1), Pane: "p95", Level: LevelCrit, Origin: "rule"}
			}
			t = t.Add(10 * time.Millisecond)
			batch = append(batch, ev.ToJournal())
			if len(batch) == cap(batch) {
				if err := j.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := j.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
		j.Close()
	})
	return replayPath
}

// BenchmarkReplay1M measures opening an engine over a journal of one
// million events: the restart path.
func BenchmarkReplay1M(b *testing.B) {
	const total = replayTotal
	replayPath := replayJournal(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, err := journal.Open(replayPath)
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(Options{Config: testConfig(), Journal: j})
		if err != nil {
			b.Fatal(err)
		}
		if e.state.LastSeq != total {
			b.Fatalf("replayed %d events", e.state.LastSeq)
		}
		j.Close()
	}
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "warroom-replay-") }

// BenchmarkRulesAndGroups10kOpen measures what one sample batch costs the
// engine's decide step (rule evaluation, grouping, source alerts, state
// updates; the journal commit is measured by the benchmarks above) while
// 10,000 imported alerts are open in 2,000 groups. Each batch answers 40
// panes, and every other batch moves one pane across its crit line, so
// alerts fire into groups and resolve. Reports the median per batch.
func BenchmarkRulesAndGroups10kOpen(b *testing.B) {
	c := testConfig()
	c.Services = nil
	for s := range 8 {
		svc := config.Service{ID: fmt.Sprintf("svc%d", s), Owner: "alice", Backup: "bob"}
		for p := range 5 {
			svc.Panes = append(svc.Panes, config.Pane{ID: fmt.Sprintf("p%d", p), Title: fmt.Sprintf("pane %d", p), Source: "prom",
				Query: fmt.Sprintf("sum(rate(metric_%d_%d_total[1m]))", s, p), Warn: f(50), Crit: f(100)})
		}
		c.Services = append(c.Services, svc)
	}
	j, err := journal.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	clk := clock.NewFake(t0)
	e, err := New(Options{Config: c, Journal: j, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	e.started = t0
	d := &decider{e: e, s: e.state, now: t0, dirty: map[string]bool{}}
	var xs []ExternalAlert
	for i := range 10_000 {
		s, p := i%8, (i/8)%5
		x := ExternalAlert{Key: fmt.Sprintf("fp%d", i), Service: fmt.Sprintf("svc%d", s), Name: "Rule", Level: LevelWarn, Firing: true,
			Rule: fmt.Sprintf("alertname:Rule%d", i%2000)}
		if i%4 == 0 {
			x.Metrics = []string{fmt.Sprintf("metric_%d_%d_total", s, p)} // joins the pane's group
		}
		xs = append(xs, x)
	}
	if err := (ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: xs}).decide(d); err != nil {
		b.Fatal(err)
	}
	if n := len(e.state.open); n != 10_000 {
		b.Fatalf("%d open", n)
	}
	batch := make([]Sample, 0, 40)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := t0.Add(time.Duration(i+1) * time.Second)
		batch = batch[:0]
		for s := range 8 {
			for p := range 5 {
				v := 10.0
				if s == 0 && p == 0 && i%2 == 1 {
					v = 500
				}
				batch = append(batch, Sample{Service: fmt.Sprintf("svc%d", s), Pane: fmt.Sprintf("p%d", p), Time: now, Value: v})
			}
		}
		start := time.Now()
		d := &decider{e: e, s: e.state, now: now, dirty: map[string]bool{}}
		if err := (Observe{Samples: batch}).decide(d); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs/batch")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs/batch")
}

// bigRoom is an engine over a journal of a long incident: 200K events
// with 20K alerts fired and resolved, a full recent-events tail, and 40
// panes with full sparkline histories.
func bigRoom(b *testing.B) (*Engine, func()) {
	b.Helper()
	j, err := journal.Open(filepath.Join(b.TempDir(), "big.db"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	batch := make([]journal.Event, 0, 10000)
	t := t0
	const total = 200_000
	for seq := 1; seq <= total; seq++ {
		ev := Event{Time: t, Kind: KindNote, Actor: "maya", Service: "tokens", Text: fmt.Sprintf("note %d about the launch", seq)}
		switch {
		case seq == 1:
			setup := roles.FromConfig(testConfig())
			ev.Kind, ev.Text, ev.Setup = KindDeclare, "subscribe bench", &setup
		case seq%10 == 0:
			ev.Kind = KindAlert
			ev.Alert = &AlertInfo{ID: fmt.Sprintf("A%d", seq), Pane: "p95", Level: LevelCrit, Value: 2.3, Threshold: 1, Unit: "s", Origin: "import", Key: fmt.Sprint(seq)}
		case seq%10 == 1:
			ev.Kind = KindResolve
			ev.Alert = &AlertInfo{ID: fmt.Sprintf("A%d", seq-1), Pane: "p95", Level: LevelCrit, Origin: "import", Key: fmt.Sprint(seq - 1)}
		}
		t = t.Add(10 * time.Millisecond)
		batch = append(batch, ev.ToJournal())
		if len(batch) == cap(batch) || seq == total {
			if err := j.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clock.Real{}})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	go e.Run(rctx)
	go func() {
		<-e.Done()
		if e.Err() != nil {
			b.Error(e.Err())
		}
	}()
	for p := range 40 {
		var smp []Sample
		for i := range SeriesLimit {
			smp = append(smp, Sample{Service: "svc", Pane: fmt.Sprintf("p%d", p), Time: t.Add(time.Duration(i) * time.Second), Value: float64(i)})
		}
		if err := e.Submit(ctx, Observe{Samples: smp}); err != nil {
			b.Fatal(err)
		}
	}
	return e, func() { cancel(); <-e.Done(); j.Close() }
}

// BenchmarkSubscribeStorm: 200 readers subscribe at once (a room's
// dashboards reconnecting) while a person acks. Reports how long the
// slowest ack took during the storm (max-ms) next to its p50, and the
// storm's wall time. Each subscriber's copy of the state is made on its
// own goroutine, so the engine spends at most one copy per batch.
func BenchmarkSubscribeStorm(b *testing.B) {
	e, stop := bigRoom(b)
	defer stop()
	ctx := context.Background()
	var lat []time.Duration
	var storm time.Duration
	b.ResetTimer()
	for range b.N {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, sub, err := e.Subscribe(ctx, 16)
				if err != nil || st.LastSeq == 0 {
					b.Error(err)
					return
				}
				e.Unsubscribe(sub)
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		t0 := time.Now()
		close(start)
	acks:
		for {
			t := time.Now()
			if r := e.Do(ctx, Note{By: "alice", Service: "tokens", Text: "ack during the storm"}); r.Err != nil {
				b.Fatal(r.Err)
			}
			lat = append(lat, time.Since(t))
			select {
			case <-done:
				break acks
			default:
			}
		}
		storm += time.Since(t0)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(storm.Microseconds())/1000/float64(b.N), "storm-ms")
}

// BenchmarkAckDuringFullReplay: a person's durable ack while another
// reader (an export, a new tail, the mirror catching up) replays the whole
// 1M-event journal. Readers have connections of their own, so the ack
// waits for no read. Reports the acks' p50/p99 and how many full replays
// ran alongside.
func BenchmarkAckDuringFullReplay(b *testing.B) {
	path := replayJournal(b)
	j, err := journal.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clock.Real{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-e.Done() }()
	go e.Run(ctx)
	var replays atomic.Int64
	replaying := make(chan struct{})
	go func() {
		defer close(replaying)
		for ctx.Err() == nil {
			n := 0
			if err := j.Replay(ctx, 0, func(journal.Event) error { n++; return nil }); err != nil && ctx.Err() == nil {
				b.Error(err)
				return
			}
			if n >= replayTotal {
				replays.Add(1)
			}
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if r := e.Do(ctx, Note{By: "maya", Service: "tokens", Text: "ack-sized note"}); r.Err != nil {
			b.Fatal(r.Err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	cancel()
	<-replaying
	reportLatency(b, lat)
	b.ReportMetric(float64(replays.Load()), "full-replays")
}
