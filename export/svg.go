package export

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/textsafe"
)

// Chart is one pane's series as a standalone SVG document.
type Chart struct {
	Service string
	Pane    string
	Title   string
	SVG     []byte
	slug    string
}

// File is the chart's file name beside a Markdown file whose path without
// its extension is base: base + "-" + service + ".svg", with the service
// id made safe for a file name.
func (c *Chart) File(base string) string { return base + "-" + c.slug + ".svg" }

// Charts renders the chart of each service's main pane (see mainPane)
// and of every other pane of it that alerted, with alert bars,
// mitigation bands and thresholds, over the export's time range. They are
// computed once per report.
func (r *Report) Charts() []Chart {
	if r.chartsOK {
		return r.charts
	}
	r.chartsOK = true
	from, to := r.start, r.end
	if f := r.Filter.From; !f.IsZero() && f.After(from) {
		from = f
	}
	if t := r.Filter.To; !t.IsZero() && t.Before(to) {
		to = t
	}
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	c := r.timefmt()
	used := map[string]bool{}
	for _, svc := range r.Services {
		if r.Filter.Service != "" && svc.ID != r.Filter.Service {
			continue
		}
		main := r.mainPane(svc.ID)
		if main == nil {
			continue
		}
		// The main pane, then every other pane of the service that alerted.
		charted := []*PaneData{main}
		for _, p := range r.Panes {
			if p.Service != svc.ID || p == main || p.Values == 0 {
				continue
			}
			for _, a := range r.Alerts {
				if a.Service == svc.ID && a.Pane == p.Info.ID {
					charted = append(charted, p)
					break
				}
			}
		}
		for _, p := range charted {
			s := slug(svc.ID)
			if p != main {
				s += "-" + slug(p.Info.ID)
			}
			for base, i := s, 2; used[s]; i++ {
				s = base + "-" + strconv.Itoa(i)
			}
			used[s] = true
			r.charts = append(r.charts, r.chart(c, svc, p, p == main, s, from, to))
		}
	}
	return r.charts
}

type chartSpan struct {
	label, tip string
	from, to   time.Time
	level      incident.Level
	ok         bool // a run: it succeeded (blue), else grey
}

// chart renders one pane's chart: its alerts (all of the service's on
// the main pane, the pane's own on the others) and the mitigations while
// they applied a change.
func (r *Report) chart(c timefmt, svc ServiceInfo, p *PaneData, main bool, s string, from, to time.Time) Chart {
	title := r.ServiceName(svc.ID) + " — " + paneTitle(p.Info)
	if p.Info.Unit != "" {
		title += " (" + p.Info.Unit + ")"
	}
	cd := chartData{title: title, unit: p.Info.Unit, from: from, to: to, samples: p.Samples,
		warn: p.Info.Warn, crit: p.Info.Crit, clear: p.Info.Clear, multiDay: c.multiDay}
	for _, a := range r.Alerts {
		if a.Service != svc.ID || !main && a.Pane != p.Info.ID {
			continue
		}
		end, open := r.LastAt, true
		if a.Resolved() {
			end, open = a.ResolvedAt, false
		}
		tip := a.ID + " " + a.Pane + " " + alertLevels(a) + ", fired " + c.UTC(a.FiredAt) + " UTC"
		if !open {
			tip += ", resolved " + c.UTC(end) + " UTC"
		} else {
			tip += ", still open"
		}
		cd.alerts = append(cd.alerts, chartSpan{label: a.ID, tip: tip + ": " + a.Text, from: a.FiredAt, to: end, level: a.Worst})
	}
	for _, run := range r.Runs {
		if run.Service != svc.ID && run.Service != "" {
			continue
		}
		// A mitigation is drawn while it applied a change: from its
		// start to its end. A run refused, expired or cancelled before it
		// ran changed nothing and is not drawn.
		started := time.Time{}
		for _, st := range run.Steps {
			if st.State == incident.RunRunning {
				started = st.At
				break
			}
		}
		if started.IsZero() {
			continue
		}
		end := run.EndedAt
		if !run.Done {
			end = to
		}
		tip := run.ID + " " + run.Playbook + ": " + runOutcome(run) + " (" + dur(end.Sub(started)) + " applying)"
		cd.runs = append(cd.runs, chartSpan{label: run.ID, tip: tip, from: started, to: end, ok: run.Outcome == incident.RunSucceeded || !run.Done})
	}
	if b := p.Baseline; b != nil {
		cd.baseline = &[2]float64{b.P5, b.P95}
	}
	if x := p.Expected; x != nil && x.Drawable() {
		cd.expected = x
	}
	cd.t0 = r.T0
	var buf bytes.Buffer
	renderSVG(&buf, cd)
	return Chart{Service: svc.ID, Pane: p.Info.ID, Title: title, SVG: buf.Bytes(), slug: s}
}

type chartData struct {
	title      string
	unit       string
	from, to   time.Time
	samples    []journal.Sample
	warn, crit *float64
	clear      *float64 // declared clear level (hysteresis), nil if none
	alerts     []chartSpan
	runs       []chartSpan
	multiDay   bool
	// The launch: T-0 (zero: none), the pane's baseline band (p5, p95)
	// and its expected curve from T-0 on.
	t0       time.Time
	baseline *[2]float64
	expected *incident.Expected
}

const (
	svgW   = 800
	svgH   = 300
	plotL  = 70.0
	plotR  = 784.0
	plotT  = 64.0
	plotB  = 244.0
	laneY  = 24.0
	laneH  = 10.0
	lanes  = 3
	colorN = "#333333"

	colorBaseline = "#7f7f7f"
	colorExpected = "#17becf"
)

func levelColor(l incident.Level) string {
	switch l {
	case incident.LevelCrit:
		return "#d62728"
	case incident.LevelWarn:
		return "#ff7f0e"
	case incident.LevelStale:
		return "#7f7f7f"
	case incident.LevelNoData:
		return "#9467bd"
	}
	return "#8c564b"
}

// f1 formats a coordinate with one decimal, deterministically.
func f1(v float64) string {
	v = math.Round(v*10) / 10
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// xmlEsc escapes text for XML content and attributes: one inert line
// (textsafe), without the few characters XML 1.0 does not allow.
func xmlEsc(s string) string {
	s = strings.Map(func(r rune) rune {
		if xmlChar(r) {
			return r
		}
		return -1
	}, textsafe.Line(s))
	return xmlEscaper.Replace(s)
}

func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// renderSVG draws one chart. Everything is placed with fixed arithmetic
// and formatted with f1, so the bytes depend only on the data.
func renderSVG(b *bytes.Buffer, d chartData) {
	span := d.to.Sub(d.from)
	xOf := func(t time.Time) float64 {
		x := plotL + float64(t.Sub(d.from))/float64(span)*(plotR-plotL)
		return math.Max(plotL, math.Min(plotR, x))
	}
	// Value range: the samples, zero, and the thresholds.
	lo, hi := 0.0, 0.0
	first := true
	for _, s := range d.samples {
		if s.NoData || s.Time.Before(d.from) || s.Time.After(d.to) {
			continue
		}
		if first {
			lo, hi, first = math.Min(0, s.Value), math.Max(0, s.Value), false
		}
		lo, hi = math.Min(lo, s.Value), math.Max(hi, s.Value)
	}
	refs := []*float64{d.warn, d.crit, d.clear}
	if bd := d.baseline; bd != nil {
		refs = append(refs, &bd[0], &bd[1])
	}
	if x := d.expected; x != nil {
		refs = append(refs, &x.Lo, &x.Hi)
	}
	for _, t := range refs {
		if t != nil {
			lo, hi = math.Min(lo, *t), math.Max(hi, *t)
		}
	}
	ticks, lo, hi := niceTicks(lo, hi, 5)
	yOf := func(v float64) float64 { return plotB - (v-lo)/(hi-lo)*(plotB-plotT) }

	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="800" height="300" viewBox="0 0 800 300" role="img" aria-label="`)
	b.WriteString(xmlEsc(d.title))
	b.WriteString(`" font-family="sans-serif" font-size="11">` + "\n")
	b.WriteString("<title>" + xmlEsc(d.title) + "</title>\n")
	b.WriteString(`<rect x="0" y="0" width="800" height="300" fill="#ffffff"/>` + "\n")
	b.WriteString(`<text x="8" y="16" font-size="13" font-weight="bold" fill="` + colorN + `">` + xmlEsc(d.title) + "</text>\n")

	// Y grid and labels.
	for _, v := range ticks {
		y := f1(yOf(v))
		b.WriteString(`<line x1="` + f1(plotL) + `" y1="` + y + `" x2="` + f1(plotR) + `" y2="` + y + `" stroke="#e5e5e5" stroke-width="1"/>` + "\n")
		b.WriteString(`<text x="` + f1(plotL-6) + `" y="` + f1(yOf(v)+4) + `" text-anchor="end" fill="` + colorN + `">` + xmlEsc(incident.FormatValue(v, d.unit)) + "</text>\n")
	}
	// X ticks.
	step := timeStep(span)
	var prevDay string
	for t := d.from.Truncate(step); !t.After(d.to); t = t.Add(step) {
		if t.Before(d.from) {
			continue
		}
		x := f1(xOf(t))
		b.WriteString(`<line x1="` + x + `" y1="` + f1(plotB) + `" x2="` + x + `" y2="` + f1(plotB+4) + `" stroke="` + colorN + `" stroke-width="1"/>` + "\n")
		label := t.UTC().Format("15:04")
		if step < time.Minute {
			label = t.UTC().Format("15:04:05")
		}
		if day := t.UTC().Format("2006-01-02"); d.multiDay && day != prevDay {
			label = t.UTC().Format("Jan 2 ") + label
			prevDay = day
		}
		b.WriteString(`<text x="` + x + `" y="` + f1(plotB+16) + `" text-anchor="middle" fill="` + colorN + `">` + label + "</text>\n")
	}
	b.WriteString(`<text x="` + f1(plotR) + `" y="` + f1(plotB+30) + `" text-anchor="end" fill="#666666">UTC</text>` + "\n")
	// Axes.
	b.WriteString(`<polyline points="` + f1(plotL) + "," + f1(plotT) + " " + f1(plotL) + "," + f1(plotB) + " " + f1(plotR) + "," + f1(plotB) +
		`" fill="none" stroke="` + colorN + `" stroke-width="1"/>` + "\n")

	// The launch's references, under everything else: the baseline band
	// across the chart, the expected curve from T-0 on, and T-0.
	if bd := d.baseline; bd != nil {
		b.WriteString(`<g><title>` + xmlEsc("baseline p5–p95: "+incident.FormatValue(bd[0], d.unit)+" – "+incident.FormatValue(bd[1], d.unit)) + `</title>`)
		b.WriteString(`<rect x="` + f1(plotL) + `" y="` + f1(yOf(bd[1])) + `" width="` + f1(plotR-plotL) + `" height="` + f1(math.Max(yOf(bd[0])-yOf(bd[1]), 1)) + `" fill="` + colorBaseline + `" fill-opacity="0.18"/></g>` + "\n")
	}
	x0 := plotL
	if !d.t0.IsZero() && d.t0.After(d.from) {
		x0 = xOf(d.t0)
	}
	if x := d.expected; x != nil && !d.t0.After(d.to) {
		b.WriteString(`<g><title>` + xmlEsc("expected: "+x.Label()) + `</title>`)
		if x.Lo != x.Hi {
			b.WriteString(`<rect x="` + f1(x0) + `" y="` + f1(yOf(x.Hi)) + `" width="` + f1(plotR-x0) + `" height="` + f1(yOf(x.Lo)-yOf(x.Hi)) + `" fill="` + colorExpected + `" fill-opacity="0.12"/>`)
		}
		for i, v := range []float64{x.Lo, x.Hi} {
			if i == 1 && x.Lo == x.Hi {
				break
			}
			y := f1(yOf(v))
			b.WriteString(`<line x1="` + f1(x0) + `" y1="` + y + `" x2="` + f1(plotR) + `" y2="` + y + `" stroke="` + colorExpected + `" stroke-width="1.5" stroke-dasharray="8,3"/>`)
			b.WriteString(`<text x="` + f1(x0+4) + `" y="` + f1(yOf(v)-3) + `" fill="` + colorExpected + `">exp ` + xmlEsc(x.Metrics[min(i, len(x.Metrics)-1)]+" "+incident.FormatValue(v, d.unit)) + "</text>")
		}
		b.WriteString("</g>\n")
	}
	if !d.t0.IsZero() && !d.t0.Before(d.from) && !d.t0.After(d.to) {
		b.WriteString(`<line x1="` + f1(x0) + `" y1="` + f1(plotT) + `" x2="` + f1(x0) + `" y2="` + f1(plotB) + `" stroke="` + colorN + `" stroke-width="1" stroke-dasharray="1,2"/>`)
		b.WriteString(`<text x="` + f1(x0+3) + `" y="` + f1(plotT+10) + `" fill="` + colorN + `">T-0</text>` + "\n")
	}
	// Mitigation bands, under the series.
	for _, m := range d.runs {
		if m.to.Before(d.from) || m.from.After(d.to) {
			continue
		}
		x0, x1 := xOf(m.from), xOf(m.to)
		w := math.Max(x1-x0, 2)
		col := "#1f77b4"
		if !m.ok {
			col = "#8c8c8c"
		}
		b.WriteString(`<g><title>` + xmlEsc(m.tip) + `</title>`)
		b.WriteString(`<rect x="` + f1(x0) + `" y="` + f1(plotT) + `" width="` + f1(w) + `" height="` + f1(plotB-plotT) + `" fill="` + col + `" fill-opacity="0.12"/>`)
		b.WriteString(`<line x1="` + f1(x0) + `" y1="` + f1(plotT) + `" x2="` + f1(x0) + `" y2="` + f1(plotB) + `" stroke="` + col + `" stroke-width="1" stroke-dasharray="3,2"/>`)
		b.WriteString(`<text x="` + f1(x0+3) + `" y="` + f1(plotB-4) + `" fill="` + col + `">` + xmlEsc(m.label) + `</text></g>` + "\n")
	}
	// Thresholds.
	for _, th := range []struct {
		v     *float64
		name  string
		color string
	}{{d.warn, "warn", "#ff7f0e"}, {d.crit, "crit", "#d62728"}} {
		if th.v == nil {
			continue
		}
		y := f1(yOf(*th.v))
		b.WriteString(`<line x1="` + f1(plotL) + `" y1="` + y + `" x2="` + f1(plotR) + `" y2="` + y + `" stroke="` + th.color + `" stroke-width="1" stroke-dasharray="6,4"/>`)
		b.WriteString(`<text x="` + f1(plotR-2) + `" y="` + f1(yOf(*th.v)-3) + `" text-anchor="end" fill="` + th.color + `">` + th.name + " " + xmlEsc(incident.FormatValue(*th.v, d.unit)) + "</text>\n")
	}
	// The clear level: labelled on the left, so that it never covers the
	// warn label when the two are close.
	if v := d.clear; v != nil {
		y := f1(yOf(*v))
		b.WriteString(`<line x1="` + f1(plotL) + `" y1="` + y + `" x2="` + f1(plotR) + `" y2="` + y + `" stroke="#2ca02c" stroke-width="1" stroke-dasharray="2,3"/>`)
		b.WriteString(`<text x="` + f1(plotL+4) + `" y="` + f1(yOf(*v)-3) + `" fill="#2ca02c">clear ` + xmlEsc(incident.FormatValue(*v, d.unit)) + "</text>\n")
	}
	// Alert bars above the plot, in lanes, with a line at each firing.
	var laneEnd [lanes]float64
	for i := range laneEnd {
		laneEnd[i] = -1
	}
	for _, a := range d.alerts {
		if a.to.Before(d.from) || a.from.After(d.to) {
			continue
		}
		x0, x1 := xOf(a.from), xOf(a.to)
		lane := 0
		for i := range laneEnd {
			if laneEnd[i] < x0 {
				lane = i
				break
			}
			if laneEnd[i] < laneEnd[lane] {
				lane = i
			}
		}
		laneEnd[lane] = x1 + 1
		col := levelColor(a.level)
		b.WriteString(`<g><title>` + xmlEsc(a.tip) + `</title>`)
		y := laneY + float64(lane)*(laneH+2)
		b.WriteString(`<rect x="` + f1(x0) + `" y="` + f1(y) + `" width="` + f1(math.Max(x1-x0, 2)) + `" height="` + f1(laneH) + `" fill="` + col + `"/>`)
		if x1-x0 >= 6*float64(len(a.label))+4 {
			b.WriteString(`<text x="` + f1(x0+2) + `" y="` + f1(y+8) + `" font-size="9" fill="#ffffff">` + xmlEsc(a.label) + `</text>`)
		}
		b.WriteString(`<line x1="` + f1(x0) + `" y1="` + f1(plotT) + `" x2="` + f1(x0) + `" y2="` + f1(plotB) + `" stroke="` + col + `" stroke-width="1" stroke-opacity="0.6"/></g>` + "\n")
	}

	// The series, broken where the query returned no data.
	var pts []string
	var nodata []float64
	flush := func() {
		switch len(pts) {
		case 0:
		case 1:
			xy := strings.SplitN(pts[0], ",", 2)
			b.WriteString(`<circle cx="` + xy[0] + `" cy="` + xy[1] + `" r="2" fill="#1f3b73"/>` + "\n")
		default:
			b.WriteString(`<polyline points="` + strings.Join(pts, " ") + `" fill="none" stroke="#1f3b73" stroke-width="1.5" stroke-linejoin="round"/>` + "\n")
		}
		pts = pts[:0]
	}
	// Downsample to at most a min and a max per pixel column, so a long
	// incident stays a small file without losing its peaks.
	type bucket struct {
		col        int
		minV, maxV float64
		minT, maxT time.Time
		n          int
	}
	var cur bucket
	emit := func() {
		if cur.n == 0 {
			return
		}
		a, av, bt, bv := cur.minT, cur.minV, cur.maxT, cur.maxV
		if bt.Before(a) {
			a, av, bt, bv = bt, bv, a, av
		}
		pts = append(pts, f1(xOf(a))+","+f1(yOf(av)))
		if cur.n > 1 && (a != bt || av != bv) {
			pts = append(pts, f1(xOf(bt))+","+f1(yOf(bv)))
		}
		cur = bucket{}
	}
	for _, s := range d.samples {
		if s.Time.Before(d.from) || s.Time.After(d.to) {
			continue
		}
		if s.NoData {
			emit()
			flush()
			nodata = append(nodata, xOf(s.Time))
			continue
		}
		col := int(xOf(s.Time))
		if cur.n > 0 && col != cur.col {
			emit()
		}
		if cur.n == 0 {
			cur = bucket{col: col, minV: s.Value, maxV: s.Value, minT: s.Time, maxT: s.Time}
		}
		cur.n++
		if s.Value < cur.minV {
			cur.minV, cur.minT = s.Value, s.Time
		}
		if s.Value > cur.maxV {
			cur.maxV, cur.maxT = s.Value, s.Time
		}
	}
	emit()
	flush()
	// NO DATA ticks along the bottom, one per pixel column.
	last := -1.0
	for _, x := range nodata {
		if math.Floor(x) == last {
			continue
		}
		last = math.Floor(x)
		b.WriteString(`<rect x="` + f1(x-1) + `" y="` + f1(plotB-6) + `" width="2" height="6" fill="#9467bd"/>` + "\n")
	}

	// Legend.
	lx := plotL
	for _, it := range []struct{ color, label string }{
		{"#d62728", "crit alert"}, {"#ff7f0e", "warn alert"}, {"#7f7f7f", "STALE"}, {"#9467bd", "NO DATA"}, {"#1f77b4", "mitigation run"},
	} {
		b.WriteString(`<rect x="` + f1(lx) + `" y="281" width="10" height="10" fill="` + it.color + `"/>`)
		b.WriteString(`<text x="` + f1(lx+14) + `" y="290" fill="` + colorN + `">` + it.label + "</text>\n")
		lx += 28 + float64(len(it.label))*7
	}
	// The launch's references, when the chart has them, on a row of
	// their own (a result's file name can be long).
	var refItems []struct{ color, label string }
	if d.baseline != nil {
		refItems = append(refItems, struct{ color, label string }{colorBaseline, "baseline p5–p95"})
	}
	if x := d.expected; x != nil && !d.t0.After(d.to) {
		refItems = append(refItems, struct{ color, label string }{colorExpected, textsafe.Clip("expected: "+x.Label(), 80)})
	}
	lx = plotL
	for _, it := range refItems {
		b.WriteString(`<rect x="` + f1(lx) + `" y="264" width="10" height="10" fill="` + it.color + `" fill-opacity="0.5"/>`)
		b.WriteString(`<text x="` + f1(lx+14) + `" y="273" fill="` + colorN + `">` + xmlEsc(it.label) + "</text>\n")
		lx += 28 + float64(utf8.RuneCountInString(it.label))*7
	}
	b.WriteString("</svg>\n")
}

// niceTicks spreads about n round values over [lo, hi] and returns the
// widened range they cover.
func niceTicks(lo, hi float64, n int) ([]float64, float64, float64) {
	if hi-lo < 1e-12 {
		if lo == 0 {
			hi = 1
		} else {
			lo, hi = lo-math.Abs(lo)*0.1, hi+math.Abs(hi)*0.1
		}
	}
	step := niceNum((hi-lo)/float64(n-1), true)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step/2 || i > 50 {
			break
		}
		// Snap tiny float error so labels read 0.3, not 0.30000000000000004.
		v = math.Round(v/step) * step
		ticks = append(ticks, v)
	}
	return ticks, lo, hi
}

func niceNum(x float64, round bool) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	var nf float64
	switch {
	case round && f < 1.5, !round && f <= 1:
		nf = 1
	case round && f < 3, !round && f <= 2:
		nf = 2
	case round && f < 7, !round && f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, exp)
}

var timeSteps = []time.Duration{
	5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// timeStep picks a tick step giving at most 8 ticks.
func timeStep(span time.Duration) time.Duration {
	for _, s := range timeSteps {
		if span/s <= 8 {
			return s
		}
	}
	return span / 8
}
