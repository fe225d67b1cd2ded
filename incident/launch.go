package incident

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
)

// Launch mode. Before T-0 the room runs the launch plan of the war-room
// file: checkpoints, and go/no-go criteria that turn green only from
// evidence. Evidence, checkpoints, preflight results, baselines and the
// decision are events, so the board is a fold of the journal like the
// rest of the state. The engine itself watches what it can see (a pane
// condition held, everyone staffed and connected, evidence growing old)
// and records each change; imported load tests, sign-offs, preflight
// results and baselines arrive as commands from the edges (package
// launch, the dashboard).

// Launch event kinds.
const (
	KindEvidence   Kind = "EVIDENCE"   // a criterion's evidence arrived, failed, lapsed or was withdrawn
	KindCheck      Kind = "CHECK"      // a preflight (check --live) ran in the room
	KindCheckpoint Kind = "CHECKPOINT" // a launch checkpoint passed, with its criteria's state
	KindDecision   Kind = "DECISION"   // go, hold with a new T-0, or abort
	KindBaseline   Kind = "BASELINE"   // the panes' baselines were captured
)

// Decisions the commander records.
const (
	DecisionGo    = "go"
	DecisionHold  = "hold"
	DecisionAbort = "abort"
)

// Decisions lists what Decide accepts.
var Decisions = []string{DecisionGo, DecisionHold, DecisionAbort}

// EvidenceInfo is an EVIDENCE event's payload.
type EvidenceInfo struct {
	Criterion string `json:"criterion"`
	Kind      string `json:"kind"` // the criterion's kind (config.CriterionKind)
	// Pass: the evidence satisfies the criterion (green). A failed or
	// lapsed one leaves it red.
	Pass bool `json:"pass"`
	// Lapsed: evidence that held no longer does (a breach, a disconnect,
	// its age); Withdrawn: a sign-off taken back.
	Lapsed    bool   `json:"lapsed,omitempty"`
	Withdrawn bool   `json:"withdrawn,omitempty"`
	Summary   string `json:"summary"`
	// Detail is one line per threshold, check or missing person.
	Detail []string `json:"detail,omitempty"`
	// Tool and File name an imported load-test result (k6, vegeta).
	Tool string `json:"tool,omitempty"`
	File string `json:"file,omitempty"`
	// Metrics are a load test's numbers in base units (seconds, a
	// fraction for error_rate), by config.LoadMetrics name.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// CheckInfo is a CHECK event's payload: a preflight's outcome.
type CheckInfo struct {
	Pass     bool     `json:"pass"`
	Checks   int      `json:"checks"`             // how many checks ran
	Problems []string `json:"problems,omitempty"` // one line each
	// Failed names the groups that failed (sources, panes, slack,
	// playbooks, roster), as the exit code of check --live does.
	Failed []string `json:"failed,omitempty"`
}

// CheckpointInfo is a CHECKPOINT event's payload.
type CheckpointInfo struct {
	Name string        `json:"name"`
	At   config.Offset `json:"at"`
	T0   time.Time     `json:"t0"`
	// Green and Red are the checkpoint's criteria by state when it passed.
	Green []string `json:"green,omitempty"`
	Red   []string `json:"red,omitempty"`
}

// DecisionInfo is a DECISION event's payload.
type DecisionInfo struct {
	Decision string    `json:"decision"`
	T0       time.Time `json:"t0,omitzero"` // hold: the new T-0
	// Override is the reason given for deciding without every criterion
	// green; Red lists those criteria.
	Override string   `json:"override,omitempty"`
	Red      []string `json:"red,omitempty"`
	Green    []string `json:"green,omitempty"`
}

// BaselineInfo is one pane's distribution over the baseline window.
type BaselineInfo struct {
	Service string  `json:"service"`
	Pane    string  `json:"pane"`
	N       int     `json:"n"`
	Min     float64 `json:"min"`
	P5      float64 `json:"p5"`
	P25     float64 `json:"p25"`
	P50     float64 `json:"p50"`
	P75     float64 `json:"p75"`
	P95     float64 `json:"p95"`
	Max     float64 `json:"max"`
	Mean    float64 `json:"mean"`
}

// BaselinesInfo is a BASELINE event's payload.
type BaselinesInfo struct {
	From  time.Time      `json:"from"`
	To    time.Time      `json:"to"`
	Panes []BaselineInfo `json:"panes"`
}

// PlanInfo is the launch plan as the room was declared with it, so that
// the readiness record can be written from the journal alone.
type PlanInfo struct {
	Criteria    []PlanCriterion  `json:"criteria"`
	Checkpoints []PlanCheckpoint `json:"checkpoints,omitempty"`
}

// PlanCriterion is one criterion of PlanInfo.
type PlanCriterion struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Kind  string `json:"kind"`
	What  string `json:"what,omitempty"` // the condition, thresholds or signer
	// Expect (load-test criteria) are the panes its result is drawn on
	// after T-0 as their expected curve.
	Expect []PlanExpect `json:"expect,omitempty"`
}

// PlanExpect is one pane a load-test result is drawn on: a line at one
// of the result's metrics or a band between two, times Scale (from the
// result's base unit to the pane's, resolved when the room is declared).
type PlanExpect struct {
	Service string   `json:"service"`
	Pane    string   `json:"pane"`
	Metrics []string `json:"metrics"` // one: a line; two: a band, low then high
	Scale   float64  `json:"scale"`
}

// Expected is a pane's expected curve: the latest result imported for a
// load-test criterion that expects the pane, in the pane's unit.
type Expected struct {
	Criterion string
	Metrics   []string // one: a line; two: a band
	// Lo and Hi are the curve's values (equal for a line); Missing names
	// metrics the result does not have: then nothing is drawn.
	Lo, Hi  float64
	Missing []string
	// The result: its tool, file, event and whether it met the thresholds.
	Tool, File string
	Seq        int64
	Pass       bool
}

// Drawable reports whether the curve has its values.
func (x Expected) Drawable() bool { return len(x.Missing) == 0 }

// Source names the result: "k6 summary.json #42".
func (x Expected) Source() string {
	src := x.Tool
	if x.File != "" {
		src += " " + x.File
	}
	return strings.TrimSpace(fmt.Sprintf("%s #%d", src, x.Seq))
}

// Label names the curve in a legend: "k6 summary.json #42 p50–p99".
func (x Expected) Label() string { return x.Source() + " " + strings.Join(x.Metrics, "–") }

// Expected is the pane's expected curve from the room's plan and the
// latest load-test result of the criterion that expects it (false when no
// criterion expects the pane or no result has arrived). It reads the
// journal alone: the plan as declared, the results as imported.
func (s *State) Expected(service, pane string) (Expected, bool) {
	if s == nil || s.Room == nil || s.Room.Plan == nil || s.Launch == nil {
		return Expected{}, false
	}
	for _, pc := range s.Room.Plan.Criteria {
		for _, pe := range pc.Expect {
			if pe.Service != service || pe.Pane != pane {
				continue
			}
			r := s.Launch.Criterion(pc.ID).Result
			if r == nil {
				return Expected{}, false
			}
			x := Expected{Criterion: pc.ID, Metrics: pe.Metrics, Tool: r.Tool, File: r.File, Seq: r.Seq, Pass: r.Pass}
			var vals []float64
			for _, m := range pe.Metrics {
				v, ok := r.Metrics[m]
				if !ok {
					x.Missing = append(x.Missing, m)
					continue
				}
				vals = append(vals, v*pe.Scale)
			}
			if x.Drawable() && len(vals) > 0 {
				x.Lo, x.Hi = slices.Min(vals), slices.Max(vals)
			}
			return x, true
		}
	}
	return Expected{}, false
}

// PlanCheckpoint is one checkpoint of PlanInfo.
type PlanCheckpoint struct {
	At       config.Offset `json:"at"`
	Name     string        `json:"name"`
	Criteria []string      `json:"criteria,omitempty"`
}

// SignOffFrom reads "[criterion] [note]" as typed after a sign-off
// command (Slack, ssh): a first word that is no criterion of the plan
// starts the note, and the engine takes the one criterion naming by.
func (p *PlanInfo) SignOffFrom(by, text string) SignOff {
	text = strings.TrimSpace(text)
	id, note, _ := strings.Cut(text, " ")
	if p == nil || !slices.ContainsFunc(p.Criteria, func(c PlanCriterion) bool { return c.ID == id }) {
		id, note = "", text
	}
	return SignOff{By: by, Criterion: id, Note: strings.TrimSpace(note)}
}

// PlanOf is the launch plan as a room records it (nil without one).
func PlanOf(cfg *config.Config) *PlanInfo { return planInfo(cfg) }

func planInfo(cfg *config.Config) *PlanInfo {
	l := cfg.Launch
	if l == nil {
		return nil
	}
	p := &PlanInfo{}
	for _, c := range l.Criteria {
		pc := PlanCriterion{ID: c.ID, Title: c.Title, Kind: string(c.Kind())}
		switch c.Kind() {
		case config.KindPane:
			pc.What = c.Pane + " for " + c.For.String()
		case config.KindLoadTest:
			pc.What = strings.Join(c.LoadTest, ", ")
			for _, e := range c.Expect {
				svc, pane, _ := strings.Cut(e.Pane, "/")
				unit := ""
				if p := cfg.Pane(svc, pane); p != nil {
					unit = p.Unit
				}
				pc.Expect = append(pc.Expect, PlanExpect{Service: svc, Pane: pane, Metrics: e.Metrics(), Scale: e.ScaleFor(unit)})
			}
		case config.KindSignOff:
			pc.What = "signed off by " + c.SignOff
		}
		p.Criteria = append(p.Criteria, pc)
	}
	for _, cp := range l.Checkpoints {
		p.Checkpoints = append(p.Checkpoints, PlanCheckpoint{At: cp.At, Name: cp.Name, Criteria: cp.Criteria})
	}
	return p
}

// LaunchState is the launch board as a fold of the journal.
type LaunchState struct {
	// Criteria by id: the latest evidence of each.
	Criteria map[string]*CriterionState
	// Decisions in order; the last one holds.
	Decisions []Decided
	// Checkpoints passed, by checkpoint key (see checkpointKey).
	Checkpoints map[string]*CheckpointPassed
	// Check is the latest preflight run in the room.
	Check *CheckRun
	// Baseline is the captured baseline, by pane key.
	Baseline map[string]BaselineInfo
	// BaselineFrom and BaselineTo are the window it was taken over.
	BaselineFrom, BaselineTo time.Time
}

// CriterionState is one criterion's latest evidence.
type CriterionState struct {
	ID       string
	Green    bool
	Evidence EvidenceInfo
	By       string // who supplied it
	At       time.Time
	Seq      int64
	// Since is when it last turned green or red.
	Since time.Time
	// Result is the latest load-test result imported for it; a lapse
	// does not take it away (it is still what the load test said).
	Result *LoadResult
}

// LoadResult is an imported load-test result as its EVIDENCE event
// recorded it.
type LoadResult struct {
	Tool, File string
	Metrics    map[string]float64 // base units, by config.LoadMetrics name
	Pass       bool
	Seq        int64
}

// Decided is a recorded decision.
type Decided struct {
	DecisionInfo
	By  string
	At  time.Time
	Seq int64
}

// CheckpointPassed is a recorded checkpoint.
type CheckpointPassed struct {
	CheckpointInfo
	Seq int64
}

// CheckRun is a recorded preflight.
type CheckRun struct {
	CheckInfo
	By  string
	At  time.Time
	Seq int64
}

func newLaunchState() *LaunchState {
	return &LaunchState{Criteria: map[string]*CriterionState{}, Checkpoints: map[string]*CheckpointPassed{}, Baseline: map[string]BaselineInfo{}}
}

func (l *LaunchState) clone() *LaunchState {
	if l == nil {
		return nil
	}
	c := *l
	c.Criteria = make(map[string]*CriterionState, len(l.Criteria))
	for k, v := range l.Criteria {
		x := *v
		c.Criteria[k] = &x
	}
	c.Decisions = slices.Clip(l.Decisions)
	c.Checkpoints = make(map[string]*CheckpointPassed, len(l.Checkpoints))
	for k, v := range l.Checkpoints {
		x := *v
		c.Checkpoints[k] = &x
	}
	c.Baseline = make(map[string]BaselineInfo, len(l.Baseline))
	for k, v := range l.Baseline {
		c.Baseline[k] = v
	}
	return &c
}

// LastDecision is the decision in force, or nil.
func (l *LaunchState) LastDecision() *Decided {
	if l == nil || len(l.Decisions) == 0 {
		return nil
	}
	return &l.Decisions[len(l.Decisions)-1]
}

// Criterion returns a criterion's state (a zero, red one without evidence).
func (l *LaunchState) Criterion(id string) *CriterionState {
	if l != nil {
		if c := l.Criteria[id]; c != nil {
			return c
		}
	}
	return &CriterionState{ID: id}
}

// Decided reports whether the launch was decided for good (go or abort):
// launch mode is over.
func (l *LaunchState) Decided() bool {
	d := l.LastDecision()
	return d != nil && d.Decision != DecisionHold
}

// checkpointKey names a checkpoint for one T-0 (a hold moves T-0 and
// with it every checkpoint still to come).
func checkpointKey(at config.Offset, t0 time.Time) string {
	return fmt.Sprintf("%s@%d", at, t0.Unix())
}

func (s *State) launch() *LaunchState {
	if s.Launch == nil {
		s.Launch = newLaunchState()
	}
	return s.Launch
}

func (s *State) applyLaunch(e Event) {
	l := s.launch()
	switch e.Kind {
	case KindEvidence:
		ev := e.Evidence
		if ev == nil {
			return
		}
		c := l.Criteria[ev.Criterion]
		if c == nil {
			c = &CriterionState{ID: ev.Criterion}
			l.Criteria[ev.Criterion] = c
		}
		if c.Green != ev.Pass || c.Since.IsZero() {
			c.Since = e.Time
		}
		c.Green, c.Evidence, c.By, c.At, c.Seq = ev.Pass, *ev, e.Actor, e.Time, e.Seq
		if ev.Kind == string(config.KindLoadTest) && !ev.Lapsed && len(ev.Metrics) > 0 {
			c.Result = &LoadResult{Tool: ev.Tool, File: ev.File, Metrics: ev.Metrics, Pass: ev.Pass, Seq: e.Seq}
		}
	case KindCheck:
		if e.Check != nil {
			l.Check = &CheckRun{CheckInfo: *e.Check, By: e.Actor, At: e.Time, Seq: e.Seq}
		}
	case KindCheckpoint:
		if cp := e.Checkpoint; cp != nil {
			l.Checkpoints[checkpointKey(cp.At, cp.T0)] = &CheckpointPassed{CheckpointInfo: *cp, Seq: e.Seq}
		}
	case KindDecision:
		if e.Decision != nil {
			l.Decisions = append(l.Decisions, Decided{DecisionInfo: *e.Decision, By: e.Actor, At: e.Time, Seq: e.Seq})
		}
	case KindBaseline:
		if b := e.Baselines; b != nil {
			l.BaselineFrom, l.BaselineTo = b.From, b.To
			l.Baseline = make(map[string]BaselineInfo, len(b.Panes))
			for _, p := range b.Panes {
				l.Baseline[PaneKey(p.Service, p.Pane)] = p
			}
		}
	}
}

// T0 is the launch time in force: the last hold's new T-0, else the
// file's (cfg may be nil: then the one the room was declared with).
func (s *State) T0(cfg *config.Config) (time.Time, bool) {
	if s != nil && s.Launch != nil {
		for i := len(s.Launch.Decisions) - 1; i >= 0; i-- {
			if d := s.Launch.Decisions[i]; d.Decision == DecisionHold && !d.T0.IsZero() {
				return d.T0, true
			}
		}
	}
	if cfg != nil && cfg.Incident.Launch != nil {
		return *cfg.Incident.Launch, true
	}
	if s != nil && s.Room != nil && s.Room.Launch != nil {
		return *s.Room.Launch, true
	}
	return time.Time{}, false
}

// RedCriteria lists the plan's criteria that are not green, in file order.
func (s *State) RedCriteria(plan *config.Launch) (red, green []string) {
	if plan == nil {
		return nil, nil
	}
	for _, c := range plan.Criteria {
		if s.Launch.Criterion(c.ID).Green {
			green = append(green, c.ID)
		} else {
			red = append(red, c.ID)
		}
	}
	return red, green
}

// Commands of launch mode.

// SubmitEvidence records evidence for a load-test criterion: the numbers
// of an imported k6 or vegeta result. The engine checks them against the
// criterion's thresholds; the sender does not say whether they pass.
// Without a Criterion it is the plan's only load-test criterion.
type SubmitEvidence struct {
	By        string
	Criterion string
	Tool      string // k6, vegeta
	File      string // the result file's name, for the record
	Metrics   map[string]float64
}

// SignOff records (or withdraws) the named person's sign-off. Without a
// Criterion it is the only one the file names them for.
type SignOff struct {
	By        string
	Criterion string
	Withdraw  bool
	Note      string
}

// RecordCheck records a preflight run in the room.
type RecordCheck struct {
	By     string
	Result CheckInfo
}

// Decide records the launch decision: go, hold with a new T-0, or abort.
// Unless every criterion is green it needs Override, a reason.
type Decide struct {
	By       string
	Decision string
	T0       time.Time // hold: the new T-0
	Override string
}

// RecordBaseline records the panes' baselines over a window.
type RecordBaseline struct {
	By       string
	From, To time.Time
	Panes    []BaselineInfo
}

// ErrNoPlan refuses launch commands in a room without a launch plan.
var ErrNoPlan = roles.Refuse("the war-room file has no launch plan (launch:)")

// maxEvidenceLines bounds detail lines (a preflight of a big room).
const maxEvidenceLines = 60

func (d *decider) plan() (*config.Launch, error) {
	if d.e.cfg.Launch == nil {
		return nil, ErrNoPlan
	}
	return d.e.cfg.Launch, nil
}

// criterion finds the criterion a command names. Without an id it is
// the plan's only criterion of the kind that by may supply (a sign-off:
// the one naming by), so that "sign off" and "import" need no id when
// there is one choice.
func (d *decider) criterion(id, by string, kind config.CriterionKind) (*config.Criterion, error) {
	plan, err := d.plan()
	if err != nil {
		return nil, err
	}
	kindText := strings.ReplaceAll(string(kind), "_", "-")
	var ids []string
	for _, x := range plan.Criteria {
		if x.Kind() == kind && (kind != config.KindSignOff || id != "" || x.SignOff == by) {
			ids = append(ids, x.ID)
		}
	}
	if id == "" {
		switch len(ids) {
		case 0:
			if kind == config.KindSignOff {
				return nil, roles.Refuse("no criterion is signed off by %s", by)
			}
			return nil, roles.Refuse("the launch plan has no %s criterion", kindText)
		case 1:
			id = ids[0]
		default:
			return nil, roles.Refuse("name the %s criterion: one of %s", kindText, strings.Join(ids, ", "))
		}
	}
	c := plan.Criterion(id)
	if c == nil {
		return nil, roles.Refuse("no %s criterion %q (%s)", kindText, id, config.Suggest(id, ids, "criteria"))
	}
	if c.Kind() != kind {
		return nil, roles.Refuse("criterion %s takes %s evidence, not %s", id, strings.ReplaceAll(string(c.Kind()), "_", "-"), strings.ReplaceAll(string(kind), "_", "-"))
	}
	return c, nil
}

func (c SubmitEvidence) decide(d *decider) error {
	cr, err := d.criterion(c.Criterion, c.By, config.KindLoadTest)
	if err != nil {
		return err
	}
	if err := d.check(c.By, roles.ActEvidence, ""); err != nil {
		return err
	}
	if len(c.Metrics) == 0 {
		return roles.Refuse("the result has no numbers")
	}
	ev := EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindLoadTest), Pass: true, Tool: clip(c.Tool, 20), File: clip(c.File, 200), Metrics: map[string]float64{}}
	for k, v := range c.Metrics {
		if slices.Contains(config.LoadMetrics, k) && !math.IsNaN(v) && !math.IsInf(v, 0) {
			ev.Metrics[k] = v
		}
	}
	var failed []string
	for _, t := range cr.Thresholds() {
		v, ok := ev.Metrics[t.Metric]
		switch {
		case !ok:
			ev.Pass = false
			failed = append(failed, t.Text)
			ev.Detail = append(ev.Detail, fmt.Sprintf("✗ %s: the result has no %s", t.Text, t.Metric))
		case config.Compare(v, t.Op, t.Value):
			ev.Detail = append(ev.Detail, fmt.Sprintf("✓ %s: %s", t.Text, LoadValue(t.Metric, v)))
		default:
			ev.Pass = false
			failed = append(failed, t.Text)
			ev.Detail = append(ev.Detail, fmt.Sprintf("✗ %s: %s", t.Text, LoadValue(t.Metric, v)))
		}
	}
	what := "load test"
	if ev.Tool != "" {
		what = ev.Tool + " result"
	}
	if ev.File != "" {
		what += " " + ev.File
	}
	if ev.Pass {
		ev.Summary = fmt.Sprintf("%s meets %d threshold(s)", what, len(cr.Thresholds()))
	} else {
		ev.Summary = fmt.Sprintf("%s fails %s", what, strings.Join(failed, ", "))
	}
	d.evidence(c.By, ev)
	return nil
}

// LoadValue renders a load-test number in its metric's unit.
func LoadValue(metric string, v float64) string {
	switch metric {
	case "error_rate":
		return trim(v*100) + "%"
	case "rps":
		return compact(v) + " req/s"
	case "requests":
		return compact(v)
	}
	return FormatValue(v, "s")
}

func (c SignOff) decide(d *decider) error {
	cr, err := d.criterion(c.Criterion, c.By, config.KindSignOff)
	if err != nil {
		return err
	}
	if c.By != cr.SignOff {
		return roles.Refuse("%s is signed off by %s, not %s", cr.ID, cr.SignOff, c.By)
	}
	cur := d.s.Launch.Criterion(cr.ID)
	note := strings.TrimSpace(c.Note)
	if len(note) > MaxNoteLen {
		return roles.Refuse("a sign-off note is at most %d bytes", MaxNoteLen)
	}
	ev := EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindSignOff), Pass: !c.Withdraw, Withdrawn: c.Withdraw}
	switch {
	case c.Withdraw && !cur.Green:
		return roles.Refuse("%s has not signed off %s", c.By, cr.ID)
	case c.Withdraw:
		ev.Summary = c.By + " withdrew the sign-off"
	case cur.Green:
		return roles.Refuse("%s already signed off %s", c.By, cr.ID)
	default:
		ev.Summary = c.By + " signed off"
	}
	if note != "" {
		ev.Summary += ": " + note
	}
	d.evidence(c.By, ev)
	return nil
}

func (c RecordCheck) decide(d *decider) error {
	if err := d.check(c.By, roles.ActEvidence, ""); err != nil {
		return err
	}
	r := c.Result
	if len(r.Problems) > maxEvidenceLines {
		r.Problems = append(slices.Clip(r.Problems[:maxEvidenceLines-1]), fmt.Sprintf("… and %d more", len(r.Problems)-maxEvidenceLines+1))
	}
	for i, p := range r.Problems {
		r.Problems[i] = clip(p, maxPlanText)
	}
	r.Pass = len(r.Problems) == 0 && len(r.Failed) == 0
	text := fmt.Sprintf("preflight by %s: %d checks passed", c.By, r.Checks)
	if !r.Pass {
		text = fmt.Sprintf("preflight by %s: %d problem(s) in %s: %s", c.By, len(r.Problems), strings.Join(r.Failed, ", "), strings.Join(r.Problems[:min(3, len(r.Problems))], "; "))
		if len(r.Problems) > 3 {
			text += fmt.Sprintf("; and %d more", len(r.Problems)-3)
		}
	}
	ev := d.emit(Event{Kind: KindCheck, Actor: c.By, Text: text, Check: &r})
	// Preflight criteria take their evidence from it.
	if plan := d.e.cfg.Launch; plan != nil {
		for _, cr := range plan.Criteria {
			if cr.Kind() != config.KindPreflight {
				continue
			}
			e := EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindPreflight), Pass: r.Pass, Detail: r.Problems}
			e.Summary = fmt.Sprintf("preflight #%d: %d checks passed", ev.Seq, r.Checks)
			if !r.Pass {
				e.Summary = fmt.Sprintf("preflight #%d failed: %s", ev.Seq, strings.Join(r.Failed, ", "))
			}
			d.evidence(c.By, e)
		}
	}
	return nil
}

func (c Decide) decide(d *decider) error {
	plan, err := d.plan()
	if err != nil {
		return err
	}
	if err := d.check(c.By, roles.ActDecide, ""); err != nil {
		return err
	}
	if !slices.Contains(Decisions, c.Decision) {
		return roles.Refuse("a decision is go, hold or abort, not %q", c.Decision)
	}
	if d.s.Launch.Decided() {
		last := d.s.Launch.LastDecision()
		return roles.Refuse("the launch was already decided: %s by %s at #%d", last.Decision, last.By, last.Seq)
	}
	reason := strings.TrimSpace(c.Override)
	if len(reason) > MaxNoteLen {
		return roles.Refuse("an override reason is at most %d bytes", MaxNoteLen)
	}
	red, green := d.s.RedCriteria(plan)
	info := &DecisionInfo{Decision: c.Decision, Red: red, Green: green}
	// Holding is always safe; going or aborting against the board
	// needs a reason on the record.
	if len(red) > 0 && c.Decision != DecisionHold {
		if reason == "" {
			return roles.Refuse("%d of %d criteria are not green (%s): give an override reason to decide %s anyway",
				len(red), len(red)+len(green), strings.Join(red, ", "), c.Decision)
		}
		info.Override = reason
	}
	text := ""
	switch c.Decision {
	case DecisionHold:
		if c.T0.IsZero() || !c.T0.After(d.now) {
			return roles.Refuse("a hold needs a new T-0 in the future")
		}
		info.T0 = c.T0.UTC().Truncate(time.Second)
		info.Override = reason
		text = fmt.Sprintf("%s holds the launch: new T-0 %s", c.By, info.T0.Format(time.RFC3339))
	case DecisionGo:
		text = c.By + " decided GO"
	case DecisionAbort:
		text = c.By + " aborted the launch"
	}
	switch {
	case info.Override != "" && len(red) > 0 && c.Decision != DecisionHold:
		text += fmt.Sprintf(" overriding %d red criteria (%s): %s", len(red), strings.Join(red, ", "), info.Override)
	case info.Override != "":
		text += ": " + info.Override
	case len(red) == 0:
		text += fmt.Sprintf(" with all %d criteria green", len(green))
	}
	d.emit(Event{Kind: KindDecision, Actor: c.By, Text: text, Decision: info})
	return nil
}

func (c RecordBaseline) decide(d *decider) error {
	if len(c.Panes) == 0 {
		return roles.Refuse("a baseline needs at least one pane")
	}
	var panes []BaselineInfo
	for _, p := range c.Panes {
		if _, ok := d.e.rules[PaneKey(p.Service, p.Pane)]; ok && p.N > 0 {
			panes = append(panes, p)
		}
	}
	sort.Slice(panes, func(i, j int) bool {
		return PaneKey(panes[i].Service, panes[i].Pane) < PaneKey(panes[j].Service, panes[j].Pane)
	})
	by := c.By
	if by == "" {
		by = "warroom"
	}
	d.emit(Event{Kind: KindBaseline, Actor: by, Baselines: &BaselinesInfo{From: c.From.UTC(), To: c.To.UTC(), Panes: panes},
		Text: fmt.Sprintf("baselines of %d panes captured over %s to %s", len(panes), c.From.UTC().Format("15:04"), c.To.UTC().Format("15:04 MST"))})
	return nil
}

// evidence emits an EVIDENCE event.
func (d *decider) evidence(by string, ev EvidenceInfo) {
	if len(ev.Detail) > maxEvidenceLines {
		ev.Detail = append(slices.Clip(ev.Detail[:maxEvidenceLines-1]), fmt.Sprintf("… and %d more", len(ev.Detail)-maxEvidenceLines+1))
	}
	state := "red"
	if ev.Pass {
		state = "green"
	}
	text := fmt.Sprintf("%s is %s: %s", ev.Criterion, state, ev.Summary)
	d.emit(Event{Kind: KindEvidence, Actor: by, Text: text, Evidence: &ev})
}

// launchWatch is what the engine watches itself: pane conditions held,
// staffing, evidence age and checkpoints. Trackers are not state: after
// a restart a pane condition starts holding again from its next sample.
type launchWatch struct {
	holding map[string]time.Time // pane criterion id → since when it holds
}

// watchLaunch runs on every heartbeat and after samples.
func (d *decider) watchLaunch() {
	plan := d.e.cfg.Launch
	if plan == nil || d.s.Declared.IsZero() {
		return
	}
	l := d.s.launch()
	if l.Decided() {
		return // go or abort: launch mode is over
	}
	t0, ok := d.s.T0(d.e.cfg)
	if !ok {
		return
	}
	if d.e.watch.holding == nil {
		d.e.watch.holding = map[string]time.Time{}
	}
	for i := range plan.Criteria {
		cr := &plan.Criteria[i]
		cur := l.Criterion(cr.ID)
		switch cr.Kind() {
		case config.KindPane:
			d.watchPane(cr, cur, t0)
		case config.KindStaffed:
			d.watchStaffed(cr, cur)
		}
		if life := cr.Lifetime(); life > 0 && cur.Green && d.now.Sub(cur.At) >= life {
			ev := cur.Evidence
			ev.Pass, ev.Lapsed, ev.Detail = false, true, nil
			ev.Summary = fmt.Sprintf("its evidence (#%d) is %s old, older than %s", cur.Seq, Age(d.now.Sub(cur.At)), Age(life))
			d.evidence("warroom", ev)
		}
	}
	for _, cp := range plan.Checkpoints {
		at := t0.Add(cp.At.D())
		key := checkpointKey(cp.At, t0)
		if at.After(d.now) || at.Before(d.e.started) || l.Checkpoints[key] != nil {
			continue
		}
		info := &CheckpointInfo{Name: cp.Name, At: cp.At, T0: t0.UTC()}
		for _, id := range cp.Criteria {
			if l.Criterion(id).Green {
				info.Green = append(info.Green, id)
			} else {
				info.Red = append(info.Red, id)
			}
		}
		text := fmt.Sprintf("%s %s", cp.At, cp.Name)
		switch {
		case len(cp.Criteria) == 0:
		case len(info.Red) == 0:
			text += fmt.Sprintf(": all %d criteria green", len(info.Green))
		default:
			text += fmt.Sprintf(": %d of %d criteria red (%s)", len(info.Red), len(cp.Criteria), strings.Join(info.Red, ", "))
		}
		d.emit(Event{Kind: KindCheckpoint, Actor: "warroom", Text: text, Checkpoint: info})
	}
}

// watchPane turns a pane criterion green once its condition has held for
// its `for` with fresh data, and red again at the first sample that
// breaks it, or when the pane goes STALE or NO DATA.
func (d *decider) watchPane(cr *config.Criterion, cur *CriterionState, t0 time.Time) {
	cond, ok := cr.Condition()
	r := d.e.rules[PaneKey(cond.Service, cond.Pane)]
	if !ok || r == nil {
		return
	}
	w := &d.e.watch
	if cr.From != nil && d.now.Before(t0.Add(cr.From.D())) {
		delete(w.holding, cr.ID)
		return
	}
	p := d.s.Panes[PaneKey(cond.Service, cond.Pane)]
	var why string
	switch {
	case p == nil || !p.HasData && !p.NoData && !p.Stale:
		why = "no data yet"
	case r.limited:
		why = "the pane is rate-limited (no current value)"
	case !r.staleSince.IsZero() || p.Stale:
		why = "the pane is STALE"
	case p.NoData:
		why = "the pane has NO DATA"
	case !cond.Holds(p.Value):
		why = fmt.Sprintf("%s is %s", cond.Service+"/"+cond.Pane, FormatValue(p.Value, r.unit))
	}
	if why != "" {
		delete(w.holding, cr.ID)
		if cur.Green {
			d.evidence("warroom", EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindPane), Lapsed: true,
				Summary: fmt.Sprintf("%s no longer holds: %s", cond, why)})
		}
		return
	}
	since, holding := w.holding[cr.ID]
	if !holding {
		since = d.now
		w.holding[cr.ID] = since
	}
	if !cur.Green && d.now.Sub(since) >= cr.For.D() {
		d.evidence("warroom", EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindPane), Pass: true,
			Summary: fmt.Sprintf("%s held for %s (now %s)", cond, Age(d.now.Sub(since)), FormatValue(p.Value, r.unit))})
	}
}

// Staffing lists, for a staffed criterion, who is missing: each role the
// file assigns (and command) and every service's owner, held by someone
// connected to the room now.
func (s *State) Staffing(cfg *config.Config) (missing []string) {
	need := []struct {
		role, who string
		want      bool
	}{
		{"commander", s.Roles.Commander, true},
		{"deputy", s.Roles.Deputy, cfg.Roles.Deputy != ""},
		{"scribe", s.Roles.Scribe, cfg.Roles.Scribe != ""},
		{"comms", s.Roles.Comms, cfg.Roles.Comms != ""},
	}
	for _, n := range need {
		switch {
		case !n.want:
		case n.who == "":
			missing = append(missing, "no "+n.role)
		case len(s.Connected(n.who)) == 0:
			missing = append(missing, n.role+" "+n.who+" is not connected")
		}
	}
	for _, svc := range cfg.Services {
		who := s.Roles.Services[svc.ID].Primary
		switch {
		case who == "":
			missing = append(missing, svc.ID+" has no owner")
		case len(s.Connected(who)) == 0:
			missing = append(missing, svc.ID+" owner "+who+" is not connected")
		}
	}
	return missing
}

func (d *decider) watchStaffed(cr *config.Criterion, cur *CriterionState) {
	missing := d.s.Staffing(d.e.cfg)
	switch {
	case len(missing) == 0 && !cur.Green:
		d.evidence("warroom", EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindStaffed), Pass: true,
			Summary: fmt.Sprintf("every role and owner is held and connected (%d people)", len(d.s.ConnectedPeople()))})
	case len(missing) > 0 && cur.Green:
		d.evidence("warroom", EvidenceInfo{Criterion: cr.ID, Kind: string(config.KindStaffed), Lapsed: true,
			Summary: missing[0] + plural(len(missing)-1), Detail: missing})
	}
}

func plural(more int) string {
	if more <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", more)
}
