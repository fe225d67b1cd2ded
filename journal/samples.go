package journal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// FullResolution is how long samples are kept as they came; older ones
// are folded into one-minute means (samples_1m), so that a room left
// running for a week stays bounded: 20 panes polled every second make
// about 1.7M rows a day at full resolution and 29K as minute means.
const FullResolution = 24 * time.Hour

// compactSpan bounds one compaction transaction (it holds the writer):
// two minutes of every pane at a time.
const compactSpan = 2 * time.Minute

// ErrSamplesShed is returned by AppendSamples when samples were not
// stored because the disk is low; they are counted in Health.
var ErrSamplesShed = errors.New("samples not recorded: the journal's disk is nearly full")

// sampleCompactor remembers the newest sample time the writer has seen.
type sampleCompactor struct {
	newest int64
}

// AppendSamples stores a batch of samples in one transaction, then folds
// at most compactSpan of samples older than FullResolution into minute
// means. When the disk is low the batch is shed (ErrSamplesShed).
func (j *SQLite) AppendSamples(ctx context.Context, samples []Sample) error {
	if j.w == nil {
		return ErrReadOnly
	}
	if len(samples) == 0 {
		return nil
	}
	if j.disk.low() {
		j.disk.shed(len(samples))
		return ErrSamplesShed
	}
	if err := j.wrote(j.insertSamples(ctx, samples)); err != nil {
		j.disk.shed(len(samples))
		return fmt.Errorf("journal samples: %w", err)
	}
	for _, s := range samples {
		j.samples.newest = max(j.samples.newest, s.Time.UnixNano())
	}
	if err := j.wrote(j.compactSamples(ctx, j.samples.newest-int64(FullResolution))); err != nil {
		return fmt.Errorf("journal samples: compact: %w", err)
	}
	return nil
}

// insertSamples writes a batch in one transaction that skips the fsync
// (synchronous=NORMAL for it alone): no one is told a sample is durable,
// as they are told of an event. The batch reaches the disk with the next
// event's commit, whose fsync covers the WAL it sits in, or at the next
// checkpoint; a crash may lose the samples since. The writer connection
// is held throughout, so no event commits under NORMAL, and it is set back
// to FULL (and checked) before anyone else uses it, or thrown away.
func (j *SQLite) insertSamples(ctx context.Context, samples []Sample) (err error) {
	c, err := j.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA synchronous=NORMAL`); err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		var sync int
		_, rerr := c.ExecContext(rctx, `PRAGMA synchronous=FULL`)
		if rerr == nil {
			rerr = c.QueryRowContext(rctx, `PRAGMA synchronous`).Scan(&sync)
		}
		if rerr != nil || sync != 2 {
			// Never hand back a connection that would commit events
			// without fsync: the pool opens a new one (FULL, from its DSN).
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
			if err == nil {
				err = fmt.Errorf("restore synchronous=FULL after samples: %v (synchronous=%d)", rerr, sync)
			}
		}
	}()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO samples(service, pane, time, value) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, s := range samples {
		var v any = s.Value
		if s.NoData {
			v = nil
		}
		if _, err := stmt.ExecContext(ctx, s.Service, s.Pane, s.Time.UnixNano(), v); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// compactSamples folds the oldest full-resolution samples before cutoff
// (whole minutes only, at most compactSpan of them) into minute means. A
// minute folded twice (a late backfill) keeps the mean of all its samples.
func (j *SQLite) compactSamples(ctx context.Context, cutoff int64) error {
	const minute = int64(time.Minute)
	var oldest sql.NullInt64
	if err := j.w.QueryRowContext(ctx, `SELECT MIN(time) FROM samples`).Scan(&oldest); err != nil || !oldest.Valid {
		return err
	}
	lo := oldest.Int64 - oldest.Int64%minute
	hi := min(lo+int64(compactSpan), cutoff-cutoff%minute)
	if hi <= lo {
		return nil
	}
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, `INSERT INTO samples_1m(service, pane, time, value, n)
		SELECT service, pane, time - time % ?1 AS m, AVG(value), COUNT(value) FROM samples
		WHERE time >= ?2 AND time < ?3 GROUP BY service, pane, m
		ON CONFLICT(service, pane, time) DO UPDATE SET
			value = CASE WHEN n + excluded.n = 0 THEN NULL
				ELSE (COALESCE(value, 0) * n + COALESCE(excluded.value, 0) * excluded.n) / (n + excluded.n) END,
			n = n + excluded.n`, minute, lo, hi); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM samples WHERE time >= ? AND time < ?`, lo, hi); err != nil {
		return err
	}
	return tx.Commit()
}

// Samples calls fn for the stored samples of one pane between from and to
// (inclusive; zero times mean unbounded), oldest first. An empty service
// or pane matches all. Minute means come back as samples at the start of
// their minute; a minute with no value is a NO DATA gap.
func (j *SQLite) Samples(ctx context.Context, service, pane string, from, to time.Time, fn func(Sample) error) error {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	const where = `WHERE (?1 = '' OR service = ?1) AND (?2 = '' OR pane = ?2) AND time >= ?3 AND time <= ?4`
	q := `SELECT service, pane, time, value FROM samples ` + where
	if j.hasTable("samples_1m") {
		q += ` UNION ALL SELECT service, pane, time, value FROM samples_1m ` + where
	}
	rows, err := j.r.QueryContext(ctx, q+` ORDER BY 1, 2, 3`, service, pane, lo, hi)
	if err != nil {
		return fmt.Errorf("journal samples: %w", j.classify(err))
	}
	var out []Sample
	for rows.Next() {
		var s Sample
		var t int64
		var v sql.NullFloat64
		if err := rows.Scan(&s.Service, &s.Pane, &t, &v); err != nil {
			rows.Close()
			return j.classify(err)
		}
		s.Time = time.Unix(0, t).UTC()
		s.Value, s.NoData = v.Float64, !v.Valid
		out = append(out, s)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return j.classify(err)
	}
	for _, s := range out {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// hasTable reports whether the journal has a table (a version 1 journal
// read without migration lacks samples_1m; slack_messages exists once a
// mirror ran).
func (j *SQLite) hasTable(name string) bool {
	var n int
	err := j.r.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return err == nil && n == 1
}
