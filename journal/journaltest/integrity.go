package journaltest

import (
	"database/sql"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // the driver the journal uses
)

// IntegrityCheck fails the test unless SQLite's PRAGMA integrity_check
// finds the journal file at path sound. It reads through a connection of
// its own, so the journal may be open (a WAL reader blocks no one).
func IntegrityCheck(t testing.TB, path string) {
	t.Helper()
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+p+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s: %q %v", path, res, err)
	}
}
