// The playbook flow end to end: a real room (engine on a temporary journal,
// the playbook catalog loaded from a war-room file, the runner) and two
// dashboards driven through teatest. It lives in package tui_test because
// package room imports tui (room.Playbooks is the production adapter).
package tui_test

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
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/room"
	"github.com/warroom/warroom/tui"
)

const (
	flowWait    = 10 * time.Second
	flowToken   = "flow-admin-token-0123456789"
	flowWarroom = `incident:
  name: playbook flow test
escalation:
  backup: 5m
  commander: 10m
playbooks: ./playbooks
sources:
  - id: prom
    type: prometheus
    url: http://127.0.0.1:9
    interval: 5s
services:
  - id: cloudflare
    name: Cloudflare Security
    owner: cleo
    panes:
      - id: bots
        title: bots reaching origin
        source: prom
        query: q
        unit: req/s
        warn: 2000
        crit: 5000
roster:
  - handle: rosa
    name: Rosa Iqbal
  - handle: cleo
    name: Cleo Martin
  - handle: dev
    name: Dev Okafor
roles:
  commander: rosa
  deputy: dev
`
	// Modelled on examples/airdrop/playbooks/waf-mode.yaml, without the
	// Slack step and the metric verification (verify is optional).
	flowPlaybook = `id: waf-mode
title: Set Cloudflare WAF mode
service: cloudflare
description: Sets the WAF mode for the launch zone.
risk: high
approval:
  approvers: [commander, deputy]
  expires: 10m
lock:
  name: "cloudflare-waf:launch-zone"
  timeout: 15m

vars:
  admin: "%s"
secrets:
  admin_token: ${FLOW_ADMIN_TOKEN}

params:
  - name: mode
    type: enum
    description: The WAF mode to set.
    values: [monitor, challenge, block]

steps:
  - id: capture
    http:
      method: GET
      url: "{{vars.admin}}/admin/waf/mode"
      headers:
        Authorization: "Bearer {{secrets.admin_token}}"
      save:
        mode: json:$.mode
        etag: header:ETag
      retries: 2
    timeout: 5s

  - id: apply
    http:
      method: PUT
      url: "{{vars.admin}}/admin/waf/mode"
      headers:
        Authorization: "Bearer {{secrets.admin_token}}"
        If-Match: "{{steps.capture.etag}}"
      json:
        mode: "{{params.mode}}"
      expect: [200]
      diff: capture
    timeout: 5s

rollback:
  - id: restore
    http:
      method: PUT
      url: "{{vars.admin}}/admin/waf/mode"
      headers:
        Authorization: "Bearer {{secrets.admin_token}}"
      json:
        mode: "{{steps.capture.mode}}"
      expect: [200]
    timeout: 5s
`
)

// wafAdmin is the admin API: GET answers challenge with an ETag, PUT
// records its body and answers 200. It never changes its answer, so the
// dry run and the run see the same mode.
type wafAdmin struct {
	mu   sync.Mutex
	gets int
	puts []string // "If-Match|body"
	bad  []string // anything unexpected
}

func (a *wafAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.URL.Path != "/admin/waf/mode" || r.Header.Get("Authorization") != "Bearer "+flowToken {
		a.bad = append(a.bad, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("Authorization"))
		http.Error(w, "no", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.gets++
		w.Header().Set("ETag", `"waf-v1"`)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"mode":"challenge"}`)
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		a.puts = append(a.puts, r.Header.Get("If-Match")+"|"+string(body))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	default:
		a.bad = append(a.bad, r.Method+" "+r.URL.String())
		http.Error(w, "method", http.StatusMethodNotAllowed)
	}
}

func (a *wafAdmin) snapshot() (gets int, puts, bad []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gets, append([]string(nil), a.puts...), append([]string(nil), a.bad...)
}

// flowRoom writes the war-room file and the playbook into a temporary
// directory and opens the room as `warroom run` does.
func flowRoom(t *testing.T, adminURL string) *room.Room {
	t.Helper()
	r := openFlowRoom(t, flowDir(t, adminURL))
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close the room: %v", err)
		}
	})
	return r
}

// flowDir writes the war-room file and the playbook; it returns the
// directory (the journal goes there too).
func flowDir(t *testing.T, adminURL string) string {
	t.Helper()
	t.Setenv("FLOW_ADMIN_TOKEN", flowToken)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "playbooks", "waf-mode.yaml"), []byte(fmt.Sprintf(flowPlaybook, adminURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "warroom.yaml"), []byte(flowWarroom), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openFlowRoom opens the room of dir as `warroom run` does; the caller
// closes it.
func openFlowRoom(t *testing.T, dir string) *room.Room {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "warroom.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: filepath.Join(dir, "journal.db"), NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Catalog.Playbooks(); len(got) != 1 || got[0].ID != "waf-mode" {
		t.Fatalf("catalog %v", got)
	}
	return r
}

// flowProbe wraps the model: probes read the screen on the program's own
// goroutine, and every rendered frame is checked for an approval prompt.
type flowProbe struct {
	m        *tui.Model
	approval atomic.Bool // some frame showed an approval banner or dialog
}

type flowProbeMsg struct{ reply chan string }

func (p *flowProbe) Init() tea.Cmd { return p.m.Init() }
func (p *flowProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if pm, ok := msg.(flowProbeMsg); ok {
		pm.reply <- ansi.Strip(p.m.View().Content)
		return p, nil
	}
	_, cmd := p.m.Update(msg)
	return p, cmd
}
func (p *flowProbe) View() tea.View {
	v := p.m.View()
	if s := ansi.Strip(v.Content); strings.Contains(s, "awaits your approval") || strings.Contains(s, "Approve run") {
		p.approval.Store(true)
	}
	return v
}

// flowTUI is one person's dashboard on the room.
type flowTUI struct {
	t      *testing.T
	handle string
	tm     *teatest.TestModel
	p      *flowProbe
	last   string
}

func startFlowTUI(t *testing.T, r *room.Room, handle string) *flowTUI {
	t.Helper()
	o := tui.Options{Engine: r.Engine, Handle: handle, Profile: colorprofile.ASCII, Theme: tui.ThemeDark, Playbooks: r.Playbooks()}
	p := &flowProbe{m: tui.New(o)}
	tm := teatest.NewTestModel(t, p, teatest.WithInitialTermSize(120, 40),
		teatest.WithProgramOptions(append(tui.ProgramOptions(tui.Options{FPS: 30}), tea.WithColorProfile(colorprofile.ASCII))...))
	f := &flowTUI{t: t, handle: handle, tm: tm, p: p}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's last screen:\n%s", handle, f.last)
		}
		_ = tm.Quit()
	})
	f.wait("Cloudflare Security", "cmdr rosa")
	return f
}

// Read makes the dashboard an io.Reader for teatest.WaitFor: each read
// takes the current screen (through a probe) and reports nothing, so the
// condition looks at f.last, the latest screen, not at every screen so far.
func (f *flowTUI) Read([]byte) (int, error) {
	ch := make(chan string, 1)
	f.tm.Send(flowProbeMsg{reply: ch})
	select {
	case s := <-ch:
		f.last = s
		return 0, io.EOF
	case <-time.After(5 * time.Second):
		return 0, fmt.Errorf("%s's program did not answer the probe", f.handle)
	}
}

func (f *flowTUI) wait(want ...string) string {
	f.t.Helper()
	teatest.WaitFor(f.t, f, func([]byte) bool {
		for _, w := range want {
			if !strings.Contains(f.last, w) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(flowWait), teatest.WithCheckInterval(20*time.Millisecond))
	return f.last
}

func (f *flowTUI) keys(keys ...string) {
	for _, k := range keys {
		f.tm.Send(flowKey(k))
	}
}

func flowKey(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "ctrl+c", "ctrl+p":
		return tea.KeyPressMsg{Code: rune(s[5]), Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	if r >= 'A' && r <= 'Z' {
		return tea.KeyPressMsg{Code: r + 32, ShiftedCode: r, Text: s, Mod: tea.ModShift}
	}
	return tea.KeyPressMsg{Code: r, Text: s}
}

// waitEngine polls fresh engine snapshots until cond holds.
func waitEngine(t *testing.T, e *incident.Engine, what string, cond func(*incident.State) bool) *incident.State {
	t.Helper()
	var st *incident.State
	deadline := time.Now().Add(flowWait)
	for {
		s, sub, err := e.Subscribe(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		e.Unsubscribe(sub)
		st = s
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			var runs []string
			for id, r := range st.Runs {
				runs = append(runs, fmt.Sprintf("%s %s %s step=%s err=%q", id, r.Playbook, r.State, r.Step, r.Error))
			}
			t.Fatalf("timed out waiting for %s; runs: %v", what, runs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func onlyRun(st *incident.State) *incident.Run {
	if len(st.Runs) != 1 {
		return nil
	}
	for _, r := range st.Runs {
		return r
	}
	return nil
}

// TestFlowPlaybookRequestApproveRun: the owner of Cloudflare picks
// waf-mode in the palette, sets mode=block, confirms the dry run and
// requests the run; the commander's dashboard shows the approval banner,
// she approves, and the runner applies exactly one PUT {"mode":"block"}.
// The requester never sees an approval prompt for her own run.
func TestFlowPlaybookRequestApproveRun(t *testing.T) {
	admin := &wafAdmin{}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	r := flowRoom(t, srv.URL)

	cleo := startFlowTUI(t, r, "cleo")
	rosa := startFlowTUI(t, r, "rosa")

	// The owner: palette, the playbook, the form.
	cleo.keys("ctrl+p")
	cleo.tm.Type("waf mode")
	cleo.wait("Run playbook: Set Cloudflare WAF mode")
	cleo.keys("enter")
	cleo.wait("Run playbook waf-mode (Cloudflare Security)", "mode")
	// The enum has no default; step right until the form shows block.
	for i := 0; !strings.Contains(cleo.last, "◀ block ▶"); i++ {
		if i == 3 {
			t.Fatalf("mode never reached block:\n%s", cleo.last)
		}
		cleo.keys("right")
		// The probe is queued behind the key, so it sees its effect.
		if _, err := cleo.Read(nil); err != io.EOF {
			t.Fatal(err)
		}
	}
	if gets, puts, _ := admin.snapshot(); gets != 0 || len(puts) != 0 {
		t.Fatalf("requests before the dry run: %d GET, PUTs %v", gets, puts)
	}

	// The dry run reads the current mode (GET only) and shows the change.
	cleo.keys("enter")
	cleo.wait("Confirm: request this run?", "Nothing has been requested yet", "challenge", "block")
	gets, puts, _ := admin.snapshot()
	if gets == 0 || len(puts) != 0 {
		t.Fatalf("the dry run made %d GETs and PUTs %v (want GETs only)", gets, puts)
	}
	if st := waitEngine(t, r.Engine, "nothing yet", func(*incident.State) bool { return true }); len(st.Runs) != 0 {
		t.Fatalf("a run exists before confirmation: %v", st.Runs)
	}

	cleo.keys("y")
	st := waitEngine(t, r.Engine, "the run to await approval", func(st *incident.State) bool {
		run := onlyRun(st)
		return run != nil && run.State == incident.RunAwaitingApproval
	})
	run := onlyRun(st)
	if run.Playbook != "waf-mode" || run.Actor != "cleo" || run.Params["mode"] != "block" {
		t.Fatalf("run %+v", run)
	}
	cleo.wait("requested " + run.ID + " waf-mode")

	// The commander's banner, the dialog, the approval.
	rosa.wait(run.ID+" waf-mode", "requested by cleo awaits your approval — press A")
	rosa.keys("A")
	rosa.wait("Approve run "+run.ID+"?", "mode=block")
	rosa.keys("y")

	// The requester presses A too: refused, no dialog.
	cleo.keys("A")
	cleo.wait("not allowed")

	st = waitEngine(t, r.Engine, "the run to succeed", func(st *incident.State) bool {
		run := onlyRun(st)
		return run != nil && incident.RunTerminal(run.State)
	})
	if got := onlyRun(st); got.State != incident.RunSucceeded {
		t.Fatalf("run ended %s (step %s): %s", got.State, got.Step, got.Error)
	}
	gets, puts, bad := admin.snapshot()
	if len(bad) != 0 {
		t.Fatalf("unexpected requests: %v", bad)
	}
	if len(puts) != 1 {
		t.Fatalf("PUTs %v, want exactly one", puts)
	}
	etag, body, _ := strings.Cut(puts[0], "|")
	var sent map[string]any
	if err := json.Unmarshal([]byte(body), &sent); err != nil || len(sent) != 1 || sent["mode"] != "block" {
		t.Fatalf("PUT body %q (%v), want {\"mode\":\"block\"}", body, err)
	}
	if etag != `"waf-v1"` {
		t.Fatalf("If-Match %q, want the captured ETag", etag)
	}
	if gets < 2 {
		t.Fatalf("%d GETs: the run did not capture the mode again", gets)
	}

	// Both dashboards see the outcome; the requester never saw a prompt.
	rosa.keys("3")
	rosa.wait("Timeline", run.ID+" waf-mode succeeded")
	if cleo.p.approval.Load() {
		t.Fatal("the requester's dashboard showed an approval prompt for her own run")
	}
	if !rosa.p.approval.Load() {
		t.Fatal("the commander's frames never showed the approval prompt (the frame check is broken)")
	}
	for _, f := range []*flowTUI{cleo, rosa} {
		f.keys("ctrl+c")
		fm := f.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
		if s := ansi.Strip(fm.View().Content); strings.Contains(s, "Approve run") {
			t.Fatalf("%s's final screen still shows the dialog:\n%s", f.handle, s)
		}
	}
	if cleo.p.approval.Load() {
		t.Fatal("the requester's dashboard showed an approval prompt for her own run")
	}
}

// requestWaf drives a dashboard through the palette, the form, the dry
// run and the confirmation to request waf-mode with mode.
func (f *flowTUI) requestWaf(mode string) {
	f.t.Helper()
	f.keys("ctrl+p")
	f.tm.Type("waf mode")
	f.wait("▶ Run playbook: Set Cloudflare WAF mode")
	f.keys("enter")
	f.wait("Run playbook waf-mode (Cloudflare Security)", "◀ choose ▶")
	for i := 0; !strings.Contains(f.last, "◀ "+mode+" ▶"); i++ {
		if i == 4 {
			f.t.Fatalf("mode never reached %s:\n%s", mode, f.last)
		}
		f.keys("right")
		if _, err := f.Read(nil); err != io.EOF {
			f.t.Fatal(err)
		}
	}
	f.keys("enter")
	f.wait("Confirm: request this run?", "Nothing has been requested yet")
	f.keys("y")
	f.wait("✓ requested R")
}

// TestFlowPendingRequestDoesNotBlockOwner: the deputy's request for the
// WAF waits for approval and holds no lock, so the owner's own request
// for the same lock goes through; the commander sees both, picks the
// owner's, and the deputy's is superseded with the reason. Only the
// owner's change is applied.
func TestFlowPendingRequestDoesNotBlockOwner(t *testing.T) {
	admin := &wafAdmin{}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	r := flowRoom(t, srv.URL)

	dev := startFlowTUI(t, r, "dev")
	cleo := startFlowTUI(t, r, "cleo")
	rosa := startFlowTUI(t, r, "rosa")

	dev.requestWaf("monitor")
	first := waitEngine(t, r.Engine, "the deputy's request to wait", func(st *incident.State) bool {
		run := onlyRun(st)
		return run != nil && run.State == incident.RunAwaitingApproval
	})
	devRun := onlyRun(first)
	// Before the fix the owner was refused here: "lock … is held by run".
	cleo.requestWaf("block")
	st := waitEngine(t, r.Engine, "both requests to wait", func(st *incident.State) bool { return len(st.Runs) == 2 })
	var cleoRun *incident.Run
	for _, run := range st.Runs {
		if run.Actor == "cleo" {
			cleoRun = run
		}
	}
	if cleoRun == nil || cleoRun.State != incident.RunAwaitingApproval || st.Runs[devRun.ID].State != incident.RunAwaitingApproval {
		t.Fatalf("runs %+v %+v", devRun, cleoRun)
	}
	if cleoRun.Plan == nil || len(cleoRun.Plan.Changes) != 1 || cleoRun.Plan.Changes[0].New != "block" {
		t.Fatalf("the owner's request carries no dry run for the approver: %+v", cleoRun.Plan)
	}

	// The commander: both requests in one dialog; she picks the owner's.
	rosa.wait("awaits your approval — press A", "2 requests want lock")
	rosa.keys("A")
	rosa.wait("Approve run "+devRun.ID+"?", "▶ "+devRun.ID+" by dev", cleoRun.ID+" by cleo", "mode: challenge → monitor")
	rosa.keys("right")
	rosa.wait("Approve run "+cleoRun.ID+"?", "mode: challenge → block", "now: challenge (as seen)")
	rosa.keys("y")

	st = waitEngine(t, r.Engine, "the owner's run to end and the deputy's to be superseded", func(st *incident.State) bool {
		return incident.RunTerminal(st.Runs[cleoRun.ID].State) && st.Runs[devRun.ID].State == incident.RunSuperseded
	})
	if got := st.Runs[cleoRun.ID]; got.State != incident.RunSucceeded || got.Approver != "rosa" {
		t.Fatalf("the owner's run ended %s, approved by %q (%s)", got.State, got.Approver, got.Error)
	}
	var why string
	for _, ev := range st.Recent {
		if ev.Run != nil && ev.Run.ID == devRun.ID && ev.Run.State == incident.RunSuperseded {
			why = ev.Text
		}
	}
	if !strings.Contains(why, "rosa approved "+cleoRun.ID) || !strings.Contains(why, "request it again") {
		t.Fatalf("the superseded request does not say why: %q", why)
	}
	_, puts, bad := admin.snapshot()
	if len(bad) != 0 || len(puts) != 1 || !strings.Contains(puts[0], `"block"`) {
		t.Fatalf("PUTs %v (unexpected %v): only the owner's change is applied", puts, bad)
	}
	dev.keys("5")
	dev.wait(devRun.ID, "superseded")
}

// hangingWaf is the admin API whose first PUT never answers (the room
// stops while it is in flight); the rest answer at once.
type hangingWaf struct {
	wafAdmin
	hung atomic.Bool
}

func (h *hangingWaf) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && h.hung.CompareAndSwap(false, true) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.puts = append(h.puts, r.Header.Get("If-Match")+"|"+string(body))
		h.mu.Unlock()
		<-r.Context().Done()
		return
	}
	h.wafAdmin.ServeHTTP(w, r)
}

// TestFlowResolveInterruptedRollback: the room stops while a run is
// applying; after the restart the run is interrupted (outcome unknown),
// the commander finds it first in the Runs view, presses x and chooses
// rollback, and the captured mode is restored.
func TestFlowResolveInterruptedRollback(t *testing.T) {
	admin := &hangingWaf{}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	dir := flowDir(t, srv.URL)

	first := openFlowRoom(t, dir)
	h, err := first.Lead().Runner.Request(context.Background(), "cleo", "waf-mode", map[string]string{"mode": "block"})
	if err != nil {
		t.Fatal(err)
	}
	waitEngine(t, first.Engine, "the request", func(st *incident.State) bool {
		return st.Runs[h.ID] != nil && st.Runs[h.ID].State == incident.RunAwaitingApproval
	})
	if err := first.Lead().Runner.Approve(context.Background(), "rosa", h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	waitEngine(t, first.Engine, "the apply in flight", func(st *incident.State) bool { return admin.hung.Load() })
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	r := openFlowRoom(t, dir)
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close the room: %v", err)
		}
	})
	rosa := startFlowTUI(t, r, "rosa")
	rosa.keys("5")
	rosa.wait("Runs", h.ID, "interrupted", "step 2/2 apply", "x resolve (verify, rollback or abandon)")
	rosa.keys("x")
	rosa.wait("Resolve "+h.ID+" waf-mode", "rollback — restore the values it captured")
	rosa.tm.Type("rollback")
	rosa.keys("enter")
	st := waitEngine(t, r.Engine, "the rollback to end", func(st *incident.State) bool { return incident.RunTerminal(st.Runs[h.ID].State) })
	if got := st.Runs[h.ID].State; got != incident.RunRolledBack {
		t.Fatalf("the run ended %s", got)
	}
	_, puts, bad := admin.snapshot()
	if len(bad) != 0 || len(puts) != 2 || !strings.Contains(puts[1], `"challenge"`) {
		t.Fatalf("PUTs %v (unexpected %v): want the apply, then the restore of the captured mode", puts, bad)
	}
	rosa.wait(h.ID, "rolled back")
}
