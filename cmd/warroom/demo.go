package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/sim/demo"
	"github.com/warroom/warroom/tui"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	var headless bool
	var dur time.Duration
	var transcript string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a simulated airdrop launch on loopback, everything live",
		Long: `demo starts a launch simulator on loopback (Prometheus, Datadog, two Solana
RPC providers and two Ethereum ones speaking their real protocols, an admin
API the playbooks call, and a local Slack, PagerDuty and Statuspage) and a
war room pointed at it. Panes fill, alerts fire on the right
services, owners acknowledge, mitigations fix the problems, and every event
lands in the timeline. No accounts or set-up are needed.

You are the commander (--as picks someone else). Simulated owners request the
mitigation that fits their alerts and you approve them; the simulated deputy
approves the runs you request yourself. With --autopilot (the default) the
deputy also approves the owners' requests, so the launch runs by itself; with
--autopilot=false they wait for you. With --auto-ack owners also acknowledge
their alerts. Owners who have not acked a minute after their alert fires are paged through a
local PagerDuty and acknowledge from their phones half a minute later; the
signed webhook brings the ack back to the room. The simulator never acts in
your name.

The demo ends with its story (about 11 minutes of scenario time) or after
--for, with a summary and the command that exports the postmortem; the
journal is kept for it.`,
		Example: `  warroom demo
  warroom demo --speed 4 --autopilot=false
  warroom demo --headless --for 60s --speed 20 --auto-ack`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Speed <= 0 || o.Speed > 200 {
				return usageErr(fmt.Errorf("--speed must be in (0, 200], got %g", o.Speed))
			}
			if dur < 0 {
				return usageErr(fmt.Errorf("--for must not be negative, got %s", dur))
			}
			if !headless {
				if err := needTerminal("run it in a terminal, or use --headless"); err != nil {
					return err
				}
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
			// The demo ends with its story, or after --for (wall time).
			ends := make(chan struct{})
			go func() {
				var limit <-chan time.Time
				if dur > 0 {
					t := time.NewTimer(dur)
					defer t.Stop()
					limit = t.C
				}
				select {
				case <-d.StoryEnd():
				case <-limit:
				case <-ctx.Done():
					return
				}
				close(ends)
			}()
			var sum *demo.Summary
			var sumErr error
			finish := func() {
				sum, sumErr = d.Finish(context.Background())
			}
			if !headless {
				_, err := runDashboard(ctx, d.Room.Config, o.Human, isOpen(d.Room), dashboard{ends: ends, quiet: quiet, statusURL: d.StatusURL, finish: func() tui.EndMsg {
					finish()
					if sumErr != nil {
						return tui.EndMsg{Title: "The demo has ended", Lines: []string{"The summary could not be read: " + sumErr.Error()}}
					}
					return tui.EndMsg{Title: "The demo has ended", Lines: sum.Lines()}
				}})
				if sum != nil {
					for _, l := range sum.Lines() {
						fmt.Fprintln(cmd.OutOrStdout(), l)
					}
				} else {
					fmt.Fprintln(cmd.OutOrStdout(), "The demo was stopped before its story ended. Postmortem: "+d.Keep())
				}
				return err
			}
			// Headless: every event as a line until the end, then the summary.
			fctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-ends:
				case <-fctx.Done():
				}
				cancel()
			}()
			err = d.Room.Follow(fctx, cmd.OutOrStdout())
			cancel()
			if err != nil {
				return runtimeErr(err)
			}
			if err := d.Room.Engine.Err(); err != nil {
				return runtimeErr(err)
			}
			if ctx.Err() != nil { // interrupted: no summary, but the journal is kept
				fmt.Fprintln(cmd.OutOrStdout(), "= The demo was stopped before its story ended. Postmortem: "+d.Keep())
				return nil
			}
			if finish(); sumErr != nil {
				return runtimeErr(sumErr)
			}
			for _, l := range sum.Lines() {
				fmt.Fprintln(cmd.OutOrStdout(), "= "+l)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&o.Speed, "speed", 1, "how many times faster than real time the scenario runs")
	f.BoolVar(&headless, "headless", false, "no dashboard: print each event as one line once it is durable, then a summary")
	f.DurationVar(&dur, "for", 0, "end the demo after this long (wall time, e.g. 60s); default: when its story ends")
	f.StringVar(&o.JournalPath, "journal", "", "journal file (default: a temporary file, kept when the demo ends); an existing journal is replayed, then continued")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same launch")
	f.BoolVar(&o.AutoAck, "auto-ack", false, "simulated owners acknowledge their alerts after a short delay")
	f.BoolVar(&o.Autopilot, "autopilot", true, "the simulated deputy also approves the owners' requests (false: you approve them)")
	f.StringVar(&transcript, "slack-transcript", "", "write every message the local Slack receives to this file")
	f.BoolVar(&quiet, "quiet", false, "no bell or desktop notification when something waits for you")
	f.StringVar(&o.Human, "as", "", "who you are in the dashboard (default: the commander); the simulator plays everyone else")
	f.StringVar(&o.StatusAddr, "status", "", "serve the room's public status page on this address (default: a free loopback port, named in the Comms view and the summary)")
	return cmd
}
