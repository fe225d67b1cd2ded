package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
)

// renderHelp draws the `?` dialog: the bindings of this view, navigation
// and global keys (bubbles help), then the actions this person may not
// take, each with the reason.
func (m *Model) renderHelp(w, h int) []string {
	s := m.sty
	k := m.keys
	bw := clamp(w-4, 30, 110)
	inner := bw - 4
	m.help.SetWidth(inner)
	g := k.helpGlobal()
	half := (len(g) + 1) / 2
	groups := [][]key.Binding{k.viewKeys(m.view), g[:half], g[half:]}
	body := strings.Split(m.help.FullHelpView(groups), "\n")
	var content []string
	content = append(content, s.Muted.S(viewNames[m.view]+" keys · global keys"))
	content = append(content, body...)
	content = append(content, "", m.help.ShortHelpView(k.navKeys()))
	var off []string
	for _, a := range m.actions() {
		if a.err != nil && !a.repeat {
			off = append(off, s.Disabled.S("✗ "+a.title+": "+reasonOf(a.err)))
		}
	}
	if len(off) > 0 {
		content = append(content, "", s.Bold.S("Not available to you ("+m.me+")"))
		room := max(h-4-len(content), 1)
		if len(off) > room {
			off = append(off[:room-1], s.Muted.S("… "+itoa(len(off)-room+1)+" more in the palette (ctrl+p)"))
		}
		content = append(content, off...)
	}
	if len(content) > h-2 {
		content = content[:max(h-2, 1)]
	}
	for i := range content {
		content[i] = fit(content[i], inner)
	}
	return m.frame(content, bw, len(content)+2, " "+s.Title.S("Help")+" ", s.Muted.S(" esc close "), true)
}
