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

// slots lists every role in the roles view's order.
func (m *Model) slots() []slot {
	out := make([]slot, 0, 4+2*len(m.cfg.Services))
	for _, r := range roles.IncidentRoles {
		out = append(out, slot{role: r})
	}
	for i := range m.cfg.Services {
		id := m.cfg.Services[i].ID
		out = append(out, slot{role: roles.Owner, service: id}, slot{role: roles.Backup, service: id})
	}
	return out
}

func (m *Model) renderRoles(w, h int) []string {
	s := m.sty
	lw := max(w*48/100, 30)
	rw := w - lw - 1
	slots := m.slots()

	left := newBlock(lw)
	left.add(s.Bold.S("Roles") + s.Muted.S(" · enter assign · x clear · o offer command"))
	vis := h - 2
	sel := clamp(m.roleSel, 0, len(slots)-1)
	top := scrollTo(sel, m.roleTop, vis, len(slots))
	const labW = 22
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
		line := " " + s.Muted.S(fit(sl.label(m), labW)) + " " + hs
		if i == sel {
			line = s.selectLine(line, lw)
		}
		left.add(line)
	}
	lines := left.render(h - 1)
	// What the selected slot allows this person to do.
	foot := ""
	if sel < len(slots) {
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
			foot = s.Muted.S("enter assigns " + sl.label(m) + " · x clears it")
		}
	}
	lines = append(lines, fit(foot, lw))

	right := newBlock(rw)
	people := m.roster.People()
	right.add(s.Bold.S("Roster") + s.Muted.S(" ("+itoa(len(people))+")"))
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
		right.add(me + s.Bold.S(fit(p.Handle, 8)) + " " + s.Muted.S(fit(p.Name, 18)) + " " + role)
	}
	return hjoin(s.Subtle.S("│"), lines, right.render(h))
}
