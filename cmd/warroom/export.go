package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/export"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/launch"
)

func newExportCmd() *cobra.Command {
	var journalPath, format, out, service, from, to, tz string
	var important, readiness bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the timeline for the postmortem",
		Long: `export reads a journal (live or copied, read-only) and writes a postmortem:
Markdown with SVG charts, one self-contained HTML file, JSON (events and
samples, versioned schema) or CSV (the timeline).

Markdown written to a file (-o postmortem.md) gets one SVG chart per service
beside it (postmortem-<service>.svg), linked from the document. Markdown on
standard output leaves the charts out; HTML has them inline.

Filters apply to every format; durations (time to ack, time to resolve) are
always computed from the whole journal. The same journal and flags give the
same bytes.

Exit codes: 0 written; 1 the journal is not a warroom journal, has no events,
or has no such service; 2 bad flags (unknown format, bad time); 3 the journal
file cannot be read (missing, permissions) or the output cannot be written.`,
		Example: `  warroom export --journal warroom.db --format md -o postmortem.md
  warroom export --journal warroom.db --format html -o postmortem.html
  warroom export --journal warroom.db --format csv --important
  warroom export --journal warroom.db --readiness -o readiness.md
  warroom export --journal warroom.db --format json --service tokens --from 2026-01-31T15:00:00Z --to 2026-01-31T17:00:00Z`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(journalPath) == "" {
				return usageErr(errors.New("--journal is required"))
			}
			journalPath, err := journalWhere(cmd, journalPath, nil)
			if err != nil {
				return err
			}
			if readiness {
				return exportReadiness(cmd, journalPath, format, out)
			}
			f, err := export.ParseFormat(format)
			if err != nil {
				return usageErr(err)
			}
			opt := export.Options{Filter: export.Filter{Important: important, Service: strings.TrimSpace(service)}}
			if opt.From, err = parseExportTime("--from", from); err != nil {
				return usageErr(err)
			}
			if opt.To, err = parseExportTime("--to", to); err != nil {
				return usageErr(err)
			}
			if !opt.From.IsZero() && !opt.To.IsZero() && opt.From.After(opt.To) {
				return usageErr(fmt.Errorf("--from %s is after --to %s", from, to))
			}
			if tz != "" {
				loc, err := time.LoadLocation(tz)
				if err != nil {
					return usageErr(fmt.Errorf("--tz: unknown time zone %q", tz))
				}
				opt.Location = loc
			}
			res, err := export.Export(cmd.Context(), journalPath, f, out, cmd.OutOrStdout(), opt)
			if err != nil {
				var ie *export.InputError
				if errors.As(err, &ie) {
					return &exitError{code: exitBadInput, err: err}
				}
				return runtimeErr(err)
			}
			for _, name := range res.Files {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&journalPath, "journal", "", "journal to read: a file, or a postgres:// room")
	f.StringVar(&format, "format", "md", "md, html, json or csv")
	f.StringVarP(&out, "output", "o", "", "output file (default: standard output)")
	f.BoolVar(&important, "important", false, "only events marked important (and their alerts)")
	f.StringVar(&service, "service", "", "only this service")
	f.StringVar(&from, "from", "", "start time (RFC3339)")
	f.StringVar(&to, "to", "", "end time (RFC3339)")
	f.BoolVar(&readiness, "readiness", false, "write the launch readiness record instead (md or json): criteria, evidence, decision, sign-offs")
	f.StringVar(&tz, "tz", "", "also show local times in this IANA zone (default: the journal's zone, if it records one)")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}

// exportReadiness writes the launch readiness record of a journal.
func exportReadiness(cmd *cobra.Command, journalPath, format, out string) error {
	if format != "md" && format != "json" {
		return usageErr(fmt.Errorf("--readiness writes md or json, not %q", format))
	}
	j, err := journal.OpenReader(cmd.Context(), journalPath)
	if err != nil {
		if errors.Is(err, journal.ErrNotJournal) {
			return &exitError{code: exitBadInput, err: err}
		}
		return runtimeErr(err)
	}
	defer j.Close()
	rec, err := launch.ReadRecord(cmd.Context(), j)
	if err != nil {
		if errors.Is(err, launch.ErrNoPlan) {
			return &exitError{code: exitBadInput, err: err}
		}
		return runtimeErr(err)
	}
	w := cmd.OutOrStdout()
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return runtimeErr(err)
		}
		defer f.Close()
		w = f
	}
	if format == "json" {
		err = rec.WriteJSON(w)
	} else {
		err = rec.WriteMarkdown(w)
	}
	if err != nil {
		return runtimeErr(err)
	}
	if out != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", out)
	}
	return nil
}

func parseExportTime(flag, s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC3339 time (e.g. 2026-01-31T15:04:05Z)", flag, s)
	}
	return t.UTC(), nil
}
