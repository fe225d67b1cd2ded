// Command warroom is a terminal war room for launch days and incidents.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"
)

// Exit codes are part of the command-line contract.
const (
	exitOK       = 0
	exitBadInput = 1 // the input (config, playbook, parameters) is invalid
	exitUsage    = 2 // the command line is wrong
	exitRuntime  = 3 // something failed while running
)

// exitError carries an exit code. A quiet one has already been reported.
type exitError struct {
	code  int
	err   error
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(err error) error   { return &exitError{code: exitUsage, err: err} }
func runtimeErr(err error) error { return &exitError{code: exitRuntime, err: err} }

// badInput reports that the input was invalid and already printed.
func badInput(err error) error { return &exitError{code: exitBadInput, err: err, quiet: true} }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	// Cobra checks the command, its flags and arguments before the
	// persistent pre-run, and required flags just before the run: checked
	// here too, any error from before this point is a usage error.
	started := false
	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, a []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageErr(err)
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageErr(err)
		}
		started = true
		return pre(cmd, a)
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := fang.Execute(ctx, root,
		fang.WithVersion(version()),
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM),
		fang.WithErrorHandler(func(w io.Writer, styles fang.Styles, err error) {
			var ee *exitError
			if errors.As(err, &ee) && ee.quiet {
				return
			}
			// fang capitalises the message's first word, which is often a
			// file name or an identifier ("warroom.yaml exists"): keep it as written.
			styles.ErrorText = styles.ErrorText.UnsetTransform()
			fang.DefaultErrorHandler(w, styles, err)
		}),
	)
	return exitCode(err, started)
}

// exitCode is the exit code of err; started says whether the command line
// was accepted and the command started.
func exitCode(err error, started bool) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if !started {
		return exitUsage
	}
	return exitRuntime
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "warroom",
		Short: "A terminal war room for launch days and incidents",
		Long: `warroom puts a launch or incident war room in one terminal: per-service panes fed
by Datadog, Prometheus and blockchain RPC providers; an incident commander and an
owner per service; alert acknowledgement and escalation; scripted mitigations
from playbooks; and a durable timeline mirrored to Slack and exported for the
postmortem. Several people share one war room over SSH with 'warroom serve'.

Start with 'warroom demo': a simulated airdrop launch on loopback, no accounts.`,
		Example: `  warroom demo
  warroom check -c examples/airdrop/warroom.yaml
  warroom run -c warroom.yaml --as maya
  warroom export --journal warroom.db --format md -o postmortem.md`,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	pprofAddr := root.PersistentFlags().String("pprof", os.Getenv(pprofEnv), "serve Go profiles on this loopback address (default $"+pprofEnv+")")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if *pprofAddr == "" {
			return nil
		}
		if err := startPprof(*pprofAddr, cmd.ErrOrStderr()); err != nil {
			return usageErr(err)
		}
		return nil
	}
	root.AddCommand(
		newDemoCmd(),
		newDrillCmd(),
		newRunCmd(),
		newServeCmd(),
		newInitCmd(),
		newCheckCmd(),
		newExportCmd(),
		newJournalCmd(),
		newPlaybookCmd(),
		newLaunchCmd(),
		newVersionCmd(),
	)
	return root
}

// args wraps a cobra argument validator so its errors are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageErr(err)
		}
		return nil
	}
}
