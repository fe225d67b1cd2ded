// Package demo runs `warroom demo`: the launch simulator on loopback and a
// war room pointed at it, built from the embedded airdrop example with the
// production sources, engine and playbooks unchanged. The person at the
// dashboard is the commander; simulated owners request the right
// mitigations, a simulated deputy approves the commander's own requests,
// the simulated comms role tells customers what happens (a local
// Statuspage and the room's own status page), and the demo ends with its
// story, with a summary.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/examples/airdrop"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/sim"
	pdsim "github.com/warroom/warroom/sim/pagerduty"
	slacksim "github.com/warroom/warroom/sim/slack"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// Options for Start.
type Options struct {
	Speed       float64 // scenario seconds per real second (default 1)
	Seed        uint64
	JournalPath string // default: a new file in Dir
	Dir         string // where the example is written (default: a temp dir)
	// AutoAck lets simulated owners acknowledge their alerts.
	AutoAck bool
	// Autopilot lets simulated owners request the right mitigation and the
	// simulated commander approve it.
	Autopilot bool
	// LeadIn is how much scenario time runs before T-0 (default 30s).
	LeadIn time.Duration
	// Human is the roster handle of the person at the dashboard (default
	// the commander). The simulator plays everyone else and never writes
	// an event in the human's name.
	Human string
	// SlackTranscript, if set, receives every message the local Slack
	// receives, as it is posted or updated.
	SlackTranscript io.Writer
	Logger          *slog.Logger

	// Drills (sim/drill) run the same room on another scenario.
	//
	// Scenario replaces the airdrop launch (sim.DefaultScenario).
	Scenario *sim.Scenario
	// Mitigations replace what the simulated owners request, by
	// service/pane of the alert (default: the airdrop's).
	Mitigations map[string]Mitigation
	// Length is how long after T-0 the story runs (default
	// ScenarioLength).
	Length time.Duration
	// Drill names the injects: every screen says DRILL, the room's name
	// too, and the launch plan is left out (a drill rehearses the hour
	// after T-0).
	Drill string
	// AckDelay is how long simulated owners take to ack (default 40s of
	// scenario time).
	AckDelay time.Duration
	// StatusAddr is where the room's public status page is served
	// (default a free loopback port; see Demo.StatusURL).
	StatusAddr string
}

// Demo is a running simulated launch.
type Demo struct {
	Room  *room.Room
	Sim   *sim.Sim
	Slack *slacksim.Server
	// PagerDuty is the local PagerDuty the room pages through; its
	// simulated phones acknowledge through the signed webhook.
	PagerDuty *pdsim.Server
	hooks     *http.Server
	// Statuspage is the local Statuspage the room publishes to.
	Statuspage *spsim.Server
	// StatusURL is the room's own public status page.
	StatusURL string
	pageSrv   *http.Server
	Clock     clock.Clock
	T0        time.Time
	End       time.Time // scenario end (engine time)
	Dir       string
	cancel    context.CancelFunc
	tmp       bool

	human      string
	stopPeople context.CancelFunc
	peopleDone chan struct{}
	pending    sync.WaitGroup // delayed actions of the simulated people
	storyEnd   chan struct{}
	finished   bool // Finish closed the room

	mitigations map[string]Mitigation
	ackDelay    time.Duration
}

// ScenarioLength is how long after T-0 the launch story runs.
const ScenarioLength = 10*time.Minute + 30*time.Second

// Start starts the simulator and the war room.
func Start(ctx context.Context, o Options) (_ *Demo, err error) {
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.LeadIn <= 0 {
		o.LeadIn = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{Dir: o.Dir}
	if d.Dir == "" {
		if d.Dir, err = os.MkdirTemp("", "warroom-demo-"); err != nil {
			return nil, err
		}
		d.tmp = true
	}
	ctx, d.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	path, err := airdrop.WriteTo(d.Dir)
	if err != nil {
		return nil, fmt.Errorf("write the example: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	jpath := o.JournalPath
	if jpath == "" {
		jpath = filepath.Join(d.Dir, "warroom.db")
	}
	// Now is T-LeadIn in the scenario. An accelerated run leaves its
	// journal ahead of the wall clock: a run that continues it starts after
	// its last event, so the timeline never goes back in time.
	start := time.Now().UTC()
	if last, ok := lastEventTime(jpath); ok && last.After(start) {
		start = last.Add(time.Second)
	}
	d.T0 = start.Truncate(time.Second).Add(o.LeadIn)
	if o.Length <= 0 {
		o.Length = ScenarioLength
	}
	d.End = d.T0.Add(o.Length)
	d.ackDelay = o.AckDelay
	if d.ackDelay <= 0 {
		d.ackDelay = ackDelay
	}
	d.mitigations = o.Mitigations
	if d.mitigations == nil {
		d.mitigations = mitigations
	}
	d.Clock = clock.NewScaled(start, o.Speed)

	token := randomToken()
	d.Sim, err = sim.Start(ctx, sim.Options{
		Seed: o.Seed, Clock: d.Clock, Start: d.T0, AdminToken: token, Scenario: o.Scenario,
		// RPC latency is measured on the room's clock: sleep the modelled
		// latency divided by the speed so that it reads true.
		LatencyScale: 1 / o.Speed,
	})
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	pointAtSimulator(cfg, d.Sim, d.T0)
	if o.Drill != "" {
		cfg.Incident.Drill = o.Drill
		cfg.Incident.Name = "DRILL " + o.Drill + ": " + strings.TrimSuffix(cfg.Incident.Name, " (simulated)")
		cfg.Launch = nil
	}
	// A local Slack, so the mirror and /warroom commands are live too.
	bot, app := slacksim.NewTokens()
	d.Slack = slacksim.New(slacksim.Options{Clock: d.Clock, BotToken: bot, AppToken: app, Transcript: o.SlackTranscript, MaxMessages: 5000, Seed: o.Seed})
	if err := d.Slack.Start(); err != nil {
		return nil, fmt.Errorf("start the local Slack: %w", err)
	}
	cfg.Slack = &config.Slack{APIURL: d.Slack.APIURL(), Channel: d.Slack.ChannelID(),
		BotToken: config.Secret{Env: "SLACK_BOT_TOKEN"}, AppToken: config.Secret{Env: "SLACK_APP_TOKEN"}}
	// A local Statuspage, so public updates are published for real.
	if err := d.startPublic(cfg, token); err != nil {
		return nil, fmt.Errorf("start the local Statuspage: %w", err)
	}
	d.human = o.Human
	if d.human == "" {
		d.human = cfg.Roles.Commander
	}
	if cfg.Person(d.human) == nil {
		return nil, fmt.Errorf("%q is not on the demo's roster", d.human)
	}
	// The demo's credentials: the simulator accepts any key, the admin API
	// only this run's token. They live in this process's environment only.
	env := map[string]string{
		"DD_API_KEY": "demo" + token[:24], "DD_APP_KEY": "demo" + token[:32],
		"SIM_ADMIN_URL": d.Sim.AdminURL, "SIM_ADMIN_TOKEN": token,
		"SLACK_BOT_TOKEN": bot, "SLACK_APP_TOKEN": app,
		"STATUSPAGE_API_KEY": "sp" + token[:30],
	}
	hooks, err := d.startPagerDuty(cfg, env)
	if err != nil {
		return nil, fmt.Errorf("start the local PagerDuty: %w", err)
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	d.Room, err = room.Open(ctx, room.Options{Config: cfg, JournalPath: jpath, Clock: d.Clock, Logger: o.Logger})
	if err != nil {
		hooks.Close()
		return nil, err
	}
	// PagerDuty's webhooks reach the room as they would reach serve.
	mux := http.NewServeMux()
	mux.Handle("/api/pagerduty", d.Room.PagerDutyWebhook(o.Logger))
	d.hooks = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go d.hooks.Serve(hooks)
	if err := d.servePage(ctx, o.StatusAddr); err != nil {
		return nil, fmt.Errorf("serve the status page: %w", err)
	}
	pctx, stop := context.WithCancel(ctx)
	d.stopPeople, d.peopleDone = stop, make(chan struct{})
	// Subscribe before returning, so that nothing the caller does next
	// (a request by the human) is missed.
	snap, sub, err := d.Room.Engine.Subscribe(pctx, 1024)
	if err != nil {
		stop()
		close(d.peopleDone)
		return nil, err
	}
	go d.people(pctx, snap, sub, o.AutoAck, o.Autopilot)
	d.storyEnd = make(chan struct{})
	go func() {
		select {
		case <-d.Clock.After(d.End.Sub(d.Clock.Now())):
			close(d.storyEnd)
		case <-ctx.Done():
		}
	}()
	return d, nil
}

// phoneDelay is how long (scenario time) a paged person takes to
// acknowledge on their phone.
const phoneDelay = 30 * time.Second

// startPagerDuty starts the local PagerDuty and points the room at it:
// every roster person has an integration of their own (their phone) and a
// PagerDuty user; owners are paged a minute after an alert of theirs
// fires unacked (escalation.owner) and, except the human, acknowledge on
// their phone half a minute later, which PagerDuty's signed webhook
// brings back to the room. It returns the listener the webhook posts to.
func (d *Demo) startPagerDuty(cfg *config.Config, env map[string]string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var ints []pdsim.Integration
	noPhone := map[string]bool{}
	for i := range cfg.Roster {
		p := &cfg.Roster[i]
		user, name := fmt.Sprintf("PDEMO%02d", i+1), "PD_KEY_"+envName(p.Handle)
		key := pdsim.NewRoutingKey()
		env[name] = key
		p.PagerDuty = &config.PersonPagerDuty{User: user, RoutingKey: config.Secret{Env: name}}
		ints = append(ints, pdsim.Integration{RoutingKey: key, ServiceID: fmt.Sprintf("PSVC%03d", i+1), ServiceName: p.Name + "'s phone",
			Assignee: pdsim.User{ID: user, Name: p.Name}})
		if p.Handle == d.human {
			noPhone[user] = true // the human answers in the room
		}
	}
	secret := randomToken()
	env["PD_WEBHOOK_SECRET"] = secret
	d.PagerDuty = pdsim.New(pdsim.Options{Clock: d.Clock, Integrations: ints, WebhookURL: "http://" + ln.Addr().String() + "/api/pagerduty",
		WebhookSecrets: []string{secret}, Phones: phoneDelay, NoPhone: noPhone})
	if err := d.PagerDuty.Start(); err != nil {
		ln.Close()
		return nil, err
	}
	cfg.PagerDuty = &config.PagerDuty{EventsURL: d.PagerDuty.URL(), WebhookSecret: config.Secret{Env: "PD_WEBHOOK_SECRET"}}
	if cfg.Escalation.Owner == 0 {
		cfg.Escalation.Owner = config.Duration(time.Minute)
	}
	return ln, nil
}

// envName makes a handle part of an environment variable's name.
func envName(handle string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, handle)
}

// Human is the handle the simulator never acts as.
func (d *Demo) Human() string { return d.human }

// pointAtSimulator replaces the example's loopback endpoints with the
// simulator's free ports and marks the run as simulated.
func pointAtSimulator(cfg *config.Config, s *sim.Sim, t0 time.Time) {
	s.Point(cfg)
	cfg.Incident.Launch = &t0
	cfg.Incident.Simulated = true
	cfg.Incident.Name += " (simulated)"
}

// lastEventTime reads the time of the newest event of an existing journal.
func lastEventTime(path string) (time.Time, bool) {
	if _, err := os.Stat(path); err != nil {
		return time.Time{}, false
	}
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return time.Time{}, false
	}
	defer j.Close()
	var last time.Time
	n := j.LastSeq()
	_ = j.ReplayRange(context.Background(), n-1, n, func(e journal.Event) error {
		last = e.Time
		return nil
	})
	return last, !last.IsZero()
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops the room and the simulator and removes the temp directory
// (unless the journal was put elsewhere, nothing of value is in it).
func (d *Demo) Close() error {
	var err error
	if d.stopPeople != nil {
		d.stopPeople()
		<-d.peopleDone
		d.pending.Wait()
	}
	if d.hooks != nil {
		d.hooks.Close()
	}
	if d.Room != nil && !d.finished {
		err = d.Room.Close()
	}
	if d.PagerDuty != nil {
		d.PagerDuty.Close()
	}
	if d.pageSrv != nil {
		d.pageSrv.Close()
	}
	if d.Statuspage != nil {
		d.Statuspage.Close()
	}
	if d.Slack != nil {
		d.Slack.Close()
	}
	if d.Sim != nil {
		d.Sim.Close()
	}
	d.cancel()
	if d.tmp {
		os.RemoveAll(d.Dir)
	}
	return err
}

// Mitigation is what the simulated room does about an alert on a pane:
// the owner requests this playbook with these parameters.
type Mitigation struct {
	Playbook string
	Params   map[string]string
}

var mitigations = map[string]Mitigation{
	"cloudflare/bots":  {"waf-mode", map[string]string{"mode": "block"}},
	"tokens/db_conns":  {"db-terminate-idle-sessions", map[string]string{}},
	"tokens/throttles": {"lambda-reserved-concurrency", map[string]string{"function": "tokens", "reserved_concurrency": "3000"}},
	"triton/lag":       {"rpc-traffic-split", map[string]string{"triton_percent": "20"}},
	"blowfish/landing": {"priority-fee", map[string]string{"micro_lamports": "300000"}},
}

// Human-ish delays, in scenario time. Owners watching the room at a
// launch ack within about 20 s, well before the page at one minute: at
// 40 s the margin was a second of the machine's time at the test's 20×
// speed, and a loaded machine paged an owner.
const (
	ackDelay      = 20 * time.Second
	mitigateDelay = 25 * time.Second
	approveDelay  = 10 * time.Second
)

// people plays everyone but the human at the dashboard. Owners request
// the mitigation that fits their alert (whatever the autopilot says: then
// the human approves it) and, with AutoAck, acknowledge their alerts. An
// approver other than the human (the deputy, or the commander when the
// human is the deputy) approves the human's requests, and with Autopilot
// everyone's. Nothing is ever written in the human's name.
func (d *Demo) people(ctx context.Context, snap *incident.State, sub *incident.Subscription, autoAck, autopilot bool) {
	defer close(d.peopleDone)
	eng := d.Room.Engine
	started := map[string]bool{}
	pub := &publicPlay{public: !snap.Life.PublicSince.IsZero() || len(snap.Life.Updates) > 0}
	d.resolveAtEnd(ctx, pub)
	d.importRehearsal(ctx, snap)
	// Requests and alerts already waiting (a continued journal, or a
	// resync after the subscription lagged: what happened in the gap came
	// in no update).
	waiting := func(snap *incident.State) error {
		for id, r := range snap.Runs {
			if r.State == incident.RunAwaitingApproval && (r.Actor == d.human || autopilot) {
				d.later(ctx, approveDelay, func() { d.approve(ctx, id) })
			}
		}
		if autoAck {
			for _, a := range snap.OpenAlerts() {
				if !a.Acked() {
					svc, id := a.Service, a.ID
					d.after(ctx, a.UnackedSince(), d.ackDelay, func() { d.ack(ctx, svc, id) })
				}
			}
		}
		return nil
	}
	_ = waiting(snap)
	_ = incident.Follow(ctx, eng, sub, 1024, waiting, func(u incident.Update) error {
		for _, ev := range u.Events {
			d.onPublic(ctx, pub, ev, autopilot)
			switch {
			case ev.Kind == incident.KindAlert && ev.Alert != nil:
				a, svc := *ev.Alert, ev.Service
				// The people act a while after the event, not after the
				// simulator read it: on a loaded machine it reads late.
				if autoAck {
					d.after(ctx, ev.Time, d.ackDelay, func() { d.ack(ctx, svc, a.ID) })
				}
				m, ok := d.mitigations[svc+"/"+a.Pane]
				if !ok || started[m.Playbook] || (a.Level != incident.LevelCrit && a.Level != incident.LevelWarn) {
					continue
				}
				started[m.Playbook] = true
				d.after(ctx, ev.Time, mitigateDelay, func() { d.mitigate(ctx, m) })
			case ev.Kind == incident.KindRun && ev.Run != nil && ev.Run.State == incident.RunAwaitingApproval:
				if ev.Actor == d.human || autopilot {
					id := ev.Run.ID
					d.after(ctx, ev.Time, approveDelay, func() { d.approve(ctx, id) })
				}
			}
		}
		return nil
	})
}

// sim reports whether handle is played by the simulator.
func (d *Demo) sim(handle string) bool { return handle != "" && handle != d.human }

func (d *Demo) ack(ctx context.Context, svc, id string) {
	snap := d.snapshot(ctx)
	if snap == nil {
		return
	}
	if a := snap.Alerts[id]; a == nil || !a.Open() || a.Acked() {
		return
	}
	if owner := snap.Roles.Services[svc].Primary; d.sim(owner) {
		d.Room.Engine.Do(ctx, incident.Ack{By: owner, AlertID: id})
	}
}

func (d *Demo) mitigate(ctx context.Context, m Mitigation) {
	snap := d.snapshot(ctx)
	pb, ok := d.Room.Catalog.Get(m.Playbook)
	if snap == nil || !ok {
		return
	}
	owner := snap.Roles.Services[pb.Service].Primary
	if !d.sim(owner) {
		return // the human owns it: their call
	}
	if _, err := d.Room.Lead().Runner.Request(ctx, owner, m.Playbook, m.Params); err != nil {
		var ref *roles.Refusal
		if errors.As(err, &ref) {
			d.Room.Engine.Do(ctx, incident.Note{By: owner, Service: pb.Service, Text: fmt.Sprintf("could not request %s: %s", m.Playbook, ref.Reason)})
		}
	}
}

// approve has a simulated approver approve run id with the hash it was
// requested with, if it still waits.
func (d *Demo) approve(ctx context.Context, id string) {
	snap := d.snapshot(ctx)
	if snap == nil || snap.Runs[id] == nil || snap.Runs[id].State != incident.RunAwaitingApproval {
		return
	}
	run := snap.Runs[id]
	for _, who := range []string{snap.Roles.Deputy, snap.Roles.Commander} {
		if !d.sim(who) || snap.MayApprove(d.Room.Engine.Roster(), who, id, d.Room.Catalog, d.Clock.Now()) != nil {
			continue
		}
		if err := d.Room.Lead().Runner.Approve(ctx, who, id, run.Hash); err != nil {
			d.Room.Engine.Do(ctx, incident.Note{By: who, Service: run.Service, Text: fmt.Sprintf("could not approve %s: %v", id, err)})
		}
		return
	}
}

func (d *Demo) snapshot(ctx context.Context) *incident.State {
	s, _ := incident.Snapshot(ctx, d.Room.Engine)
	return s
}

// later runs fn once wait of scenario time has passed, unless ctx ends.
// after runs fn wait after the event at t, in the room's time.
func (d *Demo) after(ctx context.Context, t time.Time, wait time.Duration, fn func()) {
	d.later(ctx, t.Add(wait).Sub(d.Clock.Now()), fn)
}

func (d *Demo) later(ctx context.Context, wait time.Duration, fn func()) {
	d.pending.Add(1)
	go func() {
		defer d.pending.Done()
		select {
		case <-d.Clock.After(wait):
			fn()
		case <-ctx.Done():
		}
	}()
}

// StoryEnd is closed when the launch story is over (scenario time End).
func (d *Demo) StoryEnd() <-chan struct{} { return d.storyEnd }

// settleFor bounds how long Finish waits for runs still executing.
const settleFor = 2 * time.Minute

// Finish ends the demo: the simulated people stop, runs still executing
// may finish (up to settleFor of scenario time), then the room stops and
// its journal is kept for the export. It returns what happened.
func (d *Demo) Finish(ctx context.Context) (*Summary, error) {
	d.stopPeople()
	<-d.peopleDone
	d.pending.Wait()
	deadline := d.Clock.Now().Add(settleFor)
	for d.Clock.Now().Before(deadline) {
		snap := d.snapshot(ctx)
		if snap == nil || !executing(snap) {
			break
		}
		select {
		case <-d.Clock.After(time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	end := d.Clock.Now()
	d.finished = true
	if d.hooks != nil {
		d.hooks.Close() // no more acknowledgements from phones
	}
	if err := d.Room.Close(); err != nil {
		return nil, err
	}
	d.tmp = false // keep the journal: the summary points at it
	sum, err := summarize(ctx, d.Room.Journal.Path(), d.T0, end)
	if sum != nil {
		sum.StatusURL = d.StatusURL
	}
	return sum, err
}

// Keep keeps the journal when the demo closes before its story ended (the
// person quit, or interrupted it): what happened until then is theirs to
// export. It returns the command that exports it.
func (d *Demo) Keep() string {
	d.tmp = false
	return ExportCommand(d.Room.Journal.Path())
}

func executing(st *incident.State) bool {
	for _, r := range st.Runs {
		switch r.State {
		case incident.RunRunning, incident.RunVerifying, incident.RunRollingBack, incident.RunCancelling:
			return true
		}
	}
	return false
}
