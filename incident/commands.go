package incident

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/roles"
)

// Command is a request to change the incident. Each is checked against the
// current state and the sender's roles; it either yields events or is
// refused with a reason.
type Command interface {
	decide(d *decider) error
}

// MaxNoteLen bounds notes so that one paste cannot flood Slack or exports.
const MaxNoteLen = 4000

// Declare opens the incident. The engine declares on first start from the
// config; an explicit Declare is refused once declared.
type Declare struct {
	By   string
	Name string
}

// Note adds a note to the timeline, optionally about one service.
type Note struct {
	By      string
	Service string
	Text    string
}

// Ack acknowledges an alert and the rest of its group: one condition,
// seen by a pane and by imported monitors or rules, is acked as one.
type Ack struct {
	By      string
	AlertID string
	// Group acks an open alert group by its key instead of AlertID (an
	// acknowledgement made in PagerDuty names the group it paged).
	Group string
	// Via names where the person acked, when not in the room
	// ("PagerDuty"); the timeline says so.
	Via string
	// At is when they acked there. An ack made before the group last
	// started waiting (it got worse since, or fired again) is refused: it
	// was for the earlier problem.
	At time.Time
	// Delivery identifies the message that carried it (a PagerDuty
	// webhook's event id and X-Webhook-Id): the ACK events record it, so
	// a replay is known after a restart.
	Delivery []string
}

// AckService acknowledges every open, unacknowledged alert of a service.
type AckService struct {
	By      string
	Service string
}

// Resolve closes an alert by hand (rules resolve their own alerts).
type Resolve struct {
	By      string
	AlertID string
	Reason  string
	// Group resolves every open alert of a group instead (Via, At and
	// Delivery as for Ack).
	Group    string
	Via      string
	At       time.Time
	Delivery []string
}

// Assign gives a role to a person ("" clears it). Command itself changes
// hands only through OfferCommand and AcceptCommand.
type Assign struct {
	By      string
	Role    roles.Role
	Service string // for owner and backup
	Handle  string
}

// OfferCommand offers command to another person. Until they accept, the
// current commander stays in command. Stay is what the commander becomes
// once the offer is accepted: roles.Deputy (the dashboard's default, so
// someone besides the new commander can still approve), or "" to step
// down to observer.
type OfferCommand struct {
	By   string
	To   string
	Stay roles.Role
}

// AcceptCommand accepts a pending offer: the sender becomes commander.
type AcceptCommand struct{ By string }

// DeclineCommand declines a pending offer (by the offeree) or withdraws it
// (by the commander).
type DeclineCommand struct {
	By     string
	Reason string
}

// MarkImportant flags (or unflags) an event for the postmortem.
type MarkImportant struct {
	By        string
	Seq       int64
	Important bool
}

// decider gives a command what it needs to decide: the state (with the
// effects of earlier commands in the same batch already applied), the
// engine's lookups, and a way to emit events.
type decider struct {
	e   *Engine
	s   *State
	now time.Time
	out []Event
	// presence is set when the batch changed who is connected, and
	// localMoved when it changed this process's presence in any way
	// (a lapse time too: Engine.LocalPresence).
	presence, localMoved bool
	// dirty are sources whose panes' staleness was looked at in this
	// batch: their source alert is brought up to date at its end.
	dirty map[string]bool
	// samples are the batch's samples as the engine read them (NaN as
	// NO DATA, no_data: zero applied): what subscribers get.
	samples []Sample
}

// emit assigns the next seq, applies the event to the engine's state and
// queues it for the batch's commit.
func (d *decider) emit(ev Event) Event {
	ev.Seq = d.s.LastSeq + 1
	ev.Time = d.now
	d.s.Apply(ev)
	d.out = append(d.out, ev)
	return ev
}

func (d *decider) check(by string, act roles.Action, service string) error {
	return d.s.Roles.Check(d.e.roster, by, act, service)
}

func (d *decider) service(id string) error {
	if id == "" {
		return nil
	}
	if _, ok := d.e.services[id]; !ok {
		return roles.Refuse("no service %q", id)
	}
	return nil
}

func (c Declare) decide(d *decider) error {
	if !d.s.Declared.IsZero() {
		return roles.Refuse("the incident %q is already declared", d.s.Name)
	}
	name := strings.TrimSpace(c.Name)
	if name == "" {
		return roles.Refuse("an incident needs a name")
	}
	setup := d.e.setup.Clone()
	d.emit(Event{Kind: KindDeclare, Actor: c.By, Text: name, Setup: &setup, Room: roomInfo(d.e.cfg)})
	return nil
}

func (c Note) decide(d *decider) error {
	if err := d.check(c.By, roles.ActNote, c.Service); err != nil {
		return err
	}
	if err := d.service(c.Service); err != nil {
		return err
	}
	text := strings.TrimSpace(c.Text)
	if text == "" {
		return roles.Refuse("a note needs text")
	}
	if !utf8.ValidString(text) {
		return roles.Refuse("a note must be valid UTF-8")
	}
	if len(text) > MaxNoteLen {
		return roles.Refuse("a note is at most %d bytes (this one is %d)", MaxNoteLen, len(text))
	}
	d.emit(Event{Kind: KindNote, Actor: c.By, Service: c.Service, Text: text})
	return nil
}

func (d *decider) openAlert(id string) (*Alert, error) {
	a := d.s.Alerts[id]
	if a == nil {
		return nil, roles.Refuse("no alert %s", id)
	}
	if !a.Open() {
		return nil, roles.Refuse("alert %s was already resolved by %s", id, a.ResolvedBy)
	}
	return a, nil
}

// ErrAlreadyDone is the kind of refusal (errors.Is) of an ack or resolve
// by group whose effect is already there: acked, or resolved.
var ErrAlreadyDone = errors.New("already done")

// openGroup returns an open alert group by key, or a refusal.
func (d *decider) openGroup(key string) (*Group, error) {
	g := d.s.Groups[key]
	if g == nil {
		return nil, &roles.Refusal{Reason: fmt.Sprintf("alert group %s has no open alerts", key), Err: ErrAlreadyDone}
	}
	return g, nil
}

// via is how a command made elsewhere reads in the timeline.
func via(where string) string {
	if where == "" {
		return ""
	}
	return " via " + where
}

func (c Ack) decide(d *decider) error {
	if c.Group != "" && c.AlertID == "" {
		g, err := d.openGroup(c.Group)
		if err != nil {
			return err
		}
		if err := d.check(c.By, roles.ActAck, g.Service); err != nil {
			return err
		}
		if g.Unacked > 0 && !c.At.IsZero() && c.At.Before(g.UnackedSince) {
			return roles.Refuse("the acknowledgement (%s) is older than the alerts it would ack (unacked since %s)", hms(c.At), hms(g.UnackedSince))
		}
		n := 0
		for _, m := range d.s.Members(g) {
			if !m.Acked() {
				d.ackVia(c.By, m, c.Via, c.Delivery)
				n++
			}
		}
		if n == 0 {
			return &roles.Refusal{Reason: fmt.Sprintf("alert group %s is already acked", c.Group), Err: ErrAlreadyDone}
		}
		return nil
	}
	a, err := d.openAlert(c.AlertID)
	if err != nil {
		return err
	}
	if err := d.check(c.By, roles.ActAck, a.Service); err != nil {
		return err
	}
	n := 0
	if g := d.s.GroupOf(a); g != nil {
		for _, m := range d.s.Members(g) {
			if !m.Acked() {
				d.ack(c.By, m)
				n++
			}
		}
	} else if !a.Acked() {
		d.ack(c.By, a)
		n++
	}
	if n == 0 {
		return roles.Refuse("alert %s is already acked by %s", a.ID, a.AckedBy)
	}
	return nil
}

func (d *decider) ack(by string, a *Alert) { d.ackVia(by, a, "", nil) }

func (d *decider) ackVia(by string, a *Alert, where string, delivery []string) {
	d.emit(Event{Kind: KindAck, Actor: by, Service: a.Service, Ref: a.Seq,
		Alert: &AlertInfo{ID: a.ID, Pane: a.Pane, Level: a.Level, Origin: a.Origin, Key: a.Key, Via: where, Delivery: delivery},
		Text:  fmt.Sprintf("%s acked %s %s (%s) after %s%s", by, a.ID, d.e.paneTitle(a), a.Level, Age(d.now.Sub(a.FiredAt)), via(where))})
}

func (c AckService) decide(d *decider) error {
	if err := d.service(c.Service); err != nil {
		return err
	}
	if err := d.check(c.By, roles.ActAck, c.Service); err != nil {
		return err
	}
	n := 0
	for _, a := range d.s.OpenAlerts() {
		if a.Service == c.Service && !a.Acked() {
			d.ack(c.By, a)
			n++
		}
	}
	if n == 0 {
		return roles.Refuse("%s has no unacknowledged alerts", c.Service)
	}
	return nil
}

func (c Resolve) decide(d *decider) error {
	if c.Group != "" && c.AlertID == "" {
		g, err := d.openGroup(c.Group)
		if err != nil {
			return err
		}
		if err := d.check(c.By, roles.ActResolve, g.Service); err != nil {
			return err
		}
		if g.Unacked > 0 && !c.At.IsZero() && c.At.Before(g.UnackedSince) {
			return roles.Refuse("the resolve (%s) is older than the alerts it would resolve (unacked since %s)", hms(c.At), hms(g.UnackedSince))
		}
		for _, a := range d.s.Members(g) {
			text := fmt.Sprintf("%s resolved %s %s after %s%s", c.By, a.ID, d.e.paneTitle(a), Age(d.now.Sub(a.FiredAt)), via(c.Via))
			if r := strings.TrimSpace(c.Reason); r != "" {
				text += ": " + r
			}
			d.emit(Event{Kind: KindResolve, Actor: c.By, Service: a.Service, Ref: a.Seq, Text: text,
				Alert: &AlertInfo{ID: a.ID, Pane: a.Pane, Level: a.Level, Origin: a.Origin, Key: a.Key, Group: a.Group, Via: c.Via, Delivery: c.Delivery}})
		}
		return nil
	}
	a, err := d.openAlert(c.AlertID)
	if err != nil {
		return err
	}
	if err := d.check(c.By, roles.ActResolve, a.Service); err != nil {
		return err
	}
	text := fmt.Sprintf("%s resolved %s %s after %s", c.By, a.ID, d.e.paneTitle(a), Age(d.now.Sub(a.FiredAt)))
	if r := strings.TrimSpace(c.Reason); r != "" {
		text += ": " + r
	}
	d.resolve(c.By, a, text, time.Time{})
	return nil
}

// resolve closes an alert; ends is the origin's end time, when it gave one.
func (d *decider) resolve(by string, a *Alert, text string, ends time.Time) {
	d.emit(Event{Kind: KindResolve, Actor: by, Service: a.Service, Ref: a.Seq, Text: text,
		Alert: &AlertInfo{ID: a.ID, Pane: a.Pane, Level: a.Level, Origin: a.Origin, Key: a.Key, Group: a.Group, EndsAt: ends}})
}

func (c Assign) decide(d *decider) error {
	if err := d.check(c.By, roles.ActAssign, c.Service); err != nil {
		return err
	}
	switch c.Role {
	case roles.Commander:
		return roles.Refuse("command changes hands only by an offer the new commander accepts")
	case roles.Owner, roles.Backup:
		if c.Service == "" {
			return roles.Refuse("say which service the %s is for", c.Role)
		}
		if err := d.service(c.Service); err != nil {
			return err
		}
	case roles.Deputy, roles.Scribe, roles.Comms:
		if c.Service != "" {
			return roles.Refuse("%s is an incident role, not a service role", c.Role)
		}
	default:
		return roles.Refuse("unknown role %q", c.Role)
	}
	if c.Handle != "" {
		if _, ok := d.e.roster.Get(c.Handle); !ok {
			return roles.Refuse("%q is not on the roster", c.Handle)
		}
	}
	prev := d.s.Roles.Holder(c.Role, c.Service)
	if prev == c.Handle {
		return roles.Refuse("%s already holds that role", nameOr(c.Handle, "nobody"))
	}
	what := string(c.Role)
	if c.Service != "" {
		what += " of " + c.Service
	}
	text := fmt.Sprintf("%s is now %s", c.Handle, what)
	if c.Handle == "" {
		text = fmt.Sprintf("%s is no longer %s", prev, what)
	} else if prev != "" {
		text += " (was " + prev + ")"
	}
	d.emit(Event{Kind: KindRole, Actor: c.By, Service: c.Service, Text: text,
		Role: &RoleInfo{Role: c.Role, Service: c.Service, Handle: c.Handle, Previous: prev}})
	return nil
}

func (c OfferCommand) decide(d *decider) error {
	if err := d.check(c.By, roles.ActOfferCommand, ""); err != nil {
		return err
	}
	if _, ok := d.e.roster.Get(c.To); !ok {
		return roles.Refuse("%q is not on the roster", c.To)
	}
	if c.To == c.By {
		return roles.Refuse("%s is already the commander", c.By)
	}
	if o := d.s.Roles.Offer; o != nil {
		return roles.Refuse("command is already offered to %s; withdraw that offer first", o.To)
	}
	text := fmt.Sprintf("%s offered command to %s", c.By, c.To)
	switch c.Stay {
	case roles.Deputy:
		text += fmt.Sprintf("; %s stays on as deputy", c.By)
	case "", roles.Observer:
		c.Stay = ""
	default:
		return roles.Refuse("after a handoff the commander stays on as deputy or steps down, not %s", c.Stay)
	}
	d.emit(Event{Kind: KindOffer, Actor: c.By, Text: text,
		Role: &RoleInfo{Role: roles.Commander, Handle: c.To, Previous: c.By, Stay: c.Stay}})
	return nil
}

func (c AcceptCommand) decide(d *decider) error {
	if err := d.check(c.By, roles.ActAnswerOffer, ""); err != nil {
		return err
	}
	o := d.s.Roles.Offer
	prev := d.s.Roles.Commander
	stay := o.Stay
	d.emit(Event{Kind: KindAccept, Actor: c.By, Ref: o.Seq, Text: fmt.Sprintf("%s accepted command from %s", c.By, prev),
		Role: &RoleInfo{Role: roles.Commander, Handle: c.By, Previous: prev}})
	// The deputy slot: the new commander leaves it, the old one takes it
	// if the offer said so (their choice, recorded as theirs).
	deputy := d.s.Roles.Deputy
	switch {
	case stay == roles.Deputy && prev != "" && deputy != prev:
		text := fmt.Sprintf("%s is now deputy after handing command to %s", prev, c.By)
		if deputy != "" && deputy != c.By {
			text += " (was " + deputy + ")"
		}
		d.emit(Event{Kind: KindRole, Actor: prev, Text: text, Ref: o.Seq,
			Role: &RoleInfo{Role: roles.Deputy, Handle: prev, Previous: deputy}})
	case deputy == c.By:
		d.emit(Event{Kind: KindRole, Actor: prev, Text: fmt.Sprintf("%s is no longer deputy: now the commander", c.By), Ref: o.Seq,
			Role: &RoleInfo{Role: roles.Deputy, Previous: deputy}})
	}
	return nil
}

func (c DeclineCommand) decide(d *decider) error {
	o := d.s.Roles.Offer
	if o == nil {
		return roles.Refuse("there is no pending command offer")
	}
	verb := "declined"
	if c.By == d.s.Roles.Commander && c.By != o.To {
		verb = "withdrew"
	} else if err := d.check(c.By, roles.ActAnswerOffer, ""); err != nil {
		return err
	}
	text := fmt.Sprintf("%s %s the command offer to %s", c.By, verb, o.To)
	if verb == "declined" {
		text = fmt.Sprintf("%s declined command from %s", c.By, o.From)
	}
	if r := strings.TrimSpace(c.Reason); r != "" {
		text += ": " + r
	}
	d.emit(Event{Kind: KindDecline, Actor: c.By, Ref: o.Seq, Text: text,
		Role: &RoleInfo{Role: roles.Commander, Handle: o.To, Previous: o.From}})
	return nil
}

func (c MarkImportant) decide(d *decider) error {
	if err := d.check(c.By, roles.ActMarkImportant, ""); err != nil {
		return err
	}
	if c.Seq <= 0 || c.Seq > d.s.LastSeq {
		return roles.Refuse("no event #%d", c.Seq)
	}
	if d.s.Important[c.Seq] == c.Important {
		if c.Important {
			return roles.Refuse("event #%d is already marked important", c.Seq)
		}
		return roles.Refuse("event #%d is not marked important", c.Seq)
	}
	flag := c.Important
	text := fmt.Sprintf("%s marked #%d important", c.By, c.Seq)
	if !flag {
		text = fmt.Sprintf("%s unmarked #%d", c.By, c.Seq)
	}
	d.emit(Event{Kind: KindImportant, Actor: c.By, Ref: c.Seq, Flag: &flag, Text: text})
	return nil
}

func roomInfo(c *config.Config) *RoomInfo {
	r := &RoomInfo{Timezone: c.Incident.Timezone, Launch: c.Incident.Launch, Simulated: c.Incident.Simulated, Drill: c.Incident.Drill, Plan: planInfo(c),
		EscalateBackup: c.Escalation.Backup.D().Seconds(), EscalateCommander: c.Escalation.Commander.D().Seconds()}
	for _, l := range SeverityLevels {
		n := c.Incident.Severities.Name(l)
		if n == "" {
			n = config.DefaultSeverityNames.Name(l)
		}
		r.Severities = append(r.Severities, n)
	}
	if cm := c.Comms; cm != nil {
		ci := &CommsInfo{Title: cm.Title, Every: cm.Cadence.Every.D().Seconds(), AfterChange: cm.Cadence.AfterChange.D().Seconds()}
		for _, comp := range cm.Components {
			ci.Components = append(ci.Components, ComponentInfo{ID: comp.ID, Name: comp.Name, Services: comp.Services})
		}
		r.Comms = ci
	}
	for _, p := range c.Roster {
		r.People = append(r.People, PersonInfo{Handle: p.Handle, Name: p.Name})
	}
	for _, svc := range c.Services {
		si := ServiceInfo{ID: svc.ID, Name: svc.Name}
		for _, p := range svc.Panes {
			title := p.Title
			if title == "" {
				title = p.ID
			}
			si.Panes = append(si.Panes, PaneInfo{ID: p.ID, Title: title, Unit: p.Unit, Warn: p.Warn, Crit: p.Crit, Below: p.Direction == config.Below,
				Clear: p.Clear, For: p.For.D().Seconds()})
		}
		r.Services = append(r.Services, si)
	}
	return r
}

func nameOr(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// Age formats a duration the way the war room reads it: 45s, 3m12s, 2h05m.
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
