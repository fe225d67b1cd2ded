package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/textsafe"
)

func newPlaybookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "playbook",
		Short: "List, show, dry-run or run a playbook",
		Long: `playbook works with the scripted mitigations in the war room's playbooks
directory, headless, under the same approval rules as the dashboard.

A run is requested with 'run'. If the playbook needs an approval, the run waits
(up to the approval window) for another person with an approver role to
approve it from another terminal with 'approve', or from the dashboard. The
process that owns the journal serves the other terminals over a socket beside
it (<journal>.sock); nobody can approve their own request. approve, reject,
cancel and resolve find the war room from --journal alone, or in the room's
directory with neither flag.`,
		Example: `  warroom playbook list -c warroom.yaml
  warroom playbook dry-run rpc-traffic-split --param triton_percent=80 -c warroom.yaml
  warroom playbook run rpc-traffic-split --param triton_percent=80 --as tara -c warroom.yaml
  warroom playbook approve R12 --as rosa --journal /path/to/warroom.db
  warroom playbook resolve R12 rollback --as rosa`,
	}
	cmd.AddCommand(pbListCmd(), pbShowCmd(), pbDryRunCmd(), pbRunCmd(),
		pbApproveCmd(), pbDecisionCmd("reject", "Reject a run waiting for approval"),
		pbDecisionCmd("cancel", "Cancel a run (its requester, the commander or the deputy)"), pbResolveCmd())
	return cmd
}

// loadCatalog reads the war-room file and its playbooks; problems in
// either are bad input (exit 1), printed in one pass.
func loadCatalog(cmd *cobra.Command, path string) (*config.Config, *playbooks.Catalog, error) {
	cfg, err := config.Load(path)
	if err == nil {
		var cat *playbooks.Catalog
		if cat, err = playbooks.LoadForConfig(cfg); err == nil {
			return cfg, cat, nil
		}
	}
	var errs *config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintln(cmd.ErrOrStderr(), err)
		fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s)\n", len(errs.List))
		return nil, nil, badInput(err)
	}
	return nil, nil, runtimeErr(err)
}

func parseParams(kv []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range kv {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, usageErr(fmt.Errorf("--param %q: write name=value", p))
		}
		if _, dup := out[k]; dup {
			return nil, usageErr(fmt.Errorf("--param %s given twice", k))
		}
		out[k] = v
	}
	return out, nil
}

// who is the --as handle, defaulting to $USER when it is on the roster.
func who(as string, cfg *config.Config) (string, error) {
	return whoIn(as, cfg.Path, func(h string) bool { return cfg.Person(h) != nil })
}

// whoIn is who for a roster known only by its handles.
func whoIn(as, where string, onRoster func(string) bool) (string, error) {
	if as == "" {
		if u := os.Getenv("USER"); u != "" && onRoster(u) {
			return u, nil
		}
		return "", usageErr(errors.New("say who you are with --as HANDLE (a roster handle)"))
	}
	if !onRoster(as) {
		return "", usageErr(fmt.Errorf("%q is not on the roster of %s", as, where))
	}
	return as, nil
}

// dialAs resolves who the person is and dials the control socket of the
// process that owns the journal; why explains a missing socket. Without
// -c the serving process says which war room it runs.
func dialAs(cmd *cobra.Command, cfgPath, as, journalPath, why string) (string, *playbooks.ControlClient, error) {
	if cfgPath != "" {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			_, _, err = loadCatalog(cmd, cfgPath)
			return "", nil, err
		}
		if _, err := who(as, cfg); err != nil {
			return "", nil, err
		}
	}
	cl, err := playbooks.DialControl(journalPath)
	if err != nil {
		return "", nil, runtimeErr(fmt.Errorf("%v: %s", err, why))
	}
	rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "room"}, nil)
	if err != nil {
		return "", nil, runtimeErr(err)
	}
	if rep.Room == nil {
		return "", nil, runtimeErr(fmt.Errorf("the process serving %s did not say which war room it runs: %s", journalPath, rep.Error))
	}
	by, err := whoIn(as, rep.Room.Config, func(h string) bool { return slices.Contains(rep.Room.People, h) })
	if err != nil {
		return "", nil, err
	}
	return by, cl, nil
}

// roomConfig finds the war-room file for a command given only --journal
// (or run in the room's directory): -c if given, else the file of the
// process serving the journal, else warroom.yaml beside the journal.
func roomConfig(cmd *cobra.Command, cfgPath, journalPath string) (string, error) {
	if cfgPath != "" {
		return cfgPath, nil
	}
	if cl, err := playbooks.DialControl(journalPath); err == nil {
		if rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "room"}, nil); err == nil && rep.Room != nil {
			return rep.Room.Config, nil
		}
	}
	beside := filepath.Join(filepath.Dir(journalPath), "warroom.yaml")
	if _, err := os.Stat(beside); err == nil {
		return beside, nil
	}
	return "", usageErr(fmt.Errorf("no warroom process serves %s and there is no warroom.yaml beside it: give the war-room file with -c", journalPath))
}

// findPlaybook looks a playbook up by id; an unknown one is bad input.
func findPlaybook(cmd *cobra.Command, cat *playbooks.Catalog, id string) (*playbooks.Playbook, error) {
	pb, ok := cat.Get(id)
	if !ok {
		return nil, playbookErr(cmd, &playbooks.ParamError{Playbook: id, Problems: []string{"no such playbook"}})
	}
	return pb, nil
}

// playbookErr maps a runner error to the exit codes.
func playbookErr(cmd *cobra.Command, err error) error {
	var pe *playbooks.ParamError
	var ref *roles.Refusal
	switch {
	case errors.As(err, &pe):
		fmt.Fprintln(cmd.ErrOrStderr(), pe.Error())
		return badInput(err)
	case errors.As(err, &ref):
		fmt.Fprintln(cmd.ErrOrStderr(), "refused: "+ref.Reason)
		return &exitError{code: exitRuntime, err: err, quiet: true}
	}
	return runtimeErr(err)
}

func pbListCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the playbooks",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, cat, err := loadCatalog(cmd, cfgPath)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSERVICE\tRISK\tAPPROVAL\tLOCK\tTITLE")
			for _, pb := range cat.Playbooks() {
				appr := "none"
				if pb.Approval != nil {
					var rs []string
					for _, r := range pb.Approval.Approvers {
						rs = append(rs, string(r))
					}
					appr = strings.Join(rs, "|")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", pb.ID, pb.Service, pb.Risk, appr, pb.Lock.Name, pb.Title)
			}
			return w.Flush()
		},
	}
	configFlag(c, &cfgPath)
	return c
}

func pbShowCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a playbook's parameters and steps",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			_, cat, err := loadCatalog(cmd, cfgPath)
			if err != nil {
				return err
			}
			pb, err := findPlaybook(cmd, cat, a[0])
			if err != nil {
				return err
			}
			showPlaybook(cmd.OutOrStdout(), pb)
			return nil
		},
	}
	configFlag(c, &cfgPath)
	return c
}

func showPlaybook(w io.Writer, pb *playbooks.Playbook) {
	fmt.Fprintf(w, "%s: %s\n", pb.ID, pb.Title)
	fmt.Fprintf(w, "service %s, risk %s, run by %s", pb.Service, pb.Risk, runRoleText(pb.RunRole))
	if pb.Approval != nil {
		var rs []string
		for _, r := range pb.Approval.Approvers {
			rs = append(rs, string(r))
		}
		fmt.Fprintf(w, ", approved by the %s within %s (never by the requester)", strings.Join(rs, " or "), pb.Approval.Expires)
	} else {
		fmt.Fprint(w, ", no approval")
	}
	fmt.Fprintf(w, "\nlock %s, lease %s\nfile %s\n\n", pb.Lock.Name, pb.Lock.Timeout, pb.File)
	fmt.Fprintln(w, strings.TrimSpace(pb.Description))
	if len(pb.Params) > 0 {
		fmt.Fprintln(w, "\nparameters:")
		for _, p := range pb.Params {
			def := "required"
			if p.Default != nil {
				def = "default " + *p.Default
			}
			fmt.Fprintf(w, "  %s (%s; %s): %s\n", p.Name, p.Describe(), def, p.Description)
		}
	}
	for _, sec := range []struct {
		name  string
		steps []*playbooks.Step
	}{{"steps", pb.Steps}, {"verify", pb.Verify}, {"rollback", pb.Rollback}} {
		if len(sec.steps) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", sec.name)
		for i, s := range sec.steps {
			what := string(s.Kind)
			switch {
			case s.HTTP != nil:
				what = "http " + s.HTTP.Method
			case s.Exec != nil:
				what = "exec " + strings.Join(s.Exec.Argv, " ")
			}
			extra := fmt.Sprintf(" (timeout %s", s.Timeout)
			if s.ReadOnly {
				extra += ", read-only"
			}
			extra += ")"
			if s.Wait != nil {
				what, extra = fmt.Sprintf("wait until %s holds for %s (timeout %s)", s.Wait.Condition, s.Wait.For, s.Wait.Timeout), ""
			}
			name := s.Name
			if name != "" {
				name = " — " + name
			}
			fmt.Fprintf(w, "  %d. %s: %s%s%s\n", i+1, s.ID, what, extra, name)
		}
	}
	fmt.Fprintf(w, "\non failure: %s; on verify failure: %s\n", pb.OnFailure, pb.OnVerifyFailure)
}

func runRoleText(r roles.Role) string {
	switch r {
	case roles.Commander:
		return "the commander"
	case roles.Deputy:
		return "the commander or deputy"
	}
	return "its service's owners, the commander or the deputy"
}

func pbDryRunCmd() *cobra.Command {
	var cfgPath string
	var params []string
	c := &cobra.Command{
		Use:   "dry-run NAME",
		Short: "Show the exact requests a run would make, sending nothing that changes anything",
		Long: `dry-run runs only the read-only steps (GET requests and exec steps marked
read_only) and shows every other request exactly as it would be sent, with the
captured values it would change (old → new). A request that is not GET or HEAD
is refused by the transport itself, and no other process is started.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			raw, err := parseParams(params)
			if err != nil {
				return err
			}
			_, cat, err := loadCatalog(cmd, cfgPath)
			if err != nil {
				return err
			}
			pb, err := findPlaybook(cmd, cat, a[0])
			if err != nil {
				return err
			}
			plan, err := playbooks.DryRun(cmd.Context(), pb, raw, playbooks.DryRunOptions{})
			if err != nil {
				return playbookErr(cmd, err)
			}
			fmt.Fprint(cmd.OutOrStdout(), textsafe.Text(plan.Text()))
			for _, s := range plan.Steps {
				if s.Error != "" {
					return &exitError{code: exitRuntime, err: errors.New("a step of the dry run failed"), quiet: true}
				}
			}
			return nil
		},
	}
	configFlag(c, &cfgPath)
	c.Flags().StringArrayVar(&params, "param", nil, "parameter as k=v (repeatable)")
	return c
}

// localRoom is a whole war room (sources, mirror, runner) on a journal
// this process owns, printing each new event as headless modes do.
type localRoom struct {
	room *room.Room
	r    *playbooks.Runner
	out  io.Writer
	mu   sync.Mutex
	stop func()
}

// openRoom opens the journal for writing. ok is false when another
// process owns it (then use its control socket).
func openRoom(cmd *cobra.Command, cfg *config.Config, _ *playbooks.Catalog, path string) (*localRoom, bool, error) {
	if _, err := playbooks.DialControl(path); err == nil {
		return nil, false, nil
	}
	rm := &localRoom{out: cmd.OutOrStdout()}
	rr, err := room.Open(context.Background(), room.Options{
		Config: cfg, JournalPath: path,
		Output: func(l playbooks.OutputLine) { rm.println(outputLine(l)) },
		Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		if errors.Is(err, journal.ErrInUse) {
			return nil, false, nil
		}
		return nil, false, runtimeErr(err)
	}
	rm.room, rm.r = rr, rr.Lead().Runner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		rr.FollowAfter(ctx, lineWriter{rm}, rr.Journal.LastSeq())
	}()
	rm.stop = func() { cancel(); <-done }
	return rm, true, nil
}

// lineWriter sends Follow's lines through println's lock.
type lineWriter struct{ rm *localRoom }

func (w lineWriter) Write(b []byte) (int, error) {
	w.rm.println(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

func (rm *localRoom) println(s string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	fmt.Fprintln(rm.out, s)
}

func (rm *localRoom) close() {
	rm.stop()
	rm.room.Close()
}

// finish maps a run's final state to an exit code.
func finish(cmd *cobra.Command, run *playbooks.RunSummary) error {
	if run == nil {
		return runtimeErr(errors.New("the run's outcome is unknown"))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %s\n", run.ID, run.Playbook, run.State.Words())
	switch run.State {
	case incident.RunSucceeded:
		return nil
	case incident.RunAwaitingDecision, incident.RunInterrupted:
		fmt.Fprintf(cmd.ErrOrStderr(), "the commander decides: warroom playbook resolve %s verify|rollback|abandon --as <commander>\n", run.ID)
	}
	return &exitError{code: exitRuntime, err: fmt.Errorf("%s ended %s", run.ID, run.State), quiet: true}
}

func pbRunCmd() *cobra.Command {
	var cfgPath, as, journalPath string
	var params []string
	c := &cobra.Command{
		Use:   "run NAME",
		Short: "Run a playbook (approval rules apply)",
		Long: `run first shows the run's dry run (the read-only requests only, and what the
run would change, old → new, as the dashboard shows it), then requests a run as
--as, waits for its approval if the playbook needs one
(another person with an approver role approves it with 'warroom playbook
approve' from another terminal, or from the dashboard), then executes it,
printing each committed event and each line of step output. Interrupting it
(Ctrl-C) cancels the run: a step in progress is stopped and, if something may
have changed, the rollback runs.

If another warroom process owns the journal (run, serve or demo), the request
goes through that process. Exit codes: 0 succeeded, 1 bad parameters or files,
2 usage, 3 refused or did not succeed.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			raw, err := parseParams(params)
			if err != nil {
				return err
			}
			cfg, cat, err := loadCatalog(cmd, cfgPath)
			if err != nil {
				return err
			}
			by, err := who(as, cfg)
			if err != nil {
				return err
			}
			pb, err := findPlaybook(cmd, cat, a[0])
			if err != nil {
				return err
			}
			if _, err := pb.ValidateParams(raw); err != nil {
				return playbookErr(cmd, err)
			}
			if journalPath, err = journalWhere(cmd, journalPath, cfg); err != nil {
				return err
			}
			rm, own, err := openRoom(cmd, cfg, cat, journalPath)
			if err != nil {
				return err
			}
			if !own {
				return runRemote(cmd, cfgPath, journalPath, playbooks.ControlRequest{Op: "run", By: by, Playbook: pb.ID, Params: raw}, by)
			}
			defer rm.close()
			h, err := rm.r.RequestShown(context.Background(), by, pb.ID, raw, func(p *playbooks.Plan) { rm.println(textsafe.Text(p.Text())) })
			if err != nil {
				return playbookErr(cmd, err)
			}
			if pb.Approval != nil {
				var rs []string
				for _, r := range pb.Approval.Approvers {
					rs = append(rs, string(r))
				}
				rm.println(fmt.Sprintf("%s waits for approval by the %s (parameters %s, expires in %s). From another terminal:\n  warroom playbook approve %s --as <%s> -c %s --journal %s",
					h.ID, strings.Join(rs, " or "), h.Hash[:12], pb.Approval.Expires, h.ID, strings.Join(rs, "|"), cfgPath, journalPath))
			}
			select {
			case <-h.Done():
			case <-cmd.Context().Done():
				fmt.Fprintf(cmd.ErrOrStderr(), "warroom: interrupted: cancelling %s\n", h.ID)
				if err := rm.r.Cancel(context.Background(), by, h.ID, "interrupted from the terminal"); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "warroom: "+err.Error())
				}
				select {
				case <-h.Done():
				case <-time.After(30 * time.Second):
				}
			}
			if _, err := rm.r.Wait(context.Background(), h.ID); err != nil {
				return runtimeErr(err)
			}
			sum, err := rm.r.RunSummary(context.Background(), h.ID)
			if err != nil {
				return runtimeErr(err)
			}
			return finish(cmd, sum)
		},
	}
	configFlag(c, &cfgPath)
	c.Flags().StringArrayVar(&params, "param", nil, "parameter as k=v (repeatable)")
	c.Flags().StringVar(&as, "as", "", "your roster handle (default: $USER if on the roster)")
	c.Flags().StringVar(&journalPath, "journal", "warroom.db", "journal file")
	return c
}

// runRemote streams a run or resolve through the process that owns the
// journal.
func runRemote(cmd *cobra.Command, cfgPath, journalPath string, req playbooks.ControlRequest, by string) error {
	cl, err := playbooks.DialControl(journalPath)
	if err != nil {
		return runtimeErr(fmt.Errorf("journal %s is in use by another warroom process that does not serve playbook requests: run it from that war room", journalPath))
	}
	out := cmd.OutOrStdout()
	var runID string
	last, err := cl.Do(cmd.Context(), req, func(rep playbooks.ControlReply) {
		if rep.Run != nil {
			runID = rep.Run.ID
		}
		switch {
		case rep.DryRun != "":
			fmt.Fprint(out, textsafe.Text(rep.DryRun)+"\n")
		case rep.Event != "":
			fmt.Fprintln(out, textsafe.Line(rep.Event))
		case rep.Output != nil:
			fmt.Fprintln(out, outputLine(*rep.Output))
		case rep.Waiting != nil:
			fmt.Fprintf(out, "%s waits for approval by the %s (parameters %s, expires %s). From another terminal:\n  warroom playbook approve %s --as <%s> -c %s --journal %s\n",
				rep.Waiting.Run, strings.Join(rep.Waiting.Approvers, " or "), rep.Waiting.Hash[:12], rep.Waiting.Expires.Format(time.RFC3339),
				rep.Waiting.Run, strings.Join(rep.Waiting.Approvers, "|"), cfgPath, journalPath)
		}
	})
	if err != nil {
		if cmd.Context().Err() == nil || req.Op != "run" || runID == "" {
			return runtimeErr(err)
		}
		// Interrupted: the owning process goes on; cancel the run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, cerr := cl.Do(ctx, playbooks.ControlRequest{Op: "cancel", By: by, Run: runID, Reason: "interrupted from the terminal"}, nil)
		switch {
		case cerr != nil:
			return runtimeErr(fmt.Errorf("interrupted; %s may still be running: cancel it from the dashboard or with warroom playbook cancel %s: %w", runID, runID, cerr))
		case rep.Error != "":
			fmt.Fprintf(cmd.ErrOrStderr(), "interrupted; %s was not cancelled: %s\n", runID, rep.Error)
		default:
			fmt.Fprintf(cmd.ErrOrStderr(), "interrupted: %s cancelled (a step in progress is stopped; the rollback runs if something may have changed)\n", runID)
		}
		return &exitError{code: exitRuntime, err: context.Canceled, quiet: true}
	}
	if last.Error != "" {
		return remoteErr(cmd, last)
	}
	if req.Op == "resolve" {
		return finishResolve(cmd, incident.ResolveChoice(req.Choice), last.Run)
	}
	return finish(cmd, last.Run)
}

func remoteErr(cmd *cobra.Command, rep playbooks.ControlReply) error {
	switch {
	case rep.BadArgs:
		fmt.Fprintln(cmd.ErrOrStderr(), rep.Error)
		return badInput(errors.New(rep.Error))
	case rep.Refused:
		fmt.Fprintln(cmd.ErrOrStderr(), "refused: "+rep.Error)
		return &exitError{code: exitRuntime, err: errors.New(rep.Error), quiet: true}
	}
	return runtimeErr(errors.New(rep.Error))
}

func pbApproveCmd() *cobra.Command {
	var cfgPath, as, journalPath, hash string
	c := &cobra.Command{
		Use:   "approve RUN",
		Short: "Approve a run waiting for approval (not your own)",
		Long: `approve shows the run's playbook and exact parameters, then approves that
parameter hash. --hash makes sure it is the run you were told about (the
requester's terminal prints the first characters). The requester can never
approve their own run, whatever --as says; the approver needs an approver role
(commander or deputy, as the playbook says).`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			by, cl, err := dialAs(cmd, cfgPath, as, journalPath, "nothing is waiting for approval there (is the run's process still running, with the same --journal?)")
			if err != nil {
				return err
			}
			show, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "show", Run: a[0]}, nil)
			if err != nil {
				return runtimeErr(err)
			}
			if show.Error != "" {
				return remoteErr(cmd, show)
			}
			s := show.Run
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s %s (%s), requested by %s, %s\n", s.ID, s.Playbook, s.Title, s.Requester, s.State.Words())
			keys := make([]string, 0, len(s.Params))
			for k := range s.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "  %s = %s\n", k, s.Params[k])
			}
			fmt.Fprintf(out, "  parameters hash %s\n", s.Hash[:12])
			if p := s.Plan; p != nil {
				fmt.Fprintf(out, "risk %s; the requester's dry run at %s:\n", p.Risk, p.At.Format(time.RFC3339))
				for _, c := range p.Changes {
					line := fmt.Sprintf("  %s: %s → %s", c.Field, c.Old, c.New)
					if c.NoOp() {
						line += " (no change)"
					}
					fmt.Fprintln(out, textsafe.Line(line))
				}
				if p.Error != "" {
					fmt.Fprintln(out, textsafe.Line("  dry run error: "+p.Error))
				}
			}
			if hash != "" && !strings.HasPrefix(s.Hash, hash) {
				fmt.Fprintf(cmd.ErrOrStderr(), "the run's parameters hash is %s, not %s: not approving\n", s.Hash[:12], hash)
				return badInput(errors.New("hash mismatch"))
			}
			rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: "approve", By: by, Run: s.ID, Hash: s.Hash}, nil)
			if err != nil {
				return runtimeErr(err)
			}
			if rep.Error != "" {
				return remoteErr(cmd, rep)
			}
			fmt.Fprintf(out, "%s approved %s\n", by, s.ID)
			return nil
		},
	}
	roomFlags(c, &cfgPath, &as, &journalPath)
	c.Flags().StringVar(&hash, "hash", "", "expected parameters hash (prefix), as the requester's terminal shows it")
	return c
}

func pbDecisionCmd(op, short string) *cobra.Command {
	var cfgPath, as, journalPath, reason string
	c := &cobra.Command{
		Use:   op + " RUN",
		Short: short,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			by, cl, err := dialAs(cmd, cfgPath, as, journalPath, "no process is executing runs on this journal (an interrupted run is settled with 'warroom playbook resolve')")
			if err != nil {
				return err
			}
			rep, err := cl.Do(cmd.Context(), playbooks.ControlRequest{Op: op, By: by, Run: a[0], Reason: reason}, nil)
			if err != nil {
				return runtimeErr(err)
			}
			if rep.Error != "" {
				return remoteErr(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", by, op, a[0])
			return nil
		},
	}
	roomFlags(c, &cfgPath, &as, &journalPath)
	c.Flags().StringVar(&reason, "reason", "", "why, for the timeline")
	return c
}

// roomFlags are the flags of the commands that act on a running room's
// runs: -c is optional, the room is found from its journal.
func roomFlags(c *cobra.Command, cfgPath, as, journalPath *string) {
	c.Flags().StringVarP(cfgPath, "config", "c", "", "the war-room file (default: the one the process serving --journal runs, or warroom.yaml beside it)")
	c.Flags().StringVar(as, "as", "", "your roster handle (default: $USER if on the roster)")
	c.Flags().StringVar(journalPath, "journal", "warroom.db", "journal file of the war room the run is in")
}

func pbResolveCmd() *cobra.Command {
	var cfgPath, as, journalPath, reason string
	c := &cobra.Command{
		Use:   "resolve RUN verify|rollback|abandon",
		Short: "Decide what happens to an interrupted run (the commander)",
		Long: `resolve settles a run that was interrupted (warroom stopped while it was
applying: outcome unknown) or that failed its verification with
on_verify_failure: ask. verify runs its verify steps again; rollback runs its
rollback steps with the values it captured before the change; abandon releases
its lock and does nothing more. Only the commander decides.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			choice := incident.ResolveChoice(a[1])
			switch choice {
			case incident.ResolveVerify, incident.ResolveRollback, incident.ResolveAbandon:
			default:
				return usageErr(fmt.Errorf("choose verify, rollback or abandon, not %q", a[1]))
			}
			cfgPath, err := roomConfig(cmd, cfgPath, journalPath)
			if err != nil {
				return err
			}
			cfg, cat, err := loadCatalog(cmd, cfgPath)
			if err != nil {
				return err
			}
			by, err := who(as, cfg)
			if err != nil {
				return err
			}
			req := playbooks.ControlRequest{Op: "resolve", By: by, Run: a[0], Choice: string(choice), Reason: reason}
			if journalPath, err = journalWhere(cmd, journalPath, cfg); err != nil {
				return err
			}
			rm, own, err := openRoom(cmd, cfg, cat, journalPath)
			if err != nil {
				return err
			}
			if !own {
				return runRemote(cmd, cfgPath, journalPath, req, by)
			}
			defer rm.close()
			h, err := rm.r.Resolve(context.Background(), by, a[0], choice, reason)
			if err != nil {
				return playbookErr(cmd, err)
			}
			<-h.Done()
			sum, err := rm.r.RunSummary(context.Background(), a[0])
			if err != nil {
				return runtimeErr(err)
			}
			return finishResolve(cmd, choice, sum)
		},
	}
	roomFlags(c, &cfgPath, &as, &journalPath)
	c.Flags().StringVar(&reason, "reason", "", "why, for the timeline")
	return c
}

// outputLine prints a line of a step's output; the process that wrote it
// is not trusted with the terminal.
func outputLine(l playbooks.OutputLine) string {
	return fmt.Sprintf("    %s %s | %s", l.RunID, l.Step, textsafe.Line(l.Line))
}

// resolvedAs is the state a resolve choice ends in when it works.
var resolvedAs = map[incident.ResolveChoice]incident.RunState{
	incident.ResolveVerify:   incident.RunSucceeded,
	incident.ResolveRollback: incident.RunRolledBack,
	incident.ResolveAbandon:  incident.RunAbandoned,
}

// finishResolve exits 0 when the run ended as the choice asked (a
// rollback that rolled back succeeded), else as finish does.
func finishResolve(cmd *cobra.Command, choice incident.ResolveChoice, run *playbooks.RunSummary) error {
	if run != nil && run.State == resolvedAs[choice] {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %s\n", run.ID, run.Playbook, run.State.Words())
		return nil
	}
	return finish(cmd, run)
}
