package journal

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var ctx = context.Background()

func openTemp(t *testing.T) *SQLite {
	t.Helper()
	j, err := Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func ev(kind, text string) Event {
	return Event{Time: time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC), Kind: kind, Actor: "maya", Service: "tokens", Body: []byte(`{"text":"` + text + `"}`)}
}

func TestAppendAssignsContiguousSeqsAndReplays(t *testing.T) {
	eachBackend(t, testAppendAssignsContiguousSeqsAndReplays)
}

func testAppendAssignsContiguousSeqsAndReplays(t *testing.T, b backend) {
	j := b.open(t)
	batch := []Event{ev("NOTE", "a"), ev("NOTE", "b")}
	if err := j.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].Seq != 1 || batch[1].Seq != 2 || j.LastSeq() != 2 {
		t.Fatalf("seqs %d %d last %d", batch[0].Seq, batch[1].Seq, j.LastSeq())
	}
	// An explicit seq must continue the log.
	bad := []Event{ev("NOTE", "c")}
	bad[0].Seq = 7
	if err := j.Append(ctx, bad); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("want a gap error, got %v", err)
	}
	ok := []Event{ev("NOTE", "c")}
	ok[0].Seq = 3
	if err := j.Append(ctx, ok); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := j.Replay(ctx, 1, func(e Event) error {
		got = append(got, string(e.Body))
		if e.Time.Location() != time.UTC || e.Actor != "maya" {
			t.Errorf("row %+v", e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != `{"text":"b"},{"text":"c"}` {
		t.Fatalf("replay after #1: %v", got)
	}
}

func TestPragmasAreVerified(t *testing.T) {
	j := openTemp(t)
	var sync int
	if err := j.w.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("synchronous=%d %v", sync, err)
	}
	saved := writerPragmas
	defer func() { writerPragmas = saved }()
	writerPragmas = []string{"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"}
	_, err := Open(filepath.Join(t.TempDir(), "weak.db"))
	if err == nil || !strings.Contains(err.Error(), "synchronous=1 (want 2, FULL)") {
		t.Fatalf("a journal without synchronous=FULL must refuse to open, got %v", err)
	}
}

func TestSamplesAndCursors(t *testing.T) { eachBackend(t, testSamplesAndCursors) }

func testSamplesAndCursors(t *testing.T, b backend) {
	j := b.open(t)
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	if err := j.AppendSamples(ctx, []Sample{
		{Service: "tokens", Pane: "rps", Time: t0, Value: 1000},
		{Service: "tokens", Pane: "rps", Time: t0.Add(time.Second), NoData: true},
		{Service: "history", Pane: "rps", Time: t0, Value: 5},
	}); err != nil {
		t.Fatal(err)
	}
	var got []Sample
	if err := j.Samples(ctx, "tokens", "rps", time.Time{}, time.Time{}, func(s Sample) error {
		got = append(got, s)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Value != 1000 || !got[1].NoData || !got[0].Time.Equal(t0) {
		t.Fatalf("samples %+v", got)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "a")}); err != nil {
		t.Fatal(err)
	}
	if err := j.SetCursor(ctx, "slack", 1); err != nil {
		t.Fatal(err)
	}
	if c, err := j.Cursor(ctx, "slack"); err != nil || c != 1 {
		t.Fatalf("cursor %d %v", c, err)
	}
	// Foreign keys are on: a cursor cannot point past the log.
	if err := j.SetCursor(ctx, "slack", 99); err == nil {
		t.Fatal("a cursor to a missing event must be refused")
	}
	if c, _ := j.Cursor(ctx, "nobody"); c != 0 {
		t.Fatalf("unknown cursor %d", c)
	}
}

// TestReadOnlyReaderDoesNotBlockTheWriter: the writer's own readers
// (replays, tail, timeline) use connections of their own. A read
// transaction held open on one of them neither blocks an append nor sees
// it, which a shared connection could not do.
func TestReadOnlyReaderDoesNotBlockTheWriter(t *testing.T) {
	eachBackend(t, testReadOnlyReaderDoesNotBlockTheWriter)
}

// readSnapshot opens a read transaction on one of j's reader connections
// and returns a count of events as it sees them, and its end.
func readSnapshot(t *testing.T, j Journal) (count func() int, end func()) {
	t.Helper()
	switch j := j.(type) {
	case *SQLite:
		conn, err := j.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		return func() int {
				var n int
				if err := tx.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}, func() {
				tx.Rollback()
				conn.Close()
			}
	case *Postgres:
		tx, err := j.r.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			t.Fatal(err)
		}
		return func() int {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM warroom.events WHERE room = $1`, j.room).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}, func() { tx.Rollback(ctx) }
	}
	t.Fatalf("no snapshot for %T", j)
	return nil, nil
}

func testReadOnlyReaderDoesNotBlockTheWriter(t *testing.T, b backend) {
	path := b.where(t)
	w := openAt(t, path)
	if err := w.Append(ctx, []Event{ev("NOTE", "a")}); err != nil {
		t.Fatal(err)
	}
	count, end := readSnapshot(t, w)
	if before := count(); before != 1 {
		t.Fatalf("reader sees %d events", before)
	}
	done := make(chan error, 1)
	go func() { done <- w.Append(ctx, []Event{ev("NOTE", "b")}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the writer is blocked by an open read transaction")
	}
	if during := count(); during != 1 {
		t.Fatalf("the reader's snapshot moved to %d: it shares the writer's connection", during)
	}
	end()
	n := 0
	if err := w.Replay(ctx, 0, func(Event) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("replay after the append: %d events (%v)", n, err)
	}
	// A reader in another process (export) opens read-only and sees the
	// writer's commits after a Refresh.
	r, err := OpenReader(ctx, w.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.(Journal).Append(ctx, []Event{ev("NOTE", "x")}); err != ErrReadOnly {
		t.Fatalf("read-only append: %v", err)
	}
	if err := w.Append(ctx, []Event{ev("NOTE", "c")}); err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(); err != nil || r.LastSeq() != 3 {
		t.Fatalf("reader sees %d after refresh (%v)", r.LastSeq(), err)
	}
	if _, err := OpenReadOnly(filepath.Join(t.TempDir(), "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("opening a missing journal read-only: %v", err)
	}
}

func TestSecondWriterIsRefused(t *testing.T) { eachBackend(t, testSecondWriterIsRefused) }

func testSecondWriterIsRefused(t *testing.T, be backend) {
	path := be.where(t)
	a, err := OpenJournal(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJournal(ctx, path); !errors.Is(err, ErrInUse) {
		t.Fatalf("a second writer must be refused, got %v", err)
	}
	if err := a.Append(ctx, []Event{ev("NOTE", "a")}); err != nil {
		t.Fatalf("the first writer is untouched: %v", err)
	}
	a.Close()
	b, err := OpenJournal(ctx, path)
	if err != nil {
		t.Fatalf("after close the journal opens again: %v", err)
	}
	if err := b.Append(ctx, []Event{ev("NOTE", "b")}); err != nil || b.LastSeq() != 2 {
		t.Fatalf("the second writer continues the log: last #%d, %v", b.LastSeq(), err)
	}
	b.Close()
}

// TestSamplesSkipTheFsyncEventsKeepIt: a batch of samples commits with
// synchronous=NORMAL, and the writer is FULL again for the events after
// it, whatever happens to the batch.
func TestSamplesSkipTheFsyncEventsKeepIt(t *testing.T) {
	j := openTemp(t)
	sync := func() int {
		var n int
		if err := j.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	if err := j.AppendSamples(ctx, []Sample{{Service: "api", Pane: "p95", Time: t0, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if n := sync(); n != 2 {
		t.Fatalf("after samples the writer is synchronous=%d, want 2 (FULL)", n)
	}
	// A batch that fails (here: its context is already cancelled) leaves
	// the writer FULL too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := j.AppendSamples(cctx, []Sample{{Service: "api", Pane: "p95", Time: t0.Add(time.Second), Value: 2}}); err == nil {
		t.Fatal("a cancelled batch was written")
	}
	if n := sync(); n != 2 {
		t.Fatalf("after a failed batch the writer is synchronous=%d, want 2 (FULL)", n)
	}
	if err := j.Append(ctx, []Event{{Time: t0, Kind: "NOTE", Actor: "maya", Body: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
}
