package export

import (
	"fmt"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/textsafe/hostile"
)

// TestHostileTextInEveryFormat: alert names and summaries from webhooks,
// notes and step output reach the postmortem. In no format does any of
// their escape sequences, controls or bidi characters survive raw.
func TestHostileTextInEveryFormat(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)
	room := &incident.RoomInfo{Timezone: "UTC", Services: []incident.ServiceInfo{{ID: "api", Name: "API",
		Panes: []incident.PaneInfo{{ID: "p95", Title: "p95"}}}}}
	s := newSynth(t, t0, room)
	for i, h := range hostile.Corpus {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		id := fmt.Sprintf("A%d", i)
		s.add(incident.Event{Time: at, Kind: incident.KindNote, Actor: "alice", Service: "api", Text: h})
		fired := s.add(incident.Event{Time: at, Kind: incident.KindAlert, Actor: "warroom", Service: "api", Text: h,
			Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelCrit, Origin: "alertmanager", Key: h}})
		s.add(incident.Event{Time: at.Add(time.Second), Kind: incident.KindAck, Actor: "alice", Service: "api", Ref: fired, Text: "ack " + h,
			Alert: &incident.AlertInfo{ID: id}})
	}
	s.samples(journal.Sample{Service: "api", Pane: "p95", Time: t0, Value: 1})
	r := s.load(Options{})
	for _, f := range allFormats {
		if bad := hostile.Find(render(t, r, f)); bad != "" {
			t.Errorf("%s export: %s", f, bad)
		}
	}
	for _, c := range r.Charts() {
		if bad := hostile.Find(c.SVG); bad != "" {
			t.Errorf("chart %s: %s", c.Title, bad)
		}
	}
}
