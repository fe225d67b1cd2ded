package export

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/warroom/warroom/textsafe"
)

// htmlStyle is the whole stylesheet: no fonts, images or scripts are
// fetched, and the Content-Security-Policy forbids them anyway.
const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;max-width:76em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.7em;border-bottom:2px solid #ddd;padding-bottom:.3em}
h2{font-size:1.35em;margin-top:1.8em;border-bottom:1px solid #eee}
h3{font-size:1.1em;margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
tr.imp td{background:#fff6d6}
td.star{color:#b8860b;text-align:center}
.todo{background:#fff3f3;border-left:4px solid #e66;padding:.4em .8em;font-style:italic}
figure{margin:1em 0}
figure svg{max-width:100%;height:auto;border:1px solid #eee}
footer{margin-top:3em;color:#777;font-size:.85em}
blockquote{margin:.3em 0 1.2em;padding:.1em 1em;border-left:4px solid #8cb4e8;background:#f6f9fd}
blockquote p{margin:.4em 0}
pre{background:#f6f8fa;padding:.6em .8em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}
`

// WriteHTML writes the postmortem as one self-contained HTML file: inline
// CSS and inline SVG charts, no scripts and no external references. All
// journal text is escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	bw.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n")
	bw.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	bw.WriteString("<meta name=\"generator\" content=\"warroom export\">\n")
	bw.WriteString("<title>")
	bw.WriteString(htmlEsc("Postmortem: " + r.Name))
	bw.WriteString("</title>\n<style>\n")
	bw.WriteString(htmlStyle)
	bw.WriteString("</style>\n</head>\n<body>\n")
	for _, b := range r.document() {
		writeHTMLBlock(bw, b)
	}
	bw.WriteString("<footer>Exported by warroom from ")
	bw.WriteString(htmlEsc(r.sourceLine()))
	bw.WriteString(".</footer>\n</body>\n</html>\n")
	return bw.Flush()
}

func writeHTMLBlock(w *bufio.Writer, b block) {
	switch b := b.(type) {
	case heading:
		lv := strconv.Itoa(b.level)
		w.WriteString("<h" + lv + " id=\"" + htmlEsc(b.id) + "\">")
		w.WriteString(htmlEsc(b.text))
		w.WriteString("</h" + lv + ">\n")
	case para:
		w.WriteString("<p>")
		writeHTMLSpans(w, b.spans)
		w.WriteString("</p>\n")
	case todo:
		w.WriteString("<p class=\"todo\">TODO: ")
		w.WriteString(htmlEsc(b.text))
		w.WriteString("</p>\n")
	case list:
		w.WriteString("<ul>\n")
		for _, it := range b.items {
			w.WriteString("<li>")
			writeHTMLSpans(w, it)
			w.WriteString("</li>\n")
		}
		w.WriteString("</ul>\n")
	case *table:
		w.WriteString("<table>\n<thead><tr>")
		for _, h := range b.head {
			w.WriteString("<th>")
			w.WriteString(htmlEsc(h))
			w.WriteString("</th>")
		}
		w.WriteString("</tr></thead>\n<tbody>\n")
		for i, row := range b.rows {
			if i < len(b.mark) && b.mark[i] {
				w.WriteString("<tr class=\"imp\">")
			} else {
				w.WriteString("<tr>")
			}
			for j, c := range row {
				if j == b.markCol {
					w.WriteString("<td class=\"star\">")
				} else {
					w.WriteString("<td>")
				}
				w.WriteString(htmlEsc(c))
				w.WriteString("</td>")
			}
			w.WriteString("</tr>\n")
		}
		w.WriteString("</tbody>\n</table>\n")
	case figure:
		w.WriteString("<figure>\n")
		w.Write(b.chart.SVG)
		w.WriteString("<figcaption>")
		w.WriteString(htmlEsc(b.chart.Title))
		w.WriteString("</figcaption>\n</figure>\n")
	case quote:
		w.WriteString("<blockquote>")
		for _, l := range b.lines {
			w.WriteString("<p>")
			w.WriteString(htmlEsc(l))
			w.WriteString("</p>")
		}
		w.WriteString("</blockquote>\n")
	case code:
		w.WriteString("<pre>")
		w.WriteString(strings.ReplaceAll(htmlEsc(b.text), "<br>", "\n"))
		w.WriteString("</pre>\n")
	case chartsNote:
	}
}

func writeHTMLSpans(w *bufio.Writer, spans []span) {
	for _, s := range spans {
		switch {
		case s.strong:
			w.WriteString("<strong>" + htmlEsc(s.text) + "</strong>")
		case s.em:
			w.WriteString("<em>" + htmlEsc(s.text) + "</em>")
		default:
			w.WriteString(htmlEsc(s.text))
		}
	}
}

var htmlSpecial = func() (t [256]bool) {
	for _, c := range []byte("<>&\"'\n") {
		t[c] = true
	}
	return
}()

// htmlEsc escapes journal text for HTML content and attributes; a line
// break becomes <br>, and controls, escape sequences and bidi characters
// are made visible first (textsafe).
func htmlEsc(s string) string {
	s = textsafe.Text(s)
	i := 0
	for i < len(s) && !htmlSpecial[s[i]] {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		case '\n':
			b.WriteString("<br>")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
