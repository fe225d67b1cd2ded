package export

import (
	"bufio"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/warroom/warroom/textsafe"
)

// WriteMarkdown writes the postmortem as Markdown. chartBase names the SVG
// files the charts are linked to: chart files are chartBase + "-" +
// service + ".svg" (see Chart.File), written beside the Markdown by
// Export. With chartBase "" (Markdown on standard output) the charts are
// not linked and the document says so.
func (r *Report) WriteMarkdown(w io.Writer, chartBase string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, b := range r.document() {
		writeMDBlock(bw, b, chartBase)
	}
	bw.WriteString("---\n\n_Exported by warroom from ")
	bw.WriteString(mdEsc(r.sourceLine()))
	bw.WriteString("._\n")
	return bw.Flush()
}

func (r *Report) sourceLine() string {
	return "journal events #" + strconv.FormatInt(r.FirstSeq, 10) + "–#" + strconv.FormatInt(r.LastSeq, 10)
}

func writeMDBlock(w *bufio.Writer, b block, chartBase string) {
	switch b := b.(type) {
	case heading:
		w.WriteString(strings.Repeat("#", b.level))
		w.WriteByte(' ')
		// A heading ending in #s would lose them as a closing sequence.
		w.WriteString(strings.ReplaceAll(mdEsc(b.text), "#", "\\#"))
		w.WriteString("\n\n")
	case para:
		writeMDSpans(w, b.spans)
		w.WriteString("\n\n")
	case todo:
		w.WriteString("_TODO: ")
		w.WriteString(mdEsc(b.text))
		w.WriteString("_\n\n")
	case list:
		for _, it := range b.items {
			w.WriteString("- ")
			writeMDSpans(w, it)
			w.WriteByte('\n')
		}
		w.WriteByte('\n')
	case *table:
		writeMDRow(w, b.head)
		w.WriteByte('|')
		for range b.head {
			w.WriteString("---|")
		}
		w.WriteByte('\n')
		for _, row := range b.rows {
			writeMDRow(w, row)
		}
		w.WriteByte('\n')
	case chartsNote:
		if chartBase == "" {
			w.WriteString("_The charts are SVG files written beside the Markdown when it goes to a file (`-o FILE.md`); on standard output they are left out. The HTML export has them inline._\n\n")
		}
	case figure:
		if chartBase == "" {
			return
		}
		alt := mdEsc(b.chart.Title)
		w.WriteString("![")
		w.WriteString(alt)
		w.WriteString("](")
		w.WriteString((&url.URL{Path: b.chart.File(chartBase)}).EscapedPath())
		w.WriteString(")\n\n")
	}
}

func writeMDSpans(w *bufio.Writer, spans []span) {
	for _, s := range spans {
		t := mdEsc(s.text)
		switch {
		case s.strong && t != "":
			w.WriteString("**")
			w.WriteString(t)
			w.WriteString("**")
		case s.em && t != "":
			w.WriteByte('_')
			w.WriteString(t)
			w.WriteByte('_')
		default:
			w.WriteString(t)
		}
	}
}

func writeMDRow(w *bufio.Writer, cells []string) {
	w.WriteByte('|')
	for _, c := range cells {
		w.WriteByte(' ')
		w.WriteString(mdEsc(c))
		w.WriteString(" |")
	}
	w.WriteByte('\n')
}

// mdSpecial are the bytes mdEsc must change.
var mdSpecial = func() (t [256]bool) {
	for _, c := range []byte("\\`*_[]|<>&~\n\r") {
		t[c] = true
	}
	return
}()

// mdEsc makes journal text inert in Markdown: punctuation that would
// format is backslash-escaped, HTML is entity-escaped (a note holding
// <script> stays text), and a line break becomes <br> so that it stays
// inside its table cell. Controls, escape sequences and bidi characters
// are made visible first (textsafe).
func mdEsc(s string) string {
	s = textsafe.Text(s)
	i := 0
	for i < len(s) && !mdSpecial[s[i]] {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\n':
			b.WriteString("<br>")
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteString("<br>")
		case '_':
			// GFM does not emphasise inside words: max_idle stays as is.
			if i > 0 && i+1 < len(s) && isWordByte(s[i-1]) && isWordByte(s[i+1]) {
				b.WriteByte(c)
				continue
			}
			b.WriteString("\\_")
		default:
			if mdSpecial[c] {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
