package playbooks

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

func TestConflictOnApplyDoesNotRollBack(t *testing.T) {
	admin := newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	ctx := context.Background()
	// Someone changes the split between our capture and our apply.
	admin.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method == http.MethodPut {
			admin.mu.Lock()
			admin.version++
			admin.split = map[string]int{"triton": 30, "quicknode": 70}
			admin.mu.Unlock()
		}
		return false
	})
	h, _ := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "80"})
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	if err := rg.r.Approve(ctx, commander, h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	run := rg.waitState(h.ID, incident.RunFailed, 3*time.Second)
	if !strings.Contains(run.Error, "HTTP 412") {
		t.Fatalf("error %q", run.Error)
	}
	if n := admin.count(http.MethodPut); n != 1 {
		t.Fatalf("%d PUTs: a refused apply must not be rolled back over someone else's change", n)
	}
	admin.mu.Lock()
	defer admin.mu.Unlock()
	if admin.split["triton"] != 30 {
		t.Fatalf("the other change was overwritten: %v", admin.split)
	}
}

func TestVerifyFailureRollsBackWithCapturedValues(t *testing.T) {
	admin := newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": fastFail(splitPlaybook)}})
	rg.feed("triton", "latency", func() float64 { return 900 }, 50*time.Millisecond)
	ctx := context.Background()
	h, _ := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "90"})
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	rg.r.Approve(ctx, deputy, h.ID, h.Hash)
	<-h.Done()
	rg.waitState(h.ID, incident.RunRolledBack, 6*time.Second)
	reqs := admin.requests()
	if last := reqs[len(reqs)-1]; last.Body != `{"triton":50,"quicknode":50}` {
		t.Fatalf("rollback body %s", last.Body)
	}
	hist := rg.history(h.ID)
	for _, want := range []string{"did not hold for 300ms within 1s", "triton/latency = 900 does not meet < 500", "rolled back"} {
		if !strings.Contains(hist+rg.outputs.all(), want) {
			t.Errorf("missing %q in\n%s", want, hist)
		}
	}
}

func TestFailureBeforeAnyChangeEndsWithoutRollback(t *testing.T) {
	admin := newFakeAdmin(t)
	admin.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	ctx := context.Background()
	h, _ := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "90"})
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	rg.r.Approve(ctx, commander, h.ID, h.Hash)
	<-h.Done()
	run := rg.waitState(h.ID, incident.RunFailed, 3*time.Second)
	if !strings.Contains(rg.history(h.ID), "before changing anything") || admin.count(http.MethodPut) != 0 {
		t.Fatalf("%s\n%s", run.Error, rg.history(h.ID))
	}
	if rg.state().LockHolder("rpc-provider-split", rg.cat) != nil {
		t.Fatal("lock kept after a failure")
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	admin := newFakeAdmin(t)
	var mu sync.Mutex
	var calls []time.Time
	admin.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, time.Now())
		if len(calls) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	rg := newRig(t, rigOptions{playbooks: map[string]string{"cheap.yaml": strings.Replace(cheapPlaybook, "headers:", "retries: 2\n      headers:", 1)}})
	h, err := rg.r.Request(context.Background(), commander, "cheap", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	rg.waitState(h.ID, incident.RunSucceeded, 5*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || calls[1].Sub(calls[0]) < 950*time.Millisecond {
		t.Fatalf("calls %v: the retry must wait out Retry-After", calls)
	}
}

func TestResolveVerifyAndAbandon(t *testing.T) {
	newFakeAdmin(t)
	body := strings.Replace(fastFail(splitPlaybook), "rollback:", "on_verify_failure: ask\nrollback:", 1)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": body}})
	var bad atomic.Bool
	bad.Store(true)
	rg.feed("triton", "latency", func() float64 {
		if bad.Load() {
			return 900
		}
		return 100
	}, 50*time.Millisecond)
	ctx := context.Background()
	h, _ := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "90"})
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	rg.r.Approve(ctx, commander, h.ID, h.Hash)
	<-h.Done()
	rg.waitState(h.ID, incident.RunAwaitingDecision, 6*time.Second)
	refusal(t, rg.r.Cancel(ctx, tritonOwn, h.ID, ""), "the commander resolves it")
	bad.Store(false)
	h2, err := rg.r.Resolve(ctx, commander, h.ID, incident.ResolveVerify, "test")
	if err != nil {
		t.Fatal(err)
	}
	<-h2.Done()
	rg.waitState(h.ID, incident.RunSucceeded, 6*time.Second)

	// Another run, abandoned: the lock is released, nothing is sent.
	bad.Store(true)
	h, _ = rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "70"})
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	rg.r.Approve(ctx, commander, h.ID, h.Hash)
	<-h.Done()
	rg.waitState(h.ID, incident.RunAwaitingDecision, 6*time.Second)
	if _, err := rg.r.Resolve(ctx, commander, h.ID, incident.ResolveAbandon, "test"); err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunAbandoned, 2*time.Second)
	if rg.state().LockHolder("rpc-provider-split", rg.cat) != nil {
		t.Fatal("abandoned run keeps the lock")
	}
}

func TestWaitConditionNeverTrustsMissingData(t *testing.T) {
	now := testT0
	w := &WaitStep{Service: "s", Pane: "p", Op: "<", MaxAge: time.Minute}
	cases := []struct {
		p    *incident.Pane
		ok   bool
		want string
	}{
		{nil, false, "no data yet"},
		{&incident.Pane{}, false, "no data yet"},
		{&incident.Pane{HasData: true, Value: 1, Stale: true, Updated: now}, false, "STALE"},
		{&incident.Pane{HasData: true, Value: 1, NoData: true, Updated: now}, false, "NO DATA"},
		{&incident.Pane{HasData: true, Value: 1, Updated: now.Add(-2 * time.Minute)}, false, "older than"},
		{&incident.Pane{HasData: true, Value: 5, Updated: now}, false, "does not meet"},
		{&incident.Pane{HasData: true, Value: 1, Updated: now}, true, "meets"},
	}
	for _, c := range cases {
		ok, why := meets(c.p, w, 2, now)
		if ok != c.ok || !strings.Contains(why, c.want) {
			t.Errorf("%+v: got %v %q", c.p, ok, why)
		}
	}
}

func TestMaskerForms(t *testing.T) {
	var m Masker
	if err := m.Add(adminToken); err != nil {
		t.Fatal(err)
	}
	for name, f := range canaryForms(adminToken) {
		if name == "middle" {
			continue
		}
		got := m.Mask("before " + f + " after")
		if strings.Contains(got, f) || !strings.Contains(got, Masked) {
			t.Errorf("%s form not masked: %q", name, got)
		}
	}
	// Base64 of the secret inside a longer text, at every alignment.
	for _, pre := range []string{"", "a", "ab", "abc", "user:"} {
		enc := b64(pre + adminToken + "tail")
		if got := m.Mask(enc); got == enc {
			t.Errorf("base64 with prefix %q not masked", pre)
		}
	}
	if err := m.Add("a\nmulti-line-secret"); err == nil {
		t.Fatal("multi-line secret accepted")
	}
}

// fastFail shortens the split playbook's verification for tests where it
// is meant to fail.
func fastFail(pb string) string { return strings.Replace(pb, "timeout: 3s", "timeout: 1s", 1) }

func TestStepOutputIsStreamedAndTruncated(t *testing.T) {
	rg := newRig(t, rigOptions{playbooks: map[string]string{"loud.yaml": `id: loud
title: Loud process (test)
service: tokens
description: prints 20 KiB
risk: low
lock: {name: loud}
steps:
  - id: print
    read_only: true
    exec:
      argv: [/bin/sh, -c, 'i=0; while [ $i -lt 400 ]; do echo "line $i $(printf "%040d" 0)"; i=$((i+1)); done']
`}})
	h, err := rg.r.Request(context.Background(), tokensOwn, "loud", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	rg.waitState(h.ID, incident.RunSucceeded, 5*time.Second)
	if n := strings.Count(rg.outputs.all(), "\n") + 1; n != 400 {
		t.Fatalf("%d lines streamed, want 400", n)
	}
	var kept string
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == h.ID && ev.Run.Output != "" {
			kept = ev.Run.Output
		}
	}
	if len(kept) > OutputLimit+64 || !strings.Contains(kept, "line 0 ") || !strings.Contains(kept, "line 399 ") || !strings.Contains(kept, "bytes omitted") {
		t.Fatalf("kept %d bytes:\n%s", len(kept), kept)
	}
}
