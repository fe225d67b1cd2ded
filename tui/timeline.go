package tui

import (
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// timeline is the timeline view's cursor and filters.
type timeline struct {
	cur       cursor // keyed by the event's seq
	top       int
	follow    bool // keep the newest event selected
	service   string
	kind      incident.Kind
	important bool
	text      filter // `/`: words in the event's text, actor or kind
	// lineRow is the row shown on each line of the list as last drawn
	// (-1: none), for mouse clicks: a long text takes two lines.
	lineRow []int
}

// timelineRows are the indexes into State.Recent that pass the filters,
// oldest first.
func (m *Model) timelineRows() []int {
	if m.st == nil {
		return nil
	}
	out := make([]int, 0, len(m.st.Recent))
	for i := range m.st.Recent {
		e := &m.st.Recent[i]
		if m.tl.service != "" && !e.Concerns(m.tl.service) {
			continue
		}
		if m.tl.kind != "" && e.Kind != m.tl.kind {
			continue
		}
		if m.tl.important && !m.st.Important[e.Seq] {
			continue
		}
		if m.tl.text.active() && !m.tl.text.match("#"+itoa(int(e.Seq))+" "+string(e.Kind)+" "+e.Actor+" "+e.Service+" "+e.Text) {
			continue
		}
		out = append(out, i)
	}
	return out
}

func (m *Model) timelineIDs(rows []int) []string {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = strconv.FormatInt(m.st.Recent[r].Seq, 10)
	}
	return ids
}

// tlSel is the selected row: the newest while following.
func (m *Model) tlSel(rows []int) int {
	ids := m.timelineIDs(rows)
	if len(ids) == 0 {
		return -1
	}
	if m.tl.follow {
		m.tl.cur.set(ids, len(ids)-1)
		return len(ids) - 1
	}
	return m.tl.cur.at(ids)
}

// selectedEvent is the event under the timeline cursor.
func (m *Model) selectedEvent() *incident.Event {
	rows := m.timelineRows()
	i := m.tlSel(rows)
	if i < 0 {
		return nil
	}
	return &m.st.Recent[rows[i]]
}

func (m *Model) timelineKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	rows := m.timelineRows()
	ids := m.timelineIDs(rows)
	l := m.layout()
	vis := max(l.bodyH-1, 1)
	if sel, ok := m.listMove(msg, max(m.tlSel(rows), 0), len(rows), vis); ok {
		m.tl.cur.set(ids, sel)
		m.tl.follow = sel >= len(rows)-1
		m.tl.top = scrollTo(sel, m.tl.top, vis, len(rows))
		return nil
	}
	switch {
	case key.Matches(msg, k.Open):
		if ev := m.selectedEvent(); ev != nil {
			m.openRecord(record{kind: recEvent, seq: ev.Seq})
		}
	case key.Matches(msg, k.FilterService):
		m.tl.service = m.nextService(m.tl.service)
		m.tl.follow = true
	case key.Matches(msg, k.FilterKind):
		m.tl.kind = nextKind(m.tl.kind)
		m.tl.follow = true
	case key.Matches(msg, k.FilterImportant):
		m.tl.important = !m.tl.important
		m.tl.follow = true
	case key.Matches(msg, k.MarkImportant):
		return m.toggleImportant(m.selectedEvent())
	case key.Matches(msg, k.FollowUp):
		return m.toggleFollowUp(m.selectedEvent())
	case key.Matches(msg, k.Back):
		m.tl = timeline{follow: true}
	}
	return nil
}

func (m *Model) nextService(cur string) string {
	if cur == "" {
		if len(m.cfg.Services) > 0 {
			return m.cfg.Services[0].ID
		}
		return ""
	}
	for i := range m.cfg.Services {
		if m.cfg.Services[i].ID == cur && i+1 < len(m.cfg.Services) {
			return m.cfg.Services[i+1].ID
		}
	}
	return ""
}

func nextKind(cur incident.Kind) incident.Kind {
	if cur == "" {
		return eventKinds[0]
	}
	for i, k := range eventKinds {
		if k == cur && i+1 < len(eventKinds) {
			return eventKinds[i+1]
		}
	}
	return ""
}

// crossedMidnight reports whether the incident spans more than one
// calendar day in the room's time zone: then times carry dates.
func (m *Model) crossedMidnight() bool {
	start := m.st.Declared
	if start.IsZero() && len(m.st.Recent) > 0 {
		start = m.st.Recent[0].Time
	}
	if start.IsZero() {
		return false
	}
	y1, m1, d1 := start.In(m.loc).Date()
	y2, m2, d2 := m.now.In(m.loc).Date()
	return y1 != y2 || m1 != m2 || d1 != d2
}

func (m *Model) kindPaint(e *incident.Event) paint {
	s := m.sty
	switch e.Kind {
	case incident.KindAlert, incident.KindEscalate:
		if e.Alert != nil {
			return s.Level[sevOf(e.Alert.Level)]
		}
		return s.Level[sevWarn]
	case incident.KindResolve, incident.KindAck:
		return s.Level[sevOK]
	case incident.KindOffer, incident.KindAccept, incident.KindDecline, incident.KindRole:
		return s.Accent
	case incident.KindSource, incident.KindMirror, incident.KindStorage, incident.KindClock:
		return s.Level[sevStale]
	case incident.KindPaging:
		return s.Level[sevWarn] // a page that did not reach PagerDuty, a refused webhook
	}
	return s.Text
}

// eventText is an event's text as the timeline shows it: a note says who
// wrote it.
func eventText(e *incident.Event) string {
	t := textsafe.Line(e.Text)
	if e.Kind == incident.KindNote {
		return e.Actor + ": " + t
	}
	return t
}

func (m *Model) renderTimeline(w, h int) []string {
	s := m.sty
	rows := m.timelineRows()
	filt := func(label, v string) string {
		if v == "" {
			return s.Muted.S(label+" ") + s.Text.S("all")
		}
		return s.Muted.S(label+" ") + s.Key.S(v)
	}
	imp := "off"
	if m.tl.important {
		imp = "on"
	}
	svc := ""
	if m.tl.service != "" {
		svc = m.serviceName(m.tl.service)
	}
	segs := []seg{{s.Bold.S("Timeline") + s.Muted.S(" ("+itoa(len(rows))+")"), 100}}
	if m.tl.text.active() {
		segs = append(segs, seg{s.Muted.S("· text ") + s.Key.S(textsafe.Line(m.tl.text.q)), 90})
	}
	prio := func(on bool, p int) int {
		if on {
			return 95 // an active filter always shows
		}
		return p
	}
	segs = append(segs, seg{s.Muted.S("· ") + filt("service", svc), prio(svc != "", 60)}, seg{s.Muted.S("· ") + filt("kind", string(m.tl.kind)), prio(m.tl.kind != "", 59)},
		seg{s.Muted.S("· important ") + s.Text.S(imp), prio(m.tl.important, 58)}, seg{s.Muted.S(" enter details · / search · s/f/i filter · m mark · G follow"), 10})
	b := newBlock(w)
	b.add(bar(segs, " ", w))
	vis := h - 1
	if len(rows) == 0 {
		b.add("  " + s.Muted.S("no events match the filters (esc clears them)"))
		return b.render(h)
	}
	sel := m.tlSel(rows)
	top := scrollTo(sel, m.tl.top, vis, len(rows))
	dated := m.crossedMidnight()
	tfmt, tw := "15:04:05", 8
	if dated {
		tfmt, tw = "Jan 02 15:04:05", 15
	}
	const kindW = 9
	seqW, svcW, actW := 3, 4, 0
	for i := max(top-vis, 0); i < len(rows) && i < top+2*vis; i++ {
		e := &m.st.Recent[rows[i]]
		seqW = max(seqW, 1+len(itoa(int(e.Seq))))
		svcW = max(svcW, width(e.Service))
		actW = max(actW, width(e.Actor))
	}
	svcW = min(svcW, 11)
	// The actor gets a column when there is room for it; notes always
	// say who wrote them.
	showActor := w >= 110
	actW = min(max(actW, 5), 12)
	fixed := 2 + seqW + 1 + tw + 1 + kindW + 1 + svcW + 1
	if showActor {
		fixed += actW + 1
	}
	textW := max(w-fixed, 4)
	// A text longer than its column wraps to a second line under it
	// before anything is cut (enter shows the rest).
	wrapped := map[int][]string{}
	text := func(i int) []string {
		if l, ok := wrapped[i]; ok {
			return l
		}
		e := &m.st.Recent[rows[i]]
		t := eventText(e)
		if showActor {
			t = textsafe.Line(e.Text)
		}
		l := wrapLines(t, textW, 2)
		wrapped[i] = l
		return l
	}
	// The window: the selected row in view, and no room left below the
	// newest row (newest at the bottom).
	used := 0
	for i := sel; i >= top && i >= 0; i-- {
		used += len(text(i))
	}
	for top < sel && used > vis {
		used -= len(text(top))
		top++
	}
	tail := 0
	minTop := len(rows)
	for n := len(rows) - 1; n >= 0 && tail+len(text(n)) <= vis; n-- {
		tail += len(text(n))
		minTop = n
	}
	top = max(min(top, minTop), 0)
	m.tl.top = top
	var out [][]string
	lines := 0
	for i := top; i < len(rows) && lines+len(text(i)) <= vis; i++ {
		out = append(out, text(i))
		lines += len(text(i))
	}
	// Newest at the bottom: a short list sits on the bottom edge.
	m.tl.lineRow = m.tl.lineRow[:0]
	for n := lines; n < vis; n++ {
		b.add("")
		m.tl.lineRow = append(m.tl.lineRow, -1)
	}
	pad := strings.Repeat(" ", fixed)
	for k, tl := range out {
		i := top + k
		e := &m.st.Recent[rows[i]]
		star := " "
		if m.st.Important[e.Seq] {
			star = s.Level[sevWarn].S("★")
			if s.Plain {
				star = "*"
			}
		}
		svcName := "-"
		if e.Service != "" {
			svcName = e.Service
		}
		line := " " + star + fit(s.Muted.S("#"+itoa(int(e.Seq))), seqW) + " " +
			s.Muted.S(fit(e.Time.In(m.loc).Format(tfmt), tw)) + " " +
			m.kindPaint(e).S(fit(string(e.Kind), kindW)) + " " +
			s.Text.S(fit(svcName, svcW)) + " "
		if showActor {
			line += s.Muted.S(fit(e.Actor, actW)) + " "
		}
		line += s.Text.S(tl[0])
		if i == sel {
			line = s.selectLine(line, w)
		}
		b.add(line)
		m.tl.lineRow = append(m.tl.lineRow, i)
		for _, more := range tl[1:] {
			l := pad + s.Text.S(more)
			if i == sel {
				l = s.selectMore(l, w)
			}
			b.add(l)
			m.tl.lineRow = append(m.tl.lineRow, i)
		}
	}
	return b.render(h)
}
