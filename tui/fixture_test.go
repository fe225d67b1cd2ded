package tui

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

func fp(v float64) *float64 { return &v }

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// The fixture's times: the war room opens at 09:50 PST, T-0 is 10:00 PST
// and the screens are drawn at 10:25:30 PST.
var (
	pst, _   = time.LoadLocation("America/Los_Angeles")
	tOpen    = time.Date(2024, 1, 31, 9, 50, 0, 0, pst)
	tLaunch  = time.Date(2024, 1, 31, 10, 0, 0, 0, pst)
	tNow     = time.Date(2024, 1, 31, 10, 25, 30, 0, pst)
	fixtureN = 8
)

// fixtureConfig is the airdrop war room: eight services like the
// example, one commander and an owner per service.
func fixtureConfig() *config.Config {
	launch := tLaunch.UTC()
	return &config.Config{
		Incident:   config.Incident{Name: "JUP airdrop war room", Launch: &launch, Timezone: "America/Los_Angeles"},
		Escalation: config.Escalation{Backup: dur(5 * time.Minute), Commander: dur(10 * time.Minute)},
		Sources: []config.Source{
			{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:9", Interval: dur(15 * time.Second)},
			{ID: "dd", Type: config.SourceDatadog, APIURL: "http://127.0.0.1:9", Interval: dur(30 * time.Second)},
			{ID: "triton", Type: config.SourceRPC, URL: "http://127.0.0.1:9", Chain: config.ChainSolana, Interval: dur(5 * time.Second), Timeout: dur(3 * time.Second)},
			{ID: "quicknode", Type: config.SourceRPC, URL: "http://127.0.0.1:9", Chain: config.ChainSolana, Interval: dur(5 * time.Second), Timeout: dur(3 * time.Second)},
		},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "tomas", Backup: "nia", Panes: []config.Pane{
				{ID: "rps", Title: "requests/s", Source: "prom", Query: "q", Unit: "req/s", Warn: fp(60000), Crit: fp(75000), Clear: fp(50000), For: dur(time.Minute)},
				{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q", Unit: "s", Warn: fp(0.5), Crit: fp(1), Clear: fp(0.4), For: dur(time.Minute)},
				{ID: "db_conns", Title: "DB connections used", Source: "prom", Query: "q", Unit: "%", Warn: fp(75), Crit: fp(90), Clear: fp(65)},
			}},
			{ID: "history", Name: "History", Owner: "hana", Backup: "ivo", Panes: []config.Pane{
				{ID: "p95", Title: "p95 latency", Source: "dd", Query: "q", Unit: "ms", Warn: fp(2000), Crit: fp(5000)},
				{ID: "db_conns", Title: "DB connections used", Source: "dd", Query: "q", Unit: "%", Warn: fp(75), Crit: fp(90)},
				{ID: "errors_5xx", Title: "5xx rate", Source: "dd", Query: "q", Unit: "err/s", Warn: fp(5), Crit: fp(50)},
			}},
			{ID: "banners", Name: "Banners", Owner: "ben", Panes: []config.Pane{
				{ID: "rps", Title: "requests/s", Source: "prom", Query: "q", Unit: "req/s", Warn: fp(40000), Crit: fp(70000)},
				{ID: "errors_5xx", Title: "5xx rate", Source: "prom", Query: "q", Unit: "%", Warn: fp(1), Crit: fp(5)},
			}},
			{ID: "aws", Name: "AWS DevOps", Owner: "ada", Backup: "dev", Panes: []config.Pane{
				{ID: "nat_ports", Title: "NAT port allocation errors", Source: "dd", Query: "q", Unit: "errors", Warn: fp(1), Crit: fp(100)},
				{ID: "lambda_concurrency", Title: "Lambda concurrency", Source: "dd", Query: "q", Unit: "executions", Warn: fp(20000), Crit: fp(27000)},
			}},
			{ID: "cloudflare", Name: "Cloudflare Security", Owner: "cleo", Panes: []config.Pane{
				{ID: "waf_blocks", Title: "WAF blocks", Source: "prom", Query: "q", Unit: "blocks/s", Warn: fp(500), Crit: fp(5000)},
				{ID: "edge_5xx", Title: "edge 5xx", Source: "prom", Query: "q", Unit: "req/s", Warn: fp(50), Crit: fp(500)},
			}},
			{ID: "triton", Name: "Triton", Owner: "tara", Panes: []config.Pane{
				{ID: "latency", Title: "RPC p95 latency", Source: "triton", Query: "latency_p95", Unit: "ms", Warn: fp(500), Crit: fp(1500)},
				{ID: "lag", Title: "slots behind best", Source: "triton", Query: "lag", Unit: "slots", Warn: fp(10), Crit: fp(50)},
			}},
			{ID: "quicknode", Name: "QuickNode", Owner: "quinn", Backup: "ivo", Panes: []config.Pane{
				{ID: "latency", Title: "RPC p95 latency", Source: "quicknode", Query: "latency_p95", Unit: "ms", Warn: fp(500), Crit: fp(1500)},
				{ID: "throttled", Title: "429s", Source: "quicknode", Query: "rate_429", Unit: "req/s", Warn: fp(1), Crit: fp(20)},
			}},
			{ID: "blowfish", Name: "Blowfish", Owner: "felix", Panes: []config.Pane{
				{ID: "rps", Title: "simulations/s", Source: "prom", Query: "q", Unit: "req/s", Warn: fp(20000), Crit: fp(24000)},
				{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q", Unit: "s", Warn: fp(1), Crit: fp(3)},
			}},
		},
		Roster: []config.Person{
			{Handle: "rosa", Name: "Rosa Iqbal"}, {Handle: "dev", Name: "Dev Okafor"}, {Handle: "lin", Name: "Lin Park"},
			{Handle: "sam", Name: "Sam Moreau"}, {Handle: "tomas", Name: "Tomás Reyes"}, {Handle: "hana", Name: "Hana Sato"},
			{Handle: "ben", Name: "Ben Adler"}, {Handle: "ada", Name: "Ada Nwosu"}, {Handle: "cleo", Name: "Cleo Martin"},
			{Handle: "tara", Name: "Tara Quinlan"}, {Handle: "quinn", Name: "Quinn Harper"}, {Handle: "felix", Name: "Felix Wu"},
			{Handle: "nia", Name: "Nia Brooks"}, {Handle: "ivo", Name: "Ivo Petrov"}, {Handle: "ollie", Name: "Ollie Grant"},
		},
		Roles: config.Roles{Commander: "rosa", Deputy: "dev", Scribe: "lin", Comms: "sam"},
		Slack: &config.Slack{APIURL: "http://127.0.0.1:9/api/", Channel: "C06JUPWAR1"},
	}
}

// stateBuilder applies synthetic events, as the engine would commit them.
type stateBuilder struct {
	st  *incident.State
	cfg *config.Config
}

func (b *stateBuilder) emit(at time.Time, ev incident.Event) incident.Event {
	ev.Seq = b.st.LastSeq + 1
	ev.Time = at.UTC()
	b.st.Apply(ev)
	return ev
}

func (b *stateBuilder) fire(at time.Time, svc, pane string, lvl incident.Level, text string, v, thr float64, unit string) string {
	id := fmt.Sprintf("A%d", b.st.LastSeq+1)
	if a := b.st.OpenAlert(svc, &incident.AlertInfo{Pane: pane}); a != nil {
		id = a.ID
	}
	b.emit(at, incident.Event{Kind: incident.KindAlert, Actor: "rule", Service: svc, Text: text,
		Alert: &incident.AlertInfo{ID: id, Pane: pane, Level: lvl, Value: v, Threshold: thr, Unit: unit, Origin: "rule"}})
	return id
}

func (b *stateBuilder) ack(at time.Time, by, id string) {
	a := b.st.Alerts[id]
	b.emit(at, incident.Event{Kind: incident.KindAck, Actor: by, Service: a.Service, Ref: a.Seq,
		Alert: &incident.AlertInfo{ID: id, Pane: a.Pane, Level: a.Level, Origin: a.Origin},
		Text:  fmt.Sprintf("%s acked %s %s (%s) after %s", by, id, a.Pane, a.Level, incident.Age(at.Sub(a.FiredAt)))})
}

// series feeds n samples every step ending at end, shaped by f(i/n).
func (b *stateBuilder) series(svc, pane string, end time.Time, n int, step time.Duration, f func(x float64) float64) {
	for i := 0; i < n; i++ {
		t := end.Add(-time.Duration(n-1-i) * step)
		b.st.ApplySamples([]incident.Sample{{Service: svc, Pane: pane, Time: t.UTC(), Value: f(float64(i) / float64(n-1))}}, t.UTC())
	}
}

func ramp(from, to float64) func(float64) float64 {
	return func(x float64) float64 { return from + (to-from)*x + (to-from)*0.08*math.Sin(x*23) }
}

// fixtureState is the room at 10:25:30 PST: alerts in several states,
// a stale source, a pane with no series and one still waiting.
func fixtureState(cfg *config.Config) *incident.State {
	b := &stateBuilder{st: incident.NewState(), cfg: cfg}
	setup := roles.FromConfig(cfg)
	launch := tLaunch.UTC()
	room := &incident.RoomInfo{Timezone: cfg.Incident.Timezone, Launch: &launch}
	for _, s := range cfg.Services {
		si := incident.ServiceInfo{ID: s.ID, Name: s.Name}
		for _, p := range s.Panes {
			si.Panes = append(si.Panes, incident.PaneInfo{ID: p.ID, Title: p.Title, Unit: p.Unit, Warn: p.Warn, Crit: p.Crit})
		}
		room.Services = append(room.Services, si)
	}
	b.emit(tOpen, incident.Event{Kind: incident.KindDeclare, Actor: "warroom", Text: cfg.Incident.Name, Setup: &setup, Room: room})
	b.emit(tOpen.Add(2*time.Minute), incident.Event{Kind: incident.KindNote, Actor: "rosa", Text: "rehearsal peaked at 8K req/s; expect 10x at T-0"})
	b.emit(tOpen.Add(4*time.Minute), incident.Event{Kind: incident.KindRole, Actor: "rosa", Service: "history", Text: "ivo is now backup of history",
		Role: &incident.RoleInfo{Role: roles.Backup, Service: "history", Handle: "ivo"}})

	step := 15 * time.Second
	now := tNow
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// Samples (not events): the panes' histories.
	b.series("tokens", "rps", now, 120, step, ramp(8000, 62000))
	b.series("tokens", "p95", now, 120, step, ramp(0.12, 2.3))
	b.series("tokens", "db_conns", now, 120, step, ramp(20, 70))
	b.series("history", "p95", now, 60, 30*time.Second, ramp(300, 1200))
	b.series("history", "db_conns", now, 60, 30*time.Second, ramp(40, 92))
	b.series("history", "errors_5xx", now, 60, 30*time.Second, ramp(0, 2))
	b.series("banners", "rps", now, 120, step, ramp(3000, 31000))
	b.series("banners", "errors_5xx", now, 120, step, ramp(0.1, 0.3))
	// AWS: Datadog is rate-limiting us; the NAT pane is STALE.
	b.series("aws", "nat_ports", ago(4*time.Minute), 50, 30*time.Second, ramp(0, 0))
	b.series("aws", "lambda_concurrency", now, 60, 30*time.Second, ramp(1000, 14000))
	b.st.ApplySamples([]incident.Sample{{Service: "aws", Pane: "nat_ports", Stale: true, Error: "datadog: 429 Too Many Requests (retry in 30s)"}}, ago(20*time.Second).UTC())
	// Cloudflare: the WAF query answers with no series; edge 5xx waits.
	b.st.ApplySamples([]incident.Sample{{Service: "cloudflare", Pane: "waf_blocks", Time: now.UTC(), NoData: true}}, now.UTC())
	b.series("triton", "latency", now, 120, 5*time.Second, ramp(180, 820))
	b.series("triton", "lag", now, 120, 5*time.Second, ramp(0, 4))
	// QuickNode: no answer yet at all (waiting).
	b.series("blowfish", "rps", now, 120, step, ramp(2000, 16500))
	b.series("blowfish", "p95", now, 120, step, ramp(0.2, 0.45))

	// Events, in commit order.
	bf := b.fire(ago(20*time.Minute), "blowfish", "p95", incident.LevelWarn, "p95 latency 1.2s > 1s (warn)", 1.2, 1, "s")
	ba := b.st.Alerts[bf]
	b.emit(ago(16*time.Minute), incident.Event{Kind: incident.KindResolve, Actor: "rule", Service: "blowfish", Ref: ba.Seq,
		Text:  "p95 latency back to 450ms (clear < 1s) after 4m00s",
		Alert: &incident.AlertInfo{ID: bf, Pane: "p95", Level: incident.LevelWarn, Origin: "rule"}})
	// Tokens: requests over warn (acked), p95 crit and unacked for 12m.
	warnID := b.fire(ago(14*time.Minute), "tokens", "rps", incident.LevelWarn, "requests/s 61K req/s > 60K req/s (warn)", 61000, 60000, "req/s")
	b.ack(ago(13*time.Minute), "tomas", warnID)
	p95ID := b.fire(ago(12*time.Minute), "tokens", "p95", incident.LevelCrit, "p95 latency 2.3s > 1s (crit)", 2.3, 1, "s")
	a := b.st.Alerts[p95ID]
	// History: DB connections crit, acked by hana.
	dbID := b.fire(ago(9*time.Minute), "history", "db_conns", incident.LevelCrit, "DB connections used 91% > 90% (crit)", 91, 90, "%")
	b.ack(ago(8*time.Minute), "hana", dbID)
	b.emit(ago(7*time.Minute), incident.Event{Kind: incident.KindEscalate, Actor: "escalation", Service: "tokens", Ref: a.Seq,
		Text:  p95ID + " p95 latency unacked for 5m00s: paging backup nia",
		Alert: &incident.AlertInfo{ID: p95ID, Pane: "p95", Level: incident.LevelCrit, Origin: "rule", To: "nia", Step: 1}})
	b.emit(ago(6*time.Minute+30*time.Second), incident.Event{Kind: incident.KindNote, Actor: "hana", Service: "history", Text: "raising max_connections 400 → 800"})
	b.fire(ago(6*time.Minute), "cloudflare", "waf_blocks", incident.LevelNoData, "WAF blocks NO DATA: the query returned no series", 0, 0, "")
	b.emit(ago(5*time.Minute), incident.Event{Kind: incident.KindImportant, Actor: "lin", Ref: a.Seq, Flag: ptrTrue(), Text: fmt.Sprintf("lin marked #%d important", a.Seq)})
	b.emit(ago(3*time.Minute), incident.Event{Kind: incident.KindSource, Actor: "scheduler", Text: "source dd is rate-limited: 429 Too Many Requests",
		Source: &incident.SourceInfo{ID: "dd", Health: "rate-limited", Error: "429 Too Many Requests"}})
	b.fire(ago(3*time.Minute), "aws", "nat_ports", incident.LevelStale, "NAT port allocation errors STALE: datadog: 429 Too Many Requests", 0, 0, "")
	// Triton: latency over warn for two minutes, unacked.
	b.fire(ago(2*time.Minute), "triton", "latency", incident.LevelWarn, "RPC p95 latency 640ms > 500ms (warn)", 640, 500, "ms")
	b.emit(ago(time.Minute), incident.Event{Kind: incident.KindMirror, Actor: "mirror", Text: "ok"})
	return b.st
}

func ptrTrue() *bool { t := true; return &t }

// fakeEngine records commands and answers them with a canned reply. Its
// feed is a channel the test controls.
type fakeEngine struct {
	cfg    *config.Config
	roster *roles.Roster
	clk    *clock.Fake
	st     *incident.State

	mu    sync.Mutex
	sent  []incident.Command
	reply func(incident.Command) incident.Reply
	feed  chan incident.Update
}

func newFakeEngine() *fakeEngine {
	cfg := fixtureConfig()
	return &fakeEngine{cfg: cfg, roster: roles.NewRoster(cfg.Roster), clk: clock.NewFake(tNow), st: fixtureState(cfg), feed: make(chan incident.Update, 16)}
}

func (f *fakeEngine) Do(_ context.Context, c incident.Command) incident.Reply {
	outsideUpdate("Do")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, c)
	if f.reply != nil {
		return f.reply(c)
	}
	return incident.Reply{Seq: f.st.LastSeq + 1}
}

func (f *fakeEngine) Subscribe(context.Context, int) (*incident.State, *incident.Subscription, error) {
	outsideUpdate("Subscribe")
	return f.st.Clone(), &incident.Subscription{C: f.feed}, nil
}
func (f *fakeEngine) Unsubscribe(*incident.Subscription) { outsideUpdate("Unsubscribe") }
func (f *fakeEngine) Roster() *roles.Roster              { return f.roster }
func (f *fakeEngine) Config() *config.Config             { return f.cfg }
func (f *fakeEngine) Clock() clock.Clock                 { return f.clk }

func (f *fakeEngine) commands() []incident.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]incident.Command(nil), f.sent...)
}

// outsideUpdate panics when the engine is called from inside the model's
// Update or View: a call is a round trip to the engine's goroutine (and
// the journal behind it), which the TUI makes only in Cmds.
func outsideUpdate(what string) {
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, "tui.(*Model).Update") || strings.HasSuffix(f.Function, "tui.(*Model).View") {
			panic("engine." + what + " called inside " + f.Function + ": the TUI calls the engine only in Cmds")
		}
		if !more {
			return
		}
	}
}

// guarded is the real engine, refusing calls from inside Update or View.
type guarded struct{ *incident.Engine }

func (g guarded) Do(ctx context.Context, c incident.Command) incident.Reply {
	outsideUpdate("Do")
	return g.Engine.Do(ctx, c)
}

func (g guarded) Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error) {
	outsideUpdate("Subscribe")
	return g.Engine.Subscribe(ctx, buffer)
}

func (g guarded) Unsubscribe(s *incident.Subscription) {
	outsideUpdate("Unsubscribe")
	g.Engine.Unsubscribe(s)
}

// newTestModel builds a model for handle on the fixture, already holding
// the snapshot, at w×h in the ASCII profile.
func newTestModel(t testing.TB, f *fakeEngine, handle string, w, h int) *Model {
	t.Helper()
	m := New(Options{Engine: f, Handle: handle, Width: w, Height: h, Profile: colorprofile.ASCII, Theme: ThemeDark, NoTick: true})
	st, sub, err := f.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	m.Update(snapshotMsg{st: st, sub: sub})
	m.Update(tickMsg{now: f.clk.Now()})
	return m
}

// asciiView renders the model as the terminal would show it in the ASCII
// profile: colours dropped, text attributes kept.
func asciiView(m *Model) string {
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.ASCII}
	_, _ = w.Write([]byte(m.View().Content))
	return buf.String()
}

// plainView is the screen text without any escape codes.
func plainView(m *Model) string { return ansi.Strip(m.View().Content) }

func kp(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	if strings.HasPrefix(s, "ctrl+") {
		return tea.KeyPressMsg{Code: rune(s[5]), Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	if r >= 'A' && r <= 'Z' {
		return tea.KeyPressMsg{Code: r + 32, ShiftedCode: r, Text: s, Mod: tea.ModShift}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

// press sends keys and runs the resulting commands synchronously, feeding
// their messages back (as the program would). It returns the messages.
func press(m *Model, keys ...string) []tea.Msg {
	var msgs []tea.Msg
	for _, k := range keys {
		_, cmd := m.Update(kp(k))
		msgs = append(msgs, run(m, cmd)...)
	}
	return msgs
}

func typeText(m *Model, s string) {
	for _, r := range s {
		if r == ' ' {
			press(m, "space")
			continue
		}
		press(m, string(r))
	}
}

func run(m *Model, cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, run(m, c)...)
		}
		return out
	case replyMsg, laterMsg:
		_, next := m.Update(msg)
		return append([]tea.Msg{msg}, run(m, next)...)
	default:
		return []tea.Msg{msg}
	}
}
