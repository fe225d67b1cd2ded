package incident

// A room several processes share (a journal.Shared journal): one engine
// leads (decides and writes, as in a room of one process), the others
// stand by. A standby's engine folds what the leader commits into its own
// state, with the leader's recorded samples, and publishes it to its
// subscribers exactly as a leader publishes its own commits, so dashboards
// on a standby work as on the leader. Commands given on a standby are
// forwarded to the leader (Options.Forward) and answered with the
// leader's reply once the standby has folded the events it produced.
// Presence stays with each process: it is who is connected to it.
//
// Promote makes a standby lead: it folds the log to its end (final: it
// holds the writer lock) and starts deciding, as a restart would. A
// leader whose term ends (its commit fails with journal.ErrNotLeader, or
// Depose) steps down: it refuses commands until the process has stopped
// its leader work, then Follow makes it a standby again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/warroom/warroom/journal"
)

// Role is what an engine does in its room.
type Role string

const (
	// RoleLeader decides and writes; a room of one process has only it.
	RoleLeader Role = "leader"
	// RoleStandby follows the leader's journal and forwards commands.
	RoleStandby Role = "standby"
	// RoleSteppingDown lost the lead and refuses commands until its
	// process has stopped its leader work (Follow).
	RoleSteppingDown Role = "stepping down"
)

// ClusterInfo is how this process stands in a room several processes
// share; the zero value for a room of one process.
type ClusterInfo struct {
	Node   string // this process
	Role   Role
	Leader string // the leading node ("" while none leads)
	Term   int64  // the leader's term
	// Behind is how many committed events a standby has not folded yet,
	// and Lag how long it has been behind (0 when caught up).
	Behind int64
	Lag    time.Duration
	// Terms counts the terms this process has led.
	Terms int64
	// Problem says why a standby cannot follow the leader now (the
	// database cannot be read), in words fit for /healthz; "" when it
	// follows.
	Problem string
}

// Shared reports whether the room is shared (the info is meaningful).
func (c ClusterInfo) Shared() bool { return c.Node != "" }

// ErrNotLeader is the refusal of a command that only the leader may
// carry out, on a process that does not lead (a standby's own sources,
// or a leader stepping down). It matches journal.ErrNotLeader.
var ErrNotLeader = journal.ErrNotLeader

// forwardable lists the commands people and webhooks give, which a
// standby forwards to the leader: plain data, encoded by type name.
// Commands of the leader's own components (samples, source health,
// deliveries, run transitions) are never forwarded; runs are requested
// through the runner, which the process forwards as a whole.
var forwardable = map[string]reflect.Type{}

func init() {
	for _, c := range []Command{
		Note{}, Ack{}, AckService{}, Resolve{}, Assign{}, OfferCommand{}, AcceptCommand{}, DeclineCommand{},
		MarkImportant{}, MarkFollowUp{}, Mark{}, SetSeverity{}, SetStatus{}, SetComponent{}, SubmitUpdate{},
		ApproveUpdate{}, DeclineUpdate{}, Decide{}, SignOff{}, SubmitEvidence{}, RecordCheck{}, ImportAlerts{},
	} {
		t := reflect.TypeOf(c)
		forwardable[t.Name()] = t
	}
}

type wireCommand struct {
	Type string          `json:"type"`
	Cmd  json.RawMessage `json:"cmd"`
}

// EncodeCommand encodes a command a standby may forward.
func EncodeCommand(c Command) ([]byte, error) {
	t := reflect.TypeOf(c)
	if forwardable[t.Name()] != t {
		return nil, fmt.Errorf("%w: %s is not forwarded to the leader", ErrNotLeader, t.Name())
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return json.Marshal(wireCommand{Type: t.Name(), Cmd: b})
}

// DecodeCommand decodes what EncodeCommand wrote.
func DecodeCommand(b []byte) (Command, error) {
	var w wireCommand
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("forwarded command: %w", err)
	}
	t, ok := forwardable[w.Type]
	if !ok {
		return nil, fmt.Errorf("forwarded command: unknown type %q", w.Type)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(w.Cmd, v.Interface()); err != nil {
		return nil, fmt.Errorf("forwarded command %s: %w", w.Type, err)
	}
	return v.Elem().Interface().(Command), nil
}

// local reports whether a command is this process's own business on any
// role: presence, and the engine's housekeeping.
func local(c Command) bool {
	switch c.(type) {
	case Join, Leave, Seen, RemotePresence, unsubscribe, heartbeat, checkSystem:
		return true
	}
	return false
}

type originKey struct{}

// WithOrigin marks the commands given with ctx as carrying out forwarded
// command id: their events record it (journal.Event.Origin), so a leader
// that takes over knows the command was done.
func WithOrigin(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, originKey{}, id)
}

func originOf(ctx context.Context) int64 {
	if ctx == nil {
		return 0
	}
	id, _ := ctx.Value(originKey{}).(int64)
	return id
}

// followed is what the follow loop read: committed events, recorded
// samples, or news of the leader.
type followed struct {
	events  []Event
	samples []Sample
	leader  *journal.LeaderInfo
	behind  int64
	lag     time.Duration
	problem string
}

type ctlKind int

const (
	ctlPromote ctlKind = iota
	ctlDepose
	ctlFollow
)

type ctl struct {
	kind  ctlKind
	reply chan error
}

// Cluster is how this process stands in its room (zero for a room of one
// process). Safe for concurrent use.
func (e *Engine) Cluster() ClusterInfo {
	if p := e.cluster.Load(); p != nil {
		return *p
	}
	return ClusterInfo{}
}

// Role is what the engine does now (RoleLeader in a room of one process).
func (e *Engine) Role() Role {
	if p := e.cluster.Load(); p != nil {
		return p.Role
	}
	return RoleLeader
}

// Promote makes a standby lead, once its process holds the room's writer
// lock: it folds the rest of the log and starts deciding. It returns when
// the engine leads.
func (e *Engine) Promote(ctx context.Context) error { return e.control(ctx, ctlPromote) }

// Depose makes a leader step down: it refuses commands (including its own
// components') until Follow.
func (e *Engine) Depose(ctx context.Context) error { return e.control(ctx, ctlDepose) }

// Follow makes the engine a standby that follows the log and forwards
// commands.
func (e *Engine) Follow(ctx context.Context) error { return e.control(ctx, ctlFollow) }

func (e *Engine) control(ctx context.Context, k ctlKind) error {
	if e.shared == nil {
		return errors.New("engine: the journal is not shared")
	}
	c := ctl{kind: k, reply: make(chan error, 1)}
	select {
	case e.ctl <- c:
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-e.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// applied is the newest seq folded into the engine's state; waiters are
// woken through appliedC.
func (e *Engine) setApplied(seq int64) {
	e.applied.Store(seq)
	e.appliedMu.Lock()
	close(e.appliedC)
	e.appliedC = make(chan struct{})
	e.appliedMu.Unlock()
}

// WaitApplied returns once the engine's state includes seq (so its
// subscribers have been sent it), or ctx ends.
func (e *Engine) WaitApplied(ctx context.Context, seq int64) error {
	for {
		e.appliedMu.Lock()
		ch := e.appliedC
		e.appliedMu.Unlock()
		if e.applied.Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-e.done:
			return ErrStopped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// runControl carries out a role change on the engine goroutine.
func (e *Engine) runControl(ctx context.Context, c ctl) {
	var err error
	switch c.kind {
	case ctlPromote:
		err = e.promote(ctx)
	case ctlDepose:
		e.stepDown()
	case ctlFollow:
		if e.role != RoleLeader || !e.leading() {
			e.startFollowing(ctx)
		} else {
			err = errors.New("engine: still leading")
		}
	}
	c.reply <- err
}

// leading reports whether the shared journal says this process leads.
func (e *Engine) leading() bool {
	_, _, ok := e.shared.Leading()
	return ok
}

func (e *Engine) promote(ctx context.Context) error {
	if e.role == RoleLeader {
		return nil
	}
	term, _, ok := e.shared.Leading()
	if !ok {
		return fmt.Errorf("engine: promote: %w", ErrNotLeader)
	}
	e.stopFollowing()
	// The log's end is final now: fold the rest of it.
	var evs []Event
	err := e.j.Replay(ctx, e.state.LastSeq, func(je journal.Event) error {
		ev, err := FromJournal(je)
		if err != nil {
			return err
		}
		if ev.Seq != e.state.LastSeq+1 {
			return fmt.Errorf("journal has a gap: #%d follows #%d", ev.Seq, e.state.LastSeq)
		}
		e.state.Apply(ev)
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		e.startFollowing(ctx)
		return fmt.Errorf("engine: promote: %w", err)
	}
	e.frozen = nil
	e.role = RoleLeader
	// As after a restart: a fresh rollback base, source health from the
	// state, rules' timers from now, event times from the log's last.
	e.base = e.state.Clone()
	e.resetHealth()
	for _, r := range e.ruleList {
		r.warnSince, r.critSince, r.staleSince = time.Time{}, time.Time{}, time.Time{}
	}
	e.started = e.clock.Now()
	e.clk = monoClock{}
	e.clk.start(e.started, e.state)
	e.setApplied(e.state.LastSeq)
	info := e.Cluster()
	info.Role, info.Leader, info.Term, info.Behind, info.Lag = RoleLeader, info.Node, term, 0, 0
	info.Terms++
	e.setCluster(info)
	now := e.clk.now(e.clock.Now())
	e.publish(Update{Events: evs, Now: now, Cluster: &info})
	if e.state.Declared.IsZero() {
		if err := e.process([]request{{cmd: Declare{By: "warroom", Name: e.cfg.Incident.Name}}}); err != nil {
			return err
		}
	}
	return nil
}

// stepDown stops deciding: commands are refused until Follow.
func (e *Engine) stepDown() {
	if e.role == RoleSteppingDown {
		return
	}
	e.stopFollowing()
	e.role = RoleSteppingDown
	info := e.Cluster()
	info.Role = RoleSteppingDown
	if info.Leader == info.Node {
		info.Leader = ""
	}
	e.setCluster(info)
	e.publish(Update{Now: e.clock.Now(), Cluster: &info})
}

func (e *Engine) setCluster(c ClusterInfo) {
	e.cluster.Store(&c)
	e.state.Cluster = c
	e.frozen = nil
}

// startFollowing makes the engine a standby and starts the follow loop
// from the state's last seq.
func (e *Engine) startFollowing(ctx context.Context) {
	e.stopFollowing()
	e.role = RoleStandby
	info := e.Cluster()
	info.Role = RoleStandby
	if info.Leader == info.Node {
		info.Leader = ""
	}
	e.setCluster(info)
	e.publish(Update{Now: e.clock.Now(), Cluster: &info})
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	e.followStop = func() {
		cancel()
		<-done
		// Whatever the loop read but did not hand over is read again.
		for {
			select {
			case <-e.followed:
			default:
				return
			}
		}
	}
	go func() {
		defer close(done)
		e.followLoop(fctx, e.state.LastSeq)
	}()
}

func (e *Engine) stopFollowing() {
	if e.followStop != nil {
		e.followStop()
		e.followStop = nil
	}
}

// followLoop reads what the leader commits and records, and hands it to
// the engine goroutine, until ctx ends. It wakes on the journal's
// notifications (or its polling).
func (e *Engine) followLoop(ctx context.Context, pos int64) {
	var samplePos int64
	var behindSince time.Time // monotonic: when the log got ahead of us
	var leaderAt time.Time
	var leader journal.LeaderInfo
	send := func(f followed) bool {
		select {
		case e.followed <- f:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		changed := e.shared.Changes()
		var batch []Event
		err := e.j.Replay(ctx, pos, func(je journal.Event) error {
			ev, err := FromJournal(je)
			if err != nil {
				return err
			}
			batch = append(batch, ev)
			if len(batch) == 1024 {
				if !send(followed{events: batch}) {
					return ctx.Err()
				}
				pos, batch = ev.Seq, nil
			}
			return nil
		})
		if len(batch) > 0 && err == nil {
			if !send(followed{events: batch}) {
				return
			}
			pos = batch[len(batch)-1].Seq
		}
		var smp []Sample
		if s, next, serr := e.shared.SamplesSince(ctx, samplePos, 5000); serr == nil {
			samplePos = next
			for _, x := range s {
				smp = append(smp, Sample{Service: x.Service, Pane: x.Pane, Time: x.Time, Value: x.Value, NoData: x.NoData})
			}
		}
		f := followed{samples: smp}
		if now := time.Now(); now.Sub(leaderAt) >= time.Second || leader.Node == "" {
			if li, lerr := e.shared.Leader(ctx); lerr == nil {
				leaderAt, leader = now, li
				f.leader = &li
			}
		}
		head := e.shared.Head()
		switch {
		case head > pos && behindSince.IsZero():
			behindSince = time.Now()
		case head <= pos:
			behindSince = time.Time{}
		}
		f.behind = max(0, head-pos)
		if !behindSince.IsZero() {
			f.lag = time.Since(behindSince)
		}
		if err != nil && ctx.Err() == nil {
			// The database cannot be read now: say so, and try again at
			// the next change or poll.
			f.problem = "cannot read the journal"
		}
		if !send(f) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// applyFollowed folds what the follow loop read (engine goroutine).
func (e *Engine) applyFollowed(f followed) {
	if e.role != RoleStandby {
		return // promoted or stepping down: the promotion read the log itself
	}
	var evs []Event
	for _, ev := range f.events {
		if ev.Seq <= e.state.LastSeq {
			continue
		}
		if ev.Seq != e.state.LastSeq+1 {
			// Cannot happen with one reader in order; start over from
			// what the state has.
			e.startFollowing(context.Background())
			return
		}
		e.state.Apply(ev)
		evs = append(evs, ev)
	}
	now := e.clock.Now()
	if len(f.samples) > 0 {
		e.state.ApplySamples(f.samples, now)
	}
	info := e.Cluster()
	old := info
	if f.leader != nil {
		info.Leader, info.Term = "", f.leader.Term
		if f.leader.Alive {
			info.Leader = f.leader.Node
		}
	}
	info.Behind, info.Lag, info.Problem = f.behind, f.lag.Round(100*time.Millisecond), f.problem
	var cu *ClusterInfo
	if info != old {
		e.setCluster(info)
		cu = &info
	}
	if len(evs) > 0 || len(f.samples) > 0 {
		e.frozen = nil
	}
	if len(evs) > 0 || len(f.samples) > 0 || cu != nil {
		e.publish(Update{Events: evs, Samples: f.samples, Now: now, Cluster: cu})
	}
	if len(evs) > 0 {
		e.setApplied(e.state.LastSeq)
	}
}

// forward hands a command given on a standby to the leader.
func (e *Engine) forward(ctx context.Context, cmd Command) Reply {
	if e.forwardFn == nil {
		return Reply{Err: fmt.Errorf("%w: this process cannot forward commands to the leader", ErrNotLeader)}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return e.forwardFn(ctx, cmd)
}

// commitBuckets are the upper bounds of the commit latency histogram.
var commitBuckets = []time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
}

// commitStats counts the engine's commits by latency.
type commitStats struct {
	counts [16]atomic.Int64 // per bucket, the last for +Inf
	sumNS  atomic.Int64
	n      atomic.Int64
}

func (c *commitStats) observe(d time.Duration) {
	i := 0
	for i < len(commitBuckets) && d > commitBuckets[i] {
		i++
	}
	c.counts[i].Add(1)
	c.sumNS.Add(int64(d))
	c.n.Add(1)
}

// CommitLatency is how long the engine's commits took since it started:
// cumulative counts at or under each bound (the last entry counts all),
// and the total time, for a histogram in /metrics.
type CommitLatency struct {
	Bounds []time.Duration
	Counts []uint64 // cumulative, len(Bounds)
	Count  uint64
	Sum    time.Duration
}

// CommitLatency reports the commit latency histogram.
func (e *Engine) CommitLatency() CommitLatency {
	out := CommitLatency{Bounds: commitBuckets, Counts: make([]uint64, len(commitBuckets))}
	var cum uint64
	for i := range commitBuckets {
		cum += uint64(e.commits.counts[i].Load())
		out.Counts[i] = cum
	}
	out.Count = uint64(e.commits.n.Load())
	out.Sum = time.Duration(e.commits.sumNS.Load())
	return out
}

// Applied is the newest seq folded into the engine's state.
func (e *Engine) Applied() int64 { return e.applied.Load() }
