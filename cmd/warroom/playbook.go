package main

import (
	"github.com/spf13/cobra"
)

func newPlaybookCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "playbook",
		Short: "List, show, dry-run or run a playbook",
		Long: `playbook works with the scripted mitigations in the war room's playbooks
directory, headless, under the same approval rules as the dashboard.`,
	}
	for _, sub := range []struct{ use, short string }{
		{"list", "List the playbooks"},
		{"show NAME", "Show a playbook's parameters and steps"},
		{"dry-run NAME", "Show the exact requests a run would make, sending nothing that changes anything"},
		{"run NAME", "Run a playbook (approval rules apply)"},
	} {
		var cfg string
		var params []string
		c := &cobra.Command{
			Use:   sub.use,
			Short: sub.short,
			RunE:  func(cmd *cobra.Command, _ []string) error { return notYet("warroom playbook") },
		}
		configFlag(c, &cfg)
		if sub.use != "list" {
			c.Args = args(cobra.ExactArgs(1))
			c.Flags().StringArrayVar(&params, "param", nil, "parameter as k=v (repeatable)")
		} else {
			c.Args = args(cobra.NoArgs)
		}
		cmd.AddCommand(c)
	}
	return cmd
}
