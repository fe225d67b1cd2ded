package journal

import (
	"testing"
	"time"
)

func TestOutboxRowsAndCursorCommitTogether(t *testing.T) {
	eachBackend(t, testOutboxRowsAndCursorCommitTogether)
}

func testOutboxRowsAndCursorCommitTogether(t *testing.T, b backend) {
	j := b.open(t)
	if rows, err := j.OutboxRows(ctx, false); err != nil || rows != nil {
		t.Fatalf("a journal without an outbox: %v %v", rows, err)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "a"), ev("NOTE", "b")}); err != nil {
		t.Fatal(err)
	}
	if err := j.InitOutbox(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	rows := []OutboxRow{{Dest: "statuspage", Key: "U1", Seq: 1, Payload: []byte(`{"a":1}`), Created: now, Updated: now},
		{Dest: "pagerduty", Key: "U1", Seq: 2, Created: now, Updated: now}}
	if err := j.Enqueue(ctx, rows, "comms", 2); err != nil {
		t.Fatal(err)
	}
	if rows[0].ID == 0 || rows[1].ID == rows[0].ID || rows[0].State != OutboxPending {
		t.Fatalf("rows %+v", rows)
	}
	if c, _ := j.Cursor(ctx, "comms"); c != 2 {
		t.Fatalf("cursor %d", c)
	}
	rows[0].State, rows[0].Remote, rows[0].Attempts, rows[0].WasUncertain = OutboxDelivered, "upd-1", 2, true
	if err := j.UpdateOutbox(ctx, &rows[0]); err != nil {
		t.Fatal(err)
	}
	// The same key again keeps the first row, read back.
	again := []OutboxRow{{Dest: "statuspage", Key: "U1", Payload: []byte("other")}}
	if err := j.Enqueue(ctx, again, "", 0); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != rows[0].ID || again[0].State != OutboxDelivered || string(again[0].Payload) != `{"a":1}` || again[0].Remote != "upd-1" {
		t.Fatalf("duplicate key: %+v", again[0])
	}
	open, err := j.OutboxRows(ctx, true)
	if err != nil || len(open) != 1 || open[0].Dest != "pagerduty" {
		t.Fatalf("open rows %+v %v", open, err)
	}
	sp, err := j.OutboxRows(ctx, false, "statuspage")
	if err != nil || len(sp) != 1 || !sp[0].WasUncertain || sp[0].Attempts != 2 || !sp[0].Created.Equal(now) {
		t.Fatalf("statuspage rows %+v %v", sp, err)
	}
	// A cursor past the log fails the whole transaction: no row lands.
	if err := j.Enqueue(ctx, []OutboxRow{{Dest: "statuspage", Key: "U9"}}, "comms", 99); err == nil {
		t.Fatal("a cursor at an event that does not exist was saved")
	}
	if all, _ := j.OutboxRows(ctx, false); len(all) != 2 {
		t.Fatalf("a failed enqueue left rows: %+v", all)
	}
	// A read-only reader sees the rows.
	path := j.Path()
	j.Close()
	r, err := OpenReader(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if all, err := r.OutboxRows(ctx, false); err != nil || len(all) != 2 {
		t.Fatalf("read-only: %+v %v", all, err)
	}
	if err := r.(Journal).Enqueue(ctx, nil, "", 0); err != ErrReadOnly {
		t.Fatalf("enqueue on a read-only journal: %v", err)
	}
}
