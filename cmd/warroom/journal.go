package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

func newJournalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Check, copy or list journals, or save what is readable of a damaged one",
		Long: `A journal is a SQLite file (one machine) or a room in a Postgres database,
named by a URL: postgres://USER:${PASSWORD_VAR}@HOST:5432/DB?room=ID. A ${NAME}
password is read from the environment; PGPASSWORD and ~/.pgpass work too.`,
		Args: args(cobra.NoArgs),
	}
	cmd.AddCommand(newJournalVerifyCmd(), newJournalSalvageCmd(), newJournalCopyCmd(), newJournalRoomsCmd())
	return cmd
}

// journalWhere is the journal a command works on: --journal when given
// (a file, or a URL whose ${NAME} password is read from the environment),
// else the war-room file's journal, else flagVal's default.
func journalWhere(cmd *cobra.Command, flagVal string, c *config.Config) (string, error) {
	if cmd.Flags().Changed("journal") || c == nil || c.Journal == "" {
		where, err := config.ResolveJournal(flagVal, "")
		if err != nil {
			return "", usageErr(fmt.Errorf("--journal: %w", err))
		}
		return where, nil
	}
	where, err := c.JournalLocation()
	if err != nil {
		return "", &exitError{code: exitBadInput, err: err}
	}
	return where, nil
}

func newJournalCopyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy a room's journal to a new one: SQLite to Postgres or back",
		Long: `copy reads the journal SRC (read-only; it may be live) and writes everything
into DST, which must be new or empty: every event with its seq, samples and
minute means, reader cursors, and the Slack and service outboxes (what was
delivered stays delivered, so nothing is posted twice after the move). Each
is a file path or a postgres://…?room=ID URL. Stop the room's processes before
copying into the journal they will use next.

Exit codes: 0 copied; 1 SRC is not a warroom journal, or DST is not empty;
3 a journal cannot be read or written.`,
		Example: `  warroom journal copy warroom.db 'postgres://warroom:${WARROOM_DB_PASSWORD}@db:5432/warroom?room=airdrop'
  warroom journal copy 'postgres://warroom@db/warroom?room=airdrop' airdrop.db`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var where [2]string
			for i, s := range a {
				w, err := config.ResolveJournal(s, "")
				if err != nil {
					return usageErr(err)
				}
				where[i] = w
			}
			if journal.Name(where[0]) == journal.Name(where[1]) {
				return usageErr(errors.New("SRC and DST are the same journal"))
			}
			rep, err := journal.Copy(cmd.Context(), where[0], where[1])
			if err != nil {
				if errors.Is(err, journal.ErrNotEmpty) {
					return &exitError{code: exitBadInput, err: err}
				}
				return journalOpenErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s to %s: %d events, %d samples\n", journal.Name(where[0]), journal.Name(where[1]), rep.Events, rep.Samples)
			return nil
		},
	}
}

func newJournalRoomsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rooms URL",
		Short:   "List the rooms of a Postgres database",
		Example: `  warroom journal rooms 'postgres://warroom@db:5432/warroom'`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			where, err := config.ResolveJournal(a[0], "")
			if err != nil {
				return usageErr(err)
			}
			if !journal.IsURL(where) {
				return usageErr(errors.New("rooms lists a Postgres database's rooms: give a postgres:// URL"))
			}
			rooms, err := journal.Rooms(cmd.Context(), where)
			if err != nil {
				return journalOpenErr(err)
			}
			for _, r := range rooms {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			return nil
		},
	}
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
		Long: `verify reads a journal (live or copied, read-only; a file or a postgres://
room) and checks it: SQLite's integrity check, a log that runs from #1
without a gap, events that decode and never go back in time, reader cursors
inside the log.

Exit codes: 0 the journal is sound; 1 problems were found (listed), or the
file is not a warroom journal or is newer than this warroom; 3 the file
cannot be read.`,
		Example: `  warroom journal verify --journal warroom.db
  warroom journal verify --journal 'postgres://warroom@db:5432/warroom?room=airdrop'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			where, err := journalWhere(cmd, path, nil)
			if err != nil {
				return err
			}
			path = journal.Name(where)
			rep, err := incident.VerifyJournal(cmd.Context(), where)
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
	cmd.Flags().StringVar(&path, "journal", "", "journal to check: a file, or a postgres:// room")
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
			if journal.IsURL(path) || journal.IsURL(out) {
				return usageErr(errors.New("salvage reads a damaged SQLite file into a new one; Postgres keeps its own consistency (verify a room with journal verify, move one with journal copy)"))
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
