package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warroom/warroom/journal/journaltest"
)

// TestJournalVerifyAndSalvage: a sound journal verifies; one with a
// corrupt event body fails verify (exit 1, naming the event) and cannot
// be exported; salvage writes a journal that verifies and exports, with
// the lost event replaced by a note.
func TestJournalVerifyAndSalvage(t *testing.T) {
	good := exportFixture(t)
	if code, out, errs := runCLI("journal", "verify", "--journal", good); code != 0 || !strings.Contains(out, "5 events") || !strings.Contains(out, "ok") {
		t.Fatalf("verify of a sound journal: exit %d\n%s%s", code, out, errs)
	}
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(damaged, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", damaged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET body = x'7b227465787422' WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, out, errs := runCLI("journal", "verify", "--journal", damaged)
	if code != exitBadInput || !strings.Contains(errs, "#4: event #4: bad body") {
		t.Fatalf("verify of a damaged journal: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runExport(t, "--journal", damaged, "--format", "md"); code == 0 {
		t.Fatal("a journal with a corrupt event exported")
	}
	salvaged := filepath.Join(t.TempDir(), "salvaged.db")
	code, out, errs = runCLI("journal", "salvage", "--journal", damaged, "-o", salvaged)
	if code != 0 || !strings.Contains(out, "4 events as they were, 1 replaced by a note") || !strings.Contains(errs, "replaced #4") {
		t.Fatalf("salvage: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI("journal", "verify", "--journal", salvaged); code != 0 {
		t.Fatalf("verify of the salvaged journal: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runExport(t, "--journal", salvaged, "--format", "csv")
	if code != 0 || !strings.Contains(out, "event #4 could not be recovered from the damaged journal") || !strings.Contains(out, "back to 300ms") {
		t.Fatalf("export of the salvaged journal: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCLI("journal", "salvage", "--journal", damaged, "-o", salvaged); code != exitRuntime || !strings.Contains(errs, "exists") {
		t.Fatalf("salvage over an existing file: exit %d %s", code, errs)
	}
	if code, _, _ := runCLI("journal", "verify", "--journal", filepath.Join(t.TempDir(), "none.db")); code != exitRuntime {
		t.Fatalf("verify of a missing file: exit %d", code)
	}
	notJournal := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notJournal, []byte("not a journal"), 0o600)
	if code, _, _ := runCLI("journal", "verify", "--journal", notJournal); code != exitBadInput {
		t.Fatalf("verify of a text file: exit %d", code)
	}
}

// TestJournalCommandsOnPostgres: a room moves from a SQLite file into
// Postgres and back with journal copy; verify and export work on the
// Postgres room and give the same postmortem as the file; rooms lists
// it; a copy into a room with events and a salvage of a URL are refused.
func TestJournalCommandsOnPostgres(t *testing.T) {
	src := exportFixture(t)
	url := journaltest.PostgresURL(t) + "&room=airdrop"
	if code, out, errs := runCLI("journal", "copy", src, url); code != 0 || !strings.Contains(out, "5 events") {
		t.Fatalf("copy into Postgres: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCLI("journal", "verify", "--journal", url); code != 0 || !strings.Contains(out, "5 events") || !strings.Contains(out, "room=airdrop") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	_, want, _ := runCLI("export", "--journal", src, "--format", "md")
	code, got, errs := runCLI("export", "--journal", url, "--format", "md")
	if code != 0 || got != want || !strings.Contains(got, "#") {
		t.Fatalf("export from Postgres: exit %d, same as the file: %v\n%s", code, got == want, errs)
	}
	back := filepath.Join(t.TempDir(), "back.db")
	if code, out, errs := runCLI("journal", "copy", url, back); code != 0 {
		t.Fatalf("copy back: exit %d\n%s%s", code, out, errs)
	}
	if _, got, _ := runCLI("export", "--journal", back, "--format", "md"); got != want {
		t.Fatal("the round trip changed the postmortem")
	}
	if code, out, _ := runCLI("journal", "rooms", url); code != 0 || strings.TrimSpace(out) != "airdrop" {
		t.Fatalf("rooms: exit %d %q", code, out)
	}
	if code, out, errs := runCLI("journal", "copy", src, url); code != exitBadInput || !strings.Contains(out+errs, "not empty") {
		t.Fatalf("copy into a room with events: exit %d %s%s", code, out, errs)
	}
	if code, _, _ := runCLI("journal", "salvage", "--journal", url, "-o", filepath.Join(t.TempDir(), "x.db")); code != exitUsage {
		t.Fatalf("salvage of a URL: exit %d", code)
	}
	if code, _, errs := runCLI("export", "--journal", journaltest.PostgresURL(t)+"&room=none", "--format", "md"); code != exitBadInput {
		t.Fatalf("export of a database without a journal: exit %d %s", code, errs)
	}
}
