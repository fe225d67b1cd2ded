package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/playbooks"
)

func newCheckCmd() *cobra.Command {
	var cfg string
	var env, live bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate a war-room file and its playbooks; --env and --live check it can work",
		Long: `check reads the war-room file strictly and reports every problem in one pass,
each as file:line:col: field.path: message (hint). It exits 1 if there is any.

--env also lists every ${VAR} of the file and its playbooks that is unset or
empty, by file:line, and exits 1 if there is any.

--live (which implies --env) also calls, once each: every source (latency and
rate-limit headroom), every pane's query (fresh data; an empty answer is fine
only with no_data: zero), Slack (auth.test, apps.connections.open,
conversations.info: the token, the app token, the channel and the bot's
membership), every playbook's dry run against its live endpoints,
Statuspage (the key reads the page's components, and every component of
the file is one of them; nothing is published), every PagerDuty routing
key (a resolve for an alert that does not exist: nobody is paged), and
checks that every
person with a role has a way in (an SSH key or a Slack ID). Every problem
is reported in one pass. Exit codes: 0 ok; 1 the file or the environment
is bad; 3 the file cannot be read (missing, permissions); 64 + the sum of what failed live: 1 sources, 2 panes, 4 Slack,
8 playbooks, 16 roster, 32 Statuspage, 64 PagerDuty (70 = panes and Slack).`,
		Example: `  warroom check -c examples/airdrop/warroom.yaml
  warroom check --env
  warroom check --live -c warroom.yaml`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			c, cat, err := checkFile(stderr, cfg)
			if err != nil {
				return err
			}
			if env || live {
				problems, err := config.CheckEnv(c, os.LookupEnv)
				if err != nil {
					return runtimeErr(err)
				}
				for _, p := range problems {
					fmt.Fprintln(stderr, p)
				}
				if len(problems) > 0 {
					fmt.Fprintf(stderr, "%d environment variable(s) unset or empty for %s and its playbooks\n", len(problems), cfg)
					return badInput(errors.New("environment"))
				}
			}
			if live {
				return checkLive(cmd.Context(), stdout, stderr, c, cat)
			}
			what := "ok"
			if env {
				what = "ok, environment complete"
			}
			fmt.Fprintf(stdout, "%s: %s (%s, %s, %s, %s, %s)\n", cfg, what,
				incident.Plural(len(c.Services), "service"), incident.Plural(countPanes(c), "pane"),
				incident.Plural(len(c.Sources), "source"), people(len(c.Roster)), incident.Plural(len(cat.Playbooks()), "playbook"))
			return nil
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().BoolVar(&env, "env", false, "also report every ${VAR} that is unset or empty, by file:line")
	cmd.Flags().BoolVar(&live, "live", false, "also call every source, pane, Slack and playbook once (implies --env)")
	return cmd
}

// checkFile loads the war-room file and its playbooks, printing every
// problem; problems are bad input (exit 1).
func checkFile(stderr io.Writer, path string) (*config.Config, *playbooks.Catalog, error) {
	// As run and serve: problems in the file are bad input (1); a file
	// that cannot be read (missing, permissions) is a runtime failure (3).
	c, err := config.Load(path)
	if err != nil {
		return nil, nil, reportConfigErr(stderr, path, err)
	}
	cat, err := playbooks.LoadForConfig(c)
	if err != nil {
		return nil, nil, reportConfigErr(stderr, "the playbooks of "+path, err)
	}
	return c, cat, nil
}

func countPanes(c *config.Config) int {
	n := 0
	for _, s := range c.Services {
		n += len(s.Panes)
	}
	return n
}

// checkLive runs the live preflight and prints it; the exit code says
// which groups failed (see launch.Report.ExitCode).
func checkLive(ctx context.Context, stdout, stderr io.Writer, c *config.Config, cat *playbooks.Catalog) error {
	if ctx == nil {
		ctx = context.Background()
	}
	rep := launch.Preflight(ctx, c, cat, launch.PreflightOptions{})
	rep.Print(stdout)
	if code := rep.ExitCode(); code != 0 {
		return &exitError{code: code, err: fmt.Errorf("preflight: %s failed", strings.Join(rep.Failed(), ", ")), quiet: true}
	}
	return nil
}

// people counts the roster: "1 person", "2 people".
func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}
