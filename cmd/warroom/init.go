package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/docs"
)

type initOptions struct {
	out, name, commander, prom, datadog, slackChannel string
	services                                          []string
	jobs, force                                       bool
	// fetched: the jobs are in services already (asked on a terminal).
	fetched bool
}

// initContentFlags are the flags that say what the file holds: with none
// of them, init on a terminal asks instead.
var initContentFlags = []string{"name", "commander", "prometheus", "jobs", "datadog", "service", "slack-channel"}

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter war-room file",
		Long: `init writes a commented war-room file to start from (default ./warroom.yaml,
never over an existing file without --force), and warroom.schema.json beside
it for editor completion. Sources and services come from flags; with
--prometheus URL --jobs it asks that Prometheus for its jobs
(/api/v1/label/job/values) and starts with one service per job, watching the
share of its targets that are up. The file it writes passes warroom check.

Run on a terminal without those flags (-o and --force aside), it asks for
each instead, with the same defaults.`,
		Example: `  warroom init --name "Launch war room" --prometheus http://127.0.0.1:9090 --jobs
  warroom init --service tokens --service history --commander rosa
  warroom init --datadog datadoghq.eu --service api --slack-channel C0123ABCD -o room/warroom.yaml`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ask io.Reader
			f, isFile := cmd.InOrStdin().(*os.File)
			if isFile && term.IsTerminal(f.Fd()) && !slices.ContainsFunc(initContentFlags, cmd.Flags().Changed) {
				ask = f
			}
			return runInit(cmd.Context(), o, ask, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "output", "o", "warroom.yaml", "the file to write")
	f.StringVar(&o.name, "name", "War room", "the war room's name")
	f.StringVar(&o.commander, "commander", "", "the commander's roster handle (default: $USER)")
	f.StringVar(&o.prom, "prometheus", "", "a Prometheus source at this base URL")
	f.BoolVar(&o.jobs, "jobs", false, "with --prometheus: one service per job the Prometheus scrapes")
	f.StringVar(&o.datadog, "datadog", "", "a Datadog source at this site (datadoghq.com, datadoghq.eu, …)")
	f.StringArrayVar(&o.services, "service", nil, "a service id (repeatable)")
	f.StringVar(&o.slackChannel, "slack-channel", "", "mirror to this Slack channel ID (C…)")
	f.BoolVar(&o.force, "force", false, "overwrite an existing file")
	return cmd
}

var handleRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// runInit writes the starter file; with ask (a terminal) it first asks
// for what the flags would say (askInit), prompting on stderr.
func runInit(ctx context.Context, o initOptions, ask io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.commander == "" {
		o.commander = os.Getenv("USER")
	}
	if !handleRe.MatchString(o.commander) {
		o.commander = "commander"
	}
	if o.jobs && o.prom == "" {
		return usageErr(errors.New("--jobs needs --prometheus URL"))
	}
	if !o.force {
		if _, err := os.Stat(o.out); err == nil {
			return usageErr(fmt.Errorf("%s exists: choose another -o, or --force to overwrite it", o.out))
		}
	}
	if ask != nil {
		if err := askInit(ctx, ask, stderr, &o); err != nil {
			fmt.Fprintln(stderr, "warroom init:", err)
			return badInput(err)
		}
	}
	services := o.services
	if o.jobs && !o.fetched {
		jobs, err := prometheusJobs(ctx, o.prom)
		if err != nil {
			return runtimeErr(fmt.Errorf("list the jobs of %s: %w", o.prom, err))
		}
		fmt.Fprintf(stderr, "warroom: %s scrapes %d job(s): %s\n", o.prom, len(jobs), strings.Join(jobs, ", "))
		services = append(services, jobs...)
	}
	text := starterFile(o, services)
	// What init writes must pass check: parse it before writing.
	if _, err := config.Parse(o.out, []byte(text)); err != nil {
		var errs *config.Errors
		if errors.As(err, &errs) {
			fmt.Fprintln(stderr, err)
			return badInput(err)
		}
		return runtimeErr(err)
	}
	if dir := filepath.Dir(o.out); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return runtimeErr(err)
		}
	}
	if err := os.WriteFile(o.out, []byte(text), 0o644); err != nil {
		return runtimeErr(err)
	}
	schema := filepath.Join(filepath.Dir(o.out), "warroom.schema.json")
	if err := os.WriteFile(schema, docs.Schema, 0o644); err != nil {
		return runtimeErr(err)
	}
	fmt.Fprintf(stdout, "wrote %s and %s; next: edit it, then warroom check --env -c %s\n", o.out, schema, o.out)
	return nil
}

// prometheusJobs lists the values of the job label (Prometheus HTTP API,
// GET /api/v1/label/job/values: {"status":"success","data":[…]}).
func prometheusJobs(ctx context.Context, base string) ([]string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/api/v1/label/job/values")
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not an http(s) URL", base)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
		Error  string   `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("HTTP %d, not the Prometheus API: %w", resp.StatusCode, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, body.Error)
	}
	var jobs []string
	seen := map[string]bool{}
	for _, j := range body.Data {
		id := serviceID(j)
		if id != "" && !seen[id] {
			seen[id] = true
			jobs = append(jobs, id)
		}
	}
	if len(jobs) == 0 {
		return nil, errors.New("it scrapes no job")
	}
	return jobs, nil
}

var notID = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// serviceID makes an id of a job name.
func serviceID(s string) string {
	s = strings.Trim(notID.ReplaceAllString(s, "-"), "-._")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func q(s string) string { return strconv.Quote(s) }

// starterFile is the commented file init writes.
func starterFile(o initOptions, services []string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# yaml-language-server: $schema=./warroom.schema.json\n")
	w("# A war room. Reference of every field: docs/CONFIG.md. Check it with\n")
	w("# warroom check --env (every ${VAR} set?) and warroom check --live (every\n")
	w("# source, pane, Slack and playbook answers?).\n\n")
	w("incident:\n  name: %s\n", q(o.name))
	w("  # T-0, if this is a launch: the header counts down to it and the\n")
	w("  # launch plan below counts from it.\n")
	w("  # launch: 2026-01-31T10:00:00-08:00\n")
	w("  timezone: UTC\n\n")
	w("# Unacknowledged alerts page the owner, then the backup, then the commander.\n")
	w("escalation:\n  backup: 5m\n  commander: 10m\n\n")
	w("# Scripted mitigations (playbooks/FORMAT.md), relative to this file.\n# playbooks: ./playbooks\n\n")
	w("sources:\n")
	src := ""
	if o.prom != "" {
		w("  - id: prom\n    type: prometheus\n    url: %s\n    interval: 15s\n", q(o.prom))
		src = "prom"
	}
	if o.datadog != "" {
		w("  - id: dd\n    type: datadog\n    site: %s\n    api_key: ${DD_API_KEY}   # from the environment, never written here\n    app_key: ${DD_APP_KEY}\n    interval: 30s           # Datadog's query budget is shared by the organisation\n", q(o.datadog))
		if src == "" {
			src = "dd"
		}
	}
	if src == "" {
		w("  - id: prom\n    type: prometheus\n    url: http://127.0.0.1:9090   # your Prometheus\n    interval: 15s\n")
		src = "prom"
	}
	if len(services) == 0 {
		services = []string{"api"}
	}
	w("\n# One pane group per service, with its point of contact (owner). The first\n")
	w("# pane is the service's main series. warn/crit are in the pane's unit;\n")
	w("# for: how long a breach lasts before the alert fires.\nservices:\n")
	for _, svc := range services {
		w("  - id: %s\n    name: %s\n    owner: %s\n    panes:\n", svc, q(svc), o.commander)
		switch {
		case src == "prom" && o.jobs:
			w("      - id: up\n        title: targets up\n        source: prom\n")
			w("        query: %s\n", q(fmt.Sprintf(`100 * avg(up{job=%q})`, svc)))
			w("        unit: \"%%\"\n        direction: below\n        warn: 99\n        crit: 50\n        clear: 100\n        for: 1m\n")
		case src == "prom":
			w("      - id: rps\n        title: requests/s\n        source: prom\n")
			w("        query: %s   # replace with your query\n", q(fmt.Sprintf(`sum(rate(http_requests_total{service=%q}[1m]))`, svc)))
			w("        unit: req/s\n")
		default:
			w("      - id: p95\n        title: p95 latency\n        source: dd\n")
			w("        query: %s   # replace with your query\n", q("p95:trace.http.request{service:"+svc+"}"))
			w("        unit: s\n        warn: 0.5\n        crit: 1\n        clear: 0.4\n        for: 1m\n")
		}
	}
	w("\n# Everyone in the room. Give each a way in: ssh_keys for warroom serve,\n")
	w("# or a Slack ID when the room takes Slack commands (slack.app_token).\nroster:\n")
	w("  - handle: %s\n    name: %s\n    # slack: U0123ABCD\n    # ssh_keys: [\"ssh-ed25519 AAAA… you@laptop\"]\n\n", o.commander, q(o.commander))
	w("roles:\n  commander: %s\n  # deputy: someone\n  # scribe: someone\n  # comms: someone\n", o.commander)
	if o.slackChannel != "" {
		w("\nslack:\n  channel: %s\n  bot_token: ${SLACK_BOT_TOKEN}\n  # app_token: ${SLACK_APP_TOKEN}   # Socket Mode: /warroom commands, Ack buttons\n", q(o.slackChannel))
	} else {
		w("\n# Mirror the timeline to Slack:\n# slack:\n#   channel: C0123ABCD\n#   bot_token: ${SLACK_BOT_TOKEN}\n")
	}
	w("\n# A launch plan (needs incident.launch): checkpoints and go/no-go criteria,\n")
	w("# each green only from its evidence. See docs/CONFIG.md#launch.\n")
	w("# launch:\n#   checkpoints:\n#     - {at: -48h, name: load test passed, criteria: [load-test]}\n")
	w("#     - {at: -1h, name: war room staffed, criteria: [staffed, preflight]}\n")
	w("#   criteria:\n#     - {id: load-test, load_test: [rps >= 30000, p95 < 500ms, error_rate < 1%%]}\n")
	w("#     - {id: preflight, preflight: true}\n#     - {id: staffed, staffed: true}\n")
	return b.String()
}
