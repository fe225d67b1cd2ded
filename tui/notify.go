package tui

import (
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/textsafe"
)

// Terminal notifications: what asks this person to act now rings the
// terminal's bell and sends a desktop notification, so someone looking at
// another window learns it. What rings: a new CRIT on a service they own
// or back up, a page to them, a run or public update waiting for their
// approval, command offered to them. Events of the snapshot (the backlog
// when the dashboard opens) ring nothing. --quiet, the SSH command
// `quiet`, or notify: false in the person's roster entry turn it off.
//
// The desktop notification is OSC 9 (iTerm2, WezTerm, Ghostty, Windows
// Terminal, kitty; others ignore it) or, for rxvt and foot, which do not
// take OSC 9, OSC 777 ("notify"): one of the two, since terminals that know
// both would show it twice. A storm rings once: at most one notification
// per notifyEvery, the next one counting what was held back.

// notifyEvery is the least time between two notifications.
const notifyEvery = 5 * time.Second

// maxNotice bounds a notification's text.
const maxNotice = 200

type notices struct {
	last time.Time
	held int
}

// notifying reports whether this dashboard rings at all.
func (m *Model) notifying() bool {
	if m.o.Quiet {
		return false
	}
	p := m.cfg.Person(m.me)
	return p == nil || p.Notifies()
}

// mine reports whether the person owns or backs up service svc.
func (m *Model) mine(svc string) bool {
	o := m.st.Roles.Services[svc]
	return svc != "" && (o.Primary == m.me || o.Backup == m.me)
}

// critNotices lists new CRITs on the person's services in u, read against
// the state before u is applied (an alert already crit is not new).
func (m *Model) critNotices(u incident.Update) []string {
	var out []string
	for _, ev := range u.Events {
		a := ev.Alert
		if ev.Seq <= m.st.LastSeq || ev.Kind != incident.KindAlert || a == nil || a.Level != incident.LevelCrit || a.Silenced != "" || !m.mine(ev.Service) {
			continue
		}
		if prev := m.st.Alerts[a.ID]; prev != nil && prev.Level == incident.LevelCrit {
			continue
		}
		out = append(out, "CRIT on "+ev.Service+": "+ev.Text)
	}
	return out
}

// actNotices lists what in u waits for the person, read against the state
// after u is applied.
func (m *Model) actNotices(u incident.Update) []string {
	var out []string
	for _, ev := range u.Events {
		switch {
		case ev.Kind == incident.KindPage && ev.Page != nil && ev.Page.To == m.me:
			out = append(out, "you are paged: "+strings.TrimPrefix(ev.Text, "paging "+m.me+": "))
		case ev.Kind == incident.KindOffer && ev.Role != nil && ev.Role.Handle == m.me:
			out = append(out, ev.Actor+" offers you command")
		case ev.Kind == incident.KindRun && ev.Run != nil && ev.Run.State == incident.RunAwaitingApproval:
			for _, r := range m.approvals() {
				if r.ID == ev.Run.ID {
					out = append(out, r.ID+" "+r.Playbook+" by "+r.Actor+" waits for your approval")
				}
			}
		case ev.Kind == incident.KindUpdate && ev.Update != nil && ev.Update.State == incident.UpdateAwaiting && m.st.MayApproveUpdate(m.roster, m.me) == nil:
			out = append(out, "public update "+ev.Update.ID+" by "+ev.Actor+" waits for your approval")
		}
	}
	return out
}

// notify rings for what the last feed brought, within the rate.
func (m *Model) notify(texts []string) tea.Cmd {
	if len(texts) == 0 {
		return nil
	}
	n := &m.notices
	if !n.last.IsZero() && m.now.Sub(n.last) < notifyEvery {
		n.held += len(texts)
		return nil
	}
	text := texts[0]
	if more := len(texts) - 1 + n.held; more > 0 {
		text += " (+" + itoa(more) + " more)"
	}
	n.last, n.held = m.now, 0
	return tea.Raw(Notification(m.o.Term, text))
}

// Notification is the bell and the desktop notification for text, for a
// terminal of this TERM. The text is made one inert line: no escape,
// control or bidi character can end the sequence or act on the terminal.
func Notification(term, text string) string {
	t := textsafe.Line(text)
	if r := []rune(t); len(r) > maxNotice {
		t = string(r[:maxNotice-1]) + "…"
	}
	if strings.HasPrefix(term, "rxvt") || strings.HasPrefix(term, "foot") {
		// OSC 777 separates its fields with ';'.
		return "\a" + ansi.URxvtExt("notify", "warroom", strings.ReplaceAll(t, ";", ","))
	}
	return "\a" + ansi.Notify("warroom: "+t)
}
