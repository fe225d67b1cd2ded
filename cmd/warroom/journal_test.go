package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
