package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
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

// evaluate computes every query's groups over times (nil = no data).
func (d *ddServer) evaluate(defs []*queryDef, times []int64) [][]ddGroup {
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

type ddMonitorGroup struct {
	group  string
	tags   []string
	fn     func(*Snapshot) float64
	noData func(*Snapshot) bool
}

type ddMonitor struct {
	id         int64
	name       string
	query      string
	warn, crit float64
	below      bool
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

func buildMonitors() []ddMonitor {
	var lat, errs, db []ddMonitorGroup
	for i, n := range ServiceNames {
		tags := []string{"service:" + n}
		lat = append(lat, ddMonitorGroup{group: "service:" + n, tags: tags, fn: func(s *Snapshot) float64 { return s.Services[i].P95 }})
		errs = append(errs, ddMonitorGroup{group: "service:" + n, tags: tags, fn: func(s *Snapshot) float64 { return s.Services[i].ErrorPct }})
		if i != svcBanners {
			db = append(db, ddMonitorGroup{group: "service:" + n, tags: append(tags, "db:allium"), fn: func(s *Snapshot) float64 { return s.DB.Used }})
		}
	}
	var r429, lag []ddMonitorGroup
	for i, p := range ProviderNames {
		tags := []string{"provider:" + p, "service:" + p}
		r429 = append(r429, ddMonitorGroup{group: "provider:" + p, tags: tags, fn: func(s *Snapshot) float64 { return 100 * s.RPC[i].Rate429 }})
		lag = append(lag, ddMonitorGroup{group: "provider:" + p, tags: tags, fn: func(s *Snapshot) float64 { return float64(s.RPC[i].Lag) }})
	}
	return []ddMonitor{
		{id: 10001, name: "Launch API p95 latency is high on {{service.name}}", query: "avg(last_1m):p95:trace.http.request{*} by {service} > 1", warn: 0.5, crit: 1, groups: lat},
		{id: 10002, name: "Launch API 5xx rate is high on {{service.name}}", query: "avg(last_1m):100 * sum:trace.http.request.errors{*} by {service}.as_rate() / sum:trace.http.request.hits{*} by {service}.as_rate() > 5", warn: 1, crit: 5, groups: errs},
		{id: 10003, name: "Allium DB connections near max_connections ({{service.name}})", query: "avg(last_1m):avg:postgresql.connections{db:allium} by {service} > 475", warn: 400, crit: 475, groups: db},
		{id: 10004, name: "Lambda throttles on {{functionname.name}}", query: "avg(last_1m):sum:aws.lambda.throttles{functionname:tokens} by {functionname}.as_rate() > 100", warn: 10, crit: 100,
			groups: []ddMonitorGroup{{group: "functionname:tokens", tags: []string{"functionname:tokens", "service:tokens"}, fn: func(s *Snapshot) float64 { return s.Lambda[svcTokens].ThrottlesPerSec }}}},
		{id: 10005, name: "NAT gateway port allocation errors", query: "avg(last_1m):sum:aws.natgateway.error_port_allocation{*} by {nat_gateway_id}.as_rate() > 50", warn: 1, crit: 50,
			groups: []ddMonitorGroup{{group: "nat_gateway_id:" + natGatewayID, tags: []string{"nat_gateway_id:" + natGatewayID, "service:aws"}, fn: func(s *Snapshot) float64 { return s.NAT.ErrorsPerSec }}}},
		{id: 10006, name: "Bots reaching origin through the WAF", query: "avg(last_1m):sum:cloudflare.bot.requests_passed{*} by {zone}.as_rate() > 5000", warn: 2000, crit: 5000,
			groups: []ddMonitorGroup{{group: "zone:claim.wallet.example", tags: []string{"zone:claim.wallet.example", "service:cloudflare"},
				fn: func(s *Snapshot) float64 { return s.WAF.BotAllowed }, noData: func(s *Snapshot) bool { return s.WAF.BotRPS == 0 }}}},
		{id: 10007, name: "RPC provider {{provider.name}} is rate limiting (429s)", query: "avg(last_1m):100 * sum:solana.rpc.rate_limited{*} by {provider}.as_rate() / sum:solana.rpc.requests{*} by {provider}.as_rate() > 5", warn: 1, crit: 5, groups: r429},
		{id: 10008, name: "RPC provider {{provider.name}} slot lag", query: "avg(last_1m):avg:solana.rpc.slot_lag{*} by {provider} > 50", warn: 20, crit: 50, groups: lag},
		{id: 10009, name: "Wallet transaction landing rate is low", query: "avg(last_1m):avg:wallet.tx.landing_rate{service:blowfish} < 80", warn: 90, crit: 80, below: true,
			groups: []ddMonitorGroup{{group: "service:blowfish", tags: []string{"service:blowfish"}, fn: func(s *Snapshot) float64 { return s.Fees.LandingPct }}}},
		{id: 10010, name: "Blowfish scan latency", query: "avg(last_1m):p95:blowfish.scan.duration{service:blowfish} > 1", warn: 0.5, crit: 1,
			groups: []ddMonitorGroup{{group: "service:blowfish", tags: []string{"service:blowfish"}, fn: func(s *Snapshot) float64 { return s.Blowfish.P95 }}}},
	}
}

type ddGroupResult struct {
	Group           string   `json:"group"`
	GroupTags       []string `json:"group_tags"`
	LastNodataTs    int64    `json:"last_nodata_ts"`
	LastTriggeredTs *int64   `json:"last_triggered_ts"`
	MonitorID       int64    `json:"monitor_id"`
	MonitorName     string   `json:"monitor_name"`
	Status          string   `json:"status"`
}

const (
	monitorWindow = 30 * time.Minute
	monitorStep   = 10 * time.Second
	monitorAvg    = 6 // avg(last_1m) over 10 s samples
)

// evalMonitors evaluates every group over the last monitorWindow.
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
	from := now.Add(-monitorWindow)
	if ep := d.w.Epoch(); from.Before(ep) {
		from = ep
	}
	if !now.Before(from) {
		n := int(now.Sub(from) / monitorStep)
		from = now.Add(-time.Duration(n) * monitorStep)
		d.w.mu.Lock()
		d.w.walkLocked(from, now, monitorStep, func(s Snapshot) {
			for mi := range ddMonitors {
				m := &ddMonitors[mi]
				for gi, g := range m.groups {
					a := &accs[mi][gi]
					if g.noData != nil && g.noData(&s) {
						a.recent = a.recent[:0]
						if a.status != "No Data" {
							a.nodata = s.Time.Unix()
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
						a.triggered = s.Time.Unix()
					}
					a.status = st
				}
			}
		})
		d.w.mu.Unlock()
	}
	var out []ddGroupResult
	for mi, m := range ddMonitors {
		for gi, g := range m.groups {
			a := accs[mi][gi]
			st := a.status
			if st == "" {
				st = "No Data"
			}
			r := ddGroupResult{Group: g.group, GroupTags: g.tags, LastNodataTs: a.nodata, MonitorID: m.id, MonitorName: m.name, Status: st}
			if a.triggered != 0 {
				ts := a.triggered
				r.LastTriggeredTs = &ts
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
	statusCounts := map[string]int64{}
	for _, g := range res {
		statusCounts[g.Status]++
	}
	var counts []map[string]any
	for _, s := range []string{"Alert", "Warn", "No Data", "OK"} {
		if n := statusCounts[s]; n > 0 {
			counts = append(counts, map[string]any{"count": n, "name": s})
		}
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
		"counts": map[string]any{"status": counts, "type": []map[string]any{{"count": total, "name": "metric"}}},
		"metadata": map[string]int64{
			"page": page, "page_count": (total + perPage - 1) / perPage, "per_page": perPage, "total_count": total,
		},
	})
}

// matchGroup applies monitor search terms: status:alert, tag:"service:x",
// service:x, group:x, monitor_id:N, or free text on the monitor name.
func matchGroup(g ddGroupResult, terms []string) bool {
	for _, t := range terms {
		k, v, ok := strings.Cut(t, ":")
		lk := strings.ToLower(k)
		switch {
		case ok && lk == "status":
			hit := false
			for _, s := range strings.Split(strings.Trim(v, "()"), ",") {
				if strings.EqualFold(strings.TrimSpace(s), g.Status) {
					hit = true
				}
			}
			if !hit {
				return false
			}
		case ok && (lk == "tag" || lk == "group"):
			hit := false
			for _, gt := range g.GroupTags {
				if strings.EqualFold(gt, v) {
					hit = true
				}
			}
			if !hit && !strings.EqualFold(g.Group, v) {
				return false
			}
		case ok && lk == "monitor_id" || ok && lk == "id":
			if v != strconv.FormatInt(g.MonitorID, 10) {
				return false
			}
		case ok && !strings.Contains(v, " "):
			hit := false
			for _, gt := range g.GroupTags {
				if strings.EqualFold(gt, t) {
					hit = true
				}
			}
			if !hit {
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
