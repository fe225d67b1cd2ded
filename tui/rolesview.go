package tui

import (
	"strings"

	"github.com/warroom/warroom/roles"
)

// slot is one role that can be held: an incident role or a service's
// owner/backup.
type slot struct {
	role    roles.Role
	service string
}

func (s slot) label(m *Model) string {
	if s.service == "" {
		return string(s.role)
	}
	return string(s.role) + " of " + m.serviceName(s.service)
}

func (s slot) id() string { return string(s.role) + "|" + s.service }

func slotIDs(slots []slot) []string {
	ids := make([]string, len(slots))
	for i, s := range slots {
		ids[i] = s.id()
	}
	return ids
}

// slots lists every role in the roles view's order, filtered by `/`.
func (m *Model) slots() []slot {
	out := make([]slot, 0, 4+2*len(m.cfg.Services))
	add := func(s slot) {
		if m.rosterF.active() && m.st != nil && !m.rosterF.match(s.label(m)+" "+m.st.Roles.Holder(s.role, s.service)) {
			return
		}
		out = append(out, s)
	}
	for _, r := range roles.IncidentRoles {
		add(slot{role: r})
	}
	for i := range m.cfg.Services {
		id := m.cfg.Services[i].ID
		add(slot{role: roles.Owner, service: id})
		add(slot{role: roles.Backup, service: id})
	}
	return out
}

// connected is how a person is in the room now ("ssh, slack"), or "".
func (m *Model) connected(handle string) string {
	if m.st == nil {
		return ""
	}
	return strings.Join(m.st.Connected(handle), ", ")
}

func (m *Model) renderRoles(w, h int) []string {
	s := m.sty
	slots := m.slots()
	// The slots' pane is as wide as its longest label and holder need
	// (labels are whole at 80 columns), leaving the roster at least 30.
	labW, holdW := 8, len("— unassigned")
	for _, sl := range slots {
		labW = max(labW, width(sl.label(m)))
		holdW = max(holdW, min(width(m.st.Roles.Holder(sl.role, sl.service))+len(" (you)"), 16))
	}
	lw := clamp(1+labW+1+holdW, max(w*48/100, 30), max(w-31, 30))
	rw := w - lw - 1

	left := newBlock(lw)
	head := []seg{{s.Bold.S("Roles"), 100}, {s.Muted.S("· enter assign · u unassign · o offer command"), 10}}
	if m.rosterF.active() {
		head = []seg{{s.Bold.S("Roles"), 100}, {s.Muted.S("· filter ") + s.Key.S(m.rosterF.q), 90}, {s.Muted.S("· esc clears"), 10}}
	}
	left.add(bar(head, " ", lw))
	ids := slotIDs(slots)
	sel := m.roleCur.at(ids)
	// What the selected slot allows this person to do.
	foot := ""
	if sel >= 0 {
		sl := slots[sel]
		act := roles.ActAssign
		if sl.role == roles.Commander {
			act = roles.ActOfferCommand
		}
		if err := m.check(act, sl.service); err != nil {
			foot = s.Disabled.S("✗ " + reasonOf(err))
		} else if sl.role == roles.Commander {
			foot = s.Muted.S("enter/o offers command; it changes hands when accepted")
		} else {
			foot = s.Muted.S("enter assigns " + sl.label(m) + " · u unassigns it")
		}
	}
	// The footer wraps (a refusal's reason is the point of it).
	footLines := wrapLines(foot, lw, 2)
	if len(footLines) == 0 {
		footLines = []string{""}
	}
	vis := h - 1 - len(footLines)
	top := m.roleCur.view(ids, vis)
	labW = min(labW, max(lw-2-holdW, lw/2))
	label := func(sl slot) string {
		if l := sl.label(m); width(l) <= labW || sl.service == "" {
			return l
		}
		return string(sl.role) + " of " + sl.service // the id when the name does not fit
	}
	for i := top; i < len(slots) && i < top+vis; i++ {
		sl := slots[i]
		holder := m.st.Roles.Holder(sl.role, sl.service)
		hs := s.Text.S(holder)
		if holder == "" {
			hs = s.Muted.S("— unassigned")
		}
		if holder != "" && holder == m.me {
			hs += s.Accent.S(" (you)")
		}
		if sl.role == roles.Commander {
			if o := m.st.Roles.Offer; o != nil {
				hs += s.Level[sevWarn].S(" → offered to " + o.To)
			}
		}
		line := " " + s.Muted.S(fit(label(sl), labW)) + " " + hs
		if i == sel {
			line = s.selectLine(line, lw)
		}
		left.add(line)
	}
	if len(slots) == 0 {
		left.add(" " + s.Muted.S("no role matches the filter"))
	}
	lines := left.render(h - len(footLines))
	for _, l := range footLines {
		lines = append(lines, fit(l, lw))
	}

	right := newBlock(rw)
	var people []roles.Person
	for _, p := range m.roster.People() {
		if m.rosterF.active() && !m.rosterF.match(p.Handle+" "+p.Name+" "+strings.Join(m.st.Roles.RolesOf(p.Handle), " ")+" "+m.connected(p.Handle)) {
			continue
		}
		people = append(people, p)
	}
	online := len(m.st.ConnectedPeople())
	right.add(s.Bold.S("Roster") + s.Muted.S(" ("+itoa(len(people))+") · ") + s.Level[sevOK].S("● "+itoa(online)+" connected"))
	hw, nw, cw := 5, 4, 1
	for _, p := range people {
		hw = max(hw, width(p.Handle))
		nw = max(nw, width(p.Name))
		cw = max(cw, width(m.connected(p.Handle))+2)
	}
	hw, nw = min(hw, 12), min(nw, max(18, rw/4))
	if rw < 64 {
		nw = 0 // names give way to roles on a narrow screen
	}
	for _, p := range people {
		rs := m.st.Roles.RolesOf(p.Handle)
		role := s.Muted.S("observer")
		if len(rs) > 0 {
			role = s.Text.S(strings.Join(rs, ", "))
		}
		if o := m.st.Roles.Offer; o != nil && o.To == p.Handle {
			role += s.Level[sevWarn].S(" · offered command")
		}
		me := " "
		if p.Handle == m.me {
			me = s.Accent.S("•")
		}
		on := s.Muted.S(fit("○", cw))
		if c := m.connected(p.Handle); c != "" {
			on = s.Level[sevOK].S(fit("● "+c, cw))
		}
		name := ""
		if nw > 0 {
			name = s.Muted.S(fit(p.Name, nw)) + " "
		}
		// Roles wrap under themselves rather than being cut.
		lead := me + s.Bold.S(fit(p.Handle, hw)) + " " + on + " " + name
		pad := strings.Repeat(" ", width(lead))
		for i, l := range wrapLines(role, max(rw-width(lead), 8), 3) {
			if i == 0 {
				right.add(lead + l)
			} else {
				right.add(pad + l)
			}
		}
	}
	return hjoin(s.Subtle.S("│"), lines, right.render(h))
}
