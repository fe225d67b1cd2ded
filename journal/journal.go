// Package journal is warroom's durable log: events, samples, reader
// cursors and the Slack outbox.
//
// The events table is the truth: incident state is a fold over it, and a
// restart is a replay. Exactly one writer appends; every append is a
// transaction that is durable before the caller may show or publish its
// events. Readers (tail, the HTTP timeline and its stream, the mirror's
// catch-up, exports) never share the writer's connection, so a long
// replay never delays an acknowledgement.
//
// Journal and Reader are the seam a backend implements. SQLite (Open,
// OpenReadOnly) is the embedded one, for one machine; Postgres
// (OpenPostgres, a postgres:// URL) keeps several rooms in one database
// and lets several processes share a room: one leads and writes, the
// others follow (Shared). OpenJournal and OpenReader choose by location.
package journal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Event is one row of the log. Body is the kind-specific JSON payload.
type Event struct {
	Seq     int64
	Time    time.Time
	Kind    string
	Actor   string
	Service string
	Body    []byte
	// Origin is the forwarded command (Shared.Forward) the event answers,
	// 0 for none. Backends without forwarding do not keep it.
	Origin int64
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

// Reader reads a journal through its own connections.
type Reader interface {
	// Path names the journal (a file path, or a URL for a server).
	Path() string
	// LastSeq is the seq of the newest committed event (0 when empty).
	// A reader of a journal another process writes sees the newest at
	// open or at the last Refresh.
	LastSeq() int64
	// Refresh re-reads the newest seq.
	Refresh() error
	// Replay calls fn for every event with seq > after, in seq order.
	Replay(ctx context.Context, after int64, fn func(Event) error) error
	// ReplayRange is Replay limited to seq <= upto (0: no limit). No read
	// transaction is held for long.
	ReplayRange(ctx context.Context, after, upto int64, fn func(Event) error) error
	// Samples calls fn for the stored samples of one pane between from and
	// to (inclusive; zero times are unbounded), oldest first. An empty
	// service or pane matches all. Samples older than the full-resolution
	// window come back as one-minute means.
	Samples(ctx context.Context, service, pane string, from, to time.Time, fn func(Sample) error) error
	// Cursor returns a reader's saved position (0 if it has none).
	Cursor(ctx context.Context, name string) (int64, error)
	// SlackMessages returns every outbox row, oldest first.
	SlackMessages(ctx context.Context) ([]SlackMessage, error)
	// SlackMessagesToResume returns what a restarting mirror must know
	// (see the SQLite implementation).
	SlackMessagesToResume(ctx context.Context, cursorSeq int64) ([]SlackMessage, error)
	// OutboxRows returns the generic outbox's rows of the destinations
	// named (all when none are), oldest first; with open, only those that
	// still need work.
	OutboxRows(ctx context.Context, open bool, dests ...string) ([]OutboxRow, error)
	Close() error
}

// Journal is a journal open for writing: the one writer, and readers on
// connections of their own.
type Journal interface {
	Reader
	// Append commits events in one transaction. Seqs must continue the
	// log without a gap; a zero Seq is assigned. It returns only once the
	// commit is durable, and only one goroutine may append. A failed
	// append leaves the log as it was and the journal usable.
	Append(ctx context.Context, events []Event) error
	// AppendSamples stores a batch of samples. When space is short they
	// are dropped (and counted in Health) so that events keep the room.
	AppendSamples(ctx context.Context, samples []Sample) error
	// SetCursor durably saves a reader's position; seq must be committed.
	SetCursor(ctx context.Context, name string, seq int64) error
	InitSlackOutbox(ctx context.Context) error
	InsertSlackMessage(ctx context.Context, m *SlackMessage) error
	UpdateSlackMessage(ctx context.Context, m *SlackMessage, cursor string, cursorSeq int64) error
	DeleteSlackMessage(ctx context.Context, id int64) error
	// InitOutbox creates the generic outbox if needed.
	InitOutbox(ctx context.Context) error
	// Enqueue adds outbox rows (a (Dest, Key) already there is kept, and
	// its row read back) and moves the named cursor to cursorSeq (when > 0)
	// in the same transaction.
	Enqueue(ctx context.Context, rows []OutboxRow, cursor string, cursorSeq int64) error
	// UpdateOutbox writes an outbox row's state, remote id, counters and
	// error.
	UpdateOutbox(ctx context.Context, r *OutboxRow) error
	// Health is the journal's storage state, for /healthz and dashboards.
	Health() Health
}

// Shared is a journal several warroom processes use at once (Postgres):
// one leads (it alone writes: Append and the other writes fail with
// ErrNotLeader elsewhere), the others follow the log and forward commands
// through the command table. A Shared journal opens as a standby.
type Shared interface {
	Journal
	// Node names this process among the room's processes.
	Node() string
	// TryLead takes the room's writer lock if it is free and starts a
	// term; it reports whether this process leads.
	TryLead(ctx context.Context) (bool, error)
	// Leading reports whether this process leads, its term, and a
	// channel closed when the term ends (its connection was lost).
	Leading() (term int64, lost <-chan struct{}, ok bool)
	// Resign ends this process's term, if it leads.
	Resign()
	// Leader says who leads the room now.
	Leader(ctx context.Context) (LeaderInfo, error)
	// Changes returns a channel closed when something may have changed:
	// events committed, a command forwarded or answered, or the poll
	// interval passed.
	Changes() <-chan struct{}
	// Head is the newest seq this process knows to be committed.
	Head() int64
	// SamplesSince returns samples stored after a position (0: none,
	// just the position of the newest) in storing order, and the next
	// position.
	SamplesSince(ctx context.Context, after int64, limit int) ([]Sample, int64, error)
	// Forward records a command for the leader; Command reads its row;
	// Withdraw gives it up if no leader has taken it.
	Forward(ctx context.Context, body []byte) (int64, error)
	Command(ctx context.Context, id int64) (Command, error)
	Withdraw(ctx context.Context, id int64) (bool, error)
	// OpenCommands lists commands waiting for or taken by a leader;
	// ClaimCommand takes one for this term; CommandEvents finds the
	// events a command produced; ReplyCommand answers it.
	OpenCommands(ctx context.Context) ([]Command, error)
	ClaimCommand(ctx context.Context, id int64) (Command, bool, error)
	CommandEvents(ctx context.Context, id int64) (first, last int64, err error)
	ReplyCommand(ctx context.Context, id int64, r CommandReply) error
	// PutPresence replaces who this process says is connected to it;
	// Presence returns what every process said within the last fresh.
	PutPresence(ctx context.Context, rows []PresenceRow) error
	Presence(ctx context.Context, fresh time.Duration) ([]PresenceRow, error)
}

// Errors. Each error a journal returns that has one of these causes
// matches it with errors.Is.
var (
	// ErrNotJournal: the file is not a warroom journal (another SQLite
	// database, or not a database at all).
	ErrNotJournal = errors.New("not a warroom journal")
	// ErrUnreadable: the file exists but cannot be read (permissions, I/O).
	ErrUnreadable = errors.New("cannot read the journal")
	// ErrNewerSchema: the journal was written by a newer warroom.
	ErrNewerSchema = errors.New("journal written by a newer warroom")
	// ErrInUse: another warroom process has the journal open for writing.
	ErrInUse = errors.New("journal is in use by another warroom process")
	// ErrDiskFull: the journal's file system has no room for the write.
	ErrDiskFull = errors.New("the journal's disk is full")
	// ErrCorrupt: the file is damaged; `warroom journal salvage` exports
	// what is still readable.
	ErrCorrupt = errors.New("the journal is damaged")
	// ErrReadOnly is returned by writes to a journal opened read-only.
	ErrReadOnly = errors.New("journal is open read-only")
)

// SchemaError says which schema versions were found and supported.
type SchemaError struct {
	Path      string
	Found     int
	Supported int
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("journal %s has schema version %d, newer than this warroom reads (up to %d): upgrade warroom to open it", e.Path, e.Found, e.Supported)
}

// Is makes a *SchemaError match ErrNewerSchema.
func (e *SchemaError) Is(target error) bool { return target == ErrNewerSchema }

// StorageState is how well the journal can write.
type StorageState string

const (
	StorageOK StorageState = "ok"
	// StorageLow: free space is under the threshold; samples are shed so
	// that events keep committing.
	StorageLow StorageState = "low"
	// StorageFailing: the last write failed (e.g. the disk is full);
	// commands that needed it were refused.
	StorageFailing StorageState = "failing"
)

// Health is a journal's storage state.
type Health struct {
	State StorageState
	// Reason says why the state is not ok, for banners and /healthz.
	Reason string
	// Since is when the state last changed.
	Since time.Time
	// Free is the free space of the journal's file system, in bytes
	// (0 when unknown).
	Free uint64
	// SamplesDropped counts samples shed since the journal was opened.
	SamplesDropped int64
	// FailedWrites counts writes that failed since open.
	FailedWrites int64
}

// OK reports whether the journal writes normally.
func (h Health) OK() bool { return h.State == "" || h.State == StorageOK }

// eventRows is what both drivers' result sets offer (database/sql's
// *sql.Rows and pgx.Rows).
type eventRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanEvents reads a page of events (seq, time, kind, actor, service,
// body) from either backend.
func scanEvents(rows eventRows, n int, classify func(error) error) ([]Event, error) {
	out := make([]Event, 0, min(n, 1024))
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Kind, &e.Actor, &e.Service, &e.Body); err != nil {
			return nil, fmt.Errorf("journal replay: %w", classify(err))
		}
		e.Time = time.Unix(0, t).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal replay: %w", classify(err))
	}
	return out, nil
}
