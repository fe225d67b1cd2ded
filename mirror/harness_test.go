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
	"testing/synctest"
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
	eclk *timerClock // the engine's view of clk
	mclk *timerClock // the mirror's view of clk
	path string
	j    *journal.SQLite
	eng  *incident.Engine
	srv  *slacksim.Server
	m    *Mirror
	// bubble: the harness runs in a testing/synctest bubble (see
	// inBubble), where synctest.Wait tells when everything has settled.
	bubble bool

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

// newHarness runs the fake Slack, an engine and (unless noStart) a mirror
// in real time; tests that need Socket Mode use it (a websocket is never
// durably blocked, so it cannot run in a synctest bubble) and drive the
// clock with autoDrive. Every other test uses inBubble.
func newHarness(t *testing.T, o hopts) *harness {
	t.Helper()
	h := startSim(t, &o)
	h.start(t, o)
	return h
}

// inBubble runs body with a harness in a testing/synctest bubble. The
// engine, the journal and the mirror run in the bubble; the fake Slack
// runs outside it, since a goroutine blocked on the network is never
// durably blocked: the mirror's HTTP calls then keep synctest.Wait
// waiting until Slack has answered them, and once every goroutine of the
// bubble waits for the clock, a channel or nothing, Wait returns and the
// test knows the mirror has settled. drive advances the fake clock from
// one such point to the next timer.
func inBubble(t *testing.T, o hopts, body func(t *testing.T, h *harness)) {
	t.Helper()
	if o.socket {
		t.Fatal("Socket Mode tests run with newHarness")
	}
	h := startSim(t, &o)
	synctest.Test(t, func(t *testing.T) {
		h.bubble = true
		h.start(t, o)
		body(t, h)
	})
}

// startSim starts the fake Slack on the harness's fake clock.
func startSim(t *testing.T, o *hopts) *harness {
	t.Helper()
	if o.escalate == 0 {
		o.escalate = time.Hour
	}
	h := &harness{clk: clock.NewFake(t0), path: filepath.Join(t.TempDir(), "journal.db")}
	h.eclk, h.mclk = &timerClock{Fake: h.clk}, &timerClock{Fake: h.clk}
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
	return h
}

// start opens the journal and the engine and starts the mirror.
func (h *harness) start(t *testing.T, o hopts) {
	h.t = t
	cfg := testConfig(o.escalate)
	if o.config != nil {
		o.config(cfg)
	}
	h.openEngine(cfg)
	if !o.noStart {
		h.startMirror(o)
	}
}

func (h *harness) openEngine(cfg *config.Config) {
	h.t.Helper()
	j, err := journal.Open(h.path)
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: h.eclk})
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
	// No keep-alive: an idle connection's reader would wait on the
	// network, which a synctest bubble never counts as settled.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	opts := Options{
		Engine: h.eng, Journal: h.j, Clock: h.mclk,
		APIURL: h.srv.APIURL(), Channel: h.srv.ChannelID(), BotToken: botToken,
		HTTPClient: client,
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
// queued or waiting to be reconciled. In a bubble it is read once the
// mirror has settled (drive), so no call is in flight.
func (h *harness) drained() bool {
	st := h.m.Status()
	h.m.mu.Lock()
	recon := len(h.m.recon)
	h.m.mu.Unlock()
	return st.Lag == 0 && st.Pending == 0 && recon == 0
}

// drive runs simulated time: once everything in the bubble has settled,
// the clock jumps to the next timer anyone waits on (the mirror's pacing
// and backoff, the engine's heartbeat), or to the next hook if that comes
// first. It returns when cond holds at a settled moment, failing past
// limit (simulated).
func (h *harness) drive(limit time.Duration, cond func() bool, hooks ...hook) time.Duration {
	h.t.Helper()
	h.mustBubble()
	start := h.clk.Now()
	sort.Slice(hooks, func(a, b int) bool { return hooks[a].at < hooks[b].at })
	for {
		synctest.Wait()
		now := h.clk.Now()
		if len(hooks) > 0 && now.Sub(start) >= hooks[0].at {
			hooks[0].fn()
			hooks = hooks[1:]
			continue
		}
		if len(hooks) == 0 && cond() {
			return now.Sub(start)
		}
		if now.Sub(start) > limit {
			h.t.Fatalf("not done after %s of simulated time: %+v", limit, h.m.Status())
		}
		next, ok := h.nextTimer(now)
		if len(hooks) > 0 {
			if at := start.Add(hooks[0].at); !ok || at.Before(next) {
				next, ok = at, true
			}
		}
		if !ok {
			h.t.Fatalf("nothing waits on the clock and the condition does not hold: %+v", h.m.Status())
		}
		h.clk.Advance(next.Sub(now))
	}
}

// heartbeats runs d of simulated time, stopping at every timer (each of
// the engine's heartbeats, each of the mirror's waits) until everything
// has settled, so the engine never falls behind the clock.
func (h *harness) heartbeats(d time.Duration) {
	h.t.Helper()
	end := h.clk.Now().Add(d)
	h.drive(d+time.Second, func() bool { return !h.clk.Now().Before(end) }, hook{at: d, fn: func() {}})
}

func (h *harness) mustBubble() {
	if !h.bubble {
		h.t.Fatal("drive needs a synctest bubble (inBubble)")
	}
}

// nextTimer is the earliest deadline after now that the engine or the
// mirror waits for.
func (h *harness) nextTimer(now time.Time) (time.Time, bool) {
	a, aok := h.eclk.next(now)
	b, bok := h.mclk.next(now)
	switch {
	case !aok:
		return b, bok
	case !bok || a.Before(b):
		return a, true
	}
	return b, true
}

// timerClock is the shared fake clock as one party (the engine, the
// mirror) sees it: it notes the deadlines that party asked for. A
// deadline stays noted after a wake-up that made it moot; moving the
// clock to it then only stops there once more.
type timerClock struct {
	*clock.Fake
	mu        sync.Mutex
	deadlines []time.Time
}

// After notes the deadline and sets the timer under mu, so advance
// cannot move the clock between the two (the timer would then be due
// later than the deadline noted).
func (c *timerClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadlines = append(c.deadlines, c.Now().Add(d))
	return c.Fake.After(d)
}

// advance moves the clock to this party's next deadline, if any.
func (c *timerClock) advance() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	next, ok := c.nextLocked(now)
	if ok {
		c.Fake.Advance(next.Sub(now))
	}
	return ok
}

// next is the earliest deadline after now; those passed are forgotten.
func (c *timerClock) next(now time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nextLocked(now)
}

func (c *timerClock) nextLocked(now time.Time) (time.Time, bool) {
	kept := c.deadlines[:0]
	var first time.Time
	for _, d := range c.deadlines {
		if d.After(now) {
			kept = append(kept, d)
			if first.IsZero() || d.Before(first) {
				first = d
			}
		}
	}
	c.deadlines = kept
	return first, !first.IsZero()
}

type hook struct {
	at time.Duration
	fn func()
}

// autoDrive advances the clock in the background to the mirror's next
// timer (for the Socket Mode tests, which act in real time). A moot
// deadline only moves the clock a little early.
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
			if h.mclk.advance() {
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

// waitFor waits until cond holds: in a bubble, until everything has
// settled (cond must hold then: nothing else will happen before the clock
// moves); otherwise by polling in real time.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	if h.bubble {
		synctest.Wait()
		if !cond() {
			h.t.Fatalf("settled without %s; mirror %+v", what, h.m.Status())
		}
		return
	}
	end := time.Now().Add(time.Minute) // only catches a hang: a loaded race build is slow
	for !cond() {
		if time.Now().After(end) {
			for _, r := range h.srv.Requests() {
				h.t.Logf("slack: %s %s %d %s", r.Time.Format("15:04:05.000"), r.Method, r.Status, r.Error)
			}
			h.logMu.Lock()
			for _, l := range h.logs {
				h.t.Logf("log: %s", l)
			}
			h.logMu.Unlock()
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
