package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/textsafe"
)

// LaunchBoard is the launch board as plain lines, for terminals without
// the dashboard (warroom launch status, ssh HOST launch): T-0 and the
// countdown, the next checkpoint, each criterion's state with its
// evidence and who supplied it, and the decision. The words come from
// the file and from people: every line goes through the sanitiser. A
// room without a launch plan has no board: ErrNoPlan.
func (s *State) LaunchBoard(cfg *config.Config, now time.Time) ([]string, error) {
	plan := cfg.Launch
	if plan == nil {
		return nil, ErrNoPlan
	}
	loc := cfg.Incident.Location()
	var out []string
	add := func(format string, a ...any) { out = append(out, textsafe.Line(fmt.Sprintf(format, a...))) }
	t0, ok := s.T0(cfg)
	if !ok {
		return []string{"the launch plan counts from T-0: set incident.launch in the war-room file"}, nil
	}
	count := "T-" + ClockDur(t0.Sub(now))
	if !now.Before(t0) {
		count = "T+" + ClockDur(now.Sub(t0))
	}
	add("%s  T-0 %s (%s)", count, t0.In(loc).Format("Mon Jan 2 15:04:05 MST"), t0.UTC().Format(time.RFC3339))
	for _, cp := range plan.Checkpoints {
		if at := t0.Add(cp.At.D()); at.After(now) {
			add("next checkpoint %s %s in %s", cp.At, cp.Name, ClockDur(at.Sub(now)))
			break
		}
	}
	red, green := s.RedCriteria(plan)
	dec := "no decision yet"
	if d := s.Launch.LastDecision(); d != nil {
		switch d.Decision {
		case DecisionGo:
			dec = "GO by " + d.By
		case DecisionAbort:
			dec = "ABORTED by " + d.By
		default:
			dec = "HOLD by " + d.By + ": new T-0 " + d.T0.In(loc).Format("15:04:05 MST")
		}
		dec += fmt.Sprintf(" at %s (#%d)", d.At.In(loc).Format("15:04:05"), d.Seq)
		if d.Override != "" {
			dec += "; override: " + d.Override
		}
	}
	add("go/no-go: %d of %d green; %s", len(green), len(red)+len(green), dec)
	idW := 2
	for _, c := range plan.Criteria {
		idW = max(idW, min(len(c.ID), 24))
	}
	for _, c := range plan.Criteria {
		cs := s.Launch.Criterion(c.ID)
		state, ev, by := "RED", cs.Evidence.Summary, ""
		switch {
		case cs.Green:
			state = "GREEN"
		case cs.Seq == 0:
			state, ev = "WAIT", "no evidence yet: "+awaitingText(c)
		}
		if cs.Seq > 0 {
			by = fmt.Sprintf(" (%s at %s, #%d)", cs.By, cs.At.In(loc).Format("15:04:05"), cs.Seq)
		}
		add("  %-5s %-*s %s%s", state, idW, c.ID, ev, by)
		for _, e := range c.Expect {
			svc, pane, _ := strings.Cut(e.Pane, "/")
			what := "waiting for a result"
			if x, ok := s.Expected(svc, pane); ok {
				unit := ""
				if p := cfg.Pane(svc, pane); p != nil {
					unit = p.Unit
				}
				switch {
				case !x.Drawable():
					what = x.Source() + " has no " + strings.Join(x.Missing, ", ")
				case x.Lo == x.Hi:
					what = FormatValue(x.Lo, unit) + " from " + x.Source()
				default:
					what = FormatValue(x.Lo, unit) + " – " + FormatValue(x.Hi, unit) + " from " + x.Source()
				}
			}
			add("  %-5s %-*s expected on %s %s: %s (drawn after T-0)", "", idW, "", e.Pane, strings.Join(e.Metrics(), "–"), what)
		}
	}
	return out, nil
}

// awaitingText says what evidence a criterion waits for.
func awaitingText(c config.Criterion) string {
	switch c.Kind() {
	case config.KindPreflight:
		return "a preflight (check --live) run in the room"
	case config.KindPane:
		return c.Pane + " held for " + c.For.String()
	case config.KindLoadTest:
		return "a k6 or vegeta result meeting " + strings.Join(c.LoadTest, ", ")
	case config.KindSignOff:
		return c.SignOff + "'s sign-off"
	case config.KindStaffed:
		return "every role and owner held and connected"
	}
	return ""
}

// ClockDur writes a duration as hh:mm:ss (its absolute value), as
// countdowns show it.
func ClockDur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60)
}

// ParseT0 reads a new T-0 as people write it: +30m (from now), 15:04 or
// 15:04:05 (the next such time in the room's zone) or an RFC 3339 time.
func ParseT0(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("%q: write +30m, 10:30 or an RFC 3339 time", textsafe.Line(s))
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 {
			return time.Time{}, bad
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			n := now.In(loc)
			at := time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), t.Second(), 0, loc)
			if !at.After(now) {
				at = at.AddDate(0, 0, 1)
			}
			return at, nil
		}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, bad
	}
	return t, nil
}
