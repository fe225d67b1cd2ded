package sim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/warroom/warroom/clock"
)

// startTest starts a simulator on a fake clock reading nowMin.
func startTest(t testing.TB, seed uint64, nowMin float64, o Options) (*Sim, *clock.Fake) {
	t.Helper()
	fk := clock.NewFake(at(nowMin))
	o.Seed, o.Clock, o.Start = seed, fk, testT0
	if o.LatencyScale == 0 {
		o.LatencyScale = -1 // no RPC sleeps unless a test asks
	}
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, fk
}

func promAPI(t *testing.T, s *Sim) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: s.PromURL, Client: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

func TestPromQueryAPIWithRealClient(t *testing.T) {
	s, _ := startTest(t, 11, 4.5, Options{})
	p := promAPI(t, s)
	ctx := context.Background()
	now := at(4.5)
	snap := s.World.Sample(now)

	for _, qi := range PromCatalog() {
		q := qi.Query
		val, warn, infos, err := p.Query(ctx, q, now, v1.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(warn) > 0 || len(infos) > 0 {
			t.Errorf("%s: unexpected warnings %v %v", q, warn, infos)
		}
		vec, ok := val.(model.Vector)
		if !ok || len(vec) == 0 {
			t.Fatalf("%s: want a non-empty vector, got %T %v", q, val, val)
		}
		for _, smp := range vec {
			if !smp.Timestamp.Time().Equal(now) || math.IsNaN(float64(smp.Value)) {
				t.Errorf("%s: bad sample %v", q, smp)
			}
		}
	}

	// Values agree with the model.
	check := func(q string, want float64) {
		t.Helper()
		val, _, _, err := p.Query(ctx, q, now)
		if err != nil {
			t.Fatal(err)
		}
		got := float64(val.(model.Vector)[0].Value)
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, model says %v", q, got, want)
		}
	}
	check(`histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="tokens"}[1m])))`, snap.Services[svcTokens].P95)
	check(`sum(pg_stat_activity_count{datname="allium"})`, snap.DB.Used)
	check(`solana_provider_slot_lag{provider="triton"}`, float64(snap.RPC[provTriton].Lag))
	// Whitespace variants of a catalogued query match it.
	check(`sum( pg_stat_activity_count{ datname="allium" } )`, snap.DB.Used)

	// Plain selectors are answered from the /metrics families.
	val, _, _, err := p.Query(ctx, `pg_stat_activity_count{state=~"idle|active"}`, now)
	if err != nil {
		t.Fatal(err)
	}
	if vec := val.(model.Vector); len(vec) != 2 || vec[0].Metric["__name__"] != "pg_stat_activity_count" {
		t.Errorf("selector: %v", vec)
	}
	val, _, _, err = p.Query(ctx, `http_request_duration_seconds_bucket{service="tokens",le="+Inf"}`, now)
	if err != nil || len(val.(model.Vector)) != 1 {
		t.Errorf("bucket selector: %v %v", val, err)
	}

	// Unknown metric: empty vector, like Prometheus.
	val, _, _, err = p.Query(ctx, `no_such_metric{job="x"}`, now)
	if err != nil || val.Type() != model.ValVector || len(val.(model.Vector)) != 0 {
		t.Errorf("unknown metric: %v %v", val, err)
	}
	val, _, _, err = p.Query(ctx, `rate(no_such_metric[5m]) > 3`, now)
	if err != nil || len(val.(model.Vector)) != 0 {
		t.Errorf("unknown expression: %v %v", val, err)
	}
	// Garbage: bad_data, kept by the client as ErrBadData.
	for _, q := range []string{`sum(rate(foo[5m]`, `foo{bar`, `up{job=}`, `foo $ bar`, ``, `sum(x) +`} {
		_, _, _, err = p.Query(ctx, q, now)
		var pe *v1.Error
		if !errors.As(err, &pe) || pe.Type != v1.ErrBadData {
			t.Errorf("%q: want bad_data, got %v", q, err)
		}
	}
	// Before the simulated systems existed: no data.
	val, _, _, err = p.Query(ctx, `up`, at(-60))
	if err != nil || len(val.(model.Vector)) != 0 {
		t.Errorf("before epoch: %v %v", val, err)
	}

	// Range query: matrix, aligned points, nothing after now.
	r := v1.Range{Start: at(-2), End: at(6), Step: 15 * time.Second}
	val, _, _, err = p.QueryRange(ctx, `sum(rate(http_requests_total[1m]))`, r)
	if err != nil {
		t.Fatal(err)
	}
	mat, ok := val.(model.Matrix)
	if !ok || len(mat) != 1 {
		t.Fatalf("want a 1-series matrix, got %v", val)
	}
	pts := mat[0].Values
	// -2..4.5 min at 15 s plus the lookback window (5 min, capped at 6) = 33 points.
	if len(pts) != 33 {
		t.Errorf("points: %d", len(pts))
	}
	for i, sp := range pts {
		if want := at(-2).Add(time.Duration(i) * 15 * time.Second); !sp.Timestamp.Time().Equal(want) {
			t.Fatalf("point %d at %v, want %v", i, sp.Timestamp.Time(), want)
		}
	}
	if first, peak := float64(pts[0].Value), float64(pts[26].Value); first > 1100 || peak < 80000 {
		t.Errorf("range values: start %v, minute 4.5 %v", first, peak)
	}
	// Range values equal instant values at the same time.
	iv, _, _, _ := p.Query(ctx, `sum(rate(http_requests_total[1m]))`, at(1))
	if float64(iv.(model.Vector)[0].Value) != float64(pts[12].Value) {
		t.Errorf("range and instant disagree at minute 1: %v vs %v", iv, pts[12])
	}
	_, _, _, err = p.QueryRange(ctx, `up`, v1.Range{Start: at(-2), End: at(-3), Step: time.Second})
	if err == nil {
		t.Error("end before start accepted")
	}
}

func TestPromRawShapesAndErrors(t *testing.T) {
	s, _ := startTest(t, 11, 4.5, Options{})
	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(s.PromURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", path, ct)
		}
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	code, m := get("/api/v1/query?query=" + url.QueryEscape(`sum(rate(http_requests_total[1m]))`) + "&time=" + "1769882600.5")
	data := m["data"].(map[string]any)
	res := data["result"].([]any)[0].(map[string]any)
	value := res["value"].([]any)
	if code != 200 || m["status"] != "success" || data["resultType"] != "vector" || len(value) != 2 {
		t.Fatalf("vector shape: %d %v", code, m)
	}
	if ts, ok := value[0].(float64); !ok || ts != 1769882600.5 {
		t.Errorf("timestamp %v (%T)", value[0], value[0])
	}
	if _, ok := value[1].(string); !ok {
		t.Errorf("value must be a string: %T", value[1])
	}
	if len(res["metric"].(map[string]any)) != 0 {
		t.Errorf("aggregated series should have no labels: %v", res["metric"])
	}

	for _, c := range []struct{ path, want string }{
		{"/api/v1/query_range?query=up&start=1769882000&end=1769882400", `cannot parse "" to a valid duration`},
		{"/api/v1/query_range?query=up&start=1769882000&end=1769882400&step=0", "zero or negative"},
		{"/api/v1/query_range?query=up&start=0&end=1769882400&step=1", "exceeded maximum resolution"},
		{"/api/v1/query?query=up&time=yesterday", `cannot parse "yesterday" to a valid timestamp`},
		{"/api/v1/query?query=up&timeout=1.5s", `cannot parse "1.5s" to a valid duration`},
		{"/api/v1/query?query=" + url.QueryEscape(`foo{bar="baz"`), "unexpected end of input inside braces"},
	} {
		code, m := get(c.path)
		if code != 400 || m["status"] != "error" || m["errorType"] != "bad_data" || !strings.Contains(m["error"].(string), c.want) {
			t.Errorf("%s: %d %v", c.path, code, m)
		}
	}
	resp, err := http.Get(s.PromURL + "/api/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
	resp, err = http.Post(s.PromURL+"/api/v1/alerts", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("wrong method: %d", resp.StatusCode)
	}
}

func TestPromAlertsRulesAndMetrics(t *testing.T) {
	s, fk := startTest(t, 11, 4.5, Options{})
	p := promAPI(t, s)
	ctx := context.Background()
	alerts, err := p.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firing := map[string]v1.Alert{}
	for _, a := range alerts.Alerts {
		if a.State != v1.AlertStateFiring && a.State != v1.AlertStatePending {
			t.Errorf("state %q", a.State)
		}
		if a.ActiveAt.IsZero() || a.Value == "" || (a.Labels["service"] == "" && a.Labels["alertname"] != "Watchdog") {
			t.Errorf("incomplete alert %+v", a)
		}
		firing[string(a.Labels["alertname"])+"/"+string(a.Labels["severity"])] = a
	}
	// kube-prometheus' Watchdog and an informational alert always fire.
	if a := firing["Watchdog/none"]; a.State != v1.AlertStateFiring || a.Labels["service"] != "" {
		t.Errorf("Watchdog: %+v", a)
	}
	if a := firing["CPUThrottlingHigh/info"]; a.State != v1.AlertStateFiring || a.Labels["service"] != "banners" {
		t.Errorf("info alert: %+v (have %v)", a, keys(firing))
	}
	for _, want := range []string{"DBConnectionsHigh/critical", "LambdaThrottling/critical", "NATPortAllocationErrors/critical",
		"BotsReachingOrigin/critical", "TritonRateLimited/critical", "TokensHighLatency/critical"} {
		a, ok := firing[want]
		if !ok || a.State != v1.AlertStateFiring {
			t.Errorf("%s not firing (have %v)", want, keys(firing))
		}
	}
	for _, unwanted := range []string{"QuickNodeRateLimited/warning", "TxLandingRateLow/warning", "BannersHighLatency/warning"} {
		if _, ok := firing[unwanted]; ok {
			t.Errorf("%s should not be active at minute 4.5", unwanted)
		}
	}
	// Bots crossed the crit threshold around minute 2.4: activeAt says so.
	if a := firing["BotsReachingOrigin/critical"]; a.ActiveAt.Before(at(2)) || a.ActiveAt.After(at(3)) {
		t.Errorf("BotsReachingOrigin activeAt %v", a.ActiveAt)
	}

	// Mitigate the DB and check the alert leaves within 30 s (+ one step).
	s.World.TerminateIdleSessions()
	fk.Advance(35 * time.Second)
	alerts, err = p.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts.Alerts {
		if a.Labels["alertname"] == "DBConnectionsHigh" {
			t.Errorf("DBConnectionsHigh still active after terminating idle sessions: %+v", a)
		}
	}

	rules, err := p.Rules(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Groups) != 1 || len(rules.Groups[0].Rules) != len(alertRules) {
		t.Fatalf("rules: %+v", rules)
	}
	if ar, ok := rules.Groups[0].Rules[0].(v1.AlertingRule); !ok || ar.Health != v1.RuleHealthGood {
		t.Errorf("rule: %#v", rules.Groups[0].Rules[0])
	}

	// /metrics is real text exposition.
	resp, err := http.Get(s.PromURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for name, typ := range map[string]string{
		"http_requests_total": "COUNTER", "http_request_duration_seconds": "HISTOGRAM", "pg_stat_activity_count": "GAUGE",
		"rpc_request_duration_seconds": "SUMMARY", "aws_natgateway_error_port_allocation_total": "COUNTER",
		"cloudflare_requests_total": "COUNTER", "solana_slot": "GAUGE",
	} {
		f, ok := fams[name]
		if !ok || f.GetType().String() != typ {
			t.Errorf("/metrics: %s missing or not %s", name, typ)
		}
	}
	// Labelled series exist once first incremented: no 5xx series at 0.
	reqs := fams["http_requests_total"].GetMetric()
	if len(reqs) < 3 || len(reqs) > 9 {
		t.Errorf("http_requests_total series: %d", len(reqs))
	}
	for _, m := range reqs {
		if m.GetCounter().GetValue() <= 0 {
			t.Errorf("a series before its first increment: %v", m)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
