package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/textsafe"
)

// Drills score the people, not the system: how fast the alert an inject
// caused was acknowledged, the right playbook requested and approved, and
// the problem mitigated, and how many alerts escalated because nobody
// acknowledged them in time. Scores are read from the drill's journal.

// Expect is what the right response to an inject looks like: the alert
// it causes on a pane, and the playbook that mitigates it.
type Expect struct {
	Service  string `json:"service" yaml:"service"`
	Pane     string `json:"pane" yaml:"pane"`
	Playbook string `json:"playbook" yaml:"playbook"`
}

// Score is one drill's result.
type Score struct {
	Injects string    `json:"injects"` // the injects' name
	Hash    string    `json:"hash"`    // of the injects file, to compare like with like
	Journal string    `json:"journal"`
	T0      time.Time `json:"t0"`
	End     time.Time `json:"end"`
	Items   []Item    `json:"items"`
	// Escalations: alert groups paged past their owner because nobody
	// acknowledged them in time.
	Escalations int `json:"missed_escalations"`
	// Wrong are playbooks requested that no inject called for.
	Wrong []string `json:"wrong_playbooks,omitempty"`
}

// Item is the response to one expected alert. A nil time is a step that
// never happened.
type Item struct {
	Expect
	Alert       string         `json:"alert,omitempty"` // the alert's id
	AlertAt     time.Time      `json:"alert_at,omitzero"`
	Ack         *time.Duration `json:"time_to_ack_ns,omitempty"`
	AckedBy     string         `json:"acked_by,omitempty"`
	Request     *time.Duration `json:"time_to_request_ns,omitempty"` // from the alert
	RequestedBy string         `json:"requested_by,omitempty"`
	Approve     *time.Duration `json:"time_to_approve_ns,omitempty"` // from the request
	ApprovedBy  string         `json:"approved_by,omitempty"`
	Mitigate    *time.Duration `json:"time_to_mitigate_ns,omitempty"` // alert to resolved
}

// ScoreJournal reads a drill's journal from T-0 to end and scores each
// expectation.
func ScoreJournal(ctx context.Context, r journal.Reader, t0, end time.Time, expects []Expect) (*Score, error) {
	s := &Score{Journal: r.Path(), T0: t0.UTC(), End: end.UTC()}
	items := make([]Item, len(expects))
	for i, e := range expects {
		items[i].Expect = e
	}
	runs := map[string]int{}       // run id → item index
	requested := map[string]bool{} // run ids seen
	wanted := map[string]bool{}
	for _, e := range expects {
		wanted[e.Playbook] = true
	}
	since := func(a, b time.Time) *time.Duration { d := b.Sub(a); return &d }
	err := r.Replay(ctx, 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return err
		}
		if ev.Time.Before(t0) || ev.Time.After(end) {
			return nil
		}
		switch ev.Kind {
		case incident.KindAlert:
			a := ev.Alert
			if a.Origin != "rule" || (a.Level != incident.LevelWarn && a.Level != incident.LevelCrit) {
				return nil
			}
			for i := range items {
				it := &items[i]
				if it.Alert == "" && it.Service == ev.Service && it.Pane == a.Pane {
					it.Alert, it.AlertAt = a.ID, ev.Time
				}
			}
		case incident.KindAck:
			for i := range items {
				if it := &items[i]; it.Alert != "" && it.Alert == ev.Alert.ID && it.Ack == nil {
					it.Ack, it.AckedBy = since(it.AlertAt, ev.Time), ev.Actor
				}
			}
		case incident.KindResolve:
			for i := range items {
				if it := &items[i]; it.Alert != "" && it.Alert == ev.Alert.ID && it.Mitigate == nil {
					it.Mitigate = since(it.AlertAt, ev.Time)
				}
			}
		case incident.KindEscalate:
			if ev.Alert != nil && ev.Alert.Step > 0 { // step 0 pages the owner (escalation.owner)
				s.Escalations += 1 + len(ev.Alert.Also) // one per group
			}
		case incident.KindRun:
			run := ev.Run
			if !requested[run.ID] {
				requested[run.ID] = true
				if !wanted[run.Playbook] {
					s.Wrong = append(s.Wrong, run.Playbook)
				}
				for i := range items {
					it := &items[i]
					if it.Playbook == run.Playbook && it.Request == nil && it.Alert != "" {
						it.Request, it.RequestedBy = since(it.AlertAt, ev.Time), ev.Actor
						runs[run.ID] = i
						break
					}
				}
			}
			if i, ok := runs[run.ID]; ok && run.State == incident.RunApproved && items[i].Approve == nil {
				it := &items[i]
				it.Approve, it.ApprovedBy = since(it.AlertAt.Add(*it.Request), ev.Time), ev.Actor
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Items = items
	return s, nil
}

// Path names where a drill's result is kept: dir/<injects>/<t0>.json.
func (s *Score) Path(dir string) string {
	return filepath.Join(dir, s.Injects, s.T0.UTC().Format("20060102T150405Z")+".json")
}

// Save writes the result under dir (see Path).
func (s *Score) Save(dir string) (string, error) {
	p := s.Path(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	return p, os.WriteFile(p, append(b, '\n'), 0o600)
}

// Previous is the latest saved result of the same injects before s, or
// nil when there is none.
func Previous(dir string, s *Score) (*Score, error) {
	files, err := filepath.Glob(filepath.Join(dir, s.Injects, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	mine := s.Path(dir)
	for i := len(files) - 1; i >= 0; i-- {
		if files[i] >= mine {
			continue
		}
		b, err := os.ReadFile(files[i])
		if err != nil {
			return nil, err
		}
		var prev Score
		if err := json.Unmarshal(b, &prev); err != nil {
			continue // not a result (or from another version): skip it
		}
		return &prev, nil
	}
	return nil, nil
}

// metric is one scored step of an item.
type metric struct {
	name string
	get  func(it *Item) *time.Duration
}

var metrics = []metric{
	{"time to ack", func(it *Item) *time.Duration { return it.Ack }},
	{"time to request", func(it *Item) *time.Duration { return it.Request }},
	{"time to approve", func(it *Item) *time.Duration { return it.Approve }},
	{"time to mitigate", func(it *Item) *time.Duration { return it.Mitigate }},
}

func dur(d *time.Duration) string {
	if d == nil {
		return "not done"
	}
	return incident.Age(*d)
}

// versus compares a step with the previous drill's.
func versus(cur, prev *time.Duration) string {
	switch {
	case prev == nil && cur == nil:
		return "not done either time"
	case prev == nil:
		return "new: not done last time"
	case cur == nil:
		return "worse: done in " + incident.Age(*prev) + " last time"
	case cur.Round(time.Second) == prev.Round(time.Second):
		return "same as last time"
	case *cur < *prev:
		return fmt.Sprintf("%s faster than last time (%s)", incident.Age(*prev-*cur), incident.Age(*prev))
	}
	return fmt.Sprintf("%s slower than last time (%s)", incident.Age(*cur-*prev), incident.Age(*prev))
}

// Lines are the scores as a terminal shows them, compared with prev when
// there is one (a different injects file is said so, not compared).
func (s *Score) Lines(prev *Score) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	if prev != nil && prev.Hash != s.Hash {
		add("The previous drill of %s (%s) ran another version of the injects: not compared.", s.Injects, prev.T0.Format(time.RFC3339))
		prev = nil
	}
	if prev == nil {
		add("Drill %s scores (first of these injects here):", s.Injects)
	} else {
		add("Drill %s scores, compared with the drill of %s:", s.Injects, prev.T0.Format(time.RFC3339))
	}
	for i := range s.Items {
		it := &s.Items[i]
		add("  %s/%s → %s", it.Service, it.Pane, it.Playbook)
		if it.Alert == "" {
			add("    the inject raised no alert on %s/%s", it.Service, it.Pane)
			continue
		}
		var pit *Item
		if prev != nil && i < len(prev.Items) && prev.Items[i].Expect == it.Expect {
			pit = &prev.Items[i]
		}
		for _, m := range metrics {
			line := fmt.Sprintf("    %-17s %-9s", m.name, dur(m.get(it)))
			if who := m.who(it); who != "" {
				line += " by " + textsafe.Line(who)
			}
			if pit != nil {
				line += " — " + versus(m.get(it), m.get(pit))
			}
			out = append(out, line)
		}
	}
	esc := fmt.Sprintf("  missed escalations: %d", s.Escalations)
	if prev != nil {
		esc += fmt.Sprintf(" (last time %d)", prev.Escalations)
	}
	out = append(out, esc)
	if len(s.Wrong) > 0 {
		add("  playbooks requested that no inject called for: %s", strings.Join(s.Wrong, ", "))
	}
	return out
}

func (m metric) who(it *Item) string {
	switch m.name {
	case "time to ack":
		return it.AckedBy
	case "time to request":
		return it.RequestedBy
	case "time to approve":
		return it.ApprovedBy
	}
	return ""
}

// WriteMarkdown writes the drill report: the scores and the comparison,
// and how to export the drill's timeline like a postmortem.
func (s *Score) WriteMarkdown(w io.Writer, prev *Score) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# DRILL %s\n\n", s.Injects)
	fmt.Fprintf(&b, "- T-0 %s, ended %s\n- Journal: `%s` (`warroom export --journal %s --format md` for the full timeline)\n\n",
		s.T0.Format(time.RFC3339), s.End.Format(time.RFC3339), s.Journal, s.Journal)
	b.WriteString("```\n")
	for _, l := range s.Lines(prev) {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n")
	_, err := io.WriteString(w, b.String())
	return err
}
