package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/paging"
	"github.com/warroom/warroom/textsafe"
)

// Summary is what happened in a finished demo, read back from its
// journal with the same fold the export uses.
type Summary struct {
	Journal string
	Elapsed time.Duration // from T-0 to the end
	Alerts  []*incident.AlertLife
	Runs    []*incident.Run // by id
	Events  int
	// Public is what customers were told: the updates published and how
	// long they waited between them.
	Updates   []*incident.PublicUpdate
	Silence   incident.Silence
	StatusURL string // the room's status page while the demo runs
	// Pages went to people (through the local PagerDuty); PhoneAcks are
	// the alert groups acknowledged from a phone, back through the webhook.
	Pages, PhoneAcks int
}

func summarize(ctx context.Context, path string, t0, end time.Time) (*Summary, error) {
	j, err := journal.OpenReader(ctx, path)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	st := incident.NewState()
	lives := incident.NewAlertLives()
	pages, phoneAcks := 0, map[string]bool{}
	err = j.Replay(ctx, 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return err
		}
		st.Apply(ev)
		lives.Apply(ev)
		switch {
		case ev.Kind == incident.KindPage:
			pages++
		case ev.Kind == incident.KindAck && ev.Alert != nil && ev.Alert.Via == paging.Via:
			if a := st.Alerts[ev.Alert.ID]; a != nil {
				phoneAcks[a.Group] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s := &Summary{Journal: path, Elapsed: end.Sub(t0), Alerts: lives.List(), Events: int(st.LastSeq), Updates: st.Life.Updates,
		Pages: pages, PhoneAcks: len(phoneAcks)}
	if tm := st.Times(); !tm.Start.IsZero() && len(st.Recent) > 0 {
		s.Silence = st.Life.Silences(tm.Start, st.Recent[len(st.Recent)-1].Time)
	}
	ids := make([]string, 0, len(st.Runs))
	for id := range st.Runs {
		ids = append(ids, id)
	}
	incident.SortRunIDs(ids)
	for _, id := range ids {
		s.Runs = append(s.Runs, st.Runs[id])
	}
	return s, nil
}

// ExportCommand is the command that writes the postmortem of the demo.
func (s *Summary) ExportCommand() string { return ExportCommand(s.Journal) }

// ExportCommand is the command that writes the postmortem of a journal.
func ExportCommand(journal string) string {
	return "warroom export --journal " + journal + " --format md -o postmortem.md"
}

// Lines renders the summary for a terminal: the alerts and how fast they
// were acknowledged, the mitigations and how they ended, and the export
// command.
func (s *Summary) Lines() []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	add("The launch story has ended at T+%s: %d events.", clockText(s.Elapsed), s.Events)
	var ttas []time.Duration
	acked, open, escalated := 0, 0, 0
	var slowest *incident.AlertLife
	for _, a := range s.Alerts {
		if d, ok := a.TimeToAck(); ok {
			acked++
			ttas = append(ttas, d)
			if w, _ := slowestTTA(slowest); slowest == nil || d > w {
				slowest = a
			}
		}
		if !a.Resolved() {
			open++
		}
		if slices.ContainsFunc(a.Escalations, func(e incident.EscalationRecord) bool { return e.Step > 0 }) {
			escalated++ // past the owner
		}
	}
	add("Alerts: %d fired, %d acknowledged, %d escalated past the owner, %d still open at the end.", len(s.Alerts), acked, escalated, open)
	if s.Pages > 0 {
		add("Pages: %d through PagerDuty; %d alert groups acknowledged from a phone.", s.Pages, s.PhoneAcks)
	}
	if len(ttas) > 0 {
		slices.Sort(ttas)
		w, _ := slowest.TimeToAck()
		add("Time to acknowledge: median %s, slowest %s (%s %s).", incident.Age(ttas[len(ttas)/2]), incident.Age(w), slowest.ID, textsafe.Clip(slowest.Text, 80))
	}
	if len(s.Runs) == 0 {
		add("Mitigations: none requested.")
	} else {
		add("Mitigations: %d requested.", len(s.Runs))
	}
	for _, r := range s.Runs {
		state := r.State.Words()
		if r.State == incident.RunAwaitingApproval {
			state = "still awaiting approval at the end"
		}
		line := fmt.Sprintf("  %s %s by %s: %s", r.ID, r.Playbook, r.Actor, state)
		if ch := r.Plan; ch != nil && len(ch.Changes) > 0 {
			c := ch.Changes[0]
			line += textsafe.Line(fmt.Sprintf(" (%s %s → %s)", c.Field, c.Old, c.New))
		}
		if r.Approver != "" {
			line += ", approved by " + r.Approver
		}
		out = append(out, line)
	}
	switch {
	case len(s.Updates) == 0:
		add("Public updates: none; customers were told nothing.")
	default:
		delivered := 0
		for _, u := range s.Updates {
			if u.Delivery["statuspage"].State == incident.DeliveryDelivered {
				delivered++
			}
		}
		line := fmt.Sprintf("Public updates: %d published (", len(s.Updates))
		var st []string
		for _, u := range s.Updates {
			st = append(st, u.Draft.Status)
		}
		line += strings.Join(st, ", ") + ")"
		if s.Silence.HasFirst {
			line += fmt.Sprintf(", the first %s after customers were affected, the longest silence %s", incident.Age(s.Silence.FirstUpdate), incident.Age(s.Silence.Longest))
		}
		add("%s; %d on Statuspage.", line, delivered)
	}
	if s.StatusURL != "" {
		add("Status page: %s", s.StatusURL)
	}
	add("Postmortem: %s", s.ExportCommand())
	return out
}

func slowestTTA(a *incident.AlertLife) (time.Duration, bool) {
	if a == nil {
		return 0, false
	}
	return a.TimeToAck()
}

func clockText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
