package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// damagedJournal writes a journal of n events, samples and a cursor, then
// damages it twice: one event's body is not JSON any more (written by
// hand), and one page holding event #pageHit's row is overwritten with
// garbage, as a bad disk block would.
func damagedJournal(t *testing.T, n, badBody, pageHit int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "damaged.db")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	var evs []Event
	for i := 1; i <= n; i++ {
		evs = append(evs, Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: "NOTE", Actor: "maya",
			Body: []byte(fmt.Sprintf(`{"text":"marker-%05d %s"}`, i, strings.Repeat("x", 60)))})
	}
	if err := j.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var smp []Sample
	for i := range 500 {
		smp = append(smp, Sample{Service: "api", Pane: "p95", Time: t0.Add(time.Duration(i) * time.Second), Value: float64(i)})
	}
	if err := j.AppendSamples(ctx, smp); err != nil {
		t.Fatal(err)
	}
	if err := j.SetCursor(ctx, "slack", int64(n-10)); err != nil {
		t.Fatal(err)
	}
	if _, err := j.w.Exec(`UPDATE events SET body = x'7b22746578743a00ff' WHERE seq = ?`, badBody); err != nil {
		t.Fatal(err)
	}
	j.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte(fmt.Sprintf("marker-%05d", pageHit)))
	if at < 0 {
		t.Fatal("marker not found")
	}
	const pageSize = 4096
	page := at / pageSize * pageSize
	for i := page + 8; i < page+pageSize; i++ { // keep the page type byte: a plausible page with garbage cells
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func jsonBody(e Event) error {
	if !json.Valid(e.Body) {
		return fmt.Errorf("bad body %q", e.Body)
	}
	return nil
}

// TestVerifyAndSalvageADamagedJournal: verify names what is wrong;
// salvage copies every readable event, replaces the others with a
// placeholder so the log has no gap, keeps samples and cursors, and the
// copy verifies clean.
func TestVerifyAndSalvageADamagedJournal(t *testing.T) {
	const n, badBody, pageHit = 3000, 1500, 2500
	path := damagedJournal(t, n, badBody, pageHit)
	rep, err := Verify(ctx, path, jsonBody)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Version != SchemaVersion {
		t.Fatalf("verify of a damaged journal: %+v", rep)
	}
	t.Logf("verify: %d problems, the first %v", len(rep.Problems), rep.Problems[:min(3, len(rep.Problems))])
	found := false
	for _, p := range rep.Problems {
		found = found || p.Seq == badBody
	}
	if !found {
		t.Fatalf("verify does not name #%d: %v", badBody, rep.Problems)
	}

	dst := filepath.Join(t.TempDir(), "salvaged.db")
	srep, err := Salvage(ctx, path, dst, jsonBody, func(seq int64, at time.Time, why string) Event {
		return Event{Time: at, Kind: "NOTE", Actor: "warroom", Body: []byte(fmt.Sprintf(`{"text":"lost #%d"}`, seq))}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("salvage: %d events kept, %d replaced, %d samples, lost %v", srep.Events, len(srep.Replaced), srep.Samples, srep.Lost)
	replaced := map[int64]bool{}
	for _, p := range srep.Replaced {
		replaced[p.Seq] = true
	}
	if !replaced[badBody] || !replaced[pageHit] || srep.Events+int64(len(srep.Replaced)) != n || len(srep.Replaced) > 100 {
		t.Fatalf("salvage kept %d and replaced %d, the first %v", srep.Events, len(srep.Replaced), srep.Replaced[:min(5, len(srep.Replaced))])
	}
	if srep.Samples == 0 {
		t.Fatal("no samples salvaged")
	}
	rep, err = Verify(ctx, dst, jsonBody)
	if err != nil || !rep.OK() || rep.LastSeq != n {
		t.Fatalf("the salvaged journal: %+v %v", rep, err)
	}
	w, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if c, _ := w.Cursor(ctx, "slack"); c != n-10 {
		t.Fatalf("cursor %d", c)
	}
	var prev time.Time
	if err := w.Replay(ctx, 0, func(e Event) error {
		if e.Time.Before(prev) {
			t.Fatalf("#%d goes back in time", e.Seq)
		}
		prev = e.Time
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Salvage(ctx, path, dst, jsonBody, nil); err == nil {
		t.Fatal("salvage over an existing file")
	}
}
