package tui

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

func wantSent(t *testing.T, f *fakeEngine, want ...incident.Command) {
	t.Helper()
	got := f.commands()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("commands sent:\n got %#v\nwant %#v", got, want)
	}
}

func wantToast(t *testing.T, m *Model, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(m.toast.text, p) {
			t.Fatalf("toast %q does not say %q", m.toast.text, p)
		}
	}
	// A long toast wraps at word boundaries onto more lines.
	words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if !strings.Contains(words(plainView(m)), words(m.toast.text)) {
		t.Fatalf("toast %q is not on screen:\n%s", m.toast.text, plainView(m))
	}
}

// wantWords is wantScreen for text that may wrap across lines.
func wantWords(t *testing.T, m *Model, parts ...string) {
	t.Helper()
	words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	v := words(plainView(m))
	for _, p := range parts {
		if !strings.Contains(v, words(p)) {
			t.Fatalf("screen does not show %q:\n%s", p, plainView(m))
		}
	}
}

func wantScreen(t *testing.T, m *Model, parts ...string) {
	t.Helper()
	v := plainView(m)
	for _, p := range parts {
		if !strings.Contains(v, p) {
			t.Fatalf("screen does not show %q:\n%s", p, v)
		}
	}
}

// alertID finds the open alert of a service pane in the fixture.
func alertID(t *testing.T, m *Model, service, pane string) string {
	t.Helper()
	for _, a := range m.st.OpenAlerts() {
		if a.Service == service && a.Pane == pane {
			return a.ID
		}
	}
	t.Fatalf("no open alert on %s/%s", service, pane)
	return ""
}

func TestOverviewNavigationAndDetail(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	// 3 columns at 120×40: right, down, left move in the grid.
	press(m, "right")
	if m.sel != 1 {
		t.Fatalf("sel after right = %d", m.sel)
	}
	press(m, "down")
	if m.sel != 4 {
		t.Fatalf("sel after down = %d, want 4 (3 columns)", m.sel)
	}
	press(m, "left", "up")
	if m.sel != 0 {
		t.Fatalf("sel = %d", m.sel)
	}
	press(m, "G")
	if m.sel != fixtureN-1 {
		t.Fatalf("G: sel = %d", m.sel)
	}
	press(m, "g", "enter")
	if m.view != viewDetail || m.detail != "tokens" {
		t.Fatalf("enter: view %v detail %q", m.view, m.detail)
	}
	wantScreen(t, m, "Tokens", "owner tomas", "p95 latency", "crit 1s", "Alerts (2 open alerts)")
	press(m, "]")
	if m.detail != "history" {
		t.Fatalf("]: detail %q", m.detail)
	}
	press(m, "[", "[")
	if m.detail != "blowfish" {
		t.Fatalf("[[: detail %q (wraps)", m.detail)
	}
	press(m, "esc")
	if m.view != viewOverview {
		t.Fatalf("esc: view %v", m.view)
	}
	wantSent(t, f)
}

func TestViewKeys(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	for _, c := range []struct {
		key  string
		want viewID
	}{{"2", viewAlerts}, {"3", viewTimeline}, {"4", viewRoles}, {"1", viewOverview}, {"tab", viewAlerts}} {
		press(m, c.key)
		if m.view != c.want {
			t.Fatalf("%s: view %v, want %v", c.key, m.view, c.want)
		}
	}
}

func TestOwnerAcksOldestAlertFromOverview(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	id := alertID(t, m, "tokens", "p95")
	msgs := press(m, "a")
	wantSent(t, f, incident.Ack{By: "tomas", AlertID: id})
	if len(msgs) != 1 {
		t.Fatalf("want one reply, got %v", msgs)
	}
	wantToast(t, m, "✓ ack "+id)
}

func TestObserverAckIsRefusedAndNotSent(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "ollie", 80, 24)
	press(m, "a")
	wantSent(t, f)
	wantToast(t, m, "not allowed", "ollie cannot ack tokens alerts: tomas or nia owns tokens")
	press(m, "B")
	wantSent(t, f)
	wantToast(t, m, "ollie cannot ack tokens alerts")
}

func TestOtherOwnerAckIsRefused(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "hana", 80, 24)
	press(m, "2", "a") // the first alert is Tokens' p95
	wantSent(t, f)
	wantToast(t, m, "hana cannot ack tokens alerts")
}

func TestAckWithNothingToAck(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "right", "right", "a") // Banners has no alerts
	wantSent(t, f)
	wantToast(t, m, "Banners has no unacknowledged alerts")
}

func TestBulkAckService(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	press(m, "B")
	wantSent(t, f, incident.AckService{By: "tomas", Service: "tokens"})
}

func TestAlertsViewKeys(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 120, 40)
	press(m, "2")
	open := m.st.OpenAlerts()
	// The list is worst first: Tokens' crit p95, then History's crit.
	if open[0].Service != "tokens" || open[0].Level != incident.LevelCrit {
		t.Fatalf("first alert %+v", open[0])
	}
	press(m, "down")
	wantScreen(t, m, "▶ [CRIT]    "+open[1].ID)
	press(m, "a") // already acked by hana
	wantSent(t, f)
	wantToast(t, m, open[1].ID+" is already acked by hana")
	// x on a crit whose p95 is still over crit asks first, and says so.
	press(m, "up", "a", "x")
	wantScreen(t, m, "Resolve "+open[0].ID+" (Tokens)? Its condition still holds: p95 latency is 2.15s, still > crit 1s")
	press(m, "y")
	wantSent(t, f,
		incident.Ack{By: "rosa", AlertID: open[0].ID},
		incident.Resolve{By: "rosa", AlertID: open[0].ID, Reason: "resolved by hand"})
	press(m, "B")
	if got := f.commands()[2]; got != (incident.AckService{By: "rosa", Service: "tokens"}) {
		t.Fatalf("B sent %#v", got)
	}
	press(m, "enter")
	if m.view != viewRecord || m.rec.id != open[0].ID {
		t.Fatalf("enter: %v %+v", m.view, m.rec)
	}
	wantScreen(t, m, open[0].ID, "p95 latency 2.3s > 1s (crit)", "still holds", "History")
	press(m, "esc", "S")
	if m.view != viewDetail || m.detail != "tokens" {
		t.Fatalf("S: %v %q", m.view, m.detail)
	}
	press(m, "esc")
	if m.view != viewAlerts {
		t.Fatalf("esc from detail goes back to alerts, got %v", m.view)
	}
}

func TestAlertsViewShowsWhyDisabled(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "felix", 120, 40)
	press(m, "2")
	wantScreen(t, m, "✗ ack/resolve", "felix cannot ack tokens alerts")
	press(m, "x")
	wantSent(t, f)
	wantToast(t, m, "felix cannot resolve tokens alerts")
}

func TestEngineRefusalIsShown(t *testing.T) {
	f := newFakeEngine()
	f.reply = func(incident.Command) incident.Reply {
		return incident.Reply{Err: roles.Refuse("alert A8 is already acked by nia")}
	}
	m := newTestModel(t, f, "tomas", 80, 24)
	press(m, "a")
	if len(f.commands()) != 1 {
		t.Fatal("the ack should have been sent")
	}
	wantToast(t, m, "refused: alert A8 is already acked by nia")
}

// TestTimelineServiceFilterShowsABatchedEscalation: an ESCALATE of
// several services' groups at once has no service of its own; the
// service filter shows it for any service one of its groups belongs to.
func TestTimelineServiceFilterShowsABatchedEscalation(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "lin", 120, 40)
	press(m, "3")
	batch := incident.Event{Seq: m.st.LastSeq + 1, Time: m.st.Recent[len(m.st.Recent)-1].Time, Kind: incident.KindEscalate, Actor: "escalation",
		Text: "2 alert groups (2 alerts) unacked: escalated to commander rosa",
		Alert: &incident.AlertInfo{ID: "A90", Service: "history", To: "rosa", Step: 2,
			Also: []incident.EscalatedGroup{{Alert: "A91", Service: "tokens", Level: incident.LevelCrit}}}}
	m.st.Recent = append(m.st.Recent, batch)
	m.st.LastSeq = batch.Seq
	shown := func() bool {
		for _, i := range m.timelineRows() {
			if m.st.Recent[i].Seq == batch.Seq {
				return true
			}
		}
		return false
	}
	press(m, "s") // tokens: a group of the batch
	if m.tl.service != "tokens" || !shown() {
		t.Fatalf("filter %q hides the batch", m.tl.service)
	}
	press(m, "s") // history: the group the batch stands for
	if m.tl.service != "history" || !shown() {
		t.Fatalf("filter %q hides the batch", m.tl.service)
	}
	m.tl.service = "no-such-service"
	if shown() {
		t.Fatal("a service with no group in the batch shows it")
	}
}

func TestTimelineFiltersAndMark(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "lin", 120, 40)
	press(m, "3")
	all := len(m.timelineRows())
	if all != int(m.st.LastSeq) {
		t.Fatalf("rows %d, events %d", all, m.st.LastSeq)
	}
	press(m, "s") // tokens
	if m.tl.service != "tokens" {
		t.Fatalf("service filter %q", m.tl.service)
	}
	for _, i := range m.timelineRows() {
		if m.st.Recent[i].Service != "tokens" {
			t.Fatalf("filtered row of %s", m.st.Recent[i].Service)
		}
	}
	wantScreen(t, m, "service Tokens")
	press(m, "s")
	if m.tl.service != "history" {
		t.Fatalf("s cycles services: %q", m.tl.service)
	}
	press(m, "f")
	if m.tl.kind != incident.KindAlert {
		t.Fatalf("kind filter %q", m.tl.kind)
	}
	if n := len(m.timelineRows()); n != 1 {
		t.Fatalf("history alerts: %d rows", n)
	}
	press(m, "esc") // clears the filters
	press(m, "i")
	rows := m.timelineRows()
	if len(rows) != 1 || !m.st.Important[m.st.Recent[rows[0]].Seq] {
		t.Fatalf("important only: %v", rows)
	}
	press(m, "i", "up", "m")
	sel := m.selectedEvent()
	wantSent(t, f, incident.MarkImportant{By: "lin", Seq: sel.Seq, Important: true})
	// The marked alert: m unmarks it.
	press(m, "i", "m")
	if got := f.commands()[1].(incident.MarkImportant); got.Important {
		t.Fatalf("second m should unmark: %#v", got)
	}
}

func TestMarkImportantRefusedForOwner(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	press(m, "3", "m")
	wantSent(t, f)
	wantToast(t, m, "only the commander, deputy or scribe can mark events important")
}

func TestTimelineDatesAfterMidnight(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "lin", 120, 40)
	press(m, "3")
	wantScreen(t, m, " 10:11:30 ALERT")
	// Twenty hours later it is the next day in Los Angeles.
	m.Update(tickMsg{now: tNow.Add(20 * time.Hour)})
	wantScreen(t, m, "Jan 31 10:11:30 ALERT")
}

func TestNoteFromTimelineWithServiceFilter(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	press(m, "3", "s", "n")
	if m.overlay != overlayInput {
		t.Fatal("n should open the note input")
	}
	wantScreen(t, m, "note on Tokens>")
	typeText(m, "rolled back pool size")
	press(m, "backspace", "E", "enter")
	wantSent(t, f, incident.Note{By: "tomas", Service: "tokens", Text: "rolled back pool sizE"})
	if m.overlay != overlayNone {
		t.Fatal("the input should close")
	}
}

func TestNoteCancelAndEmpty(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "n")
	typeText(m, "abc")
	press(m, "esc")
	wantSent(t, f)
	press(m, "n", "enter")
	wantSent(t, f)
	wantToast(t, m, "a note needs text")
}

func TestNoteRefusedForObserver(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "ollie", 80, 24)
	press(m, "n")
	if m.overlay != overlayNone {
		t.Fatal("an observer must not get the note input")
	}
	wantToast(t, m, "ollie is an observer")
}

func TestPasteIntoNote(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "n")
	m.Update(tea.PasteMsg{Content: "line one\nline two"})
	press(m, "enter")
	wantSent(t, f, incident.Note{By: "rosa", Text: "line one line two"})
}

func TestRolesAssignAndClear(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 120, 40)
	press(m, "4", "down", "enter") // deputy
	if m.overlay != overlayChooser {
		t.Fatal("enter on a role should open the person picker")
	}
	wantScreen(t, m, "Assign deputy to…", "already holds this role")
	typeText(m, "ivo")
	press(m, "enter")
	wantSent(t, f, incident.Assign{By: "rosa", Role: roles.Deputy, Handle: "ivo"})
	press(m, "down", "x") // scribe: x resolves, never unassigns
	if len(f.commands()) != 1 {
		t.Fatalf("x in the roles view sent %#v", f.commands())
	}
	wantToast(t, m, "u unassigns a role")
	press(m, "u") // asks first
	wantScreen(t, m, "Unassign lin as scribe?")
	press(m, "n")
	if len(f.commands()) != 1 {
		t.Fatalf("a declined unassign sent %#v", f.commands())
	}
	press(m, "u", "y")
	if got := f.commands()[1]; got != (incident.Assign{By: "rosa", Role: roles.Scribe}) {
		t.Fatalf("u y sent %#v", got)
	}
	// Service roles: owner of Tokens is the 5th slot.
	press(m, "g", "down", "down", "down", "down", "enter")
	wantScreen(t, m, "Assign owner of Tokens to…")
	typeText(m, "nia")
	press(m, "enter")
	if got := f.commands()[2]; got != (incident.Assign{By: "rosa", Role: roles.Owner, Service: "tokens", Handle: "nia"}) {
		t.Fatalf("assign owner sent %#v", got)
	}
}

func TestRolesAssignRefusedForNonCommander(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "dev", 120, 40)
	press(m, "4", "down", "down")
	wantScreen(t, m, "✗ only the commander (rosa) can assign a role")
	press(m, "enter")
	if m.overlay != overlayNone {
		t.Fatal("no picker for someone who may not assign")
	}
	press(m, "x", "o")
	wantSent(t, f)
	wantToast(t, m, "only the commander (rosa) can offer command")
}

func TestPickerDisabledChoice(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 120, 40)
	press(m, "4", "o")
	typeText(m, "rosa")
	press(m, "enter")
	wantSent(t, f)
	wantToast(t, m, "you are already the commander")
}

func TestOfferAcceptDecline(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 120, 40)
	press(m, "4", "enter") // commander row: offer
	wantScreen(t, m, "Offer command to…")
	typeText(m, "tomas")
	press(m, "enter")
	// Then what the commander becomes: deputy is first (the default).
	wantScreen(t, m, "After tomas accepts command, you…", "stay on as deputy (replaces dev)", "step down to observer")
	press(m, "enter")
	wantSent(t, f, incident.OfferCommand{By: "rosa", To: "tomas", Stay: roles.Deputy})

	// The offer is committed: everyone sees the banner.
	offer := incident.Update{Now: tNow.UTC(), Events: []incident.Event{{Seq: f.st.LastSeq + 1, Time: tNow.UTC(), Kind: incident.KindOffer, Actor: "rosa",
		Text: "rosa offered command to tomas", Role: &incident.RoleInfo{Role: roles.Commander, Handle: "tomas", Previous: "rosa"}}}}
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{offer}})
	wantScreen(t, m, "you offered command to tomas")

	tm := newTestModel(t, f, "tomas", 80, 24)
	tm.Update(feedMsg{feed: tm.feed, ups: []incident.Update{offer}})
	wantScreen(t, tm, "rosa offers you command of the incident — A accept · D decline")
	press(tm, "A")
	press(tm, "D")
	om := newTestModel(t, f, "ollie", 80, 24)
	om.Update(feedMsg{feed: om.feed, ups: []incident.Update{offer}})
	wantScreen(t, om, "rosa has offered command to tomas (pending)")
	press(om, "A")
	wantToast(t, om, "the command offer is for tomas, not ollie")
	press(m, "D") // the commander withdraws
	wantSent(t, f, incident.OfferCommand{By: "rosa", To: "tomas", Stay: roles.Deputy},
		incident.AcceptCommand{By: "tomas"}, incident.DeclineCommand{By: "tomas"}, incident.DeclineCommand{By: "rosa"})
}

func TestAcceptWithoutOffer(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	press(m, "A", "D")
	wantSent(t, f)
	wantToast(t, m, "there is no pending command offer")
}

func TestPalette(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	press(m, "ctrl+p")
	if m.overlay != overlayChooser {
		t.Fatal("ctrl+p should open the palette")
	}
	press(m, "esc", ":")
	if m.overlay != overlayChooser {
		t.Fatal(": should open the palette")
	}
	typeText(m, "ack all tok")
	wantScreen(t, m, "▶ Ack all alerts of Tokens")
	press(m, "enter")
	wantSent(t, f, incident.AckService{By: "tomas", Service: "tokens"})

	// A disabled action says why and sends nothing.
	press(m, ":")
	typeText(m, "ack oldest hist")
	wantScreen(t, m, "✗ tomas cannot ack history alerts")
	press(m, "enter")
	if len(f.commands()) != 1 {
		t.Fatal("a disabled action must not be sent")
	}
	wantToast(t, m, "not allowed: tomas cannot ack history alerts")

	// Navigation actions work too.
	press(m, ":")
	typeText(m, "timeline")
	press(m, "enter")
	if m.view != viewTimeline {
		t.Fatalf("palette go to timeline: %v", m.view)
	}
}

func TestPaletteListsPlaybooks(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 120, Height: 40, NoTick: true,
		Playbooks: fakePlaybooks{{Name: "scale-db", Title: "Scale the tokens DB pool", Service: "tokens", Summary: "raise max connections"},
			{Name: "fees", Title: "Raise priority fees", Service: "quicknode"}}})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	press(m, "ctrl+p")
	typeText(m, "playbook")
	wantScreen(t, m, "Run playbook: Scale the tokens DB pool (Tokens)", "Run playbook: Raise priority fees (QuickNode)", "tomas cannot run quicknode playbooks")
	// What tomas may do ranks first; the disabled one says why.
	if got := m.chooser.items[m.chooser.shown[0]].label; got != "Run playbook: Scale the tokens DB pool (Tokens)" {
		t.Fatalf("first: %q", got)
	}
	press(m, "esc", ":")
	typeText(m, "priority fees")
	press(m, "enter")
	wantToast(t, m, "tomas cannot run quicknode playbooks")
	press(m, ":")
	typeText(m, "scale db")
	press(m, "enter")
	wantToast(t, m, "playbook scale-db")
	press(m, "esc", "enter")
	wantScreen(t, m, "Playbooks", "Scale the tokens DB pool —", "raise max connections")
}

type fakePlaybooks []Playbook

func (p fakePlaybooks) List() []Playbook { return p }

func TestHelpShowsKeysAndDisabledActions(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "ollie", 120, 40)
	press(m, "?")
	wantScreen(t, m, "Help", "What you (ollie) can do now", "ack alert", "palette", "Not available to you, and why", "ollie is an observer")
	press(m, "?")
	if m.overlay != overlayNone {
		t.Fatal("? closes help")
	}
}

func TestThemeToggle(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	before := m.sty
	press(m, "t")
	if m.dark || m.sty == before {
		t.Fatal("t should switch to the light theme")
	}
	press(m, "t")
	if !m.dark {
		t.Fatal("t again: dark")
	}
	m.Update(tea.BackgroundColorMsg{})
	if !m.dark {
		t.Fatal("a chosen theme is not overridden by the terminal background")
	}
}

func TestQuitConfirm(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	press(m, "q")
	wantScreen(t, m, "Quit? y quits, any other key stays. The incident goes on without this screen.")
	_, cmd := m.Update(kp("n"))
	if cmd != nil || m.overlay != overlayNone {
		t.Fatal("n keeps the TUI")
	}
	press(m, "q")
	_, cmd = m.Update(kp("y"))
	if cmd == nil {
		t.Fatal("y quits")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("y should return tea.Quit")
	}
	if m.ctx.Err() == nil {
		t.Fatal("quitting ends the feed")
	}
}

func TestMouseClickOpensPaneAndTab(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	l := m.layout()
	g := gridLayout(fixtureN, l.w, l.bodyH)
	// Click in the middle of the 5th pane (row 1, column 1).
	x := g.colX(1) + 5
	y := l.bodyTop + g.rowY(1) + 2
	m.Update(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	if m.view != viewDetail || m.detail != f.cfg.Services[4].ID {
		t.Fatalf("click: view %v detail %q", m.view, m.detail)
	}
	// Click the Timeline tab.
	for _, tr := range m.tabRanges(l.w) {
		if tr.view == viewTimeline {
			m.Update(tea.MouseClickMsg{X: tr.x0 + 1, Y: 1, Button: tea.MouseLeft})
		}
	}
	if m.view != viewTimeline {
		t.Fatalf("tab click: view %v", m.view)
	}
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.tl.follow {
		t.Fatal("scrolling up stops following")
	}
}

func TestFeedAppliesEventsAndSamples(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	id := alertID(t, m, "tokens", "p95")
	a := m.st.Alerts[id]
	ack := incident.Event{Seq: m.st.LastSeq + 1, Time: tNow.UTC(), Kind: incident.KindAck, Actor: "nia", Service: "tokens", Ref: a.Seq,
		Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelCrit, Origin: "rule"}, Text: "nia acked " + id}
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.Add(time.Second).UTC(), Events: []incident.Event{ack},
		Samples: []incident.Sample{{Service: "quicknode", Pane: "latency", Time: tNow.UTC(), Value: 123}}}}})
	wantScreen(t, m, "acked by nia, tomas", "RPC p95 latency 123ms")
	if got := m.now; !got.Equal(tNow.Add(time.Second)) {
		t.Fatalf("now follows the engine: %v", got)
	}
	// A stale duplicate (already in the snapshot) is ignored.
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Events: []incident.Event{ack}}}})
	if m.st.LastSeq != ack.Seq {
		t.Fatal("duplicate applied")
	}
}

func TestFeedStopShows(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	old := m.feed
	// The feed ended while the model runs: the engine stopped.
	_, cmd := m.Update(feedMsg{feed: old, closed: true})
	if cmd != nil {
		t.Fatal("no resubscribe after the engine stopped")
	}
	wantScreen(t, m, "✗ the engine has stopped")
	// A message from a feed we left is ignored.
	m.Update(feedMsg{feed: &feed{}, ups: []incident.Update{{Events: []incident.Event{{Seq: 999}}}}})
	if m.st.LastSeq == 999 {
		t.Fatal("applied an update of another feed")
	}
}

// A model that falls behind the engine is dropped; its feed (Follow)
// brings a fresh snapshot that holds everything it missed, then goes on.
// Nothing is committed after the lag, so only the resync can bring the
// last notes.
func TestFeedResyncsALaggedModel(t *testing.T) {
	e := realEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := New(Options{Engine: e, Handle: "tomas", Width: 120, Height: 40, Profile: colorprofile.ASCII, NoTick: true, Buffer: 2, Context: ctx})
	defer m.Close()
	_, cmd := m.Update(subscribeCmd(ctx, e, 2)())
	if m.st == nil {
		t.Fatal("no snapshot")
	}
	// The feed is not read yet: far more than its buffer of 2 drops it.
	var last int64
	for i := range 20 {
		r := e.Do(ctx, incident.Note{By: "rosa", Text: fmt.Sprintf("note %d", i)})
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		last = r.Seq
	}
	// pump runs the model's Cmds outside Update, as the program does.
	pump := func(until func() bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !until() {
			got := make(chan tea.Msg, 1)
			go func(c tea.Cmd) { got <- c() }(cmd)
			select {
			case msg := <-got:
				_, cmd = m.Update(msg)
				if cmd == nil {
					t.Fatalf("the feed ended at #%d", m.st.LastSeq)
				}
			case <-deadline:
				t.Fatalf("the model stays at #%d, want #%d", m.st.LastSeq, last)
			}
		}
	}
	pump(func() bool { return m.st.LastSeq == last })
	want := engineState(t, e)
	if len(m.st.Recent) != len(want.Recent) {
		t.Fatalf("the model holds %d events, the engine %d", len(m.st.Recent), len(want.Recent))
	}
	if n := len(m.st.Recent); n == 0 || !strings.Contains(m.st.Recent[n-1].Text, "note 19") {
		t.Fatal("the last note is not in the model's timeline")
	}
	wantScreen(t, m, "fell behind the engine: resynced")
	// Live again: the next note arrives through the feed.
	r := e.Do(ctx, incident.Note{By: "rosa", Text: "after the lag"})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	last = r.Seq
	pump(func() bool { return m.st.LastSeq == last })
}

func TestTickAgesAndToastExpiry(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	wantScreen(t, m, "oldest 12m00s")
	press(m, "B")
	wantScreen(t, m, "✓ ack all of Tokens")
	m.Update(tickMsg{now: tNow.Add(61 * time.Second)})
	wantScreen(t, m, "oldest 13m01s", "10:26 PST")
	m.Update(tickMsg{now: tNow.Add(20 * time.Second)})
	if strings.Contains(plainView(m), "✓ ack all") {
		// 20s is earlier than 61s but the toast ran on the later time;
		// what matters is that it goes away.
	}
	m.Update(tickMsg{now: tNow.Add(5 * time.Minute)})
	if strings.Contains(plainView(m), "✓ ack all of Tokens") {
		t.Fatal("the toast should expire")
	}
}

func TestHeaderCountdownAndSimulated(t *testing.T) {
	f := newFakeEngine()
	f.cfg.Incident.Simulated = true
	m := newTestModel(t, f, "tomas", 120, 40)
	m.Update(tickMsg{now: tLaunch.Add(-90 * time.Second)})
	wantScreen(t, m, "T-1m30s", "SIMULATED", "cmdr rosa", "you tomas", "(owner of tokens)")
	// Further from T-0, and after it, the header moves by the minute.
	m.Update(tickMsg{now: tLaunch.Add(-90 * time.Minute)})
	wantScreen(t, m, "T-1h30m")
	m.Update(tickMsg{now: tLaunch.Add(25*time.Minute + 30*time.Second)})
	wantScreen(t, m, "T+25m")
	f.cfg.Incident.Launch = nil
	m.st.Room.Launch = nil
	m.Update(tickMsg{now: tOpen.Add(time.Hour)})
	wantScreen(t, m, "elapsed 1h00m")
}

func TestWaitingForSnapshot(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 80, Height: 24, NoTick: true})
	wantScreen(t, m, "connecting to the engine")
	press(m, "a")
	wantSent(t, f)
	// Init subscribes in a Cmd.
	msgs := run(m, m.Init())
	var snap *snapshotMsg
	for _, msg := range msgs {
		if s, ok := msg.(snapshotMsg); ok {
			snap = &s
		}
	}
	if snap == nil {
		t.Fatalf("Init did not subscribe: %v", msgs)
	}
	m.Update(*snap)
	wantScreen(t, m, "Tokens")
}

func TestNoColorBadgesReadAsText(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 200, 60)
	v := plainView(m)
	for _, b := range []string{"[CRIT]", "[WARN]", "[STALE]", "[NO DATA]", "[OK]"} {
		if !strings.Contains(v, b) {
			t.Fatalf("no %s badge in the ASCII view", b)
		}
	}
	// STALE and NO DATA panes are never shown as OK: Quicknode has no
	// data at all, AWS is stale.
	svcs := deriveServices(f.cfg, m.st, m.now)
	for _, sv := range svcs {
		switch sv.cfg.ID {
		case "quicknode", "cloudflare":
			if sv.sev != sevNoData {
				t.Fatalf("%s: %v, want NO DATA", sv.cfg.ID, sv.sev)
			}
		case "aws":
			if sv.sev != sevStale {
				t.Fatalf("aws: %v, want STALE", sv.sev)
			}
		}
	}
}

func TestTrueColourView(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 120, Height: 40, NoTick: true, Theme: ThemeLight})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	v := m.View().Content
	if !strings.Contains(v, "\x1b[") || strings.Contains(plainView(m), "[CRIT]") {
		t.Fatal("in colour, badges are filled rather than bracketed")
	}
	if !strings.Contains(plainView(m), " CRIT ") {
		t.Fatal("the badge still reads CRIT")
	}
}

type fakeStarter struct {
	fakePlaybooks
	started *[]string
}

func (f fakeStarter) StartPlaybook(_ context.Context, by, name string) error {
	*f.started = append(*f.started, by+":"+name)
	if name == "fees" {
		return roles.Refuse("tomas cannot run quicknode playbooks")
	}
	return nil
}

func TestPlaybookStartAsksFirst(t *testing.T) {
	f := newFakeEngine()
	var started []string
	pbs := fakeStarter{fakePlaybooks{{Name: "scale-db", Title: "Scale the tokens DB pool", Service: "tokens"}}, &started}
	m := New(Options{Engine: f, Handle: "tomas", Width: 120, Height: 40, NoTick: true, Playbooks: pbs})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	press(m, ":")
	typeText(m, "scale")
	press(m, "enter")
	wantScreen(t, m, "Request a run of playbook scale-db with its default parameters? y confirms")
	press(m, "n")
	if len(started) != 0 {
		t.Fatal("n must not start the run")
	}
	press(m, ":")
	typeText(m, "scale")
	press(m, "enter", "y")
	if !reflect.DeepEqual(started, []string{"tomas:scale-db"}) {
		t.Fatalf("started %v", started)
	}
	wantToast(t, m, "✓ request playbook scale-db")
}

func TestSamplesAloneRedrawCoalesced(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40)
	up := incident.Update{Now: tNow.UTC(), Samples: []incident.Sample{{Service: "triton", Pane: "latency", Time: tNow.UTC(), Value: 321}}}
	_ = plainView(m) // the program renders after every message
	_, cmd := m.Update(feedMsg{feed: m.feed, ups: []incident.Update{up}})
	if cmd == nil || !m.redrawQueued {
		t.Fatal("samples should queue one redraw")
	}
	if strings.Contains(plainView(m), "321ms") {
		t.Fatal("samples alone should not redraw at once")
	}
	// A second batch of samples does not queue another.
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{up}})
	m.Update(redrawMsg{})
	wantScreen(t, m, "RPC p95 latency 321ms")
}

func TestTickChainNotDuplicated(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 80, Height: 24})
	if _, cmd := m.Update(tickMsg{now: tNow}); cmd != nil {
		t.Fatal("a tick from outside must not start a second tick chain")
	}
	if _, cmd := m.Update(tickMsg{now: tNow, chain: true}); cmd == nil {
		t.Fatal("the model's own tick re-arms")
	}
}

// TestStatusBarShowsSourceBudgets: what the room reports of each source's
// rate-limit budget is shown beside the source in the status bar.
func TestStatusBarShowsSourceBudgets(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "maya", 200, 40)
	m.o.SourceBudgets = func() map[string]string { return map[string]string{"dd": "98/1600 per 1h, every 1m31s"} }
	m.Update(tickMsg{now: f.clk.Now(), budgets: m.o.SourceBudgets()})
	if v := plainView(m); !strings.Contains(v, "dd:429(1 stale) 98/1600 per 1h, every 1m31s triton") {
		t.Fatalf("status bar without the budget:\n%s", v)
	}
}

// TestEngineDoubleRefusesCallsFromUpdate: the test engines fail a test
// that calls them inside Update, as a Cmd run inline by Update would.
func TestEngineDoubleRefusesCallsFromUpdate(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 80, 24)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "engine.Do called inside") {
			t.Fatalf("recovered %v, want the engine double to refuse a call inside Update", r)
		}
	}()
	m.Update(laterMsg(func(m *Model) tea.Cmd {
		m.eng.Do(context.Background(), incident.Note{By: "tomas", Text: "from Update"})
		return nil
	}))
	t.Fatal("the call inside Update was not refused")
}

// TestSamplesShowWithTheClockTick: with the clock ticking, samples alone
// wait for the next tick (one frame a second for every pane and the
// clock), and a sample that changes nothing drawn leaves the very same
// frame, which the renderer skips with a pointer compare.
func TestSamplesShowWithTheClockTick(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 120, Height: 40, Profile: colorprofile.ASCII, Theme: ThemeDark})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	m.Update(tickMsg{now: tNow})
	first := m.View().Content
	up := incident.Update{Now: tNow.UTC(), Samples: []incident.Sample{{Service: "triton", Pane: "latency", Time: tNow.UTC(), Value: 321}}}
	if _, cmd := m.Update(feedMsg{feed: m.feed, ups: []incident.Update{up}}); cmd == nil || m.redrawQueued {
		t.Fatal("with the clock ticking, samples queue no redraw of their own (only the feed's next read)")
	}
	if m.View().Content != first {
		t.Fatal("samples alone redrew before the tick")
	}
	m.Update(tickMsg{now: tNow})
	wantScreen(t, m, "RPC p95 latency 321ms")

	// A pane whose value stays the same: once its history is full of
	// it, a new sample (a new time, the same value) changes nothing
	// drawn, and the frame stays the very same string.
	var flat []incident.Sample
	for i := range incident.SeriesLimit {
		flat = append(flat, incident.Sample{Service: "triton", Pane: "latency", Time: tNow.Add(time.Duration(i+1) * time.Second).UTC(), Value: 321})
	}
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Samples: flat}}})
	m.Update(tickMsg{now: tNow})
	drawn := m.View().Content
	charts := func() map[chartKey]*string {
		out := map[chartKey]*string{}
		for k, v := range m.charts.cur {
			if k.pane == "triton/latency" {
				out[k] = &v[0]
			}
		}
		return out
	}
	before := charts()
	up.Samples[0].Time = tNow.Add(time.Hour).UTC()
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{up}})
	m.Update(tickMsg{now: tNow})
	m.View()
	if len(before) == 0 || !reflect.DeepEqual(charts(), before) {
		t.Fatalf("the pane's chart was drawn again for the same values: %d charts before, %d after", len(before), len(charts()))
	}
	if again := m.View().Content; unsafe.StringData(again) != unsafe.StringData(drawn) {
		a, b := strings.Split(ansi.Strip(drawn), "\n"), strings.Split(ansi.Strip(again), "\n")
		for i := range a {
			if i < len(b) && a[i] != b[i] {
				t.Logf("-%s\n+%s", a[i], b[i])
			}
		}
		t.Fatalf("an unchanged frame was rebuilt as a new string (equal: %v)", again == drawn)
	}
}

// TestFirstAnswerShowsAtOnce: a pane's first value ends its NO DATA and
// shows at once, without waiting for the clock tick.
func TestFirstAnswerShowsAtOnce(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 120, Height: 40, Profile: colorprofile.ASCII, Theme: ThemeDark})
	st, sub, _ := f.Subscribe(context.Background(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	m.Update(tickMsg{now: tNow})
	if p := m.st.Panes["quicknode/latency"]; p != nil && p.HasData {
		t.Fatal("the fixture's quicknode latency pane has data already")
	}
	up := incident.Update{Now: tNow.UTC(), Samples: []incident.Sample{{Service: "quicknode", Pane: "latency", Time: tNow.UTC(), Value: 321}}}
	m.Update(feedMsg{feed: m.feed, ups: []incident.Update{up}})
	wantScreen(t, m, "RPC p95 latency 321ms")
}
