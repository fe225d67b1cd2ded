// Package datadog polls Datadog with github.com/DataDog/datadog-api-client-go/v2.
// It is the only package that imports that client (a cold build of it takes
// minutes).
//
// Per `type: datadog` source:
//
//   - one timeseries query per service: every pane of the service that
//     reads the source goes into ONE v2 QueryTimeseriesData request
//     (POST /api/v2/query/timeseries), one formula per pane over named
//     metric queries. A pane query may be arithmetic over metric queries
//     ("100 * sum:errors{service:x}.as_rate() / sum:hits{service:x}.as_rate()"):
//     the metric queries are sent as queries (deduplicated within the
//     request) and the rest as the pane's formula;
//   - one monitor query: v1 SearchMonitorGroups, imported as alerts.
//
// Values: each poll asks for the last Options.Window (default max(5 min,
// 3 intervals)); a pane's value is, for each of its series (a `by {…}`
// query has several), the latest non-null point, SUMMED over the series;
// its time is the latest of those points. No series, or only nulls, is NO
// DATA. The first successful poll asks for Options.Backfill (default 1 h)
// and also sends the earlier points (per timestamp, the sum of the
// non-null values) so that sparklines start full.
//
// A pane's `delay` (for metrics that arrive late, as AWS metrics do) moves
// its window that far into the past, in a request of its own.
//
// Monitors: the source's `monitors:` query (Datadog's monitor search
// syntax, e.g. tag:"team:launch") is sent as is and scopes the import;
// without one only groups that name a room service are imported. A
// group's service is found in its group tags and group name, then in the
// monitor's own tags (all_tags, which the client keeps in
// AdditionalProperties): service:<id>, or a service's datadog_tags. Each
// group becomes an alert keyed "<monitor id>/<group>", in the group
// "monitor:<id>" of its service. Its state goes through the severity table
// (config.DefaultSeverities; the source's severity: overrides it): Alert
// → crit, Warn → warn, No Data, Skipped, Ignored and Unknown → info (shown,
// never paging), OK → resolved; a state this client does not know is
// imported as unknown (shown, never paging), never dropped. A muted group
// or one under a downtime is silenced: shown, never paging. The source's
// drop: matchers see monitor_id, monitor_name, group, status, priority,
// service and every key:value tag. last_triggered_ts is the alert's
// start. {{<tag>.name}} variables in monitor names are filled from the
// group's tags. The set is Complete (missing groups resolve) unless it
// was cut at Options.MonitorPages pages.
//
// Server: api_url (e.g. http://127.0.0.1:8126, a proxy) or site
// (datadoghq.eu → https://api.datadoghq.eu), both through the client's
// server index 1 ({protocol}://{name}). Keys: the source's api_key and
// app_key (${ENV} references), else DD_API_KEY and DD_APP_KEY. The
// client's own retry is off: the scheduler backs off, and on a 429 waits
// exactly X-RateLimit-Reset seconds; X-RateLimit-Remaining: 0 on a success
// holds the bucket until the reset too. Every answer's X-RateLimit-*
// headers are the bucket's budget: the status bar and /metrics show it,
// and when the polls would spend it before the reset they slow down
// (sources.Budget). Timeseries queries of a source share one rate-limit
// bucket, monitor queries another. 400 and 403 make
// the source down with Datadog's message (403: the key is wrong or
// missing); they are retried at most once a minute.
package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// Options tune the Datadog source type.
type Options struct {
	// Window each poll asks for; default max(5 min, 3 × interval).
	Window time.Duration
	// Backfill is the window of the first poll; default 1 h, negative for
	// none (the first poll uses Window).
	Backfill time.Duration
	// MonitorQuery is the monitor search used when the source has no
	// monitors: query (Datadog's search syntax, e.g. `tag:"team:wallet"`).
	MonitorQuery string
	// MonitorPages bounds how many pages of MonitorPerPage groups one poll
	// reads (default 10 × 100).
	MonitorPages   int
	MonitorPerPage int64
	// NoMonitors turns the monitor query off.
	NoMonitors bool
}

// Buckets of a Datadog source's queries (QueryInfo.Bucket).
const (
	BucketQuery    = "query"
	BucketMonitors = "monitors"
)

func init() {
	sources.Register(config.SourceDatadog, Builder(Options{}))
}

// Builder returns the Datadog source builder.
func Builder(o Options) sources.Builder {
	if o.Backfill == 0 {
		o.Backfill = time.Hour
	}
	if o.MonitorPages <= 0 {
		o.MonitorPages = 10
	}
	if o.MonitorPerPage <= 0 {
		o.MonitorPerPage = 100
	}
	return func(env sources.Env, specs []sources.Spec) ([]sources.Query, error) {
		clk := env.Clock
		if clk == nil {
			clk = clock.Real{}
		}
		var qs []sources.Query
		var errs []error
		for _, sp := range specs {
			// Panes grouped by service and evaluation delay, in file order:
			// one request reads one window.
			type key struct {
				svc   string
				delay time.Duration
			}
			var order []key
			byKey := map[key][]sources.Pane{}
			for _, p := range sp.Panes {
				k := key{p.Service, p.Delay.D()}
				if _, ok := byKey[k]; !ok {
					order = append(order, k)
				}
				byKey[k] = append(byKey[k], p)
			}
			c, err := newConn(sp, env, clk, len(order)+1, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, k := range order {
				qs = append(qs, newSeriesQuery(c, k.svc, k.delay, byKey[k]))
			}
			if !o.NoMonitors && sp.Source.Imports() {
				mq, err := newMonitorQuery(c, env.Config)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				qs = append(qs, mq)
			}
		}
		return qs, errors.Join(errs...)
	}
}

// conn is one Datadog source: a client and its server and keys.
type conn struct {
	spec       sources.Spec
	clk        clock.Clock
	opts       Options
	metrics    *datadogV2.MetricsApi
	monitors   *datadogV1.MonitorsApi
	serverVars map[string]string
	apiKey     config.Secret
	appKey     config.Secret
	urlErr     error
}

func newConn(sp sources.Spec, env sources.Env, clk clock.Clock, conns int, o Options) (*conn, error) {
	src := sp.Source
	c := &conn{spec: sp, clk: clk, opts: o, apiKey: src.APIKey, appKey: src.AppKey}
	if !c.apiKey.IsSet() {
		c.apiKey = config.Secret{Env: "DD_API_KEY"}
	}
	if !c.appKey.IsSet() {
		c.appKey = config.Secret{Env: "DD_APP_KEY"}
	}
	vars, err := serverVariables(src)
	if err != nil {
		if errors.Is(err, errEnv) {
			c.urlErr = err // every poll reports it: the source is down, the room starts
		} else {
			return nil, fmt.Errorf("source %s: %w", src.ID, err)
		}
	}
	c.serverVars = vars
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = env.HTTPClient(conns)
	cfg.RetryConfiguration.EnableRetry = false
	cl := datadog.NewAPIClient(cfg)
	c.metrics = datadogV2.NewMetricsApi(cl)
	c.monitors = datadogV1.NewMonitorsApi(cl)
	return c, nil
}

var errEnv = errors.New("environment")

// serverVariables returns the variables of server index 1
// ({protocol}://{name}) for the source's api_url or site.
func serverVariables(src config.Source) (map[string]string, error) {
	if src.APIURL != "" {
		raw, err := config.ExpandEnv(src.APIURL)
		if err != nil {
			return nil, fmt.Errorf("api_url: %w: %w", errEnv, err)
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("api_url %q is not an http(s) URL", config.Redact(src.APIURL))
		}
		return map[string]string{"protocol": u.Scheme, "name": u.Host + strings.TrimRight(u.EscapedPath(), "/")}, nil
	}
	site := strings.TrimSpace(src.Site)
	if site == "" {
		site = "datadoghq.com"
	}
	site = strings.TrimPrefix(strings.TrimPrefix(site, "https://"), "http://")
	site = strings.TrimPrefix(strings.TrimRight(site, "/"), "app.")
	if !strings.HasPrefix(site, "api.") {
		site = "api." + site
	}
	return map[string]string{"protocol": "https", "name": site}, nil
}

// context returns ctx with the server and keys the client reads. Missing
// keys are reported without sending a request.
func (c *conn) context(ctx context.Context) (context.Context, error) {
	if c.urlErr != nil {
		return nil, &sources.Error{Class: sources.Permanent, Msg: c.urlErr.Error(), Err: c.urlErr}
	}
	api, app := c.apiKey.Value(), c.appKey.Value()
	var missing []string
	if api == "" {
		missing = append(missing, "API key "+c.apiKey.String())
	}
	if app == "" {
		missing = append(missing, "application key "+c.appKey.String())
	}
	if len(missing) > 0 {
		return nil, &sources.Error{Class: sources.Permanent,
			Msg: "the Datadog " + strings.Join(missing, " and ") + " is not set in the environment"}
	}
	ctx = context.WithValue(ctx, datadog.ContextServerIndex, 1)
	ctx = context.WithValue(ctx, datadog.ContextServerVariables, c.serverVars)
	ctx = context.WithValue(ctx, datadog.ContextAPIKeys, map[string]datadog.APIKey{
		"apiKeyAuth": {Key: api}, "appKeyAuth": {Key: app}})
	return ctx, nil
}

// fail classifies a client error, reading status and rate-limit headers
// from the *http.Response the client returns alongside it.
func (c *conn) fail(what string, resp *http.Response, err error) *sources.Error {
	now := c.clk.Now()
	var ge datadog.GenericOpenAPIError
	if resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		msg := fmt.Sprintf("%s: %s", what, statusLine(resp))
		detail := ""
		if errors.As(err, &ge) {
			detail = errorDetail(ge.Body())
		}
		switch resp.StatusCode {
		case http.StatusForbidden, http.StatusUnauthorized:
			msg += fmt.Sprintf(": the Datadog API key %s or application key %s is wrong or missing", c.apiKey, c.appKey)
		case http.StatusTooManyRequests:
			if rl, ok := sources.ParseRateLimit(resp.Header); ok {
				msg += fmt.Sprintf(": %s used up (%d per %s), resets in %s", rl.Label(), rl.Limit, rl.Period, rl.Reset)
			}
		}
		if detail != "" {
			msg += " (Datadog: " + detail + ")"
		}
		e := sources.StatusError(resp.StatusCode, resp.Header, now, config.Redact(msg))
		e.Err = err
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &sources.Error{Class: sources.Transient, Msg: what + ": timed out", Err: err}
	}
	msg := err.Error()
	if errors.As(err, &ge) && ge.ErrorMessage != "" {
		msg = ge.ErrorMessage
	}
	return &sources.Error{Class: sources.Transient, Msg: config.Redact(what + ": " + oneLine(msg, 200)), Err: err}
}

func statusLine(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// errorDetail reads Datadog's {"errors":["..."]} body.
func errorDetail(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return oneLine(strings.Join(e.Errors, "; "), 300)
	}
	return ""
}

// rateLimit reads a successful answer's X-RateLimit-* headers (nil
// without them): the scheduler paces the bucket by them.
func rateLimit(resp *http.Response) *sources.RateLimit {
	if resp == nil {
		return nil
	}
	if rl, ok := sources.ParseRateLimit(resp.Header); ok {
		return &rl
	}
	return nil
}

// --- timeseries ---

type seriesQuery struct {
	c       *conn
	service string
	delay   time.Duration // the panes' evaluation delay (late metrics)
	panes   []sources.Pane
	batch   batch
	info    sources.QueryInfo

	mu       sync.Mutex
	backfill bool // the next successful poll is the first
}

func newSeriesQuery(c *conn, svc string, delay time.Duration, panes []sources.Pane) *seriesQuery {
	q := &seriesQuery{c: c, service: svc, delay: delay, panes: panes, backfill: c.opts.Backfill > 0}
	var refs []sources.PaneRef
	for _, p := range panes {
		q.batch.add(p.Query)
		refs = append(refs, p.Ref())
	}
	name := svc
	if delay > 0 {
		name += " (" + delay.String() + " late)"
	}
	q.info = sources.QueryInfo{Source: c.spec.Source.ID, Name: name, Panes: refs, Bucket: BucketQuery}
	return q
}

func (q *seriesQuery) Info() sources.QueryInfo { return q.info }

func (q *seriesQuery) window() time.Duration {
	if q.c.opts.Window > 0 {
		return q.c.opts.Window
	}
	return max(5*time.Minute, 3*q.c.spec.Source.Interval.D())
}

// Request builds the request body for a window ending at to.
func (q *seriesQuery) request(window time.Duration, to time.Time) datadogV2.TimeseriesFormulaQueryRequest {
	queries := make([]datadogV2.TimeseriesQuery, len(q.batch.queries))
	for i, mq := range q.batch.queries {
		queries[i] = datadogV2.MetricsTimeseriesQueryAsTimeseriesQuery(&datadogV2.MetricsTimeseriesQuery{
			DataSource: datadogV2.METRICSDATASOURCE_METRICS, Name: datadog.PtrString(queryName(i)), Query: mq})
	}
	formulas := make([]datadogV2.QueryFormula, len(q.batch.formulas))
	for i, f := range q.batch.formulas {
		formulas[i] = datadogV2.QueryFormula{Formula: f}
	}
	step := max(q.c.spec.Source.Interval.D(), window/time.Duration(incident.SeriesLimit), 10*time.Second)
	return datadogV2.TimeseriesFormulaQueryRequest{Data: datadogV2.TimeseriesFormulaRequest{
		Type: datadogV2.TIMESERIESFORMULAREQUESTTYPE_TIMESERIES_REQUEST,
		Attributes: datadogV2.TimeseriesFormulaRequestAttributes{
			From: to.Add(-window).UnixMilli(), To: to.UnixMilli(), Interval: datadog.PtrInt64(step.Milliseconds()),
			Queries: queries, Formulas: formulas}}}
}

func (q *seriesQuery) Poll(ctx context.Context) (sources.Result, error) {
	dctx, err := q.c.context(ctx)
	if err != nil {
		return sources.Result{}, err
	}
	q.mu.Lock()
	first := q.backfill
	q.mu.Unlock()
	window := q.window()
	if first {
		window = max(window, q.c.opts.Backfill)
	}
	now := q.c.clk.Now()
	// A pane with a delay reads the window that ended delay ago, as
	// Datadog's monitors do for metrics that arrive late.
	resp, httpResp, err := q.c.metrics.QueryTimeseriesData(dctx, q.request(window, now.Add(-q.delay)))
	if err != nil {
		return sources.Result{}, q.c.fail("timeseries", httpResp, err)
	}
	samples, partial := q.samples(resp, first, now)
	res := sources.Result{Samples: samples, RateLimit: rateLimit(httpResp)}
	if partial != "" {
		// Panes without a series get STALE with Datadog's message.
		return res, &sources.Error{Class: sources.Permanent, Msg: config.Redact("timeseries: Datadog: " + partial)}
	}
	q.mu.Lock()
	q.backfill = false
	q.mu.Unlock()
	return res, nil
}

// samples reduces a response to pane samples (see the package comment).
// With errors in the response, panes it has no series for are left out
// (they go STALE with the errors, which are returned).
func (q *seriesQuery) samples(resp datadogV2.TimeseriesFormulaQueryResponse, history bool, now time.Time) ([]incident.Sample, string) {
	errText := ""
	if resp.Errors != nil {
		errText = oneLine(*resp.Errors, 300)
	}
	var attr datadogV2.TimeseriesResponseAttributes
	if resp.Data != nil && resp.Data.Attributes != nil {
		attr = *resp.Data.Attributes
	}
	byFormula := map[int][]int{}
	for j, s := range attr.Series {
		idx := 0
		if s.QueryIndex != nil {
			idx = int(*s.QueryIndex)
		}
		byFormula[idx] = append(byFormula[idx], j)
	}
	var out []incident.Sample
	skipped := 0
	for i, p := range q.panes {
		series := byFormula[i]
		if len(series) == 0 && errText != "" {
			skipped++
			continue // unknown, not "no data"
		}
		pts, cur, ok := reduce(attr.Times, attr.Values, series)
		if history {
			for _, pt := range pts {
				out = append(out, incident.Sample{Service: p.Service, Pane: p.ID, Time: pt.T, Value: pt.V})
			}
		}
		if !ok {
			out = append(out, incident.Sample{Service: p.Service, Pane: p.ID, Time: now, NoData: true})
			continue
		}
		out = append(out, incident.Sample{Service: p.Service, Pane: p.ID, Time: cur.T, Value: cur.V})
	}
	if skipped == 0 {
		errText = "" // every pane has its answer; the message was about something else
	}
	return out, errText
}

// reduce returns, for the series (indices into values), the history
// before the current point (per timestamp, the sum of the non-null
// values) and the current point: the sum of each series' latest non-null
// value, at the latest of their times. ok is false when every value is
// null (or there is no series).
func reduce(times []int64, values [][]*float64, series []int) (hist []incident.Point, cur incident.Point, ok bool) {
	var latest int64
	for _, j := range series {
		if j >= len(values) {
			continue
		}
		vs := values[j]
		for k := min(len(vs), len(times)) - 1; k >= 0; k-- {
			if vs[k] != nil {
				cur.V += *vs[k]
				ok = true
				latest = max(latest, times[k])
				break
			}
		}
	}
	if !ok {
		return nil, incident.Point{}, false
	}
	cur.T = time.UnixMilli(latest)
	for k, t := range times {
		if t >= latest {
			break
		}
		sum, seen := 0.0, false
		for _, j := range series {
			if j < len(values) && k < len(values[j]) && values[j][k] != nil {
				sum += *values[j][k]
				seen = true
			}
		}
		if seen {
			hist = append(hist, incident.Point{T: time.UnixMilli(t), V: sum})
		}
	}
	return hist, cur, true
}

// --- monitors ---

// monitorQuery imports monitor groups. Its scope is the source's
// monitors: query (Datadog's search syntax, sent as is); without one,
// only groups whose tags name a room service are kept.
type monitorQuery struct {
	c      *conn
	query  string
	scoped bool
	// byTag maps a tag (lower case) to the room service it names:
	// service:<id> for every service, and each service's datadog_tags.
	byTag map[string]string
	drop  []config.Matchers
}

func newMonitorQuery(c *conn, cfg *config.Config) (*monitorQuery, error) {
	src := c.spec.Source
	q := &monitorQuery{c: c, query: src.Monitors, byTag: map[string]string{}}
	if q.query == "" {
		q.query = c.opts.MonitorQuery
	}
	q.scoped = q.query != ""
	if cfg != nil {
		for _, svc := range cfg.Services {
			for _, t := range svc.DatadogTags {
				q.byTag[strings.ToLower(strings.TrimSpace(t))] = svc.ID
			}
		}
		for _, svc := range cfg.Services {
			if _, taken := q.byTag["service:"+strings.ToLower(svc.ID)]; !taken {
				q.byTag["service:"+strings.ToLower(svc.ID)] = svc.ID
			}
		}
	}
	drop, err := config.ParseMatcherList(src.Drop)
	if err != nil {
		return nil, fmt.Errorf("source %s: drop: %w", src.ID, err)
	}
	q.drop = drop
	return q, nil
}

func (q *monitorQuery) Info() sources.QueryInfo {
	return sources.QueryInfo{Source: q.c.spec.Source.ID, Name: "monitors", Bucket: BucketMonitors}
}

func (q *monitorQuery) Poll(ctx context.Context) (sources.Result, error) {
	dctx, err := q.c.context(ctx)
	if err != nil {
		return sources.Result{}, err
	}
	imp := &incident.ImportAlerts{Origin: q.c.spec.Origin, Complete: true, Via: "poll"}
	var rl *sources.RateLimit
	for page := int64(0); ; page++ {
		if page >= int64(q.c.opts.MonitorPages) {
			imp.Complete = false // more groups than we read: resolve nothing by absence
			break
		}
		p := datadogV1.NewSearchMonitorGroupsOptionalParameters().WithPage(page).WithPerPage(q.c.opts.MonitorPerPage)
		if q.query != "" {
			p = p.WithQuery(q.query)
		}
		resp, httpResp, err := q.c.monitors.SearchMonitorGroups(dctx, *p)
		if err != nil {
			return sources.Result{}, q.c.fail("monitor groups", httpResp, err)
		}
		rl = rateLimit(httpResp)
		for _, g := range resp.Groups {
			if a, ok := q.groupAlert(imp.Origin, readGroup(g)); ok {
				imp.Alerts = append(imp.Alerts, a)
			}
		}
		pages := int64(1)
		if resp.Metadata != nil && resp.Metadata.PageCount != nil {
			pages = *resp.Metadata.PageCount
		}
		if page+1 >= pages || len(resp.Groups) == 0 {
			break
		}
		if rl != nil && rl.Remaining == 0 {
			imp.Complete = false // the bucket is used up: read the rest next time
			break
		}
	}
	sort.SliceStable(imp.Alerts, func(i, j int) bool { return imp.Alerts[i].Key < imp.Alerts[j].Key })
	return sources.Result{Alerts: imp, RateLimit: rl}, nil
}

// monitorGroup is one group of SearchMonitorGroups with the fields the
// client keeps only in AdditionalProperties (all_tags, muted, downtimes,
// muted_until_ts, priority) or, for a state it does not know, in
// UnparsedObject. Shapes: the API reference and the recorded responses
// in datadog-api-client-go's tests/scenarios/cassettes (see
// testdata/README.md).
type monitorGroup struct {
	id, name, group, status string
	groupTags, allTags      []string
	muted                   bool
	mutedUntil              int64 // seconds; 0 none, MaxInt64 forever
	downtimes               []downtime
	lastTriggered           int64 // seconds; 0 never triggered
	priority                string
}

type downtime struct {
	id    string
	scope []string
	end   int64 // seconds; 0 open-ended
}

func readGroup(g datadogV1.MonitorGroupSearchResult) monitorGroup {
	raw := g.AdditionalProperties
	if g.UnparsedObject != nil {
		raw = g.UnparsedObject
	}
	str := func(k string) string {
		switch v := raw[k].(type) {
		case string:
			return v
		case json.Number, float64, int64:
			return fmt.Sprint(v)
		}
		return ""
	}
	m := monitorGroup{group: g.GetGroup(), name: g.GetMonitorName(), groupTags: g.GroupTags,
		allTags: strList(raw["all_tags"]), muted: raw["muted"] == true, mutedUntil: num(raw["muted_until_ts"]), priority: str("priority")}
	switch {
	case g.MonitorId != nil:
		m.id = fmt.Sprint(*g.MonitorId)
	default:
		m.id = str("monitor_id")
	}
	if m.group == "" {
		m.group = str("group")
	}
	if m.name == "" {
		m.name = str("monitor_name")
	}
	if m.groupTags == nil {
		m.groupTags = strList(raw["group_tags"])
	}
	if g.Status != nil {
		m.status = string(*g.Status)
	} else {
		m.status = str("status")
	}
	if v, ok := g.GetLastTriggeredTsOk(); ok && v != nil {
		m.lastTriggered = *v
	} else {
		m.lastTriggered = num(raw["last_triggered_ts"])
	}
	if ds, ok := raw["downtimes"].([]any); ok {
		for _, d := range ds {
			if dm, ok := d.(map[string]any); ok {
				m.downtimes = append(m.downtimes, downtime{id: fmt.Sprint(dm["id"]), scope: strList(dm["scope"]), end: num(dm["end_dt"])})
			}
		}
	}
	return m
}

func strList(v any) []string {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func num(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return i
	case float64:
		return int64(n)
	}
	return 0
}

// groupAlert maps one monitor group, or reports that it is out of scope
// (no room service, or dropped by a drop: matcher).
func (q *monitorQuery) groupAlert(origin string, m monitorGroup) (incident.ExternalAlert, bool) {
	svc := q.serviceOf(m)
	if svc == "" && !q.scoped {
		return incident.ExternalAlert{}, false
	}
	labels := map[string]string{"monitor_id": m.id, "monitor_name": m.name, "group": m.group, "status": m.status, "priority": m.priority, "service": svc}
	for _, tags := range [][]string{m.allTags, m.groupTags} { // group tags win
		for _, t := range tags {
			if k, v, ok := strings.Cut(t, ":"); ok && k != "service" {
				labels[k] = v
			}
		}
	}
	if config.AnyMatch(q.drop, labels) {
		return incident.ExternalAlert{}, false
	}
	name := m.name
	if name == "" {
		name = "monitor " + m.id
	}
	name = renderName(name, append(slices.Clone(m.groupTags), m.allTags...), m.group)
	a := incident.ExternalAlert{Origin: origin, Key: m.id + "/" + m.group, Service: svc, Name: name,
		Labels: labels, Rule: "monitor:" + m.id, Silenced: silenced(m)}
	if m.group != "" && m.group != "*" {
		a.Name = name + " (" + m.group + ")"
	}
	status := m.status
	if status == "" {
		status = "missing"
	}
	switch {
	case status == string(datadogV1.MONITOROVERALLSTATES_OK):
		a.Level, a.Firing = incident.LevelOK, false
	case !datadogV1.MonitorOverallStates(status).IsValid():
		// A state this client does not know: shown, never paging.
		a.Level, a.Firing, a.Text = incident.LevelUnknown, true, "Datadog state "+status
	default:
		a.Level, a.Firing = sources.Level(q.c.spec.Source.Severity(status)), true
		if status != string(datadogV1.MONITOROVERALLSTATES_ALERT) && status != string(datadogV1.MONITOROVERALLSTATES_WARN) {
			a.Text = status // No Data, Skipped, Ignored, Unknown
		}
		if m.lastTriggered > 0 && a.Level != incident.LevelInfo {
			a.StartsAt = time.Unix(m.lastTriggered, 0).UTC()
		}
	}
	return a, true
}

// serviceOf finds the room service a group is about: in its group tags
// and group name first (a monitor grouped by service), then in the
// monitor's own tags (all_tags), through service:<id> or a service's
// datadog_tags.
func (q *monitorQuery) serviceOf(m monitorGroup) string {
	for _, tags := range [][]string{m.groupTags, strings.Split(m.group, ","), m.allTags} {
		for _, t := range tags {
			if svc, ok := q.byTag[strings.ToLower(strings.TrimSpace(t))]; ok {
				return svc
			}
		}
	}
	return ""
}

// silenced says why a muted group or one under a downtime asks no one to
// act: it is shown, never paged.
func silenced(m monitorGroup) string {
	until := func(ts int64) string {
		if ts <= 0 || ts >= 1<<62 {
			return ""
		}
		return " until " + time.Unix(ts, 0).UTC().Format("2006-01-02 15:04Z")
	}
	switch {
	case len(m.downtimes) > 0:
		d := m.downtimes[0]
		return "downtime " + d.id + " (" + strings.Join(d.scope, ",") + ")" + until(d.end)
	case m.muted:
		return "muted" + until(m.mutedUntil)
	}
	return ""
}

// templateVar is a monitor-name template variable, {{service.name}}.
var templateVar = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_./-]+)\.name\s*\}\}`)

// renderName fills {{<tag>.name}} in a monitor name from the group's tags
// (as Datadog does in notifications); unknown variables stay as written.
func renderName(name string, tags []string, group string) string {
	if !strings.Contains(name, "{{") {
		return name
	}
	all := append(slices.Clone(tags), strings.Split(group, ",")...)
	return templateVar.ReplaceAllStringFunc(name, func(v string) string {
		key := templateVar.FindStringSubmatch(v)[1]
		for _, t := range all {
			if val, ok := strings.CutPrefix(strings.TrimSpace(t), key+":"); ok && val != "" {
				return val
			}
		}
		return v
	})
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}
