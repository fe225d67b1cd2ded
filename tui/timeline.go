package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// timeline is the timeline view's cursor and filters.
type timeline struct {
	sel, top  int
	follow    bool // keep the newest event selected
	service   string
	kind      incident.Kind
	important bool
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
		if m.tl.service != "" && e.Service != m.tl.service {
			continue
		}
		if m.tl.kind != "" && e.Kind != m.tl.kind {
			continue
		}
		if m.tl.important && !m.st.Important[e.Seq] {
			continue
		}
		out = append(out, i)
	}
	return out
}

func (m *Model) tlSel(n int) int {
	if m.tl.follow || m.tl.sel >= n {
		return n - 1
	}
	return clamp(m.tl.sel, 0, n-1)
}

// selectedEvent is the event under the timeline cursor.
func (m *Model) selectedEvent() *incident.Event {
	rows := m.timelineRows()
	if len(rows) == 0 {
		return nil
	}
	return &m.st.Recent[rows[m.tlSel(len(rows))]]
}

func (m *Model) timelineKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	rows := m.timelineRows()
	l := m.layout()
	vis := max(l.bodyH-1, 1)
	if sel, ok := m.listMove(msg, m.tlSel(len(rows)), len(rows), vis); ok {
		m.tl.sel = sel
		m.tl.follow = sel >= len(rows)-1
		m.tl.top = scrollTo(sel, m.tl.top, vis, len(rows))
		return nil
	}
	switch {
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
	}
	return s.Text
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
	head := s.Bold.S("Timeline") + s.Muted.S(" ("+itoa(len(rows))+") · ") + filt("service", svc) + s.Muted.S(" · ") + filt("kind", string(m.tl.kind)) + s.Muted.S(" · important ") + s.Text.S(imp)
	b := newBlock(w)
	b.add(spread(head, s.Muted.S("s/f/i filter · m mark · n note · G follow"), w))
	vis := h - 1
	if len(rows) == 0 {
		b.add("  " + s.Muted.S("no events match the filters"))
		return b.render(h)
	}
	sel := m.tlSel(len(rows))
	top := scrollTo(sel, m.tl.top, vis, len(rows))
	if m.tl.follow {
		top = max(len(rows)-vis, 0)
	}
	dated := m.crossedMidnight()
	tfmt, tw := "15:04:05", 8
	if dated {
		tfmt, tw = "Jan 02 15:04:05", 15
	}
	const seqW, kindW, svcW = 6, 9, 11
	// Newest at the bottom: a short list sits on the bottom edge.
	for n := len(rows) - top; n < vis; n++ {
		b.add("")
	}
	for i := top; i < len(rows) && i < top+vis; i++ {
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
		textW := max(w-2-seqW-tw-kindW-svcW-4, 4)
		line := " " + star + fit(s.Muted.S("#"+itoa(int(e.Seq))), seqW) + " " +
			s.Muted.S(fit(e.Time.In(m.loc).Format(tfmt), tw)) + " " +
			m.kindPaint(e).S(fit(string(e.Kind), kindW)) + " " +
			s.Text.S(fit(svcName, svcW)) + " " +
			s.Text.S(trunc(textsafe.Line(e.Text), textW))
		if i == sel {
			line = s.selectLine(line, w)
		}
		b.add(line)
	}
	return b.render(h)
}
