package main

import (
	"context"
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

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/room"
)

const cliRoom = `incident:
  name: cli room
playbooks: ./playbooks
sources:
  - id: prom
    type: prometheus
    url: http://127.0.0.1:9
services:
  - id: cloudflare
    name: Cloudflare Security
    owner: cleo
    panes:
      - id: bots
        source: prom
        query: q
roster:
  - handle: rosa
  - handle: cleo
roles:
  commander: rosa
`

const cliPlaybook = `id: waf-mode
title: Set the WAF mode
service: cloudflare
description: test playbook
risk: high
approval:
  approvers: [commander]
  expires: 10m
lock: {name: waf, timeout: 15m}
vars: {admin: "%s"}
params:
  - name: mode
    type: enum
    description: the mode
    values: [monitor, challenge, block]
steps:
  - id: capture
    http: {method: GET, url: "{{vars.admin}}/mode", save: {mode: json:$.mode}}
  - id: apply
    http: {method: PUT, url: "{{vars.admin}}/mode", json: {mode: "{{params.mode}}"}, diff: capture}
rollback:
  - id: restore
    http: {method: PUT, url: "{{vars.admin}}/mode", json: {mode: "{{steps.capture.mode}}"}}
`

// hangingAdmin answers GET with the mode; the first PUT hangs until
// released (the room stops during it), later PUTs succeed.
type hangingAdmin struct {
	mu       sync.Mutex
	puts     []string
	release  chan struct{}
	inFlight chan struct{} // closed when the first PUT has arrived
}

func (a *hangingAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		io.WriteString(w, `{"mode":"challenge"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.puts = append(a.puts, string(body))
	first := len(a.puts) == 1
	a.mu.Unlock()
	if first {
		close(a.inFlight)
		select {
		case <-a.release:
		case <-r.Context().Done():
		}
	}
	w.Write(body)
}

func openCLIRoom(t *testing.T, path, journal string) *room.Room {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := room.Open(context.Background(), room.Options{Config: cfg, JournalPath: journal, NoSources: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func runState(t *testing.T, r *room.Room, id string) string {
	t.Helper()
	st, sub, err := r.Engine.Subscribe(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	r.Engine.Unsubscribe(sub)
	if run := st.Runs[id]; run != nil {
		return string(run.State) + "/" + run.Step
	}
	return ""
}

func waitRun(t *testing.T, r *room.Room, id string, want incident.RunState) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasPrefix(runState(t, r, id), string(want)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", id, runState(t, r, id), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestApproveAndResolveWithoutConfigFlag: approve and resolve find the
// room from --journal alone, or from the room's directory, and a resolve
// whose rollback rolled back exits 0.
func TestApproveAndResolveWithoutConfigFlag(t *testing.T) {
	admin := &hangingAdmin{release: make(chan struct{}), inFlight: make(chan struct{})}
	srv := httptest.NewServer(admin)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(admin.release) })
	dir, cfgPath := writeCLIRoom(t, fmt.Sprintf(cliPlaybook, srv.URL))
	journal := filepath.Join(dir, "warroom.db")

	a := openCLIRoom(t, cfgPath, journal)
	h, err := a.Lead().Runner.Request(context.Background(), "cleo", "waf-mode", map[string]string{"mode": "block"})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, a, h.ID, incident.RunAwaitingApproval)
	// No -c: the process serving the journal says which room it runs.
	code, out, errs := runCLI("playbook", "approve", h.ID, "--journal", journal, "--as", "rosa")
	if code != 0 {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errs)
	}
	// The approver sees what the requester's dry run would change.
	if !strings.Contains(out, "risk high; the requester's dry run at") || !strings.Contains(out, "mode: challenge → block") {
		t.Fatalf("approve does not show the change:\n%s", out)
	}
	waitRun(t, a, h.ID, incident.RunRunning+"/apply")
	// The room stops while the PUT is in flight: outcome unknown. (The
	// step is recorded before its request leaves: on a loaded machine the
	// room could stop before sending it, and the rollback's PUT would be
	// the one that hangs.)
	select {
	case <-admin.inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the apply's PUT never reached the admin API")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openCLIRoom(t, cfgPath, journal)
	t.Cleanup(func() { b.Close() })
	waitRun(t, b, h.ID, incident.RunInterrupted)

	// In the room's directory, with neither -c nor --journal.
	t.Chdir(dir)
	code, out, errs = runCLI("playbook", "resolve", h.ID, "rollback", "--as", "rosa")
	if code != 0 {
		t.Fatalf("resolve rollback: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, h.ID+" waf-mode: rolled back") {
		t.Fatalf("resolve output:\n%s%s", out, errs)
	}
	waitRun(t, b, h.ID, incident.RunRolledBack)
	admin.mu.Lock()
	defer admin.mu.Unlock()
	if n := len(admin.puts); n != 2 || admin.puts[1] != `{"mode":"challenge"}` {
		t.Fatalf("PUTs %q: want the apply, then the rollback to the captured mode", admin.puts)
	}
	// Someone not on the roster is refused before anything is sent.
	if code, _, errs := runCLI("playbook", "cancel", h.ID, "--as", "mallory"); code != 2 || !strings.Contains(errs, "not on the roster") {
		t.Fatalf("cancel as mallory: exit %d %s", code, errs)
	}
}

// writeCLIRoom writes the CLI tests' war room (cliRoom) and its one
// playbook, waf-mode, into a new directory.
func writeCLIRoom(t *testing.T, playbook string) (dir, cfgPath string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "playbooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "playbooks", "waf-mode.yaml"), []byte(playbook), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "warroom.yaml")
	if err := os.WriteFile(cfgPath, []byte(cliRoom), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfgPath
}
