package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
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

func post(t *testing.T, h http.Handler, method, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/api/alertmanager", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWebhookMapsAlerts(t *testing.T) {
	sink := &stubSink{}
	h := NewWebhook(sink)
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
	h := &Webhook{Sink: sink, MaxBody: 2048}
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
	h := NewWebhook(e)

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
