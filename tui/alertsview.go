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
	open := m.st.OpenAlerts()
	b := newBlock(w)
	b.add(spread(s.Bold.S("Open alerts")+s.Muted.S(" ("+itoa(len(open))+") · worst first, then oldest"),
		s.Muted.S("a ack · B ack service · x resolve · enter open"), w))
	const lvW, idW, svcW, ageW, ackW = 9, 6, 12, 10, 20
	textW := max(w-lvW-idW-svcW-ageW-ackW-7, 8)
	col := func(a, b, c, d, e, f string) string {
		return "  " + fit(a, lvW) + " " + fit(b, idW) + " " + fit(c, svcW) + " " + fit(d, textW) + " " + fit(e, ageW) + " " + fit(f, ackW)
	}
	if len(open) == 0 {
		b.add("")
		b.add("  " + s.Muted.S("no open alerts"))
		return b.render(h)
	}
	b.add(s.Muted.S(col("LEVEL", "ID", "SERVICE", "ALERT", "AGE", "ACK")))
	vis := h - 3
	sel := clamp(m.alertSel, 0, len(open)-1)
	top := scrollTo(sel, m.alertTop, vis, len(open))
	for i := top; i < len(open) && i < top+vis; i++ {
		a := open[i]
		age := m.now.Sub(a.FiredAt)
		ageS := s.Text.S(incident.Age(age))
		if a.Overdue(m.cfg.Escalation, m.now) {
			ageS = s.Escalated.S(incident.Age(age) + "!")
		}
		ack := s.Level[sevCrit].S("unacked")
		if a.Acked() {
			ack = s.Text.S("acked by " + a.AckedBy)
		} else if a.Escalated > 0 {
			ack = s.Level[sevCrit].S("unacked · escalated")
		}
		line := col(s.badge(sevOf(a.Level)), s.Muted.S(a.ID), s.Text.S(m.serviceName(a.Service)), s.Text.S(textsafe.Line(a.Text)), ageS, ack)
		if i == sel {
			line = s.selectLine(line, w)
		}
		b.add(line)
	}
	// What the selected alert allows this person to do.
	a := open[sel]
	foot := ""
	if err := m.check(roles.ActAck, a.Service); err != nil {
		foot = s.Disabled.S("✗ ack/resolve " + a.ID + ": " + reasonOf(err))
	} else if a.Acked() {
		foot = s.Muted.S(a.ID + " acked by " + a.AckedBy + " " + incident.Age(m.now.Sub(a.AckedAt)) + " ago")
	} else {
		foot = s.Muted.S("a acks " + a.ID + " · B acks every alert of " + m.serviceName(a.Service))
	}
	lines := b.render(h - 1)
	return append(lines, fit(foot, w))
}
