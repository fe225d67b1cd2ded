package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

func (m *Model) openHelp() {
	m.overlay = overlayHelp
	m.helpTop = 0
	m.invalidate()
}

func (m *Model) helpKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Help, k.Back, k.Quit) || msg.String() == "enter":
		m.closeOverlay()
	case key.Matches(msg, k.Up):
		m.helpTop--
	case key.Matches(msg, k.Down):
		m.helpTop++
	case key.Matches(msg, k.PageUp):
		m.helpTop -= 10
	case key.Matches(msg, k.PageDown) || msg.String() == "space":
		m.helpTop += 10
	case key.Matches(msg, k.Top):
		m.helpTop = 0
	}
	m.helpTop = max(m.helpTop, 0)
	return nil
}

// helpLines is the `?` dialog's content: first what this person can do
// here and now, then the keys of this view and the global keys, then the
// actions they may not take, each with the reason.
func (m *Model) helpLines(inner int) []string {
	s := m.sty
	k := m.keys
	var out []string
	var can, off []string
	for _, a := range m.actions() {
		if a.repeat {
			continue
		}
		if a.err != nil {
			off = append(off, s.Disabled.S("✗ "+a.title+": "+reasonOf(a.err)))
			continue
		}
		if strings.HasPrefix(a.title, "Go to ") || strings.HasPrefix(a.title, "Open ") || a.title == "Toggle dark/light theme" || a.title == "Help: all keys" || a.title == "Quit" {
			continue
		}
		line := s.Text.S(a.title)
		if a.key != "" {
			line = s.Key.S(fit(a.key, 9)) + " " + line
		} else {
			line = strings.Repeat(" ", 10) + line
		}
		can = append(can, line)
	}
	out = append(out, s.Bold.S("What you ("+m.me+") can do now"))
	if len(can) == 0 {
		out = append(out, s.Muted.S("look around: as an observer you see everything and change nothing"))
	}
	out = append(out, can...)
	m.help.SetWidth(inner)
	g := k.helpGlobal()
	half := (len(g) + 1) / 2
	groups := [][]key.Binding{k.viewKeys(m.view), g[:half], g[half:]}
	out = append(out, "", s.Bold.S(viewNames[m.view]+" keys · global keys"))
	out = append(out, strings.Split(m.help.FullHelpView(groups), "\n")...)
	out = append(out, "", m.help.ShortHelpView(k.navKeys()))
	if len(off) > 0 {
		out = append(out, "", s.Bold.S("Not available to you, and why"))
		out = append(out, off...)
	}
	return out
}

// renderHelp draws the `?` dialog, scrolled to helpTop.
func (m *Model) renderHelp(w, h int) []string {
	s := m.sty
	bw := clamp(w-4, 30, 110)
	inner := bw - 4
	all := m.helpLines(inner)
	rows := max(h-2, 1)
	top := clamp(m.helpTop, 0, max(len(all)-rows, 0))
	m.helpTop = top
	content := all[top:min(top+rows, len(all))]
	for i := range content {
		content[i] = fit(content[i], inner)
	}
	tag := " esc close "
	if len(all) > rows {
		tag = " " + itoa(top+1) + "-" + itoa(top+len(content)) + "/" + itoa(len(all)) + " ↑↓ scroll · esc close "
	}
	return m.frame(content, bw, len(content)+2, " "+s.Title.S("Help")+" ", s.Muted.S(tag), true)
}
