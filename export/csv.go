package export

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/warroom/warroom/textsafe"
)

// CSVHeader is the first record of the CSV export.
var CSVHeader = []string{"seq", "time", "kind", "service", "actor", "text", "important"}

// WriteCSV writes the timeline as RFC 4180 CSV (CRLF line ends, quoted
// fields where needed): seq, time (RFC 3339, UTC, whole seconds as in the
// headless output), kind, service ("" when incident-wide), actor, text
// (line breaks kept inside the quoted field), important (true/false).
//
// Text and actor cells that a spreadsheet would run as a formula (they
// start with = + - @, a tab or a carriage return) get a leading
// apostrophe, and controls are made visible (textsafe.Text); the JSON
// export has the text verbatim (with those runes as \u escapes).
func (r *Report) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	cw.UseCRLF = true
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	rec := make([]string, len(CSVHeader))
	for _, e := range r.Events {
		rec[0] = strconv.FormatInt(e.Seq, 10)
		rec[1] = e.Time.UTC().Format(time.RFC3339)
		rec[2] = string(e.Kind)
		rec[3] = cellSafe(e.Service)
		rec[4] = cellSafe(e.Actor)
		rec[5] = cellSafe(e.Text)
		rec[6] = strconv.FormatBool(r.important[e.Seq])
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// cellSafe makes controls, escape sequences and bidi characters visible
// (textsafe; line breaks stay inside the quoted field) and neutralises
// spreadsheet formula injection (OWASP "CSV injection") with a leading
// apostrophe.
func cellSafe(s string) string {
	s = textsafe.Text(s)
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
