package incident

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
)

// commsConfig is testConfig with a comms section: sam is the comms role,
// cadence 30m / 10m, one component (claims, behind tokens and history).
func commsConfig() *config.Config {
	c := testConfig()
	c.Roles.Comms, c.Roles.Scribe = "sam", "olga"
	c.Roster = append(c.Roster, config.Person{Handle: "dana"})
	c.Roles.Deputy = "dana"
	c.Incident.Severities = config.DefaultSeverityNames
	c.Comms = &config.Comms{Title: "Wallet",
		Cadence:    config.Cadence{Every: config.Duration(30 * time.Minute), AfterChange: config.Duration(10 * time.Minute)},
		Components: []config.Component{{ID: "claims", Name: "Claims", Services: []string{"tokens", "history"}}},
		Templates:  []config.Template{{ID: "investigating", Title: "Slow claims", Status: "investigating", Body: "We are investigating slow claims."}},
	}
	return c
}

// openAt is openHarness on a clock that starts at start.
func openAt(t *testing.T, path string, cfg *config.Config, start time.Time) *harness {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	e, err := New(Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	h := &harness{t: t, e: e, j: j, clk: clk, cancel: cancel, path: path}
	t.Cleanup(h.close)
	h.state()
	return h
}

func draft(status, body string) Draft {
	return Draft{Title: "Slow claims", Status: status, Body: body, Notify: true}
}

func TestSeverityStatusAndMarkPermissions(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	h.refused(SetSeverity{By: "sam", Severity: "SEV2"}, "only the commander (maya) can set the incident's severity")
	h.refused(SetSeverity{By: "maya", Severity: "SEV9"}, "severity is one of SEV1, SEV2, SEV3, SEV4")
	r := h.ok(SetSeverity{By: "maya", Severity: "SEV2"})
	if r.Events[0].Kind != KindSeverity || r.Events[0].Text != "maya set the severity to SEV2 Major" {
		t.Fatalf("severity event %+v", r.Events[0])
	}
	h.refused(SetSeverity{By: "maya", Severity: "SEV2"}, "already SEV2 Major")
	h.refused(SetStatus{By: "alice", Status: StatusInvestigating}, "only the comms role (sam) or the commander (maya)")
	h.ok(SetStatus{By: "sam", Status: StatusInvestigating})
	h.refused(Mark{By: "alice", Marker: MarkImpactStart}, "only the commander, deputy, scribe or comms role")
	h.refused(Mark{By: "olga", Marker: MarkImpactStart, At: t0.Add(time.Hour)}, "in the future")
	h.ok(Mark{By: "olga", Marker: MarkImpactStart, At: t0.Add(-5 * time.Minute)}) // olga is the scribe
	h.refused(SetComponent{By: "sam", Component: "nope", Status: ComponentPartial}, "no public component")
	h.refused(SetComponent{By: "sam", Component: "claims", Status: "broken"}, "a component is one of")
	h.ok(SetComponent{By: "sam", Component: "claims", Status: ComponentPartial})
	s := h.state()
	if s.Life.Severity != "SEV2" || s.Life.Status != StatusInvestigating || s.Life.Component("claims") != ComponentPartial ||
		!s.Life.Marks[MarkImpactStart].Equal(t0.Add(-5*time.Minute)) || !s.Life.PublicSince.Equal(t0) {
		t.Fatalf("lifecycle %+v", s.Life)
	}
}

func TestUpdateApprovalFlow(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	h.refused(SubmitUpdate{By: "alice", Draft: draft(StatusInvestigating, "x")}, "only the comms role")
	h.refused(SubmitUpdate{By: "sam", Draft: draft("broken", "x")}, "the status is one of")
	h.refused(SubmitUpdate{By: "sam", Draft: draft(StatusInvestigating, "bad \x1b[31m text")}, "control, escape or bidi")
	h.refused(SubmitUpdate{By: "sam", Draft: Draft{Title: "t", Status: StatusInvestigating, Body: "b", Components: []ComponentChange{{ID: "claims", Status: "gone"}}}}, "a component is one of")

	// The first update waits for the commander.
	first := draft(StatusInvestigating, "We are investigating slow claims.")
	first.Components = []ComponentChange{{ID: "claims", Status: ComponentDegraded}}
	r := h.ok(SubmitUpdate{By: "sam", Draft: first})
	ev := r.Events[0]
	if ev.Kind != KindUpdate || ev.Update.State != UpdateAwaiting || !strings.Contains(ev.Text, "the first update needs approval") {
		t.Fatalf("submission %+v", ev)
	}
	id := ev.Update.ID
	s := h.state()
	if s.Life.Pending == nil || s.Life.Pending.ID != id || len(s.Life.Updates) != 0 || s.Life.Status != "" {
		t.Fatalf("pending %+v", s.Life)
	}
	h.refused(ApproveUpdate{By: "sam", ID: id, Hash: first.Hash()}, "only the commander (maya) or the deputy")
	h.refused(ApproveUpdate{By: "maya", ID: id, Hash: "0000"}, "changed since it was shown")
	h.clk.Advance(2 * time.Minute)
	r = h.ok(ApproveUpdate{By: "maya", ID: id, Hash: first.Hash()})
	if len(r.Events) != 3 || r.Events[0].Kind != KindUpdate || r.Events[0].Update.State != UpdatePublished ||
		r.Events[1].Kind != KindStatus || r.Events[1].Ref != r.Events[0].Seq || r.Events[2].Kind != KindComponent {
		t.Fatalf("publication events %+v", r.Events)
	}
	if k := r.Events[0].Update.Key; !strings.HasPrefix(k, "warroom-") || !strings.HasSuffix(k, "-"+id) {
		t.Fatalf("idempotency key %q", k)
	}
	s = h.state()
	u := s.Life.Published()
	if u == nil || u.ID != id || u.Approver != "maya" || u.By != "sam" || !u.DraftedAt.Equal(t0) || !u.PublishedAt.Equal(t0.Add(2*time.Minute)) ||
		s.Life.Status != StatusInvestigating || s.Life.Component("claims") != ComponentDegraded || s.Life.Pending != nil {
		t.Fatalf("after approval %+v / %+v", s.Life, u)
	}
	// Same status: published at once.
	r = h.ok(SubmitUpdate{By: "sam", Draft: draft(StatusInvestigating, "Still investigating.")})
	if r.Events[0].Update.State != UpdatePublished || len(r.Events) != 1 {
		t.Fatalf("a same-status update %+v", r.Events)
	}
	// A status change waits; the deputy may approve; its author may not.
	r = h.ok(SubmitUpdate{By: "sam", Draft: draft(StatusIdentified, "We found it.")})
	if r.Events[0].Update.State != UpdateAwaiting || !strings.Contains(r.Events[0].Text, "investigating → identified") {
		t.Fatalf("a status change %+v", r.Events[0])
	}
	id2 := r.Events[0].Update.ID
	// A new draft supersedes it.
	r = h.ok(SubmitUpdate{By: "sam", Draft: draft(StatusIdentified, "We found the cause: the database.")})
	if r.Events[0].Update.State != UpdateSuperseded || r.Events[0].Update.ID != id2 || r.Events[1].Update.State != UpdateAwaiting {
		t.Fatalf("superseding %+v", r.Events)
	}
	id3 := r.Events[1].Update.ID
	h.refused(DeclineUpdate{By: "alice", ID: id3}, "only the commander (maya) or the deputy")
	h.ok(DeclineUpdate{By: "dana", ID: id3, Reason: "say when"})
	if s := h.state(); s.Life.Pending != nil || len(s.Life.Updates) != 2 {
		t.Fatalf("after a rejection %+v", s.Life)
	}
	// The commander's own update never waits.
	r = h.ok(SubmitUpdate{By: "maya", Draft: draft(StatusMonitoring, "A fix is in; claims are queued, not lost.")})
	if r.Events[0].Update.State != UpdatePublished || r.Events[1].Life.Status != StatusMonitoring {
		t.Fatalf("the commander's update %+v", r.Events)
	}
	// Deliveries are recorded once per state.
	pub := h.state().Life.Published()
	h.ok(RecordDelivery{Dest: "statuspage", Label: "Statuspage", ID: pub.ID, State: DeliveryUncertain, Error: "timeout"})
	r = h.ok(RecordDelivery{Dest: "statuspage", Label: "Statuspage", ID: pub.ID, State: DeliveryUncertain, Error: "timeout"})
	if len(r.Events) != 0 {
		t.Fatalf("a repeated delivery state was recorded again: %+v", r.Events)
	}
	h.ok(RecordDelivery{Dest: "statuspage", Label: "Statuspage", ID: pub.ID, State: DeliveryDelivered, Remote: "upd1"})
	if d := h.state().Life.Published().Delivery["statuspage"]; d.State != DeliveryDelivered || d.Remote != "upd1" {
		t.Fatalf("delivery %+v", d)
	}
	h.refused(RecordDelivery{Dest: "statuspage", ID: "U999", State: DeliveryDelivered}, "no published update")
}

// An overdue update is an event once per lapse, for the comms role or,
// when nobody holds it, the commander; publishing resets the countdown.
func TestCadenceOverdueOncePerLapse(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	h.advance(time.Hour) // nothing is public: nothing is due
	if due, _ := h.state().Life.NextUpdate(h.e.cadence); !due.IsZero() {
		t.Fatalf("due %s before the incident went public", due)
	}
	h.ok(SetStatus{By: "maya", Status: StatusInvestigating})
	went := h.clk.Now()
	due, why := h.state().Life.NextUpdate(h.e.cadence)
	if !due.Equal(went.Add(10*time.Minute)) || !strings.Contains(why, "first update") {
		t.Fatalf("due %s (%s)", due, why)
	}
	h.advance(9*time.Minute + 59*time.Second)
	if n := h.count(KindOverdue); n != 0 {
		t.Fatalf("%d OVERDUE before the due time", n)
	}
	h.advance(5 * time.Second)
	h.advance(3 * time.Minute)
	overdue := h.events(KindOverdue)
	if len(overdue) != 1 || overdue[0].Life.To != "sam" || !overdue[0].Life.Due.Equal(due) || !strings.Contains(overdue[0].Text, "comms: sam") {
		t.Fatalf("overdue events %+v", overdue)
	}
	h.ok(SubmitUpdate{By: "maya", Draft: draft(StatusInvestigating, "We are investigating.")})
	pub := h.clk.Now()
	if due, _ := h.state().Life.NextUpdate(h.e.cadence); !due.Equal(pub.Add(30 * time.Minute)) {
		t.Fatalf("after an update, due %s, want every 30m", due)
	}
	// Nobody holds comms: the commander is reminded.
	h.ok(Assign{By: "maya", Role: "comms", Handle: ""})
	h.advance(30*time.Minute + time.Second)
	overdue = h.events(KindOverdue)
	if len(overdue) != 2 || overdue[1].Life.To != "maya" || !strings.Contains(overdue[1].Text, "the commander, maya, is reminded") {
		t.Fatalf("overdue events %+v", overdue)
	}
	// A status change of its own: due within 10 minutes of it.
	h.ok(SubmitUpdate{By: "maya", Draft: draft(StatusInvestigating, "Still investigating.")})
	h.advance(time.Minute)
	h.ok(SetStatus{By: "maya", Status: StatusIdentified})
	changed := h.clk.Now()
	if due, why := h.state().Life.NextUpdate(h.e.cadence); !due.Equal(changed.Add(10*time.Minute)) || !strings.Contains(why, "status changed") {
		t.Fatalf("due %s (%s) after a status change", due, why)
	}
	// Resolved and said so: nothing more is due.
	h.ok(SubmitUpdate{By: "maya", Draft: draft(StatusResolved, "Resolved.")})
	if due, _ := h.state().Life.NextUpdate(h.e.cadence); !due.IsZero() {
		t.Fatalf("due %s after the resolved update", due)
	}
}

func (h *harness) count(k Kind) int { return len(h.events(k)) }

// The incident's times across a command handoff and midnight (local and
// UTC), also after a restart: absolute differences, whoever acts.
func TestTimesAcrossHandoffAndMidnight(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start time.Time
	}{
		{"local midnight (Los Angeles)", time.Date(2026, 1, 31, 7, 40, 0, 0, time.UTC)}, // 23:40 PST
		{"UTC midnight", time.Date(2026, 1, 31, 23, 40, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := commsConfig()
			cfg.Incident.Timezone = "America/Los_Angeles"
			path := filepath.Join(t.TempDir(), "j.db")
			h := openAt(t, path, cfg, tc.start)
			at := func(m int) time.Time { return tc.start.Add(time.Duration(m) * time.Minute) }
			h.advance(10 * time.Minute) // 23:50: customers start to fail; nobody knows yet
			h.advance(4 * time.Minute)  // 23:54: the alert fires
			a := h.ok(fire("tokens", LevelCrit, "claims fail")).Events[0].Alert.ID
			h.advance(3 * time.Minute) // 23:57: maya hands command to dana
			h.ok(OfferCommand{By: "maya", To: "dana"})
			h.advance(time.Minute)
			h.ok(AcceptCommand{By: "dana"})
			h.advance(5 * time.Minute) // 00:03: dana, now commander, acks
			h.ok(Ack{By: "dana", AlertID: a})
			h.advance(2 * time.Minute) // 00:05: the scribe marks when it started
			h.ok(Mark{By: "olga", Marker: MarkImpactStart, At: at(10)})
			h.ok(SetStatus{By: "sam", Status: StatusInvestigating})
			h.advance(15 * time.Minute) // 00:20: a fix is in
			h.ok(SetStatus{By: "sam", Status: StatusMonitoring})
			h.advance(25 * time.Minute) // 00:45: customers are fine again
			h.ok(Mark{By: "sam", Marker: MarkImpactEnd})
			h.advance(15 * time.Minute) // 01:00
			h.ok(Mark{By: "dana", Marker: MarkResolved})

			check := func(s *State) {
				t.Helper()
				tm := s.Times()
				want := map[string]time.Duration{"TTD": 4 * time.Minute, "TTA": 9 * time.Minute, "TTM": 30 * time.Minute, "TTR": 70 * time.Minute, "impact": 55 * time.Minute}
				for name, f := range map[string]func() (time.Duration, bool){"TTD": tm.TTD, "TTA": tm.TTA, "TTM": tm.TTM, "TTR": tm.TTR, "impact": tm.Impact} {
					if d, ok := f(); !ok || d != want[name] {
						t.Errorf("%s = %s (%v), want %s", name, d, ok, want[name])
					}
				}
				if !tm.Start.Equal(at(10)) || !tm.Detected.Equal(at(14)) || !tm.Acked.Equal(at(23)) || tm.How["mitigated"] != "status monitoring" || tm.How["resolved"] != "marked" {
					t.Errorf("times %+v", tm)
				}
			}
			check(h.state())
			h.close()
			h2 := openAt(t, path, cfg, h.clk.Now())
			check(h2.state())
		})
	}
}

// Without an impact mark, time to detect is not measured and the other
// times count from the detection.
func TestTimesWithoutImpactMark(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	h.advance(time.Minute)
	a := h.ok(fire("tokens", LevelCrit, "claims fail")).Events[0].Alert.ID
	h.advance(2 * time.Minute)
	h.ok(SetStatus{By: "sam", Status: StatusInvestigating}) // a human response before the ack
	h.advance(time.Minute)
	h.ok(Ack{By: "alice", AlertID: a})
	tm := h.state().Times()
	if _, ok := tm.TTD(); ok || tm.StartMarked {
		t.Fatalf("TTD measured without an impact mark: %+v", tm)
	}
	if d, ok := tm.TTA(); !ok || d != 2*time.Minute || tm.How["acked"] != "first public status" {
		t.Fatalf("TTA %s %v (%+v)", d, ok, tm.How)
	}
	if !tm.Start.Equal(tm.Detected) || !tm.Detected.Equal(t0.Add(time.Minute)) {
		t.Fatalf("times %+v", tm)
	}
}

func TestFollowUpsAreNotes(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	n := h.ok(Note{By: "alice", Service: "tokens", Text: "raise the Lambda concurrency limit before the next drop"}).Seq
	h.refused(MarkFollowUp{By: "alice", Seq: n, FollowUp: true}, "only the commander, deputy or scribe")
	h.refused(MarkFollowUp{By: "olga", Seq: 1, FollowUp: true}, "#1 is a DECLARE, not a note")
	h.ok(MarkFollowUp{By: "olga", Seq: n, FollowUp: true})
	h.refused(MarkFollowUp{By: "olga", Seq: n, FollowUp: true}, "already a follow-up")
	if s := h.state(); !s.Life.FollowUps[n] {
		t.Fatalf("follow-ups %v", s.Life.FollowUps)
	}
}

func TestSuggestComponent(t *testing.T) {
	h := openAt(t, filepath.Join(t.TempDir(), "j.db"), commsConfig(), t0)
	svcs := []string{"tokens", "history"}
	if st, why := h.state().SuggestComponent(svcs); st != ComponentOperational || why != "no open alerts" {
		t.Fatalf("%s %s", st, why)
	}
	h.ok(fire("history", LevelWarn, "slow"))
	if st, _ := h.state().SuggestComponent(svcs); st != ComponentDegraded {
		t.Fatalf("warn suggests %s", st)
	}
	h.ok(fire("tokens", LevelCrit, "failing"))
	if st, why := h.state().SuggestComponent(svcs); st != ComponentPartial || !strings.Contains(why, "tokens is crit") {
		t.Fatalf("crit suggests %s (%s)", st, why)
	}
	// Another service's alert says nothing about this component.
	if st, _ := h.state().SuggestComponent([]string{"rpc"}); st != ComponentOperational {
		t.Fatalf("unrelated %s", st)
	}
}
