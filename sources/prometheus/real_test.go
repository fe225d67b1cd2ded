package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
	"github.com/warroom/warroom/sources/internal/fakes"
)

// realBinary finds a binary of a real component, or skips the test (fails
// it when WARROOM_REQUIRE_REAL=1, as CI sets).
func realBinary(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("%s not installed (Debian packages prometheus and prometheus-alertmanager)", strings.Join(names, " / "))
	if os.Getenv("WARROOM_REQUIRE_REAL") == "1" {
		t.Fatal(msg + "; WARROOM_REQUIRE_REAL=1 requires it")
	}
	t.Skip(msg + "; skipping the real-component test")
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a process and kills it (by PID) when the test ends.
func start(t *testing.T, dir, name string, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		cmd.Process.Kill() // this PID only
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 3000 {
				b = b[len(b)-3000:]
			}
			t.Logf("%s (pid %d) log tail:\n%s", name, pid, b)
		}
	})
}

func waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// realRoom is an engine with one Prometheus source, and the webhook that
// belongs to it.
type realRoom struct {
	cfg  *config.Config
	eng  *incident.Engine
	j    journal.Journal
	hook *Webhook
}

func newRealRoom(t *testing.T, dir, name string, src config.Source) *realRoom {
	t.Helper()
	cfg := &config.Config{Incident: config.Incident{Name: "real prometheus " + name}, Roster: []config.Person{{Handle: "maya"}}, Roles: config.Roles{Commander: "maya"},
		Escalation: config.Escalation{Backup: config.Duration(time.Hour), Commander: config.Duration(2 * time.Hour)}}
	cfg.Sources = []config.Source{src}
	cfg.Services = []config.Service{{ID: "tokens", Owner: "maya", Panes: []config.Pane{
		{ID: "latency", Source: src.ID, Query: `warroom_test_latency_seconds{service="tokens"}`, Unit: "s", Crit: f64(1)},
		{ID: "requests", Source: src.ID, Query: `warroom_test_requests{service="tokens"}`},
		{ID: "total", Source: src.ID, Query: `scalar(sum(warroom_test_requests))`},
		{ID: "missing", Source: src.ID, Query: `warroom_test_nonexistent`},
	}}}
	j, err := journal.Open(filepath.Join(dir, name+".db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	t.Cleanup(func() { cancel(); <-eng.Done(); j.Close() })
	hook := NewWebhook(eng, hookToken)
	hook.Config = cfg
	return &realRoom{cfg: cfg, eng: eng, j: j, hook: hook}
}

func (r *realRoom) state(t *testing.T) *incident.State {
	t.Helper()
	s, sub, err := r.eng.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	r.eng.Unsubscribe(sub)
	return s
}

// alerts lists every alert (open or not) of a rule.
func (r *realRoom) alerts(t *testing.T, rule string) []*incident.Alert {
	t.Helper()
	var out []*incident.Alert
	for _, a := range r.state(t).Alerts {
		if a.Pane == rule {
			out = append(out, a)
		}
	}
	return out
}

// A real Prometheus 2.42 scrapes an exporter written with client_golang
// and evaluates real alert rules; a real Alertmanager 0.25 delivers its
// webhook to our receiver and holds a real silence. Two rooms watch them:
// one polls Prometheus' rules, the other names alertmanager_url (the
// authority); both get every webhook. In both, one firing rule seen by the
// poll and the webhook is one alert (Prometheus adds its external labels
// to what it sends Alertmanager, and the poll adds them too); in the
// second the silenced rule gives no alert that pages.
func TestRealPrometheusAndAlertmanager(t *testing.T) {
	promBin := realBinary(t, "prometheus")
	amBin := realBinary(t, "prometheus-alertmanager", "alertmanager")
	began := time.Now()
	dir := t.TempDir()

	// The exporter.
	reg := prom.NewRegistry()
	latency := prom.NewGaugeVec(prom.GaugeOpts{Name: "warroom_test_latency_seconds", Help: "p95 latency"}, []string{"service"})
	requests := prom.NewGaugeVec(prom.GaugeOpts{Name: "warroom_test_requests", Help: "requests/s per instance"}, []string{"service", "instance_id"})
	errs := prom.NewGaugeVec(prom.GaugeOpts{Name: "warroom_test_errors", Help: "errors/s"}, []string{"service"})
	reg.MustRegister(latency, requests, errs)
	latency.WithLabelValues("tokens").Set(0.25)
	requests.WithLabelValues("tokens", "a").Set(3)
	requests.WithLabelValues("tokens", "b").Set(4)
	errs.WithLabelValues("tokens").Set(2)
	exporter := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer exporter.Close()

	promAddr, amAddr := freePort(t), freePort(t)
	src := config.Source{ID: "prom", Type: config.SourcePrometheus, URL: "http://" + promAddr,
		Interval: config.Duration(time.Second), Timeout: config.Duration(2 * time.Second)}
	a := newRealRoom(t, dir, "rules", src)
	src.AlertmanagerURL = "http://" + amAddr
	src.Drop = []string{"alertname=Watchdog"}
	b := newRealRoom(t, dir, "authority", src)

	// Every notification goes to both rooms' receivers.
	var mu sync.Mutex
	var delivered []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		delivered = append(delivered, string(body))
		mu.Unlock()
		code := 200
		for _, room := range []*realRoom{a, b} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/api/alertmanager", bytes.NewReader(body))
			req.Header = r.Header.Clone() // Alertmanager's own, with the token
			room.hook.ServeHTTP(rec, req)
			code = max(code, rec.Code)
		}
		w.WriteHeader(code)
	}))
	defer hook.Close()
	deliveredOf := func(rule string) []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, d := range delivered {
			if strings.Contains(d, `"alertname":"`+rule+`"`) {
				out = append(out, d)
			}
		}
		return out
	}

	// Alertmanager, then Prometheus.
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	amCfg := write("am.yml", fmt.Sprintf(`route: {receiver: warroom, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: warroom, webhook_configs: [{url: "%s/api/alertmanager", send_resolved: true,
  http_config: {authorization: {type: Bearer, credentials: %q}}}]}]
`, hook.URL, hookToken))
	start(t, dir, "alertmanager", amBin, "--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=", "--web.external-url=http://"+amAddr)
	waitHTTP(t, "http://"+amAddr+"/-/ready", 15*time.Second)
	// A real silence, before the rule fires.
	silence := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"TokensErrors","isRegex":false,"isEqual":true}],
  "startsAt":%q,"endsAt":%q,"createdBy":"maya","comment":"known: the errors are the retry storm"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	resp, err := http.Post("http://"+amAddr+"/api/v2/silences", "application/json", strings.NewReader(silence))
	if err != nil {
		t.Fatal(err)
	}
	sbody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(sbody), "silenceID") {
		t.Fatalf("silence: %d %s", resp.StatusCode, sbody)
	}
	rules := write("rules.yml", `groups:
  - name: warroom
    rules:
      - alert: TokensSlow
        expr: warroom_test_latency_seconds{service="tokens"} > 0.1
        for: 0s
        labels: {severity: critical}
        annotations: {summary: "tokens p95 is {{ $value }}s"}
      - alert: TokensErrors
        expr: warroom_test_errors{service="tokens"} > 0
        for: 0s
        labels: {severity: warning}
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
        annotations: {summary: "This is an alert meant to ensure that the entire alerting pipeline is functional."}
      - alert: TokensInfo
        expr: warroom_test_requests{service="tokens",instance_id="a"} > 0
        labels: {severity: info, service: tokens}
`)
	promCfg := write("prometheus.yml", fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s, external_labels: {cluster: real-test}}
rule_files: [%q]
alerting: {alertmanagers: [{static_configs: [{targets: [%q]}]}]}
scrape_configs:
  - job_name: exporter
    static_configs: [{targets: [%q]}]
`, rules, amAddr, strings.TrimPrefix(exporter.URL, "http://")))
	start(t, dir, "prometheus", promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--web.external-url=http://"+promAddr)
	waitHTTP(t, "http://"+promAddr+"/-/ready", 15*time.Second)

	// The first scrape (~5 s after start), then a few more for history.
	firstScrape := func() bool {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=warroom_test_latency_seconds")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"service":"tokens"`)
	}
	waitUntil(t, 20*time.Second, "the first scrape", firstScrape)
	time.Sleep(3 * time.Second)
	t.Logf("Prometheus and Alertmanager up, first scrape in, after %s", time.Since(began).Round(100*time.Millisecond))

	ctx := context.Background()
	schedStart := time.Now()
	for _, room := range []*realRoom{a, b} {
		s, err := sources.Start(ctx, room.cfg, room.eng, room.j, clock.Real{}, sources.Options{Builders: map[config.SourceType]sources.Builder{
			config.SourcePrometheus: Builder(Options{Backfill: 30 * time.Second})}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop()
		if room == a {
			defer func() {
				if h := s.Health()["prom"]; h.Health != incident.SourceUp {
					t.Errorf("health %+v", h)
				}
			}()
		}
	}

	var snap *incident.State
	waitUntil(t, 15*time.Second, "instant values in the engine", func() bool {
		snap = a.state(t)
		for _, k := range []string{"latency", "requests", "total", "missing"} {
			if p := snap.Panes[incident.PaneKey("tokens", k)]; p == nil || (!p.HasData && !p.NoData) {
				return false
			}
		}
		return true
	})
	pane := func(k string) *incident.Pane { return snap.Panes[incident.PaneKey("tokens", k)] }
	if p := pane("latency"); p.Value != 0.25 || p.Stale {
		t.Fatalf("latency %+v", p)
	}
	if p := pane("requests"); p.Value != 7 {
		t.Fatalf("requests: 3 + 4 summed, got %+v", p)
	}
	if p := pane("total"); p.Value != 7 {
		t.Fatalf("scalar: %+v", p)
	}
	if p := pane("missing"); !p.NoData || p.Stale {
		t.Fatalf("missing: %+v", p)
	}
	// Backfill: history from query_range, with times before the scheduler
	// started (the original sample times).
	if p := pane("requests"); len(p.Series) < 3 || !p.Series[0].T.Before(schedStart.Add(-2*time.Second)) {
		t.Fatalf("backfill: %d points, first at %v (scheduler started %v)", len(p.Series), p.Series, schedStart)
	}

	// The rule fires: Prometheus' rules (room a) or Alertmanager's API
	// (room b) and the webhook (both) report it. Wait until the webhook
	// delivered it and a few polls went by after that.
	waitUntil(t, 20*time.Second, "the webhook to deliver TokensSlow", func() bool { return len(deliveredOf("TokensSlow")) > 0 })
	time.Sleep(3 * time.Second)
	for _, room := range []*realRoom{a, b} {
		as := room.alerts(t, "TokensSlow")
		if len(as) != 1 || !as[0].Open() || as[0].Level != incident.LevelCrit || as[0].StartsAt.IsZero() {
			t.Fatalf("%s: one firing rule, poll and webhook, should be one alert: %+v", room.cfg.Incident.Name, as)
		}
	}
	var payload Payload
	if err := json.Unmarshal([]byte(deliveredOf("TokensSlow")[0]), &payload); err != nil {
		t.Fatal(err)
	}
	if fp := payload.Alerts[0].Fingerprint; fp != a.alerts(t, "TokensSlow")[0].Key || payload.Alerts[0].Labels["cluster"] != "real-test" {
		t.Fatalf("Alertmanager's fingerprint %s (labels %v), the room's key %s", fp, payload.Alerts[0].Labels, a.alerts(t, "TokensSlow")[0].Key)
	}
	t.Logf("one alert from the poll and the webhook after %s", time.Since(began).Round(100*time.Millisecond))

	// The silenced rule: Alertmanager never delivers it; its API, the
	// authority in room b, says it is silenced: shown, never paging.
	// Prometheus' own rules (room a) know nothing of silences.
	waitUntil(t, 10*time.Second, "the silenced rule in room b", func() bool { return len(b.alerts(t, "TokensErrors")) > 0 })
	if d := deliveredOf("TokensErrors"); len(d) != 0 {
		t.Fatalf("Alertmanager delivered a silenced alert: %v", d)
	}
	for _, x := range b.alerts(t, "TokensErrors") {
		if x.Pages() || !strings.Contains(x.Silenced, "silenced in Alertmanager") || x.Owner != "" {
			t.Fatalf("room b: the silenced rule pages: %+v", x)
		}
	}
	if as := a.alerts(t, "TokensErrors"); len(as) != 1 || !as[0].Pages() {
		t.Fatalf("room a (no alertmanager_url) sees the rule through Prometheus: %+v", as)
	}
	// Watchdog (severity none) and an info rule: information in room a,
	// Watchdog dropped in room b.
	waitUntil(t, 10*time.Second, "Watchdog and the info rule in room a", func() bool {
		return len(a.alerts(t, "Watchdog")) > 0 && len(a.alerts(t, "TokensInfo")) > 0
	})
	for _, rule := range []string{"Watchdog", "TokensInfo"} {
		if x := a.alerts(t, rule)[0]; x.Pages() || x.Level != incident.LevelInfo {
			t.Fatalf("%s pages: %+v", rule, x)
		}
	}
	if as := b.alerts(t, "Watchdog"); len(as) != 0 {
		t.Fatalf("drop: alertname=Watchdog imported it: %+v", as)
	}

	// The latency recovers: the rule resolves everywhere, once.
	latency.WithLabelValues("tokens").Set(0.05)
	waitUntil(t, 20*time.Second, "TokensSlow to resolve in both rooms, and their panes to read 0.05", func() bool {
		for _, room := range []*realRoom{a, b} {
			if room.alerts(t, "TokensSlow")[0].Open() || room.state(t).Panes[incident.PaneKey("tokens", "latency")].Value != 0.05 {
				return false
			}
		}
		return true
	})
	for _, room := range []*realRoom{a, b} {
		st := room.state(t)
		n := 0
		for _, e := range st.Recent {
			if e.Kind == incident.KindPage || e.Kind == incident.KindEscalate {
				t.Fatalf("%s: nothing here pages within the delays: %s", room.cfg.Incident.Name, e.Line())
			}
			if e.Kind == incident.KindAlert && e.Alert.Pane == "TokensSlow" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d ALERT events for TokensSlow", room.cfg.Incident.Name, n)
		}
	}
	t.Logf("whole test %s", time.Since(began).Round(100*time.Millisecond))
}

func f64(v float64) *float64 { return &v }

// TestRealAlertmanagerWebhookAuth: the real Alertmanager 0.25, configured
// as the README shows (http_config.authorization with credentials_file),
// is accepted; its receivers with a wrong token or none are refused (401;
// Alertmanager does not retry a 4xx at once, it sends the group again at
// the next group_interval) and their alerts never reach the war room.
func TestRealAlertmanagerWebhookAuth(t *testing.T) {
	amBin := realBinary(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	cfg := &config.Config{Incident: config.Incident{Name: "webhook auth"}, Roster: []config.Person{{Handle: "maya"}}, Roles: config.Roles{Commander: "maya"},
		Services: []config.Service{{ID: "tokens", Owner: "maya"}}}
	j, err := journal.Open(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()

	// Our receiver, noting what it answered to whom.
	type answer struct {
		agent, auth string
		code        int
	}
	var mu sync.Mutex
	var answers []answer
	wh := NewWebhook(eng, hookToken)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		wh.ServeHTTP(rec, r)
		mu.Lock()
		answers = append(answers, answer{r.UserAgent(), r.Header.Get("Authorization"), rec.Code})
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer hook.Close()

	tokenFile := filepath.Join(dir, "warroom-token")
	if err := os.WriteFile(tokenFile, []byte(hookToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	amAddr := freePort(t)
	amCfg := filepath.Join(dir, "am.yml")
	body := fmt.Sprintf(`route:
  receiver: warroom
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - {receiver: wrong-token, matchers: ['to="wrong"']}
    - {receiver: no-token, matchers: ['to="none"']}
receivers:
  - name: warroom
    webhook_configs:
      - url: %[1]s/api/alertmanager
        send_resolved: true
        max_alerts: 1000
        http_config:
          authorization:
            type: Bearer
            credentials_file: %[2]s
  - name: wrong-token
    webhook_configs:
      - url: %[1]s/api/alertmanager
        http_config: {authorization: {type: Bearer, credentials: not-the-token}}
  - name: no-token
    webhook_configs:
      - url: %[1]s/api/alertmanager
`, hook.URL, tokenFile)
	if err := os.WriteFile(amCfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, dir, "alertmanager", amBin, "--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=", "--web.external-url=http://"+amAddr)
	waitHTTP(t, "http://"+amAddr+"/-/ready", 15*time.Second)

	alerts := `[
 {"labels":{"alertname":"WithToken","service":"tokens","severity":"critical","to":"warroom"},"annotations":{"summary":"sent with the token"}},
 {"labels":{"alertname":"WrongToken","service":"tokens","severity":"critical","to":"wrong"},"annotations":{"summary":"sent with a wrong token"}},
 {"labels":{"alertname":"NoToken","service":"tokens","severity":"critical","to":"none"},"annotations":{"summary":"sent with no token"}}]`
	resp, err := http.Post("http://"+amAddr+"/api/v2/alerts", "application/json", strings.NewReader(alerts))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("inject alerts: %s", resp.Status)
	}
	open := func() map[string]bool {
		s, sub, err := eng.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		eng.Unsubscribe(sub)
		out := map[string]bool{}
		for _, a := range s.OpenAlerts() {
			out[a.Pane] = true
		}
		return out
	}
	refused := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range answers {
			if a.code == http.StatusUnauthorized && strings.HasPrefix(a.agent, "Alertmanager/") {
				n++
			}
		}
		return n
	}
	waitUntil(t, 20*time.Second, "the alert sent with the token, and both others refused", func() bool {
		return open()["WithToken"] && refused() >= 2
	})
	time.Sleep(1500 * time.Millisecond) // the next flush sends the refused groups again
	got := open()
	if got["WrongToken"] || got["NoToken"] {
		t.Fatalf("a refused notification reached the war room: %v", got)
	}
	nRefused := refused()
	mu.Lock()
	defer mu.Unlock()
	accepted := 0
	for _, a := range answers {
		switch {
		case a.code == 200 && a.auth == "Bearer "+hookToken && strings.HasPrefix(a.agent, "Alertmanager/0.25"):
			accepted++
		case a.code == 200:
			t.Fatalf("accepted without the token: %+v", a)
		}
	}
	if accepted == 0 {
		t.Fatalf("answers %+v", answers)
	}
	t.Logf("%s: %d notifications accepted with the token, %d refused (wrong token, none)", answers[0].agent, accepted, nRefused)
}

// TestRealBackfillAfterLateStart: Prometheus starts 30 s after the war
// room. Until then the backfill (query_range) fails like the polls; it is
// tried again with back-off, and once the real Prometheus 2.42 answers,
// the pane's history arrives: points older than the first live value.
// The scheduler runs on a fake clock, so the 30 s cost no wall time.
func TestRealBackfillAfterLateStart(t *testing.T) {
	promBin := realBinary(t, "prometheus")
	dir := t.TempDir()
	reg := prom.NewRegistry()
	g := prom.NewGauge(prom.GaugeOpts{Name: "warroom_test_requests", Help: "requests/s"})
	g.Set(7)
	reg.MustRegister(g)
	exporter := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer exporter.Close()

	promAddr := freePort(t)
	cfg := &config.Config{Incident: config.Incident{Name: "late prometheus"}, Roster: []config.Person{{Handle: "maya"}}, Roles: config.Roles{Commander: "maya"},
		Sources: []config.Source{{ID: "prom", Type: config.SourcePrometheus, URL: "http://" + promAddr,
			Interval: config.Duration(time.Second), Timeout: config.Duration(time.Second), ImportAlerts: new(bool)}},
		Services: []config.Service{{ID: "api", Owner: "maya", Panes: []config.Pane{{ID: "rps", Source: "prom", Query: `sum(warroom_test_requests)`}}}}}
	clk := clock.NewFake(time.Now().Add(-30 * time.Second))
	j, err := journal.Open(filepath.Join(dir, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	defer func() { cancel(); <-eng.Done(); j.Close() }()
	s, err := sources.Start(ctx, cfg, eng, nil, clk, sources.Options{Jitter: -1, Builders: map[config.SourceType]sources.Builder{
		config.SourcePrometheus: Builder(Options{Backfill: 30 * time.Second})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pane := func() *incident.Pane {
		st, sub, err := eng.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		eng.Unsubscribe(sub)
		return st.Panes[incident.PaneKey("api", "rps")]
	}
	settle := func() {
		waitUntil(t, 10*time.Second, "the scheduler to settle", func() bool { return fakes.Settled(s, clk.Now()) })
	}

	// 30 s with nothing listening.
	settle()
	for range 30 {
		clk.Advance(time.Second)
		settle()
	}
	if p := pane(); p == nil || !p.Stale || len(p.Series) != 0 {
		t.Fatalf("before Prometheus: %+v", p)
	}
	if h := s.Health()["prom"]; h.Health != incident.SourceDown {
		t.Fatalf("health before Prometheus: %+v", h)
	}

	// Prometheus starts and scrapes a few times while the scheduler waits.
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, []byte(fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs: [{job_name: exporter, static_configs: [{targets: [%q]}]}]\n",
		strings.TrimPrefix(exporter.URL, "http://"))), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, dir, "prometheus", promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--web.external-url=http://"+promAddr)
	waitHTTP(t, "http://"+promAddr+"/-/ready", 15*time.Second)
	waitUntil(t, 20*time.Second, "four scrapes", func() bool {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=count_over_time(warroom_test_requests[1m])")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return false
		}
		v, _ := r.Data.Result[0].Value[1].(string)
		n, _ := strconv.Atoi(v)
		return n >= 4
	})

	// The war room's clock catches up with the wall clock: the next
	// attempt gets the history, then the first live value.
	synced := time.Now()
	clk.Advance(synced.Sub(clk.Now()))
	var p *incident.Pane
	waitUntil(t, 10*time.Second, "the history and a live value", func() bool {
		if fakes.Settled(s, clk.Now()) {
			clk.Advance(time.Second)
		}
		p = pane()
		return p != nil && !p.Stale && p.Value == 7 && len(p.Series) >= 3
	})
	older := 0
	for _, pt := range p.Series {
		if pt.T.Before(synced) { // polls before synced all failed: this is history
			older++
		}
	}
	if older < 3 {
		t.Fatalf("no history from before the first live value: %v (synced at %s)", p.Series, synced.Format(time.TimeOnly))
	}
	t.Logf("backfill after a 30 s late start: %d points of history before the first live value", older)
}
