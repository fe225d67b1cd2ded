package incident

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// rule is a pane's alert rule, resolved from the config once.
type rule struct {
	service, pane        string
	source               string
	title, unit          string
	warn, crit, clr      *float64
	below                bool
	hold                 time.Duration // `for`
	staleAfter           time.Duration // interval + timeout + 1s: a watchdog behind the scheduler's own reports
	baseStale, interval  time.Duration // staleAfter and the interval as configured (the source may pace itself slower)
	noData               config.NoData
	metrics              []string          // metric names the query reads (grouping)
	alerts               []config.Matchers // imported alerts that are about this pane
	warnSince, critSince time.Time
	staleSince           time.Time // when the pane last went blank: STALE, or held back by its source's rate limit (zero: it answers)
	limited              bool      // blank because the rate limit holds it back, not STALE
}

func newRule(svc config.Service, p config.Pane, src *config.Source) *rule {
	r := &rule{service: svc.ID, pane: p.ID, source: p.Source, title: p.Title, unit: p.Unit,
		warn: p.Warn, crit: p.Crit, clr: p.Clear, below: p.Direction == config.Below, hold: p.For.D(), noData: p.NoData}
	if r.title == "" {
		r.title = p.ID
	}
	r.staleAfter = StaleAfter(src)
	r.baseStale, r.interval = r.staleAfter, config.DefaultInterval
	if src != nil {
		r.interval = src.PollInterval()
	}
	if src != nil {
		r.metrics = config.QueryMetrics(src.Type, p.Query)
	}
	// Validation parsed these already; a config built in code gets none
	// for a bad item rather than a failure.
	for _, it := range p.Alerts {
		if ms, err := config.ParseMatchers(it); err == nil {
			r.alerts = append(r.alerts, ms)
		}
	}
	return r
}

// StaleAfter is how long a pane of src may go without any answer before
// the engine's watchdog calls it STALE: interval + timeout + 1s.
func StaleAfter(src *config.Source) time.Duration {
	if src == nil {
		return config.DefaultInterval + config.DefaultTimeout + time.Second
	}
	return src.PollInterval() + src.PollTimeout() + time.Second
}

func (r *rule) breaches(v float64, t *float64) bool {
	if t == nil {
		return false
	}
	if r.below {
		return v < *t
	}
	return v > *t
}

// clearLine is the value the pane must get past for its alert to resolve.
func (r *rule) clearLine() *float64 {
	switch {
	case r.clr != nil:
		return r.clr
	case r.warn != nil:
		return r.warn
	}
	return r.crit
}

func (r *rule) cleared(v float64) bool {
	c := r.clearLine()
	if c == nil {
		return true
	}
	if r.below {
		return v >= *c
	}
	return v <= *c
}

// groupKey is the alert group of the pane.
func (r *rule) groupKey() string { return r.service + "/" + r.pane }

// Observe delivers samples from sources. It has no reply.
type Observe struct{ Samples []Sample }

// ReportSource records a source's health; only changes become events.
type ReportSource struct{ Info SourceInfo }

// ImportAlerts merges alerts from an external origin. With Complete, the
// set is the origin's whole current state for alerts that arrived Via the
// same path (or for every path when Authoritative), and open alerts of
// that origin missing from it are resolved.
type ImportAlerts struct {
	Origin   string
	Alerts   []ExternalAlert
	Complete bool
	// Via is the path: "poll" (a source's query) or "webhook". A poll of
	// Prometheus does not resolve what Alertmanager's webhook brought
	// (it may come from another Prometheus).
	Via string
	// Authoritative: this set is the whole truth for the origin, whatever
	// path its alerts came by (Alertmanager's own API).
	Authoritative bool
}

// RecordMirror records the Slack mirror going down or recovering.
type RecordMirror struct{ Text string }

func (c Observe) decide(d *decider) error {
	// The sender keeps its slice (it may still be journaling it): read a
	// copy.
	from := len(d.samples)
	d.samples = append(d.samples, c.Samples...)
	c.Samples = d.samples[from:]
	for i := range c.Samples {
		sm := &c.Samples[i]
		// NaN is no answer at all; ±Inf is kept: it is a real breach.
		if math.IsNaN(sm.Value) && !sm.Stale {
			sm.NoData = true
		}
		if sm.NoData && !sm.Stale {
			if r := d.e.rules[PaneKey(sm.Service, sm.Pane)]; r != nil && r.noData == config.NoDataZero {
				// A lazily created series: nothing counted yet is 0.
				sm.NoData, sm.Value = false, 0
			}
		}
	}
	d.s.ApplySamples(c.Samples, d.now)
	for _, sm := range c.Samples {
		if r := d.e.rules[PaneKey(sm.Service, sm.Pane)]; r != nil {
			d.evaluate(r)
		}
	}
	d.sourceAlerts()
	d.watchLaunch()
	return nil
}

// evaluate turns a pane's latest value into alert events. A STALE pane
// opens no alert of its own: its source's alert says which panes are
// blank (see sourceAlerts).
func (d *decider) evaluate(r *rule) {
	p := d.s.pane(r.service, r.pane)
	open := d.s.OpenAlert(r.service, &AlertInfo{Pane: r.pane})
	last := p.Updated
	if last.IsZero() {
		last = d.e.started
	}
	stale := p.Stale || p.Silent(d.now, last, r.staleAfter)
	// Held back by the rate limit: not STALE, but blank all the same (a
	// source alert opens if it lasts; see sourceAlerts).
	r.limited = !stale && !p.LimitedUntil.IsZero()
	blank := stale || r.limited
	if blank != !r.staleSince.IsZero() {
		if blank {
			r.staleSince = d.now
			if !p.Stale {
				r.staleSince = last // silent since its last answer
			}
		} else {
			r.staleSince = time.Time{}
		}
		d.dirty[r.source] = true
	} else if blank {
		d.dirty[r.source] = true // its hold may have passed
	}
	switch {
	case stale:
		r.warnSince, r.critSince = time.Time{}, time.Time{}
	case p.NoData:
		r.warnSince, r.critSince = time.Time{}, time.Time{}
		if r.noData == config.NoDataAlert {
			d.condition(r, open, LevelNoData, fmt.Sprintf("%s NO DATA: the query returned no series", r.title))
		} else if open != nil && (open.Level == LevelNoData || open.Level == LevelStale) {
			// An empty answer is not an alert here (no_data: show); an
			// alert from before says so much. Warn and crit stay: losing
			// the data does not make them better.
			d.resolve("rule", open, fmt.Sprintf("%s: no series, which is not an alert for this pane (no_data: show)", r.title), time.Time{})
		}
	case !p.HasData:
		// Waiting for the first answer; the watchdog above covers silence.
	case r.limited:
		// Held back by the source's rate limit: no new value, so no
		// condition starts, ends or holds longer on an old one.
	default:
		d.threshold(r, p, open)
	}
}

// condition fires or updates a NO DATA alert. An open warn or crit alert
// keeps its level: losing the data does not make it better.
func (d *decider) condition(r *rule, open *Alert, lvl Level, text string) {
	if open != nil && (open.Level == LevelWarn || open.Level == LevelCrit || open.Level == lvl) {
		return
	}
	d.fire(r, open, lvl, text, 0, nil)
}

func (d *decider) threshold(r *rule, p *Pane, open *Alert) {
	v := p.Value
	now := d.now
	if r.breaches(v, r.warn) || r.breaches(v, r.crit) {
		if r.warnSince.IsZero() {
			r.warnSince = now
		}
	} else {
		r.warnSince = time.Time{}
	}
	if r.breaches(v, r.crit) {
		if r.critSince.IsZero() {
			r.critSince = now
		}
	} else {
		r.critSince = time.Time{}
	}
	target, thr := LevelOK, (*float64)(nil)
	switch {
	case !r.critSince.IsZero() && now.Sub(r.critSince) >= r.hold:
		target, thr = LevelCrit, r.crit
	case !r.warnSince.IsZero() && now.Sub(r.warnSince) >= r.hold:
		target, thr = LevelWarn, r.warn
		if thr == nil || !r.breaches(v, thr) {
			thr = r.crit
		}
	}
	if target == LevelOK {
		if open == nil {
			return
		}
		// Say what came back: data (NO DATA, STALE) or a level below the
		// clear line (a breach).
		switch {
		case open.Level == LevelNoData:
			d.resolve("rule", open, fmt.Sprintf("%s data is back (%s) after %s without data",
				r.title, FormatValue(v, r.unit), Age(now.Sub(open.FiredAt))), time.Time{})
		case open.Level == LevelStale:
			d.resolve("rule", open, fmt.Sprintf("%s answers again (%s) after %s stale",
				r.title, FormatValue(v, r.unit), Age(now.Sub(open.FiredAt))), time.Time{})
		case r.cleared(v):
			d.resolve("rule", open, fmt.Sprintf("%s back to %s (clear %s %s) after %s",
				r.title, FormatValue(v, r.unit), r.cmp(true), FormatValue(deref(r.clearLine()), r.unit), Age(now.Sub(open.FiredAt))), time.Time{})
		}
		return
	}
	if open != nil && open.Level.Rank() >= target.Rank() && open.Level != LevelStale {
		return // alerts only get worse until they clear
	}
	text := fmt.Sprintf("%s %s %s %s (%s)", r.title, FormatValue(v, r.unit), r.cmp(false), FormatValue(deref(thr), r.unit), target)
	d.fire(r, open, target, text, v, thr)
}

func (r *rule) cmp(clearing bool) string {
	if r.below != clearing {
		return "<"
	}
	return ">"
}

func (d *decider) fire(r *rule, open *Alert, lvl Level, text string, v float64, thr *float64) {
	info := &AlertInfo{Pane: r.pane, Level: lvl, Value: finite(v), Threshold: deref(thr), Unit: r.unit, Origin: "rule"}
	if open != nil {
		info.ID, info.Group = open.ID, open.Group
	} else {
		info.ID, info.Group = fmt.Sprintf("A%d", d.s.LastSeq+1), r.groupKey()
		info.Owner = d.owner(r.service, lvl, "")
	}
	d.emit(Event{Kind: KindAlert, Actor: "rule", Service: r.service, Text: text, Alert: info})
}

// owner is who to tell when an alert on service fires: its owner, for an
// alert that asks someone to act.
func (d *decider) owner(service string, lvl Level, silenced string) string {
	if !lvl.Pages() || silenced != "" {
		return ""
	}
	return d.s.Roles.Services[service].Primary
}

// finite clamps ±Inf (histogram_quantile answers +Inf when every
// observation is above the top bucket) so that it can be stored as JSON.
func finite(v float64) float64 {
	switch {
	case math.IsInf(v, 1):
		return math.MaxFloat64
	case math.IsInf(v, -1):
		return -math.MaxFloat64
	case math.IsNaN(v):
		return 0
	}
	return v
}

func deref(f *float64) float64 {
	if f == nil {
		return 0
	}
	return *f
}

func (c ReportSource) decide(d *decider) error {
	// A source pacing itself to last out a rate-limit budget answers
	// less often: its panes are STALE only that much later.
	for _, r := range d.e.bySource[c.Info.ID] {
		r.staleAfter = r.baseStale + max(0, c.Info.Every-r.interval)
	}
	old, seen := d.e.health[c.Info.ID]
	if seen && old == c.Info.Health {
		return nil
	}
	d.e.health[c.Info.ID] = c.Info.Health
	if !seen && c.Info.Health == SourceUp {
		// A source that starts healthy is not news (and not an event:
		// the state stays a pure fold of the journal).
		return nil
	}
	text := fmt.Sprintf("source %s is %s", c.Info.ID, c.Info.Health)
	if c.Info.Error != "" && c.Info.Health != SourceUp {
		text += ": " + c.Info.Error
	}
	info := c.Info
	d.emit(Event{Kind: KindSource, Actor: "scheduler", Text: text, Source: &info})
	return nil
}

func (c RecordMirror) decide(d *decider) error {
	if d.s.Mirror == c.Text {
		return nil
	}
	d.emit(Event{Kind: KindMirror, Actor: "mirror", Text: c.Text})
	return nil
}

// ReportPaging records something about paging outside the room that
// people must know: a page PagerDuty refused, a destination that stopped,
// a webhook delivery refused (an audit: never with a secret).
type ReportPaging struct {
	By   string // the channel: pagerduty
	Text string
}

func (c ReportPaging) decide(d *decider) error {
	text := strings.TrimSpace(c.Text)
	if text == "" {
		return roles.Refuse("a paging report needs a text")
	}
	d.emit(Event{Kind: KindPaging, Actor: nameOr(c.By, "paging"), Text: clip(textsafe.Line(text), 1000)})
	return nil
}

// heartbeat runs once a second on the engine: staleness watchdog, `for`
// windows, escalation of unacknowledged alert groups, pages, and the
// public-update cadence.
type heartbeat struct{}

func (heartbeat) decide(d *decider) error {
	d.expirePresence()
	if d.e.role != RoleLeader {
		return nil // the leader's heartbeat decides; a standby only folds
	}
	for _, r := range d.e.ruleList {
		d.evaluate(r)
	}
	d.sourceAlerts()
	d.escalateGroups()
	d.sendPages()
	d.watchLaunch()
	d.checkCadence()
	return nil
}

func (e *Engine) paneTitle(a *Alert) string {
	if r := e.rules[PaneKey(a.Service, a.Pane)]; r != nil && a.Origin == "rule" {
		return r.title
	}
	return a.Pane
}

// FormatValue renders a value with its unit compactly: 90K req/s, 2.3s,
// 430ms, 2.1%.
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	switch unit {
	case "s":
		if math.Abs(v) < 1 && v != 0 {
			return trim(v*1000) + "ms"
		}
		return trim(v) + "s"
	case "ms", "%", "µs":
		return trim(v) + unit
	}
	s := compact(v)
	if s == "1" || s == "-1" {
		unit = singular(unit)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

// Plural counts things in words: "1 alert", "2 alerts". It is the one
// helper every reader (TUI, Slack mirror, CLI) counts with.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// singular is a plural word unit for one of it: 1 slot, 1 conn, 1 error
// (units such as req/s or /min stay as they are).
func singular(unit string) string {
	if len(unit) < 3 || !strings.HasSuffix(unit, "s") || strings.HasSuffix(unit, "ss") {
		return unit
	}
	for _, r := range unit {
		if r < 'a' || r > 'z' {
			return unit
		}
	}
	return unit[:len(unit)-1]
}

func compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trim(v/1e9) + "G"
	case a >= 1e6:
		return trim(v/1e6) + "M"
	case a >= 1e4:
		return trim(v/1e3) + "K"
	}
	return trim(v)
}

// trim prints up to three significant digits without trailing zeros.
func trim(v float64) string {
	prec := 2
	switch a := math.Abs(v); {
	case a >= 100:
		prec = 0
	case a >= 10:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
