package tui

import (
	"strings"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// scrollTo returns the first visible row keeping sel in a window of vis.
func scrollTo(sel, top, vis, n int) int {
	if vis <= 0 {
		return 0
	}
	if sel < top {
		top = sel
	}
	if sel >= top+vis {
		top = sel - vis + 1
	}
	return clamp(top, 0, max(n-vis, 0))
}

// alertList is the alerts view's rows (groups, expanded ones followed by
// their alerts) that pass the `/` filter, worst first.
func (m *Model) alertList() []alertRow {
	rows := alertRows(m.st, m.alertOpen)
	if !m.alertsF.active() {
		return rows
	}
	out := rows[:0:0]
	for _, r := range rows {
		a := r.a
		if m.alertsF.match(a.ID + " " + string(a.Level) + " " + m.serviceName(a.Service) + " " + a.Service + " " + a.Text + " " + a.AckedBy) {
			out = append(out, r)
		}
	}
	return out
}

// alertIDs are the rows' stable keys: the cursor stays on a group (or a
// member) across re-sorts.
func alertIDs(rows []alertRow) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.key
	}
	return ids
}

// selectedRow is the row under the cursor (ok false if none).
func (m *Model) selectedRow() (alertRow, bool) {
	rows := m.alertList()
	if i := m.alerts.at(alertIDs(rows)); i >= 0 {
		return rows[i], true
	}
	return alertRow{}, false
}

// selectedAlert is the alert under the cursor (nil if none).
func (m *Model) selectedAlert() *incident.Alert {
	if r, ok := m.selectedRow(); ok {
		return r.a
	}
	return nil
}

// alertCols are the alerts table's column widths, sized from the rows'
// content and the screen: the alert text gets what is left and wraps.
type alertCols struct {
	level, id, svc, text, age, ack int
	short                          bool // acks as "✓ tomas" / "unacked"
	maxLines                       int  // alert text lines per row
}

func (m *Model) alertColumns(rows []alertRow, w int) alertCols {
	// An alert wraps to at most four lines (enter shows it in full): long
	// enough for a monitor's name and its tags at 80 columns.
	c := alertCols{level: 5, id: 2, svc: 7, age: 3, ack: 3, maxLines: 4}
	for _, r := range rows {
		a := r.a
		c.level = max(c.level, width(m.sty.alertBadge(a)))
		c.id = max(c.id, width(a.ID))
		c.svc = max(c.svc, width(m.serviceName(a.Service)))
		c.age = max(c.age, width(incident.Age(m.now.Sub(a.FiredAt)))+1)
		c.ack = max(c.ack, width(m.ackText(r, false)))
	}
	c.svc = min(c.svc, max(w/6, 10))
	c.ack = min(c.ack, 30)
	// 2 margin + 5 separators.
	c.text = w - 7 - c.level - c.id - c.svc - c.age - c.ack
	if c.text < 30 {
		c.short = true
		c.ack = 3
		for _, r := range rows {
			c.ack = max(c.ack, width(m.ackText(r, true)))
		}
		c.ack = min(c.ack, 14)
		c.text = w - 7 - c.level - c.id - c.svc - c.age - c.ack
	}
	c.text = max(c.text, 8)
	if c.text < 50 {
		// A narrow column: a monitor's name and summary still fit, and a
		// rule's summary with when it began, when it arrived late.
		c.maxLines = 6
	}
	return c
}

// ackText is what the ACK column says about a row: who acked its group,
// or that it waits (and whether an ESCALATE paged someone).
func (m *Model) ackText(r alertRow, short bool) string {
	state, _ := groupState(m.st, r)
	if !short {
		return state
	}
	switch a := r.a; {
	case strings.HasPrefix(state, "acked by "):
		return "✓ " + a.AckedBy
	case strings.Contains(state, "ESCALATED"):
		return "ESCALATED"
	}
	if i := strings.Index(state, " · "); i > 0 {
		return state[:i]
	}
	return state
}

func (m *Model) renderAlerts(w, h int) []string {
	s := m.sty
	rows := m.alertList()
	total := len(alertRows(m.st, m.alertOpen))
	b := newBlock(w)
	title := s.Bold.S("Open alerts") + s.Muted.S(" ("+incident.Plural(total, "group")+") · worst first, then oldest")
	if m.alertsF.active() {
		title = s.Bold.S("Open alerts") + s.Muted.S(" · filter ") + s.Key.S(textsafe.Line(m.alertsF.q)) + s.Muted.S(" ("+itoa(len(rows))+" of "+itoa(total)+") · esc clears")
	}
	b.add(bar([]seg{{title, 10}, {s.Muted.S("a ack · x resolve · → expand · enter details · / filter"), 5}}, "  ", w))
	m.alertLineIDs = m.alertLineIDs[:0]
	if len(rows) == 0 {
		b.add("")
		if total > 0 {
			b.add("  " + s.Muted.S("no open alert matches the filter"))
		} else {
			b.add("  " + s.Muted.S("no open alerts"))
		}
		return b.render(h)
	}
	c := m.alertColumns(rows, w)
	col := func(lv, id, svc, text, age, ack string) string {
		return "  " + fit(lv, c.level) + " " + fit(id, c.id) + " " + fit(svc, c.svc) + " " + fit(text, c.text) + " " + padLeft(age, c.age) + " " + fit(ack, c.ack)
	}
	b.add(s.Muted.S(col("LEVEL", "ID", "SERVICE", "ALERT", "AGE", "ACK")))
	m.alertLineIDs = append(m.alertLineIDs, "", "")
	ids := alertIDs(rows)
	sel := m.alerts.at(ids)
	// Rows wrap, so rows and lines differ: lay out from the top row,
	// moving it until the selected row is wholly on screen.
	vis := h - 3
	// Continuation lines are indented by two: wrap to fit them. When
	// every row fits on screen in full none is cut; otherwise each gets
	// at most maxLines.
	tw := c.text - 2
	texts := make([][]string, len(rows))
	full := 0
	for i, r := range rows {
		lead, tail := alertRowParts(r, m.alertOpen[r.key])
		texts[i] = wrapLines(lead+textsafe.Line(r.a.Text)+tail, tw, 0)
		full += len(texts[i])
	}
	if full > vis {
		for i, r := range rows {
			if len(texts[i]) > c.maxLines {
				texts[i] = m.boundedAlertRow(r, tw, c.maxLines)
			}
		}
	}
	top := clamp(m.alertTop, 0, len(rows)-1)
	if sel < top {
		top = sel
	}
	for {
		used := 0
		for i := top; i <= sel; i++ {
			used += len(texts[i])
		}
		if used <= vis || top >= sel {
			break
		}
		top++
	}
	m.alertTop = top
	used := 0
	for i := top; i < len(rows); i++ {
		r := rows[i]
		a := r.a
		if used+len(texts[i]) > vis && i > top {
			break
		}
		age := incident.Age(m.now.Sub(a.FiredAt))
		ageS := s.Text.S(age)
		if a.Overdue(m.cfg.Escalation, m.now) {
			ageS = s.Escalated.S(age + "!")
		}
		_, waiting := groupState(m.st, r)
		ack := s.Muted.S(m.ackText(r, c.short))
		switch {
		case waiting:
			ack = s.Level[sevCrit].S(m.ackText(r, c.short))
		case a.Acked():
			ack = s.Text.S(m.ackText(r, c.short))
		}
		paint := s.Text
		if a.Quiet() {
			paint = s.Muted
		}
		for j, t := range texts[i] {
			var line string
			if j == 0 {
				svc := m.serviceName(a.Service)
				if width(svc) > c.svc && a.Service != "" {
					svc = a.Service // the id, when the name does not fit
				}
				line = col(s.alertBadge(a), s.Muted.S(a.ID), paint.S(svc), paint.S(t), ageS, ack)
			} else {
				line = col("", "", "", paint.S("  "+t), "", "")
			}
			switch {
			case i == sel && j == 0:
				line = s.selectLine(line, w)
			case i == sel:
				line = s.selectMore(line, w)
			}
			b.add(line)
			m.alertLineIDs = append(m.alertLineIDs, r.key)
			used++
		}
	}
	// What the selected alert allows this person to do.
	r := rows[sel]
	a := r.a
	what := a.ID
	if r.size > 1 || r.member {
		what = a.ID + " and the rest of its group"
	}
	foot := ""
	if err := m.check(roles.ActAck, a.Service); err != nil {
		foot = s.Disabled.S("✗ ack/resolve " + a.ID + ": " + reasonOf(err))
	} else if a.Acked() {
		foot = s.Muted.S(a.ID + " acked by " + a.AckedBy + " " + incident.Age(m.now.Sub(a.AckedAt)) + " ago · x resolves it · S opens " + m.serviceName(a.Service))
	} else {
		foot = s.Muted.S("a acks " + what + " · B acks every alert of " + m.serviceName(a.Service) + " · x resolves " + a.ID)
	}
	lines := b.render(h - 1)
	return append(lines, fit(foot, w))
}

// alertAtLine is the alert drawn on body line y (mouse), "" if none.
func (m *Model) alertAtLine(y int) string {
	if y >= 0 && y < len(m.alertLineIDs) {
		return m.alertLineIDs[y]
	}
	return ""
}

// alertRowParts are what a row adds around its alert's text: the group's
// marker before it, and its count after.
func alertRowParts(r alertRow, open bool) (lead, tail string) {
	switch {
	case r.member:
		return "└ ", ""
	case r.size > 1 && open:
		return "▾ ", " (" + itoa(r.size) + " alerts)"
	case r.size > 1:
		return "▸ ", " (+" + itoa(r.size-1) + " more)"
	}
	return "", ""
}

// boundedAlertRow wraps a row in at most n lines of w cells: it leaves out
// when a late alert began (enter shows it) before it cuts the alert's
// text, and never cuts the group's count.
func (m *Model) boundedAlertRow(r alertRow, w, n int) []string {
	lead, tail := alertRowParts(r, m.alertOpen[r.key])
	text := textsafe.Line(r.a.Text)
	if note := textsafe.Line(r.a.LateNote()); note != "" {
		text = strings.TrimSuffix(text, note)
	}
	if lines := wrapLines(lead+text+tail, w, 0); len(lines) <= n {
		return lines
	}
	if tail == "" || w <= width(tail)+1 {
		return wrapLines(lead+text+tail, w, n)
	}
	lines := wrapLines(lead+text, w, n)
	last := len(lines) - 1
	lines[last] = trunc(lines[last], w-width(tail)) + tail
	return lines
}
