package tui

import (
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

func (m *Model) renderAlerts(w, h int) []string {
	s := m.sty
	rows := alertRows(m.st, m.alertOpen)
	b := newBlock(w)
	b.add(spread(s.Bold.S("Open alerts")+s.Muted.S(" ("+plural(len(rows), "group")+") · worst first, then oldest"),
		s.Muted.S("a ack · B ack service · x resolve · → expand · enter open"), w))
	const lvW, idW, svcW, ageW, ackW = 10, 6, 12, 10, 30
	textW := max(w-lvW-idW-svcW-ageW-ackW-7, 8)
	col := func(a, b, c, d, e, f string) string {
		return "  " + fit(a, lvW) + " " + fit(b, idW) + " " + fit(c, svcW) + " " + fit(d, textW) + " " + fit(e, ageW) + " " + fit(f, ackW)
	}
	if len(rows) == 0 {
		b.add("")
		b.add("  " + s.Muted.S("no open alerts"))
		return b.render(h)
	}
	b.add(s.Muted.S(col("LEVEL", "ID", "SERVICE", "ALERT", "AGE", "ACK")))
	vis := h - 3
	sel := clamp(m.alertSel, 0, len(rows)-1)
	top := scrollTo(sel, m.alertTop, vis, len(rows))
	for i := top; i < len(rows) && i < top+vis; i++ {
		r := rows[i]
		a := r.a
		age := m.now.Sub(a.FiredAt)
		ageS := s.Text.S(incident.Age(age))
		if a.Overdue(m.cfg.Escalation, m.now) {
			ageS = s.Escalated.S(incident.Age(age) + "!")
		}
		state, waiting := groupState(m.st, r)
		ack := s.Muted.S(state)
		switch {
		case waiting:
			ack = s.Level[sevCrit].S(state)
		case a.Acked():
			ack = s.Text.S(state)
		}
		text := textsafe.Line(a.Text)
		switch {
		case r.member:
			text = "  └ " + text
		case r.size > 1 && m.alertOpen[r.key]:
			text = "▾ " + text + " (" + itoa(r.size) + " alerts)"
		case r.size > 1:
			text = "▸ " + text + " (+" + itoa(r.size-1) + " more)"
		}
		paint := s.Text
		if a.Quiet() {
			paint = s.Muted
		}
		line := col(s.alertBadge(a), s.Muted.S(a.ID), paint.S(m.serviceName(a.Service)), paint.S(text), ageS, ack)
		if i == sel {
			line = s.selectLine(line, w)
		}
		b.add(line)
	}
	// What the selected alert allows this person to do.
	r := rows[sel]
	a := r.a
	foot := ""
	what := a.ID
	if r.size > 1 || r.member {
		what = a.ID + " and the rest of its group"
	}
	if err := m.check(roles.ActAck, a.Service); err != nil {
		foot = s.Disabled.S("✗ ack/resolve " + a.ID + ": " + reasonOf(err))
	} else if a.Acked() {
		foot = s.Muted.S(a.ID + " acked by " + a.AckedBy + " " + incident.Age(m.now.Sub(a.AckedAt)) + " ago")
	} else {
		foot = s.Muted.S("a acks " + what + " · B acks every alert of " + m.serviceName(a.Service))
	}
	lines := b.render(h - 1)
	return append(lines, fit(foot, w))
}
