package main

import (
	"github.com/spf13/cobra"
)

func newServeCmd() *cobra.Command {
	var cfg, sshAddr, httpAddr, journalPath string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a shared war room over SSH and HTTP",
		Long: `serve runs one engine, its sources and the Slack mirror, and gives each SSH
session its own dashboard, bound to the roster person whose key authenticated.
HTTP serves /healthz, /metrics, the Alertmanager webhook and a read-only timeline.`,
		Example: `  warroom serve -c warroom.yaml --ssh 127.0.0.1:2222 --http 127.0.0.1:8080`,
		Args:    args(cobra.NoArgs),
		RunE:    func(cmd *cobra.Command, _ []string) error { return notYet("warroom serve") },
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&sshAddr, "ssh", "127.0.0.1:2222", "SSH listen address")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "HTTP listen address")
	cmd.Flags().StringVar(&journalPath, "journal", "warroom.db", "journal file")
	return cmd
}
