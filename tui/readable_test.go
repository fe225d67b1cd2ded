package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/warroom/warroom/incident"
)

// TestPaletteRanksWordsAboveScatteredLetters: "waf" finds the WAF
// playbook before anything whose letters merely appear in order.
func TestPaletteRanksWordsAboveScatteredLetters(t *testing.T) {
	whole, _ := fuzzy("waf", "Run playbook: Set Cloudflare WAF mode (Cloudflare Security)")
	prefix, _ := fuzzy("waf", "Run playbook: wafer thin (Tokens)")
	inside, _ := fuzzy("waf", "Run playbook: drawafter (Tokens)")
	scattered, ok := fuzzy("waf", "Run playbook: wait for a fee (Blowfish)")
	if !ok || !(whole > prefix && prefix > inside && inside > scattered) {
		t.Fatalf("whole %d > prefix %d > inside %d > scattered %d", whole, prefix, inside, scattered)
	}
	if _, ok := fuzzy("waf xyz", "Set Cloudflare WAF mode"); ok {
		t.Fatal("every word of the query must match")
	}
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 120, 40)
	press(m, ":")
	typeText(m, "db")
	if got := m.chooser.items[m.chooser.shown[0]].label; !strings.Contains(got, "DB pool") {
		t.Fatalf("first match for db: %q", got)
	}
}

// TestRequiredChoiceStartsEmpty: an enum without a default must be
// chosen; nothing picks its first value for the person.
func TestRequiredChoiceStartsEmpty(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "tara", 120, 40)
	press(m, ":")
	typeText(m, "drain")
	press(m, "enter")
	form := formOf(t, m)
	wantScreen(t, m, "provider", "◀ choose ▶", "required")
	if _, ok := form.raw()["provider"]; ok || len(form.errs) == 0 {
		t.Fatalf("an unchosen enum has a value: %v (errors %v)", form.raw(), form.errs)
	}
	press(m, "enter")
	if form.stage != stageForm || len(r.callsWith("dryrun")) != 0 {
		t.Fatal("the dry run ran without a choice")
	}
	press(m, "right")
	wantScreen(t, m, "◀ triton ▶")
	if form.raw()["provider"] != "triton" || len(form.errs) != 0 {
		t.Fatalf("after choosing: %v %v", form.raw(), form.errs)
	}
}

// TestNoOpChangeFlagged: a dry run whose change sets the value already
// there says the run changes nothing.
func TestNoOpChangeFlagged(t *testing.T) {
	f, r := newFakeEngine(), newFakeRunner()
	m := newRunnerModel(t, f, r, "cleo", 140, 40)
	openWaf(t, m)
	press(m, "enter") // mode stays challenge, which it already is
	wantWords(t, m, "This run changes nothing: mode is already challenge")
	press(m, "e", "right", "enter")
	if strings.Contains(plainView(m), "changes nothing") {
		t.Fatal("a real change is flagged as a no-op")
	}
}

// TestNoDataShowsLastValueAndTime: NO DATA after data says "last", with
// the time of that value; STALE too.
func TestNoDataShowsLastValueAndTime(t *testing.T) {
	f := newFakeEngine()
	at := tNow.Add(-2 * time.Minute).UTC()
	f.st.ApplySamples([]incident.Sample{{Service: "cloudflare", Pane: "edge_5xx", Time: at, Value: 97}}, at)
	f.st.ApplySamples([]incident.Sample{{Service: "cloudflare", Pane: "edge_5xx", Time: tNow.UTC(), NoData: true}}, tNow.UTC())
	m := newTestModel(t, f, "rosa", 200, 60)
	svc := m.cfg.Service("cloudflare")
	pv := derivePane(m.cfg, m.st, svc, &svc.Panes[1], m.now, nil)
	if v, _ := m.paneValue(&pv); v != "last 97 req/s at 10:23:30" {
		t.Fatalf("NO DATA value %q", v)
	}
	wantScreen(t, m, "last 97 req/s at 10:23:30")
}

// TestFlatSeriesScaleHonestly: a constant zero lies on the axis, never
// mid-height on an axis that goes below zero.
func TestFlatSeriesScaleHonestly(t *testing.T) {
	if got := sparkline([]float64{0, 0, 0, 0}, 4); got != "▁▁▁▁" {
		t.Fatalf("flat zero sparkline %q", got)
	}
	lines, lo, hi := brailleChart([]float64{0, 0, 0, 0}, 4, 3, nil, paint{})
	if lo != 0 || hi <= 0 {
		t.Fatalf("flat zero axis %v..%v", lo, hi)
	}
	if strings.TrimSpace(lines[0]) != "" || strings.TrimSpace(lines[2]) == "" {
		t.Fatalf("a flat zero is drawn on the bottom row:\n%s", strings.Join(lines, "\n"))
	}
	if _, lo, _ := brailleChart([]float64{5, 5, 5}, 4, 3, nil, paint{}); lo != 0 {
		t.Fatalf("a flat positive series scales from zero, got %v", lo)
	}
}

// TestDetailChartHasATimeAxis: the detail chart says when its data
// starts and ends, and the window.
func TestDetailChartHasATimeAxis(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	press(m, "enter")
	wantScreen(t, m, "└10:01:45", "23m45s window", "10:25:30")
}

// TestHelpScrollsAndSaysWhatYouCanDo: the help lists first what this
// person can do, and scrolls.
func TestHelpScrollsAndSaysWhatYouCanDo(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "?")
	v := plainView(m)
	if i, j := strings.Index(v, "What you (rosa) can do now"), strings.Index(v, "Overview keys"); i < 0 || (j >= 0 && j < i) {
		t.Fatalf("what rosa can do comes first:\n%s", v)
	}
	wantScreen(t, m, "↑↓ scroll")
	press(m, "down", "down")
	if m.helpTop != 2 || !strings.Contains(plainView(m), " 3-") {
		t.Fatalf("help did not scroll (top %d):\n%s", m.helpTop, plainView(m))
	}
}

// TestPresenceInHeaderAndRoster: who is connected, and how.
func TestPresenceInHeaderAndRoster(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 160, 40)
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Presence: map[string]incident.Presence{
		"a": {Handle: "rosa", Via: incident.ViaLocal}, "b": {Handle: "cleo", Via: incident.ViaSSH}, "slack:cleo": {Handle: "cleo", Via: incident.ViaSlack}}}}})
	wantScreen(t, m, "● 2 connected")
	press(m, "4")
	wantScreen(t, m, "● ssh, slack", "● local", "Roster (15) · ● 2 connected")
}

// TestCopyTakesTheFullRecord: y copies the selected event in full with
// OSC 52, not its cut row.
func TestCopyTakesTheFullRecord(t *testing.T) {
	f := newFakeEngine()
	long := strings.Repeat("pool exhausted on replica 3; ", 12)
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	b.emit(tNow, incident.Event{Kind: incident.KindNote, Actor: "hana", Service: "history", Text: long})
	m := newTestModel(t, f, "lin", 80, 24)
	press(m, "3")
	_, cmd := m.Update(kp("y"))
	if cmd == nil {
		t.Fatal("y returned no command")
	}
	got := fmt.Sprint(cmd())
	if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.TrimSpace(long)) || !strings.Contains(got, "hana (Hana Sato)") {
		t.Fatalf("clipboard %q", got)
	}
	wantToast(t, m, "copied")
}

// TestOldValueNeverCutsTheThreshold: a chart too narrow for an old value,
// its time and the threshold leaves out the time, then the value, and
// never cuts the threshold (a STALE pane at 80 columns did).
func TestOldValueNeverCutsTheThreshold(t *testing.T) {
	f := newFakeEngine()
	at := tNow.Add(-2 * time.Minute).UTC()
	f.st.ApplySamples([]incident.Sample{{Service: "cloudflare", Pane: "edge_5xx", Time: at, Value: 97}}, at)
	f.st.ApplySamples([]incident.Sample{{Service: "cloudflare", Pane: "edge_5xx", Time: tNow.UTC(), NoData: true}}, tNow.UTC())
	m := newTestModel(t, f, "rosa", 200, 60)
	svc := m.cfg.Service("cloudflare")
	pv := derivePane(m.cfg, m.st, svc, &svc.Panes[1], m.now, nil)
	val, thr := m.paneValue(&pv)
	if thr == "" {
		t.Fatal("the pane has no threshold to check")
	}
	sawShort := false
	for w := width(thr) + 6; w <= 70; w++ {
		box := m.chartBox(&pv, w, 8)
		borders := ansi.Strip(box[0] + "\n" + box[len(box)-1])
		if !strings.Contains(borders, thr) || strings.Contains(ansi.Strip(box[len(box)-1]), "…") {
			t.Fatalf("width %d: the borders cut %q:\n%s", w, thr, borders)
		}
		all := ansi.Strip(strings.Join(box, "\n"))
		if !strings.Contains(all, val) {
			sawShort = true
		}
	}
	if !sawShort {
		t.Fatal("no width was narrow enough to check")
	}
}

// TestLateNoteGivesWayBeforeTheRowIsCut: in a narrow alerts table too
// short for every row in full, an alert too long for its row leaves out
// when it began (it arrived late) rather than being cut; a table with room
// for every row, narrow or wide, shows the note.
func TestLateNoteGivesWayBeforeTheRowIsCut(t *testing.T) {
	f := newFakeEngine()
	fired := tNow.Add(-10 * time.Second).UTC()
	late := &incident.Alert{StartsAt: fired.Add(-48 * time.Second), FiredAt: fired}
	text := "prometheus: DBIdleSessionsStuck: idle sessions held on the Allium database (stuck until terminated) > 250 conns (now 417.74 conns) (crit)" + late.LateNote()
	f.st.Apply(incident.Event{Seq: f.st.LastSeq + 1, Time: fired, Kind: incident.KindAlert, Actor: "prometheus", Service: "history", Text: text,
		Alert: &incident.AlertInfo{ID: "A900", Pane: "DBIdleSessionsStuck", Level: incident.LevelCrit, Origin: "prometheus", Key: "k900", StartsAt: late.StartsAt}})
	if f.st.Alerts["A900"].LateNote() == "" {
		t.Fatal("the fixture's alert did not arrive late")
	}
	for _, sz := range []struct {
		w, h int
		note bool
	}{{80, 24, false}, {80, 60, true}, {200, 60, true}} {
		m := newTestModel(t, f, "rosa", sz.w, sz.h)
		press(m, "2")
		v := plainView(m)
		lines := strings.Split(v, "\n")
		i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "A900") })
		if i < 0 {
			t.Fatalf("%dx%d: A900 is not listed:\n%s", sz.w, sz.h, v)
		}
		row := strings.Join(lines[i:min(i+6, len(lines))], "\n")
		if strings.Contains(row, "…") {
			t.Errorf("%dx%d: the row is cut:\n%s", sz.w, sz.h, row)
		}
		if got := strings.Contains(v, "48s before it"); got != sz.note {
			t.Errorf("%dx%d: the late note shown: %v, want %v:\n%s", sz.w, sz.h, got, sz.note, row)
		}
	}
}

// TestCutAlertRowKeepsItsGroupCount: when the alerts table is too short
// for every row in full, a group's row too long for its lines cuts the
// alert's text, never the count of the group's other alerts.
func TestCutAlertRowKeepsItsGroupCount(t *testing.T) {
	f := newFakeEngine()
	at := tNow.Add(-time.Minute).UTC()
	long := "prometheus: DBIdleSessionsStuck: " + strings.Repeat("idle sessions held on the Allium database, stuck until terminated; ", 5) + "(crit)"
	for i, key := range []string{"k901", "k902"} {
		f.st.Apply(incident.Event{Seq: f.st.LastSeq + 1, Time: at, Kind: incident.KindAlert, Actor: "prometheus", Service: "history", Text: long,
			Alert: &incident.AlertInfo{ID: "A90" + itoa(i+1), Pane: "DBIdleSessionsStuck", Level: incident.LevelCrit, Origin: "prometheus", Key: key, Group: "history/rule:DBIdleSessionsStuck"}})
	}
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "2")
	v := plainView(m)
	lines := strings.Split(v, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "A901") })
	if i < 0 {
		t.Fatalf("A901 is not listed:\n%s", v)
	}
	row := strings.Join(lines[i:min(i+8, len(lines))], "\n")
	if !strings.Contains(row, "…") || !strings.Contains(row, "(+1 more)") {
		t.Fatalf("the row is not cut before its group's count:\n%s", row)
	}
}
