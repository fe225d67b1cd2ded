package playbooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// The example war room's people: rosa commands, dev is deputy, tara owns
// triton, tomas owns tokens (nia backs up), ollie only observes.
const (
	commander = "rosa"
	deputy    = "dev"
	tritonOwn = "tara"
	tokensOwn = "tomas"
	observer  = "ollie"
)

// adminToken is the canary secret used by every test rig.
const adminToken = "cAnArY/7d1f+0b9e=4a2c:Zq"

func init() {
	// Every playbook reads these; tests that need other values set their
	// own with t.Setenv.
	os.Setenv("SIM_ADMIN_TOKEN", adminToken)
}

// rig is an engine on a temporary journal, a catalog and a runner.
type rig struct {
	t       *testing.T
	cfg     *config.Config
	j       *journal.SQLite
	path    string
	eng     *incident.Engine
	clk     clock.Clock
	cat     *Catalog
	r       *Runner
	stop    context.CancelFunc
	logs    *lines
	outputs *lines
	slack   *recordingSlack
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	l.l = append(l.l, s)
	l.mu.Unlock()
}

func (l *lines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

type recordingSlack struct {
	mu   sync.Mutex
	msgs []SlackMessage
}

func (s *recordingSlack) PostPlaybookMessage(_ context.Context, m SlackMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, m)
	return nil
}

func (s *recordingSlack) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, m := range s.msgs {
		b.WriteString(m.RunID + " " + m.Playbook + " " + m.Text + "\n")
	}
	return b.String()
}

type rigOptions struct {
	clk       clock.Clock
	playbooks map[string]string // file name → YAML (default: the examples)
	path      string            // journal (default: a temp file)
	noSlack   bool
	transport http.RoundTripper
}

func exampleConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load(exampleConfigPath)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	return cfg
}

func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	cfg := exampleConfig(t)
	if o.playbooks != nil {
		dir := t.TempDir()
		for name, body := range o.playbooks {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Playbooks = dir
	}
	cat, err := LoadForConfig(cfg)
	if err != nil {
		t.Fatalf("catalog:\n%v", err)
	}
	path := o.path
	if path == "" {
		path = filepath.Join(t.TempDir(), "journal.db")
	}
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	clk := o.clk
	if clk == nil {
		clk = clock.Real{}
	}
	eng, err := incident.New(incident.Options{Config: cfg, Journal: j, Clock: clk, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	rg := &rig{t: t, cfg: cfg, j: j, path: path, eng: eng, clk: clk, cat: cat, stop: cancel, logs: &lines{}, outputs: &lines{}, slack: &recordingSlack{}}
	opts := Options{Engine: eng, Catalog: cat, Transport: o.transport,
		Log:    rg.logs.add,
		Output: func(l OutputLine) { rg.outputs.add(l.RunID + " " + l.Step + " " + l.Line) }}
	if !o.noSlack {
		opts.Slack = rg.slack
	}
	rg.r, err = NewRunner(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := rg.r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rg.close)
	return rg
}

func (rg *rig) close() {
	rg.r.Close()
	rg.stop()
	<-rg.eng.Done()
	rg.j.Close()
}

func (rg *rig) state() *incident.State {
	rg.t.Helper()
	st, err := rg.r.state(context.Background())
	if err != nil {
		rg.t.Fatal(err)
	}
	return st
}

func (rg *rig) run(id string) *incident.Run {
	rg.t.Helper()
	r := rg.state().Runs[id]
	if r == nil {
		rg.t.Fatalf("no run %s", id)
	}
	return r
}

// waitState waits until the run reaches state (or fails the test).
func (rg *rig) waitState(id string, state incident.RunState, within time.Duration) *incident.Run {
	rg.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := rg.state().Runs[id]
		if r != nil && r.State == state {
			return r
		}
		if time.Now().After(deadline) {
			got := "none"
			if r != nil {
				got = string(r.State) + " " + r.Step + " " + r.Error
			}
			rg.t.Fatalf("run %s: want state %s within %s, got %s\nhistory:\n%s\nlogs:\n%s", id, state, within, got, rg.history(id), rg.logs.all())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// history lists a run's RUN events as text.
func (rg *rig) history(id string) string {
	var b strings.Builder
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == id {
			fmt.Fprintf(&b, "  #%d %s %s %s | %s\n", ev.Seq, ev.Run.State, ev.Run.Step, ev.Run.Error, ev.Text)
		}
	}
	return b.String()
}

func (rg *rig) states(id string) []incident.RunState {
	var out []incident.RunState
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == id {
			out = append(out, ev.Run.State)
		}
	}
	return out
}

// feed sends a pane value every interval until the test ends.
func (rg *rig) feed(service, pane string, value func() float64, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	rg.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			_ = rg.eng.Submit(ctx, incident.Observe{Samples: []incident.Sample{{Service: service, Pane: pane, Time: rg.clk.Now(), Value: value()}}})
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}()
}

// fakeAdmin is a small admin API (the simulator's shape) that records
// every request.
type fakeAdmin struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	split   map[string]int
	version int
	hook    func(w http.ResponseWriter, r *http.Request, body []byte) bool // true: handled
}

type recorded struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
}

func newFakeAdmin(t *testing.T) *fakeAdmin {
	f := &fakeAdmin{split: map[string]int{"triton": 50, "quicknode": 50}, version: 1}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	t.Setenv("SIM_ADMIN_URL", f.URL)
	return f
}

func (f *fakeAdmin) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, body) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+adminToken {
		http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	etag := fmt.Sprintf(`"split-v%d"`, f.version)
	switch {
	case r.URL.Path == "/admin/rpc/split" && r.Method == http.MethodGet:
		w.Header().Set("ETag", etag)
		json.NewEncoder(w).Encode(f.split)
	case r.URL.Path == "/admin/rpc/split" && r.Method == http.MethodPut:
		if im := r.Header.Get("If-Match"); im != "" && im != etag {
			w.WriteHeader(http.StatusPreconditionFailed)
			fmt.Fprintf(w, `{"error":"precondition failed"}`)
			return
		}
		var in map[string]int
		if err := json.Unmarshal(body, &in); err != nil || in["triton"]+in["quicknode"] != 100 {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"weights must sum to 100"}`)
			return
		}
		f.split = in
		f.version++
		w.Header().Set("ETag", fmt.Sprintf(`"split-v%d"`, f.version))
		json.NewEncoder(w).Encode(f.split)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no such resource %s"}`, r.URL.Path)
	}
}

func (f *fakeAdmin) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if method == "" || r.Method == method {
			n++
		}
	}
	return n
}

func (f *fakeAdmin) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func (f *fakeAdmin) setHook(h func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// splitPlaybook is rpc-traffic-split with waits short enough for tests.
const splitPlaybook = `id: split
title: Shift RPC traffic (test)
service: triton
description: test copy of rpc-traffic-split with short waits
risk: high
approval:
  approvers: [commander, deputy]
  expires: 10m
lock:
  name: rpc-provider-split
  timeout: 15m
vars:
  admin:
    env: SIM_ADMIN_URL
secrets:
  admin_token: ${SIM_ADMIN_TOKEN}
params:
  - name: triton_percent
    type: int
    description: percent to triton
    min: 0
    max: 100
    step: 10
steps:
  - id: capture
    http:
      method: GET
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      save: {triton: json:$.triton, quicknode: json:$.quicknode, etag: header:ETag}
  - id: apply
    http:
      method: PUT
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}", If-Match: "{{steps.capture.etag}}"}
      json: {triton: "{{params.triton_percent}}", quicknode: "{{100 - params.triton_percent}}"}
      diff: capture
  - id: announce
    slack: "split now {{params.triton_percent}}/{{100 - params.triton_percent}} ({{run.id}})"
verify:
  - id: latency
    wait_metric:
      condition: "triton/latency < 500"
      for: 300ms
      timeout: 3s
rollback:
  - id: restore
    http:
      method: PUT
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      json: {triton: "{{steps.capture.triton}}", quicknode: "{{steps.capture.quicknode}}"}
      retries: 1
`

type (
	httpResponseWriter = http.ResponseWriter
	httpRequest        = http.Request
)
