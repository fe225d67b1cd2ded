package incident

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
)

// With escalation.owner set, an unacked group pages its owner, then the
// backup, then the commander: three pages about one group. Without it the
// owner is never paged (TestNoBackupPagesTheCommanderAtTheBackupDelay and
// the storm tests run without it).
func TestOwnerPagedAtTheOwnerDelay(t *testing.T) {
	cfg := signalConfig()
	cfg.Escalation.Owner = config.Duration(time.Minute)
	h := openHarness(t, filepath.Join(t.TempDir(), "j.db"), cfg)
	h.ok(fire("tokens", LevelCrit, "checkout failing"))
	a := h.openAlert("tokens")
	h.advanceFresh(time.Minute - time.Second)
	if p := h.events(KindPage); len(p) != 0 {
		t.Fatalf("paged before escalation.owner: %+v", p)
	}
	h.advanceFresh(5 * time.Minute)
	var to []string
	for _, p := range h.events(KindPage) {
		to = append(to, p.Page.To)
		if len(p.Page.Items) != 1 || p.Page.Items[0].Group != a.Group {
			t.Fatalf("page %+v", p)
		}
	}
	if strings.Join(to, ",") != "alice,bob,maya" {
		t.Fatalf("pages to %v, want the owner, the backup, the commander", to)
	}
	esc := h.events(KindEscalate)
	if len(esc) != 3 || esc[0].Alert.Step != 0 || !strings.Contains(esc[0].Text, "paging the owner alice") || esc[0].Time.Sub(t0) != time.Minute {
		t.Fatalf("escalations %+v", esc)
	}
	if g := h.state().Groups[a.Group]; g.Escalated != 2 || !g.OwnerPaged {
		t.Fatalf("group %+v", g)
	}
	// Acked: nothing more; worse after the ack: the owner first again.
	h.ok(Ack{By: "alice", AlertID: a.ID})
	h.advanceFresh(10 * time.Minute)
	if n := len(h.events(KindPage)); n != 3 {
		t.Fatalf("%d pages after the ack", n)
	}
	// Worse after the ack: it starts over, with the owner.
	h.ok(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: "m1", Service: "tokens", Name: "checkout errors", Level: LevelWarn, Firing: true, Rule: "monitor:1"}}})
	h.ok(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: "m1", Service: "tokens", Name: "checkout errors", Level: LevelCrit, Firing: true, Rule: "monitor:1"}}})
	h.ok(Ack{By: "alice", Group: "tokens/monitor:1"})
	h.ok(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: "m1", Service: "tokens", Name: "checkout errors", Level: LevelWarn, Firing: true, Rule: "monitor:1"}}})
	h.ok(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: "m1", Service: "tokens", Name: "checkout errors", Level: LevelCrit, Firing: true, Rule: "monitor:1"}}})
	h.advanceFresh(time.Minute)
	if p := h.events(KindPage); len(p) != 4 || p[3].Page.To != "alice" || p[3].Page.Items[0].Group != "tokens/monitor:1" {
		t.Fatalf("a group worse after its ack pages the owner again: %+v", p)
	}
	h.ok(Ack{By: "alice", Group: "tokens/monitor:1"})
	// An owner who acks before the delay is never paged.
	b := h.ok(fire("tokens", LevelWarn, "slow")).Events[0].Alert
	h.advanceFresh(30 * time.Second)
	h.ok(Ack{By: "alice", AlertID: b.ID})
	h.advanceFresh(2 * time.Minute)
	if n := len(h.events(KindPage)); n != 4 {
		t.Fatalf("an alert acked within escalation.owner paged: %d pages", n)
	}
}

// An acknowledgement made elsewhere (PagerDuty) acks the group by its key
// as the person, with their permissions, says where, and is refused when
// it is older than the problem it would ack.
func TestAckAndResolveAGroupFromElsewhere(t *testing.T) {
	h := signalHarness(t)
	h.ok(fire("tokens", LevelCrit, "checkout failing"))
	a := h.openAlert("tokens")
	h.refused(Ack{By: "olga", Group: a.Group, Via: "PagerDuty"}, "")
	h.refused(Ack{By: "alice", Group: a.Group, Via: "PagerDuty", At: t0.Add(-time.Minute)}, "older than the alerts")
	h.refused(Ack{By: "alice", Group: "tokens/nothing", Via: "PagerDuty"}, "no open alerts")
	h.ok(Ack{By: "alice", Group: a.Group, Via: "PagerDuty", At: t0})
	acks := h.events(KindAck)
	if len(acks) != 1 || acks[0].Actor != "alice" || !strings.HasSuffix(acks[0].Text, " via PagerDuty") {
		t.Fatalf("acks: %+v", acks)
	}
	h.refused(Ack{By: "alice", Group: a.Group, Via: "PagerDuty"}, "already acked")
	h.refused(Resolve{By: "olga", Group: a.Group, Via: "PagerDuty"}, "")
	h.ok(Resolve{By: "alice", Group: a.Group, Via: "PagerDuty", At: t0.Add(time.Minute)})
	if r := h.events(KindResolve); len(r) != 1 || !strings.Contains(r[0].Text, "via PagerDuty") || h.state().Groups[a.Group] != nil {
		t.Fatalf("resolves: %+v", r)
	}
}

func TestPagingReportIsAnInertLine(t *testing.T) {
	h := signalHarness(t)
	h.ok(ReportPaging{By: "pagerduty", Text: "webhook refused: bad signature\x1b[31m"})
	ev := h.events(KindPaging)
	if len(ev) != 1 || strings.ContainsRune(ev[0].Text, 0x1b) || ev[0].Actor != "pagerduty" {
		t.Fatalf("%+v", ev)
	}
	h.refused(ReportPaging{By: "pagerduty"}, "needs a text")
}

// busy holds the engine inside a decision until released, as a slow batch
// (a loaded machine, a slow disk) does.
type busy struct{ in, release chan struct{} }

func (b busy) decide(*decider) error {
	close(b.in)
	<-b.release
	return nil
}

// An ack sent before its alert's escalation falls due is in time even
// when the engine is busy and the heartbeat's timer fires while the ack
// waits in the queue: what was sent before the tick is decided before it.
func TestAckWaitingWhenTheOwnerDelayFallsDueIsInTime(t *testing.T) {
	for i := range 20 { // the engine's select picks among ready cases at random
		cfg := signalConfig()
		cfg.Escalation.Owner = config.Duration(time.Minute)
		h := openHarness(t, filepath.Join(t.TempDir(), "j.db"), cfg)
		h.ok(fire("tokens", LevelCrit, "checkout failing"))
		a := h.openAlert("tokens")
		h.advanceFresh(time.Minute - time.Second)
		b := busy{make(chan struct{}), make(chan struct{})}
		if err := h.e.Submit(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		<-b.in
		acked := make(chan Reply, 1)
		go func() { acked <- h.e.Do(context.Background(), Ack{By: "alice", AlertID: a.ID}) }()
		for len(h.e.reqs) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		h.clk.Advance(time.Second) // the owner's delay: the tick fires
		close(b.release)
		if r := <-acked; r.Err != nil {
			t.Fatalf("run %d: ack refused: %v", i, r.Err)
		}
		h.tick(time.Second)
		if esc := h.events(KindEscalate); len(esc) != 0 {
			t.Fatalf("run %d: the ack was sent in time, yet %s", i, esc[0].Text)
		}
		h.close()
	}
}
