package config

import (
	"slices"
	"testing"
	"time"
)

func TestSeverityTable(t *testing.T) {
	def := &Source{Type: SourcePrometheus}
	for v, want := range map[string]Severity{
		"critical": SeverityCrit, "Page": SeverityCrit, "Alert": SeverityCrit, " error ": SeverityCrit,
		"warning": SeverityWarn, "Warn": SeverityWarn,
		"info": SeverityInfo, "none": SeverityInfo, "No Data": SeverityInfo, "Skipped": SeverityInfo, "Ignored": SeverityInfo, "Unknown": SeverityInfo,
		"": SeverityWarn, "P7": SeverityWarn, // listed nowhere: someone wrote it for a reason
	} {
		if got := def.Severity(v); got != want {
			t.Errorf("default %q: %s, want %s", v, got, want)
		}
	}
	over := &Source{SeverityMap: &SeverityMap{Crit: []string{"No Data"}, Info: []string{"warning"}, Default: SeverityInfo}}
	for v, want := range map[string]Severity{
		"no data": SeverityCrit, "warning": SeverityInfo, "critical": SeverityCrit, "P7": SeverityInfo, "": SeverityInfo,
	} {
		if got := over.Severity(v); got != want {
			t.Errorf("override %q: %s, want %s", v, got, want)
		}
	}
}

func TestMatchers(t *testing.T) {
	labels := map[string]string{"alertname": "Watchdog", "severity": "none", "service": "tokens"}
	for s, want := range map[string]bool{
		"alertname=Watchdog":                         true,
		`{alertname="Watchdog", severity="none"}`:    true,
		"alertname=Watchdog,severity!=none":          false,
		"alertname=~Watch.*":                         true,
		"alertname=~Watch":                           false, // anchored, as in Prometheus
		"alertname!~Info.*, service=tokens":          true,
		"instance=":                                  true, // missing reads as ""
		`summary="a, b"`:                             false,
		`alertname="Watch\"dog"`:                     false,
		"alertname=Watchdog, alertname=~W.*, team!=": false, // team!="" fails: missing is ""
	} {
		ms, err := ParseMatchers(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if got := ms.Matches(labels); got != want {
			t.Errorf("%s matches %v, want %v", s, got, want)
		}
	}
	for _, bad := range []string{"", "alertname", "a=~(", `a="x`, "=x", "a b=c"} {
		if _, err := ParseMatchers(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	quoted, _ := ParseMatchers(`summary="a, b"`)
	if len(quoted) != 1 || quoted[0].Value != "a, b" {
		t.Errorf("quoted comma: %+v", quoted)
	}
}

func TestQueryMetrics(t *testing.T) {
	for _, c := range []struct {
		t    SourceType
		q    string
		want []string
	}{
		{SourcePrometheus, `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="tokens"}[1m])))`,
			[]string{"http_request_duration_seconds_bucket"}},
		{SourcePrometheus, `100 * sum(rate(http_requests_total{service="history",code=~"5.."}[1m])) / sum(rate(http_requests_total{service="history"}[1m]))`,
			[]string{"http_requests_total"}},
		{SourcePrometheus, `sum(pg_stat_activity_count{datname="allium"}) > 475`, []string{"pg_stat_activity_count"}},
		{SourcePrometheus, `up{job="self"} == 1 and on (instance) node_load1 > 1e+3 offset 5m`, []string{"node_load1", "up"}},
		{SourcePrometheus, `vector(1)`, nil},
		{SourcePrometheus, `{__name__="weird:metric", job="x"}`, []string{"weird:metric"}},
		{SourcePrometheus, `sum without (instance) (rate(x_total[5m:30s])) / ignoring (code) group_left (service) y`, []string{"x_total", "y"}},
		{SourceDatadog, `sum:aws.lambda.throttles{functionname:tokens}.as_rate()`, []string{"aws.lambda.throttles"}},
		{SourceDatadog, `avg(last_1m):sum:aws.lambda.throttles{functionname:tokens} by {functionname}.as_rate() > 100`, []string{"aws.lambda.throttles"}},
		{SourceDatadog, `100 * sum:trace.http.request.errors{service:history}.as_rate() / sum:trace.http.request.hits{service:history}.as_rate()`,
			[]string{"trace.http.request.errors", "trace.http.request.hits"}},
		{SourceDatadog, `p95:trace.http.request{service:history,env:prod}`, []string{"trace.http.request"}},
		{SourceRPC, `lag`, nil},
	} {
		if got := QueryMetrics(c.t, c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s %q: %q, want %q", c.t, c.q, got, c.want)
		}
	}
}

func TestSignalFields(t *testing.T) {
	c, err := Parse("signal.yaml", []byte(`
incident: {name: t}
sources:
  - id: dd
    type: datadog
    api_key: ${DD_API_KEY}
    app_key: ${DD_APP_KEY}
    monitors: tag:"team:launch"
    severity: {info: [warn], default: info}
    drop: [monitor_id=1]
  - id: prom
    type: prometheus
    url: http://127.0.0.1:9090
    alertmanager_url: http://127.0.0.1:9093
    drop: ["alertname=Watchdog", "severity=~info|none"]
services:
  - id: tokens
    owner: alice
    datadog_tags: [functionname:tokens]
    panes:
      - {id: throttles, source: dd, query: "sum:aws.lambda.throttles{functionname:tokens}.as_rate()", delay: 15m, warn: 1, alerts: [monitor_id=10004]}
      - {id: errors, source: prom, query: "sum(rate(errors_total[1m]))", no_data: zero}
      - {id: other, source: prom, query: "x"}
roster: [{handle: alice}]
roles: {commander: alice}
`))
	if err != nil {
		t.Fatal(err)
	}
	dd, prom := c.Source("dd"), c.Source("prom")
	if dd.Monitors != `tag:"team:launch"` || dd.Severity("warn") != SeverityInfo || dd.Severity("Alert") != SeverityCrit || len(dd.Drop) != 1 {
		t.Errorf("datadog %+v", dd)
	}
	if prom.AlertmanagerURL != "http://127.0.0.1:9093" || len(prom.Drop) != 2 {
		t.Errorf("prometheus %+v", prom)
	}
	svc := c.Service("tokens")
	if !slices.Equal(svc.DatadogTags, []string{"functionname:tokens"}) {
		t.Errorf("tags %v", svc.DatadogTags)
	}
	th, er, other := svc.Panes[0], svc.Panes[1], svc.Panes[2]
	if th.Delay.D() != 15*time.Minute || th.NoData != NoDataShow || len(th.Alerts) != 1 || er.NoData != NoDataZero || other.NoData != NoDataShow {
		t.Errorf("panes %+v %+v %+v", th, er, other)
	}
	sets, err := ParseMatcherList(prom.Drop)
	if err != nil || !AnyMatch(sets, map[string]string{"alertname": "Watchdog"}) || !AnyMatch(sets, map[string]string{"severity": "none"}) ||
		AnyMatch(sets, map[string]string{"alertname": "HighLatency", "severity": "critical"}) {
		t.Errorf("drop sets %v %v", sets, err)
	}
}
