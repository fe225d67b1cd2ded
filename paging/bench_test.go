package paging

import (
	"fmt"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// BenchmarkPlan is the Pager's share of every committed event (and of
// the replay to its cursor at each start): the fold and, for PAGE, ACK and
// RESOLVE, the rows. The mix: a note, an alert firing, its page, its ack.
func BenchmarkPlan(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1")
	p := newPlanner(cfg)
	at := t0
	seq := int64(0)
	je := func(ev incident.Event) journal.Event {
		seq++
		ev.Seq, ev.Time = seq, at
		return ev.ToJournal()
	}
	p.plan(je(incident.Event{Kind: incident.KindDeclare, Actor: "warroom", Text: "bench"}), false)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		at = at.Add(time.Minute)
		id := fmt.Sprintf("A%d", seq+2)
		grp := fmt.Sprintf("tokens/m%d", i)
		p.plan(je(incident.Event{Kind: incident.KindNote, Actor: "maya", Text: "note"}), false)
		p.plan(je(incident.Event{Kind: incident.KindAlert, Actor: "rule", Service: "tokens", Text: "p95 high",
			Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelCrit, Group: grp}}), false)
		p.plan(je(incident.Event{Kind: incident.KindPage, Actor: "escalation", Text: "paging alice: tokens " + id,
			Page: &incident.PageInfo{To: "alice", Items: []incident.PageItem{{Seq: seq, Group: grp, Alert: id, Service: "tokens", Title: "p95 high", Level: incident.LevelCrit}}}}), false)
		p.plan(je(incident.Event{Kind: incident.KindAck, Actor: "alice", Service: "tokens", Text: "alice acked",
			Alert: &incident.AlertInfo{ID: id, Pane: "p95", Level: incident.LevelCrit}}), false)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(4*b.N), "ns/event")
}
