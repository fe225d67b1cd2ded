package main

import (
	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	var speed float64
	var headless, autoAck bool
	var dur string
	var journalPath string
	var seed uint64
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a simulated airdrop launch on loopback, everything live",
		Long: `demo starts a launch simulator on loopback (Prometheus, Datadog and two Solana
RPC providers speaking their real protocols, plus an admin API the playbooks
call) and a war room pointed at it. Panes fill, alerts fire on the right
services, owners acknowledge, mitigations fix the problems, and every event
lands in the timeline. No accounts or set-up are needed.`,
		Example: `  warroom demo
  warroom demo --speed 4
  warroom demo --headless --for 60s --speed 20`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return notYet("warroom demo") },
	}
	f := cmd.Flags()
	f.Float64Var(&speed, "speed", 1, "how many times faster than real time the scenario runs")
	f.BoolVar(&headless, "headless", false, "no TUI: print each event as one line once it is durable")
	f.StringVar(&dur, "for", "", "stop after this long (e.g. 60s); default: the whole scenario")
	f.StringVar(&journalPath, "journal", "", "journal file (default: a temporary file); an existing journal is replayed, then continued")
	f.Uint64Var(&seed, "seed", 1, "random seed: the same seed gives the same launch")
	f.BoolVar(&autoAck, "auto-ack", false, "simulated owners acknowledge their alerts after a short delay")
	return cmd
}
