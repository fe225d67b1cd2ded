package mirror

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	slacksim "github.com/warroom/warroom/sim/slack"
)

const (
	botToken = "xoxb-111-222-canaryBOTtokenDoNotLeak"
	appToken = "xapp-1-A111-canaryAPPtokenDoNotLeak"
)

var t0 = time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)

// testConfig: maya commands; alice owns tokens with bob as backup; bob
// owns history; olga is on the roster with no role (an observer).
func testConfig(escalate time.Duration) *config.Config {
	return &config.Config{
		Incident:   config.Incident{Name: "airdrop launch"},
		Escalation: config.Escalation{Backup: config.Duration(escalate), Commander: config.Duration(2 * escalate)},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "alice", Backup: "bob"},
			{ID: "history", Name: "History", Owner: "bob"},
		},
		Roster: []config.Person{
			{Handle: "maya", Slack: "U0MAYA"}, {Handle: "alice", Slack: "U0ALICE"},
			{Handle: "bob", Slack: "U0BOB"}, {Handle: "olga", Slack: "U0OLGA"},
		},
		Roles: config.Roles{Commander: "maya"},
	}
}

type harness struct {
	t    *testing.T
	clk  *clock.Fake
	beat *beatClock // the engine's view of clk
	path string
	j    *journal.SQLite
	eng  *incident.Engine
	srv  *slacksim.Server
	m    *Mirror

	engCancel, mCancel context.CancelFunc
	logMu              sync.Mutex
	logs               []string
	driving            chan struct{}
}

type hopts struct {
	escalate time.Duration
	sim      slacksim.Options
	mirror   func(*Options)
	socket   bool
	noStart  bool
	config   func(*config.Config) // edits testConfig's room
}

func newHarness(t *testing.T, o hopts) *harness {
	t.Helper()
	if o.escalate == 0 {
		o.escalate = time.Hour
	}
	h := &harness{t: t, clk: clock.NewFake(t0), path: filepath.Join(t.TempDir(), "journal.db")}
	h.beat = &beatClock{Fake: h.clk}
	o.sim.Clock = h.clk
	o.sim.BotToken = botToken
	if o.socket {
		o.sim.AppToken = appToken
		o.sim.PingInterval = 500 * time.Millisecond
	}
	o.sim.Users = []slacksim.User{{ID: "U0MAYA", Name: "maya"}, {ID: "U0ALICE", Name: "alice"}, {ID: "U0BOB", Name: "bob"}, {ID: "U0OLGA", Name: "olga"}, {ID: "U0EVE", Name: "eve"}}
	if o.sim.Seed == 0 {
		o.sim.Seed = 7
	}
	h.srv = slacksim.New(o.sim)
	if err := h.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.srv.Close)
	cfg := testConfig(o.escalate)
	if o.config != nil {
		o.config(cfg)
	}
	h.openEngine(cfg)
	if !o.noStart {
		h.startMirror(o)
	}
	return h
}

func (h *harness) openEngine(cfg *config.Config) {
	h.t.Helper()
	j, err := journal.Open(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: h.beat})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	h.j, h.eng, h.engCancel = j, e, cancel
	h.t.Cleanup(h.closeEngine)
}

func (h *harness) closeEngine() {
	h.stopMirror()
	if h.engCancel != nil {
		h.engCancel()
		<-h.eng.Done()
		h.j.Close()
		h.engCancel = nil
	}
}

func (h *harness) options(o hopts) Options {
	opts := Options{
		Engine: h.eng, Journal: h.j, Clock: h.clk,
		APIURL: h.srv.APIURL(), Channel: h.srv.ChannelID(), BotToken: botToken,
		HTTPClient: &http.Client{Timeout: 5 * time.Second},
		Seed:       1, ReconcileAfter: 5 * time.Second,
		Logf: func(format string, args ...any) {
			h.logMu.Lock()
			h.logs = append(h.logs, fmt.Sprintf(format, args...))
			h.logMu.Unlock()
		},
	}
	if o.socket {
		opts.AppToken = appToken
	}
	if o.mirror != nil {
		o.mirror(&opts)
	}
	return opts
}

func (h *harness) startMirror(o hopts) {
	h.t.Helper()
	m, err := New(h.options(o))
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.m, h.mCancel = m, cancel
}

func (h *harness) stopMirror() {
	h.stopDriving()
	if h.mCancel != nil {
		h.mCancel()
		<-h.m.Done()
		h.mCancel = nil
	}
}

func (h *harness) do(cmd incident.Command) incident.Reply {
	h.t.Helper()
	r := h.eng.Do(context.Background(), cmd)
	if r.Err != nil {
		h.t.Fatalf("%T: %v", cmd, r.Err)
	}
	return r
}

func (h *harness) note(by, text string) int64 {
	h.t.Helper()
	return h.do(incident.Note{By: by, Text: text}).Seq
}

// drained: every committed event is reflected in Slack and nothing is
// queued or waiting to be reconciled.
func (h *harness) drained() bool {
	st := h.m.Status()
	h.m.mu.Lock()
	recon := len(h.m.recon)
	h.m.mu.Unlock()
	return st.Lag == 0 && st.Pending == 0 && recon == 0 && !h.m.busy.Load()
}

// drive runs simulated time: whenever the mirror waits on the clock, the
// clock jumps to the end of its wait (at most to the next hook). It
// returns when cond holds, failing past limit (simulated) or 20 s (real).
func (h *harness) drive(limit time.Duration, cond func() bool, hooks ...hook) time.Duration {
	h.t.Helper()
	start := h.clk.Now()
	// The real-time bound only catches a harness that stopped making
	// progress; a race build on a loaded 2-core machine needs well over
	// 20 s for some of these drives.
	realEnd := time.Now().Add(time.Minute)
	sort.Slice(hooks, func(a, b int) bool { return hooks[a].at < hooks[b].at })
	for {
		now := h.clk.Now()
		for len(hooks) > 0 && now.Sub(start) >= hooks[0].at {
			hooks[0].fn()
			hooks = hooks[1:]
		}
		if len(hooks) == 0 && cond() {
			return h.clk.Now().Sub(start)
		}
		if now.Sub(start) > limit {
			h.t.Fatalf("not done after %s of simulated time: %+v", limit, h.m.Status())
		}
		if time.Now().After(realEnd) {
			h.t.Fatalf("not done after a minute of real time (simulated %s): %+v", now.Sub(start), h.m.Status())
		}
		pu := h.m.parkedUntil.Load()
		step := time.Duration(pu - now.UnixNano())
		if len(hooks) > 0 {
			next := hooks[0].at - now.Sub(start)
			if pu == 0 && h.m.idle.Load() {
				step = next // idle: jump to the next scripted moment
			}
			step = min(step, next)
		}
		if step > 0 && (pu > 0 || h.m.idle.Load()) {
			h.clk.Advance(step)
			continue
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// beatClock is the shared fake clock as the engine sees it: the engine's
// only timer is its heartbeat, so the last deadline it asked for is when
// its next heartbeat is due.
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

// heartbeats runs d of simulated time in the engine's heartbeats: the
// clock moves to the mirror's next timer or the engine's next heartbeat,
// whichever is first, and only once the mirror waits for it; at each
// heartbeat it waits until the engine has decided it and the mirror has
// planned what it committed. So the engine never falls behind the clock,
// however slowly the machine runs it.
func (h *harness) heartbeats(d time.Duration) {
	h.t.Helper()
	end := h.clk.Now().Add(d)
	realEnd := time.Now().Add(60 * time.Second)
	for h.clk.Now().Before(end) {
		if time.Now().After(realEnd) {
			h.t.Fatalf("heartbeats: not done after 60 s of real time (simulated %s left): %+v", end.Sub(h.clk.Now()), h.m.Status())
		}
		pu := h.m.parkedUntil.Load()
		if h.m.busy.Load() || (pu == 0 && !h.m.idle.Load()) {
			time.Sleep(100 * time.Microsecond) // the mirror is working
			continue
		}
		beat := h.beat.due()
		if now := h.clk.Now(); !beat.After(now) {
			// A heartbeat fired that the engine has not taken yet.
			h.waitReal("the engine's heartbeat", func() bool { return h.beat.due().After(now) })
			continue
		}
		next := beat
		if pu > 0 && time.Unix(0, pu).Before(next) {
			next = time.Unix(0, pu)
		}
		if next.After(end) {
			next = end
		}
		h.clk.Advance(next.Sub(h.clk.Now()))
		if !next.Equal(beat) {
			continue
		}
		// The engine sets its next heartbeat as it takes this one; a round
		// trip then waits for what the heartbeat decided.
		h.waitReal("the engine's heartbeat", func() bool { return h.beat.due().After(beat) })
		if _, sub, err := h.eng.Subscribe(context.Background(), 1); err != nil {
			h.t.Fatal(err)
		} else {
			h.eng.Unsubscribe(sub)
		}
		h.waitIngested()
	}
}

type hook struct {
	at time.Duration
	fn func()
}

// autoDrive advances the clock in the background whenever the mirror
// waits on it (for tests that act in real time, such as Socket Mode).
func (h *harness) autoDrive() {
	h.driving = make(chan struct{})
	stop := h.driving
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			now := h.clk.Now()
			if pu := h.m.parkedUntil.Load(); pu > now.UnixNano() {
				h.clk.Advance(time.Duration(pu - now.UnixNano()))
				continue
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
}

func (h *harness) stopDriving() {
	if h.driving != nil {
		close(h.driving)
		h.driving = nil
	}
}

// waitReal polls cond in real time.
func (h *harness) waitReal(what string, cond func() bool) {
	h.t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			h.t.Fatalf("timed out waiting for %s; mirror %+v", what, h.m.Status())
		}
		time.Sleep(time.Millisecond)
	}
}

// events reads the whole journal.
func (h *harness) events() []incident.Event {
	h.t.Helper()
	var out []incident.Event
	err := h.j.Replay(context.Background(), 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		out = append(out, ev)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

var seqMark = regexp.MustCompile("`#(\\d+)`")

// seqsIn lists the event seqs a message carries, in order.
func seqsIn(text string) []int64 {
	var out []int64
	for _, m := range seqMark.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		out = append(out, n)
	}
	return out
}

func isAlertMsg(m slacksim.Message) bool { return len(m.Blocks) > 0 }
func isPage(m slacksim.Message) bool     { return strings.Contains(m.Text, "*PAGE*") }

// checkTranscript asserts that every event is in some message (thread
// replies included), that the timeline (lines and digests) is in seq order, and returns how many times
// each seq appears (pages aside, which repeat an alert line by design).
func (h *harness) checkTranscript(last int64) map[int64]int {
	h.t.Helper()
	return checkMessages(h.t, h.srv.Messages(h.srv.ChannelID()), last)
}

func checkMessages(t *testing.T, msgs []slacksim.Message, last int64) map[int64]int {
	t.Helper()
	count := map[int64]int{}
	paged := map[int64]bool{}
	var prev int64
	for _, m := range msgs {
		seqs := seqsIn(m.Text)
		for _, s := range seqs {
			if isPage(m) {
				paged[s] = true
			} else {
				count[s]++
			}
		}
		if isAlertMsg(m) || isPage(m) || m.ThreadTS != "" || strings.Contains(m.Text, "posted again") {
			continue
		}
		for _, s := range seqs {
			if s <= prev {
				t.Fatalf("timeline out of order: #%d after #%d in %q", s, prev, firstLine(m.Text))
			}
			prev = s
		}
	}
	for s := int64(1); s <= last; s++ {
		if count[s] == 0 && !paged[s] {
			t.Fatalf("event #%d is in no Slack message (%d messages)", s, len(msgs))
		}
	}
	return count
}

func (h *harness) noViolations() {
	h.t.Helper()
	if v := h.srv.Violations(); len(v) > 0 {
		h.t.Fatalf("%d violations, first: %s", len(v), v[0])
	}
}
