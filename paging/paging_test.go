package paging

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
)

// One alert group escalated three times (the owner, the backup, the
// commander, all through the room's integration) is one PagerDuty alert:
// one trigger that opens it and two that update it, with the same
// dedup_key. Acking in the room sends an acknowledge with that key.
func TestRepeatedEscalationsUpdateOnePagerDutyAlert(t *testing.T) {
	r := newRig(t, rigOpts{})
	a := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")).Events[0].Alert
	r.advance(5*time.Minute + time.Second)
	r.delivered()
	if pages := r.events(incident.KindPage); len(pages) != 3 {
		t.Fatalf("%d pages, want the owner, the backup, the commander", len(pages))
	}
	triggers := r.accepted("trigger")
	if len(triggers) != 3 {
		t.Fatalf("%d triggers: %+v", len(triggers), triggers)
	}
	dedup := triggers[0].DedupKey
	for i, tr := range triggers {
		if tr.DedupKey != dedup || !strings.HasSuffix(dedup, ":"+a.Group) {
			t.Fatalf("trigger %d dedup_key %q, want %q (room:group)", i, tr.DedupKey, dedup)
		}
	}
	if got := []string{paged(triggers[0]), paged(triggers[1]), paged(triggers[2])}; strings.Join(got, ",") != "alice,bob,maya" {
		t.Fatalf("paged %v", got)
	}
	incs := r.pd.Incidents()
	if len(incs) != 1 || incs[0].Triggers != 3 || incs[0].Notified != 1 || incs[0].IncidentKey != dedup || incs[0].Status != "triggered" {
		t.Fatalf("PagerDuty incidents: %+v", incs)
	}
	var p struct {
		Summary  string `json:"summary"`
		Severity string `json:"severity"`
		Source   string `json:"source"`
	}
	json.Unmarshal(triggers[0].Payload, &p)
	if p.Severity != "critical" || p.Source != "tokens" || !strings.Contains(p.Summary, "claims failing") || !strings.Contains(p.Summary, "paged as owner") {
		t.Fatalf("trigger payload %+v", p)
	}

	r.do(incident.Ack{By: "alice", AlertID: a.ID})
	r.advance(time.Second)
	r.delivered()
	acks := r.accepted("acknowledge")
	if len(acks) != 1 || acks[0].DedupKey != dedup {
		t.Fatalf("acknowledges %+v, want one for %s", acks, dedup)
	}
	if inc := r.pd.Incidents()[0]; inc.Status != "acknowledged" {
		t.Fatalf("incident %+v", inc)
	}
	r.do(incident.Resolve{By: "alice", AlertID: a.ID, Reason: "fixed"})
	r.advance(time.Second)
	r.delivered()
	if res := r.accepted("resolve"); len(res) != 1 || res[0].DedupKey != dedup || r.pd.Incidents()[0].Status != "resolved" {
		t.Fatalf("resolves %+v", res)
	}
	// The room's own acknowledge and resolve came back from PagerDuty with
	// the integration as agent: ignored, never audited.
	waitFor(t, "the webhooks of the room's own changes", func() bool { return len(r.pd.Deliveries()) >= 3 })
	if ev := r.events(incident.KindPaging); len(ev) != 0 {
		t.Fatalf("audits: %+v", ev)
	}
}

// A group that comes back after its ack is a new PagerDuty alert: an
// acknowledged alert sends no notification for new triggers.
func TestProblemBackAfterAckIsANewPagerDutyAlert(t *testing.T) {
	r := newRig(t, rigOpts{})
	imp := func(l incident.Level) {
		r.do(incident.ImportAlerts{Origin: "datadog", Alerts: []incident.ExternalAlert{{Key: "m1", Service: "tokens", Name: "checkout errors", Level: l, Firing: true, Rule: "monitor:1"}}})
	}
	imp(incident.LevelWarn)
	r.advance(61 * time.Second)
	r.do(incident.Ack{By: "alice", Group: "tokens/monitor:1"})
	r.advance(time.Second)
	imp(incident.LevelCrit) // worse than when acked
	r.advance(61 * time.Second)
	r.delivered()
	tr := r.accepted("trigger")
	if len(tr) != 2 || tr[0].DedupKey == tr[1].DedupKey || !strings.HasPrefix(tr[1].DedupKey, tr[0].DedupKey+"#") {
		t.Fatalf("triggers %+v", tr)
	}
	if incs := r.pd.Incidents(); len(incs) != 2 || incs[0].Status != "acknowledged" || incs[1].Status != "triggered" || incs[1].Notified != 1 {
		t.Fatalf("incidents %+v", incs)
	}
}

// A storm of 300 alerts in 300 groups on two services, arriving over three
// minutes: PagerDuty gets at most one trigger per person per minute, and
// as many incidents as pages, not alerts.
func TestStormAtMostOneTriggerPerPersonPerMinute(t *testing.T) {
	r := newRig(t, rigOpts{bobKey: true})
	for i := range 300 {
		svc := []string{"tokens", "history"}[i%2]
		r.do(incident.ImportAlerts{Origin: "datadog", Alerts: []incident.ExternalAlert{{Key: fmt.Sprintf("m%d/g", i), Service: svc,
			Name: fmt.Sprintf("monitor %d", i), Level: incident.LevelCrit, Firing: true, Rule: fmt.Sprintf("monitor:%d", i)}}})
		if i%5 == 4 {
			r.advance(3 * time.Second) // 300 alerts over 3 minutes
		}
	}
	r.advance(10 * time.Minute)
	r.delivered()
	// Each trigger carries its page; pages to one person are a minute
	// apart at least, and no page is sent twice.
	tr := r.accepted("trigger")
	pageAt := map[int64]time.Time{}
	for _, e := range r.events(incident.KindPage) {
		pageAt[e.Seq] = e.Time
	}
	last := map[string]time.Time{}
	sent := map[int64]bool{}
	for _, e := range tr {
		seq := pageSeq(e)
		at, ok := pageAt[seq]
		if !ok || sent[seq] {
			t.Fatalf("trigger for page #%d: not a page, or sent twice", seq)
		}
		sent[seq] = true
		if l, ok := last[paged(e)]; ok && at.Sub(l) < time.Minute {
			t.Fatalf("two triggers for %s %s apart", paged(e), at.Sub(l))
		}
		last[paged(e)] = at
	}
	people := map[string]bool{}
	for _, e := range tr {
		people[paged(e)] = true
	}
	if len(people) != 3 || len(tr) > 3*14 || len(r.pd.Incidents()) > len(tr) {
		t.Fatalf("%d triggers to %v, %d incidents", len(tr), people, len(r.pd.Incidents()))
	}
	// bob's pages went to his own integration.
	for _, e := range tr {
		if (paged(e) == "bob") != (e.RoutingKey != r.key) {
			t.Fatalf("bob's pages go to his integration, the others' to the room's: %s → %s…", paged(e), e.RoutingKey[:6])
		}
	}
	t.Logf("300 alerts in 300 groups over 3 minutes: %d pages, %d triggers, %d PagerDuty incidents, to %d people in 13 minutes",
		len(r.events(incident.KindPage)), len(tr), len(r.pd.Incidents()), len(people))
}

// PagerDuty's answers: 429 waits and goes again, 5xx backs off and goes
// again, 400 fails the row and says so in the timeline; nothing is lost.
func TestPagerDutyAnswers(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.pd.Fail(429, 503)
	a := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")).Events[0].Alert
	r.advance(61 * time.Second)
	waitFor(t, "the rate-limited state", func() bool { return r.pager.Status().State == "rate-limited" })
	if line := r.pager.StatusLine(); !strings.Contains(line, "rate-limited (room), 1 queued, retry in") || !strings.Contains(line, "throttle exceeded") {
		t.Fatalf("status line %q", line)
	}
	// The default wait after a 429 without Retry-After is 30 s: the page
	// went at 60 s.
	r.advance(28 * time.Second)
	if n := len(r.pd.Events()); n != 1 {
		t.Fatalf("%d events before the 429's wait was over", n)
	}
	r.advance(time.Second)
	if n, st := len(r.pd.Events()), r.pager.Status().State; n != 2 || st != "retrying" {
		t.Fatalf("%d events, %s after the wait: want the 503 and a back-off", n, st)
	}
	r.advance(8 * time.Second)
	r.delivered()
	if tr := r.accepted("trigger"); len(tr) != 1 || len(r.pd.Events()) != 3 || !strings.HasPrefix(r.pager.StatusLine(), "ok") {
		t.Fatalf("events %+v", r.pd.Events())
	}
	r.do(incident.Ack{By: "alice", AlertID: a.ID})
	r.advance(time.Second)
	r.delivered()
	// A key PagerDuty does not know: refused, in the timeline, not retried.
	t.Setenv(keyEnv, strings.Repeat("0", 32))
	r.do(incidenttest.Firing("history", incident.LevelCrit, "history down"))
	r.advance(2*time.Minute + time.Second)
	r.delivered()
	// The owner bob, then the commander maya (history has no backup).
	waitFor(t, "the PAGING events", func() bool { return len(r.events(incident.KindPaging)) == 2 })
	ev := r.events(incident.KindPaging)[0]
	if !strings.Contains(ev.Text, "PagerDuty refused the page to bob (room)") || !strings.Contains(ev.Text, "Invalid routing key") || strings.Contains(ev.Text, strings.Repeat("0", 32)) {
		t.Fatalf("PAGING %q", ev.Text)
	}
	rows, _ := r.j.OutboxRows(t.Context(), false, DestPagerDuty)
	failed := 0
	for _, row := range rows {
		if row.State == journal.OutboxFailed {
			failed++
		}
		if strings.Contains(string(row.Payload), r.key) {
			t.Fatal("a routing key in the journal")
		}
	}
	if failed != 2 {
		t.Fatalf("%d failed rows", failed)
	}
}

// PagerDuty failing for minutes: the pages wait, backing off, and the
// timeline says that phones are not ringing; then that they are again.
func TestPagesLateInTheTimeline(t *testing.T) {
	r := newRig(t, rigOpts{})
	fails := make([]int, 40)
	for i := range fails {
		fails[i] = 503
	}
	r.pd.Fail(fails...)
	r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing"))
	r.advance(61 * time.Second)
	waitFor(t, "the first 503", func() bool { return len(r.pd.Events()) >= 1 })
	for len(r.events(incident.KindPaging)) == 0 {
		r.advance(time.Second)
		if r.clk.Now().Sub(t0) > 10*time.Minute {
			t.Fatalf("no PAGING event after %d attempts", len(r.pd.Events()))
		}
	}
	ev := r.events(incident.KindPaging)[0]
	if !strings.Contains(ev.Text, "pages have not reached PagerDuty for 2m") || !strings.Contains(ev.Text, "HTTP 503") {
		t.Fatalf("PAGING %q", ev.Text)
	}
	for len(r.accepted("trigger")) == 0 {
		r.advance(time.Second)
		if r.clk.Now().Sub(t0) > 20*time.Minute {
			t.Logf("%+v", r.pager.Status())
			t.Fatalf("never delivered after %d attempts", len(r.pd.Events()))
		}
	}
	r.advance(6 * time.Second)
	waitFor(t, "the recovery", func() bool { return len(r.events(incident.KindPaging)) == 2 })
	if ev := r.events(incident.KindPaging)[1]; ev.Text != "pages reach PagerDuty again" {
		t.Fatalf("PAGING %q", ev.Text)
	}
}

// The preflight: every routing key is tried with a resolve nobody
// triggered; PagerDuty accepts the keys it knows and refuses the others,
// and nobody is paged.
func TestProbeRoutingKeys(t *testing.T) {
	r := newRig(t, rigOpts{bobKey: true, noStart: true})
	r.cfg.Services[0].PagerDuty = &config.ServicePagerDuty{RoutingKey: config.Secret{Env: "WARROOM_TEST_PD_UNKNOWN"}}
	t.Setenv("WARROOM_TEST_PD_UNKNOWN", strings.Repeat("a", 32))
	r.cfg.Roster[0].PagerDuty.RoutingKey = config.Secret{Env: "WARROOM_TEST_PD_UNSET"}
	got := map[string]ProbeResult{}
	for _, p := range Probe(t.Context(), r.cfg, nil) {
		got[p.Name] = p
	}
	if !got["room"].OK || !got["person:bob"].OK || got["service:tokens"].OK || got["person:maya"].OK || len(got) != 4 {
		t.Fatalf("probe %+v", got)
	}
	if !strings.Contains(got["service:tokens"].Detail, "Invalid routing key") || !strings.Contains(got["person:maya"].Detail, "WARROOM_TEST_PD_UNSET is not set") {
		t.Fatalf("probe %+v", got)
	}
	if n := len(r.pd.Incidents()); n != 0 {
		t.Fatalf("the probe opened %d incidents", n)
	}
}

// PagerDuty limits each integration key on its own: while the room's key
// is throttled (a 429, held 30 s), a page to bob through his own key goes
// at once instead of waiting behind it.
func TestThrottledKeyDelaysNoOtherKey(t *testing.T) {
	r := newRig(t, rigOpts{bobKey: true, pd: pdsim.Options{RateLimit: 1}})
	a := r.do(incidenttest.Firing("tokens", incident.LevelCrit, "claims failing")).Events[0].Alert
	r.advance(5 * time.Second)
	h := r.do(incidenttest.Firing("history", incident.LevelCrit, "history down")).Events[0].Alert
	r.advance(56 * time.Second) // alice is paged through the room's key
	if tr := r.accepted("trigger"); len(tr) != 1 || paged(tr[0]) != "alice" {
		t.Fatalf("triggers %+v", tr)
	}
	r.do(incident.Ack{By: "alice", AlertID: a.ID}) // its acknowledge: the key's second event in a minute
	r.advance(time.Second)
	waitFor(t, "the room's key to be throttled", func() bool { return r.pager.Status().State == "rate-limited" })
	if line := r.pager.StatusLine(); !strings.Contains(line, "rate-limited (room)") {
		t.Fatalf("status line %q", line)
	}
	r.advance(5 * time.Second) // bob's owner delay is over
	var bob *pdsim.Event
	for _, e := range r.accepted("trigger") {
		if paged(e) == "bob" {
			bob = &e
		}
	}
	var page time.Time
	for _, e := range r.events(incident.KindPage) {
		if e.Page.To == "bob" {
			page = e.Time
		}
	}
	if bob == nil || page.IsZero() || bob.At.Sub(page) > 2*time.Second {
		t.Fatalf("bob's page (%s) waited behind the room's throttled key: trigger %+v", page, bob)
	}
	if len(r.accepted("acknowledge")) != 0 {
		t.Fatal("the throttled acknowledge went before its wait")
	}
	r.do(incident.Ack{By: "bob", AlertID: h.ID})
	r.advance(65 * time.Second) // a minute after the trigger, the key takes events again
	r.delivered()
	if n := len(r.accepted("acknowledge")); n != 2 {
		t.Fatalf("%d acknowledges after the wait", n)
	}
}
