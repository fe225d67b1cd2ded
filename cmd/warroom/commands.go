package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
)

// configFlag adds the -c/--config flag every war-room command takes.
// Without it the file is found as config.Find says (WARROOM_CONFIG,
// ./warroom.yaml, the XDG config directory), and the command says on
// stderr which file it uses and why.
func configFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "config", "c", "", "the war-room file (default: $WARROOM_CONFIG, ./warroom.yaml, $XDG_CONFIG_HOME/warroom/warroom.yaml)")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, a []string) error {
		if prev != nil {
			if err := prev(c, a); err != nil {
				return err
			}
		}
		path, why, err := config.Find(*dst)
		if err != nil {
			return usageErr(err)
		}
		if *dst == "" {
			fmt.Fprintf(c.ErrOrStderr(), "warroom: using %s (%s)\n", path, why)
		}
		*dst = path
		return nil
	}
}
