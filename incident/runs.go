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
//	awaiting_approval → superseded (another request for its lock was approved)
//	running/verifying/rolling_back → cancelling → cancelled | failed (→ rolling_back)
//	running/verifying/rolling_back/cancelling (after a crash) → interrupted
//	interrupted/awaiting_decision → verifying | rolling_back | abandoned (the commander decides)
//
// A run takes its lock when it is approved (at once for a playbook that
// needs no approval) and holds it until it is over. A request waiting for
// approval holds nothing: an approver may have several requests for one
// lock before them, picks one, and the others are superseded.
type RunState string

const (
	RunRequested        RunState = "requested"
	RunAwaitingApproval RunState = "awaiting_approval"
	RunApproved         RunState = "approved"
	RunRunning          RunState = "running"
	RunVerifying        RunState = "verifying"
	RunSucceeded        RunState = "succeeded"
	RunFailed           RunState = "failed"
	RunRollingBack      RunState = "rolling_back"
	RunRolledBack       RunState = "rolled_back"
	RunRollbackFailed   RunState = "rollback_failed"
	RunCancelling       RunState = "cancelling"
	RunCancelled        RunState = "cancelled"
	RunExpired          RunState = "expired"
	RunRejected         RunState = "rejected"
	RunInterrupted      RunState = "interrupted"
	RunAwaitingDecision RunState = "awaiting_decision"
	RunAbandoned        RunState = "abandoned"
	RunSuperseded       RunState = "superseded"
)

// Words is the state as a person reads it ("awaiting approval").
func (s RunState) Words() string { return strings.ReplaceAll(string(s), "_", " ") }

// RunTerminal reports whether a run in this state is over: it holds no
// lock and nothing more happens to it.
func RunTerminal(state RunState) bool {
	switch state {
	case RunSucceeded, RunFailed, RunRolledBack, RunRollbackFailed, RunCancelled, RunExpired, RunRejected, RunAbandoned, RunSuperseded:
		return true
	}
	return false
}

// RunHoldsLock reports whether a run in this state holds its lock: from
// its approval until it is over.
func RunHoldsLock(state RunState) bool {
	switch state {
	case RunRequested, RunAwaitingApproval:
		return false
	}
	return !RunTerminal(state)
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
	// Lock is the named lock the run holds from its approval to its end.
	Lock string
	// LockTimeout is the lease, counted from the approval: a run that has
	// not started within it loses the lock. A run that is applying keeps
	// it (its outcome would be unknown); the runner's whole-run deadline
	// is the lease.
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
	// Plan is the dry run the requester confirmed, recorded so approvers
	// see the same changes (optional; bounded by the engine).
	Plan     *RunPlan
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
	State     RunState
	Step      string
	Index, Of int // step Index of Of in its section (steps, verify, rollback)
	Output    string
	Error     string
	Text      string
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
		Run: &RunInfo{ID: r.ID, Playbook: r.Playbook, State: t.State, Step: t.Step, Index: t.Index, Of: t.Of, Params: params, Hash: hash, Output: t.Output, Error: t.Error}})
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// expiry says why a run that has not started must expire now ("" if not).
func expiry(r *Run, p RunPolicy, now time.Time) string {
	switch r.State {
	case RunAwaitingApproval:
		if p.ApprovalTimeout > 0 && now.Sub(r.Started) > p.ApprovalTimeout {
			return fmt.Sprintf("approval request %s expired: not approved within %s", r.ID, p.ApprovalTimeout)
		}
	case RunApproved:
		if len(p.Approvers) > 0 && p.ApprovalTimeout > 0 && now.Sub(r.Locked) > p.ApprovalTimeout {
			return fmt.Sprintf("the approval of %s expired: not started within %s of approval", r.ID, p.ApprovalTimeout)
		}
		if p.LockTimeout > 0 && now.Sub(r.Locked) > p.LockTimeout {
			return fmt.Sprintf("%s lost lock %s: not started within its %s lease", r.ID, p.Lock, p.LockTimeout)
		}
	}
	return ""
}

func (d *decider) expire(r *Run, why string) {
	d.emitRun("warroom", r, RunTransition{State: RunExpired, Text: why}, nil, "")
}

// RunLock is the lock a run takes: the one its request recorded, or, in
// journals from before requests recorded it, the playbook's.
func RunLock(r *Run, ps RunPolicies) string {
	if r.Lock != "" {
		return r.Lock
	}
	if ps != nil {
		if p, ok := ps.RunPolicy(r.Playbook); ok {
			return p.Lock
		}
	}
	return r.Playbook
}

// LockFree refuses when a run holds the named lock, saying which: the
// check a dashboard or the runner makes on a snapshot before a request
// (the engine decides again).
func (s *State) LockFree(lock string, ps RunPolicies) error {
	if h := s.LockHolder(lock, ps); h != nil {
		return roles.Refuse("lock %s is held by run %s (%s, requested by %s, %s)", lock, h.ID, h.Playbook, h.Actor, h.State.Words())
	}
	return nil
}

// LockHolder returns the run holding the named lock, or nil.
func (s *State) LockHolder(lock string, ps RunPolicies) *Run {
	for _, id := range s.runIDs() {
		r := s.Runs[id]
		if RunHoldsLock(r.State) && RunLock(r, ps) == lock {
			return r
		}
	}
	return nil
}

// Contenders lists the other requests waiting for approval that want the
// same lock as r, oldest first: approving one supersedes the others.
func (s *State) Contenders(r *Run, ps RunPolicies) []*Run {
	lock := RunLock(r, ps)
	var out []*Run
	for _, id := range s.runIDs() {
		o := s.Runs[id]
		if o.ID != r.ID && o.State == RunAwaitingApproval && RunLock(o, ps) == lock {
			out = append(out, o)
		}
	}
	return out
}

// SortRunIDs orders run ids by their seq (R9 before R10).
func SortRunIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}

// runIDs lists run ids oldest first (R<seq> ordered by seq).
func (s *State) runIDs() []string {
	ids := make([]string, 0, len(s.Runs))
	for id := range s.Runs {
		ids = append(ids, id)
	}
	SortRunIDs(ids)
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
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, r.State.Words())
	}
	if why := expiry(r, p, now); why != "" {
		return roles.Refuse("%s", why)
	}
	if by == r.Actor {
		return roles.Refuse("%s requested %s and cannot approve it: no self-approval, another approver must", by, r.ID)
	}
	if err := s.mayApprove(roster, by, r, p); err != nil {
		return err
	}
	if h := s.LockHolder(RunLock(r, ps), ps); h != nil {
		return roles.Refuse("%s; approve %s once it is over", s.heldBy(h, ps, now), r.ID)
	}
	return nil
}

// heldBy says which run holds a lock and what it is doing.
func (s *State) heldBy(h *Run, ps RunPolicies, now time.Time) string {
	lock := RunLock(h, ps)
	held := fmt.Sprintf("lock %s is held by run %s (%s, requested by %s, %s since %s",
		lock, h.ID, h.Playbook, h.Actor, h.State.Words(), Age(now.Sub(h.Started)))
	if ps != nil {
		if hp, ok := ps.RunPolicy(h.Playbook); ok && hp.LockTimeout > 0 && !h.Locked.IsZero() && now.Sub(h.Locked) > hp.LockTimeout {
			held += fmt.Sprintf(", past its %s lease", hp.LockTimeout)
		}
	}
	return held + ")"
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
	// forgotten request or approval cannot linger.
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
		held := d.s.heldBy(h, c.Policies, d.now)
		switch h.State {
		case RunInterrupted, RunAwaitingDecision:
			held += "; the commander must resolve it first"
		default:
			held += "; wait for it to finish or ask " + h.Actor + " to cancel it"
		}
		return roles.Refuse("%s", held)
	}
	// The same request twice is one request; asking again with other
	// values replaces one's own earlier request.
	var replaced []*Run
	for _, id := range d.s.runIDs() {
		o := d.s.Runs[id]
		if o.State != RunAwaitingApproval || o.Playbook != c.Playbook {
			continue
		}
		if o.Hash == c.Hash {
			return roles.Refuse("%s already requested exactly this as %s (%s ago); it awaits approval", o.Actor, o.ID, Age(d.now.Sub(o.Started)))
		}
		if o.Actor == c.By {
			replaced = append(replaced, o)
		}
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
	req := d.emit(Event{Kind: KindRun, Actor: c.By, Service: p.Service, Text: text,
		Run: &RunInfo{ID: id, Playbook: c.Playbook, State: RunRequested, Params: params, Hash: c.Hash, Lock: p.Lock, Plan: c.Plan.bounded()}})
	r := d.s.Runs[id]
	for _, o := range replaced {
		d.emit(Event{Kind: KindRun, Actor: c.By, Service: o.Service, Ref: req.Seq,
			Text: fmt.Sprintf("%s %s superseded: %s asked again as %s with other parameters", o.ID, o.Playbook, c.By, id),
			Run:  &RunInfo{ID: o.ID, Playbook: o.Playbook, State: RunSuperseded}})
	}
	if len(p.Approvers) == 0 {
		d.emitRun(c.By, r, RunTransition{State: RunApproved, Text: fmt.Sprintf("%s needs no approval; holds lock %s", id, p.Lock)}, nil, "")
		return nil
	}
	names := make([]string, len(p.Approvers))
	for i, role := range p.Approvers {
		names[i] = string(role)
	}
	text = fmt.Sprintf("%s awaits approval by the %s within %s (parameters %s); takes lock %s when approved",
		id, strings.Join(names, " or "), p.ApprovalTimeout, shortHash(c.Hash), p.Lock)
	if others := d.s.Contenders(r, c.Policies); len(others) > 0 {
		ids := make([]string, len(others))
		for i, o := range others {
			ids[i] = o.ID + " by " + o.Actor
		}
		text += "; also waiting for it: " + strings.Join(ids, ", ") + " (the approver picks one)"
	}
	d.emitRun(c.By, r, RunTransition{State: RunAwaitingApproval, Text: text}, nil, "")
	return nil
}

func (c ApproveRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	p := d.policy(c.Policies, r)
	if r.State != RunAwaitingApproval {
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, r.State.Words())
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
	lock := RunLock(r, c.Policies)
	if h := d.s.LockHolder(lock, c.Policies); h != nil {
		return roles.Refuse("%s; approve %s once it is over", d.s.heldBy(h, c.Policies, d.now), r.ID)
	}
	others := d.s.Contenders(r, c.Policies)
	d.emitRun(c.By, r, RunTransition{State: RunApproved,
		Text: fmt.Sprintf("%s approved %s %s (parameters %s); valid for %s; holds lock %s", c.By, r.ID, r.Playbook, shortHash(r.Hash), p.ApprovalTimeout, lock)}, nil, r.Hash)
	approval := d.s.LastSeq
	for _, o := range others {
		d.emit(Event{Kind: KindRun, Actor: c.By, Service: o.Service, Ref: approval,
			Text: fmt.Sprintf("%s %s requested by %s superseded: %s approved %s %s by %s for lock %s instead; request it again once %s is over if it is still needed",
				o.ID, o.Playbook, o.Actor, c.By, r.ID, r.Playbook, r.Actor, lock, r.ID),
			Run: &RunInfo{ID: o.ID, Playbook: o.Playbook, State: RunSuperseded}})
	}
	return nil
}

func (c RejectRun) decide(d *decider) error {
	r, err := d.run(c.RunID)
	if err != nil {
		return err
	}
	p := d.policy(c.Policies, r)
	if r.State != RunAwaitingApproval {
		return roles.Refuse("%s is %s, not awaiting approval", r.ID, r.State.Words())
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
		return roles.Refuse("%s is %s; a run starts only once approved", r.ID, r.State.Words())
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
var advances = map[RunState][]RunState{
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
		return roles.Refuse("%s is already over (%s)", r.ID, r.State.Words())
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
		d.emitRun(c.By, r, RunTransition{State: RunCancelling, Step: r.Step, Index: r.Index, Of: r.Of,
			Text: fmt.Sprintf("%s asked to cancel %s during %s %s", c.By, r.ID, r.State.Words(), r.Step)}, nil, "")
	case RunCancelling:
		return roles.Refuse("%s is already being cancelled", r.ID)
	case RunInterrupted, RunAwaitingDecision:
		return roles.Refuse("%s is %s: the commander resolves it (verify, rollback or abandon)", r.ID, r.State.Words())
	default:
		return roles.Refuse("%s is already over (%s)", r.ID, r.State.Words())
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
		return roles.Refuse("%s is %s: only an interrupted run or one awaiting a decision can be resolved", r.ID, r.State.Words())
	}
	text := fmt.Sprintf("%s chose to %s %s %s", c.By, c.Choice, r.ID, r.Playbook)
	if s := strings.TrimSpace(c.Reason); s != "" {
		text += ": " + s
	}
	var to RunState
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
			what := r.State.Words()
			if r.Step != "" {
				what += " step " + r.Step
			}
			d.emitRun(by, r, RunTransition{State: RunInterrupted, Step: r.Step, Index: r.Index, Of: r.Of,
				Error: "outcome unknown",
				Text:  fmt.Sprintf("%s %s interrupted (outcome unknown) while %s; it will not be re-run: the commander chooses verify, rollback or abandon", r.ID, r.Playbook, what)}, nil, "")
		case RunRequested, RunAwaitingApproval, RunApproved:
			d.emitRun(by, r, RunTransition{State: RunExpired,
				Text: fmt.Sprintf("%s %s expired: warroom restarted before it ran", r.ID, r.Playbook)}, nil, "")
		}
	}
	return nil
}
