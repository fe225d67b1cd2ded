// Package roles holds the roster, who holds which incident role, and the
// permission rules that every command is checked against.
//
// Assignments is a plain value: the incident engine owns the live copy and
// changes it only by applying committed events.
package roles

import (
	"fmt"
	"sort"

	"github.com/warroom/warroom/config"
	"golang.org/x/crypto/ssh"
)

// Role is an incident role.
type Role string

const (
	Commander Role = "commander"
	Deputy    Role = "deputy"
	Scribe    Role = "scribe"
	Comms     Role = "comms"
	Owner     Role = "owner"  // primary point of contact for a service
	Backup    Role = "backup" // second point of contact for a service
	Observer  Role = "observer"
)

// IncidentRoles are the roles that are not tied to a service.
var IncidentRoles = []Role{Commander, Deputy, Scribe, Comms}

// Person is someone on the roster.
type Person struct {
	Handle  string
	Name    string
	SlackID string
	Keys    []ssh.PublicKey
}

// Roster is everyone who may join the war room. It is fixed for a run.
type Roster struct {
	people  []Person
	byHand  map[string]int
	bySlack map[string]int
	byKey   map[string]int // ssh.FingerprintSHA256
}

// NewRoster builds the roster from the validated config. Keys that do not
// parse are skipped (config validation has already reported them).
func NewRoster(people []config.Person) *Roster {
	r := &Roster{byHand: map[string]int{}, bySlack: map[string]int{}, byKey: map[string]int{}}
	for _, p := range people {
		rp := Person{Handle: p.Handle, Name: p.Name, SlackID: p.Slack}
		for _, line := range p.SSHKeys {
			k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				continue
			}
			rp.Keys = append(rp.Keys, k)
		}
		i := len(r.people)
		r.people = append(r.people, rp)
		r.byHand[p.Handle] = i
		if p.Slack != "" {
			r.bySlack[p.Slack] = i
		}
		for _, k := range rp.Keys {
			r.byKey[ssh.FingerprintSHA256(k)] = i
		}
	}
	return r
}

// People lists the roster in file order.
func (r *Roster) People() []Person { return r.people }

// Get returns the person with the handle.
func (r *Roster) Get(handle string) (Person, bool) {
	i, ok := r.byHand[handle]
	if !ok {
		return Person{}, false
	}
	return r.people[i], true
}

// BySlackID maps a Slack user to a roster person.
func (r *Roster) BySlackID(id string) (Person, bool) {
	i, ok := r.bySlack[id]
	if !ok {
		return Person{}, false
	}
	return r.people[i], true
}

// ByKey maps a verified SSH public key to a roster person.
func (r *Roster) ByKey(k ssh.PublicKey) (Person, bool) {
	i, ok := r.byKey[ssh.FingerprintSHA256(k)]
	if !ok {
		return Person{}, false
	}
	return r.people[i], true
}

// Owners are the points of contact of one service.
type Owners struct {
	Primary string `json:"primary,omitempty"`
	Backup  string `json:"backup,omitempty"`
}

// Offer is a pending command handoff.
type Offer struct {
	From string `json:"from"`
	To   string `json:"to"`
	Seq  int64  `json:"seq"` // the OFFER event
	// Stay is the role the commander keeps once the offer is accepted:
	// Deputy, or "" to step down to observer.
	Stay Role `json:"stay,omitempty"`
}

// Assignments is who holds what right now.
type Assignments struct {
	Commander string            `json:"commander"`
	Deputy    string            `json:"deputy,omitempty"`
	Scribe    string            `json:"scribe,omitempty"`
	Comms     string            `json:"comms,omitempty"`
	Services  map[string]Owners `json:"services"`
	Offer     *Offer            `json:"offer,omitempty"`
}

// Clone returns a deep copy.
func (a Assignments) Clone() Assignments {
	c := a
	c.Services = make(map[string]Owners, len(a.Services))
	for k, v := range a.Services {
		c.Services[k] = v
	}
	if a.Offer != nil {
		o := *a.Offer
		c.Offer = &o
	}
	return c
}

// Holder returns who holds an incident role, or a service role.
func (a Assignments) Holder(r Role, service string) string {
	switch r {
	case Commander:
		return a.Commander
	case Deputy:
		return a.Deputy
	case Scribe:
		return a.Scribe
	case Comms:
		return a.Comms
	case Owner:
		return a.Services[service].Primary
	case Backup:
		return a.Services[service].Backup
	}
	return ""
}

// Set gives a role to handle ("" clears it). Command is never set here:
// it changes hands only through an accepted offer.
func (a *Assignments) Set(r Role, service, handle string) {
	switch r {
	case Commander:
		a.Commander = handle
	case Deputy:
		a.Deputy = handle
	case Scribe:
		a.Scribe = handle
	case Comms:
		a.Comms = handle
	case Owner, Backup:
		if a.Services == nil {
			a.Services = map[string]Owners{}
		}
		o := a.Services[service]
		if r == Owner {
			o.Primary = handle
		} else {
			o.Backup = handle
		}
		a.Services[service] = o
	}
}

// RolesOf lists every role a person holds, incident roles first, for
// headers and the roles view, e.g. ["commander", "owner of tokens"].
func (a Assignments) RolesOf(handle string) []string {
	var out []string
	for _, r := range IncidentRoles {
		if handle != "" && a.Holder(r, "") == handle {
			out = append(out, string(r))
		}
	}
	svcs := make([]string, 0, len(a.Services))
	for s := range a.Services {
		svcs = append(svcs, s)
	}
	sort.Strings(svcs)
	for _, s := range svcs {
		o := a.Services[s]
		if o.Primary == handle {
			out = append(out, "owner of "+s)
		}
		if o.Backup == handle {
			out = append(out, "backup of "+s)
		}
	}
	return out
}

// Action is something a person may try to do.
type Action string

const (
	ActNote          Action = "note"
	ActAck           Action = "ack"
	ActResolve       Action = "resolve"
	ActAssign        Action = "assign a role"
	ActOfferCommand  Action = "offer command"
	ActAnswerOffer   Action = "answer a command offer"
	ActMarkImportant Action = "mark events important"
	ActRunPlaybook   Action = "run a playbook"
	ActApprove       Action = "approve a playbook run"
	ActDecide        Action = "decide the launch"
	ActEvidence      Action = "supply launch evidence"
	ActSeverity      Action = "set the incident's severity"
	ActStatus        Action = "set the incident's status"
	ActMark          Action = "mark a milestone (customer impact, mitigated, resolved)"
	ActPublish       Action = "publish public updates and component statuses"
	ActApproveUpdate Action = "approve a public update"
	ActFollowUp      Action = "mark notes as follow-ups"
)

// Refusal is a permission or state error with a reason a person can read.
// Err, when set, says what kind of refusal it is (errors.Is).
type Refusal struct {
	Reason string
	Err    error
}

func (r *Refusal) Error() string { return r.Reason }
func (r *Refusal) Unwrap() error { return r.Err }

// Refuse builds a Refusal.
func Refuse(format string, args ...any) error { return &Refusal{Reason: fmt.Sprintf(format, args...)} }

// Check says whether handle may take action on service ("" when the action
// is not about one service). The error is a *Refusal naming the reason.
func (a Assignments) Check(roster *Roster, handle string, act Action, service string) error {
	if _, ok := roster.Get(handle); !ok {
		return Refuse("%q is not on the roster", handle)
	}
	isCmd := handle == a.Commander
	isDeputy := handle != "" && handle == a.Deputy
	isComms := handle != "" && handle == a.Comms
	o := a.Services[service]
	isOwner := service != "" && (handle == o.Primary || handle == o.Backup)
	holdsAny := isCmd || len(a.RolesOf(handle)) > 0

	switch act {
	case ActNote:
		if holdsAny {
			return nil
		}
		return Refuse("%s is an observer: observers can see everything but change nothing", handle)
	case ActAck, ActResolve:
		if isCmd || isDeputy || isOwner {
			return nil
		}
		if service == "" {
			return Refuse("only the commander or deputy can %s across services", act)
		}
		who := o.Primary
		if o.Backup != "" {
			who += " or " + o.Backup
		}
		if who == "" {
			who = "nobody (unowned)"
		}
		return Refuse("%s cannot %s %s alerts: %s owns %s; the commander can too", handle, act, service, who, service)
	case ActEvidence:
		if holdsAny {
			return nil
		}
		return Refuse("%s is an observer: only people with a role can %s", handle, act)
	case ActAssign, ActOfferCommand, ActApprove, ActDecide:
		if isCmd {
			return nil
		}
		return Refuse("only the commander (%s) can %s", a.Commander, act)
	case ActAnswerOffer:
		if a.Offer == nil {
			return Refuse("there is no pending command offer")
		}
		if a.Offer.To != handle {
			return Refuse("the command offer is for %s, not %s", a.Offer.To, handle)
		}
		return nil
	case ActMarkImportant:
		if isCmd || isDeputy || handle == a.Scribe {
			return nil
		}
		return Refuse("only the commander, deputy or scribe can %s", act)
	case ActRunPlaybook:
		if isCmd || isDeputy || isOwner {
			return nil
		}
		return Refuse("%s cannot run %s playbooks: only its owners, the commander or the deputy can", handle, service)
	case ActSeverity:
		if isCmd {
			return nil
		}
		return Refuse("only the commander (%s) can %s", a.Commander, act)
	case ActStatus, ActPublish:
		if isCmd || isComms {
			return nil
		}
		return Refuse("only the comms role (%s) or the commander (%s) can %s", nameOr(a.Comms), a.Commander, act)
	case ActMark:
		if isCmd || isDeputy || isComms || handle == a.Scribe {
			return nil
		}
		return Refuse("only the commander, deputy, scribe or comms role can %s", act)
	case ActApproveUpdate:
		if isCmd || isDeputy {
			return nil
		}
		return Refuse("only the commander (%s) or the deputy can %s", a.Commander, act)
	case ActFollowUp:
		if isCmd || isDeputy || handle == a.Scribe {
			return nil
		}
		return Refuse("only the commander, deputy or scribe can %s", act)
	}
	return Refuse("unknown action %q", act)
}

func nameOr(h string) string {
	if h == "" {
		return "nobody"
	}
	return h
}

// FromConfig builds the assignments the incident starts with.
func FromConfig(c *config.Config) Assignments {
	a := Assignments{
		Commander: c.Roles.Commander,
		Deputy:    c.Roles.Deputy,
		Scribe:    c.Roles.Scribe,
		Comms:     c.Roles.Comms,
		Services:  map[string]Owners{},
	}
	for _, s := range c.Services {
		a.Services[s.ID] = Owners{Primary: s.Owner, Backup: s.Backup}
	}
	return a
}
