package export

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // zone names in a copied journal must resolve on any machine

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// Format is an export format.
type Format string

const (
	Markdown Format = "md"
	HTML     Format = "html"
	JSON     Format = "json"
	CSV      Format = "csv"
)

// ParseFormat accepts md (or markdown), html, json or csv.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "md", "markdown":
		return Markdown, nil
	case "html":
		return HTML, nil
	case "json":
		return JSON, nil
	case "csv":
		return CSV, nil
	}
	return "", fmt.Errorf("unknown format %q (one of md, html, json, csv)", s)
}

// Filter selects what an export shows. Zero values select everything.
type Filter struct {
	// Important keeps only events marked important (and the alerts and
	// mitigation runs those events are about).
	Important bool
	// Service keeps only events, alerts, runs and samples of one service.
	Service string
	// From and To bound event and sample times (inclusive).
	From, To time.Time
}

func (f Filter) active() bool {
	return f.Important || f.Service != "" || !f.From.IsZero() || !f.To.IsZero()
}

func (f Filter) inWindow(t time.Time) bool {
	return (f.From.IsZero() || !t.Before(f.From)) && (f.To.IsZero() || !t.After(f.To))
}

// overlaps reports whether [a, b] meets the window.
func (f Filter) overlaps(a, b time.Time) bool {
	return (f.To.IsZero() || !a.After(f.To)) && (f.From.IsZero() || !b.Before(f.From))
}

// Options configure an export.
type Options struct {
	Filter
	// Location shows local times in this zone, overriding the journal's.
	// Nil: the journal's zone if it carries one, else UTC only.
	Location *time.Location
}

// InputError reports a journal or request that cannot be exported: not a
// warroom journal, an undecodable event, no events, an unknown service.
// The command line exits 1 for it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// PaneInfo describes a pane for charts and impact figures.
type PaneInfo struct {
	ID    string   `json:"id"`
	Title string   `json:"title,omitempty"`
	Unit  string   `json:"unit,omitempty"`
	Warn  *float64 `json:"warn,omitempty"`
	Crit  *float64 `json:"crit,omitempty"`
	Clear *float64 `json:"clear,omitempty"` // declared hysteresis level (nil: clears past warn, else crit)
	// ForSeconds is how long a breach must last before the alert fires.
	ForSeconds float64 `json:"for_seconds,omitempty"`
	Direction  string  `json:"direction,omitempty"` // above (default) or below

	inferred bool // not declared: learnt from rule alerts
}

// ServiceInfo describes a service.
type ServiceInfo struct {
	ID    string     `json:"id"`
	Name  string     `json:"name,omitempty"`
	Panes []PaneInfo `json:"panes,omitempty"`
}

// EscalationPolicy is when an unacknowledged alert pages the service's
// backup, then the commander, counted from the moment the alert started
// waiting for an ack: its firing, or the upgrade to crit that cleared an
// earlier ack (incident.Alert.UnackedSince). Zero values: the journal
// does not record the delay (DECLAREs before the policy was recorded).
type EscalationPolicy struct {
	Backup    time.Duration
	Commander time.Duration
}

// Known reports whether the journal recorded any of the delays.
func (p EscalationPolicy) Known() bool { return p.Backup > 0 || p.Commander > 0 }

// CommandSpell is one person's time in command.
type CommandSpell struct {
	Commander string
	Seq       int64 // the DECLARE or ACCEPT that began it
	From, To  time.Time
	Current   bool // still in command at the last event
}

// RunMark is an approval or refusal of a run.
type RunMark struct {
	Seq   int64
	At    time.Time
	By    string
	State incident.RunState
	Hash  string
}

// RunStep is one transition of a run.
type RunStep struct {
	Seq    int64
	At     time.Time
	Actor  string
	State  incident.RunState
	Step   string
	Text   string
	Error  string
	Output string
}

// Run is a mitigation: a playbook run as its RUN events recorded it.
type Run struct {
	ID          string
	Playbook    string
	Service     string
	RequestedBy string
	RequestedAt time.Time
	Seq         int64
	Params      map[string]string
	Hash        string
	Approvals   []RunMark // state approved
	Refusals    []RunMark // rejected or expired
	Steps       []RunStep
	Outcome     incident.RunState // the last state
	Done        bool              // the last state is terminal (incident.RunTerminal)
	EndedAt     time.Time
	Output      string // the last output reported
	Error       string // the last error reported
}

// Duration is from the request to the last transition.
func (r *Run) Duration() time.Duration { return r.EndedAt.Sub(r.RequestedAt) }

// PaneData is one pane's samples in the export window, with its figures.
type PaneData struct {
	Service string
	Info    PaneInfo
	Samples []journal.Sample
	Values  int // samples with a value
	NoData  int // samples without one
	Min     float64
	Max     float64
	Peak    float64 // Max, or Min for a pane where low is bad
	PeakAt  time.Time
	Last    float64
	LastAt  time.Time
	// The launch's references, drawn on the chart: the pane's baseline
	// (p5–p95 of the window before T-0) and its expected curve (the
	// latest load-test result the plan draws on it), nil when none.
	Baseline *incident.BaselineInfo
	Expected *incident.Expected
}

// Report is a loaded journal, ready to render in any format.
type Report struct {
	Name       string
	DeclaredAt time.Time
	DeclaredBy string
	FirstSeq   int64
	LastSeq    int64
	FirstAt    time.Time // the first event
	LastAt     time.Time // the last event
	Zone       string    // IANA zone of local times ("" = UTC only)
	Launch     *time.Time
	T0         time.Time // the launch's T-0 as last decided (zero: none)
	Simulated  bool
	Filter     Filter

	Services []ServiceInfo // declared order, then any others by id
	// People is the roster as declared (handles and display names), in
	// the war-room file's order; empty when the DECLARE does not carry it.
	People     []incident.PersonInfo
	Escalation EscalationPolicy

	Setup   roles.Assignments // at the declaration
	Final   roles.Assignments // after the last event
	Command []CommandSpell

	Events   []incident.Event // the timeline, filtered
	Handoffs []incident.Event // ROLE, OFFER, ACCEPT, DECLINE, filtered
	Alerts   []*incident.AlertLife
	Stats    []incident.AlertStats
	Runs     []*Run
	Panes    []*PaneData // every pane with samples in the window

	// The incident's public side and milestones, from the incident fold
	// (incident.State) over the whole journal.
	Life  incident.Lifecycle
	Times incident.Times
	// Silence measures what customers heard between the start (the impact
	// mark, else when the incident went public) and the last event.
	Silence incident.Silence
	// Key is the short timeline: declaration, severity and status
	// changes, milestones, public updates, handoffs, mitigations and the
	// events marked important (filtered).
	Key []incident.Event
	// FollowUps are the notes marked as follow-ups, in order (filtered).
	FollowUps []incident.Event
	// Components names the public components (from the DECLARE).
	Components []incident.ComponentInfo
	// SeverityNames are SEV1…SEV4's names (from the DECLARE).
	SeverityNames []string
	// PeaksFrom is where the peak figures start: the incident's start
	// (the declaration, or the impact mark if earlier). Samples before it
	// (backfilled history) are drawn but not counted.
	PeaksFrom time.Time

	important map[int64]bool
	names     map[string]string   // handle → display name
	eventAt   map[int64]time.Time // seq → time, for offers
	loc       *time.Location
	start     time.Time // chart and date range
	end       time.Time
	charts    []Chart
	chartsOK  bool
	doc       []block
}

// ServiceName is the display name of a service ("" → "-").
func (r *Report) ServiceName(id string) string {
	if id == "" {
		return "-"
	}
	for _, s := range r.Services {
		if s.ID == id && s.Name != "" && s.Name != id {
			return s.Name + " (" + id + ")"
		}
	}
	return id
}

// Person is a roster entry for tables: "Name (handle)" when the DECLARE
// gives the person a display name, else the handle ("—" for nobody).
func (r *Report) Person(handle string) string {
	if handle == "" {
		return "—"
	}
	if n := r.names[handle]; n != "" && n != handle {
		return n + " (" + handle + ")"
	}
	return handle
}

func (r *Report) paneInfo(service, pane string) PaneInfo {
	for _, s := range r.Services {
		if s.ID != service {
			continue
		}
		for _, p := range s.Panes {
			if p.ID == pane {
				return p
			}
		}
	}
	return PaneInfo{ID: pane}
}

// Load reads a journal into a report. The journal may be live: the export
// covers the events committed when Load starts, and never blocks the
// writer (reads are paged, with no transaction held across pages).
func Load(ctx context.Context, j journal.Reader, opt Options) (*Report, error) {
	if err := j.Refresh(); err != nil {
		return nil, fmt.Errorf("read %s: %w", j.Path(), err)
	}
	upto := j.LastSeq()
	if upto == 0 {
		return nil, inputErr("%s has no events: nothing to export", j.Path())
	}
	r := &Report{Filter: opt.Filter, eventAt: map[int64]time.Time{}}
	// One fold: the engine's (incident.State), so that the report tells
	// the incident as the room saw it. Load adds only what the state does
	// not keep: the roles at the declaration, who commanded when, and each
	// run's history.
	lives := incident.NewAlertLives()
	fold := incident.NewState()
	runs := map[string]*Run{}
	var runList []*Run
	all := make([]incident.Event, 0, min(upto, 1<<20))
	err := j.ReplayRange(ctx, 0, upto, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err != nil {
			return &InputError{Err: fmt.Errorf("%s: %w", j.Path(), err)}
		}
		if len(all) == 0 {
			r.FirstSeq, r.FirstAt = ev.Seq, ev.Time
		}
		r.LastSeq, r.LastAt = ev.Seq, ev.Time
		all = append(all, ev)
		lives.Apply(ev)
		commander := fold.Roles.Commander
		fold.Apply(ev)
		switch ev.Kind {
		case incident.KindDeclare:
			// As in the engine, the last DECLARE is the declaration.
			r.DeclaredBy, r.Setup = ev.Actor, fold.Roles.Clone()
			r.spell(fold.Roles.Commander, ev)
		case incident.KindOffer:
			r.eventAt[ev.Seq] = ev.Time
		case incident.KindRun:
			if ev.Run != nil {
				run := runs[ev.Run.ID]
				if run == nil {
					run = &Run{ID: ev.Run.ID, Seq: ev.Seq}
					runs[ev.Run.ID] = run
					runList = append(runList, run)
				}
				run.record(ev)
			}
		}
		if !fold.Declared.IsZero() && ev.Kind != incident.KindDeclare &&
			(ev.Kind == incident.KindAccept || fold.Roles.Commander != commander) {
			r.spell(fold.Roles.Commander, ev)
		}
		return nil
	})
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", j.Path(), err)
	}
	r.Name, r.DeclaredAt, r.Final, r.important = fold.Name, fold.Declared, fold.Roles.Clone(), fold.Important
	if fold.Declared.IsZero() {
		r.DeclaredAt, r.DeclaredBy = r.FirstAt, ""
		r.Setup = roles.Assignments{Services: map[string]roles.Owners{}}
	}
	if r.Name == "" {
		r.Name = "Untitled incident"
	}
	for _, run := range runList {
		run.summarize(fold.Runs[run.ID])
	}
	r.Life, r.Times = fold.Life, fold.Times()
	start := r.Times.Start
	if start.IsZero() {
		start = r.Life.PublicSince
	}
	r.Silence = r.Life.Silences(start, r.LastAt)
	r.PeaksFrom = r.DeclaredAt
	if t := r.Times.Start; !t.IsZero() && t.Before(r.PeaksFrom) {
		r.PeaksFrom = t
	}
	if n := len(r.Command); n > 0 {
		r.Command[n-1].To, r.Command[n-1].Current = r.LastAt, true
	}
	room := fold.Room

	// The war room's description, from the DECLARE when it carries one.
	if room != nil {
		r.Zone, r.Launch, r.Simulated = room.Timezone, room.Launch, room.Simulated
		for _, s := range room.Services {
			si := ServiceInfo{ID: s.ID, Name: s.Name}
			for _, p := range s.Panes {
				pi := PaneInfo{ID: p.ID, Title: p.Title, Unit: p.Unit, Warn: p.Warn, Crit: p.Crit, Clear: p.Clear,
					ForSeconds: p.For, Direction: "above"}
				if p.Below {
					pi.Direction = "below"
				}
				si.Panes = append(si.Panes, pi)
			}
			r.Services = append(r.Services, si)
		}
		for _, p := range room.People {
			if p.Handle == "" {
				continue
			}
			r.People = append(r.People, p)
			if p.Name != "" {
				if r.names == nil {
					r.names = map[string]string{}
				}
				r.names[p.Handle] = p.Name
			}
		}
		r.Escalation = EscalationPolicy{Backup: seconds2dur(room.EscalateBackup), Commander: seconds2dur(room.EscalateCommander)}
		r.SeverityNames = room.Severities
		if room.Comms != nil {
			r.Components = room.Comms.Components
		}
	}
	if opt.Location != nil {
		r.loc, r.Zone = opt.Location, opt.Location.String()
	} else if r.Zone != "" {
		loc, err := time.LoadLocation(r.Zone)
		if err != nil {
			r.Zone = "" // an unknown zone: UTC only, rather than failing the export
		} else {
			r.loc = loc
		}
	}
	if r.loc == time.UTC || r.Zone == "UTC" {
		r.loc, r.Zone = nil, ""
	}

	// Services seen anywhere, declared ones first.
	known := map[string]bool{}
	for _, s := range r.Services {
		known[s.ID] = true
	}
	var extra []string
	addSvc := func(id string) {
		if id != "" && !known[id] {
			known[id] = true
			extra = append(extra, id)
		}
	}
	for id := range r.Setup.Services {
		addSvc(id)
	}
	for _, e := range all {
		addSvc(e.Service)
	}

	// Samples in the window.
	var panes []*PaneData
	err = j.Samples(ctx, opt.Service, "", opt.From, opt.To, func(s journal.Sample) error {
		if n := len(panes); n == 0 || panes[n-1].Service != s.Service || panes[n-1].Info.ID != s.Pane {
			panes = append(panes, &PaneData{Service: s.Service, Info: PaneInfo{ID: s.Pane}})
		}
		p := panes[len(panes)-1]
		if s.NoData || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			s.NoData = true
		}
		p.Samples = append(p.Samples, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read samples of %s: %w", j.Path(), err)
	}
	for _, p := range panes {
		addSvc(p.Service)
	}
	sort.Strings(extra)
	for _, id := range extra {
		r.Services = append(r.Services, ServiceInfo{ID: id})
	}
	if opt.Service != "" && !known[opt.Service] {
		ids := make([]string, 0, len(r.Services))
		for _, s := range r.Services {
			ids = append(ids, s.ID)
		}
		return nil, inputErr("no service %q in %s (services: %s)", opt.Service, j.Path(), strings.Join(ids, ", "))
	}
	r.inferPanes(lives.List())
	if t0, ok := fold.T0(nil); ok {
		r.T0 = t0
	}
	for _, p := range panes {
		p.Info = r.paneInfo(p.Service, p.Info.ID)
		p.figures(r.PeaksFrom)
		if fold.Launch != nil {
			if b, ok := fold.Launch.Baseline[incident.PaneKey(p.Service, p.Info.ID)]; ok && b.N > 0 {
				p.Baseline = &b
			}
		}
		if x, ok := fold.Expected(p.Service, p.Info.ID); ok {
			p.Expected = &x
		}
	}
	// Panes in the war room's order: services as declared, then panes as
	// declared (or as rule alerts named them), then the rest by id.
	order := map[string]int{}
	for i, s := range r.Services {
		order[s.ID] = i << 16
		for k, p := range s.Panes {
			order[s.ID+"/"+p.ID] = i<<16 | (k + 1)
		}
	}
	rank := func(p *PaneData) int {
		if v, ok := order[p.Service+"/"+p.Info.ID]; ok {
			return v
		}
		return order[p.Service] | 0xffff
	}
	sort.SliceStable(panes, func(a, b int) bool { return rank(panes[a]) < rank(panes[b]) })
	r.Panes = panes

	// What the filters select.
	if !r.Filter.active() {
		r.Events = all
	}
	for _, e := range all {
		if !r.showEvent(e) {
			continue
		}
		if r.Filter.active() {
			r.Events = append(r.Events, e)
		}
		switch e.Kind {
		case incident.KindRole, incident.KindOffer, incident.KindAccept, incident.KindDecline:
			r.Handoffs = append(r.Handoffs, e)
		}
		if keyEvent(e, r.important[e.Seq]) {
			r.Key = append(r.Key, e)
		}
		if e.Kind == incident.KindNote && r.Life.FollowUps[e.Seq] {
			r.FollowUps = append(r.FollowUps, e)
		}
	}
	for _, a := range lives.List() {
		if r.showAlert(a) {
			r.Alerts = append(r.Alerts, a)
		}
	}
	r.Stats = incident.StatsByService(r.Alerts)
	for _, run := range runList {
		if r.showRun(run) {
			r.Runs = append(r.Runs, run)
		}
	}

	// The date range: events and the samples shown.
	r.start, r.end = r.FirstAt, r.LastAt
	for _, p := range panes {
		if n := len(p.Samples); n > 0 {
			if t := p.Samples[0].Time; t.Before(r.start) {
				r.start = t
			}
			if t := p.Samples[n-1].Time; t.After(r.end) {
				r.end = t
			}
		}
	}
	return r, nil
}

func (r *Report) showEvent(e incident.Event) bool {
	f := r.Filter
	if f.Important && !r.important[e.Seq] {
		return false
	}
	if f.Service != "" && !e.Concerns(f.Service) {
		return false
	}
	return f.inWindow(e.Time)
}

func (r *Report) showAlert(a *incident.AlertLife) bool {
	f := r.Filter
	if f.Service != "" && a.Service != f.Service {
		return false
	}
	end := r.LastAt
	if a.Resolved() {
		end = a.ResolvedAt
	}
	if !f.overlaps(a.FiredAt, end) {
		return false
	}
	if !f.Important {
		return true
	}
	for _, l := range a.Levels {
		if r.important[l.Seq] {
			return true
		}
	}
	for _, k := range a.Acks {
		if r.important[k.Seq] {
			return true
		}
	}
	for _, e := range a.Escalations {
		if r.important[e.Seq] {
			return true
		}
	}
	return r.important[a.ResolvedSeq]
}

func (r *Report) showRun(run *Run) bool {
	f := r.Filter
	if f.Service != "" && run.Service != f.Service {
		return false
	}
	if !f.overlaps(run.RequestedAt, run.EndedAt) {
		return false
	}
	if !f.Important {
		return true
	}
	for _, s := range run.Steps {
		if r.important[s.Seq] {
			return true
		}
	}
	return false
}

// seconds2dur converts the DECLARE's seconds to a duration (0 for
// anything that is not a positive, finite number of seconds).
func seconds2dur(s float64) time.Duration {
	if !(s > 0) || s > math.MaxInt64/float64(time.Second) {
		return 0
	}
	return time.Duration(math.Round(s * float64(time.Second)))
}

// spell records that commander took command at ev (a DECLARE, an ACCEPT
// or a role change), ending the spell before it.
func (r *Report) spell(commander string, ev incident.Event) {
	if n := len(r.Command); n > 0 {
		r.Command[n-1].To = ev.Time
	}
	r.Command = append(r.Command, CommandSpell{Commander: commander, Seq: ev.Seq, From: ev.Time})
}

// record adds a RUN event to the run's history: its steps, approvals and
// refusals, and the last output and error any step reported.
func (run *Run) record(ev incident.Event) {
	in := ev.Run
	run.Steps = append(run.Steps, RunStep{Seq: ev.Seq, At: ev.Time, Actor: ev.Actor, State: in.State, Step: in.Step, Text: ev.Text, Error: in.Error, Output: in.Output})
	mark := RunMark{Seq: ev.Seq, At: ev.Time, By: ev.Actor, State: in.State, Hash: in.Hash}
	switch in.State {
	case incident.RunApproved:
		run.Approvals = append(run.Approvals, mark)
	case incident.RunRejected, incident.RunExpired, incident.RunSuperseded:
		run.Refusals = append(run.Refusals, mark)
	}
	if in.Output != "" {
		run.Output = in.Output
	}
	if in.Error != "" {
		run.Error = in.Error
	}
}

// summarize takes what the run is from the incident fold.
func (run *Run) summarize(st *incident.Run) {
	if st == nil {
		return
	}
	run.Playbook, run.Service, run.Params, run.Hash = st.Playbook, st.Service, st.Params, st.Hash
	run.RequestedBy, run.RequestedAt = st.Actor, st.Started
	run.Outcome, run.EndedAt, run.Done = st.State, st.Updated, incident.RunTerminal(st.State)
}

// inferPanes fills in units and thresholds that the DECLARE did not
// describe, from what rule alerts said about their panes.
func (r *Report) inferPanes(lives []*incident.AlertLife) {
	idx := map[string]int{}
	for i, s := range r.Services {
		idx[s.ID] = i
	}
	for _, a := range lives {
		if a.Origin != "rule" && a.Origin != "" {
			continue
		}
		i, ok := idx[a.Service]
		if !ok {
			continue
		}
		svc := &r.Services[i]
		k := -1
		for pi := range svc.Panes {
			if svc.Panes[pi].ID == a.Pane {
				k = pi
			}
		}
		if k < 0 {
			svc.Panes = append(svc.Panes, PaneInfo{ID: a.Pane, inferred: true})
			k = len(svc.Panes) - 1
		}
		p := &svc.Panes[k]
		if !p.inferred {
			continue // declared: the DECLARE is the truth
		}
		for _, l := range a.Levels {
			if l.Unit != "" {
				p.Unit = l.Unit
			}
			if l.Threshold == 0 {
				continue
			}
			v := l.Threshold
			switch l.Level {
			case incident.LevelWarn:
				p.Warn = &v
			case incident.LevelCrit:
				p.Crit = &v
			}
		}
	}
}

// keyEvent reports whether an event belongs in the short timeline.
func keyEvent(e incident.Event, important bool) bool {
	switch e.Kind {
	case incident.KindDeclare, incident.KindSeverity, incident.KindMarker, incident.KindAccept, incident.KindOverdue:
		return true
	case incident.KindStatus:
		return e.Ref == 0 // a status an update carried is the update's line
	case incident.KindUpdate:
		return e.Update != nil && (e.Update.State == incident.UpdatePublished || e.Update.State == incident.UpdateRejected)
	case incident.KindRun:
		if e.Run == nil {
			return important
		}
		switch e.Run.State {
		case incident.RunApproved, incident.RunSucceeded, incident.RunFailed, incident.RunRolledBack, incident.RunRollbackFailed, incident.RunInterrupted:
			return true
		}
	}
	return important
}

// figures computes the impact figures of a pane from its samples at and
// after from (the incident's start: history before it is not the
// incident's).
func (p *PaneData) figures(from time.Time) {
	low := p.Info.Direction == "below"
	for _, s := range p.Samples {
		if s.Time.Before(from) {
			continue
		}
		if s.NoData {
			p.NoData++
			continue
		}
		v := s.Value
		if p.Values == 0 {
			p.Min, p.Max = v, v
			p.Peak, p.PeakAt = v, s.Time
		}
		p.Values++
		p.Min = math.Min(p.Min, v)
		p.Max = math.Max(p.Max, v)
		if (low && v < p.Peak) || (!low && v > p.Peak) {
			p.Peak, p.PeakAt = v, s.Time
		}
		p.Last, p.LastAt = v, s.Time
	}
}

// mainPane is the pane charted for a service: the first declared pane with
// samples, else the pane of its first rule alert, else the first by id.
// The choice does not depend on the filters.
func (r *Report) mainPane(service string) *PaneData {
	var mine []*PaneData
	for _, p := range r.Panes {
		if p.Service == service && p.Values > 0 {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	// Declared panes come first in the service's list, then the panes rule
	// alerts named, in the order they first fired.
	for _, s := range r.Services {
		if s.ID != service {
			continue
		}
		for _, info := range s.Panes {
			for _, p := range mine {
				if p.Info.ID == info.ID {
					return p
				}
			}
		}
	}
	return mine[0] // samples come ordered by pane id
}
