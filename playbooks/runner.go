package playbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

// OutputLimit is how much of a step's output the timeline keeps.
const OutputLimit = 2048

// SlackPoster posts a playbook's slack step. The Slack mirror satisfies
// it; it must escape the text for mrkdwn (no <!channel> from a playbook)
// and may queue it. The text is already masked.
type SlackPoster interface {
	PostPlaybookMessage(ctx context.Context, m SlackMessage) error
}

// SlackMessage is one slack step's message.
type SlackMessage struct {
	RunID    string
	Playbook string
	Service  string
	Step     string
	Text     string
}

// OutputLine is one line of a step's output (masked), streamed as it
// arrives, for the TUI's run view and the CLI.
type OutputLine struct {
	RunID string
	Step  string
	Line  string
	Time  time.Time
}

// Options configure a Runner.
type Options struct {
	Engine  *incident.Engine
	Catalog *Catalog
	// Slack posts slack steps; nil records them as notes saying Slack
	// is not configured.
	Slack SlackPoster
	// Transport for http steps (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
	// Output receives each line of step output as it arrives. It is
	// called from run goroutines and must not block for long.
	Output func(OutputLine)
	// Log receives the runner's own diagnostics, masked.
	Log func(string)
	// Context bounds every run goroutine (default: background). When it
	// ends, runs stop where they are and are reconciled as interrupted
	// on the next start.
	Context context.Context
}

// Runner executes playbook runs. Decisions (permissions, approvals,
// locks, legal transitions) are the engine's; the runner does the I/O
// and reports each transition as it happens.
type Runner struct {
	eng    *incident.Engine
	cat    *Catalog
	o      Options
	clk    clock.Clock
	client *http.Client
	base   context.Context
	stop   context.CancelFunc

	mu        sync.Mutex
	active    map[string]*active
	watchers  map[int]func(OutputLine)
	nextWatch int

	mask       Masker       // every secret any run resolved: for logs
	procStarts atomic.Int64 // processes started (a dry run reports how many)
	mutations  atomic.Int64 // mutating requests sent
}

type active struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// NewRunner returns a runner. Call Reconcile once at start-up, before any
// run, so runs a previous process left behind are marked interrupted.
func NewRunner(o Options) (*Runner, error) {
	if o.Engine == nil || o.Catalog == nil {
		return nil, errors.New("playbooks: a runner needs an engine and a catalog")
	}
	base := o.Context
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithCancel(base)
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	r := &Runner{
		eng: o.Engine, cat: o.Catalog, o: o, clk: o.Engine.Clock(),
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // never follow a redirect off the configured host
		}},
		base: ctx, stop: cancel, active: map[string]*active{},
	}
	return r, nil
}

// Close stops every run goroutine where it is (they will show as
// interrupted after the next start) and waits for them.
func (r *Runner) Close() {
	r.stop()
	r.mu.Lock()
	var waits []chan struct{}
	for _, a := range r.active {
		waits = append(waits, a.done)
	}
	r.mu.Unlock()
	for _, w := range waits {
		<-w
	}
}

// Catalog is the runner's catalog.
func (r *Runner) Catalog() *Catalog { return r.cat }

// Reconcile marks runs a previous process left executing as interrupted
// (outcome unknown) and expires requests nobody waits on. Nothing is
// re-run; the commander resolves each interrupted run.
func (r *Runner) Reconcile(ctx context.Context) error {
	rep := r.eng.Do(ctx, incident.ReconcileRuns{By: "warroom"})
	return rep.Err
}

// RunError is a run that could not be requested or went wrong outside
// the engine's decisions (a variable or secret missing, …).
type RunError struct{ Msg string }

func (e *RunError) Error() string { return e.Msg }

// Handle is a requested run.
type Handle struct {
	ID       string
	Playbook *Playbook
	Params   Values
	Hash     string
	done     chan struct{}
}

// Done is closed when the run's goroutine has finished with it (a final
// state, a decision awaited, or the runner stopped).
func (h *Handle) Done() <-chan struct{} { return h.done }

// Request validates the parameters, checks that the run could execute
// (variables and secrets present), and asks the engine for the run. The
// engine checks the requester's role and takes the lock; the returned
// handle's goroutine then waits for approval (if the playbook needs one),
// starts the run and executes it.
//
// The request records a dry run for the approvers: plan, the one the
// requester confirmed, if it is for these exact parameters; otherwise,
// for a playbook that needs an approval, the runner dry-runs it now
// (read-only requests only).
func (r *Runner) Request(ctx context.Context, by, playbook string, raw map[string]string) (*Handle, error) {
	return r.RequestPlanned(ctx, by, playbook, raw, nil, "")
}

// RequestShown dry-runs the request (read-only requests only), hands the
// plan to show before anything is requested, so that the requester sees
// what the run would change (old → new) as the dashboard shows it, and
// requests the run with that plan for the approvers.
func (r *Runner) RequestShown(ctx context.Context, by, playbook string, raw map[string]string, show func(*Plan)) (*Handle, error) {
	p, err := r.DryRun(ctx, playbook, raw)
	if err != nil {
		return nil, err
	}
	show(p)
	return r.RequestPlanned(ctx, by, playbook, raw, p.RunPlan(), p.Hash)
}

// RequestPlanned is Request with the dry run the requester saw (plan, for
// parameters with hash planHash; ignored if that is not this request's).
func (r *Runner) RequestPlanned(ctx context.Context, by, playbook string, raw map[string]string, plan *incident.RunPlan, planHash string) (*Handle, error) {
	pb, ok := r.cat.Get(playbook)
	if !ok {
		return nil, &ParamError{Playbook: playbook, Problems: []string{"no such playbook" + hintList(playbook, r.cat)}}
	}
	vals, err := pb.ValidateParams(raw)
	if err != nil {
		return nil, err
	}
	if _, _, err := resolveEnv(pb); err != nil {
		return nil, err
	}
	hash := pb.Hash(vals)
	if planHash != hash {
		plan = nil // not the plan of this request
	}
	if plan == nil && pb.Approval != nil {
		p, err := r.DryRun(ctx, pb.ID, raw)
		if err != nil {
			r.logf("%s: dry run for the approvers failed: %v", pb.ID, err)
		}
		plan = p.RunPlan()
	}
	rep := r.eng.Do(ctx, incident.RequestRun{By: by, Playbook: pb.ID, Params: vals.Text, Hash: hash,
		Summary: shortText2(pb.Summary(vals)), Plan: plan, Policies: r.cat})
	if rep.Err != nil {
		return nil, rep.Err
	}
	id := ""
	for _, ev := range rep.Events {
		if ev.Run != nil && ev.Run.State == incident.RunRequested {
			id = ev.Run.ID
		}
	}
	if id == "" {
		return nil, errors.New("engine accepted the request without a run id")
	}
	h := &Handle{ID: id, Playbook: pb, Params: vals, Hash: hash, done: make(chan struct{})}
	a := r.track(id, h.done)
	if a == nil {
		close(h.done)
		return h, nil
	}
	go r.drive(a, h, by)
	return h, nil
}

func hintList(id string, c *Catalog) string {
	var ids []string
	for _, p := range c.list {
		ids = append(ids, p.ID)
	}
	if s := suggest(id, ids); s != "" {
		return " (" + s + ")"
	}
	return ""
}

func shortText2(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// track registers a run goroutine; nil if the runner is stopped.
func (r *Runner) track(id string, done chan struct{}) *active {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base.Err() != nil {
		return nil
	}
	a := &active{done: done, cancel: func(error) {}}
	r.active[id] = a
	return a
}

func (r *Runner) untrack(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.active[id]; a != nil {
		delete(r.active, id)
		close(a.done)
	}
}

// phaseContext derives a cancellable context for the run's current
// phase; Cancel cancels it.
func (r *Runner) phaseContext(id string) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(r.base)
	r.mu.Lock()
	if a := r.active[id]; a != nil {
		a.cancel = cancel
	}
	r.mu.Unlock()
	return ctx, cancel
}

// Approve approves a run. hash is the parameter hash the approver was
// shown (Handle.Hash, or the run's Hash in the engine state).
func (r *Runner) Approve(ctx context.Context, by, runID, hash string) error {
	return r.eng.Do(ctx, incident.ApproveRun{By: by, RunID: runID, Hash: hash, Policies: r.cat}).Err
}

// Reject turns a run request down.
func (r *Runner) Reject(ctx context.Context, by, runID, reason string) error {
	return r.eng.Do(ctx, incident.RejectRun{By: by, RunID: runID, Reason: reason, Policies: r.cat}).Err
}

// errCancelled is the cause of a phase cancelled by a person.
type errCancelled struct{ by string }

func (e *errCancelled) Error() string { return "cancelled by " + e.by }

var errLease = errors.New("the run outlived its lock lease")

// Cancel cancels a run: the engine records it (and refuses people who
// may not), then a step in progress is stopped: its request aborted or
// its process group killed.
func (r *Runner) Cancel(ctx context.Context, by, runID, reason string) error {
	if err := r.eng.Do(ctx, incident.CancelRun{By: by, RunID: runID, Reason: reason}).Err; err != nil {
		return err
	}
	var cancel context.CancelCauseFunc
	r.mu.Lock()
	if a := r.active[runID]; a != nil {
		cancel = a.cancel // phaseContext replaces it under the lock
	}
	r.mu.Unlock()
	if cancel != nil {
		cancel(&errCancelled{by: by})
	}
	return nil
}

// Resolve records the commander's choice for an interrupted run or one
// awaiting a decision, and carries it out: verify runs the verify steps
// again, rollback runs the rollback steps with the values the run
// captured, abandon only releases the lock.
func (r *Runner) Resolve(ctx context.Context, by, runID string, choice incident.ResolveChoice, reason string) (*Handle, error) {
	st, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	run := st.Runs[runID]
	if run == nil {
		return nil, roles.Refuse("no run %s", runID)
	}
	pb, ok := r.cat.Get(run.Playbook)
	if !ok && choice != incident.ResolveAbandon {
		return nil, &RunError{Msg: fmt.Sprintf("playbook %s is no longer in the catalog: only abandon is possible", run.Playbook)}
	}
	var vals Values
	if ok {
		if vals, err = pb.ValuesFromText(run.Params); err != nil && choice != incident.ResolveAbandon {
			return nil, &RunError{Msg: fmt.Sprintf("%s: its recorded parameters no longer fit the playbook (%v): only abandon is possible", runID, err)}
		}
	}
	if err := r.eng.Do(ctx, incident.ResolveRun{By: by, RunID: runID, Choice: choice, Reason: reason}).Err; err != nil {
		return nil, err
	}
	h := &Handle{ID: runID, Playbook: pb, Params: vals, Hash: run.Hash, done: make(chan struct{})}
	if choice == incident.ResolveAbandon {
		close(h.done)
		return h, nil
	}
	a := r.track(runID, h.done)
	if a == nil {
		close(h.done)
		return h, nil
	}
	go func() {
		defer r.untrack(runID)
		x, err := r.newExecution(pb, vals, runID, by, false)
		if err != nil {
			r.record(runID, by, incident.RunTransition{State: incident.RunFailed, Error: x.mask.MaskError(err), Text: runID + " cannot continue: " + x.mask.MaskError(err)})
			return
		}
		saves, err := r.loadSaves(runID)
		if err != nil {
			r.logf("%s: %v", runID, err)
		}
		x.env.saves = saves
		if choice == incident.ResolveVerify {
			r.verifyAndFinish(x)
			return
		}
		r.rollback(x, "the commander chose to roll back")
	}()
	return h, nil
}

// Snapshot is a copy of the engine state (runs, locks, panes).
func (r *Runner) Snapshot(ctx context.Context) (*incident.State, error) { return r.state(ctx) }

// RunSummary describes one run as it is now.
func (r *Runner) RunSummary(ctx context.Context, id string) (*RunSummary, error) {
	st, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	sum, ok := r.Summary(st, id)
	if !ok {
		return nil, roles.Refuse("no run %s", id)
	}
	return sum, nil
}

// state takes a snapshot of the engine state.
func (r *Runner) state(ctx context.Context) (*incident.State, error) {
	return incident.Snapshot(ctx, r.eng)
}

// Wait waits until the run's goroutine in this runner is done and
// returns the run's state.
func (r *Runner) Wait(ctx context.Context, runID string) (*incident.Run, error) {
	r.mu.Lock()
	a := r.active[runID]
	r.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	st, err := r.state(ctx)
	if err != nil {
		return nil, err
	}
	run := st.Runs[runID]
	if run == nil {
		return nil, roles.Refuse("no run %s", runID)
	}
	return run, nil
}

func (r *Runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		r.o.Log(r.mask.Mask(fmt.Sprintf(format, args...)))
	}
}

// record commits transitions; it uses its own context so that a
// cancelled step is still recorded.
func (r *Runner) record(runID, by string, ts ...incident.RunTransition) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep := r.eng.Do(ctx, incident.AdvanceRun{By: by, RunID: runID, Transitions: ts})
	if rep.Err != nil {
		r.logf("%s: recording %s refused: %v", runID, ts[0].State, rep.Err)
	}
	return rep.Err
}

// resolveEnv reads a playbook's vars and secrets from the environment.
func resolveEnv(pb *Playbook) (map[string]string, map[string]string, error) {
	vars := map[string]string{}
	var probs []string
	for _, v := range pb.Vars {
		switch {
		case v.Env != "":
			val, ok := os.LookupEnv(v.Env)
			if !ok || val == "" {
				val = v.Default
			}
			if val == "" {
				probs = append(probs, fmt.Sprintf("var %s: environment variable %s is not set", v.Name, v.Env))
				continue
			}
			vars[v.Name] = val
		default:
			val, err := config.ExpandEnv(v.Value)
			if err != nil {
				probs = append(probs, fmt.Sprintf("var %s: %v", v.Name, err))
				continue
			}
			vars[v.Name] = val
		}
	}
	secrets := map[string]string{}
	for _, s := range pb.Secrets {
		val := s.Secret.Value()
		switch {
		case val == "":
			probs = append(probs, fmt.Sprintf("secret %s: environment variable %s is not set", s.Name, s.Secret.Env))
		case len(val) < MinSecretLen:
			probs = append(probs, fmt.Sprintf("secret %s: the value of %s is too short to mask safely (under %d characters)", s.Name, s.Secret.Env, MinSecretLen))
		case strings.ContainsAny(val, "\r\n"):
			probs = append(probs, fmt.Sprintf("secret %s: multi-line secrets are not supported", s.Name))
		default:
			secrets[s.Name] = val
		}
	}
	if len(probs) > 0 {
		return nil, nil, &RunError{Msg: "playbook " + pb.ID + ": " + strings.Join(probs, "; ")}
	}
	return vars, secrets, nil
}

// execution is one run's working state.
type execution struct {
	r       *Runner
	pb      *Playbook
	runID   string
	by      string
	env     *env
	mask    *Masker
	dry     bool
	mutated bool            // a mutating step has begun
	bodies  map[string]any  // dry run: captured JSON responses by step
	ctx     context.Context // the current phase
	cancel  context.CancelCauseFunc
	started time.Time
}

func (r *Runner) newExecution(pb *Playbook, vals Values, runID, by string, dry bool) (*execution, error) {
	x := &execution{r: r, pb: pb, runID: runID, by: by, mask: &Masker{}, dry: dry, bodies: map[string]any{}}
	x.env = &env{params: vals.Typed, saves: map[string]map[string]any{}, run: map[string]string{"id": runID, "by": by}, placeholders: dry}
	if pb == nil {
		return x, errors.New("no playbook")
	}
	vars, secrets, err := resolveEnv(pb)
	if err != nil {
		return x, err
	}
	for _, v := range secrets {
		if err := x.mask.Add(v); err != nil {
			return x, err
		}
		_ = r.mask.Add(v)
	}
	x.env.vars, x.env.secrets = vars, secrets
	return x, nil
}

// drive takes a requested run through approval, start, steps, verify and
// (when needed) rollback.
func (r *Runner) drive(a *active, h *Handle, by string) {
	defer r.untrack(h.ID)
	x, err := r.newExecution(h.Playbook, h.Params, h.ID, by, false)
	if err != nil {
		r.logf("%s: %s", h.ID, x.mask.MaskError(err))
		return
	}
	if !r.awaitApproval(x, h) {
		return
	}
	if rep := r.eng.Do(r.base, incident.StartRun{By: by, RunID: h.ID, Hash: h.Hash, Policies: r.cat}); rep.Err != nil {
		r.logf("%s: start refused: %v", h.ID, rep.Err)
		return
	}
	st, err := r.state(r.base)
	if err != nil {
		return
	}
	run := st.Runs[h.ID]
	// The whole-run deadline (the lock lease) counts from the approval,
	// when the run took its lock.
	x.started = run.Locked
	if x.started.IsZero() {
		x.started = run.Started
	}
	r.runSteps(x)
}

// awaitApproval waits for the engine to record the run approved. It
// returns false when the run will not start (rejected, cancelled,
// expired, or the runner stopped).
func (r *Runner) awaitApproval(x *execution, h *Handle) bool {
	st, sub, err := r.eng.Subscribe(r.base, 64)
	if err != nil {
		return false
	}
	ctx, stop := context.WithCancel(r.base)
	defer stop()
	feed := incident.Feed(ctx, r.eng, sub, 64)
	run := st.Runs[h.ID]
	if run == nil {
		return false
	}
	exp := DefaultApprovalExpiry
	if h.Playbook.Approval != nil {
		exp = h.Playbook.Approval.Expires
	}
	timeout := r.clk.After(exp - r.clk.Since(run.Started) + 50*time.Millisecond)
	state := run.State
	for {
		switch state {
		case incident.RunApproved:
			return true
		case incident.RunAwaitingApproval:
		default:
			return false
		}
		select {
		case <-r.base.Done():
			return false
		case <-timeout:
			r.record(h.ID, "warroom", incident.RunTransition{State: incident.RunExpired,
				Text: fmt.Sprintf("approval request %s expired: not approved within %s", h.ID, exp)})
			return false
		case it, ok := <-feed:
			switch {
			case !ok:
				return false // the engine stopped
			case it.State != nil: // fell behind: a fresh snapshot
				run := it.State.Runs[h.ID]
				if run == nil {
					return false
				}
				state = run.State
			}
			for _, ev := range it.Update.Events {
				if ev.Run != nil && ev.Run.ID == h.ID && state == incident.RunAwaitingApproval {
					state = ev.Run.State // the first decision counts
				}
			}
		}
	}
}

// phase starts a new cancellable phase of the run.
func (x *execution) phase() {
	x.ctx, x.cancel = x.r.phaseContext(x.runID)
}

func (x *execution) stopped() error {
	if x.ctx == nil {
		return nil
	}
	if x.ctx.Err() != nil {
		return context.Cause(x.ctx)
	}
	return nil
}

// leaseWatch cancels the phase when the lock lease ends.
func (x *execution) leaseWatch() func() {
	if x.pb.Lock.Timeout <= 0 || x.started.IsZero() {
		return func() {}
	}
	left := x.pb.Lock.Timeout - x.r.clk.Since(x.started)
	done := make(chan struct{})
	fire := x.r.clk.After(left)
	cancel := x.cancel
	go func() {
		select {
		case <-fire:
			cancel(errLease)
		case <-done:
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// runSteps executes steps then verify.
func (r *Runner) runSteps(x *execution) {
	x.phase()
	stopLease := x.leaseWatch()
	for i, s := range x.pb.Steps {
		if cause := x.stopped(); cause != nil {
			stopLease()
			r.interrupted(x, s, cause)
			return
		}
		if err := r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRunning, Step: s.ID, Index: i + 1, Of: len(x.pb.Steps),
			Text: x.mask.Mask(fmt.Sprintf("%s step %d/%d %s: %s", x.runID, i+1, len(x.pb.Steps), s.ID, x.describe(s)))}); err != nil {
			stopLease()
			r.refused(x, s, err)
			return
		}
		before := x.mutated
		if s.Mutates() {
			x.mutated = true
		}
		res := x.runStep(x.ctx, s)
		if res.err != nil {
			stopLease()
			if res.notApplied {
				x.mutated = before // refused by the server: nothing changed
			}
			if cause := x.stopped(); cause != nil {
				r.interrupted(x, s, cause)
				return
			}
			r.fail(x, s, incident.RunRunning, res, x.pb.OnFailure)
			return
		}
		r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRunning, Step: s.ID, Index: i + 1, Of: len(x.pb.Steps), Output: res.output,
			Text: x.mask.Mask(fmt.Sprintf("%s step %s done: %s", x.runID, s.ID, res.summary))})
	}
	stopLease()
	r.verifyAndFinish(x)
}

// verifyAndFinish runs the verify steps and records the outcome.
func (r *Runner) verifyAndFinish(x *execution) {
	x.phase()
	stopLease := x.leaseWatch()
	defer stopLease()
	x.mutated = true // verify follows a change: a failure is handled by policy
	for i, s := range x.pb.Verify {
		if cause := x.stopped(); cause != nil {
			stopLease()
			r.interrupted(x, s, cause)
			return
		}
		if err := r.record(x.runID, x.by, incident.RunTransition{State: incident.RunVerifying, Step: s.ID, Index: i + 1, Of: len(x.pb.Verify),
			Text: x.mask.Mask(fmt.Sprintf("%s verifying %d/%d %s: %s", x.runID, i+1, len(x.pb.Verify), s.ID, x.describe(s)))}); err != nil {
			stopLease()
			r.refused(x, s, err)
			return
		}
		res := x.runStep(x.ctx, s)
		if res.err != nil {
			stopLease()
			if cause := x.stopped(); cause != nil {
				r.interrupted(x, s, cause)
				return
			}
			r.fail(x, s, incident.RunVerifying, res, x.pb.OnVerifyFailure)
			return
		}
		r.record(x.runID, x.by, incident.RunTransition{State: incident.RunVerifying, Step: s.ID, Index: i + 1, Of: len(x.pb.Verify), Output: res.output,
			Text: x.mask.Mask(fmt.Sprintf("%s verify %s passed: %s", x.runID, s.ID, res.summary))})
	}
	r.record(x.runID, x.by, incident.RunTransition{State: incident.RunSucceeded,
		Text: fmt.Sprintf("%s %s succeeded", x.runID, x.pb.ID)})
}

// fail records a failed step and what follows from the policy.
func (r *Runner) fail(x *execution, s *Step, state incident.RunState, res stepResult, policy string) {
	errText := x.mask.MaskError(res.err)
	ts := []incident.RunTransition{
		{State: state, Step: s.ID, Output: res.output, Error: errText,
			Text: x.mask.Mask(fmt.Sprintf("%s step %s failed: %s", x.runID, s.ID, truncate(errText, 300)))},
	}
	r.failWith(x, s, ts, errText, policy)
}

func (r *Runner) failWith(x *execution, s *Step, ts []incident.RunTransition, why, policy string) {
	switch {
	case !x.mutated:
		ts = append(ts, incident.RunTransition{State: incident.RunFailed, Step: s.ID, Error: why,
			Text: fmt.Sprintf("%s %s failed at %s before changing anything", x.runID, x.pb.ID, s.ID)})
		r.record(x.runID, x.by, ts...)
	case policy == "ask":
		ts = append(ts,
			incident.RunTransition{State: incident.RunFailed, Step: s.ID, Error: why, Text: fmt.Sprintf("%s %s failed at %s", x.runID, x.pb.ID, s.ID)},
			incident.RunTransition{State: incident.RunAwaitingDecision, Step: s.ID,
				Text: fmt.Sprintf("%s holds lock %s: the commander chooses verify, rollback or abandon", x.runID, x.pb.Lock.Name)})
		r.record(x.runID, x.by, ts...)
	default:
		ts = append(ts,
			incident.RunTransition{State: incident.RunFailed, Step: s.ID, Error: why, Text: fmt.Sprintf("%s %s failed at %s; rolling back", x.runID, x.pb.ID, s.ID)},
			incident.RunTransition{State: incident.RunRollingBack, Text: fmt.Sprintf("%s rolling back %d step(s) with captured values", x.runID, len(x.pb.Rollback))})
		if r.record(x.runID, x.by, ts...) == nil {
			r.rollbackSteps(x)
		}
	}
}

// interrupted handles a phase that stopped for a reason other than the
// step failing: a cancel, the lease, or the runner stopping.
func (r *Runner) interrupted(x *execution, s *Step, cause error) {
	var c *errCancelled
	switch {
	case errors.As(cause, &c), errors.Is(cause, errLease):
		why := cause.Error()
		if !x.mutated {
			if errors.As(cause, &c) {
				r.record(x.runID, x.by, incident.RunTransition{State: incident.RunCancelled, Step: s.ID,
					Text: fmt.Sprintf("%s %s %s before changing anything", x.runID, x.pb.ID, why)})
				return
			}
			r.record(x.runID, x.by, incident.RunTransition{State: incident.RunFailed, Step: s.ID, Error: why,
				Text: fmt.Sprintf("%s %s stopped: %s, before changing anything", x.runID, x.pb.ID, why)})
			return
		}
		r.failWith(x, s, nil, why+" during "+s.ID, x.pb.OnFailure)
	default:
		// The runner is stopping: leave the run as it is; the next start
		// reconciles it as interrupted.
		r.logf("%s: stopped during %s: %v", x.runID, s.ID, cause)
	}
}

// refused handles the engine refusing a transition mid-run, which means
// the run was cancelled between steps.
func (r *Runner) refused(x *execution, s *Step, err error) {
	st, serr := r.state(context.Background())
	if serr != nil {
		return
	}
	if run := st.Runs[x.runID]; run != nil && run.State == incident.RunCancelling {
		who := "someone"
		if n := len(run.Actor); n > 0 {
			who = run.Actor
		}
		for i := len(st.Recent) - 1; i >= 0; i-- {
			ev := st.Recent[i]
			if ev.Run != nil && ev.Run.ID == x.runID && ev.Run.State == incident.RunCancelling {
				who = ev.Actor
				break
			}
		}
		r.interrupted(x, s, &errCancelled{by: who})
		return
	}
	r.logf("%s: %v", x.runID, err)
}

// rollback runs the rollback steps from the rolling_back state (a
// decision by the commander already moved the run there).
func (r *Runner) rollback(x *execution, why string) {
	r.logf("%s: rolling back: %s", x.runID, why)
	r.rollbackSteps(x)
}

func (r *Runner) rollbackSteps(x *execution) {
	x.phase()
	for i, s := range x.pb.Rollback {
		if err := r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRollingBack, Step: s.ID, Index: i + 1, Of: len(x.pb.Rollback),
			Text: x.mask.Mask(fmt.Sprintf("%s rollback %d/%d %s: %s", x.runID, i+1, len(x.pb.Rollback), s.ID, x.describe(s)))}); err != nil {
			if st, _ := r.state(context.Background()); st != nil && st.Runs[x.runID] != nil && st.Runs[x.runID].State == incident.RunCancelling {
				r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRollbackFailed, Step: s.ID, Error: "cancelled",
					Text: fmt.Sprintf("%s rollback cancelled before %s: the system may be half rolled back", x.runID, s.ID)})
			}
			return
		}
		res := x.runStep(x.ctx, s)
		if res.err != nil {
			if cause := x.stopped(); cause != nil {
				var c *errCancelled
				if !errors.As(cause, &c) {
					r.logf("%s: stopped during rollback %s: %v", x.runID, s.ID, cause)
					return
				}
			}
			errText := x.mask.MaskError(res.err)
			r.record(x.runID, x.by,
				incident.RunTransition{State: incident.RunRollingBack, Step: s.ID, Index: i + 1, Of: len(x.pb.Rollback), Output: res.output, Error: errText,
					Text: x.mask.Mask(fmt.Sprintf("%s rollback step %s failed: %s", x.runID, s.ID, truncate(errText, 300)))},
				incident.RunTransition{State: incident.RunRollbackFailed, Step: s.ID, Error: errText,
					Text: fmt.Sprintf("%s %s ROLLBACK FAILED at %s: check the system by hand", x.runID, x.pb.ID, s.ID)})
			return
		}
		r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRollingBack, Step: s.ID, Index: i + 1, Of: len(x.pb.Rollback), Output: res.output,
			Text: x.mask.Mask(fmt.Sprintf("%s rollback step %s done: %s", x.runID, s.ID, res.summary))})
	}
	r.record(x.runID, x.by, incident.RunTransition{State: incident.RunRolledBack, Text: fmt.Sprintf("%s %s rolled back", x.runID, x.pb.ID)})
}

// savedPrefix starts the Output of a step event that recorded captured
// values, so a rollback after a restart can find them in the journal.
const savedPrefix = "saved "

// encodeSaves renders a step's saved values for its event.
func encodeSaves(v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return savedPrefix + string(b)
}

// loadSaves finds the values a run's steps saved, in the engine's fold
// of its RUN events (each step's last output).
func (r *Runner) loadSaves(runID string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	st, err := r.state(context.Background())
	if err != nil {
		return out, err
	}
	run := st.Runs[runID]
	if run == nil {
		return out, nil
	}
	for step, output := range run.Outputs {
		line, _, _ := strings.Cut(output, "\n")
		if !strings.HasPrefix(line, savedPrefix) {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(line, savedPrefix)))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil {
			continue
		}
		for k, v := range m {
			m[k] = normalize(v)
		}
		out[step] = m
	}
	return out, nil
}

// MayRun says whether by may request playbook now, judged on a state
// snapshot (the TUI's own copy): the role and the lock, with the reason a
// disabled action shows. The engine decides again when it is requested.
func (r *Runner) MayRun(st *incident.State, by, playbook string) error {
	pb, ok := r.cat.Get(playbook)
	if !ok {
		return roles.Refuse("no playbook %q", playbook)
	}
	p := pb.policy()
	if err := st.MayRun(r.eng.Roster(), by, p); err != nil {
		return err
	}
	return st.LockFree(p.Lock, r.cat)
}

// MayApprove says whether by may approve run id now (snapshot check).
func (r *Runner) MayApprove(st *incident.State, by, id string) error {
	return st.MayApprove(r.eng.Roster(), by, id, r.cat, r.clk.Now())
}
