package journal

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/warroom/warroom/journal/journaltest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	journaltest.StopPostgres()
	os.Exit(code)
}

// backend is one journal implementation the suite runs against.
type backend struct {
	name string
	// where returns a new, empty journal location (a file path or a URL).
	where func(t *testing.T) string
}

var backendList = []backend{
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "j.db") }},
	{"postgres", func(t *testing.T) string { return journaltest.PostgresURL(t) }},
}

// eachBackend runs the test once per backend, as subtests.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backendList {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// open opens a journal for writing at where.
func openAt(t *testing.T, where string) Journal {
	t.Helper()
	j, err := OpenJournal(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// openNew opens a new journal of backend b.
func (b backend) open(t *testing.T) Journal {
	t.Helper()
	return openAt(t, b.where(t))
}

// countRows counts the rows of one of the journal's tables for its room.
func countRows(t *testing.T, j Reader, table string) int {
	t.Helper()
	var n int
	var err error
	switch j := j.(type) {
	case *SQLite:
		err = j.r.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n)
	case *Postgres:
		err = j.r.QueryRow(ctx, `SELECT count(*) FROM warroom.`+table+` WHERE room = $1`, j.room).Scan(&n)
	default:
		t.Fatalf("no table count for %T", j)
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}
