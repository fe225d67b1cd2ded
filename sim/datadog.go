package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type ddServer struct {
	w      *World
	limit  int
	period time.Duration

	mu      sync.Mutex
	buckets map[string]*rateBucket
}

type rateBucket struct {
	window time.Time
	count  int
}

func newDatadogHandler(w *World, limit int, period time.Duration) http.Handler {
	d := &ddServer{w: w, limit: limit, period: period, buckets: map[string]*rateBucket{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/query/timeseries", d.guard("query_timeseries", d.timeseries))
	mux.HandleFunc("GET /api/v1/monitor/groups/search", d.guard("monitor_groups_search", d.groupSearch))
	mux.HandleFunc("GET /api/v1/validate", d.guard("validate", func(rw http.ResponseWriter, _ *http.Request) {
		ddWrite(rw, http.StatusOK, map[string]bool{"valid": true})
	}))
	mux.HandleFunc("/", func(rw http.ResponseWriter, _ *http.Request) {
		ddWrite(rw, http.StatusNotFound, ddErrors("Not found"))
	})
	return mux
}

func ddErrors(msgs ...string) map[string][]string { return map[string][]string{"errors": msgs} }

func ddWrite(rw http.ResponseWriter, status int, v any) {
	ddWriteAs(rw, "application/json", status, v)
}

func ddWriteAs(rw http.ResponseWriter, contentType string, status int, v any) {
	rw.Header().Set("Content-Type", contentType)
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// guard checks the keys and the rate limit and sets the rate-limit
// headers as the recorded answers have them: lower-case
// x-ratelimit-{limit,period,remaining,reset}, Reset in seconds until the
// calendar-aligned period ends, and no x-ratelimit-name
// (datadog-api-client-python's monitor group search cassette, recorded
// with response headers; docs.datadoghq.com "Rate limits").
func (d *ddServer) guard(bucket string, next http.HandlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("DD-API-KEY") == "" || r.Header.Get("DD-APPLICATION-KEY") == "" {
			ddWrite(rw, http.StatusForbidden, ddErrors("Forbidden"))
			return
		}
		now := d.w.Now()
		win := now.Truncate(d.period)
		d.mu.Lock()
		b := d.buckets[bucket]
		if b == nil || !b.window.Equal(win) {
			b = &rateBucket{window: win}
			d.buckets[bucket] = b
		}
		over := b.count >= d.limit
		if !over {
			b.count++
		}
		remaining := d.limit - b.count
		d.mu.Unlock()
		reset := int(math.Ceil(win.Add(d.period).Sub(now).Seconds()))
		h := rw.Header()
		h["x-ratelimit-limit"] = []string{strconv.Itoa(d.limit)}
		h["x-ratelimit-period"] = []string{strconv.Itoa(int(d.period.Seconds()))}
		h["x-ratelimit-remaining"] = []string{strconv.Itoa(remaining)}
		h["x-ratelimit-reset"] = []string{strconv.Itoa(max(reset, 1))}
		if over {
			ddWrite(rw, http.StatusTooManyRequests, ddErrors(fmt.Sprintf(
				"Rate limit of %d requests in %d seconds reached. Please try again later.", d.limit, int(d.period.Seconds()))))
			return
		}
		next(rw, r)
	}
}

// Datadog timeseries request, as sent by datadogV2.QueryTimeseriesData.
type ddTSRequest struct {
	Data *struct {
		Type       string `json:"type"`
		Attributes *struct {
			From     *int64 `json:"from"`
			To       *int64 `json:"to"`
			Interval *int64 `json:"interval"`
			Queries  []struct {
				DataSource string `json:"data_source"`
				Query      string `json:"query"`
				Name       string `json:"name"`
			} `json:"queries"`
			Formulas []struct {
				Formula string `json:"formula"`
				Alias   string `json:"alias"`
			} `json:"formulas"`
		} `json:"attributes"`
	} `json:"data"`
}

var ddQueryRE = regexp.MustCompile(`^\s*(?:(?:avg|sum|min|max|count|p50|p75|p90|p95|p99|p100)\s*:\s*)?[A-Za-z][A-Za-z0-9_.]*\s*\{[^{}]*\}(?:\s*by\s*\{[^{}]*\})?(?:\s*\.\s*[a-z_]+\(\s*[^()]*\))*\s*$`)

// resolveDD looks a Datadog query up; unknown well-formed queries have no
// series, malformed ones are an error.
func resolveDD(q string) (*queryDef, error) {
	if d, ok := ddIndex[normQuery(q)]; ok {
		return d, nil
	}
	if !ddQueryRE.MatchString(q) {
		return nil, fmt.Errorf("Error parsing query: unable to parse %s: Rule 'scope_expr' didn't match", q)
	}
	return &queryDef{}, nil
}

// niceIntervals are the rollup intervals the fake picks from (ms).
var niceIntervals = []int64{1000, 2000, 5000, 10000, 15000, 20000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000, 7200000, 14400000, 43200000, 86400000}

const ddMaxPoints = 1500

func pickInterval(from, to int64, asked *int64) int64 {
	minIv := (to - from + ddMaxPoints - 1) / ddMaxPoints
	want := (to - from) / 150
	if asked != nil && *asked > 0 {
		want = *asked
	}
	want = max(want, minIv)
	for _, iv := range niceIntervals {
		if iv >= want {
			return iv
		}
	}
	return niceIntervals[len(niceIntervals)-1]
}

// ddTSResponse is the v2 timeseries answer as recorded from the real API
// (datadog-api-client-go cassettes, Feature_Metrics/Scenario_Timeseries_*):
// application/vnd.api+json, data.id "0", unit null on every series, and
// times sparse: only the timestamps where some series has a point, so the
// steps are irregular where ingestion left gaps.
type ddTSResponse struct {
	Data ddTSData `json:"data"`
}

type ddTSData struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Attributes ddTSAttrs `json:"attributes"`
}

type ddTSAttrs struct {
	Series []ddSeriesOut `json:"series"`
	Times  []int64       `json:"times"`
	Values [][]*float64  `json:"values"`
}

type ddSeriesOut struct {
	GroupTags  []string `json:"group_tags"`
	QueryIndex int      `json:"query_index"`
	Unit       any      `json:"unit"`
}

// ddGroup is one group of a query's values over the shared times.
type ddGroup struct {
	tags   []string
	values []*float64
}

func (d *ddServer) timeseries(rw http.ResponseWriter, r *http.Request) {
	var req ddTSRequest
	dec := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		ddWrite(rw, http.StatusBadRequest, ddErrors("Invalid JSON: "+err.Error()))
		return
	}
	if req.Data == nil || req.Data.Attributes == nil {
		ddWrite(rw, http.StatusBadRequest, ddErrors("data.attributes is required"))
		return
	}
	if req.Data.Type != "timeseries_request" {
		ddWrite(rw, http.StatusBadRequest, ddErrors(fmt.Sprintf("invalid type %q, expected timeseries_request", req.Data.Type)))
		return
	}
	a := req.Data.Attributes
	if a.From == nil || a.To == nil {
		ddWrite(rw, http.StatusBadRequest, ddErrors("from and to are required (milliseconds)"))
		return
	}
	from, to := *a.From, *a.To
	if from >= to {
		ddWrite(rw, http.StatusBadRequest, ddErrors("from must be before to"))
		return
	}
	if len(a.Queries) == 0 {
		ddWrite(rw, http.StatusBadRequest, ddErrors("at least one query is required"))
		return
	}
	iv := pickInterval(from, to, a.Interval)
	var times []int64
	for t := (from + iv - 1) / iv * iv; t < to && len(times) < ddMaxPoints; t += iv {
		times = append(times, t)
	}
	defs := make([]*queryDef, len(a.Queries))
	names := map[string]int{}
	for i, q := range a.Queries {
		if q.DataSource != "metrics" && q.DataSource != "cloud_cost" {
			ddWrite(rw, http.StatusBadRequest, ddErrors(fmt.Sprintf("unsupported data_source %q", q.DataSource)))
			return
		}
		def, err := resolveDD(q.Query)
		if err != nil {
			ddWrite(rw, http.StatusBadRequest, ddErrors(err.Error()))
			return
		}
		defs[i] = def
		if q.Name != "" {
			names[q.Name] = i
		}
	}
	var formulas []*fnode
	for _, f := range a.Formulas {
		n, err := parseFormula(f.Formula, names)
		if err != nil {
			ddWrite(rw, http.StatusBadRequest, ddErrors(err.Error()))
			return
		}
		formulas = append(formulas, n)
	}

	groups := d.evaluate(defs, times)
	series := []ddSeriesOut{}
	values := [][]*float64{}
	if len(formulas) == 0 {
		for i, gs := range groups {
			for _, g := range gs {
				series = append(series, ddSeriesOut{GroupTags: g.tags, QueryIndex: i})
				values = append(values, g.values)
			}
		}
	} else {
		for fi, f := range formulas {
			for _, g := range applyFormula(f, groups, len(times)) {
				series = append(series, ddSeriesOut{GroupTags: g.tags, QueryIndex: fi})
				values = append(values, g.values)
			}
		}
	}
	// Sparse: keep only the timestamps where some series has a point.
	keep := make([]bool, len(times))
	kept := []int64{}
	for k, ms := range times {
		for _, vs := range values {
			if vs[k] != nil {
				keep[k] = true
				kept = append(kept, ms)
				break
			}
		}
	}
	for i, vs := range values {
		out := make([]*float64, 0, len(kept))
		for k, v := range vs {
			if keep[k] {
				out = append(out, v)
			}
		}
		values[i] = out
	}
	ddWriteAs(rw, "application/vnd.api+json", http.StatusOK, ddTSResponse{Data: ddTSData{ID: "0", Type: "timeseries_response",
		Attributes: ddTSAttrs{Series: series, Times: kept, Values: values}}})
}

// awsCrawl is how often Datadog's AWS integration crawls CloudWatch. Its
// "Cloud Metric Delay" guide: metrics are crawled "every 10 minutes" and
// arrive with "~15-20 minute delay" (1-minute metrics ~10-12). The model:
// at each crawl (every 10 minutes) the points up to 10 minutes before it
// become available, so the newest point is 10 to 20 minutes old, and an
// answer for the last 5 minutes has no series at all (series: [], as the
// API answers for "no points").
const awsCrawl = 10 * time.Minute

// awsAvailable is the newest instant of an AWS metric Datadog has at now.
func awsAvailable(now time.Time) time.Time { return now.Truncate(awsCrawl).Add(-awsCrawl) }

// evaluate computes every query's groups over times (nil = no data). A
// late (AWS) query has no point after awsAvailable, and no series when it
// has no point in the window.
func (d *ddServer) evaluate(defs []*queryDef, times []int64) [][]ddGroup {
	out := d.evaluatePoints(defs, times)
	for i, def := range defs {
		if !def.late {
			continue
		}
		kept := out[i][:0]
		for _, g := range out[i] {
			if slices.ContainsFunc(g.values, func(v *float64) bool { return v != nil }) {
				kept = append(kept, g)
			}
		}
		out[i] = kept
	}
	return out
}

func (d *ddServer) evaluatePoints(defs []*queryDef, times []int64) [][]ddGroup {
	out := make([][]ddGroup, len(defs))
	for i, def := range defs {
		for _, se := range def.series {
			out[i] = append(out[i], ddGroup{tags: append([]string{}, se.tags...), values: make([]*float64, len(times))})
		}
	}
	if len(times) == 0 {
		return out
	}
	now := d.w.Now()
	avail := awsAvailable(now)
	ep := d.w.Epoch()
	first := -1
	for k, ms := range times {
		if t := time.UnixMilli(ms); !t.Before(ep) && !t.After(now) {
			first = k
			break
		}
	}
	if first < 0 {
		return out
	}
	step := time.Duration(times[1%len(times)]-times[0]) * time.Millisecond
	if len(times) == 1 {
		step = time.Second
	}
	k := first
	seed := d.w.Seed()
	d.w.mu.Lock()
	last := time.UnixMilli(times[len(times)-1])
	if last.After(now) {
		last = now
	}
	d.w.walkLocked(time.UnixMilli(times[first]), last, step, func(s Snapshot) {
		if k >= len(times) {
			return
		}
		// Occasional gaps, as ingestion leaves in real series.
		drop := unitNoise(seed, nzDD, times[k]/1000) > 0.97
		for i, def := range defs {
			if def.late && s.Time.After(avail) {
				continue
			}
			for j, se := range def.series {
				if !drop {
					v := se.fn(&s)
					out[i][j].values[k] = &v
				}
			}
		}
		k++
	})
	d.w.mu.Unlock()
	return out
}

// Formula AST: op 'q' (query ref), 'n' (number), or + - * /.
type fnode struct {
	op   byte
	ref  int
	num  float64
	l, r *fnode
}

type fparser struct {
	s     string
	i     int
	names map[string]int
}

func parseFormula(s string, names map[string]int) (*fnode, error) {
	p := &fparser{s: s, names: names}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("invalid formula %q: unexpected %q", s, p.s[p.i:])
	}
	return n, nil
}

func (p *fparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *fparser) expr() (*fnode, error) {
	l, err := p.term()
	for err == nil {
		p.ws()
		if p.i >= len(p.s) || (p.s[p.i] != '+' && p.s[p.i] != '-') {
			return l, nil
		}
		op := p.s[p.i]
		p.i++
		var r *fnode
		if r, err = p.term(); err == nil {
			l = &fnode{op: op, l: l, r: r}
		}
	}
	return nil, err
}

func (p *fparser) term() (*fnode, error) {
	l, err := p.factor()
	for err == nil {
		p.ws()
		if p.i >= len(p.s) || (p.s[p.i] != '*' && p.s[p.i] != '/') {
			return l, nil
		}
		op := p.s[p.i]
		p.i++
		var r *fnode
		if r, err = p.factor(); err == nil {
			l = &fnode{op: op, l: l, r: r}
		}
	}
	return nil, err
}

func (p *fparser) factor() (*fnode, error) {
	p.ws()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("invalid formula %q: unexpected end", p.s)
	}
	c := p.s[p.i]
	switch {
	case c == '(':
		p.i++
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("invalid formula %q: missing )", p.s)
		}
		p.i++
		return n, nil
	case c == '-':
		p.i++
		n, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &fnode{op: '-', l: &fnode{op: 'n'}, r: n}, nil
	case c >= '0' && c <= '9' || c == '.':
		j := p.i
		for j < len(p.s) && (p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '.' || p.s[j] == 'e') {
			j++
		}
		v, err := strconv.ParseFloat(p.s[p.i:j], 64)
		if err != nil {
			return nil, fmt.Errorf("invalid formula %q: bad number %q", p.s, p.s[p.i:j])
		}
		p.i = j
		return &fnode{op: 'n', num: v}, nil
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
		j := p.i
		for j < len(p.s) && (p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z' || p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] == '_') {
			j++
		}
		name := p.s[p.i:j]
		p.i = j
		idx, ok := p.names[name]
		if !ok {
			return nil, fmt.Errorf("invalid formula %q: unknown query name %q", p.s, name)
		}
		return &fnode{op: 'q', ref: idx}, nil
	}
	return nil, fmt.Errorf("invalid formula %q: unexpected %q", p.s, string(c))
}

func (n *fnode) refs(out map[int]bool) {
	if n == nil {
		return
	}
	if n.op == 'q' {
		out[n.ref] = true
	}
	n.l.refs(out)
	n.r.refs(out)
}

func tagKey(tags []string) string {
	t := append([]string{}, tags...)
	sort.Strings(t)
	return strings.Join(t, ",")
}

// applyFormula evaluates f over the query groups: grouped queries are joined
// on identical tags, single-series queries broadcast.
func applyFormula(f *fnode, groups [][]ddGroup, n int) []ddGroup {
	used := map[int]bool{}
	f.refs(used)
	var keys [][]string
	for q := range used {
		if len(groups[q]) > 1 || (len(groups[q]) == 1 && len(groups[q][0].tags) > 0) {
			for _, g := range groups[q] {
				keys = append(keys, g.tags)
			}
			break
		}
	}
	if keys == nil {
		for q := range used {
			if len(groups[q]) == 0 {
				return nil
			}
		}
		keys = [][]string{{}}
	}
	var out []ddGroup
	for _, tags := range keys {
		pick := func(q int) *ddGroup {
			gs := groups[q]
			if len(gs) == 1 && len(gs[0].tags) == 0 {
				return &gs[0]
			}
			for i := range gs {
				if tagKey(gs[i].tags) == tagKey(tags) {
					return &gs[i]
				}
			}
			return nil
		}
		g := ddGroup{tags: append([]string{}, tags...), values: make([]*float64, n)}
		for k := range n {
			if v, ok := f.eval(pick, k); ok {
				g.values[k] = &v
			}
		}
		out = append(out, g)
	}
	return out
}

func (n *fnode) eval(pick func(int) *ddGroup, k int) (float64, bool) {
	switch n.op {
	case 'n':
		return n.num, true
	case 'q':
		g := pick(n.ref)
		if g == nil || g.values[k] == nil {
			return 0, false
		}
		return *g.values[k], true
	}
	l, ok1 := n.l.eval(pick, k)
	r, ok2 := n.r.eval(pick, k)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch n.op {
	case '+':
		return l + r, true
	case '-':
		return l - r, true
	case '*':
		return l * r, true
	}
	if r == 0 {
		return 0, false
	}
	return l / r, true
}

// Monitors.
//
// What the group search models, and where it is documented:
//
//   - every group has the 15 fields of the responses recorded against the
//     real API (datadog-api-client-go tests/scenarios/cassettes/
//     TestScenarios/v1/Feature_Monitors/Scenario_Monitors_group_search_
//     returns_OK_response.yaml): status, last_nodata_ts, env_tags,
//     muted_remaining, muted_until_ts, all_tags, monitor_name, team_tags,
//     last_triggered_ts, group, downtimes, monitor_id, priority, muted,
//     group_tags;
//   - group_tags holds only the group-by values of the group ("total",
//     "host:compute-0", "@SYNTHETICS_OVERALL@" in the recording); a simple
//     (not multi-alert) monitor has the group "*"; the monitor's own tags,
//     where service:<x> and team:<x> live, are in all_tags; env_tags and
//     team_tags are the values of its env: and team: tags;
//   - last_triggered_ts is 0 for a group that never triggered (recorded);
//     priority is null or 1-5 (recorded);
//   - muted and downtimed groups: "muted": true with muted_until_ts and
//     muted_remaining of 9223372036854775807 for "until unmuted", and
//     downtime objects {monitor_tags, monitor_id: null, modified, scope,
//     start_dt, end_dt: null, id} (recorded by datadog-api-client-python,
//     tests/v1/cassettes/test_scenarios/
//     test_monitors_group_search_returns_ok_response.yaml);
//   - counts has status, muted, tag (all_tags) and type (recorded);
//   - states are MonitorOverallStates: Alert, Warn, No Data, OK (and the
//     client also knows Ignored, Skipped, Unknown); the recorded org had
//     96 of 199 monitors in No Data;
//   - the query is Datadog's monitor search syntax (docs: "Manage
//     Monitors" search): tag:"k:v" on the monitor's tags, group_status:
//     (and the older status:), group:, monitor_id:, free text on the name;
//   - monitors on AWS metrics evaluate with a delay (Datadog recommends an
//     evaluation delay of 900 s for AWS metrics, whose crawler runs every
//     10 minutes; see awsCrawl).
//
// The organisation holds the launch team's monitors (team:launch), one of
// them muted, one under a downtime and one that sits in No Data, and other
// teams' monitors (payments, a synthetics test, a retired batch host) that
// the war room must leave out.

type ddMonitorGroup struct {
	group  string // the group-by values, comma-joined; "*" for a simple monitor
	fn     func(*Snapshot) float64
	noData func(*Snapshot) bool
	state  string // a fixed state (another team's monitor, a retired metric)
}

type ddDowntime struct {
	MonitorTags []string `json:"monitor_tags"`
	MonitorID   *int64   `json:"monitor_id"`
	Modified    int64    `json:"modified"`
	Scope       []string `json:"scope"`
	StartDt     int64    `json:"start_dt"`
	EndDt       *int64   `json:"end_dt"`
	ID          int64    `json:"id"`
}

type ddMonitor struct {
	id         int64
	name       string
	query      string
	tags       []string // the monitor's own tags (all_tags)
	priority   *int64
	warn, crit float64
	below      bool
	delay      time.Duration // evaluation delay (AWS metrics)
	muted      bool          // muted until unmuted
	downtime   *ddDowntime   // an active downtime over every group
	groups     []ddMonitorGroup
}

func (m *ddMonitor) status(v float64) string {
	bad := func(th float64) bool {
		if m.below {
			return v < th
		}
		return v > th
	}
	switch {
	case bad(m.crit):
		return "Alert"
	case bad(m.warn):
		return "Warn"
	}
	return "OK"
}

var ddMonitors = buildMonitors()

func prio(p int64) *int64 { return &p }

func buildMonitors() []ddMonitor {
	launch := []string{"team:launch", "env:prod"}
	var lat, errs, db []ddMonitorGroup
	for i, n := range ServiceNames {
		lat = append(lat, ddMonitorGroup{group: "service:" + n, fn: func(s *Snapshot) float64 { return s.Services[i].P95 }})
		errs = append(errs, ddMonitorGroup{group: "service:" + n, fn: func(s *Snapshot) float64 { return s.Services[i].ErrorPct }})
		if i != svcBanners {
			db = append(db, ddMonitorGroup{group: "service:" + n, fn: func(s *Snapshot) float64 { return s.DB.Used }})
		}
	}
	var r429, lag []ddMonitorGroup
	for i, p := range ProviderNames {
		r429 = append(r429, ddMonitorGroup{group: "provider:" + p, fn: func(s *Snapshot) float64 { return 100 * s.RPC[i].Rate429 }})
		lag = append(lag, ddMonitorGroup{group: "provider:" + p, fn: func(s *Snapshot) float64 { return float64(s.RPC[i].Lag) }})
	}
	return []ddMonitor{
		{id: 10001, name: "Launch API p95 latency is high on {{service.name}}", query: "avg(last_1m):p95:trace.http.request{*} by {service} > 1",
			tags: launch, priority: prio(2), warn: 0.5, crit: 1, groups: lat},
		{id: 10002, name: "Launch API 5xx rate is high on {{service.name}}", query: "avg(last_1m):100 * sum:trace.http.request.errors{*} by {service}.as_rate() / sum:trace.http.request.hits{*} by {service}.as_rate() > 5",
			tags: launch, priority: prio(2), warn: 1, crit: 5, groups: errs},
		{id: 10003, name: "Allium DB connections near max_connections ({{service.name}})", query: "avg(last_1m):avg:postgresql.connections{db:allium} by {service} > 475",
			tags: append([]string{"db:allium"}, launch...), priority: prio(1), warn: 400, crit: 475, groups: db},
		{id: 10004, name: "Lambda throttles on {{functionname.name}}", query: "avg(last_5m):sum:aws.lambda.throttles{functionname:tokens} by {functionname}.as_rate() > 100",
			tags: launch, priority: prio(2), warn: 10, crit: 100, delay: awsEvaluationDelay,
			groups: []ddMonitorGroup{{group: "functionname:tokens", fn: func(s *Snapshot) float64 { return s.Lambda[svcTokens].ThrottlesPerSec }}}},
		{id: 10005, name: "NAT gateway port allocation errors", query: "avg(last_5m):sum:aws.natgateway.error_port_allocation{*} by {nat_gateway_id}.as_rate() > 50",
			tags: append([]string{"service:aws"}, launch...), priority: prio(2), warn: 1, crit: 50, delay: awsEvaluationDelay,
			groups: []ddMonitorGroup{{group: "nat_gateway_id:" + natGatewayID, fn: func(s *Snapshot) float64 { return s.NAT.ErrorsPerSec }}}},
		{id: 10006, name: "Bots reaching origin through the WAF", query: "avg(last_1m):sum:cloudflare.bot.requests_passed{*} by {zone}.as_rate() > 5000",
			tags: append([]string{"service:cloudflare"}, launch...), priority: prio(3), warn: 2000, crit: 5000,
			groups: []ddMonitorGroup{{group: "zone:claim.wallet.example",
				fn: func(s *Snapshot) float64 { return s.WAF.BotAllowed }, noData: func(s *Snapshot) bool { return s.WAF.BotRPS == 0 }}}},
		{id: 10007, name: "RPC provider {{provider.name}} is rate limiting (429s)", query: "avg(last_1m):100 * sum:solana.rpc.rate_limited{*} by {provider}.as_rate() / sum:solana.rpc.requests{*} by {provider}.as_rate() > 5",
			tags: launch, priority: prio(3), warn: 1, crit: 5, groups: r429},
		{id: 10008, name: "RPC provider {{provider.name}} slot lag", query: "avg(last_1m):avg:solana.rpc.slot_lag{*} by {provider} > 50",
			tags: launch, priority: prio(2), warn: 20, crit: 50, groups: lag},
		{id: 10009, name: "Wallet transaction landing rate is low", query: "avg(last_1m):avg:wallet.tx.landing_rate{service:blowfish} < 80",
			tags: append([]string{"service:blowfish"}, launch...), priority: prio(2), warn: 90, crit: 80, below: true,
			groups: []ddMonitorGroup{{group: "*", fn: func(s *Snapshot) float64 { return s.Fees.LandingPct }}}},
		{id: 10010, name: "Blowfish scan latency", query: "avg(last_1m):p95:blowfish.scan.duration{service:blowfish} > 1",
			tags: append([]string{"service:blowfish"}, launch...), warn: 0.5, crit: 1,
			groups: []ddMonitorGroup{{group: "*", fn: func(s *Snapshot) float64 { return s.Blowfish.P95 }}}},
		// A metric the banners team retired: the monitor sits in No Data.
		{id: 10011, name: "Banners CDN cache hit rate", query: "avg(last_15m):avg:banners.cdn.hit_rate{service:banners} < 0.5",
			tags: append([]string{"service:banners"}, launch...), priority: prio(4), warn: 0.7, crit: 0.5, below: true,
			groups: []ddMonitorGroup{{group: "*", state: "No Data"}}},
		// A noisy monitor the history team muted before the launch.
		{id: 10012, name: "History p99 latency", query: "avg(last_1m):p99:trace.http.request{service:history} > 2",
			tags: append([]string{"service:history"}, launch...), priority: prio(4), warn: 1, crit: 2, muted: true,
			groups: []ddMonitorGroup{{group: "*", fn: func(s *Snapshot) float64 { return 1.6 * s.Services[svcHistory].P95 }}}},
		// The canary environment is under a scheduled downtime.
		{id: 10013, name: "Tokens canary error rate", query: "avg(last_5m):sum:trace.http.request.errors{service:tokens,env:canary}.as_rate() > 1",
			tags: []string{"team:launch", "env:canary", "service:tokens"}, priority: prio(3), warn: 0.5, crit: 1,
			downtime: &ddDowntime{MonitorTags: []string{}, Scope: []string{"env:canary"}, ID: 1261921201},
			groups:   []ddMonitorGroup{{group: "*", state: "Alert"}}},
		// Other teams' monitors in the same organisation.
		{id: 20001, name: "Payments API error rate on {{host.name}}", query: "avg(last_5m):sum:trace.http.request.errors{service:payments} by {host}.as_rate() > 5",
			tags: []string{"team:payments", "service:payments", "env:prod"}, priority: prio(1), warn: 2, crit: 5,
			groups: []ddMonitorGroup{{group: "host:pay-1", state: "Alert"}, {group: "host:pay-2", state: "OK"}}},
		{id: 20002, name: "[Synthetics] Marketing site is up", query: `synthetics("mkt-site-check").over("*").last(2).count_by_status()`,
			tags: []string{"testing:api", "check_type:api", "probe_dc:aws:us-east-2", "check_status:live"}, priority: prio(5),
			groups: []ddMonitorGroup{{group: "@SYNTHETICS_OVERALL@", state: "Alert"}, {group: "aws:us-east-2", state: "Alert"}, {group: "total", state: "Alert"}}},
		{id: 20003, name: "Disk space low on {{host.name}}", query: "avg(last_5m):avg:system.disk.in_use{team:data} by {host} > 0.9",
			tags: []string{"team:data", "service:legacy-batch"}, warn: 0.8, crit: 0.9,
			groups: []ddMonitorGroup{{group: "host:batch-7", state: "No Data"}}},
	}
}

// awsEvaluationDelay is the evaluation delay of the monitors on AWS
// metrics: Datadog's guide recommends 900 s (see awsCrawl).
const awsEvaluationDelay = 15 * time.Minute

type ddGroupResult struct {
	Status          string       `json:"status"`
	LastNodataTs    int64        `json:"last_nodata_ts"`
	EnvTags         []string     `json:"env_tags"`
	MutedRemaining  *int64       `json:"muted_remaining"`
	MutedUntilTs    *int64       `json:"muted_until_ts"`
	AllTags         []string     `json:"all_tags"`
	MonitorName     string       `json:"monitor_name"`
	TeamTags        []string     `json:"team_tags"`
	LastTriggeredTs int64        `json:"last_triggered_ts"`
	Group           string       `json:"group"`
	Downtimes       []ddDowntime `json:"downtimes"`
	MonitorID       int64        `json:"monitor_id"`
	Priority        *int64       `json:"priority"`
	Muted           bool         `json:"muted"`
	GroupTags       []string     `json:"group_tags"`
}

const (
	monitorWindow = 30 * time.Minute
	monitorStep   = 10 * time.Second
	monitorAvg    = 6 // avg(last_1m) over 10 s samples
)

// tagValues lists the values of a monitor's key: tags (env_tags, team_tags).
func tagValues(tags []string, key string) []string {
	out := []string{}
	for _, t := range tags {
		if v, ok := strings.CutPrefix(t, key+":"); ok {
			out = append(out, v)
		}
	}
	return out
}

// evalMonitors evaluates every group over the last monitorWindow (ending
// its monitor's evaluation delay ago).
func (d *ddServer) evalMonitors(now time.Time) []ddGroupResult {
	type acc struct {
		recent    []float64
		status    string
		triggered int64
		nodata    int64
	}
	var accs [][]acc
	for _, m := range ddMonitors {
		accs = append(accs, make([]acc, len(m.groups)))
	}
	ep := d.w.Epoch()
	// One walk per evaluation delay (there are two: none, and AWS's).
	var delays []time.Duration
	for _, m := range ddMonitors {
		if !slices.Contains(delays, m.delay) {
			delays = append(delays, m.delay)
		}
	}
	d.w.mu.Lock()
	for _, delay := range delays {
		end := now.Add(-delay)
		from := end.Add(-monitorWindow)
		if from.Before(ep) {
			from = ep
		}
		if end.Before(from) {
			continue
		}
		n := int(end.Sub(from) / monitorStep)
		from = end.Add(-time.Duration(n) * monitorStep)
		d.w.walkLocked(from, end, monitorStep, func(s Snapshot) {
			for mi := range ddMonitors {
				m := &ddMonitors[mi]
				if m.delay != delay {
					continue
				}
				for gi, g := range m.groups {
					a := &accs[mi][gi]
					if g.state != "" {
						continue
					}
					if g.noData != nil && g.noData(&s) {
						a.recent = a.recent[:0]
						if a.status != "No Data" {
							a.nodata = s.Time.Add(m.delay).Unix()
						}
						a.status = "No Data"
						continue
					}
					a.recent = append(a.recent, g.fn(&s))
					if len(a.recent) > monitorAvg {
						a.recent = a.recent[1:]
					}
					sum := 0.0
					for _, v := range a.recent {
						sum += v
					}
					st := m.status(sum / float64(len(a.recent)))
					if (st == "Alert" || st == "Warn") && a.status != "Alert" && a.status != "Warn" {
						a.triggered = s.Time.Add(m.delay).Unix() // when the monitor saw it
					}
					a.status = st
				}
			}
		})
	}
	d.w.mu.Unlock()
	forever := int64(math.MaxInt64)
	var out []ddGroupResult
	for mi, m := range ddMonitors {
		for gi, g := range m.groups {
			a := accs[mi][gi]
			st := a.status
			switch {
			case g.state != "":
				st = g.state
				if st == "Alert" {
					a.triggered = ep.Unix()
				}
				if st == "No Data" {
					a.nodata = ep.Unix()
				}
			case st == "":
				st = "No Data"
			}
			r := ddGroupResult{Status: st, LastNodataTs: a.nodata, EnvTags: tagValues(m.tags, "env"), AllTags: m.tags,
				MonitorName: m.name, TeamTags: tagValues(m.tags, "team"), LastTriggeredTs: a.triggered, Group: g.group,
				Downtimes: []ddDowntime{}, MonitorID: m.id, Priority: m.priority, Muted: m.muted || m.downtime != nil,
				GroupTags: strings.Split(g.group, ",")}
			if r.Muted {
				r.MutedUntilTs, r.MutedRemaining = &forever, &forever
			}
			if m.downtime != nil {
				dt := *m.downtime
				dt.StartDt, dt.Modified = ep.Unix(), ep.Unix()
				r.Downtimes = []ddDowntime{dt}
			}
			out = append(out, r)
		}
	}
	return out
}

var statusRank = map[string]int{"Alert": 0, "Warn": 1, "No Data": 2, "OK": 3}

// tokenize splits a search query on spaces, keeping quoted parts together.
func tokenize(q string) []string {
	var out []string
	var b strings.Builder
	inq := false
	for _, r := range q {
		switch {
		case r == '"':
			inq = !inq
		case r == ' ' && !inq:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func (d *ddServer) groupSearch(rw http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	page, perPage := int64(0), int64(30)
	for _, p := range []struct {
		name string
		dst  *int64
		min  int64
	}{{"page", &page, 0}, {"per_page", &perPage, 1}} {
		if s := qv.Get(p.name); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < p.min {
				ddWrite(rw, http.StatusBadRequest, ddErrors(fmt.Sprintf("Invalid %s parameter: %q", p.name, s)))
				return
			}
			*p.dst = v
		}
	}
	sortBy := qv.Get("sort")
	switch sortBy {
	case "", "status,asc", "status,desc", "name,asc", "name,desc", "group,asc", "group,desc":
	default:
		ddWrite(rw, http.StatusBadRequest, ddErrors(fmt.Sprintf("Invalid sort parameter: %q", sortBy)))
		return
	}
	all := d.evalMonitors(d.w.Now())
	var res []ddGroupResult
	for _, g := range all {
		if matchGroup(g, tokenize(qv.Get("query"))) {
			res = append(res, g)
		}
	}
	sort.SliceStable(res, func(i, j int) bool {
		a, b := res[i], res[j]
		switch sortBy {
		case "name,asc":
			return a.MonitorName < b.MonitorName
		case "name,desc":
			return a.MonitorName > b.MonitorName
		case "group,asc":
			return a.Group < b.Group
		case "group,desc":
			return a.Group > b.Group
		case "status,asc":
			return statusRank[a.Status] > statusRank[b.Status]
		}
		return statusRank[a.Status] < statusRank[b.Status]
	})
	statusCounts, tagCounts := map[string]int64{}, map[string]int64{}
	var muted [2]int64
	for _, g := range res {
		statusCounts[g.Status]++
		if g.Muted {
			muted[1]++
		} else {
			muted[0]++
		}
		for _, t := range g.AllTags {
			tagCounts[t]++
		}
	}
	var counts []map[string]any
	for _, s := range []string{"Alert", "Warn", "No Data", "OK"} {
		if n := statusCounts[s]; n > 0 {
			counts = append(counts, map[string]any{"count": n, "name": s})
		}
	}
	mutedCounts := []map[string]any{}
	for i, n := range muted {
		if n > 0 {
			mutedCounts = append(mutedCounts, map[string]any{"count": n, "name": i == 1})
		}
	}
	tagNames := make([]string, 0, len(tagCounts))
	for t := range tagCounts {
		tagNames = append(tagNames, t)
	}
	sort.Slice(tagNames, func(i, j int) bool {
		if tagCounts[tagNames[i]] != tagCounts[tagNames[j]] {
			return tagCounts[tagNames[i]] > tagCounts[tagNames[j]]
		}
		return tagNames[i] < tagNames[j]
	})
	tags := []map[string]any{}
	for _, t := range tagNames {
		tags = append(tags, map[string]any{"count": tagCounts[t], "name": t})
	}
	total := int64(len(res))
	lo := min(page*perPage, total)
	hi := min(lo+perPage, total)
	groups := res[lo:hi]
	if groups == nil {
		groups = []ddGroupResult{}
	}
	if counts == nil {
		counts = []map[string]any{}
	}
	ddWrite(rw, http.StatusOK, map[string]any{
		"groups": groups,
		"counts": map[string]any{"status": counts, "muted": mutedCounts, "tag": tags, "type": []map[string]any{{"count": total, "name": "metric"}}},
		"metadata": map[string]int64{
			"page": page, "page_count": (total + perPage - 1) / perPage, "per_page": perPage, "total_count": total,
		},
	})
}

// matchGroup applies monitor search terms: tag:"k:v" (the monitor's own
// tags), group_status: (or status:) with one state or a parenthesised
// comma list, group:, monitor_id:, or free text on the monitor name.
func matchGroup(g ddGroupResult, terms []string) bool {
	for _, t := range terms {
		k, v, ok := strings.Cut(t, ":")
		lk := strings.ToLower(k)
		switch {
		case ok && (lk == "status" || lk == "group_status"):
			hit := false
			for _, s := range strings.Split(strings.Trim(v, "()"), ",") {
				if strings.EqualFold(strings.TrimSpace(s), g.Status) || strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(s), "_", " "), g.Status) {
					hit = true
				}
			}
			if !hit {
				return false
			}
		case ok && lk == "tag":
			hit := false
			for _, mt := range g.AllTags {
				if strings.EqualFold(mt, v) {
					hit = true
				}
			}
			if !hit {
				return false
			}
		case ok && lk == "group":
			hit := strings.EqualFold(g.Group, v)
			for _, gt := range g.GroupTags {
				hit = hit || strings.EqualFold(gt, v)
			}
			if !hit {
				return false
			}
		case ok && (lk == "monitor_id" || lk == "id"):
			if v != strconv.FormatInt(g.MonitorID, 10) {
				return false
			}
		default:
			if !strings.Contains(strings.ToLower(g.MonitorName), strings.ToLower(t)) {
				return false
			}
		}
	}
	return true
}
