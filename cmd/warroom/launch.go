package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/textsafe"
)

func newLaunchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "launch",
		Short: "Launch evidence and the go/no-go decision, from another terminal or a CI job",
		Long: `launch gives a running war room its launch evidence and decision without its
dashboard: a CI job imports a k6 or vegeta result, a person signs off, the
commander decides. The request goes to the process that owns the journal
(run, serve or demo) through its control socket, as the person --as names
(default $USER when on the roster), with that person's permissions, exactly
as if they had pressed the key in the dashboard.

Each prints "accepted #SEQ" and the committed events, or "refused: REASON".
Exit codes: 0 accepted, 1 bad input (an unreadable or unknown result file),
2 usage, 3 refused or no room to reach. An imported result that fails its
thresholds is accepted (its criterion turns red, and the line says so).`,
		Example: `  warroom launch status --journal /srv/warroom/warroom.db
  warroom launch import summary.json --criterion load-test --as ci
  warroom launch signoff nat-sign-off --as ada --note "8 IPs attached"
  warroom launch decide hold --t0 +30m --as rosa
  warroom launch decide go --override "tokens p95 is red on a canary" --as rosa`,
	}
	cmd.AddCommand(launchStatusCmd(), launchImportCmd(), launchSignOffCmd(), launchDecideCmd())
	return cmd
}

// launchFlags are the flags every launch subcommand takes: the room is
// found as playbook approve finds it.
type launchFlags struct{ cfgPath, as, journalPath string }

func (f *launchFlags) add(c *cobra.Command) {
	roomFlags(c, &f.cfgPath, &f.as, &f.journalPath)
	c.Flags().Lookup("journal").Usage = "journal file of the war room (its process serves <journal>.sock)"
}

const noLaunchRoom = "no war room runs on this journal (start it with warroom run, serve or demo, or name a running room's journal with --journal; a stopped room's record: warroom export --readiness --journal PATH)"

func launchStatusCmd() *cobra.Command {
	var f launchFlags
	c := &cobra.Command{
		Use:   "status",
		Short: "Print the launch board: T-0, the next checkpoint, each criterion and its evidence, the decision",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := playbooks.DialControl(f.journalPath)
			if err != nil {
				return runtimeErr(fmt.Errorf("%v: %s", err, noLaunchRoom))
			}
			rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "launch"}, nil)
			if err != nil {
				return runtimeErr(err)
			}
			if rep.Error != "" {
				return remoteErr(cmd, rep)
			}
			for _, l := range rep.Lines {
				fmt.Fprintln(cmd.OutOrStdout(), textsafe.Line(l))
			}
			return nil
		},
	}
	f.add(c)
	return c
}

func launchImportCmd() *cobra.Command {
	var f launchFlags
	var criterion string
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a k6 (--summary-export) or vegeta (report -type=json) result as a load-test criterion's evidence",
		Long: `import reads a load-test result here (k6's --summary-export JSON or
handleSummary data, vegeta's 'report -type=json') and sends its numbers to
the room, which checks them against the criterion's thresholds and records
the evidence, green or red. --criterion may be left out when the plan has one
load-test criterion. The file never leaves this machine; only its name and
numbers do.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			res, err := launch.ReadResult(a[0])
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warroom: "+textsafe.Line(err.Error()))
				return badInput(err)
			}
			return launchDo(cmd, f, func(by string) incident.Command {
				return incident.SubmitEvidence{By: by, Criterion: criterion, Tool: res.Tool, File: res.File, Metrics: res.Metrics}
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&criterion, "criterion", "", "the load-test criterion's id (default: the plan's only one)")
	return c
}

func launchSignOffCmd() *cobra.Command {
	var f launchFlags
	var note string
	var withdraw bool
	c := &cobra.Command{
		Use:   "signoff [CRITERION]",
		Short: "Sign off a criterion the file names you for (or withdraw it)",
		Long: `signoff records your sign-off: the evidence of a sign_off criterion that
names you. Without CRITERION it is the one criterion that names you.
--withdraw takes it back (the criterion turns red).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id := ""
			if len(a) == 1 {
				id = a[0]
			}
			return launchDo(cmd, f, func(by string) incident.Command {
				return incident.SignOff{By: by, Criterion: id, Withdraw: withdraw, Note: note}
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&note, "note", "", "a note for the record")
	c.Flags().BoolVar(&withdraw, "withdraw", false, "withdraw your sign-off")
	return c
}

func launchDecideCmd() *cobra.Command {
	var f launchFlags
	var t0, override string
	c := &cobra.Command{
		Use:   "decide go|hold|abort",
		Short: "Record the launch decision (the commander)",
		Long: `decide records the commander's decision: go, hold with a new T-0 (--t0 +30m,
10:30 in the room's time zone, or an RFC 3339 time), or abort. Going or
aborting while any criterion is not green needs --override with the reason,
which is recorded; a hold never does.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			d := strings.ToLower(a[0])
			switch {
			case d != incident.DecisionGo && d != incident.DecisionHold && d != incident.DecisionAbort:
				return usageErr(fmt.Errorf("decide go, hold or abort, not %q", a[0]))
			case d == incident.DecisionHold && t0 == "":
				return usageErr(errors.New("a hold needs the new T-0: --t0 +30m, 10:30 or an RFC 3339 time"))
			case d != incident.DecisionHold && t0 != "":
				return usageErr(errors.New("--t0 goes with hold"))
			}
			var at time.Time
			if t0 != "" {
				// +30m and 10:30 are read on the room's clock and in its
				// zone (a demo's clock runs fast).
				now, loc, err := roomTime(cmd, f.journalPath)
				if err != nil {
					return err
				}
				if at, err = incident.ParseT0(t0, now, loc); err != nil {
					return usageErr(fmt.Errorf("--t0 %w", err))
				}
			}
			return launchDo(cmd, f, func(by string) incident.Command {
				return incident.Decide{By: by, Decision: d, T0: at, Override: override}
			})
		},
	}
	f.add(c)
	c.Flags().StringVar(&t0, "t0", "", "hold: the new T-0 (+30m, 10:30 or RFC 3339)")
	c.Flags().StringVar(&override, "override", "", "the reason for going or aborting with criteria not green")
	return c
}

// roomTime asks the room for its clock and time zone.
func roomTime(cmd *cobra.Command, journalPath string) (time.Time, *time.Location, error) {
	cl, err := playbooks.DialControl(journalPath)
	if err != nil {
		return time.Time{}, nil, runtimeErr(fmt.Errorf("%v: %s", err, noLaunchRoom))
	}
	rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "launch"}, nil)
	if err != nil {
		return time.Time{}, nil, runtimeErr(err)
	}
	if rep.Error != "" {
		return time.Time{}, nil, remoteErr(cmd, rep)
	}
	loc, err := time.LoadLocation(rep.Zone)
	if err != nil {
		loc = time.UTC
	}
	return rep.Now, loc, nil
}

// launchDo sends one engine command to the room as the person --as
// names and prints its answer.
func launchDo(cmd *cobra.Command, f launchFlags, build func(by string) incident.Command) error {
	by, cl, err := dialAs(cmd, f.cfgPath, f.as, f.journalPath, noLaunchRoom)
	if err != nil {
		return err
	}
	b, err := incident.EncodeCommand(build(by))
	if err != nil {
		return runtimeErr(err)
	}
	rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "do", By: by, Cmd: b}, nil)
	if err != nil {
		return runtimeErr(err)
	}
	if rep.Error != "" {
		return remoteErr(cmd, rep)
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "accepted #%d\n", rep.Seq)
	for _, l := range rep.Lines {
		fmt.Fprintln(out, textsafe.Line(l))
	}
	return nil
}
