package journal

// The Postgres journal: the same log, samples, cursors and outboxes as the
// SQLite one, kept in a database that outlives any one machine, for
// several rooms at once (every row carries its room id), with a leader and
// standbys (see lead.go).
//
// Guarantees, as with SQLite: an event is committed (synchronous_commit,
// checked at open) before Append returns, seqs follow each other without a
// gap (one writer: the holder of the room's advisory lock, through the one
// connection that holds it), readers use connections of their own.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresSchemaVersion is the Postgres schema this build writes: 2 added
// the presence table. Older schemas are migrated when opened for writing.
const PostgresSchemaVersion = 2

// DefaultRoom is the room of a postgres:// URL without a room parameter.
const DefaultRoom = "default"

// pgSchema is created once per database (under a transaction-level
// advisory lock, so two processes starting at once do not race). Times
// are Unix nanoseconds, as in SQLite.
const pgSchema = `
CREATE SCHEMA IF NOT EXISTS warroom;
CREATE TABLE IF NOT EXISTS warroom.meta (
	key   text PRIMARY KEY,
	value text NOT NULL
);
CREATE TABLE IF NOT EXISTS warroom.rooms (
	room    text PRIMARY KEY,
	created bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS warroom.events (
	room    text   NOT NULL,
	seq     bigint NOT NULL,
	time    bigint NOT NULL,
	kind    text   NOT NULL,
	actor   text   NOT NULL,
	service text   NOT NULL,
	body    bytea  NOT NULL,
	term    bigint NOT NULL DEFAULT 0, -- the leader term that wrote it
	origin  bigint NOT NULL DEFAULT 0, -- the forwarded command it answers
	PRIMARY KEY (room, seq)
);
CREATE INDEX IF NOT EXISTS events_origin ON warroom.events (room, origin) WHERE origin <> 0;
CREATE TABLE IF NOT EXISTS warroom.samples (
	room    text   NOT NULL,
	service text   NOT NULL,
	pane    text   NOT NULL,
	time    bigint NOT NULL,
	value   double precision,
	id      bigserial, -- insertion order, for standbys following samples
	PRIMARY KEY (room, service, pane, time)
);
CREATE INDEX IF NOT EXISTS samples_time ON warroom.samples (room, time);
CREATE INDEX IF NOT EXISTS samples_id ON warroom.samples (room, id);
CREATE TABLE IF NOT EXISTS warroom.samples_1m (
	room    text   NOT NULL,
	service text   NOT NULL,
	pane    text   NOT NULL,
	time    bigint NOT NULL,
	value   double precision,
	n       bigint NOT NULL,
	PRIMARY KEY (room, service, pane, time)
);
CREATE TABLE IF NOT EXISTS warroom.cursors (
	room    text   NOT NULL,
	name    text   NOT NULL,
	seq     bigint NOT NULL,
	updated bigint NOT NULL,
	PRIMARY KEY (room, name),
	FOREIGN KEY (room, seq) REFERENCES warroom.events (room, seq)
);
CREATE TABLE IF NOT EXISTS warroom.slack_messages (
	room          text   NOT NULL,
	id            bigserial PRIMARY KEY,
	seq           bigint NOT NULL,
	last_seq      bigint NOT NULL,
	seqs          text   NOT NULL,
	channel       text   NOT NULL,
	kind          text   NOT NULL,
	alert_id      text   NOT NULL DEFAULT '',
	state         text   NOT NULL,
	ts            text   NOT NULL DEFAULT '',
	after_ts      text   NOT NULL DEFAULT '',
	text          text   NOT NULL DEFAULT '',
	body          bytea,
	was_uncertain boolean NOT NULL DEFAULT false,
	checks        integer NOT NULL DEFAULT 0,
	error         text   NOT NULL DEFAULT '',
	updated       bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_messages_room ON warroom.slack_messages (room, last_seq);
CREATE TABLE IF NOT EXISTS warroom.outbox (
	room          text   NOT NULL,
	id            bigserial PRIMARY KEY,
	dest          text   NOT NULL,
	key           text   NOT NULL,
	seq           bigint NOT NULL DEFAULT 0,
	state         text   NOT NULL,
	payload       bytea,
	remote        text   NOT NULL DEFAULT '',
	attempts      integer NOT NULL DEFAULT 0,
	checks        integer NOT NULL DEFAULT 0,
	was_uncertain boolean NOT NULL DEFAULT false,
	error         text   NOT NULL DEFAULT '',
	created       bigint NOT NULL,
	updated       bigint NOT NULL,
	UNIQUE (room, dest, key)
);
CREATE INDEX IF NOT EXISTS outbox_open ON warroom.outbox (room, dest, state);
CREATE TABLE IF NOT EXISTS warroom.leaders (
	room  text   NOT NULL,
	term  bigint NOT NULL,
	node  text   NOT NULL,
	since bigint NOT NULL,
	PRIMARY KEY (room, term)
);
CREATE TABLE IF NOT EXISTS warroom.commands (
	room     text   NOT NULL,
	id       bigserial PRIMARY KEY,
	node     text   NOT NULL,
	body     bytea  NOT NULL,
	state    text   NOT NULL,
	term     bigint NOT NULL DEFAULT 0, -- the term that claimed it
	first    bigint NOT NULL DEFAULT 0,
	last     bigint NOT NULL DEFAULT 0,
	refused  boolean NOT NULL DEFAULT false,
	error    text   NOT NULL DEFAULT '',
	created  bigint NOT NULL,
	replied  bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS commands_open ON warroom.commands (room, state) WHERE state IN ('pending', 'running');
CREATE TABLE IF NOT EXISTS warroom.presence (
	room   text   NOT NULL,
	node   text   NOT NULL,
	key    text   NOT NULL,
	handle text   NOT NULL,
	via    text   NOT NULL,
	since  bigint NOT NULL,
	until  bigint NOT NULL DEFAULT 0,
	seen   timestamptz NOT NULL DEFAULT now(), -- when the node last said so (the database's clock)
	PRIMARY KEY (room, node, key)
);
`

// pgMigrateLock serialises schema creation across processes.
const pgMigrateLock = 0x5752524d0001

// notifyChannel carries "e:<room>:<seq>" (events committed), "c:<room>:<id>"
// (a command forwarded) and "r:<room>:<id>" (a command answered).
const notifyChannel = "warroom"

var roomID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// IsURL reports whether a journal location is a database URL rather than
// a SQLite file path.
func IsURL(where string) bool {
	return strings.HasPrefix(where, "postgres://") || strings.HasPrefix(where, "postgresql://")
}

// PostgresOptions tune a Postgres journal. Zero values take the defaults.
type PostgresOptions struct {
	// Node names this process in the leaders table and on dashboards
	// (default: host name and pid).
	Node string
	// DeadAfter is how long the database waits on a silent leader before
	// it ends the leader's session, and with it the lock: it sets the
	// leader connection's tcp_keepalives_*, tcp_user_timeout,
	// idle_session_timeout and idle_in_transaction_session_timeout
	// (default 5 s). A standby takes over at most about DeadAfter +
	// PollEvery after the leader's machine is lost; a killed leader's
	// session ends at once.
	DeadAfter time.Duration
	// CheckEvery is how often the leader checks its lock connection
	// (default DeadAfter/5): a leader whose connection is gone stops
	// within CheckEvery + WriteTimeout.
	CheckEvery time.Duration
	// WriteTimeout bounds one write on the leader connection (default
	// 10 s); a write that times out ends the connection, and the term.
	WriteTimeout time.Duration
	// PollEvery is how often standbys look for the lock, events and
	// commands when no notification came (default 500 ms).
	PollEvery time.Duration
	// Readers bounds the read-only connections (default 4).
	Readers int
}

func (o *PostgresOptions) defaults() {
	if o.Node == "" {
		h, _ := os.Hostname()
		o.Node = fmt.Sprintf("%s:%d", h, os.Getpid())
	}
	if o.DeadAfter <= 0 {
		o.DeadAfter = 5 * time.Second
	}
	if o.CheckEvery <= 0 {
		o.CheckEvery = max(o.DeadAfter/5, 50*time.Millisecond)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	if o.Readers <= 0 {
		o.Readers = readers
	}
}

// Postgres is a room in a Postgres database.
type Postgres struct {
	path string // the URL without its password, for people
	room string
	ro   bool  // opened read-only: every write is ErrReadOnly
	key  int64 // the room's advisory lock key
	o    PostgresOptions
	cfg  *pgx.ConnConfig // for the leader and listener connections
	r    *pgxpool.Pool   // readers (read-only), and standbys' command rows

	lastSeq atomic.Int64
	health  pgHealth

	// The writer: set while this process leads (lead.go).
	wmu     sync.Mutex
	w       *pgx.Conn
	term    int64
	lost    chan struct{} // closed when the current term ends
	samples sampleCompactor

	// Notifications and polling (listen.go).
	sig      signal
	lis      listener
	stopOnce sync.Once
	stop     chan struct{}
	bg       sync.WaitGroup

	leadMu  sync.Mutex
	leading atomic.Bool
	terms   atomic.Int64 // terms this process has led
}

var (
	_ Journal = (*Postgres)(nil)
	_ Shared  = (*Postgres)(nil)
)

// parsePostgresURL splits warroom's own parameter (room) off a URL.
func parsePostgresURL(where string) (conn, room, shown string, err error) {
	u, err := url.Parse(where)
	if err != nil {
		return "", "", "", fmt.Errorf("journal URL: %w", err)
	}
	q := u.Query()
	room = q.Get("room")
	q.Del("room")
	if room == "" {
		room = DefaultRoom
	}
	if !roomID.MatchString(room) {
		return "", "", "", fmt.Errorf("journal URL: room %q: use 1 to 64 letters, digits, '.', '_' or '-'", room)
	}
	u.RawQuery = q.Encode()
	conn = u.String()
	// What people see: no password, wherever it was given.
	s := *u
	if s.User != nil {
		s.User = url.User(s.User.Username())
	}
	sq := s.Query()
	for k := range sq {
		if strings.Contains(strings.ToLower(k), "password") {
			sq.Del(k)
		}
	}
	sq.Set("room", room)
	s.RawQuery = sq.Encode()
	return conn, room, s.String(), nil
}

func lockKey(room string) int64 {
	h := fnv.New64a()
	h.Write([]byte("warroom room " + room))
	return int64(h.Sum64())
}

// OpenPostgres opens the room named by a postgres:// URL (the room is the
// URL's room parameter, default "default"), creating the schema when the
// database has none. It opens as a standby: call TryLead (or OpenJournal,
// which does) to write. With readOnly, nothing is ever created or written
// and a database without a warroom journal is refused.
func OpenPostgres(ctx context.Context, where string, o PostgresOptions, readOnly bool) (_ *Postgres, err error) {
	o.defaults()
	connURL, room, shown, err := parsePostgresURL(where)
	if err != nil {
		return nil, err
	}
	j := &Postgres{path: shown, room: room, ro: readOnly, key: lockKey(room), o: o, stop: make(chan struct{})}
	j.sig.init()
	j.health.init()
	if j.cfg, err = pgx.ParseConfig(connURL); err != nil {
		return nil, fmt.Errorf("journal %s: %w", shown, err)
	}
	pcfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", shown, err)
	}
	pcfg.MaxConns = int32(o.Readers)
	pcfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pcfg.ConnConfig.RuntimeParams["application_name"] = "warroom reader " + o.Node
	j.r, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", shown, err)
	}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	version, err := j.identify(ctx)
	if err != nil {
		return nil, err
	}
	if readOnly {
		if version == 0 {
			return nil, fmt.Errorf("%w: %s has no warroom journal", ErrNotJournal, shown)
		}
		var n int
		if err := j.r.QueryRow(ctx, `SELECT count(*) FROM warroom.rooms WHERE room = $1`, room).Scan(&n); err != nil {
			return nil, j.classify(err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: %s has no room %q%s", ErrNotJournal, shown, room, j.roomList(ctx))
		}
	} else if version < PostgresSchemaVersion {
		if err := j.migrate(ctx); err != nil {
			return nil, err
		}
	}
	if err := j.Refresh(); err != nil {
		return nil, err
	}
	return j, nil
}

func (j *Postgres) roomList(ctx context.Context) string {
	rows, err := j.r.Query(ctx, `SELECT room FROM warroom.rooms ORDER BY room LIMIT 20`)
	if err != nil {
		return ""
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) == 0 {
		return ""
	}
	return " (it has " + strings.Join(names, ", ") + ")"
}

// Rooms lists the rooms of the database a postgres:// URL names.
func Rooms(ctx context.Context, where string) ([]string, error) {
	j, err := OpenPostgres(ctx, where, PostgresOptions{Readers: 1}, true)
	if err != nil && !errors.Is(err, ErrNotJournal) {
		return nil, err
	}
	if j == nil {
		// The URL's room may not exist: look at the database anyway.
		connURL, _, shown, perr := parsePostgresURL(where)
		if perr != nil {
			return nil, perr
		}
		c, cerr := pgx.Connect(ctx, connURL)
		if cerr != nil {
			return nil, fmt.Errorf("journal %s: %w", shown, cerr)
		}
		defer c.Close(ctx)
		rows, qerr := c.Query(ctx, `SELECT room FROM warroom.rooms ORDER BY room`)
		if qerr != nil {
			return nil, err // no journal at all: the first error says so
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	defer j.Close()
	rows, err := j.r.Query(ctx, `SELECT room FROM warroom.rooms ORDER BY room`)
	if err != nil {
		return nil, j.classify(err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// identify returns the schema version of the database's journal (0: none
// yet), refusing a newer one and a warroom schema that is not ours.
func (j *Postgres) identify(ctx context.Context) (int, error) {
	var exists bool
	if err := j.r.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'warroom')`).Scan(&exists); err != nil {
		return 0, j.classify(err)
	}
	if !exists {
		return 0, nil
	}
	var v string
	err := j.r.QueryRow(ctx, `SELECT value FROM warroom.meta WHERE key = 'schema_version'`).Scan(&v)
	if err != nil {
		var pe *pgconn.PgError
		if errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pe) && pe.Code == "42P01" {
			return 0, fmt.Errorf("%w: %s has a warroom schema that is not a journal's", ErrNotJournal, j.path)
		}
		return 0, j.classify(err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: %s has schema version %q", ErrNotJournal, j.path, v)
	}
	if n > PostgresSchemaVersion {
		return 0, &SchemaError{Path: j.path, Found: n, Supported: PostgresSchemaVersion}
	}
	return n, nil
}

func (j *Postgres) migrate(ctx context.Context) error {
	c, err := pgx.ConnectConfig(ctx, j.cfg)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.path, j.classify(err))
	}
	defer c.Close(context.Background())
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrateLock)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, pgSchema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO warroom.meta(key, value) VALUES ('schema_version', $1)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE warroom.meta.value::int < excluded.value::int`,
			strconv.Itoa(PostgresSchemaVersion))
		return err
	})
	if err != nil {
		return fmt.Errorf("journal %s: create schema: %w", j.path, j.classify(err))
	}
	return nil
}

// classify wraps a driver error with the sentinel it means.
func (j *Postgres) classify(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return fmt.Errorf("%w: %w", ErrDiskFull, err)
		case pe.Code == "42501" || pe.Code == "28000" || pe.Code == "28P01" || pe.Code == "3D000":
			// insufficient privilege, bad authorisation or password,
			// no such database
			return fmt.Errorf("%w %s: %w", ErrUnreadable, j.path, err)
		case pe.Code == "XX001" || pe.Code == "XX002": // data_corrupted, index_corrupted
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, j.path, err)
		}
		return err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w %s: %w", ErrUnreadable, j.path, err)
	}
	return err
}

// Path is the URL of the room, without its password.
func (j *Postgres) Path() string { return j.path }

// Room is the room's id within its database.
func (j *Postgres) Room() string { return j.room }

// LastSeq is the newest committed seq this process knows of: exact while
// it leads, as of the last Refresh or notification otherwise.
func (j *Postgres) LastSeq() int64 {
	if j.leading.Load() {
		return j.lastSeq.Load()
	}
	return j.Head()
}

// Refresh re-reads the newest seq.
func (j *Postgres) Refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), j.o.WriteTimeout)
	defer cancel()
	var last int64
	if err := j.r.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM warroom.events WHERE room = $1`, j.room).Scan(&last); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, j.classify(err))
	}
	if !j.leading.Load() {
		j.lastSeq.Store(last)
	}
	return nil
}

// Replay calls fn for every event with seq > after, in seq order.
func (j *Postgres) Replay(ctx context.Context, after int64, fn func(Event) error) error {
	return j.ReplayRange(ctx, after, 0, fn)
}

// ReplayRange is Replay limited to seq <= upto (0: no limit), read a page
// at a time (one short query each) ahead of fn.
func (j *Postgres) ReplayRange(ctx context.Context, after, upto int64, fn func(Event) error) error {
	return replayPages(ctx, after, upto, j.readPage, fn)
}

func (j *Postgres) readPage(ctx context.Context, from, upto int64, n int) ([]Event, error) {
	rows, err := j.r.Query(ctx, `SELECT seq, time, kind, actor, service, body FROM warroom.events
		WHERE room = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`, j.room, from, upto, n)
	if err != nil {
		return nil, fmt.Errorf("journal replay: %w", j.classify(err))
	}
	defer rows.Close()
	return scanEvents(rows, n, j.classify)
}

// Cursor returns a reader's saved position (0 if it has none).
func (j *Postgres) Cursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := j.r.QueryRow(ctx, `SELECT seq FROM warroom.cursors WHERE room = $1 AND name = $2`, j.room, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, j.classify(err)
}

// cursors returns every saved cursor (copies and verify).
func (j *Postgres) cursors(ctx context.Context) (map[string]int64, error) {
	rows, err := j.r.Query(ctx, `SELECT name, seq FROM warroom.cursors WHERE room = $1`, j.room)
	if err != nil {
		return nil, j.classify(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			return nil, j.classify(err)
		}
		out[name] = seq
	}
	return out, j.classify(rows.Err())
}

// Samples calls fn for the stored samples of one pane (see Reader).
func (j *Postgres) Samples(ctx context.Context, service, pane string, from, to time.Time, fn func(Sample) error) error {
	lo, hi := int64(-1<<63), int64(1<<63-1)
	if !from.IsZero() {
		lo = from.UnixNano()
	}
	if !to.IsZero() {
		hi = to.UnixNano()
	}
	const where = `WHERE room = $1 AND ($2 = '' OR service = $2) AND ($3 = '' OR pane = $3) AND time >= $4 AND time <= $5`
	rows, err := j.r.Query(ctx, `SELECT service, pane, time, value FROM warroom.samples `+where+`
		UNION ALL SELECT service, pane, time, value FROM warroom.samples_1m `+where+` ORDER BY 1, 2, 3`,
		j.room, service, pane, lo, hi)
	if err != nil {
		return fmt.Errorf("journal samples: %w", j.classify(err))
	}
	var out []Sample
	for rows.Next() {
		var s Sample
		var t int64
		var v *float64
		if err := rows.Scan(&s.Service, &s.Pane, &t, &v); err != nil {
			rows.Close()
			return j.classify(err)
		}
		s.Time = time.Unix(0, t).UTC()
		if v != nil {
			s.Value = *v
		} else {
			s.NoData = true
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return j.classify(err)
	}
	for _, s := range out {
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// SamplesSince returns samples stored after the position after (0: from
// the start of what is kept at full resolution), at most limit of them,
// in the order they were stored, and the position to ask from next.
// Standbys follow the leader's samples this way.
func (j *Postgres) SamplesSince(ctx context.Context, after int64, limit int) ([]Sample, int64, error) {
	if after == 0 {
		// Start at the present: a standby's panes fill from the live
		// samples as the leader records them.
		var id int64
		err := j.r.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM warroom.samples WHERE room = $1`, j.room).Scan(&id)
		return nil, max(id, 1), j.classify(err)
	}
	rows, err := j.r.Query(ctx, `SELECT id, service, pane, time, value FROM warroom.samples
		WHERE room = $1 AND id > $2 ORDER BY id LIMIT $3`, j.room, after, limit)
	if err != nil {
		return nil, after, j.classify(err)
	}
	defer rows.Close()
	var out []Sample
	next := after
	for rows.Next() {
		var s Sample
		var t int64
		var v *float64
		if err := rows.Scan(&next, &s.Service, &s.Pane, &t, &v); err != nil {
			return nil, after, j.classify(err)
		}
		s.Time = time.Unix(0, t).UTC()
		if v != nil {
			s.Value = *v
		} else {
			s.NoData = true
		}
		out = append(out, s)
	}
	return out, next, j.classify(rows.Err())
}

// SlackMessagesToResume returns what a restarting mirror must know (see
// the SQLite implementation).
func (j *Postgres) SlackMessagesToResume(ctx context.Context, cursorSeq int64) ([]SlackMessage, error) {
	return j.slackQuery(ctx, `AND (last_seq > $2 OR state IN ('pending', 'uncertain') OR kind = 'alert') ORDER BY id`, cursorSeq)
}

// SlackMessages returns every Slack outbox row, oldest first.
func (j *Postgres) SlackMessages(ctx context.Context) ([]SlackMessage, error) {
	return j.slackQuery(ctx, `ORDER BY id`)
}

func (j *Postgres) slackQuery(ctx context.Context, where string, args ...any) ([]SlackMessage, error) {
	rows, err := j.r.Query(ctx, `SELECT id, seq, last_seq, seqs, channel, kind, alert_id, state, ts, after_ts, text, body,
		was_uncertain, checks, error, updated FROM warroom.slack_messages WHERE room = $1 `+where, append([]any{j.room}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("slack outbox: %w", j.classify(err))
	}
	defer rows.Close()
	var out []SlackMessage
	for rows.Next() {
		var m SlackMessage
		var seqs string
		var updated int64
		if err := rows.Scan(&m.ID, &m.Seq, &m.LastSeq, &seqs, &m.Channel, &m.Kind, &m.AlertID, &m.State, &m.TS, &m.AfterTS, &m.Text,
			&m.Body, &m.WasUncertain, &m.Checks, &m.Error, &updated); err != nil {
			return nil, fmt.Errorf("slack outbox: %w", err)
		}
		m.Updated = time.Unix(0, updated).UTC()
		if m.Seqs, err = ParseSeqs(seqs); err != nil {
			return nil, fmt.Errorf("slack outbox row %d: %w", m.ID, err)
		}
		out = append(out, m)
	}
	return out, j.classify(rows.Err())
}

// OutboxRows returns the generic outbox's rows (see Reader).
func (j *Postgres) OutboxRows(ctx context.Context, open bool, dests ...string) ([]OutboxRow, error) {
	q := `SELECT ` + outboxColumns + ` FROM warroom.outbox WHERE room = $1 AND (cardinality($2::text[]) = 0 OR dest = ANY($2))`
	if open {
		q += ` AND state IN ('pending', 'sending', 'uncertain')`
	}
	if dests == nil {
		dests = []string{}
	}
	rows, err := j.r.Query(ctx, q+` ORDER BY id`, j.room, dests)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", j.classify(err))
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		if err := scanPgOutbox(rows, &r); err != nil {
			return nil, fmt.Errorf("outbox: %w", j.classify(err))
		}
		out = append(out, r)
	}
	return out, j.classify(rows.Err())
}

func scanPgOutbox(s interface{ Scan(...any) error }, r *OutboxRow) error {
	var state string
	var created, updated int64
	if err := s.Scan(&r.ID, &r.Dest, &r.Key, &r.Seq, &state, &r.Payload, &r.Remote, &r.Attempts, &r.Checks, &r.WasUncertain, &r.Error, &created, &updated); err != nil {
		return err
	}
	r.State = OutboxState(state)
	r.Created, r.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return nil
}

// Health is the journal's storage state: failing while writes fail.
func (j *Postgres) Health() Health { return j.health.get() }

// Close ends this process's term (releasing the lock), stops following
// and closes every connection.
func (j *Postgres) Close() error {
	j.Resign()
	j.stopOnce.Do(func() { close(j.stop) })
	j.bg.Wait()
	if j.r != nil {
		// Closing a connection says goodbye to the server; one the server
		// cannot hear (a partition) is given up after a moment rather
		// than holding the process.
		done := make(chan struct{})
		go func() { j.r.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	return nil
}

// pgHealth is a Postgres journal's storage state: it fails while writes
// fail; free space is the server's business.
type pgHealth struct {
	mu       sync.Mutex
	failErr  error
	failures int64
	since    time.Time
}

func (h *pgHealth) init() { h.since = time.Now() }

func (h *pgHealth) wrote(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if h.failErr == nil {
			h.since = time.Now()
		}
		h.failErr = err
		h.failures++
		return
	}
	if h.failErr != nil {
		h.failErr = nil
		h.since = time.Now()
	}
}

func (h *pgHealth) get() Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	hl := Health{State: StorageOK, Since: h.since, FailedWrites: h.failures}
	if h.failErr != nil {
		hl.State = StorageFailing
		hl.Reason = "journal writes are failing: " + h.failErr.Error()
		if errors.Is(h.failErr, ErrDiskFull) {
			hl.Reason = "the database's disk is full: commands that write are refused"
		}
	}
	return hl
}
