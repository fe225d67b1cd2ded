package prometheus

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
)

func TestReduceRules(t *testing.T) {
	at := model.TimeFromUnixNano(time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC).UnixNano())
	nan := model.SampleValue(math.NaN())
	vec := func(vs ...model.SampleValue) model.Vector {
		var out model.Vector
		for i, v := range vs {
			out = append(out, &model.Sample{Metric: model.Metric{"i": model.LabelValue(rune('a' + i))}, Value: v, Timestamp: at})
		}
		return out
	}
	cases := []struct {
		name   string
		val    model.Value
		v      float64
		noData bool
		err    string
	}{
		{"scalar", &model.Scalar{Value: 2.5, Timestamp: at}, 2.5, false, ""},
		{"NaN scalar is no data", &model.Scalar{Value: nan, Timestamp: at}, 0, true, ""},
		{"one element", vec(7), 7, false, ""},
		{"several elements are summed", vec(1.5, 2, 0.5), 4, false, ""},
		{"NaN elements are skipped", vec(1, nan, 2), 3, false, ""},
		{"all NaN is no data", vec(nan, nan), 0, true, ""},
		{"empty vector is no data", model.Vector{}, 0, true, ""},
		{"+Inf is kept", vec(model.SampleValue(math.Inf(1))), math.Inf(1), false, ""},
		{"+Inf plus -Inf is no data", vec(model.SampleValue(math.Inf(1)), model.SampleValue(math.Inf(-1))), 0, true, ""},
		{"matrix: sum of last points", model.Matrix{
			{Values: []model.SamplePair{{Timestamp: at - 1000, Value: 100}, {Timestamp: at, Value: 1}}},
			{Values: []model.SamplePair{{Timestamp: at, Value: 2}}}}, 3, false, ""},
		{"string is an error", &model.String{Value: "hi", Timestamp: at}, 0, false, "returns a string"},
	}
	for _, c := range cases {
		v, ts, noData, err := Reduce(c.val)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v", c.name, err)
			}
			continue
		}
		if err != nil || noData != c.noData || (!noData && v != c.v) {
			t.Errorf("%s: got %v noData=%v err=%v, want %v noData=%v", c.name, v, noData, err, c.v, c.noData)
		}
		if _, empty := c.val.(model.Vector); !(empty && noData) && !ts.Equal(at.Time()) {
			t.Errorf("%s: time %v", c.name, ts)
		}
	}
}

func TestReduceRangeSumsPerTimestamp(t *testing.T) {
	m := model.Matrix{
		{Values: []model.SamplePair{{Timestamp: 1000, Value: 1}, {Timestamp: 2000, Value: 2}, {Timestamp: 3000, Value: model.SampleValue(math.NaN())}}},
		{Values: []model.SamplePair{{Timestamp: 2000, Value: 10}, {Timestamp: 3000, Value: model.SampleValue(math.NaN())}, {Timestamp: 4000, Value: 5}}},
	}
	pts := ReduceRange(m)
	want := []float64{1, 12, 5} // 3000 is all NaN: a gap
	if len(pts) != len(want) {
		t.Fatalf("points %v", pts)
	}
	for i, p := range pts {
		if p.V != want[i] {
			t.Fatalf("points %v, want values %v", pts, want)
		}
	}
	if !pts[0].T.Before(pts[1].T) || pts[2].T.Unix() != 4 {
		t.Fatalf("times %v", pts)
	}
}

func build(t *testing.T, clk clock.Clock, url string, panes ...config.Pane) []sources.Query {
	t.Helper()
	sp := sources.Spec{Source: config.Source{ID: "prom", Type: config.SourcePrometheus, URL: url,
		Interval: config.Duration(5 * time.Second), Timeout: config.Duration(2 * time.Second)}, Origin: "prometheus"}
	for _, p := range panes {
		p.Source = "prom"
		sp.Panes = append(sp.Panes, sources.Pane{Service: "api", Pane: p})
	}
	qs, err := Builder(Options{Backfill: time.Minute})(sources.Env{Clock: clk}, []sources.Spec{sp})
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

func TestErrorsAreClassified(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC))
	prom := fakes.NewProm(clk.Now)
	mode := ""
	prom.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		switch mode {
		case "503":
			fakes.PromError(w, 503, "timeout", "query timed out in query execution")
		case "422":
			fakes.PromError(w, 422, "execution", "invalid regular expression in label_replace(): (")
		case "429":
			w.Header().Set("Retry-After", "17")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "500":
			http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
		default:
			return false
		}
		return true
	})
	srv := httptest.NewServer(prom)
	defer srv.Close()
	qs := build(t, clk, srv.URL, config.Pane{ID: "bad", Query: "bad(up"}, config.Pane{ID: "str", Query: "s"}, config.Pane{ID: "ok", Query: "up"})
	prom.SetString("s", "hello")
	prom.SetVector("up", fakes.PromSample{Value: "1"})
	poll := func(i int) (sources.Result, *sources.Error) {
		res, err := qs[i].Poll(context.Background())
		if err == nil {
			return res, nil
		}
		var se *sources.Error
		if !errors.As(err, &se) {
			t.Fatalf("not a *sources.Error: %#v", err)
		}
		return res, se
	}
	if _, e := poll(0); e == nil || e.Class != sources.Permanent || e.Status != 400 || !strings.Contains(e.Msg, "bad_data") || !strings.Contains(e.Msg, "parse error") {
		t.Fatalf("400: %+v", e)
	}
	if _, e := poll(1); e == nil || e.Class != sources.Permanent || !strings.Contains(e.Msg, "string") {
		t.Fatalf("string result: %+v", e)
	}
	for m, want := range map[string]struct {
		class  sources.Class
		status int
		text   string
		after  time.Duration
	}{
		"503": {sources.Transient, 503, "query timed out", 0},
		"422": {sources.Permanent, 422, "execution", 0},
		"429": {sources.RateLimited, 429, "429", 17 * time.Second},
		"500": {sources.Transient, 500, "500", 0},
	} {
		mode = m
		_, e := poll(2)
		if e == nil || e.Class != want.class || e.Status != want.status || !strings.Contains(e.Msg, want.text) || e.RetryAfter != want.after {
			t.Errorf("%s: %+v", m, e)
		}
	}
	mode = ""
	res, e := poll(2)
	if e != nil || len(res.Samples) != 1 || res.Samples[0].Value != 1 || !res.Samples[0].Time.Equal(clk.Now()) {
		t.Fatalf("ok: %+v %v", res, e)
	}
	// The alerts query of the source is last.
	if qs[3].Info().Name != "alerts" {
		t.Fatalf("queries: %v", qs[3].Info())
	}
}

func TestAlertsImport(t *testing.T) {
	prom := fakes.NewProm(nil)
	prom.SetAlerts(
		fakes.PromAlert{Labels: map[string]string{"alertname": "A", "service": "api", "severity": "critical"}, Annotations: map[string]string{"summary": "api 5xx"}, State: "firing"},
		fakes.PromAlert{Labels: map[string]string{"alertname": "B", "service": "api", "severity": "warning"}, State: "firing"},
		fakes.PromAlert{Labels: map[string]string{"alertname": "C", "service": "api", "severity": "info"}, State: "firing"},
		fakes.PromAlert{Labels: map[string]string{"alertname": "D", "service": "api", "severity": "critical"}, State: "pending"},
	)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	qs := build(t, clock.Real{}, srv.URL)
	res, err := qs[0].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	imp := res.Alerts
	if imp == nil || !imp.Complete || imp.Origin != "prometheus" || len(imp.Alerts) != 3 {
		t.Fatalf("import %+v", imp)
	}
	lv := map[string]incident.Level{}
	for _, a := range imp.Alerts {
		lv[a.Name] = a.Level
		if !a.Firing || a.Service != "api" || a.Key == "" {
			t.Fatalf("alert %+v", a)
		}
		if a.Name == "A" && a.Text != "api 5xx" {
			t.Fatalf("text %q", a.Text)
		}
	}
	if lv["A"] != incident.LevelCrit || lv["B"] != incident.LevelWarn || lv["C"] != incident.LevelInfo {
		t.Fatalf("levels %v", lv)
	}
	// The key is the Alertmanager fingerprint of the label set.
	want := model.LabelSet{"alertname": "A", "service": "api", "severity": "critical"}.Fingerprint().String()
	found := false
	for _, a := range imp.Alerts {
		found = found || a.Key == want
	}
	if !found {
		t.Fatalf("no alert keyed %s", want)
	}
}

// The rules API gives each alert its rule's expression (so its metrics,
// for grouping) and the start: activeAt + for, as Prometheus sends it
// to Alertmanager. drop: and a severity: override apply.
func TestAlertsFromRules(t *testing.T) {
	now := time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)
	prom := fakes.NewProm(func() time.Time { return now })
	prom.SetAlerts(
		fakes.PromAlert{Labels: map[string]string{"alertname": "LambdaThrottling", "service": "tokens", "severity": "warning"}, State: "firing",
			Expr: `sum(rate(aws_lambda_throttles_total{function_name="tokens"}[1m])) > 10`, For: 30 * time.Second},
		fakes.PromAlert{Labels: map[string]string{"alertname": "Watchdog", "severity": "none"}, State: "firing", Expr: "vector(1)"},
		fakes.PromAlert{Labels: map[string]string{"alertname": "DiskLow", "service": "tokens", "severity": "P4"}, State: "firing", Expr: "node_filesystem_avail_bytes < 1e9"},
	)
	srv := httptest.NewServer(prom)
	defer srv.Close()
	src := config.Source{ID: "prom", Type: config.SourcePrometheus, URL: srv.URL, Interval: config.Duration(5 * time.Second), Timeout: config.Duration(2 * time.Second),
		Drop: []string{"alertname=Watchdog"}, SeverityMap: &config.SeverityMap{Crit: []string{"P4"}}}
	qs, err := Builder(Options{})(sources.Env{Clock: clock.Real{}}, []sources.Spec{{Source: src, Origin: "prometheus"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := qs[0].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Alerts.Alerts); n != 2 {
		t.Fatalf("Watchdog is dropped: %+v", res.Alerts.Alerts)
	}
	by := map[string]incident.ExternalAlert{}
	for _, a := range res.Alerts.Alerts {
		by[a.Name] = a
	}
	l := by["LambdaThrottling"]
	if !slices.Equal(l.Metrics, []string{"aws_lambda_throttles_total"}) || !l.StartsAt.Equal(now) || l.Rule != "alertname:LambdaThrottling" || l.Level != incident.LevelWarn {
		t.Fatalf("LambdaThrottling %+v", l)
	}
	if d := by["DiskLow"]; d.Level != incident.LevelCrit {
		t.Fatalf("severity override: %+v", d)
	}
}

func TestImportAlertsOff(t *testing.T) {
	names := func(importAlerts *bool) []string {
		sp := sources.Spec{Source: config.Source{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1",
			Interval: config.Duration(5 * time.Second), Timeout: config.Duration(2 * time.Second), ImportAlerts: importAlerts}, Origin: "prometheus"}
		sp.Panes = []sources.Pane{{Service: "api", Pane: config.Pane{ID: "p", Source: "prom", Query: "up"}}}
		qs, err := Builder(Options{})(sources.Env{Clock: clock.Real{}}, []sources.Spec{sp})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, q := range qs {
			out = append(out, q.Info().Name)
		}
		return out
	}
	off := false
	if got := names(nil); !slices.Contains(got, "alerts") {
		t.Fatalf("alerts are imported by default: %v", got)
	}
	if got := names(&off); slices.Contains(got, "alerts") {
		t.Fatalf("import_alerts: false still polls alerts: %v", got)
	}
}
