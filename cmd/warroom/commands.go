package main

import (
	"github.com/spf13/cobra"
)

// configFlag adds the -c/--config flag every war-room command takes.
func configFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "config", "c", "", "war-room file (YAML)")
	_ = cmd.MarkFlagRequired("config")
}
