package export

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/incident/incidenttest"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// The recorded incident: a real incident.Engine on a fake clock, driven
// through a scripted launch that crosses midnight UTC. It starts at
// 23:30:00 UTC on 2026-01-31 and ends at 00:20:00 on 2026-02-01.
var fixtureStart = time.Date(2026, 1, 31, 23, 30, 0, 0, time.UTC)

var fixtureLaunch = time.Date(2026, 1, 31, 23, 40, 0, 0, time.UTC)

func fp(v float64) *float64 { return &v }

// fixtureConfig: maya commands, sam is scribe; alice owns tokens with bob
// as backup, bob owns history (no backup), carol owns rpc with dave as
// backup; olga starts with no role. Some of the roster have display
// names; bob and sam have none. Unacked alerts page the backup after 2m
// and the commander after 5m.
func fixtureConfig() *config.Config {
	return &config.Config{
		Incident:   config.Incident{Name: "JUP airdrop launch", Timezone: "America/New_York", Launch: &fixtureLaunch},
		Escalation: config.Escalation{Backup: config.Duration(2 * time.Minute), Commander: config.Duration(5 * time.Minute)},
		Sources: []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1",
			Interval: config.Duration(30 * time.Second), Timeout: config.Duration(10 * time.Second)}},
		Services: []config.Service{
			{ID: "tokens", Name: "Tokens", Owner: "alice", Backup: "bob", Panes: []config.Pane{
				{ID: "p95", Title: "p95 latency", Source: "prom", Query: "q1", Unit: "s", Warn: fp(0.5), Crit: fp(1), Clear: fp(0.4), For: config.Duration(10 * time.Second)},
				{ID: "db", Title: "DB connections", Source: "prom", Query: "q2", Unit: "conns", Warn: fp(400), Crit: fp(480)},
			}},
			{ID: "history", Name: "History", Owner: "bob", Panes: []config.Pane{
				{ID: "rps", Title: "requests/s", Source: "prom", Query: "q3", Unit: "req/s", Crit: fp(50000)},
			}},
			{ID: "rpc", Name: "RPC providers", Owner: "carol", Backup: "dave", Panes: []config.Pane{
				{ID: "lag", Title: "slot lag", Source: "prom", Query: "q4", Unit: "slots", Warn: fp(20), Crit: fp(100), NoData: config.NoDataAlert},
			}},
		},
		Roster: []config.Person{{Handle: "maya", Name: "Maya Okafor"}, {Handle: "alice", Name: "Alice Chen"}, {Handle: "bob"},
			{Handle: "carol", Name: "Carol Reyes"}, {Handle: "dave", Name: "Dave Kim"}, {Handle: "olga", Name: "Olga Petrova"}, {Handle: "sam"}},
		Roles: config.Roles{Commander: "maya", Scribe: "sam"},
	}
}

// fixturePlaybooks is the catalog's policy for the two playbooks the
// incident runs: the service's owner asks, the commander or the deputy
// approves within 5m, and each holds its lock for at most 15m.
var fixturePlaybooks = playbookPolicies{
	"db-terminate-idle": {Service: "tokens", RunRole: roles.Owner, Approvers: []roles.Role{roles.Commander, roles.Deputy},
		ApprovalTimeout: 5 * time.Minute, Lock: "tokens-db", LockTimeout: 15 * time.Minute},
	"rpc-traffic-split": {Service: "rpc", RunRole: roles.Owner, Approvers: []roles.Role{roles.Commander, roles.Deputy},
		ApprovalTimeout: 5 * time.Minute, Lock: "rpc-routing", LockTimeout: 15 * time.Minute},
}

type playbookPolicies map[string]incident.RunPolicy

func (p playbookPolicies) RunPolicy(id string) (incident.RunPolicy, bool) {
	x, ok := p[id]
	return x, ok
}

// rig drives an engine deterministically: every command waits for its
// reply, and every clock step waits until the engine's heartbeat for it
// has been processed before anything else is sent.
type rig struct {
	t      testing.TB
	e      *incident.Engine
	j      *journal.SQLite
	clk    *clock.Fake
	cancel context.CancelFunc
	closed bool
}

func newRig(t testing.TB, path string, cfg *config.Config, start time.Time) *rig {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	g := &rig{t: t, e: e, j: j, clk: clk, cancel: cancel}
	g.sync()
	return g
}

// sync is a round trip through the engine's queue.
func (g *rig) sync() *incident.State {
	g.t.Helper()
	s, sub, err := g.e.Subscribe(context.Background(), 1)
	if err != nil {
		g.t.Fatal(err)
	}
	g.e.Unsubscribe(sub)
	return s
}

// advance moves time and waits for the heartbeat it triggers.
func (g *rig) advance(d time.Duration) {
	g.t.Helper()
	g.clk.Advance(d)
	deadline := time.Now().Add(10 * time.Second)
	for g.clk.Waiters() == 0 {
		if time.Now().After(deadline) {
			g.t.Fatal("engine did not re-arm its heartbeat")
		}
		time.Sleep(20 * time.Microsecond)
	}
	g.sync()
}

func (g *rig) do(cmd incident.Command) incident.Reply {
	g.t.Helper()
	r := g.e.Do(context.Background(), cmd)
	if r.Err != nil {
		g.t.Fatalf("%T refused: %v", cmd, r.Err)
	}
	return r
}

// observe feeds samples to the engine and stores them in the journal, as
// the sources' sample writer does.
func (g *rig) observe(samples ...incident.Sample) {
	g.t.Helper()
	now := g.clk.Now()
	rows := make([]journal.Sample, 0, len(samples))
	for i := range samples {
		samples[i].Time = now
		rows = append(rows, journal.Sample{Service: samples[i].Service, Pane: samples[i].Pane, Time: now,
			Value: samples[i].Value, NoData: samples[i].NoData})
	}
	if err := g.e.Submit(context.Background(), incident.Observe{Samples: samples}); err != nil {
		g.t.Fatal(err)
	}
	g.sync()
	if err := g.j.AppendSamples(context.Background(), rows); err != nil {
		g.t.Fatal(err)
	}
}

// seqOf finds the newest event of a kind (and service) in the state.
func (g *rig) seqOf(kind incident.Kind, service string) int64 {
	g.t.Helper()
	rec := g.sync().Recent
	for i := len(rec) - 1; i >= 0; i-- {
		if rec[i].Kind == kind && (service == "" || rec[i].Service == service) {
			return rec[i].Seq
		}
	}
	g.t.Fatalf("no %s event for %q", kind, service)
	return 0
}

func (g *rig) openAlert(service, pane string) *incident.Alert {
	g.t.Helper()
	for _, a := range g.sync().OpenAlerts() {
		if a.Service == service && a.Pane == pane {
			return a
		}
	}
	g.t.Fatalf("no open alert on %s/%s", service, pane)
	return nil
}

func (g *rig) close() {
	if g.closed {
		return
	}
	g.closed = true
	g.cancel()
	<-g.e.Done()
	g.j.Close()
}

// The script's hostile notes: exports must keep them as inert text.
const (
	scriptNote  = `<script>alert("x")</script> | pipes | *bold* [link](http://example.invalid) & done`
	formulaNote = `=HYPERLINK("http://example.invalid","click")`
)

// recordIncident writes the scripted incident to path.
func recordIncident(t testing.TB, path string) {
	g := newRig(t, path, fixtureConfig(), fixtureStart)
	defer g.close()
	at := func(hhmmss string) time.Time {
		tm, err := time.Parse("15:04:05", hhmmss)
		if err != nil {
			t.Fatal(err)
		}
		day := fixtureStart
		if tm.Hour() < 12 {
			day = day.Add(24 * time.Hour)
		}
		return time.Date(day.Year(), day.Month(), day.Day(), tm.Hour(), tm.Minute(), tm.Second(), 0, time.UTC)
	}
	between := func(now time.Time, from, to string) bool {
		return !now.Before(at(from)) && now.Before(at(to))
	}
	// The panes over time.
	p95 := func(now time.Time) float64 {
		switch {
		case between(now, "23:42:00", "23:45:00"):
			return 0.7
		case between(now, "23:45:00", "23:50:30"):
			return 1.4
		case !now.Before(at("23:50:30")):
			return 0.3
		}
		return 0.2
	}
	db := func(now time.Time) float64 {
		if between(now, "23:44:00", "23:49:30") {
			return 450
		}
		return 120 + float64(now.Sub(fixtureStart)/time.Minute)
	}
	rps := func(now time.Time) float64 {
		switch {
		case between(now, "23:30:00", "23:40:00"):
			return 20000
		case between(now, "23:40:00", "23:52:00"):
			return 45000
		case between(now, "23:52:00", "00:02:00"):
			return 60000
		case between(now, "00:10:00", "00:15:00"):
			return 55000
		}
		return 30000
	}
	// Slot lag: NO DATA, then crit until R3; later it breaks again, warn
	// then crit (the upgrade that clears carol's ack, see 00:16:30).
	lag := func(now time.Time) incident.Sample {
		s := incident.Sample{Service: "rpc", Pane: "lag", Value: 2}
		switch {
		case between(now, "00:04:00", "00:05:00"):
			s.NoData, s.Value = true, 0
		case between(now, "00:05:00", "00:12:30"):
			s.Value = 140
		case between(now, "00:14:30", "00:16:30"):
			s.Value = 60
		case between(now, "00:16:30", "00:19:30"):
			s.Value = 150
		}
		return s
	}
	// The runs go the way the room takes them: requested (RequestRun),
	// approved by the commander (ApproveRun), started and reported step
	// by step as the playbook runner does (StartRun, AdvanceRun with the
	// runner's texts). Their ids are R<seq of the request>.
	runs := map[string]string{} // R1, R2, R3 of the story → run id
	request := func(name, by, playbook string, params map[string]string, summary string) {
		h := sha256.Sum256([]byte(fmt.Sprint(playbook, params)))
		runs[name] = g.do(incident.RequestRun{By: by, Playbook: playbook, Params: params, Hash: hex.EncodeToString(h[:]),
			Summary: summary, Policies: fixturePlaybooks}).Events[0].Run.ID
	}
	approve := func(name, by string) {
		r := g.sync().Runs[runs[name]]
		g.do(incident.ApproveRun{By: by, RunID: r.ID, Hash: r.Hash, Policies: fixturePlaybooks})
		g.do(incident.StartRun{By: r.Actor, RunID: r.ID, Hash: r.Hash, Policies: fixturePlaybooks})
	}
	// advance records what the runner did; texts start with the run id.
	advance := func(name string, ts ...incident.RunTransition) incident.Reply {
		r := g.sync().Runs[runs[name]]
		for i := range ts {
			ts[i].Text = r.ID + " " + ts[i].Text
		}
		return g.do(incident.AdvanceRun{By: r.Actor, RunID: r.ID, Transitions: ts})
	}
	step := func(state incident.RunState, id, text string) incident.RunTransition {
		return incident.RunTransition{State: state, Step: id, Index: 1, Of: 1, Text: text}
	}
	r1 := map[string]string{"max_idle": "60s", "role": "tokens_app"}
	r2 := map[string]string{"triton": "80", "quicknode": "20"}
	r3 := map[string]string{"triton": "20", "quicknode": "80"}
	var seqNote, seqR2Fail, seqAccept int64
	script := map[string]func(){
		"23:33:00": func() {
			g.do(incident.Note{By: "maya", Text: "Launch at 23:40 UTC. Watching claims and history."})
		},
		"23:35:00": func() { g.do(incident.Assign{By: "maya", Role: roles.Comms, Handle: "olga"}) },
		"23:43:30": func() { g.do(incident.Ack{By: "alice", AlertID: g.openAlert("tokens", "p95").ID}) },
		"23:45:00": func() { g.do(incident.Ack{By: "bob", AlertID: g.openAlert("tokens", "db").ID}) },
		"23:46:00": func() { g.do(incident.Ack{By: "alice", AlertID: g.openAlert("tokens", "p95").ID}) },
		"23:46:30": func() {
			seqNote = g.do(incident.Note{By: "maya", Service: "tokens", Text: "DB connections exhausted on tokens.\nTerminating idle sessions."}).Seq
			g.do(incident.MarkImportant{By: "sam", Seq: seqNote, Important: true})
		},
		"23:47:00": func() { request("R1", "alice", "db-terminate-idle", r1, "max_idle=60s, role=tokens_app") },
		"23:48:00": func() {
			approve("R1", "maya")
			advance("R1", step(incident.RunRunning, "terminate", "step 1/1 terminate: exec psql -c \"select pg_terminate_backend(pid) from idle sessions\""))
		},
		"23:49:30": func() {
			advance("R1", incident.RunTransition{State: incident.RunRunning, Step: "terminate", Index: 1, Of: 1, Output: "terminated 412 idle sessions",
				Text: "step terminate done: terminated 412 idle sessions"})
			advance("R1", step(incident.RunVerifying, "connections", "verifying 1/1 connections: wait until connections < 200 for 30s (timeout 2m)"))
		},
		"23:50:00": func() {
			advance("R1", incident.RunTransition{State: incident.RunVerifying, Step: "connections", Index: 1, Of: 1, Output: "148 connections in use",
				Text: "verify connections passed: 148 connections in use"},
				incident.RunTransition{State: incident.RunSucceeded, Text: "db-terminate-idle succeeded"})
		},
		"23:55:00": func() { g.do(incident.OfferCommand{By: "maya", To: "carol"}) },
		"23:55:30": func() { g.do(incident.DeclineCommand{By: "carol", Reason: "on the RPC provider call"}) },
		"23:58:00": func() { g.do(incident.Ack{By: "maya", AlertID: g.openAlert("history", "rps").ID}) },
		"23:59:00": func() { g.do(incident.OfferCommand{By: "maya", To: "olga"}) },
		"00:01:00": func() { seqAccept = g.do(incident.AcceptCommand{By: "olga"}).Seq },
		"00:01:30": func() { g.do(incident.Assign{By: "olga", Role: roles.Deputy, Handle: "maya"}) },
		"00:03:00": func() {
			g.do(incident.Note{By: "sam", Text: scriptNote})
			g.do(incident.Note{By: "sam", Text: formulaNote})
		},
		"00:04:00": func() {
			g.do(incident.ReportSource{Info: incident.SourceInfo{ID: "prom", Health: "rate-limited", Error: "429 Too Many Requests"}})
			g.do(incident.RecordMirror{Text: "down: slack answered 503"})
		},
		"00:05:00": func() {
			g.do(incident.ReportSource{Info: incident.SourceInfo{ID: "prom", Health: "up"}})
			g.do(incident.RecordMirror{Text: "up"})
		},
		"00:05:30": func() { request("R2", "carol", "rpc-traffic-split", r2, "quicknode=20, triton=80") },
		"00:06:00": func() { g.do(incident.Ack{By: "carol", AlertID: g.openAlert("rpc", "lag").ID}) },
		"00:06:30": func() {
			approve("R2", "olga")
			advance("R2", step(incident.RunRunning, "apply", "step 1/1 apply: PUT https://lb.example/rpc/split"))
			advance("R2", incident.RunTransition{State: incident.RunRunning, Step: "apply", Index: 1, Of: 1, Text: "step apply done: split 80/20"},
				step(incident.RunVerifying, "lag", "verifying 1/1 lag: wait until slot lag < 20 for 60s (timeout 90s)"))
		},
		"00:08:00": func() {
			seqR2Fail = advance("R2", incident.RunTransition{State: incident.RunVerifying, Step: "lag", Index: 1, Of: 1, Error: "lag still 140 slots after 60s",
				Text: "step lag failed: lag still 140 slots after 60s"},
				incident.RunTransition{State: incident.RunFailed, Step: "lag", Error: "lag still 140 slots after 60s", Text: "rpc-traffic-split failed at lag; rolling back"},
				incident.RunTransition{State: incident.RunRollingBack, Text: "rolling back 1 step(s) with captured values"}).Events[1].Seq
			advance("R2", step(incident.RunRollingBack, "restore", "rollback 1/1 restore: PUT https://lb.example/rpc/split"))
		},
		"00:08:30": func() {
			advance("R2", incident.RunTransition{State: incident.RunRollingBack, Step: "restore", Index: 1, Of: 1, Text: "rollback step restore done: split 50/50"},
				incident.RunTransition{State: incident.RunRolledBack, Text: "rpc-traffic-split rolled back"})
		},
		"00:09:00": func() { request("R3", "carol", "rpc-traffic-split", r3, "quicknode=80, triton=20") },
		"00:09:30": func() {
			approve("R3", "olga")
			advance("R3", step(incident.RunRunning, "apply", "step 1/1 apply: PUT https://lb.example/rpc/split"))
			advance("R3", incident.RunTransition{State: incident.RunRunning, Step: "apply", Index: 1, Of: 1, Text: "step apply done: split 20/80"},
				step(incident.RunVerifying, "lag", "verifying 1/1 lag: wait until slot lag < 20 for 60s (timeout 90s)"))
		},
		"00:11:00": func() { g.do(incident.Ack{By: "bob", AlertID: g.openAlert("history", "rps").ID}) },
		"00:12:00": func() {
			advance("R3", incident.RunTransition{State: incident.RunVerifying, Step: "lag", Index: 1, Of: 1, Output: "split is now triton 20 / quicknode 80",
				Text: "verify lag passed: slot lag 2"},
				incident.RunTransition{State: incident.RunSucceeded, Text: "rpc-traffic-split succeeded"})
		},
		"00:14:00": func() {
			g.do(incidenttest.Firing("tokens", incident.LevelWarn, "ClaimsStaleBalances"))
		},
		// The lag is back (warn at 00:14:30) and carol acks it; at 00:16:30 it
		// turns crit, 2m after the firing: the upgrade clears her ack, and
		// dave (rpc backup) is paged the full 2m after the upgrade, at
		// 00:18:30, not at once. He acks, and the lag clears at 00:19:30.
		"00:15:00": func() { g.do(incident.Ack{By: "carol", AlertID: g.openAlert("rpc", "lag").ID}) },
		"00:16:00": func() {
			g.do(incident.Resolve{By: "alice", AlertID: g.openAlert("tokens", "ClaimsStaleBalances").ID, Reason: "cache flushed"})
		},
		"00:17:00": func() {
			for _, seq := range []int64{seqR2Fail, seqAccept, g.seqOf(incident.KindAlert, "history"), g.seqOf(incident.KindEscalate, "history")} {
				g.do(incident.MarkImportant{By: "sam", Seq: seq, Important: true})
			}
			// A mark taken back: the final word is "not important".
			g.do(incident.MarkImportant{By: "sam", Seq: seqNote + 1, Important: true})
			g.do(incident.MarkImportant{By: "sam", Seq: seqNote + 1, Important: false})
		},
		"00:19:00": func() { g.do(incident.Ack{By: "dave", AlertID: g.openAlert("rpc", "lag").ID}) },
		"00:20:00": func() { g.do(incident.Note{By: "olga", Text: "All clear. Monitoring for 30 more minutes."}) },
	}
	end := at("00:20:00")
	for now := fixtureStart; !now.After(end); now = now.Add(30 * time.Second) {
		if now.After(fixtureStart) {
			g.advance(30 * time.Second)
		}
		if got := g.clk.Now(); !got.Equal(now) {
			t.Fatalf("clock %s, want %s", got, now)
		}
		g.observe(
			incident.Sample{Service: "tokens", Pane: "p95", Value: p95(now)},
			incident.Sample{Service: "tokens", Pane: "db", Value: db(now)},
			incident.Sample{Service: "history", Pane: "rps", Value: rps(now)},
			lag(now),
		)
		if fn := script[now.Format("15:04:05")]; fn != nil {
			fn()
		}
	}
}

// The fixture journal is recorded once per test binary.
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

func fixtureJournal(t testing.TB) string {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "warroom-export-fixture-")
		if fixtureErr != nil {
			return
		}
		rt := &recordT{TB: t}
		func() {
			defer func() {
				if r := recover(); r != nil && r != errRecordFailed {
					panic(r)
				}
			}()
			recordIncident(rt, filepath.Join(fixtureDir, "journal.db"))
		}()
		if rt.failed != "" {
			fixtureErr = fmt.Errorf("recording the fixture: %s", rt.failed)
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return filepath.Join(fixtureDir, "journal.db")
}

// recordT lets the once-only recording fail without tying it to the
// first test that asked for it.
type recordT struct {
	testing.TB
	failed string
}

var errRecordFailed = fmt.Errorf("record failed")

func (r *recordT) Helper() {}
func (r *recordT) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	panic(errRecordFailed)
}
func (r *recordT) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(errRecordFailed)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// loadFixture loads the recorded journal with options.
func loadFixture(t testing.TB, opt Options) *Report {
	t.Helper()
	j, err := journal.OpenReadOnly(fixtureJournal(t))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := Load(context.Background(), j, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
