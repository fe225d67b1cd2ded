package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// A pane's alert and the imported alerts about the same condition are one
// row that expands; quiet alerts are grey and say why; ESCALATED appears
// only once an ESCALATE exists.
func TestAlertGroupRowsQuietAlertsAndHonestEscalation(t *testing.T) {
	f := newFakeEngine()
	// The fixture's banners service has no open alert: give it a group of
	// three (a pane alert, a Datadog monitor, a Prometheus rule), an
	// informational Watchdog and a muted monitor.
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	at := tNow.Add(-6 * time.Minute)
	fire := func(origin, key, name string, lvl incident.Level, silenced string) string {
		id := "A" + itoa(int(b.st.LastSeq+1))
		b.emit(at, incident.Event{Kind: incident.KindAlert, Actor: origin, Service: "banners", Text: origin + ": " + name + " (" + string(lvl) + ")",
			Alert: &incident.AlertInfo{ID: id, Pane: name, Level: lvl, Origin: origin, Key: key, Silenced: silenced, Group: "banners/" + map[bool]string{true: "rps", false: "rule:" + key}[silenced == "" && lvl != incident.LevelInfo]}})
		return id
	}
	lead := fire("rule", "", "rps", incident.LevelCrit, "")
	fire("datadog", "10001/service:banners", "Banners rps", incident.LevelWarn, "")
	fire("prometheus", "fp1", "BannersRPS", incident.LevelWarn, "")
	fire("prometheus", "fp2", "Watchdog", incident.LevelInfo, "")
	fire("datadog", "10002/*", "Banners errors", incident.LevelCrit, "muted in Datadog (downtime 1261921201)")
	m := newTestModel(t, f, "rosa", 140, 40)

	// Past the backup delay (5m) but nobody was paged: no ESCALATED.
	press(m, "1")
	wantScreen(t, m, "6m00s!")
	if strings.Contains(plainView(m), "6m00s! ESCALATED") {
		t.Fatalf("ESCALATED before any ESCALATE event:\n%s", plainView(m))
	}
	press(m, "2")
	// The tab counts groups that ask someone to act: the fixture's six
	// (four unacked) and banners' group of three; not the Watchdog or the
	// muted monitor.
	wantScreen(t, m, "2 Alerts (7, 5 unacked)")
	v := plainView(m)
	for _, want := range []string{"rps (crit) (+2 more)", "[INFO]", "Watchdog", "info only", "[SILENCED]", "silenced"} {
		if !strings.Contains(v, want) {
			t.Fatalf("alerts view lacks %q:\n%s", want, v)
		}
	}
	// Select the group and expand it: its three alerts are listed.
	for _, r := range alertRows(m.st, nil) {
		if r.a.ID == lead {
			m.alerts.id = r.key
		}
	}
	press(m, "right")
	wantScreen(t, m, "▾ rule: rps (crit) (3 alerts)", "└ datadog: Banners rps", "└ prometheus: BannersRPS")
	press(m, "down", "left")
	if r, _ := m.selectedRow(); r.a.ID != lead || m.alertOpen["banners/rps"] {
		t.Fatalf("left folds the group back onto its row: %+v", r)
	}
	// Acking the row acks the group (the engine acks every member).
	press(m, "a")
	wantSent(t, f, incident.Ack{By: "rosa", AlertID: lead})

	// The ESCALATE arrives: now the badge says so, naming who.
	g := m.st.Groups["banners/rps"]
	b.st = m.st
	b.emit(tNow, incident.Event{Kind: incident.KindEscalate, Actor: "escalation", Service: "banners",
		Alert: &incident.AlertInfo{ID: lead, Pane: "rps", Level: incident.LevelCrit, Origin: "rule", Group: g.Key, To: "rosa", Step: 2, Count: 3}})
	m.version++
	m.eventsVersion++
	press(m, "1")
	wantScreen(t, m, "6m00s! ESCALATED")
	press(m, "2")
	wantScreen(t, m, "3 unacked · ESCALATED to rosa")
}
