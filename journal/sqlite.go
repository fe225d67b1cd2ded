package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const busyTimeoutMS = 5000

// walLimit is the size above which the WAL is checkpointed and truncated.
const walLimit = 64 << 20

// applicationID marks a SQLite file as a warroom journal ("WRRM"), so a
// foreign database is never taken for one.
const applicationID = 0x5752524d

// SchemaVersion is the journal schema this build writes. Version 1 had no
// application id and kept its version in the meta table; it is migrated
// when opened for writing and read as it is.
const SchemaVersion = 2

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
CREATE INDEX IF NOT EXISTS samples_time ON samples(time);
CREATE TABLE IF NOT EXISTS samples_1m (
	service TEXT    NOT NULL,
	pane    TEXT    NOT NULL,
	time    INTEGER NOT NULL, -- the minute's start
	value   REAL,             -- the mean, NULL when the minute had no value
	n       INTEGER NOT NULL, -- values in the mean
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
`

// writerPragmas are applied to the writer connection and then read back.
var writerPragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS),
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(1)",
	fmt.Sprintf("journal_size_limit(%d)", walLimit),
}

// readers bounds the read-only connections of one journal.
const readers = 4

// SQLite is the embedded journal: one file (with its -wal and -shm while
// open), one writer connection, and a pool of read-only connections.
type SQLite struct {
	path    string
	w       *sql.DB // the one writer connection; nil when read-only
	r       *sql.DB // read-only connections
	lastSeq atomic.Int64
	commits int
	lock    *os.File // held while open for writing
	disk    *disk    // free space and health; nil when read-only
	samples sampleCompactor
}

var (
	_ Journal = (*SQLite)(nil)
	_ Reader  = (*SQLite)(nil)
)

// dsn is the SQLite URI of path with query parameters.
func dsn(path string, q url.Values) string {
	// A URI filename decodes %HH, and ? and # end the path.
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?" + q.Encode()
}

// Open opens (creating if needed) the journal at path for writing. It
// refuses a file another warroom process has open (ErrInUse, whatever
// name, symlink or hard link it is reached by), a file that is not a
// journal (ErrNotJournal) and a journal of a newer schema; an older
// schema is migrated. The durability settings are read back and checked.
func Open(path string) (_ *SQLite, err error) {
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	j := &SQLite{path: path, lock: lock}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	if j.disk, err = newDisk(path); err != nil {
		return nil, err
	}
	if j.r, err = openReaders(path, false); err != nil {
		return nil, err
	}
	version, err := j.identify()
	if err != nil {
		return nil, j.disk.explain(err)
	}
	q := url.Values{}
	for _, p := range writerPragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	if j.w, err = sql.Open("sqlite", dsn(path, q)); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer anyway, and a single
	// connection makes the pragmas we verify the ones every write uses.
	j.w.SetMaxOpenConns(1)
	j.w.SetConnMaxLifetime(0)
	j.w.SetConnMaxIdleTime(0)
	if err := j.verifyPragmas(); err != nil {
		return nil, j.disk.explain(err)
	}
	if err := j.migrate(version); err != nil {
		return nil, j.disk.explain(err)
	}
	if err := j.loadLastSeq(j.w); err != nil {
		return nil, j.disk.explain(err)
	}
	j.disk.start()
	return j, nil
}

// OpenReadOnly opens an existing journal without writing to it: for exports
// of a live journal (WAL lets the writer go on) or of a copy, also on
// read-only media or in a directory the user cannot write.
func OpenReadOnly(path string) (*SQLite, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("%w %s: %w", ErrUnreadable, path, err)
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &SQLite{path: path}
	var err error
	if j.r, err = openReaders(path, false); err != nil {
		return nil, err
	}
	version, err := j.identify()
	if err != nil && canRetryImmutable(path, err) {
		// Read-only media, or a directory we cannot write: SQLite cannot
		// create the -shm file. A journal without a WAL beside it is
		// complete in its main file and can be read as immutable.
		j.r.Close()
		if j.r, err = openReaders(path, true); err != nil {
			return nil, err
		}
		version, err = j.identify()
	}
	if err == nil && version == 0 {
		err = fmt.Errorf("%w: %s is an empty database (a copy of a live journal needs its %s-wal file beside it)", ErrNotJournal, path, filepath.Base(path))
	}
	if err != nil {
		j.r.Close()
		return nil, err
	}
	if err := j.loadLastSeq(j.r); err != nil {
		j.r.Close()
		return nil, err
	}
	return j, nil
}

func openReaders(path string, immutable bool) (*sql.DB, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", dsn(path, q))
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	return db, nil
}

// canRetryImmutable reports a failure to open read-only that may come
// from the directory (no -shm can be made or grown: read-only media, a
// directory the user cannot write, a full disk) rather than the file,
// when no WAL with content sits beside the journal (immutable would
// ignore it).
func canRetryImmutable(path string, err error) bool {
	if errors.Is(err, ErrNotJournal) || errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrCorrupt) {
		return false
	}
	if st, serr := os.Stat(path + "-wal"); serr == nil && st.Size() > 0 {
		return false
	}
	f, ferr := os.Open(path)
	if ferr != nil {
		return false
	}
	f.Close()
	return true
}

// identify checks that the file is a warroom journal this build can read
// and returns its schema version (0 for an empty database).
func (j *SQLite) identify() (int, error) {
	ctx := context.Background()
	conn, err := j.r.Conn(ctx)
	if err != nil {
		return 0, j.classify(err)
	}
	defer conn.Close()
	var app, version int
	if err := conn.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&app); err != nil {
		return 0, j.classify(err)
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return 0, j.classify(err)
	}
	var tables int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&tables); err != nil {
		return 0, j.classify(err)
	}
	switch {
	case app == applicationID:
		if version > SchemaVersion {
			return 0, &SchemaError{Path: j.path, Found: version, Supported: SchemaVersion}
		}
		return version, nil
	case app != 0:
		return 0, fmt.Errorf("%w: %s belongs to another application (SQLite application id %#x)", ErrNotJournal, j.path, app)
	case tables == 0 && version == 0:
		return 0, nil // an empty database: becomes a journal
	}
	// Version 1 journals had no application id: recognise them by their
	// meta row, so any other database is refused rather than converted.
	var v1 string
	err = conn.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v1)
	if err != nil || v1 != "1" || version != 0 {
		return 0, fmt.Errorf("%w: %s is a SQLite database of another application", ErrNotJournal, j.path)
	}
	for _, t := range []string{"events", "samples", "cursors"} {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&n); err != nil || n != 1 {
			return 0, fmt.Errorf("%w: %s has no %s table", ErrNotJournal, j.path, t)
		}
	}
	return 1, nil
}

// migrate brings a journal of schema version from (0: new) to
// SchemaVersion in one transaction.
func (j *SQLite) migrate(from int) error {
	if from == SchemaVersion {
		return nil
	}
	tx, err := j.w.Begin()
	if err != nil {
		return j.classify(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	for _, stmt := range []string{
		schema,
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
		fmt.Sprintf(`PRAGMA user_version = %d`, SchemaVersion),
		fmt.Sprintf(`INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d')`, SchemaVersion),
	} {
		if _, err := tx.Exec(stmt); err != nil {
			return fmt.Errorf("journal %s: migrate schema %d → %d: %w", j.path, from, SchemaVersion, j.classify(err))
		}
	}
	return j.classify(tx.Commit())
}

// verifyPragmas reads the settings back: a driver or build that silently
// ignores one would otherwise weaken durability without anyone knowing.
func (j *SQLite) verifyPragmas() error {
	var mode string
	var sync, busy, fk int
	checks := []struct {
		pragma string
		dst    any
	}{
		{"journal_mode", &mode}, {"synchronous", &sync}, {"busy_timeout", &busy}, {"foreign_keys", &fk},
	}
	for _, c := range checks {
		if err := j.w.QueryRow("PRAGMA " + c.pragma).Scan(c.dst); err != nil {
			return fmt.Errorf("journal %s: read PRAGMA %s: %w", j.path, c.pragma, j.classify(err))
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

// classify wraps a driver error with the sentinel it means.
func (j *SQLite) classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	switch code & 0xff {
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %s: %w", ErrNotJournal, j.path, err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, j.path, err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_AUTH:
		return fmt.Errorf("%w %s: %w", ErrUnreadable, j.path, err)
	}
	// Other I/O errors (a -shm that cannot grow is the first thing to fail
	// on a full disk: disk.explain says so) are returned as they are.
	return err
}

func (j *SQLite) loadLastSeq(db *sql.DB) error {
	var last int64
	if err := db.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&last); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, j.classify(err))
	}
	j.lastSeq.Store(last)
	return nil
}

// Path is the file this journal lives in.
func (j *SQLite) Path() string { return j.path }

// LastSeq is the seq of the newest committed event (0 when empty).
func (j *SQLite) LastSeq() int64 { return j.lastSeq.Load() }

// Refresh re-reads the newest seq; readers of a live journal use it.
func (j *SQLite) Refresh() error { return j.loadLastSeq(j.r) }

// Append commits events in one transaction (see Journal). When the disk is
// full, the reserve is released and the commit tried once more.
func (j *SQLite) Append(ctx context.Context, events []Event) error {
	if j.w == nil {
		return ErrReadOnly
	}
	if len(events) == 0 {
		return nil
	}
	last := j.lastSeq.Load()
	err := j.appendTx(ctx, last, events)
	if err != nil && errors.Is(err, ErrDiskFull) && j.disk.releaseReserve() {
		err = j.appendTx(ctx, last, events)
	}
	if err != nil && j.landed(last+int64(len(events))) {
		// The commit reached the log although an error was reported
		// (an fsync error after the write): the events are the truth.
		err = nil
	}
	if err != nil {
		j.disk.failed(err)
		return err
	}
	j.disk.wrote()
	for i := range events {
		events[i].Seq = last + int64(i) + 1
	}
	j.lastSeq.Store(last + int64(len(events)))
	j.commits++
	switch {
	case j.disk.low():
		// Every page the WAL grows by is space events need: copy the
		// frames back now, so the next commit restarts the WAL from its
		// start instead of growing it.
		_, _ = j.w.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
	case j.commits%256 == 0:
		j.boundWAL()
	}
	return nil
}

func (j *SQLite) appendTx(ctx context.Context, last int64, events []Event) error {
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal append: %w", j.classify(err))
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events(seq, time, kind, actor, service, body) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("journal append: %w", j.classify(err))
	}
	defer stmt.Close()
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
			return fmt.Errorf("journal append seq %d: %w", seq, j.classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal commit: %w", j.classify(err))
	}
	return nil
}

// landed reports whether the log already ends at seq.
func (j *SQLite) landed(seq int64) bool {
	var last int64
	err := j.w.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&last)
	return err == nil && last == seq
}

// boundWAL truncates the WAL once it grows past walLimit. Readers can hold
// back the automatic PASSIVE checkpoints; TRUNCATE waits (busy_timeout) for
// them and resets the file.
func (j *SQLite) boundWAL() {
	st, err := os.Stat(j.path + "-wal")
	if err != nil || st.Size() < walLimit {
		return
	}
	_, _ = j.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
}

// Checkpoint forces a full checkpoint; used at clean shutdown.
func (j *SQLite) Checkpoint() error {
	if j.w == nil {
		return nil
	}
	_, err := j.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	return j.classify(err)
}

// Replay calls fn for every event with seq > after, in seq order.
func (j *SQLite) Replay(ctx context.Context, after int64, fn func(Event) error) error {
	return j.ReplayRange(ctx, after, 0, fn)
}

// ReplayRange is Replay limited to seq <= upto (0 means no limit).
func (j *SQLite) ReplayRange(ctx context.Context, after, upto int64, fn func(Event) error) error {
	return replayPages(ctx, after, upto, j.readPage, fn)
}

// readPage reads up to n events after seq from, no further than upto, in
// one short read transaction on a read-only connection.
func (j *SQLite) readPage(ctx context.Context, from, upto int64, n int) ([]Event, error) {
	rows, err := j.r.QueryContext(ctx,
		`SELECT seq, time, kind, actor, service, body FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
		from, upto, n)
	if err != nil {
		return nil, fmt.Errorf("journal replay: %w", j.classify(err))
	}
	defer rows.Close()
	return scanEvents(rows, n, j.classify)
}

// Cursor returns a reader's saved position (0 if it has none).
func (j *SQLite) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := j.r.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, j.classify(err)
}

// SetCursor durably saves a reader's position; seq must be a committed event.
func (j *SQLite) SetCursor(ctx context.Context, name string, seq int64) error {
	if j.w == nil {
		return ErrReadOnly
	}
	_, err := j.w.ExecContext(ctx, `INSERT INTO cursors(name, seq, updated) VALUES (?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
		name, seq, time.Now().UnixNano())
	return j.wrote(err)
}

// wrote records the outcome of a write other than Append for Health.
func (j *SQLite) wrote(err error) error {
	err = j.classify(err)
	if err != nil {
		j.disk.failed(err)
	} else {
		j.disk.wrote()
	}
	return err
}

// Health is the journal's storage state (always ok when read-only).
func (j *SQLite) Health() Health {
	if j.disk == nil {
		return Health{State: StorageOK}
	}
	return j.disk.health()
}

// Close checkpoints (when writable) and closes the database.
func (j *SQLite) Close() error {
	var errs []error
	// Readers first: the writer, closing last, checkpoints and removes
	// the -wal and -shm files, so a closed journal is one file.
	if j.r != nil {
		errs = append(errs, j.r.Close())
	}
	if j.w != nil {
		_ = j.Checkpoint()
		errs = append(errs, j.w.Close())
	}
	if j.disk != nil {
		j.disk.stop()
	}
	if j.lock != nil {
		j.lock.Close()
	}
	return errors.Join(errs...)
}
