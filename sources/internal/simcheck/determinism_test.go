package simcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestSameSeedSameEventStream: the launch story, through the production
// sources and engine, is a function of the simulator's seed. On a fake
// clock the same seed twice writes the same journal, event for event
// (seq, time, kind, actor, service and body), and another seed writes a
// different one; the story's problems fire in the story's order.
func TestSameSeedSameEventStream(t *testing.T) {
	// At T+6m every problem of the story has begun.
	a := storyEvents(t, 7, 6*time.Minute)
	b := storyEvents(t, 7, 6*time.Minute)
	c := storyEvents(t, 12345, 6*time.Minute)
	if len(a) < 50 {
		t.Fatalf("the story wrote only %d events", len(a))
	}
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("seed 7 twice: the streams part at event %d of %d/%d:\n%s\n%s", i+1, len(a), len(b), at(a, i), at(b, i))
		}
	}
	differ := max(len(a), len(c)) - min(len(a), len(c))
	for i := range min(len(a), len(c)) {
		if !reflect.DeepEqual(a[i], c[i]) {
			differ++
		}
	}
	if differ == 0 {
		t.Fatal("seeds 7 and 12345 wrote the same stream: the seed is not used")
	}
	// The story's problems, in the order their threshold alerts fire.
	var order []string
	alerts := 0
	for _, je := range a {
		e, err := incident.FromJournal(je)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != incident.KindAlert {
			continue
		}
		alerts++
		for _, st := range story {
			k := st.service + "/" + st.prefix
			if e.Service == st.service && strings.HasPrefix(e.Text, st.prefix) && !slices.Contains(order, k) &&
				(strings.HasSuffix(e.Text, "(warn)") || strings.HasSuffix(e.Text, "(crit)")) {
				order = append(order, k)
			}
		}
	}
	want := []string{"cloudflare/bots reaching origin", "tokens/Lambda throttles", "tokens/DB connections used",
		"aws/NAT port allocation errors", "triton/slots behind best", "blowfish/tx landing rate"}
	if !slices.Equal(order, want) {
		t.Fatalf("story alerts fired as\n%v\nwant\n%v", order, want)
	}
	t.Logf("to T+6m, seed 7: %d events (%d alerts), the same twice; seed 12345: %d events, %d of them different", len(a), alerts, len(c), differ)
}

func at(es []journal.Event, i int) string {
	if i >= len(es) {
		return "(none)"
	}
	e := es[i]
	return fmt.Sprintf("#%d %s %s %s %s %s", e.Seq, e.Time.Format(time.TimeOnly), e.Kind, e.Actor, e.Service, e.Body)
}

// storyEvents runs the example room against the simulator from 30 s
// before T-0 to T-0+window on a fake clock, and returns its
// journal. Time moves in the engine's heartbeats. What the sources send
// in one heartbeat reaches the engine after the heartbeat, in one order
// (by content), so the order in which concurrent polls finish does not
// change the stream.
func storyEvents(t *testing.T, seed uint64, window time.Duration) []journal.Event {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "..", "examples", "airdrop", "warroom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Date(2026, 1, 31, 17, 59, 30, 0, time.UTC)
	clk := clock.NewFake(start)
	t0 := start.Add(30 * time.Second)
	sm, err := sim.Start(ctx, sim.Options{Seed: seed, Clock: clk, Start: t0, LatencyScale: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	t.Setenv("DD_API_KEY", "0123456789abcdef0123456789abcdef")
	t.Setenv("DD_APP_KEY", "0123456789abcdef0123456789abcdef01234567")
	sm.Point(cfg)
	cfg.Incident.Launch = &t0
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	beat := &beatClock{Fake: clk}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: beat, Tick: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	held := &heldSink{}
	s, err := sources.Start(ctx, cfg, held, j, clk, sources.Options{Jitter: -1, Builders: map[config.SourceType]sources.Builder{
		config.SourceDatadog:    datadog.Builder(datadog.Options{}),
		config.SourcePrometheus: prometheus.Builder(prometheus.Options{}),
		config.SourceRPC:        rpc.Builder(rpc.Options{}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	wait := func(what string, cond func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Microsecond) {
			if time.Now().After(deadline) {
				t.Fatalf("seed %d at %s: %s", seed, clk.Now().Format(time.TimeOnly), what)
			}
		}
	}
	sync := func() {
		if _, sub, err := eng.Subscribe(ctx, 1); err != nil {
			t.Fatal(err)
		} else {
			eng.Unsubscribe(sub)
		}
	}
	sync() // the declaration
	end := t0.Add(window)
	for {
		wait("the sources did not settle", func() bool { return fakes.Settled(s, clk.Now()) })
		for _, cmd := range held.take() {
			if r := eng.Do(ctx, cmd); r.Err != nil {
				t.Fatalf("seed %d: %T: %v", seed, cmd, r.Err)
			}
		}
		if !clk.Now().Before(end) {
			break
		}
		next := beat.due()
		wait("the engine did not set its heartbeat", func() bool { next = beat.due(); return next.After(clk.Now()) })
		clk.Advance(next.Sub(clk.Now()))
		wait("the engine did not take its heartbeat", func() bool { return beat.due().After(next) })
		sync()
	}
	var out []journal.Event
	if err := j.Replay(ctx, 0, func(e journal.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// beatClock is the fake clock as the engine sees it: the engine's only
// timer is its heartbeat, so the last deadline it asked for is its next.
type beatClock struct {
	*clock.Fake
	mu   sync.Mutex
	next time.Time
}

func (c *beatClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.next = c.Now().Add(d)
	c.mu.Unlock()
	return c.Fake.After(d)
}

func (c *beatClock) due() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// heldSink keeps what the sources send until take, which returns it in
// an order of its content.
type heldSink struct {
	mu   sync.Mutex
	cmds []incident.Command
}

func (h *heldSink) Submit(_ context.Context, cmd incident.Command) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmds = append(h.cmds, cmd)
	return nil
}

func (h *heldSink) take() []incident.Command {
	h.mu.Lock()
	cmds := h.cmds
	h.cmds = nil
	h.mu.Unlock()
	keys := make([][]byte, len(cmds))
	for i, c := range cmds {
		b, _ := json.Marshal(c)
		keys[i] = append([]byte(fmt.Sprintf("%T ", c)), b...)
	}
	idx := make([]int, len(cmds))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return bytes.Compare(keys[idx[a]], keys[idx[b]]) < 0 })
	out := make([]incident.Command, len(cmds))
	for i, k := range idx {
		out[i] = cmds[k]
	}
	return out
}

// story is the pane of each problem in the launch story, by the alert
// text it starts with.
var story = []struct{ service, prefix string }{
	{"cloudflare", "bots reaching origin"},
	{"tokens", "Lambda throttles"},
	{"tokens", "DB connections used"},
	{"aws", "NAT port allocation errors"},
	{"triton", "slots behind best"},
	{"blowfish", "tx landing rate"},
}
