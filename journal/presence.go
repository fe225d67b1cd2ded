package journal

// Who is connected to each process of a shared room. Presence is not an
// event (see incident.Presence): each process keeps its own, and in a
// shared room says every few seconds who is connected to it, so every
// dashboard shows everyone in the room, whichever process they reached.
// Freshness is judged by the database's clock, so the processes' clocks
// need not agree.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// PresenceRow is one way a person is connected to one process.
type PresenceRow struct {
	Node   string
	Key    string // the process's own key (a session id, or via:handle)
	Handle string
	Via    string
	Since  time.Time
	Until  time.Time // zero: until the session ends
}

// maxPresenceRows bounds what a reader takes in: far more sessions than a
// room has people.
const maxPresenceRows = 10000

// presenceKeep is how long the rows of a process that stopped saying
// anything (killed) are kept before another process deletes them.
const presenceKeep = time.Hour

// PutPresence replaces what this process says is connected to it with
// rows, as of now.
func (j *Postgres) PutPresence(ctx context.Context, rows []PresenceRow) error {
	if j.ro {
		return ErrReadOnly
	}
	err := pgx.BeginTxFunc(ctx, j.r, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM warroom.presence WHERE room = $1 AND (node = $2 OR seen < now() - make_interval(secs => $3))`,
			j.room, j.o.Node, presenceKeep.Seconds())
		for _, r := range rows {
			var until int64
			if !r.Until.IsZero() {
				until = r.Until.UnixNano()
			}
			b.Queue(`INSERT INTO warroom.presence(room, node, key, handle, via, since, until) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT DO NOTHING`, j.room, j.o.Node, r.Key, r.Handle, r.Via, r.Since.UnixNano(), until)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("presence: %w", j.classify(err))
	}
	return nil
}

// Presence returns what every process of the room said within the last
// fresh (by the database's clock), this one's included.
func (j *Postgres) Presence(ctx context.Context, fresh time.Duration) ([]PresenceRow, error) {
	rows, err := j.r.Query(ctx, `SELECT node, key, handle, via, since, until FROM warroom.presence
		WHERE room = $1 AND seen >= now() - make_interval(secs => $2) ORDER BY node, key LIMIT $3`, j.room, fresh.Seconds(), maxPresenceRows)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", j.classify(err))
	}
	defer rows.Close()
	var out []PresenceRow
	for rows.Next() {
		var r PresenceRow
		var since, until int64
		if err := rows.Scan(&r.Node, &r.Key, &r.Handle, &r.Via, &since, &until); err != nil {
			return nil, fmt.Errorf("presence: %w", j.classify(err))
		}
		r.Since = unixNano(since)
		if until != 0 {
			r.Until = unixNano(until)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("presence: %w", j.classify(err))
	}
	return out, nil
}
