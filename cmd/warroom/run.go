package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/server"
)

func newRunCmd() *cobra.Command {
	var cfg, as, journalPath, statusAddr, statusURL string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the engine and the dashboard in one process",
		Long: `run polls the sources of the war-room file, evaluates alert rules and shows the
dashboard in this terminal, acting as the roster person given with --as.

Without --as it acts as $USER if that handle is on the roster, and otherwise
as the incident commander named in the file (this terminal is then the
commander's console). A handle that is not on the roster is refused.

A new CRIT on your service, a page to you, an approval waiting for you and
command offered to you ring the terminal's bell and send a desktop
notification (OSC 9, or OSC 777 in rxvt and foot); --quiet or notify: false
in your roster entry turns that off.

With --status ADDR it also serves the room's public status page there, as
serve --status does: one HTML page without scripts or cookies, /index.json
and /history.atom, showing only what was published.`,
		Example: `  warroom run -c warroom.yaml --as maya
  warroom run -c warroom.yaml --status 127.0.0.1:8090`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWarRoom(cmd, cfg, as, cmd.Flags().Changed("as"), journalPath, quiet, cmd.ErrOrStderr(),
				server.Options{StatusAddr: statusAddr, StatusURL: statusURL})
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&as, "as", "", "your roster handle (default: $USER if on the roster, else the commander)")
	cmd.Flags().StringVar(&journalPath, "journal", "warroom.db", "journal: a file, or a postgres:// room nobody serves (default: the file's journal:, else warroom.db)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no bell or desktop notification when something waits for you")
	cmd.Flags().StringVar(&statusAddr, "status", "", "serve the public status page on this address (default: not served)")
	cmd.Flags().StringVar(&statusURL, "status-url", "", "the status page's public URL, for its feed and JSON links (default: the request's host)")
	return cmd
}

// runWarRoom runs the room and this terminal's dashboard; status, when
// its StatusAddr is set, also serves the public status page (the server
// of serve with only that listener).
func runWarRoom(cmd *cobra.Command, cfgPath, as string, asSet bool, journalFlag string, quiet bool, stderr io.Writer, status server.Options) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return reportConfigErr(stderr, cfgPath, err)
	}
	journalPath, err := journalWhere(cmd, journalFlag, c)
	if err != nil {
		return err
	}
	// Refuse an unknown handle before anything is opened.
	handle, note, err := pickHandle(c, as, asSet, os.Getenv("USER"))
	if err != nil {
		return usageErr(err)
	}
	if err := needTerminal("run it in a terminal, or use warroom serve"); err != nil {
		return err
	}
	undo := paintFirstFrame(os.Stdin, os.Stdout, c, handle)
	var page *server.Server
	r, err := runDashboard(ctx, c, handle, func(d *dashboard) (*room.Room, error) {
		r, err := room.Open(ctx, room.Options{Config: c, JournalPath: journalPath})
		if err != nil || status.StatusAddr == "" {
			return r, err
		}
		status.SSHAddr, status.HTTPAddr = "-", "-"
		if page, err = server.New(r, status); err == nil {
			err = page.Start(ctx)
		}
		if err != nil {
			_ = r.Close()
			return nil, runtimeErr(err)
		}
		// The Comms view names it.
		d.statusURL = cmp.Or(status.StatusURL, "http://"+page.StatusAddr()+"/")
		return r, nil
	}, dashboard{quiet: quiet, undoFirstFrame: undo})
	if r == nil && err != nil {
		var errs *config.Errors
		var ee *exitError
		switch {
		case errors.As(err, &errs): // the playbooks directory
			return reportConfigErr(stderr, c.Playbooks, err)
		case !errors.As(err, &ee):
			return runtimeErr(err)
		}
		return err
	}
	if page != nil {
		if cerr := page.Close(); err == nil && cerr != nil {
			err = runtimeErr(cerr)
		}
	}
	if r != nil {
		if cerr := r.Close(); err == nil && cerr != nil {
			err = runtimeErr(cerr)
		}
	}
	if note != "" {
		fmt.Fprintln(stderr, "warroom: "+note)
	}
	return err
}

func reportConfigErr(stderr io.Writer, what string, err error) error {
	var errs *config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintln(stderr, err)
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(errs.List), what)
		return badInput(err)
	}
	return runtimeErr(err)
}

// pickHandle decides who this terminal acts as: --as if given (it must be
// on the roster), else $USER if on the roster, else the commander, with a
// note saying so.
func pickHandle(c *config.Config, as string, asSet bool, user string) (handle, note string, err error) {
	if asSet || as != "" {
		if c.Person(as) == nil {
			return "", "", fmt.Errorf("--as %q: not on the roster of %s", as, c.Path)
		}
		return as, "", nil
	}
	if user != "" && c.Person(user) != nil {
		return user, "", nil
	}
	if c.Roles.Commander == "" {
		return "", "", errors.New("no --as given, $USER is not on the roster and the file names no commander")
	}
	note = fmt.Sprintf("acted as %s, the commander ($USER %q is not on the roster; --as chooses)", c.Roles.Commander, user)
	return c.Roles.Commander, note, nil
}
