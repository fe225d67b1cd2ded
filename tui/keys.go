package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the TUI, by action name. The help screen
// and the command palette are built from it.
type KeyMap struct {
	// Views and global actions.
	Overview, Alerts, Timeline, Roles key.Binding
	NextView, PrevView                key.Binding
	Palette, Help, Back, Quit         key.Binding
	Note, Accept, Decline, Theme      key.Binding

	// Navigation.
	Up, Down, Left, Right    key.Binding
	PageUp, PageDown         key.Binding
	Top, Bottom, Open        key.Binding
	PrevService, NextService key.Binding

	// Alerts.
	Ack, AckService, Resolve key.Binding

	// Timeline.
	FilterService, FilterKind, FilterImportant, MarkImportant key.Binding

	// Roles.
	Assign, Clear, Offer key.Binding
}

// DefaultKeyMap returns the default bindings.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Overview: b("1", "overview", "1"),
		Alerts:   b("2", "alerts", "2"),
		Timeline: b("3", "timeline", "3"),
		Roles:    b("4", "roles", "4"),
		NextView: b("tab", "next view", "tab"),
		PrevView: b("shift+tab", "previous view", "shift+tab"),
		Palette:  b("ctrl+p/:", "command palette", "ctrl+p", ":"),
		Help:     b("?", "help", "?"),
		Back:     b("esc", "back / close", "esc"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Note:     b("n", "add a note", "n"),
		Accept:   b("A", "accept command offer", "A"),
		Decline:  b("D", "decline / withdraw offer", "D"),
		Theme:    b("t", "dark/light theme", "t"),

		Up:          b("↑/k", "up", "up", "k"),
		Down:        b("↓/j", "down", "down", "j"),
		Left:        b("←/h", "left", "left", "h"),
		Right:       b("→/l", "right", "right", "l"),
		PageUp:      b("pgup", "page up", "pgup"),
		PageDown:    b("pgdn", "page down", "pgdown"),
		Top:         b("g/home", "first", "g", "home"),
		Bottom:      b("G/end", "last (follow)", "G", "end"),
		Open:        b("enter", "open", "enter"),
		PrevService: b("[", "previous service", "["),
		NextService: b("]", "next service", "]"),

		Ack:        b("a", "ack alert", "a"),
		AckService: b("B", "ack all of service", "B"),
		Resolve:    b("x", "resolve alert", "x"),

		FilterService:   b("s", "filter service", "s"),
		FilterKind:      b("f", "filter kind", "f"),
		FilterImportant: b("i", "important only", "i"),
		MarkImportant:   b("m", "mark important", "m"),

		Assign: b("enter", "assign role", "enter"),
		Clear:  b("x", "clear role", "x"),
		Offer:  b("o", "offer command", "o"),
	}
}

func (k KeyMap) navKeys() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Left, k.Right, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open}
}

// viewKeys are the bindings specific to a view.
func (k KeyMap) viewKeys(v viewID) []key.Binding {
	switch v {
	case viewOverview:
		return []key.Binding{k.Open, k.Ack, k.AckService}
	case viewDetail:
		return []key.Binding{k.Ack, k.AckService, k.PrevService, k.NextService, k.Back}
	case viewAlerts:
		expand := k.Right
		expand.SetHelp("→/←", "expand/fold group")
		return []key.Binding{k.Ack, k.AckService, k.Resolve, k.Open, expand}
	case viewTimeline:
		return []key.Binding{k.FilterService, k.FilterKind, k.FilterImportant, k.MarkImportant, k.Note, k.Bottom}
	case viewRoles:
		return []key.Binding{k.Assign, k.Clear, k.Offer, k.Accept, k.Decline}
	}
	return nil
}

// helpGlobal is the global keys as the help screen shows them: compact,
// with the view keys folded into one entry.
func (k KeyMap) helpGlobal() []key.Binding {
	h := func(b key.Binding, keyText, desc string) key.Binding {
		b.SetHelp(keyText, desc)
		return b
	}
	return []key.Binding{
		h(k.Overview, "1-4", "switch view"),
		h(k.NextView, "tab", "next view"),
		h(k.Palette, "ctrl+p/:", "palette"),
		h(k.Help, "?", "this help"),
		h(k.Note, "n", "add a note"),
		h(k.Accept, "A", "accept offer"),
		h(k.Decline, "D", "decline offer"),
		h(k.Theme, "t", "theme"),
		h(k.Back, "esc", "back"),
		h(k.Quit, "q", "quit"),
	}
}
