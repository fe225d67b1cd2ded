package comms

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

var update = flag.Bool("update", false, "rewrite testdata goldens")

// pageRig publishes two updates (one with hostile text), sets a
// component, and leaves a third update waiting for approval.
func pageRig(t testing.TB) *rig {
	t.Helper()
	r := newRig(t, spsim.Options{})
	r.do(incident.SetSeverity{By: "rosa", Severity: "SEV2"})
	r.clk.Advance(4 * time.Minute)
	r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusInvestigating, Notify: true,
		Body:       "We are investigating slow claims.\nYour tokens are safe; please do not retry yet.",
		Components: []incident.ComponentChange{{ID: "claims", Status: incident.ComponentPartial}}}})
	r.clk.Advance(18 * time.Minute)
	r.do(incident.SubmitUpdate{By: "rosa", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusIdentified, Notify: true,
		Body: "Your transaction may have gone through; do not retry. <script>alert(1)</script> & \"quotes\" 'too'"}})
	r.clk.Advance(time.Minute)
	r.do(incident.SetComponent{By: "sam", Component: "history", Status: incident.ComponentDegraded})
	// Waiting for approval: never on the public page.
	r.do(incident.SubmitUpdate{By: "sam", Draft: incident.Draft{Title: "Slow claims", Status: incident.StatusResolved, Body: "DRAFT NOT PUBLISHED", Notify: true}})
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./comms -run Page -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./comms -run Page -update):\n%s", name, got)
	}
}

func TestPageGoldens(t *testing.T) {
	r := pageRig(t)
	v := Build(r.cfg, r.state())
	html, err := v.RenderHTML()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "page.golden.html", html)
	js, err := v.RenderJSON("https://status.example")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "index.golden.json", js)
	atom, err := v.RenderAtom("https://status.example")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "history.golden.atom", atom)

	s := string(html)
	for _, bad := range []string{"<script", "DRAFT NOT PUBLISHED", "JUP airdrop"} {
		if strings.Contains(s, bad) {
			t.Errorf("the page shows %q", bad)
		}
	}
	if !strings.Contains(s, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;") {
		t.Error("the hostile text is not escaped as text")
	}
	if v.Indicator != "major" || v.Description != "Partial System Outage" || v.Incident.Status != incident.StatusIdentified || len(v.Incident.Updates) != 2 {
		t.Errorf("view %+v", v)
	}

	// The feed parses as Atom: two entries, newest first.
	var feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		Entries []struct {
			ID      string `xml:"id"`
			Title   string `xml:"title"`
			Updated string `xml:"updated"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(atom, &feed); err != nil {
		t.Fatalf("the feed is not XML: %v", err)
	}
	if len(feed.Entries) != 2 || feed.Entries[0].Title != "Identified: Slow claims" || !strings.Contains(feed.Entries[0].Content, "<script>alert(1)</script>") {
		t.Fatalf("feed %+v", feed)
	}
	if _, err := time.Parse(time.RFC3339, feed.Entries[1].Updated); err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal(js, &sum); err != nil {
		t.Fatal(err)
	}
	if st := sum["status"].(map[string]any); st["indicator"] != "major" {
		t.Fatalf("summary status %v", st)
	}
}

func TestPageServesNoCookiesNoScripts(t *testing.T) {
	r := pageRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewPage(ctx, r.eng)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func(method, path string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("GET", "/")
	if resp.StatusCode != 200 || resp.Header.Get("Set-Cookie") != "" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(body, "Your transaction may have gone through") {
		t.Fatalf("page %d %v", resp.StatusCode, resp.Header)
	}
	if regexp.MustCompile(`(?i)<script|\bon[a-z]+=|javascript:`).MatchString(strings.ReplaceAll(body, "&lt;script&gt;", "")) {
		t.Error("the page carries script")
	}
	for path, ct := range map[string]string{"/index.json": "application/json", "/history.atom": "application/atom+xml; charset=utf-8"} {
		if resp, _ := get("GET", path); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	// Answers are cached until the incident changes: the same ETag, and a
	// conditional request is answered 304 with no body.
	etag := resp.Header.Get("ETag")
	if again, _ := get("GET", "/"); etag == "" || again.Header.Get("ETag") != etag {
		t.Errorf("ETag %q, then %q", etag, again.Header.Get("ETag"))
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("If-None-Match", etag)
	if cond, err := http.DefaultClient.Do(req); err != nil || cond.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %v %v", cond, err)
	} else {
		cond.Body.Close()
	}
	if head, body := get("HEAD", "/"); head.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", head.StatusCode, body)
	}
	if resp, _ := get("POST", "/"); resp.StatusCode != 405 {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if resp, _ := get("GET", "/api/timeline"); resp.StatusCode != 404 {
		t.Errorf("the page serves the room's API: %d", resp.StatusCode)
	}
	// It follows the room: a new update shows on the next request.
	r.do(incident.ApproveUpdate{By: "rosa", ID: r.state().Life.Pending.ID, Hash: r.state().Life.Pending.Hash})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, body := get("GET", "/"); strings.Contains(body, "DRAFT NOT PUBLISHED") {
			if resp.Header.Get("ETag") == etag {
				t.Error("the page changed and kept its ETag")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the approved update never showed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// findChromium returns the browser to render with, or skips (fails when
// WARROOM_REQUIRE_REAL=1, as in CI).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("WARROOM_REQUIRE_REAL") == "1" {
		t.Fatal("chromium is not installed and WARROOM_REQUIRE_REAL=1 (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// TestPageInChromium loads the served page in headless Chromium with
// JavaScript disabled (DevTools: Emulation.setScriptExecutionDisabled) and
// reads the DOM back over the DevTools protocol, which needs no script in
// the page: the DOM has the updates and components, the hostile text is
// text, and the browser reports no console message, script error or CSP
// violation.
func TestPageInChromium(t *testing.T) {
	bin := findChromium(t)
	r := pageRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := NewPage(ctx, r.eng)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	b := startBrowser(t, bin)
	dom, logs := b.load(t, srv.URL+"/")
	for _, l := range logs {
		t.Errorf("browser: %s", l)
	}
	for _, want := range []string{
		"<h1>Wallet status</h1>", "Partial System Outage", `<span class="st partial_outage">partial outage</span>`,
		"Your tokens are safe; please do not retry yet.", "&lt;script&gt;alert(1)&lt;/script&gt;", "Current incident",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM lacks %s", want)
		}
	}
	if regexp.MustCompile(`(?i)<script`).MatchString(dom) {
		t.Error("the rendered DOM has a script element")
	}
	// The feed is served as Atom and parses.
	resp, err := http.Get(srv.URL + "/history.atom")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var feed struct {
		Entries []struct{ Title string } `xml:"entry"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&feed); err != nil || len(feed.Entries) != 2 {
		t.Fatalf("feed: %v %+v", err, feed)
	}
}
