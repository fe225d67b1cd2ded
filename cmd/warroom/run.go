package main

import (
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var cfg, as, journalPath string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the engine and the dashboard in one process",
		Long: `run polls the sources of the war-room file, evaluates alert rules and shows the
dashboard in this terminal, acting as the roster person given with --as.`,
		Example: `  warroom run -c warroom.yaml --as maya`,
		Args:    args(cobra.NoArgs),
		RunE:    func(cmd *cobra.Command, _ []string) error { return notYet("warroom run") },
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&as, "as", "", "your roster handle (default: $USER if on the roster)")
	cmd.Flags().StringVar(&journalPath, "journal", "warroom.db", "journal file")
	return cmd
}
