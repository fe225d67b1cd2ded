package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// rings feeds events to the model as the engine would and returns what
// it writes to the terminal raw (bell and desktop notifications).
func rings(m *Model, at time.Time, evs ...incident.Event) string {
	for i := range evs {
		evs[i].Seq = m.st.LastSeq + int64(i) + 1
		evs[i].Time = at
	}
	_, c := m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Events: evs, Now: at}}, closed: true})
	var out strings.Builder
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		switch msg := c().(type) {
		case tea.RawMsg:
			out.WriteString(msg.Msg.(string))
		case tea.BatchMsg:
			for _, c := range msg {
				run(c)
			}
		}
	}
	run(c)
	return out.String()
}

func crit(svc, id, text string) incident.Event {
	return incident.Event{Kind: incident.KindAlert, Actor: "rule", Service: svc, Text: text,
		Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelCrit, Origin: "rule"}}
}

func TestNotificationsForWhatWaitsForYou(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "tomas", 120, 40) // owns tokens
	now := f.clk.Now()
	if got := rings(m, now, crit("history", "A901", "history p95 5.2s")); got != "" {
		t.Fatalf("a CRIT on another service rang: %q", got)
	}
	got := rings(m, now, crit("tokens", "A902", "tokens p95 2.3s > 1s \x1b]9;x\a\u202e"))
	if !strings.HasPrefix(got, "\a\x1b]9;warroom: CRIT on tokens: tokens p95 2.3s > 1s") {
		t.Fatalf("CRIT on tokens: %q", got)
	}
	if strings.Count(got, "\a") != 2 || strings.Count(got, "\x1b") != 1 || strings.ContainsRune(got, '\u202e') {
		t.Fatalf("hostile text reached the terminal: %q", got)
	}
	// Within notifyEvery: held, then counted in the next one.
	if got := rings(m, now.Add(time.Second), crit("tokens", "A903", "tokens rps")); got != "" {
		t.Fatalf("rang twice within %s: %q", notifyEvery, got)
	}
	offer := incident.Event{Kind: incident.KindOffer, Actor: "rosa", Text: "rosa offered command to tomas", Role: &incident.RoleInfo{Role: roles.Commander, Handle: "tomas"}}
	if got := rings(m, now.Add(6*time.Second), offer); !strings.Contains(got, "rosa offers you command (+1 more)") {
		t.Fatalf("offer: %q", got)
	}
	page := incident.Event{Kind: incident.KindPage, Actor: "escalation", Text: "paging tomas: tokens A902 p95", Page: &incident.PageInfo{To: "tomas", Items: []incident.PageItem{{Group: "g", Alert: "A902"}}}}
	if got := rings(m, now.Add(12*time.Second), page); !strings.Contains(got, "you are paged: tokens A902 p95") {
		t.Fatalf("page: %q", got)
	}
	// The same CRIT again (no new alert): nothing.
	if got := rings(m, now.Add(20*time.Second), crit("tokens", "A902", "tokens p95 2.5s > 1s")); got != "" {
		t.Fatalf("an alert already crit rang again: %q", got)
	}
}

func TestNotificationsOffWhenQuietOrPerPerson(t *testing.T) {
	f := newFakeEngine()
	m := New(Options{Engine: f, Handle: "tomas", Width: 80, Height: 24, NoTick: true, Quiet: true})
	st, sub, _ := f.Subscribe(t.Context(), 1)
	m.Update(snapshotMsg{st: st, sub: sub})
	if got := rings(m, f.clk.Now(), crit("tokens", "A902", "tokens p95")); got != "" {
		t.Fatalf("--quiet rang: %q", got)
	}
	no := false
	f.cfg.Person("tomas").Notify = &no
	m = newTestModel(t, f, "tomas", 80, 24)
	if got := rings(m, f.clk.Now(), crit("tokens", "A902", "tokens p95")); got != "" {
		t.Fatalf("notify: false rang: %q", got)
	}
}

func TestNotificationEscape(t *testing.T) {
	if got := Notification("rxvt-unicode-256color", "a; b"); got != "\a\x1b]777;notify;warroom;a, b\a" {
		t.Fatalf("rxvt: %q", got)
	}
	if got := Notification("xterm-256color", strings.Repeat("x", 500)); len([]rune(got)) > maxNotice+20 {
		t.Fatalf("not bounded: %d", len(got))
	}
}
