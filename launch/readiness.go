package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/textsafe"
)

// Record is the readiness record: the plan, every criterion with its
// evidence at the decision (or now), the evidence log, the checkpoints,
// the sign-offs and the decision. It is read from the journal alone.
type Record struct {
	Name        string             `json:"name"`
	Drill       string             `json:"drill,omitempty"`
	T0          time.Time          `json:"t0"`
	PlanT0      time.Time          `json:"plan_t0"` // T-0 as declared (a hold moves T0)
	Criteria    []RecordCriterion  `json:"criteria"`
	Decisions   []RecordDecision   `json:"decisions"`
	Checkpoints []RecordCheckpoint `json:"checkpoints"`
	// Evidence is every EVIDENCE and CHECK event, in order.
	Evidence  []RecordEvidence `json:"evidence"`
	SignOffs  []RecordEvidence `json:"sign_offs"`
	Baselines []RecordBaseline `json:"baselines,omitempty"`
	// Expected are the load-test results the plan draws on panes after
	// T-0, with the values drawn.
	Expected []RecordExpected `json:"expected,omitempty"`
	Journal  string           `json:"journal"`
	LastSeq  int64            `json:"last_seq"`
}

// RecordBaseline is a pane's pre-launch baseline with the pane's unit, so
// the record prints its values as the pane does.
type RecordBaseline struct {
	incident.BaselineInfo
	Unit string `json:"unit,omitempty"`
}

// RecordCriterion is one criterion as the record shows it.
type RecordCriterion struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Kind     string    `json:"kind"`
	What     string    `json:"what,omitempty"`
	Green    bool      `json:"green"`
	Evidence string    `json:"evidence,omitempty"`
	Detail   []string  `json:"detail,omitempty"`
	By       string    `json:"by,omitempty"`
	At       time.Time `json:"at,omitzero"`
	Seq      int64     `json:"seq,omitempty"`
}

// RecordExpected is a pane's expected curve: what the latest result of a
// load-test criterion says the pane should show (Lo = Hi for a line).
type RecordExpected struct {
	Pane      string   `json:"pane"` // service/pane
	Criterion string   `json:"criterion"`
	Metrics   []string `json:"metrics"`
	Unit      string   `json:"unit,omitempty"`
	Lo        *float64 `json:"lo,omitempty"` // nil: no result, or one without the metrics
	Hi        *float64 `json:"hi,omitempty"`
	Result    string   `json:"result,omitempty"` // k6 peak.json #42
	Seq       int64    `json:"seq,omitempty"`
	Missing   []string `json:"missing,omitempty"` // metrics the result lacks
}

// RecordDecision is a decision with its signer.
type RecordDecision struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Decision string    `json:"decision"`
	T0       time.Time `json:"t0,omitzero"`
	Override string    `json:"override,omitempty"`
	Red      []string  `json:"red,omitempty"`
	Green    []string  `json:"green,omitempty"`
}

// RecordCheckpoint is a checkpoint that passed while the room ran.
type RecordCheckpoint struct {
	Seq   int64     `json:"seq"`
	At    time.Time `json:"at"`
	Name  string    `json:"name"`
	Mark  string    `json:"mark"` // T-48h
	Green []string  `json:"green,omitempty"`
	Red   []string  `json:"red,omitempty"`
}

// RecordEvidence is one piece of evidence as it arrived.
type RecordEvidence struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Criterion string    `json:"criterion,omitempty"` // "" for a preflight run
	Pass      bool      `json:"pass"`
	Text      string    `json:"text"`
}

// ErrNoPlan: the journal's room had no launch plan.
var ErrNoPlan = errors.New("the journal's war room has no launch plan: there is no readiness record")

// ReadRecord folds a journal into its readiness record.
func ReadRecord(ctx context.Context, r journal.Reader) (*Record, error) {
	st := incident.NewState()
	rec := &Record{Journal: r.Path()}
	err := r.Replay(ctx, 0, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return err
		}
		st.Apply(ev)
		switch ev.Kind {
		case incident.KindEvidence:
			e := RecordEvidence{Seq: ev.Seq, At: ev.Time, By: ev.Actor, Criterion: ev.Evidence.Criterion, Pass: ev.Evidence.Pass, Text: ev.Text}
			rec.Evidence = append(rec.Evidence, e)
			if ev.Evidence.Kind == "sign_off" {
				e.Text = ev.Evidence.Summary
				rec.SignOffs = append(rec.SignOffs, e)
			}
		case incident.KindCheck:
			rec.Evidence = append(rec.Evidence, RecordEvidence{Seq: ev.Seq, At: ev.Time, By: ev.Actor, Pass: ev.Check.Pass, Text: ev.Text})
		case incident.KindCheckpoint:
			cp := ev.Checkpoint
			rec.Checkpoints = append(rec.Checkpoints, RecordCheckpoint{Seq: ev.Seq, At: ev.Time, Name: cp.Name, Mark: cp.At.String(), Green: cp.Green, Red: cp.Red})
		case incident.KindDecision:
			d := ev.Decision
			rec.Decisions = append(rec.Decisions, RecordDecision{Seq: ev.Seq, At: ev.Time, By: ev.Actor, Decision: d.Decision, T0: d.T0, Override: d.Override, Red: d.Red, Green: d.Green})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if st.Room == nil || st.Room.Plan == nil {
		return nil, ErrNoPlan
	}
	rec.Name, rec.Drill, rec.LastSeq = st.Name, st.Room.Drill, st.LastSeq
	if st.Room.Launch != nil {
		rec.PlanT0 = *st.Room.Launch
	}
	rec.T0, _ = st.T0(nil)
	for _, pc := range st.Room.Plan.Criteria {
		cs := st.Launch.Criterion(pc.ID)
		rc := RecordCriterion{ID: pc.ID, Title: pc.Title, Kind: pc.Kind, What: pc.What, Green: cs.Green}
		if cs.Seq > 0 {
			rc.Evidence, rc.Detail, rc.By, rc.At, rc.Seq = cs.Evidence.Summary, cs.Evidence.Detail, cs.By, cs.At, cs.Seq
		}
		rec.Criteria = append(rec.Criteria, rc)
	}
	if st.Launch != nil {
		for _, svc := range st.Room.Services {
			for _, p := range svc.Panes {
				if b, ok := st.Launch.Baseline[incident.PaneKey(svc.ID, p.ID)]; ok {
					rec.Baselines = append(rec.Baselines, RecordBaseline{b, p.Unit})
				}
			}
		}
	}
	units := map[string]string{}
	for _, svc := range st.Room.Services {
		for _, p := range svc.Panes {
			units[incident.PaneKey(svc.ID, p.ID)] = p.Unit
		}
	}
	for _, pc := range st.Room.Plan.Criteria {
		for _, pe := range pc.Expect {
			re := RecordExpected{Pane: pe.Service + "/" + pe.Pane, Criterion: pc.ID, Metrics: pe.Metrics, Unit: units[incident.PaneKey(pe.Service, pe.Pane)]}
			if x, ok := st.Expected(pe.Service, pe.Pane); ok {
				re.Result, re.Seq, re.Missing = x.Source(), x.Seq, x.Missing
				if x.Drawable() {
					re.Lo, re.Hi = &x.Lo, &x.Hi
				}
			}
			rec.Expected = append(rec.Expected, re)
		}
	}
	return rec, nil
}

// WriteJSON writes the record as indented JSON.
func (r *Record) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the record for people: the decision and who signed
// it, the criteria as they stood, the sign-offs, checkpoints and the
// evidence log. Text from people and services is made inert.
func (r *Record) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	t := func(s string) string { return mdCell(textsafe.Line(s)) }
	ts := func(x time.Time) string { return x.UTC().Format("2006-01-02 15:04:05Z") }
	title := "Readiness record: " + t(r.Name)
	if r.Drill != "" {
		title = "DRILL " + title
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "- T-0: %s", ts(r.T0))
	if !r.PlanT0.IsZero() && !r.PlanT0.Equal(r.T0) {
		fmt.Fprintf(&b, " (planned %s, moved by a hold)", ts(r.PlanT0))
	}
	fmt.Fprintf(&b, "\n- Journal: %s, through event #%d\n\n", t(r.Journal), r.LastSeq)
	b.WriteString("## Decision\n\n")
	if len(r.Decisions) == 0 {
		b.WriteString("No decision was recorded.\n\n")
	}
	for _, d := range r.Decisions {
		fmt.Fprintf(&b, "- **%s** by %s at %s (#%d)", strings.ToUpper(d.Decision), t(d.By), ts(d.At), d.Seq)
		if !d.T0.IsZero() {
			fmt.Fprintf(&b, ", new T-0 %s", ts(d.T0))
		}
		fmt.Fprintf(&b, "; %d green, %d red", len(d.Green), len(d.Red))
		if len(d.Red) > 0 {
			fmt.Fprintf(&b, " (%s)", t(strings.Join(d.Red, ", ")))
		}
		if d.Override != "" {
			fmt.Fprintf(&b, "; override: %s", t(d.Override))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Criteria\n\n| criterion | what | state | evidence | supplied by | at |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, c := range r.Criteria {
		state := "red"
		if c.Green {
			state = "green"
		}
		what := c.Title
		if c.What != "" {
			what += " (" + c.What + ")"
		}
		at := ""
		if c.Seq > 0 {
			at = fmt.Sprintf("%s (#%d)", ts(c.At), c.Seq)
		}
		ev := c.Evidence
		if len(c.Detail) > 0 {
			ev += ": " + strings.Join(c.Detail, "; ")
		}
		if ev == "" {
			ev = "none"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", t(c.ID), t(what), state, t(ev), t(c.By), at)
	}
	b.WriteString("\n## Sign-offs\n\n")
	if len(r.SignOffs) == 0 {
		b.WriteString("None.\n")
	}
	for _, s := range r.SignOffs {
		fmt.Fprintf(&b, "- %s: %s at %s (#%d)\n", t(s.Criterion), t(s.Text), ts(s.At), s.Seq)
	}
	b.WriteString("\n## Checkpoints\n\n")
	if len(r.Checkpoints) == 0 {
		b.WriteString("None passed while the room ran.\n")
	}
	for _, c := range r.Checkpoints {
		fmt.Fprintf(&b, "- %s %s at %s (#%d): green %s; red %s\n", c.Mark, t(c.Name), ts(c.At), c.Seq, listOr(c.Green), listOr(c.Red))
	}
	b.WriteString("\n## Evidence log\n\n")
	for _, e := range r.Evidence {
		mark := "✗"
		if e.Pass {
			mark = "✓"
		}
		fmt.Fprintf(&b, "- #%d %s %s %s: %s\n", e.Seq, ts(e.At), mark, t(e.By), t(e.Text))
	}
	if len(r.Baselines) > 0 {
		b.WriteString("\n## Baselines\n\n| pane | n | p5 | p50 | p95 | max |\n| --- | --- | --- | --- | --- | --- |\n")
		for _, p := range r.Baselines {
			v := func(x float64) string { return incident.FormatValue(x, p.Unit) }
			fmt.Fprintf(&b, "| %s/%s | %d | %s | %s | %s | %s |\n", t(p.Service), t(p.Pane), p.N, v(p.P5), v(p.P50), v(p.P95), v(p.Max))
		}
	}
	if len(r.Expected) > 0 {
		b.WriteString("\n## Expected curves\n\nLoad-test results drawn on panes after T-0.\n\n| pane | drawn | expected | from |\n| --- | --- | --- | --- |\n")
		for _, x := range r.Expected {
			drawn := "line at " + x.Metrics[0]
			if len(x.Metrics) == 2 {
				drawn = "band " + x.Metrics[0] + "–" + x.Metrics[1]
			}
			val := "no result imported"
			switch {
			case x.Lo != nil && *x.Lo == *x.Hi:
				val = incident.FormatValue(*x.Lo, x.Unit)
			case x.Lo != nil:
				val = incident.FormatValue(*x.Lo, x.Unit) + " – " + incident.FormatValue(*x.Hi, x.Unit)
			case len(x.Missing) > 0:
				val = "the result has no " + strings.Join(x.Missing, ", ")
			}
			from := x.Criterion
			if x.Result != "" {
				from = x.Result + " (" + x.Criterion + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t(x.Pane), drawn, t(val), t(from))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func listOr(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

// mdCell keeps text from breaking a Markdown table or becoming markup:
// pipes are escaped, and a < that could open an HTML tag.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "`", "'").Replace(s)
	return htmlOpen.ReplaceAllString(s, "&lt;$1")
}

var htmlOpen = regexp.MustCompile(`<([A-Za-z/!?])`)
