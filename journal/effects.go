package journal

// The generic outbox's storage: one row per effect the room intends to have
// outside itself (a Statuspage incident update, a PagerDuty event), written
// in the same transaction as the cursor of the reader that planned it. The
// state machine that moves rows lives in package outbox; this file only
// stores them.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// OutboxState is where an effect stands.
type OutboxState string

const (
	// OutboxPending: queued; never sent, or known not to have been applied.
	OutboxPending OutboxState = "pending"
	// OutboxSending: a request is (or was) on its way. Found at start-up,
	// it means the process died mid-request: the outcome is uncertain.
	OutboxSending OutboxState = "sending"
	// OutboxDelivered: the service applied it; Remote names the result.
	OutboxDelivered OutboxState = "delivered"
	// OutboxUncertain: the request went out and its answer was lost; the
	// service is asked before anything is sent again.
	OutboxUncertain OutboxState = "uncertain"
	// OutboxFailed: the service refused this effect; it is not retried.
	OutboxFailed OutboxState = "failed"
)

// Open reports whether the effect still needs work.
func (s OutboxState) Open() bool {
	return s == OutboxPending || s == OutboxSending || s == OutboxUncertain
}

// OutboxRow is one intended effect.
type OutboxRow struct {
	ID   int64
	Dest string // the destination ("statuspage", "pagerduty", …)
	// Key identifies the effect within Dest: enqueuing a key twice keeps
	// the first row. It is carried to the service where the service has an
	// idempotency key.
	Key     string
	Seq     int64 // the event that asked for it (0: none)
	State   OutboxState
	Payload []byte // what to do, in the destination's own encoding
	// Remote is the service's id of what was done (an incident update's
	// id), once known.
	Remote       string
	Attempts     int // requests sent
	Checks       int // times the service was asked about an uncertain effect
	WasUncertain bool
	Error        string // the last failure, for people
	Created      time.Time
	Updated      time.Time
}

const effectsSchema = `
CREATE TABLE IF NOT EXISTS outbox (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	dest          TEXT    NOT NULL,
	key           TEXT    NOT NULL,
	seq           INTEGER NOT NULL DEFAULT 0,
	state         TEXT    NOT NULL,
	payload       BLOB,
	remote        TEXT    NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	checks        INTEGER NOT NULL DEFAULT 0,
	was_uncertain INTEGER NOT NULL DEFAULT 0,
	error         TEXT    NOT NULL DEFAULT '',
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	UNIQUE (dest, key)
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox(dest, state);
`

// InitOutbox creates the outbox table if needed; a writer calls it once
// before enqueuing.
func (j *SQLite) InitOutbox(ctx context.Context) error {
	if j.w == nil {
		return ErrReadOnly
	}
	if _, err := j.w.ExecContext(ctx, effectsSchema); err != nil {
		return fmt.Errorf("journal %s: create outbox: %w", j.path, j.wrote(err))
	}
	return nil
}

// Enqueue adds rows and, when cursorSeq > 0, moves the named reader cursor
// to cursorSeq, in one transaction: a reader that restarts finds either
// both or neither. A row whose (Dest, Key) is already there is left as it
// is, and rows[i] is filled from it (ID, State, Remote…). IDs of new rows
// are set.
func (j *SQLite) Enqueue(ctx context.Context, rows []OutboxRow, cursor string, cursorSeq int64) error {
	if j.w == nil {
		return ErrReadOnly
	}
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox enqueue: %w", j.wrote(err))
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	for i := range rows {
		r := &rows[i]
		if r.State == "" {
			r.State = OutboxPending
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (dest, key, seq, state, payload, remote, attempts, checks, was_uncertain, error, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dest, key) DO NOTHING`,
			r.Dest, r.Key, r.Seq, string(r.State), r.Payload, r.Remote, r.Attempts, r.Checks, boolInt(r.WasUncertain), r.Error,
			r.Created.UnixNano(), r.Updated.UnixNano())
		if err != nil {
			return fmt.Errorf("outbox enqueue %s/%s: %w", r.Dest, r.Key, j.wrote(err))
		}
		if n, _ := res.RowsAffected(); n == 1 {
			if r.ID, err = res.LastInsertId(); err != nil {
				return err
			}
			continue
		}
		row := tx.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE dest = ? AND key = ?`, r.Dest, r.Key)
		if err := scanOutbox(row, r); err != nil {
			return fmt.Errorf("outbox enqueue %s/%s: %w", r.Dest, r.Key, j.classify(err))
		}
	}
	if cursorSeq > 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO cursors(name, seq, updated) VALUES (?, ?, ?)
			ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
			cursor, cursorSeq, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("outbox cursor: %w", j.wrote(err))
		}
	}
	return j.wrote(tx.Commit())
}

// UpdateOutbox writes a row's mutable fields (state, remote, attempts,
// checks, was_uncertain, error, updated).
func (j *SQLite) UpdateOutbox(ctx context.Context, r *OutboxRow) error {
	if j.w == nil {
		return ErrReadOnly
	}
	_, err := j.w.ExecContext(ctx, `UPDATE outbox SET state = ?, remote = ?, attempts = ?, checks = ?, was_uncertain = ?, error = ?, updated = ? WHERE id = ?`,
		string(r.State), r.Remote, r.Attempts, r.Checks, boolInt(r.WasUncertain), r.Error, r.Updated.UnixNano(), r.ID)
	if err != nil {
		return fmt.Errorf("outbox update #%d: %w", r.ID, j.wrote(err))
	}
	return nil
}

// OutboxRows returns the rows of the destinations named (all when none
// are), oldest first; with open, only those that still need work.
func (j *SQLite) OutboxRows(ctx context.Context, open bool, dests ...string) ([]OutboxRow, error) {
	if !j.hasTable("outbox") {
		return nil, nil // nothing was ever enqueued in this journal
	}
	var where []string
	var args []any
	if len(dests) > 0 {
		where = append(where, "dest IN (?"+strings.Repeat(", ?", len(dests)-1)+")")
		for _, d := range dests {
			args = append(args, d)
		}
	}
	if open {
		where = append(where, "state IN ('pending', 'sending', 'uncertain')")
	}
	q := `SELECT ` + outboxColumns + ` FROM outbox`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := j.r.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", j.classify(err))
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		if err := scanOutbox(rows, &r); err != nil {
			return nil, fmt.Errorf("outbox: %w", j.classify(err))
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const outboxColumns = `id, dest, key, seq, state, payload, remote, attempts, checks, was_uncertain, error, created, updated`

func scanOutbox(s interface{ Scan(...any) error }, r *OutboxRow) error {
	var state string
	var wasU int
	var created, updated int64
	var payload []byte
	if err := s.Scan(&r.ID, &r.Dest, &r.Key, &r.Seq, &state, &payload, &r.Remote, &r.Attempts, &r.Checks, &wasU, &r.Error, &created, &updated); err != nil {
		return err
	}
	r.State, r.Payload, r.WasUncertain = OutboxState(state), payload, wasU != 0
	r.Created, r.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return nil
}
