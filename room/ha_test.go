package room

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/journal/journaltest"
	"github.com/warroom/warroom/roles"
)

func TestMain(m *testing.M) {
	code := m.Run()
	journaltest.StopPostgres()
	os.Exit(code)
}

func haConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &config.Config{
		Path:      filepath.Join(dir, "warroom.yaml"),
		Playbooks: "playbooks",
		Incident:  config.Incident{Name: "shared room"},
		Sources:   []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", Interval: config.Duration(time.Hour), Timeout: config.Duration(time.Second)}},
		Services:  []config.Service{{ID: "api", Name: "API", Owner: "ola", Panes: []config.Pane{{ID: "p95", Source: "prom", Query: "q", Crit: f(1)}}}},
		Roster:    []config.Person{{Handle: "maya"}, {Handle: "ola"}, {Handle: "obs"}},
		Roles:     config.Roles{Commander: "maya"},
	}
}

func openShared(t *testing.T, cfg *config.Config, url, node string) *Room {
	t.Helper()
	r, err := Open(context.Background(), Options{Config: cfg, JournalPath: url, Shared: true, NoSources: true,
		Postgres: journal.PostgresOptions{Node: node, PollEvery: 50 * time.Millisecond, DeadAfter: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func waitRole(t *testing.T, r *Room, role incident.Role) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Engine.Role() != role || (role == incident.RoleLeader) != (r.Lead() != nil) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: role %s, want %s", r.Engine.Cluster().Node, r.Engine.Role(), role)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSharedRoomForwardsAndFailsOver: two processes share a room. The
// standby's dashboards get the leader's events; what people do on the
// standby is forwarded and answered as if local (accepted with its seq,
// already in the standby's feed, or refused with the leader's reason);
// when the leader goes, the standby leads and the log goes on without a
// gap, and the old process comes back as a standby.
func TestSharedRoomForwardsAndFailsOver(t *testing.T) {
	ctx := context.Background()
	url := journaltest.PostgresURL(t)
	cfg := haConfig(t)
	a := openShared(t, cfg, url, "a")
	waitRole(t, a, incident.RoleLeader)
	b := openShared(t, cfg, url, "b")
	waitRole(t, b, incident.RoleStandby)

	snap, sub, err := b.Engine.Subscribe(ctx, 64)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Cluster.Node != "b" || snap.Cluster.Role != incident.RoleStandby {
		t.Fatalf("b's snapshot: %+v", snap.Cluster)
	}
	rep := b.Engine.Do(ctx, incident.Note{By: "ola", Service: "api", Text: "pool raised on b"})
	if rep.Err != nil || rep.Seq == 0 || len(rep.Events) != 1 || rep.Events[0].Text != "pool raised on b" {
		t.Fatalf("forwarded note: %+v", rep)
	}
	// The event is in b's feed by the time the reply arrives.
	seen := false
	for !seen {
		select {
		case u := <-sub.C:
			for _, ev := range u.Events {
				seen = seen || ev.Seq == rep.Seq
			}
		default:
			t.Fatalf("the reply came before #%d reached b's feed", rep.Seq)
		}
	}
	b.Engine.Unsubscribe(sub)
	var ref *roles.Refusal
	if rep := b.Engine.Do(ctx, incident.Assign{By: "obs", Role: roles.Deputy, Handle: "ola"}); !errors.As(rep.Err, &ref) {
		t.Fatalf("an observer's assignment through the standby: %+v", rep)
	}
	// The leader's own notes reach b.
	lrep := a.Engine.Do(ctx, incident.Note{By: "maya", Text: "from a"})
	if lrep.Err != nil {
		t.Fatal(lrep.Err)
	}
	if err := b.Engine.WaitApplied(ctx, lrep.Seq); err != nil {
		t.Fatal(err)
	}
	if c := b.Engine.Cluster(); c.Leader != "a" {
		t.Fatalf("b says %q leads", c.Leader)
	}

	last := lrep.Seq
	a.Close()
	start := time.Now()
	waitRole(t, b, incident.RoleLeader)
	t.Logf("b led %v after a closed", time.Since(start).Round(time.Millisecond))
	rep = b.Engine.Do(ctx, incident.Note{By: "maya", Text: "b leads"})
	if rep.Err != nil || rep.Seq != last+1 {
		t.Fatalf("after the takeover: %+v (last was #%d)", rep, last)
	}
	a2 := openShared(t, cfg, url, "a")
	waitRole(t, a2, incident.RoleStandby)
	if rep := a2.Engine.Do(ctx, incident.Note{By: "ola", Text: "a is back"}); rep.Err != nil || rep.Seq != last+2 {
		t.Fatalf("forwarded from the returning process: %+v", rep)
	}
	// Who leads reaches a standby with its next look at the lock, which
	// may come after a forwarded command's answer.
	waitFor(t, "a2 to see b leading in term 2", func() bool {
		c := a2.Engine.Cluster()
		return c.Leader == "b" && c.Term == 2
	})
	rep2, err := journal.Verify(ctx, url, nil)
	if err != nil || !rep2.OK() || rep2.LastSeq != last+2 {
		t.Fatalf("verify: %+v %v", rep2, err)
	}
}

// TestMachineLossFailover: the leader's machine vanishes (a partition that
// carries no byte and closes nothing: no reset reaches the database, TCP
// keepalives are answered by the proxy). The database ends the silent
// leader's session after DeadAfter (idle_session_timeout on the leader's
// connection), and the standby leads within DeadAfter + PollEvery; the
// cut-off leader notices within DeadAfter and stops its leader work: the
// step it was running is stopped there, and the new leader marks the run
// interrupted (outcome unknown), as after a crash, without running it
// again.
func TestMachineLossFailover(t *testing.T) {
	ctx := context.Background()
	url := journaltest.PostgresURL(t)
	pu, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := journaltest.NewProxy(t, pu.Host)
	via := *pu
	via.Host = proxy.Addr()
	cfg := haConfig(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	pb := `id: slow
title: A step that takes its time
service: api
description: sleeps
risk: low
lock: {name: slow, timeout: 10m}
steps:
  - id: sleep
    read_only: true
    exec:
      argv: [/bin/sh, -c, 'echo $$ >> "$PIDFILE"; exec sleep 60']
      env: {PIDFILE: ` + pidFile + `}
`
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg.Path), "playbooks", "slow.yaml"), []byte(pb), 0o600); err != nil {
		t.Fatal(err)
	}
	const dead, poll = 2 * time.Second, 100 * time.Millisecond
	open := func(u, node string) *Room {
		r, err := Open(ctx, Options{Config: cfg, JournalPath: u, Shared: true, NoSources: true,
			Postgres: journal.PostgresOptions{Node: node, PollEvery: poll, DeadAfter: dead}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	a := open(via.String(), "a")
	waitRole(t, a, incident.RoleLeader)
	b := open(url, "b")
	waitRole(t, b, incident.RoleStandby)
	if rep := a.Engine.Do(ctx, incident.Note{By: "maya", Text: "before"}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	run, err := a.Lead().Runner.Request(ctx, "ola", "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscan(string(b), &pid)
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never started")
		}
	}
	if err := b.Engine.WaitApplied(ctx, a.Engine.Applied()); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	proxy.Blackhole()
	var bLed, aLeft time.Duration
	for bLed == 0 || aLeft == 0 {
		if bLed == 0 && b.Engine.Role() == incident.RoleLeader {
			bLed = time.Since(cut)
		}
		if aLeft == 0 && a.Engine.Role() != incident.RoleLeader {
			aLeft = time.Since(cut)
		}
		if time.Since(cut) > 4*dead {
			t.Fatalf("after %v: b %s, a %s", time.Since(cut), b.Engine.Role(), a.Engine.Role())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("DeadAfter %v, PollEvery %v: the standby led after %v; the cut-off leader stepped down after %v",
		dead, poll, bLed.Round(time.Millisecond), aLeft.Round(time.Millisecond))
	if bLed > dead+poll+time.Second || aLeft > dead+time.Second {
		t.Fatalf("slower than DeadAfter allows: led after %v, stepped down after %v", bLed, aLeft)
	}
	waitRole(t, b, incident.RoleLeader)
	st, err := b.Lead().Runner.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Runs[run.ID]; r == nil || r.State != incident.RunInterrupted {
		t.Fatalf("the run on the new leader: %+v", r)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the step outlived its leader's term")
		}
	}
	if b, _ := os.ReadFile(pidFile); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("the step ran again: %q", b)
	}
	if rep := b.Engine.Do(ctx, incident.Note{By: "maya", Text: "after"}); rep.Err != nil || rep.Seq != st.LastSeq+1 {
		t.Fatalf("b after the takeover: %+v (the log was at #%d)", rep, st.LastSeq)
	}
}

// TestPresenceAcrossProcesses: who is connected to one process of a shared
// room counts as connected on the other's dashboards (the roster, the
// header's count, staffing), and leaves with them; a process that goes
// takes its sessions along, at once when it closes, after presenceFresh
// when it was killed without a word.
func TestPresenceAcrossProcesses(t *testing.T) {
	saved := presenceEvery
	presenceEvery, presenceFresh = 50*time.Millisecond, time.Second
	t.Cleanup(func() { presenceEvery, presenceFresh = saved, 3*saved })
	ctx := context.Background()
	url := journaltest.PostgresURL(t)
	cfg := haConfig(t)
	a := openShared(t, cfg, url, "a")
	waitRole(t, a, incident.RoleLeader)
	b := openShared(t, cfg, url, "b")
	waitRole(t, b, incident.RoleStandby)
	if rep := b.Engine.Do(ctx, incident.Join{Session: "s1", Handle: "ola", Via: incident.ViaSSH}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if rep := a.Engine.Do(ctx, incident.Join{Session: "s2", Handle: "maya", Via: incident.ViaLocal}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	connected := func(r *Room) string {
		st, sub, err := r.Engine.Subscribe(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		r.Engine.Unsubscribe(sub)
		return fmt.Sprint(st.ConnectedPeople(), st.Connected("ola"))
	}
	waitFor := func(r *Room, what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(connected(r)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s; it sees %s", r.Engine.Cluster().Node, what, connected(r))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	is := func(want string) func(string) bool { return func(s string) bool { return s == want } }
	for _, r := range []*Room{a, b} {
		waitFor(r, "maya on a and ola on b", is("[maya ola] [ssh]"))
	}
	if rep := b.Engine.Do(ctx, incident.Leave{Session: "s1"}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	waitFor(a, "ola left b", is("[maya] []"))
	// A process killed without a word: its word lapses.
	c, err := journal.OpenPostgres(ctx, url, journal.PostgresOptions{Node: "c"}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.PutPresence(ctx, []journal.PresenceRow{{Key: "s9", Handle: "obs", Via: incident.ViaSSH, Since: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	waitFor(a, "obs on c", is("[maya obs] []"))
	waitFor(b, "obs on c", is("[maya obs] []"))
	waitFor(a, "c's word lapsed", is("[maya] []"))
	// A process that closes takes its sessions along.
	if rep := b.Engine.Do(ctx, incident.Join{Session: "s3", Handle: "ola", Via: incident.ViaSSH}); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	waitFor(a, "ola on b again", is("[maya ola] [ssh]"))
	b.Close()
	waitFor(a, "b closed", is("[maya] []"))
}
