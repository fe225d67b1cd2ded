package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the TUI, by action name. The help screen
// and the command palette are built from it. One key means one thing in
// every view: x resolves (an alert, or an interrupted run), A approves or
// accepts, u unassigns, enter opens the selected item in full.
type KeyMap struct {
	// Views and global actions.
	Overview, Alerts, Timeline, Roles, Runs key.Binding
	Launch, Comms                           key.Binding
	NextView, PrevView                      key.Binding
	Palette, Help, Back, Quit               key.Binding
	Note, Accept, Decline, Theme            key.Binding
	Filter, Copy                            key.Binding

	// Navigation.
	Up, Down, Left, Right    key.Binding
	PageUp, PageDown         key.Binding
	Top, Bottom, Open        key.Binding
	PrevService, NextService key.Binding
	Service                  key.Binding

	// Alerts.
	Ack, AckService, Resolve key.Binding

	// Timeline.
	FilterService, FilterKind, FilterImportant, MarkImportant, FollowUp key.Binding

	// Roles.
	Assign, Unassign, Offer key.Binding

	// Runs.
	Cancel key.Binding

	// Launch.
	Decide, SignOff, Preflight, ImportLoad key.Binding

	// Comms.
	NewUpdate, SetStatus, Severity, Milestone key.Binding
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
		Runs:     b("5", "runs", "5"),
		Launch:   b("6", "launch board", "6"),
		Comms:    b("7", "comms: status, updates", "7"),
		NextView: b("tab", "next view", "tab"),
		PrevView: b("shift+tab", "previous view", "shift+tab"),
		Palette:  b("ctrl+p/:", "command palette", "ctrl+p", ":"),
		Help:     b("?", "help", "?"),
		Back:     b("esc", "back / close", "esc"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Note:     b("n", "add a note", "n"),
		Accept:   b("A", "approve run / accept offer", "A"),
		Decline:  b("D", "decline / withdraw offer", "D"),
		Theme:    b("t", "dark/light theme", "t"),
		Filter:   b("/", "filter this list", "/"),
		Copy:     b("y", "copy (OSC 52)", "y"),

		Up:          b("↑/k", "up", "up", "k"),
		Down:        b("↓/j", "down", "down", "j"),
		Left:        b("←/h", "left", "left", "h"),
		Right:       b("→/l", "right", "right", "l"),
		PageUp:      b("pgup", "page up", "pgup"),
		PageDown:    b("pgdn", "page down", "pgdown"),
		Top:         b("g/home", "first", "g", "home"),
		Bottom:      b("G/end", "last (follow)", "G", "end"),
		Open:        b("enter", "open in full", "enter"),
		PrevService: b("[", "previous service", "["),
		NextService: b("]", "next service", "]"),
		Service:     b("S", "open its service", "S"),

		Ack:        b("a", "ack alert", "a"),
		AckService: b("B", "ack all of service", "B"),
		Resolve:    b("x", "resolve", "x"),

		FilterService:   b("s", "filter service", "s"),
		FilterKind:      b("f", "filter kind", "f"),
		FilterImportant: b("i", "important only", "i"),
		MarkImportant:   b("m", "mark important", "m"),

		Assign:   b("enter", "assign role", "enter"),
		Unassign: b("u", "unassign role", "u"),
		Offer:    b("o", "offer command", "o"),

		Cancel: b("c", "cancel run", "c"),

		NewUpdate: b("w", "write a public update", "w"),
		SetStatus: b("s", "set the status", "s"),
		Severity:  b("v", "set the severity", "v"),
		Milestone: b("m", "mark a milestone", "m"),
		FollowUp:  b("F", "mark note as follow-up", "F"),

		Decide:     b("d", "decide: go, hold, abort", "d"),
		SignOff:    b("s", "sign off / withdraw", "s"),
		Preflight:  b("p", "run preflight", "p"),
		ImportLoad: b("i", "import load-test result", "i"),
	}
}

func (k KeyMap) navKeys() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Left, k.Right, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open}
}

// viewKeys are the bindings specific to a view.
func (k KeyMap) viewKeys(v viewID) []key.Binding {
	with := func(b key.Binding, desc string) key.Binding {
		b.SetHelp(b.Help().Key, desc)
		return b
	}
	switch v {
	case viewOverview:
		return []key.Binding{with(k.Open, "open service"), k.Ack, k.AckService}
	case viewDetail:
		return []key.Binding{k.Ack, k.AckService, k.PrevService, k.NextService, k.Back}
	case viewAlerts:
		expand := k.Right
		expand.SetHelp("→/←", "expand/fold group")
		return []key.Binding{k.Ack, k.AckService, with(k.Resolve, "resolve alert"), k.Open, expand, k.Service, k.Filter}
	case viewTimeline:
		return []key.Binding{k.Open, k.Filter, k.FilterService, k.FilterKind, k.FilterImportant, k.MarkImportant, k.FollowUp, k.Note, k.Bottom}
	case viewRoles:
		return []key.Binding{k.Assign, k.Unassign, k.Offer, k.Accept, k.Decline, k.Filter}
	case viewRuns:
		return []key.Binding{with(k.Accept, "approve / reject"), k.Cancel, with(k.Resolve, "resolve interrupted run"), k.Open, k.Filter}
	case viewRecord:
		return []key.Binding{k.Copy, k.Up, k.Down, k.Back}
	case viewEnd:
		return []key.Binding{with(k.Quit, "quit"), with(k.Back, "back to the dashboard")}
	case viewLaunch:
		return []key.Binding{k.Decide, k.SignOff, k.Preflight, k.ImportLoad, k.Up, k.Down}
	case viewComms:
		return []key.Binding{k.NewUpdate, with(k.Accept, "approve update"), with(k.Resolve, "reject / withdraw"), k.SetStatus, k.Severity, k.Milestone, with(k.Open, "set component")}
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
		h(k.Overview, "1-7", "switch view"),
		h(k.NextView, "tab", "next view"),
		h(k.Palette, "ctrl+p/:", "palette"),
		h(k.Help, "?", "this help"),
		h(k.Filter, "/", "filter the list"),
		h(k.Copy, "y", "copy selected"),
		h(k.Note, "n", "add a note"),
		h(k.Accept, "A", "approve / accept"),
		h(k.Decline, "D", "decline offer"),
		h(k.Theme, "t", "theme"),
		h(k.Back, "esc", "back"),
		h(k.Quit, "q", "quit"),
	}
}
