package tui

import (
	"image/color"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/warroom/warroom/incident"
)

// Theme picks the colour scheme. ThemeAuto follows the terminal's
// background (asked for at start) and starts dark.
type Theme int

const (
	ThemeAuto Theme = iota
	ThemeDark
	ThemeLight
)

// Palette is a theme's colours as semantic tokens. Severity colours are
// defined here once; no view uses a raw colour.
type Palette struct {
	Text, Muted, Subtle    color.Color
	Accent, AccentText     color.Color
	Border, BorderFocus    color.Color
	BadgeText              color.Color
	OK, Warn, Crit         color.Color
	Stale, NoData, Unknown color.Color
	Info, Error            color.Color
	SelectedBg             color.Color
}

// DarkPalette is the default theme. The colours are 24-bit; bubbletea
// downsamples them for 256- and 16-colour terminals and drops them for
// NO_COLOR.
func DarkPalette() Palette {
	return Palette{
		Text: lipgloss.Color("#e6edf3"), Muted: lipgloss.Color("#8b949e"), Subtle: lipgloss.Color("#484f58"),
		Accent: lipgloss.Color("#58a6ff"), AccentText: lipgloss.Color("#0d1117"),
		Border: lipgloss.Color("#30363d"), BorderFocus: lipgloss.Color("#58a6ff"),
		BadgeText: lipgloss.Color("#0d1117"),
		OK:        lipgloss.Color("#3fb950"), Warn: lipgloss.Color("#d29922"), Crit: lipgloss.Color("#f85149"),
		// STALE and NO DATA are never green.
		Stale: lipgloss.Color("#bc8cff"), NoData: lipgloss.Color("#8b949e"), Unknown: lipgloss.Color("#39c5cf"),
		Info: lipgloss.Color("#58a6ff"), Error: lipgloss.Color("#f85149"),
		SelectedBg: lipgloss.Color("#1f2a3a"),
	}
}

// LightPalette is the theme for light backgrounds.
func LightPalette() Palette {
	return Palette{
		Text: lipgloss.Color("#1f2328"), Muted: lipgloss.Color("#59636e"), Subtle: lipgloss.Color("#afb8c1"),
		Accent: lipgloss.Color("#0969da"), AccentText: lipgloss.Color("#ffffff"),
		Border: lipgloss.Color("#d0d7de"), BorderFocus: lipgloss.Color("#0969da"),
		BadgeText: lipgloss.Color("#ffffff"),
		OK:        lipgloss.Color("#1a7f37"), Warn: lipgloss.Color("#9a6700"), Crit: lipgloss.Color("#cf222e"),
		Stale: lipgloss.Color("#8250df"), NoData: lipgloss.Color("#6e7781"), Unknown: lipgloss.Color("#1b7c83"),
		Info: lipgloss.Color("#0969da"), Error: lipgloss.Color("#cf222e"),
		SelectedBg: lipgloss.Color("#ddf4ff"),
	}
}

// paint is a style reduced to its escape prefix and suffix, so that
// styling a short segment is two string concatenations rather than a
// lipgloss layout pass. It is only for single-line text.
type paint struct{ pre, post string }

const marker = "\uE000"

func newPaint(st lipgloss.Style) paint {
	r := st.Render(marker)
	i := strings.Index(r, marker)
	if i < 0 {
		return paint{}
	}
	return paint{pre: r[:i], post: r[i+len(marker):]}
}

// S styles s.
func (p paint) S(s string) string {
	if s == "" || p.pre == "" {
		return s
	}
	return p.pre + s + p.post
}

// sev is a pane, service or alert condition as shown: one token per
// severity, used for badges and colours.
type sev int

const (
	sevOK sev = iota
	sevUnknown
	sevNoData
	sevWarn
	sevStale
	sevCrit
	nSev
)

// sevOf maps an incident level.
func sevOf(l incident.Level) sev {
	switch l {
	case incident.LevelOK:
		return sevOK
	case incident.LevelWarn:
		return sevWarn
	case incident.LevelCrit:
		return sevCrit
	case incident.LevelStale:
		return sevStale
	case incident.LevelNoData:
		return sevNoData
	}
	return sevUnknown
}

var sevLabels = [nSev]string{"OK", "UNKNOWN", "NO DATA", "WARN", "STALE", "CRIT"}

func (s sev) String() string { return sevLabels[s] }

// Styles are all the styles of the TUI, built from one palette. Views
// use these semantic tokens only.
type Styles struct {
	Dark bool
	// Plain is set when the terminal shows no colour (NO_COLOR, ASCII):
	// badges are bracketed and selections marked with text.
	Plain bool
	P     Palette

	Text, Muted, Subtle, Bold, Accent paint
	Title, Sim, Clock                 paint
	Tab, TabActive                    paint
	Border, BorderFocus               paint
	Selected, Disabled, Key           paint
	Badge                             [nSev]paint // filled badges
	Level                             [nSev]paint // coloured text
	Escalated                         paint
	Banner, BannerMine                paint
	ToastInfo, ToastOK, ToastError    paint
	Spark, ThresholdWarn, ThresholdCr paint

	Cursor paint

	Help help.Styles
}

// NewStyles builds the styles for a theme. plain drops colour-only cues
// in favour of text (brackets, markers).
func NewStyles(dark, plain bool) *Styles {
	p := DarkPalette()
	if !dark {
		p = LightPalette()
	}
	n := lipgloss.NewStyle
	s := &Styles{Dark: dark, Plain: plain, P: p}
	s.Text = newPaint(n().Foreground(p.Text))
	s.Muted = newPaint(n().Foreground(p.Muted))
	s.Subtle = newPaint(n().Foreground(p.Subtle))
	s.Bold = newPaint(n().Bold(true).Foreground(p.Text))
	s.Accent = newPaint(n().Foreground(p.Accent))
	s.Title = newPaint(n().Bold(true).Foreground(p.Accent))
	s.Sim = newPaint(n().Bold(true).Foreground(p.BadgeText).Background(p.Warn))
	s.Clock = newPaint(n().Foreground(p.Text))
	s.Tab = newPaint(n().Foreground(p.Muted))
	s.TabActive = newPaint(n().Bold(true).Foreground(p.AccentText).Background(p.Accent))
	s.Border = newPaint(n().Foreground(p.Border))
	s.BorderFocus = newPaint(n().Foreground(p.BorderFocus))
	s.Selected = newPaint(n().Bold(true).Background(p.SelectedBg))
	s.Disabled = newPaint(n().Foreground(p.Subtle))
	s.Key = newPaint(n().Bold(true).Foreground(p.Accent))
	lv := [nSev]color.Color{p.OK, p.Unknown, p.NoData, p.Warn, p.Stale, p.Crit}
	for i, c := range lv {
		s.Level[i] = newPaint(n().Foreground(c))
		s.Badge[i] = newPaint(n().Bold(true).Foreground(p.BadgeText).Background(c))
	}
	s.Escalated = newPaint(n().Bold(true).Foreground(p.Crit).Underline(true))
	s.Banner = newPaint(n().Bold(true).Foreground(p.Text).Background(p.Subtle))
	s.BannerMine = newPaint(n().Bold(true).Foreground(p.BadgeText).Background(p.Warn))
	s.ToastInfo = newPaint(n().Foreground(p.Info))
	s.ToastOK = newPaint(n().Foreground(p.OK))
	s.ToastError = newPaint(n().Bold(true).Foreground(p.Error))
	s.Spark = newPaint(n().Foreground(p.Accent))
	s.ThresholdWarn = newPaint(n().Foreground(p.Warn))
	s.ThresholdCr = newPaint(n().Foreground(p.Crit))

	s.Help = help.DefaultStyles(dark)
	s.Help.FullKey = n().Bold(true).Foreground(p.Accent)
	s.Help.ShortKey = s.Help.FullKey
	s.Help.FullDesc = n().Foreground(p.Text)
	s.Help.ShortDesc = n().Foreground(p.Muted)
	s.Cursor = newPaint(n().Reverse(true))
	return s
}

// badge renders a severity as a badge that reads as text without colour.
func (s *Styles) badge(v sev) string { return s.badgeText(v, v.String()) }

func (s *Styles) badgeText(v sev, label string) string {
	if s.Plain {
		return s.Level[v].S("[" + label + "]")
	}
	return s.Badge[v].S(" " + label + " ")
}

// profilePlain reports whether a colour profile shows no colour.
func profilePlain(p colorprofile.Profile) bool {
	return p == colorprofile.ASCII || p == colorprofile.NoTTY
}

// selectLine highlights a list row: a marker in its first cell (so it
// shows without colour) and one background over the plain text.
func (s *Styles) selectLine(line string, w int) string {
	return s.Selected.S("▶" + fit(ansi.Strip(cutLeft(line, 1)), w-1))
}

// selectMore highlights a selected row's continuation line (no marker).
func (s *Styles) selectMore(line string, w int) string {
	return s.Selected.S(" " + fit(ansi.Strip(cutLeft(line, 1)), w-1))
}
