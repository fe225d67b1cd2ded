package journal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
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

// Verify checks the journal at where (a SQLite file or a postgres:// room)
// without writing to it: SQLite's own integrity check, that the log runs
// from #1 without a gap, that each event passes check (the caller decodes
// its body), and that reader cursors point into the log. An error means
// it could not be read as a journal at all (ErrNotJournal, ErrUnreadable,
// ErrNewerSchema).
func Verify(ctx context.Context, where string, check func(Event) error) (VerifyReport, error) {
	var rep VerifyReport
	r, err := OpenReader(ctx, where)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	j := r.(store)
	rep.Version = j.schemaVersion(ctx)
	for _, p := range j.integrity(ctx) {
		rep.Problems = append(rep.Problems, Problem{What: "integrity check: " + p})
	}
	rep.LastSeq = j.LastSeq()
	err = eachEvent(ctx, j, rep.LastSeq, func(seq int64, e Event, why string) error {
		if why == "" && check != nil {
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
	if rep.Samples, err = j.sampleCount(ctx); err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "samples cannot be counted: " + err.Error()})
	}
	cursors, err := j.cursors(ctx)
	if err != nil {
		rep.Problems = append(rep.Problems, Problem{What: "cursors cannot be read: " + err.Error()})
	}
	for _, name := range slices.Sorted(maps.Keys(cursors)) {
		if seq := cursors[name]; seq < 1 || seq > rep.LastSeq {
			rep.Problems = append(rep.Problems, Problem{What: fmt.Sprintf("reader cursor %q points at #%d, outside the log", name, seq)})
		}
	}
	return rep, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// eachEvent calls fn for every seq from 1 to last, in order: with the
// event, or with why it cannot be had (missing, unreadable). Events are
// read a page at a time; a seq a page does not give (the page could not
// be read, or a damaged b-tree page ended it early) is looked up on its
// own, so a damaged page costs only the events on it.
func eachEvent(ctx context.Context, j store, last int64, fn func(seq int64, e Event, why string) error) error {
	const page = 1000
	alone := func(seq int64) error {
		e, err := j.readOne(ctx, seq)
		why := ""
		switch {
		case errors.Is(err, errMissing):
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
// minute means, reader cursors and both outboxes are copied as far as
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
	if err := eachEvent(ctx, in, last, func(seq int64, e Event, why string) error { return keep(seq, e, why) }); err != nil {
		return rep, err
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.Samples, rep.Lost = copyRest(ctx, in, out)
	return rep, out.Close()
}
