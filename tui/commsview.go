package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// The Comms view: the incident's severity and status, its milestones and
// times, the public components with what the alerts suggest, the update
// waiting for approval and the updates published with where each was
// delivered. The comms role drafts updates from the file's templates in a
// composer that shows exactly what will be published; the commander (or
// the deputy) approves them here.

// commsOn reports whether the Comms tab shows: the file has a comms
// section, the room serves its status page, or the incident already has
// a public side.
func (m *Model) commsOn() bool {
	if m.cfg.Comms != nil || m.o.StatusPageURL != "" { // a served page is named there
		return true
	}
	if m.st == nil {
		return false
	}
	l := &m.st.Life
	return l.Severity != "" || !l.PublicSince.IsZero() || len(l.Updates) > 0 || l.Pending != nil
}

// cadence is when the next public update is due ("" why when none is).
func (m *Model) cadence() (time.Time, string) {
	if m.st == nil {
		return time.Time{}, ""
	}
	return m.st.Life.NextUpdate(incident.CadenceOf(m.cfg))
}

// seesCountdown: the comms role and the commander count down to the next
// update.
func (m *Model) seesCountdown() bool {
	return m.st != nil && m.me != "" && (m.me == m.st.Roles.Comms || m.me == m.st.Roles.Commander)
}

// severityText is "SEV2 Major".
func (m *Model) severityText(level string) string {
	if n := m.cfg.Incident.Severities.Name(level); n != "" {
		return level + " " + textsafe.Line(n)
	}
	return level
}

func (m *Model) severityPaint(level string) paint {
	switch level {
	case "SEV1", "SEV2":
		return m.sty.Level[sevCrit]
	case "SEV3":
		return m.sty.Level[sevWarn]
	}
	return m.sty.Muted
}

// lifecycleSegs are the header's incident segments: severity and status,
// the countdown to the next update (for the comms role and the
// commander; red when overdue) and the incident's times.
func (m *Model) lifecycleSegs() []seg {
	if m.st == nil {
		return nil
	}
	s := m.sty
	l := &m.st.Life
	var segs []seg
	var parts []string
	if l.Severity != "" {
		parts = append(parts, m.severityPaint(l.Severity).S(m.severityText(l.Severity)))
	}
	if l.Status != "" {
		parts = append(parts, s.Bold.S(l.Status))
	}
	if len(parts) > 0 {
		segs = append(segs, seg{strings.Join(parts, s.Muted.S(" · ")), 88})
	}
	if due, _ := m.cadence(); !due.IsZero() && m.seesCountdown() {
		if left := due.Sub(m.now); left > 0 {
			segs = append(segs, seg{s.Muted.S("update in ") + s.Bold.S(countdown(left)), 86})
		} else {
			segs = append(segs, seg{s.badgeText(sevCrit, "UPDATE OVERDUE "+countdown(-left)), 93})
		}
	}
	if t := m.st.Times(); !t.Detected.IsZero() {
		segs = append(segs, seg{s.Muted.S(m.timesText(t, " ")), 40})
	}
	return segs
}

// countdown is 12:30, or 1:02:30 past an hour.
func countdown(d time.Duration) string {
	d = d.Round(time.Second)
	h, mi, sec := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, mi, sec)
	}
	return fmt.Sprintf("%d:%02d", mi, sec)
}

// timesText is "TTD 4m TTA 9m TTM 30m TTR —".
func (m *Model) timesText(t incident.Times, sep string) string {
	part := func(name string, f func() (time.Duration, bool)) string {
		if d, ok := f(); ok {
			return name + " " + incident.Age(d)
		}
		return name + " —"
	}
	return strings.Join([]string{part("TTD", t.TTD), part("TTA", t.TTA), part("TTM", t.TTM), part("TTR", t.TTR)}, sep)
}

// clockTime is a time in the room's zone ("—" for none).
func (m *Model) clockTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(m.loc).Format("15:04:05")
}

// components are the file's public components.
func (m *Model) components() []config.Component {
	if m.cfg.Comms == nil {
		return nil
	}
	return m.cfg.Comms.Components
}

func (m *Model) renderComms(w, h int) []string {
	s := m.sty
	l := &m.st.Life
	b := newBlock(w)
	// The incident.
	sev := s.Muted.S("no severity")
	if l.Severity != "" {
		sev = m.severityPaint(l.Severity).S(m.severityText(l.Severity))
	}
	st := s.Muted.S("not public yet")
	if l.Status != "" {
		st = s.Bold.S(l.Status) + s.Muted.S(" since "+m.clockTime(l.StatusAt))
	}
	b.add(" " + s.Bold.S("Incident") + "  " + sev + s.Muted.S(" · status ") + st)
	due, why := m.cadence()
	switch {
	case m.cfg.Comms == nil:
		b.add(" " + s.Muted.S("No update cadence: the war-room file has no comms section."))
	case due.IsZero() && l.PublicSince.IsZero():
		b.add(" " + s.Muted.S("The update cadence starts when the incident goes public (its first status, or the customer-impact mark)."))
	case due.IsZero():
		b.add(" " + s.Level[sevOK].S("✓ customers were told it is resolved: no update is due"))
	case !due.After(m.now):
		b.add(" " + s.badgeText(sevCrit, "UPDATE OVERDUE "+countdown(m.now.Sub(due))) + " " + s.Level[sevCrit].S(why) + s.Muted.S(" · "+m.reminderText()))
	default:
		b.add(" " + s.Muted.S("Next update due in ") + s.Bold.S(countdown(due.Sub(m.now))) + s.Muted.S(" (at "+m.clockTime(due)+"): "+why))
	}
	t := m.st.Times()
	mark := func(label string, at time.Time, how string) string {
		v := m.clockTime(at)
		if how == "marked" && !at.IsZero() {
			v += "*"
		}
		return s.Muted.S(label+" ") + s.Text.S(v)
	}
	b.add(" " + strings.Join([]string{mark("impact", t.Start, t.How["start"]), mark("detected", t.Detected, ""), mark("acked", t.Acked, ""),
		mark("mitigated", t.Mitigated, t.How["mitigated"]), mark("resolved", t.Resolved, t.How["resolved"]), mark("impact end", t.ImpactEnd, "marked")}, s.Muted.S(" · ")) +
		s.Muted.S("  (* marked)"))
	b.add(" " + s.Text.S(m.timesText(t, " · ")))
	b.add("")
	// Components.
	comps := m.components()
	if len(comps) > 0 {
		nw := 10
		for _, c := range comps {
			nw = max(nw, width(c.Name)+3+width(strings.Join(c.Services, ", ")))
		}
		nw = min(nw, w/2)
		b.add(" " + s.Bold.S(fit("Components", nw)) + "  " + s.Bold.S(fit("public", 22)) + " " + s.Bold.S("suggested by the alerts"))
		ids := make([]string, len(comps))
		for i, c := range comps {
			ids[i] = c.ID
		}
		sel := m.commsCur.at(ids)
		for i, c := range comps {
			cur := l.Component(c.ID)
			sug, sugWhy := m.st.SuggestComponent(c.Services)
			sugText := s.Muted.S("cannot tell: " + sugWhy)
			if sug != "" {
				p := s.Muted
				if sug != cur {
					p = s.Level[sevWarn]
				}
				sugText = p.S(incident.ComponentLabel(sug)) + s.Muted.S(" ("+sugWhy+")")
			}
			line := " " + fit(s.Text.S(textsafe.Line(c.Name))+s.Muted.S(" ("+strings.Join(c.Services, ", ")+")"), nw) + "  " +
				fit(componentPaint(s, cur).S(incident.ComponentLabel(cur)), 22) + " " + sugText
			if i == sel {
				line = s.selectLine(line, w)
			}
			b.add(line)
		}
		b.add("")
	}
	// The update waiting for approval.
	if p := l.Pending; p != nil {
		who := s.Muted.S("the commander or the deputy approves")
		if m.st.MayApproveUpdate(m.roster, m.me) == nil {
			who = s.Key.S("A") + s.Muted.S(" review and approve · ") + s.Key.S("x") + s.Muted.S(" reject")
		} else if p.By == m.me {
			who = s.Muted.S("waiting for the commander · ") + s.Key.S("x") + s.Muted.S(" withdraw")
		}
		b.add(" " + s.Level[sevWarn].S("⏳ Waiting for approval: ") + s.Bold.S(p.ID) + s.Muted.S(" by "+p.By+", "+incident.Age(m.now.Sub(p.DraftedAt))+" ago · ") + who)
		b.add("   " + s.Text.S("("+p.Draft.Status+") "+textsafe.Line(p.Draft.Title)+": "+textsafe.Line(firstLine(p.Draft.Body))))
		b.add("")
	}
	// Published updates, newest first.
	head := " " + s.Bold.S("Published updates") + s.Muted.S(fmt.Sprintf(" (%d) · newest first", len(l.Updates)))
	if u := m.o.StatusPageURL; u != "" {
		head += s.Muted.S(" · status page ") + s.Accent.S(textsafe.Line(u))
	}
	b.add(head)
	if len(l.Updates) == 0 {
		b.add(" " + s.Muted.S("none yet — w writes one from a template"))
	}
	sp := m.cfg.Comms != nil && m.cfg.Comms.Statuspage != nil
	for i := len(l.Updates) - 1; i >= 0 && !b.full(h-1); i-- {
		u := l.Updates[i]
		by := u.By
		if u.Approver != "" && u.Approver != u.By {
			by += "/" + u.Approver
		}
		where := s.Level[sevOK].S("page ✓")
		if sp {
			where += " " + deliveryText(s, u.Delivery["statuspage"])
		}
		b.add(" " + s.Muted.S(m.clockTime(u.PublishedAt)) + " " + s.Bold.S(u.ID) + " " + fit(s.Text.S(u.Draft.Status), 13) + " " +
			fit(s.Muted.S(by), 12) + " " + where + "  " + s.Text.S(textsafe.Line(firstLine(u.Draft.Body))))
	}
	lines := b.render(h - 1)
	return append(lines, fit(m.commsFoot(), w))
}

// reminderText names who the cadence reminds.
func (m *Model) reminderText() string {
	if m.st.Roles.Comms == "" {
		return "nobody holds comms: the commander (" + m.st.Roles.Commander + ") is reminded"
	}
	return "comms: " + m.st.Roles.Comms
}

func componentPaint(s *Styles, status string) paint {
	switch status {
	case incident.ComponentDegraded:
		return s.Level[sevWarn]
	case incident.ComponentPartial, incident.ComponentMajor:
		return s.Level[sevCrit]
	case incident.ComponentMaintenance:
		return s.Level[sevUnknown]
	}
	return s.Level[sevOK]
}

func deliveryText(s *Styles, d incident.Delivery) string {
	switch d.State {
	case incident.DeliveryDelivered:
		return s.Level[sevOK].S("statuspage ✓")
	case incident.DeliveryUncertain:
		return s.Level[sevWarn].S("statuspage ? checking")
	case incident.DeliveryFailed:
		return s.Level[sevCrit].S("statuspage ✗ " + textsafe.Clip(d.Error, 40))
	}
	return s.Muted.S("statuspage …")
}

func (m *Model) commsFoot() string {
	s := m.sty
	hint := func(k, what string, err error) string {
		if err != nil {
			return s.Disabled.S(k + " " + what)
		}
		return s.Key.S(k) + " " + s.Muted.S(what)
	}
	parts := []string{
		hint("w", "write an update", m.check(roles.ActPublish, "")),
		hint("s", "status", m.check(roles.ActStatus, "")),
		hint("v", "severity", m.check(roles.ActSeverity, "")),
		hint("m", "milestone", m.check(roles.ActMark, "")),
	}
	if len(m.components()) > 0 {
		parts = append(parts, hint("enter", "set component", m.check(roles.ActPublish, "")))
	}
	return " " + strings.Join(parts, s.Muted.S(" · "))
}

func (m *Model) commsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	comps := m.components()
	ids := make([]string, len(comps))
	for i, c := range comps {
		ids[i] = c.ID
	}
	switch {
	case key.Matches(msg, k.Up):
		m.commsCur.set(ids, max(m.commsCur.at(ids)-1, 0))
	case key.Matches(msg, k.Down):
		m.commsCur.set(ids, m.commsCur.at(ids)+1)
	case key.Matches(msg, k.Open):
		if i := m.commsCur.at(ids); i >= 0 {
			return m.startComponent(comps[i])
		}
	case key.Matches(msg, k.NewUpdate):
		return m.startUpdate()
	case key.Matches(msg, k.SetStatus):
		return m.startStatus()
	case key.Matches(msg, k.Severity):
		return m.startSeverity()
	case key.Matches(msg, k.Milestone):
		return m.startMilestone()
	case key.Matches(msg, k.Resolve):
		return m.declinePending()
	}
	return nil
}

// ---- actions -----------------------------------------------------------------

func (m *Model) startSeverity() tea.Cmd {
	if err := m.check(roles.ActSeverity, ""); err != nil {
		return m.refuse(err)
	}
	var items []choice
	for _, lv := range incident.SeverityLevels {
		reason := ""
		if m.st.Life.Severity == lv {
			reason = "the severity already"
		}
		items = append(items, choice{label: m.severityText(lv), value: lv, reason: reason})
	}
	m.openChooser("Set the incident's severity", items, func(m *Model, c choice) tea.Cmd {
		return m.send("set severity "+c.value, incident.SetSeverity{By: m.me, Severity: c.value})
	})
	return nil
}

func (m *Model) startStatus() tea.Cmd {
	if err := m.check(roles.ActStatus, ""); err != nil {
		return m.refuse(err)
	}
	var items []choice
	for _, st := range config.IncidentStatuses {
		reason := ""
		if m.st.Life.Status == st {
			reason = "the status already"
		}
		items = append(items, choice{label: st, value: st, reason: reason, hint: statusHint(st)})
	}
	m.openChooser("Set the incident's status (customers hear it from the next update)", items, func(m *Model, c choice) tea.Cmd {
		return m.send("set status "+c.value, incident.SetStatus{By: m.me, Status: c.value})
	})
	return nil
}

func statusHint(s string) string {
	switch s {
	case incident.StatusInvestigating:
		return "we know, we are looking"
	case incident.StatusIdentified:
		return "we know the cause"
	case incident.StatusMonitoring:
		return "a fix is in; watching"
	case incident.StatusResolved:
		return "it is over"
	}
	return ""
}

// startMilestone marks a milestone now, or at a time typed in the room's
// zone (HH:MM or HH:MM:SS, today or, when that is ahead, yesterday).
func (m *Model) startMilestone() tea.Cmd {
	if err := m.check(roles.ActMark, ""); err != nil {
		return m.refuse(err)
	}
	var items []choice
	for _, mk := range incident.Markers {
		hint := "not marked"
		if at, ok := m.st.Life.Marks[mk]; ok {
			hint = "marked " + m.clockTime(at)
		}
		items = append(items, choice{label: mk.Label(), value: string(mk), hint: hint})
	}
	m.openChooser("Mark a milestone", items, func(m *Model, c choice) tea.Cmd {
		mk := incident.Marker(c.value)
		return m.openInput(mk.Label()+" at (HH:MM, empty: now)", func(m *Model, text string) tea.Cmd {
			at, err := m.parseClock(strings.TrimSpace(text))
			if err != nil {
				return m.refuse(err)
			}
			return m.send("mark "+mk.Label(), incident.Mark{By: m.me, Marker: mk, At: at})
		})
	})
	return nil
}

// parseClock reads "HH:MM[:SS]" in the room's zone: today, or yesterday
// when today's is ahead of now. "" is now (zero).
func (m *Model) parseClock(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	var t time.Time
	var err error
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err = time.Parse(layout, s); err == nil {
			break
		}
	}
	if err != nil {
		return time.Time{}, roles.Refuse("write the time as HH:MM or HH:MM:SS (%s), or leave it empty for now", m.loc)
	}
	now := m.now.In(m.loc)
	at := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), t.Second(), 0, m.loc)
	if at.After(now) {
		at = at.AddDate(0, 0, -1)
	}
	return at, nil
}

func (m *Model) startComponent(c config.Component) tea.Cmd {
	if err := m.check(roles.ActPublish, ""); err != nil {
		return m.refuse(err)
	}
	cur := m.st.Life.Component(c.ID)
	sug, why := m.st.SuggestComponent(c.Services)
	var items []choice
	for _, st := range config.ComponentStatuses {
		ch := choice{label: incident.ComponentLabel(st), value: st}
		switch {
		case st == cur:
			ch.reason = "its status now"
		case st == sug:
			ch.hint = "suggested: " + why
		}
		items = append(items, ch)
	}
	// The suggestion first.
	slices.SortStableFunc(items, func(a, b choice) int {
		if a.value == sug && b.value != sug {
			return -1
		}
		if b.value == sug && a.value != sug {
			return 1
		}
		return 0
	})
	m.openChooser("Set "+textsafe.Line(c.Name)+" (public at once)", items, func(m *Model, ch choice) tea.Cmd {
		return m.send("set "+c.Name+" to "+incident.ComponentLabel(ch.value), incident.SetComponent{By: m.me, Component: c.ID, Status: ch.value})
	})
	return nil
}

// startUpdate picks a template, then opens the composer.
func (m *Model) startUpdate() tea.Cmd {
	if err := m.check(roles.ActPublish, ""); err != nil {
		return m.refuse(err)
	}
	var items []choice
	if m.cfg.Comms != nil {
		for _, t := range m.cfg.Comms.Templates {
			items = append(items, choice{label: textsafe.Line(t.Title) + " — " + t.Status, hint: t.ID, value: t.ID})
		}
	}
	items = append(items, choice{label: "a blank update", hint: "write it yourself", value: ""})
	m.openChooser("New public update from a template", items, func(m *Model, c choice) tea.Cmd {
		m.openDialog(m.newComposer(c.value))
		return nil
	})
	return nil
}

func (m *Model) declinePending() tea.Cmd {
	p := m.st.Life.Pending
	if p == nil {
		return m.refuse(errors.New("no update is waiting for approval"))
	}
	if p.By != m.me {
		if err := m.check(roles.ActApproveUpdate, ""); err != nil {
			return m.refuse(err)
		}
	}
	verb := "reject"
	if p.By == m.me {
		verb = "withdraw"
	}
	id := p.ID
	return m.openInput(verb+" "+id+": why (optional)", func(m *Model, text string) tea.Cmd {
		return m.send(verb+" "+id, incident.DeclineUpdate{By: m.me, ID: id, Reason: text})
	})
}

// mayApproveUpdate: an update waits and this person may approve it.
func (m *Model) mayApproveUpdate() bool {
	return m.st != nil && m.st.MayApproveUpdate(m.roster, m.me) == nil
}

// commsBanner is the line that tells an approver an update waits, and
// the person the cadence reminds that an update is overdue ("" when
// neither).
func (m *Model) commsBanner(w int) string {
	if m.st == nil {
		return ""
	}
	s := m.sty
	if p := m.st.Life.Pending; p != nil && m.mayApproveUpdate() {
		return s.BannerMine.S(fit(" ⚠ "+p.By+" asks to publish "+p.ID+" ("+p.Draft.Status+") \""+textsafe.Line(p.Draft.Title)+"\" — press A to review", w))
	}
	if due, _ := m.cadence(); !due.IsZero() && !due.After(m.now) && m.me == m.st.Reminded() {
		return s.Badge[sevCrit].S(fit(" ⚠ The public update is overdue by "+countdown(m.now.Sub(due))+" — 7 then u drafts one", w))
	}
	return ""
}

// ---- the composer ---------------------------------------------------------------

// composer is the draft of a public update, shown exactly as it will be
// published, with its destinations and whether it waits for approval.
type composer struct {
	d     incident.Draft
	field int // 0 title, 1 status, 2 notify, 3… components, last text
}

func (m *Model) newComposer(template string) *composer {
	c := &composer{}
	c.d.Status = incident.StatusInvestigating
	if last := m.st.Life.Published(); last != nil {
		c.d.Title, c.d.Status = last.Draft.Title, last.Draft.Status
	}
	if t := m.cfg.Comms.TemplateByID(template); t != nil {
		c.d.Title, c.d.Status, c.d.Body, c.d.Template = t.Title, t.Status, strings.TrimSpace(t.Body), t.ID
	}
	c.d.Notify = m.cfg.Comms == nil || m.cfg.Comms.Statuspage.NotifyDefault()
	return c
}

func (c *composer) fields(m *Model) int { return 4 + len(m.components()) }

// change returns the status the draft sets for a component ("" unchanged).
func (c *composer) change(id string) string {
	for _, ch := range c.d.Components {
		if ch.ID == id {
			return ch.Status
		}
	}
	return ""
}

func (c *composer) setChange(id, status string) {
	c.d.Components = slices.DeleteFunc(c.d.Components, func(ch incident.ComponentChange) bool { return ch.ID == id })
	if status != "" {
		c.d.Components = append(c.d.Components, incident.ComponentChange{ID: id, Status: status})
	}
}

func cycle(list []string, cur string, d int) string {
	i := slices.Index(list, cur)
	return list[(i+d+len(list)+1)%(len(list)+1)%len(list)]
}

func (c *composer) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	n := c.fields(m)
	comps := m.components()
	switch {
	case key.Matches(msg, k.Back):
		m.closeOverlay()
		m.setToast(toastInfo, "update discarded: nothing was published")
		return nil
	case msg.String() == "tab" || key.Matches(msg, k.Down):
		c.field = (c.field + 1) % n
	case msg.String() == "shift+tab" || key.Matches(msg, k.Up):
		c.field = (c.field + n - 1) % n
	case key.Matches(msg, k.Left, k.Right):
		d := 1
		if key.Matches(msg, k.Left) {
			d = -1
		}
		switch {
		case c.field == 1:
			c.d.Status = cycle(config.IncidentStatuses, c.d.Status, d)
		case c.field == 2:
			c.d.Notify = !c.d.Notify
		case c.field >= 3 && c.field < 3+len(comps):
			opts := append([]string{""}, config.ComponentStatuses...)
			id := comps[c.field-3].ID
			i := slices.Index(opts, c.change(id))
			c.setChange(id, opts[(i+d+len(opts))%len(opts)])
		}
	case msg.String() == "e" || (key.Matches(msg, k.Open) && (c.field == 0 || c.field == n-1)):
		return c.edit(m)
	case key.Matches(msg, k.Open):
		return c.submit(m)
	}
	return nil
}

func (c *composer) paste(*Model, tea.PasteMsg) {}

// paraMark shows a line break in the one-line editor.
const paraMark = " ¶ "

func (c *composer) edit(m *Model) tea.Cmd {
	n := c.fields(m)
	if c.field != 0 && c.field != n-1 {
		c.field = n - 1
	}
	if c.field == 0 {
		m.openInput("title", func(m *Model, text string) tea.Cmd {
			c.d.Title = strings.TrimSpace(text)
			m.openDialog(c)
			return nil
		})
		m.input.SetValue(c.d.Title)
		m.input.CharLimit = config.MaxTitle
		return nil
	}
	m.openInput("text (¶ = new line)", func(m *Model, text string) tea.Cmd {
		text = strings.ReplaceAll(text, strings.TrimSpace(paraMark), "\n")
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		c.d.Body = strings.Join(lines, "\n")
		m.openDialog(c)
		return nil
	})
	m.input.SetValue(strings.ReplaceAll(c.d.Body, "\n", paraMark))
	m.input.CharLimit = config.MaxBody
	return nil
}

func (c *composer) submit(m *Model) tea.Cmd {
	if msg := config.CheckTitle(c.d.Title); msg != "" {
		return m.refuse(errors.New("the title: " + msg + " (e edits it)"))
	}
	if msg := config.CheckBody(c.d.Body); msg != "" {
		return m.refuse(errors.New("the text: " + msg + " (e edits it)"))
	}
	d := c.d
	label := "publish update"
	if m.st.ApprovalNeeded(m.cfg, m.me, d) != "" {
		label = "ask for approval"
	}
	m.closeOverlay()
	return m.send(label, incident.SubmitUpdate{By: m.me, Draft: d})
}

// preview is the draft as it will be published, and where.
func (m *Model) preview(d incident.Draft, inner int, focus int, editing bool) []string {
	s := m.sty
	var c []string
	row := func(i int, label, value string) {
		line := " " + s.Muted.S(fit(label, 10)) + value
		if editing && focus == i {
			line = s.selectLine(line, inner)
		}
		c = append(c, line)
	}
	row(0, "Title", s.Bold.S(textsafe.Line(d.Title)))
	row(1, "Status", s.Text.S("‹ "+d.Status+" ›")+s.Muted.S("  "+statusHint(d.Status)))
	notify := s.Text.S("yes") + s.Muted.S(": subscribers are told")
	if !d.Notify {
		notify = s.Text.S("no") + s.Muted.S(": on the page only, nobody is notified")
	}
	row(2, "Notify", notify)
	for i, comp := range m.components() {
		cur := m.st.Life.Component(comp.ID)
		v := s.Muted.S("unchanged (" + incident.ComponentLabel(cur) + ")")
		for _, ch := range d.Components {
			if ch.ID == comp.ID {
				v = componentPaint(s, ch.Status).S(incident.ComponentLabel(ch.Status))
				if ch.Status != cur {
					v += s.Muted.S(" (now " + incident.ComponentLabel(cur) + ")")
				}
			}
		}
		if sug, why := m.st.SuggestComponent(comp.Services); sug != "" && sug != cur {
			v += s.Muted.S(" · suggested " + incident.ComponentLabel(sug) + ": " + why)
		}
		row(3+i, trunc(textsafe.Line(comp.Name), 9), v)
	}
	text := 3 + len(m.components())
	row(text, "Text", "")
	body := textsafe.Text(d.Body)
	if strings.TrimSpace(body) == "" {
		body = "(empty: e writes it)"
	}
	for _, para := range strings.Split(body, "\n") {
		for _, wl := range wrapLines(para, inner-4, 0) {
			c = append(c, "   "+s.Text.S(wl))
		}
	}
	c = append(c, s.Subtle.S(strings.Repeat("─", inner)))
	dest := "the room's status page"
	if u := m.o.StatusPageURL; u != "" {
		dest += " (" + textsafe.Line(u) + ")"
	}
	if m.cfg.Slack != nil {
		dest += " · Slack (" + m.cfg.Slack.Channel + ")"
	}
	if m.cfg.Comms != nil && m.cfg.Comms.Statuspage != nil {
		n := "notify on"
		if !d.Notify {
			n = "notify off"
		}
		dest += " · Statuspage (page " + m.cfg.Comms.Statuspage.PageID + ", " + n + ")"
	}
	for _, wl := range wrapLines("Goes to: "+dest, inner, 0) {
		c = append(c, s.Muted.S(wl))
	}
	return c
}

func (c *composer) render(m *Model, w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 30, 96)
	inner := bw - 4
	lines := m.preview(c.d, inner, c.field, true)
	if why := m.st.ApprovalNeeded(m.cfg, m.me, c.d); why != "" {
		lines = append(lines, s.Level[sevWarn].S(trunc("Waits for the commander's approval: "+why, inner)))
	} else {
		lines = append(lines, s.Level[sevOK].S(trunc("Publishes at once when you press enter.", inner)))
	}
	if len(lines) > h-2 {
		lines = lines[:max(h-2, 1)]
	}
	return m.dialogBox("New public update: exactly what will be published", "↑↓ field · ←→ change · e edit · enter publish · esc discard", lines, bw)
}

// ---- approving an update ------------------------------------------------------

// updateReview shows the update waiting for approval, exactly as it will
// be published; approving binds to what was shown (its hash).
type updateReview struct {
	id, hash string
}

func (m *Model) openUpdateReview() tea.Cmd {
	p := m.st.Life.Pending
	if err := m.st.MayApproveUpdate(m.roster, m.me); err != nil {
		return m.refuse(err)
	}
	m.openDialog(&updateReview{id: p.ID, hash: p.Hash})
	return nil
}

func (r *updateReview) key(m *Model, msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	p := m.st.Life.Pending
	switch {
	case key.Matches(msg, k.Back):
		m.closeOverlay()
		return nil
	case p == nil || p.ID != r.id:
		m.closeOverlay()
		m.setToast(toastInfo, r.id+" is no longer waiting")
		return nil
	case key.Matches(msg, k.Accept, k.Open):
		m.closeOverlay()
		return m.send("approve "+r.id, incident.ApproveUpdate{By: m.me, ID: r.id, Hash: r.hash})
	case key.Matches(msg, k.Resolve):
		m.closeOverlay()
		return m.declinePending()
	}
	return nil
}

func (r *updateReview) paste(*Model, tea.PasteMsg) {}

func (r *updateReview) render(m *Model, w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 30, 96)
	inner := bw - 4
	p := m.st.Life.Pending
	if p == nil || p.ID != r.id {
		return m.dialogBox("Approve "+r.id+"?", "esc close", []string{s.Muted.S(r.id + " is no longer waiting")}, bw)
	}
	lines := []string{s.Text.S(trunc(p.By+" wrote it "+incident.Age(m.now.Sub(p.DraftedAt))+" ago; "+m.st.ApprovalNeeded(m.cfg, p.By, p.Draft)+".", inner)),
		s.Subtle.S(strings.Repeat("─", inner))}
	lines = append(lines, m.preview(p.Draft, inner, -1, false)...)
	if p.Hash != r.hash {
		lines = append(lines, s.Level[sevCrit].S("It changed since this opened: close and look again."))
	}
	if len(lines) > h-2 {
		lines = lines[:max(h-2, 1)]
	}
	return m.dialogBox("Approve "+p.ID+" for publication?", "A/enter approve and publish · x reject · esc close", lines, bw)
}

// commsActions are the palette's incident and public-update actions.
func (m *Model) commsActions(add func(title, key string, err error, run func(m *Model) tea.Cmd)) {
	k := m.keys
	inComms := func(f func(m *Model) tea.Cmd) func(m *Model) tea.Cmd {
		return func(m *Model) tea.Cmd {
			if m.commsOn() {
				m.setView(viewComms)
			}
			return f(m)
		}
	}
	if m.commsOn() {
		add("Go to comms: status, components, public updates", k.Comms.Help().Key, nil, func(m *Model) tea.Cmd { m.setView(viewComms); return nil })
	}
	add("Write a public update (from a template)", k.NewUpdate.Help().Key, m.check(roles.ActPublish, ""), inComms((*Model).startUpdate))
	if p := m.st; p != nil && p.Life.Pending != nil {
		err := m.st.MayApproveUpdate(m.roster, m.me)
		add("Review and approve public update "+p.Life.Pending.ID+" by "+p.Life.Pending.By, k.Accept.Help().Key, err, inComms((*Model).openUpdateReview))
	}
	add("Set the incident's severity (SEV1–SEV4)", k.Severity.Help().Key, m.check(roles.ActSeverity, ""), inComms((*Model).startSeverity))
	add("Set the incident's status (investigating … resolved)", k.SetStatus.Help().Key, m.check(roles.ActStatus, ""), inComms((*Model).startStatus))
	add("Mark a milestone: customer impact started or ended, mitigated, resolved", k.Milestone.Help().Key, m.check(roles.ActMark, ""), inComms((*Model).startMilestone))
	add("Mark the selected timeline note as a follow-up", k.FollowUp.Help().Key, m.check(roles.ActFollowUp, ""), func(m *Model) tea.Cmd {
		m.setView(viewTimeline)
		return m.toggleFollowUp(m.selectedEvent())
	})
}
