package tui

import (
	"github.com/warroom/warroom/incident"
)

// alertRow is one row of the alerts list: an alert group, shown by its
// worst alert, or (when the group is expanded) one alert of it. key is a
// stable id for the row across re-sorts: the group's key, or the group's
// key and the alert's id for a member row.
type alertRow struct {
	a      *incident.Alert
	group  *incident.Group // nil only for an alert whose group is gone
	size   int             // open alerts the row stands for
	member bool
	key    string
}

// alertRows lists the open alert groups, worst first (quiet ones last),
// each followed by its alerts when expanded.
func alertRows(st *incident.State, expanded map[string]bool) []alertRow {
	if st == nil {
		return nil
	}
	var rows []alertRow
	seen := map[string]bool{}
	for _, a := range st.OpenAlerts() {
		g := st.GroupOf(a)
		if g == nil {
			rows = append(rows, alertRow{a: a, size: 1, key: "alert:" + a.ID})
			continue
		}
		if seen[g.Key] {
			continue
		}
		seen[g.Key] = true
		rows = append(rows, alertRow{a: a, group: g, size: g.Size(), key: g.Key})
		if expanded[g.Key] && g.Size() > 1 {
			for _, m := range st.Members(g) {
				rows = append(rows, alertRow{a: m, group: g, size: 1, member: true, key: g.Key + "/" + m.ID})
			}
		}
	}
	return rows
}

// alertGroupsToAct counts the open alert groups (an ungrouped alert is
// one) that ask someone to act, and those of them with an alert no one
// has acked: the Alerts tab's count. Informational and silenced alerts
// are listed in the view but are not counted, as they page no one.
func (m *Model) alertGroupsToAct() (active, unacked int) {
	seen := map[string]bool{}
	unackedSeen := map[string]bool{}
	for _, a := range m.st.OpenAlerts() {
		if !a.Pages() {
			continue
		}
		key := "alert:" + a.ID
		if g := m.st.GroupOf(a); g != nil {
			key = g.Key
		}
		if !seen[key] {
			seen[key] = true
			active++
		}
		if !a.Acked() && !unackedSeen[key] {
			unackedSeen[key] = true
			unacked++
		}
	}
	return active, unacked
}

// quietLabel is the badge of an alert that asks no one to act, or "".
func quietLabel(a *incident.Alert) string {
	switch {
	case a.Silenced != "":
		return "SILENCED"
	case a.Level == incident.LevelInfo:
		return "INFO"
	case !a.Level.Pages():
		return "UNKNOWN"
	}
	return ""
}

// alertBadge is an alert's badge: its level, or grey (the NO DATA
// colour, never a level's) for quiet alerts.
func (s *Styles) alertBadge(a *incident.Alert) string {
	if q := quietLabel(a); q != "" {
		return s.badgeText(sevNoData, q)
	}
	return s.badge(sevOf(a.Level))
}

// groupState says who acked a group, or that it waits, and whether (and
// to whom) it was escalated: ESCALATED only once an ESCALATE was
// recorded, never from the clock alone.
func groupState(st *incident.State, r alertRow) (text string, waiting bool) {
	a := r.a
	if q := quietLabel(a); q != "" && !r.member {
		return quietText(a), false // why is in the alert's text
	}
	g := r.group
	if r.member || g == nil {
		switch {
		case a.Acked():
			return "acked by " + a.AckedBy, false
		case !a.Pages():
			return quietText(a), false
		}
		return "unacked", true
	}
	if g.Unacked == 0 {
		if a.Acked() {
			return "acked by " + a.AckedBy, false
		}
		return quietText(a), false
	}
	text = "unacked"
	if g.Unacked > 1 {
		text = itoa(g.Unacked) + " unacked"
	}
	if g.Escalated > 0 {
		text += " · ESCALATED to " + g.EscalatedTo
	}
	return text, true
}

func quietText(a *incident.Alert) string {
	if a.Silenced != "" {
		return "silenced"
	}
	return "info only"
}
