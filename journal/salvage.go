package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"
)

// Problem is one thing Verify or Salvage found wrong, at an event when it
// is about one (Seq 0 otherwise).
type Problem struct {
	Seq  int64
	What string
}

func (p Problem) String() string {
	if p.Seq > 0 {
		return fmt.Sprintf("#%d: %s", p.Seq, p.What)
	}
	return p.What
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Version  int   // schema version
	Events   int64 // events read
	LastSeq  int64
	First    time.Time
	Last     time.Time
	Samples  int64
	Problems []Problem
}

// OK reports whether nothing is wrong.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks the journal at path without writing to it: SQLite's own
// integrity check, that the log runs from #1 without a gap, that each
// event passes check (the caller decodes its body), and that reader
// cursors point into the log. An error means the file could not be read
// as a journal at all (ErrNotJournal, ErrUnreadable, ErrNewerSchema).
func Verify(ctx context.Context, path string, check func(Event) error) (VerifyReport, error) {
	var rep VerifyReport
	j, err := OpenReadOnly(path)
	if err != nil {
		return rep, err
	}
	defer j.Close()
	rep.Version = j.version()
	for _, p := range j.integrity(ctx) {
		rep.Problems = append(rep.Problems, Problem{What: "integrity check: " + p})
	}
	rep.LastSeq = j.LastSeq()
	err = j.eachEvent(ctx, rep.LastSeq, func(seq int64, e Event, why string) error {
		if why == "" {
			why = errText(check(e))
		}
		if why != "" {
			rep.Problems = append(rep.Problems, Problem{Seq: seq, What: why})
			return nil
		}
		rep.Events++
		if rep.First.IsZero() {
			rep.First = e.Time
		}
		rep.Last = e.Time
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "events cannot be read: " + err.Error()})
	}
	if err := j.r.QueryRowContext(ctx, `SELECT count(*) FROM samples`).Scan(&rep.Samples); err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "samples cannot be counted: " + j.classify(err).Error()})
	}
	rows, err := j.r.QueryContext(ctx, `SELECT name, seq FROM cursors`)
	if err == nil {
		for rows.Next() {
			var name string
			var seq int64
			if rows.Scan(&name, &seq) == nil && (seq < 1 || seq > rep.LastSeq) {
				rep.Problems = append(rep.Problems, Problem{What: fmt.Sprintf("reader cursor %q points at #%d, outside the log", name, seq)})
			}
		}
		err = rows.Err()
		rows.Close()
	}
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "cursors cannot be read: " + j.classify(err).Error()})
	}
	return rep, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// integrity runs PRAGMA integrity_check and returns its findings (none
// when the file is sound), at most the first 20.
func (j *SQLite) integrity(ctx context.Context) []string {
	rows, err := j.r.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return []string{"could not run: " + j.classify(err).Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if rows.Scan(&s) == nil && s != "ok" {
			out = append(out, s)
		}
	}
	if err := rows.Err(); err != nil {
		out = append(out, j.classify(err).Error())
	}
	return out
}

// eachEvent calls fn for every seq from 1 to last, in order: with the
// event, or with why it cannot be had (missing, unreadable). Events are
// read a page at a time; a seq a page does not give (the page could not
// be read, or a damaged b-tree page ended it early) is looked up on its
// own, so a damaged page costs only the events on it.
func (j *SQLite) eachEvent(ctx context.Context, last int64, fn func(seq int64, e Event, why string) error) error {
	const page = 1000
	alone := func(seq int64) error {
		e, err := j.readOne(ctx, seq)
		why := ""
		switch {
		case errors.Is(err, sql.ErrNoRows):
			why = "missing from the journal"
		case err != nil:
			why = "unreadable: " + err.Error()
		case e.Seq != seq:
			why = "unreadable: the row is damaged"
		}
		return fn(seq, e, why)
	}
	for from := int64(0); from < last; from += page {
		if err := ctx.Err(); err != nil {
			return err
		}
		upto := min(from+page, last)
		evs, _ := j.readPage(ctx, from, upto, page) // on error, every seq is looked up alone
		next := from + 1
		for _, e := range evs {
			if e.Seq < next || e.Seq > upto {
				continue // a damaged page can yield rows out of place
			}
			for ; next < e.Seq; next++ {
				if err := alone(next); err != nil {
					return err
				}
			}
			if err := fn(e.Seq, e, ""); err != nil {
				return err
			}
			next = e.Seq + 1
		}
		for ; next <= upto; next++ {
			if err := alone(next); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *SQLite) version() int {
	var v int
	_ = j.r.QueryRow(`PRAGMA user_version`).Scan(&v)
	return v
}

// SalvageReport is what Salvage kept and lost.
type SalvageReport struct {
	Events   int64     // events copied as they were
	Replaced []Problem // events replaced by a placeholder, and why
	Samples  int64     // samples copied
	Lost     []Problem // other things that could not be read
}

// Salvage copies everything readable of the journal at src, which may be
// damaged, into a new journal at dst (which must not exist). Events are
// read a page at a time and, where a page cannot be read, one by one. An
// event that cannot be read, is missing, or that check refuses is replaced
// by replace(seq, time of the event before, why), so the copy's log runs
// without a gap and opens, replays and exports like any journal. Samples,
// minute means, reader cursors and the Slack outbox are copied as far as
// they can be read.
func Salvage(ctx context.Context, src, dst string, check func(Event) error, replace func(seq int64, at time.Time, why string) Event) (SalvageReport, error) {
	var rep SalvageReport
	if _, err := os.Stat(dst); err == nil {
		return rep, fmt.Errorf("salvage: %s exists; name a new file", dst)
	}
	in, err := OpenReadOnly(src)
	if err != nil && !errors.Is(err, ErrCorrupt) {
		return rep, err
	}
	if err != nil {
		return rep, fmt.Errorf("salvage: %w (the file's header or schema is unreadable: nothing can be saved)", err)
	}
	defer in.Close()
	out, err := Open(dst)
	if err != nil {
		return rep, err
	}
	defer out.Close()

	last := in.LastSeq()
	var prevTime time.Time
	var batch []Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Append(ctx, batch)
		batch = batch[:0]
		return err
	}
	keep := func(seq int64, e Event, why string) error {
		if why == "" && check != nil {
			if err := check(e); err != nil {
				why = err.Error()
			}
		}
		if why != "" {
			e = replace(seq, prevTime, why)
			rep.Replaced = append(rep.Replaced, Problem{Seq: seq, What: why})
		} else {
			rep.Events++
		}
		e.Seq = seq
		prevTime = e.Time
		batch = append(batch, e)
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	}
	if err := in.eachEvent(ctx, last, func(seq int64, e Event, why string) error { return keep(seq, e, why) }); err != nil {
		return rep, err
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.Samples, rep.Lost = in.copySamples(ctx, out)
	if err := in.copyCursors(ctx, out); err != nil {
		rep.Lost = append(rep.Lost, Problem{What: "reader cursors: " + err.Error()})
	}
	if err := in.copyOutbox(ctx, out); err != nil {
		rep.Lost = append(rep.Lost, Problem{What: "Slack outbox: " + err.Error()})
	}
	return rep, out.Close()
}

func (j *SQLite) readOne(ctx context.Context, seq int64) (Event, error) {
	var e Event
	var t int64
	err := j.r.QueryRowContext(ctx, `SELECT seq, time, kind, actor, service, body FROM events WHERE seq = ?`, seq).
		Scan(&e.Seq, &t, &e.Kind, &e.Actor, &e.Service, &e.Body)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return e, err
		}
		return e, j.classify(err)
	}
	e.Time = time.Unix(0, t).UTC()
	return e, nil
}

// copySamples copies full-resolution samples and minute means, in pages,
// until the end or the first page that cannot be read.
func (j *SQLite) copySamples(ctx context.Context, out *SQLite) (int64, []Problem) {
	var n int64
	var lost []Problem
	for _, table := range []string{"samples", "samples_1m"} {
		if !j.hasTable(table) {
			continue
		}
		var service, pane string
		t := int64(-1 << 63)
		for {
			rows, err := j.r.QueryContext(ctx, `SELECT service, pane, time, value FROM `+table+`
				WHERE (service, pane, time) > (?, ?, ?) ORDER BY service, pane, time LIMIT 5000`, service, pane, t)
			if err != nil {
				lost = append(lost, Problem{What: fmt.Sprintf("%s after %s/%s: %v", table, service, pane, j.classify(err))})
				break
			}
			var page []Sample
			for rows.Next() {
				var s Sample
				var at int64
				var v sql.NullFloat64
				if err = rows.Scan(&s.Service, &s.Pane, &at, &v); err != nil {
					break
				}
				s.Time, s.Value, s.NoData = time.Unix(0, at), v.Float64, !v.Valid
				service, pane, t = s.Service, s.Pane, at
				page = append(page, s)
			}
			if err == nil {
				err = rows.Err()
			}
			rows.Close()
			if len(page) > 0 {
				if werr := out.insertSamples(ctx, page); werr != nil {
					lost = append(lost, Problem{What: "writing samples: " + werr.Error()})
					return n, lost
				}
				n += int64(len(page))
			}
			if err != nil {
				lost = append(lost, Problem{What: fmt.Sprintf("%s after %s/%s: %v", table, service, pane, j.classify(err))})
				break
			}
			if len(page) < 5000 {
				break
			}
		}
	}
	return n, lost
}

func (j *SQLite) copyCursors(ctx context.Context, out *SQLite) error {
	rows, err := j.r.QueryContext(ctx, `SELECT name, seq FROM cursors`)
	if err != nil {
		return j.classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return j.classify(err)
		}
		if seq >= 1 && seq <= out.LastSeq() {
			if err := out.SetCursor(ctx, name, seq); err != nil {
				return err
			}
		}
	}
	return j.classify(rows.Err())
}

func (j *SQLite) copyOutbox(ctx context.Context, out *SQLite) error {
	msgs, err := j.SlackMessages(ctx)
	if err != nil || len(msgs) == 0 {
		return err
	}
	if err := out.InitSlackOutbox(ctx); err != nil {
		return err
	}
	for i := range msgs {
		if err := out.InsertSlackMessage(ctx, &msgs[i]); err != nil {
			return err
		}
	}
	return nil
}
