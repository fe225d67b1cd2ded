package journal

// Leading a Postgres room: one process at a time holds the room's session
// advisory lock on a connection of its own, and writes everything through
// that connection. The lock lives exactly as long as the session, so a
// leader whose connection is gone (killed, cut off, timed out) can write
// nothing more: it is fenced without any clock. Its successor takes the
// lock, reads the log's end (final, since nobody else can write) and
// starts a new term.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotLeader is returned by writes on a journal this process does not
// lead (a standby, or a leader whose term ended). Nothing was written.
var ErrNotLeader = errors.New("this process does not lead the room")

// ErrOutcomeUnknown: the leader's connection was lost while a commit was
// on its way, and whether it landed cannot be known now. It also matches
// ErrNotLeader: the term is over.
var ErrOutcomeUnknown = errors.New("the leader's database connection was lost during the commit: it may or may not have been recorded")

type outcomeUnknown struct{ err error }

func (e *outcomeUnknown) Error() string { return ErrOutcomeUnknown.Error() + ": " + e.err.Error() }
func (e *outcomeUnknown) Unwrap() []error {
	return []error{ErrOutcomeUnknown, ErrNotLeader, e.err}
}

// LeaderInfo says who leads a room.
type LeaderInfo struct {
	Node  string
	Term  int64
	Since time.Time
	// Alive reports whether the lock is held now (a term whose leader
	// died stays the newest until the next one starts).
	Alive bool
}

// Node is this process's name in the leaders table.
func (j *Postgres) Node() string { return j.o.Node }

// Options are the journal's effective options.
func (j *Postgres) Options() PostgresOptions { return j.o }

// connectWriter opens a connection whose session the database ends when
// the leader goes silent for DeadAfter, whichever way it goes silent.
func (j *Postgres) connectWriter(ctx context.Context) (*pgx.Conn, error) {
	cfg := j.cfg.Copy()
	secs := func(d time.Duration) string { return strconv.Itoa(max(1, int(d/time.Second))) }
	dead := j.o.DeadAfter
	// Server side: keepalives notice a machine that vanished,
	// tcp_user_timeout data that is never acknowledged, and the idle
	// timeouts a process that hangs (its kernel still answers keepalives).
	// The leader talks at least every CheckEvery, so it is never idle that
	// long while alive.
	cfg.RuntimeParams["application_name"] = "warroom leader " + j.o.Node
	cfg.RuntimeParams["tcp_keepalives_idle"] = secs(dead / 2)
	cfg.RuntimeParams["tcp_keepalives_interval"] = secs(dead / 5)
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	cfg.RuntimeParams["tcp_user_timeout"] = strconv.Itoa(int(dead / time.Millisecond))
	cfg.RuntimeParams["idle_session_timeout"] = strconv.Itoa(int(dead / time.Millisecond))
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(dead / time.Millisecond))
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > dead {
		cfg.ConnectTimeout = dead
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, j.classify(err)
	}
	if err := j.checkDurability(ctx, c); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	return c, nil
}

// checkDurability reads the settings back, as SQLite's pragmas are: a
// server that does not flush commits would weaken every guarantee
// silently.
func (j *Postgres) checkDurability(ctx context.Context, c *pgx.Conn) error {
	var fsync, sync string
	if err := c.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &sync); err != nil {
		return j.classify(err)
	}
	var bad []string
	if fsync != "on" {
		bad = append(bad, "fsync="+fsync+" (want on)")
	}
	if sync == "off" {
		// local, on, remote_write and remote_apply all flush the commit
		// on this server before it is acknowledged.
		bad = append(bad, "synchronous_commit="+sync+" (want on)")
	}
	if len(bad) > 0 {
		return fmt.Errorf("journal %s: refusing to write, durability settings not in effect: %v", j.path, bad)
	}
	return nil
}

// TryLead takes the room's writer lock if no other process holds it, and
// starts a term: it reports whether this process now leads. A term ends
// when its connection is lost (see Leading) or on Resign.
func (j *Postgres) TryLead(ctx context.Context) (bool, error) {
	if j.ro {
		return false, ErrReadOnly
	}
	j.leadMu.Lock()
	defer j.leadMu.Unlock()
	if j.leading.Load() {
		return true, nil
	}
	c, err := j.connectWriter(ctx)
	if err != nil {
		return false, fmt.Errorf("journal %s: %w", j.path, err)
	}
	var got bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, j.key).Scan(&got); err != nil || !got {
		c.Close(context.Background())
		return false, j.classify(err)
	}
	// The lock is ours: nobody else can write, so the log's end is final.
	var last, term int64
	now := time.Now().UnixNano()
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO warroom.rooms(room, created) VALUES ($1, $2) ON CONFLICT DO NOTHING`, j.room, now); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM warroom.events WHERE room = $1`, j.room).Scan(&last); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(term), 0) + 1 FROM warroom.leaders WHERE room = $1`, j.room).Scan(&term); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO warroom.leaders(room, term, node, since) VALUES ($1, $2, $3, $4)`, j.room, term, j.o.Node, now)
		if err == nil {
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, "l:"+j.room+":"+strconv.FormatInt(term, 10))
		}
		return err
	})
	if err != nil {
		c.Close(context.Background())
		return false, fmt.Errorf("journal %s: start a term: %w", j.path, j.classify(err))
	}
	j.wmu.Lock()
	j.w, j.term, j.lost = c, term, make(chan struct{})
	j.lastSeq.Store(last)
	j.leading.Store(true)
	j.terms.Add(1)
	lost := j.lost
	j.wmu.Unlock()
	j.bg.Add(1)
	go j.watch(term, lost)
	return true, nil
}

// Leading reports whether this process leads, its term, and a channel
// closed when that term ends.
func (j *Postgres) Leading() (term int64, lost <-chan struct{}, ok bool) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.w == nil {
		return 0, nil, false
	}
	return j.term, j.lost, true
}

// Terms counts the terms this process has led.
func (j *Postgres) Terms() int64 { return j.terms.Load() }

// watch checks the lock connection every CheckEvery while the term lasts;
// a check that fails or times out ends the term.
func (j *Postgres) watch(term int64, lost chan struct{}) {
	defer j.bg.Done()
	t := time.NewTicker(j.o.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-lost:
			return
		case <-j.stop:
			return
		case <-t.C:
		}
		j.wmu.Lock()
		if j.w == nil || j.term != term {
			j.wmu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(j.o.WriteTimeout, j.o.DeadAfter))
		err := j.w.Ping(ctx)
		cancel()
		if err != nil {
			j.endTerm()
		}
		j.wmu.Unlock()
	}
}

// endTermLocked closes the lock connection (so the lock is released as
// soon as the database sees it) and ends the term; it returns the
// session's pid for settle. wmu is held.
func (j *Postgres) endTermLocked() uint32 {
	if j.w == nil {
		return 0
	}
	pid := j.w.PgConn().PID()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	j.w.Close(ctx)
	cancel()
	j.w = nil
	j.leading.Store(false)
	close(j.lost)
	return pid
}

// settle ends the session pid (this process's former lock connection)
// through a reader and waits until it is gone. A connection cut on the way
// may leave its session alive on the server until the server's own
// timeouts end it (DeadAfter), holding the lock and perhaps a commit in
// progress: ending it at once settles the commit's outcome and lets a
// standby take over. It gives up after DeadAfter (the server has ended
// the session by then) and reports whether the session is known gone.
func (j *Postgres) settle(pid uint32) bool {
	if pid == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), j.o.DeadAfter+time.Second)
	defer cancel()
	go func() {
		select {
		case <-j.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		var alive bool
		err := j.r.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, int32(pid)).Scan(&alive)
		if err != nil {
			return false
		}
		if !alive {
			return true
		}
		_, _ = j.r.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// endTerm ends the term after its connection was found lost, and settles
// the old session in the background. wmu is held.
func (j *Postgres) endTerm() {
	if pid := j.endTermLocked(); pid != 0 {
		j.bg.Add(1)
		go func() {
			defer j.bg.Done()
			j.settle(pid)
		}()
	}
}

// Resign ends this process's term, if it leads: a clean shutdown lets a
// standby take over at once.
func (j *Postgres) Resign() {
	j.leadMu.Lock()
	defer j.leadMu.Unlock()
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.w != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = j.w.Exec(ctx, `SELECT pg_advisory_unlock($1)`, j.key)
		cancel()
		j.endTermLocked()
	}
}

// Leader says who leads the room (the newest term) and whether its lock
// is held now.
func (j *Postgres) Leader(ctx context.Context) (LeaderInfo, error) {
	var li LeaderInfo
	var since int64
	err := j.r.QueryRow(ctx, `SELECT term, node, since FROM warroom.leaders WHERE room = $1 ORDER BY term DESC LIMIT 1`, j.room).
		Scan(&li.Term, &li.Node, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return li, nil
	}
	if err != nil {
		return li, j.classify(err)
	}
	li.Since = time.Unix(0, since).UTC()
	// A bigint advisory lock shows in pg_locks as its high and low
	// halves (classid, objid) with objsubid 1.
	k := uint64(j.key)
	err = j.r.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = $1 AND objid = $2 AND objsubid = 1 AND granted)`, int64(k>>32), int64(k&0xffffffff)).Scan(&li.Alive)
	return li, j.classify(err)
}

// write runs fn on the lock connection, if this process leads, within
// WriteTimeout. A lost connection ends the term.
func (j *Postgres) write(ctx context.Context, what string, fn func(ctx context.Context, c *pgx.Conn) error) error {
	if j.ro {
		return ErrReadOnly
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.w == nil {
		return fmt.Errorf("%s: %w", what, ErrNotLeader)
	}
	ctx, cancel := context.WithTimeout(ctx, j.o.WriteTimeout)
	defer cancel()
	err := fn(ctx, j.w)
	if err != nil && j.w.IsClosed() {
		j.endTerm()
		return fmt.Errorf("%s: %w: %w", what, ErrNotLeader, err)
	}
	err = j.classify(err)
	j.health.wrote(err)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Append commits events in one round trip (one implicit transaction): the
// rows, and a notification for standbys. See Journal.
func (j *Postgres) Append(ctx context.Context, events []Event) error {
	if j.ro {
		return ErrReadOnly
	}
	if len(events) == 0 {
		return nil
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.w == nil {
		return fmt.Errorf("journal append: %w", ErrNotLeader)
	}
	last := j.lastSeq.Load()
	n := len(events)
	seqs, times := make([]int64, n), make([]int64, n)
	kinds, actors, services := make([]string, n), make([]string, n), make([]string, n)
	bodies, origins := make([][]byte, n), make([]int64, n)
	for i := range events {
		e := &events[i]
		seq := last + int64(i) + 1
		if e.Seq != 0 && e.Seq != seq {
			return fmt.Errorf("journal append: event seq %d does not follow %d", e.Seq, seq-1)
		}
		seqs[i], times[i], kinds[i], actors[i], services[i], origins[i] = seq, e.Time.UnixNano(), e.Kind, e.Actor, e.Service, e.Origin
		bodies[i] = e.Body
		if bodies[i] == nil {
			bodies[i] = []byte("{}")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, j.o.WriteTimeout)
	defer cancel()
	b := &pgx.Batch{}
	// The guard makes a second writer (a pooler that broke session locks)
	// fail loudly instead of interleaving.
	b.Queue(`INSERT INTO warroom.events(room, seq, time, kind, actor, service, body, term, origin)
		SELECT $1, s, t, k, a, v, b, $8, o FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bytea[], $9::bigint[]) AS x(s, t, k, a, v, b, o)
		WHERE (SELECT COALESCE(MAX(seq), 0) FROM warroom.events WHERE room = $1) = $10`,
		j.room, seqs, times, kinds, actors, services, bodies, j.term, origins, last)
	b.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, "e:"+j.room+":"+strconv.FormatInt(last+int64(n), 10))
	br := j.w.SendBatch(ctx, b)
	ct, err := br.Exec()
	if err == nil && ct.RowsAffected() != int64(n) {
		err = fmt.Errorf("the log has events this leader did not write (it expected #%d to be the last)", last)
		br.Close()
		j.endTerm()
		return fmt.Errorf("journal append: %w: %w", ErrNotLeader, err)
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if !j.w.IsClosed() {
			// The server refused the transaction: nothing was written.
			err = j.classify(err)
			j.health.wrote(err)
			return fmt.Errorf("journal append: %w", err)
		}
		sent := !pgconn.SafeToRetry(err)
		term := j.term
		pid := j.endTermLocked()
		if !sent {
			j.bg.Add(1)
			go func() { defer j.bg.Done(); j.settle(pid) }()
			return fmt.Errorf("journal append: %w: %w", ErrNotLeader, err)
		}
		// Once the old session is gone, the log says whether the commit
		// landed; while it cannot be reached, nobody can know.
		if !j.settle(pid) {
			return fmt.Errorf("journal append: %w", &outcomeUnknown{err})
		}
		landed, lerr := j.landed(last, n, term)
		switch {
		case lerr != nil:
			return fmt.Errorf("journal append: %w", &outcomeUnknown{err})
		case !landed:
			return fmt.Errorf("journal append: %w: %w", ErrNotLeader, err)
		}
		// It committed; the term is over anyway.
	}
	j.health.wrote(nil)
	for i := range events {
		events[i].Seq = seqs[i]
	}
	j.lastSeq.Store(last + int64(n))
	return nil
}

// landed reports whether a term's commit of n events after last is in
// the log (read through a reader, after settle).
func (j *Postgres) landed(last int64, n int, term int64) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), j.o.WriteTimeout)
	defer cancel()
	var got int
	err := j.r.QueryRow(ctx, `SELECT count(*) FROM warroom.events WHERE room = $1 AND seq > $2 AND seq <= $3 AND term = $4`,
		j.room, last, last+int64(n), term).Scan(&got)
	return got == n, err
}

// SetCursor durably saves a reader's position; seq must be committed.
func (j *Postgres) SetCursor(ctx context.Context, name string, seq int64) error {
	return j.write(ctx, "journal cursor", func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, pgSetCursor, j.room, name, seq, time.Now().UnixNano())
		return err
	})
}

const pgSetCursor = `INSERT INTO warroom.cursors(room, name, seq, updated) VALUES ($1, $2, $3, $4)
	ON CONFLICT (room, name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`
