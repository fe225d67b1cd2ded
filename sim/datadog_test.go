package sim

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"
)

func ddClient(s *Sim, keys bool) (*datadog.APIClient, context.Context) {
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	ctx := context.WithValue(context.Background(), datadog.ContextServerIndex, 1)
	ctx = context.WithValue(ctx, datadog.ContextServerVariables, map[string]string{"protocol": "http", "name": strings.TrimPrefix(s.DatadogURL, "http://")})
	if keys {
		ctx = context.WithValue(ctx, datadog.ContextAPIKeys, map[string]datadog.APIKey{
			"apiKeyAuth": {Key: "test-api-key"}, "appKeyAuth": {Key: "test-app-key"}})
	}
	return datadog.NewAPIClient(cfg), ctx
}

func tsRequest(from, to time.Time, interval int64, formulas []string, queries ...string) datadogV2.TimeseriesFormulaQueryRequest {
	var qs []datadogV2.TimeseriesQuery
	for i, q := range queries {
		qs = append(qs, datadogV2.MetricsTimeseriesQueryAsTimeseriesQuery(&datadogV2.MetricsTimeseriesQuery{
			DataSource: datadogV2.METRICSDATASOURCE_METRICS, Name: datadog.PtrString(string(rune('a' + i))), Query: q}))
	}
	var fs []datadogV2.QueryFormula
	for _, f := range formulas {
		fs = append(fs, datadogV2.QueryFormula{Formula: f})
	}
	return datadogV2.TimeseriesFormulaQueryRequest{Data: datadogV2.TimeseriesFormulaRequest{
		Type: datadogV2.TIMESERIESFORMULAREQUESTTYPE_TIMESERIES_REQUEST,
		Attributes: datadogV2.TimeseriesFormulaRequestAttributes{
			From: from.UnixMilli(), To: to.UnixMilli(), Interval: datadog.PtrInt64(interval), Queries: qs, Formulas: fs}}}
}

func TestDatadogTimeseriesWithRealClient(t *testing.T) {
	s, _ := startTest(t, 21, 4.5, Options{})
	client, ctx := ddClient(s, true)
	metrics := datadogV2.NewMetricsApi(client)
	snap := s.World.Sample(at(4.5))

	// Every catalogued query decodes, with the real client, to >= 1 series
	// (AWS metrics are late: see TestAWSMetricsArriveLate).
	for _, qi := range DatadogCatalog() {
		q := qi.Query
		if strings.Contains(q, ":aws.") {
			continue
		}
		resp, hr, err := metrics.QueryTimeseriesData(ctx, tsRequest(at(3.5), at(4.5), 10000, nil, q))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		// As recorded: lower-case rate-limit headers, no X-RateLimit-Name,
		// the JSON:API content type, data.id "0".
		if hr.Header.Get("X-RateLimit-Limit") == "" || hr.Header.Get("X-RateLimit-Name") != "" {
			t.Errorf("rate limit headers: %v", hr.Header)
		}
		if ct := hr.Header.Get("Content-Type"); ct != "application/vnd.api+json" || resp.Data == nil || resp.Data.AdditionalProperties["id"] != "0" {
			t.Errorf("%s: content type %q, data.id %v", q, ct, resp.Data)
		}
		a := resp.Data.Attributes
		if resp.Data.UnparsedObject != nil || a == nil || len(a.Series) == 0 || len(a.Values) != len(a.Series) {
			t.Fatalf("%s: bad response %+v", q, resp)
		}
		if *resp.Data.Type != datadogV2.TIMESERIESFORMULARESPONSETYPE_TIMESERIES_RESPONSE {
			t.Errorf("type %v", *resp.Data.Type)
		}
		// From 3.5 min inclusive to 4.5 min exclusive at 10 s: at most 6
		// points, sparse (a gap left by ingestion has no timestamp).
		if len(a.Times) < 4 || len(a.Times) > 6 || a.Times[0] < at(3.5).UnixMilli() || a.Times[len(a.Times)-1] >= at(4.5).UnixMilli() {
			t.Errorf("%s: times %v", q, a.Times)
		}
		for i := 1; i < len(a.Times); i++ {
			if a.Times[i] <= a.Times[i-1] || (a.Times[i]-a.Times[i-1])%10000 != 0 {
				t.Errorf("%s: times %v", q, a.Times)
			}
		}
		for _, se := range a.Series {
			if len(se.Unit) != 0 {
				t.Errorf("%s: unit %+v, recorded answers have null", q, se.Unit)
			}
		}
	}

	// Several queries and a formula in one request; nothing past "now".
	resp, _, err := metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(5.5), 15000,
		[]string{"a", "100 * b / a"},
		`sum:trace.http.request.hits{service:tokens}.as_rate()`, `sum:trace.http.request.errors{service:tokens}.as_rate()`))
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Data.Attributes
	if len(a.Series) != 2 || len(a.Times) < 2 || len(a.Times) > 3 {
		t.Fatalf("formula response: %d series, %d times", len(a.Series), len(a.Times))
	}
	if a.Series[0].GetQueryIndex() != 0 || a.Series[1].GetQueryIndex() != 1 {
		t.Errorf("query_index: %v %v", a.Series[0].GetQueryIndex(), a.Series[1].GetQueryIndex())
	}
	for i, tm := range a.Times {
		v := a.Values[1][i]
		if time.UnixMilli(tm).After(at(4.5)) {
			t.Errorf("a point at %v, in the future", time.UnixMilli(tm))
		}
		if v != nil && (*v < 30 || *v > 100) {
			t.Errorf("tokens 5xx%% = %v at %v", *v, time.UnixMilli(tm))
		}
	}
	if n := len(a.Times); a.Times[n-1] != at(4.5).UnixMilli() {
		t.Errorf("no point at now: %v", a.Times)
	} else if v := a.Values[1][n-1]; v == nil || abs(*v-snap.Services[svcTokens].ErrorPct) > 1e-6 {
		t.Errorf("formula at now: %v want %v", v, snap.Services[svcTokens].ErrorPct)
	}

	// Grouped query: one series per tag.
	resp, _, err = metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(4.5), 30000, nil, `avg:solana.rpc.slot_lag{*} by {provider}`))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, se := range resp.Data.Attributes.Series {
		tags = append(tags, strings.Join(se.GroupTags, ","))
	}
	if strings.Join(tags, " ") != "provider:triton provider:quicknode" {
		t.Errorf("group tags: %v", tags)
	}

	// Unknown metric: no series. Garbage: 400 {"errors": [...]}.
	resp, _, err = metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(4.5), 30000, nil, `avg:no.such.metric{*}`))
	if err != nil || len(resp.Data.Attributes.Series) != 0 {
		t.Errorf("unknown metric: %+v %v", resp, err)
	}
	_, hr, err := metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(4.5), 30000, nil, `avg:{{oops`))
	var ge datadog.GenericOpenAPIError
	if !errors.As(err, &ge) || hr.StatusCode != 400 {
		t.Fatalf("garbage query: %v", err)
	}
	if m, ok := ge.Model().(datadogV2.APIErrorResponse); !ok || len(m.Errors) != 1 || !strings.Contains(m.Errors[0], "parsing") {
		t.Errorf("error model: %#v", ge.Model())
	}
	_, hr, err = metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(4.5), 30000, []string{"a + zz"}, `avg:aws.nat.error_port_allocation{*}`))
	if err == nil || hr.StatusCode != 400 {
		t.Errorf("formula with unknown name accepted: %v", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestDatadogAuthAndRateLimit(t *testing.T) {
	s, fk := startTest(t, 21, 4.5, Options{DatadogRateLimit: 3, DatadogRatePeriod: time.Minute})
	client, noKeys := ddClient(s, false)
	monitors := datadogV1.NewMonitorsApi(client)
	_, hr, err := monitors.SearchMonitorGroups(noKeys)
	var ge datadog.GenericOpenAPIError
	if !errors.As(err, &ge) || hr.StatusCode != 403 {
		t.Fatalf("no keys: %v", err)
	}
	if m, ok := ge.Model().(datadogV1.APIErrorResponse); !ok || len(m.Errors) != 1 || m.Errors[0] != "Forbidden" {
		t.Errorf("403 body: %s", ge.Body())
	}

	_, ctx := ddClient(s, true)
	var remaining []string
	for range 3 {
		_, hr, err := monitors.SearchMonitorGroups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		remaining = append(remaining, hr.Header.Get("X-RateLimit-Remaining"))
		if hr.Header.Get("X-RateLimit-Period") != "60" || hr.Header.Get("X-RateLimit-Limit") != "3" {
			t.Errorf("headers %v", hr.Header)
		}
	}
	if strings.Join(remaining, ",") != "2,1,0" {
		t.Errorf("remaining: %v", remaining)
	}
	_, hr, err = monitors.SearchMonitorGroups(ctx)
	if !errors.As(err, &ge) || hr.StatusCode != 429 {
		t.Fatalf("4th call: %v", err)
	}
	reset, _ := strconv.Atoi(hr.Header.Get("X-RateLimit-Reset"))
	if reset < 1 || reset > 60 || hr.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers: %v", hr.Header)
	}
	// The timeseries bucket is separate; after Reset seconds the budget is back.
	metrics := datadogV2.NewMetricsApi(client)
	if _, _, err := metrics.QueryTimeseriesData(ctx, tsRequest(at(4), at(4.5), 30000, nil, `avg:aws.nat.error_port_allocation{*}`)); err != nil {
		t.Errorf("other bucket limited: %v", err)
	}
	fk.Advance(time.Duration(reset) * time.Second)
	if _, _, err := monitors.SearchMonitorGroups(ctx); err != nil {
		t.Errorf("after reset: %v", err)
	}
}

func TestDatadogMonitorGroupsWithRealClient(t *testing.T) {
	s, fk := startTest(t, 21, -2, Options{})
	client, ctx := ddClient(s, true)
	monitors := datadogV1.NewMonitorsApi(client)
	status := func(q string) map[string]string {
		t.Helper()
		opt := datadogV1.NewSearchMonitorGroupsOptionalParameters().WithPerPage(100)
		if q != "" {
			opt = opt.WithQuery(q)
		}
		resp, _, err := monitors.SearchMonitorGroups(ctx, *opt)
		if err != nil {
			t.Fatal(err)
		}
		if resp.UnparsedObject != nil || resp.Metadata == nil || resp.Counts == nil {
			t.Fatalf("response %+v", resp)
		}
		if int(resp.Metadata.GetTotalCount()) != len(resp.Groups) {
			t.Errorf("total_count %d, groups %d", resp.Metadata.GetTotalCount(), len(resp.Groups))
		}
		out := map[string]string{}
		for _, g := range resp.Groups {
			if g.UnparsedObject != nil || g.Status == nil || g.MonitorId == nil || len(g.GroupTags) == 0 {
				t.Fatalf("group %+v", g)
			}
			out[strconv.FormatInt(g.GetMonitorId(), 10)+" "+g.GetGroup()] = string(g.GetStatus())
		}
		return out
	}
	pre := status("")
	if pre["10006 zone:claim.wallet.example"] != "No Data" || pre["10001 service:tokens"] != "OK" {
		t.Errorf("pre-launch: %v", pre)
	}
	fk.Advance(6*time.Minute + 30*time.Second) // minute 4.5
	now := status("")
	for _, k := range []string{"10003 service:tokens", "10006 zone:claim.wallet.example", "10007 provider:triton"} {
		if now[k] != "Alert" {
			t.Errorf("%s = %q at minute 4.5, want Alert", k, now[k])
		}
	}
	// The AWS monitors evaluate 15 minutes late: nothing yet.
	if now["10004 functionname:tokens"] != "No Data" || now["10005 nat_gateway_id:"+natGatewayID] != "No Data" {
		t.Errorf("AWS monitors at minute 4.5: %v", now)
	}
	if now["10007 provider:quicknode"] != "OK" || now["10009 *"] != "OK" || now["10011 *"] != "No Data" || now["20003 host:batch-7"] != "No Data" {
		t.Errorf("healthy and retired groups: %v", now)
	}
	if now["10008 provider:triton"] != "Warn" && now["10008 provider:triton"] != "Alert" {
		t.Errorf("triton lag: %v", now["10008 provider:triton"])
	}
	alerting := status("status:alert")
	for k, v := range alerting {
		if v != "Alert" {
			t.Errorf("status:alert returned %s=%s", k, v)
		}
	}
	if len(alerting) == 0 || len(alerting) >= len(now) {
		t.Errorf("status filter: %d of %d", len(alerting), len(now))
	}
	// tag: filters on the monitor's own tags (all_tags).
	if pay := status(`tag:"team:payments"`); len(pay) != 2 || pay["20001 host:pay-1"] != "Alert" {
		t.Errorf("tag filter: %v", pay)
	}
	launch := status(`tag:"team:launch"`)
	for k := range launch {
		if strings.HasPrefix(k, "2000") {
			t.Errorf("team:launch returned %s", k)
		}
	}
	if len(launch) != len(now)-6 {
		t.Errorf("team:launch: %d of %d groups", len(launch), len(now))
	}

	// Counts and paging; last_triggered_ts for an alerting group.
	resp, _, err := monitors.SearchMonitorGroups(ctx, *datadogV1.NewSearchMonitorGroupsOptionalParameters().WithPerPage(5).WithPage(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 5 || resp.Metadata.GetPage() != 1 || resp.Metadata.GetPerPage() != 5 || resp.Metadata.GetPageCount() != int64(len(now)+4)/5 {
		t.Errorf("paging: %d groups, %+v", len(resp.Groups), resp.Metadata)
	}
	var total int64
	for _, c := range resp.Counts.Status {
		total += c.GetCount()
	}
	if total != resp.Metadata.GetTotalCount() {
		t.Errorf("counts %d != total %d", total, resp.Metadata.GetTotalCount())
	}
	// The real shape: 15 fields, group_tags of group-by values only, the
	// monitor's tags in all_tags (the client keeps them in
	// AdditionalProperties), muted and downtimed groups.
	resp, _, err = monitors.SearchMonitorGroups(ctx, *datadogV1.NewSearchMonitorGroupsOptionalParameters().WithPerPage(100))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range resp.Groups {
		if n := len(g.AdditionalProperties) + 7; n != 15 {
			t.Fatalf("group %d %s has %d fields: %v", g.GetMonitorId(), g.GetGroup(), n, g.AdditionalProperties)
		}
		if strings.Join(g.GroupTags, ",") != g.GetGroup() {
			t.Errorf("group_tags %v for group %q", g.GroupTags, g.GetGroup())
		}
		switch g.GetMonitorId() {
		case 10012:
			if g.AdditionalProperties["muted"] != true || len(g.AdditionalProperties["downtimes"].([]any)) != 0 {
				t.Errorf("muted monitor %v", g.AdditionalProperties)
			}
		case 10013:
			if dts := g.AdditionalProperties["downtimes"].([]any); g.AdditionalProperties["muted"] != true || len(dts) != 1 {
				t.Errorf("downtimed monitor %v", g.AdditionalProperties)
			}
		case 10004:
			if tags := g.AdditionalProperties["all_tags"].([]any); len(tags) != 2 || tags[0] != "team:launch" {
				t.Errorf("10004 all_tags %v", tags)
			}
		}
	}
	// 15 minutes on, the AWS monitors have seen the NAT errors of minute
	// 2.5-3.5: last_triggered_ts is when the monitor saw them.
	fk.Advance(15 * time.Minute)
	resp, _, err = monitors.SearchMonitorGroups(ctx, *datadogV1.NewSearchMonitorGroupsOptionalParameters().WithQuery("monitor_id:10005"))
	if err != nil || len(resp.Groups) != 1 {
		t.Fatalf("monitor_id filter: %v %v", resp, err)
	}
	ts := resp.Groups[0].LastTriggeredTs.Get()
	if ts == nil || time.Unix(*ts, 0).Before(at(17.5)) || time.Unix(*ts, 0).After(at(18.5)) {
		t.Errorf("NAT last_triggered_ts: %v", ts)
	}
}

// AWS metrics arrive 10-20 minutes late (Datadog's crawler): the last 5
// minutes have no series at all; a window 15-20 minutes back has points,
// none newer than the last crawl allows.
func TestAWSMetricsArriveLate(t *testing.T) {
	s, _ := startTest(t, 21, 25, Options{})
	client, ctx := ddClient(s, true)
	metrics := datadogV2.NewMetricsApi(client)
	const q = `sum:aws.lambda.throttles{functionname:tokens}.as_rate()`
	resp, _, err := metrics.QueryTimeseriesData(ctx, tsRequest(at(20), at(25), 10000, nil, q))
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.Data.Attributes; len(a.Series) != 0 || len(a.Times) != 0 {
		t.Fatalf("the last 5 minutes of an AWS metric: %d series, %d times", len(a.Series), len(a.Times))
	}
	resp, _, err = metrics.QueryTimeseriesData(ctx, tsRequest(at(5), at(10), 10000, nil, q))
	if err != nil {
		t.Fatal(err)
	}
	a := resp.Data.Attributes
	if len(a.Series) != 1 {
		t.Fatalf("15-20 minutes back: %d series", len(a.Series))
	}
	newest := time.Time{}
	for k, v := range a.Values[0] {
		if v != nil {
			newest = time.UnixMilli(a.Times[k])
		}
	}
	if lag := at(25).Sub(newest); lag < 10*time.Minute || lag > 20*time.Minute {
		t.Fatalf("newest point %s old", lag)
	}
	// Other metrics are current.
	resp, _, err = metrics.QueryTimeseriesData(ctx, tsRequest(at(24), at(25), 10000, nil, `p95:trace.http.request{service:tokens}`))
	if err != nil || len(resp.Data.Attributes.Series) != 1 {
		t.Fatalf("current metric: %+v %v", resp, err)
	}
}
