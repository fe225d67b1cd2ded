package tui

import (
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

func (m *Model) renderDetail(w, h int) []string {
	s := m.sty
	svcs := deriveServices(m.cfg, m.st, m.now)
	var sv *serviceView
	for i := range svcs {
		if svcs[i].cfg.ID == m.detail {
			sv = &svcs[i]
		}
	}
	if sv == nil {
		b := newBlock(w)
		b.add("  " + s.Muted.S("no service "+m.detail))
		return b.render(h)
	}
	out := make([]string, 0, h)
	// Title line.
	own := s.Muted.S("owner ") + s.Text.S(nameOr(sv.cfg.Owner, "none"))
	if sv.cfg.Backup != "" {
		own += s.Muted.S(" · backup ") + s.Text.S(sv.cfg.Backup)
	}
	o := m.st.Roles.Services[sv.cfg.ID]
	if o.Primary != sv.cfg.Owner || o.Backup != sv.cfg.Backup {
		own = s.Muted.S("owner ") + s.Text.S(nameOr(o.Primary, "none")) + s.Muted.S(" · backup ") + s.Text.S(nameOr(o.Backup, "none"))
	}
	left := s.badge(sv.sev) + " " + s.Bold.S(m.serviceName(sv.cfg.ID)) + "  " + own + "  " + m.ackLine(sv)
	out = append(out, spread(left, s.Muted.S("[ ] prev/next · a ack · B ack all · esc back"), w))

	// Bottom: alerts, playbooks, sources.
	alerts := m.detailAlerts(sv)
	pbs := m.detailPlaybooks(sv.cfg.ID)
	srcs := m.detailSources(sv)
	wide := w >= 120
	var bh int
	if wide {
		bh = max(len(alerts), len(pbs), len(srcs))
	} else {
		bh = len(alerts) + len(srcs) + len(pbs)
	}
	bh = clamp(bh, 3, max(h/3, 3))
	ch := h - 1 - bh
	if ch < 3 {
		ch, bh = 3, max(h-4, 0)
	}
	out = append(out, m.detailCharts(sv, w, ch)...)
	var bottom []string
	if wide {
		c1 := w * 45 / 100
		c2 := w * 25 / 100
		c3 := w - c1 - c2 - 2
		col := func(lines []string, cw int) []string {
			b := newBlock(cw)
			for _, l := range lines {
				b.add(l)
			}
			return b.render(bh)
		}
		bottom = hjoin(s.Subtle.S("│"), col(alerts, c1), col(pbs, c2), col(srcs, c3))
	} else {
		b := newBlock(w)
		for _, part := range [][]string{alerts, srcs, pbs} {
			for _, l := range part {
				b.add(l)
			}
		}
		bottom = b.render(bh)
	}
	out = append(out, bottom...)
	return out
}

func nameOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// detailCharts lays the service's panes out as framed braille charts.
func (m *Model) detailCharts(sv *serviceView, w, h int) []string {
	np := len(sv.panes)
	if np == 0 {
		return newBlock(w).render(h)
	}
	cols := 1
	if w >= 110 && np > 1 {
		cols = 2
	}
	rows := (np + cols - 1) / cols
	if h/rows < 3 && cols == 1 && np > 1 {
		cols = 2
		rows = (np + cols - 1) / cols
	}
	boxH := max(h/rows, 3)
	var out []string
	for r := 0; r < rows; r++ {
		var row [][]string
		for c := 0; c < cols; c++ {
			cw := (c+1)*w/cols - c*w/cols
			i := r*cols + c
			if i >= np {
				row = append(row, newBlock(cw).render(boxH))
				continue
			}
			row = append(row, m.chartBox(&sv.panes[i], cw, boxH))
		}
		out = append(out, hjoin("", row...)...)
	}
	return normalize(out, w, h)
}

// chartBox is one pane as a framed chart with y labels and thresholds.
func (m *Model) chartBox(pv *paneView, w, h int) []string {
	s := m.sty
	title := " " + s.Bold.S(pv.title) + " " + s.Level[pv.sev].S(valueText(pv)) + " "
	if pv.sev == sevOK {
		title = " " + s.Bold.S(pv.title) + " " + s.Text.S(valueText(pv)) + " "
	}
	tag := s.badgeText(pv.sev, paneLabel(pv))
	cw, ch := w-4, h-2
	var content []string
	switch {
	case ch <= 0 || cw <= 0:
	case pv.pane == nil || len(pv.pane.Series) == 0:
		msg := "waiting for the first answer from " + pv.cfg.Source
		if !pv.waiting {
			msg = "no history yet"
		}
		content = append(content, s.Muted.S(msg))
		if pv.stale && pv.why != "" {
			content = append(content, s.Level[sevStale].S("last error: "+textsafe.Line(pv.why)))
		}
	default:
		yl := 7
		plotW := cw - yl - 1
		rows := ch
		if pv.stale {
			rows--
		}
		if plotW < 4 || rows < 1 {
			content = append(content, m.paneSpark(pv, cw))
			break
		}
		content = append(content, m.charts.get(m.chartKeyFor(pv, 3, plotW, rows, true), func() []string { return m.drawDetailChart(pv, plotW, rows, yl) })...)
		if pv.stale {
			content = append(content, s.Level[sevStale].S("STALE: "+textsafe.Line(nameOr(pv.why, "no recent answer"))))
		}
	}
	for i := range content {
		content[i] = fit(content[i], cw)
	}
	return m.frame(content, w, h, title, tag, false)
}

// drawDetailChart is the braille chart with its y axis and thresholds.
func (m *Model) drawDetailChart(pv *paneView, plotW, rows, yl int) []string {
	s := m.sty
	var content []string
	{
		var lines []hline
		p := pv.cfg
		if p.Warn != nil {
			lines = append(lines, hline{v: *p.Warn, label: "warn " + incident.FormatValue(*p.Warn, p.Unit), p: s.ThresholdWarn})
		}
		if p.Crit != nil {
			lines = append(lines, hline{v: *p.Crit, label: "crit " + incident.FormatValue(*p.Crit, p.Unit), p: s.ThresholdCr})
		}
		chart, lo, hi := brailleChart(seriesValues(pv.pane, 2*plotW), plotW, rows, lines, m.sparkPaint(pv))
		for i, l := range chart {
			lab := ""
			switch i {
			case 0:
				lab = axisValue(hi, p.Unit, yl)
			case len(chart) - 1:
				lab = axisValue(lo, p.Unit, yl)
			}
			content = append(content, s.Muted.S(padLeft(axisLabel(lab, yl), yl))+s.Subtle.S("┤")+l)
		}
	}
	return content
}

func (m *Model) detailAlerts(sv *serviceView) []string {
	s := m.sty
	out := []string{s.Bold.S("Alerts") + s.Muted.S(" ("+plural(len(sv.open), "open alert")+")")}
	if len(sv.open) == 0 {
		out = append(out, s.Muted.S("none open"))
	}
	for _, a := range sv.open {
		if a.Quiet() {
			out = append(out, s.alertBadge(a)+" "+s.Muted.S(a.ID+" "+textsafe.Line(a.Text)+" · "+incident.Age(m.now.Sub(a.FiredAt))+" · "+quietText(a)))
			continue
		}
		state := s.Level[sevCrit].S("unacked")
		if a.Acked() {
			state = s.Text.S("acked by " + a.AckedBy)
		}
		esc := ""
		if g := m.st.GroupOf(a); g != nil && g.Escalated > 0 && !a.Acked() {
			esc = s.Escalated.S(" escalated to " + g.EscalatedTo)
		}
		out = append(out, s.badge(sevOf(a.Level))+" "+s.Muted.S(a.ID)+" "+s.Text.S(textsafe.Line(a.Text))+s.Muted.S(" · "+incident.Age(m.now.Sub(a.FiredAt))+" · ")+state+esc)
	}
	return out
}

func (m *Model) detailPlaybooks(service string) []string {
	s := m.sty
	out := []string{s.Bold.S("Playbooks")}
	if m.o.Playbooks == nil {
		return append(out, s.Muted.S("no playbook catalog loaded"))
	}
	n := 0
	for _, pb := range m.o.Playbooks.List() {
		if pb.Service != service {
			continue
		}
		n++
		line := s.Text.S(nameOr(pb.Title, pb.Name))
		if pb.Summary != "" {
			line += s.Muted.S(" — " + pb.Summary)
		}
		if err := m.check(roles.ActRunPlaybook, service); err != nil {
			line = s.Disabled.S(nameOr(pb.Title, pb.Name) + " ✗ " + reasonOf(err))
		}
		out = append(out, line)
	}
	if n == 0 {
		out = append(out, s.Muted.S("none for this service"))
	}
	return out
}

func (m *Model) detailSources(sv *serviceView) []string {
	s := m.sty
	out := []string{s.Bold.S("Sources")}
	seen := map[string]bool{}
	stale := map[string]int{}
	for i := range sv.panes {
		if sv.panes[i].stale {
			stale[sv.panes[i].cfg.Source]++
		}
	}
	for i := range sv.panes {
		id := sv.panes[i].cfg.Source
		if seen[id] {
			continue
		}
		seen[id] = true
		line := m.sourceBadge(id, stale[id])
		if info, ok := m.st.Sources[id]; ok && info.Error != "" {
			line += s.Muted.S(" last error: " + textsafe.Line(info.Error))
		}
		out = append(out, line)
	}
	for i := range sv.panes {
		pv := &sv.panes[i]
		if pv.stale && pv.why != "" {
			out = append(out, s.Level[sevStale].S("  "+pv.cfg.ID+": "+textsafe.Line(pv.why)))
		}
	}
	return out
}

// axisValue is a value with its unit if that fits the axis, else bare.
func axisValue(v float64, unit string, w int) string {
	if s := incident.FormatValue(v, unit); width(s) <= w {
		return s
	}
	return incident.FormatValue(v, "")
}

func axisLabel(s string, w int) string { return trunc(s, w) }
