package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
)

// lineInput is a one-line text editor. (bubbles/textinput would pull a
// clipboard module this build does not carry; this is all we need.)
type lineInput struct {
	Prompt      string
	Placeholder string
	CharLimit   int
	value       []rune
	pos         int
	width       int
	sty         *Styles
}

func (li *lineInput) Value() string { return string(li.value) }

func (li *lineInput) SetValue(s string) {
	li.value = []rune(s)
	li.pos = len(li.value)
}

func (li *lineInput) SetWidth(w int) { li.width = w }

func (li *lineInput) insert(s string) {
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			rs = append(rs, ' ')
		case unicode.IsControl(r):
		default:
			rs = append(rs, r)
		}
	}
	if li.CharLimit > 0 && len(li.value)+len(rs) > li.CharLimit {
		rs = rs[:max(li.CharLimit-len(li.value), 0)]
	}
	v := make([]rune, 0, len(li.value)+len(rs))
	v = append(v, li.value[:li.pos]...)
	v = append(v, rs...)
	v = append(v, li.value[li.pos:]...)
	li.value = v
	li.pos += len(rs)
}

// Update edits the line; it reports whether the value changed.
func (li *lineInput) Update(msg tea.Msg) bool {
	before := string(li.value)
	switch msg := msg.(type) {
	case tea.PasteMsg:
		li.insert(msg.Content)
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			if li.pos > 0 {
				li.value = append(li.value[:li.pos-1], li.value[li.pos:]...)
				li.pos--
			}
		case "delete", "ctrl+d":
			if li.pos < len(li.value) {
				li.value = append(li.value[:li.pos], li.value[li.pos+1:]...)
			}
		case "left", "ctrl+b":
			li.pos = max(li.pos-1, 0)
		case "right", "ctrl+f":
			li.pos = min(li.pos+1, len(li.value))
		case "home", "ctrl+a":
			li.pos = 0
		case "end", "ctrl+e":
			li.pos = len(li.value)
		case "ctrl+u":
			li.value = li.value[li.pos:]
			li.pos = 0
		case "ctrl+k":
			li.value = li.value[:li.pos]
		case "ctrl+w", "alt+backspace":
			i := li.pos
			for i > 0 && li.value[i-1] == ' ' {
				i--
			}
			for i > 0 && li.value[i-1] != ' ' {
				i--
			}
			li.value = append(li.value[:i], li.value[li.pos:]...)
			li.pos = i
		case "space":
			li.insert(" ")
		default:
			if msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
				li.insert(msg.Text)
			}
		}
	}
	return string(li.value) != before
}

// View is the prompt and the visible part of the text with a block cursor.
func (li *lineInput) View() string {
	s := li.sty
	prompt := s.Accent.S(li.Prompt)
	if len(li.value) == 0 && li.Placeholder != "" {
		return prompt + s.Selected.S(" ") + s.Muted.S(li.Placeholder)
	}
	w := li.width
	if w <= 0 {
		w = 1 << 30
	}
	// Scroll so the cursor stays visible.
	start := 0
	if li.pos >= w {
		start = li.pos - w + 1
	}
	end := min(len(li.value), start+w)
	var sb strings.Builder
	sb.WriteString(prompt)
	sb.WriteString(s.Text.S(string(li.value[start:li.pos])))
	cur := " "
	if li.pos < len(li.value) {
		cur = string(li.value[li.pos])
	}
	if s.Plain {
		sb.WriteString("_")
		if li.pos < len(li.value) {
			sb.WriteString(s.Text.S(cur))
		}
	} else {
		sb.WriteString(s.Cursor.S(cur))
	}
	if li.pos < end {
		sb.WriteString(s.Text.S(string(li.value[li.pos+1 : end])))
	}
	return sb.String()
}
