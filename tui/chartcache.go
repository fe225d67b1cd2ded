package tui

import (
	"math"

	"github.com/warroom/warroom/incident"
)

// chartKey identifies a rendered chart by what it draws: the values in
// its window (their hash), its size and its style. A pane whose value
// does not move keeps its chart however many samples arrive, and the 1 s
// tick (ages and the clock) never redraws one.
type chartKey struct {
	pane   string
	kind   uint8 // 1 spark, 2 overview braille, 3 detail braille
	w, h   int
	labels bool
	sev    sev
	sty    *Styles
	data   uint64
}

// chartCache keeps two generations: what the last render used survives
// one more render, everything else is dropped.
type chartCache struct {
	cur, prev map[chartKey][]string
}

func (c *chartCache) rotate() {
	c.prev, c.cur = c.cur, make(map[chartKey][]string, len(c.cur))
}

func (c *chartCache) get(k chartKey, draw func() []string) []string {
	if v, ok := c.cur[k]; ok {
		return v
	}
	if v, ok := c.prev[k]; ok {
		c.cur[k] = v
		return v
	}
	v := draw()
	if c.cur == nil {
		c.cur = map[chartKey][]string{}
	}
	c.cur[k] = v
	return v
}

// chartKeyFor keys a chart of the last n values of the pane's series
// (what seriesValues(pane, n) returns); extra are other numbers the chart
// draws (a baseline band).
func (m *Model) chartKeyFor(pv *paneView, kind uint8, w, h, n int, labels bool, extra ...float64) chartKey {
	k := chartKey{pane: incident.PaneKey(pv.pane.Service, pv.pane.ID), kind: kind, w: w, h: h, labels: labels, sev: pv.sev, sty: m.sty}
	s := pv.pane.Series
	if len(s) > n {
		s = s[len(s)-n:]
	}
	// FNV-1a over the values' bits and how many there are.
	const prime = 1099511628211
	hash := uint64(14695981039346656037) ^ uint64(len(s))
	for _, p := range s {
		hash = (hash ^ math.Float64bits(p.V)) * prime
	}
	for _, v := range extra {
		hash = (hash ^ math.Float64bits(v)) * prime
	}
	k.data = hash
	return k
}
