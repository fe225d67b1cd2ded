package journal

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/journal/journaltest"
)

// TestSymlinkAndHardLinkAreInUse: the lock is on the journal's inode, so
// a second writer is refused whatever name it uses.
func TestSymlinkAndHardLinkAreInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Append(ctx, []Event{ev("NOTE", "a")}); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "sym.db")
	hard := filepath.Join(t.TempDir(), "hard.db")
	if err := os.Symlink(path, sym); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(path, hard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, sym, hard} {
		_, err := Open(p)
		if !errors.Is(err, ErrInUse) {
			t.Fatalf("open %s: %v, want in use", p, err)
		}
		if !strings.Contains(err.Error(), "in use by another warroom process") {
			t.Fatalf("open %s: %q does not say so", p, err)
		}
	}
	// The live journal is untouched.
	if err := j.Append(ctx, []Event{ev("NOTE", "b")}); err != nil {
		t.Fatal(err)
	}
}

// TestForeignDatabaseIsRefusedAndLeftAlone: another application's SQLite
// file, or a file that is no database at all, is refused (not converted).
func TestForeignDatabaseIsRefusedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users(name) VALUES ('ana')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("launch notes, not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{foreign, text} {
		before, _ := os.ReadFile(p)
		if _, err := Open(p); !errors.Is(err, ErrNotJournal) {
			t.Fatalf("Open %s: %v, want not a journal", p, err)
		}
		if _, err := OpenReadOnly(p); !errors.Is(err, ErrNotJournal) {
			t.Fatalf("OpenReadOnly %s: %v, want not a journal", p, err)
		}
		after, _ := os.ReadFile(p)
		if !bytes.Equal(before, after) {
			t.Fatalf("%s was changed by the attempt", p)
		}
		if _, err := os.Stat(p + "-wal"); err == nil {
			t.Fatalf("%s was switched to WAL", p)
		}
	}
}

// TestSchemaVersions: a journal of a newer schema is refused with both
// versions named; a version 1 journal (no application id) is read as it
// is and migrated when opened for writing.
func TestSchemaVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.w.Exec(`PRAGMA user_version = 7`); err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, open := range []func(string) (*SQLite, error){Open, OpenReadOnly} {
		_, err := open(path)
		var se *SchemaError
		if !errors.Is(err, ErrNewerSchema) || !errors.As(err, &se) || se.Found != 7 || se.Supported != SchemaVersion {
			t.Fatalf("newer journal: %v", err)
		}
		if !strings.Contains(err.Error(), "schema version 7") || !strings.Contains(err.Error(), "up to 2") {
			t.Fatalf("the error does not name the versions: %v", err)
		}
	}

	v1 := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", v1+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`
CREATE TABLE events (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, service TEXT NOT NULL, body BLOB NOT NULL);
CREATE TABLE samples (service TEXT NOT NULL, pane TEXT NOT NULL, time INTEGER NOT NULL, value REAL, PRIMARY KEY (service, pane, time)) WITHOUT ROWID;
CREATE TABLE cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL REFERENCES events(seq), updated INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta(key, value) VALUES ('schema_version', '1');
INSERT INTO events VALUES (1, 1769871600000000000, 'DECLARE', 'warroom', '', '{"text":"old room"}');
INSERT INTO samples VALUES ('tokens', 'rps', 1769871600000000000, 5);`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	r, err := OpenReadOnly(v1)
	if err != nil {
		t.Fatalf("read a version 1 journal: %v", err)
	}
	n := 0
	if err := r.Samples(ctx, "", "", time.Time{}, time.Time{}, func(Sample) error { n++; return nil }); err != nil || n != 1 || r.LastSeq() != 1 {
		t.Fatalf("version 1 read: %d samples, last #%d, %v", n, r.LastSeq(), err)
	}
	r.Close()
	w, err := Open(v1)
	if err != nil {
		t.Fatalf("migrate a version 1 journal: %v", err)
	}
	var app, version int
	w.w.QueryRow(`PRAGMA application_id`).Scan(&app)
	w.w.QueryRow(`PRAGMA user_version`).Scan(&version)
	if app != applicationID || version != SchemaVersion || w.LastSeq() != 1 {
		t.Fatalf("after migration: app %#x version %d last #%d", app, version, w.LastSeq())
	}
	if err := w.Append(ctx, []Event{ev("NOTE", "continued")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

// TestReadOnlyMedia: a journal on read-only media (or in a directory the
// reader cannot write, where SQLite cannot make its -shm file) opens
// read-only as immutable and reads the same events as the original.
func TestReadOnlyMedia(t *testing.T) {
	src := filepath.Join(t.TempDir(), "j.db")
	j, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := j.Append(ctx, []Event{ev("NOTE", strings.Repeat("x", i))}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	ro := journaltest.ReadOnlyCopy(t, src)
	r, err := OpenReadOnly(ro)
	if err != nil {
		t.Fatalf("open on read-only media: %v", err)
	}
	defer r.Close()
	n := 0
	if err := r.Replay(ctx, 0, func(Event) error { n++; return nil }); err != nil || n != 50 {
		t.Fatalf("read %d events from read-only media (%v)", n, err)
	}
	if _, err := Open(ro); err == nil {
		t.Fatal("a journal on read-only media opened for writing")
	}
}
