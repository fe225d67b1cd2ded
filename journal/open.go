package journal

import (
	"context"
	"fmt"
)

// replayPages calls fn for every event after seq after up to upto (0: no
// limit), reading pages of events with read in a second goroutine while fn
// folds the previous one, so a restart uses both cores; fn still sees
// events strictly in order. No read transaction outlives its page.
func replayPages(ctx context.Context, after, upto int64, read func(ctx context.Context, from, upto int64, n int) ([]Event, error), fn func(Event) error) error {
	const pageSize = 20000
	if upto <= 0 {
		upto = 1<<63 - 1
	}
	type page struct {
		events []Event
		err    error
	}
	pages := make(chan page, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(pages)
		for from := after; from < upto; {
			evs, err := read(ctx, from, upto, pageSize)
			select {
			case pages <- page{evs, err}:
			case <-stop:
				return
			}
			if err != nil || len(evs) < pageSize {
				return
			}
			from = evs[len(evs)-1].Seq
		}
	}()
	for p := range pages {
		if p.err != nil {
			return p.err
		}
		for _, e := range p.events {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// OpenJournal opens the journal at where for writing: a SQLite file
// path, or a postgres:// URL. A Postgres room is led by this process
// (ErrInUse when another process leads it); Shared rooms whose processes
// take turns are opened with OpenPostgres.
func OpenJournal(ctx context.Context, where string) (Journal, error) {
	if !IsURL(where) {
		return Open(where)
	}
	j, err := OpenPostgres(ctx, where, PostgresOptions{}, false)
	if err != nil {
		return nil, err
	}
	ok, err := j.TryLead(ctx)
	if err == nil && !ok {
		li, _ := j.Leader(ctx)
		err = fmt.Errorf("journal %s: %w (node %s leads it)", j.Path(), ErrInUse, li.Node)
	}
	if err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// OpenReader opens the journal at where read-only (exports, verify,
// summaries), a SQLite file path or a postgres:// URL.
func OpenReader(ctx context.Context, where string) (Reader, error) {
	if !IsURL(where) {
		return OpenReadOnly(where)
	}
	return OpenPostgres(ctx, where, PostgresOptions{Readers: 2}, true)
}

// Name is how a journal location is shown: a file path as it is, a
// postgres:// URL without its password and with its room.
func Name(where string) string {
	if !IsURL(where) {
		return where
	}
	if _, _, shown, err := parsePostgresURL(where); err == nil {
		return shown
	}
	return "postgres://…"
}
