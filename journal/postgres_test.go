package journal

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/journal/journaltest"
)

// roomURL is url with its room parameter set.
func roomURL(t *testing.T, base, room string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("room", room)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPG(t *testing.T, where string, o PostgresOptions) *Postgres {
	t.Helper()
	j, err := OpenPostgres(ctx, where, o, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func lead(t *testing.T, j *Postgres) {
	t.Helper()
	ok, err := j.TryLead(ctx)
	if err != nil || !ok {
		t.Fatalf("%s does not lead: %v", j.Node(), err)
	}
}

// TestPostgresDurabilityIsVerified: a database that does not flush commits
// (synchronous_commit=off) is refused for writing, as SQLite refuses
// weakened pragmas.
func TestPostgresDurabilityIsVerified(t *testing.T) {
	pg := journaltest.SharedPostgres(t)
	u := journaltest.PostgresURL(t)
	if err := pg.Exec("postgres", "ALTER DATABASE "+journaltest.DBName(u)+" SET synchronous_commit = off"); err != nil {
		t.Fatal(err)
	}
	_, err := OpenJournal(ctx, u)
	if err == nil || !strings.Contains(err.Error(), "synchronous_commit=off (want on)") {
		t.Fatalf("a database without durable commits must be refused, got %v", err)
	}
}

// TestPostgresSchemaVersions: a journal of a newer schema is refused with
// both versions named, for writing and for reading; a database without a
// journal is no journal to a reader, and a warroom schema that is not a
// journal's is refused and left alone.
func TestPostgresSchemaVersions(t *testing.T) {
	pg := journaltest.SharedPostgres(t)
	u := journaltest.PostgresURL(t)
	if _, err := OpenReader(ctx, u); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("reading an empty database: %v", err)
	}
	j, err := OpenJournal(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "a")}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	if err := pg.Exec(journaltest.DBName(u), `UPDATE warroom.meta SET value = '7' WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func() error{
		"write": func() error { _, err := OpenJournal(ctx, u); return err },
		"read":  func() error { _, err := OpenReader(ctx, u); return err },
	} {
		err := open()
		var se *SchemaError
		if !errors.Is(err, ErrNewerSchema) || !errors.As(err, &se) || se.Found != 7 || se.Supported != PostgresSchemaVersion {
			t.Fatalf("%s a newer journal: %v", name, err)
		}
		if !strings.Contains(err.Error(), "schema version 7") {
			t.Fatalf("the error does not name the version: %v", err)
		}
	}

	foreign := journaltest.PostgresURL(t)
	db := journaltest.DBName(foreign)
	if err := pg.Exec(db, `CREATE SCHEMA warroom; CREATE TABLE warroom.things(id int); CREATE TABLE public.users(id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenJournal(ctx, foreign); !errors.Is(err, ErrNotJournal) {
		t.Fatalf("a foreign warroom schema: %v", err)
	}
	if err := pg.Exec(db, `SELECT 1 FROM warroom.things; DO $$ BEGIN IF to_regclass('warroom.events') IS NOT NULL THEN RAISE 'converted'; END IF; END $$`); err != nil {
		t.Fatalf("the foreign schema was changed: %v", err)
	}
	// Another application's tables elsewhere in the database are no
	// obstacle: rooms live in their own schema.
	other := journaltest.PostgresURL(t)
	if err := pg.Exec(journaltest.DBName(other), `CREATE TABLE public.users(id int)`); err != nil {
		t.Fatal(err)
	}
	j, err = OpenJournal(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
}

// TestRoomsShareADatabase: several rooms in one database each have their
// own log, samples, cursors and outboxes; a reader of a room that does
// not exist is told which rooms do.
func TestRoomsShareADatabase(t *testing.T) {
	base := journaltest.PostgresURL(t)
	a := openAt(t, roomURL(t, base, "airdrop"))
	b := openAt(t, roomURL(t, base, "nft-launch"))
	for i := range 3 {
		if err := a.Append(ctx, []Event{ev("NOTE", fmt.Sprint("a", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Append(ctx, []Event{ev("NOTE", "b0")}); err != nil {
		t.Fatal(err)
	}
	if a.LastSeq() != 3 || b.LastSeq() != 1 {
		t.Fatalf("seqs a %d b %d", a.LastSeq(), b.LastSeq())
	}
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	if err := a.AppendSamples(ctx, []Sample{{Service: "api", Pane: "p95", Time: t0, Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetCursor(ctx, "slack", 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Enqueue(ctx, []OutboxRow{{Dest: "statuspage", Key: "U1", Created: t0, Updated: t0}}, "", 0); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, b, "samples"); n != 0 {
		t.Fatalf("room b sees %d of a's samples", n)
	}
	if c, _ := a.Cursor(ctx, "slack"); c != 0 {
		t.Fatalf("room a sees b's cursor at %d", c)
	}
	if rows, _ := a.OutboxRows(ctx, false); len(rows) != 0 {
		t.Fatalf("room a sees b's outbox: %+v", rows)
	}
	var texts []string
	b.Replay(ctx, 0, func(e Event) error { texts = append(texts, string(e.Body)); return nil })
	if len(texts) != 1 || !strings.Contains(texts[0], "b0") {
		t.Fatalf("room b replays %v", texts)
	}
	rooms, err := Rooms(ctx, base)
	if err != nil || strings.Join(rooms, ",") != "airdrop,nft-launch" {
		t.Fatalf("rooms %v %v", rooms, err)
	}
	_, err = OpenReader(ctx, roomURL(t, base, "airdorp"))
	if !errors.Is(err, ErrNotJournal) || !strings.Contains(err.Error(), `no room "airdorp"`) || !strings.Contains(err.Error(), "airdrop, nft-launch") {
		t.Fatalf("a missing room: %v", err)
	}
	if _, err := OpenPostgres(ctx, roomURL(t, base, "../etc"), PostgresOptions{}, true); err == nil {
		t.Fatal("a room id with a slash was accepted")
	}
}

// TestPostgresPathHidesThePassword: the journal's name, shown on
// dashboards and in logs, never carries the password.
func TestPostgresPathHidesThePassword(t *testing.T) {
	_, _, shown, err := parsePostgresURL("postgres://ops:s3cret-pw@db.example:5432/warroom?sslmode=require&room=airdrop&password=other")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(shown, "s3cret") || strings.Contains(shown, "other") || !strings.Contains(shown, "ops@db.example:5432/warroom") || !strings.Contains(shown, "room=airdrop") {
		t.Fatalf("shown as %q", shown)
	}
}

// TestVerifyAndCopyBothWays: a room moves from SQLite to Postgres and
// back with every event (same seqs), sample, minute mean, cursor and
// outbox row; each copy verifies clean; a gap made behind Postgres's back
// is found by verify.
func TestVerifyAndCopyBothWays(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src.db")
	j, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC)
	var evs []Event
	for i := range 2500 {
		e := ev("NOTE", fmt.Sprint("n", i))
		e.Time = t0.Add(time.Duration(i) * time.Second)
		evs = append(evs, e)
	}
	if err := j.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var smp []Sample
	for i := range 300 {
		smp = append(smp, Sample{Service: "api", Pane: "p95", Time: t0.Add(time.Duration(i) * time.Second), Value: float64(i), NoData: i == 7})
	}
	smp = append(smp, Sample{Service: "api", Pane: "p95", Time: t0.Add(49 * time.Hour), Value: 1}) // folds the old ones
	if err := j.AppendSamples(ctx, smp); err != nil {
		t.Fatal(err)
	}
	if err := j.SetCursor(ctx, "slack", 2400); err != nil {
		t.Fatal(err)
	}
	j.InitSlackOutbox(ctx)
	if err := j.InsertSlackMessage(ctx, &SlackMessage{Seqs: []int64{5, 6}, Channel: "C1", Kind: "line", State: SlackDelivered, TS: "1.2", Text: "x", Updated: t0}); err != nil {
		t.Fatal(err)
	}
	j.InitOutbox(ctx)
	if err := j.Enqueue(ctx, []OutboxRow{{Dest: "pagerduty", Key: "k1", Seq: 3, State: OutboxUncertain, WasUncertain: true, Created: t0, Updated: t0}}, "pd", 3); err != nil {
		t.Fatal(err)
	}
	j.Close()

	dump := func(where string) string {
		t.Helper()
		r, err := OpenReader(ctx, where)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var b strings.Builder
		r.Replay(ctx, 0, func(e Event) error {
			fmt.Fprintf(&b, "%d %s %s %s %s\n", e.Seq, e.Time.Format(time.RFC3339Nano), e.Kind, e.Actor, e.Body)
			return nil
		})
		r.Samples(ctx, "", "", time.Time{}, time.Time{}, func(s Sample) error {
			fmt.Fprintf(&b, "%s %s %v %v %v\n", s.Service, s.Pane, s.Time.UnixNano(), s.Value, s.NoData)
			return nil
		})
		for _, name := range []string{"slack", "pd"} {
			c, _ := r.Cursor(ctx, name)
			fmt.Fprintf(&b, "cursor %s %d\n", name, c)
		}
		msgs, _ := r.SlackMessages(ctx)
		for _, m := range msgs {
			fmt.Fprintf(&b, "slack %v %s %s %s %s\n", m.Seqs, m.Channel, m.State, m.TS, m.Text)
		}
		rows, _ := r.OutboxRows(ctx, false)
		for _, o := range rows {
			fmt.Fprintf(&b, "outbox %s %s %d %s %v\n", o.Dest, o.Key, o.Seq, o.State, o.WasUncertain)
		}
		return b.String()
	}
	want := dump(src)
	if !strings.Contains(want, "cursor pd 3") || !strings.Contains(want, "outbox pagerduty k1 3 uncertain true") {
		t.Fatalf("the source is not what the test wrote:\n%s", want[len(want)-300:])
	}
	pgURL := roomURL(t, journaltest.PostgresURL(t), "copied")
	rep, err := Copy(ctx, src, pgURL)
	if err != nil || rep.Events != 2500 {
		t.Fatalf("copy to postgres: %+v %v", rep, err)
	}
	if got := dump(pgURL); got != want {
		t.Fatalf("postgres copy differs:\n%s", firstDiff(want, got))
	}
	if _, err := Copy(ctx, src, pgURL); err == nil || !strings.Contains(err.Error(), "already has 2500 events") {
		t.Fatalf("copy into a room with events: %v", err)
	}
	back := filepath.Join(t.TempDir(), "back.db")
	if _, err := Copy(ctx, pgURL, back); err != nil {
		t.Fatal(err)
	}
	if got := dump(back); got != want {
		t.Fatalf("copy back differs:\n%s", firstDiff(want, got))
	}
	for _, where := range []string{pgURL, back} {
		vr, err := Verify(ctx, where, nil)
		if err != nil || !vr.OK() || vr.LastSeq != 2500 || vr.Events != 2500 {
			t.Fatalf("verify %s: %+v %v", where, vr, err)
		}
	}
	// A gap and a bad body, made behind the journal's back.
	pg := journaltest.SharedPostgres(t)
	if err := pg.Exec(journaltest.DBName(pgURL), `DELETE FROM warroom.cursors; DELETE FROM warroom.events WHERE seq = 1200;
		UPDATE warroom.events SET body = '\x7b00'::bytea WHERE seq = 1300`); err != nil {
		t.Fatal(err)
	}
	vr, err := Verify(ctx, pgURL, func(e Event) error {
		if e.Body[1] == 0 {
			return errors.New("bad body")
		}
		return nil
	})
	if err != nil || vr.OK() || len(vr.Problems) != 2 || vr.Problems[0].Seq != 1200 || !strings.Contains(vr.Problems[0].What, "missing") ||
		vr.Problems[1].Seq != 1300 {
		t.Fatalf("verify after damage: %+v %v", vr.Problems, err)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\nwant %q\ngot  %q", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(al), len(bl))
}

// TestPostgresDiskFull: a database whose disk is full refuses the commit
// with SQLSTATE 53100 (disk_full, PostgreSQL's errcodes appendix; a
// trigger raises it here, as the server would on the WAL write): the
// append fails with ErrDiskFull, nothing is written, the process still
// leads and its health says what is wrong; once there is room again the
// log goes on without a gap.
func TestPostgresDiskFull(t *testing.T) {
	pg := journaltest.SharedPostgres(t)
	u := journaltest.PostgresURL(t)
	j := openPG(t, u, PostgresOptions{Node: "a"})
	lead(t, j)
	if err := j.Append(ctx, []Event{ev("NOTE", "before")}); err != nil {
		t.Fatal(err)
	}
	db := journaltest.DBName(u)
	if err := pg.Exec(db, `CREATE FUNCTION public.full_disk() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$;
		CREATE TRIGGER full_disk BEFORE INSERT ON warroom.events FOR EACH ROW EXECUTE FUNCTION public.full_disk()`); err != nil {
		t.Fatal(err)
	}
	err := j.Append(ctx, []Event{ev("NOTE", "refused")})
	if !errors.Is(err, ErrDiskFull) || errors.Is(err, ErrNotLeader) {
		t.Fatalf("append on a full disk: %v", err)
	}
	if h := j.Health(); h.State != StorageFailing || !strings.Contains(h.Reason, "disk is full") || h.FailedWrites != 1 {
		t.Fatalf("health on a full disk: %+v", h)
	}
	if _, _, ok := j.Leading(); !ok {
		t.Fatal("a full disk ended the term")
	}
	if err := pg.Exec(db, `DROP TRIGGER full_disk ON warroom.events`); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []Event{ev("NOTE", "after")}); err != nil {
		t.Fatal(err)
	}
	if h := j.Health(); !h.OK() {
		t.Fatalf("health once there is room: %+v", h)
	}
	var got []string
	j.Replay(ctx, 0, func(e Event) error { got = append(got, fmt.Sprint(e.Seq, string(e.Body))); return nil })
	if want := []string{`1{"text":"before"}`, `2{"text":"after"}`}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("log %v, want %v", got, want)
	}
}
