package tui

import (
	"cmp"
	"math"
	"strings"
)

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkline renders the last w values as one row of block characters,
// right-aligned (time flows right), scaled to their own range.
func sparkline(vals []float64, w int) string {
	if w <= 0 {
		return ""
	}
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var sb strings.Builder
	sb.Grow(w * 3)
	for i := len(vals); i < w; i++ {
		sb.WriteByte(' ')
	}
	top := len(sparkRunes) - 1
	for _, v := range vals {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			sb.WriteByte(' ')
		case hi <= lo && hi == 0:
			sb.WriteRune(sparkRunes[0]) // a flat zero is a flat line at the bottom
		case hi <= lo:
			sb.WriteRune(sparkRunes[top/2])
		default:
			sb.WriteRune(sparkRunes[int(math.Round((v-lo)/(hi-lo)*float64(top)))])
		}
	}
	return sb.String()
}

// hline is a horizontal reference line on a chart (a threshold).
type hline struct {
	v     float64
	label string
	p     paint
	dash  rune // '┈' when zero (a threshold)
}

// brailleChart draws vals (last 2*w of them, one per dot column,
// right-aligned) in a w×h cell area using braille dots, with the
// reference lines drawn dashed in their colour and labelled at the right.
// It returns h lines, each exactly w cells wide, and the value range.
func brailleChart(vals []float64, w, h int, lines []hline, data paint) ([]string, float64, float64) {
	return brailleChartBand(vals, w, h, lines, data, nil)
}

// band is a range drawn shaded behind a chart's data: a pane's baseline
// (p5 to p95 of the window before T-0). An expected curve is drawn as
// lines instead, so that the two can be told apart where they overlap.
type band struct {
	lo, hi float64
	p      paint
}

// brailleChartBand is brailleChart with a band shaded behind the data.
func brailleChartBand(vals []float64, w, h int, lines []hline, data paint, bd *band) ([]string, float64, float64) {
	if w <= 0 || h <= 0 {
		return nil, 0, 0
	}
	W, H := 2*w, 4*h
	if len(vals) > W {
		vals = vals[len(vals)-W:]
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, l := range lines {
		lo, hi = math.Min(lo, l.v), math.Max(hi, l.v)
	}
	if bd != nil {
		lo, hi = math.Min(lo, bd.lo), math.Max(hi, bd.hi)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	switch {
	case hi <= lo && lo >= 0:
		// A flat, non-negative series: scale from zero, so a constant zero
		// lies on the axis and a constant value sits where it is, never
		// on an axis that goes below zero.
		lo, hi = 0, math.Max(hi*1.25, 1)
	case hi <= lo:
		d := math.Max(math.Abs(hi)*0.1, 1)
		lo, hi = lo-d, hi+d
	default:
		pad := (hi - lo) * 0.05
		hi += pad
		if lo >= 0 && lo-pad < 0 {
			lo = 0
		} else {
			lo -= pad
		}
	}
	ydot := func(v float64) int {
		y := int(math.Round((hi - v) / (hi - lo) * float64(H-1)))
		return clamp(y, 0, H-1)
	}
	mask := make([]uint8, w*h)
	set := func(x, y int) {
		cx, cy := x/2, y/4
		bit := [2][4]uint8{{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}}[x%2][y%4]
		mask[cy*w+cx] |= bit
	}
	off := W - len(vals)
	prev := -1
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			prev = -1
			continue
		}
		x, y := off+i, ydot(v)
		if prev < 0 {
			set(x, y)
		} else {
			a, b := prev, y
			if a > b {
				a, b = b, a
			}
			// Connect to the previous point: the half of the jump nearest
			// each column is drawn in that column.
			mid := (a + b) / 2
			for yy := a; yy <= b; yy++ {
				if (prev < y && yy <= mid) || (prev > y && yy >= mid) {
					if x > 0 {
						set(x-1, yy)
					}
				} else {
					set(x, yy)
				}
			}
			set(x, y)
		}
		prev = y
	}
	// Reference lines: which cell row each falls in.
	lineAt := make([]int, h)
	for i := range lineAt {
		lineAt[i] = -1
	}
	for i, l := range lines {
		lineAt[ydot(l.v)/4] = i
	}
	bandTop, bandBot := -1, -2 // cell rows the band covers
	if bd != nil {
		bandTop, bandBot = ydot(bd.hi)/4, ydot(bd.lo)/4
	}
	out := make([]string, h)
	var sb, run strings.Builder
	for r := 0; r < h; r++ {
		sb.Reset()
		sb.Grow(w * 4)
		li := lineAt[r]
		label := ""
		if li >= 0 {
			label = " " + lines[li].label
			if len([]rune(label)) > w/2 {
				label = ""
			}
		}
		lr := []rune(label)
		labelAt := w - len(lr)
		for c := max(labelAt, 0); c < w && label != ""; c++ {
			if mask[r*w+c] != 0 {
				label, labelAt = "", w // the data is there: no label
			}
		}
		// Runs of the same class are styled together.
		run.Reset()
		runClass := -1
		flush := func() {
			if run.Len() == 0 {
				return
			}
			switch runClass {
			case 1:
				sb.WriteString(data.S(run.String()))
			case 2:
				sb.WriteString(lines[li].p.S(run.String()))
			case 3:
				sb.WriteString(bd.p.S(run.String()))
			default:
				sb.WriteString(run.String())
			}
			run.Reset()
		}
		for c := 0; c < w; c++ {
			m := mask[r*w+c]
			var ch rune
			class := 0
			switch {
			case li >= 0 && c >= labelAt && m == 0:
				ch, class = lr[c-labelAt], 2
			case m != 0:
				ch, class = rune(0x2800+int(m)), 1
			case li >= 0:
				ch, class = cmp.Or(lines[li].dash, '┈'), 2
			case r >= bandTop && r <= bandBot:
				ch, class = '░', 3
			default:
				ch = ' '
			}
			if class != runClass {
				flush()
				runClass = class
			}
			run.WriteRune(ch)
		}
		flush()
		out[r] = sb.String()
	}
	return out, lo, hi
}
