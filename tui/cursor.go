package tui

import (
	"errors"
	"slices"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
)

// cursor is a list selection kept on the selected item's identity. Lists
// re-sort and grow between key presses (an alert escalates, a run starts),
// so a row index would silently move to another item: every action reads
// the item by id, and only when that item has gone does the cursor fall
// back to the row it was on.
type cursor struct {
	id  string // the selected item's id ("" before the first selection)
	idx int    // where it last was: the fallback when it disappears
	top int    // first visible row
}

// at returns the selected row in ids (-1 for an empty list), re-anchoring
// on the row's item when the selected one has gone.
func (c *cursor) at(ids []string) int {
	if len(ids) == 0 {
		return -1
	}
	if c.id != "" {
		if i := slices.Index(ids, c.id); i >= 0 {
			c.idx = i
			return i
		}
	}
	c.idx = clamp(c.idx, 0, len(ids)-1)
	c.id = ids[c.idx]
	return c.idx
}

// set selects row i of ids.
func (c *cursor) set(ids []string, i int) {
	if len(ids) == 0 {
		c.id, c.idx = "", 0
		return
	}
	c.idx = clamp(i, 0, len(ids)-1)
	c.id = ids[c.idx]
}

// view returns the first visible row for a window of vis rows.
func (c *cursor) view(ids []string, vis int) int {
	c.top = scrollTo(c.at(ids), c.top, vis, len(ids))
	return c.top
}

// filter is a list's `/` filter: every word must appear in a row's text,
// case-insensitively.
type filter struct {
	q     string
	words []string
}

func (f *filter) set(q string) {
	f.q = q
	f.words = strings.FieldsFunc(strings.ToLower(q), unicode.IsSpace)
}

func (f filter) active() bool { return len(f.words) > 0 }

// match reports whether text passes the filter.
func (f filter) match(text string) bool {
	if len(f.words) == 0 {
		return true
	}
	low := strings.ToLower(text)
	for _, w := range f.words {
		if !strings.Contains(low, w) {
			return false
		}
	}
	return true
}

// listFilter is the `/` filter of the current view's list (nil if the
// view has none).
func (m *Model) listFilter() *filter {
	switch m.view {
	case viewAlerts:
		return &m.alertsF
	case viewTimeline:
		return &m.tl.text
	case viewRuns:
		return &m.runsF
	case viewRoles:
		return &m.rosterF
	}
	return nil
}

// startFilter opens the `/` filter input: the list filters as one types.
func (m *Model) startFilter() tea.Cmd {
	f := m.listFilter()
	if f == nil {
		return m.refuse(errors.New("/ filters the alerts, timeline, roles and runs lists (2-5)"))
	}
	m.input = m.newTextInput("/")
	m.input.CharLimit = 200
	m.input.SetValue(f.q)
	m.overlay = overlayFilter
	m.invalidate()
	return nil
}

func (m *Model) onFilterKey(msg tea.KeyPressMsg) tea.Cmd {
	f := m.listFilter()
	switch msg.String() {
	case "esc":
		if f != nil {
			f.set("")
		}
		m.closeOverlay()
		return nil
	case "enter", "down", "up":
		m.closeOverlay()
		return nil
	}
	if m.input.Update(msg) && f != nil {
		f.set(m.input.Value())
		if m.view == viewTimeline {
			m.tl.follow = true
		}
	}
	return nil
}
