package tui

import (
	"strings"

	"github.com/warroom/warroom/incident"
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
	// Title line: the live owners.
	o := m.st.Roles.Services[sv.cfg.ID]
	own := s.Muted.S("owner ") + s.Text.S(nameOr(o.Primary, "none")) + s.Muted.S(" · backup ") + s.Text.S(nameOr(o.Backup, "none"))
	left := s.badgeText(sv.sev, sv.label()) + " " + s.Bold.S(m.serviceName(sv.cfg.ID)) + "  " + own + "  "
	hint := s.Muted.S("[ ] prev/next · a ack · B ack all · esc back")
	if w < 100 {
		hint = ""
	}
	out = append(out, spread(left+m.ackLine(sv, max(w-width(left)-width(hint)-1, 10)), hint, w))

	// Bottom: alerts and runs, playbooks, sources. The columns share the
	// width; on a narrow screen they stack, playbooks before sources.
	w1, w2, w3 := w*45/100, w*25/100, 0
	switch {
	case w >= 120:
		w3 = w - w1 - w2 - 2
	case w >= 72:
		w1, w2 = w/2, w-w/2-1
	default:
		w1 = w
	}
	alerts := append(m.detailAlerts(sv, w1), m.detailRuns(sv.cfg.ID, w1)...)
	pbW := w2
	if pbW == 0 {
		pbW = w1 // one column
	}
	pbs := m.detailPlaybooks(sv.cfg.ID, pbW)
	srcs := m.detailSources(sv)
	var bh int
	switch {
	case w3 > 0:
		bh = max(len(alerts), len(pbs), len(srcs))
	case w2 > 0:
		bh = max(len(alerts), len(pbs)+len(srcs))
	default:
		bh = len(alerts) + len(pbs) + len(srcs)
	}
	bh = clamp(bh, 3, max(h*2/5, 3))
	ch := h - 1 - bh
	if ch < 4 {
		ch, bh = 4, max(h-5, 0)
	}
	out = append(out, m.detailCharts(sv, w, ch)...)
	col := func(lines []string, cw int) []string {
		b := newBlock(cw)
		for _, l := range lines {
			b.add(l)
		}
		return b.render(bh)
	}
	var bottom []string
	switch {
	case w3 > 0:
		bottom = hjoin(s.Subtle.S("│"), col(alerts, w1), col(pbs, w2), col(srcs, w3))
	case w2 > 0:
		bottom = hjoin(s.Subtle.S("│"), col(alerts, w1), col(append(pbs, srcs...), w2))
	default:
		bottom = col(append(append(alerts, pbs...), srcs...), w)
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
	vp := s.Level[pv.sev]
	if pv.sev == sevOK {
		vp = s.Text
	}
	tag := s.badgeText(pv.sev, paneLabel(pv))
	// The title says what the chart is, its value and its threshold;
	// what does not fit goes on the bottom border, never cut.
	val, thr := m.paneValue(pv)
	room := w - 6 - width(tag)
	title, foot := " "+s.Bold.S(pv.title)+" "+vp.S(val)+" ", ""
	switch {
	case thr != "" && width(title)+width(thr)+1 <= room:
		title += s.Muted.S(thr) + " "
	case width(title) <= room:
		foot = s.Muted.S(thr)
	default:
		// The bottom border holds the value and the threshold; an old
		// value leaves out its time, then itself, before the threshold
		// is cut.
		title = " " + s.Bold.S(pv.title) + " "
		short, _ := m.paneValueAt(pv, false)
		foot = vp.S(short)
		if thr != "" {
			for _, f := range []string{vp.S(val) + " " + s.Muted.S(thr), vp.S(short) + " " + s.Muted.S(thr), s.Muted.S(thr)} {
				if foot = f; width(f) <= w-6 {
					break
				}
			}
		} else if width(vp.S(val)) <= w-6 {
			foot = vp.S(val)
		}
	}
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
		axis := rows >= 3
		if axis {
			rows-- // the time axis
		}
		if plotW < 4 || rows < 1 {
			content = append(content, m.paneSpark(pv, cw))
			break
		}
		legend := m.chartLegend(pv, cw)
		if rows >= 4 && legend != "" {
			rows--
		} else {
			legend = ""
		}
		var extra []float64 // what else the chart draws, for its key
		if b := m.baselineBand(pv); b != nil {
			extra = append(extra, b[:]...)
		}
		if x := m.expectedCurve(pv); x != nil && x.Drawable() {
			extra = append(extra, x.Lo, x.Hi)
		}
		content = append(content, m.charts.get(m.chartKeyFor(pv, 3, plotW, rows, 2*plotW, true, extra...), func() []string { return m.drawDetailChart(pv, plotW, rows, yl) })...)
		if axis {
			content = append(content, m.timeAxis(pv, plotW, yl))
		}
		if legend != "" {
			content = append(content, legend)
		}
		if pv.stale {
			content = append(content, s.Level[sevStale].S("STALE: "+textsafe.Line(nameOr(pv.why, "no recent answer"))))
		}
	}
	for i := range content {
		content[i] = fit(content[i], cw)
	}
	return m.frameFoot(content, w, h, title, tag, foot, false)
}

// drawDetailChart is the braille chart with its y axis and thresholds.
func (m *Model) drawDetailChart(pv *paneView, plotW, rows, yl int) []string {
	s := m.sty
	var content []string
	{
		var lines []hline
		p := pv.cfg
		// The expected curve first: a threshold on the same row wins.
		if x := m.expectedCurve(pv); x != nil && x.Drawable() {
			lines = append(lines, hline{v: x.Hi, label: "exp " + x.Metrics[len(x.Metrics)-1], p: s.Accent, dash: '╌'})
			if x.Lo != x.Hi {
				lines = append(lines, hline{v: x.Lo, label: "exp " + x.Metrics[0], p: s.Accent, dash: '╌'})
			}
		}
		if p.Warn != nil {
			lines = append(lines, hline{v: *p.Warn, label: "warn " + incident.FormatValue(*p.Warn, p.Unit), p: s.ThresholdWarn})
		}
		if p.Crit != nil {
			lines = append(lines, hline{v: *p.Crit, label: "crit " + incident.FormatValue(*p.Crit, p.Unit), p: s.ThresholdCr})
		}
		var bd *band
		if b := m.baselineBand(pv); b != nil {
			bd = &band{lo: b[0], hi: b[1], p: s.Subtle}
		}
		chart, lo, hi := brailleChartBand(seriesValues(pv.pane, 2*plotW), plotW, rows, lines, m.sparkPaint(pv), bd)
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

// detailAlerts lists the service's open alerts, each wrapped to w.
func (m *Model) detailAlerts(sv *serviceView, w int) []string {
	s := m.sty
	out := []string{s.Bold.S("Alerts") + s.Muted.S(" ("+incident.Plural(len(sv.open), "open alert")+")")}
	if len(sv.open) == 0 {
		out = append(out, s.Muted.S("none open"))
	}
	for _, a := range sv.open {
		state := "unacked"
		switch {
		case a.Quiet():
			state = quietText(a)
		case a.Acked():
			state = "acked by " + a.AckedBy
		}
		if g := m.st.GroupOf(a); g != nil && g.Escalated > 0 && !a.Acked() && !a.Quiet() {
			state += ", escalated to " + g.EscalatedTo
		}
		badge := s.alertBadge(a) + " "
		text := a.ID + " " + textsafe.Line(a.Text) + " · " + incident.Age(m.now.Sub(a.FiredAt)) + " · " + state
		for i, l := range wrapLines(text, max(w-width(badge), 10), 4) {
			if i == 0 {
				out = append(out, badge+s.Text.S(l))
			} else {
				out = append(out, strings.Repeat(" ", width(badge))+s.Text.S(l))
			}
		}
	}
	return out
}

// detailRuns lists the service's runs in flight.
func (m *Model) detailRuns(service string, w int) []string {
	runs := m.activeRuns(service)
	if len(runs) == 0 {
		return nil
	}
	out := []string{m.sty.Bold.S("Runs") + m.sty.Muted.S(" (5 lists them all)")}
	for _, r := range runs {
		for _, l := range wrapLines(textsafe.Line(m.runSummaryLine(r)), w-2, 2) {
			out = append(out, m.runPaint(r.State).S("▶ "+l))
		}
	}
	return out
}

// detailPlaybooks lists the service's playbooks, and whether this person
// may run each now (and why not).
func (m *Model) detailPlaybooks(service string, w int) []string {
	s := m.sty
	out := []string{s.Bold.S("Playbooks") + s.Muted.S(" (ctrl+p runs one)")}
	if m.o.Playbooks == nil {
		return append(out, s.Muted.S("no playbook catalog loaded"))
	}
	n := 0
	for _, pb := range m.o.Playbooks.List() {
		if pb.Service != service {
			continue
		}
		n++
		name := nameOr(pb.Title, pb.Name)
		if err := m.playbookErr(pb); err != nil {
			for _, l := range wrapLines(name+" ✗ "+reasonOf(err), w, 3) {
				out = append(out, s.Disabled.S(l))
			}
			continue
		}
		text := name
		if pb.Summary != "" {
			text += " — " + pb.Summary
		}
		for _, l := range wrapLines(text, w, 3) {
			out = append(out, s.Text.S(l))
		}
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

// timeAxis is the time line under a detail chart: the first and the
// last sample's times and the window between them.
func (m *Model) timeAxis(pv *paneView, plotW, yl int) string {
	s := m.sty
	ser := pv.pane.Series
	n := min(len(ser), 2*plotW)
	first, last := ser[len(ser)-n].T, ser[len(ser)-1].T
	l, r := first.In(m.loc).Format("15:04:05"), last.In(m.loc).Format("15:04:05")
	mid := " " + incident.Age(last.Sub(first)) + " window "
	// The data sits at the right edge when it does not fill the chart.
	lead := plotW - (n+1)/2
	inner := plotW - lead - width(l) - width(r)
	line := strings.Repeat(" ", lead) + l
	if inner >= width(mid)+2 {
		d := inner - width(mid)
		line += strings.Repeat("─", d/2) + mid + strings.Repeat("─", d-d/2)
	} else {
		line += strings.Repeat(" ", max(inner, 1))
	}
	line += r
	if width(line) > plotW {
		line = padLeft(r, plotW)
	}
	return strings.Repeat(" ", yl) + s.Subtle.S("└") + s.Muted.S(line)
}
