package tui

import (
	"sort"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// paneView is one pane as the TUI shows it, derived from config + state.
type paneView struct {
	cfg     *config.Pane
	title   string
	pane    *incident.Pane // nil until the first sample
	sev     sev
	waiting bool // no answer yet: NO DATA (waiting), never OK
	stale   bool
	limited bool            // the source's rate limit holds the query back: not current, not dead
	why     string          // stale: the error; limited: the limit
	alert   *incident.Alert // open rule alert of this pane
}

// serviceView is one service pane of the overview.
type serviceView struct {
	cfg           *config.Service
	panes         []paneView
	head          int // index of the pane that explains the badge
	sev           sev
	open          []*incident.Alert // open alerts of the service, worst first
	unacked       int
	oldestUnacked *incident.Alert
	ackers        []string
	// escalated: the oldest unacked alert's group was escalated (an
	// ESCALATE event exists), not merely past a delay.
	escalated bool
	overdue   bool // the oldest unacked alert waited past the first delay
	quiet     int  // open alerts shown for information only
}

// headAlert is the alert that explains the service's badge when no pane
// does: a CRIT imported from Datadog or Prometheus on a service whose
// panes are OK. It leads the service's cell, before any pane.
func (sv *serviceView) headAlert() *incident.Alert {
	best := sevOK
	if len(sv.panes) > 0 {
		best = sv.panes[sv.head].sev
	}
	var out *incident.Alert
	for _, a := range sv.open {
		if v := sevOf(a.Level); v > best && !a.Quiet() {
			best, out = v, a
		}
	}
	return out
}

// staleAfter is the engine's watchdog for the pane's source.
func staleAfter(c *config.Config, p *config.Pane) time.Duration {
	return incident.StaleAfter(c.Source(p.Source))
}

func breaches(v float64, t *float64, below bool) bool {
	if t == nil {
		return false
	}
	if below {
		return v < *t
	}
	return v > *t
}

// derivePane computes what a pane shows.
func derivePane(c *config.Config, st *incident.State, svc *config.Service, p *config.Pane, now time.Time, alerts map[string]*incident.Alert) paneView {
	pv := paneView{cfg: p, title: p.Title}
	if pv.title == "" {
		pv.title = p.ID
	}
	pv.pane = st.Panes[incident.PaneKey(svc.ID, p.ID)]
	pv.alert = alerts[p.ID]
	data := sevOK
	switch pp := pv.pane; {
	case pp == nil || (!pp.HasData && !pp.NoData && !pp.Stale && pp.LimitedUntil.IsZero()):
		pv.waiting = true
		data = sevNoData
	case pp.Stale:
		pv.stale, pv.why = true, pp.Error
		data = sevStale
	case !now.IsZero() && !pp.Updated.IsZero() && pp.Silent(now, pp.Updated, staleAfter(c, p)):
		pv.stale, pv.why = true, "no answer for "+incident.Age(now.Sub(pp.Updated))
		data = sevStale
	case !pp.LimitedUntil.IsZero():
		// Paced by the source's rate limit: grey, never green, and not
		// STALE (the source answers; we wait as it asked).
		pv.limited, pv.why = true, pp.Error
		data = sevUnknown
	case pp.NoData:
		data = sevNoData
	default:
		below := p.Direction == config.Below
		switch {
		case breaches(pp.Value, p.Crit, below):
			data = sevCrit
		case breaches(pp.Value, p.Warn, below):
			data = sevWarn
		}
	}
	pv.sev = data
	if pv.alert != nil {
		if a := sevOf(pv.alert.Level); a > pv.sev {
			pv.sev = a
		}
	}
	return pv
}

// deriveServices computes every service pane, in config order.
func deriveServices(c *config.Config, st *incident.State, now time.Time) []serviceView {
	open := st.OpenAlerts()
	bySvc := map[string][]*incident.Alert{}
	for _, a := range open {
		bySvc[a.Service] = append(bySvc[a.Service], a)
	}
	out := make([]serviceView, 0, len(c.Services))
	for i := range c.Services {
		svc := &c.Services[i]
		sv := serviceView{cfg: svc, open: bySvc[svc.ID]}
		rule := map[string]*incident.Alert{}
		seen := map[string]bool{}
		for _, a := range sv.open {
			if a.Origin == "rule" || a.Origin == "" {
				rule[a.Pane] = a
			}
			if a.Quiet() {
				sv.quiet++
				continue
			}
			if a.Acked() {
				if !seen[a.AckedBy] {
					seen[a.AckedBy] = true
					sv.ackers = append(sv.ackers, a.AckedBy)
				}
				continue
			}
			sv.unacked++
			if sv.oldestUnacked == nil || a.UnackedSince().Before(sv.oldestUnacked.UnackedSince()) {
				sv.oldestUnacked = a
			}
		}
		sort.Strings(sv.ackers)
		for j := range svc.Panes {
			pv := derivePane(c, st, svc, &svc.Panes[j], now, rule)
			sv.panes = append(sv.panes, pv)
			if pv.sev > sv.panes[sv.head].sev {
				sv.head = j
			}
			if pv.sev > sv.sev {
				sv.sev = pv.sev
			}
		}
		for _, a := range sv.open {
			if v := sevOf(a.Level); v > sv.sev && !a.Quiet() {
				sv.sev = v
			}
		}
		if len(svc.Panes) == 0 && len(sv.open) == 0 {
			sv.sev = sevNoData
		}
		if a := sv.oldestUnacked; a != nil {
			sv.overdue = a.Overdue(c.Escalation, now)
			if g := st.GroupOf(a); g != nil {
				sv.escalated = g.Escalated > 0
			} else {
				sv.escalated = a.Escalated > 0
			}
		}
		out = append(out, sv)
	}
	return out
}

// threshold returns the threshold to show next to a pane's value: the one
// breached, else the warn line, else crit.
func threshold(p *config.Pane, v sev) (label string, t *float64) {
	switch {
	case v == sevCrit && p.Crit != nil:
		return "crit", p.Crit
	case p.Warn != nil:
		return "warn", p.Warn
	case p.Crit != nil:
		return "crit", p.Crit
	}
	return "", nil
}

// paneValue is a pane's value ("2.3s", "last 97% at 07:23:18", "waiting
// for data") and its threshold ("(crit >1s)", "" if it has none). A value
// that is not current always says so: STALE and NO DATA never show an old
// number as if it were now.
func (m *Model) paneValue(pv *paneView) (string, string) {
	return m.paneValueAt(pv, true)
}

// paneValueAt is paneValue; without at, an old value ("last 97%") leaves
// out when it was seen, for a place too narrow for both.
func (m *Model) paneValueAt(pv *paneView, at bool) (string, string) {
	p := pv.cfg
	var s string
	switch pp := pv.pane; {
	case pv.waiting:
		return "waiting for data", ""
	case pp != nil && pp.NoData && !pp.HasData:
		return "no series", ""
	case pp != nil && pp.HasData && (pv.stale || pv.limited || pp.NoData):
		s = "last " + incident.FormatValue(pp.Value, p.Unit)
		if n := len(pp.Series); n > 0 && at {
			s += " at " + pp.Series[n-1].T.In(m.loc).Format("15:04:05")
		}
		if pv.limited {
			s += ", " + m.nextPoll(pp)
		}
	case pv.limited:
		s = m.nextPoll(pp)
	case pp != nil && pp.HasData:
		s = incident.FormatValue(pp.Value, p.Unit)
	default:
		s = "–"
	}
	if lbl, t := threshold(p, pv.sev); t != nil {
		cmp := ">"
		if p.Direction == config.Below {
			cmp = "<"
		}
		return s, "(" + lbl + " " + cmp + incident.FormatValue(*t, p.Unit) + ")"
	}
	return s, ""
}

// nextPoll is when a rate-limited pane's query goes again.
func (m *Model) nextPoll(pp *incident.Pane) string {
	return "next poll " + pp.LimitedUntil.In(m.loc).Format("15:04:05")
}

// paneLabel is the badge label of a pane: NO DATA panes that never had
// an answer say "waiting"; a pane its source's rate limit holds back says
// so.
func paneLabel(pv *paneView) string {
	switch {
	case pv.waiting && pv.sev == sevNoData:
		return "NO DATA"
	case pv.limited && pv.sev == sevUnknown:
		return "RATE-LIMITED"
	}
	return pv.sev.String()
}

// seriesValues returns the last n values of a pane's series.
func seriesValues(p *incident.Pane, n int) []float64 {
	if p == nil || len(p.Series) == 0 || n <= 0 {
		return nil
	}
	s := p.Series
	if len(s) > n {
		s = s[len(s)-n:]
	}
	out := make([]float64, len(s))
	for i, pt := range s {
		out[i] = pt.V
	}
	return out
}

// conditionHolds says whether an open alert's condition still holds, as
// far as this dashboard can tell, and in words: resolving an alert whose
// condition holds only makes it fire again as a new alert.
func (m *Model) conditionHolds(a *incident.Alert) (bool, string) {
	if a.Origin != "" && a.Origin != "rule" {
		return true, a.Origin + " still reports it firing"
	}
	svc := m.cfg.Service(a.Service)
	if svc == nil {
		return false, "its service is not in the war-room file"
	}
	for i := range svc.Panes {
		p := &svc.Panes[i]
		if p.ID != a.Pane {
			continue
		}
		pv := derivePane(m.cfg, m.st, svc, p, m.now, nil)
		title := pv.title
		switch {
		case pv.stale:
			return true, title + " is STALE (" + textsafe.Line(nameOr(pv.why, "no recent answer")) + "): nothing says it has recovered"
		case pv.waiting || (pv.pane != nil && pv.pane.NoData):
			return true, title + " has NO DATA: nothing says it has recovered"
		case pv.limited:
			return true, title + " is rate-limited (no current value): nothing says it has recovered"
		}
		v := pv.pane.Value
		below := p.Direction == config.Below
		cmp := ">"
		if below {
			cmp = "<"
		}
		switch {
		case breaches(v, p.Crit, below):
			return true, title + " is " + incident.FormatValue(v, p.Unit) + ", still " + cmp + " crit " + incident.FormatValue(*p.Crit, p.Unit)
		case breaches(v, p.Warn, below):
			return true, title + " is " + incident.FormatValue(v, p.Unit) + ", still " + cmp + " warn " + incident.FormatValue(*p.Warn, p.Unit)
		}
		return false, title + " is " + incident.FormatValue(v, p.Unit) + ", inside its thresholds"
	}
	return false, "its pane is not in the war-room file"
}

// conditionNow is conditionHolds for the record view.
func (m *Model) conditionNow(a *incident.Alert) string {
	holds, why := m.conditionHolds(a)
	if holds {
		return "still holds: " + why
	}
	return why
}
