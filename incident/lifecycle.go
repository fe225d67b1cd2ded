package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
)

// This file is the incident's public face: its severity and status, the
// milestones people mark (customer impact, mitigated, resolved), public
// components, and the updates published to customers, with the cadence
// they are due on. Everything is a fold over events, so the dashboard,
// the publishers and the postmortem see the same.

// Public incident statuses, as Statuspage (and incident.io, Rootly and
// PagerDuty after it) name them.
const (
	StatusInvestigating = "investigating"
	StatusIdentified    = "identified"
	StatusMonitoring    = "monitoring"
	StatusResolved      = "resolved"
)

// Severity levels, SEV1 the worst; their names are in the war-room file.
var SeverityLevels = []string{"SEV1", "SEV2", "SEV3", "SEV4"}

// Component statuses (Statuspage's five).
const (
	ComponentOperational = "operational"
	ComponentDegraded    = "degraded_performance"
	ComponentPartial     = "partial_outage"
	ComponentMajor       = "major_outage"
	ComponentMaintenance = "under_maintenance"
)

// ComponentLabel is a component status in words.
func ComponentLabel(s string) string {
	switch s {
	case ComponentOperational, "":
		return "operational"
	case ComponentDegraded:
		return "degraded performance"
	case ComponentPartial:
		return "partial outage"
	case ComponentMajor:
		return "major outage"
	case ComponentMaintenance:
		return "under maintenance"
	}
	return s
}

// ComponentRank orders component statuses: higher is worse.
func ComponentRank(s string) int {
	switch s {
	case ComponentDegraded:
		return 1
	case ComponentPartial:
		return 2
	case ComponentMajor:
		return 3
	}
	return 0
}

// Marker is a milestone of the incident that people mark.
type Marker string

const (
	MarkImpactStart Marker = "impact_start" // customers started to be affected
	MarkImpactEnd   Marker = "impact_end"   // customers stopped being affected
	MarkMitigated   Marker = "mitigated"    // the impact is contained (a fix or workaround is in)
	MarkResolved    Marker = "resolved"     // the incident is over
)

// Markers lists them in order.
var Markers = []Marker{MarkImpactStart, MarkImpactEnd, MarkMitigated, MarkResolved}

// Label is the marker in words.
func (m Marker) Label() string {
	switch m {
	case MarkImpactStart:
		return "customer impact started"
	case MarkImpactEnd:
		return "customer impact ended"
	case MarkMitigated:
		return "mitigated"
	case MarkResolved:
		return "resolved"
	}
	return string(m)
}

// LifecycleInfo is the body of SEVERITY, STATUS, MARK, COMPONENT and
// OVERDUE events.
type LifecycleInfo struct {
	Severity  string    `json:"severity,omitempty"`  // SEVERITY: SEV1…SEV4
	Status    string    `json:"status,omitempty"`    // STATUS: the new status; COMPONENT: the component's
	Marker    Marker    `json:"marker,omitempty"`    // MARK
	At        time.Time `json:"at,omitzero"`         // MARK: when it happened (may be before the event)
	Component string    `json:"component,omitempty"` // COMPONENT: its id
	Previous  string    `json:"previous,omitempty"`  // the severity or status it replaced
	Due       time.Time `json:"due,omitzero"`        // OVERDUE: when the update was due
	To        string    `json:"to,omitempty"`        // OVERDUE: who is reminded
}

// Update states (UPDATE events), and delivery states (DELIVERY events).
const (
	UpdateAwaiting   = "awaiting_approval"
	UpdatePublished  = "published"
	UpdateRejected   = "rejected"
	UpdateWithdrawn  = "withdrawn"
	UpdateSuperseded = "superseded"

	DeliveryDelivered = "delivered"
	DeliveryUncertain = "uncertain"
	DeliveryFailed    = "failed"
)

// Draft is a public update exactly as it will be published.
type Draft struct {
	Title      string            `json:"title"`  // the public incident's name
	Status     string            `json:"status"` // investigating … resolved
	Body       string            `json:"body"`
	Components []ComponentChange `json:"components,omitempty"` // statuses it sets
	// Notify tells subscribers (Statuspage's deliver_notifications).
	Notify   bool   `json:"notify"`
	Template string `json:"template,omitempty"` // the template it started from
}

// ComponentChange sets one component's public status.
type ComponentChange struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Hash identifies the draft's exact content: an approval is bound to it.
func (d Draft) Hash() string {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// UpdateInfo is the body of UPDATE and DELIVERY events.
type UpdateInfo struct {
	ID    string `json:"id"` // "U<seq>" of the event that submitted it
	State string `json:"state"`
	Draft *Draft `json:"draft,omitempty"` // UPDATE: awaiting approval, published
	Hash  string `json:"hash,omitempty"`
	By    string `json:"by,omitempty"` // UPDATE: who wrote it (the actor approves or declines)
	// Key is the idempotency key every destination gets (UPDATE
	// published).
	Key    string `json:"key,omitempty"`
	Dest   string `json:"dest,omitempty"`   // DELIVERY: the destination
	Remote string `json:"remote,omitempty"` // DELIVERY: the service's id of it
	Error  string `json:"error,omitempty"`
	Reason string `json:"reason,omitempty"` // UPDATE rejected or withdrawn: why
}

// PublicUpdate is one update as the fold knows it.
type PublicUpdate struct {
	ID          string
	Seq         int64 // the submission
	Draft       Draft
	Hash        string
	By          string // who wrote it
	Approver    string // who approved it ("" when it needed no approval)
	State       string
	DraftedAt   time.Time
	PublishedAt time.Time
	Key         string
	PublishSeq  int64
	// Delivery is each destination's outcome, by destination.
	Delivery map[string]Delivery
}

// Delivery is one destination's outcome for an update.
type Delivery struct {
	State  string
	At     time.Time
	Remote string
	Error  string
}

// Lifecycle is the incident's public face, folded from events.
type Lifecycle struct {
	Severity    string
	SeverityAt  time.Time
	Status      string // "" until the incident goes public
	StatusAt    time.Time
	PublicSince time.Time // the first status, or the first impact start mark
	// Marks are the milestones people marked (the latest of each wins).
	Marks map[Marker]time.Time
	// FirstStatus is when each status was first reached.
	FirstStatus map[string]time.Time
	// Components are the public components' statuses (absent:
	// operational).
	Components map[string]string
	Updates    []*PublicUpdate // published, oldest first
	Pending    *PublicUpdate   // awaiting approval
	// LastChange is the last public status change no update carried
	// (STATUS or COMPONENT events of their own).
	LastChange time.Time
	// OverdueFor is the due time the last OVERDUE event reported: one
	// event per lapse.
	OverdueFor time.Time
	Overdues   int
	// FollowUps are NOTE events marked as follow-ups.
	FollowUps map[int64]bool
}

// Published is the newest published update (nil before the first).
func (l *Lifecycle) Published() *PublicUpdate {
	if n := len(l.Updates); n > 0 {
		return l.Updates[n-1]
	}
	return nil
}

// Update returns the update with the id (published or pending).
func (l *Lifecycle) Update(id string) *PublicUpdate {
	if l.Pending != nil && l.Pending.ID == id {
		return l.Pending
	}
	for _, u := range l.Updates {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// Component is a public component's status.
func (l *Lifecycle) Component(id string) string {
	if s := l.Components[id]; s != "" {
		return s
	}
	return ComponentOperational
}

func (l *Lifecycle) clone() Lifecycle {
	c := *l
	c.Marks = maps.Clone(l.Marks)
	c.FirstStatus = maps.Clone(l.FirstStatus)
	c.Components = maps.Clone(l.Components)
	c.FollowUps = maps.Clone(l.FollowUps)
	c.Updates = l.Updates[:len(l.Updates):len(l.Updates)]
	return c
}

// applyLifecycle folds the lifecycle's events.
func (s *State) applyLifecycle(e Event) {
	l := &s.Life
	switch e.Kind {
	case KindSeverity:
		l.Severity, l.SeverityAt = e.Life.Severity, e.Time
	case KindStatus:
		if l.PublicSince.IsZero() {
			l.PublicSince = e.Time
		}
		l.Status, l.StatusAt = e.Life.Status, e.Time
		if l.FirstStatus == nil {
			l.FirstStatus = map[string]time.Time{}
		}
		if _, ok := l.FirstStatus[l.Status]; !ok {
			l.FirstStatus[l.Status] = e.Time
		}
		if e.Ref == 0 {
			l.LastChange = e.Time
		}
	case KindMarker:
		if l.Marks == nil {
			l.Marks = map[Marker]time.Time{}
		}
		at := e.Life.At
		if at.IsZero() {
			at = e.Time
		}
		l.Marks[e.Life.Marker] = at
		if e.Life.Marker == MarkImpactStart && l.PublicSince.IsZero() {
			l.PublicSince = e.Time
			l.LastChange = e.Time
		}
	case KindComponent:
		if l.Components == nil {
			l.Components = map[string]string{}
		}
		l.Components[e.Life.Component] = e.Life.Status
		if e.Ref == 0 {
			l.LastChange = e.Time
		}
	case KindOverdue:
		l.OverdueFor = e.Life.Due
		l.Overdues++
	case KindUpdate:
		s.applyUpdate(e)
	case KindDelivery:
		u := l.Update(e.Update.ID)
		if u == nil {
			return
		}
		c := *u // shared with copies of the state: change a copy
		c.Delivery = maps.Clone(u.Delivery)
		if c.Delivery == nil {
			c.Delivery = map[string]Delivery{}
		}
		c.Delivery[e.Update.Dest] = Delivery{State: e.Update.State, At: e.Time, Remote: e.Update.Remote, Error: e.Update.Error}
		l.replace(u, &c)
	case KindFollowUp:
		if l.FollowUps == nil {
			l.FollowUps = map[int64]bool{}
		}
		if e.Flag != nil && *e.Flag {
			l.FollowUps[e.Ref] = true
		} else {
			delete(l.FollowUps, e.Ref)
		}
	}
}

func (l *Lifecycle) replace(old, nu *PublicUpdate) {
	if l.Pending == old {
		l.Pending = nu
		return
	}
	i := slices.Index(l.Updates, old)
	if i < 0 {
		return
	}
	ups := slices.Clone(l.Updates)
	ups[i] = nu
	l.Updates = ups
}

func (s *State) applyUpdate(e Event) {
	l := &s.Life
	in := e.Update
	switch in.State {
	case UpdateAwaiting:
		l.Pending = &PublicUpdate{ID: in.ID, Seq: e.Seq, Draft: *in.Draft, Hash: in.Hash, By: in.By, State: UpdateAwaiting, DraftedAt: e.Time}
	case UpdatePublished:
		u := &PublicUpdate{ID: in.ID, Seq: e.Seq, Draft: *in.Draft, Hash: in.Hash, By: in.By, State: UpdatePublished,
			DraftedAt: e.Time, PublishedAt: e.Time, Key: in.Key, PublishSeq: e.Seq}
		if p := l.Pending; p != nil && p.ID == in.ID {
			u.Seq, u.DraftedAt, u.Approver = p.Seq, p.DraftedAt, e.Actor
			l.Pending = nil
		}
		l.Updates = append(l.Updates, u)
		l.OverdueFor = time.Time{}
	case UpdateRejected, UpdateWithdrawn, UpdateSuperseded:
		if p := l.Pending; p != nil && p.ID == in.ID {
			l.Pending = nil
		}
	}
}

// Cadence is the public-update cadence of a war room (zero: none).
type Cadence struct {
	Every       time.Duration
	AfterChange time.Duration
}

// CadenceOf reads the war-room file's cadence (zero without comms).
func CadenceOf(c *config.Config) Cadence {
	if c == nil || c.Comms == nil {
		return Cadence{}
	}
	return Cadence{Every: c.Comms.Cadence.Every.D(), AfterChange: c.Comms.Cadence.AfterChange.D()}
}

// NextUpdate is when the next public update is due, and why; zero when
// none is: no cadence, the incident is not public, or customers were told
// it is resolved.
func (l *Lifecycle) NextUpdate(c Cadence) (time.Time, string) {
	if c.Every <= 0 && c.AfterChange <= 0 || l.PublicSince.IsZero() {
		return time.Time{}, ""
	}
	last := l.Published()
	if l.Status == StatusResolved && last != nil && last.Draft.Status == StatusResolved && !l.LastChange.After(last.PublishedAt) {
		return time.Time{}, ""
	}
	var due time.Time
	why := ""
	consider := func(t time.Time, w string) {
		if due.IsZero() || t.Before(due) {
			due, why = t, w
		}
	}
	if c.AfterChange > 0 {
		switch {
		case last == nil:
			consider(l.PublicSince.Add(c.AfterChange), "the first update is due "+Age(c.AfterChange)+" after the incident went public")
		case l.LastChange.After(last.PublishedAt):
			consider(l.LastChange.Add(c.AfterChange), "a status changed; an update is due within "+Age(c.AfterChange))
		}
	}
	if c.Every > 0 && last != nil {
		consider(last.PublishedAt.Add(c.Every), "updates are due every "+Age(c.Every)+" until resolved")
	}
	return due, why
}

// Reminded is who the cadence reminds: the comms role, or the commander
// when nobody holds it.
func (s *State) Reminded() string {
	if s.Roles.Comms != "" {
		return s.Roles.Comms
	}
	return s.Roles.Commander
}

// SuggestComponent is the status a component's services' open alerts
// suggest, and why: a crit alert a partial outage, a warn alert degraded
// performance, none operational. A dead source suggests nothing ("", why):
// the room cannot tell. A major outage is only ever a person's call.
func (s *State) SuggestComponent(services []string) (string, string) {
	worst := LevelOK
	var which *Alert
	for _, a := range s.OpenAlerts() {
		if !slices.Contains(services, a.Service) || a.Quiet() {
			continue
		}
		if a.Level.Rank() > worst.Rank() {
			worst, which = a.Level, a
		}
	}
	switch worst {
	case LevelCrit:
		return ComponentPartial, which.ID + " " + which.Service + " is crit"
	case LevelStale, LevelNoData:
		return "", which.ID + " " + which.Service + " is " + levelWord(worst) + ": the room cannot tell"
	case LevelWarn:
		return ComponentDegraded, which.ID + " " + which.Service + " is warn"
	}
	return ComponentOperational, "no open alerts"
}

func levelWord(l Level) string {
	switch l {
	case LevelStale:
		return "STALE"
	case LevelNoData:
		return "NO DATA"
	}
	return string(l)
}

// Times are the incident's milestones and how each was found.
type Times struct {
	Start     time.Time // customer impact started (marked), else Detected
	Detected  time.Time // the first paging alert of the incident, else when it went public
	Acked     time.Time // the first acknowledgement or status after detection
	Mitigated time.Time // marked, else the first "monitoring"
	Resolved  time.Time // marked, else the first "resolved"
	ImpactEnd time.Time // marked
	// StartMarked says Start was marked (time to detect is measurable).
	StartMarked bool
	// How says, per milestone, where its time came from.
	How map[string]string
}

// TTD is time to detect: impact start to detection (false unless the
// impact start was marked).
func (t Times) TTD() (time.Duration, bool) {
	return span(t.Start, t.Detected, t.StartMarked)
}

// TTA is time to acknowledge: detection to the first human response.
func (t Times) TTA() (time.Duration, bool) { return span(t.Detected, t.Acked, true) }

// TTM is time to mitigate, from the start.
func (t Times) TTM() (time.Duration, bool) { return span(t.Start, t.Mitigated, true) }

// TTR is time to resolve, from the start.
func (t Times) TTR() (time.Duration, bool) { return span(t.Start, t.Resolved, true) }

// Impact is the customer impact window (false when its end is not known).
func (t Times) Impact() (time.Duration, bool) {
	end := t.ImpactEnd
	if end.IsZero() {
		end = t.Resolved
	}
	return span(t.Start, end, t.StartMarked)
}

func span(from, to time.Time, ok bool) (time.Duration, bool) {
	if !ok || from.IsZero() || to.IsZero() || to.Before(from) {
		return 0, false
	}
	return to.Sub(from), true
}

// Times computes the milestones. All of them are differences of absolute
// times, so they hold across midnight, time zones, handoffs and restarts.
//
//   - Start is the "customer impact started" mark; unmarked, it is the
//     detection (and time to detect cannot be measured).
//   - Detected is the first firing, at or after the start, of a warn or
//     crit alert that is not silenced (an alert already firing at the start counts from the
//     start); with no impact mark, alerts still open when the incident
//     went public or fired after count; with none, it is when the
//     incident went public.
//   - Acked is the first acknowledgement of such an alert (warn or crit,
//     not silenced: acking an info alert is not a response to the
//     incident), or the first public status, at or after detection.
//   - Mitigated and Resolved are their marks, else the first time the
//     status was monitoring, resolved.
func (s *State) Times() Times {
	l := &s.Life
	t := Times{How: map[string]string{}}
	start, marked := l.Marks[MarkImpactStart]
	from := start
	if !marked {
		from = l.PublicSince
	}
	if from.IsZero() {
		return t // nothing is public or marked yet
	}
	var det time.Time
	for _, a := range s.Alerts {
		if w := a.Worst(); w != LevelWarn && w != LevelCrit || a.Silenced != "" {
			continue // a dead source or a quiet alert detects nothing
		}
		if !a.Open() && !a.ResolvedAt.After(from) {
			continue // over by the start
		}
		at := a.FiredAt
		if marked && at.Before(from) {
			at = from
		}
		if det.IsZero() || at.Before(det) {
			det = at
		}
	}
	switch {
	case !det.IsZero():
		t.Detected, t.How["detected"] = det, "first paging alert"
	default:
		t.Detected, t.How["detected"] = l.PublicSince, "the incident went public (no paging alert)"
		if t.Detected.IsZero() || marked && t.Detected.Before(start) {
			t.Detected = start
		}
	}
	if marked {
		t.Start, t.StartMarked, t.How["start"] = start, true, "marked"
	} else {
		t.Start, t.How["start"] = t.Detected, "not marked: the detection"
	}
	var ack time.Time
	for _, a := range s.Alerts {
		if w := a.Worst(); w != LevelWarn && w != LevelCrit || a.Silenced != "" {
			continue
		}
		if at := a.FirstAckedAt; !at.IsZero() && !at.Before(t.Detected) && (ack.IsZero() || at.Before(ack)) {
			ack = at
		}
	}
	t.How["acked"] = "first acknowledgement of a paging alert"
	for _, at := range l.FirstStatus {
		if !at.Before(t.Detected) && (ack.IsZero() || at.Before(ack)) {
			ack, t.How["acked"] = at, "first public status"
		}
	}
	t.Acked = ack
	pick := func(m Marker, status, key string) time.Time {
		if at, ok := l.Marks[m]; ok {
			t.How[key] = "marked"
			return at
		}
		if at, ok := l.FirstStatus[status]; ok {
			t.How[key] = "status " + status
			return at
		}
		return time.Time{}
	}
	t.Mitigated = pick(MarkMitigated, StatusMonitoring, "mitigated")
	t.Resolved = pick(MarkResolved, StatusResolved, "resolved")
	t.ImpactEnd = l.Marks[MarkImpactEnd]
	return t
}

// UpdateKey is the idempotency key of a published update: the incident
// (its name and declaration time) and the update's id, so two rooms that
// publish to one status page never collide.
func UpdateKey(name string, declared time.Time, id string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", declared.UnixNano(), name))
	return "warroom-" + hex.EncodeToString(sum[:5]) + "-" + id
}

// firstLine is s's first line, cut to n runes.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	return clipRunes(strings.TrimSpace(s), n)
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Silence is what customers heard, measured: the wait for the first
// update and the longest stretch without one.
type Silence struct {
	// FirstUpdate is from the start to the first published update
	// (HasFirst false: none was published).
	FirstUpdate time.Duration
	HasFirst    bool
	// Longest is the longest stretch without an update, From → To, while
	// the incident was not yet said to be resolved.
	Longest  time.Duration
	From, To time.Time
}

// Silences measures the updates between start (the impact start, else
// when the incident went public) and end (the last event): the update
// that says "resolved" closes the window early.
func (l *Lifecycle) Silences(start, end time.Time) Silence {
	var s Silence
	if start.IsZero() || end.Before(start) {
		return s
	}
	prev := start
	gap := func(to time.Time) {
		if d := to.Sub(prev); d > s.Longest {
			s.Longest, s.From, s.To = d, prev, to
		}
		prev = to
	}
	for _, u := range l.Updates {
		at := u.PublishedAt
		if at.Before(start) {
			continue
		}
		if !s.HasFirst {
			s.FirstUpdate, s.HasFirst = at.Sub(start), true
		}
		gap(at)
		if u.Draft.Status == StatusResolved {
			return s
		}
	}
	gap(end)
	return s
}
