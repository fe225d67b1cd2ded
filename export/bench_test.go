package export

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// bigJournal writes n events (alerts with acks, escalations and
// resolutions, notes, role changes, runs, important marks) over 8
// services, one event a second, and a sample every 30 s per service.
func bigJournal(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "big.db")
	j, err := journal.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer j.Close()
	t0 := time.Date(2026, 1, 31, 15, 0, 0, 0, time.UTC)
	svcs := []string{"tokens", "history", "banners", "aws", "cloudflare", "triton", "quicknode", "blowfish"}
	setup := roles.Assignments{Commander: "maya", Services: map[string]roles.Owners{}}
	room := &incident.RoomInfo{Timezone: "Europe/Paris"}
	for _, s := range svcs {
		setup.Services[s] = roles.Owners{Primary: "alice", Backup: "bob"}
		room.Services = append(room.Services, incident.ServiceInfo{ID: s, Name: s, Panes: []incident.PaneInfo{{ID: "p95", Title: "p95 latency", Unit: "s", Warn: fp(0.5), Crit: fp(1)}}})
	}
	batch := make([]journal.Event, 0, 5000)
	flush := func() {
		if err := j.Append(context.Background(), batch); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	add := func(e incident.Event) {
		batch = append(batch, e.ToJournal())
		if len(batch) == cap(batch) {
			flush()
		}
	}
	add(incident.Event{Time: t0, Kind: incident.KindDeclare, Actor: "warroom", Text: "airdrop", Setup: &setup, Room: room})
	yes := true
	for i := 1; i < n; i++ {
		seq := int64(i + 1)
		at := t0.Add(time.Duration(i) * time.Second)
		svc := svcs[(i/10)%len(svcs)]
		id := fmt.Sprintf("A%d", seq-int64(i%10))
		ai := &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelWarn, Origin: "rule", Value: 0.7, Threshold: 0.5, Unit: "s"}
		switch i % 10 {
		case 0:
			add(incident.Event{Time: at, Kind: incident.KindAlert, Actor: "rule", Service: svc, Text: "p95 latency 700ms > 500ms (warn)", Alert: ai})
		case 1:
			add(incident.Event{Time: at, Kind: incident.KindEscalate, Actor: "escalation", Service: svc, Text: id + " unacked: paging backup bob", Alert: &incident.AlertInfo{ID: id, Pane: "p95", To: "bob", Step: 1}})
		case 2:
			add(incident.Event{Time: at, Kind: incident.KindAck, Actor: "alice", Service: svc, Text: "alice acked " + id, Alert: ai})
		case 5:
			add(incident.Event{Time: at, Kind: incident.KindRun, Actor: "alice", Service: svc, Text: "alice requested R" + id,
				Run: &incident.RunInfo{ID: "R" + id, Playbook: "rpc-traffic-split", State: "requested", Params: map[string]string{"triton": "80", "quicknode": "20"}, Hash: "h"}})
		case 6:
			add(incident.Event{Time: at, Kind: incident.KindRun, Actor: "playbooks", Service: svc, Text: "R" + id + " succeeded",
				Run: &incident.RunInfo{ID: "R" + id, Playbook: "rpc-traffic-split", State: "succeeded"}})
		case 7:
			add(incident.Event{Time: at, Kind: incident.KindImportant, Actor: "sam", Ref: seq - 4, Flag: &yes, Text: "sam marked important"})
		case 8:
			add(incident.Event{Time: at, Kind: incident.KindResolve, Actor: "rule", Service: svc, Text: "p95 latency back to 300ms", Alert: ai})
		default:
			add(incident.Event{Time: at, Kind: incident.KindNote, Actor: "maya", Service: svc, Text: "Traffic split 50/50 across Triton and QuickNode; | watching <p95> & errors\nsecond line"})
		}
	}
	flush()
	var smp []journal.Sample
	for i := 0; i < n; i += 30 {
		for k, s := range svcs {
			smp = append(smp, journal.Sample{Service: s, Pane: "p95", Time: t0.Add(time.Duration(i) * time.Second), Value: 0.2 + float64((i/30+k)%10)/10})
		}
	}
	if err := j.AppendSamples(context.Background(), smp); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkExport100k: 100,000 events from the journal to Markdown (with
// its SVG charts rendered) and to HTML, per op. The design target is < 2 s.
func BenchmarkExport100k(b *testing.B) {
	path := bigJournal(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, err := journal.OpenReadOnly(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := Load(context.Background(), j, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Events) != 100_000 {
			b.Fatalf("%d events", len(r.Events))
		}
		if err := r.WriteMarkdown(io.Discard, "postmortem"); err != nil {
			b.Fatal(err)
		}
		if err := r.WriteHTML(io.Discard); err != nil {
			b.Fatal(err)
		}
		j.Close()
	}
}

// TestBigJournalExports checks the benchmark's journal on a smaller scale
// (timing is the benchmark's job, not a test's): thousands of alerts and
// runs, eight charts, all well-formed.
func TestBigJournalExports(t *testing.T) {
	path := bigJournal(t, 10_000)
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := Load(context.Background(), j, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Alerts) != 999 || len(r.Runs) != 1000 || len(r.Charts()) != 8 {
		t.Fatalf("%d alerts, %d runs, %d charts", len(r.Alerts), len(r.Runs), len(r.Charts()))
	}
	for _, c := range r.Charts() {
		parseXML(t, c.Service, c.SVG)
	}
	if err := r.WriteHTML(io.Discard); err != nil {
		t.Fatal(err)
	}
}
