package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/playbooks"
)

func newCheckCmd() *cobra.Command {
	var cfg string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a war-room file and its playbooks",
		Long: `check reads the war-room file strictly and reports every problem in one pass,
each as file:line:col: field.path: message (hint). It exits 1 if there is any.`,
		Example: `  warroom check -c examples/airdrop/warroom.yaml`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(cfg)
			if err != nil {
				var errs *config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s) in %s\n", len(errs.List), cfg)
					return badInput(err)
				}
				// An unreadable file is bad input too, not a crash.
				return &exitError{code: exitBadInput, err: err}
			}
			cat, err := playbooks.LoadForConfig(c)
			if err != nil {
				var errs *config.Errors
				if errors.As(err, &errs) {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s) in the playbooks of %s\n", len(errs.List), cfg)
					return badInput(err)
				}
				return &exitError{code: exitBadInput, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d services, %d panes, %d sources, %d people, %d playbooks)\n",
				cfg, len(c.Services), countPanes(c), len(c.Sources), len(c.Roster), len(cat.Playbooks()))
			return nil
		},
	}
	configFlag(cmd, &cfg)
	return cmd
}

func countPanes(c *config.Config) int {
	n := 0
	for _, s := range c.Services {
		n += len(s.Panes)
	}
	return n
}
