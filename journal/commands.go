package journal

// The command table: a standby forwards what a person asked for, the
// leader carries it out and answers. Exactly once: the events a command
// produced carry its id (Event.Origin) and commit with it, so a leader
// that takes over finds a command whose events are already in the log
// answered, not to be run again.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// CommandState is where a forwarded command stands.
type CommandState string

const (
	// CommandPending: waiting for the leader.
	CommandPending CommandState = "pending"
	// CommandRunning: a leader took it (a term that died may have left
	// it so: its successor looks for its events, then runs it again).
	CommandRunning CommandState = "running"
	// CommandDone: answered.
	CommandDone CommandState = "done"
	// CommandWithdrawn: the standby stopped waiting before any leader
	// took it; it will never run.
	CommandWithdrawn CommandState = "withdrawn"
)

// MaxCommandBody bounds a forwarded command.
const MaxCommandBody = 1 << 20

// Command is one forwarded command.
type Command struct {
	ID      int64
	Node    string // the standby that forwarded it
	Body    []byte // the encoded command, the forwarder's business
	State   CommandState
	Term    int64 // the term that claimed it
	Reply   CommandReply
	Created time.Time
}

// CommandReply is the leader's answer: the seqs of the events the command
// produced (none: 0, 0), or a refusal or failure.
type CommandReply struct {
	First, Last int64
	Refused     bool   // Error is a refusal to show the person
	Error       string // empty: accepted
}

// ErrNoCommand is returned for a command id the room does not have.
var ErrNoCommand = errors.New("no such command")

// Forward records a command for the leader and wakes it.
func (j *Postgres) Forward(ctx context.Context, body []byte) (int64, error) {
	if j.ro {
		return 0, ErrReadOnly
	}
	if len(body) > MaxCommandBody {
		return 0, fmt.Errorf("forward: command of %d bytes, over %d", len(body), MaxCommandBody)
	}
	var id int64
	err := pgx.BeginTxFunc(ctx, j.r, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO warroom.commands(room, node, body, state, created) VALUES ($1, $2, $3, 'pending', $4) RETURNING id`,
			j.room, j.o.Node, body, time.Now().UnixNano()).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, "c:"+j.room+":"+strconv.FormatInt(id, 10))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("forward: %w", j.classify(err))
	}
	return id, nil
}

const commandColumns = `id, node, body, state, term, first, last, refused, error, created`

func scanCommand(s interface{ Scan(...any) error }) (Command, error) {
	var c Command
	var state string
	var created int64
	err := s.Scan(&c.ID, &c.Node, &c.Body, &state, &c.Term, &c.Reply.First, &c.Reply.Last, &c.Reply.Refused, &c.Reply.Error, &created)
	c.State, c.Created = CommandState(state), time.Unix(0, created).UTC()
	return c, err
}

// Command reads a command's row.
func (j *Postgres) Command(ctx context.Context, id int64) (Command, error) {
	c, err := scanCommand(j.r.QueryRow(ctx, `SELECT `+commandColumns+` FROM warroom.commands WHERE room = $1 AND id = $2`, j.room, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, fmt.Errorf("command %d: %w", id, ErrNoCommand)
	}
	return c, j.classify(err)
}

// Withdraw gives a command up if no leader has taken it yet; it reports
// whether it did (false: a leader has it, and will answer).
func (j *Postgres) Withdraw(ctx context.Context, id int64) (bool, error) {
	var n int64
	err := pgx.BeginTxFunc(ctx, j.r, pgx.TxOptions{AccessMode: pgx.ReadWrite}, func(tx pgx.Tx) error {
		ct, err := tx.Exec(ctx, `UPDATE warroom.commands SET state = 'withdrawn', replied = $3 WHERE room = $1 AND id = $2 AND state = 'pending'`,
			j.room, id, time.Now().UnixNano())
		n = ct.RowsAffected()
		return err
	})
	return n == 1, j.classify(err)
}

// OpenCommands lists the commands waiting for a leader or taken by one
// that has not answered, oldest first.
func (j *Postgres) OpenCommands(ctx context.Context) ([]Command, error) {
	rows, err := j.r.Query(ctx, `SELECT `+commandColumns+` FROM warroom.commands WHERE room = $1 AND state IN ('pending', 'running') ORDER BY id LIMIT 1000`, j.room)
	if err != nil {
		return nil, j.classify(err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, j.classify(err)
		}
		out = append(out, c)
	}
	return out, j.classify(rows.Err())
}

// ClaimCommand takes a command for this term: one still pending, or one a
// former term took and never answered. It reports false when the command
// is not there to take (withdrawn, answered, or this term's already).
func (j *Postgres) ClaimCommand(ctx context.Context, id int64) (Command, bool, error) {
	var c Command
	ok := false
	err := j.write(ctx, "claim command", func(ctx context.Context, conn *pgx.Conn) error {
		var err error
		c, err = scanCommand(conn.QueryRow(ctx, `UPDATE warroom.commands SET state = 'running', term = $3
			WHERE room = $1 AND id = $2 AND (state = 'pending' OR state = 'running' AND term <> $3) RETURNING `+commandColumns,
			j.room, id, j.term))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return c, ok, err
}

// CommandEvents returns the seqs of the events a command produced (0, 0
// when it has none in the log).
func (j *Postgres) CommandEvents(ctx context.Context, id int64) (first, last int64, err error) {
	err = j.r.QueryRow(ctx, `SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM warroom.events WHERE room = $1 AND origin = $2`, j.room, id).
		Scan(&first, &last)
	return first, last, j.classify(err)
}

// ReplyCommand answers a command and wakes the standby waiting on it.
func (j *Postgres) ReplyCommand(ctx context.Context, id int64, r CommandReply) error {
	return j.write(ctx, "reply to command", func(ctx context.Context, c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(`UPDATE warroom.commands SET state = 'done', first = $3, last = $4, refused = $5, error = $6, replied = $7 WHERE room = $1 AND id = $2`,
			j.room, id, r.First, r.Last, r.Refused, r.Error, time.Now().UnixNano())
		b.Queue(`SELECT pg_notify($1, $2)`, notifyChannel, "r:"+j.room+":"+strconv.FormatInt(id, 10))
		return c.SendBatch(ctx, b).Close()
	})
}
