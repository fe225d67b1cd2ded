package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
)

// Captured from Alertmanager 0.25 (research/integrations.md §3.3).
const firingPayload = `{
  "receiver": "hook", "status": "firing",
  "alerts": [{
    "status": "firing",
    "labels": {"alertname":"DemoAlwaysFiring","instance":"127.0.0.1:9090","job":"self","service":"tokens","severity":"page"},
    "annotations": {"runbook_url":"https://example.invalid/runbook","summary":"Target 127.0.0.1:9090 is up (demo alert)"},
    "startsAt": "2026-11-21T13:47:58.988Z", "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://vm:9090/graph?g0.expr=up%7Bjob%3D%22self%22%7D+%3D%3D+1&g0.tab=1",
    "fingerprint": "f37422b6f6cbe0dc"
  }],
  "groupLabels": {"alertname":"DemoAlwaysFiring","service":"tokens"},
  "commonLabels": {"alertname":"DemoAlwaysFiring","instance":"127.0.0.1:9090","job":"self","service":"tokens","severity":"page"},
  "commonAnnotations": {"runbook_url":"https://example.invalid/runbook","summary":"Target 127.0.0.1:9090 is up (demo alert)"},
  "externalURL": "http://vm:9093", "version": "4",
  "groupKey": "{}:{alertname=\"DemoAlwaysFiring\", service=\"tokens\"}",
  "truncatedAlerts": 0,
  "notification_reason": "new alerts"
}`

var resolvedPayload = strings.NewReplacer(`"status": "firing"`, `"status": "resolved"`, `"status": "firing",`, `"status": "resolved",`,
	`"endsAt": "0001-01-01T00:00:00Z"`, `"endsAt": "2026-11-21T13:48:18Z"`).Replace(firingPayload)

// A group of two alerts with differing labels (commonLabels shrinks).
const twoAlerts = `{"version":"4","status":"firing","receiver":"hook","groupKey":"{}:{alertname=\"HighLatency\"}",
 "commonLabels":{"alertname":"HighLatency"},
 "alerts":[
  {"status":"firing","labels":{"alertname":"HighLatency","service":"tokens","severity":"warning"},"annotations":{"summary":"tokens p95 2s"},"fingerprint":"aaaa000000000001"},
  {"status":"firing","labels":{"alertname":"HighLatency","service":"history","severity":"critical"},"annotations":{},"fingerprint":""}
 ]}`

type stubSink struct {
	mu   sync.Mutex
	cmds []incident.Command
	err  error
}

func (s *stubSink) Submit(ctx context.Context, cmd incident.Command) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.cmds = append(s.cmds, cmd)
	return nil
}

const hookToken = "wr-test-token-0123456789"

// post sends what Alertmanager sends: JSON with the bearer token.
func post(t *testing.T, h http.Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	return send(h, method, body, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + hookToken})
}

func send(h http.Handler, method, body string, headers map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/api/alertmanager", strings.NewReader(body))
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWebhookMapsAlerts(t *testing.T) {
	sink := &stubSink{}
	h := NewWebhook(sink, hookToken)
	if w := post(t, h, "POST", twoAlerts); w.Code != 200 || !strings.Contains(w.Body.String(), `"alerts":2`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	imp := sink.cmds[0].(incident.ImportAlerts)
	if imp.Origin != "alertmanager" || imp.Complete || len(imp.Alerts) != 2 {
		t.Fatalf("%+v", imp)
	}
	a, b := imp.Alerts[0], imp.Alerts[1]
	if a.Key != "aaaa000000000001" || a.Service != "tokens" || a.Name != "HighLatency" || a.Level != incident.LevelWarn || !a.Firing || a.Text != "tokens p95 2s" {
		t.Fatalf("first %+v", a)
	}
	// No fingerprint sent: computed from the labels, as Alertmanager does.
	if len(b.Key) != 16 || b.Service != "history" || b.Level != incident.LevelCrit {
		t.Fatalf("second %+v", b)
	}
}

func TestWebhookRejectsBadRequests(t *testing.T) {
	sink := &stubSink{}
	h := &Webhook{Sink: sink, Token: hookToken, MaxBody: 2048}
	cases := []struct {
		method, body string
		code         int
		text         string
	}{
		{"GET", "", 405, "POST"},
		{"POST", "{not json", 400, "bad JSON"},
		{"POST", `{"version":"3","alerts":[]}`, 400, "version"},
		{"POST", `{"alerts":[]}`, 400, "version"},
		{"POST", `{"version":"4","alerts":[{"status":"exploded","labels":{}}]}`, 400, "unknown status"},
		{"POST", `{"version":"4","alerts":[` + strings.Repeat(`{"status":"firing","labels":{"a":"b"}},`, 100) + `{"status":"firing"}]}`, 413, "larger than"},
	}
	for _, c := range cases {
		w := post(t, h, c.method, c.body)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.text) {
			t.Errorf("%s %.40q: %d %s", c.method, c.body, w.Code, w.Body)
		}
	}
	if len(sink.cmds) != 0 {
		t.Fatalf("a rejected request reached the engine: %v", sink.cmds)
	}
	if w := post(t, h, "GET", ""); w.Header().Get("Allow") != "POST" {
		t.Fatalf("Allow %q", w.Header().Get("Allow"))
	}
	// The engine cannot take it: 503, so Alertmanager retries.
	sink.err = errors.New("engine stopped")
	if w := post(t, h, "POST", firingPayload); w.Code != 503 {
		t.Fatalf("engine down: %d", w.Code)
	}
}

// With the real engine, the receiver waits for the alert to be durable,
// duplicates are harmless, and resolved resolves.
func TestWebhookIntoTheEngine(t *testing.T) {
	cfg := &config.Config{Incident: config.Incident{Name: "t"}, Roster: []config.Person{{Handle: "maya"}}, Roles: config.Roles{Commander: "maya"},
		Services: []config.Service{{ID: "tokens", Owner: "maya"}}}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.db"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	defer func() { cancel(); <-e.Done(); j.Close() }()
	h := NewWebhook(e, hookToken)
	h.Config = cfg

	open := func() []*incident.Alert {
		s, sub, err := e.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		e.Unsubscribe(sub)
		var out []*incident.Alert
		for _, a := range s.OpenAlerts() {
			if a.Origin == "alertmanager" {
				out = append(out, a)
			}
		}
		return out
	}
	for range 2 { // a repeat notification changes nothing
		if w := post(t, h, "POST", firingPayload); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	// Durable before the 200: no waiting needed.
	as := open()
	if len(as) != 1 || as[0].Service != "tokens" || as[0].Level != incident.LevelCrit || as[0].Key != "f37422b6f6cbe0dc" || as[0].Pane != "DemoAlwaysFiring" {
		t.Fatalf("open alerts %+v", as)
	}
	seq := as[0].Seq
	if w := post(t, h, "POST", firingPayload); w.Code != 200 || open()[0].Seq != seq {
		t.Fatal("duplicate notification fired again")
	}
	if w := post(t, h, "POST", resolvedPayload); w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if as := open(); len(as) != 0 {
		t.Fatalf("still open after resolved: %+v", as)
	}
}

// TestWebhookOnlyAlertmanagerMayPost: without the token, with a wrong one,
// with a body that is not JSON (a web page's "simple" text/plain POST
// needs no preflight) or from a browser (Origin), nothing reaches the
// engine. A war room without a token takes nothing at all.
func TestWebhookOnlyAlertmanagerMayPost(t *testing.T) {
	sink := &stubSink{}
	h := NewWebhook(sink, hookToken)
	good := map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + hookToken}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name    string
		headers map[string]string
		code    int
	}{
		{"no token", with("Authorization", ""), 401},
		{"wrong token", with("Authorization", "Bearer wr-test-token-0123456788"), 401},
		{"token without Bearer", with("Authorization", hookToken), 401},
		{"basic auth", with("Authorization", "Basic d2Fycm9vbTp4"), 401},
		{"text/plain", with("Content-Type", "text/plain"), 415},
		{"form", with("Content-Type", "application/x-www-form-urlencoded"), 415},
		{"no content type", with("Content-Type", ""), 415},
		{"from a web page", with("Origin", "https://evil.example"), 403},
		{"Origin null", with("Origin", "null"), 403},
	}
	for _, c := range cases {
		if w := send(h, "POST", resolvedPayload, c.headers); w.Code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, w.Code, w.Body, c.code)
		}
	}
	if w := send(h, "POST", resolvedPayload, with("Authorization", "")); w.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	off := NewWebhook(sink, "")
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if w := send(off, "POST", firingPayload, with("Authorization", auth)); w.Code != 401 || !strings.Contains(w.Body.String(), "WARROOM_HTTP_TOKEN") {
			t.Errorf("no token configured, Authorization %q: %d %s", auth, w.Code, w.Body)
		}
	}
	if len(sink.cmds) != 0 {
		t.Fatalf("a refused request reached the engine: %v", sink.cmds)
	}
	if w := send(h, "POST", firingPayload, with("Content-Type", "application/json; charset=utf-8")); w.Code != 200 || len(sink.cmds) != 1 {
		t.Fatalf("Alertmanager's request: %d %s", w.Code, w.Body)
	}
}

// TestWebhookTruncatedAlerts: Alertmanager's max_alerts cut a group. The
// timeline says so once (the webhook's source is degraded, with the
// count and the group), not on every repeat, and says it is over when the
// group comes complete.
func TestWebhookTruncatedAlerts(t *testing.T) {
	sink := &stubSink{}
	h := NewWebhook(sink, hookToken)
	cut := strings.Replace(firingPayload, `"truncatedAlerts": 0`, `"truncatedAlerts": 250`, 1)
	other := strings.Replace(cut, `"groupKey": "{}:{alertname=\"DemoAlwaysFiring\", service=\"tokens\"}"`, `"groupKey": "{}:{alertname=\"DiskFull\"}"`, 1)
	reports := func() []incident.SourceInfo {
		var out []incident.SourceInfo
		for _, c := range sink.cmds {
			if r, ok := c.(incident.ReportSource); ok {
				out = append(out, r.Info)
			}
		}
		return out
	}
	for _, body := range []string{cut, cut, other, firingPayload} {
		if w := post(t, h, "POST", body); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	r := reports()
	if len(r) != 1 || r[0].ID != "alertmanager" || r[0].Health != "degraded" ||
		!strings.Contains(r[0].Error, "left 250 alerts out of group {}:{alertname=\"DemoAlwaysFiring\"") {
		t.Fatalf("while cut: %+v", r)
	}
	// The other group is still cut; once it comes whole, it is over.
	whole := strings.Replace(other, `"truncatedAlerts": 250`, `"truncatedAlerts": 0`, 1)
	if w := post(t, h, "POST", whole); w.Code != 200 {
		t.Fatal(w.Body)
	}
	if r := reports(); len(r) != 2 || r[1].Health != "up" {
		t.Fatalf("after both groups came whole: %+v", r)
	}
}

// The webhook belongs to a Prometheus source: the source's origin (so the
// same rule from the poll is the same alert), its severity table and drop
// matchers; startsAt and endsAt are the alert's times; a source can be
// named in the path.
func TestWebhookForASource(t *testing.T) {
	cfg := &config.Config{Sources: []config.Source{
		{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", AlertmanagerURL: "http://127.0.0.1:2", Drop: []string{"alertname=Watchdog"}},
		{ID: "edge", Type: config.SourcePrometheus, URL: "http://127.0.0.1:3"},
	}}
	sink := &stubSink{}
	h := NewWebhook(sink, hookToken)
	h.Config = cfg
	watchdog := strings.Replace(twoAlerts, `"alertname":"HighLatency","service":"history"`, `"alertname":"Watchdog","service":"history"`, 1)
	if w := post(t, h, "POST", watchdog); w.Code != 200 || !strings.Contains(w.Body.String(), `"alerts":1`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	imp := sink.cmds[0].(incident.ImportAlerts)
	if imp.Origin != "prometheus/prom" || imp.Via != "webhook" || len(imp.Alerts) != 1 || imp.Alerts[0].Name != "HighLatency" {
		t.Fatalf("the source with alertmanager_url, Watchdog dropped: %+v", imp)
	}
	post(t, h, "POST", firingPayload)
	f := sink.cmds[1].(incident.ImportAlerts).Alerts[0]
	if !f.StartsAt.Equal(time.Date(2026, 11, 21, 13, 47, 58, 988e6, time.UTC)) || !f.EndsAt.IsZero() || f.Level != incident.LevelCrit ||
		!slices.Equal(f.Metrics, []string{"up"}) || f.Rule != "alertname:DemoAlwaysFiring" {
		t.Fatalf("firing %+v", f)
	}
	post(t, h, "POST", resolvedPayload)
	r := sink.cmds[2].(incident.ImportAlerts).Alerts[0]
	if r.Firing || !r.EndsAt.Equal(time.Date(2026, 11, 21, 13, 48, 18, 0, time.UTC)) {
		t.Fatalf("resolved %+v", r)
	}
	req := httptest.NewRequest("POST", "/api/alertmanager/edge", strings.NewReader(firingPayload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookToken)
	req.SetPathValue("source", "edge")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if imp := sink.cmds[3].(incident.ImportAlerts); w.Code != 200 || imp.Origin != "prometheus/edge" {
		t.Fatalf("named source: %d %+v", w.Code, imp)
	}
	req = httptest.NewRequest("POST", "/api/alertmanager/nosuch", strings.NewReader(firingPayload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hookToken)
	req.SetPathValue("source", "nosuch")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 404 || len(sink.cmds) != 4 {
		t.Fatalf("unknown source: %d", w.Code)
	}
}

// Alertmanager's own API (GET /api/v2/alerts), when the source names
// alertmanager_url: the authority, silences and inhibitions included.
// The body is shaped as gettableAlert in Alertmanager 0.25's OpenAPI spec.
func TestAlertmanagerIsTheAuthority(t *testing.T) {
	const body = `[
 {"annotations":{"summary":"disk 97%"},"endsAt":"2026-01-31T14:04:00.000Z","fingerprint":"1a2b3c4d5e6f7081","receivers":[{"name":"warroom"}],
  "startsAt":"2026-01-31T13:55:00.000Z","updatedAt":"2026-01-31T14:00:00.000Z","generatorURL":"http://prom:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+1e9&g0.tab=1",
  "labels":{"alertname":"DiskFull","instance":"host-1:9100","service":"tokens","severity":"critical"},
  "status":{"inhibitedBy":[],"silencedBy":[],"state":"active"}},
 {"annotations":{},"endsAt":"2026-01-31T14:04:00.000Z","fingerprint":"00000000000000aa","receivers":[{"name":"warroom"}],
  "startsAt":"2026-01-31T13:58:00.000Z","updatedAt":"2026-01-31T14:00:00.000Z","generatorURL":"http://prom:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
  "labels":{"alertname":"TargetDown","service":"tokens","severity":"warning"},
  "status":{"inhibitedBy":[],"silencedBy":["7c1b7f9e-2c6e-4a1b-9a55-0b4c5a0f6d11"],"state":"suppressed"}},
 {"annotations":{},"endsAt":"2026-01-31T14:04:00.000Z","fingerprint":"00000000000000bb","receivers":[{"name":"warroom"}],
  "startsAt":"2026-01-31T13:58:00.000Z","updatedAt":"2026-01-31T14:00:00.000Z","generatorURL":"",
  "labels":{"alertname":"HighLatency","service":"tokens","severity":"warning"},
  "status":{"inhibitedBy":["1a2b3c4d5e6f7081"],"silencedBy":[],"state":"suppressed"}}
]`
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/alerts" || r.Method != "GET" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	defer am.Close()
	src := config.Source{ID: "prom", Type: config.SourcePrometheus, URL: "http://127.0.0.1:1", AlertmanagerURL: am.URL,
		Interval: config.Duration(5 * time.Second), Timeout: config.Duration(2 * time.Second)}
	qs, err := Builder(Options{})(sources.Env{Clock: clock.Real{}}, []sources.Spec{{Source: src, Origin: "prometheus"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := qs[0].Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	imp := res.Alerts
	if !imp.Complete || !imp.Authoritative || imp.Via != "poll" || len(imp.Alerts) != 3 {
		t.Fatalf("%+v", imp)
	}
	a, s, i := imp.Alerts[2], imp.Alerts[0], imp.Alerts[1]
	if a.Key != "1a2b3c4d5e6f7081" || a.Silenced != "" || !a.StartsAt.Equal(time.Date(2026, 1, 31, 13, 55, 0, 0, time.UTC)) ||
		!slices.Equal(a.Metrics, []string{"node_filesystem_avail_bytes"}) || a.Level != incident.LevelCrit {
		t.Fatalf("active %+v", a)
	}
	if s.Key != "00000000000000aa" || s.Silenced != "silenced in Alertmanager (silence 7c1b7f9e-2c6e-4a1b-9a55-0b4c5a0f6d11)" {
		t.Fatalf("silenced %+v", s)
	}
	if i.Key != "00000000000000bb" || i.Silenced != "inhibited in Alertmanager by 1a2b3c4d5e6f7081" {
		t.Fatalf("inhibited %+v", i)
	}
}
