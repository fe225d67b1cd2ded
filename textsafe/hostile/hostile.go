// Package hostile is a corpus of hostile strings for tests of output
// edges, and a check that none of their dangerous bytes came out raw.
// Every string is something an attacker can put in an alert name or
// summary (webhook), a monitor name, a metric label, a Slack note or a
// step's output.
package hostile

import (
	"fmt"
	"unicode/utf8"

	"github.com/warroom/warroom/textsafe"
)

// Corpus holds one string per attack. Each carries a plain marker word so
// a test can also check the text itself still arrived.
var Corpus = []string{
	"conceal \x1b[8mhidden\x1b[0m text",                           // SGR 8: invisible text
	"fake \x1b[32m\x1b[1mOK all green\x1b[0m",                     // SGR colours: fake a healthy pane
	"clear \x1b[2J\x1b[H\x1b[3J screen",                           // ED / CUP: wipe the screen
	"link \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", // OSC 8 hyperlink
	"clip \x1b]52;c;cm0gLXJmIH4K\x07 board",                       // OSC 52 clipboard write (BEL)
	"title \x1b]0;owned\x1b\\ set",                                // OSC 0 window title (ST)
	"dcs \x1bP+q544e\x1b\\ query",                                 // DCS XTGETTCAP
	"csi8 \u009b31m c1 csi",                                       // C1 CSI as UTF-8
	"raw \x9b31m byte",                                            // a lone 0x9b byte
	"bidi \u202eevil\u202c override",                              // RLO … PDF
	"iso \u2067rtl\u2069 late",                                    // RLI … PDI
	"nul \x00 byte",                                               // NUL
	"bell \x07 ring",                                              // BEL
	"cr \roverwrite line",                                         // CR alone
	"sep \u2028 line",                                             // LINE SEPARATOR
	"bom \ufeff zero",                                             // invisible format character
	"tag \U000E0041\U000E0042 smuggle",                            // tag characters
	"del \x7f char",                                               // DEL
	"bs \x08\x08\x08 back",                                        // backspace
}

// Find returns a description of the first dangerous rune or byte in out,
// or "" when there is none. Line feeds, carriage returns and tabs are
// allowed (CSV ends lines with CRLF).
func Find(out []byte) string {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRune(out[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("invalid byte %#x at %d in %q", out[i], i, around(out, i))
		}
		if r != '\n' && r != '\r' && r != '\t' && textsafe.Unsafe(r) {
			return fmt.Sprintf("raw %U at %d in %q", r, i, around(out, i))
		}
		i += size
	}
	return ""
}

func around(b []byte, i int) string {
	return string(b[max(0, i-30):min(len(b), i+30)])
}
