package incident

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
)

// Tests of the alert pipeline: NO DATA policy, quiet alerts, identity,
// groups, escalation per group and pages per person.

func (h *harness) events(kind Kind) []Event {
	h.t.Helper()
	var out []Event
	for _, e := range h.state().Recent {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// advanceFresh moves time on while every pane of signalConfig answers
// with a healthy value, so no source alert gets in the way.
func (h *harness) advanceFresh(d time.Duration) {
	h.t.Helper()
	for step := time.Second; d > 0; d -= step {
		h.tick(step)
		h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.1}, Sample{Service: "history", Pane: "rps", Value: 10},
			Sample{Service: "tokens", Pane: "errors", NoData: true}, Sample{Service: "tokens", Pane: "throttles", NoData: true})
	}
}

func (h *harness) imp(c ImportAlerts) {
	h.t.Helper()
	h.ok(c)
}

// signalConfig adds panes with each no_data policy to the test room.
func signalConfig() *config.Config {
	c := testConfig()
	c.Services[0].Panes = append(c.Services[0].Panes,
		config.Pane{ID: "errors", Title: "5xx rate", Source: "prom", Query: `sum(rate(http_requests_total{code=~"5.."}[1m]))`, Unit: "%", Warn: f(1), Crit: f(5), NoData: config.NoDataZero},
		config.Pane{ID: "throttles", Title: "Lambda throttles", Source: "prom", Query: `sum(rate(aws_lambda_throttles_total[1m]))`, Warn: f(10), Crit: f(100), NoData: config.NoDataShow,
			Alerts: []string{"monitor_id=10004"}},
	)
	return c
}

func signalHarness(t *testing.T) *harness {
	t.Helper()
	return openHarness(t, filepath.Join(t.TempDir(), "j.db"), signalConfig())
}

func TestNoDataPolicies(t *testing.T) {
	h := signalHarness(t)
	// show (the default): grey NO DATA, no alert, ever.
	h.observe(Sample{Service: "tokens", Pane: "throttles", NoData: true}, Sample{Service: "tokens", Pane: "p95", NoData: true})
	// zero: a lazily created series that has not counted anything is 0.
	h.observe(Sample{Service: "tokens", Pane: "errors", NoData: true})
	// alert: an empty answer opens an alert.
	h.observe(Sample{Service: "history", Pane: "rps", NoData: true})
	s := h.state()
	if p := s.Panes["tokens/throttles"]; !p.NoData || p.HasData {
		t.Fatalf("show: %+v", p)
	}
	if p := s.Panes["tokens/errors"]; p.NoData || !p.HasData || p.Value != 0 {
		t.Fatalf("zero: %+v", p)
	}
	if a := h.openAlert("tokens"); a != nil {
		t.Fatalf("show and zero open no alert: %+v", a)
	}
	if a := h.openAlert("history"); a == nil || a.Level != LevelNoData || !a.Pages() {
		t.Fatalf("alert: %+v", a)
	}
	// zero still alerts on real values.
	for range 3 {
		h.observe(Sample{Service: "tokens", Pane: "errors", Value: 9})
	}
	if a := h.openAlert("tokens"); a == nil || a.Level != LevelCrit || a.Pane != "errors" {
		t.Fatalf("zero pane over crit: %+v", a)
	}
}

func TestQuietAlertsNeverEscalate(t *testing.T) {
	h := signalHarness(t)
	start := h.clk.Now()
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: []ExternalAlert{
		{Key: "fp1", Service: "tokens", Name: "Watchdog", Level: LevelInfo, Firing: true, Rule: "alertname:Watchdog"},
		{Key: "fp2", Service: "tokens", Name: "Odd", Level: "weird", Firing: true},
		{Key: "fp3", Service: "history", Name: "DiskFull", Level: LevelCrit, Firing: true, Silenced: "silenced in Alertmanager (silence 42)"},
	}})
	for h.clk.Now().Sub(start) < 11*time.Minute {
		h.observe(Sample{Service: "tokens", Pane: "p95", Value: 0.1}, Sample{Service: "history", Pane: "rps", Value: 10},
			Sample{Service: "tokens", Pane: "errors", NoData: true}, Sample{Service: "tokens", Pane: "throttles", NoData: true})
		h.advance(5 * time.Second)
	}
	if esc, pages := h.events(KindEscalate), h.events(KindPage); len(esc)+len(pages) != 0 {
		t.Fatalf("quiet alerts escalated: %v %v", esc, pages)
	}
	open := h.state().OpenAlerts()
	if len(open) != 3 {
		t.Fatalf("quiet alerts are shown: %d open", len(open))
	}
	for _, a := range open {
		if a.Pages() || !a.Quiet() || a.Owner != "" {
			t.Errorf("%s pages=%v quiet=%v owner=%q", a.Pane, a.Pages(), a.Quiet(), a.Owner)
		}
	}
	// Unsilenced in Alertmanager: now it asks someone to act.
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Alerts: []ExternalAlert{{Key: "fp3", Service: "history", Name: "DiskFull", Level: LevelCrit, Firing: true}}})
	if a := h.openAlert("history"); a == nil || !a.Pages() || !strings.Contains(h.events(KindAlert)[3].Text, "no longer silenced") {
		t.Fatalf("unsilenced: %+v", a)
	}
}

// One rule seen through Prometheus' API and Alertmanager's webhook has one
// key (the label-set fingerprint) in one origin: one alert. A poll does
// not resolve what the webhook brought; Alertmanager's own API does.
func TestOneAlertAcrossImportPaths(t *testing.T) {
	h := signalHarness(t)
	starts := h.clk.Now().Add(-90 * time.Second)
	x := ExternalAlert{Key: "f37422b6f6cbe0dc", Service: "tokens", Name: "HighLatency", Level: LevelCrit, Firing: true, StartsAt: starts, Rule: "alertname:HighLatency"}
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: []ExternalAlert{x}})
	h.imp(ImportAlerts{Origin: "prometheus", Via: "webhook", Alerts: []ExternalAlert{x}})
	if n := len(h.events(KindAlert)); n != 1 {
		t.Fatalf("%d ALERT events for one rule", n)
	}
	a := h.openAlert("tokens")
	if !a.StartsAt.Equal(starts) || !strings.Contains(a.Text, "since 13:58:30Z (1m30s before it arrived)") {
		t.Fatalf("origin start: %v %q", a.StartsAt, a.Text)
	}
	// Another Prometheus' alert, known only through the webhook.
	y := ExternalAlert{Key: "0000000000000abc", Service: "tokens", Name: "OtherCluster", Level: LevelWarn, Firing: true}
	h.imp(ImportAlerts{Origin: "prometheus", Via: "webhook", Alerts: []ExternalAlert{y}})
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: []ExternalAlert{x}})
	if n := len(h.state().OpenAlerts()); n != 2 {
		t.Fatalf("a poll resolved an alert it never reported: %d open", n)
	}
	// Resolved by the webhook with Alertmanager's endsAt.
	ends := h.clk.Now().Add(-20 * time.Second)
	x.Firing, x.EndsAt = false, ends
	h.imp(ImportAlerts{Origin: "prometheus", Via: "webhook", Alerts: []ExternalAlert{x}})
	if r := h.events(KindResolve); len(r) != 1 || !r[0].Alert.EndsAt.Equal(ends) || !strings.Contains(r[0].Text, "resolved after 1m10s · ended 13:59:40Z, 20s before it arrived") {
		t.Fatalf("resolve: %+v", r)
	}
	// Alertmanager's API is the authority: its complete set resolves all.
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Authoritative: true})
	if n := len(h.state().OpenAlerts()); n != 0 {
		t.Fatalf("authoritative empty set leaves %d open", n)
	}
	lives := NewAlertLives()
	for _, e := range h.state().Recent {
		lives.Apply(e)
	}
	if l := lives.List()[0]; !l.FiredAt.Equal(starts) || !l.ResolvedAt.Equal(ends) {
		t.Fatalf("postmortem times are the origin's: fired %v resolved %v", l.FiredAt, l.ResolvedAt)
	}
}

// A pane's threshold alert, a Datadog monitor named by the pane's alerts:
// matchers and a Prometheus rule on the pane's metric are one group: one
// escalation, one ack.
func TestGroupAcksAndEscalatesAsOne(t *testing.T) {
	h := signalHarness(t)
	for range 2 {
		h.observe(Sample{Service: "tokens", Pane: "throttles", Value: 500})
	}
	h.imp(ImportAlerts{Origin: "datadog", Complete: true, Alerts: []ExternalAlert{{Key: "10004/functionname:tokens", Service: "tokens",
		Name: "Lambda throttles on tokens", Level: LevelCrit, Firing: true, Labels: map[string]string{"monitor_id": "10004"}, Rule: "monitor:10004"}}})
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: []ExternalAlert{{Key: "fpT", Service: "tokens",
		Name: "LambdaThrottling", Level: LevelWarn, Firing: true, Metrics: []string{"aws_lambda_throttles_total"}, Rule: "alertname:LambdaThrottling"}}})
	h.imp(ImportAlerts{Origin: "prometheus", Via: "poll", Complete: true, Alerts: []ExternalAlert{{Key: "fpT", Service: "tokens",
		Name: "LambdaThrottling", Level: LevelWarn, Firing: true, Metrics: []string{"aws_lambda_throttles_total"}, Rule: "alertname:LambdaThrottling"},
		{Key: "fpO", Service: "tokens", Name: "Other", Level: LevelWarn, Firing: true, Metrics: []string{"other_total"}, Rule: "alertname:Other"}}})
	s := h.state()
	g := s.Groups["tokens/throttles"]
	if g == nil || g.Size() != 3 || g.Unacked != 3 {
		t.Fatalf("group %+v", g)
	}
	if o := s.Groups["tokens/alertname:Other"]; o == nil || o.Size() != 1 {
		t.Fatalf("an unrelated rule has its own group: %+v", s.Groups)
	}
	h.advance(2 * time.Minute)
	esc := h.events(KindEscalate)
	if len(esc) != 2 || esc[1].Alert.Group != "tokens/throttles" || esc[1].Alert.Count != 3 || esc[1].Alert.To != "bob" ||
		!strings.Contains(esc[1].Text, "and 2 more alerts unacked for 2m00s: escalated to backup bob") || esc[0].Alert.Group != "tokens/alertname:Other" {
		t.Fatalf("one escalation per group: %+v", esc)
	}
	pages := h.events(KindPage)
	if len(pages) != 1 || pages[0].Page.To != "bob" || len(pages[0].Page.Items) != 2 {
		t.Fatalf("bob gets one page naming both groups: %+v", pages)
	}
	// Acking one member (the pane's alert) acks the group.
	h.ok(Ack{By: "alice", AlertID: s.Members(g)[0].ID})
	if n := len(h.events(KindAck)); n != 3 {
		t.Fatalf("%d ACK events, want one per member", n)
	}
	if g := h.state().Groups["tokens/throttles"]; g.Unacked != 0 || g.UnackedSince.IsZero() == false {
		t.Fatalf("acked group: %+v", g)
	}
	h.refused(Ack{By: "alice", AlertID: s.Members(g)[1].ID}, "already acked")
	h.advance(4 * time.Minute)
	for _, e := range h.events(KindEscalate) {
		if e.Alert.Group == "tokens/throttles" && e.Alert.Step == 2 {
			t.Fatalf("an acked group escalated: %s", e.Line())
		}
	}
}

// Escalation honesty: for a service without a backup the commander is
// paged at the backup delay, and the group says Escalated only once the
// ESCALATE event exists.
func TestNoBackupPagesTheCommanderAtTheBackupDelay(t *testing.T) {
	h := signalHarness(t)
	h.ok(fire("history", LevelCrit, "claims failing"))
	a := h.openAlert("history")
	if a.Owner != "bob" {
		t.Fatalf("the owner is told when it fires: %+v", a)
	}
	h.advanceFresh(2*time.Minute - time.Second)
	if g := h.state().Groups[a.Group]; g.Escalated != 0 || len(h.events(KindEscalate)) != 0 {
		t.Fatalf("escalated before the backup delay: %+v", g)
	}
	h.advanceFresh(time.Second)
	s := h.state()
	esc := h.events(KindEscalate)
	if g := s.Groups[a.Group]; g.Escalated != 2 || g.EscalatedTo != "maya" || len(esc) != 1 || !strings.Contains(esc[0].Text, "escalated to commander maya") {
		t.Fatalf("commander at the backup delay: %+v %v", g, esc)
	}
	if p := h.events(KindPage); len(p) != 1 || p[0].Page.To != "maya" || p[0].Time.Sub(t0) != 2*time.Minute {
		t.Fatalf("page: %+v", p)
	}
	h.advanceFresh(5 * time.Minute)
	if n := len(h.events(KindEscalate)); n != 1 {
		t.Fatalf("the commander is paged once: %d escalations", n)
	}
}

// A storm: one Alertmanager group of 300 alerts on one service is one
// alert group: at most 3 pages in its first 3 minutes (backup, commander).
func TestStormOfOneRulePagesPeopleNotAlerts(t *testing.T) {
	h := signalHarness(t)
	var xs []ExternalAlert
	for i := range 300 {
		xs = append(xs, ExternalAlert{Key: fmt.Sprintf("fp%03d", i), Service: "tokens", Name: "DiskFull", Level: LevelWarn, Firing: true,
			Rule: "alertname:DiskFull", Labels: map[string]string{"alertname": "DiskFull", "instance": fmt.Sprintf("host-%d", i)}})
	}
	h.imp(ImportAlerts{Origin: "prometheus", Via: "webhook", Alerts: xs})
	h.advanceFresh(3 * time.Minute)
	pages := h.events(KindPage)
	if len(pages) > 3 {
		t.Fatalf("%d pages in the first 3 minutes", len(pages))
	}
	if len(pages) != 1 || pages[0].Page.To != "bob" || !strings.Contains(pages[0].Text, "(+299 more)") {
		t.Fatalf("pages: %+v", pages)
	}
	if esc := h.events(KindEscalate); len(esc) != 1 || esc[0].Alert.Count != 300 {
		t.Fatalf("escalations: %+v", esc)
	}
}

// Pages go to people: one page per person per minute, naming everything
// newly escalated to them. After a restart with 8,000 open alerts past
// their delays, the number of pages grows with the roster, not the alerts.
func TestRestartWithManyOpenAlertsPagesEachPersonAtMostOncePerMinute(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	h := openHarness(t, path, signalConfig())
	var xs []ExternalAlert
	for i := range 8000 {
		svc := []string{"tokens", "history"}[i%2]
		xs = append(xs, ExternalAlert{Key: fmt.Sprintf("m%d/g", i), Service: svc, Name: fmt.Sprintf("monitor %d", i), Level: LevelCrit, Firing: true,
			Rule: fmt.Sprintf("monitor:%d", i)})
	}
	h.imp(ImportAlerts{Origin: "datadog", Complete: true, Alerts: xs})
	h.close()

	h = openHarness(t, path, signalConfig())
	h.clk.Advance(30 * time.Minute) // the room was down past every delay
	for range 5 * 60 {
		h.tick(time.Second)
		h.sync()
	}
	perMinute := map[string]map[int64]int{}
	var esc int
	for _, e := range h.journalEvents() {
		switch e.Kind {
		case KindEscalate:
			esc++
		case KindPage:
			m := perMinute[e.Page.To]
			if m == nil {
				m = map[int64]int{}
				perMinute[e.Page.To] = m
			}
			m[e.Time.Unix()/60]++
			if m[e.Time.Unix()/60] > 1 {
				t.Fatalf("%s paged twice in one minute", e.Page.To)
			}
		}
	}
	if len(perMinute) == 0 || len(perMinute) > 3 || esc == 0 {
		t.Fatalf("pages per person: %v (%d escalations)", perMinute, esc)
	}
	total := 0
	for _, m := range perMinute {
		for _, n := range m {
			total += n
		}
	}
	// 5 minutes, 3 people who can be paged (bob, maya; alice owns).
	if total > 3*6 {
		t.Fatalf("%d pages", total)
	}
	t.Logf("8,000 alerts: %d escalations, %d pages to %d people in 5 minutes", esc, total, len(perMinute))
}

// sync is a round trip through the engine's queue that copies no state
// (a refused command): everything sent before it has been decided.
func (h *harness) sync() {
	h.t.Helper()
	if r := h.do(Ack{By: "maya", AlertID: "A0"}); r.Err == nil {
		h.t.Fatal("ack of A0 accepted")
	}
}

func (h *harness) journalEvents() []Event {
	h.t.Helper()
	var out []Event
	err := h.j.Replay(context.Background(), 0, func(je journalEvent) error {
		e, err := FromJournal(je)
		out = append(out, e)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

type journalEvent = journal.Event

// A source that says it is rate-limited answers and tells us when to ask
// again: its panes go STALE at once, its alert only after rateLimitedHold.
func TestRateLimitedSourceAlertsOnlyAfterALongWait(t *testing.T) {
	h := signalHarness(t)
	h.e.Submit(context.Background(), ReportSource{Info: SourceInfo{ID: "prom", Health: "rate-limited", Error: "429"}})
	for range 4 * 60 {
		h.tick(time.Second)
		h.observe(Sample{Service: "tokens", Pane: "p95", Stale: true, Error: "rate-limited"})
	}
	if a := h.openAlert(""); a != nil {
		t.Fatalf("a source alert within rateLimitedHold: %+v", a)
	}
	h.advance(61 * time.Second)
	if a := h.openAlert(""); a == nil || a.Origin != "source" {
		t.Fatalf("no source alert after %s rate-limited", rateLimitedHold)
	}
}
