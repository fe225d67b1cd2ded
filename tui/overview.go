package tui

import (
	"math"
	"strings"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// grid is the overview's arrangement of service panes.
type grid struct {
	n, cols, rows int
	w, h          int
	cellH         int
	visRows       int // rows on screen; < rows means it scrolls
}

const (
	minCellW = 30
	minCellH = 4
)

// gridLayout picks the number of columns that gives panes a pleasant
// shape (about 3:1 in cells), avoiding scrolling and empty slots.
func gridLayout(n, w, h int) grid {
	g := grid{n: n, cols: 1, rows: max(n, 1), w: w, h: h}
	if n == 0 {
		g.cellH, g.visRows = h, 1
		return g
	}
	best := math.Inf(1)
	for c := 1; c <= n; c++ {
		if c > 1 && w/c < minCellW {
			break
		}
		r := (n + c - 1) / c
		fits := r*minCellH <= h
		ch, vis := minCellH, max(1, h/minCellH)
		if fits {
			ch, vis = h/r, r
		}
		aspect := float64(w/c) / float64(max(ch, 1))
		score := math.Abs(math.Log(aspect/3.0)) + 0.1*float64(c*r-n)
		if !fits {
			score += 3 + float64(r-vis)
		}
		if score < best {
			best = score
			g.cols, g.rows, g.cellH, g.visRows = c, r, ch, vis
		}
	}
	if g.visRows < g.rows {
		g.cellH = h / g.visRows
	}
	return g
}

// colX is where column c starts.
func (g grid) colX(c int) int { return c * g.w / g.cols }

// rowY is where visible row r starts: the height is shared out evenly.
func (g grid) rowY(r int) int {
	return r * g.h / max(g.visRows, 1)
}

// scrollFor returns the first visible row that keeps sel on screen.
func (g grid) scrollFor(sel, top int) int {
	row := sel / g.cols
	if row < top {
		top = row
	}
	if row >= top+g.visRows {
		top = row - g.visRows + 1
	}
	return clamp(top, 0, max(g.rows-g.visRows, 0))
}

// hit returns the pane index at body position (x, y), or -1.
func (g grid) hit(x, y, top int) int {
	if g.cellH <= 0 {
		return -1
	}
	row := -1
	for r := 0; r < g.visRows; r++ {
		if y >= g.rowY(r) && y < g.rowY(r+1) {
			row = r
		}
	}
	if row < 0 {
		return -1
	}
	col := -1
	for c := 0; c < g.cols; c++ {
		if x >= g.colX(c) && x < g.colX(c+1) {
			col = c
		}
	}
	if col < 0 {
		return -1
	}
	i := (top+row)*g.cols + col
	if i >= g.n {
		return -1
	}
	return i
}

func (m *Model) renderOverview(w, h int) []string {
	svcs := deriveServices(m.cfg, m.viewState(), m.now)
	if len(svcs) == 0 {
		b := newBlock(w)
		b.add("  " + m.sty.Muted.S("no services in the war-room file"))
		return b.render(h)
	}
	g := gridLayout(len(svcs), w, h)
	top := g.scrollFor(m.sel, m.ovTop)
	prev := m.cells
	m.cells = make(map[cellKey][]string, len(svcs))
	out := make([]string, 0, h)
	for r := top; r < top+g.visRows && r < g.rows; r++ {
		cols := make([][]string, g.cols)
		ch := g.rowY(r-top+1) - g.rowY(r-top)
		for c := 0; c < g.cols; c++ {
			cw := g.colX(c+1) - g.colX(c)
			i := r*g.cols + c
			if i < len(svcs) {
				k := m.cellKeyFor(&svcs[i], cw, ch, i == m.sel)
				cell, ok := prev[k]
				if !ok {
					cell = m.renderCell(&svcs[i], cw, ch, i == m.sel)
				}
				m.cells[k] = cell
				cols[c] = cell
			} else {
				cols[c] = newBlock(cw).render(ch)
			}
		}
		out = append(out, hjoin("", cols...)...)
	}
	if g.visRows < g.rows && len(out) > 0 {
		// Say that there is more, on the last line.
		more := m.sty.Muted.S(" ↕ rows " + itoa(top+1) + "–" + itoa(min(top+g.visRows, g.rows)) + " of " + itoa(g.rows) + " ")
		last := len(out) - 1
		lw := width(out[last])
		if lw > width(more)+2 {
			out[last] = overlay([]string{out[last]}, []string{more}, lw-width(more)-2, 0)[0]
		}
	}
	return out
}

// frame draws a box of w×h around content lines (each w-4 wide), with a
// title on the left of the top border and a tag on its right.
func (m *Model) frame(content []string, w, h int, title, tag string, focus bool) []string {
	return m.frameFoot(content, w, h, title, tag, "", focus)
}

// frameFoot is frame with a note on the right of the bottom border (what
// the box could not show).
func (m *Model) frameFoot(content []string, w, h int, title, tag, foot string, focus bool) []string {
	s := m.sty
	bp := s.Border
	tl, tr, bl, br, hz, vt := "╭", "╮", "╰", "╯", "─", "│"
	if focus {
		bp = s.BorderFocus
		tl, tr, bl, br, hz, vt = "┏", "┓", "┗", "┛", "━", "┃"
	}
	inner := w - 2
	title = trunc(title, max(inner-2-width(tag)-2, 0))
	fill := inner - 1 - width(title)
	if tag != "" {
		fill -= width(tag) + 1
	}
	var top strings.Builder
	top.WriteString(bp.S(tl + hz))
	top.WriteString(title)
	if fill > 0 {
		top.WriteString(bp.S(strings.Repeat(hz, fill)))
	}
	if tag != "" {
		top.WriteString(tag)
		top.WriteString(bp.S(hz))
	}
	top.WriteString(bp.S(tr))
	out := make([]string, 0, h)
	out = append(out, fit(top.String(), w))
	side := bp.S(vt)
	blank := strings.Repeat(" ", w-4)
	for i := 0; i < h-2; i++ {
		line := blank
		if i < len(content) {
			line = content[i]
		}
		out = append(out, side+" "+line+" "+side)
	}
	if h >= 2 {
		foot = trunc(foot, max(inner-4, 0))
		if foot == "" {
			out = append(out, bp.S(bl+strings.Repeat(hz, max(inner, 0))+br))
		} else {
			out = append(out, bp.S(bl+strings.Repeat(hz, max(inner-width(foot)-3, 0))+" ")+foot+bp.S(" "+hz+br))
		}
	}
	return out
}

// renderCell draws one service pane of the overview. Nothing that
// explains a state is cut: threshold lines wrap under their value, and
// what does not fit whole (a pane, an alert) is counted on the bottom
// border instead ("+2 panes").
func (m *Model) renderCell(sv *serviceView, w, h int, selected bool) []string {
	s := m.sty
	cw, ch := w-4, h-2
	if cw < 4 || ch < 1 {
		return newBlock(w).render(h)
	}
	name := sv.cfg.Name
	if name == "" {
		name = sv.cfg.ID
	}
	title := " " + s.Bold.S(name)
	// The live owner: reassignments show at once. Before the snapshot,
	// the owner the file names.
	if m.st == nil {
		if sv.cfg.Owner != "" {
			title += s.Muted.S(" · " + sv.cfg.Owner)
		}
	} else if owner := m.st.Roles.Services[sv.cfg.ID].Primary; owner != "" {
		title += s.Muted.S(" · " + owner)
	} else {
		title += s.Level[sevWarn].S(" · no owner")
	}
	title += " "
	tag := s.badgeText(sv.sev, sv.label())
	b := newBlock(cw)
	runs := m.activeRuns(sv.cfg.ID)
	np := len(sv.panes)
	k := 0
	if np > 0 {
		k = (ch-1-len(runs))/np - 1 // chart rows per pane in the roomy layout
	}
	shown := 0
	var hiddenRuns []string
	// An alert that outranks every pane is the headline.
	lead := sv.headAlert()
	if lead != nil {
		for _, l := range m.alertText(lead, cw, 2) {
			b.add(l)
		}
		k = (ch-len(b.lines)-1-len(runs))/max(np, 1) - 1
	}
	if k >= 2 {
		b.add(m.ackLine(sv, cw))
		hiddenRuns = m.runLines(b, runs, ch)
		for i := range sv.panes {
			pv := &sv.panes[i]
			lines := m.paneLines(pv, cw, false)
			if len(lines) > ch-len(b.lines) {
				break
			}
			for _, l := range lines {
				b.add(l)
			}
			shown++
			rows := min(k-(len(lines)-1), 8)
			for _, l := range m.paneChart(pv, cw, rows, cw >= 44) {
				if !b.full(ch) {
					b.add(l)
				}
			}
		}
	} else {
		if np > 0 {
			head := &sv.panes[sv.head]
			for _, l := range m.paneLines(head, cw, false) {
				b.add(l)
			}
			shown++
			if ch >= 3+len(b.lines) {
				b.add(m.paneSpark(head, cw))
			}
		}
		if !b.full(ch) {
			b.add(m.ackLine(sv, cw))
		}
		hiddenRuns = m.runLines(b, runs, ch)
		for i := range sv.panes {
			if i == sv.head {
				continue
			}
			lines := m.paneLines(&sv.panes[i], cw, true)
			if len(lines) > ch-len(b.lines) {
				break
			}
			for _, l := range lines {
				b.add(l)
			}
			shown++
		}
	}
	hidden := m.alertLines(b, sv, ch, lead)
	var foot []string
	if len(hiddenRuns) > 0 {
		foot = append(foot, "▶ "+strings.Join(hiddenRuns, " "))
	}
	if shown < np {
		foot = append(foot, "+"+incident.Plural(np-shown, "pane"))
	}
	if hidden > 0 {
		foot = append(foot, "+"+incident.Plural(hidden, "alert"))
	}
	return m.frameFoot(b.render(ch), w, h, title, tag, s.Muted.S(strings.Join(foot, " · ")), selected)
}

// label is the service's badge: its severity, "NO DATA" while every pane
// waits for a first answer, "RATE-LIMITED" when the pane that sets it is
// held back by its source's rate limit.
func (sv *serviceView) label() string {
	switch {
	case sv.sev == sevNoData && len(sv.panes) > 0 && allWaiting(sv):
		return "NO DATA"
	case len(sv.panes) > 0 && sv.panes[sv.head].sev == sv.sev:
		return paneLabel(&sv.panes[sv.head])
	}
	return sv.sev.String()
}

func allWaiting(sv *serviceView) bool {
	for i := range sv.panes {
		if !sv.panes[i].waiting {
			return false
		}
	}
	return true
}

// paneLines is "STALE p95 latency 2.3s (crit >1s)" with a sparkline
// filling the rest when spark is set. When it does not fit, the value and
// threshold go on the next line, under the title, rather than being cut.
func (m *Model) paneLines(pv *paneView, w int, spark bool) []string {
	s := m.sty
	head := ""
	if pv.sev != sevOK {
		head = s.badgeText(pv.sev, paneLabel(pv)) + " "
	}
	head += s.Text.S(pv.title)
	val, thr := m.paneValue(pv)
	if width(val)+2 > w {
		val, thr = m.paneValueAt(pv, false) // "last 97%", without when
	}
	vp := s.Level[pv.sev]
	if pv.sev == sevOK {
		vp = s.Text
	}
	v := vp.S(val)
	if thr != "" {
		v += " " + s.Muted.S(thr)
	}
	switch {
	case width(head)+1+width(v) <= w:
		line := head + " " + v
		if spark {
			rest := w - width(line) - 1
			if rest >= 6 && pv.pane != nil && len(pv.pane.Series) > 0 {
				line += " " + m.paneSpark(pv, rest)
			}
		}
		return []string{line}
	case thr != "" && width(head)+1+width(val) <= w:
		return []string{head + " " + vp.S(val), "  " + s.Muted.S(thr)}
	case width(v)+2 <= w:
		return []string{trunc(head, w), "  " + v}
	}
	out := []string{trunc(head, w)}
	for _, l := range wrapLines(val, w-2, 2) {
		out = append(out, "  "+vp.S(l))
	}
	if thr != "" {
		out = append(out, "  "+s.Muted.S(thr))
	}
	return out
}

// runLines shows the service's runs in flight; it returns the ids of
// those that did not fit.
func (m *Model) runLines(b *block, runs []*incident.Run, h int) []string {
	var hidden []string
	for _, r := range runs {
		if b.full(h - 1) {
			hidden = append(hidden, r.ID)
			continue
		}
		for i, l := range wrapLines(textsafe.Line(m.runPaneLine(r)), b.w-2, 2) {
			if i > 0 && b.full(h-1) {
				break
			}
			pre := "▶ "
			if i > 0 {
				pre = "  "
			}
			b.add(m.runPaint(r.State).S(pre + l))
		}
	}
	return hidden
}

func (m *Model) sparkPaint(pv *paneView) paint {
	switch pv.sev {
	case sevOK:
		return m.sty.Spark
	case sevStale, sevNoData:
		return m.sty.Subtle
	}
	return m.sty.Level[pv.sev]
}

// paneSpark is a one-row sparkline, or why there is none.
func (m *Model) paneSpark(pv *paneView, w int) string {
	if pv.pane == nil || len(pv.pane.Series) == 0 {
		if pv.waiting {
			return m.sty.Muted.S("· waiting for the first answer")
		}
		return m.sty.Muted.S("· no history")
	}
	return m.charts.get(m.chartKeyFor(pv, 1, w, 1, w, false), func() []string {
		return []string{m.sparkPaint(pv).S(sparkline(seriesValues(pv.pane, w), w))}
	})[0]
}

// paneChart is a braille chart of rows lines with the pane's thresholds.
func (m *Model) paneChart(pv *paneView, w, rows int, labels bool) []string {
	if rows == 1 || pv.pane == nil || len(pv.pane.Series) == 0 {
		out := []string{m.paneSpark(pv, w)}
		for len(out) < rows {
			out = append(out, "")
		}
		return out
	}
	return m.charts.get(m.chartKeyFor(pv, 2, w, rows, 2*w, labels), func() []string { return m.drawPaneChart(pv, w, rows, labels) })
}

func (m *Model) drawPaneChart(pv *paneView, w, rows int, labels bool) []string {
	var lines []hline
	p := pv.cfg
	vals := seriesValues(pv.pane, 2*w)
	lo, hi := minMax(vals)
	near := func(t float64) bool {
		// A threshold far outside the data would flatten it in a small
		// chart; show it only when it is close.
		span := math.Max(hi-lo, math.Abs(hi)*0.05)
		return t >= lo-span && t <= hi+span
	}
	if p.Warn != nil && near(*p.Warn) {
		lines = append(lines, hline{v: *p.Warn, label: lbl(labels, "warn "+incident.FormatValue(*p.Warn, p.Unit)), p: m.sty.ThresholdWarn})
	}
	if p.Crit != nil && near(*p.Crit) {
		lines = append(lines, hline{v: *p.Crit, label: lbl(labels, "crit "+incident.FormatValue(*p.Crit, p.Unit)), p: m.sty.ThresholdCr})
	}
	out, _, _ := brailleChart(vals, w, rows, lines, m.sparkPaint(pv))
	return out
}

func lbl(on bool, s string) string {
	if on {
		return s
	}
	return ""
}

// ackLine says who acked and how old the oldest unacked alert is; what
// does not fit w is dropped, least important first.
func (m *Model) ackLine(sv *serviceView, w int) string {
	s := m.sty
	if len(sv.open) == sv.quiet {
		if sv.quiet > 0 {
			return bar([]seg{{s.Muted.S("✓ no alerts to act on"), 10}, {s.Muted.S("· " + itoa(sv.quiet) + " for information"), 5}}, " ", w)
		}
		return s.Muted.S("✓ no open alerts")
	}
	if sv.unacked == 0 {
		return bar([]seg{{s.Text.S("✓ acked by " + strings.Join(sv.ackers, ", ")), 10}, {s.Muted.S("· " + incident.Plural(len(sv.open)-sv.quiet, "open alert")), 5}}, " ", w)
	}
	age := incident.Age(m.now.Sub(sv.oldestUnacked.UnackedSince()))
	segs := []seg{{s.Level[sevCrit].S("⚠ " + itoa(sv.unacked) + " unacked"), 10}}
	// The age is highlighted once the first delay has passed; ESCALATED
	// only once an ESCALATE says someone was paged.
	old := s.Text.S("· oldest ") + s.Text.S(age)
	switch {
	case (sv.escalated || sv.overdue) && s.Plain:
		old = s.Text.S("· oldest ") + s.Escalated.S(age+"!")
	case sv.escalated || sv.overdue:
		old = s.Text.S("· oldest ") + s.Escalated.S(age)
	}
	segs = append(segs, seg{old, 9})
	if sv.escalated {
		segs = append(segs, seg{s.Level[sevCrit].S("ESCALATED"), 8})
	}
	if len(sv.ackers) > 0 {
		segs = append(segs, seg{s.Muted.S("· acked: " + strings.Join(sv.ackers, ", ")), 4})
	}
	return bar(segs, " ", w)
}

// alertLines fills leftover lines with the service's open alerts, each
// whole (wrapped) or not at all; it returns how many did not fit.
func (m *Model) alertLines(b *block, sv *serviceView, h int, lead *incident.Alert) int {
	for i, a := range sv.open {
		if a == lead {
			continue // the cell's headline already
		}
		lines := m.alertText(a, b.w, 0)
		if len(lines) > h-len(b.lines) {
			return len(sv.open) - i
		}
		for _, l := range lines {
			b.add(l)
		}
	}
	return 0
}

// alertText is an open alert as a cell lists it, wrapped to w (at most
// maxLines, 0: all): "• A12 datadog: Lambda throttles (crit) · 3m00s ·
// unacked", muted when it is for information only.
func (m *Model) alertText(a *incident.Alert, w, maxLines int) []string {
	s := m.sty
	paint := s.Level[sevOf(a.Level)]
	text := "• " + a.ID + " " + textsafe.Line(a.Text) + " · "
	if a.Quiet() {
		paint = s.Muted
		text += strings.ToLower(quietLabel(a))
	} else {
		state := "unacked"
		if a.Acked() {
			state = "acked by " + a.AckedBy
		}
		text += incident.Age(m.now.Sub(a.FiredAt)) + " · " + state
	}
	lines := wrapLines(text, w-2, maxLines)
	for j, l := range lines {
		if j > 0 {
			l = "  " + l
		}
		lines[j] = paint.S(l)
	}
	return lines
}

func minMax(vals []float64) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 0) {
		return 0, 0
	}
	return lo, hi
}

// cellKey identifies a rendered overview cell. A cell changes with the
// state (events change any cell, samples only their service's), its size,
// selection and theme, the derived levels of its panes (staleness moves
// with time) and, while it shows alert ages or runs' time left, the second.
type cellKey struct {
	svc      string
	w, h     int
	selected bool
	sty      *Styles
	events   uint64
	samples  uint64
	sevs     uint64
	second   int64
}

func (m *Model) cellKeyFor(sv *serviceView, w, h int, selected bool) cellKey {
	k := cellKey{svc: sv.cfg.ID, w: w, h: h, selected: selected, sty: m.sty, events: m.eventsVersion, samples: m.samplesVersion[sv.cfg.ID]}
	for i := range sv.panes {
		k.sevs = k.sevs*7 + uint64(sv.panes[i].sev)
		if sv.panes[i].stale {
			k.sevs += 3
		}
	}
	if len(sv.open) > 0 || len(m.activeRuns(sv.cfg.ID)) > 0 {
		k.second = m.now.Unix()
	}
	return k
}
