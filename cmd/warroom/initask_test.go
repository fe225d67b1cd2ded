package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/textsafe/hostile"
)

// jobsProm answers /api/v1/label/job/values in the documented shape
// (Prometheus HTTP API, "Querying label values").
func jobsProm(t *testing.T) *httptest.Server {
	t.Helper()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/label/job/values" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"success","data":["node","tokens api"]}`))
	}))
	t.Cleanup(prom.Close)
	return prom
}

// TestInitAsksWhatTheFlagsWouldSay: the answers, typed as a person would
// (a bad one asked again, Enter for a default, a name with escape bytes),
// make the file the flags would, and it passes check.
func TestInitAsksWhatTheFlagsWouldSay(t *testing.T) {
	prom := jobsProm(t)
	t.Setenv("USER", "rosa")
	out := filepath.Join(t.TempDir(), "warroom.yaml")
	answers := strings.Join([]string{
		"Claim day \x1b]52;c;AAAA\x07room", // the name
		"not a handle!",                    // asked again
		"maya",
		"127.0.0.1:9090", // no scheme: asked again
		prom.URL,
		"", // one service per job: the default, yes
		"datadoghq.moon",
		"datadoghq.eu",
		"history, tokens-api banners", // tokens-api is a job already
		"#launch",                     // a name, not an ID: asked again
		"C0123ABCD",
	}, "\n") + "\n"
	var stdout, stderr bytes.Buffer
	o := initOptions{out: out, name: "War room"}
	if err := runInit(context.Background(), o, strings.NewReader(answers), &stdout, &stderr); err != nil {
		t.Fatalf("init: %v\n%s", err, stderr.String())
	}
	prompts := stderr.String()
	for _, want := range []string{
		"The war room's name [War room]: ",
		"Your roster handle (you are the commander) [rosa]: ",
		"  a handle is letters, digits, _ . - (e.g. rosa)",
		"  an http(s) URL, e.g. http://127.0.0.1:9090",
		"  it scrapes 2 job(s): node, tokens-api",
		"  one of datadoghq.com,",
		"More services (Enter for none): ",
		"  the channel's ID (C0123ABCD, in the channel's details), not its name",
	} {
		if !strings.Contains(prompts, want) {
			t.Errorf("the conversation lacks %q:\n%s", want, prompts)
		}
	}
	if bad := hostile.Find([]byte(prompts + stdout.String())); bad != "" {
		t.Errorf("init printed %s", bad)
	}
	c, err := config.Load(out)
	if err != nil {
		t.Fatalf("the file does not load: %v", err)
	}
	var ids []string
	for _, s := range c.Services {
		ids = append(ids, s.ID)
	}
	if strings.Join(ids, " ") != "node tokens-api history banners" || c.Roles.Commander != "maya" ||
		c.Source("prom") == nil || c.Source("dd") == nil || c.Source("dd").Site != "datadoghq.eu" || c.Slack == nil || c.Slack.Channel != "C0123ABCD" {
		t.Fatalf("services %v, commander %s, sources %+v, slack %+v", ids, c.Roles.Commander, c.Sources, c.Slack)
	}
	if strings.ContainsRune(c.Incident.Name, 0x1b) || !strings.HasPrefix(c.Incident.Name, "Claim day") {
		t.Fatalf("name %q", c.Incident.Name)
	}
	if p := c.Services[0].Panes[0]; p.ID != "up" || !strings.Contains(p.Query, `up{job="node"}`) {
		t.Fatalf("a job's service watches its targets: %+v", p)
	}
	if code, so, se := runCLI("check", "-c", out); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, so, se)
	}

	// The input ending early takes the defaults of the questions left.
	out2 := filepath.Join(t.TempDir(), "warroom.yaml")
	if err := runInit(context.Background(), initOptions{out: out2, name: "War room"}, strings.NewReader("Quick room\n"), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load(out2); err != nil || c.Incident.Name != "Quick room" || c.Roles.Commander != "rosa" || len(c.Services) != 1 || c.Services[0].ID != "api" {
		t.Fatalf("defaults after the end of the input: %v %+v", err, c)
	}
	// Three bad answers to one question: nothing is written.
	out3 := filepath.Join(t.TempDir(), "warroom.yaml")
	stderr.Reset()
	err = runInit(context.Background(), initOptions{out: out3}, strings.NewReader("\n-x\n-y\n-z\n"), &stdout, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "no valid answer after 3 tries") {
		t.Fatalf("three bad handles: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(out3); !os.IsNotExist(err) {
		t.Fatal("a file was written after a question went unanswered")
	}
}

// TestInitOnATerminal runs `warroom init` in a pty: without flags it
// asks, and the answers make a file that passes check; with a flag it
// asks nothing.
func TestInitOnATerminal(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	prom := jobsProm(t)
	start := func(dir string, args ...string) (*exec.Cmd, *os.File, *syncBuffer, chan struct{}) {
		cmd := exec.Command(self, append([]string{"init"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "WARROOM_TEST_MAIN=1", "USER=rosa")
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		var screen syncBuffer
		go func() { _, _ = screen.ReadFrom(f) }()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-done; f.Close() })
		return cmd, f, &screen, done
	}
	waitFor := func(screen *syncBuffer, s string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !strings.Contains(screen.String(), s); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %q; the terminal shows:\n%s", s, screen.String())
			}
		}
	}
	dir := t.TempDir()
	_, f, screen, done := start(dir)
	for _, qa := range []struct{ prompt, answer string }{
		{"name [War room]: ", "Launch day"},
		{"commander) [rosa]: ", ""},
		{"Prometheus base URL (Enter for none): ", prom.URL},
		{"scrapes? (y/n) [y]: ", "y"},
		{"Datadog site", ""},
		{"More services (Enter for none): ", "history"},
		{"Slack channel ID", ""},
	} {
		waitFor(screen, qa.prompt)
		if _, err := f.Write([]byte(qa.answer + "\r")); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("init did not finish:\n%s", screen.String())
	}
	waitFor(screen, "wrote warroom.yaml")
	if code, so, se := runCLI("check", "-c", filepath.Join(dir, "warroom.yaml")); code != 0 || !strings.Contains(so, "3 services") {
		t.Fatalf("check: exit %d\n%s%s", code, so, se)
	}
	// A flag says what the file holds: no questions, even on a terminal.
	dir = t.TempDir()
	_, _, screen, done = start(dir, "--service", "tokens")
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("init --service asked something:\n%s", screen.String())
	}
	if strings.Contains(screen.String(), "A few questions") || !strings.Contains(screen.String(), "wrote warroom.yaml") {
		t.Fatalf("init --service on a terminal:\n%s", screen.String())
	}
}

// TestInitSaysWhichSourceWithoutOne: with Enter for no Prometheus and no
// Datadog, the conversation says which source the file gets instead (it
// wrote a local Prometheus after "Enter for none" without a word).
func TestInitSaysWhichSourceWithoutOne(t *testing.T) {
	t.Setenv("USER", "rosa")
	out := filepath.Join(t.TempDir(), "warroom.yaml")
	var stdout, stderr bytes.Buffer
	if err := runInit(context.Background(), initOptions{out: out, name: "War room"}, strings.NewReader("\n\n\n\n\n\n"), &stdout, &stderr); err != nil {
		t.Fatalf("init: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "the file gets a Prometheus at http://127.0.0.1:9090") {
		t.Errorf("the conversation does not say which source the file gets:\n%s", stderr.String())
	}
	c, err := config.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sources) != 1 || c.Sources[0].URL != "http://127.0.0.1:9090" {
		t.Errorf("sources %+v", c.Sources)
	}
}
