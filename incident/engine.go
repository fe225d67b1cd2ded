package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// Reply answers a command: the events it produced (the last one's seq in
// Seq) once they are durable, or a refusal. A *roles.Refusal error is a
// reason to show the person; any other error is the engine failing.
type Reply struct {
	Seq    int64
	Events []Event
	Err    error
}

// Update is what a subscriber receives: committed events, and samples
// (which are not events but move the panes), in engine order.
type Update struct {
	Events  []Event
	Samples []Sample
	Now     time.Time // engine time of the update, for staleness
	// Presence, when not nil, is everyone connected now (it changed).
	Presence map[string]Presence
	// Storage is the journal's storage health when it changed.
	Storage *journal.Health
	// Cluster is this process's standing in a shared room when it
	// changed (leader, lag).
	Cluster *ClusterInfo
}

// ErrNotRecorded is the reply to a command whose events the journal could
// not commit (its disk is full, or it failed): nothing changed, and the
// room goes on. It wraps the journal's error (journal.ErrDiskFull…).
var ErrNotRecorded = errors.New("not recorded")

// Subscription is one reader's feed. C is closed when the reader is
// dropped (it fell behind: Lagged is true) or the engine stops.
type Subscription struct {
	C      <-chan Update
	c      chan Update
	lagged bool
	mu     sync.Mutex
}

// Lagged reports whether the feed was closed because the reader fell
// behind; it should resubscribe for a fresh snapshot.
func (s *Subscription) Lagged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagged
}

// ErrStopped is returned for commands sent after the engine has stopped.
var ErrStopped = errors.New("engine stopped")

// Options configure an engine.
type Options struct {
	Config  *config.Config
	Journal journal.Journal
	Clock   clock.Clock // default real time
	// MaxBatch bounds how many queued commands share one commit.
	MaxBatch int
	// Tick is how often staleness and escalation are checked (engine time).
	Tick time.Duration
	// Standby starts the engine as a standby of a shared journal
	// (journal.Shared): it follows the leader until Promote.
	Standby bool
	// Forward sends a command given to a standby to the leader and
	// returns the leader's reply, once this engine has folded its events
	// (the process provides it). Without it a standby refuses commands.
	Forward func(ctx context.Context, cmd Command) Reply
}

type request struct {
	cmd    Command
	reply  chan Reply // nil: fire and forget
	sub    chan subReply
	buf    int             // for a subscription: its buffer
	ctx    context.Context // the sender's (forwarding waits on it)
	origin int64           // the forwarded command this carries out
}

type subReply struct {
	state *State
	sub   *Subscription
}

// Engine owns the incident. Only its goroutine (Run) touches state.
type Engine struct {
	cfg       *config.Config
	j         journal.Journal
	clock     clock.Clock
	roster    *roles.Roster
	setup     roles.Assignments
	services  map[string]*config.Service
	rules     map[string]*rule
	ruleList  []*rule
	byService map[string][]*rule // panes of each service, in file order
	bySource  map[string][]*rule // panes of each source
	// sourceService is the service a source's alert belongs to: the one
	// service all its panes belong to, else none (the commander's).
	sourceService map[string]string
	escalation    config.Escalation
	cadence       Cadence
	maxBatch      int
	tickEvery     time.Duration
	started       time.Time

	state *State
	// frozen is a copy of state that no one mutates, shared by the
	// subscribers of one batch: each copies it for itself on its own
	// goroutine, so subscribing costs the engine at most one copy per
	// batch. nil once the state has moved on.
	frozen *State
	// base is an older copy of the committed state: when a commit fails,
	// the state is rebuilt from it and the journal (see rollback).
	base *State
	// health is the last health each source reported, so that only
	// changes become events. It starts from the replayed state.
	health map[string]SourceHealth
	// storms are recent escalations per person and step (escalateGroups):
	// how a storm of groups becomes a few ESCALATE events.
	storms map[string]*escStorm
	// watch tracks launch criteria the engine evaluates (launch.go).
	watch launchWatch
	// clk keeps event times monotonic (see eventTime).
	clk  monoClock
	reqs chan request
	subs []*Subscription
	done chan struct{}
	err  error // why Run stopped

	// A shared room (cluster.go). role is the engine goroutine's;
	// cluster is its published view.
	shared     journal.Shared // nil: this engine is the journal's only writer
	forwardFn  func(ctx context.Context, cmd Command) Reply
	role       Role
	cluster    atomic.Pointer[ClusterInfo]
	ctl        chan ctl
	followed   chan followed
	followStop func()
	applied    atomic.Int64
	commits    commitStats
	// localPresence is who is connected to this process (presence.go).
	localPresence atomic.Pointer[map[string]Presence]
	appliedMu     sync.Mutex
	appliedC      chan struct{}
}

// New replays the journal into a fresh engine. Call Run to start it.
func New(o Options) (*Engine, error) {
	if o.Config == nil || o.Journal == nil {
		return nil, errors.New("engine: config and journal are required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	e := &Engine{
		cfg: o.Config, j: o.Journal, clock: o.Clock,
		roster:     roles.NewRoster(o.Config.Roster),
		setup:      roles.FromConfig(o.Config),
		services:   map[string]*config.Service{},
		rules:      map[string]*rule{},
		byService:  map[string][]*rule{},
		bySource:   map[string][]*rule{},
		escalation: o.Config.Escalation,
		cadence:    CadenceOf(o.Config),
		maxBatch:   o.MaxBatch,
		tickEvery:  o.Tick,
		state:      NewState(),
		reqs:       make(chan request, 4096),
		done:       make(chan struct{}),
		role:       RoleLeader,
		forwardFn:  o.Forward,
		ctl:        make(chan ctl),
		followed:   make(chan followed, 4),
		appliedC:   make(chan struct{}),
	}
	if sh, ok := o.Journal.(journal.Shared); ok {
		e.shared = sh
		info := ClusterInfo{Node: sh.Node(), Role: RoleLeader, Leader: sh.Node()}
		if term, _, leads := sh.Leading(); leads {
			info.Term, info.Terms = term, 1
		} else if o.Standby {
			info.Role, info.Leader = RoleStandby, ""
		} else {
			return nil, fmt.Errorf("engine: %w (open it as a standby)", ErrNotLeader)
		}
		e.role = info.Role
		e.cluster.Store(&info)
	} else if o.Standby {
		return nil, errors.New("engine: a standby needs a shared journal")
	}
	for i := range o.Config.Services {
		svc := &o.Config.Services[i]
		e.services[svc.ID] = svc
		for _, p := range svc.Panes {
			r := newRule(*svc, p, o.Config.Source(p.Source))
			e.rules[PaneKey(svc.ID, p.ID)] = r
			e.ruleList = append(e.ruleList, r)
			e.byService[svc.ID] = append(e.byService[svc.ID], r)
			e.bySource[p.Source] = append(e.bySource[p.Source], r)
		}
	}
	e.sourceService = map[string]string{}
	for src, rs := range e.bySource {
		svc := rs[0].service
		for _, r := range rs {
			if r.service != svc {
				svc = ""
			}
		}
		e.sourceService[src] = svc
	}
	if err := replay(o.Journal, e.state); err != nil {
		return nil, err
	}
	e.base = e.state.Clone()
	e.resetHealth()
	e.state.Cluster = e.Cluster()
	e.applied.Store(e.state.LastSeq)
	return e, nil
}

// replay folds the journal's events after st.LastSeq into st.
func replay(j journal.Reader, st *State) error {
	err := j.Replay(context.Background(), st.LastSeq, func(je journal.Event) error {
		ev, err := FromJournal(je)
		if err != nil {
			return err
		}
		if ev.Seq != st.LastSeq+1 {
			return fmt.Errorf("journal has a gap: #%d follows #%d", ev.Seq, st.LastSeq)
		}
		st.Apply(ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay %s: %w", j.Path(), err)
	}
	return nil
}

func (e *Engine) resetHealth() {
	e.health = map[string]SourceHealth{}
	e.storms = map[string]*escStorm{}
	for id, si := range e.state.Sources {
		e.health[id] = si.Health
	}
}

// Roster is the fixed roster of this war room.
func (e *Engine) Roster() *roles.Roster { return e.roster }

// Config is the war-room file the engine runs.
func (e *Engine) Config() *config.Config { return e.cfg }

// Clock is the engine's clock.
func (e *Engine) Clock() clock.Clock { return e.clock }

// Run processes commands until ctx ends or the journal fails. On first
// start (an empty journal) it declares the incident from the config.
func (e *Engine) Run(ctx context.Context) error {
	defer e.stop()
	defer e.stopFollowing()
	e.started = e.clock.Now()
	e.clk.start(e.started, e.state)
	if e.role == RoleStandby {
		e.startFollowing(ctx)
	} else if e.state.Declared.IsZero() {
		if err := e.process([]request{{cmd: Declare{By: "warroom", Name: e.cfg.Incident.Name}}}); err != nil {
			return err
		}
	}
	tick := e.clock.After(e.untilTick())
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-e.ctl:
			e.runControl(ctx, c)
		case f := <-e.followed:
			e.applyFollowed(f)
		case <-tick:
			tick = e.clock.After(e.untilTick())
			// What was sent before the tick is decided before it: an ack
			// waiting in the queue when its alert's escalation falls due
			// (a busy engine) is an ack in time, not a page.
			batch := e.waiting(nil, e.maxBatch)
			if err := e.process(append(batch, request{cmd: heartbeat{}}, request{cmd: checkSystem{}})); err != nil {
				return err
			}
		case r := <-e.reqs:
			// Group commit: take whatever else is already waiting.
			if err := e.process(e.waiting([]request{r}, e.maxBatch)); err != nil {
				return err
			}
		}
	}
}

// waiting appends the requests already queued to batch, up to max.
func (e *Engine) waiting(batch []request, max int) []request {
	for len(batch) < max {
		select {
		case r := <-e.reqs:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// untilTick is the wait until the next heartbeat: on whole multiples of
// the tick on the clock, so that it wakes the process together with the
// dashboards' clock ticks (on whole seconds) rather than between them.
func (e *Engine) untilTick() time.Duration {
	d := e.tickEvery - time.Duration(e.clock.Now().UnixNano())%e.tickEvery
	if d <= 0 {
		d = e.tickEvery
	}
	return d
}

// process decides every command of the batch against the state, commits
// all resulting events in one transaction, and only then replies and
// publishes. When the commit fails, the state is rolled back to the
// journal's, every command that needed the commit is refused with
// ErrNotRecorded, and the engine goes on; it stops only when it cannot
// rebuild its state.
func (e *Engine) process(batch []request) error {
	now := e.clk.now(e.clock.Now())
	d := &decider{e: e, s: e.state, now: now, dirty: map[string]bool{}}
	for _, r := range batch {
		if r.sub == nil {
			e.frozen = nil // the state may change
			break
		}
	}
	type outcome struct {
		from, to int
		err      error
	}
	outs := make([]outcome, len(batch))
	var subsAsked []int
	origins := make([]int64, 0, len(batch))
	for i, r := range batch {
		if r.sub != nil {
			subsAsked = append(subsAsked, i)
			continue
		}
		if e.role != RoleLeader && !local(r.cmd) {
			e.notLeading(r)
			batch[i].reply = nil // answered
			continue
		}
		from := len(d.out)
		err := r.cmd.decide(d)
		outs[i] = outcome{from: from, to: len(d.out), err: err}
		for range d.out[from:] {
			origins = append(origins, r.origin)
		}
	}
	samples := d.samples
	var failed error
	if len(d.out) > 0 {
		rows := make([]journal.Event, len(d.out))
		for i, ev := range d.out {
			rows[i] = ev.ToJournal()
			rows[i].Origin = origins[i]
		}
		t0 := time.Now()
		err := e.j.Append(context.Background(), rows)
		e.commits.observe(time.Since(t0))
		if err != nil {
			failed = fmt.Errorf("%w: %w", ErrNotRecorded, err)
			if errors.Is(err, journal.ErrOutcomeUnknown) {
				failed = err // it may be in the log: the timeline will say
			}
			if e.shared != nil && errors.Is(err, journal.ErrNotLeader) {
				// The term is over: stop deciding, and rebuild the state
				// from the log as far as it can be read (a commit whose
				// outcome was unknown is in it if it landed); a standby
				// that cannot read it yet catches up later.
				if rerr := e.rollback(); rerr != nil {
					e.state = e.base.share()
					e.resetHealth()
				}
				e.setApplied(e.state.LastSeq)
				e.stepDown()
				d.out = nil
			} else if rerr := e.rollback(); rerr != nil {
				e.err = fmt.Errorf("journal write failed (%w), and the state cannot be rebuilt, engine stopped: %w", err, rerr)
				for _, r := range batch {
					if r.reply != nil {
						r.reply <- Reply{Err: e.err}
					}
				}
				return e.err
			}
			d.out = nil
		} else {
			e.clk.committed(now)
			if e.state.LastSeq-e.base.LastSeq >= baseEvery {
				e.base = e.state.Clone()
			}
			e.setApplied(e.state.LastSeq)
		}
	}
	storage := e.storageChanged()
	if d.localMoved {
		e.noteLocalPresence()
	}
	if len(d.out) > 0 || len(samples) > 0 || d.presence || storage != nil {
		u := Update{Events: d.out, Samples: samples, Now: now, Storage: storage}
		if d.presence {
			u.Presence = maps.Clone(e.state.Presence)
			if u.Presence == nil {
				u.Presence = map[string]Presence{}
			}
		}
		e.publish(u)
	}
	// Replies go after publishing: a reader that sent a command finds its
	// events already in its feed when the reply arrives.
	for i, r := range batch {
		if r.reply == nil {
			continue
		}
		o := outs[i]
		rep := Reply{Err: o.err}
		switch {
		case failed != nil && o.to > o.from:
			rep.Err = failed
		case o.err == nil && o.to > o.from:
			rep.Events = d.out[o.from:o.to]
			rep.Seq = rep.Events[len(rep.Events)-1].Seq
		}
		r.reply <- rep
	}
	// Snapshots are taken after the batch so they include it.
	for _, i := range subsAsked {
		batch[i].sub <- e.subscribe(batch[i].buf)
	}
	return nil
}

// notLeading answers a command that reached the engine while it does not
// lead: a standby forwards it (without holding up the engine), a leader
// stepping down refuses it.
func (e *Engine) notLeading(r request) {
	if e.role == RoleStandby && !isComponent(r.cmd) {
		go func() {
			ctx := r.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			rep := e.forward(ctx, r.cmd)
			if r.reply != nil {
				r.reply <- rep
			}
		}()
		return
	}
	if r.reply != nil {
		r.reply <- Reply{Err: fmt.Errorf("%w: this process is %s", ErrNotLeader, e.role)}
	}
}

// isComponent reports commands the leader's own components send, which a
// process that does not lead never forwards.
func isComponent(c Command) bool {
	_, ok := forwardable[reflect.TypeOf(c).Name()]
	return !ok
}

// baseEvery is how many events the rollback base may lag behind: a
// rebuild replays at most this many.
const baseEvery = 4096

// rollback rebuilds the committed state after a failed commit: the base
// copy plus the journal's events since. Panes, presence and storage
// health are observations, not events, and are kept as they are.
func (e *Engine) rollback() error {
	st := e.base.share()
	if err := replay(e.j, st); err != nil {
		return err
	}
	st.Panes, st.Presence, st.Storage = e.state.Panes, e.state.Presence, e.state.Storage
	e.state = st
	e.frozen = nil
	e.resetHealth()
	return nil
}

// storageChanged refreshes the journal's storage health in the state and
// returns it when it changed, for subscribers (a failed write shows in the
// same batch).
func (e *Engine) storageChanged() *journal.Health {
	h := e.j.Health()
	if cur := e.state.Storage; h.State == cur.State && h.Reason == cur.Reason {
		return nil
	}
	e.state.Storage = h
	e.frozen = nil
	return &h
}

// publish hands the update to every subscriber without ever waiting: one
// whose buffer is full is dropped and must resync.
func (e *Engine) publish(u Update) {
	kept := e.subs[:0]
	for _, s := range e.subs {
		select {
		case s.c <- u:
			kept = append(kept, s)
		default:
			s.mu.Lock()
			s.lagged = true
			s.mu.Unlock()
			close(s.c)
		}
	}
	for i := len(kept); i < len(e.subs); i++ {
		e.subs[i] = nil
	}
	e.subs = kept
}

func (e *Engine) stop() {
	for _, s := range e.subs {
		close(s.c)
	}
	e.subs = nil
	close(e.done)
}

// Done is closed when Run has returned.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err is why the engine stopped (nil for a normal stop).
func (e *Engine) Err() error {
	select {
	case <-e.done:
		return e.err
	default:
		return nil
	}
}

// Do sends a command and waits for its reply. On a standby, a command
// that is not the process's own is forwarded to the leader.
func (e *Engine) Do(ctx context.Context, cmd Command) Reply {
	if e.Role() == RoleStandby && !local(cmd) {
		return e.forward(ctx, cmd)
	}
	r := request{cmd: cmd, reply: make(chan Reply, 1), ctx: ctx, origin: originOf(ctx)}
	select {
	case e.reqs <- r:
	case <-e.done:
		return Reply{Err: ErrStopped}
	case <-ctx.Done():
		return Reply{Err: ctx.Err()}
	}
	select {
	case rep := <-r.reply:
		return rep
	case <-e.done:
		// The batch may have been answered just before the stop.
		select {
		case rep := <-r.reply:
			return rep
		default:
			return Reply{Err: ErrStopped}
		}
	case <-ctx.Done():
		return Reply{Err: ctx.Err()}
	}
}

// Submit sends a command without waiting for its outcome (sources use it
// for samples and health). It blocks only while the engine's queue is full.
func (e *Engine) Submit(ctx context.Context, cmd Command) error {
	select {
	case e.reqs <- request{cmd: cmd, ctx: ctx, origin: originOf(ctx)}:
		return nil
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Subscribe returns a snapshot of the state and a feed of every update
// after it. buffer bounds how far the reader may fall behind.
func (e *Engine) Subscribe(ctx context.Context, buffer int) (*State, *Subscription, error) {
	if buffer < 1 {
		buffer = 1
	}
	r := request{sub: make(chan subReply, 1), buf: buffer}
	select {
	case e.reqs <- r:
	case <-e.done:
		return nil, nil, ErrStopped
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	select {
	case sr := <-r.sub:
		// The engine shares one frozen copy with every subscriber of its
		// batch; each reader's own copy is made here, off the engine, and
		// shares even the alerts map until it first changes an alert.
		return sr.state.share(), sr.sub, nil
	case <-e.done:
		return nil, nil, ErrStopped
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func (e *Engine) subscribe(buffer int) subReply {
	s := &Subscription{c: make(chan Update, buffer)}
	s.C = s.c
	e.subs = append(e.subs, s)
	if e.frozen == nil {
		e.frozen = e.state.Clone()
	}
	return subReply{state: e.frozen, sub: s}
}

// Unsubscribe stops a feed. It is safe to call after the feed was closed.
func (e *Engine) Unsubscribe(s *Subscription) {
	_ = e.Submit(context.Background(), unsubscribe{s})
}

type unsubscribe struct{ s *Subscription }

func (u unsubscribe) decide(d *decider) error {
	e := d.e
	for i, s := range e.subs {
		if s == u.s {
			close(s.c)
			e.subs = append(e.subs[:i], e.subs[i+1:]...)
			break
		}
	}
	return nil
}
