package export

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
)

// The postmortem's incident-level parts: the severity, status and times
// in the header, the short key-events timeline, what customers saw, and
// the follow-ups. All of them come from the incident fold (Report.Life,
// Report.Times), so the dashboard and the postmortem measure the same.

// severityText is "SEV2 Major" with the declared names.
func (r *Report) severityText(level string) string {
	for i, l := range incident.SeverityLevels {
		if l == level && i < len(r.SeverityNames) && r.SeverityNames[i] != "" {
			return level + " " + r.SeverityNames[i]
		}
	}
	return level
}

// headerLines adds the severity, status, times and impact window to the
// header.
func (r *Report) headerLines(c timefmt, line func(string, ...span)) {
	l := &r.Life
	if l.Severity != "" {
		line("Severity", txt(r.severityText(l.Severity)+" (set at "+c.Both(l.SeverityAt)+")"))
	}
	if l.Status != "" {
		s := l.Status + " (since " + c.Both(l.StatusAt) + ")"
		line("Status", txt(s))
	}
	t := r.Times
	if t.Detected.IsZero() {
		return
	}
	line("Incident times", txt(timesText(t)+" (detect · acknowledge · mitigate · resolve, measured under Impact)"))
	if d, ok := t.Impact(); ok {
		end := t.ImpactEnd
		how := ""
		if end.IsZero() {
			end, how = t.Resolved, "; its end was not marked: until resolved"
		}
		line("Customer impact", txt(c.Both(t.Start)+" → "+c.Both(end)+" ("+dur(d)+how+")"))
	} else if !t.StartMarked {
		line("Customer impact", txt("not marked (mark its start and end in the room: times then count from it)"))
	}
}

// timesText is "TTD 4m00s · TTA 9m00s · TTM 30m00s · TTR 1h10m".
func timesText(t incident.Times) string {
	part := func(name string, f func() (time.Duration, bool)) string {
		if d, ok := f(); ok {
			return name + " " + dur(d)
		}
		return name + " —"
	}
	return strings.Join([]string{part("TTD", t.TTD), part("TTA", t.TTA), part("TTM", t.TTM), part("TTR", t.TTR)}, " · ")
}

// timesSection is the incident's milestones and the durations between.
func (r *Report) timesSection(c timefmt, add func(...block)) {
	add(heading{3, "Incident times", "times"})
	t := r.Times
	if t.Detected.IsZero() {
		add(para{[]span{em("The incident never went public and no customer impact was marked: there is nothing to measure.")}})
		return
	}
	add(para{[]span{strong("How these are measured."), txt(" Time to detect (TTD) runs from the customer-impact start (as marked) to the first warn or crit alert, not silenced, " +
		"firing at or after it (one already firing counts from the start). Time to acknowledge (TTA) runs from the detection to the first " +
		"acknowledgement of such an alert or the first public status, whichever is first. Time to mitigate (TTM) and to resolve (TTR) run from the start " +
		"to the mitigated and resolved marks, or to the first status monitoring and resolved. All are differences of absolute times: they hold across midnight, " +
		"time zones and handoffs.")}})
	tbl := &table{head: []string{"Milestone", "At (UTC)"}, markCol: -1}
	if r.loc != nil {
		tbl.head = append(tbl.head, "At ("+r.Zone+")")
	}
	tbl.head = append(tbl.head, "From")
	row := func(name string, at time.Time, how string) {
		cells := []string{name, c.UTC(at)}
		if r.loc != nil {
			cells = append(cells, c.Local(at))
		}
		if at.IsZero() {
			how = "not reached"
		}
		tbl.rows = append(tbl.rows, append(cells, how))
	}
	row("Customer impact started", t.Start, t.How["start"])
	row("Detected", t.Detected, t.How["detected"])
	row("Acknowledged", t.Acked, t.How["acked"])
	row("Mitigated", t.Mitigated, t.How["mitigated"])
	row("Resolved", t.Resolved, t.How["resolved"])
	row("Customer impact ended", t.ImpactEnd, "marked")
	add(tbl)
	d := &table{head: []string{"TTD", "TTA", "TTM", "TTR", "Customer impact"}, markCol: -1}
	cell := func(f func() (time.Duration, bool)) string {
		if v, ok := f(); ok {
			return dur(v)
		}
		return "—"
	}
	d.rows = [][]string{{cell(t.TTD), cell(t.TTA), cell(t.TTM), cell(t.TTR), cell(t.Impact)}}
	add(d)
}

// keySection is the short timeline before the full one.
func (r *Report) keySection(c timefmt, add func(...block)) {
	add(heading{2, "Key events", "key-events"})
	add(para{[]span{txt("The story in short: the declaration, severity and status changes, milestones, public updates, handoffs of command, mitigations and the events marked important (★). The full timeline is below.")}})
	if len(r.Key) == 0 {
		add(para{[]span{em("None.")}})
		return
	}
	t := &table{head: append([]string{"★"}, r.timeHead("#")...), markCol: 0}
	t.head = append(t.head, "What")
	for _, e := range r.Key {
		imp := r.important[e.Seq]
		star := ""
		if imp {
			star = "★"
		}
		row := append([]string{star}, r.timeCells(c, e)...)
		row = append(row, keyText(e))
		t.rows = append(t.rows, row)
		t.mark = append(t.mark, imp)
	}
	add(t)
}

// keyText is an event in the short timeline.
func keyText(e incident.Event) string {
	switch e.Kind {
	case incident.KindDeclare:
		return "Declared: " + e.Text
	case incident.KindUpdate:
		if u := e.Update; u != nil && u.Draft != nil && u.State == incident.UpdatePublished {
			return fmt.Sprintf("Public update %s (%s): %s", u.ID, u.Draft.Status, firstLineOf(u.Draft.Body))
		}
	case incident.KindRun:
		if run := e.Run; run != nil {
			return fmt.Sprintf("Mitigation %s %s %s", run.ID, run.Playbook, run.State.Words()) + serviceIn(e.Service)
		}
	}
	return e.Text
}

func serviceIn(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func firstLineOf(s string) string {
	l, rest, _ := strings.Cut(s, "\n")
	if strings.TrimSpace(rest) != "" {
		l += " …"
	}
	return l
}

// customersSection is what customers saw: every update as published, the
// wait for the first and the longest silence.
func (r *Report) customersSection(c timefmt, add func(...block)) {
	add(heading{2, "What customers saw", "customers"})
	ups := r.Life.Updates
	if len(ups) == 0 && len(r.Components) == 0 && r.Life.PublicSince.IsZero() {
		add(para{[]span{em("No public update was published; the war room declared no public components and the incident never went public.")}})
		return
	}
	if len(ups) == 0 {
		add(para{[]span{strong("Customers were told nothing:"), txt(" no public update was published.")}})
		if !r.Life.PublicSince.IsZero() || r.Times.StartMarked {
			add(para{[]span{txt("The incident went public at " + c.Both(r.Life.PublicSince) + " without a word to its users.")}})
		}
		return
	}
	s := r.Silence
	var items [][]span
	item := func(label string, v ...span) {
		items = append(items, append([]span{strong(label + ":"), txt(" ")}, v...))
	}
	from := "the customer-impact start"
	if !r.Times.StartMarked {
		from = "the moment the incident went public"
	}
	if s.HasFirst {
		item("Time to the first public update", txt(dur(s.FirstUpdate)+" after "+from))
	}
	if s.Longest > 0 {
		item("Longest silence", txt(fmt.Sprintf("%s, %s → %s", dur(s.Longest), c.Both(s.From), c.Both(s.To))))
	}
	item("Updates published", txt(strconv.Itoa(len(ups))))
	if n := r.Life.Overdues; n > 0 {
		item("Overdue", txt(fmt.Sprintf("%d time(s) an update was overdue under the cadence (OVERDUE events in the timeline)", n)))
	}
	if len(r.Components) > 0 {
		var cs []string
		for _, comp := range r.Components {
			cs = append(cs, comp.Name+": "+incident.ComponentLabel(r.Life.Component(comp.ID)))
		}
		item("Components at the last event", txt(strings.Join(cs, "; ")))
	}
	add(list{items})
	for _, u := range ups {
		meta := []span{strong(c.Both(u.PublishedAt) + " — " + statusWord(u.Draft.Status)), txt(" · " + u.Draft.Title + " · " + u.ID + " by " + u.By)}
		if u.Approver != "" && u.Approver != u.By {
			meta = append(meta, txt(", approved by "+u.Approver+" after "+dur(u.PublishedAt.Sub(u.DraftedAt))))
		}
		if u.Draft.Notify {
			meta = append(meta, txt(" · subscribers notified"))
		} else {
			meta = append(meta, txt(" · page only"))
		}
		for _, ch := range u.Draft.Components {
			meta = append(meta, txt(" · "+r.componentName(ch.ID)+": "+incident.ComponentLabel(ch.Status)))
		}
		if d, ok := u.Delivery["statuspage"]; ok {
			meta = append(meta, txt(" · Statuspage: "+deliveryWord(c, d)))
		}
		add(para{meta}, quote{lines: strings.Split(u.Draft.Body, "\n")})
	}
}

func statusWord(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func deliveryWord(c timefmt, d incident.Delivery) string {
	switch d.State {
	case incident.DeliveryDelivered:
		return "delivered at " + c.UTC(d.At) + " UTC"
	case incident.DeliveryUncertain:
		return "answer lost at " + c.UTC(d.At) + " UTC, being checked"
	case incident.DeliveryFailed:
		return "failed: " + d.Error
	}
	return d.State
}

func (r *Report) componentName(id string) string {
	for _, c := range r.Components {
		if c.ID == id {
			return c.Name
		}
	}
	return id
}

// followUpText is a note without the "follow-up:" its writer may have
// started it with.
func followUpText(s string) string {
	for _, p := range []string{"follow-up:", "follow up:", "followup:"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			if rest := strings.TrimSpace(s[len(p):]); rest != "" {
				return rest
			}
		}
	}
	return s
}

// actionItems are the follow-ups marked in the room, then a row to fill.
func (r *Report) actionItems(add func(...block)) {
	add(heading{2, "Action items", "actions"})
	t := &table{head: []string{"Action", "Owner", "Due", "Tracking"}, markCol: -1}
	if len(r.FollowUps) > 0 {
		what := "A follow-up was marked in the room; it is"
		if len(r.FollowUps) > 1 {
			what = fmt.Sprintf("%d follow-ups were marked in the room; each is", len(r.FollowUps))
		}
		add(para{[]span{txt(what + " its note as written (less a leading \"follow-up:\"), by whom, with its event.")}})
	}
	for _, e := range r.FollowUps {
		t.rows = append(t.rows, []string{followUpText(e.Text), r.Person(e.Actor), "", "#" + strconv.FormatInt(e.Seq, 10)})
	}
	t.rows = append(t.rows, []string{"TODO", "", "", ""})
	add(t)
}
