package tui

import (
	"time"

	"github.com/warroom/warroom/incident"
)

// chartKey identifies a rendered chart: the same pane history drawn at
// the same size in the same style gives the same lines, so the 1 s tick
// (which only moves ages and the clock) does not redraw charts.
type chartKey struct {
	pane   string
	kind   uint8 // 1 spark, 2 overview braille, 3 detail braille
	w, h   int
	labels bool
	sev    sev
	sty    *Styles
	n      int
	last   time.Time
	lastV  float64
	band   [2]float64 // the baseline band drawn, if any
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

func (m *Model) chartKeyFor(pv *paneView, kind uint8, w, h int, labels bool) chartKey {
	k := chartKey{pane: incident.PaneKey(pv.pane.Service, pv.pane.ID), kind: kind, w: w, h: h, labels: labels, sev: pv.sev, sty: m.sty, n: len(pv.pane.Series)}
	if b := m.baselineBand(pv); b != nil {
		k.band = *b
	}
	if n := len(pv.pane.Series); n > 0 {
		k.last, k.lastV = pv.pane.Series[n-1].T, pv.pane.Series[n-1].V
	}
	return k
}
