package export

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// The Markdown and HTML exports render the same document: a list of
// blocks built once from the report. User text stays plain text in the
// blocks; each renderer escapes it for its own syntax.

type span struct {
	text   string
	strong bool
	em     bool
}

type block interface{ isBlock() }

type heading struct {
	level int
	text  string
	id    string
}

type para struct{ spans []span }

// todo is a placeholder for the postmortem author.
type todo struct{ text string }

type list struct{ items [][]span }

type table struct {
	head []string
	rows [][]string
	// mark flags rows of important events.
	mark []bool
	// markCol is the column that holds the ★ (-1: none).
	markCol int
}

type figure struct {
	chart *Chart
}

// chartsNote says why charts are not linked (Markdown on stdout).
type chartsNote struct{}

// quote is text quoted as it was published, line by line.
type quote struct{ lines []string }

// code is machine text (a run's output) shown as it is.
type code struct{ text string }

func (heading) isBlock()    {}
func (para) isBlock()       {}
func (todo) isBlock()       {}
func (list) isBlock()       {}
func (*table) isBlock()     {}
func (figure) isBlock()     {}
func (chartsNote) isBlock() {}
func (quote) isBlock()      {}
func (code) isBlock()       {}

func txt(s string) span    { return span{text: s} }
func strong(s string) span { return span{text: s, strong: true} }
func em(s string) span     { return span{text: s, em: true} }

// document builds the postmortem once; Markdown and HTML render it.
func (r *Report) document() []block {
	if r.doc == nil {
		r.doc = r.buildDocument()
	}
	return r.doc
}

func (r *Report) buildDocument() []block {
	c := r.timefmt()
	var d []block
	add := func(b ...block) { d = append(d, b...) }

	add(heading{1, "Postmortem: " + r.Name, "postmortem"})
	var head [][]span
	line := func(label string, value ...span) {
		head = append(head, append([]span{strong(label + ":"), txt(" ")}, value...))
	}
	declared := fullUTC(r.DeclaredAt)
	if r.loc != nil {
		declared += " — " + fullLocal(r.DeclaredAt, r.loc)
	}
	if r.DeclaredBy != "" {
		declared += " by " + r.DeclaredBy
	}
	line("Declared", txt(declared))
	if r.Launch != nil {
		l := fullUTC(*r.Launch)
		if r.loc != nil {
			l += " — " + fullLocal(*r.Launch, r.loc)
		}
		line("Launch (T-0)", txt(l))
	}
	last := fullUTC(r.LastAt)
	if r.loc != nil {
		last += " — " + fullLocal(r.LastAt, r.loc)
	}
	line("Last event", txt(fmt.Sprintf("%s (#%d)", last, r.LastSeq)))
	r.headerLines(c, line)
	line("Span", txt(dur(r.LastAt.Sub(r.DeclaredAt))+" from the declaration to the last event"))
	if r.loc != nil {
		line("Times", txt("tables show UTC and "+r.Zone+" local time"))
	} else {
		line("Times", txt("UTC (the journal does not say which time zone the war room used)"))
	}
	if c.multiDay {
		head[len(head)-1] = append(head[len(head)-1], txt("; the incident spans more than one day, so every time carries its date"))
	}
	src := fmt.Sprintf("journal events #%d–#%d", r.FirstSeq, r.LastSeq)
	if f := r.filterText(); f != "" {
		src += "; filtered: " + f + " (durations are computed from the whole journal)"
	}
	line("Source", txt(src))
	add(list{head})
	if r.Simulated {
		add(para{[]span{strong("Simulated run:"), txt(" this war room ran against the simulator; the figures are not real.")}})
	}

	add(heading{2, "Summary", "summary"},
		todo{"What happened, in two or three sentences: the trigger, the effect on users, and how it was resolved."})
	r.keySection(c, add)
	r.customersSection(c, add)

	add(heading{2, "Impact", "impact"},
		todo{"Who was affected, how, and for how long (users, failed requests, money). The figures below are what the war room's panes recorded."})
	r.timesSection(c, add)
	add(heading{3, "Peak values", "peaks"})
	add(para{[]span{txt("From " + c.Both(r.PeaksFrom) + ", the start of the incident: samples before it (history a source backfilled) are drawn on the charts but not counted here.")}})
	if len(r.Panes) == 0 {
		add(para{[]span{em("No samples in the journal for this export.")}})
	} else {
		t := &table{head: []string{"Service", "Pane", "Peak", "At (UTC)", "Range", "Last", "Samples", "No data"}, markCol: -1}
		if r.loc != nil {
			t.head = []string{"Service", "Pane", "Peak", "At (UTC)", "At (" + r.Zone + ")", "Range", "Last", "Samples", "No data"}
		}
		for _, p := range r.Panes {
			u := p.Info.Unit
			title := paneTitle(p.Info)
			peak, at, local, rng, lastV := "—", "—", "—", "—", "—"
			if p.Values > 0 {
				peak = incident.FormatValue(p.Peak, u)
				if p.Info.Direction == "below" {
					peak += " (low)"
				}
				at, local = c.UTC(p.PeakAt), c.Local(p.PeakAt)
				rng = incident.FormatValue(p.Min, u) + " – " + incident.FormatValue(p.Max, u)
				lastV = incident.FormatValue(p.Last, u)
			}
			row := []string{r.ServiceName(p.Service), title, peak, at}
			if r.loc != nil {
				row = append(row, local)
			}
			row = append(row, rng, lastV, strconv.Itoa(p.Values+p.NoData), strconv.Itoa(p.NoData))
			t.rows = append(t.rows, row)
		}
		add(t)
	}
	add(heading{3, "Charts", "charts"})
	charts := r.Charts()
	if len(charts) == 0 {
		add(para{[]span{em("No charts: no pane has values in this export.")}})
	} else {
		add(para{[]span{txt("Each service's main pane, and every other pane that alerted, over the incident (times in UTC). Bars above the plot are alerts (red crit, orange warn, grey STALE, purple NO DATA); blue bands are mitigation runs while they applied a change (grey when the run failed, was rolled back or cancelled; runs that never ran are not drawn); dashed lines are the warn and crit thresholds and, in green, the clear level an alert must recover past where the pane declares one.")}})
		add(chartsNote{})
		for i := range charts {
			add(figure{&charts[i]})
		}
	}

	r.rolesSection(c, add)
	r.timelineSection(c, add)
	r.alertsSection(c, add)
	r.runsSection(c, add)

	add(heading{2, "Lessons", "lessons"},
		heading{3, "What went well", "went-well"}, todo{"What helped: detection, tooling, people, playbooks."},
		heading{3, "What went wrong", "went-wrong"}, todo{"What hurt or slowed the response."},
		heading{3, "Where we got lucky", "lucky"}, todo{"What could have been worse."})
	r.actionItems(add)
	return d
}

func paneTitle(p PaneInfo) string {
	t := p.ID
	if p.Title != "" && p.Title != p.ID {
		t = p.Title + " (" + p.ID + ")"
	}
	return t
}

func (r *Report) rolesSection(c timefmt, add func(...block)) {
	add(heading{2, "Roles and handoffs", "roles"})
	add(heading{3, "Command", "command"})
	if len(r.Command) == 0 {
		add(para{[]span{em("The journal has no declaration, so who held command is unknown.")}})
	} else {
		t := &table{head: []string{"Commander", "From (UTC)", "To (UTC)", "Held for"}, markCol: -1}
		for _, s := range r.Command {
			to := c.UTC(s.To)
			if s.Current {
				to += " (last event)"
			}
			t.rows = append(t.rows, []string{r.Person(s.Commander), c.UTC(s.From), to, dur(s.To.Sub(s.From))})
		}
		add(t)
	}
	add(heading{3, "Who held which role", "holders"})
	t := &table{head: []string{"Role", "At the declaration", "At the last event"}, markCol: -1}
	for _, role := range roles.IncidentRoles {
		t.rows = append(t.rows, []string{string(role), r.Person(r.Setup.Holder(role, "")), r.Person(r.Final.Holder(role, ""))})
	}
	for _, s := range r.serviceIDs() {
		if r.Filter.Service != "" && s != r.Filter.Service {
			continue
		}
		for _, role := range []roles.Role{roles.Owner, roles.Backup} {
			t.rows = append(t.rows, []string{string(role) + " of " + s, r.Person(r.Setup.Holder(role, s)), r.Person(r.Final.Holder(role, s))})
		}
	}
	add(t)
	if o := r.Final.Offer; o != nil {
		add(para{[]span{strong("Pending offer:"), txt(fmt.Sprintf(" %s offered command to %s (#%d) and had no answer by the last event.", r.Person(o.From), r.Person(o.To), o.Seq))}})
	}
	add(heading{3, "Handoffs and role changes", "handoffs"})
	if len(r.Handoffs) == 0 {
		add(para{[]span{em("None.")}})
		return
	}
	h := &table{head: r.timeHead("#"), markCol: -1}
	h.head = append(h.head, "Kind", "By", "What", "Answered after")
	for _, e := range r.Handoffs {
		answered := ""
		if e.Kind == incident.KindAccept || e.Kind == incident.KindDecline {
			if at, ok := r.eventAt[e.Ref]; ok {
				answered = dur(e.Time.Sub(at))
			}
		}
		row := r.timeCells(c, e)
		row = append(row, string(e.Kind), e.Actor, e.Text, answered)
		h.rows = append(h.rows, row)
	}
	add(h)
}

// noBackupText names the services that had no backup at the declaration
// (and any that lost theirs): their alerts go from the owner straight to
// the commander.
func (r *Report) noBackupText() string {
	var none []string
	for _, id := range r.serviceIDs() {
		if r.Setup.Services[id].Backup == "" || r.Final.Services[id].Backup == "" {
			none = append(none, r.ServiceName(id))
		}
	}
	switch len(none) {
	case 0:
		return " Every service had a backup."
	case 1:
		return " " + none[0] + " had no backup: its alerts went from the owner straight to the commander."
	}
	return " " + strings.Join(none[:len(none)-1], ", ") + " and " + none[len(none)-1] + " had no backup: their alerts went from the owner straight to the commander."
}

// serviceIDs lists the services that have owners, in report order.
func (r *Report) serviceIDs() []string {
	var out []string
	for _, s := range r.Services {
		_, a := r.Setup.Services[s.ID]
		_, b := r.Final.Services[s.ID]
		if a || b {
			out = append(out, s.ID)
		}
	}
	return out
}

// timeHead is the head of a table that starts with seq and time columns.
func (r *Report) timeHead(first string) []string {
	h := []string{first, "Time (UTC)"}
	if r.loc != nil {
		h = append(h, "Time ("+r.Zone+")")
	}
	return h
}

func (r *Report) timeCells(c timefmt, e incident.Event) []string {
	row := []string{"#" + strconv.FormatInt(e.Seq, 10), c.UTC(e.Time)}
	if r.loc != nil {
		row = append(row, c.Local(e.Time))
	}
	return row
}

func (r *Report) timelineSection(c timefmt, add func(...block)) {
	add(heading{2, "Timeline", "timeline"})
	n := 0
	for _, e := range r.Events {
		if r.important[e.Seq] {
			n++
		}
	}
	switch n {
	case 0:
		add(para{[]span{txt(fmt.Sprintf("%d events; none was marked important.", len(r.Events)))}})
	case 1:
		add(para{[]span{txt(fmt.Sprintf("%d events; ★ marks the one marked important.", len(r.Events)))}})
	default:
		add(para{[]span{txt(fmt.Sprintf("%d events; ★ marks the %d marked important.", len(r.Events), n))}})
	}
	if len(r.Events) == 0 {
		return
	}
	t := &table{head: append([]string{"★"}, r.timeHead("#")...), markCol: 0}
	t.head = append(t.head, "Service", "Kind", "Actor", "Text")
	t.rows = make([][]string, 0, len(r.Events))
	t.mark = make([]bool, 0, len(r.Events))
	for _, e := range r.Events {
		imp := r.important[e.Seq]
		star := ""
		if imp {
			star = "★"
		}
		row := make([]string, 0, len(t.head))
		row = append(row, star)
		row = append(row, r.timeCells(c, e)...)
		row = append(row, serviceOr(e.Service), string(e.Kind), e.Actor, e.Text)
		t.rows = append(t.rows, row)
		t.mark = append(t.mark, imp)
	}
	add(t)
}

func (r *Report) alertsSection(c timefmt, add func(...block)) {
	add(heading{2, "Alerts", "alerts"})
	add(para{[]span{strong("How these are measured."),
		txt(" Time to ack runs from the firing to the first acknowledgement. An upgrade to crit clears an ack; the wait from the upgrade to the next ack is shown as a re-ack beside the time to ack and is not part of the means. Time to resolve runs from the firing to the resolution. An alert that resolves and fires again counts as two alerts. Means are over the alerts listed here: time to ack over those acked, time to resolve over those resolved. Escalations show how long the alert had waited for an ack: since the firing, or since the upgrade to crit that cleared an ack.")}})
	if p := policySummary(r.Escalation); p != "" {
		add(para{[]span{strong("Escalation policy."), txt(p + r.noBackupText())}})
	}
	if len(r.Alerts) == 0 {
		add(para{[]span{em("No alerts.")}})
		return
	}
	t := &table{head: []string{"Alert", "Service", "Pane", "Fired (UTC)"}, markCol: -1}
	if r.loc != nil {
		t.head = append(t.head, "Fired ("+r.Zone+")")
	}
	t.head = append(t.head, "Levels", "Acked by", "Time to ack", "Resolved by", "Time to resolve", "Escalated to", "What fired")
	for _, a := range r.Alerts {
		by, tta := ackSummary(c, a)
		rby, ttr := resolveSummary(a, r.LastAt)
		row := []string{a.ID, serviceOr(a.Service), a.Pane, c.UTC(a.FiredAt)}
		if r.loc != nil {
			row = append(row, c.Local(a.FiredAt))
		}
		row = append(row, alertLevels(a), by, tta, rby, ttr, escalationSummary(c, a), a.Text)
		t.rows = append(t.rows, row)
	}
	add(t)
	add(heading{3, "Means per service", "alert-means"})
	s := &table{head: []string{"Service", "Alerts", "Acked", "Mean time to ack", "Re-acks", "Resolved", "Mean time to resolve", "Escalated"}, markCol: -1}
	for _, st := range r.Stats {
		name := serviceOr(st.Service)
		if st.Service == "*" {
			name = "All services"
		}
		s.rows = append(s.rows, []string{name, strconv.Itoa(st.Alerts), strconv.Itoa(st.Acked), mean(st.Acked, st.MeanTTA),
			strconv.Itoa(st.Reacks), strconv.Itoa(st.Resolved), mean(st.Resolved, st.MeanTTR), strconv.Itoa(st.Escalated)})
	}
	add(s)
}

func (r *Report) runsSection(c timefmt, add func(...block)) {
	add(heading{2, "Mitigations", "mitigations"})
	if len(r.Runs) == 0 {
		add(para{[]span{em("No playbook runs.")}})
		return
	}
	t := &table{head: []string{"Run", "Playbook", "Service", "Requested by", "Requested (UTC)", "Approved by", "Outcome", "Duration"}, markCol: -1}
	for _, run := range r.Runs {
		appr := "—"
		if len(run.Approvals) > 0 {
			var by []string
			for _, a := range run.Approvals {
				if a.By == run.RequestedBy && a.At.Equal(run.RequestedAt) {
					by = append(by, "not needed")
				} else {
					by = append(by, a.By)
				}
			}
			appr = strings.Join(by, ", ")
		}
		t.rows = append(t.rows, []string{run.ID, run.Playbook, serviceOr(run.Service), run.RequestedBy, c.UTC(run.RequestedAt),
			appr, runOutcome(run), dur(run.Duration())})
	}
	add(t)
	for _, run := range r.Runs {
		add(heading{3, run.ID + ": " + run.Playbook + " (" + serviceOr(run.Service) + ")", "run-" + slug(run.ID)})
		var items [][]span
		item := func(label string, v ...span) {
			items = append(items, append([]span{strong(label + ":"), txt(" ")}, v...))
		}
		item("Requested", txt(fmt.Sprintf("by %s at %s (#%d)", run.RequestedBy, c.Both(run.RequestedAt), run.Seq)))
		if p := params(run.Params); len(p) > 0 {
			item("Parameters", txt(strings.Join(p, ", ")))
		} else {
			item("Parameters", txt("none recorded"))
		}
		if run.Hash != "" {
			item("Parameter hash", txt(run.Hash))
		}
		item("Approval", txt(runApproval(c, run)))
		outcome := fmt.Sprintf(" at %s, %s after the request", c.Both(run.EndedAt), dur(run.Duration()))
		if !run.Done {
			outcome = fmt.Sprintf(" (not finished: last transition at %s, %s after the request)", c.Both(run.EndedAt), dur(run.Duration()))
		}
		item("Outcome", strong(string(run.Outcome)), txt(outcome))
		if run.Error != "" {
			item("Error", txt(run.Error))
		}
		if run.Output != "" {
			item("Output", txt("the last step's output, below"))
		}
		add(list{items})
		if run.Output != "" {
			add(code{run.Output})
		}
		st := &table{head: r.timeHead("#"), markCol: -1}
		st.head = append(st.head, "State", "Step", "Actor", "Detail")
		for _, s := range run.Steps {
			row := r.timeCells(c, incident.Event{Seq: s.Seq, Time: s.At})
			detail := s.Text
			if s.Error != "" {
				detail += " — error: " + s.Error
			}
			row = append(row, string(s.State), s.Step, s.Actor, detail)
			st.rows = append(st.rows, row)
		}
		add(st)
	}
}

// slug makes a safe file or anchor name part: letters, digits, - _ .
func slug(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r + ('a' - 'A'))
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
