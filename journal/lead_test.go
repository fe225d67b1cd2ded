package journal

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/warroom/warroom/journal/journaltest"
)

// waitFor polls cond every 10 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaderAndStandby: one process leads a room and writes; another
// follows, sees the leader's commits through notifications, cannot write,
// and takes over with the next term when the leader resigns.
func TestLeaderAndStandby(t *testing.T) {
	u := journaltest.PostgresURL(t)
	a := openPG(t, u, PostgresOptions{Node: "a", PollEvery: time.Hour})
	b := openPG(t, u, PostgresOptions{Node: "b", PollEvery: time.Hour})
	lead(t, a)
	if ok, err := b.TryLead(ctx); ok || err != nil {
		t.Fatalf("a second leader: %v %v", ok, err)
	}
	if err := b.Append(ctx, []Event{ev("NOTE", "x")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a standby's append: %v", err)
	}
	if err := b.SetCursor(ctx, "c", 1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a standby's cursor: %v", err)
	}
	changed := b.Changes()
	if err := a.Append(ctx, []Event{ev("NOTE", "a1"), ev("NOTE", "a2")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed: // a notification: polling is an hour away
	case <-time.After(5 * time.Second):
		t.Fatal("the standby was not notified of the commit")
	}
	waitFor(t, 5*time.Second, "the standby learns the head", func() bool { return b.Head() == 2 })
	li, err := b.Leader(ctx)
	if err != nil || li.Node != "a" || li.Term != 1 || !li.Alive {
		t.Fatalf("leader %+v %v", li, err)
	}
	_, lostA, ok := a.Leading()
	if !ok {
		t.Fatal("a does not lead")
	}
	a.Resign()
	select {
	case <-lostA:
	default:
		t.Fatal("resigning did not end a's term")
	}
	if li, _ := b.Leader(ctx); li.Alive {
		t.Fatalf("the lock is held after the leader resigned: %+v", li)
	}
	lead(t, b)
	if term, _, _ := b.Leading(); term != 2 {
		t.Fatalf("b's term %d", term)
	}
	if err := b.Append(ctx, []Event{ev("NOTE", "b1")}); err != nil || b.LastSeq() != 3 {
		t.Fatalf("b continues the log: #%d %v", b.LastSeq(), err)
	}
	if err := a.Append(ctx, []Event{ev("NOTE", "late")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a former leader's append: %v", err)
	}
}

// TestLostLockConnectionEndsTheTerm: when the leader's session ends on the
// server (here an administrator terminates it), the leader notices within
// CheckEvery and stops writing, and a standby takes over the log where it
// ended.
func TestLostLockConnectionEndsTheTerm(t *testing.T) {
	pg := journaltest.SharedPostgres(t)
	u := journaltest.PostgresURL(t)
	a := openPG(t, u, PostgresOptions{Node: "a", CheckEvery: 50 * time.Millisecond})
	b := openPG(t, u, PostgresOptions{Node: "b"})
	lead(t, a)
	if err := a.Append(ctx, []Event{ev("NOTE", "a1")}); err != nil {
		t.Fatal(err)
	}
	_, lost, _ := a.Leading()
	if err := pg.Exec(journaltest.DBName(u), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'warroom leader a'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the leader did not notice that its session ended")
	}
	if err := a.Append(ctx, []Event{ev("NOTE", "a2")}); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("append after the term: %v", err)
	}
	lead(t, b)
	if err := b.Append(ctx, []Event{ev("NOTE", "b1")}); err != nil || b.LastSeq() != 2 {
		t.Fatalf("b: #%d %v", b.LastSeq(), err)
	}
}

// TestFencedLeaderCannotWrite: a leader cut off from the database by a
// partition (a proxy that stops carrying bytes: no reset, no FIN, so TCP
// keepalives see nothing) loses its session after DeadAfter
// (idle_session_timeout on the leader's connection); a standby then takes
// the lock. When the partition heals, the old leader, which has not even
// noticed (it checks its connection only once an hour here), cannot
// write: its session is gone, and with it the lock. The log holds only
// the new leader's events after the partition, without a gap. A cut that
// resets the connection fences at once.
func TestFencedLeaderCannotWrite(t *testing.T) {
	for _, mode := range []string{"blackhole", "reset"} {
		t.Run(mode, func(t *testing.T) {
			u := journaltest.PostgresURL(t)
			pu, _ := url.Parse(u)
			proxy := journaltest.NewProxy(t, pu.Host)
			viaProxy := *pu
			viaProxy.Host = proxy.Addr()
			const dead = time.Second
			old := openPG(t, viaProxy.String(), PostgresOptions{Node: "old", DeadAfter: dead, CheckEvery: time.Hour, WriteTimeout: 2 * time.Second})
			std := openPG(t, u, PostgresOptions{Node: "standby", DeadAfter: dead})
			lead(t, old)
			if err := old.Append(ctx, []Event{ev("NOTE", "before")}); err != nil {
				t.Fatal(err)
			}
			cut := time.Now()
			if mode == "blackhole" {
				proxy.Blackhole()
			} else {
				proxy.Cut()
			}
			waitFor(t, 10*time.Second, "the standby takes the lock", func() bool {
				ok, err := std.TryLead(ctx)
				if err != nil {
					t.Logf("try lead: %v", err)
				}
				return ok
			})
			t.Logf("%s: the standby led %v after the cut (DeadAfter %v)", mode, time.Since(cut).Round(time.Millisecond), dead)
			if err := std.Append(ctx, []Event{ev("NOTE", "new leader")}); err != nil {
				t.Fatal(err)
			}
			proxy.Heal()
			if _, _, ok := old.Leading(); !ok && mode == "blackhole" {
				t.Fatal("the old leader noticed the partition by itself: the test does not test fencing")
			}
			err := old.Append(ctx, []Event{ev("NOTE", "split brain")})
			if !errors.Is(err, ErrNotLeader) {
				t.Fatalf("the deposed leader's append: %v", err)
			}
			if _, _, ok := old.Leading(); ok {
				t.Fatal("the deposed leader still thinks it leads")
			}
			if ok, _ := old.TryLead(ctx); ok {
				t.Fatal("the deposed leader took the lock back")
			}
			var got []string
			std.Replay(ctx, 0, func(e Event) error { got = append(got, string(e.Body)); return nil })
			if len(got) != 2 || got[1] != `{"text":"new leader"}` {
				t.Fatalf("log %v", got)
			}
		})
	}
}

// TestForwardedCommandsRunOnce: a standby's command is taken by the
// leader, whose events carry its id; a leader that dies between its
// commit and its answer leaves a successor that finds the events and
// answers without running it again; a command no leader took can be
// withdrawn, and is then never taken.
func TestForwardedCommandsRunOnce(t *testing.T) {
	u := journaltest.PostgresURL(t)
	a := openPG(t, u, PostgresOptions{Node: "a"})
	b := openPG(t, u, PostgresOptions{Node: "b"})
	lead(t, a)
	id, err := b.Forward(ctx, []byte(`{"ack":"A1"}`))
	if err != nil {
		t.Fatal(err)
	}
	open, err := a.OpenCommands(ctx)
	if err != nil || len(open) != 1 || open[0].ID != id || open[0].Node != "b" || string(open[0].Body) != `{"ack":"A1"}` {
		t.Fatalf("open commands %+v %v", open, err)
	}
	if _, ok, err := a.ClaimCommand(ctx, id); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, ok, _ := a.ClaimCommand(ctx, id); ok {
		t.Fatal("claimed twice in one term")
	}
	if ok, _ := b.Withdraw(ctx, id); ok {
		t.Fatal("withdrew a command the leader has")
	}
	e := ev("ACK", "A1")
	e.Origin = id
	if err := a.Append(ctx, []Event{e}); err != nil {
		t.Fatal(err)
	}
	// The leader dies before it answers.
	a.Resign()
	lead(t, b)
	open, _ = b.OpenCommands(ctx)
	if len(open) != 1 || open[0].State != CommandRunning {
		t.Fatalf("after the takeover: %+v", open)
	}
	if _, ok, _ := b.ClaimCommand(ctx, id); !ok {
		t.Fatal("a new term cannot take a command the old one left")
	}
	first, last, err := b.CommandEvents(ctx, id)
	if err != nil || first != 1 || last != 1 {
		t.Fatalf("the command's events: %d..%d %v", first, last, err)
	}
	if err := b.ReplyCommand(ctx, id, CommandReply{First: first, Last: last}); err != nil {
		t.Fatal(err)
	}
	c, err := a.Command(ctx, id)
	if err != nil || c.State != CommandDone || c.Reply.Last != 1 || c.Reply.Refused {
		t.Fatalf("answered: %+v %v", c, err)
	}
	id2, _ := a.Forward(ctx, []byte(`{}`))
	if ok, err := a.Withdraw(ctx, id2); !ok || err != nil {
		t.Fatalf("withdraw: %v %v", ok, err)
	}
	if _, ok, _ := b.ClaimCommand(ctx, id2); ok {
		t.Fatal("a withdrawn command was taken")
	}
	if _, err := b.Command(ctx, 9999); !errors.Is(err, ErrNoCommand) {
		t.Fatalf("unknown command: %v", err)
	}
}
