package playbooks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

// procsWith lists live (not zombie) processes whose environment holds
// marker, e.g. WARROOM_RUN_ID=R12: every process a step started, and
// every descendant, inherits it.
// stepMarker is this test binary's PATH, made its own: steps get PATH
// from warroom's environment, so every process a test's step starts
// carries it.
var stepMarker = func() string {
	p := os.Getenv("PATH") + string(os.PathListSeparator) + fmt.Sprintf("/nonexistent/warroom-test-%d", os.Getpid())
	os.Setenv("PATH", p)
	return "PATH=" + p
}()

func procsWith(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	needle := []byte(marker + "\x00")
	// Run ids repeat across tests and processes (every rig's second
	// event is R2): only this test binary's steps count.
	mine := []byte(stepMarker + "\x00")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append(env, 0), needle) || !bytes.Contains(append(env, 0), mine) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// zombieChildren counts this process's own unreaped children.
func zombieChildren() int {
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	n := 0
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			n++
		}
	}
	return n
}

// treePlaybook starts a shell that spawns children and grandchildren
// that sleep, and waits for them.
func treePlaybook(timeout string, readOnly bool) string {
	return fmt.Sprintf(`id: tree
title: Process tree (test)
service: tokens
description: spawns children and grandchildren
risk: low
lock: {name: tree, timeout: 15m}
steps:
  - id: spawn
    read_only: %v
    timeout: %s
    exec:
      argv: [/bin/sh, -c, "sleep 1000 & (sleep 1000 & sleep 1000 & wait) & (sh -c 'sleep 1000 & wait' &) ; echo started; wait"]
rollback:
  - id: nothing
    note: "nothing to undo for {{run.id}}"
`, readOnly, timeout)
}

func TestCancelKillsWholeProcessTree(t *testing.T) {
	rg := newRig(t, rigOptions{playbooks: map[string]string{"tree.yaml": treePlaybook("10m", true)}})
	ctx := context.Background()
	iterations := 100
	if testing.Short() {
		iterations = 20
	}
	start := time.Now()
	for i := 0; i < iterations; i++ {
		h, err := rg.r.Request(ctx, tokensOwn, "tree", nil)
		if err != nil {
			t.Fatal(err)
		}
		marker := "WARROOM_RUN_ID=" + h.ID
		deadline := time.Now().Add(5 * time.Second)
		for len(procsWith(marker)) < 6 { // sh, sleep, subshell ×2, sleeps, sh -c …
			if time.Now().After(deadline) {
				t.Fatalf("iteration %d: the tree did not start: %v", i, procsWith(marker))
			}
			time.Sleep(2 * time.Millisecond)
		}
		if err := rg.r.Cancel(ctx, tokensOwn, h.ID, "test"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("iteration %d: the run did not stop", i)
		}
		if st := rg.run(h.ID).State; st != incident.RunCancelled {
			t.Fatalf("iteration %d: state %s\n%s", i, st, rg.history(h.ID))
		}
		if left := procsWith(marker); len(left) > 0 {
			t.Fatalf("iteration %d: %d processes survived the cancel: %v", i, len(left), left)
		}
	}
	if z := zombieChildren(); z > 0 {
		t.Fatalf("%d unreaped children", z)
	}
	t.Logf("%d cancels, 0 survivors, %s per iteration", iterations, (time.Since(start) / time.Duration(iterations)).Round(time.Millisecond))
}

func TestTimeoutKillsWholeProcessTree(t *testing.T) {
	rg := newRig(t, rigOptions{playbooks: map[string]string{"tree.yaml": treePlaybook("300ms", false)}})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		h, err := rg.r.Request(ctx, tokensOwn, "tree", nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-h.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the run did not stop at its step timeout")
		}
		run := rg.run(h.ID)
		// A mutating step that timed out: outcome unknown, so the run
		// fails and rolls back (this playbook has no rollback steps).
		if run.State != incident.RunRolledBack {
			t.Fatalf("state %s\n%s", run.State, rg.history(h.ID))
		}
		if !strings.Contains(rg.history(h.ID), "timed out after 300ms") {
			t.Fatalf("no timeout recorded:\n%s", rg.history(h.ID))
		}
		if left := procsWith("WARROOM_RUN_ID=" + h.ID); len(left) > 0 {
			t.Fatalf("%d processes survived the timeout", len(left))
		}
	}
}
