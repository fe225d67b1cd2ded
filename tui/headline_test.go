package tui

import (
	"strings"
	"testing"

	"github.com/warroom/warroom/incident"
)

// TestImportedCritLeadsTheCell: a service whose CRIT comes only from an
// imported alert (a Datadog monitor; its panes are OK) shows that alert
// as its cell's headline, not an OK pane with the alert counted away as
// "+1 alert", at every size.
func TestImportedCritLeadsTheCell(t *testing.T) {
	for _, sz := range goldenSizes {
		f := newFakeEngine()
		b := &stateBuilder{st: f.st, cfg: f.cfg}
		b.emit(tNow.Add(-3*60e9), incident.Event{Kind: incident.KindAlert, Actor: "datadog", Service: "banners",
			Text:  "datadog: Banner CDN origin errors (crit)",
			Alert: &incident.AlertInfo{ID: "A99", Pane: "Banner CDN origin errors", Level: incident.LevelCrit, Origin: "datadog", Key: "123/env:prod"}})
		m := newTestModel(t, f, "ben", sz.w, sz.h)
		lines := strings.Split(plainView(m), "\n")
		top := -1
		for i, l := range lines {
			if strings.Contains(l, "Banners · ben") {
				top = i
				break
			}
		}
		if top < 0 {
			t.Fatalf("%dx%d: no Banners cell:\n%s", sz.w, sz.h, plainView(m))
		}
		// The cell's first line under its title names the alert.
		cell := cellText(lines[top+1], len([]rune(lines[top][:strings.Index(lines[top], "Banners")])))
		if !strings.Contains(cell, "A99 datadog: Banner CDN") || !strings.Contains(lines[top], "[CRIT]") {
			t.Errorf("%dx%d: the CRIT does not lead the Banners cell:\n%s", sz.w, sz.h, strings.Join(lines[top:top+5], "\n"))
		}
	}
}

// cellText is the part of a grid line from the cell starting near col.
func cellText(line string, col int) string {
	r := []rune(line)
	if col > len(r) {
		return ""
	}
	return string(r[max(col-4, 0):])
}
