package export

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/warroom/warroom/journal"
)

// Result says what an export wrote.
type Result struct {
	Files  []string // files written, charts first ("" for none: stdout)
	Events int      // timeline events exported
	Charts int      // charts rendered (written, or inline in HTML)
}

// Export reads the journal at journalPath read-only and writes one format.
// out "" or "-" writes to stdout; Markdown then leaves the charts out (it
// says so in the document). With an output file, Markdown's charts are
// written beside it as <out without its extension>-<service>.svg and
// linked relatively. The export never writes over the journal. Every file is written to a temporary name and renamed into
// place, so a failed export leaves no half-written file.
//
// The journal may be on read-only media or in a directory the user cannot
// write.
//
// Errors: a missing or unreadable journal file is a runtime failure
// (journal.ErrUnreadable); a file that is not a warroom journal
// (journal.ErrNotJournal), a journal of a newer schema
// (journal.ErrNewerSchema), an undecodable event, an empty journal or an
// unknown service is an *InputError.
func Export(ctx context.Context, journalPath string, format Format, out string, stdout io.Writer, opt Options) (Result, error) {
	var res Result
	j, err := journal.OpenReader(ctx, journalPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return res, fmt.Errorf("%w: %w", journal.ErrUnreadable, err)
	case errors.Is(err, journal.ErrNotJournal), errors.Is(err, journal.ErrNewerSchema), errors.Is(err, journal.ErrCorrupt):
		return res, &InputError{Err: err}
	case err != nil:
		return res, err
	}
	defer j.Close()
	r, err := Load(ctx, j, opt)
	if err != nil {
		return res, err
	}
	res.Events = len(r.Events)
	toStdout := out == "" || out == "-"
	var buf bytes.Buffer
	switch format {
	case Markdown:
		base := ""
		if !toStdout {
			base = filepath.Base(chartBase(out))
		}
		err = r.WriteMarkdown(&buf, base)
	case HTML:
		err = r.WriteHTML(&buf)
	case JSON:
		err = r.WriteJSON(&buf)
	case CSV:
		err = r.WriteCSV(&buf)
	default:
		return res, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return res, err
	}
	if format == Markdown || format == HTML {
		res.Charts = len(r.Charts())
	}
	if toStdout {
		_, err := stdout.Write(buf.Bytes())
		return res, err
	}
	targets := []string{out}
	if format == Markdown {
		for _, c := range r.Charts() {
			targets = append(targets, c.File(chartBase(out)))
		}
	}
	for _, name := range targets {
		if sameFile(name, journalPath) {
			return res, &InputError{Err: fmt.Errorf("refusing to write %s: it is the journal being exported", name)}
		}
	}
	if format == Markdown {
		base := chartBase(out)
		for _, c := range r.Charts() {
			name := c.File(base)
			if err := writeFileAtomic(name, c.SVG); err != nil {
				return res, err
			}
			res.Files = append(res.Files, name)
		}
	}
	if err := writeFileAtomic(out, buf.Bytes()); err != nil {
		return res, err
	}
	res.Files = append(res.Files, out)
	return res, nil
}

// chartBase is the output path without its extension: charts of
// "pm/postmortem.md" are "pm/postmortem-<service>.svg".
func chartBase(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out))
}

// sameFile reports whether writing name would replace the journal (or its
// WAL or shared-memory file).
func sameFile(name, journalPath string) bool {
	st, err := os.Stat(name)
	if err != nil {
		return false
	}
	for _, p := range []string{journalPath, journalPath + "-wal", journalPath + "-shm"} {
		if jt, err := os.Stat(p); err == nil && os.SameFile(st, jt) {
			return true
		}
	}
	return false
}

func writeFileAtomic(name string, data []byte) error {
	dir := filepath.Dir(name)
	f, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
