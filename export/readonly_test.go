package export

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
)

// TestReadOnlyCopyExportsTheSameBytes: a journal copied to read-only
// media (or a directory the user cannot write) exports byte for byte what
// the original does, in every format.
func TestReadOnlyCopyExportsTheSameBytes(t *testing.T) {
	src := fixtureJournal(t)
	ro := journaltest.ReadOnlyCopy(t, src)
	want := exportAll(t, src, t.TempDir(), Options{})
	got := exportAll(t, ro, t.TempDir(), Options{})
	if len(got) != len(want) || len(want) < 4 {
		t.Fatalf("%d files from the copy, %d from the original", len(got), len(want))
	}
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("%s differs between the original and the read-only copy", name)
		}
	}
}

// TestOpenErrorsSayWhatIsWrong: not a journal and a newer schema are bad
// input; a file that cannot be read is a runtime failure. Each matches
// its journal sentinel.
func TestOpenErrorsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	newer := filepath.Join(dir, "newer.db")
	j, err := journal.Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	db, err := sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 9`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var ie *InputError
	_, err = Export(ctx, newer, JSON, "", io.Discard, Options{})
	if !errors.As(err, &ie) || !errors.Is(err, journal.ErrNewerSchema) || !strings.Contains(err.Error(), "schema version 9") {
		t.Errorf("newer schema: %v", err)
	}
	_, err = Export(ctx, filepath.Join(dir, "missing.db"), JSON, "", io.Discard, Options{})
	if errors.As(err, &ie) || !errors.Is(err, journal.ErrUnreadable) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a database"), 0o644)
	_, err = Export(ctx, text, JSON, "", io.Discard, Options{})
	if !errors.As(err, &ie) || !errors.Is(err, journal.ErrNotJournal) {
		t.Errorf("not a journal: %v", err)
	}
}
