package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
)

type adminClient struct {
	t     *testing.T
	base  string
	token string
}

func (c adminClient) do(method, path, body string, hdr ...string) (int, http.Header, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		c.t.Errorf("%s %s: content type %q", method, path, ct)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, m
}

func TestAdminAPI(t *testing.T) {
	s, fk := startTest(t, 41, 4.5, Options{})
	c := adminClient{t: t, base: s.AdminURL}

	code, h, m := c.do("GET", "/admin/rpc/split", "")
	if code != 200 || m["triton"] != 50.0 || m["quicknode"] != 50.0 || len(m) != 2 {
		t.Fatalf("GET split: %d %v", code, m)
	}
	etag := h.Get("ETag")
	code, h2, m := c.do("PUT", "/admin/rpc/split", `{"triton":20,"quicknode":80}`, "If-Match", etag)
	if code != 200 || m["triton"] != 20.0 || m["quicknode"] != 80.0 || h2.Get("ETag") == etag {
		t.Fatalf("PUT split: %d %v %v", code, m, h2)
	}
	// Idempotent: the same PUT again changes nothing (same ETag).
	_, h3, _ := c.do("PUT", "/admin/rpc/split", `{"triton":20,"quicknode":80}`)
	if h3.Get("ETag") != h2.Get("ETag") {
		t.Error("repeating a PUT changed the version")
	}
	// Compare-and-set with a stale ETag: 412 with the current value.
	code, _, m = c.do("PUT", "/admin/rpc/split", `{"triton":50,"quicknode":50}`, "If-Match", etag)
	if code != 412 || m["current"].(map[string]any)["triton"] != 20.0 {
		t.Errorf("stale If-Match: %d %v", code, m)
	}
	for _, body := range []string{`{"triton":60,"quicknode":60}`, `{"triton":20}`, `{"triton":20.5,"quicknode":79.5}`,
		`{"triton":20,"quicknode":80,"alchemy":0}`, `not json`, ``, `{"triton":"20","quicknode":80}`} {
		code, _, m := c.do("PUT", "/admin/rpc/split", body)
		if code != 400 || m["error"] == nil || m["error"] == "" {
			t.Errorf("PUT split %q: %d %v", body, code, m)
		}
	}

	code, _, m = c.do("GET", "/admin/lambda/tokens/concurrency", "")
	if code != 200 || m["reserved_concurrency"] != 1000.0 || m["function"] != "tokens" {
		t.Fatalf("GET lambda: %d %v", code, m)
	}
	code, _, m = c.do("PUT", "/admin/lambda/tokens/concurrency", `{"reserved_concurrency":3000}`)
	if code != 200 || m["reserved_concurrency"] != 3000.0 {
		t.Fatalf("PUT lambda: %d %v", code, m)
	}
	if code, _, _ := c.do("PUT", "/admin/lambda/tokens/concurrency", `{"reserved_concurrency":9999}`); code != 400 {
		t.Errorf("over the account limit: %d", code)
	}
	if code, _, _ := c.do("GET", "/admin/lambda/payments/concurrency", ""); code != 404 {
		t.Errorf("unknown function: %d", code)
	}

	code, _, before := c.do("GET", "/admin/db/sessions/terminate-idle", "")
	if code != 200 || before["connections_used"] != 500.0 || before["idle"].(float64) < 300 {
		t.Fatalf("GET db sessions: %d %v", code, before)
	}
	code, _, m = c.do("POST", "/admin/db/password/rotate", "")
	if code != 200 || m["connections_used"] != 500.0 || m["password_rotations"] != 1.0 {
		t.Errorf("rotate: %d %v", code, m)
	}
	code, _, m = c.do("POST", "/admin/db/sessions/terminate-idle", "")
	if code != 200 || m["terminated"] != before["idle"] || m["idle"] != 0.0 || m["connections_used"].(float64) > 400 {
		t.Errorf("terminate-idle: %d %v", code, m)
	}
	if code, h, _ := c.do("PUT", "/admin/db/sessions/terminate-idle", "{}"); code != 405 || !strings.Contains(h.Get("Allow"), "POST") {
		t.Errorf("PUT terminate-idle: %d", code)
	}

	if code, _, m = c.do("PUT", "/admin/waf/mode", `{"mode":"block"}`); code != 200 || m["mode"] != "block" {
		t.Errorf("waf: %d %v", code, m)
	}
	if code, _, m = c.do("PUT", "/admin/waf/mode", `{"mode":"panic"}`); code != 400 || !strings.Contains(m["error"].(string), "challenge") {
		t.Errorf("bad waf mode: %d %v", code, m)
	}
	if code, _, m = c.do("GET", "/admin/fees/priority", ""); code != 200 || m["micro_lamports"] != 10000.0 {
		t.Errorf("fee: %d %v", code, m)
	}
	if code, _, m = c.do("POST", "/admin/fees/priority", `{"micro_lamports":300000}`); code != 200 || m["micro_lamports"] != 300000.0 {
		t.Errorf("fee: %d %v", code, m)
	}
	if code, _, _ = c.do("PUT", "/admin/fees/priority", `{"micro_lamports":-5}`); code != 400 {
		t.Errorf("negative fee: %d", code)
	}
	if code, _, m = c.do("PUT", "/admin/nat/ips", `{"ips":8}`); code != 200 || m["ports"] != 440000.0 {
		t.Errorf("nat: %d %v", code, m)
	}

	fk.Advance(30 * time.Second)
	code, _, st := c.do("GET", "/admin/state", "")
	if code != 200 {
		t.Fatal(code)
	}
	for p, on := range st["problems"].(map[string]any) {
		if on == true {
			t.Errorf("problem %s still visible 30 s after every mitigation", p)
		}
	}
	ctl := st["controls"].(map[string]any)
	if ctl["waf_mode"] != "block" || ctl["db_idle_terminations"] != 1.0 || ctl["rpc_split"].(map[string]any)["triton"] != 20.0 {
		t.Errorf("controls: %v", ctl)
	}

	code, _, st = c.do("POST", "/admin/reset", "")
	if code != 200 || st["controls"].(map[string]any)["waf_mode"] != "challenge" || st["problems"].(map[string]any)["db_connections"] != true {
		t.Errorf("reset: %d %v", code, st)
	}
	if code, _, _ := c.do("GET", "/admin/nope", ""); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
	if code, _, m := c.do("GET", "/admin/catalog", ""); code != 200 || len(m["prometheus"].([]any)) != len(PromCatalog()) {
		t.Errorf("catalog: %d", code)
	}
}

func TestAdminToken(t *testing.T) {
	s, _ := startTest(t, 41, 4.5, Options{AdminToken: "s3cret"})
	if code, h, _ := (adminClient{t: t, base: s.AdminURL}).do("GET", "/admin/state", ""); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := (adminClient{t: t, base: s.AdminURL, token: "wrong"}).do("GET", "/admin/state", ""); code != 401 {
		t.Errorf("wrong token: %d", code)
	}
	if code, _, _ := (adminClient{t: t, base: s.AdminURL, token: "s3cret"}).do("GET", "/admin/state", ""); code != 200 {
		t.Errorf("token: %d", code)
	}
}

func TestSameSeedSameHTTPAnswers(t *testing.T) {
	body := func(seed uint64) string {
		s, _ := startTest(t, seed, 6, Options{})
		resp, err := http.Get(s.PromURL + "/api/v1/query_range?query=" +
			"sum%28rate%28http_requests_total%5B1m%5D%29%29&start=1769882000&end=1769882700&step=5")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	a, b, c := body(5), body(5), body(6)
	if a != b || len(a) < 1000 {
		t.Error("same seed gave different query_range answers")
	}
	if a == c {
		t.Error("different seeds gave the same answer")
	}
}

func TestStartCloseLeavesNoGoroutines(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	before := runtime.NumGoroutine()
	for _, viaCtx := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := Start(ctx, Options{Seed: 1, Clock: clock.NewScaled(testT0.Add(4*time.Minute), 1), Start: testT0,
			MaxLatency: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		// Exercise every server, leaving keep-alive connections and one
		// RPC call sleeping in its modelled latency.
		tr := &http.Transport{}
		cl := &http.Client{Transport: tr}
		for _, u := range []string{s.PromURL + "/metrics", s.AdminURL + "/admin/state"} {
			if resp, err := cl.Get(u); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		go func() {
			resp, err := cl.Post(s.TritonURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"getSlot"}`))
			if err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		if viaCtx {
			cancel()
		}
		_ = s.Close()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("close took %v", d)
		}
		cancel()
		tr.CloseIdleConnections()
		if _, err := http.Get(s.PromURL + "/metrics"); err == nil {
			t.Error("server still answering after Close")
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
