package tui

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// recordKind is what the record view shows in full.
type recordKind int

const (
	recEvent recordKind = iota // one timeline event
	recAlert                   // an alert and its life
	recRun                     // a playbook run, its plan and its steps
)

// record is the record view's subject and scroll position.
type record struct {
	kind recordKind
	seq  int64  // recEvent
	id   string // recAlert, recRun
	top  int
}

func (m *Model) openRecord(r record) {
	m.rec = r
	m.setView(viewRecord)
}

func (m *Model) recordKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	n := len(m.recordLines(m.layout().w))
	page := max(m.layout().bodyH-2, 1)
	switch {
	case key.Matches(msg, k.Back):
		m.setView(m.back)
	case key.Matches(msg, k.Up):
		m.rec.top--
	case key.Matches(msg, k.Down):
		m.rec.top++
	case key.Matches(msg, k.PageUp):
		m.rec.top -= page
	case key.Matches(msg, k.PageDown), msg.String() == "space":
		m.rec.top += page
	case key.Matches(msg, k.Top):
		m.rec.top = 0
	case key.Matches(msg, k.Bottom):
		m.rec.top = n
	case key.Matches(msg, k.Service):
		if svc := m.recordService(); svc != "" {
			m.openDetail(svc)
		}
	}
	m.rec.top = clamp(m.rec.top, 0, max(n-page, 0))
	return nil
}

// recordService is the service the record is about.
func (m *Model) recordService() string {
	switch m.rec.kind {
	case recAlert:
		if a := m.st.Alerts[m.rec.id]; a != nil {
			return a.Service
		}
	case recRun:
		if r := m.st.Runs[m.rec.id]; r != nil {
			return r.Service
		}
	default:
		if e := m.eventBySeq(m.rec.seq); e != nil {
			return e.Service
		}
	}
	return ""
}

func (m *Model) eventBySeq(seq int64) *incident.Event {
	rec := m.st.Recent
	i := sort.Search(len(rec), func(i int) bool { return rec[i].Seq >= seq })
	if i < len(rec) && rec[i].Seq == seq {
		return &rec[i]
	}
	return nil
}

// urlPattern finds links in free text (alert texts, notes, step output).
var urlPattern = regexp.MustCompile(`https?://[^\s<>"'()]+`)

// recordBuilder lays out a record: labelled fields and wrapped text.
type recordBuilder struct {
	m     *Model
	w     int
	lines []string
	links []string
}

func (b *recordBuilder) add(s string) { b.lines = append(b.lines, s) }

func (b *recordBuilder) blank() {
	if n := len(b.lines); n > 0 && b.lines[n-1] != "" {
		b.add("")
	}
}

func (b *recordBuilder) heading(s string) {
	b.blank()
	b.add(b.m.sty.Bold.S(s))
}

// field is "label  value", the value wrapped under itself.
func (b *recordBuilder) field(label, value string) {
	if value == "" {
		return
	}
	const lw = 12
	s := b.m.sty
	for i, l := range wrapLines(textsafe.Line(value), max(b.w-lw-3, 10), 0) {
		lab := ""
		if i == 0 {
			lab = label
		}
		b.add(" " + s.Muted.S(fit(lab, lw)) + " " + s.Text.S(l))
	}
	b.collect(value)
}

// text is free text (a note, an alert, step output), line breaks kept,
// each line wrapped, indented.
func (b *recordBuilder) text(t string, p paint) {
	for _, para := range strings.Split(textsafe.Text(t), "\n") {
		for _, l := range wrapLines(para, max(b.w-4, 10), 0) {
			b.add("   " + p.S(l))
		}
	}
	b.collect(t)
}

func (b *recordBuilder) collect(t string) {
	for _, u := range urlPattern.FindAllString(t, 20) {
		if !slices.Contains(b.links, u) {
			b.links = append(b.links, u)
		}
	}
}

// recordLines renders the record for width w (styled; plain for copying
// via ansi.Strip).
func (m *Model) recordLines(w int) []string {
	if m.st == nil {
		return nil
	}
	b := &recordBuilder{m: m, w: w}
	switch m.rec.kind {
	case recAlert:
		m.alertRecord(b)
	case recRun:
		m.runRecord(b)
	default:
		m.eventRecord(b)
	}
	if len(b.links) > 0 {
		b.heading("Links")
		for _, u := range b.links {
			b.add("   " + m.sty.Accent.S(textsafe.Line(u)))
		}
	}
	return b.lines
}

func (m *Model) stamp(e *incident.Event) string {
	t := e.Time
	return t.In(m.loc).Format("15:04:05 MST") + " (" + t.UTC().Format("15:04:05") + " UTC, " + incident.Age(m.now.Sub(t)) + " ago)"
}

func (m *Model) eventLine(e *incident.Event) string {
	return "#" + itoa(int(e.Seq)) + " " + e.Time.In(m.loc).Format("15:04:05") + " " + string(e.Kind) + " " + nameOr(e.Actor, "-") + ": " + textsafe.Line(e.Text)
}

func (m *Model) eventRecord(b *recordBuilder) {
	s := m.sty
	e := m.eventBySeq(m.rec.seq)
	if e == nil {
		b.add(s.Muted.S("event #" + itoa(int(m.rec.seq)) + " is no longer in this dashboard's memory; the export has every event"))
		return
	}
	b.add(m.kindPaint(e).S(string(e.Kind)) + s.Bold.S(" #"+itoa(int(e.Seq))) + s.Muted.S(" · "+m.stamp(e)))
	b.field("by", m.person(e.Actor))
	if e.Service != "" {
		b.field("service", m.serviceName(e.Service))
	}
	if m.st.Important[e.Seq] {
		b.field("marked", "important")
	}
	b.heading("Text")
	b.text(e.Text, s.Text)
	if a := e.Alert; a != nil {
		b.heading("Alert " + a.ID)
		b.field("level", string(a.Level))
		if a.Origin == "rule" && (a.Value != 0 || a.Threshold != 0) {
			b.field("value", incident.FormatValue(a.Value, a.Unit)+" (threshold "+incident.FormatValue(a.Threshold, a.Unit)+")")
		}
		b.field("origin", a.Origin)
		b.field("key", a.Key)
		b.field("paged", a.To)
		b.add(" " + s.Muted.S(fit("", 12)) + " " + s.Muted.S("enter on the alert in the Alerts view shows its whole life"))
	}
	if r := e.Run; r != nil {
		b.heading("Run " + r.ID + " " + r.Playbook)
		b.field("state", r.State.Words())
		if r.Step != "" {
			st := r.Step
			if r.Of > 0 {
				st = fmt.Sprintf("%s (%d of %d)", r.Step, r.Index, r.Of)
			}
			b.field("step", st)
		}
		b.field("error", r.Error)
		if r.Output != "" {
			b.heading("Step output")
			b.text(r.Output, s.Text)
		}
	}
	if o := e.Role; o != nil {
		b.field("role", string(o.Role)+" "+o.Service)
		b.field("holder", o.Handle)
		b.field("was", o.Previous)
	}
	if src := e.Source; src != nil {
		b.field("source", src.ID+" "+string(src.Health))
		b.field("error", src.Error)
	}
	m.relatedEvents(b, e)
}

// relatedEvents lists the event this one refers to and those that refer
// to it.
func (m *Model) relatedEvents(b *recordBuilder, e *incident.Event) {
	if e.Ref > 0 {
		b.heading("About")
		if r := m.eventBySeq(e.Ref); r != nil {
			b.add("   " + m.sty.Text.S(trunc(m.eventLine(r), b.w-4)))
		} else {
			b.add("   " + m.sty.Muted.S("#"+itoa(int(e.Ref))))
		}
	}
	var by []string
	for i := range m.st.Recent {
		if r := &m.st.Recent[i]; r.Ref == e.Seq {
			by = append(by, m.eventLine(r))
		}
	}
	if len(by) > 0 {
		b.heading("Referred to by")
		for _, l := range by {
			b.add("   " + m.sty.Text.S(trunc(l, b.w-4)))
		}
	}
}

func (m *Model) person(handle string) string {
	if p, ok := m.roster.Get(handle); ok && p.Name != "" {
		return handle + " (" + p.Name + ")"
	}
	return handle
}

func (m *Model) alertRecord(b *recordBuilder) {
	s := m.sty
	a := m.st.Alerts[m.rec.id]
	if a == nil {
		b.add(s.Muted.S("no alert " + m.rec.id))
		return
	}
	b.add(s.badge(sevOf(a.Level)) + s.Bold.S(" "+a.ID+" ") + s.Text.S(m.serviceName(a.Service)) + s.Muted.S(" · fired "+a.FiredAt.In(m.loc).Format("15:04:05 MST")+", "+incident.Age(m.now.Sub(a.FiredAt))+" ago"))
	b.heading("Alert")
	b.text(a.Text, s.Text)
	b.blank()
	b.field("origin", a.Origin)
	b.field("key", a.Key)
	switch {
	case !a.Open():
		b.field("resolved", "by "+a.ResolvedBy+" at "+a.ResolvedAt.In(m.loc).Format("15:04:05")+" after "+incident.Age(a.ResolvedAt.Sub(a.FiredAt)))
	case a.Acked():
		b.field("acked", "by "+a.AckedBy+" at "+a.AckedAt.In(m.loc).Format("15:04:05")+" after "+incident.Age(a.AckedAt.Sub(a.UnackedSince())))
	default:
		b.field("acked", "not yet: waiting "+incident.Age(m.now.Sub(a.UnackedSince())))
	}
	if a.Escalated > 0 {
		b.field("escalated", map[int]string{1: "to the backup", 2: "to the commander"}[a.Escalated])
	}
	o := m.st.Roles.Services[a.Service]
	b.field("owners", nameOr(o.Primary, "none")+" · backup "+nameOr(o.Backup, "none"))
	if a.Open() {
		b.field("now", m.conditionNow(a))
	}
	b.heading("History")
	for i := range m.st.Recent {
		e := &m.st.Recent[i]
		if e.Alert != nil && e.Alert.ID == a.ID {
			b.add("   " + s.Text.S(trunc(m.eventLine(e), b.w-4)))
		}
	}
	for _, r := range m.activeRuns(a.Service) {
		b.heading("Run on " + m.serviceName(a.Service))
		b.add("   " + s.Text.S(textsafe.Line(m.runSummaryLine(r))))
	}
}

func (m *Model) runRecord(b *recordBuilder) {
	s := m.sty
	r := m.st.Runs[m.rec.id]
	if r == nil {
		b.add(s.Muted.S("no run " + m.rec.id))
		return
	}
	b.add(s.Bold.S(r.ID+" "+r.Playbook) + " " + m.runPaint(r.State).S(r.State.Words()) + s.Muted.S(" · "+m.serviceName(r.Service)))
	b.field("now", m.runSummaryLine(r))
	b.field("requested", "by "+m.person(r.Actor)+" at "+r.Started.In(m.loc).Format("15:04:05")+", "+incident.Age(m.now.Sub(r.Started))+" ago")
	switch {
	case r.Approver != "":
		b.field("approved", "by "+r.Approver+" at "+r.Locked.In(m.loc).Format("15:04:05"))
	case r.State == incident.RunAwaitingApproval:
		b.field("approval", m.approvers(r))
	}
	lock := incident.RunLock(r, m.runner())
	if incident.RunHoldsLock(r.State) {
		lock += " (held)"
	} else if !incident.RunTerminal(r.State) {
		lock += " (taken when approved)"
	}
	b.field("lock", lock)
	b.field("parameters", m.runParams(r))
	b.field("hash", shortHashText(r.Hash))
	b.field("error", r.Error)
	if r.State == incident.RunAwaitingApproval {
		for _, o := range m.st.Contenders(r, m.runner()) {
			b.field("also waiting", o.ID+" "+o.Playbook+" ("+m.runParams(o)+") by "+o.Actor+": approving one supersedes the other")
		}
	}
	if p := r.Plan; p != nil {
		m.planLines(b, p)
	}
	b.heading("Steps")
	for i := range m.st.Recent {
		e := &m.st.Recent[i]
		if e.Run == nil || e.Run.ID != r.ID {
			continue
		}
		b.add("   " + s.Text.S(trunc(m.eventLine(e), b.w-4)))
		if e.Run.Output != "" {
			for _, l := range strings.Split(textsafe.Text(e.Run.Output), "\n") {
				for _, w := range wrapLines(l, max(b.w-8, 10), 0) {
					b.add("       " + s.Muted.S(w))
				}
			}
			b.collect(e.Run.Output)
		}
	}
}

// planLines renders a requester's dry run: risk, changes (no-ops
// flagged), steps.
func (m *Model) planLines(b *recordBuilder, p *incident.RunPlan) {
	s := m.sty
	b.heading("Dry run by the requester (" + p.At.In(m.loc).Format("15:04:05") + ")")
	b.field("risk", p.Risk)
	for _, c := range p.Changes {
		line := textsafe.Line(c.Field + ": " + c.Old + " → " + c.New)
		if c.NoOp() {
			b.add("   " + s.Level[sevWarn].S(line+"  (no change: already "+textsafe.Line(c.New)+")"))
			continue
		}
		b.add("   " + s.Accent.S(line))
	}
	if p.Error != "" {
		b.add("   " + s.ToastError.S("dry run error: "+textsafe.Line(p.Error)))
	}
	b.steps(p.Steps)
}

// steps lists a plan's steps, each wrapped under itself: the exact
// request is never cut.
func (b *recordBuilder) steps(steps []incident.PlanStep) {
	s := b.m.sty
	for _, st := range steps {
		for i, l := range wrapLines(textsafe.Line(st.ID+": "+firstLine(st.What)), max(b.w-12, 10), 3) {
			sec := ""
			if i == 0 {
				sec = st.Section
			}
			b.add(" " + s.Muted.S(fit(sec, 10)) + s.Text.S(l))
		}
	}
}

func (m *Model) renderRecord(w, h int) []string {
	s := m.sty
	lines := m.recordLines(w)
	top := clamp(m.rec.top, 0, max(len(lines)-(h-1), 0))
	m.rec.top = top
	out := newBlock(w)
	for i := top; i < len(lines) && i < top+h-1; i++ {
		out.add(lines[i])
	}
	body := out.render(h - 1)
	pos := ""
	if len(lines) > h-1 {
		pos = itoa(top+1) + "-" + itoa(min(top+h-1, len(lines))) + " of " + itoa(len(lines)) + " · "
	}
	return append(body, fit(s.Muted.S(pos+"y copy · ↑↓ pgup/pgdn scroll · S service · esc back"), w))
}

// copySelected copies the selected item in full (its record) with OSC 52.
func (m *Model) copySelected() tea.Cmd {
	if m.st == nil {
		return nil
	}
	var r record
	switch m.view {
	case viewRecord:
		r = m.rec
	case viewAlerts:
		a := m.selectedAlert()
		if a == nil {
			return m.refuse(fmt.Errorf("no alert selected"))
		}
		r = record{kind: recAlert, id: a.ID}
	case viewTimeline:
		e := m.selectedEvent()
		if e == nil {
			return m.refuse(fmt.Errorf("no event selected"))
		}
		r = record{kind: recEvent, seq: e.Seq}
	case viewRuns:
		run := m.selectedRun()
		if run == nil {
			return m.refuse(fmt.Errorf("no run selected"))
		}
		r = record{kind: recRun, id: run.ID}
	default:
		return m.refuse(fmt.Errorf("y copies the selected alert, event or run (views 2, 3 and 5, or its details)"))
	}
	saved := m.rec
	m.rec = r
	lines := m.recordLines(100)
	m.rec = saved
	for i := range lines {
		lines[i] = strings.TrimRight(ansi.Strip(lines[i]), " ")
	}
	text := strings.TrimSpace(strings.Join(lines, "\n"))
	m.setToast(toastOK, fmt.Sprintf("copied %d lines to the clipboard (OSC 52: your terminal must allow it)", len(lines)))
	return tea.SetClipboard(text)
}
