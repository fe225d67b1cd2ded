package journal

// Writes of the Postgres journal other than events: samples, the Slack
// outbox and the generic outbox. All go through the lock connection.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AppendSamples stores a batch of samples in one statement (a later
// sample of the same pane and time replaces an earlier one), then folds
// at most compactSpan of samples older than FullResolution into minute
// means, as SQLite does.
func (j *Postgres) AppendSamples(ctx context.Context, samples []Sample) error {
	if len(samples) == 0 {
		return nil
	}
	type key struct {
		service, pane string
		t             int64
	}
	// One statement may not touch a row twice: the last of a pane's
	// samples at one time wins, as with INSERT OR REPLACE.
	at := make(map[key]int, len(samples))
	var services, panes []string
	var times []int64
	var values []*float64
	for _, s := range samples {
		k := key{s.Service, s.Pane, s.Time.UnixNano()}
		var v *float64
		if !s.NoData {
			v = new(float64)
			*v = s.Value
		}
		if i, ok := at[k]; ok {
			values[i] = v
			continue
		}
		at[k] = len(services)
		services, panes, times, values = append(services, s.Service), append(panes, s.Pane), append(times, k.t), append(values, v)
	}
	err := j.write(ctx, "journal samples", func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO warroom.samples(room, service, pane, time, value)
			SELECT $1, s, p, t, v FROM unnest($2::text[], $3::text[], $4::bigint[], $5::float8[]) AS x(s, p, t, v)
			ON CONFLICT (room, service, pane, time) DO UPDATE SET value = excluded.value, id = DEFAULT`,
			j.room, services, panes, times, values)
		return err
	})
	if err != nil {
		return err
	}
	j.wmu.Lock()
	for _, t := range times {
		j.samples.newest = max(j.samples.newest, t)
	}
	cutoff := j.samples.newest - int64(FullResolution)
	j.wmu.Unlock()
	return j.write(ctx, "journal samples: compact", func(ctx context.Context, c *pgx.Conn) error {
		return j.compactSamples(ctx, c, cutoff)
	})
}

func (j *Postgres) compactSamples(ctx context.Context, c *pgx.Conn, cutoff int64) error {
	const minute = int64(time.Minute)
	var oldest *int64
	if err := c.QueryRow(ctx, `SELECT MIN(time) FROM warroom.samples WHERE room = $1`, j.room).Scan(&oldest); err != nil || oldest == nil {
		return err
	}
	lo := *oldest - *oldest%minute
	hi := min(lo+int64(compactSpan), cutoff-cutoff%minute)
	if hi <= lo {
		return nil
	}
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO warroom.samples_1m(room, service, pane, time, value, n)
			SELECT room, service, pane, time - time % $2 AS m, AVG(value), COUNT(value) FROM warroom.samples
			WHERE room = $1 AND time >= $3 AND time < $4 GROUP BY room, service, pane, m
			ON CONFLICT (room, service, pane, time) DO UPDATE SET
				value = CASE WHEN warroom.samples_1m.n + excluded.n = 0 THEN NULL
					ELSE (COALESCE(warroom.samples_1m.value, 0) * warroom.samples_1m.n + COALESCE(excluded.value, 0) * excluded.n)
						/ (warroom.samples_1m.n + excluded.n) END,
				n = warroom.samples_1m.n + excluded.n`, j.room, minute, lo, hi); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM warroom.samples WHERE room = $1 AND time >= $2 AND time < $3`, j.room, lo, hi)
		return err
	})
}

// InitSlackOutbox is a no-op: the schema has the table.
func (j *Postgres) InitSlackOutbox(context.Context) error { return nil }

// InitOutbox is a no-op: the schema has the table.
func (j *Postgres) InitOutbox(context.Context) error { return nil }

// InsertSlackMessage adds a Slack outbox row and sets m.ID.
func (j *Postgres) InsertSlackMessage(ctx context.Context, m *SlackMessage) error {
	first, last := seqBounds(m.Seqs)
	m.Seq, m.LastSeq = first, last
	return j.write(ctx, "slack outbox insert", func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, `INSERT INTO warroom.slack_messages
			(room, seq, last_seq, seqs, channel, kind, alert_id, state, ts, after_ts, text, body, was_uncertain, checks, error, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
			j.room, first, last, FormatSeqs(m.Seqs), m.Channel, m.Kind, m.AlertID, m.State, m.TS, m.AfterTS, m.Text, m.Body,
			m.WasUncertain, m.Checks, m.Error, m.Updated.UnixNano()).Scan(&m.ID)
	})
}

// UpdateSlackMessage writes a row's mutable fields and, when cursorSeq >
// 0, the named cursor, in one transaction.
func (j *Postgres) UpdateSlackMessage(ctx context.Context, m *SlackMessage, cursor string, cursorSeq int64) error {
	return j.write(ctx, "slack outbox update", func(ctx context.Context, c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if m != nil {
				if _, err := tx.Exec(ctx, `UPDATE warroom.slack_messages SET state = $1, ts = $2, text = $3, body = $4,
					was_uncertain = $5, checks = $6, error = $7, updated = $8 WHERE room = $9 AND id = $10`,
					m.State, m.TS, m.Text, m.Body, m.WasUncertain, m.Checks, m.Error, m.Updated.UnixNano(), j.room, m.ID); err != nil {
					return fmt.Errorf("#%d: %w", m.ID, err)
				}
			}
			if cursorSeq > 0 {
				if _, err := tx.Exec(ctx, pgSetCursor, j.room, cursor, cursorSeq, time.Now().UnixNano()); err != nil {
					return fmt.Errorf("cursor: %w", err)
				}
			}
			return nil
		})
	})
}

// DeleteSlackMessage removes a row Slack definitely did not apply.
func (j *Postgres) DeleteSlackMessage(ctx context.Context, id int64) error {
	return j.write(ctx, "slack outbox delete", func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `DELETE FROM warroom.slack_messages WHERE room = $1 AND id = $2`, j.room, id)
		return err
	})
}

// Enqueue adds outbox rows and moves a cursor in one transaction (see
// Journal).
func (j *Postgres) Enqueue(ctx context.Context, rows []OutboxRow, cursor string, cursorSeq int64) error {
	// Rows are filled in only once the transaction commits: a retry must
	// not see IDs of a rolled-back attempt.
	out := append([]OutboxRow(nil), rows...)
	err := j.write(ctx, "outbox enqueue", func(ctx context.Context, c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			for i := range out {
				r := &out[i]
				if r.State == "" {
					r.State = OutboxPending
				}
				err := tx.QueryRow(ctx, `INSERT INTO warroom.outbox (room, dest, key, seq, state, payload, remote, attempts, checks, was_uncertain, error, created, updated)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (room, dest, key) DO NOTHING RETURNING id`,
					j.room, r.Dest, r.Key, r.Seq, string(r.State), r.Payload, r.Remote, r.Attempts, r.Checks, r.WasUncertain, r.Error,
					r.Created.UnixNano(), r.Updated.UnixNano()).Scan(&r.ID)
				if err == pgx.ErrNoRows {
					err = scanPgOutbox(tx.QueryRow(ctx, `SELECT `+outboxColumns+` FROM warroom.outbox WHERE room = $1 AND dest = $2 AND key = $3`,
						j.room, r.Dest, r.Key), r)
				}
				if err != nil {
					return fmt.Errorf("%s/%s: %w", r.Dest, r.Key, err)
				}
			}
			if cursorSeq > 0 {
				if _, err := tx.Exec(ctx, pgSetCursor, j.room, cursor, cursorSeq, time.Now().UnixNano()); err != nil {
					return fmt.Errorf("cursor: %w", err)
				}
			}
			return nil
		})
	})
	if err == nil {
		copy(rows, out)
	}
	return err
}

// UpdateOutbox writes an outbox row's mutable fields.
func (j *Postgres) UpdateOutbox(ctx context.Context, r *OutboxRow) error {
	return j.write(ctx, fmt.Sprintf("outbox update #%d", r.ID), func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `UPDATE warroom.outbox SET state = $1, remote = $2, attempts = $3, checks = $4, was_uncertain = $5, error = $6, updated = $7
			WHERE room = $8 AND id = $9`,
			string(r.State), r.Remote, r.Attempts, r.Checks, r.WasUncertain, r.Error, r.Updated.UnixNano(), j.room, r.ID)
		return err
	})
}
