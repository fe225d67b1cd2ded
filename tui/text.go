package tui

import (
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// width is the printed width of a (possibly styled) string. It counts
// the runes this UI draws itself (ASCII, Latin, box drawing, blocks,
// braille, a few symbols) directly, skipping escape sequences, and leaves
// anything else (wide or combining characters in user text) to ansi.
func width(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			j := skipEscape(s, i)
			if j < 0 {
				return ansi.StringWidth(s)
			}
			i = j
			continue
		case c >= 0x20 && c < 0x7f:
			n++
			i++
			continue
		case c < 0x80:
			return ansi.StringWidth(s)
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !narrow(r) {
			return ansi.StringWidth(s)
		}
		n++
		i += size
	}
	return n
}

// skipEscape returns the index after the CSI sequence at i, or -1 for
// anything else.
func skipEscape(s string, i int) int {
	if i+1 >= len(s) || s[i+1] != '[' {
		return -1
	}
	for j := i + 2; j < len(s); j++ {
		if c := s[j]; c >= 0x40 && c <= 0x7e {
			return j + 1
		}
	}
	return -1
}

// narrow reports runes known to be one cell wide.
func narrow(r rune) bool {
	switch {
	case r == 0xad || r == 0x25fd || r == 0x25fe: // soft hyphen (0), ◽◾ (2)
		return false
	case r >= 0xa0 && r <= 0x2ff, // Latin
		r >= 0x2010 && r <= 0x2027, // dashes, quotes, …
		r >= 0x2190 && r <= 0x21ff, // arrows
		r >= 0x2500 && r <= 0x25ff, // box drawing, blocks, shapes
		r >= 0x2800 && r <= 0x28ff, // braille
		r == '✓' || r == '✗' || r == '⚑' || r == '★' || r == '⚠' || r == '⏎' || r == 'µ' || r == '•' || r == '\uE000':
		return true
	}
	return false
}

// fit truncates s (possibly styled) to w cells with an ellipsis, and pads
// it with spaces to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := width(s)
	if n > w {
		s = truncate(s, w)
		n = width(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// trunc truncates s to at most w cells without padding.
func trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) <= w {
		return s
	}
	return truncate(s, w)
}

// truncate cuts s to w cells ending in "…", keeping every escape
// sequence (so styles stay balanced). Strings with runes it does not know
// the width of go to ansi.Truncate.
func truncate(s string, w int) string {
	var sb strings.Builder
	sb.Grow(len(s))
	n, keep := 0, w-1
	cut := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == 0x1b:
			j := skipEscape(s, i)
			if j < 0 {
				return ansi.Truncate(s, w, "…")
			}
			sb.WriteString(s[i:j])
			i = j
			continue
		case c >= 0x20 && c < 0x7f:
			if n < keep {
				sb.WriteByte(c)
			} else if !cut {
				sb.WriteString("…")
				cut = true
			}
			n++
			i++
			continue
		case c < 0x80:
			return ansi.Truncate(s, w, "…")
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !narrow(r) {
			return ansi.Truncate(s, w, "…")
		}
		if n < keep {
			sb.WriteString(s[i : i+size])
		} else if !cut {
			sb.WriteString("…")
			cut = true
		}
		n++
		i += size
	}
	return sb.String()
}

// padLeft right-aligns s in w cells.
func padLeft(s string, w int) string {
	n := width(s)
	if n >= w {
		return trunc(s, w)
	}
	return strings.Repeat(" ", w-n) + s
}

// spread puts left and right on one line of width w, truncating left
// first.
func spread(left, right string, w int) string {
	rw := width(right)
	if rw >= w {
		return fit(right, w)
	}
	return fit(left, w-rw-1) + " " + right
}

// block is a fixed-size area of lines, each exactly w cells wide.
type block struct {
	w     int
	lines []string
}

func newBlock(w int) *block { return &block{w: w} }

// add appends a line, fitted to the block's width.
func (b *block) add(s string) { b.lines = append(b.lines, fit(s, b.w)) }

// full reports whether the block already has h lines.
func (b *block) full(h int) bool { return len(b.lines) >= h }

// render returns exactly h lines (padding or cutting).
func (b *block) render(h int) []string {
	out := b.lines
	if len(out) > h {
		out = out[:h]
	}
	blank := strings.Repeat(" ", b.w)
	for len(out) < h {
		out = append(out, blank)
	}
	return out
}

// hjoin puts columns of lines side by side with a separator; every column
// must have the same number of lines.
func hjoin(sep string, cols ...[]string) []string {
	if len(cols) == 0 {
		return nil
	}
	out := make([]string, len(cols[0]))
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		for j, c := range cols {
			if j > 0 {
				sb.WriteString(sep)
			}
			if i < len(c) {
				sb.WriteString(c[i])
			}
		}
		out[i] = sb.String()
	}
	return out
}

// overlay draws box (lines) over base at (x, y).
func overlay(base []string, box []string, x, y int) []string {
	out := append([]string(nil), base...)
	for i, bl := range box {
		r := y + i
		if r < 0 || r >= len(out) {
			continue
		}
		line := out[r]
		bw := width(bl)
		lw := width(line)
		left := ansi.Truncate(line, x, "")
		if width(left) < x {
			left += strings.Repeat(" ", x-width(left))
		}
		right := ""
		if x+bw < lw {
			right = ansi.TruncateLeft(line, x+bw, "")
		}
		out[r] = left + "\x1b[m" + bl + "\x1b[m" + right
	}
	return out
}

func clamp(v, lo, hi int) int {
	if hi < lo {
		return lo
	}
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// cutLeft drops the first n cells of s, keeping its styles.
func cutLeft(s string, n int) string { return ansi.TruncateLeft(s, n, "") }

// wrapLines word-wraps plain text into lines of at most w cells. With
// max > 0 it returns at most max lines, the last one cut with "…" when
// the text is longer: readable text wraps before anything is cut.
func wrapLines(s string, w, maxLines int) []string {
	if w <= 0 {
		return nil
	}
	if width(s) <= w {
		return []string{s}
	}
	lines := strings.Split(ansi.Wrap(s, w, "-/,"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	if maxLines > 0 && len(lines) > maxLines {
		rest := strings.Join(lines[maxLines-1:], " ")
		lines = append(lines[:maxLines-1], trunc(rest, w))
	}
	return lines
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
