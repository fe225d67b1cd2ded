package incident

import (
	"maps"
	"sort"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
)

// RecentLimit bounds the tail of events kept in memory for new readers.
// Older events are in the journal.
const RecentLimit = 5000

// SeriesLimit bounds each pane's in-memory history (sparklines).
const SeriesLimit = 240

// State is the incident as a fold over events (plus the latest samples,
// which are not events). The engine owns one; each reader keeps its own
// copy, starting from a snapshot and applying the same updates.
type State struct {
	Name     string
	Declared time.Time
	LastSeq  int64
	Room     *RoomInfo // as declared

	Roles     roles.Assignments
	Alerts    map[string]*Alert // by id, open and resolved
	Panes     map[string]*Pane  // by PaneKey(service, pane)
	Sources   map[string]SourceInfo
	Runs      map[string]*Run
	Important map[int64]bool
	Mirror    string // the Slack mirror's last reported state
	// Presence is who is connected now, by session (not journaled: see
	// Presence).
	Presence map[string]Presence

	// Recent is the tail of the timeline, oldest first.
	Recent []Event

	open map[string]string // alert key → id of the open alert
}

// Alert is one alert's life: fired, perhaps acked and escalated, resolved.
type Alert struct {
	ID        string
	Seq       int64 // the ALERT event that fired it
	Service   string
	Pane      string
	Level     Level
	Origin    string
	Key       string
	Text      string
	Value     float64
	Threshold float64
	Unit      string

	FiredAt    time.Time
	Reopened   time.Time // when an upgrade to crit cleared an ack
	AckedBy    string
	AckedAt    time.Time
	ResolvedBy string
	ResolvedAt time.Time
	// Escalated counts escalation steps taken: 1 backup paged, 2 commander.
	Escalated int
}

// Open reports whether the alert is not yet resolved.
func (a *Alert) Open() bool { return a.ResolvedAt.IsZero() }

// UnackedSince is when the alert last started waiting for an ack: its
// firing, or the upgrade to crit that cleared an earlier ack. Escalation
// and the "oldest unacked" age count from here.
func (a *Alert) UnackedSince() time.Time {
	if a.Reopened.After(a.FiredAt) {
		return a.Reopened
	}
	return a.FiredAt
}

// Overdue reports whether an unacked alert has waited past the first
// escalation delay (or was already escalated): dashboards highlight it.
func (a *Alert) Overdue(esc config.Escalation, now time.Time) bool {
	if a.Acked() || !a.Open() {
		return false
	}
	first := esc.Backup.D()
	if first <= 0 {
		first = esc.Commander.D()
	}
	return a.Escalated > 0 || (first > 0 && now.Sub(a.UnackedSince()) >= first)
}

// Acked reports whether the alert is acknowledged.
func (a *Alert) Acked() bool { return a.AckedBy != "" }

// Point is one sample in a pane's history.
type Point struct {
	T time.Time
	V float64
}

// Pane is the live view of one query.
type Pane struct {
	Service string
	ID      string
	Value   float64
	HasData bool      // at least one value has arrived
	NoData  bool      // the latest answer had no series
	Stale   bool      // the latest query failed or timed out
	Error   string    // why it is stale
	Updated time.Time // engine time the latest sample arrived
	Series  []Point

	// Rule evaluation: the level currently breached and since when.
	breach      Level
	breachSince time.Time
}

// Run is a playbook run as seen through its events.
type Run struct {
	ID       string
	Playbook string
	Service  string
	State    string
	Step     string
	Params   map[string]string
	Hash     string
	Actor    string // the requester
	Started  time.Time
	Updated  time.Time
	Output   string
	Error    string

	// StateSince is when the run entered State.
	StateSince time.Time
	// Index and Of place Step in its section (step Index of Of).
	Index, Of int
	// Lock is the lock the run takes when approved ("" in journals from
	// before runs recorded it: see RunPolicies).
	Lock string
	// Locked is when the run took its lock (its approval); zero while it
	// waits for approval.
	Locked time.Time
	// Approver is who approved it.
	Approver string
	// Plan is the requester's dry run (nil if none was recorded).
	Plan *RunPlan
}

// PaneKey names a pane across services.
func PaneKey(service, pane string) string { return service + "/" + pane }

func alertKey(service string, a *AlertInfo) string {
	if a.Origin == "" || a.Origin == "rule" {
		return "rule|" + service + "|" + a.Pane
	}
	return a.Origin + "|" + service + "|" + a.Key
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		Alerts:    map[string]*Alert{},
		Panes:     map[string]*Pane{},
		Sources:   map[string]SourceInfo{},
		Runs:      map[string]*Run{},
		Important: map[int64]bool{},
		Roles:     roles.Assignments{Services: map[string]roles.Owners{}},
		open:      map[string]string{},
	}
}

// Apply folds one committed event into the state.
func (s *State) Apply(e Event) {
	s.LastSeq = e.Seq
	switch e.Kind {
	case KindDeclare:
		s.Name = e.Text
		s.Declared = e.Time
		if e.Setup != nil {
			s.Roles = e.Setup.Clone()
		}
		s.Room = e.Room
	case KindAlert:
		s.applyAlert(e)
	case KindAck:
		if a := s.Alerts[e.Alert.ID]; a != nil {
			a.AckedBy, a.AckedAt = e.Actor, e.Time
		}
	case KindResolve:
		if a := s.Alerts[e.Alert.ID]; a != nil {
			a.ResolvedBy, a.ResolvedAt = e.Actor, e.Time
			delete(s.open, alertKey(a.Service, &AlertInfo{Origin: a.Origin, Pane: a.Pane, Key: a.Key}))
		}
	case KindEscalate:
		if a := s.Alerts[e.Alert.ID]; a != nil {
			a.Escalated = e.Alert.Step
		}
	case KindRole:
		s.Roles.Set(e.Role.Role, e.Role.Service, e.Role.Handle)
	case KindOffer:
		s.Roles.Offer = &roles.Offer{From: e.Actor, To: e.Role.Handle, Seq: e.Seq, Stay: e.Role.Stay}
	case KindAccept:
		s.Roles.Commander = e.Role.Handle
		s.Roles.Offer = nil
	case KindDecline:
		s.Roles.Offer = nil
	case KindImportant:
		if e.Flag != nil && *e.Flag {
			s.Important[e.Ref] = true
		} else {
			delete(s.Important, e.Ref)
		}
	case KindSource:
		s.Sources[e.Source.ID] = *e.Source
	case KindRun:
		s.applyRun(e)
	case KindMirror:
		s.Mirror = e.Text
	}
	s.Recent = append(s.Recent, e)
	if len(s.Recent) > RecentLimit {
		// Copy down rather than reslice so the backing array stays bounded.
		n := copy(s.Recent, s.Recent[len(s.Recent)-RecentLimit/2:])
		s.Recent = s.Recent[:n]
	}
}

func (s *State) applyAlert(e Event) {
	info := e.Alert
	a := s.Alerts[info.ID]
	if a == nil {
		a = &Alert{ID: info.ID, Seq: e.Seq, Service: e.Service, Pane: info.Pane, Origin: info.Origin, Key: info.Key, FiredAt: e.Time}
		s.Alerts[info.ID] = a
		s.open[alertKey(e.Service, info)] = info.ID
	} else if info.Level == LevelCrit && a.Level != LevelCrit {
		// Worse than when it was acked: someone must look again.
		if a.AckedBy != "" {
			a.AckedBy, a.AckedAt = "", time.Time{}
			a.Escalated = 0
			a.Reopened = e.Time
		}
	}
	a.Level, a.Text, a.Value, a.Threshold, a.Unit = info.Level, e.Text, info.Value, info.Threshold, info.Unit
}

func (s *State) applyRun(e Event) {
	info := e.Run
	r := s.Runs[info.ID]
	if r == nil {
		r = &Run{ID: info.ID, Playbook: info.Playbook, Service: e.Service, Actor: e.Actor, Started: e.Time}
		s.Runs[info.ID] = r
	}
	if r.State != info.State {
		r.StateSince = e.Time
	}
	r.State, r.Step, r.Updated = info.State, info.Step, e.Time
	r.Index, r.Of = info.Index, info.Of
	if info.Lock != "" {
		r.Lock = info.Lock
	}
	if info.Plan != nil {
		r.Plan = info.Plan
	}
	if info.State == RunApproved {
		r.Locked = e.Time
		if e.Actor != r.Actor { // a run without an approval gate approves itself
			r.Approver = e.Actor
		}
	}
	if info.Params != nil {
		r.Params = info.Params
	}
	if info.Hash != "" {
		r.Hash = info.Hash
	}
	if info.Output != "" {
		r.Output = info.Output
	}
	r.Error = info.Error
}

// ApplySamples records samples in the panes' live values and histories.
// now is the engine time they arrived, used for staleness.
func (s *State) ApplySamples(samples []Sample, now time.Time) {
	for _, sm := range samples {
		p := s.pane(sm.Service, sm.Pane)
		p.Updated = now
		p.Stale, p.Error = sm.Stale, sm.Error
		if sm.Stale {
			continue
		}
		p.NoData = sm.NoData
		if sm.NoData {
			continue
		}
		p.Value, p.HasData = sm.Value, true
		if n := len(p.Series); n > 0 && !sm.Time.After(p.Series[n-1].T) {
			continue // a backfill or repeat: keep the history ordered
		}
		p.Series = append(p.Series, Point{T: sm.Time, V: sm.Value})
		if len(p.Series) > SeriesLimit {
			n := copy(p.Series, p.Series[len(p.Series)-SeriesLimit*3/4:])
			p.Series = p.Series[:n]
		}
	}
}

func (s *State) pane(service, id string) *Pane {
	k := PaneKey(service, id)
	p := s.Panes[k]
	if p == nil {
		p = &Pane{Service: service, ID: id}
		s.Panes[k] = p
	}
	return p
}

// OpenAlert returns the open alert for a rule pane or an external key.
func (s *State) OpenAlert(service string, info *AlertInfo) *Alert {
	if id, ok := s.open[alertKey(service, info)]; ok {
		return s.Alerts[id]
	}
	return nil
}

// OpenAlerts lists open alerts, worst first, then oldest first.
func (s *State) OpenAlerts() []*Alert {
	out := make([]*Alert, 0, len(s.open))
	for _, id := range s.open {
		out = append(out, s.Alerts[id])
	}
	sort.Slice(out, func(i, j int) bool {
		if r1, r2 := out[i].Level.Rank(), out[j].Level.Rank(); r1 != r2 {
			return r1 > r2
		}
		if !out[i].FiredAt.Equal(out[j].FiredAt) {
			return out[i].FiredAt.Before(out[j].FiredAt)
		}
		return out[i].Seq < out[j].Seq
	})
	return out
}

// Clone returns a deep copy for a new reader.
func (s *State) Clone() *State {
	c := *s
	c.Roles = s.Roles.Clone()
	c.Alerts = make(map[string]*Alert, len(s.Alerts))
	for k, v := range s.Alerts {
		a := *v
		c.Alerts[k] = &a
	}
	c.Panes = make(map[string]*Pane, len(s.Panes))
	for k, v := range s.Panes {
		p := *v
		p.Series = append([]Point(nil), v.Series...)
		c.Panes[k] = &p
	}
	c.Sources = make(map[string]SourceInfo, len(s.Sources))
	for k, v := range s.Sources {
		c.Sources[k] = v
	}
	c.Runs = make(map[string]*Run, len(s.Runs))
	for k, v := range s.Runs {
		r := *v
		c.Runs[k] = &r
	}
	c.Presence = maps.Clone(s.Presence)
	c.Important = make(map[int64]bool, len(s.Important))
	for k, v := range s.Important {
		c.Important[k] = v
	}
	c.open = make(map[string]string, len(s.open))
	for k, v := range s.open {
		c.open[k] = v
	}
	c.Recent = append([]Event(nil), s.Recent...)
	return &c
}
