package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Check a journal, or save what is readable of a damaged one",
		Args:  args(cobra.NoArgs),
	}
	cmd.AddCommand(newJournalVerifyCmd(), newJournalSalvageCmd())
	return cmd
}

// journalOpenErr sorts an error opening a journal into an exit code.
func journalOpenErr(err error) error {
	switch {
	case errors.Is(err, journal.ErrNotJournal), errors.Is(err, journal.ErrNewerSchema):
		return &exitError{code: exitBadInput, err: err}
	case errors.Is(err, fs.ErrNotExist):
		return runtimeErr(fmt.Errorf("%w: %w", journal.ErrUnreadable, err))
	}
	return runtimeErr(err)
}

func newJournalVerifyCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a journal without changing it",
		Long: `verify reads a journal (live or copied, read-only) and checks it: SQLite's
integrity check, a log that runs from #1 without a gap, events that decode
and never go back in time, reader cursors inside the log.

Exit codes: 0 the journal is sound; 1 problems were found (listed), or the
file is not a warroom journal or is newer than this warroom; 3 the file
cannot be read.`,
		Example: `  warroom journal verify --journal warroom.db`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := incident.VerifyJournal(cmd.Context(), path)
			if err != nil {
				return journalOpenErr(err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: schema %d, %d events (#1–#%d), %d samples", path, rep.Version, rep.Events, rep.LastSeq, rep.Samples)
			if !rep.First.IsZero() {
				fmt.Fprintf(out, ", %s to %s", rep.First.UTC().Format("2006-01-02T15:04:05Z"), rep.Last.UTC().Format("2006-01-02T15:04:05Z"))
			}
			fmt.Fprintln(out)
			if rep.OK() {
				fmt.Fprintln(out, "ok")
				return nil
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(cmd.ErrOrStderr(), p)
			}
			return badInput(fmt.Errorf("%d problem(s); `warroom journal salvage` copies what is readable into a new journal", len(rep.Problems)))
		},
	}
	cmd.Flags().StringVar(&path, "journal", "", "journal file to check")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}

func newJournalSalvageCmd() *cobra.Command {
	var path, out string
	cmd := &cobra.Command{
		Use:   "salvage",
		Short: "Copy what is readable of a damaged journal into a new one",
		Long: `salvage reads a damaged journal (read-only) and writes a new journal with
everything it can read: every event, in order; an event that cannot be read
or decoded is replaced by a note saying so, so the new journal opens,
replays and exports like any other. Samples, reader cursors and the Slack
outbox are copied as far as they can be read.

Exit codes: 0 written (what was lost is listed); 1 the file is not a warroom
journal; 2 bad flags; 3 the file cannot be read or the new one written.`,
		Example: `  warroom journal salvage --journal damaged.db -o salvaged.db
  warroom export --journal salvaged.db --format md -o postmortem.md`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr(errors.New("-o is required: the new journal to write"))
			}
			rep, err := incident.SalvageJournal(cmd.Context(), path, out)
			if err != nil {
				return journalOpenErr(err)
			}
			for _, p := range rep.Replaced {
				fmt.Fprintf(cmd.ErrOrStderr(), "replaced %s\n", p)
			}
			for _, p := range rep.Lost {
				fmt.Fprintf(cmd.ErrOrStderr(), "lost %s\n", p)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d events as they were, %d replaced by a note, %d samples\n",
				out, rep.Events, len(rep.Replaced), rep.Samples)
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "journal", "", "damaged journal to read")
	cmd.Flags().StringVarP(&out, "output", "o", "", "new journal to write (must not exist)")
	_ = cmd.MarkFlagRequired("journal")
	return cmd
}
