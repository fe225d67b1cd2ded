package incident

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/warroom/warroom/roles"
)

// Playbook run states, as recorded in RunInfo.State. The engine decides
// every transition that needs a permission, an approval or a lock (the
// commands below); the playbook runner does the I/O and reports the rest
// with AdvanceRun, which the engine checks against the state machine:
//
//	requested → awaiting_approval → approved → running (step k) → verifying → succeeded
//	                                   running/verifying → failed → rolling_back → rolled_back | rollback_failed
//	                                   failed → awaiting_decision (on_verify_failure: ask)
//	awaiting_approval/approved → cancelled | expired | rejected
//	running/verifying/rolling_back → cancelling → cancelled | failed (→ rolling_back)
//	running/verifying/rolling_back/cancelling (after a crash) → interrupted
//	interrupted/awaiting_decision → verifying | rolling_back | abandoned (the commander decides)
const (
	RunRequested        = "requested"
	RunAwaitingApproval = "awaiting_approval"
	RunApproved         = "approved"
	RunRunning          = "running"
	RunVerifying        = "verifying"
	RunSucceeded        = "succeeded"
	RunFailed           = "failed"
	RunRollingBack      = "rolling_back"
	RunRolledBack       = "rolled_back"
	RunRollbackFailed   = "rollback_failed"
	RunCancelling       = "cancelling"
	RunCancelled        = "cancelled"
	RunExpired          = "expired"
	RunRejected         = "rejected"
	RunInterrupted      = "interrupted"
	RunAwaitingDecision = "awaiting_decision"
	RunAbandoned        = "abandoned"
)

// RunTerminal reports whether a run in this state is over: it holds no
// lock and nothing more happens to it.
func RunTerminal(state string) bool {
	switch state {
	case RunSucceeded, RunFailed, RunRolledBack, RunRollbackFailed, RunCancelled, RunExpired, RunRejected, RunAbandoned:
		return true
	}
	return false
}

// RunPolicy is what the engine must know about a playbook to decide run
// commands. The playbook catalog provides it; it is reviewed, committed
// configuration, never input from the person asking.
type RunPolicy struct {
	Service string
	// RunRole is who may request a run: roles.Owner (the service's owner
	// or backup, the commander or the deputy), roles.Deputy (the
	// commander or the deputy) or roles.Commander.
	RunRole roles.Role
	// Approvers are the roles that may approve (commander, deputy). Empty
	// means the playbook needs no approval.
	Approvers []roles.Role
	// ApprovalTimeout is how long a request waits for approval, and how
	// long an approval stays valid before the run starts.
	ApprovalTimeout time.Duration
	// Lock is the named lock the run holds from request to its end.
	Lock string
	// LockTimeout is the lease: a run that has not started within it
	// loses the lock. A run that is applying keeps it (its outcome would
	// be unknown); the runner's whole-run deadline is the lease.
	LockTimeout time.Duration
}

// RunPolicies looks policies up by playbook id (the catalog implements it).
type RunPolicies interface {
	RunPolicy(playbook string) (RunPolicy, bool)
}

// RequestRun asks to run a playbook with validated parameters. The engine
// checks the requester's role and takes the playbook's lock; the reply's
// events carry the new run id (R<seq>).
type RequestRun struct {
	By       string
	Playbook string
	Params   map[string]string // canonical values, already validated
	Hash     string            // hash of playbook and exact parameters
	Summary  string            // e.g. "triton_percent=80", for the timeline
	Policies RunPolicies
}

// ApproveRun approves a run awaiting approval. Hash is the parameter hash
// the approver was shown; it must match the run's.
type ApproveRun struct {
	By       string
	RunID    string
	Hash     string
	Policies RunPolicies
}

// RejectRun turns a request down.
type RejectRun struct {
	By       string
	RunID    string
	Reason   string
	Policies RunPolicies
}

// StartRun moves an approved run to running. Hash is the hash of the
// parameters about to be executed; it must be the approved one.
type StartRun struct {
	By       string
	RunID    string
	Hash     string
	Policies RunPolicies
}

// RunTransition is one state change reported by the runner.
type RunTransition struct {
	State  string
	Step   string
	Output string
	Error  string
	Text   string
}

// AdvanceRun records what the runner did: each transition is checked
// against the state machine, in order, and all are committed together (a
// failed step and the start of its rollback are one commit, so the lock
// is never free in between).
type AdvanceRun struct {
	By          string
	RunID       string
	Transitions []RunTransition
}

// CancelRun stops a run: one that has not started is cancelled at once;
// one that is executing moves to cancelling, and the runner kills its
// step and reports the outcome.
type CancelRun struct {
	By     string
	RunID  string
	Reason string
}

// ResolveChoice is the commander's decision about an interrupted run or
// a failed verification.
type ResolveChoice string

const (
	ResolveVerify   ResolveChoice = "verify"
	ResolveRollback ResolveChoice = "rollback"
	ResolveAbandon  ResolveChoice = "abandon"
)

// ResolveRun records the commander's choice for an interrupted run or one
// awaiting a decision: verify again, roll back, or abandon (release the
// lock and do nothing more).
type ResolveRun struct {
	By     string
	RunID  string
	Choice ResolveChoice
	Reason string
}

// ReconcileRuns runs once at start-up, before any runner: a run that was
// executing when the process died is interrupted, outcome unknown, and is
// never re-run by itself; a request nobody is waiting on any more expires.
type ReconcileRuns struct{ By string }

func (d *decider) run(id string) (*Run, error) {
	r := d.s.Runs[id]
	if r == nil {
		return nil, roles.Refuse("no run %s", id)
	}
	return r, nil
}

func (d *decider) policy(ps RunPolicies, r *Run) RunPolicy {
	if ps != nil {
		if p, ok := ps.RunPolicy(r.Playbook); ok {
			return p
		}
	}
	// A playbook no longer in the catalog: lock by its id, no lease.
	return RunPolicy{Service: r.Service, Lock: r.Playbook}
}

func (d *decider) emitRun(by string, r *Run, t RunTransition, params map[string]string, hash string) {
	d.emit(Event{Kind: KindRun, Actor: by, Service: r.Service, Text: t.Text,
		Run: &RunInfo{ID: r.ID, Playbook: r.Playbook, State: t.State, Step: t.Step, Params: params, Hash: hash, Output: t.Output, Error: t.Error}})
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// approvedAt is when an approved run was approved (its last event).
func approvedAt(r *Run) time.Time { return r.Updated }

// expiry says why a run that has not started must expire now ("" if not).
func expiry(r *Run, p RunPolicy, now time.Time) string {
	switch r.State {
	case RunAwaitingApproval:
		if p.ApprovalTimeout > 0 && now.Sub(r.Started) > p.ApprovalTimeout {
			return fmt.Sprintf("approval request %s expired: not approved within %s", r.ID, p.ApprovalTimeout)
		}
	case RunApproved:
		if len(p.Approvers) > 0 && p.ApprovalTimeout > 0 && now.Sub(approvedAt(r)) > p.ApprovalTimeout {
			return fmt.Sprintf("the approval of %s expired: not started within %s of approval", r.ID, p.ApprovalTimeout)
		}
	default:
		return ""
	}
	if p.LockTimeout > 0 && now.Sub(r.Started) > p.LockTimeout {
		return fmt.Sprintf("%s lost lock %s: not started within its %s lease", r.ID, p.Lock, p.LockTimeout)
	}
	return ""
}

func (d *decider) expire(r *Run, why string) {
	d.emitRun("warroom", r, RunTransition{State: RunExpired, Text: why}, nil, "")
}

// LockHolder returns the run holding the named lock, or nil. Runs are
// matched to locks through the policies (the catalog).
func (s *State) LockHolder(lock string, ps RunPolicies) *Run {
	for _, id := range s.runIDs() {
		r := s.Runs[id]
		if RunTerminal(r.State) {
			continue
		}
		p := RunPolicy{Lock: r.Playbook}
		if ps != nil {
			if q, ok := ps.RunPolicy(r.Playbook); ok {
				p = q
			}
		}
		if p.Lock == lock {
			return r
		}
	}
	return nil
}

// Locks lists held locks: lock name → holding run.
func (s *State) Locks(ps RunPolicies) map[string]*Run {
	out := map[string]*Run{}
	for _, id := range s.runIDs() {
		r := s.Runs[id]
		if RunTerminal(r.State) {
			continue
		}
		p := RunPolicy{Lock: r.Playbook}
		if ps != nil {
			if q, ok := ps.RunPolicy(r.Playbook); ok {
				p = q
			}
		}
		if _, taken := out[p.Lock]; !taken {
			out[p.Lock] = r
		}
	}
	return out
}

// runIDs lists run ids oldest first (R<seq> ordered by seq).
func (s *State) runIDs() []string {
	ids := make([]string, 0, len(s.Runs))
	for id := range s.Runs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	return ids
}

func (d *decider) checkRunRole(by string, p RunPolicy) error {
	return d.s.MayRun(d.e.roster, by, p)
}

func (d *decider) checkApprover(by string, r *Run, p RunPolicy) error {
	return d.s.mayApprove(d.e.roster, by, r, p)
}

// MayRun says whether by may request a run of a playbook with policy p,
// as the engine will decide it (the lock aside: see LockHolder). The TUI
// uses it to show the action disabled with the reason.
func (s *State) MayRun(roster *roles.Roster, by string, p RunPolicy) error {
	switch p.RunRole {
	case roles.Commander:
		if _, ok := roster.Get(by); !ok {
			return roles.Refuse("%q is not on the roster", by)
		}
		if by != s.Roles.Commander {
			return roles.Refuse("only the commander (%s) can run this playbook", nameOr(s.Roles.Commander, "nobody"))
		}
		return nil
	case roles.Deputy:
		if _, ok := roster.Get(by); !ok {
			return roles.Refuse("%q is not on the roster", by)
		}
		if by != s.Roles.Commander && (by != s.Roles.Deputy || by == "") {
			return roles.Refuse("only the commander (%s) or the deputy (%s) can run this playbook",
				nameOr(s.Roles.Commander, "nobody"), nameOr(s.Roles.Deputy, "nobody"))
		}
		return nil
	}
	return s.Roles.Check(roster, by, roles.ActRunPlaybook, p.Service)
}

// MayApprove says whether by may approve run id now, as the engine will
// decide it (except the parameter hash, which the approver supplies).
func (s *State) MayApprove(roster *roles.Roster, by, id string, ps RunPolicies, now time.Time) error {
	r := s.Runs[id]
	if r == nil {
		return roles.Refuse("no run %s", id)
	}
	p := RunPolicy{Service: r.Service, Lock: r.Playbook}
	if ps != nil {
		if q, ok := ps.RunPolicy(r.Playbook); ok {
			p = q
		}
	}
	if r.State != RunAwaitingApproval {
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	if why := expiry(r, p, now); why != "" {
		return roles.Refuse("%s", why)
	}
	if by == r.Actor {
		return roles.Refuse("%s requested %s and cannot approve it: no self-approval, another approver must", by, r.ID)
	}
	return s.mayApprove(roster, by, r, p)
}

func (s *State) mayApprove(roster *roles.Roster, by string, r *Run, p RunPolicy) error {
	if _, ok := roster.Get(by); !ok {
		return roles.Refuse("%q is not on the roster", by)
	}
	var who []string
	for _, role := range p.Approvers {
		h := s.Roles.Holder(role, "")
		if h != "" && h == by {
			return nil
		}
		who = append(who, fmt.Sprintf("the %s (%s)", role, nameOr(h, "nobody")))
	}
	return roles.Refuse("%s cannot approve %s: approval needs %s", by, r.ID, strings.Join(who, " or "))
}

func (c RequestRun) decide(d *decider) error {
	if c.Policies == nil {
		return roles.Refuse("no playbook catalog")
	}
	p, ok := c.Policies.RunPolicy(c.Playbook)
	if !ok {
		return roles.Refuse("no playbook %q", c.Playbook)
	}
	if err := d.service(p.Service); err != nil {
		return err
	}
	if err := d.checkRunRole(c.By, p); err != nil {
		return err
	}
	if c.Hash == "" {
		return roles.Refuse("a run request needs its parameter hash")
	}
	if p.Lock == "" {
		return roles.Refuse("playbook %s names no lock", c.Playbook)
	}
	// Expire what has outlived its approval window or lease, so a
	// forgotten request cannot hold a lock for ever.
	for _, id := range d.s.runIDs() {
		r := d.s.Runs[id]
		if RunTerminal(r.State) {
			continue
		}
		if why := expiry(r, d.policy(c.Policies, r), d.now); why != "" {
			d.expire(r, why)
		}
	}
	if h := d.s.LockHolder(p.Lock, c.Policies); h != nil {
		hp := d.policy(c.Policies, h)
		held := fmt.Sprintf("lock %s is held by run %s (%s, requested by %s, %s since %s",
			p.Lock, h.ID, h.Playbook, h.Actor, strings.ReplaceAll(h.State, "_", " "), Age(d.now.Sub(h.Started)))
		if hp.LockTimeout > 0 && d.now.Sub(h.Started) > hp.LockTimeout {
			held += fmt.Sprintf(", past its %s lease", hp.LockTimeout)
		}
		held += ")"
		switch h.State {
		case RunInterrupted, RunAwaitingDecision:
			held += "; the commander must resolve it first"
		default:
			held += "; wait for it to finish or ask " + h.Actor + " to cancel it"
		}
		return roles.Refuse("%s", held)
	}
	id := fmt.Sprintf("R%d", d.s.LastSeq+1)
	text := fmt.Sprintf("%s requested %s %s", c.By, id, c.Playbook)
	if c.Summary != "" {
		text += " (" + c.Summary + ")"
	}
	params := make(map[string]string, len(c.Params))
	for k, v := range c.Params {
		params[k] = v
	}
	d.emit(Event{Kind: KindRun, Actor: c.By, Service: p.Service, Text: text,
		Run: &RunInfo{ID: id, Playbook: c.Playbook, State: RunRequested, Params: params, Hash: c.Hash}})
	r := d.s.Runs[id]
	if len(p.Approvers) == 0 {
		d.emitRun(c.By, r, RunTransition{State: RunApproved, Text: fmt.Sprintf("%s needs no approval; holds lock %s", id, p.Lock)}, nil, "")
		return nil
	}
	names := make([]string, len(p.Approvers))
	for i, role := range p.Approvers {
		names[i] = string(role)
	}
	d.emitRun(c.By, r, RunTransition{State: RunAwaitingApproval,
		Text: fmt.Sprintf("%s awaits approval by the %s within %s (parameters %s); holds lock %s",
			id, strings.Join(names, " or "), p.ApprovalTimeout, shortHash(c.Hash), p.Lock)}, nil, "")
	return nil
}

func (c ApproveRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	p := d.policy(c.Policies, r)
	if r.State != RunAwaitingApproval {
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	if why := expiry(r, p, d.now); why != "" {
		d.expire(r, why)
		return roles.Refuse("%s; request it again", why)
	}
	if c.By == r.Actor {
		return roles.Refuse("%s requested %s and cannot approve it: no self-approval, another approver must", c.By, r.ID)
	}
	if err := d.checkApprover(c.By, r, p); err != nil {
		return err
	}
	if c.Hash == "" || c.Hash != r.Hash {
		return roles.Refuse("the parameters do not match: %s is for parameters %s, this approval is for %s; review the run again",
			r.ID, shortHash(r.Hash), nameOr(shortHash(c.Hash), "none"))
	}
	d.emitRun(c.By, r, RunTransition{State: RunApproved,
		Text: fmt.Sprintf("%s approved %s %s (parameters %s); valid for %s", c.By, r.ID, r.Playbook, shortHash(r.Hash), p.ApprovalTimeout)}, nil, r.Hash)
	return nil
}

func (c RejectRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	p := d.policy(c.Policies, r)
	if r.State != RunAwaitingApproval {
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	if c.By != r.Actor {
		if err := d.checkApprover(c.By, r, p); err != nil {
			return err
		}
	}
	text := fmt.Sprintf("%s rejected %s %s", c.By, r.ID, r.Playbook)
	if s := strings.TrimSpace(c.Reason); s != "" {
		text += ": " + s
	}
	d.emitRun(c.By, r, RunTransition{State: RunRejected, Text: text}, nil, "")
	return nil
}

func (c StartRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	p := d.policy(c.Policies, r)
	if r.State != RunApproved {
		return roles.Refuse("%s is %s; a run starts only once approved", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	if c.Hash == "" || c.Hash != r.Hash {
		return roles.Refuse("the parameters changed: %s was approved for %s, not %s; request it again",
			r.ID, shortHash(r.Hash), nameOr(shortHash(c.Hash), "none"))
	}
	if why := expiry(r, p, d.now); why != "" {
		d.expire(r, why)
		return roles.Refuse("%s; request it again", why)
	}
	d.emitRun(c.By, r, RunTransition{State: RunRunning, Text: fmt.Sprintf("%s started %s", r.ID, r.Playbook)}, nil, "")
	return nil
}

// advances lists the transitions AdvanceRun may record from each state.
// Approval, start, interruption and the commander's choices have their
// own commands.
var advances = map[string][]string{
	RunAwaitingApproval: {RunExpired, RunCancelled},
	RunApproved:         {RunExpired, RunCancelled},
	RunRunning:          {RunRunning, RunVerifying, RunSucceeded, RunFailed},
	RunVerifying:        {RunVerifying, RunSucceeded, RunFailed},
	RunFailed:           {RunRollingBack, RunAwaitingDecision},
	RunRollingBack:      {RunRollingBack, RunRolledBack, RunRollbackFailed},
	RunCancelling:       {RunCancelling, RunCancelled, RunFailed, RunRollbackFailed, RunRolledBack, RunRollingBack},
}

func (c AdvanceRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	if len(c.Transitions) == 0 {
		return roles.Refuse("no transition")
	}
	if RunTerminal(r.State) {
		return roles.Refuse("%s is already over (%s)", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	state := r.State
	for _, t := range c.Transitions {
		if !slices.Contains(advances[state], t.State) {
			return roles.Refuse("%s cannot go from %s to %s", r.ID, state, t.State)
		}
		// A failed run may go on (rollback, decision) only within the
		// same commit; once committed, failed is final.
		state = t.State
	}
	for _, t := range c.Transitions {
		d.emitRun(c.By, r, t, nil, "")
	}
	return nil
}

func (c CancelRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	if _, ok := d.e.roster.Get(c.By); !ok {
		return roles.Refuse("%q is not on the roster", c.By)
	}
	if c.By != r.Actor && c.By != d.s.Roles.Commander && (c.By != d.s.Roles.Deputy || c.By == "") {
		return roles.Refuse("%s cannot cancel %s: only its requester (%s), the commander or the deputy can", c.By, r.ID, r.Actor)
	}
	text := fmt.Sprintf("%s cancelled %s %s", c.By, r.ID, r.Playbook)
	if s := strings.TrimSpace(c.Reason); s != "" {
		text += ": " + s
	}
	switch r.State {
	case RunRequested, RunAwaitingApproval, RunApproved:
		d.emitRun(c.By, r, RunTransition{State: RunCancelled, Text: text}, nil, "")
	case RunRunning, RunVerifying, RunRollingBack:
		d.emitRun(c.By, r, RunTransition{State: RunCancelling, Step: r.Step,
			Text: fmt.Sprintf("%s asked to cancel %s during %s %s", c.By, r.ID, strings.ReplaceAll(r.State, "_", " "), r.Step)}, nil, "")
	case RunCancelling:
		return roles.Refuse("%s is already being cancelled", r.ID)
	case RunInterrupted, RunAwaitingDecision:
		return roles.Refuse("%s is %s: the commander resolves it (verify, rollback or abandon)", r.ID, strings.ReplaceAll(r.State, "_", " "))
	default:
		return roles.Refuse("%s is already over (%s)", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	return nil
}

func (c ResolveRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	if _, ok := d.e.roster.Get(c.By); !ok {
		return roles.Refuse("%q is not on the roster", c.By)
	}
	if c.By != d.s.Roles.Commander {
		return roles.Refuse("only the commander (%s) can decide what happens to %s", nameOr(d.s.Roles.Commander, "nobody"), r.ID)
	}
	if r.State != RunInterrupted && r.State != RunAwaitingDecision {
		return roles.Refuse("%s is %s: only an interrupted run or one awaiting a decision can be resolved", r.ID, strings.ReplaceAll(r.State, "_", " "))
	}
	text := fmt.Sprintf("%s chose to %s %s %s", c.By, c.Choice, r.ID, r.Playbook)
	if s := strings.TrimSpace(c.Reason); s != "" {
		text += ": " + s
	}
	var to string
	switch c.Choice {
	case ResolveVerify:
		to = RunVerifying
	case ResolveRollback:
		to = RunRollingBack
	case ResolveAbandon:
		to = RunAbandoned
		text += " (lock released; nothing more will be done)"
	default:
		return roles.Refuse("choose verify, rollback or abandon, not %q", c.Choice)
	}
	d.emitRun(c.By, r, RunTransition{State: to, Text: text}, nil, "")
	return nil
}

func (c ReconcileRuns) decide(d *decider) error {
	by := nameOr(c.By, "warroom")
	for _, id := range d.s.runIDs() {
		r := d.s.Runs[id]
		switch r.State {
		case RunRunning, RunVerifying, RunRollingBack, RunCancelling:
			what := strings.ReplaceAll(r.State, "_", " ")
			if r.Step != "" {
				what += " step " + r.Step
			}
			d.emitRun(by, r, RunTransition{State: RunInterrupted, Step: r.Step,
				Error: "outcome unknown",
				Text:  fmt.Sprintf("%s %s interrupted (outcome unknown) while %s; it will not be re-run: the commander chooses verify, rollback or abandon", r.ID, r.Playbook, what)}, nil, "")
		case RunRequested, RunAwaitingApproval, RunApproved:
			d.emitRun(by, r, RunTransition{State: RunExpired,
				Text: fmt.Sprintf("%s %s expired: warroom restarted before it ran", r.ID, r.Playbook)}, nil, "")
		}
	}
	return nil
}
