package journal

// What Verify, Salvage and Copy need of a backend beyond Reader: raw rows,
// read a page at a time, and written back as they were.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// store is a journal read row by row.
type store interface {
	Reader
	schemaVersion(ctx context.Context) int
	// integrity is the backend's own check of its storage (none: nil).
	integrity(ctx context.Context) []string
	readPage(ctx context.Context, from, upto int64, n int) ([]Event, error)
	// readOne reads one event (errMissing when there is none).
	readOne(ctx context.Context, seq int64) (Event, error)
	cursors(ctx context.Context) (map[string]int64, error)
	sampleCount(ctx context.Context) (int64, error)
	// samplePages calls fn with pages of table's rows ("samples" or
	// "samples_1m") in key order, up to the end or the first page that
	// cannot be read.
	samplePages(ctx context.Context, table string, fn func([]sampleRow) error) error
}

// sink is a journal written row by row.
type sink interface {
	Journal
	putSampleRows(ctx context.Context, table string, rows []sampleRow) error
}

// sampleRow is a stored sample: a minute mean of N values in samples_1m.
type sampleRow struct {
	Sample
	N int64
}

var errMissing = errors.New("no such event")

// ErrNotEmpty: Copy's destination already has events.
var ErrNotEmpty = errors.New("the destination journal is not empty")

var (
	_ store = (*SQLite)(nil)
	_ store = (*Postgres)(nil)
	_ sink  = (*SQLite)(nil)
	_ sink  = (*Postgres)(nil)
)

const samplePage = 5000

// copyRest copies samples, minute means, reader cursors (those that point
// into out's log) and both outboxes from in to out, as far as they can be
// read; it returns the samples copied and what was lost.
func copyRest(ctx context.Context, in store, out sink) (int64, []Problem) {
	var n int64
	var lost []Problem
	for _, table := range []string{"samples", "samples_1m"} {
		err := in.samplePages(ctx, table, func(rows []sampleRow) error {
			if err := out.putSampleRows(ctx, table, rows); err != nil {
				return fmt.Errorf("writing %s: %w", table, err)
			}
			n += int64(len(rows))
			return nil
		})
		if err != nil {
			lost = append(lost, Problem{What: err.Error()})
		}
	}
	cursors, err := in.cursors(ctx)
	if err != nil {
		lost = append(lost, Problem{What: "reader cursors: " + err.Error()})
	}
	for _, name := range slices.Sorted(maps.Keys(cursors)) {
		if seq := cursors[name]; seq >= 1 && seq <= out.LastSeq() {
			if err := out.SetCursor(ctx, name, seq); err != nil {
				lost = append(lost, Problem{What: fmt.Sprintf("reader cursor %s: %v", name, err)})
			}
		}
	}
	if msgs, err := in.SlackMessages(ctx); err != nil {
		lost = append(lost, Problem{What: "Slack outbox: " + err.Error()})
	} else if len(msgs) > 0 {
		err := out.InitSlackOutbox(ctx)
		for i := 0; err == nil && i < len(msgs); i++ {
			err = out.InsertSlackMessage(ctx, &msgs[i])
		}
		if err != nil {
			lost = append(lost, Problem{What: "Slack outbox: " + err.Error()})
		}
	}
	if rows, err := in.OutboxRows(ctx, false); err != nil {
		lost = append(lost, Problem{What: "outbox: " + err.Error()})
	} else if len(rows) > 0 {
		for i := range rows {
			rows[i].ID = 0
		}
		err := out.InitOutbox(ctx)
		if err == nil {
			err = out.Enqueue(ctx, rows, "", 0)
		}
		if err != nil {
			lost = append(lost, Problem{What: "outbox: " + err.Error()})
		}
	}
	return n, lost
}

// CopyReport is what Copy copied.
type CopyReport struct {
	Events  int64
	Samples int64
}

// Copy copies the journal at src into the journal at dst, which must be
// new or empty: SQLite to Postgres, Postgres to SQLite, or any other pair.
// Events keep their seqs; samples, minute means, reader cursors and both
// outboxes come along. A Postgres destination must not be led by another
// process.
func Copy(ctx context.Context, src, dst string) (CopyReport, error) {
	var rep CopyReport
	r, err := OpenReader(ctx, src)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	w, err := OpenJournal(ctx, dst)
	if err != nil {
		return rep, err
	}
	defer w.Close()
	if w.LastSeq() != 0 {
		return rep, fmt.Errorf("copy: %w: %s already has %d events: name a new journal", ErrNotEmpty, w.Path(), w.LastSeq())
	}
	in, out := r.(store), w.(sink)
	var batch []Event
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Append(ctx, batch)
		batch = batch[:0]
		return err
	}
	err = in.Replay(ctx, 0, func(e Event) error {
		if e.Seq != rep.Events+1 {
			return fmt.Errorf("copy: the source's log has a gap: #%d follows #%d (run journal verify)", e.Seq, rep.Events)
		}
		rep.Events++
		batch = append(batch, e)
		if len(batch) >= 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return rep, err
	}
	var lost []Problem
	rep.Samples, lost = copyRest(ctx, in, out)
	if len(lost) > 0 {
		return rep, fmt.Errorf("copy: %v", lost)
	}
	return rep, w.Close()
}

// SQLite rows.

func (j *SQLite) schemaVersion(ctx context.Context) int {
	var v int
	_ = j.r.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	if v == 0 {
		v = 1 // version 1 journals kept their version in meta
	}
	return v
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

func (j *SQLite) readOne(ctx context.Context, seq int64) (Event, error) {
	evs, err := j.readPage(ctx, seq-1, seq, 1)
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 {
		return Event{}, errMissing
	}
	return evs[0], nil
}

func (j *SQLite) cursors(ctx context.Context) (map[string]int64, error) {
	rows, err := j.r.QueryContext(ctx, `SELECT name, seq FROM cursors`)
	if err != nil {
		return nil, j.classify(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return out, j.classify(err)
		}
		out[name] = seq
	}
	return out, j.classify(rows.Err())
}

func (j *SQLite) sampleCount(ctx context.Context) (int64, error) {
	var n int64
	err := j.r.QueryRowContext(ctx, `SELECT count(*) FROM samples`).Scan(&n)
	return n, j.classify(err)
}

func (j *SQLite) samplePages(ctx context.Context, table string, fn func([]sampleRow) error) error {
	if !j.hasTable(table) {
		return nil
	}
	cols := "service, pane, time, value, 1"
	if table == "samples_1m" {
		cols = "service, pane, time, value, n"
	}
	var service, pane string
	t := int64(-1 << 63)
	for {
		rows, err := j.r.QueryContext(ctx, `SELECT `+cols+` FROM `+table+`
			WHERE (service, pane, time) > (?, ?, ?) ORDER BY service, pane, time LIMIT ?`, service, pane, t, samplePage)
		if err != nil {
			return fmt.Errorf("%s after %s/%s: %w", table, service, pane, j.classify(err))
		}
		var page []sampleRow
		for rows.Next() {
			var r sampleRow
			var at int64
			var v sql.NullFloat64
			if err = rows.Scan(&r.Service, &r.Pane, &at, &v, &r.N); err != nil {
				break
			}
			r.Time, r.Value, r.NoData = unixNano(at), v.Float64, !v.Valid
			service, pane, t = r.Service, r.Pane, at
			page = append(page, r)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		if len(page) > 0 {
			if ferr := fn(page); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return fmt.Errorf("%s after %s/%s: %w", table, service, pane, j.classify(err))
		}
		if len(page) < samplePage {
			return nil
		}
	}
}

func (j *SQLite) putSampleRows(ctx context.Context, table string, rows []sampleRow) error {
	if j.w == nil {
		return ErrReadOnly
	}
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return j.wrote(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	q := `INSERT OR REPLACE INTO samples(service, pane, time, value) VALUES (?, ?, ?, ?)`
	if table == "samples_1m" {
		q = `INSERT OR REPLACE INTO samples_1m(service, pane, time, value, n) VALUES (?, ?, ?, ?, ?)`
	}
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return j.wrote(err)
	}
	defer stmt.Close()
	for _, r := range rows {
		var v any = r.Value
		if r.NoData {
			v = nil
		}
		args := []any{r.Service, r.Pane, r.Time.UnixNano(), v}
		if table == "samples_1m" {
			args = append(args, r.N)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return j.wrote(err)
		}
	}
	return j.wrote(tx.Commit())
}

// Postgres rows.

func (j *Postgres) schemaVersion(ctx context.Context) int {
	v, _ := j.identify(ctx)
	return v
}

func (j *Postgres) integrity(context.Context) []string { return nil }

func (j *Postgres) readOne(ctx context.Context, seq int64) (Event, error) {
	evs, err := j.readPage(ctx, seq-1, seq, 1)
	if err != nil {
		return Event{}, err
	}
	if len(evs) == 0 {
		return Event{}, errMissing
	}
	return evs[0], nil
}

func (j *Postgres) sampleCount(ctx context.Context) (int64, error) {
	var n int64
	err := j.r.QueryRow(ctx, `SELECT count(*) FROM warroom.samples WHERE room = $1`, j.room).Scan(&n)
	return n, j.classify(err)
}

func (j *Postgres) samplePages(ctx context.Context, table string, fn func([]sampleRow) error) error {
	cols := "service, pane, time, value, 1::bigint"
	if table == "samples_1m" {
		cols = "service, pane, time, value, n"
	}
	var service, pane string
	t := int64(-1 << 63)
	for {
		rows, err := j.r.Query(ctx, `SELECT `+cols+` FROM warroom.`+table+`
			WHERE room = $1 AND (service, pane, time) > ($2, $3, $4) ORDER BY service, pane, time LIMIT $5`, j.room, service, pane, t, samplePage)
		if err != nil {
			return fmt.Errorf("%s after %s/%s: %w", table, service, pane, j.classify(err))
		}
		var page []sampleRow
		for rows.Next() {
			var r sampleRow
			var at int64
			var v *float64
			if err = rows.Scan(&r.Service, &r.Pane, &at, &v, &r.N); err != nil {
				break
			}
			r.Time, r.NoData = unixNano(at), v == nil
			if v != nil {
				r.Value = *v
			}
			service, pane, t = r.Service, r.Pane, at
			page = append(page, r)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if len(page) > 0 {
			if ferr := fn(page); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return fmt.Errorf("%s after %s/%s: %w", table, service, pane, j.classify(err))
		}
		if len(page) < samplePage {
			return nil
		}
	}
}

func (j *Postgres) putSampleRows(ctx context.Context, table string, rows []sampleRow) error {
	return j.write(ctx, "journal samples", func(ctx context.Context, c *pgx.Conn) error {
		b := &pgx.Batch{}
		for _, r := range rows {
			var v *float64
			if !r.NoData {
				v = &r.Value
			}
			if table == "samples_1m" {
				b.Queue(`INSERT INTO warroom.samples_1m(room, service, pane, time, value, n) VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (room, service, pane, time) DO UPDATE SET value = excluded.value, n = excluded.n`,
					j.room, r.Service, r.Pane, r.Time.UnixNano(), v, r.N)
			} else {
				b.Queue(`INSERT INTO warroom.samples(room, service, pane, time, value) VALUES ($1, $2, $3, $4, $5)
					ON CONFLICT (room, service, pane, time) DO UPDATE SET value = excluded.value`,
					j.room, r.Service, r.Pane, r.Time.UnixNano(), v)
			}
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
	})
}

func unixNano(t int64) time.Time { return time.Unix(0, t).UTC() }
