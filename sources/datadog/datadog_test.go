package datadog

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
)

var t0 = time.Date(2026, 1, 31, 14, 0, 30, 0, time.UTC)

func fp(v float64) *float64 { return &v }

const (
	qP95    = `p95:trace.http.request{service:tokens}`
	qHits   = `sum:trace.http.request.hits{service:tokens}.as_rate()`
	qErrPct = `100 * sum:trace.http.request.errors{service:tokens}.as_rate() / sum:trace.http.request.hits{service:tokens}.as_rate()`
	qConns  = `avg:postgresql.connections{db:allium} by {state}`
	qNone   = `avg:no.such.metric{*}`
	qNulls  = `avg:all.null{*}`
	qHist   = `sum:trace.http.request.hits{service:history}.as_rate()`
)

// series is the fake's data: the last point of every series is null (an
// incomplete rollup), p95 also has a null in the middle.
func series(q string, n int) map[string][]*float64 {
	mk := func(v func(k int) float64) []*float64 {
		out := make([]*float64, n)
		for k := range n - 1 {
			x := v(k)
			out[k] = &x
		}
		return out
	}
	switch q {
	case "p95:trace.http.request{service:tokens}":
		s := mk(func(k int) float64 { return 0.5 + float64(k)/1000 })
		if n > 3 {
			s[n-3] = nil
		}
		return map[string][]*float64{"": s}
	case "sum:trace.http.request.hits{service:tokens}.as_rate()":
		return map[string][]*float64{"": mk(func(int) float64 { return 2000 })}
	case "sum:trace.http.request.errors{service:tokens}.as_rate()":
		return map[string][]*float64{"": mk(func(int) float64 { return 50 })}
	case "avg:postgresql.connections{db:allium} by {state}":
		return map[string][]*float64{"state:active": mk(func(int) float64 { return 300 }), "state:idle": mk(func(int) float64 { return 120 })}
	case "avg:all.null{*}":
		return map[string][]*float64{"": make([]*float64, n)}
	case "sum:trace.http.request.hits{service:history}.as_rate()":
		return map[string][]*float64{"": mk(func(int) float64 { return 700 })}
	}
	return nil
}

type rig struct {
	t    *testing.T
	clk  *clock.Fake
	fake *fakeDD
	srv  *httptest.Server
	cfg  *config.Config
}

func newRig(t *testing.T) *rig {
	clk := clock.NewFake(t0)
	f := newFakeDD(clk)
	f.series = series
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("WARROOM_TEST_DD_API_KEY", f.apiKey)
	t.Setenv("WARROOM_TEST_DD_APP_KEY", f.appKey)
	cfg := &config.Config{Incident: config.Incident{Name: "dd"}, Roster: []config.Person{{Handle: "maya"}}, Roles: config.Roles{Commander: "maya"}}
	cfg.Sources = []config.Source{{ID: "dd", Type: config.SourceDatadog, APIURL: srv.URL,
		APIKey: config.Secret{Env: "WARROOM_TEST_DD_API_KEY"}, AppKey: config.Secret{Env: "WARROOM_TEST_DD_APP_KEY"},
		Interval: config.Duration(30 * time.Second), Timeout: config.Duration(10 * time.Second)}}
	cfg.Services = []config.Service{
		{ID: "tokens", Owner: "maya", Panes: []config.Pane{
			{ID: "p95", Source: "dd", Query: qP95, Unit: "s", Warn: fp(0.5), Crit: fp(1)},
			{ID: "rps", Source: "dd", Query: qHits, Unit: "req/s"},
			{ID: "errors", Source: "dd", Query: qErrPct, Unit: "%"},
			{ID: "conns", Source: "dd", Query: qConns},
			{ID: "none", Source: "dd", Query: qNone},
			{ID: "nulls", Source: "dd", Query: qNulls},
		}},
		{ID: "history", Owner: "maya", Panes: []config.Pane{{ID: "rps", Source: "dd", Query: qHist}}},
	}
	return &rig{t: t, clk: clk, fake: f, srv: srv, cfg: cfg}
}

func (r *rig) queries(o Options) []sources.Query {
	r.t.Helper()
	src := r.cfg.Sources[0]
	sp := sources.Spec{Source: src, Origin: "datadog"}
	for _, svc := range r.cfg.Services {
		for _, p := range svc.Panes {
			sp.Panes = append(sp.Panes, sources.Pane{Service: svc.ID, Pane: p})
		}
	}
	qs, err := Builder(o)(sources.Env{Clock: r.clk, Config: r.cfg}, []sources.Spec{sp})
	if err != nil {
		r.t.Fatal(err)
	}
	return qs
}

func byPane(ss []incident.Sample) map[string][]incident.Sample {
	out := map[string][]incident.Sample{}
	for _, s := range ss {
		out[s.Service+"/"+s.Pane] = append(out[s.Service+"/"+s.Pane], s)
	}
	return out
}

func TestOneRequestFillsAServicesPanes(t *testing.T) {
	r := newRig(t)
	qs := r.queries(Options{})
	if len(qs) != 3 || qs[0].Info().Name != "tokens" || qs[1].Info().Name != "history" || qs[2].Info().Name != "monitors" {
		t.Fatalf("queries: %v %v %v", qs[0].Info(), qs[1].Info(), qs[2].Info())
	}
	if qs[0].Info().Bucket != BucketQuery || qs[2].Info().Bucket != BucketMonitors || len(qs[0].Info().Panes) != 6 {
		t.Fatalf("tokens query info %+v", qs[0].Info())
	}

	// First poll: one request, with a backfill window of an hour.
	res, err := qs[0].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.fake.bodies); n != 1 {
		t.Fatalf("%d requests for one service's panes", n)
	}
	b := r.fake.bodies[0].Data.Attributes
	// 6 panes: 6 formulas over 6 distinct metric queries (hits is shared
	// by the rps pane and the error-rate formula).
	if len(b.Formulas) != 6 || len(b.Queries) != 6 {
		t.Fatalf("request had %d queries and %d formulas: %+v", len(b.Queries), len(b.Formulas), b)
	}
	if b.Formulas[1].Formula != "query2" || b.Formulas[2].Formula != "100 * query3 / query2" || b.Queries[2].Query != "sum:trace.http.request.errors{service:tokens}.as_rate()" {
		t.Fatalf("formulas %+v queries %+v", b.Formulas, b.Queries)
	}
	if b.To != t0.UnixMilli() || b.From != t0.Add(-time.Hour).UnixMilli() {
		t.Fatalf("window %d..%d, want the last hour in ms", b.From, b.To)
	}
	got := byPane(res.Samples)
	last := func(k string) incident.Sample { ss := got[k]; return ss[len(ss)-1] }
	// Latest non-null point (the last one is null on every series).
	if s := last("tokens/rps"); s.Value != 2000 || s.NoData {
		t.Fatalf("rps %+v", s)
	}
	if s := last("tokens/errors"); s.Value != 2.5 {
		t.Fatalf("error rate formula 100*50/2000: %+v", s)
	}
	if s := last("tokens/conns"); s.Value != 420 {
		t.Fatalf("two series (by state) sum to 420: %+v", s)
	}
	if s := last("tokens/none"); !s.NoData || len(got["tokens/none"]) != 1 {
		t.Fatalf("no series → NO DATA: %+v", got["tokens/none"])
	}
	if s := last("tokens/nulls"); !s.NoData || len(got["tokens/nulls"]) != 1 {
		t.Fatalf("only nulls → NO DATA: %+v", got["tokens/nulls"])
	}
	// History: the first poll sends earlier points with their own times
	// (nulls skipped), oldest first, the current value last.
	p95 := got["tokens/p95"]
	if len(p95) < 100 {
		t.Fatalf("p95 history: %d samples", len(p95))
	}
	for i := 1; i < len(p95); i++ {
		if !p95[i].Time.After(p95[i-1].Time) {
			t.Fatalf("p95 samples out of order at %d", i)
		}
	}
	cur := p95[len(p95)-1]
	n := (b.To - b.From) / b.Interval
	wantT := time.UnixMilli(b.From + (n-1)*b.Interval) // point n-1 of 1..n (the last, null one is n)
	if !cur.Time.Equal(wantT) || cur.Value != 0.5+float64(n-2)/1000 {
		t.Fatalf("p95 current %+v, want %v at %v", cur, 0.5+float64(n-2)/1000, wantT)
	}

	// Second poll: the short window, the current values only.
	r.clk.Advance(30 * time.Second)
	res, err = qs[0].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b = r.fake.bodies[1].Data.Attributes
	if time.Duration(b.To-b.From)*time.Millisecond != 5*time.Minute {
		t.Fatalf("second window %s", time.Duration(b.To-b.From)*time.Millisecond)
	}
	got = byPane(res.Samples)
	for k, ss := range got {
		if len(ss) != 1 {
			t.Fatalf("%s: %d samples on a regular poll", k, len(ss))
		}
	}
	if len(got) != 6 {
		t.Fatalf("panes answered: %v", got)
	}
}

func TestMonitorGroupsBecomeAlerts(t *testing.T) {
	r := newRig(t)
	r.cfg.Services = append(r.cfg.Services, config.Service{ID: "banners"}, config.Service{ID: "triton"})
	g := func(id int, group, status string, tags ...string) map[string]any {
		return map[string]any{"monitor_id": id, "monitor_name": "Monitor " + group, "group": group, "group_tags": tags,
			"status": status, "last_triggered_ts": 0, "last_nodata_ts": 1700000000, "muted": false, "all_tags": []string{}}
	}
	r.fake.groups = []map[string]any{
		g(1, "service:tokens", "Alert", "service:tokens"),
		g(2, "service:tokens,env:prod", "Warn", "service:tokens", "env:prod"),
		g(3, "service:history", "OK", "service:history"),
		g(4, "service:history", "No Data", "service:history"),
		g(5, "service:tokens", "Skipped", "service:tokens"),
		g(6, "host:a", "Unknown", "host:a"), // no room service: left out
		g(7, "service:tokens", "Ignored", "service:tokens"),
		g(8, "service:banners", "Paused", "service:banners"), // a state the client does not know
		g(9, "service:triton,region:eu", "Alert"),            // service only in the group name
	}
	r.fake.groups[0]["monitor_name"] = "5xx high on {{service.name}} in {{ region.name }}"
	qs := r.queries(Options{MonitorPerPage: 4})
	res, err := qs[2].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts == nil || !res.Alerts.Complete || res.Alerts.Origin != "datadog" || len(res.Alerts.Alerts) != 8 {
		t.Fatalf("import %+v", res.Alerts)
	}
	if n := len(r.fake.requests); n != 3 {
		t.Fatalf("%d requests for 9 groups at 4 per page", n)
	}
	type want struct {
		svc    string
		level  incident.Level
		firing bool
		text   string
	}
	wants := map[string]want{
		"1/service:tokens":           {"tokens", incident.LevelCrit, true, ""},
		"2/service:tokens,env:prod":  {"tokens", incident.LevelWarn, true, ""},
		"3/service:history":          {"history", incident.LevelOK, false, ""},
		"4/service:history":          {"history", incident.LevelInfo, true, "No Data"},
		"5/service:tokens":           {"tokens", incident.LevelInfo, true, "Skipped"},
		"7/service:tokens":           {"tokens", incident.LevelInfo, true, "Ignored"},
		"8/service:banners":          {"banners", incident.LevelUnknown, true, "Datadog state Paused"},
		"9/service:triton,region:eu": {"triton", incident.LevelCrit, true, ""},
	}
	for _, a := range res.Alerts.Alerts {
		w, ok := wants[a.Key]
		if !ok {
			t.Fatalf("unexpected alert %+v", a)
		}
		if a.Key == "1/service:tokens" {
			// Template variables come from the group's tags; unknown ones stay.
			if a.Name != "5xx high on tokens in {{ region.name }} (service:tokens)" {
				t.Errorf("rendered name %q", a.Name)
			}
			a.Name = "Monitor"
		}
		if a.Service != w.svc || a.Level != w.level || a.Firing != w.firing || a.Text != w.text || !strings.HasPrefix(a.Name, "Monitor") {
			t.Errorf("%s: %+v, want %+v", a.Key, a, w)
		}
		delete(wants, a.Key)
	}
	if len(wants) != 0 {
		t.Fatalf("dropped: %v", wants)
	}
	// Cut at MonitorPages: not complete, so absence resolves nothing.
	qs = r.queries(Options{MonitorPerPage: 4, MonitorPages: 2})
	res, err = qs[2].Poll(context.Background())
	if err != nil || res.Alerts.Complete || len(res.Alerts.Alerts) != 7 {
		t.Fatalf("cut import: complete=%v n=%d err=%v", res.Alerts.Complete, len(res.Alerts.Alerts), err)
	}
}

// monitors is the source's monitor query.
func (r *rig) monitors(o Options) sources.Query {
	r.t.Helper()
	for _, q := range r.queries(o) {
		if q.Info().Name == "monitors" {
			return q
		}
	}
	r.t.Fatal("no monitor query")
	return nil
}

// loadGroups reads the real-shaped fixture (see testdata/README.md).
func loadGroups(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/monitor_groups.json")
	if err != nil {
		t.Fatal(err)
	}
	var gs []map[string]any
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if len(g) != 15 {
			t.Fatalf("fixture group with %d fields, real ones have 15: %v", len(g), g)
		}
	}
	return gs
}

// Monitor groups shaped as Datadog's API reference and its recorded
// responses give them: only groups tagged for the room's services become
// alerts; muted and downtimed ones are shown silenced and never page;
// No Data, Skipped and Ignored inform; other teams' monitors stay out.
func TestRealShapedMonitorGroups(t *testing.T) {
	r := newRig(t)
	r.cfg.Services[0].DatadogTags = []string{"functionname:tokens"}
	for _, id := range []string{"banners", "aws", "blowfish", "triton"} {
		r.cfg.Services = append(r.cfg.Services, config.Service{ID: id, Owner: "maya"})
	}
	r.fake.groups = loadGroups(t)
	res, err := r.monitors(Options{}).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q := r.fake.monitorQueries; len(q) != 1 || q[0] != "" {
		t.Fatalf("no monitors: query, no query sent: %q", q)
	}
	type want struct {
		svc      string
		level    incident.Level
		firing   bool
		silenced string
	}
	wants := map[string]want{
		"7001/host:tokens-1":       {"tokens", incident.LevelCrit, true, ""},
		"7001/host:tokens-2":       {"tokens", incident.LevelOK, false, ""},
		"7002/functionname:tokens": {"tokens", incident.LevelWarn, true, ""},
		"7005/total":               {"history", incident.LevelCrit, true, "muted"},
		"7006/db:allium":           {"history", incident.LevelCrit, true, "downtime 1261921201 (env:prod)"},
		"7007/total":               {"banners", incident.LevelInfo, true, ""},
		"7008/nat_gateway_id:nat-0a1b2c3d4e5f60718": {"aws", incident.LevelInfo, true, ""},
		"7009/total":                          {"blowfish", incident.LevelInfo, true, ""},
		"7010/provider:triton,service:triton": {"triton", incident.LevelWarn, true, ""},
		"7011/total":                          {"tokens", incident.LevelOK, false, ""},
	}
	got := map[string]incident.ExternalAlert{}
	for _, a := range res.Alerts.Alerts {
		got[a.Key] = a
	}
	for k, w := range wants {
		a, ok := got[k]
		if !ok {
			t.Errorf("%s not imported", k)
			continue
		}
		if a.Service != w.svc || a.Level != w.level || a.Firing != w.firing || a.Silenced != w.silenced {
			t.Errorf("%s: %+v, want %+v", k, a, w)
		}
		delete(got, k)
	}
	if len(got) != 0 {
		t.Errorf("other teams' groups imported: %v", got)
	}
	if a := res.Alerts.Alerts[0]; a.Key != "7001/host:tokens-1" || a.Name != "Tokens p95 latency above 1s on tokens-1 (host:tokens-1)" ||
		!a.StartsAt.Equal(time.Unix(1769867400, 0)) || a.Rule != "monitor:7001" || a.Labels["team"] != "launch" || a.Labels["monitor_id"] != "7001" {
		t.Errorf("7001: %+v", a)
	}

	// Through the engine: only tokens' and triton's groups page; the muted
	// and downtimed ones are shown silenced, the others as information.
	st := importThroughEngine(t, r.cfg, *res.Alerts)
	paging := map[string]bool{}
	for _, a := range st.OpenAlerts() {
		if a.Pages() {
			paging[a.Key] = true
		}
		if a.Service == "" {
			t.Errorf("an alert with no service: %+v", a)
		}
	}
	if len(paging) != 3 || !paging["7001/host:tokens-1"] || !paging["7002/functionname:tokens"] || !paging["7010/provider:triton,service:triton"] {
		t.Fatalf("alerts that page: %v", paging)
	}

	// With a monitors: query the scope is Datadog's: sent as is, and
	// groups it returns that name no room service go to the commander.
	r.cfg.Sources[0].Monitors = `tag:"team:launch"`
	r.fake.monitorQueries = nil
	res, err = r.monitors(Options{}).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q := r.fake.monitorQueries; len(q) != 1 || q[0] != `tag:"team:launch"` {
		t.Fatalf("query sent: %q", q)
	}
	if n := len(res.Alerts.Alerts); n != 5 {
		t.Fatalf("team:launch has 5 groups, imported %d", n)
	}

	// drop: leaves matching groups out.
	r.cfg.Sources[0].Monitors = ""
	r.cfg.Sources[0].Drop = []string{"monitor_id=~700[12]", "status=Skipped"}
	res, err = r.monitors(Options{}).Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Alerts.Alerts {
		if strings.HasPrefix(a.Key, "7001/") || strings.HasPrefix(a.Key, "7002/") || strings.HasPrefix(a.Key, "7008/") {
			t.Errorf("dropped group imported: %s", a.Key)
		}
	}
}

// importThroughEngine runs one import through a real engine and returns
// its state.
func importThroughEngine(t *testing.T, cfg *config.Config, imp incident.ImportAlerts) *incident.State {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.NewFake(t0)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	if rep := eng.Do(ctx, imp); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	st, sub, err := eng.Subscribe(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	eng.Unsubscribe(sub)
	return st
}

func TestErrorsMakeTheSourceDownWithTheReason(t *testing.T) {
	r := newRig(t)
	qs := r.queries(Options{})
	var se *sources.Error

	r.fake.mode = "400"
	_, err := qs[0].Poll(context.Background())
	if !errors.As(err, &se) || se.Class != sources.Permanent || se.Status != 400 || !strings.Contains(se.Msg, "Error parsing query") {
		t.Fatalf("400: %#v", err)
	}
	r.fake.mode = "500"
	_, err = qs[0].Poll(context.Background())
	if !errors.As(err, &se) || se.Class != sources.Transient || se.Status != 500 {
		t.Fatalf("500: %#v", err)
	}
	r.fake.mode = ""

	t.Setenv("WARROOM_TEST_DD_API_KEY", "ffffffffffffffffffffffffffffffff") // wrong key
	_, err = qs[2].Poll(context.Background())
	if !errors.As(err, &se) || se.Class != sources.Permanent || se.Status != 403 ||
		!strings.Contains(se.Msg, "key ${WARROOM_TEST_DD_API_KEY} or application key ${WARROOM_TEST_DD_APP_KEY} is wrong or missing") || !strings.Contains(se.Msg, "Forbidden") {
		t.Fatalf("403: %#v", err)
	}
	if strings.Contains(se.Msg, "ffffffff") {
		t.Fatalf("the key leaked: %s", se.Msg)
	}

	// No key at all: no request is sent.
	t.Setenv("WARROOM_TEST_DD_API_KEY", "")
	n := len(r.fake.requests)
	_, err = qs[0].Poll(context.Background())
	if !errors.As(err, &se) || se.Class != sources.Permanent || !strings.Contains(se.Msg, "API key ${WARROOM_TEST_DD_API_KEY} is not set") || len(r.fake.requests) != n {
		t.Fatalf("missing key: %#v (%d requests)", err, len(r.fake.requests)-n)
	}
}

// Through the scheduler and a real engine: a wrong key makes the source
// down with the message and the panes STALE; nothing crashes.
func TestForbiddenThroughTheEngine(t *testing.T) {
	r := newRig(t)
	t.Setenv("WARROOM_TEST_DD_APP_KEY", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: r.cfg, Journal: j, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	s, err := sources.Start(ctx, r.cfg, eng, j, r.clk, sources.Options{Builders: map[config.SourceType]sources.Builder{config.SourceDatadog: Builder(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	advanceSettled(t, r.clk, s, 5*time.Second, time.Second)
	h := s.Health()["dd"]
	if h.Health != incident.SourceDown || !strings.Contains(h.Error, "wrong or missing") {
		t.Fatalf("health %+v", h)
	}
	var st *incident.State
	waitUntil(t, func() bool {
		var sub *incident.Subscription
		st, sub, _ = eng.Subscribe(context.Background(), 1)
		eng.Unsubscribe(sub)
		p := st.Panes[incident.PaneKey("tokens", "p95")]
		return p != nil && p.Stale && strings.Contains(p.Error, "403") && st.Sources["dd"].Health == incident.SourceDown
	})
	if !strings.Contains(st.Sources["dd"].Error, "wrong or missing") {
		t.Fatalf("engine's source info %+v", st.Sources["dd"])
	}
}

func advanceSettled(t *testing.T, clk *clock.Fake, s *sources.Scheduler, total, step time.Duration) {
	t.Helper()
	for el := time.Duration(0); el < total; el += step {
		clk.Advance(step)
		deadline := time.Now().Add(10 * time.Second)
		for !fakes.Settled(s, clk.Now()) {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("not settled at %s: %+v\n%s", clk.Now(), s.Queries(), buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Another tool has spent the org's budget: every request is answered 429
// for five minutes. The scheduler sends nothing before each announced
// X-RateLimit-Reset, and retries exactly at it.
func TestRateLimitedForMinutesHonoursReset(t *testing.T) {
	r := newRig(t)
	r.fake.period, r.fake.limit = time.Minute, 100
	r.fake.exhaustedUntil = t0.Add(5 * time.Minute)
	sink := &countSink{}
	s, err := sources.Start(context.Background(), r.cfg, sink, nil, r.clk, sources.Options{Builders: map[config.SourceType]sources.Builder{config.SourceDatadog: Builder(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	limited := false
	for el := time.Duration(0); el < 8*time.Minute; el += time.Second {
		r.clk.Advance(time.Second)
		waitUntil(t, func() bool { return fakes.Settled(s, r.clk.Now()) })
		if s.Health()["dd"].Health == incident.SourceRateLimited {
			limited = true
		}
	}
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	for _, e := range r.fake.early {
		t.Error(e)
	}
	for _, d := range r.fake.late {
		if d != 0 {
			t.Errorf("a retry came %s after the reset", d)
		}
	}
	// Per minute while exhausted: one 429 per query (3 queries, 2 buckets).
	byMinute := map[time.Time]int{}
	for _, q := range r.fake.requests {
		if q.status == 429 {
			byMinute[q.at.Truncate(time.Minute)]++
		}
	}
	t.Logf("%d requests, %d answered 429, 429s per minute %v", len(r.fake.requests), r.fake.n429, byMinute)
	for m, n := range byMinute {
		if n > 3 {
			t.Errorf("minute %s: %d requests answered 429", m.Format(time.TimeOnly), n)
		}
	}
	if r.fake.n429 < 10 || !limited {
		t.Fatalf("n429=%d limited=%v", r.fake.n429, limited)
	}
	if h := s.Health()["dd"]; h.Health != incident.SourceUp {
		t.Fatalf("after the budget came back: %+v", h)
	}
	// The recorded answers name no bucket (no X-RateLimit-Name). The
	// panes waited as Datadog asked: rate-limited, never STALE.
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if !strings.Contains(sink.limited, "429") || !strings.Contains(sink.limited, "the rate limit used up (100 per 1m0s)") || sink.stale != "" {
		t.Fatalf("rate-limited reason %q, STALE reason %q", sink.limited, sink.stale)
	}
}

// With a budget that runs out, X-RateLimit-Remaining: 0 on a success
// holds the bucket until the reset: the source never even gets a 429.
func TestRemainingZeroHoldsTheBucket(t *testing.T) {
	r := newRig(t)
	r.fake.period, r.fake.limit = time.Minute, 3
	sink := &countSink{}
	s, err := sources.Start(context.Background(), r.cfg, sink, nil, r.clk, sources.Options{Builders: map[config.SourceType]sources.Builder{config.SourceDatadog: Builder(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	advanceSettled(t, r.clk, s, 10*time.Minute, time.Second)
	r.fake.mu.Lock()
	defer r.fake.mu.Unlock()
	perMinute := map[time.Time]int{}
	for _, q := range r.fake.requests {
		if q.path == "/api/v2/query/timeseries" {
			perMinute[q.at.Truncate(time.Minute)]++
		}
	}
	t.Logf("%d requests, %d answered 429; timeseries per minute %v", len(r.fake.requests), r.fake.n429, perMinute)
	// Both services' queries are in flight together when the third
	// request of a minute empties the bucket, so one 429 can slip in
	// before the hold is known; never more than one per minute.
	for m, n := range perMinute {
		if n > r.fake.limit+1 {
			t.Errorf("minute %s: %d timeseries requests, budget %d", m.Format(time.TimeOnly), n, r.fake.limit)
		}
	}
	for _, e := range r.fake.early {
		t.Error(e)
	}
}

type countSink struct {
	mu      sync.Mutex
	stale   string // the last STALE sample's reason
	limited string // the last rate-limited sample's reason
}

func (c *countSink) Submit(ctx context.Context, cmd incident.Command) error {
	if o, ok := cmd.(incident.Observe); ok {
		c.mu.Lock()
		for _, s := range o.Samples {
			if s.Stale {
				c.stale = s.Error
			}
			if !s.Limited.IsZero() {
				c.limited = s.Error
			}
		}
		c.mu.Unlock()
	}
	return nil
}

func TestServerVariables(t *testing.T) {
	cases := []struct {
		src        config.Source
		proto, nam string
	}{
		{config.Source{APIURL: "http://127.0.0.1:8126"}, "http", "127.0.0.1:8126"},
		{config.Source{APIURL: "https://proxy.internal/datadog/"}, "https", "proxy.internal/datadog"},
		{config.Source{Site: "datadoghq.eu"}, "https", "api.datadoghq.eu"},
		{config.Source{Site: "app.datadoghq.eu"}, "https", "api.datadoghq.eu"},
		{config.Source{Site: "us5.datadoghq.com"}, "https", "api.us5.datadoghq.com"},
		{config.Source{}, "https", "api.datadoghq.com"},
	}
	for _, c := range cases {
		v, err := serverVariables(c.src)
		if err != nil || v["protocol"] != c.proto || v["name"] != c.nam {
			t.Errorf("%+v: %v %v", c.src, v, err)
		}
	}
	if _, err := serverVariables(config.Source{APIURL: "ftp://x"}); err == nil {
		t.Error("ftp accepted")
	}
}

func TestFormulaSplitting(t *testing.T) {
	var b batch
	b.add(qErrPct)
	b.add(qHits)
	b.add("abs(avg:system.load.1{host:a} by {az}.rollup(avg, 60)) - 1")
	b.add("not a metric query")
	wantQ := []string{"sum:trace.http.request.errors{service:tokens}.as_rate()", "sum:trace.http.request.hits{service:tokens}.as_rate()",
		"avg:system.load.1{host:a} by {az}.rollup(avg, 60)", "not a metric query"}
	wantF := []string{"100 * query1 / query2", "query2", "abs(query3) - 1", "query4"}
	if strings.Join(b.queries, "|") != strings.Join(wantQ, "|") || strings.Join(b.formulas, "|") != strings.Join(wantF, "|") {
		t.Fatalf("queries %q formulas %q", b.queries, b.formulas)
	}
}

// A pane with a delay (AWS metrics arrive 10-20 minutes late) reads the
// window that ended delay ago, in a request of its own.
func TestDelayedPanesReadALateWindow(t *testing.T) {
	r := newRig(t)
	r.cfg.Services[1].Panes = append(r.cfg.Services[1].Panes, config.Pane{ID: "late", Source: "dd", Query: qHits, Delay: config.Duration(15 * time.Minute)})
	var late sources.Query
	for _, q := range r.queries(Options{Backfill: -1}) {
		if q.Info().Name == "history (15m0s late)" {
			late = q
		}
	}
	if late == nil || len(late.Info().Panes) != 1 {
		t.Fatalf("no query of its own for the delayed pane: %+v", late)
	}
	if _, err := late.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := r.fake.bodies[len(r.fake.bodies)-1].Data.Attributes
	if end := time.UnixMilli(b.To); !end.Equal(t0.Add(-15 * time.Minute)) {
		t.Fatalf("window ends %v, want 15m before %v", end, t0)
	}
}

// TestBudgetPacesPolling: other tools have spent most of the org's hourly
// query budget. At their intervals the room's queries would spend the rest
// long before the reset, so they poll less often, evenly, to make it last:
// no 429, the panes never go STALE, and the source says why (rate-limited,
// with the budget). At the reset the normal pace comes back.
func TestBudgetPacesPolling(t *testing.T) {
	r := newRig(t)
	r.fake.period, r.fake.limit = time.Hour, 1600
	r.fake.start["query_timeseries"], r.fake.used["query_timeseries"] = t0.Truncate(time.Hour), 1500 // 100 left at 14:00:30
	e, j := engineFor(t, r)
	s, err := sources.Start(context.Background(), r.cfg, e, j, r.clk, sources.Options{Jitter: -1,
		Builders: map[config.SourceType]sources.Builder{config.SourceDatadog: Builder(Options{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var seen sources.Budget
	health := ""
	for el := time.Duration(0); el < 59*time.Minute; el += 5 * time.Second {
		r.clk.Advance(5 * time.Second)
		waitUntil(t, func() bool { return fakes.Settled(s, r.clk.Now()) })
		state(t, e) // the engine has taken what the polls sent before the clock moves on
		h := s.Health()["dd"]
		for _, b := range h.Budgets {
			if b.Bucket == BucketQuery && b.Every > 0 && seen.Every == 0 {
				seen, health = b, string(h.Health)+": "+h.Error // the first pace
			}
		}
	}
	r.fake.mu.Lock()
	var last time.Time
	n, longest := 0, time.Duration(0)
	for _, q := range r.fake.requests {
		if q.path != "/api/v2/query/timeseries" || q.at.Before(t0.Add(time.Minute)) {
			continue
		}
		if q.status == 429 {
			t.Errorf("429 at %s", q.at.Format(time.TimeOnly))
		}
		n++
		if !last.IsZero() {
			longest = max(longest, q.at.Sub(last))
		}
		last = q.at
	}
	left := r.fake.limit - r.fake.used["query_timeseries"]
	r.fake.mu.Unlock()
	// Two queries at 30 s would send ~236 requests before the reset; the
	// 100 left are spread over the hour instead (one poll each ~90 s at
	// first), and the room never spends the last of them.
	if n < 40 || n > 100 || left < 1 || longest > 2*time.Minute {
		t.Fatalf("%d timeseries requests in the hour (at most %s apart), %d of the budget left at its end", n, longest, left)
	}
	if seen.Every < 60*time.Second || seen.Every > 3*time.Minute || !strings.HasPrefix(health, "rate-limited: dd: the rate limit: ") || !strings.Contains(health, "polling every") {
		t.Fatalf("budget %+v, health %q", seen, health)
	}
	st := state(t, e)
	for _, a := range st.Alerts {
		if a.Level == incident.LevelStale {
			t.Fatalf("a paced pane went STALE: %+v", a)
		}
	}
	if !strings.Contains(timelineText(t, j), "source dd is rate-limited: dd: the rate limit: ") {
		t.Fatal("the timeline does not say the source paces itself")
	}
	// The new hour: a full budget, the normal pace, the source up.
	advanceSettled(t, r.clk, s, 3*time.Minute, 5*time.Second)
	if h := s.Health()["dd"]; h.Health != incident.SourceUp || len(h.Budgets) == 0 || h.Budgets[0].Every != 0 {
		t.Fatalf("after the reset: %+v", h)
	}
	t.Logf("paced: %s (%d requests in the hour, %d left)", seen, n, left)
}

// engineFor runs a real engine on the rig's clock and a journal.
func engineFor(t *testing.T, r *rig) (*incident.Engine, *journal.SQLite) {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: r.cfg, Journal: j, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	t.Cleanup(func() { cancel(); <-eng.Done(); j.Close() })
	return eng, j
}

func state(t *testing.T, e *incident.Engine) *incident.State {
	t.Helper()
	st, sub, err := e.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.Unsubscribe(sub)
	return st
}

// timelineText is every event's text, one a line.
func timelineText(t *testing.T, j *journal.SQLite) string {
	t.Helper()
	var b strings.Builder
	if err := j.Replay(context.Background(), 0, func(e journal.Event) error {
		ev, err := incident.FromJournal(e)
		b.WriteString(ev.Text + "\n")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
