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
	bw.WriteString(mdEsc(r.sourceLine(), false))
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
		w.WriteString(strings.ReplaceAll(mdEsc(b.text, true), "#", "\\#"))
		w.WriteString("\n\n")
	case quote:
		for _, l := range b.lines {
			w.WriteString("> ")
			w.WriteString(mdEsc(l, false))
			w.WriteString("\n")
		}
		w.WriteString("\n")
	case code:
		// A fence longer than any run of backticks in the text.
		fence := "```"
		for strings.Contains(b.text, fence) {
			fence += "`"
		}
		w.WriteString(fence + "text\n")
		w.WriteString(textsafe.Text(b.text))
		if !strings.HasSuffix(b.text, "\n") {
			w.WriteByte('\n')
		}
		w.WriteString(fence + "\n\n")
	case para:
		writeMDSpans(w, b.spans)
		w.WriteString("\n\n")
	case todo:
		w.WriteString("_TODO: ")
		w.WriteString(mdEsc(b.text, false))
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
		alt := mdEsc(b.chart.Title, true)
		w.WriteString("![")
		w.WriteString(alt)
		w.WriteString("](")
		w.WriteString((&url.URL{Path: b.chart.File(chartBase)}).EscapedPath())
		w.WriteString(")\n\n")
	}
}

func writeMDSpans(w *bufio.Writer, spans []span) {
	for _, s := range spans {
		t := mdEsc(s.text, false)
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
		w.WriteString(mdEsc(c, true))
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

// mdEsc makes journal text inert in Markdown with backslash escapes
// (CommonMark: any ASCII punctuation may be escaped), so the raw file
// reads as the text itself: `a > b` is written `a \> b`, never `&gt;`, and
// a note holding <script> stays text. In a table cell (cell) a line
// break is shown as " ⏎ " (a cell is one line); elsewhere it is a hard
// line break (a backslash at the end of the line), and a line that would
// start a heading, a list or a quote is escaped. Controls, escape
// sequences and bidi characters are made visible first (textsafe).
func mdEsc(s string, cell bool) string {
	if cell {
		s = textsafe.Line(s)
	} else {
		s = strings.ReplaceAll(textsafe.Text(s), "\r", "")
	}
	// Where a line would open a block, the byte to escape.
	lead := map[int]bool{}
	if !cell {
		for at := 0; ; {
			if k := blockStart(s[at:]); k >= 0 {
				lead[at+k] = true
			}
			nl := strings.IndexByte(s[at:], '\n')
			if nl < 0 {
				break
			}
			at += nl + 1
		}
	}
	i := 0
	for i < len(s) && !mdSpecial[s[i]] {
		i++
	}
	if i == len(s) && len(lead) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i = 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			b.WriteString("\\\n")
		case c == '_':
			// GFM does not emphasise inside words: max_idle stays as is.
			if i > 0 && i+1 < len(s) && isWordByte(s[i-1]) && isWordByte(s[i+1]) {
				b.WriteByte(c)
				continue
			}
			b.WriteString("\\_")
		case mdSpecial[c] || lead[i]:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// blockStart is where a line of text would open a block if it began one
// (a heading, a list item, a quote, a thematic break, a setext underline,
// an ordered list item "1." or "1)"): the index of the punctuation to
// escape, -1 when it would not.
func blockStart(line string) int {
	if line == "" {
		return -1
	}
	switch line[0] {
	case '#', '-', '+', '*', '=', '>':
		return 0
	}
	j := 0
	for j < len(line) && j < 9 && line[j] >= '0' && line[j] <= '9' {
		j++
	}
	if j > 0 && j < len(line) && (line[j] == '.' || line[j] == ')') {
		return j
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
