// Package incident is the war room's engine: one goroutine owns incident
// state, turns commands and samples into events, commits them to the journal
// and only then applies and publishes them.
package incident

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// Kind names what an event records. The names are part of the headless
// output and the export schema: keep them stable.
type Kind string

const (
	KindDeclare   Kind = "DECLARE"   // the incident is opened
	KindNote      Kind = "NOTE"      // a person wrote a note
	KindAlert     Kind = "ALERT"     // an alert fired or changed level
	KindAck       Kind = "ACK"       // an alert was acknowledged
	KindResolve   Kind = "RESOLVE"   // an alert was resolved
	KindEscalate  Kind = "ESCALATE"  // an unacked alert group was escalated to the next person
	KindPage      Kind = "PAGE"      // a person was paged: everything newly escalated to them
	KindRole      Kind = "ROLE"      // a role was assigned or cleared
	KindOffer     Kind = "OFFER"     // command was offered to someone
	KindAccept    Kind = "ACCEPT"    // the offer was accepted: command changed hands
	KindDecline   Kind = "DECLINE"   // the offer was declined or withdrawn
	KindImportant Kind = "IMPORTANT" // an event was marked (or unmarked) important
	KindSource    Kind = "SOURCE"    // a source's health changed
	KindRun       Kind = "RUN"       // a playbook run changed state
	KindMirror    Kind = "MIRROR"    // the Slack mirror went down or recovered
	KindStorage   Kind = "STORAGE"   // the journal's storage changed state (disk full, recovered)
	KindClock     Kind = "CLOCK"     // the system clock reads behind the journal, or caught up
	KindSeverity  Kind = "SEVERITY"  // the incident's severity was set
	KindStatus    Kind = "STATUS"    // the incident's status changed (investigating … resolved)
	KindMarker    Kind = "MARK"      // a milestone was marked: customer impact start or end, mitigated, resolved
	KindComponent Kind = "COMPONENT" // a public component's status was set
	KindUpdate    Kind = "UPDATE"    // a public update was submitted, published, rejected or withdrawn
	KindDelivery  Kind = "DELIVERY"  // a published update reached a destination, or its delivery is uncertain or failed
	KindOverdue   Kind = "OVERDUE"   // the next public update is overdue
	KindFollowUp  Kind = "FOLLOWUP"  // a note was marked (or unmarked) as a follow-up for the postmortem
	KindPaging    Kind = "PAGING"    // paging outside the room: a page PagerDuty refused, a refused webhook delivery
)

// Level is an alert's severity or condition.
type Level string

const (
	LevelOK      Level = "ok"
	LevelWarn    Level = "warn"
	LevelCrit    Level = "crit"
	LevelNoData  Level = "nodata"  // the query answers, with no series
	LevelStale   Level = "stale"   // the source stopped answering
	LevelUnknown Level = "unknown" // an imported alert in a state we don't know
	LevelInfo    Level = "info"    // an imported alert that informs (severity info, none; Datadog No Data)
)

// Rank orders levels for sorting: higher is worse.
func (l Level) Rank() int {
	switch l {
	case LevelCrit:
		return 6
	case LevelStale:
		return 5
	case LevelWarn:
		return 4
	case LevelNoData:
		return 3
	case LevelUnknown:
		return 2
	case LevelInfo:
		return 1
	}
	return 0
}

// Pages reports whether an alert at this level asks a person to act:
// informational and unknown alerts are shown but never escalate.
func (l Level) Pages() bool {
	switch l {
	case LevelCrit, LevelWarn, LevelStale, LevelNoData:
		return true
	}
	return false
}

// Event is one committed fact. Everything but the first five fields is the
// JSON body stored in the journal.
type Event struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    Kind      `json:"kind"`
	Actor   string    `json:"actor"`
	Service string    `json:"service,omitempty"`

	// Text is the one-line human description used by headless output,
	// the timeline and Slack.
	Text string `json:"text"`
	// Ref is the seq of an earlier event this one is about (the fired
	// alert for ACK/RESOLVE/ESCALATE, the marked event for IMPORTANT, the
	// offer for ACCEPT/DECLINE).
	Ref int64 `json:"ref,omitempty"`

	Alert  *AlertInfo  `json:"alert,omitempty"`
	Page   *PageInfo   `json:"page,omitempty"`
	Role   *RoleInfo   `json:"role,omitempty"`
	Source *SourceInfo `json:"source,omitempty"`
	Run    *RunInfo    `json:"run,omitempty"`
	Flag   *bool       `json:"flag,omitempty"` // IMPORTANT: marked or unmarked
	// Setup is the role assignment the incident was declared with.
	Setup *roles.Assignments `json:"setup,omitempty"`
	// Room describes the war room at declaration (DECLARE only), so that
	// a journal alone is enough to export a postmortem.
	Room *RoomInfo `json:"room,omitempty"`
	// Storage is the journal's new storage state (STORAGE only).
	Storage journal.StorageState `json:"storage,omitempty"`

	// Launch mode (see launch.go).
	Evidence   *EvidenceInfo   `json:"evidence,omitempty"`
	Check      *CheckInfo      `json:"check,omitempty"`
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	Decision   *DecisionInfo   `json:"decision,omitempty"`
	Baselines  *BaselinesInfo  `json:"baselines,omitempty"`
	// Life is the lifecycle change (SEVERITY, STATUS, MARK, COMPONENT,
	// OVERDUE).
	Life *LifecycleInfo `json:"life,omitempty"`
	// Update is the public update (UPDATE, DELIVERY).
	Update *UpdateInfo `json:"update,omitempty"`
}

// RoomInfo is the war-room file's shape as declared: names, zone, panes.
type RoomInfo struct {
	Timezone  string     `json:"timezone,omitempty"`
	Launch    *time.Time `json:"launch,omitempty"`
	Simulated bool       `json:"simulated,omitempty"`
	Drill     string     `json:"drill,omitempty"` // the injects of a drill
	// Plan is the launch plan as declared (criteria and checkpoints).
	Plan     *PlanInfo     `json:"plan,omitempty"`
	Services []ServiceInfo `json:"services"`
	People   []PersonInfo  `json:"people,omitempty"`
	// Escalation delays in seconds: backup, then commander.
	EscalateBackup    float64 `json:"escalate_backup_s,omitempty"`
	EscalateCommander float64 `json:"escalate_commander_s,omitempty"`
	// Severities names SEV1…SEV4.
	Severities []string `json:"severities,omitempty"`
	// Comms is the public side as declared (nil: no comms section).
	Comms *CommsInfo `json:"comms,omitempty"`
}

// CommsInfo is the war-room file's comms section as exports need it.
type CommsInfo struct {
	Title      string          `json:"title,omitempty"`
	Components []ComponentInfo `json:"components,omitempty"`
	// Cadence in seconds: between updates, and after a change.
	Every       float64 `json:"every_s,omitempty"`
	AfterChange float64 `json:"after_change_s,omitempty"`
}

// ComponentInfo is a public component and the services behind it.
type ComponentInfo struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Services []string `json:"services,omitempty"`
}

// PersonInfo is a roster entry as exports show it (no keys, no Slack IDs).
type PersonInfo struct {
	Handle string `json:"handle"`
	Name   string `json:"name,omitempty"`
}

// ServiceInfo is one service of RoomInfo.
type ServiceInfo struct {
	ID    string     `json:"id"`
	Name  string     `json:"name"`
	Panes []PaneInfo `json:"panes"`
}

// PaneInfo is one pane of ServiceInfo.
type PaneInfo struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Unit  string   `json:"unit,omitempty"`
	Warn  *float64 `json:"warn,omitempty"`
	Crit  *float64 `json:"crit,omitempty"`
	Below bool     `json:"below,omitempty"` // low values are bad
	Clear *float64 `json:"clear,omitempty"`
	For   float64  `json:"for_s,omitempty"` // seconds a breach must last
}

// AlertInfo describes the alert an ALERT/ACK/RESOLVE/ESCALATE event is about.
type AlertInfo struct {
	ID        string  `json:"id"`   // "A<seq of first firing>"
	Pane      string  `json:"pane"` // pane id, or the external alert's name
	Level     Level   `json:"level"`
	Value     float64 `json:"value,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Unit      string  `json:"unit,omitempty"`
	Origin    string  `json:"origin,omitempty"` // rule, datadog, prometheus, alertmanager, manual
	Key       string  `json:"key,omitempty"`    // external identity for imported alerts
	To        string  `json:"to,omitempty"`     // ESCALATE: who is paged
	Step      int     `json:"step,omitempty"`   // ESCALATE: 1 backup, 2 commander

	// Group is the alert group it belongs to (see Group): the pane's, or
	// one per imported rule or monitor, or one per dead source.
	Group string `json:"group,omitempty"`
	// Silenced says why an alert that is firing at its origin asks no one
	// to act (muted, a Datadog downtime, an Alertmanager silence).
	Silenced string `json:"silenced,omitempty"`
	// Owner (ALERT, firing) is the service owner told when it fires.
	Owner string `json:"owner,omitempty"`
	// StartsAt and EndsAt are the origin's own times (Alertmanager's
	// startsAt/endsAt, Prometheus' activeAt, Datadog's last triggered);
	// the event's time is when the room received it.
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Via is how an imported alert first arrived: poll or webhook; for
	// an ACK, where the person acked when not in the room (PagerDuty).
	Via string `json:"via,omitempty"`
	// Delivery (ACK, RESOLVE from outside the room) identifies the
	// message that carried it, such as a PagerDuty webhook's event id.
	Delivery []string `json:"delivery,omitempty"`
	// Panes (a source alert) are the panes the dead source leaves blank.
	Panes []string `json:"panes,omitempty"`
	// Count (ESCALATE) is how many unacked alerts the group holds.
	Count int `json:"count,omitempty"`
	// Also (ESCALATE) are the other groups escalated to the same person
	// at the same step in the same moment: a storm of many groups is a
	// few events, not one per group.
	Also []EscalatedGroup `json:"also,omitempty"`
	// Service (ESCALATE of groups of several services, so the event has
	// no service) is the service of the group the event stands for.
	Service string `json:"service,omitempty"`
}

// Concerns reports whether the event is about service: its own, or for
// an ESCALATE of several services' groups at once (which has none of its
// own), any of its groups' services. Filters by service use it.
func (e *Event) Concerns(service string) bool {
	if e.Service == service {
		return true
	}
	if e.Service != "" || e.Kind != KindEscalate || e.Alert == nil {
		return false
	}
	if e.Alert.Service == service {
		return true
	}
	for _, g := range e.Alert.Also {
		if g.Service == service {
			return true
		}
	}
	return false
}

// EscalatedGroup is one more group of an ESCALATE event (AlertInfo.Also):
// the group, the alert that stands for it, and its unacked count.
type EscalatedGroup struct {
	Group   string `json:"group"`
	Alert   string `json:"alert"`
	Service string `json:"service,omitempty"`
	Title   string `json:"title,omitempty"`
	Level   Level  `json:"level"`
	Count   int    `json:"count,omitempty"`
}

// PageInfo is a PAGE: one person, everything newly escalated to them
// since their last page (at most one page per person per PageEvery).
type PageInfo struct {
	To    string     `json:"to"`
	Items []PageItem `json:"items"`
	More  int        `json:"more,omitempty"` // items left out of Items for size
}

// PageItem is one group in a page: fired on the person's service (Step
// 0, the owner), or escalated to them (1 backup, 2 commander).
type PageItem struct {
	Seq     int64  `json:"seq"` // the ESCALATE event (for step 0, the ALERT)
	Group   string `json:"group"`
	Alert   string `json:"alert"` // the group's oldest unacked alert
	Service string `json:"service,omitempty"`
	Title   string `json:"title"`
	Level   Level  `json:"level"`
	Step    int    `json:"step"`
	Count   int    `json:"count,omitempty"` // unacked alerts in the group
}

// RoleInfo describes a ROLE/OFFER/ACCEPT/DECLINE event.
type RoleInfo struct {
	Role     roles.Role `json:"role"`
	Service  string     `json:"service,omitempty"`
	Handle   string     `json:"handle"`             // the new holder (or offeree)
	Previous string     `json:"previous,omitempty"` // the one it was taken from
	// Stay (OFFER) is the role the commander keeps after the handoff:
	// deputy, or "" to step down.
	Stay roles.Role `json:"stay,omitempty"`
}

// SourceHealth is how a source's polls are going.
type SourceHealth string

const (
	SourceUp          SourceHealth = "up"
	SourceDegraded    SourceHealth = "degraded" // some of its queries are failing
	SourceDown        SourceHealth = "down"     // all of them are failing
	SourceRateLimited SourceHealth = "rate-limited"
)

// SourceInfo describes a SOURCE health change.
type SourceInfo struct {
	ID     string       `json:"id"`
	Health SourceHealth `json:"health"`
	Error  string       `json:"error,omitempty"`
	// Every is how often the source polls while it paces itself to make a
	// rate-limit budget last (0: at its interval); the engine's STALE
	// watchdog waits that much longer for its panes.
	Every time.Duration `json:"every,omitempty"`
}

// RunInfo describes a playbook run transition. The playbook runner owns the
// meaning of States; the engine records and folds them.
type RunInfo struct {
	ID       string            `json:"id"`
	Playbook string            `json:"playbook"`
	State    RunState          `json:"state"`
	Step     string            `json:"step,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Hash     string            `json:"hash,omitempty"`
	Output   string            `json:"output,omitempty"`
	Error    string            `json:"error,omitempty"`
	// Index and Of place Step in its section: step Index of Of (1-based).
	Index int `json:"index,omitempty"`
	Of    int `json:"of,omitempty"`
	// Lock is the named lock the run takes when approved (the request).
	Lock string `json:"lock,omitempty"`
	// Plan is the dry run the requester saw and confirmed (the request),
	// so an approver sees the same changes without any I/O.
	Plan *RunPlan `json:"plan,omitempty"`
}

// RunPlan is a requester's dry run as the request records it: the risk,
// the steps, and every change old → new as read when the dry run ran.
type RunPlan struct {
	Title   string       `json:"title,omitempty"`
	Risk    string       `json:"risk,omitempty"`
	At      time.Time    `json:"at"` // when the current values were read
	Steps   []PlanStep   `json:"steps,omitempty"`
	Changes []PlanChange `json:"changes,omitempty"`
	// Error is why a step of the dry run failed ("" if none did).
	Error string `json:"error,omitempty"`
}

// PlanStep is one step of a RunPlan.
type PlanStep struct {
	Section string `json:"section"` // steps, verify or rollback
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	What    string `json:"what"` // the exact request, argv or condition
}

// PlanChange is one value a run changes: Old as read, New as planned.
type PlanChange struct {
	Step  string `json:"step"`
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// NoOp reports a change to the value it already has.
func (c PlanChange) NoOp() bool { return c.Old == c.New }

// Plan bounds: a request is one event and must stay small.
const (
	maxPlanItems = 40
	maxPlanText  = 400
)

// bounded returns a copy of the plan within the size bounds.
func (p *RunPlan) bounded() *RunPlan {
	if p == nil {
		return nil
	}
	c := &RunPlan{Title: clip(p.Title, maxPlanText), Risk: clip(p.Risk, 40), At: p.At, Error: clip(p.Error, maxPlanText)}
	for i, s := range p.Steps {
		if i == maxPlanItems {
			break
		}
		c.Steps = append(c.Steps, PlanStep{Section: clip(s.Section, 20), ID: clip(s.ID, 80), Kind: clip(s.Kind, 20), What: clip(s.What, maxPlanText)})
	}
	for i, ch := range p.Changes {
		if i == maxPlanItems {
			break
		}
		c.Changes = append(c.Changes, PlanChange{Step: clip(ch.Step, 80), Field: clip(ch.Field, 120), Old: clip(ch.Old, maxPlanText), New: clip(ch.New, maxPlanText)})
	}
	return c
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Line formats the event the way headless modes print it:
// #<seq> <RFC3339 UTC> <KIND> <service or -> <text>
// The text may come from anyone (a webhook, a note): it is made inert.
func (e Event) Line() string {
	svc := e.Service
	if svc == "" {
		svc = "-"
	}
	return fmt.Sprintf("#%d %s %s %s %s", e.Seq, e.Time.UTC().Format(time.RFC3339), textsafe.Line(string(e.Kind)), textsafe.Line(svc), textsafe.Line(e.Text))
}

// body is the part of Event stored as JSON.
type body struct {
	Text    string               `json:"text"`
	Ref     int64                `json:"ref,omitempty"`
	Alert   *AlertInfo           `json:"alert,omitempty"`
	Page    *PageInfo            `json:"page,omitempty"`
	Role    *RoleInfo            `json:"role,omitempty"`
	Source  *SourceInfo          `json:"source,omitempty"`
	Run     *RunInfo             `json:"run,omitempty"`
	Flag    *bool                `json:"flag,omitempty"`
	Setup   *roles.Assignments   `json:"setup,omitempty"`
	Room    *RoomInfo            `json:"room,omitempty"`
	Storage journal.StorageState `json:"storage,omitempty"`

	Evidence   *EvidenceInfo   `json:"evidence,omitempty"`
	Check      *CheckInfo      `json:"check,omitempty"`
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	Decision   *DecisionInfo   `json:"decision,omitempty"`
	Baselines  *BaselinesInfo  `json:"baselines,omitempty"`
	Life       *LifecycleInfo  `json:"life,omitempty"`
	Update     *UpdateInfo     `json:"update,omitempty"`
}

// ToJournal encodes the event as a journal row.
func (e Event) ToJournal() journal.Event {
	b, err := json.Marshal(body{Text: e.Text, Ref: e.Ref, Alert: e.Alert, Page: e.Page, Role: e.Role, Source: e.Source, Run: e.Run, Flag: e.Flag, Setup: e.Setup, Room: e.Room, Storage: e.Storage,
		Evidence: e.Evidence, Check: e.Check, Checkpoint: e.Checkpoint, Decision: e.Decision, Baselines: e.Baselines, Life: e.Life, Update: e.Update})
	if err != nil {
		// All fields are plain data; a failure here is a programming error.
		panic(fmt.Sprintf("encode event: %v", err))
	}
	return journal.Event{Seq: e.Seq, Time: e.Time.UTC(), Kind: string(e.Kind), Actor: e.Actor, Service: e.Service, Body: b}
}

// FromJournal decodes a journal row.
func FromJournal(j journal.Event) (Event, error) {
	var b body
	if err := json.Unmarshal(j.Body, &b); err != nil {
		return Event{}, fmt.Errorf("event #%d: bad body: %w", j.Seq, err)
	}
	return Event{
		Seq: j.Seq, Time: j.Time, Kind: Kind(j.Kind), Actor: j.Actor, Service: j.Service,
		Text: b.Text, Ref: b.Ref, Alert: b.Alert, Page: b.Page, Role: b.Role, Source: b.Source, Run: b.Run, Flag: b.Flag, Setup: b.Setup, Room: b.Room, Storage: b.Storage,
		Evidence: b.Evidence, Check: b.Check, Checkpoint: b.Checkpoint, Decision: b.Decision, Baselines: b.Baselines,
		Life: b.Life, Update: b.Update,
	}, nil
}

// Sample is one observation of a pane, as sources deliver it.
type Sample struct {
	Service string    `json:"service"`
	Pane    string    `json:"pane"`
	Time    time.Time `json:"time"`
	Value   float64   `json:"value"`
	NoData  bool      `json:"nodata,omitempty"` // the query answered with no series
	// Stale reports that the query failed or timed out: the value is unknown.
	Stale bool   `json:"stale,omitempty"`
	Error string `json:"error,omitempty"` // why, for Stale and Limited
	// Limited reports that the source's rate limit holds the query back
	// (a 429 we wait out, as the source asked) until then, its next poll:
	// the value is not current, but the source answers.
	Limited time.Time `json:"limited,omitzero"`
}

// ExternalAlert is an alert imported from Datadog monitors, Prometheus rules
// or Alertmanager. Sources report the current set; the engine turns changes
// into events.
type ExternalAlert struct {
	Origin string // the source's origin (see sources.Origin)
	// Key is the identity within the origin: monitor id + group, or the
	// label-set fingerprint, which Alertmanager's webhook and Prometheus'
	// API give alike, so both paths name one alert.
	Key     string
	Service string
	Name    string
	Level   Level // crit, warn, info (never pages) or unknown (never pages)
	Firing  bool  // false: resolved at the origin
	Text    string

	// Silenced says why it asks no one to act (shown, never pages).
	Silenced string
	// StartsAt and EndsAt are the origin's times, when it gives them.
	StartsAt, EndsAt time.Time
	// Labels (Prometheus labels; Datadog monitor fields and tags) are
	// what a pane's alerts: matchers see.
	Labels map[string]string
	// Metrics the alert's query reads, when the origin says: an alert
	// about a pane's metric joins the pane's group.
	Metrics []string
	// Rule names what the alert is an instance of (alertname:X,
	// monitor:N): alerts of one rule on one service form one group.
	Rule string
}
