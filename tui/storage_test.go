package tui

import (
	"strings"
	"testing"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// TestStorageBannerOnEveryView: when the journal reports a full disk, a
// line says so on every view, and it goes once the journal recovers.
func TestStorageBannerOnEveryView(t *testing.T) {
	full := journal.Health{State: journal.StorageFailing, Since: tNow,
		Reason: "the journal's disk is full (0 bytes free in /var/lib/warroom): commands that write are refused, samples are not recorded"}
	for _, v := range goldenViews {
		f := newFakeEngine()
		m := newTestModel(t, f, v.handle, 120, 40)
		if v.setup != nil {
			v.setup(f, m)
		}
		m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Storage: &full}}})
		out := plainView(m)
		if !strings.Contains(out, "DISK FULL: the journal's disk is full") {
			t.Fatalf("%s: no banner:\n%s", v.name, out)
		}
		if n := strings.Count(out, "\n") + 1; n != 40 {
			t.Fatalf("%s: %d lines with the banner, want 40", v.name, n)
		}
		ok := journal.Health{State: journal.StorageOK}
		m.Update(feedMsg{feed: m.feed, ups: []incident.Update{{Now: tNow.UTC(), Storage: &ok}}})
		if strings.Contains(plainView(m), "DISK") {
			t.Fatalf("%s: the banner stays after recovery", v.name)
		}
	}
}
