package incident

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe/hostile"
)

var t0 = time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)

func f(v float64) *float64 { return &v }

// testConfig is a small war room: maya commands, alice owns tokens with
// bob as backup, bob owns history, olga only observes.
func testConfig() *config.Config {
	return &config.Config{
		Incident:   config.Incident{Name: "test launch"},
		Escalation: config.Escalation{Backup: config.Duration(2 * time.Minute), Commander: config.Duration(5 * time.Minute)},
		Sources:    []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", Interval: config.Duration(5 * time.Second), Timeout: config.Duration(10 * time.Second)}},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "alice", Backup: "bob", Panes: []config.Pane{
				{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q1", Unit: "s", Warn: f(0.5), Crit: f(1), Clear: f(0.4), For: config.Duration(10 * time.Second)},
			}},
			{ID: "history", Name: "History", Owner: "bob", Panes: []config.Pane{
				{ID: "rps", Title: "requests/s", Source: "prom", Query: "q2", Unit: "req/s", Crit: f(50000), NoData: config.NoDataAlert},
			}},
		},
		Roster: []config.Person{{Handle: "maya"}, {Handle: "alice"}, {Handle: "bob"}, {Handle: "olga"}, {Handle: "sam"}},
		Roles:  config.Roles{Commander: "maya", Scribe: "sam"},
	}
}

type harness struct {
	t      *testing.T
	e      *Engine
	j      *journal.SQLite
	clk    *clock.Fake
	cancel context.CancelFunc
	path   string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "journal.db")
	return openHarness(t, path, testConfig())
}

func openHarness(t *testing.T, path string, cfg *config.Config) *harness {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t0)
	e, err := New(Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	h := &harness{t: t, e: e, j: j, clk: clk, cancel: cancel, path: path}
	t.Cleanup(h.close)
	// Wait for the declaration to be processed.
	h.state()
	return h
}

func (h *harness) close() {
	h.cancel()
	<-h.e.Done()
	h.j.Close()
}

func (h *harness) do(cmd Command) Reply {
	h.t.Helper()
	return h.e.Do(context.Background(), cmd)
}

func (h *harness) ok(cmd Command) Reply {
	h.t.Helper()
	r := h.do(cmd)
	if r.Err != nil {
		h.t.Fatalf("%T refused: %v", cmd, r.Err)
	}
	return r
}

func (h *harness) refused(cmd Command, want string) {
	h.t.Helper()
	r := h.do(cmd)
	var ref *roles.Refusal
	if !errors.As(r.Err, &ref) {
		h.t.Fatalf("%T: want a refusal containing %q, got %v", cmd, want, r.Err)
	}
	if ref.Reason == "" || !strings.Contains(ref.Reason, want) {
		h.t.Fatalf("%T: refusal %q does not say %q", cmd, ref.Reason, want)
	}
}

func (h *harness) state() *State {
	h.t.Helper()
	s, sub, err := h.e.Subscribe(context.Background(), 1)
	if err != nil {
		h.t.Fatal(err)
	}
	h.e.Unsubscribe(sub)
	return s
}

// observe sends samples and waits until the engine has processed them.
func (h *harness) observe(samples ...Sample) {
	h.t.Helper()
	for i := range samples {
		if samples[i].Time.IsZero() {
			samples[i].Time = h.clk.Now()
		}
	}
	if err := h.e.Submit(context.Background(), Observe{Samples: samples}); err != nil {
		h.t.Fatal(err)
	}
	h.state() // a round trip orders us after the samples
}

// tick moves time on by step and returns once the engine has handled
// every timer that fired: the engine sets its heartbeat again before it
// handles one, so once the clock has as many timers as before, what the
// heartbeat decided is being committed, and a round trip waits for it.
// Without this, a heartbeat could run after the test's next step (a
// command, a change of the journal) and commit in its place.
func (h *harness) tick(step time.Duration) {
	h.t.Helper()
	n := h.clk.Waiters()
	h.clk.Advance(step)
	for deadline := time.Now().Add(10 * time.Second); h.clk.Waiters() < n && time.Now().Before(deadline); {
		select {
		case <-h.e.Done():
			return
		case <-time.After(100 * time.Microsecond):
		}
	}
	h.state()
}

// advance moves time on and lets the engine's heartbeat run.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	for step := time.Second; d > 0; d -= step {
		h.tick(step)
	}
}

func (h *harness) openAlert(service string) *Alert {
	h.t.Helper()
	for _, a := range h.state().OpenAlerts() {
		if a.Service == service {
			return a
		}
	}
	return nil
}

func TestDeclaredOnFirstStartWithConfiguredRoles(t *testing.T) {
	h := newHarness(t)
	s := h.state()
	if s.Name != "test launch" || s.LastSeq != 1 || s.Recent[0].Kind != KindDeclare {
		t.Fatalf("want a DECLARE as #1, got %+v", s.Recent)
	}
	if s.Roles.Commander != "maya" || s.Roles.Services["tokens"].Primary != "alice" || s.Roles.Services["tokens"].Backup != "bob" {
		t.Fatalf("roles not set from config: %+v", s.Roles)
	}
	h.refused(Declare{By: "maya", Name: "again"}, "already declared")
}

func TestPermissions(t *testing.T) {
	h := newHarness(t)
	h.ok(fire("tokens", LevelCrit, "claims failing"))
	h.ok(fire("history", LevelWarn, "slow"))
	tok, hist := h.openAlert("tokens"), h.openAlert("history")

	h.refused(Ack{By: "olga", AlertID: tok.ID}, "olga cannot ack tokens alerts")
	h.refused(Ack{By: "nobody", AlertID: tok.ID}, "not on the roster")
	h.refused(Ack{By: "alice", AlertID: hist.ID}, "alice cannot ack history alerts: bob owns history")
	h.refused(Note{By: "olga", Text: "hi"}, "observer")
	h.refused(Assign{By: "alice", Role: roles.Deputy, Handle: "olga"}, "only the commander")
	h.refused(MarkImportant{By: "alice", Seq: 1, Important: true}, "only the commander, deputy or scribe")
	h.refused(Ack{By: "maya", AlertID: "A999"}, "no alert A999")

	// The backup and the commander may ack.
	h.ok(Ack{By: "bob", AlertID: tok.ID})
	h.refused(Ack{By: "alice", AlertID: tok.ID}, "already acked by bob")
	h.ok(Ack{By: "maya", AlertID: hist.ID})
	h.ok(MarkImportant{By: "sam", Seq: 2, Important: true})
	if !h.state().Important[2] {
		t.Fatal("event #2 should be important")
	}
	h.ok(Resolve{By: "alice", AlertID: tok.ID, Reason: "fixed"})
	h.refused(Ack{By: "maya", AlertID: tok.ID}, "already resolved")
}

func TestCommandHandoffTakesEffectOnlyOnAcceptance(t *testing.T) {
	h := newHarness(t)
	h.refused(OfferCommand{By: "alice", To: "bob"}, "only the commander")
	h.ok(OfferCommand{By: "maya", To: "alice"})
	h.refused(OfferCommand{By: "maya", To: "bob"}, "already offered to alice")
	if s := h.state(); s.Roles.Commander != "maya" || s.Roles.Offer == nil || s.Roles.Offer.To != "alice" {
		t.Fatalf("before acceptance maya stays in command with an offer to alice: %+v", s.Roles)
	}
	// Only the old commander can still assign.
	h.refused(Assign{By: "alice", Role: roles.Deputy, Handle: "bob"}, "only the commander")
	h.refused(AcceptCommand{By: "bob"}, "offer is for alice")
	h.ok(DeclineCommand{By: "alice", Reason: "on a call"})
	if s := h.state(); s.Roles.Commander != "maya" || s.Roles.Offer != nil {
		t.Fatalf("decline keeps maya: %+v", s.Roles)
	}
	h.refused(AcceptCommand{By: "alice"}, "no pending command offer")
	h.ok(OfferCommand{By: "maya", To: "alice"})
	h.ok(AcceptCommand{By: "alice"})
	s := h.state()
	if s.Roles.Commander != "alice" || s.Roles.Offer != nil {
		t.Fatalf("after acceptance alice commands: %+v", s.Roles)
	}
	h.refused(Assign{By: "maya", Role: roles.Deputy, Handle: "bob"}, "only the commander (alice)")
	h.ok(Assign{By: "alice", Role: roles.Deputy, Handle: "maya"})
	h.refused(Assign{By: "alice", Role: roles.Commander, Handle: "bob"}, "only by an offer")
	want := []Kind{KindOffer, KindDecline, KindOffer, KindAccept, KindRole}
	var got []Kind
	for _, e := range s.Recent[1:] {
		got = append(got, e.Kind)
	}
	got = append(got, KindRole)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
}

func TestHandoffKeepsTheOldCommanderAsDeputy(t *testing.T) {
	h := newHarness(t)
	h.ok(Assign{By: "maya", Role: roles.Deputy, Handle: "alice"})
	h.refused(OfferCommand{By: "maya", To: "alice", Stay: roles.Scribe}, "stays on as deputy or steps down")
	// The deputy takes command; maya stays on as deputy.
	h.ok(OfferCommand{By: "maya", To: "alice", Stay: roles.Deputy})
	h.ok(AcceptCommand{By: "alice"})
	s := h.state()
	if s.Roles.Commander != "alice" || s.Roles.Deputy != "maya" {
		t.Fatalf("after the handoff: %+v", s.Roles)
	}
	last := s.Recent[len(s.Recent)-1]
	if last.Kind != KindRole || last.Actor != "maya" || last.Text != "maya is now deputy after handing command to alice" {
		t.Fatalf("the deputy change is maya's choice: %s (by %s)", last.Line(), last.Actor)
	}
	// Stepping down: the new commander leaves the deputy slot empty.
	h.ok(Assign{By: "alice", Role: roles.Deputy, Handle: "bob"})
	h.ok(OfferCommand{By: "alice", To: "bob"})
	h.ok(AcceptCommand{By: "bob"})
	if s := h.state(); s.Roles.Commander != "bob" || s.Roles.Deputy != "" || s.Roles.Commander == "alice" {
		t.Fatalf("alice steps down, bob leaves the deputy slot: %+v", s.Roles)
	}
}

func TestThresholdRuleWithForClearAndEscalation(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.2})
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.7})
	if a := h.openAlert("tokens"); a != nil {
		t.Fatalf("fired before `for` elapsed: %+v", a)
	}
	h.advance(5 * time.Second)
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.8})
	h.advance(5 * time.Second)
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.8})
	a := h.openAlert("tokens")
	if a == nil || a.Level != LevelWarn {
		t.Fatalf("want a warn alert after 10s over 0.5, got %+v", a)
	}
	if !strings.Contains(a.Text, "p95 latency 800ms > 500ms (warn)") {
		t.Fatalf("alert text %q", a.Text)
	}
	// Hysteresis: below warn but above clear keeps it open.
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.45})
	if h.openAlert("tokens") == nil {
		t.Fatal("resolved above the clear level")
	}
	// Escalation: backup after 2m, commander after 5m.
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.6})
	h.advance(2 * time.Minute)
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.6})
	h.advance(3 * time.Minute)
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.6})
	var esc []string
	for _, e := range h.state().Recent {
		if e.Kind == KindEscalate && e.Service == "tokens" {
			esc = append(esc, e.Alert.To)
		}
	}
	if strings.Join(esc, ",") != "bob,maya" {
		t.Fatalf("escalations %v, want bob then maya", esc)
	}
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.3})
	if a := h.openAlert("tokens"); a != nil {
		t.Fatalf("still open below clear: %+v", a)
	}
	last := h.state().Recent
	if e := last[len(last)-1]; e.Kind != KindResolve || e.Actor != "rule" {
		t.Fatalf("want a RESOLVE by rule, got %s", e.Line())
	}
}

func TestNoDataClearSaysDataIsBack(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 100})
	h.observe(Sample{Service: "history", Pane: "rps", NoData: true})
	h.observe(Sample{Service: "history", Pane: "rps", Value: 87})
	if a := h.openAlert("history"); a != nil {
		t.Fatalf("data back under warn resolves NO DATA: %+v", a)
	}
	e := h.state().Recent[len(h.state().Recent)-1]
	if e.Kind != KindResolve || !strings.Contains(e.Text, "data is back (87") || strings.Contains(e.Text, "clear") {
		t.Fatalf("a NO DATA clear says the data is back, not a threshold: %s", e.Line())
	}
}

func TestStaleAndNoDataAreTheirOwnStates(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 100})
	h.observe(Sample{Service: "history", Pane: "rps", NoData: true})
	if a := h.openAlert("history"); a == nil || a.Level != LevelNoData {
		t.Fatalf("want NO DATA, got %+v", a)
	}
	h.observe(Sample{Service: "history", Pane: "rps", Value: 60000})
	if a := h.openAlert("history"); a == nil || a.Level != LevelCrit {
		t.Fatalf("want crit after data returns over crit, got %+v", a)
	}
	// The source goes silent: the watchdog marks it stale after
	// interval (5s) + timeout (10s) + 1s, but a crit alert stays crit.
	h.advance(17 * time.Second)
	if a := h.openAlert("history"); a == nil || a.Level != LevelCrit {
		t.Fatalf("crit must not be downgraded by staleness, got %+v", a)
	}
	// The tokens pane never answered at all: it is STALE, never OK. A
	// dead source opens one alert that lists the panes it blanks, not
	// one per pane.
	src := h.openAlert("")
	if src == nil || src.Level != LevelStale || src.Origin != "source" || !strings.Contains(src.Text, "STALE") ||
		strings.Join(src.Panes, ",") != "tokens/p95,history/rps" {
		t.Fatalf("want one source alert for both panes, got %+v", src)
	}
	if a := h.openAlert("tokens"); a != nil {
		t.Fatalf("a STALE pane has no alert of its own: %+v", a)
	}
	if p := h.state().Panes["tokens/p95"]; p != nil && p.HasData {
		t.Fatalf("tokens never answered: %+v", p)
	}
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.1}, Sample{Service: "history", Pane: "rps", Value: 100})
	if a := h.openAlert(""); a != nil {
		t.Fatalf("fresh data resolves the source alert: %+v", a)
	}
	if e := h.state().Recent[len(h.state().Recent)-1]; e.Kind != KindResolve || !strings.Contains(e.Text, "source prom answers again") {
		t.Fatalf("a source alert's clear says the source answers again: %s", e.Line())
	}
	// An explicit stale report from the scheduler greys the pane at once;
	// the source alert waits one watchdog period, and carries the error.
	h.observe(Sample{Service: "tokens", Pane: "p95", Stale: true, Error: "context deadline exceeded"})
	if a := h.openAlert(""); a != nil {
		t.Fatalf("one failed poll is not yet an alert: %+v", a)
	}
	h.advance(16 * time.Second)
	if a := h.openAlert(""); a == nil || !strings.Contains(a.Text, "deadline exceeded") {
		t.Fatalf("want the source alert with the error, got %+v", a)
	}
}

func TestImportedAlertsJoinTheList(t *testing.T) {
	h := newHarness(t)
	h.ok(ImportAlerts{Origin: "datadog", Complete: true, Alerts: []ExternalAlert{
		{Key: "1:*", Service: "tokens", Name: "DB connections", Level: LevelCrit, Firing: true},
		{Key: "2:*", Service: "mystery", Name: "odd monitor", Level: "Skipped", Firing: true},
	}})
	open := h.state().OpenAlerts()
	if len(open) != 2 || open[0].Level != LevelCrit || open[1].Level != LevelUnknown || open[1].Service != "" || open[1].Pages() {
		t.Fatalf("imported alerts: %+v %+v", open[0], open[1])
	}
	h.ok(ImportAlerts{Origin: "datadog", Complete: true, Alerts: []ExternalAlert{
		{Key: "2:*", Service: "mystery", Name: "odd monitor", Level: "Skipped", Firing: true},
	}})
	if open := h.state().OpenAlerts(); len(open) != 1 {
		t.Fatalf("a monitor gone from the complete set resolves: %d open", len(open))
	}
}

func TestReplayRestoresState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	h := openHarness(t, path, testConfig())
	h.ok(fire("tokens", LevelCrit, "x"))
	id := h.openAlert("tokens").ID
	h.ok(Ack{By: "alice", AlertID: id})
	h.ok(OfferCommand{By: "maya", To: "alice"})
	before := h.state()
	h.close()

	h2 := openHarness(t, path, testConfig())
	after := h2.state()
	if after.LastSeq != before.LastSeq || after.Roles.Offer == nil || after.Alerts[id].AckedBy != "alice" {
		t.Fatalf("replay lost state: %+v", after)
	}
	if got := after.Recent[0].Kind; got != KindDeclare {
		t.Fatalf("first event %s", got)
	}
	if n := len(after.Recent); n != 4 {
		t.Fatalf("a restart must not re-declare: %d events", n)
	}
}

func TestSilentSubscriberDoesNotSlowTheEngine(t *testing.T) {
	h := newHarness(t)
	_, stuck, err := h.e.Subscribe(context.Background(), 4)
	if err != nil {
		t.Fatal(err)
	}
	_, live, err := h.e.Subscribe(context.Background(), 4096)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	for i := 0; i < n; i++ {
		if r := h.do(Note{By: "maya", Text: "note"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	// The stuck reader was dropped and told to resync; the engine kept
	// answering and the live reader got everything.
	drained := 0
	for range stuck.C {
		drained++
	}
	if !stuck.Lagged() || drained != 4 {
		t.Fatalf("stuck reader: lagged=%v drained=%d", stuck.Lagged(), drained)
	}
	got := 0
	for got < n {
		u := <-live.C
		got += len(u.Events)
	}
	if live.Lagged() {
		t.Fatal("live reader must not be dropped")
	}
}

func TestEventLineFormat(t *testing.T) {
	e := Event{Seq: 42, Time: time.Date(2026, 1, 31, 18, 4, 5, 0, time.UTC), Kind: KindAlert, Service: "tokens", Text: "p95 latency 2.3s > 1s (crit)"}
	if got, want := e.Line(), "#42 2026-01-31T18:04:05Z ALERT tokens p95 latency 2.3s > 1s (crit)"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	e.Service, e.Text = "", "two\nlines"
	if got := e.Line(); strings.Contains(got, "\n") || !strings.Contains(got, " - ") {
		t.Fatalf("line %q", got)
	}
	// Headless output, ssh tail and the playbook CLI all print Line: no
	// hostile byte from a webhook or a note reaches the terminal raw.
	for _, h := range hostile.Corpus {
		e := Event{Seq: 7, Time: t0, Kind: KindAlert, Service: h, Text: h}
		if bad := hostile.Find([]byte(e.Line())); bad != "" {
			t.Errorf("Line of %q: %s", h, bad)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{{2.3, "s", "2.3s"}, {0.43, "s", "430ms"}, {90000, "req/s", "90K req/s"}, {2.126, "%", "2.13%"}, {477e6, "", "477M"}, {480, "conns", "480 conns"},
		{1, "slots", "1 slot"}, {1, "conns", "1 conn"}, {2, "slots", "2 slots"}, {1, "req/s", "1 req/s"}, {1, "/min", "1 /min"}, {1.002, "errors", "1 error"}} {
		if got := FormatValue(c.v, c.unit); got != c.want {
			t.Errorf("FormatValue(%v,%q)=%q want %q", c.v, c.unit, got, c.want)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 alerts", 1: "1 alert", 2: "2 alerts"} {
		if got := Plural(n, "alert"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNonFiniteValuesNeverBreakTheEngine(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "history", Pane: "rps", Value: math.Inf(1)})
	a := h.openAlert("history")
	if a == nil || a.Level != LevelCrit {
		t.Fatalf("+Inf is a breach: %+v", a)
	}
	h.observe(Sample{Service: "tokens", Pane: "p95", Value: math.NaN()})
	if p := h.state().Panes["tokens/p95"]; p == nil || !p.NoData || h.openAlert("tokens") != nil {
		t.Fatalf("NaN is no data (shown, no alert with no_data: show): %+v", p)
	}
	h.ok(Note{By: "maya", Text: "still alive"})
}

func TestEscalationCountsFromTheUpgradeThatClearedTheAck(t *testing.T) {
	h := newHarness(t)
	h.observe(Sample{Service: "history", Pane: "rps", NoData: true})
	a := h.openAlert("history")
	h.ok(Ack{By: "bob", AlertID: a.ID})
	h.advance(6 * time.Minute)
	h.observe(Sample{Service: "history", Pane: "rps", Value: 90000})
	a = h.openAlert("history")
	if a.Level != LevelCrit || a.Acked() || a.Escalated != 0 {
		t.Fatalf("upgrade to crit must clear the ack without paging at once: %+v", a)
	}
	h.advance(time.Minute + 58*time.Second)
	if a := h.openAlert("history"); a.Escalated != 0 {
		t.Fatalf("escalated before the backup delay (2m) after the upgrade: %+v", a)
	}
	h.advance(3 * time.Second)
	if a := h.openAlert("history"); a.Escalated != 2 {
		t.Fatalf("history has no backup: the commander is paged at the backup delay after the upgrade, got step %d", a.Escalated)
	}
}

// The live state is exactly the fold of the journal: replaying gives the
// same alerts, roles, sources and marks.
func TestStateIsAFoldOfTheJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fold.db")
	h := openHarness(t, path, testConfig())
	h.e.Submit(context.Background(), ReportSource{Info: SourceInfo{ID: "prom", Health: "up"}})
	h.observe(Sample{Service: "history", Pane: "rps", Value: 60000})
	h.ok(fire("tokens", LevelWarn, "slow claims"))
	h.e.Submit(context.Background(), ReportSource{Info: SourceInfo{ID: "prom", Health: "down", Error: "boom"}})
	h.ok(Ack{By: "bob", AlertID: h.openAlert("history").ID})
	h.ok(OfferCommand{By: "maya", To: "alice"})
	h.ok(AcceptCommand{By: "alice"})
	h.ok(MarkImportant{By: "sam", Seq: 2, Important: true})
	h.e.Submit(context.Background(), ReportSource{Info: SourceInfo{ID: "dd", Health: "up"}}) // not news: no event
	h.advance(3 * time.Minute)
	live := h.state()
	h.close()

	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	e, err := New(Options{Config: testConfig(), Journal: j, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	re := e.state
	if re.LastSeq != live.LastSeq || re.Roles.Commander != live.Roles.Commander || len(re.Alerts) != len(live.Alerts) ||
		len(re.Important) != len(live.Important) || len(re.Sources) != len(live.Sources) || re.Sources["prom"].Health != "down" {
		t.Fatalf("replayed state differs from the live one:\nlive %+v\nreplayed %+v", live, re)
	}
	for id, a := range live.Alerts {
		b := re.Alerts[id]
		if b == nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("alert %s: live %+v replayed %+v", id, a, b)
		}
	}
	if !reflect.DeepEqual(live.Groups, re.Groups) || !reflect.DeepEqual(live.Pages, re.Pages) {
		t.Fatalf("groups or pages differ:\nlive %+v %+v\nreplayed %+v %+v", live.Groups, live.Pages, re.Groups, re.Pages)
	}
}

// fire is the ImportAlerts Alertmanager's webhook submits when one alert
// named name starts firing on service (incidenttest.Firing, which the
// other packages' tests use; this package's tests cannot import it).
func fire(service string, lvl Level, name string) ImportAlerts {
	return ImportAlerts{Origin: "alertmanager", Via: "webhook", Alerts: []ExternalAlert{{
		Key: service + "/" + name, Service: service, Name: name, Level: lvl, Firing: true, Rule: "alertname:" + name}}}
}
