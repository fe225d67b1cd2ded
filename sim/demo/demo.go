// Package demo runs `warroom demo`: the launch simulator on loopback and a
// war room pointed at it, built from the embedded airdrop example with the
// production sources, engine and playbooks unchanged. Simulated people
// acknowledge alerts and run the right mitigations so that a newcomer sees
// every part working.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/examples/airdrop"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/sim"
	slacksim "github.com/warroom/warroom/sim/slack"
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
	// SlackTranscript, if set, receives every message the local Slack
	// receives, as it is posted or updated.
	SlackTranscript io.Writer
	Logger          *slog.Logger
}

// Demo is a running simulated launch.
type Demo struct {
	Room   *room.Room
	Sim    *sim.Sim
	Slack  *slacksim.Server
	Clock  clock.Clock
	T0     time.Time
	End    time.Time // scenario end (engine time)
	Dir    string
	cancel context.CancelFunc
	tmp    bool
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
	d.End = d.T0.Add(ScenarioLength)
	d.Clock = clock.NewScaled(start, o.Speed)

	token := randomToken()
	d.Sim, err = sim.Start(ctx, sim.Options{
		Seed: o.Seed, Clock: d.Clock, Start: d.T0, AdminToken: token,
		// RPC latency is measured on the room's clock: sleep the modelled
		// latency divided by the speed so that it reads true.
		LatencyScale: 1 / o.Speed,
	})
	if err != nil {
		return nil, fmt.Errorf("start the simulator: %w", err)
	}
	pointAtSimulator(cfg, d.Sim, d.T0)
	// A local Slack, so the mirror and /warroom commands are live too.
	bot, app := slacksim.NewTokens()
	d.Slack = slacksim.New(slacksim.Options{Clock: d.Clock, BotToken: bot, AppToken: app, Transcript: o.SlackTranscript, MaxMessages: 5000, Seed: o.Seed})
	if err := d.Slack.Start(); err != nil {
		return nil, fmt.Errorf("start the local Slack: %w", err)
	}
	cfg.Slack = &config.Slack{APIURL: d.Slack.APIURL(), Channel: d.Slack.ChannelID(),
		BotToken: config.Secret{Env: "SLACK_BOT_TOKEN"}, AppToken: config.Secret{Env: "SLACK_APP_TOKEN"}}
	// The demo's credentials: the simulator accepts any key, the admin API
	// only this run's token. They live in this process's environment only.
	for k, v := range map[string]string{
		"DD_API_KEY": "demo" + token[:24], "DD_APP_KEY": "demo" + token[:32],
		"SIM_ADMIN_URL": d.Sim.AdminURL, "SIM_ADMIN_TOKEN": token,
		"SLACK_BOT_TOKEN": bot, "SLACK_APP_TOKEN": app,
	} {
		os.Setenv(k, v)
	}
	d.Room, err = room.Open(ctx, room.Options{Config: cfg, JournalPath: jpath, Clock: d.Clock, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	if o.AutoAck || o.Autopilot {
		go d.people(ctx, o.AutoAck, o.Autopilot)
	}
	return d, nil
}

// pointAtSimulator replaces the example's loopback endpoints with the
// simulator's free ports and marks the run as simulated.
func pointAtSimulator(cfg *config.Config, s *sim.Sim, t0 time.Time) {
	for i := range cfg.Sources {
		src := &cfg.Sources[i]
		switch src.Type {
		case config.SourcePrometheus:
			src.URL = s.PromURL
		case config.SourceDatadog:
			src.APIURL, src.Site = s.DatadogURL, ""
		case config.SourceRPC:
			if u, ok := s.RPC[src.ID]; ok {
				src.URL = u
			}
		}
	}
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
	if d.Room != nil {
		err = d.Room.Close()
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

// mitigation is what the simulated room does about an alert on a pane.
type mitigation struct {
	playbook string
	params   map[string]string
}

var mitigations = map[string]mitigation{
	"cloudflare/bots":  {"waf-mode", map[string]string{"mode": "block"}},
	"tokens/db_conns":  {"db-terminate-idle-sessions", map[string]string{}},
	"tokens/throttles": {"lambda-reserved-concurrency", map[string]string{"function": "tokens", "reserved_concurrency": "3000"}},
	"triton/lag":       {"rpc-traffic-split", map[string]string{"triton_percent": "20"}},
	"blowfish/landing": {"priority-fee", map[string]string{"micro_lamports": "300000"}},
}

// Human-ish delays, in scenario time.
const (
	ackDelay      = 40 * time.Second
	mitigateDelay = 25 * time.Second
	approveDelay  = 10 * time.Second
)

// people plays the owners and the commander: owners ack their alerts and
// request the mitigation that fits; the commander approves it.
func (d *Demo) people(ctx context.Context, autoAck, autopilot bool) {
	eng, runner := d.Room.Engine, d.Room.Runner
	started := map[string]bool{}
	for {
		_, sub, err := eng.Subscribe(ctx, 1024)
		if err != nil {
			return
		}
		for u := range sub.C {
			for _, ev := range u.Events {
				if ev.Kind != incident.KindAlert || ev.Alert == nil {
					continue
				}
				a := *ev.Alert
				svc := ev.Service
				if autoAck {
					go d.after(ctx, ackDelay, func() {
						snap := d.snapshot(ctx)
						if snap == nil {
							return
						}
						owner := snap.Roles.Services[svc].Primary
						if owner != "" {
							eng.Do(ctx, incident.Ack{By: owner, AlertID: a.ID})
						}
					})
				}
				m, ok := mitigations[svc+"/"+a.Pane]
				if !autopilot || !ok || started[m.playbook] || (a.Level != incident.LevelCrit && a.Level != incident.LevelWarn) {
					continue
				}
				started[m.playbook] = true
				go d.after(ctx, mitigateDelay, func() { d.mitigate(ctx, runner, m) })
			}
		}
		if !sub.Lagged() {
			return
		}
	}
}

func (d *Demo) mitigate(ctx context.Context, runner *playbooks.Runner, m mitigation) {
	snap := d.snapshot(ctx)
	pb, ok := d.Room.Catalog.Get(m.playbook)
	if snap == nil || !ok {
		return
	}
	owner := snap.Roles.Services[pb.Service].Primary
	if owner == "" {
		owner = snap.Roles.Commander
	}
	h, err := runner.Request(ctx, owner, m.playbook, m.params)
	if err != nil {
		d.note(ctx, fmt.Sprintf("demo: %s could not request %s: %v", owner, m.playbook, err))
		return
	}
	d.after(ctx, approveDelay, func() {
		snap := d.snapshot(ctx)
		if snap == nil {
			return
		}
		// Approval is bound to the exact parameters the requester chose.
		if err := runner.Approve(ctx, snap.Roles.Commander, h.ID, h.Hash); err != nil {
			d.note(ctx, fmt.Sprintf("demo: approval of %s refused: %v", h.ID, err))
		}
	})
}

func (d *Demo) note(ctx context.Context, text string) {
	snap := d.snapshot(ctx)
	if snap != nil {
		d.Room.Engine.Do(ctx, incident.Note{By: snap.Roles.Commander, Text: text})
	}
}

func (d *Demo) snapshot(ctx context.Context) *incident.State {
	s, sub, err := d.Room.Engine.Subscribe(ctx, 1)
	if err != nil {
		return nil
	}
	d.Room.Engine.Unsubscribe(sub)
	return s
}

// after runs fn once d of scenario time has passed, unless ctx ends.
func (d *Demo) after(ctx context.Context, wait time.Duration, fn func()) {
	select {
	case <-d.Clock.After(wait):
		fn()
	case <-ctx.Done():
	}
}
