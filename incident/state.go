package incident

import (
	"maps"
	"sort"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
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

	Roles  roles.Assignments
	Alerts map[string]*Alert // by id, open and resolved
	Groups map[string]*Group // open alert groups, by key
	// Pages is, per person, when they were last paged and what has been
	// escalated to them since (the next page's content).
	Pages     map[string]*PageQueue
	Panes     map[string]*Pane // by PaneKey(service, pane)
	Sources   map[string]SourceInfo
	Runs      map[string]*Run
	Important map[int64]bool
	Mirror    string // the Slack mirror's last reported state
	// Presence is who is connected now, by session (not journaled: see
	// Presence).
	Presence map[string]Presence
	// Storage is the journal's storage health as the engine last saw it:
	// an observation like the panes, not an event.
	Storage journal.Health
	// Cluster is how the process serving this state stands in a room
	// several processes share (zero otherwise): an observation too.
	Cluster ClusterInfo
	// Life is the incident's severity, status, milestones, public
	// components and updates.
	Life Lifecycle

	// Launch is the launch board (nil until a launch event).
	Launch *LaunchState

	// Recent is the tail of the timeline, oldest first.
	Recent []Event

	open map[string]string // alert key → id of the open alert
	// alertsShared: Alerts belongs to the state this one was shared from
	// (see share) and is copied before the first change.
	alertsShared bool
	// storageLogged is the storage state the last STORAGE event recorded.
	storageLogged journal.StorageState
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

	// Group is the key of the alert group it belongs to.
	Group    string
	Silenced string    // why it asks no one to act, when it is silenced
	Owner    string    // the owner told when it fired
	StartsAt time.Time // the origin's start, when it gave one
	EndsAt   time.Time // the origin's end, when it gave one
	Via      string    // poll or webhook, for imported alerts
	Panes    []string  // a source alert: the panes it blanks

	FiredAt  time.Time // when the room received it
	Reopened time.Time // when an upgrade to crit cleared an ack
	AckedBy  string
	AckedAt  time.Time
	// FirstAckedAt is the first acknowledgement (re-acks after an upgrade
	// to crit do not move it).
	FirstAckedAt time.Time
	// WorstLevel is the worst level it reached.
	WorstLevel Level
	ResolvedBy string
	ResolvedAt time.Time
	// Escalated counts escalation steps taken: 1 backup paged, 2 commander.
	Escalated int
}

// Worst is the worst level the alert reached.
func (a *Alert) Worst() Level {
	if a.WorstLevel.Rank() > a.Level.Rank() {
		return a.WorstLevel
	}
	return a.Level
}

// Open reports whether the alert is not yet resolved.
func (a *Alert) Open() bool { return a.ResolvedAt.IsZero() }

// Pages reports whether the alert asks a person to act: open, at a level
// that pages, not silenced. Only such alerts escalate.
func (a *Alert) Pages() bool { return a.Open() && a.Level.Pages() && a.Silenced == "" }

// Quiet reports whether the alert is shown for information only
// (informational, unknown or silenced): dashboards draw it grey.
func (a *Alert) Quiet() bool { return !a.Level.Pages() || a.Silenced != "" }

// waiting reports whether the alert counts toward its group's unacked
// alerts: it pages and nobody has acked it.
func (a *Alert) waiting() bool { return a.Pages() && !a.Acked() }

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
// escalation delay (or was already escalated): dashboards highlight its
// age. Whether anyone was paged is Group.Escalated.
func (a *Alert) Overdue(esc config.Escalation, now time.Time) bool {
	if a.Acked() || !a.Pages() {
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
	Error   string    // why it is stale or rate-limited
	Updated time.Time // engine time the latest sample arrived
	// LimitedUntil is the next poll of a query its source's rate limit
	// holds back (zero: none): until then, and a timeout after, the pane
	// is rate-limited, not STALE.
	LimitedUntil time.Time
	Series       []Point
}

// Run is a playbook run as seen through its events.
type Run struct {
	ID       string
	Playbook string
	Service  string
	State    RunState
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
	// Outputs is the last output each step recorded, by step: a rollback
	// or verification after a restart finds the values steps saved here.
	Outputs map[string]string
}

// Group is alerts about one condition: a pane's threshold alert with the
// imported alerts on the same service about its metric (or named by its
// alerts: matchers), the alerts of one imported rule or monitor on one
// service, or one dead source. It is acknowledged, escalated and paged as
// one. A group exists while it has open members.
type Group struct {
	Key     string
	Service string
	Opened  time.Time
	// Unacked counts open members that page and nobody acked; escalation
	// counts from UnackedSince, when it last rose from zero.
	Unacked      int
	UnackedSince time.Time
	// Escalated is the step reached since UnackedSince (1 backup, 2
	// commander): set only by an ESCALATE event, so a badge that reads
	// it is never ahead of the page.
	Escalated   int
	EscalatedTo string
	// OwnerPaged says the owner was paged since UnackedSince (with
	// escalation.owner set): an ESCALATE of step 0, which is no
	// escalation beyond the owner.
	OwnerPaged bool

	members map[string]bool // open member ids
}

// Size is the number of open alerts in the group.
func (g *Group) Size() int { return len(g.members) }

// Members lists the group's open alerts, worst first, then oldest.
func (s *State) Members(g *Group) []*Alert {
	out := make([]*Alert, 0, len(g.members))
	for id := range g.members {
		out = append(out, s.Alerts[id])
	}
	sortAlerts(out)
	return out
}

// GroupOf returns the open group an alert belongs to, or nil.
func (s *State) GroupOf(a *Alert) *Group {
	if g := s.Groups[a.Group]; g != nil && g.members[a.ID] {
		return g
	}
	return nil
}

// PageQueue is one person's paging state.
type PageQueue struct {
	Last    time.Time  // their last page
	Pending []PageItem // escalated to them since
}

// maxPending bounds a page queue: older items are dropped first (a page
// names at most maxPageItems anyway).
const maxPending = 1000

// PaneKey names a pane across services.
func PaneKey(service, pane string) string { return service + "/" + pane }

// legacyGroup is the group of an alert recorded before groups existed:
// each alert its own.
func legacyGroup(id string) string { return "alert:" + id }

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
		Groups:    map[string]*Group{},
		Pages:     map[string]*PageQueue{},
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
		if a := s.alert(e.Alert.ID); a != nil {
			was := a.waiting()
			a.AckedBy, a.AckedAt = e.Actor, e.Time
			if a.FirstAckedAt.IsZero() {
				a.FirstAckedAt = e.Time
			}
			s.recount(a, was, e.Time)
		}
	case KindResolve:
		if a := s.alert(e.Alert.ID); a != nil && a.Open() {
			was := a.waiting()
			a.ResolvedBy, a.ResolvedAt = e.Actor, e.Time
			if !e.Alert.EndsAt.IsZero() {
				a.EndsAt = e.Alert.EndsAt
			}
			delete(s.open, alertKey(a.Service, &AlertInfo{Origin: a.Origin, Pane: a.Pane, Key: a.Key}))
			s.recount(a, was, e.Time)
			if g := s.Groups[a.Group]; g != nil {
				delete(g.members, a.ID)
				if len(g.members) == 0 {
					delete(s.Groups, a.Group)
				}
			}
		}
	case KindEscalate:
		s.applyEscalate(e)
	case KindPage:
		if e.Page != nil {
			q := s.pageQueue(e.Page.To)
			q.Last, q.Pending = e.Time, nil
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
	case KindStorage:
		s.storageLogged = e.Storage
	case KindEvidence, KindCheck, KindCheckpoint, KindDecision, KindBaseline:
		s.applyLaunch(e)
	case KindSeverity, KindStatus, KindMarker, KindComponent, KindOverdue, KindUpdate, KindDelivery, KindFollowUp:
		s.applyLifecycle(e)
	}
	s.Recent = append(s.Recent, e)
	if len(s.Recent) > RecentLimit {
		// Into a new array: copies of the state share the old one (Clone).
		s.Recent = append(make([]Event, 0, RecentLimit+RecentLimit/4), s.Recent[len(s.Recent)-RecentLimit/2:]...)
	}
}

// ownAlerts gives a copy made by share its own alerts map (and its own
// copies of the open alerts) before it changes one.
func (s *State) ownAlerts() {
	if !s.alertsShared {
		return
	}
	m := maps.Clone(s.Alerts)
	for k, v := range m {
		if v.Open() {
			a := *v
			m[k] = &a
		}
	}
	s.Alerts, s.alertsShared = m, false
}

// alert returns the alert to change. Resolved alerts are shared between
// copies of the state (Clone), so one is copied before it changes.
func (s *State) alert(id string) *Alert {
	s.ownAlerts()
	a := s.Alerts[id]
	if a != nil && !a.Open() {
		c := *a
		a = &c
		s.Alerts[id] = a
	}
	return a
}

func (s *State) applyAlert(e Event) {
	info := e.Alert
	a := s.alert(info.ID)
	was := false
	if a == nil {
		a = &Alert{ID: info.ID, Seq: e.Seq, Service: e.Service, Pane: info.Pane, Origin: info.Origin, Key: info.Key, FiredAt: e.Time,
			Group: info.Group, Owner: info.Owner, Via: info.Via, StartsAt: info.StartsAt}
		if a.Group == "" {
			a.Group = legacyGroup(a.ID)
		}
		s.Alerts[info.ID] = a
		s.open[alertKey(e.Service, info)] = info.ID
		g := s.Groups[a.Group]
		if g == nil {
			g = &Group{Key: a.Group, Service: a.Service, Opened: e.Time, members: map[string]bool{}}
			s.Groups[a.Group] = g
		}
		g.members[a.ID] = true
	} else {
		was = a.waiting()
		if info.Level == LevelCrit && a.Level != LevelCrit && a.AckedBy != "" {
			// Worse than when it was acked: someone must look again.
			a.AckedBy, a.AckedAt = "", time.Time{}
			a.Escalated = 0
			a.Reopened = e.Time
		}
	}
	if info.Level.Rank() > a.Worst().Rank() {
		a.WorstLevel = info.Level
	}
	a.Level, a.Text, a.Value, a.Threshold, a.Unit = info.Level, e.Text, info.Value, info.Threshold, info.Unit
	a.Silenced = info.Silenced
	if info.Panes != nil {
		a.Panes = info.Panes
	}
	s.recount(a, was, e.Time)
}

// recount keeps the alert's group's Unacked in step with one alert's
// change (was: whether it counted before). When the count rises from
// zero, escalation starts over: a new problem, or an old one that got
// worse after its ack, goes to the owner first.
func (s *State) recount(a *Alert, was bool, t time.Time) {
	now := a.waiting()
	g := s.Groups[a.Group]
	if g == nil || was == now {
		return
	}
	if now {
		if g.Unacked == 0 {
			g.UnackedSince, g.Escalated, g.EscalatedTo, g.OwnerPaged = t, 0, "", false
		}
		g.Unacked++
		return
	}
	g.Unacked--
	if g.Unacked == 0 {
		g.UnackedSince = time.Time{}
	}
}

func (s *State) applyEscalate(e Event) {
	info := e.Alert
	s.escalateGroup(e, EscalatedGroup{Group: info.Group, Alert: info.ID, Service: e.Service, Title: info.Pane, Level: info.Level, Count: info.Count})
	for _, x := range info.Also {
		s.escalateGroup(e, x)
	}
}

// escalateGroup folds the escalation of one group of an ESCALATE event.
func (s *State) escalateGroup(e Event, x EscalatedGroup) {
	info := e.Alert
	a := s.alert(x.Alert)
	if a != nil && info.Step > 0 {
		a.Escalated = info.Step
	}
	key := x.Group
	if key == "" && a != nil {
		key = a.Group
	}
	if g := s.Groups[key]; g != nil {
		if x.Service == "" {
			x.Service = g.Service // a batch of several services
		}
		if info.Step == 0 {
			g.OwnerPaged = true
		} else {
			g.Escalated, g.EscalatedTo = info.Step, info.To
		}
	}
	if info.To == "" {
		return
	}
	q := s.pageQueue(info.To)
	title := x.Title
	if a != nil && a.Text != "" {
		title = a.Text
	}
	q.Pending = append(q.Pending, PageItem{Seq: e.Seq, Group: key, Alert: x.Alert, Service: x.Service, Title: title,
		Level: x.Level, Step: info.Step, Count: x.Count})
	if len(q.Pending) > maxPending {
		q.Pending = append(q.Pending[:0], q.Pending[len(q.Pending)-maxPending:]...)
	}
}

func (s *State) pageQueue(handle string) *PageQueue {
	q := s.Pages[handle]
	if q == nil {
		q = &PageQueue{}
		s.Pages[handle] = q
	}
	return q
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
		if info.Step != "" {
			// A new map: snapshots share the old one.
			outs := make(map[string]string, len(r.Outputs)+1)
			maps.Copy(outs, r.Outputs)
			outs[info.Step] = info.Output
			r.Outputs = outs
		}
	}
	r.Error = info.Error
}

// ApplyUpdate folds what a subscription delivers into a reader's copy:
// samples, the events it has not seen yet, presence and storage health.
func (s *State) ApplyUpdate(u Update) {
	if len(u.Samples) > 0 {
		s.ApplySamples(u.Samples, u.Now)
	}
	for _, ev := range u.Events {
		if ev.Seq > s.LastSeq { // not already in the snapshot
			s.Apply(ev)
		}
	}
	if u.Presence != nil {
		s.Presence = u.Presence // a fresh map per update, never changed after
	}
	if u.Storage != nil {
		s.Storage = *u.Storage
	}
	if u.Cluster != nil {
		s.Cluster = *u.Cluster
	}
}

// ApplySamples records samples in the panes' live values and histories.
// now is the engine time they arrived, used for staleness.
func (s *State) ApplySamples(samples []Sample, now time.Time) {
	for _, sm := range samples {
		p := s.pane(sm.Service, sm.Pane)
		if n := len(p.Series); n > 0 && !sm.Stale && !sm.NoData && sm.Time.Before(p.Series[n-1].T) {
			// Older than what the pane shows: history from a backfill that
			// succeeded after live samples came. It fills the series; the
			// live value, freshness and alerts stay as they are.
			p.Series = insertPoint(p.Series, Point{T: sm.Time, V: sm.Value})
			continue
		}
		p.Updated = now
		p.Stale, p.Error, p.LimitedUntil = sm.Stale, sm.Error, sm.Limited
		if sm.Stale || !sm.Limited.IsZero() {
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
			// Into a new array: copies of the state share the old one.
			p.Series = append(make([]Point, 0, SeriesLimit+SeriesLimit/4), p.Series[len(p.Series)-SeriesLimit*3/4:]...)
		}
	}
}

// Silent reports whether the pane has had no answer for longer than
// staleAfter, counting a rate limit's hold (LimitedUntil) as waiting, not
// silence: a source paced by its rate limit is not dead.
func (p *Pane) Silent(now, last time.Time, staleAfter time.Duration) bool {
	return now.Sub(last) > staleAfter && now.After(p.LimitedUntil.Add(staleAfter))
}

// insertPoint returns series with pt in time order, in a new array
// (copies of the state share the old one); a point already there at that
// time is kept.
func insertPoint(series []Point, pt Point) []Point {
	i := sort.Search(len(series), func(i int) bool { return !series[i].T.Before(pt.T) })
	if i < len(series) && series[i].T.Equal(pt.T) {
		return series
	}
	if len(series) >= SeriesLimit && i == 0 {
		return series // older than all a full history keeps
	}
	out := make([]Point, 0, len(series)+1)
	out = append(append(append(out, series[:i]...), pt), series[i:]...)
	if len(out) > SeriesLimit {
		out = out[len(out)-SeriesLimit:]
	}
	return out
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
	sortAlerts(out)
	return out
}

// sortAlerts orders alerts worst first (quiet ones after those that page),
// then oldest first.
func sortAlerts(out []*Alert) {
	sort.Slice(out, func(i, j int) bool {
		if q1, q2 := out[i].Quiet(), out[j].Quiet(); q1 != q2 {
			return q2
		}
		if r1, r2 := out[i].Level.Rank(), out[j].Level.Rank(); r1 != r2 {
			return r1 > r2
		}
		if !out[i].FiredAt.Equal(out[j].FiredAt) {
			return out[i].FiredAt.Before(out[j].FiredAt)
		}
		return out[i].Seq < out[j].Seq
	})
}

// Clone returns a copy for a new reader, as if deep: what either copy
// changes later, the other does not see. Resolved alerts (most of a long
// incident's) are shared, since Apply copies one before changing it.
func (s *State) Clone() *State {
	c := s.share()
	c.ownAlerts()
	return c
}

// share is Clone for a copy of a state that never changes again (the
// engine's frozen snapshot): the alerts map itself is shared until the
// copy first changes an alert (ownAlerts), so a reader that subscribes
// costs no copy of a long incident's alerts until it needs one.
func (s *State) share() *State {
	c := *s
	c.alertsShared = true
	c.Roles = s.Roles.Clone()
	c.Groups = make(map[string]*Group, len(s.Groups))
	for k, v := range s.Groups {
		g := *v
		g.members = make(map[string]bool, len(v.members))
		for id := range v.members {
			g.members[id] = true
		}
		c.Groups[k] = &g
	}
	c.Pages = make(map[string]*PageQueue, len(s.Pages))
	for k, v := range s.Pages {
		q := *v
		q.Pending = append([]PageItem(nil), v.Pending...)
		c.Pages[k] = &q
	}
	c.Panes = make(map[string]*Pane, len(s.Panes))
	for k, v := range s.Panes {
		p := *v
		p.Series = v.Series[:len(v.Series):len(v.Series)]
		c.Panes[k] = &p
	}
	c.Sources = maps.Clone(s.Sources)
	c.Runs = make(map[string]*Run, len(s.Runs))
	for k, v := range s.Runs {
		r := *v
		c.Runs[k] = &r
	}
	c.Launch = s.Launch.clone()
	c.Life = s.Life.clone()
	c.Presence = maps.Clone(s.Presence)
	c.Important = maps.Clone(s.Important)
	c.open = maps.Clone(s.open)
	// Recent and each pane's Series share their arrays: the state only
	// appends past the copy's length, and the copy's capacity ends at its
	// length, so its own first append moves it to an array of its own.
	// Trimming moves to a new array too (Apply, ApplySamples).
	c.Recent = s.Recent[:len(s.Recent):len(s.Recent)]
	return &c
}
