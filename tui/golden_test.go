package tui

import (
	"fmt"
	"os"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

var goldenSizes = []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}}

// goldenViews are every view of the TUI, each as the person who would
// typically look at it.
var goldenViews = []struct {
	name   string
	handle string
	setup  func(f *fakeEngine, m *Model)
}{
	{"overview", "tomas", nil},
	{"detail", "tomas", func(f *fakeEngine, m *Model) { press(m, "enter") }},
	{"alerts", "tomas", func(f *fakeEngine, m *Model) { press(m, "2") }},
	{"timeline", "lin", func(f *fakeEngine, m *Model) { press(m, "3") }},
	{"roles", "rosa", func(f *fakeEngine, m *Model) { press(m, "4", "down") }},
	// The timeline filtered by `/` as one types, and an event in full.
	{"timeline_filtered", "lin", func(f *fakeEngine, m *Model) { press(m, "3", "/"); typeText(m, "p95 latency"); press(m, "enter") }},
	{"event_record", "lin", func(f *fakeEngine, m *Model) { press(m, "3", "up", "up", "up", "up", "up", "up", "up", "enter") }},
	{"help", "ollie", func(f *fakeEngine, m *Model) { press(m, "?") }},
	{"palette", "tomas", func(f *fakeEngine, m *Model) { press(m, "ctrl+p") }},
	{"offer", "tomas", func(f *fakeEngine, m *Model) {
		m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Events: []incident.Event{{
			Seq: m.st.LastSeq + 1, Time: tNow.UTC(), Kind: incident.KindOffer, Actor: "rosa", Text: "rosa offered command to tomas",
			Role: &incident.RoleInfo{Role: roles.Commander, Handle: "tomas", Previous: "rosa"}}}}}})
	}},
}

func TestGolden(t *testing.T) {
	for _, v := range goldenViews {
		for _, sz := range goldenSizes {
			t.Run(fmt.Sprintf("%s_%dx%d", v.name, sz.w, sz.h), func(t *testing.T) {
				f := newFakeEngine()
				m := newTestModel(t, f, v.handle, sz.w, sz.h)
				if v.setup != nil {
					v.setup(f, m)
				}
				if os.Getenv("TUI_SHOW") != "" {
					fmt.Println(plainView(m))
				}
				golden.RequireEqual(t, asciiView(m))
			})
		}
	}
}
