package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe/hostile"
)

// ourSGR matches the styling sequences the dashboard itself writes.
var ourSGR = regexp.MustCompile(`\x1b\[[0-9;:]*m`)

// TestHostileTextInDashboardCells: alert text from a webhook, notes, a
// source's error, the mirror's state, the incident's name and a refusal
// reach every view; none of their escape sequences, controls or bidi
// characters reach the terminal raw (the dashboard's own styling is the
// only escape sequence on screen).
func TestHostileTextInDashboardCells(t *testing.T) {
	f := newFakeEngine()
	b := &stateBuilder{st: f.st, cfg: f.cfg}
	at := tNow.Add(-time.Minute)
	for i, h := range hostile.Corpus {
		b.emit(at, incident.Event{Kind: incident.KindNote, Actor: "rosa", Service: "tokens", Text: h})
		b.emit(at, incident.Event{Kind: incident.KindAlert, Actor: "alertmanager", Service: "tokens", Text: h,
			Alert: &incident.AlertInfo{ID: fmt.Sprintf("X%d", i), Level: incident.LevelCrit, Origin: "alertmanager", Key: h}})
	}
	all := strings.Join(hostile.Corpus, " | ")
	b.fire(at, "tokens", "p95", incident.LevelCrit, all, 9, 1, "s")
	b.emit(at, incident.Event{Kind: incident.KindSource, Actor: "scheduler", Text: all,
		Source: &incident.SourceInfo{ID: "dd", Health: "down", Error: all}})
	b.emit(at, incident.Event{Kind: incident.KindMirror, Actor: "mirror", Text: all})
	f.st.Name = all
	f.st.ApplySamples([]incident.Sample{{Service: "aws", Pane: "nat_ports", Stale: true, Error: all}}, tNow.UTC())
	f.reply = func(incident.Command) incident.Reply { return incident.Reply{Err: roles.Refuse("%s", all)} }

	views := append(goldenViews, struct {
		name   string
		handle string
		setup  func(f *fakeEngine, m *Model)
	}{"refusal", "tomas", func(f *fakeEngine, m *Model) { press(m, "2", "a") }},
		struct {
			name   string
			handle string
			setup  func(f *fakeEngine, m *Model)
		}{"aws detail", "tomas", func(f *fakeEngine, m *Model) { press(m, "right", "right", "right", "enter") }})
	for _, v := range views {
		for _, sz := range goldenSizes {
			m := newTestModel(t, f, v.handle, sz.w, sz.h)
			if v.setup != nil {
				v.setup(f, m)
			}
			out := m.View().Content + "\n" + m.View().WindowTitle
			for _, h := range hostile.Corpus {
				for _, raw := range []string{"\x1b[8m", "\x1b[32m", "\x1b[2J", "\x1b]", "\x1bP", "\u202e", "\u2067", "\x00", "\x07"} {
					if strings.Contains(h, raw) && strings.Contains(out, raw) {
						t.Fatalf("%s %dx%d: %q reached the terminal raw", v.name, sz.w, sz.h, raw)
					}
				}
			}
			if bad := hostile.Find([]byte(ourSGR.ReplaceAllString(out, ""))); bad != "" {
				t.Fatalf("%s %dx%d: %s", v.name, sz.w, sz.h, bad)
			}
		}
	}
	// The attack is visible, not silently executed.
	m := newTestModel(t, f, "tomas", 200, 60)
	press(m, "3")
	if !strings.Contains(plainView(m), "␛[8mhidden") {
		t.Errorf("the concealed note is not shown as text:\n%s", plainView(m))
	}
}
