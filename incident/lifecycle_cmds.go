package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
)

// SetSeverity sets the incident's severity (the commander's call).
type SetSeverity struct {
	By       string
	Severity string // SEV1…SEV4
}

// SetStatus sets the incident's status (investigating … resolved). It
// changes what the room says; customers hear it from the next update,
// which the cadence then expects soon.
type SetStatus struct {
	By     string
	Status string
}

// Mark records a milestone. At is when it happened (zero: now); it may be
// earlier than the event, not later.
type Mark struct {
	By     string
	Marker Marker
	At     time.Time
}

// SetComponent sets a public component's status. Components are public
// at once (Statuspage shows a component's status without an update).
type SetComponent struct {
	By        string
	Component string
	Status    string
}

// SubmitUpdate publishes a public update, or asks the commander (or the
// deputy) to approve it first when the war-room file says it needs
// approval (by default the first update, and any that changes the
// incident's status). The commander's own updates never wait. A new
// submission supersedes one still waiting.
type SubmitUpdate struct {
	By    string
	Draft Draft
}

// ApproveUpdate approves the update waiting for approval, bound to the
// hash of the exact draft the approver saw: it is published.
type ApproveUpdate struct {
	By   string
	ID   string
	Hash string
}

// DeclineUpdate rejects the waiting update (the commander or deputy) or
// withdraws it (its author).
type DeclineUpdate struct {
	By     string
	ID     string
	Reason string
}

// RecordDelivery records a published update's outcome at one destination
// (a publisher's report: delivered, uncertain or failed). A repeat of the
// state already recorded records nothing.
type RecordDelivery struct {
	Dest   string // "statuspage"
	Label  string // the destination in words ("Statuspage")
	ID     string
	State  string
	Remote string
	Error  string
}

// MarkFollowUp marks (or unmarks) a note as a follow-up: the postmortem
// lists it among the action items.
type MarkFollowUp struct {
	By       string
	Seq      int64
	FollowUp bool
}

func (c SetSeverity) decide(d *decider) error {
	if err := d.check(c.By, roles.ActSeverity, ""); err != nil {
		return err
	}
	if !slices.Contains(SeverityLevels, c.Severity) {
		return roles.Refuse("severity is one of %s, not %q", strings.Join(SeverityLevels, ", "), c.Severity)
	}
	prev := d.s.Life.Severity
	if prev == c.Severity {
		return roles.Refuse("the severity is already %s", d.e.severityName(prev))
	}
	text := fmt.Sprintf("%s set the severity to %s", c.By, d.e.severityName(c.Severity))
	if prev != "" {
		text += " (was " + d.e.severityName(prev) + ")"
	}
	d.emit(Event{Kind: KindSeverity, Actor: c.By, Text: text, Life: &LifecycleInfo{Severity: c.Severity, Previous: prev}})
	return nil
}

// severityName is "SEV2 Major".
func (e *Engine) severityName(level string) string {
	if n := e.cfg.Incident.Severities.Name(level); n != "" {
		return level + " " + n
	}
	return level
}

func (c SetStatus) decide(d *decider) error {
	if err := d.check(c.By, roles.ActStatus, ""); err != nil {
		return err
	}
	if !slices.Contains(config.IncidentStatuses, c.Status) {
		return roles.Refuse("the status is one of %s, not %q", strings.Join(config.IncidentStatuses, ", "), c.Status)
	}
	prev := d.s.Life.Status
	if prev == c.Status {
		return roles.Refuse("the status is already %s", c.Status)
	}
	text := fmt.Sprintf("%s set the status to %s", c.By, c.Status)
	if prev != "" {
		text += " (was " + prev + ")"
	}
	if cad := d.e.cadence; cad.AfterChange > 0 {
		text += fmt.Sprintf("; a public update is due within %s", Age(cad.AfterChange))
	}
	d.emit(Event{Kind: KindStatus, Actor: c.By, Text: text, Life: &LifecycleInfo{Status: c.Status, Previous: prev}})
	return nil
}

// markSlack bounds how far back a milestone may be marked.
const markSlack = 7 * 24 * time.Hour

func (c Mark) decide(d *decider) error {
	if err := d.check(c.By, roles.ActMark, ""); err != nil {
		return err
	}
	if !slices.Contains(Markers, c.Marker) {
		return roles.Refuse("unknown milestone %q", c.Marker)
	}
	at := c.At
	if at.IsZero() {
		at = d.now
	}
	switch {
	case at.After(d.now):
		return roles.Refuse("%s cannot be marked in the future (%s)", c.Marker.Label(), at.UTC().Format(time.RFC3339))
	case !d.s.Declared.IsZero() && at.Before(d.s.Declared.Add(-markSlack)):
		return roles.Refuse("%s is more than a week before the declaration", at.UTC().Format(time.RFC3339))
	}
	at = at.UTC().Round(time.Second)
	if prev, ok := d.s.Life.Marks[c.Marker]; ok && prev.Equal(at) {
		return roles.Refuse("%s is already marked at %s", c.Marker.Label(), at.Format("15:04:05 UTC"))
	}
	text := fmt.Sprintf("%s marked %s at %s", c.By, c.Marker.Label(), at.Format("15:04:05 UTC"))
	if ago := d.now.Sub(at); ago >= time.Minute {
		text += " (" + Age(ago) + " earlier)"
	}
	if prev, ok := d.s.Life.Marks[c.Marker]; ok {
		text += "; was " + prev.UTC().Format("15:04:05 UTC")
	}
	d.emit(Event{Kind: KindMarker, Actor: c.By, Text: text, Life: &LifecycleInfo{Marker: c.Marker, At: at}})
	return nil
}

func (c SetComponent) decide(d *decider) error {
	if err := d.check(c.By, roles.ActPublish, ""); err != nil {
		return err
	}
	comp := d.e.cfg.Comms.ComponentByID(c.Component)
	if comp == nil {
		return roles.Refuse("no public component %q", c.Component)
	}
	if !slices.Contains(config.ComponentStatuses, c.Status) {
		return roles.Refuse("a component is one of %s, not %q", strings.Join(config.ComponentStatuses, ", "), c.Status)
	}
	prev := d.s.Life.Component(c.Component)
	if prev == c.Status {
		return roles.Refuse("%s is already %s", comp.Name, ComponentLabel(prev))
	}
	d.emit(Event{Kind: KindComponent, Actor: c.By, Life: &LifecycleInfo{Component: c.Component, Status: c.Status, Previous: prev},
		Text: fmt.Sprintf("%s set %s to %s (was %s)", c.By, comp.Name, ComponentLabel(c.Status), ComponentLabel(prev))})
	return nil
}

// checkDraft refuses a draft that cannot be published as it is.
func (d *decider) checkDraft(dr *Draft) error {
	dr.Title, dr.Body = strings.TrimSpace(dr.Title), strings.TrimSpace(dr.Body)
	if msg := config.CheckTitle(dr.Title); msg != "" {
		return roles.Refuse("the title: %s", msg)
	}
	if msg := config.CheckBody(dr.Body); msg != "" {
		return roles.Refuse("the text: %s", msg)
	}
	if !slices.Contains(config.IncidentStatuses, dr.Status) {
		return roles.Refuse("the status is one of %s, not %q", strings.Join(config.IncidentStatuses, ", "), dr.Status)
	}
	seen := map[string]bool{}
	for _, ch := range dr.Components {
		if d.e.cfg.Comms.ComponentByID(ch.ID) == nil {
			return roles.Refuse("no public component %q", ch.ID)
		}
		if seen[ch.ID] {
			return roles.Refuse("component %s is set twice", ch.ID)
		}
		seen[ch.ID] = true
		if !slices.Contains(config.ComponentStatuses, ch.Status) {
			return roles.Refuse("a component is one of %s, not %q", strings.Join(config.ComponentStatuses, ", "), ch.Status)
		}
	}
	return nil
}

// ApprovalNeeded says why a draft by `by` would wait for the commander's
// (or the deputy's) approval under the war-room file's policy, "" when it
// would be published at once: the engine and the composer ask the same.
func (s *State) ApprovalNeeded(c *config.Config, by string, dr Draft) string {
	if by == s.Roles.Commander {
		return ""
	}
	pol := config.Approval{}
	if c != nil && c.Comms != nil {
		pol = c.Comms.Approval
	}
	last := s.Life.Published()
	switch {
	case pol.Every:
		return "every update needs approval"
	case last == nil && pol.NeedsFirst():
		return "the first update needs approval"
	case last != nil && last.Draft.Status != dr.Status && pol.NeedsStatusChange():
		return fmt.Sprintf("it changes the public status (%s → %s)", last.Draft.Status, dr.Status)
	}
	return ""
}

func (c SubmitUpdate) decide(d *decider) error {
	if err := d.check(c.By, roles.ActPublish, ""); err != nil {
		return err
	}
	dr := c.Draft
	if err := d.checkDraft(&dr); err != nil {
		return err
	}
	if p := d.s.Life.Pending; p != nil {
		d.emit(Event{Kind: KindUpdate, Actor: c.By, Ref: p.Seq, Text: fmt.Sprintf("%s's update %s is superseded by %s's new draft", p.By, p.ID, c.By),
			Update: &UpdateInfo{ID: p.ID, State: UpdateSuperseded, By: p.By}})
	}
	id := fmt.Sprintf("U%d", d.s.LastSeq+1)
	if why := d.s.ApprovalNeeded(d.e.cfg, c.By, dr); why != "" {
		d.emit(Event{Kind: KindUpdate, Actor: c.By, Update: &UpdateInfo{ID: id, State: UpdateAwaiting, Draft: &dr, Hash: dr.Hash(), By: c.By},
			Text: fmt.Sprintf("%s asks to publish %s (%s) %q: %s — awaiting approval: %s", c.By, id, dr.Status, dr.Title, firstLine(dr.Body, 100), why)})
		return nil
	}
	d.publish(id, dr, c.By, c.By, 0)
	return nil
}

// publish emits the published update, then the status and component
// changes it carries (they reference it: the update said them).
func (d *decider) publish(id string, dr Draft, by, actor string, ref int64) {
	key := UpdateKey(d.s.Name, d.s.Declared, id)
	text := fmt.Sprintf("%s published %s (%s) %q: %s", by, id, dr.Status, dr.Title, firstLine(dr.Body, 120))
	if actor != by {
		text = fmt.Sprintf("%s approved %s's update %s: published (%s) %q: %s", actor, by, id, dr.Status, dr.Title, firstLine(dr.Body, 100))
	}
	ev := d.emit(Event{Kind: KindUpdate, Actor: actor, Ref: ref, Text: text,
		Update: &UpdateInfo{ID: id, State: UpdatePublished, Draft: &dr, Hash: dr.Hash(), By: by, Key: key}})
	if prev := d.s.Life.Status; prev != dr.Status {
		t := fmt.Sprintf("the status is %s, as %s says", dr.Status, id)
		if prev != "" {
			t += " (was " + prev + ")"
		}
		d.emit(Event{Kind: KindStatus, Actor: by, Ref: ev.Seq, Text: t, Life: &LifecycleInfo{Status: dr.Status, Previous: prev}})
	}
	for _, ch := range dr.Components {
		prev := d.s.Life.Component(ch.ID)
		if prev == ch.Status {
			continue
		}
		name := d.e.cfg.Comms.ComponentByID(ch.ID).Name
		d.emit(Event{Kind: KindComponent, Actor: by, Ref: ev.Seq, Life: &LifecycleInfo{Component: ch.ID, Status: ch.Status, Previous: prev},
			Text: fmt.Sprintf("%s is %s, as %s says (was %s)", name, ComponentLabel(ch.Status), id, ComponentLabel(prev))})
	}
}

// MayApproveUpdate says whether by may approve the update waiting for
// approval, as the engine will decide (nil: they may).
func (s *State) MayApproveUpdate(roster *roles.Roster, by string) error {
	p := s.Life.Pending
	if p == nil {
		return roles.Refuse("no update is waiting for approval")
	}
	if err := s.Roles.Check(roster, by, roles.ActApproveUpdate, ""); err != nil {
		return err
	}
	if p.By == by {
		return roles.Refuse("%s wrote %s: someone else approves it (or publish it as commander)", by, p.ID)
	}
	return nil
}

func (c ApproveUpdate) decide(d *decider) error {
	p := d.s.Life.Pending
	if p == nil || p.ID != c.ID {
		if err := d.check(c.By, roles.ActApproveUpdate, ""); err != nil {
			return err
		}
		return roles.Refuse("no update %s is waiting for approval", c.ID)
	}
	if err := d.s.MayApproveUpdate(d.e.roster, c.By); err != nil {
		return err
	}
	if p.Hash != c.Hash {
		return roles.Refuse("%s changed since it was shown to you; look at it again", c.ID)
	}
	d.publish(p.ID, p.Draft, p.By, c.By, p.Seq)
	return nil
}

func (c DeclineUpdate) decide(d *decider) error {
	p := d.s.Life.Pending
	if p == nil || p.ID != c.ID {
		return roles.Refuse("no update %s is waiting for approval", c.ID)
	}
	state, verb := UpdateRejected, "rejected"
	if c.By == p.By {
		state, verb = UpdateWithdrawn, "withdrew"
	} else if err := d.check(c.By, roles.ActApproveUpdate, ""); err != nil {
		return err
	}
	text := fmt.Sprintf("%s %s %s's update %s", c.By, verb, p.By, p.ID)
	if state == UpdateWithdrawn {
		text = fmt.Sprintf("%s withdrew their update %s", c.By, p.ID)
	}
	reason := strings.TrimSpace(c.Reason)
	if len(reason) > MaxNoteLen {
		return roles.Refuse("a reason is at most %d bytes", MaxNoteLen)
	}
	if reason != "" {
		text += ": " + reason
	}
	d.emit(Event{Kind: KindUpdate, Actor: c.By, Ref: p.Seq, Text: text, Update: &UpdateInfo{ID: p.ID, State: state, By: p.By, Reason: reason}})
	return nil
}

func (c RecordDelivery) decide(d *decider) error {
	u := d.s.Life.Update(c.ID)
	if u == nil || u.State != UpdatePublished {
		return roles.Refuse("no published update %s", c.ID)
	}
	switch c.State {
	case DeliveryDelivered, DeliveryUncertain, DeliveryFailed:
	default:
		return roles.Refuse("unknown delivery state %q", c.State)
	}
	if prev, ok := u.Delivery[c.Dest]; ok && prev.State == c.State && prev.Remote == c.Remote {
		return nil
	}
	label := c.Label
	if label == "" {
		label = c.Dest
	}
	var text string
	switch c.State {
	case DeliveryDelivered:
		text = fmt.Sprintf("%s reached %s", c.ID, label)
		if c.Remote != "" {
			text += " (" + c.Remote + ")"
		}
	case DeliveryUncertain:
		text = fmt.Sprintf("%s to %s: the answer was lost (%s); %s is asked before anything is sent again", c.ID, label, c.Error, label)
	case DeliveryFailed:
		text = fmt.Sprintf("%s to %s failed: %s", c.ID, label, c.Error)
	}
	d.emit(Event{Kind: KindDelivery, Actor: "outbox", Ref: u.PublishSeq, Text: text,
		Update: &UpdateInfo{ID: c.ID, State: c.State, Dest: c.Dest, Remote: c.Remote, Error: clip(c.Error, 400)}})
	return nil
}

func (c MarkFollowUp) decide(d *decider) error {
	if err := d.check(c.By, roles.ActFollowUp, ""); err != nil {
		return err
	}
	if c.Seq <= 0 || c.Seq > d.s.LastSeq {
		return roles.Refuse("no event #%d", c.Seq)
	}
	for _, e := range d.s.Recent {
		if e.Seq == c.Seq && e.Kind != KindNote {
			return roles.Refuse("#%d is a %s, not a note: only notes are follow-ups", c.Seq, e.Kind)
		}
	}
	if d.s.Life.FollowUps[c.Seq] == c.FollowUp {
		if c.FollowUp {
			return roles.Refuse("note #%d is already a follow-up", c.Seq)
		}
		return roles.Refuse("note #%d is not a follow-up", c.Seq)
	}
	flag := c.FollowUp
	text := fmt.Sprintf("%s marked note #%d as a follow-up", c.By, c.Seq)
	if !flag {
		text = fmt.Sprintf("%s unmarked note #%d as a follow-up", c.By, c.Seq)
	}
	d.emit(Event{Kind: KindFollowUp, Actor: c.By, Ref: c.Seq, Flag: &flag, Text: text})
	return nil
}

// checkCadence records, once per lapse, that a public update is overdue,
// naming who is reminded: the comms role, or the commander when nobody
// holds it. It runs with every heartbeat.
func (d *decider) checkCadence() {
	due, why := d.s.Life.NextUpdate(d.e.cadence)
	if due.IsZero() || d.now.Before(due) || d.s.Life.OverdueFor.Equal(due) {
		return
	}
	to := d.s.Reminded()
	who := "comms: " + to
	if d.s.Roles.Comms == "" {
		who = "nobody holds comms: the commander, " + to + ", is reminded"
	}
	d.emit(Event{Kind: KindOverdue, Actor: "warroom", Life: &LifecycleInfo{Due: due, To: to},
		Text: fmt.Sprintf("public update overdue: %s, by %s (%s)", why, due.UTC().Format("15:04:05 UTC"), who)})
}
