package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// Prometheus API limits, as in Prometheus 2.x.
const (
	promLookback  = 5 * time.Minute
	promMaxPoints = 11000
	alertFor      = 30 * time.Second // every rule's for: (scenario time)
	alertWindow   = 30 * time.Minute // how far back activeAt is searched
	alertStep     = 5 * time.Second  // rule evaluation interval
)

type promServer struct {
	w   *World
	reg *prometheus.Registry
}

func newPromHandler(w *World) http.Handler {
	p := &promServer{w: w, reg: prometheus.NewRegistry()}
	p.reg.MustRegister(collector{w})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/query", p.query)
	mux.HandleFunc("POST /api/v1/query", p.query)
	mux.HandleFunc("GET /api/v1/query_range", p.queryRange)
	mux.HandleFunc("POST /api/v1/query_range", p.queryRange)
	mux.HandleFunc("GET /api/v1/alerts", p.alerts)
	mux.HandleFunc("GET /api/v1/rules", p.rules)
	mux.HandleFunc("GET /api/v1/status/buildinfo", func(rw http.ResponseWriter, _ *http.Request) {
		promOK(rw, map[string]string{"version": "2.42.0", "revision": "warroom-sim", "branch": "sim",
			"buildUser": "warroom", "buildDate": "20260101-00:00:00", "goVersion": "go1.26"})
	})
	ok := func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = rw.Write([]byte("Prometheus Server is Ready.\n"))
	}
	mux.HandleFunc("GET /-/ready", ok)
	mux.HandleFunc("GET /-/healthy", ok)
	return mux
}

// promErr is a Prometheus API error.
type promErr struct {
	status int
	typ    string
	msg    string
}

func badData(format string, a ...any) *promErr {
	return &promErr{http.StatusBadRequest, "bad_data", fmt.Sprintf(format, a...)}
}

func promWrite(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// promEnvelope keeps Prometheus's field order.
type promEnvelope struct {
	Status    string `json:"status"`
	Data      any    `json:"data,omitempty"`
	ErrorType string `json:"errorType,omitempty"`
	Error     string `json:"error,omitempty"`
}

type promResult struct {
	ResultType string       `json:"resultType"`
	Result     []promSeries `json:"result"`
}

func promOK(rw http.ResponseWriter, data any) {
	promWrite(rw, http.StatusOK, promEnvelope{Status: "success", Data: data})
}

func promFail(rw http.ResponseWriter, e *promErr) {
	promWrite(rw, e.status, promEnvelope{Status: "error", ErrorType: e.typ, Error: e.msg})
}

// promTime renders a timestamp as Prometheus does: float seconds, ms precision.
func promTime(t time.Time) json.Number {
	return json.Number(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64))
}

func promValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func parsePromTime(name, s string) (time.Time, *promErr) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9/1e6))*1e6).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, badData("invalid parameter %q: cannot parse %q to a valid timestamp", name, s)
}

func parsePromDuration(name, s string) (time.Duration, *promErr) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if d >= float64(math.MaxInt64) || d <= float64(math.MinInt64) || math.IsNaN(d) {
			return 0, badData("invalid parameter %q: cannot parse %q to a valid duration. It overflows int64", name, s)
		}
		return time.Duration(d), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, badData("invalid parameter %q: cannot parse %q to a valid duration", name, s)
}

// promSeries is one result series in the API's JSON.
type promSeries struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value,omitempty"`
	Values [][]any           `json:"values,omitempty"`
}

// resolver answers one query: the series it names, or an error.
type resolver func(s *Snapshot) []labelled

type labelled struct {
	labels map[string]string
	value  float64
}

// resolvePromQL turns a query into a resolver. Unknown but well-formed
// queries give a resolver with no series (as Prometheus answers an unknown
// metric); malformed ones give bad_data.
func resolvePromQL(q string) (resolver, *promErr) {
	if strings.TrimSpace(q) == "" {
		return nil, badData(`invalid parameter "query": 1:1: parse error: no expression found in input`)
	}
	if d, ok := promIndex[normQuery(q)]; ok {
		return func(s *Snapshot) []labelled {
			out := make([]labelled, 0, len(d.series))
			for _, se := range d.series {
				if se.present == nil || se.present(s) {
					out = append(out, labelled{se.labels, se.fn(s)})
				}
			}
			return out
		}, nil
	}
	if sel, isSel, err := parseSelector(q); isSel {
		if err != nil {
			return nil, badData(`invalid parameter "query": %s`, err.msg)
		}
		return func(s *Snapshot) []labelled {
			var out []labelled
			for _, f := range families(s) {
				if sel.name != "" && !strings.HasPrefix(sel.name, f.name) {
					continue
				}
				for _, fs := range f.flatten() {
					if sel.matches(fs.labels) {
						out = append(out, labelled(fs))
					}
				}
			}
			return out
		}, nil
	}
	if e := checkPromQL(q); e != nil {
		return nil, e
	}
	return func(*Snapshot) []labelled { return nil }, nil
}

// evalTime maps a requested time onto the model: before the epoch there is
// no data; slightly in the future (within the lookback) reads "now".
func (p *promServer) evalTime(t, now time.Time) (time.Time, bool) {
	if t.Before(p.w.Epoch()) {
		return t, false
	}
	if t.After(now) {
		if t.Sub(now) > promLookback {
			return t, false
		}
		return now, true
	}
	return t, true
}

func (p *promServer) query(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		promFail(rw, badData("error parsing form values: %v", err))
		return
	}
	now := p.w.Now()
	t := now
	if s := r.Form.Get("time"); s != "" {
		var e *promErr
		if t, e = parsePromTime("time", s); e != nil {
			promFail(rw, e)
			return
		}
	}
	if s := r.Form.Get("timeout"); s != "" {
		if _, e := parsePromDuration("timeout", s); e != nil {
			promFail(rw, e)
			return
		}
	}
	res, e := resolvePromQL(r.Form.Get("query"))
	if e != nil {
		promFail(rw, e)
		return
	}
	out := []promSeries{}
	if et, ok := p.evalTime(t, now); ok {
		s := p.w.Sample(et)
		for _, l := range res(&s) {
			out = append(out, promSeries{Metric: l.labels, Value: []any{promTime(t), promValue(l.value)}})
		}
	}
	sortSeries(out)
	promOK(rw, promResult{ResultType: "vector", Result: out})
}

func (p *promServer) queryRange(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		promFail(rw, badData("error parsing form values: %v", err))
		return
	}
	start, e := parsePromTime("start", r.Form.Get("start"))
	if e != nil {
		promFail(rw, e)
		return
	}
	end, e := parsePromTime("end", r.Form.Get("end"))
	if e != nil {
		promFail(rw, e)
		return
	}
	if end.Before(start) {
		promFail(rw, badData(`invalid parameter "end": end timestamp must not be before start time`))
		return
	}
	step, e := parsePromDuration("step", r.Form.Get("step"))
	if e != nil {
		promFail(rw, e)
		return
	}
	if step <= 0 {
		promFail(rw, badData(`invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`))
		return
	}
	if end.Sub(start)/step > promMaxPoints {
		promFail(rw, badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
		return
	}
	if s := r.Form.Get("timeout"); s != "" {
		if _, e := parsePromDuration("timeout", s); e != nil {
			promFail(rw, e)
			return
		}
	}
	res, e := resolvePromQL(r.Form.Get("query"))
	if e != nil {
		promFail(rw, e)
		return
	}
	now := p.w.Now()
	// Only evaluate where there is data: [epoch, now+lookback].
	from := start
	if ep := p.w.Epoch(); from.Before(ep) {
		from = start.Add((ep.Sub(start) + step - 1) / step * step)
	}
	to := end
	if lim := now.Add(promLookback); to.After(lim) {
		to = lim
	}
	bykey := map[string]*promSeries{}
	var order []string
	p.w.mu.Lock()
	p.w.walkLocked(from, to, step, func(s Snapshot) {
		ts := s.Time
		if s.Time.After(now) {
			s = p.w.sampleLocked(now)
		}
		for _, l := range res(&s) {
			k := labelKey(l.labels)
			se, ok := bykey[k]
			if !ok {
				se = &promSeries{Metric: l.labels, Values: [][]any{}}
				bykey[k] = se
				order = append(order, k)
			}
			se.Values = append(se.Values, []any{promTime(ts), promValue(l.value)})
		}
	})
	p.w.mu.Unlock()
	out := make([]promSeries, 0, len(order))
	for _, k := range order {
		out = append(out, *bykey[k])
	}
	sortSeries(out)
	promOK(rw, promResult{ResultType: "matrix", Result: out})
}

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return b.String()
}

func sortSeries(s []promSeries) {
	sort.SliceStable(s, func(i, j int) bool { return labelKey(s[i].Metric) < labelKey(s[j].Metric) })
}

// selector is a parsed plain vector selector.
type selector struct {
	name     string
	matchers []matcher
}

type matcher struct {
	name, op, value string
	re              *regexp.Regexp
}

func (s *selector) matches(l map[string]string) bool {
	if s.name != "" && l["__name__"] != s.name {
		return false
	}
	for _, m := range s.matchers {
		v := l[m.name]
		switch m.op {
		case "=":
			if v != m.value {
				return false
			}
		case "!=":
			if v == m.value {
				return false
			}
		case "=~":
			if !m.re.MatchString(v) {
				return false
			}
		case "!~":
			if m.re.MatchString(v) {
				return false
			}
		}
	}
	return true
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
)

// parseSelector parses `name`, `name{...}` or `{...}`. isSel is false when q
// is not shaped like a plain selector (then it is left to checkPromQL).
func parseSelector(q string) (sel selector, isSel bool, err *promErr) {
	q = strings.TrimSpace(q)
	rest := q
	if n := metricNameRE.FindString(rest); n != "" {
		sel.name = n
		rest = rest[len(n):]
	}
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return sel, sel.name != "", nil
	}
	if rest[0] != '{' || rest[len(rest)-1] != '}' || strings.ContainsAny(rest[1:len(rest)-1], "{}()[]") {
		return sel, false, nil
	}
	pos := len(q) - len(rest) + 2
	body := rest[1 : len(rest)-1]
	for {
		body = strings.TrimLeft(body, " \t")
		if body == "" {
			break
		}
		ln := labelNameRE.FindString(body)
		if ln == "" {
			return sel, true, badData("1:%d: parse error: unexpected character inside braces: %q", pos, body[0])
		}
		body = strings.TrimLeft(body[len(ln):], " \t")
		var op string
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(body, o) {
				op = o
				break
			}
		}
		if op == "" {
			return sel, true, badData("1:%d: parse error: unexpected %q in label matching, expected label matching operator", pos, firstRune(body))
		}
		body = strings.TrimLeft(body[len(op):], " \t")
		val, n, ok := unquotePrefix(body)
		if !ok {
			return sel, true, badData("1:%d: parse error: unexpected %q in label matching, expected string", pos, firstRune(body))
		}
		body = strings.TrimLeft(body[n:], " \t")
		m := matcher{name: ln, op: op, value: val}
		if op == "=~" || op == "!~" {
			re, e := regexp.Compile("^(?:" + val + ")$")
			if e != nil {
				return sel, true, badData("1:%d: parse error: error parsing regexp: %v", pos, e)
			}
			m.re = re
		}
		if ln == "__name__" && op == "=" {
			sel.name = val
		} else {
			sel.matchers = append(sel.matchers, m)
		}
		if body == "" {
			break
		}
		if body[0] != ',' {
			return sel, true, badData("1:%d: parse error: unexpected %q in label matching, expected \",\" or \"}\"", pos, firstRune(body))
		}
		body = body[1:]
	}
	if sel.name == "" && len(sel.matchers) == 0 {
		return sel, true, badData("1:%d: parse error: vector selector must contain at least one non-empty matcher", pos)
	}
	return sel, true, nil
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// unquotePrefix reads a quoted string at the start of s.
func unquotePrefix(s string) (string, int, bool) {
	if s == "" || (s[0] != '"' && s[0] != '\'' && s[0] != '`') {
		return "", 0, false
	}
	q := s[0]
	for i := 1; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
			continue
		}
		if s[i] == q {
			lit := s[:i+1]
			if q == '\'' {
				lit = `"` + strings.ReplaceAll(s[1:i], `"`, `\"`) + `"`
			}
			v, err := strconv.Unquote(lit)
			return v, i + 1, err == nil
		}
	}
	return "", 0, false
}

// checkPromQL is a light syntax check: balanced brackets, closed strings,
// PromQL characters only, and no dangling operator.
func checkPromQL(q string) *promErr {
	var stack []byte
	last := byte(0)
	for i := 0; i < len(q); i++ {
		c := q[i]
		pos := i + 1
		switch {
		case c == '"' || c == '\'' || c == '`':
			_, n, ok := unquotePrefix(q[i:])
			if !ok {
				return badData(`invalid parameter "query": 1:%d: parse error: unterminated quoted string`, pos)
			}
			i += n - 1
		case c == '(' || c == '{' || c == '[':
			stack = append(stack, c)
		case c == ')' || c == '}' || c == ']':
			open := map[byte]byte{')': '(', '}': '{', ']': '['}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return badData(`invalid parameter "query": 1:%d: parse error: unexpected %q`, pos, string(c))
			}
			stack = stack[:len(stack)-1]
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			strings.IndexByte("_:.+-*/%^=!~<>,@", c) >= 0:
		default:
			return badData(`invalid parameter "query": 1:%d: parse error: unexpected character: %q`, pos, string(c))
		}
		last = c
	}
	if len(stack) > 0 {
		what := map[byte]string{'(': "unclosed left parenthesis", '{': "unexpected end of input inside braces", '[': "unclosed left bracket"}[stack[len(stack)-1]]
		return badData(`invalid parameter "query": 1:%d: parse error: %s`, len(q)+1, what)
	}
	if strings.IndexByte("+-*/%^=!~<>,", last) >= 0 {
		return badData(`invalid parameter "query": 1:%d: parse error: unexpected end of input`, len(q)+1)
	}
	return nil
}

// alertRule is one Prometheus alerting rule derived from the catalogue.
type alertRule struct {
	name     string
	severity string
	def      *queryDef
	op       string
	thresh   float64
	// summary replaces the catalogue's description (Watchdog's own text).
	summary string
}

var alertRules = buildAlertRules()

// Rules every kube-prometheus installation has besides the launch's own,
// both firing all the time: Watchdog, "an alert that should always be
// firing to certify that Alertmanager is working properly" (severity none,
// expr vector(1), general.rules), and CPUThrottlingHigh (severity info,
// "Processes experience elevated CPU throttling", kubernetes-resources
// rules), here for the banners container.
var (
	watchdogDef = queryDef{QueryInfo: QueryInfo{Query: "vector(1)"},
		series: one(func(*Snapshot) float64 { return 1 })}
	cpuThrottlingDef = queryDef{QueryInfo: QueryInfo{
		Query:   `sum(increase(container_cpu_cfs_throttled_periods_total{container="banners"}[5m])) / sum(increase(container_cpu_cfs_periods_total{container="banners"}[5m]))`,
		Service: "banners", Description: "banners container CPU throttled, share of periods"},
		series: one(func(*Snapshot) float64 { return 0.31 })}
)

func buildAlertRules() []alertRule {
	out := []alertRule{
		{name: "Watchdog", severity: "none", def: &watchdogDef, op: ">", thresh: 0,
			summary: "This is an alert meant to ensure that the entire alerting pipeline is functional."},
		{name: "CPUThrottlingHigh", severity: "info", def: &cpuThrottlingDef, op: ">", thresh: 0.25,
			summary: "31% CPU throttling of container banners"},
	}
	for i := range promTable {
		d := &promTable[i]
		if d.alert == "" || d.Warn == nil {
			continue
		}
		op := ">"
		if d.Direction == "below" {
			op = "<"
		}
		out = append(out,
			alertRule{name: d.alert, severity: "warning", def: d, op: op, thresh: *d.Warn},
			alertRule{name: d.alert, severity: "critical", def: d, op: op, thresh: *d.Crit})
	}
	return out
}

func (a *alertRule) breached(v float64) bool {
	if a.op == "<" {
		return v < a.thresh
	}
	return v > a.thresh
}

func (a *alertRule) expr() string {
	if a.name == "Watchdog" {
		return a.def.Query
	}
	return fmt.Sprintf("%s %s %s", a.def.Query, a.op, strconv.FormatFloat(a.thresh, 'g', -1, 64))
}

func (a *alertRule) labels() map[string]string {
	l := map[string]string{"alertname": a.name, "severity": a.severity}
	if a.def.Service != "" {
		l["service"] = a.def.Service
	}
	return l
}

type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// evalAlerts evaluates every rule every alertStep over the last alertWindow
// and returns the active alerts per rule index.
func (p *promServer) evalAlerts(now time.Time) map[int]promAlert {
	from := now.Add(-alertWindow)
	if ep := p.w.Epoch(); from.Before(ep) {
		from = ep
	}
	if now.Before(from) {
		return nil
	}
	// Align evaluations to the step, ending exactly at now.
	n := int(now.Sub(from) / alertStep)
	from = now.Add(-time.Duration(n) * alertStep)
	since := make([]time.Time, len(alertRules))
	vals := make([]float64, len(alertRules))
	p.w.mu.Lock()
	p.w.walkLocked(from, now, alertStep, func(s Snapshot) {
		for i := range alertRules {
			r := &alertRules[i]
			se := r.def.series[0]
			v := se.fn(&s)
			vals[i] = v
			if (se.present == nil || se.present(&s)) && r.breached(v) {
				if since[i].IsZero() {
					since[i] = s.Time
				}
			} else {
				since[i] = time.Time{}
			}
		}
	})
	p.w.mu.Unlock()
	out := map[int]promAlert{}
	for i := range alertRules {
		if since[i].IsZero() {
			continue
		}
		r := &alertRules[i]
		state := "pending"
		if now.Sub(since[i]) >= alertFor {
			state = "firing"
		}
		summary := r.summary
		if summary == "" {
			summary = fmt.Sprintf("%s %s %s (now %s)", r.def.Description, r.op,
				withUnit(r.thresh, r.def.Unit), withUnit(round3(vals[i]), r.def.Unit))
		}
		out[i] = promAlert{
			Labels:      r.labels(),
			Annotations: map[string]string{"summary": summary},
			State:       state, ActiveAt: since[i].UTC(), Value: strconv.FormatFloat(vals[i], 'e', -1, 64),
		}
	}
	return out
}

func (p *promServer) alerts(rw http.ResponseWriter, _ *http.Request) {
	act := p.evalAlerts(p.w.Now())
	out := []promAlert{}
	for i := range alertRules {
		if a, ok := act[i]; ok {
			out = append(out, a)
		}
	}
	promOK(rw, map[string]any{"alerts": out})
}

func (p *promServer) rules(rw http.ResponseWriter, r *http.Request) {
	now := p.w.Now()
	act := p.evalAlerts(now)
	typ := r.URL.Query().Get("type")
	rules := []any{}
	if typ == "" || typ == "alert" {
		for i := range alertRules {
			ar := &alertRules[i]
			state, alerts := "inactive", []promAlert{}
			if a, ok := act[i]; ok {
				state, alerts = a.State, []promAlert{a}
			}
			rules = append(rules, map[string]any{
				"state": state, "name": ar.name, "query": ar.expr(), "duration": alertFor.Seconds(), "keepFiringFor": 0,
				"labels":      ruleLabels(ar),
				"annotations": map[string]string{"summary": cmp.Or(ar.summary, ar.def.Description)},
				"alerts":      alerts, "health": "ok", "evaluationTime": 0.0005,
				"lastEvaluation": now.UTC().Format(time.RFC3339Nano), "type": "alerting",
			})
		}
	} else if typ != "record" {
		promFail(rw, badData(`invalid parameter "type": %q`, typ))
		return
	}
	promOK(rw, map[string]any{"groups": []any{map[string]any{
		"name": "warroom-sim", "file": "/etc/prometheus/rules/warroom-sim.yml", "interval": alertStep.Seconds(), "limit": 0,
		"rules": rules, "evaluationTime": 0.001, "lastEvaluation": now.UTC().Format(time.RFC3339Nano),
	}}})
}

// ruleLabels are the labels a rule adds to its alerts (not alertname).
func ruleLabels(r *alertRule) map[string]string {
	l := r.labels()
	delete(l, "alertname")
	return l
}

func withUnit(v float64, unit string) string {
	n := strconv.FormatFloat(v, 'g', -1, 64)
	switch unit {
	case "":
		return n
	case "%":
		return n + "%"
	}
	return n + " " + unit
}
