package export

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// TestLiveJournalWhileWriting exports a journal that a writer keeps
// appending to. Every export is a consistent prefix of the log, and the
// writer is never held up by the reader.
func TestLiveJournalWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	w, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	setup := roles.Assignments{Commander: "maya", Services: map[string]roles.Owners{"api": {Primary: "alice"}}}
	decl := incident.Event{Time: t0, Kind: incident.KindDeclare, Actor: "warroom", Text: "live", Setup: &setup}
	if err := w.Append(context.Background(), []journal.Event{decl.ToJournal()}); err != nil {
		t.Fatal(err)
	}

	var appended atomic.Int64
	var worst atomic.Int64 // slowest append, ns
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			at := t0.Add(time.Duration(i) * time.Second)
			batch := make([]journal.Event, 0, 20)
			for k := 0; k < 20; k++ {
				batch = append(batch, incident.Event{Time: at, Kind: incident.KindNote, Actor: "alice", Service: "api", Text: "note"}.ToJournal())
			}
			start := time.Now()
			if err := w.Append(context.Background(), batch); err != nil {
				t.Error(err)
				return
			}
			if err := w.AppendSamples(context.Background(), []journal.Sample{{Service: "api", Pane: "p95", Time: at, Value: float64(i % 7)}}); err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(start).Nanoseconds(); d > worst.Load() {
				worst.Store(d)
			}
			appended.Add(20)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	for appended.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	first := appended.Load()
	for round := 0; round < 6; round++ {
		before := appended.Load()
		var buf bytes.Buffer
		f := []Format{JSON, Markdown, HTML}[round%3]
		res, err := Export(context.Background(), path, f, "", &buf, Options{})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if f == JSON {
			var doc struct {
				Incident struct {
					LastSeq int64 `json:"last_seq"`
				} `json:"incident"`
				Events []struct {
					Seq int64 `json:"seq"`
				} `json:"events"`
			}
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			n := int64(len(doc.Events))
			if n < before || doc.Incident.LastSeq != n || int64(res.Events) != n {
				t.Fatalf("round %d: %d events, last seq %d, %d appended before the export", round, n, doc.Incident.LastSeq, before)
			}
			for i, e := range doc.Events {
				if e.Seq != int64(i+1) {
					t.Fatalf("round %d: event %d has seq %d: not a prefix of the log", round, i, e.Seq)
				}
			}
		}
	}
	// Exports are quick and the scheduler may not run the writer during
	// any single one; over all rounds it must have gone on appending.
	deadline := time.Now().Add(5 * time.Second)
	for appended.Load() == first && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if appended.Load() == first {
		t.Error("the writer made no progress while the journal was being exported")
	}
	if d := time.Duration(worst.Load()); d > 2*time.Second {
		t.Errorf("an append took %v while exporting: the reader blocked the writer", d)
	}
}

// TestCopiedJournal exports journals copied elsewhere with no warroom
// running: a cleanly closed journal (the file alone), and a live one
// copied with its -wal file.
func TestCopiedJournal(t *testing.T) {
	src := fixtureJournal(t)
	dir := t.TempDir()
	copyFile(t, src, filepath.Join(dir, "copy.db"))
	var a, b bytes.Buffer
	if _, err := Export(context.Background(), src, JSON, "", &a, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Export(context.Background(), filepath.Join(dir, "copy.db"), JSON, "", &b, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("a copied journal exports differently")
	}

	// A live journal: its recent commits are still in the WAL.
	live := t.TempDir()
	w, err := journal.Open(filepath.Join(live, "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	setup := roles.Assignments{Commander: "maya"}
	evs := []journal.Event{incident.Event{Time: time.Unix(1e9, 0), Kind: incident.KindDeclare, Actor: "warroom", Text: "copied live", Setup: &setup}.ToJournal()}
	for i := 0; i < 99; i++ {
		evs = append(evs, incident.Event{Time: time.Unix(1e9+int64(i), 0), Kind: incident.KindNote, Actor: "maya", Text: "n"}.ToJournal())
	}
	if err := w.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	copyFile(t, filepath.Join(live, "live.db"), filepath.Join(other, "live.db"))
	copyFile(t, filepath.Join(live, "live.db-wal"), filepath.Join(other, "live.db-wal"))
	var c bytes.Buffer
	res, err := Export(context.Background(), filepath.Join(other, "live.db"), CSV, "", &c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 100 {
		t.Errorf("copy of a live journal with its WAL: %d events, want 100", res.Events)
	}
	// Without its WAL the copy has not even the schema yet: the error says
	// what to copy.
	alone := t.TempDir()
	copyFile(t, filepath.Join(live, "live.db"), filepath.Join(alone, "live.db"))
	_, err = Export(context.Background(), filepath.Join(alone, "live.db"), CSV, "", &c, Options{})
	var ie *InputError
	if err == nil || !asInput(err, &ie) || !bytes.Contains([]byte(err.Error()), []byte("-wal")) {
		t.Errorf("copy of a live journal without its WAL: %v", err)
	}
}

func asInput(err error, ie **InputError) bool {
	e, ok := err.(*InputError)
	if ok {
		*ie = e
	}
	return ok
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
