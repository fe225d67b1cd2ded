package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/server"
)

func newServeCmd() *cobra.Command {
	var cfg, sshAddr, httpAddr, statusAddr, statusURL, journalPath, hostKey, node string
	var maxSessions int
	var idle, leaderTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a shared war room over SSH and HTTP",
		Long: `serve runs one engine, its sources and the Slack mirror, and gives each SSH
session its own dashboard, bound to the roster person whose key authenticated.
HTTP serves /healthz, /metrics, and behind the bearer token in
$WARROOM_HTTP_TOKEN (disabled when it is unset) the Alertmanager webhook
(/api/alertmanager: JSON only, no browser requests) and a read-only timeline
(/api/timeline, /api/timeline/stream). When the file pages through PagerDuty,
/api/pagerduty takes PagerDuty's V3 webhooks, signed with the subscription's
secret (pagerduty.webhook_secret) instead of the token: an acknowledgement or
resolve made in PagerDuty acts in the room as the mapped roster person.

With --status ADDR it also serves the public status page there, apart from
the API and without any token: one HTML page without scripts or cookies
(components, the current incident and its published updates), /index.json in
Statuspage's summary shape, and an Atom feed at /history.atom. It shows only
what was published; the Statuspage publisher (comms.statuspage) runs too.

Only public keys listed in the roster (ssh_keys) may connect. Without a
command an SSH session needs a terminal (ssh -t); "ssh HOST tail" streams the
timeline as lines, and "ssh -t HOST quiet" is the dashboard without the bell
and desktop notifications. Connects, refusals and disconnects are written to the audit
log beside the journal (warroom-audit.log).

With a postgres:// journal (--journal or the file's journal:), several
serve processes, on one machine or several, can share the room: the one that
holds the room's writer lock leads (engine, sources, Slack mirror, paging,
playbook runs); the others stand by, serve their SSH and HTTP sessions from
the journal, forward what people do to the leader, and take over within
seconds when it goes. Each dashboard's header says which node leads. See the
README's "Running a room on two machines".`,
		Example: `  warroom serve -c warroom.yaml --ssh 127.0.0.1:2222 --http 127.0.0.1:8080
  warroom serve -c warroom.yaml --status 0.0.0.0:8090 --status-url https://status.example.com`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxSessions < 1 {
				return usageErr(errors.New("--max-sessions must be at least 1"))
			}
			if leaderTimeout < time.Second {
				return usageErr(errors.New("--leader-timeout must be at least 1s"))
			}
			pg := journal.PostgresOptions{Node: node, DeadAfter: leaderTimeout}
			return runServe(cmd, cfg, journalPath, hostKey, pg, server.Options{
				SSHAddr: sshAddr, HTTPAddr: httpAddr, HostKeyPath: hostKey, StatusAddr: statusAddr, StatusURL: statusURL,
				MaxSessions: maxSessions, IdleTimeout: idle, Token: os.Getenv("WARROOM_HTTP_TOKEN"),
			}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	configFlag(cmd, &cfg)
	cmd.Flags().StringVar(&sshAddr, "ssh", server.DefaultSSHAddr, "listen address for SSH")
	cmd.Flags().StringVar(&httpAddr, "http", server.DefaultHTTPAddr, "listen address for HTTP")
	cmd.Flags().StringVar(&statusAddr, "status", "", "serve the public status page on this address (default: not served)")
	cmd.Flags().StringVar(&statusURL, "status-url", "", "the status page's public URL, for its feed and JSON links (default: the request's host)")
	cmd.Flags().StringVar(&journalPath, "journal", "warroom.db", "journal: a file, or a postgres:// room (default: the file's journal:, else warroom.db)")
	cmd.Flags().StringVar(&hostKey, "host-key", "", "the SSH host key, created (0600) if missing (default: warroom_host_ed25519 beside the journal file, or beside the war-room file for a postgres:// room)")
	cmd.Flags().StringVar(&node, "node", "", "this process's name among the room's processes (postgres:// rooms; default: host name and pid)")
	cmd.Flags().DurationVar(&leaderTimeout, "leader-timeout", 5*time.Second, "postgres:// rooms: how long the database waits on a silent leader before a standby may take over")
	cmd.Flags().IntVar(&maxSessions, "max-sessions", server.DefaultMaxSessions, "most concurrent SSH sessions")
	cmd.Flags().DurationVar(&idle, "idle-timeout", server.DefaultIdleTimeout, "close a dashboard after this long without input (0: never)")
	return cmd
}

func runServe(cmd *cobra.Command, cfgPath, journalFlag, hostKey string, pg journal.PostgresOptions, o server.Options, stdout, stderr io.Writer) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = -1 // never
	}
	c, err := config.Load(cfgPath)
	if err != nil {
		return reportConfigErr(stderr, cfgPath, err)
	}
	journalPath, err := journalWhere(cmd, journalFlag, c)
	if err != nil {
		return err
	}
	// Files of this process: beside the journal file, or for a room in
	// Postgres beside the war-room file (every node of a room should use
	// the same host key, so that clients see one host whichever leads).
	dir := filepath.Dir(journalPath)
	if journal.IsURL(journalPath) {
		dir = filepath.Dir(c.Path)
	}
	if hostKey == "" {
		hostKey = filepath.Join(dir, "warroom_host_ed25519")
	}
	o.HostKeyPath = hostKey
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	auditPath := filepath.Join(dir, "warroom-audit.log")
	af, err := os.OpenFile(auditPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return runtimeErr(fmt.Errorf("audit log: %w", err))
	}
	defer af.Close()
	o.Audit = slog.New(slog.NewJSONHandler(af, nil))
	o.Logger = logger

	r, err := room.Open(ctx, room.Options{Config: c, JournalPath: journalPath, Logger: logger,
		Shared: journal.IsURL(journalPath), Postgres: pg})
	if err != nil {
		var errs *config.Errors
		if errors.As(err, &errs) {
			return reportConfigErr(stderr, c.Playbooks, err)
		}
		return runtimeErr(err)
	}
	srv, err := server.New(r, o)
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		_ = r.Close()
		return runtimeErr(err)
	}
	fmt.Fprintf(stdout, "warroom: serving %q: ssh %s, http %s (audit log %s)\n", c.Incident.Name, srv.SSHAddr(), srv.HTTPAddr(), auditPath)
	if ci := r.Engine.Cluster(); ci.Shared() {
		fmt.Fprintf(stdout, "warroom: node %s of %s, %s\n", ci.Node, r.Journal.Path(), ci.Role)
	}
	if a := srv.StatusAddr(); a != "" {
		fmt.Fprintf(stdout, "warroom: public status page http://%s/\n", a)
	}
	select {
	case <-ctx.Done():
	case <-r.Done():
	}
	err = srv.Close()
	if cerr := r.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if eerr := r.Engine.Err(); eerr != nil {
		return runtimeErr(eerr)
	}
	if err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintln(stdout, "warroom: stopped")
	return nil
}
