package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// A Prometheus source's alerts arrive by up to three paths, and each alert
// has one identity across them: the fingerprint of its label set, which
// is what Alertmanager calls the alert's fingerprint. Prometheus adds its
// external labels to the alerts it sends to Alertmanager but shows them
// without on its own API, so the poll adds them (read once from
// /api/v1/status/config) before it computes the fingerprint.
//
//   - /api/v1/rules: every alerting rule with its expression and its
//     active alerts. Firing alerts are imported (pending ones not yet),
//     with the rule's metrics (so that a rule about a pane's metric joins
//     the pane's alert group) and activeAt + for as the start. The set is
//     complete for what the poll brought; it never resolves an alert that
//     only the webhook reported (it may come from another Prometheus).
//   - Alertmanager's /api/v2/alerts, instead of the rules, when the
//     source names its alertmanager_url: Alertmanager is then the
//     authority. Silenced and inhibited alerts are imported as silenced
//     (shown, never paging); the set is complete for every path.
//   - the webhook (webhook.go), which Alertmanager calls as alerts fire
//     and resolve, with its startsAt and endsAt.
//
// Severity goes through the source's table (config.DefaultSeverities;
// `info` and `none` never page), and the source's drop: matchers leave
// alerts out (alertname=Watchdog).

// alertSettings is what turns a label set into an imported alert: the
// source's origin, severity table and drop matchers.
type alertSettings struct {
	src    config.Source
	origin string
	drop   []config.Matchers
}

func newSettings(src config.Source, origin string) (*alertSettings, error) {
	drop, err := config.ParseMatcherList(src.Drop)
	if err != nil {
		return nil, fmt.Errorf("source %s: drop: %w", src.ID, err)
	}
	return &alertSettings{src: src, origin: origin, drop: drop}, nil
}

// external builds the alert of a label set; false when a drop: matcher
// leaves it out. fingerprint is Alertmanager's, when it gave one; expr the
// rule's expression, when known.
func (s *alertSettings) external(ls, ann model.LabelSet, fingerprint, expr string) (incident.ExternalAlert, bool) {
	labels := make(map[string]string, len(ls))
	for k, v := range ls {
		labels[string(k)] = string(v)
	}
	if config.AnyMatch(s.drop, labels) {
		return incident.ExternalAlert{}, false
	}
	key := fingerprint
	if key == "" {
		key = ls.Fingerprint().String()
	}
	name := alertName(ls)
	x := incident.ExternalAlert{Origin: s.origin, Key: key, Service: labels["service"], Name: name,
		Level: sources.Level(s.src.Severity(labels["severity"])), Firing: true, Text: summary(ann),
		Labels: labels, Rule: "alertname:" + name}
	if expr != "" {
		x.Metrics = config.QueryMetrics(config.SourcePrometheus, expr)
	}
	return x, true
}

// exprOf reads a rule's expression from an alert's generatorURL
// (http://prometheus/graph?g0.expr=…&g0.tab=1).
func exprOf(generatorURL string) string {
	u, err := url.Parse(generatorURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("g0.expr")
}

type alertsQuery struct {
	c   *conn
	set *alertSettings
	// am is Alertmanager's base URL when it is the authority.
	am    string
	amErr error
	hc    *http.Client

	ext     model.LabelSet // Prometheus' external labels
	extRead bool
}

func newAlertsQuery(c *conn, env sources.Env) (*alertsQuery, error) {
	set, err := newSettings(c.spec.Source, c.spec.Origin)
	if err != nil {
		return nil, err
	}
	q := &alertsQuery{c: c, set: set}
	if raw := c.spec.Source.AlertmanagerURL; raw != "" {
		u, err := config.ExpandEnv(raw)
		if err != nil {
			q.amErr = err
		}
		q.am = strings.TrimRight(u, "/")
		q.hc = env.HTTPClient(1)
	}
	return q, nil
}

func (q *alertsQuery) Info() sources.QueryInfo {
	name := "alerts"
	if q.am != "" || q.amErr != nil {
		name = "alertmanager alerts"
	}
	return sources.QueryInfo{Source: q.c.spec.Source.ID, Name: name, Bucket: ""}
}

func (q *alertsQuery) Poll(ctx context.Context) (sources.Result, error) {
	if q.amErr != nil {
		return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: "alertmanager_url: " + q.amErr.Error(), Err: q.amErr}
	}
	if q.am != "" {
		return q.pollAlertmanager(ctx)
	}
	return q.pollRules(ctx)
}

func (q *alertsQuery) pollRules(ctx context.Context) (sources.Result, error) {
	if err := q.c.check(); err != nil {
		return sources.Result{}, err
	}
	if !q.extRead {
		q.readExternalLabels(ctx)
	}
	cp := &capture{}
	ctx = context.WithValue(ctx, captureKey{}, cp)
	res, err := q.c.api.Rules(ctx, nil)
	if err != nil {
		return sources.Result{}, q.c.classify("rules", cp, err)
	}
	imp := &incident.ImportAlerts{Origin: q.set.origin, Complete: true, Via: "poll"}
	for _, g := range res.Groups {
		for _, r := range g.Rules {
			ar, ok := r.(v1.AlertingRule)
			if !ok {
				continue
			}
			hold := time.Duration(ar.Duration * float64(time.Second))
			for _, a := range ar.Alerts {
				if a == nil || a.State == v1.AlertStatePending || a.State == v1.AlertStateInactive {
					continue // not firing (yet)
				}
				ls := a.Labels.Clone()
				for k, v := range q.ext {
					if _, ok := ls[k]; !ok {
						ls[k] = v // as Prometheus sends it to Alertmanager
					}
				}
				x, ok := q.set.external(ls, a.Annotations, "", ar.Query)
				if !ok {
					continue
				}
				if a.State != v1.AlertStateFiring {
					x.Level = incident.LevelUnknown
					x.Text = strings.TrimSpace("state " + string(a.State) + ". " + x.Text)
				}
				if !a.ActiveAt.IsZero() {
					x.StartsAt = a.ActiveAt.Add(hold)
				}
				imp.Alerts = append(imp.Alerts, x)
			}
		}
	}
	sort.Slice(imp.Alerts, func(i, j int) bool { return imp.Alerts[i].Key < imp.Alerts[j].Key })
	return sources.Result{Alerts: imp}, nil
}

// readExternalLabels reads global.external_labels from the running
// configuration. A server that will not say (404, 403 behind a proxy) has
// none as far as we can know; another failure is retried next poll.
func (q *alertsQuery) readExternalLabels(ctx context.Context) {
	cp := &capture{}
	cfg, err := q.c.api.Config(context.WithValue(ctx, captureKey{}, cp))
	if err != nil {
		q.extRead = cp.status >= 400 && cp.status < 500
		return
	}
	var doc struct {
		Global struct {
			ExternalLabels map[string]string `yaml:"external_labels"`
		} `yaml:"global"`
	}
	q.extRead = true
	if yaml.Unmarshal([]byte(cfg.YAML), &doc) != nil {
		return
	}
	q.ext = model.LabelSet{}
	for k, v := range doc.Global.ExternalLabels {
		q.ext[model.LabelName(k)] = model.LabelValue(v)
	}
}

// amAlert is one alert of Alertmanager's GET /api/v2/alerts
// (gettableAlert in its OpenAPI spec, api/v2/openapi.yaml of 0.25).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	Fingerprint  string            `json:"fingerprint"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// maxAlertsBody bounds Alertmanager's answer: tens of thousands of alerts.
const maxAlertsBody = 64 << 20

func (q *alertsQuery) pollAlertmanager(ctx context.Context) (sources.Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, q.am+"/api/v2/alerts", nil)
	if err != nil {
		return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: "alertmanager_url: " + config.Redact(err.Error()), Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := q.hc.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return sources.Result{}, &sources.Error{Class: sources.Transient, Msg: "alertmanager: timed out", Err: err}
		}
		return sources.Result{}, &sources.Error{Class: sources.Transient, Msg: "alertmanager: " + config.Redact(err.Error()), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAlertsBody+1))
	if err != nil {
		return sources.Result{}, &sources.Error{Class: sources.Transient, Msg: "alertmanager: " + config.Redact(err.Error()), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return sources.Result{}, sources.StatusError(resp.StatusCode, resp.Header, q.c.clk.Now(),
			fmt.Sprintf("alertmanager: HTTP %d: %s", resp.StatusCode, oneLine(string(body), 200)))
	}
	if len(body) > maxAlertsBody {
		return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: fmt.Sprintf("alertmanager: more than %d MiB of alerts", maxAlertsBody>>20)}
	}
	var as []amAlert
	if err := json.Unmarshal(body, &as); err != nil {
		return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: "alertmanager: not the /api/v2/alerts shape: " + oneLine(err.Error(), 120), Err: err}
	}
	imp := &incident.ImportAlerts{Origin: q.set.origin, Complete: true, Via: "poll", Authoritative: true}
	for _, a := range as {
		x, ok := q.set.external(labelSet(a.Labels), labelSet(a.Annotations), a.Fingerprint, exprOf(a.GeneratorURL))
		if !ok {
			continue
		}
		x.StartsAt = a.StartsAt
		switch {
		case len(a.Status.SilencedBy) > 0:
			x.Silenced = "silenced in Alertmanager (silence " + strings.Join(a.Status.SilencedBy, ", ") + ")"
		case len(a.Status.InhibitedBy) > 0:
			x.Silenced = "inhibited in Alertmanager by " + strings.Join(a.Status.InhibitedBy, ", ")
		}
		imp.Alerts = append(imp.Alerts, x)
	}
	sort.Slice(imp.Alerts, func(i, j int) bool { return imp.Alerts[i].Key < imp.Alerts[j].Key })
	return sources.Result{Alerts: imp}, nil
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}
