package export

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
)

// timefmt formats times for one report: UTC always, local when a zone is
// known, with dates whenever the report spans more than one day.
type timefmt struct {
	loc      *time.Location
	multiDay bool
}

func (r *Report) timefmt() timefmt {
	c := timefmt{loc: r.loc}
	sameDay := func(loc *time.Location) bool {
		a, b := r.start.In(loc), r.end.In(loc)
		return a.Year() == b.Year() && a.YearDay() == b.YearDay()
	}
	c.multiDay = !sameDay(time.UTC) || (r.loc != nil && !sameDay(r.loc))
	return c
}

const (
	layoutTime     = "15:04:05"
	layoutDateTime = "2006-01-02 15:04:05"
)

// UTC is a timeline time in UTC.
func (c timefmt) UTC(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if c.multiDay {
		return t.UTC().Format(layoutDateTime)
	}
	return t.UTC().Format(layoutTime)
}

// Local is a timeline time in the war room's zone ("" without one).
func (c timefmt) Local(t time.Time) string {
	if c.loc == nil {
		return ""
	}
	if t.IsZero() {
		return "—"
	}
	if c.multiDay {
		return t.In(c.loc).Format(layoutDateTime)
	}
	return t.In(c.loc).Format(layoutTime)
}

// Both is "UTC (local)" or just UTC, with a "UTC" suffix.
func (c timefmt) Both(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	s := c.UTC(t) + " UTC"
	if c.loc != nil {
		s += " (" + c.Local(t) + " " + t.In(c.loc).Format("MST") + ")"
	}
	return s
}

// FullUTC is a header time with its date, always.
func fullUTC(t time.Time) string { return t.UTC().Format(layoutDateTime) + " UTC" }

// fullLocal is a header time in the zone, with its offset.
func fullLocal(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04:05 MST (UTC-07:00)")
}

// dur formats a duration the way the war room reads it (45s, 3m12s, 2h05m).
func dur(d time.Duration) string { return incident.Age(d) }

// params renders run parameters in key order.
func params(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}

// alertLevels is the level history of an alert, e.g. "warn → crit".
func alertLevels(a *incident.AlertLife) string {
	var parts []string
	for _, l := range a.Levels {
		if n := len(parts); n == 0 || parts[n-1] != levelLabel(l.Level) {
			parts = append(parts, levelLabel(l.Level))
		}
	}
	return strings.Join(parts, " → ")
}

// ackSummary says who acked and how fast, including re-acks.
func ackSummary(c timefmt, a *incident.AlertLife) (by, tta string) {
	d, ok := a.TimeToAck()
	if !ok {
		if a.Resolved() {
			return "—", "not acked"
		}
		return "—", "not acked (open)"
	}
	by, tta = a.Acks[0].By, dur(d)
	for _, r := range a.Reacks() {
		by += "; re-ack " + r.By
		tta += fmt.Sprintf("; re-ack %s after crit at %s", dur(r.Wait()), c.UTC(r.Since))
	}
	return by, tta
}

// resolveSummary says who resolved and how long it took.
func resolveSummary(a *incident.AlertLife, lastAt time.Time) (by, ttr string) {
	d, ok := a.TimeToResolve()
	if !ok {
		return "—", "open (" + dur(lastAt.Sub(a.FiredAt)) + " at the last event)"
	}
	return a.ResolvedBy, dur(d)
}

// escalationSince is when the wait that an escalation ended began: the
// firing, or the latest upgrade to crit before it that cleared an ack.
// The engine counts its escalation delays from there.
func escalationSince(a *incident.AlertLife, e incident.EscalationRecord) time.Time {
	since := a.FiredAt
	for _, l := range a.Levels {
		if l.Unacked && l.Seq < e.Seq {
			since = l.At
		}
	}
	return since
}

// escalationSummary lists who was paged, and how long the alert had been
// waiting for an ack: since the firing, or since the upgrade to crit that
// cleared an earlier ack.
func escalationSummary(c timefmt, a *incident.AlertLife) string {
	if len(a.Escalations) == 0 {
		return "—"
	}
	var parts []string
	for _, e := range a.Escalations {
		since := escalationSince(a, e)
		if since.Equal(a.FiredAt) {
			parts = append(parts, fmt.Sprintf("%s after %s", e.To, dur(e.At.Sub(since))))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s after crit at %s", e.To, dur(e.At.Sub(since)), c.UTC(since)))
		}
	}
	return strings.Join(parts, ", ")
}

// policySummary describes the escalation policy in words ("" when the
// journal does not record it).
func policySummary(p EscalationPolicy) string {
	var steps []string
	if p.Backup > 0 {
		steps = append(steps, "the service's backup (the commander, for a service without one) after "+dur(p.Backup))
	}
	if p.Commander > 0 {
		steps = append(steps, "the commander after "+dur(p.Commander))
	}
	if len(steps) == 0 {
		return ""
	}
	return " An alert nobody acknowledges pages " + strings.Join(steps, ", then ") +
		", counted from its firing or from the upgrade to crit that cleared an earlier ack (as the war room declared it)." +
		" Alerts about one condition escalate as one group, and each person gets at most one page a minute naming everything escalated to them."
}

// runApproval describes a run's approvals.
func runApproval(c timefmt, run *Run) string {
	if len(run.Approvals) == 0 {
		if len(run.Refusals) > 0 {
			f := run.Refusals[len(run.Refusals)-1]
			if f.State == "expired" {
				return "approval expired at " + c.UTC(f.At)
			}
			return "rejected by " + f.By + " at " + c.UTC(f.At)
		}
		return "none recorded"
	}
	var parts []string
	for _, a := range run.Approvals {
		if a.By == run.RequestedBy && a.At.Equal(run.RequestedAt) {
			parts = append(parts, "not needed (the playbook has no approvers)")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s at %s (after %s)", a.By, c.UTC(a.At), dur(a.At.Sub(run.RequestedAt))))
	}
	return strings.Join(parts, "; ")
}

// runOutcome describes how a run ended.
func runOutcome(run *Run) string {
	if run.Done {
		return string(run.Outcome)
	}
	return string(run.Outcome) + " (not finished at the last event)"
}

// statLine renders a mean or "n/a".
func mean(n int, d time.Duration) string {
	if n == 0 {
		return "n/a"
	}
	return dur(d)
}

// filterText describes the filters in words ("" without any).
func (r *Report) filterText() string {
	f := r.Filter
	var parts []string
	if f.Important {
		parts = append(parts, "important events only")
	}
	if f.Service != "" {
		parts = append(parts, "service "+f.Service)
	}
	if !f.From.IsZero() {
		parts = append(parts, "from "+f.From.UTC().Format(time.RFC3339))
	}
	if !f.To.IsZero() {
		parts = append(parts, "to "+f.To.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, ", ")
}

// serviceOr is the service id or "-".
func serviceOr(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// levelLabel is an alert level for tables.
func levelLabel(l incident.Level) string {
	switch l {
	case incident.LevelNoData:
		return "NO DATA"
	case incident.LevelStale:
		return "STALE"
	}
	return string(l)
}
