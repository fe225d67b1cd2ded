package playbooks

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// crashPlaybook needs no approval, so the child process goes straight
// from the request to the apply.
const crashPlaybook = `id: crashy
title: Shift RPC traffic (crash test)
service: triton
description: captures, then applies with a PUT the test server never answers
risk: medium
lock: {name: rpc-provider-split, timeout: 15m}
vars: {admin: {env: SIM_ADMIN_URL}}
secrets: {admin_token: "${SIM_ADMIN_TOKEN}"}
params:
  - {name: triton_percent, type: int, description: percent, min: 0, max: 100, step: 10}
steps:
  - id: capture
    http:
      method: GET
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      save: {triton: json:$.triton, quicknode: json:$.quicknode}
  - id: apply
    http:
      method: PUT
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      json: {triton: "{{params.triton_percent}}", quicknode: "{{100 - params.triton_percent}}"}
      retries: 3
rollback:
  - id: restore
    http:
      method: PUT
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
      json: {triton: "{{steps.capture.triton}}", quicknode: "{{steps.capture.quicknode}}"}
`

// TestCrashRunChild is the warroom process of TestCrashDuringApply: it
// requests a run and is killed with SIGKILL while the apply is in flight.
func TestCrashRunChild(t *testing.T) {
	path := os.Getenv("WARROOM_PB_CRASH_JOURNAL")
	if path == "" {
		t.Skip("run by TestCrashDuringApply")
	}
	rg := newRig(t, rigOptions{path: path, playbooks: map[string]string{"crashy.yaml": crashPlaybook}})
	h, err := rg.r.Request(context.Background(), tritonOwn, "crashy", map[string]string{"triton_percent": "80"})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	fmt.Println("RUN", h.ID)
	select {} // until killed
}

func TestCrashDuringApply(t *testing.T) {
	if os.Getenv("WARROOM_PB_CRASH_JOURNAL") != "" {
		t.Skip("child")
	}
	admin := newFakeAdmin(t)
	gotPut := make(chan struct{}, 1)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var seen atomic.Bool
	admin.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method != http.MethodPut || !seen.CompareAndSwap(false, true) {
			return false
		}
		gotPut <- struct{}{}
		<-release // the request arrived; the answer never does
		return true
	})
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRunChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "WARROOM_PB_CRASH_JOURNAL="+path, "SIM_ADMIN_URL="+admin.URL)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case <-gotPut:
	case l := <-lines:
		if !strings.HasPrefix(l, "RUN ") {
			cmd.Process.Kill()
			t.Fatalf("child: %s", l)
		}
		select {
		case <-gotPut:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatal("the child never sent the apply")
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child never sent the apply")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	// Restart on the same journal: the run is interrupted, outcome
	// unknown, and nothing is sent again.
	rg := newRig(t, rigOptions{path: path, playbooks: map[string]string{"crashy.yaml": crashPlaybook}})
	var run *incident.Run
	for _, r := range rg.state().Runs {
		run = r
	}
	if run == nil {
		t.Fatal("no run in the journal")
	}
	if run.State != incident.RunInterrupted || run.Step != "apply" || run.Error != "outcome unknown" {
		t.Fatalf("after restart: %s %s %q\n%s", run.State, run.Step, run.Error, rg.history(run.ID))
	}
	if !strings.Contains(rg.history(run.ID), "interrupted (outcome unknown)") {
		t.Fatalf("history:\n%s", rg.history(run.ID))
	}
	time.Sleep(500 * time.Millisecond)
	if n := admin.count(http.MethodPut); n != 1 {
		t.Fatalf("%d PUTs after the restart; the interrupted apply must never be re-sent", n)
	}
	// A second restart changes nothing.
	if err := rg.r.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := rg.run(run.ID).State; st != incident.RunInterrupted {
		t.Fatalf("second reconcile: %s", st)
	}
	// It still holds its lock until the commander decides.
	ctx := context.Background()
	_, err := rg.r.Request(ctx, commander, "crashy", map[string]string{"triton_percent": "50"})
	refusal(t, err, "the commander must resolve it first")
	_, err = rg.r.Resolve(ctx, tritonOwn, run.ID, incident.ResolveRollback, "test")
	refusal(t, err, "only the commander (rosa) can decide")
	// The commander rolls back: the restore uses the values captured
	// before the crash, read back from the journal.
	h, err := rg.r.Resolve(ctx, commander, run.ID, incident.ResolveRollback, "test")
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	rg.waitState(run.ID, incident.RunRolledBack, 5*time.Second)
	reqs := admin.requests()
	last := reqs[len(reqs)-1]
	if last.Method != http.MethodPut || last.Body != `{"triton":50,"quicknode":50}` {
		t.Fatalf("rollback sent %s %s", last.Method, last.Body)
	}
	if n := admin.count(http.MethodPut); n != 2 {
		t.Fatalf("%d PUTs: want the lost apply and the rollback only", n)
	}
	if _, err := rg.r.Request(ctx, commander, "crashy", map[string]string{"triton_percent": "50"}); err != nil {
		t.Fatalf("lock not released after the rollback: %v", err)
	}
}
