package journal

// The Slack mirror's outbox: one row per Slack message that the mirror
// posted or is posting. Slack has no idempotency key, so a post is written
// here as pending BEFORE its request goes out and marked delivered (with
// Slack's ts) or uncertain afterwards. A pending row found at start-up is a
// post whose outcome the process never learned (it was killed mid-request):
// the mirror treats it as uncertain and never re-posts it blindly.
//
// Updates of a message (chat.update) are idempotent and are not rows of
// their own: they rewrite the Body of the message they update.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// States of a Slack message.
const (
	SlackPending   = "pending"   // the request is (or was) on its way; outcome unknown to this process yet
	SlackDelivered = "delivered" // Slack answered ok; TS is set
	SlackUncertain = "uncertain" // the reply was lost after the request was sent
	SlackFailed    = "failed"    // Slack refused this message itself (e.g. invalid_blocks); not retried
)

const outboxSchema = `
CREATE TABLE IF NOT EXISTS slack_messages (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	seq           INTEGER NOT NULL,
	last_seq      INTEGER NOT NULL,
	seqs          TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	kind          TEXT    NOT NULL,
	alert_id      TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL,
	ts            TEXT    NOT NULL DEFAULT '',
	after_ts      TEXT    NOT NULL DEFAULT '',
	text          TEXT    NOT NULL DEFAULT '',
	body          BLOB,
	was_uncertain INTEGER NOT NULL DEFAULT 0,
	checks        INTEGER NOT NULL DEFAULT 0,
	error         TEXT    NOT NULL DEFAULT '',
	updated       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_messages_last_seq ON slack_messages(last_seq);
CREATE INDEX IF NOT EXISTS slack_messages_state ON slack_messages(state);
CREATE INDEX IF NOT EXISTS slack_messages_alert ON slack_messages(alert_id) WHERE alert_id != '';
`

// SlackMessage is one row of the outbox.
type SlackMessage struct {
	ID      int64
	Seq     int64   // first event seq the message carries
	LastSeq int64   // last event seq it carries
	Seqs    []int64 // every event seq it carries, ascending
	Channel string
	Kind    string // the mirror's kind: root, line, digest, alert, page
	AlertID string // for alert messages
	State   string // SlackPending, SlackDelivered, SlackUncertain, SlackFailed
	TS      string // Slack's message ts once known
	// AfterTS is the ts of the newest message delivered before this one
	// was sent: a lower bound for finding it in the channel's history.
	AfterTS string
	Text    string // the text as sent (reconciliation looks for it)
	Body    []byte // the mirror's own data (an alert message's model)
	// WasUncertain stays set once a reply was lost, even after the
	// message was found again: duplicates are only allowed for these.
	WasUncertain bool
	Checks       int // reconciliation attempts
	Error        string
	Updated      time.Time
}

// InitSlackOutbox creates the outbox table if needed. The mirror calls it
// once before using the other outbox methods.
func (j *SQLite) InitSlackOutbox(ctx context.Context) error {
	if j.w == nil {
		return ErrReadOnly
	}
	if _, err := j.w.ExecContext(ctx, outboxSchema); err != nil {
		return fmt.Errorf("journal %s: create slack outbox: %w", j.path, j.wrote(err))
	}
	return nil
}

// InsertSlackMessage adds a row and sets m.ID.
func (j *SQLite) InsertSlackMessage(ctx context.Context, m *SlackMessage) error {
	if j.w == nil {
		return ErrReadOnly
	}
	first, last := seqBounds(m.Seqs)
	m.Seq, m.LastSeq = first, last
	res, err := j.w.ExecContext(ctx, `INSERT INTO slack_messages
		(seq, last_seq, seqs, channel, kind, alert_id, state, ts, after_ts, text, body, was_uncertain, checks, error, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		first, last, FormatSeqs(m.Seqs), m.Channel, m.Kind, m.AlertID, m.State, m.TS, m.AfterTS, m.Text, m.Body,
		boolInt(m.WasUncertain), m.Checks, m.Error, m.Updated.UnixNano())
	if err := j.wrote(err); err != nil {
		return fmt.Errorf("slack outbox insert: %w", err)
	}
	m.ID, err = res.LastInsertId()
	return err
}

// UpdateSlackMessage writes a row's mutable fields (state, ts, text, body,
// was_uncertain, checks, error, updated) and, when cursorSeq > 0, moves the
// named reader cursor to cursorSeq in the same transaction.
func (j *SQLite) UpdateSlackMessage(ctx context.Context, m *SlackMessage, cursor string, cursorSeq int64) error {
	if j.w == nil {
		return ErrReadOnly
	}
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("slack outbox update: %w", j.wrote(err))
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if m != nil {
		_, err = tx.ExecContext(ctx, `UPDATE slack_messages SET state = ?, ts = ?, text = ?, body = ?,
			was_uncertain = ?, checks = ?, error = ?, updated = ? WHERE id = ?`,
			m.State, m.TS, m.Text, m.Body, boolInt(m.WasUncertain), m.Checks, m.Error, m.Updated.UnixNano(), m.ID)
		if err != nil {
			return fmt.Errorf("slack outbox update #%d: %w", m.ID, j.wrote(err))
		}
	}
	if cursorSeq > 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO cursors(name, seq, updated) VALUES (?, ?, ?)
			ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated = excluded.updated`,
			cursor, cursorSeq, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("slack outbox cursor: %w", j.wrote(err))
		}
	}
	return j.wrote(tx.Commit())
}

// DeleteSlackMessage removes a row whose request Slack definitely did not
// apply (rate-limited, refused connection): it will be posted again later.
func (j *SQLite) DeleteSlackMessage(ctx context.Context, id int64) error {
	if j.w == nil {
		return ErrReadOnly
	}
	_, err := j.w.ExecContext(ctx, `DELETE FROM slack_messages WHERE id = ?`, id)
	return j.wrote(err)
}

// SlackMessagesToResume returns what a restarting mirror must know: rows
// carrying events after the cursor (so they are not posted twice), rows
// whose outcome is still open (pending or uncertain), and every alert
// message (alert messages are updated for as long as the alert lives).
func (j *SQLite) SlackMessagesToResume(ctx context.Context, cursorSeq int64) ([]SlackMessage, error) {
	return j.slackQuery(ctx, `WHERE last_seq > ? OR state IN ('pending', 'uncertain') OR kind = 'alert' ORDER BY id`, cursorSeq)
}

// SlackMessages returns every row, oldest first (tests, exports, audits).
func (j *SQLite) SlackMessages(ctx context.Context) ([]SlackMessage, error) {
	return j.slackQuery(ctx, `ORDER BY id`)
}

func (j *SQLite) slackQuery(ctx context.Context, where string, args ...any) ([]SlackMessage, error) {
	if !j.hasTable("slack_messages") {
		return nil, nil // no mirror ever ran on this journal
	}
	rows, err := j.r.QueryContext(ctx, `SELECT id, seq, last_seq, seqs, channel, kind, alert_id, state, ts, after_ts, text, body,
		was_uncertain, checks, error, updated FROM slack_messages `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("slack outbox: %w", j.classify(err))
	}
	defer rows.Close()
	var out []SlackMessage
	for rows.Next() {
		var m SlackMessage
		var seqs string
		var wasU int
		var updated int64
		var body []byte
		if err := rows.Scan(&m.ID, &m.Seq, &m.LastSeq, &seqs, &m.Channel, &m.Kind, &m.AlertID, &m.State, &m.TS, &m.AfterTS, &m.Text,
			&body, &wasU, &m.Checks, &m.Error, &updated); err != nil {
			return nil, fmt.Errorf("slack outbox: %w", err)
		}
		m.Body = body
		m.WasUncertain = wasU != 0
		m.Updated = time.Unix(0, updated).UTC()
		if m.Seqs, err = ParseSeqs(seqs); err != nil {
			return nil, fmt.Errorf("slack outbox row %d: %w", m.ID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// FormatSeqs writes ascending seqs compactly: "1-5,7,9-12".
func FormatSeqs(seqs []int64) string {
	s := append([]int64(nil), seqs...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	var b strings.Builder
	for i := 0; i < len(s); {
		k := i
		for k+1 < len(s) && s[k+1] <= s[k]+1 {
			k++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(s[i], 10))
		if s[k] != s[i] {
			b.WriteByte('-')
			b.WriteString(strconv.FormatInt(s[k], 10))
		}
		i = k + 1
	}
	return b.String()
}

// ParseSeqs reads what FormatSeqs wrote.
func ParseSeqs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	var out []int64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad seq list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("bad seq list %q", s)
			}
		}
		if b-a > 10_000_000 {
			return nil, errors.New("seq range too large")
		}
		for v := a; v <= b; v++ {
			out = append(out, v)
		}
	}
	return out, nil
}

func seqBounds(seqs []int64) (int64, int64) {
	if len(seqs) == 0 {
		return 0, 0
	}
	lo, hi := seqs[0], seqs[0]
	for _, s := range seqs {
		lo, hi = min(lo, s), max(hi, s)
	}
	return lo, hi
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
