package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/sim/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	var headless bool
	var dur time.Duration
	var as, transcript string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a simulated airdrop launch on loopback, everything live",
		Long: `demo starts a launch simulator on loopback (Prometheus, Datadog and two Solana
RPC providers speaking their real protocols, plus an admin API the playbooks
call) and a war room pointed at it. Panes fill, alerts fire on the right
services, owners acknowledge, mitigations fix the problems, and every event
lands in the timeline. No accounts or set-up are needed.

Simulated owners run the fitting mitigation and the simulated commander
approves it (--autopilot=false leaves that to you); with --auto-ack they also
acknowledge their alerts.`,
		Example: `  warroom demo
  warroom demo --speed 4
  warroom demo --headless --for 60s --speed 20 --auto-ack`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Speed <= 0 || o.Speed > 200 {
				return usageErr(fmt.Errorf("--speed must be in (0, 200], got %g", o.Speed))
			}
			ctx := cmd.Context()
			if transcript != "" {
				f, err := os.Create(transcript)
				if err != nil {
					return runtimeErr(err)
				}
				defer f.Close()
				o.SlackTranscript = f
			}
			d, err := demo.Start(ctx, o)
			if err != nil {
				return runtimeErr(err)
			}
			defer d.Close()
			if !headless {
				return runDashboard(ctx, d.Room, as)
			}
			// Headless: stop after --for (wall time) or at the scenario's end.
			if dur <= 0 {
				dur = time.Duration(float64(d.End.Sub(d.Clock.Now())) / o.Speed)
			}
			ctx, cancel := context.WithTimeout(ctx, dur)
			defer cancel()
			if err := d.Room.Follow(ctx, cmd.OutOrStdout()); err != nil {
				return runtimeErr(err)
			}
			if err := d.Room.Engine.Err(); err != nil {
				return runtimeErr(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Speed, "speed", 1, "how many times faster than real time the scenario runs")
	f.BoolVar(&headless, "headless", false, "no dashboard: print each event as one line once it is durable")
	f.DurationVar(&dur, "for", 0, "stop after this long (wall time, e.g. 60s); default: the whole scenario")
	f.StringVar(&o.JournalPath, "journal", "", "journal file (default: a temporary file); an existing journal is replayed, then continued")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same launch")
	f.BoolVar(&o.AutoAck, "auto-ack", false, "simulated owners acknowledge their alerts after a short delay")
	f.BoolVar(&o.Autopilot, "autopilot", true, "simulated owners request the fitting mitigation and the commander approves it")
	f.StringVar(&transcript, "slack-transcript", "", "write every message the local Slack receives to this file")
	f.StringVar(&as, "as", "", "who you are in the dashboard (default: the commander)")
	return cmd
}
