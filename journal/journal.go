// Package journal is warroom's durable log: events, samples and reader
// cursors in one SQLite file (modernc.org/sqlite, no cgo).
//
// The events table is the truth: incident state is a fold over it, and a
// restart is a replay. Exactly one connection writes; every append is a
// transaction committed with synchronous=FULL before the caller may show or
// publish its events.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Event is one row of the log. Body is the kind-specific JSON payload.
type Event struct {
	Seq     int64
	Time    time.Time
	Kind    string
	Actor   string
	Service string
	Body    []byte
}

// Sample is one observed value of a pane. NoData marks a query that answered
// without a series, which is stored so exports can show the gap.
type Sample struct {
	Service string
	Pane    string
	Time    time.Time
	Value   float64
	NoData  bool
}

const busyTimeoutMS = 5000

// walLimit is the size above which the WAL is checkpointed and truncated.
const walLimit = 64 << 20

const schema = `
CREATE TABLE IF NOT EXISTS events (
	seq     INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	kind    TEXT    NOT NULL,
	actor   TEXT    NOT NULL,
	service TEXT    NOT NULL,
	body    BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
	service TEXT    NOT NULL,
	pane    TEXT    NOT NULL,
	time    INTEGER NOT NULL,
	value   REAL,
	PRIMARY KEY (service, pane, time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
	name    TEXT PRIMARY KEY,
	seq     INTEGER NOT NULL REFERENCES events(seq),
	updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');
`

// writerPragmas are applied to the writer connection and then read back.
var writerPragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(1)",
	fmt.Sprintf("journal_size_limit(%d)", walLimit),
}

// Journal is an open log. Its methods are safe for concurrent use, but all
// writes share one connection, so they are serialised.
type Journal struct {
	path     string
	db       *sql.DB
	readOnly bool
	lastSeq  atomic.Int64
	commits  int
	lock     *os.File // held while open for writing
}

// Open opens (creating if needed) the journal at path for writing and
// verifies its durability settings.
func Open(path string) (*Journal, error) {
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	j, err := open(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	j.lock = lock
	return j, nil
}

func open(path string) (*Journal, error) {
	q := url.Values{}
	for _, p := range writerPragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer anyway, and a single
	// connection makes the pragmas we verify the ones every write uses.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	j := &Journal{path: path, db: db}
	if err := j.verifyPragmas(); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: create schema: %w", path, err)
	}
	if err := j.loadLastSeq(); err != nil {
		db.Close()
		return nil, err
	}
	return j, nil
}

// OpenReadOnly opens an existing journal without writing to it: for exports
// of a live journal (WAL lets the writer go on) or of a copied file.
func OpenReadOnly(path string) (*Journal, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	j := &Journal{path: path, db: db, readOnly: true}
	if err := j.loadLastSeq(); err != nil {
		db.Close()
		return nil, fmt.Errorf("not a warroom journal: %w", err)
	}
	return j, nil
}

// verifyPragmas reads the settings back: a driver or build that silently
// ignores one would otherwise weaken durability without anyone knowing.
func (j *Journal) verifyPragmas() error {
	var mode string
	var sync, busy, fk int
	checks := []struct {
		pragma string
		dst    any
	}{
		{"journal_mode", &mode}, {"synchronous", &sync}, {"busy_timeout", &busy}, {"foreign_keys", &fk},
	}
	for _, c := range checks {
		if err := j.db.QueryRow("PRAGMA " + c.pragma).Scan(c.dst); err != nil {
			return fmt.Errorf("journal %s: read PRAGMA %s: %w", j.path, c.pragma, err)
		}
	}
	var bad []string
	if mode != "wal" {
		bad = append(bad, fmt.Sprintf("journal_mode=%s (want wal)", mode))
	}
	if sync != 2 {
		bad = append(bad, fmt.Sprintf("synchronous=%d (want 2, FULL)", sync))
	}
	if busy != busyTimeoutMS {
		bad = append(bad, fmt.Sprintf("busy_timeout=%d (want %d)", busy, busyTimeoutMS))
	}
	if fk != 1 {
		bad = append(bad, fmt.Sprintf("foreign_keys=%d (want 1)", fk))
	}
	if len(bad) > 0 {
		return fmt.Errorf("journal %s: refusing to start, durability settings not in effect: %v", j.path, bad)
	}
	return nil
}

func (j *Journal) loadLastSeq() error {
	var last int64
	if err := j.db.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&last); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.lastSeq.Store(last)
	return nil
}

// Path is the file this journal lives in.
func (j *Journal) Path() string { return j.path }

// LastSeq is the seq of the newest committed event (0 when empty).
// For a read-only journal it is the newest at open or at the last Refresh.
func (j *Journal) LastSeq() int64 { return j.lastSeq.Load() }

// Refresh re-reads the newest seq; readers of a live journal use it.
func (j *Journal) Refresh() error { return j.loadLastSeq() }

// ErrReadOnly is returned by writes to a journal opened with OpenReadOnly.
var ErrReadOnly = errors.New("journal is open read-only")

// Append commits events in one transaction. Seqs must continue the log
// without a gap; a zero Seq is assigned. It returns only once the commit is
// durable, and only one goroutine may append.
func (j *Journal) Append(ctx context.Context, events []Event) error {
	if j.readOnly {
		return ErrReadOnly
	}
	if len(events) == 0 {
		return nil
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal append: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events(seq, time, kind, actor, service, body) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("journal append: %w", err)
	}
	defer stmt.Close()
	last := j.lastSeq.Load()
	seq := last
	for i := range events {
		seq++
		e := &events[i]
		if e.Seq != 0 && e.Seq != seq {
			return fmt.Errorf("journal append: event seq %d does not follow %d", e.Seq, seq-1)
		}
		body := e.Body
		if body == nil {
			body = []byte("{}")
		}
		if _, err := stmt.ExecContext(ctx, seq, e.Time.UnixNano(), e.Kind, e.Actor, e.Service, body); err != nil {
			return fmt.Errorf("journal append seq %d: %w", seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal commit: %w", err)
	}
	for i := range events {
		events[i].Seq = last + int64(i) + 1
	}
	j.lastSeq.Store(seq)
	j.commits++
	if j.commits%256 == 0 {
		j.boundWAL()
	}
	return nil
}

// boundWAL truncates the WAL once it grows past walLimit. Readers can hold
// back the automatic PASSIVE checkpoints; TRUNCATE waits (busy_timeout) for
// them and resets the file.
func (j *Journal) boundWAL() {
	st, err := os.Stat(j.path + "-wal")
	if err != nil || st.Size() < walLimit {
		return
	}
	_, _ = j.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
}

// Checkpoint forces a full checkpoint; used at clean shutdown.
func (j *Journal) Checkpoint() error {
	if j.readOnly {
		return nil
	}
	_, err := j.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// Replay calls fn for every event with seq > after, in seq order. It reads
// in pages so that no read transaction is held for long.
func (j *Journal) Replay(ctx context.Context, after int64, fn func(Event) error) error {
	return j.ReplayRange(ctx, after, 0, fn)
}

// ReplayRange is Replay limited to seq <= upto (0 means no limit). Pages
// are read ahead in a second goroutine while fn folds the previous one, so
// a restart uses both cores; fn still sees events strictly in order.
func (j *Journal) ReplayRange(ctx context.Context, after, upto int64, fn func(Event) error) error {
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
			evs, err := j.readPage(ctx, from, upto, pageSize)
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

// readPage reads up to n events after seq from, no further than upto, in
// one short read transaction.
func (j *Journal) readPage(ctx context.Context, from, upto int64, n int) ([]Event, error) {
	rows, err := j.db.QueryContext(ctx,
		`SELECT seq, time, kind, actor, service, body FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
		from, upto, n)
	if err != nil {
		return nil, fmt.Errorf("journal replay: %w", err)
	}
	defer rows.Close()
	out := make([]Event, 0, min(n, 1024))
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Kind, &e.Actor, &e.Service, &e.Body); err != nil {
			return nil, fmt.Errorf("journal replay: %w", err)
		}
		e.Time = time.Unix(0, t).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal replay: %w", err)
	}
	return out, nil
}

// AppendSamples stores a batch of samples in one transaction.
func (j *Journal) AppendSamples(ctx context.Context, samples []Sample) error {
	if j.readOnly {
		return ErrReadOnly
	}
	if len(samples) == 0 {
		return nil
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal samples: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	stmt, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO samples(service, pane, time, value) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("journal samples: %w", err)
	}
	defer stmt.Close()
	for _, s := range samples {
		var v any = s.Value
		if s.NoData {
			v = nil
		}
		if _, err := stmt.ExecContext(ctx, s.Service, s.Pane, s.Time.UnixNano(), v); err != nil {
			return fmt.Errorf("journal samples: %w", err)
		}
	}
	return tx.Commit()
}

// Samples calls fn for the stored samples of one pane between from and to
// (inclusive; zero times mean unbounded), oldest first. An empty service
// or pane matches all.
func (j *Journal) Samples(ctx context.Context, service, pane string, from, to time.Time, fn func(Sample) error) error {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	rows, err := j.db.QueryContext(ctx, `SELECT service, pane, time, value FROM samples
		WHERE (?1 = '' OR service = ?1) AND (?2 = '' OR pane = ?2) AND time >= ?3 AND time <= ?4
		ORDER BY service, pane, time`, service, pane, lo, hi)
	if err != nil {
		return fmt.Errorf("journal samples: %w", err)
	}
	var out []Sample
	for rows.Next() {
		var s Sample
		var t int64
		var v sql.NullFloat64
		if err := rows.Scan(&s.Service, &s.Pane, &t, &v); err != nil {
			rows.Close()
			return err
		}
		s.Time = time.Unix(0, t).UTC()
		s.Value, s.NoData = v.Float64, !v.Valid
		out = append(out, s)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return err
	}
	for _, s := range out {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// Cursor returns a reader's saved position (0 if it has none).
func (j *Journal) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := j.db.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// SetCursor durably saves a reader's position; seq must be a committed event.
func (j *Journal) SetCursor(ctx context.Context, name string, seq int64) error {
	if j.readOnly {
		return ErrReadOnly
	}
	_, err := j.db.ExecContext(ctx, `INSERT INTO cursors(name, seq, updated) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
		name, seq, time.Now().UnixNano())
	return err
}

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict.
func (j *Journal) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	err := j.db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res)
	return res, err
}

// Close checkpoints (when writable) and closes the database.
func (j *Journal) Close() error {
	if !j.readOnly {
		_ = j.Checkpoint()
	}
	err := j.db.Close()
	if j.lock != nil {
		j.lock.Close()
	}
	return err
}
