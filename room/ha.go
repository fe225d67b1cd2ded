package room

// A room shared by several processes (a postgres:// journal opened with
// Options.Shared). Each process runs the election: while it does not lead
// it tries the room's writer lock every PollEvery; once it holds it, its
// engine folds the rest of the log and leads, and the process starts the
// leader's work (Lead). When its term ends (the lock connection was lost:
// killed, cut off, timed out), the engine steps down, the leader's work
// stops, and the process stands by again.
//
// Standbys forward what people do through the journal's command table:
// engine commands, and playbook actions, which the leader's runner carries
// out. The leader's inbox takes each command once: its events carry the
// command's id, so a successor that finds them answers without running it
// again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// How long a standby waits for a leader to take a forwarded command
// (longer than a failover) and, once taken, for its answer.
var (
	forwardClaimWait = 30 * time.Second
	forwardReplyWait = 2 * time.Minute
)

// Shared reports whether the room is shared with other processes.
func (r *Room) Shared() bool { return r.shared != nil }

func (r *Room) elect(ctx context.Context) {
	defer close(r.elected)
	poll := r.o.Postgres.PollEvery
	if sh, ok := r.shared.(interface {
		Options() journal.PostgresOptions
	}); ok {
		poll = sh.Options().PollEvery
	}
	for ctx.Err() == nil {
		if _, lost, ok := r.shared.Leading(); ok && r.Lead() != nil {
			select {
			case <-ctx.Done():
				return
			case <-lost:
			}
			r.stepDown(ctx)
			continue
		}
		ok, err := r.shared.TryLead(ctx)
		if err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("cannot try the room's writer lock", "err", err)
		}
		if ok {
			if err := r.takeOver(ctx); err != nil && ctx.Err() == nil {
				r.o.Logger.Error("taking over the room failed; standing by", "err", err)
				r.shared.Resign()
				r.stepDown(ctx)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
	}
}

// takeOver makes this process lead: the engine folds the rest of the log
// and leads, then the leader's work starts.
func (r *Room) takeOver(ctx context.Context) error {
	start := time.Now()
	if err := r.Engine.Promote(ctx); err != nil {
		return err
	}
	l, err := r.startLead(ctx)
	if err != nil {
		return err
	}
	r.setLead(l)
	r.o.Logger.Info("leading the room", "node", r.shared.Node(), "term", r.Engine.Cluster().Term, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// stepDown stops the leader's work and stands by. The engine refuses
// commands meanwhile, so nothing the old term's components still say is
// forwarded to the new leader.
func (r *Room) stepDown(ctx context.Context) {
	_ = r.Engine.Depose(ctx)
	if l := r.Lead(); l != nil {
		r.setLead(nil)
		l.stop()
	}
	if ctx.Err() == nil {
		r.o.Logger.Warn("no longer leading the room: standing by", "node", r.shared.Node())
		_ = r.Engine.Follow(ctx)
	}
}

// forwarded is a command in the command table.
type forwarded struct {
	// Op: cmd (an engine command), or a playbook action: request,
	// approve, reject, cancel, resolve.
	Op       string            `json:"op"`
	Cmd      json.RawMessage   `json:"cmd,omitempty"`
	By       string            `json:"by,omitempty"`
	Playbook string            `json:"playbook,omitempty"`
	Params   map[string]string `json:"params,omitempty"`
	Plan     *incident.RunPlan `json:"plan,omitempty"`
	Hash     string            `json:"hash,omitempty"`
	RunID    string            `json:"run,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Choice   string            `json:"choice,omitempty"`
}

// forward is the engine's Forward: an engine command given to a standby.
func (r *Room) forward(ctx context.Context, cmd incident.Command) incident.Reply {
	b, err := incident.EncodeCommand(cmd)
	if err != nil {
		return incident.Reply{Err: err}
	}
	return r.send(ctx, forwarded{Op: "cmd", Cmd: b})
}

// send puts a command in the table, waits for the leader's answer and
// for this process's engine to fold its events, and returns it as the
// engine would have.
func (r *Room) send(ctx context.Context, f forwarded) incident.Reply {
	if r.shared == nil {
		return incident.Reply{Err: fmt.Errorf("%w: the room is not shared", incident.ErrNotLeader)}
	}
	body, err := json.Marshal(f)
	if err != nil {
		return incident.Reply{Err: err}
	}
	id, err := r.shared.Forward(ctx, body)
	if err != nil {
		return incident.Reply{Err: err}
	}
	start := time.Now()
	var c journal.Command
	for {
		changed := r.shared.Changes()
		c, err = r.shared.Command(ctx, id)
		if err == nil && c.State == journal.CommandDone {
			break
		}
		giveUp := ctx.Err() != nil ||
			err == nil && c.State == journal.CommandPending && time.Since(start) > forwardClaimWait
		if giveUp {
			if ok, _ := r.shared.Withdraw(context.Background(), id); ok {
				if ctx.Err() != nil {
					return incident.Reply{Err: ctx.Err()}
				}
				return incident.Reply{Err: fmt.Errorf("%w: no leader took the command within %s; it was not carried out", incident.ErrNotLeader, forwardClaimWait)}
			}
		}
		if err == nil && c.State == journal.CommandWithdrawn {
			return incident.Reply{Err: errors.New("the command was withdrawn before any leader took it")}
		}
		if ctx.Err() != nil || time.Since(start) > forwardClaimWait+forwardReplyWait {
			return incident.Reply{Err: errors.New("the leader took the command but has not answered yet: its outcome will show in the timeline")}
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
	rep := incident.Reply{Seq: c.Reply.Last}
	switch {
	case c.Reply.Refused:
		rep.Err = &roles.Refusal{Reason: c.Reply.Error}
	case c.Reply.Error != "":
		rep.Err = errors.New(c.Reply.Error)
	}
	if c.Reply.Last == 0 {
		return rep
	}
	// The person finds the command's events on their dashboard when the
	// answer arrives, as on the leader.
	if err := r.Engine.WaitApplied(ctx, c.Reply.Last); err != nil {
		return incident.Reply{Err: err}
	}
	err = r.Journal.ReplayRange(ctx, c.Reply.First-1, c.Reply.Last, func(je journal.Event) error {
		ev, err := incident.FromJournal(je)
		if err == nil {
			rep.Events = append(rep.Events, ev)
		}
		return err
	})
	if err != nil && rep.Err == nil {
		rep.Err = err
	}
	return rep
}

// serveInbox carries out the commands standbys forward, while this
// process leads, each in its own goroutine so that those that arrive
// together commit together.
func (r *Room) serveInbox(ctx context.Context, l *Lead) {
	var mu sync.Mutex
	busy := map[int64]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		changed := r.shared.Changes()
		cmds, err := r.shared.OpenCommands(ctx)
		if err == nil {
			for _, c := range cmds {
				mu.Lock()
				if busy[c.ID] {
					mu.Unlock()
					continue
				}
				busy[c.ID] = true
				mu.Unlock()
				wg.Add(1)
				go func(c journal.Command) {
					defer wg.Done()
					r.carryOut(ctx, l, c.ID)
					mu.Lock()
					delete(busy, c.ID)
					mu.Unlock()
				}(c)
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// carryOut takes one forwarded command for this term and answers it.
func (r *Room) carryOut(ctx context.Context, l *Lead, id int64) {
	c, ok, err := r.shared.ClaimCommand(ctx, id)
	if err != nil || !ok {
		return // withdrawn, answered, or this term is over
	}
	// A former term may have carried it out and died before answering:
	// its events say so.
	first, last, err := r.shared.CommandEvents(ctx, id)
	if err != nil {
		return // the next leader (or this one, at the next wake) answers
	}
	if last > 0 {
		_ = r.shared.ReplyCommand(ctx, id, journal.CommandReply{First: first, Last: last})
		return
	}
	var f forwarded
	if err := json.Unmarshal(c.Body, &f); err != nil {
		_ = r.shared.ReplyCommand(ctx, id, journal.CommandReply{Error: "bad forwarded command: " + err.Error()})
		return
	}
	octx := incident.WithOrigin(ctx, id)
	err = r.do(octx, l, f)
	if errors.Is(err, incident.ErrNotLeader) || errors.Is(err, journal.ErrOutcomeUnknown) {
		return // the term ended under it: the next leader answers
	}
	rep := journal.CommandReply{}
	if first, last, qerr := r.shared.CommandEvents(ctx, id); qerr == nil {
		rep.First, rep.Last = first, last
	}
	if err != nil {
		var ref *roles.Refusal
		rep.Refused = errors.As(err, &ref)
		rep.Error = err.Error()
	}
	_ = r.shared.ReplyCommand(ctx, id, rep)
}

// do carries out a forwarded command on the leader.
func (r *Room) do(ctx context.Context, l *Lead, f forwarded) error {
	switch f.Op {
	case "cmd":
		cmd, err := incident.DecodeCommand(f.Cmd)
		if err != nil {
			return err
		}
		return r.Engine.Do(ctx, cmd).Err
	case "request":
		_, err := l.Runner.RequestPlanned(ctx, f.By, f.Playbook, f.Params, f.Plan, f.Hash)
		return err
	case "approve":
		return l.Runner.Approve(ctx, f.By, f.RunID, f.Hash)
	case "reject":
		return l.Runner.Reject(ctx, f.By, f.RunID, f.Reason)
	case "cancel":
		return l.Runner.Cancel(ctx, f.By, f.RunID, f.Reason)
	case "resolve":
		_, err := l.Runner.Resolve(ctx, f.By, f.RunID, incident.ResolveChoice(f.Choice), f.Reason)
		return err
	}
	return fmt.Errorf("unknown forwarded action %q", f.Op)
}

// How often the processes of a shared room say who is connected to them,
// and how long what one said counts (a process killed without a word
// drops out of the room after it).
var (
	presenceEvery = 2 * time.Second
	presenceFresh = 3 * presenceEvery
)

// sharePresence tells the other processes of the room who is connected to
// this one, and this process's engine who is connected to them, until ctx
// ends; then it takes this process's word back. While the database cannot
// be read, what the others said lapses after presenceFresh.
func (r *Room) sharePresence(ctx context.Context) {
	tick := time.NewTicker(presenceEvery)
	defer tick.Stop()
	me := r.shared.Node()
	var heard time.Time // monotonic: when the others' word was last read
	for {
		rctx, cancel := context.WithTimeout(ctx, presenceEvery)
		var rows []journal.PresenceRow
		for k, p := range r.Engine.LocalPresence() {
			rows = append(rows, journal.PresenceRow{Key: k, Handle: p.Handle, Via: p.Via, Since: p.Since, Until: p.Until})
		}
		if err := r.shared.PutPresence(rctx, rows); err != nil && ctx.Err() == nil {
			r.o.Logger.Debug("cannot tell the room who is connected here", "err", err)
		}
		all, err := r.shared.Presence(rctx, presenceFresh)
		cancel()
		if err == nil || time.Since(heard) > presenceFresh {
			entries := map[string]incident.Presence{}
			for _, p := range all {
				if p.Node != me {
					entries[p.Node+"/"+p.Key] = incident.Presence{Handle: p.Handle, Via: p.Via, Since: p.Since, Until: p.Until, Node: p.Node}
				}
			}
			if err == nil {
				heard = time.Now()
			}
			_ = r.Engine.Submit(ctx, incident.RemotePresence{Entries: entries})
		}
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = r.shared.PutPresence(cctx, nil)
			cancel()
			return
		case <-tick.C:
		}
	}
}
