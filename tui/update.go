package tui

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/warroom/warroom/incident"
)

// onKey routes a key press: overlays first, then global keys, then the
// current view's keys.
func (m *Model) onKey(msg tea.KeyPressMsg) tea.Cmd {
	switch m.overlay {
	case overlayChooser:
		return m.onChooserKey(msg)
	case overlayInput:
		return m.onInputKey(msg)
	case overlayFilter:
		return m.onFilterKey(msg)
	case overlayHelp:
		return m.helpKey(msg)
	case overlayQuit:
		return m.quitKey(msg)
	case overlayConfirm:
		fn := m.confirmFn
		m.closeOverlay()
		if msg.String() == "y" || msg.String() == "Y" {
			return fn(m)
		}
		m.setToast(toastInfo, "cancelled: nothing was sent")
		return nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m.askQuit(msg.String() == "ctrl+c")
	case key.Matches(msg, k.Help):
		m.openHelp()
		return nil
	case key.Matches(msg, k.Palette):
		m.openPalette()
		return nil
	case key.Matches(msg, k.Overview):
		m.setView(viewOverview)
		return nil
	case key.Matches(msg, k.Alerts):
		m.setView(viewAlerts)
		return nil
	case key.Matches(msg, k.Timeline):
		m.setView(viewTimeline)
		return nil
	case key.Matches(msg, k.Roles):
		m.setView(viewRoles)
		return nil
	case key.Matches(msg, k.Runs):
		m.setView(viewRuns)
		return nil
	case key.Matches(msg, k.Launch) && m.launchMode():
		m.setView(viewLaunch)
		return nil
	case key.Matches(msg, k.Comms) && m.commsOn():
		m.setView(viewComms)
		return nil
	case key.Matches(msg, k.NextView):
		m.cycleView(1)
		return nil
	case key.Matches(msg, k.PrevView):
		m.cycleView(-1)
		return nil
	case key.Matches(msg, k.Theme):
		m.toggleTheme()
		return nil
	case key.Matches(msg, k.Accept) && m.mayApproveUpdate() && (m.view == viewComms || !m.approvalFirst()) && !m.offeredToMe():
		return m.openUpdateReview()
	case key.Matches(msg, k.Accept) && m.view == viewRuns && m.selectedRun() != nil && m.selectedRun().State == incident.RunAwaitingApproval:
		return m.openApproval(m.selectedRunID())
	case key.Matches(msg, k.Accept) && m.approvalFirst():
		return m.openApproval("")
	case key.Matches(msg, k.Accept):
		return m.acceptOffer()
	case key.Matches(msg, k.Decline):
		return m.declineOffer()
	case key.Matches(msg, k.Note):
		return m.startNote(m.contextService())
	case key.Matches(msg, k.Filter):
		return m.startFilter()
	case key.Matches(msg, k.Copy):
		return m.copySelected()
	}
	if m.st == nil {
		return nil
	}
	switch m.view {
	case viewOverview:
		return m.overviewKey(msg)
	case viewDetail:
		return m.detailKey(msg)
	case viewAlerts:
		return m.alertsKey(msg)
	case viewTimeline:
		return m.timelineKey(msg)
	case viewRoles:
		return m.rolesKey(msg)
	case viewRuns:
		return m.runsKey(msg)
	case viewRecord:
		return m.recordKey(msg)
	case viewLaunch:
		return m.launchKey(msg)
	case viewComms:
		return m.commsKey(msg)
	case viewEnd:
		if key.Matches(msg, k.Back) {
			m.setView(viewOverview)
		}
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

var tabOrder = []viewID{viewOverview, viewAlerts, viewTimeline, viewRoles, viewRuns}

// tabs are the views with a tab: the Launch view's only with a plan,
// the Comms view's with a comms section or a public incident.
func (m *Model) tabs() []viewID {
	out := tabOrder
	if m.launchMode() {
		out = append(out[:len(out):len(out)], viewLaunch)
	}
	if m.commsOn() {
		out = append(out[:len(out):len(out)], viewComms)
	}
	return out
}

// tabKey is the key that opens a view's tab.
func (m *Model) tabKey(v viewID) string {
	switch v {
	case viewOverview:
		return "1"
	case viewAlerts:
		return "2"
	case viewTimeline:
		return "3"
	case viewRoles:
		return "4"
	case viewRuns:
		return "5"
	case viewLaunch:
		return "6"
	case viewComms:
		return "7"
	}
	return ""
}

// offeredToMe: a command offer waits for this person (A accepts it).
func (m *Model) offeredToMe() bool {
	return m.st != nil && m.st.Roles.Offer != nil && m.st.Roles.Offer.To == m.me
}

func (m *Model) setView(v viewID) {
	if (v == viewDetail || v == viewRecord) && m.view != v {
		m.back = m.view
	}
	m.view = v
	m.invalidate()
}

func (m *Model) cycleView(d int) {
	tabs := m.tabs()
	cur := 0
	for i, v := range tabs {
		if v == m.view {
			cur = i
		}
	}
	m.setView(tabs[(cur+d+len(tabs))%len(tabs)])
}

func (m *Model) openDetail(service string) {
	m.detail = service
	for i := range m.cfg.Services {
		if m.cfg.Services[i].ID == service {
			m.sel = i
		}
	}
	m.setView(viewDetail)
}

// contextService is the service the current view is about, if any.
func (m *Model) contextService() string {
	switch m.view {
	case viewDetail:
		return m.detail
	case viewTimeline:
		return m.tl.service
	}
	return ""
}

// clampSelections keeps the overview cursor inside its list; the lists
// keep theirs by identity (see cursor).
func (m *Model) clampSelections() {
	m.sel = clamp(m.sel, 0, len(m.cfg.Services)-1)
}

func (m *Model) overviewKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	n := len(m.cfg.Services)
	if n == 0 {
		return nil
	}
	l := m.layout()
	g := gridLayout(n, l.w, l.bodyH)
	switch {
	case key.Matches(msg, k.Left):
		m.sel = clamp(m.sel-1, 0, n-1)
	case key.Matches(msg, k.Right):
		m.sel = clamp(m.sel+1, 0, n-1)
	case key.Matches(msg, k.Up):
		if m.sel-g.cols >= 0 {
			m.sel -= g.cols
		}
	case key.Matches(msg, k.Down):
		if m.sel+g.cols < n {
			m.sel += g.cols
		} else if m.sel/g.cols < (n-1)/g.cols {
			m.sel = n - 1
		}
	case key.Matches(msg, k.Top):
		m.sel = 0
	case key.Matches(msg, k.Bottom):
		m.sel = n - 1
	case key.Matches(msg, k.PageDown):
		m.sel = clamp(m.sel+g.cols*max(g.visRows, 1), 0, n-1)
	case key.Matches(msg, k.PageUp):
		m.sel = clamp(m.sel-g.cols*max(g.visRows, 1), 0, n-1)
	case key.Matches(msg, k.Open):
		m.openDetail(m.cfg.Services[m.sel].ID)
	case key.Matches(msg, k.Ack):
		return m.ackOldest(m.cfg.Services[m.sel].ID)
	case key.Matches(msg, k.AckService):
		return m.ackService(m.cfg.Services[m.sel].ID)
	}
	m.ovTop = g.scrollFor(m.sel, m.ovTop)
	return nil
}

func (m *Model) detailKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Back):
		m.setView(m.back)
	case key.Matches(msg, k.PrevService, k.Left):
		m.stepService(-1)
	case key.Matches(msg, k.NextService, k.Right):
		m.stepService(1)
	case key.Matches(msg, k.Ack):
		return m.ackOldest(m.detail)
	case key.Matches(msg, k.AckService):
		return m.ackService(m.detail)
	}
	return nil
}

func (m *Model) stepService(d int) {
	n := len(m.cfg.Services)
	if n == 0 {
		return
	}
	i := 0
	for j := range m.cfg.Services {
		if m.cfg.Services[j].ID == m.detail {
			i = j
		}
	}
	i = (i + d + n) % n
	m.detail = m.cfg.Services[i].ID
	m.sel = i
}

// listMove applies navigation keys to a cursor over n rows with page
// size page; ok reports that the key was a navigation key.
func (m *Model) listMove(msg tea.KeyPressMsg, cur, n, page int) (int, bool) {
	k := m.keys
	switch {
	case key.Matches(msg, k.Up):
		return clamp(cur-1, 0, n-1), true
	case key.Matches(msg, k.Down):
		return clamp(cur+1, 0, n-1), true
	case key.Matches(msg, k.PageUp):
		return clamp(cur-page, 0, n-1), true
	case key.Matches(msg, k.PageDown):
		return clamp(cur+page, 0, n-1), true
	case key.Matches(msg, k.Top):
		return 0, true
	case key.Matches(msg, k.Bottom):
		return max(n-1, 0), true
	}
	return cur, false
}

// moveCursor applies navigation keys to an identity cursor.
func (m *Model) moveCursor(msg tea.KeyPressMsg, c *cursor, ids []string) bool {
	page := max(m.layout().bodyH-3, 1)
	i, ok := m.listMove(msg, max(c.at(ids), 0), len(ids), page)
	if ok {
		c.set(ids, i)
	}
	return ok
}

func (m *Model) alertsKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	rows := m.alertList()
	ids := alertIDs(rows)
	if m.moveCursor(msg, &m.alerts, ids) {
		return nil
	}
	if key.Matches(msg, k.Back) && m.alertsF.active() {
		m.alertsF.set("")
		return nil
	}
	i := m.alerts.at(ids)
	if i < 0 {
		if key.Matches(msg, k.Ack, k.AckService, k.Resolve, k.Open) {
			return m.refuse(errors.New("there are no open alerts"))
		}
		return nil
	}
	r := rows[i]
	a := r.a
	switch {
	case key.Matches(msg, k.Right) && r.size > 1 && !r.member:
		if m.alertOpen == nil {
			m.alertOpen = map[string]bool{}
		}
		m.alertOpen[r.key] = true
	case key.Matches(msg, k.Left) && r.group != nil && (r.member || m.alertOpen[r.group.Key]):
		delete(m.alertOpen, r.group.Key)
		m.alerts.id = r.group.Key // back on the group's own row
	case key.Matches(msg, k.Ack):
		return m.ackAlert(a)
	case key.Matches(msg, k.AckService):
		return m.ackService(a.Service)
	case key.Matches(msg, k.Resolve):
		return m.resolveAlert(a)
	case key.Matches(msg, k.Open):
		m.openRecord(record{kind: recAlert, id: a.ID})
	case key.Matches(msg, k.Service):
		if a.Service != "" {
			m.openDetail(a.Service)
		}
	}
	return nil
}

func (m *Model) rolesKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	slots := m.slots()
	ids := slotIDs(slots)
	if m.moveCursor(msg, &m.roleCur, ids) {
		return nil
	}
	if key.Matches(msg, k.Back) && m.rosterF.active() {
		m.rosterF.set("")
		return nil
	}
	i := m.roleCur.at(ids)
	if i < 0 {
		return nil
	}
	s := slots[i]
	switch {
	case key.Matches(msg, k.Assign):
		return m.startAssign(s)
	case key.Matches(msg, k.Unassign):
		return m.clearSlot(s)
	case key.Matches(msg, k.Offer):
		return m.startOffer()
	case key.Matches(msg, k.Resolve):
		return m.refuse(errors.New("x resolves alerts and runs; u unassigns a role"))
	}
	return nil
}

// onClick: a click on a tab switches views, on a pane opens it, on a row
// selects it.
func (m *Model) onClick(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft {
		return nil
	}
	if m.overlay != overlayNone {
		if m.overlay != overlayInput && m.overlay != overlayFilter && m.overlay != overlayQuit {
			m.closeOverlay()
		}
		return nil
	}
	l := m.layout()
	if ms.Y == 1 {
		for _, t := range m.tabRanges(l.w) {
			if ms.X >= t.x0 && ms.X < t.x1 {
				m.setView(t.view)
			}
		}
		return nil
	}
	y := ms.Y - l.bodyTop
	if y < 0 || y >= l.bodyH || m.st == nil {
		return nil
	}
	switch m.view {
	case viewOverview:
		g := gridLayout(len(m.cfg.Services), l.w, l.bodyH)
		if i := g.hit(ms.X, y, m.ovTop); i >= 0 && i < len(m.cfg.Services) {
			m.sel = i
			m.openDetail(m.cfg.Services[i].ID)
		}
	case viewAlerts:
		if id := m.alertAtLine(y); id != "" {
			m.alerts.id = id
		}
	case viewTimeline:
		rows := m.timelineRows()
		if y >= 1 && y-1 < len(m.tl.lineRow) {
			if i := m.tl.lineRow[y-1]; i >= 0 && i < len(rows) {
				m.tl.cur.set(m.timelineIDs(rows), i)
				m.tl.follow = i == len(rows)-1
			}
		}
	case viewRoles:
		ids := slotIDs(m.slots())
		if i := m.roleCur.top + y - 1; y >= 1 && i < len(ids) {
			m.roleCur.set(ids, i)
		}
	case viewRuns:
		ids := runIDs(m.runRows())
		if i := m.runCur.top + y - 2; y >= 2 && i < len(ids) {
			m.runCur.set(ids, i)
		}
	}
	return nil
}

func (m *Model) onWheel(ms tea.Mouse) tea.Cmd {
	d := 0
	switch ms.Button {
	case tea.MouseWheelUp:
		d = -1
	case tea.MouseWheelDown:
		d = 1
	default:
		return nil
	}
	if m.st == nil || m.overlay != overlayNone {
		return nil
	}
	step := func(c *cursor, ids []string, by int) {
		if i := c.at(ids); i >= 0 {
			c.set(ids, i+by)
		}
	}
	switch m.view {
	case viewTimeline:
		rows := m.timelineRows()
		ids := m.timelineIDs(rows)
		step(&m.tl.cur, ids, d*3)
		m.tl.follow = m.tl.cur.at(ids) == len(ids)-1
	case viewAlerts:
		step(&m.alerts, alertIDs(m.alertList()), d)
	case viewRoles:
		step(&m.roleCur, slotIDs(m.slots()), d)
	case viewRuns:
		step(&m.runCur, runIDs(m.runRows()), d)
	case viewRecord:
		m.rec.top = max(m.rec.top+d*3, 0)
	case viewOverview:
		m.sel = clamp(m.sel+d, 0, len(m.cfg.Services)-1)
	}
	return nil
}
