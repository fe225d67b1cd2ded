package incident

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A storm of 3,000 alerts in 3,000 distinct groups on two services,
// arriving over three minutes: every group escalates (backup, then the
// commander), yet people are paged at most once a minute each, the
// escalations are a few events rather than one per group, and a note
// written before the storm is still among the room's recent events.
func TestStormOfManyGroupsStaysReadable(t *testing.T) {
	h := signalHarness(t)
	h.ok(Note{By: "maya", Text: "before the storm"})
	const n = 3000
	for i := range n {
		svc := []string{"tokens", "history"}[i%2]
		h.imp(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: fmt.Sprintf("m%d/g", i), Service: svc,
			Name: fmt.Sprintf("monitor %d", i), Level: LevelCrit, Firing: true, Rule: fmt.Sprintf("monitor:%d", i)}}})
		if i%50 == 49 {
			h.advanceFresh(3 * time.Second) // 3,000 alerts in 3 minutes
		}
	}
	h.advanceFresh(10 * time.Minute)
	s := h.state()
	escalated := 0
	for _, g := range s.Groups {
		if g.Escalated == 2 && g.EscalatedTo == "maya" {
			escalated++
		}
	}
	if escalated != n {
		t.Fatalf("%d of %d groups escalated to the commander", escalated, n)
	}
	var esc, pages int
	perMinute := map[string]int{}
	paged := map[string]int{} // groups named in pages, per person
	for _, e := range s.Recent {
		switch e.Kind {
		case KindEscalate:
			esc++
			// A batch of both services' groups has no service of its
			// own; a filter on either still shows it.
			if e.Service == "" && (!e.Concerns("tokens") || !e.Concerns("history") || e.Concerns("rpc")) {
				t.Fatalf("#%d of groups %s and %+v: concerns tokens %v, history %v", e.Seq, e.Alert.Service, e.Alert.Also, e.Concerns("tokens"), e.Concerns("history"))
			}
		case KindPage:
			pages++
			k := fmt.Sprintf("%s@%d", e.Page.To, e.Time.Unix()/60)
			if perMinute[k]++; perMinute[k] > 1 {
				t.Fatalf("%s paged twice in one minute", e.Page.To)
			}
			paged[e.Page.To] += len(e.Page.Items) + e.Page.More
		}
	}
	// 13 minutes, at most one page a minute to each of bob and maya.
	if pages > 2*14 || paged["maya"] < n {
		t.Fatalf("%d pages; groups named in maya's pages: %d of %d", pages, paged["maya"], n)
	}
	if esc > 60 {
		t.Fatalf("%d ESCALATE events for %d groups", esc, n)
	}
	if !hasNote(s, "before the storm") {
		t.Fatal("the note before the storm left the room's recent events")
	}
	// The postmortem still sees each alert's escalations: tokens' to its
	// backup and the commander, history's (no backup) to the commander.
	lives := NewAlertLives()
	for _, e := range s.Recent {
		lives.Apply(e)
	}
	for _, a := range lives.List() {
		if want := map[string]int{"tokens": 2, "history": 1}[a.Service]; len(a.Escalations) != want {
			t.Fatalf("%s: %d escalations in its life", a.ID, len(a.Escalations))
		}
	}
	t.Logf("%d alerts in %d groups: %d ESCALATE events, %d pages, %d recent events", n, n, esc, pages, len(s.Recent))
}

func hasNote(s *State, text string) bool {
	for _, e := range s.Recent {
		if e.Kind == KindNote && e.Text == text {
			return true
		}
	}
	return false
}

// A few groups escalating one after another are an event each; a fourth
// within the minute is the start of a storm: held up to escalateHold and
// escalated with whatever else came due, named in one event.
func TestFewGroupsEscalateOneEventEach(t *testing.T) {
	h := signalHarness(t)
	for i := range 6 {
		h.imp(ImportAlerts{Origin: "datadog", Alerts: []ExternalAlert{{Key: fmt.Sprintf("m%d/g", i), Service: "history",
			Name: fmt.Sprintf("monitor %d", i), Level: LevelCrit, Firing: true, Rule: fmt.Sprintf("monitor:%d", i)}}})
		h.advanceFresh(5 * time.Second)
	}
	h.advanceFresh(3 * time.Minute)
	var texts []string
	groups := 0
	for _, e := range h.events(KindEscalate) {
		texts = append(texts, e.Text)
		groups += 1 + len(e.Alert.Also)
	}
	if groups != 6 || len(texts) < 4 || len(texts) > 5 {
		t.Fatalf("%d groups in %d events:\n%s", groups, len(texts), strings.Join(texts, "\n"))
	}
	for _, x := range texts[:3] {
		if !strings.Contains(x, "unacked for") || strings.Contains(x, "alert groups") {
			t.Fatalf("the first three are an event each: %q", x)
		}
	}
	if last := texts[len(texts)-1]; !strings.Contains(last, "alert groups") {
		t.Fatalf("the storm's batch: %q", last)
	}
}

// TestEscalationBatchConcernsEachGroupsService: a batched ESCALATE of
// several services' groups has no service; it concerns the service of
// the group it stands for and of every other group it names, no other.
func TestEscalationBatchConcernsEachGroupsService(t *testing.T) {
	e := Event{Kind: KindEscalate, Alert: &AlertInfo{ID: "A1", Service: "history", Also: []EscalatedGroup{{Alert: "A2", Service: "tokens"}}}}
	for svc, want := range map[string]bool{"history": true, "tokens": true, "rpc": false} {
		if got := e.Concerns(svc); got != want {
			t.Errorf("batch Concerns(%q) = %v", svc, got)
		}
	}
	one := Event{Kind: KindEscalate, Service: "rpc", Alert: &AlertInfo{ID: "A3"}}
	if !one.Concerns("rpc") || one.Concerns("tokens") {
		t.Error("an escalation of one service's groups concerns that service only")
	}
	note := Event{Kind: KindNote}
	if note.Concerns("tokens") {
		t.Error("a note of no service concerns no service")
	}
}
