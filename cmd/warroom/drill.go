package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/sim/drill"
	"github.com/warroom/warroom/tui"
)

func newDrillCmd() *cobra.Command {
	var o drill.Options
	var injects, transcript string
	var list bool
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Rehearse: the simulator plays an injects file, the people are scored",
		Long: `drill runs the launch simulator from an injects file (which faults, when, on
which service) against the example war room, in a journal of its own under
--dir, with the local Slack: nothing reaches a real service, and every
screen says DRILL. Four injects are built in, from the launch stories:
db-exhaustion, nat-exhaustion, rpc-lag and 504-committed; --injects also
takes a file.

When the drill ends it scores the people from its journal: time to ack the
alert the fault raised, time to request the right playbook, time to approve
it, time to mitigate, and the escalations nobody acked in time; then it
compares each score with the previous drill of the same injects. The score
and a Markdown report are kept beside the drill's journal, which exports
like any postmortem (warroom export --journal).

With a dashboard you are the commander (--as picks someone else) and the
simulated owners request the playbook they think fits; you approve. With
--headless the simulated people ack, request and approve, so the drill
runs to its end by itself and prints each event and the scores.`,
		Example: `  warroom drill --injects db-exhaustion
  warroom drill --injects 504-committed --headless
  warroom drill --injects ./injects/peak-day.yaml --speed 5`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if list {
				for _, n := range drill.Builtin() {
					in, _ := drill.Load(n)
					fmt.Fprintf(out, "%-16s %s (%s)\n", n, in.Title, in.Length)
				}
				return nil
			}
			if injects == "" {
				return usageErr(fmt.Errorf("--injects NAME|FILE is required (built in: %s)", strings.Join(drill.Builtin(), ", ")))
			}
			in, err := drill.Load(injects)
			if err != nil {
				return &exitError{code: exitBadInput, err: err}
			}
			o.Injects = in
			if !cmd.Flags().Changed("speed") && o.Headless {
				o.Speed = 20
			}
			if o.Speed <= 0 || o.Speed > 200 {
				return usageErr(fmt.Errorf("--speed must be in (0, 200], got %g", o.Speed))
			}
			if transcript != "" {
				f, err := os.Create(transcript)
				if err != nil {
					return runtimeErr(err)
				}
				defer f.Close()
				o.SlackTranscript = f
			}
			if !o.Headless {
				if err := needTerminal("run it in a terminal, or use --headless"); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			d, err := drill.Start(ctx, o)
			if err != nil {
				return runtimeErr(err)
			}
			defer d.Close()
			fmt.Fprintf(cmd.ErrOrStderr(), "DRILL %s: %s, T-0 in %s, then %s (journal %s)\n", in.Name, in.Title,
				time.Until(d.T0).Round(time.Second), in.Length, d.Room.Journal.Path())
			var res *drill.Result
			var resErr error
			finish := func() { res, resErr = d.Finish(context.Background()) }
			if !o.Headless {
				_, err := runDashboard(ctx, d.Room.Config, d.Human(), isOpen(d.Room), dashboard{ends: d.StoryEnd(), statusURL: d.StatusURL, finish: func() tui.EndMsg {
					finish()
					if resErr != nil {
						return tui.EndMsg{Title: "The drill has ended", Lines: []string{"It could not be scored: " + resErr.Error()}}
					}
					return tui.EndMsg{Title: "The drill has ended", Lines: res.Lines()}
				}})
				if res != nil {
					for _, l := range res.Lines() {
						fmt.Fprintln(out, l)
					}
				}
				return err
			}
			fctx, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-d.StoryEnd():
				case <-fctx.Done():
				}
				cancel()
			}()
			err = d.Room.Follow(fctx, out)
			cancel()
			if err != nil {
				return runtimeErr(err)
			}
			if ctx.Err() != nil {
				return nil // interrupted: not scored
			}
			if finish(); resErr != nil {
				return runtimeErr(resErr)
			}
			for _, l := range res.Lines() {
				fmt.Fprintln(out, "= "+l)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&injects, "injects", "", "a built-in injects name or an injects file")
	f.BoolVar(&list, "list", false, "list the built-in injects")
	f.BoolVar(&o.Headless, "headless", false, "no dashboard: the simulated people act; print each event, then the scores")
	f.Float64Var(&o.Speed, "speed", 1, "how many times faster than real time (default 20 with --headless)")
	f.StringVar(&o.Dir, "dir", "", "where drills keep their journals and scores (default "+drill.DefaultDir()+")")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same launch")
	f.StringVar(&o.Human, "as", "", "who you play (default: the commander)")
	f.StringVar(&transcript, "slack-transcript", "", "write every message the local Slack receives to this file")
	return cmd
}
