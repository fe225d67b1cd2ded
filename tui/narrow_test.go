package tui

import (
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// bodyLines are the lines between the tab bar and the key bar.
func bodyLines(m *Model) []string {
	lines := strings.Split(plainView(m), "\n")
	return lines[2 : len(lines)-2]
}

// TestTimelineWrapsAt80: at 80×24 a timeline text longer than its column
// goes on under it, whole, instead of being cut where the facts are (who
// is paged, why a source is down); a click on the second line selects its
// event.
func TestTimelineWrapsAt80(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "lin", 80, 24)
	press(m, "3")
	body := bodyLines(m)
	view := strings.Join(body, "\n")
	for _, l := range body {
		if strings.Contains(l, "…") {
			t.Errorf("cut row %q", l)
		}
	}
	flat := strings.Join(strings.Fields(view), " ")
	for _, want := range []string{"paging backup nia", "the query returned no series", "429 Too Many Requests"} {
		if !strings.Contains(flat, want) {
			t.Errorf("%q not shown:\n%s", want, view)
		}
	}
	// The second line of #11's text selects #11.
	y := -1
	for i, l := range body {
		if strings.Contains(l, "#11 ") {
			y = i + 1 + 1 // the line after, counted from the view's top (header, tabs)
		}
	}
	if y < 0 {
		t.Fatalf("#11 not shown:\n%s", view)
	}
	m.Update(tea.MouseClickMsg{X: 40, Y: y + 1, Button: tea.MouseLeft})
	if ev := m.selectedEvent(); ev == nil || ev.Seq != 11 {
		t.Fatalf("clicked the second line of #11, selected %+v", ev)
	}
	// Moving up through wrapped rows keeps the selected row in view.
	for range 17 {
		press(m, "up")
		if !strings.Contains(plainView(m), "▶") {
			t.Fatalf("the selected row left the screen:\n%s", plainView(m))
		}
	}
}

// TestRoleLabelsWholeAt80: every role slot's label is whole at 80
// columns, with the service's name (not its id for some and its name for
// others), and the roster wraps a person's roles instead of cutting them.
func TestRoleLabelsWholeAt80(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 80, 24)
	press(m, "4")
	view := plainView(m)
	for _, want := range []string{"backup of Cloudflare Security", "backup of AWS DevOps", "backup of history,", "backup of quicknode"} {
		if !strings.Contains(view, want) {
			t.Errorf("%q not shown:\n%s", want, view)
		}
	}
	for _, l := range bodyLines(m) {
		if strings.Contains(l, "…") {
			t.Errorf("cut: %q", l)
		}
	}
}

// TestTabsWholeAt80: at 80 columns with a service open in full, the tab
// line keeps every view's key and the service's name (the padded tabs
// went past 80 columns and the last views and the crumb were cut); a
// click on a tab still opens its view.
func TestTabsWholeAt80(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "lin", 80, 24)
	m.detail = "cloudflare" // the longest name
	m.setView(viewDetail)
	line := strings.Split(plainView(m), "\n")[1]
	if strings.Contains(line, "…") {
		t.Errorf("the tab line is cut: %q", line)
	}
	for _, v := range m.tabs() {
		if !strings.Contains(line, m.tabKey(v)) {
			t.Errorf("view %s's key %s missing from %q", viewNames[v], m.tabKey(v), line)
		}
	}
	if name := m.serviceName(m.detail); !strings.Contains(line, "▸ "+name) {
		t.Errorf("the open service %q missing from %q", name, line)
	}
	tabs := m.tabRanges(80)
	last := tabs[len(tabs)-2] // the last view's tab, before the crumb
	m.Update(tea.MouseClickMsg{X: last.x0, Y: 1, Button: tea.MouseLeft})
	if m.view != last.view {
		t.Errorf("a click on %q opened %s", last.text, viewNames[m.view])
	}
}

// TestStatusPageNamedWithoutComms: a room whose file has no comms:
// section but serves its status page (run --status) has the Comms view,
// which names the page's address (it had no view to say it in).
func TestStatusPageNamedWithoutComms(t *testing.T) {
	f := newFakeEngine()
	m := newTestModel(t, f, "rosa", 120, 40)
	m.cfg.Comms = nil
	m.o.StatusPageURL = "http://127.0.0.1:48123/"
	if !slices.Contains(m.tabs(), viewComms) {
		t.Fatalf("no Comms view: %v", m.tabs())
	}
	press(m, m.tabKey(viewComms))
	if v := plainView(m); !strings.Contains(v, "http://127.0.0.1:48123/") {
		t.Errorf("the status page's address is not shown:\n%s", v)
	}
	// The desk's keys work without a comms: section (no templates).
	for _, k := range []string{"w", "esc", "s", "esc", "v", "esc", "m", "esc", "enter", "esc"} {
		press(m, k)
		_ = plainView(m)
	}
}
