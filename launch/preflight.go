// Package launch is launch readiness at the edges of the room: the
// preflight (warroom check --live, and the same checks inside the room),
// load-test results imported as evidence (k6, vegeta), baselines taken
// from the journal's samples, the readiness record, and the scoring of
// drills. The board itself (criteria, evidence, the decision) is a fold
// of the journal in package incident; this package only reads and
// submits. It never imports the simulator: drills are wired by cmd.
package launch

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/paging"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/sources"
)

// Check groups, in the order they are reported, and their bit in the
// exit code of check --live (64 + the sum of the groups that failed).
const (
	GroupSources   = "sources"
	GroupPanes     = "panes"
	GroupSlack     = "slack"
	GroupPlaybooks = "playbooks"
	GroupRoster    = "roster"
	// GroupStatuspage: the comms.statuspage key, page and components
	// (read only: nothing is published).
	GroupStatuspage = "statuspage"
	// GroupPagerDuty: every routing key the file pages through (a
	// resolve nobody triggered: nothing is paged).
	GroupPagerDuty = "pagerduty"
)

// Groups lists the check groups in report order.
var Groups = []string{GroupSources, GroupPanes, GroupSlack, GroupPlaybooks, GroupRoster, GroupStatuspage, GroupPagerDuty}

// ExitLive is the base of check --live's exit codes for live failures.
const ExitLive = 64

// Check is one preflight check.
type Check struct {
	Group  string
	Name   string // the source, pane, method, playbook or person
	OK     bool
	Detail string // what was seen, or what is wrong
}

// Report is a whole preflight.
type Report struct {
	Checks []Check
}

// Problems are the failed checks.
func (r Report) Problems() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Failed names the groups with a failed check, in report order.
func (r Report) Failed() []string {
	var out []string
	for _, g := range Groups {
		for _, c := range r.Checks {
			if c.Group == g && !c.OK {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// ExitCode is 0 when every check passed, else ExitLive plus 1 sources,
// 2 panes, 4 Slack, 8 playbooks, 16 roster, 32 Statuspage, 64 PagerDuty
// for each group that failed.
func (r Report) ExitCode() int {
	code := 0
	for _, g := range r.Failed() {
		code |= 1 << slices.Index(Groups, g)
	}
	if code == 0 {
		return 0
	}
	return ExitLive + code
}

// Info is the report as a CHECK event records it.
func (r Report) Info() incident.CheckInfo {
	info := incident.CheckInfo{Checks: len(r.Checks), Failed: r.Failed()}
	for _, c := range r.Problems() {
		info.Problems = append(info.Problems, c.Group+": "+c.Name+": "+c.Detail)
	}
	info.Pass = len(info.Problems) == 0
	return info
}

// Print writes the report, group by group, then one summary line.
func (r Report) Print(w io.Writer) {
	for _, g := range Groups {
		first := true
		for _, c := range r.Checks {
			if c.Group != g {
				continue
			}
			if first {
				fmt.Fprintln(w, g)
				first = false
			}
			mark := "✓"
			if !c.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Name, c.Detail)
		}
	}
	if p := r.Problems(); len(p) > 0 {
		fmt.Fprintf(w, "%d problem(s) in %d checks: %s failed\n", len(p), len(r.Checks), strings.Join(r.Failed(), ", "))
	} else {
		fmt.Fprintf(w, "all %d checks passed\n", len(r.Checks))
	}
}

// PreflightOptions adjust a preflight.
type PreflightOptions struct {
	// Now is the time data is judged fresh against (default time.Now).
	Now func() time.Time
}

// Preflight calls every source, pane, Slack and playbook of the room
// once and checks everyone with a role has a way in. Everything runs at
// once; it returns when every check has answered or timed out.
func Preflight(ctx context.Context, cfg *config.Config, cat *playbooks.Catalog, o PreflightOptions) Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	type part struct{ checks []Check }
	parts := make(chan part, 5)
	go func() { parts <- part{probeSources(ctx, cfg, o.Now)} }()
	go func() { parts <- part{checkSlack(ctx, cfg)} }()
	go func() { parts <- part{dryRunAll(ctx, cat)} }()
	go func() { parts <- part{checkStatuspage(ctx, cfg)} }()
	go func() { parts <- part{checkPagerDuty(ctx, cfg)} }()
	var all []Check
	for range 5 {
		all = append(all, (<-parts).checks...)
	}
	all = append(all, checkRoster(cfg)...)
	slices.SortStableFunc(all, func(a, b Check) int {
		return slices.Index(Groups, a.Group) - slices.Index(Groups, b.Group)
	})
	return Report{Checks: all}
}

func probeSources(ctx context.Context, cfg *config.Config, now func() time.Time) []Check {
	results, err := sources.Probe(ctx, cfg, nil)
	if err != nil {
		return []Check{{Group: GroupSources, Name: "all", Detail: err.Error()}}
	}
	var out []Check
	type paneSeen struct {
		sample incident.Sample
		ok     bool
	}
	seen := map[string]paneSeen{}
	failed := map[string]string{} // source → why
	for _, src := range cfg.Sources {
		var lat time.Duration
		var errs []string
		var rl *sources.RateLimit
		n := 0
		for _, r := range results {
			if r.Info.Source != src.ID {
				continue
			}
			n++
			lat = max(lat, r.Latency)
			if r.Err != nil {
				errs = append(errs, fmt.Sprintf("%s: %s", r.Info.Name, r.Err.Error()))
			}
			if r.RateLimit != nil && (rl == nil || r.RateLimit.Remaining < rl.Remaining) {
				rl = r.RateLimit
			}
			for _, s := range r.Samples {
				k := incident.PaneKey(s.Service, s.Pane)
				if _, dup := seen[k]; !dup || r.Err == nil {
					seen[k] = paneSeen{sample: s, ok: true}
				}
			}
		}
		c := Check{Group: GroupSources, Name: src.ID, OK: len(errs) == 0}
		switch {
		case n == 0:
			c.OK, c.Detail = true, "no queries (no pane reads it)"
		case len(errs) > 0:
			c.Detail = strings.Join(errs, "; ")
			failed[src.ID] = errs[0]
		default:
			c.Detail = fmt.Sprintf("answered in %s (%d quer%s)", lat.Round(time.Millisecond), n, map[bool]string{true: "y", false: "ies"}[n == 1])
		}
		if rl != nil {
			c.Detail += "; " + headroom(*rl)
			if rl.Remaining == 0 {
				c.OK = false
				c.Detail += " (exhausted: the panes will go STALE until the reset)"
			}
		}
		out = append(out, c)
	}
	at := now()
	for _, svc := range cfg.Services {
		for _, p := range svc.Panes {
			k := incident.PaneKey(svc.ID, p.ID)
			if why, down := failed[p.Source]; down {
				_ = why // reported with the source: one problem, not one per pane
				continue
			}
			src := cfg.Source(p.Source)
			c := Check{Group: GroupPanes, Name: k}
			ps, ok := seen[k]
			sm := ps.sample
			switch {
			case !ok:
				c.Detail = "the query answered nothing for this pane"
			case sm.Stale:
				c.Detail = "STALE: " + config.Redact(sm.Error)
			case sm.NoData && p.NoData == config.NoDataZero:
				c.OK, c.Detail = true, "no series yet, read as 0 (no_data: zero)"
			case sm.NoData:
				c.Detail = fmt.Sprintf("no series: the query returns nothing (no_data: %s); check the query, or write no_data: zero for a series that appears with its first event", p.NoData)
			default:
				// A delayed pane reads late metrics on purpose: they arrive
				// 10-20 minutes late, so its newest point may be that much
				// older than the window it reads.
				limit := 2*src.Interval.D() + src.Timeout.D() + time.Minute
				if p.Delay > 0 {
					limit += p.Delay.D() + 10*time.Minute
				}
				if age := at.Sub(sm.Time); !sm.Time.IsZero() && age > limit {
					c.Detail = fmt.Sprintf("stale data: the newest point is %s old (%s)", incident.Age(age), incident.FormatValue(sm.Value, p.Unit))
					break
				}
				c.OK, c.Detail = true, incident.FormatValue(sm.Value, p.Unit)
			}
			out = append(out, c)
		}
	}
	return out
}

func headroom(rl sources.RateLimit) string {
	s := fmt.Sprintf("rate limit %d left", rl.Remaining)
	if rl.Limit > 0 {
		s = fmt.Sprintf("rate limit %d/%d left (%.0f%%)", rl.Remaining, rl.Limit, 100*float64(rl.Remaining)/float64(rl.Limit))
	}
	if rl.Reset > 0 {
		s += ", resets in " + incident.Age(rl.Reset)
	}
	return s
}

func checkSlack(ctx context.Context, cfg *config.Config) []Check {
	sc := cfg.Slack
	if sc == nil {
		return []Check{{Group: GroupSlack, Name: "mirror", OK: true, Detail: "not configured: the room does not mirror to Slack"}}
	}
	check := func(name string, err error, ok string) Check {
		if err != nil {
			return Check{Group: GroupSlack, Name: name, Detail: config.Redact(err.Error())}
		}
		return Check{Group: GroupSlack, Name: name, OK: true, Detail: ok}
	}
	api := slack.New(sc.BotToken.Value(), slack.OptionAPIURL(sc.APIURL))
	var out []Check
	auth, err := api.AuthTestContext(ctx)
	ok := ""
	if err == nil {
		ok = fmt.Sprintf("the bot token is %s (%s) in %s", auth.User, auth.UserID, auth.Team)
	}
	out = append(out, check("auth.test", err, ok))
	if err == nil {
		ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: sc.Channel})
		c := check("conversations.info "+sc.Channel, err, "")
		if err == nil {
			c.Detail = "#" + ch.Name
			if ch.IsArchived {
				c.OK, c.Detail = false, c.Detail+" is archived"
			} else if !ch.IsMember {
				c.OK, c.Detail = false, c.Detail+": the bot is not a member; invite it (/invite @bot)"
			}
		}
		out = append(out, c)
	}
	if sc.AppToken.IsSet() {
		app := slack.New(sc.BotToken.Value(), slack.OptionAPIURL(sc.APIURL), slack.OptionAppLevelToken(sc.AppToken.Value()))
		_, _, err := app.StartSocketModeContext(ctx)
		out = append(out, check("apps.connections.open", err, "the app token opens Socket Mode (/warroom commands, Ack buttons)"))
	}
	return out
}

// sampleParams fills a playbook's parameters for a dry run: defaults,
// else the smallest value a parameter accepts. A string without a
// default cannot be guessed (ok false).
// checkStatuspage reads the Statuspage page's components with the
// file's key: the key, the page and every component's statuspage_id.
func checkStatuspage(ctx context.Context, cfg *config.Config) []Check {
	var out []Check
	for _, r := range comms.Probe(ctx, cfg, nil) {
		out = append(out, Check{Group: GroupStatuspage, Name: r.Name, OK: r.OK, Detail: r.Detail})
	}
	return out
}

// checkPagerDuty sends each routing key a resolve nobody triggered.
func checkPagerDuty(ctx context.Context, cfg *config.Config) []Check {
	var out []Check
	for _, r := range paging.Probe(ctx, cfg, nil) {
		out = append(out, Check{Group: GroupPagerDuty, Name: r.Name, OK: r.OK, Detail: r.Detail})
	}
	return out
}

func sampleParams(pb *playbooks.Playbook) (map[string]string, string, bool) {
	out := map[string]string{}
	for i := range pb.Params {
		p := pb.Params[i]
		switch {
		case p.Default != nil:
			out[p.Name] = *p.Default
		case p.Type == playbooks.TypeInt:
			out[p.Name] = fmt.Sprint(p.IntMin)
		case p.Type == playbooks.TypeFloat:
			out[p.Name] = fmt.Sprint(p.Min)
		case p.Type == playbooks.TypeEnum && len(p.Values) > 0:
			out[p.Name] = p.Values[0]
		case p.Type == playbooks.TypeBool:
			out[p.Name] = "false"
		default:
			return nil, p.Name, false
		}
	}
	return out, "", true
}

func dryRunAll(ctx context.Context, cat *playbooks.Catalog) []Check {
	if cat == nil {
		return nil
	}
	var out []Check
	for _, pb := range cat.Playbooks() {
		c := Check{Group: GroupPlaybooks, Name: pb.ID}
		params, missing, ok := sampleParams(pb)
		if !ok {
			c.OK, c.Detail = true, "not dry-run: parameter "+missing+" has no default to try"
			out = append(out, c)
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		plan, err := playbooks.DryRun(dctx, pb, params, playbooks.DryRunOptions{})
		cancel()
		if err != nil {
			c.Detail = "dry run failed: " + config.Redact(err.Error())
			out = append(out, c)
			continue
		}
		var errs []string
		reads, changes := 0, 0
		for _, s := range plan.Steps {
			if s.Error != "" {
				errs = append(errs, s.ID+": "+config.Redact(s.Error))
			}
			if s.Ran {
				reads++
			}
			changes += len(s.Changes)
		}
		if len(errs) > 0 {
			c.Detail = "dry run: " + strings.Join(errs, "; ")
		} else {
			c.OK, c.Detail = true, fmt.Sprintf("dry run ok (%d read%s against live endpoints, %d change%s planned)", reads, sfx(reads), changes, sfx(changes))
		}
		out = append(out, c)
	}
	return out
}

func sfx(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// checkRoster: everyone the file gives a role (command, deputy, scribe,
// comms, an owner or backup, a sign-off) has a way in: an SSH key for
// `warroom serve`, or a Slack ID when the room takes Slack commands
// (Socket Mode, slack.app_token).
func checkRoster(cfg *config.Config) []Check {
	why := map[string][]string{}
	var order []string
	add := func(h, role string) {
		if h == "" {
			return
		}
		if _, ok := why[h]; !ok {
			order = append(order, h)
		}
		why[h] = append(why[h], role)
	}
	add(cfg.Roles.Commander, "commander")
	add(cfg.Roles.Deputy, "deputy")
	add(cfg.Roles.Scribe, "scribe")
	add(cfg.Roles.Comms, "comms")
	for _, s := range cfg.Services {
		add(s.Owner, "owner of "+s.ID)
		add(s.Backup, "backup of "+s.ID)
	}
	if cfg.Launch != nil {
		for _, c := range cfg.Launch.Criteria {
			add(c.SignOff, "signs off "+c.ID)
		}
	}
	slackIn := cfg.Slack != nil && cfg.Slack.AppToken.IsSet()
	var out []Check
	bad := 0
	for _, h := range order {
		p := cfg.Person(h)
		if p == nil {
			continue
		}
		var ways []string
		if len(p.SSHKeys) > 0 {
			ways = append(ways, fmt.Sprintf("%d SSH key%s", len(p.SSHKeys), sfx(len(p.SSHKeys))))
		}
		if p.Slack != "" && slackIn {
			ways = append(ways, "Slack "+p.Slack)
		}
		if len(ways) > 0 {
			continue
		}
		bad++
		detail := "has no way in (" + strings.Join(why[h], ", ") + "): add an SSH key"
		if p.Slack != "" {
			detail += ", or slack.app_token so that their Slack ID can act"
		} else {
			detail += " or a Slack ID"
		}
		out = append(out, Check{Group: GroupRoster, Name: h, Detail: detail})
	}
	if bad == 0 {
		out = append(out, Check{Group: GroupRoster, Name: "everyone", OK: true, Detail: fmt.Sprintf("%d people with a role have a way in", len(order))})
	}
	return out
}
