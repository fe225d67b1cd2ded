package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/textsafe"
)

// seg is a piece of a one-line bar; lower prio is dropped first.
type seg struct {
	text string
	prio int
}

// bar joins segments with sep, dropping the lowest-priority ones until
// it fits w.
func bar(segs []seg, sep string, w int) string {
	for {
		total := 0
		for i, sg := range segs {
			if i > 0 {
				total += width(sep)
			}
			total += width(sg.text)
		}
		if total <= w || len(segs) <= 1 {
			break
		}
		low := 0
		for i, sg := range segs {
			if sg.prio < segs[low].prio {
				low = i
			}
		}
		segs = append(segs[:low:low], segs[low+1:]...)
	}
	parts := make([]string, len(segs))
	for i, sg := range segs {
		parts[i] = sg.text
	}
	return fit(strings.Join(parts, sep), w)
}

// secondsBefore is how close to T-0 the header counts down by the second.
const secondsBefore = 10 * time.Minute

// elapsed is T-minus before the launch, T+ after it, or time since the
// declaration when there is no launch time. It moves by the minute (the
// header, and so the whole frame, changes once a minute in a calm room),
// but by the second in the last minutes before T-0.
func (m *Model) elapsed() string {
	var launch *time.Time
	if t0, ok := m.st.T0(m.cfg); ok { // a hold moves T-0
		launch = &t0
	}
	if launch != nil {
		if d := launch.Sub(m.now); d > 0 {
			if d <= secondsBefore {
				return "T-" + incident.Age(d.Truncate(time.Second))
			}
			return "T-" + minutes(d)
		}
		return "T+" + minutes(m.now.Sub(*launch))
	}
	if m.st != nil && !m.st.Declared.IsZero() {
		return "elapsed " + minutes(m.now.Sub(m.st.Declared))
	}
	return ""
}

// clusterText says which node leads a shared room (short, kept on narrow
// screens) and, on a standby, this node and how far behind the leader's
// log this dashboard is (detail).
func (m *Model) clusterText(c incident.ClusterInfo) (short, detail string) {
	s := m.sty
	node := textsafe.Line(c.Node)
	switch {
	case c.Role == incident.RoleLeader:
		return s.Muted.S("lead ") + s.Bold.S(node), s.Muted.S("(here)")
	case c.Role == incident.RoleSteppingDown:
		return s.Level[sevWarn].S(node + " lost the lead"), ""
	case c.Problem != "":
		return s.Level[sevWarn].S("journal unreachable"), s.Muted.S("standby " + node + ": what you see may be old")
	case c.Leader == "":
		return s.Level[sevWarn].S("no leader"), s.Muted.S("standby " + node)
	}
	lag := "lag " + c.Lag.Round(100*time.Millisecond).String()
	if c.Behind > 0 {
		lag += " (" + itoa(int(c.Behind)) + " behind)"
	}
	st := s.Muted
	if c.Lag >= 5*time.Second {
		st = s.Level[sevWarn]
	}
	return s.Muted.S("lead ") + s.Bold.S(textsafe.Line(c.Leader)), s.Muted.S("standby "+node+" · ") + st.S(lag)
}

// minutes is a duration to the minute: "0m", "25m", "1h05m", "26h00m".
func minutes(d time.Duration) string {
	d = d.Truncate(time.Minute)
	if d < time.Hour {
		return itoa(int(d/time.Minute)) + "m"
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d/time.Minute)%60)
}

// drill is the injects of a drill ("" in a real room).
func (m *Model) drill() string {
	if m.cfg.Incident.Drill != "" {
		return m.cfg.Incident.Drill
	}
	if m.st != nil && m.st.Room != nil {
		return m.st.Room.Drill
	}
	return ""
}

func (m *Model) simulated() bool {
	if m.cfg.Incident.Simulated {
		return true
	}
	return m.st != nil && m.st.Room != nil && m.st.Room.Simulated
}

func (m *Model) renderHeader(w int) string {
	s := m.sty
	name := m.cfg.Incident.Name
	if m.st != nil && m.st.Name != "" {
		name = m.st.Name
	}
	segs := []seg{{s.Title.S("▌" + textsafe.Line(name)), 100}}
	if d := m.drill(); d != "" {
		segs = append(segs, seg{s.Badge[sevCrit].S(" DRILL "), 98})
	} else if m.simulated() {
		segs = append(segs, seg{s.Sim.S(" SIMULATED "), 95})
	}
	if e := m.elapsed(); e != "" {
		segs = append(segs, seg{s.Bold.S(e), 90})
	}
	segs = append(segs, m.lifecycleSegs()...)
	if m.st != nil {
		cmdr := m.st.Roles.Commander
		if cmdr == "" {
			cmdr = "none"
		}
		segs = append(segs, seg{s.Muted.S("cmdr ") + s.Bold.S(cmdr), 80})
		you := s.Muted.S("you ") + s.Bold.S(m.me)
		rs := m.st.Roles.RolesOf(m.me)
		role := "observer"
		if len(rs) > 0 {
			role = strings.Join(rs, ", ")
		}
		segs = append(segs, seg{you, 85}, seg{s.Muted.S("(" + role + ")"), 60})
		if n := len(m.st.ConnectedPeople()); n > 0 {
			segs = append(segs, seg{s.Level[sevOK].S("●") + s.Muted.S(" "+itoa(n)+" connected"), 55})
		}
		if c := m.st.Cluster; c.Shared() {
			short, detail := m.clusterText(c)
			segs = append(segs, seg{short, 82})
			if detail != "" {
				segs = append(segs, seg{detail, 58})
			}
		}
	} else {
		segs = append(segs, seg{s.Muted.S("you ") + s.Bold.S(m.me), 85})
	}
	segs = append(segs, seg{s.Clock.S(m.now.In(m.loc).Format("15:04 MST")), 50})
	return bar(segs, "  ", w)
}

type tabRange struct {
	view   viewID
	x0, x1 int
	text   string
}

// tabCount is a tab's count: "(6)", "(6, 4 unacked)" when some of them
// wait for someone, or only those, "(4!)", on a narrow screen.
func tabCount(active, waiting int, what string, narrow bool) string {
	switch {
	case waiting > 0 && narrow:
		return "(" + itoa(waiting) + "!)"
	case waiting > 0:
		return "(" + itoa(active) + ", " + itoa(waiting) + " " + what + ")"
	case active > 0:
		return "(" + itoa(active) + ")"
	}
	return ""
}

// tabRanges lays out the tab line; rendering and clicks share it. When
// the tabs do not fit the width they lose their padding, then the names of
// the views not shown (their keys and counts stay), so that the last tabs
// and the crumb of the view shown are not cut.
func (m *Model) tabRanges(w int) []tabRange {
	type tab struct {
		view             viewID
		key, name, extra string
	}
	var tabs []tab
	narrow := w < 100
	for _, v := range m.tabs() {
		t := tab{view: v, key: m.tabKey(v), name: viewNames[v]}
		if v == viewAlerts && m.st != nil {
			active, unacked := m.alertGroupsToAct()
			t.extra = tabCount(active, unacked, "unacked", narrow)
		}
		if v == viewRuns && m.st != nil {
			active, mine := 0, 0
			for _, r := range m.st.Runs {
				if !incident.RunTerminal(r.State) {
					active++
					if m.runOrder(r) == 0 {
						mine++
					}
				}
			}
			t.extra = tabCount(active, mine, "need you", narrow)
		}
		tabs = append(tabs, t)
	}
	crumb := ""
	switch m.view {
	case viewDetail:
		crumb = "▸ " + m.serviceName(m.detail)
	case viewRecord:
		crumb = "▸ details"
	case viewEnd:
		crumb = "▸ summary"
	}
	var out []tabRange
	for _, style := range []int{0, 1, 2} { // padded, compact, keys only
		out = out[:0]
		x := 0
		add := func(v viewID, words ...string) {
			var parts []string
			for _, p := range words {
				if p != "" {
					parts = append(parts, p)
				}
			}
			text := strings.Join(parts, " ")
			if style == 0 {
				text = " " + text + " "
			}
			out = append(out, tabRange{view: v, x0: x, x1: x + width(text), text: text})
			x += width(text) + 1
		}
		for _, t := range tabs {
			if style == 2 && t.view != m.view {
				add(t.view, t.key, t.extra)
			} else {
				add(t.view, t.key, t.name, t.extra)
			}
		}
		if crumb != "" {
			add(m.view, crumb)
		}
		if x-1 <= w {
			break
		}
	}
	return out
}

func (m *Model) renderTabs(w int) string {
	s := m.sty
	var sb strings.Builder
	for i, t := range m.tabRanges(w) {
		if i > 0 {
			sb.WriteByte(' ')
		}
		switch {
		case t.view == m.view && s.Plain:
			sb.WriteString(s.TabActive.S("[" + strings.TrimSpace(t.text) + "]"))
		case t.view == m.view:
			sb.WriteString(s.TabActive.S(t.text))
		default:
			sb.WriteString(s.Tab.S(t.text))
		}
	}
	tabs := sb.String()
	for _, right := range []string{"? help · ctrl+p actions", "? help"} {
		if width(tabs)+1+width(right) <= w {
			return spread(tabs, s.Muted.S(right), w)
		}
	}
	return fit(tabs, w)
}

// storageBanner says, on every view, that the journal cannot write
// normally: a full disk refuses commands, a nearly full one sheds samples.
func (m *Model) storageBanner(w int) string {
	h := m.st.Storage
	text := " ⚠ DISK FULL: " + textsafe.Line(h.Reason)
	if h.State == journal.StorageLow {
		text = " ⚠ DISK LOW: " + textsafe.Line(h.Reason)
	}
	if !h.Since.IsZero() {
		text += " (since " + h.Since.In(m.loc).Format("15:04:05") + ")"
	}
	if h.State == journal.StorageLow {
		return m.sty.BannerMine.S(fit(text, w))
	}
	return m.sty.Badge[sevCrit].S(fit(text, w))
}

// renderBanner shows a pending command offer on every view; the person it
// is for sees it loudest.
func (m *Model) renderBanner(w int) string {
	s := m.sty
	o := m.st.Roles.Offer
	if o == nil {
		// No offer: a run awaiting this person's approval takes the line.
		return m.approvalBanner(w)
	}
	switch {
	case o.To == m.me:
		return s.BannerMine.S(fit(" ⚑ "+o.From+" offers you command of the incident — A accept · D decline", w))
	case o.From == m.me || m.st.Roles.Commander == m.me:
		return s.Banner.S(fit(" ⚑ you offered command to "+o.To+" — waiting for them to accept (D withdraws)", w))
	}
	return s.Banner.S(fit(" ⚑ "+o.From+" has offered command to "+o.To+" (pending)", w))
}

// renderMessage is the input line, a toast (wrapped onto n lines), or
// key hints.
func (m *Model) renderMessage(w, n int) []string {
	s := m.sty
	one := func(line string) []string {
		out := []string{fit(line, w)}
		for len(out) < n {
			out = append(out, strings.Repeat(" ", w))
		}
		return out
	}
	switch m.overlay {
	case overlayInput:
		m.input.SetWidth(max(w-width(m.input.Prompt)-28, 10))
		return one(m.input.View() + s.Muted.S("  enter send · esc cancel"))
	case overlayFilter:
		m.input.SetWidth(max(w-width(m.input.Prompt)-40, 10))
		return one(m.input.View() + s.Muted.S("  filters as you type · enter keep · esc clear"))
	case overlayQuit:
		return m.wrapMessage(s.ToastError, m.quitText(), w, n)
	case overlayConfirm:
		return m.wrapMessage(s.ToastError, m.confirmText+" y confirms, any other key cancels.", w, n)
	}
	if m.toastActive() {
		p := s.ToastInfo
		switch m.toast.kind {
		case toastOK:
			p = s.ToastOK
		case toastError:
			p = s.ToastError
		}
		return m.wrapMessage(p, m.toast.text, w, n)
	}
	if m.pending > 0 {
		return one(s.Muted.S("waiting for the engine…"))
	}
	return one(m.shortHelp(w))
}

// wrapMessage is a message on n lines: it wraps rather than being cut.
func (m *Model) wrapMessage(p paint, text string, w, n int) []string {
	lines := wrapLines(text, w, n)
	out := make([]string, 0, n)
	for _, l := range lines {
		out = append(out, fit(p.S(l), w))
	}
	for len(out) < n {
		out = append(out, strings.Repeat(" ", w))
	}
	return out
}

// messageText is the text the message line must show in full (a prompt
// or a toast), "" for key hints.
func (m *Model) messageText() string {
	switch m.overlay {
	case overlayQuit:
		return m.quitText()
	case overlayConfirm:
		return m.confirmText + " y confirms, any other key cancels."
	case overlayNone:
		if m.toastActive() {
			return m.toast.text
		}
	}
	return ""
}

func (m *Model) shortKeys() []key.Binding {
	k := m.keys
	out := append([]key.Binding(nil), k.viewKeys(m.view)...)
	for _, b := range []key.Binding{k.Note, k.Help, k.Quit} {
		dup := false
		for _, o := range out {
			if o.Help().Key == b.Help().Key {
				dup = true
			}
		}
		if !dup {
			out = append(out, b)
		}
	}
	return out
}

// renderStatus shows source health, staleness and the Slack mirror.
func (m *Model) renderStatus(w int) string {
	s := m.sty
	switch {
	case m.end != nil:
		return fit(s.Muted.S("the room has stopped: "+strings.ToLower(m.end.Title)), w)
	case m.feedErr != "":
		return fit(s.ToastError.S("✗ "+m.feedErr), w)
	case m.st == nil:
		return fit(s.Muted.S("connecting to the engine…"), w)
	}
	var segs []seg
	if m.st != nil {
		stalePanes := map[string]int{}
		nStale, nNoData, nPanes := 0, 0, 0
		for i := range m.cfg.Services {
			svc := &m.cfg.Services[i]
			for j := range svc.Panes {
				pv := derivePane(m.cfg, m.st, svc, &svc.Panes[j], m.now, nil)
				nPanes++
				switch {
				case pv.stale:
					nStale++
					stalePanes[svc.Panes[j].Source]++
				case pv.sev == sevNoData:
					nNoData++
				}
			}
		}
		var src []string
		ids := make([]string, 0, len(m.cfg.Sources))
		for _, so := range m.cfg.Sources {
			ids = append(ids, so.ID)
		}
		for _, id := range ids {
			src = append(src, m.sourceBadge(id, stalePanes[id]))
		}
		segs = append(segs, seg{s.Muted.S("sources ") + strings.Join(src, " "), 90})
		pl := s.Muted.S(incident.Plural(nPanes, "pane"))
		if nStale > 0 {
			pl += " " + s.Level[sevStale].S(itoa(nStale)+" stale")
		}
		if nNoData > 0 {
			pl += " " + s.Level[sevNoData].S(itoa(nNoData)+" no data")
		}
		segs = append(segs, seg{pl, 70})
	}
	segs = append(segs, seg{m.mirrorText(), 80})
	if m.o.PublisherStatus != nil && m.publisher != "" {
		segs = append(segs, seg{m.outboxText("statuspage", m.publisher), 78})
	}
	if m.o.PagingStatus != nil && m.paging != "" {
		segs = append(segs, seg{m.outboxText("pagerduty", m.paging), 79})
	}
	if m.st != nil {
		segs = append(segs, seg{s.Muted.S("#" + itoa(int(m.st.LastSeq))), 40})
	}
	return bar(segs, s.Subtle.S(" │ "), w)
}

// sourceBadge is "prom✓", "dd:429(1 stale)": words as well as symbols so
// it reads without colour. A source that never reported health is judged
// by its panes: fresh data means up, none means unknown.
func (m *Model) sourceBadge(id string, stale int) string {
	s := m.sty
	var health incident.SourceHealth
	if info, ok := m.st.Sources[id]; ok {
		health = info.Health
	} else if m.sourceHasData(id) {
		health = incident.SourceUp
	}
	var v sev
	var sym string
	switch health {
	case incident.SourceUp:
		v, sym = sevOK, "✓"
	case incident.SourceDegraded:
		v, sym = sevWarn, ":degraded"
	case incident.SourceRateLimited:
		v, sym = sevWarn, ":429"
	case incident.SourceDown:
		v, sym = sevCrit, ":down"
	case "":
		v, sym = sevNoData, "?"
	default:
		v, sym = sevUnknown, ":"+string(health)
	}
	if stale > 0 && v == sevOK {
		v, sym = sevStale, ":stale"
	}
	out := s.Text.S(id) + s.Level[v].S(sym)
	if stale > 0 {
		out += s.Level[sevStale].S("(" + itoa(stale) + " stale)")
	}
	if b := m.budgets[id]; b != "" {
		out += s.Muted.S(" " + textsafe.Line(b))
	}
	return out
}

// sourceHasData reports whether any pane of the source has fresh data.
func (m *Model) sourceHasData(id string) bool {
	for i := range m.cfg.Services {
		svc := &m.cfg.Services[i]
		for j := range svc.Panes {
			p := &svc.Panes[j]
			if p.Source != id {
				continue
			}
			if pp := m.st.Panes[incident.PaneKey(svc.ID, p.ID)]; pp != nil && pp.HasData && !pp.Stale && pp.LimitedUntil.IsZero() && m.now.Sub(pp.Updated) <= staleAfter(m.cfg, p) {
				return true
			}
		}
	}
	return false
}

func (m *Model) mirrorText() string {
	s := m.sty
	state := ""
	if m.st != nil {
		state = m.st.Mirror
	}
	if m.mirror != "" {
		if state != "" {
			state += ", "
		}
		state += m.mirror
	}
	switch {
	case state != "":
		p := s.Text
		if l := strings.ToLower(state); strings.Contains(l, "down") || strings.Contains(l, "fail") || strings.Contains(l, "stopped") {
			p = s.Level[sevCrit]
		}
		return s.Muted.S("slack ") + p.S(textsafe.Line(state))
	case m.cfg.Slack == nil:
		return s.Muted.S("slack off")
	}
	return s.Muted.S("slack ") + s.Level[sevNoData].S("?")
}

// outboxText is a destination outside the room (Statuspage, PagerDuty)
// with its outbox state (outbox.Status.Line): words and colour.
func (m *Model) outboxText(name, state string) string {
	s := m.sty
	p := s.Text
	switch st, _, _ := strings.Cut(state, ","); {
	case strings.HasPrefix(st, "stopped"), strings.HasPrefix(st, "retrying"):
		p = s.Level[sevCrit]
	case strings.HasPrefix(st, "rate-limited"), strings.HasPrefix(st, "checking"):
		p = s.Level[sevWarn]
	}
	return s.Muted.S(name+" ") + p.S(textsafe.Line(state))
}

// eventKinds are the event kinds the timeline filter cycles through.
var eventKinds = []incident.Kind{incident.KindAlert, incident.KindAck, incident.KindResolve, incident.KindEscalate,
	incident.KindNote, incident.KindRole, incident.KindOffer, incident.KindAccept, incident.KindDecline,
	incident.KindImportant, incident.KindSource, incident.KindRun, incident.KindMirror, incident.KindPaging, incident.KindStorage, incident.KindClock, incident.KindDeclare,
	incident.KindSeverity, incident.KindStatus, incident.KindMarker, incident.KindComponent, incident.KindUpdate, incident.KindDelivery,
	incident.KindOverdue, incident.KindFollowUp}

// shortHelp is the key hint line (bubbles help), cached per view, width
// and theme: lipgloss rendering is the slow part of a frame.
func (m *Model) shortHelp(w int) string {
	k := hintKey{view: m.view, w: w, sty: m.sty}
	if m.hint.key != k {
		m.help.SetWidth(w)
		m.hint = hintCache{key: k, text: m.help.ShortHelpView(m.shortKeys())}
	}
	return m.hint.text
}

type hintKey struct {
	view viewID
	w    int
	sty  *Styles
}

type hintCache struct {
	key  hintKey
	text string
}
