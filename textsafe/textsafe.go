// Package textsafe makes untrusted text safe to show. Alert names and
// summaries from webhooks, metric labels, monitor names, notes typed in
// Slack and a playbook step's output reach terminals, dashboards, Markdown,
// CSV, HTML and Slack; none of their bytes may drive a terminal (ESC, CSI,
// OSC 8/52, DCS, C0/C1 controls), hide or reorder text (bidi overrides and
// isolates, invisible format characters) or cut a line (NUL, CR, U+2028).
//
// This is the one place that decides. Every output edge calls Line (one
// line: terminal lines, table cells, dashboard cells) or Text (line breaks
// kept: Markdown paragraphs, HTML, Slack), and the config refuses names
// for which Unsafe reports true. Nothing is silently dropped: a control
// becomes its visible Control Pictures symbol (ESC is ␛, so "\x1b[8m"
// shows as "␛[8m"), and a C1 control, a bidi control, another invisible
// format character or an invalid byte becomes U+FFFD.
package textsafe

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Newline is what Line shows in place of a line break.
const Newline = " ⏎ "

const (
	zwnj = '\u200c' // zero-width non-joiner: needed by Persian and others
	zwj  = '\u200d' // zero-width joiner: emoji sequences
)

// Bidi reports the Unicode bidirectional formatting characters (embeddings,
// overrides, isolates and marks) that can reorder what a reader sees
// (CVE-2021-42574, "Trojan Source").
func Bidi(r rune) bool {
	switch r {
	case '\u061c', // ARABIC LETTER MARK
		'\u200e', '\u200f', // LRM, RLM
		'\u202a', '\u202b', '\u202c', '\u202d', '\u202e', // LRE, RLE, PDF, LRO, RLO
		'\u2066', '\u2067', '\u2068', '\u2069': // LRI, RLI, FSI, PDI
		return true
	}
	return false
}

// Unsafe reports whether Line or Text would change r: a C0 or C1 control
// (tab and line feed included), DEL, a bidi control, a line or paragraph
// separator, or another invisible format character (zero-width space,
// BOM, tag characters…) other than the joiners scripts and emoji need.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20 || (r >= 0x7f && r <= 0x9f):
		return true
	case r < 0xa0:
		return false
	case r == '\u2028' || r == '\u2029':
		return true
	case r == zwj || r == zwnj:
		return false
	}
	return Bidi(r) || unicode.Is(unicode.Cf, r)
}

// Safe reports whether s can be shown as it is (Line would not change it).
func Safe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return safeFrom(s, i)
		}
	}
	return true
}

func safeFrom(s string, i int) bool {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if Unsafe(r) || (r == utf8.RuneError && size == 1) {
			return false
		}
		i += size
	}
	return true
}

// Line returns s as one inert line: a line break (LF, CRLF, CR alone,
// U+2028, U+2029) becomes " ⏎ ", a tab a space, and every other unsafe
// rune its visible stand-in.
func Line(s string) string { return clean(s, false) }

// Text is Line that keeps line breaks (as "\n") and tabs.
func Text(s string) string { return clean(s, true) }

func clean(s string, multiline bool) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\r' && i < len(s) && s[i] == '\n':
			continue // the LF that follows is the break
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteString(Newline)
			}
		case r == '\t':
			if multiline {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		case r < 0x20:
			b.WriteRune(0x2400 + r) // ␀ … ␟, ␛ for ESC
		case r == 0x7f:
			b.WriteRune('\u2421') // ␡
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError) // an invalid byte
		case Unsafe(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i-size : i])
		}
	}
	return b.String()
}

// Clip is Line cut to at most n runes, ending in "…" when cut.
func Clip(s string, n int) string {
	s = Line(s)
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// EscapeJSON rewrites, inside encoded JSON, every rune that Unsafe reports
// and that encoding/json leaves raw (DEL, C1 controls, bidi and other
// format characters) as a \u escape. The decoded values are unchanged;
// the bytes on disk or on the wire no longer carry them raw. Outside
// strings JSON is ASCII, so every rune this changes is inside a string.
func EscapeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		if b[i] < 0x7f {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !Unsafe(r) { // an invalid byte is left to the JSON encoder, which never writes one
			out = append(out, b[i:i+size]...)
		} else {
			out = appendU(out, r)
		}
		i += size
	}
	return out
}

func appendU(out []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	u := func(v rune) {
		out = append(out, '\\', 'u', hex[v>>12&0xf], hex[v>>8&0xf], hex[v>>4&0xf], hex[v&0xf])
	}
	if r > 0xffff {
		r -= 0x10000
		u(0xd800 + r>>10)
		u(0xdc00 + r&0x3ff)
		return out
	}
	u(r)
	return out
}
