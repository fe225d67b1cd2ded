package tui

import (
	"sort"
	"strings"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// choice is one row of a chooser: a palette action or a person.
type choice struct {
	label  string
	hint   string // right-aligned: key or roles
	value  string
	reason string // non-empty: disabled, and why
	act    *action
}

// chooser is a filterable list in a dialog: the command palette and the
// person picker.
type chooser struct {
	title string
	input lineInput
	items []choice
	shown []int
	sel   int
	pick  func(m *Model, c choice) tea.Cmd
	// dialog, when set, is a form in this overlay slot instead of a list.
	dialog dialog
}

func (m *Model) newTextInput(prompt string) lineInput {
	return lineInput{Prompt: prompt, sty: m.sty}
}

func (m *Model) openChooser(title string, items []choice, pick func(m *Model, c choice) tea.Cmd) {
	c := &chooser{title: title, items: items, pick: pick, input: m.newTextInput("> ")}
	c.input.Placeholder = "type to filter"
	c.refilter()
	m.chooser = c
	m.overlay = overlayChooser
	m.invalidate()
}

// openPalette lists every action, disabled ones with the reason.
func (m *Model) openPalette() {
	acts := m.actions()
	items := make([]choice, len(acts))
	for i := range acts {
		a := &acts[i]
		items[i] = choice{label: a.title, hint: a.key, act: a, reason: reasonOf(a.err)}
	}
	m.openChooser("Actions", items, func(m *Model, c choice) tea.Cmd { return c.act.run(m) })
}

func (c *chooser) refilter() {
	q := strings.TrimSpace(c.input.Value())
	c.shown = c.shown[:0]
	if q == "" {
		for i := range c.items {
			c.shown = append(c.shown, i)
		}
	} else {
		scores := map[int]int{}
		for i, it := range c.items {
			if s, ok := fuzzy(q, it.label+" "+it.value); ok {
				if it.reason != "" {
					s -= 500 // what one may not do ranks below what one may, on equal terms
				}
				scores[i] = s
				c.shown = append(c.shown, i)
			}
		}
		sort.SliceStable(c.shown, func(a, b int) bool { return scores[c.shown[a]] > scores[c.shown[b]] })
	}
	c.sel = clamp(c.sel, 0, len(c.shown)-1)
}

// fuzzy ranks s for query q, case-insensitively. Every word of q must
// match; a word matching a whole word of s ranks above one matching a
// word's start, which ranks above one inside a word, which ranks above
// letters scattered in order (so "waf" finds "WAF mode" before "priority
// fee"). Earlier and shorter matches break ties.
func fuzzy(q, s string) (int, bool) {
	words := strings.Fields(strings.ToLower(q))
	if len(words) == 0 {
		return 0, true
	}
	low := strings.ToLower(s)
	toks := strings.FieldsFunc(low, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	score := 0
	for _, w := range words {
		best := 0
		for i, t := range toks {
			switch {
			case t == w:
				best = max(best, 4000-i)
			case strings.HasPrefix(t, w):
				best = max(best, 3000-i)
			}
		}
		if best == 0 {
			if i := strings.Index(low, w); i >= 0 {
				best = 2000 - i
			} else if sc, ok := subsequence(w, low); ok {
				best = sc
			} else {
				return 0, false
			}
		}
		score += best
	}
	return score - len(s)/16, true
}

// subsequence scores w as letters of s in order (consecutive runs and
// word starts count more), below every other kind of match.
func subsequence(w, s string) (int, bool) {
	qs := []rune(w)
	score, qi, run := 0, 0, 0
	prev := ' '
	for _, r := range s {
		if qi == len(qs) {
			break
		}
		if r == qs[qi] {
			qi++
			run++
			score += 1 + run*2
			if !unicode.IsLetter(prev) && !unicode.IsDigit(prev) {
				score += 6
			}
		} else {
			run = 0
		}
		prev = r
	}
	if qi < len(qs) {
		return 0, false
	}
	return min(score, 1000), true
}

func (m *Model) onChooserKey(msg tea.KeyPressMsg) tea.Cmd {
	c := m.chooser
	if c.dialog != nil {
		return c.dialog.key(m, msg)
	}
	k := m.keys
	switch {
	case msg.String() == "esc":
		m.closeOverlay()
		return nil
	case msg.String() == "enter":
		if len(c.shown) == 0 {
			return nil
		}
		it := c.items[c.shown[c.sel]]
		m.closeOverlay()
		if it.reason != "" {
			m.setToast(toastError, "not allowed: "+it.reason)
			return nil
		}
		return c.pick(m, it)
	case key.Matches(msg, k.Up) && msg.String() != "k", msg.String() == "ctrl+p", msg.String() == "shift+tab":
		c.sel = clamp(c.sel-1, 0, len(c.shown)-1)
		return nil
	case key.Matches(msg, k.Down) && msg.String() != "j", msg.String() == "ctrl+n", msg.String() == "tab":
		c.sel = clamp(c.sel+1, 0, len(c.shown)-1)
		return nil
	case msg.String() == "pgup":
		c.sel = clamp(c.sel-8, 0, len(c.shown)-1)
		return nil
	case msg.String() == "pgdown":
		c.sel = clamp(c.sel+8, 0, len(c.shown)-1)
		return nil
	}
	if c.input.Update(msg) {
		c.sel = 0
		c.refilter()
	}
	return nil
}

func (m *Model) closeOverlay() {
	m.overlay = overlayNone
	m.chooser = nil
	m.inputFn = nil
	m.confirmFn = nil
	m.invalidate()
}

// renderChooser draws the dialog box.
func (m *Model) renderChooser(w, h int) []string {
	c := m.chooser
	if c.dialog != nil {
		return c.dialog.render(m, w, h)
	}
	s := m.sty
	bw := clamp(w-4, 20, 96)
	inner := bw - 4
	rows := clamp(len(c.shown), 1, h-6)
	c.input.SetWidth(inner - 3)
	var lines []string
	lines = append(lines, s.BorderFocus.S("╭─ ")+s.Title.S(c.title)+" "+s.BorderFocus.S(strings.Repeat("─", max(0, bw-5-width(c.title)))+"╮"))
	side := s.BorderFocus.S("│")
	row := func(t string) { lines = append(lines, side+" "+fit(t, inner)+" "+side) }
	row(c.input.View())
	row(s.Subtle.S(strings.Repeat("─", inner)))
	top := 0
	if c.sel >= rows {
		top = c.sel - rows + 1
	}
	if len(c.shown) == 0 {
		row(s.Muted.S("no match"))
	}
	for i := top; i < len(c.shown) && i < top+rows; i++ {
		it := c.items[c.shown[i]]
		label, hint := it.label, it.hint
		if it.reason != "" {
			hint = "✗ " + it.reason
		}
		lw := min(width(label), inner*3/5)
		hw := min(width(hint), inner-lw-3)
		text := fit(label, inner-hw-3) + " " + padLeft(trunc(hint, hw), hw)
		marker := "  "
		if i == c.sel {
			marker = "▶ "
		}
		switch {
		case i == c.sel:
			row(s.Selected.S(marker + fit(text, inner-2)))
		case it.reason != "":
			row(marker + s.Disabled.S(text))
		default:
			row(marker + s.Text.S(fit(label, inner-hw-3)) + " " + s.Muted.S(padLeft(trunc(hint, hw), hw)))
		}
	}
	n := len(c.shown)
	foot := "enter choose · esc close · ↑↓ move"
	if n > rows {
		foot = itoa(n) + " items · " + foot
	}
	lines = append(lines, s.BorderFocus.S("╰─ ")+s.Muted.S(trunc(foot, bw-6))+" "+s.BorderFocus.S(strings.Repeat("─", max(0, bw-5-width(trunc(foot, bw-6))))+"╯"))
	return lines
}

// openInput opens a one-line text input on the message line.
func (m *Model) openInput(label string, fn func(m *Model, text string) tea.Cmd) tea.Cmd {
	m.input = m.newTextInput(label + "> ")
	m.input.CharLimit = 4000
	m.inputFn = fn
	m.inputAt = label
	m.overlay = overlayInput
	m.invalidate()
	return nil
}

func (m *Model) onInputKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		m.closeOverlay()
		m.setToast(toastInfo, m.inputAt+" cancelled")
		return nil
	case "enter":
		fn, text := m.inputFn, m.input.Value()
		m.closeOverlay()
		if fn == nil {
			return nil
		}
		return fn(m, text)
	}
	m.input.Update(msg)
	return nil
}

// onOverlayMsg forwards non-key input (paste) to the active text input.
func (m *Model) onOverlayMsg(msg tea.Msg) tea.Cmd {
	switch m.overlay {
	case overlayInput:
		m.input.Update(msg)
	case overlayChooser:
		if d := m.chooser.dialog; d != nil {
			if p, ok := msg.(tea.PasteMsg); ok {
				d.paste(m, p)
			}
			return nil
		}
		m.chooser.input.Update(msg)
		m.chooser.refilter()
	}
	return nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
