// Package fakes holds faithful local stand-ins for the HTTP APIs the
// sources poll (Prometheus, Solana/EVM JSON-RPC), for tests and benchmarks,
// and Settled, which tells such a test the scheduler has caught up.
// Shapes follow research/integrations.md (captured from Prometheus 2.42 and
// Agave/EVM docs).
package fakes

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PromSample is one element of a vector result.
type PromSample struct {
	Labels map[string]string
	Value  string // "1", "NaN", "+Inf"
}

// PromAlert is one active alert, listed by /api/v1/alerts and under its
// rule (the alertname) by /api/v1/rules.
type PromAlert struct {
	Labels      map[string]string
	Annotations map[string]string
	State       string // firing, pending
	Expr        string // the rule's expression
	For         time.Duration
}

// Prom is a fake Prometheus HTTP API: /api/v1/query, /api/v1/query_range
// (GET or POST form, as client_golang sends), /api/v1/alerts and
// /api/v1/rules (one alerting rule per alertname, every rule with "type",
// as client_golang requires).
type Prom struct {
	mu      sync.Mutex
	vectors map[string][]PromSample
	scalars map[string]string
	strs    map[string]string
	alerts  []PromAlert
	hook    func(w http.ResponseWriter, r *http.Request) bool
	now     func() time.Time

	Requests atomic.Int64
}

// NewProm returns a fake with no series: every query answers an empty
// vector until set. now stamps results (default time.Now).
func NewProm(now func() time.Time) *Prom {
	if now == nil {
		now = time.Now
	}
	return &Prom{vectors: map[string][]PromSample{}, scalars: map[string]string{}, strs: map[string]string{}, now: now}
}

// SetVector makes query answer a vector of samples.
func (p *Prom) SetVector(query string, ss ...PromSample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vectors[query] = ss
}

// SetScalar makes query answer a scalar.
func (p *Prom) SetScalar(query, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scalars[query] = v
}

// SetString makes query answer a string.
func (p *Prom) SetString(query, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.strs[query] = v
}

// SetAlerts sets /api/v1/alerts.
func (p *Prom) SetAlerts(as ...PromAlert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.alerts = as
}

// SetHook installs a fault: when it returns true it has answered the
// request itself.
func (p *Prom) SetHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hook = h
}

func promJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// PromError answers like Prometheus does for an error.
func PromError(w http.ResponseWriter, code int, typ, msg string) {
	promJSON(w, code, map[string]any{"status": "error", "errorType": typ, "error": msg})
}

// parseTime accepts RFC 3339 or float seconds.
func parseTime(s string, dflt time.Time) (time.Time, error) {
	if s == "" {
		return dflt, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// parseDuration accepts a Prometheus duration or float seconds and, like
// 2.x, rejects "1.5s".
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	if strings.Contains(s, ".") {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
	}
	return d, nil
}

func ts(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (p *Prom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.Requests.Add(1)
	p.mu.Lock()
	hook := p.hook
	p.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		PromError(w, 400, "bad_data", err.Error())
		return
	}
	q := r.Form.Get("query")
	if t := r.Form.Get("timeout"); t != "" {
		if _, err := parseDuration(t); err != nil {
			PromError(w, 400, "bad_data", "invalid parameter \"timeout\": "+err.Error())
			return
		}
	}
	switch r.URL.Path {
	case "/api/v1/query":
		at, err := parseTime(r.Form.Get("time"), p.now())
		if err != nil {
			PromError(w, 400, "bad_data", "invalid parameter \"time\": "+err.Error())
			return
		}
		if strings.HasPrefix(q, "bad(") {
			PromError(w, 400, "bad_data", "invalid parameter \"query\": 1:4: parse error: unexpected end of input")
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if v, ok := p.scalars[q]; ok {
			promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"resultType": "scalar", "result": []any{ts(at), v}}})
			return
		}
		if v, ok := p.strs[q]; ok {
			promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"resultType": "string", "result": []any{ts(at), v}}})
			return
		}
		res := []any{}
		for _, s := range p.vectors[q] {
			res = append(res, map[string]any{"metric": s.Labels, "value": []any{ts(at), s.Value}})
		}
		promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": res}})
	case "/api/v1/query_range":
		start, err1 := parseTime(r.Form.Get("start"), time.Time{})
		end, err2 := parseTime(r.Form.Get("end"), time.Time{})
		step, err3 := parseDuration(r.Form.Get("step"))
		if err1 != nil || err2 != nil || err3 != nil || step <= 0 || start.IsZero() || end.IsZero() {
			PromError(w, 400, "bad_data", "invalid parameter: start, end and step are required")
			return
		}
		if end.Sub(start)/step > 11000 {
			PromError(w, 400, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		res := []any{}
		for _, s := range p.vectors[q] {
			var vals []any
			for t := start; !t.After(end); t = t.Add(step) {
				vals = append(vals, []any{float64(t.Unix()), s.Value})
			}
			res = append(res, map[string]any{"metric": s.Labels, "values": vals})
		}
		promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": res}})
	case "/api/v1/alerts":
		p.mu.Lock()
		defer p.mu.Unlock()
		as := []any{}
		for _, a := range p.alerts {
			as = append(as, map[string]any{"labels": a.Labels, "annotations": a.Annotations, "state": a.State,
				"activeAt": p.now().UTC().Format(time.RFC3339Nano), "value": "1e+00"})
		}
		promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"alerts": as}})
	case "/api/v1/rules":
		p.mu.Lock()
		defer p.mu.Unlock()
		now := p.now().UTC()
		rules := []any{}
		byName := map[string]map[string]any{}
		for _, a := range p.alerts {
			name := a.Labels["alertname"]
			r := byName[name]
			if r == nil {
				r = map[string]any{"state": "inactive", "name": name, "query": a.Expr, "duration": a.For.Seconds(), "keepFiringFor": 0,
					"labels": map[string]string{}, "annotations": map[string]string{}, "alerts": []any{}, "health": "ok",
					"evaluationTime": 0.0003, "lastEvaluation": now.Format(time.RFC3339Nano), "type": "alerting"}
				byName[name] = r
				rules = append(rules, r)
			}
			if a.State == "firing" || r["state"] == "inactive" {
				r["state"] = a.State
			}
			r["alerts"] = append(r["alerts"].([]any), map[string]any{"labels": a.Labels, "annotations": a.Annotations, "state": a.State,
				"activeAt": now.Add(-a.For).Format(time.RFC3339Nano), "value": "1e+00"})
		}
		promJSON(w, 200, map[string]any{"status": "success", "data": map[string]any{"groups": []any{map[string]any{
			"name": "warroom", "file": "/etc/prometheus/rules.yml", "interval": 15, "limit": 0, "rules": rules,
			"evaluationTime": 0.001, "lastEvaluation": now.Format(time.RFC3339Nano)}}}})
	default:
		http.Error(w, "404 page not found", http.StatusNotFound)
	}
}
