package main

import (
	"github.com/spf13/cobra"
)

func newExportCmd() *cobra.Command {
	var journalPath, format, out, service, from, to string
	var important bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the timeline for the postmortem",
		Long: `export reads a journal (live or copied, read-only) and writes a postmortem:
Markdown with SVG charts, one self-contained HTML file, JSON (events and
samples, versioned schema) or CSV (the timeline).`,
		Example: `  warroom export --journal warroom.db --format md -o postmortem.md
  warroom export --journal warroom.db --format csv --important`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return notYet("warroom export") },
	}
	f := cmd.Flags()
	f.StringVar(&journalPath, "journal", "", "journal file to read")
	f.StringVar(&format, "format", "md", "md, html, json or csv")
	f.StringVarP(&out, "output", "o", "", "output file (default: standard output)")
	f.BoolVar(&important, "important", false, "only events marked important (and their alerts)")
	f.StringVar(&service, "service", "", "only this service")
	f.StringVar(&from, "from", "", "start time (RFC3339)")
	f.StringVar(&to, "to", "", "end time (RFC3339)")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}
