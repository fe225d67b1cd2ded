package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
)

// ProbeResult is one check of `warroom check --live` on PagerDuty.
type ProbeResult struct {
	Name   string // the route: room, person:<handle>, service:<id>
	OK     bool
	Detail string
}

// Probe checks every routing key the file pages through, without paging
// anyone: it sends a resolve for a dedup_key no alert has. The Events API
// answers 202 for a key it knows and drops the event (a resolve with no
// open alert of that key is dropped, "Alert De-Duplication" in "Send an
// Alert Event"), and 400 "Invalid routing key" for one it does not. A
// wrong or missing key would otherwise first show when someone is paged.
func Probe(ctx context.Context, cfg *config.Config, hc *http.Client) []ProbeResult {
	if !Enabled(cfg) {
		return []ProbeResult{{Name: "pagerduty", OK: true, Detail: "not configured: pages reach people in the room and Slack only"}}
	}
	if hc == nil {
		hc = outbox.NewHTTPClient(0)
	}
	routes := map[config.Route]bool{}
	if cfg.PagerDuty != nil && cfg.PagerDuty.RoutingKey.IsSet() {
		routes["room"] = true
	}
	for _, p := range cfg.Roster {
		if p.PagerDuty != nil && p.PagerDuty.RoutingKey.IsSet() {
			routes[config.Route("person:"+p.Handle)] = true
		}
	}
	for _, s := range cfg.Services {
		if s.PagerDuty != nil && s.PagerDuty.RoutingKey.IsSet() {
			routes[config.Route("service:"+s.ID)] = true
		}
	}
	names := make([]string, 0, len(routes))
	for r := range routes {
		names = append(names, string(r))
	}
	sort.Strings(names)
	s := newPDSender(cfg, hc, clock.Real{})
	var out []ProbeResult
	for _, name := range names {
		b, _ := json.Marshal(payload{Action: actionResolve, Route: config.Route(name), Dedup: fmt.Sprintf("warroom-check-%d", time.Now().UnixNano())})
		_, err := s.Send(ctx, journal.OutboxRow{Dest: DestPagerDuty, Payload: b}, nil)
		r := ProbeResult{Name: name, OK: err == nil, Detail: "the Events API accepts the routing key (nothing was paged)"}
		if err != nil {
			r.Detail = err.Error()
		}
		out = append(out, r)
	}
	if pd := cfg.PagerDuty; pd != nil && pd.WebhookSecret.IsSet() && pd.WebhookSecret.Value() == "" {
		out = append(out, ProbeResult{Name: "webhook", Detail: "pagerduty.webhook_secret: environment variable " + pd.WebhookSecret.Env + " is not set: acknowledgements made in PagerDuty will be refused"})
	}
	return out
}
