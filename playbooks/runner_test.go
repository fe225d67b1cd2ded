package playbooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
)

func refusal(t *testing.T, err error, want string) {
	t.Helper()
	var ref *roles.Refusal
	if !errors.As(err, &ref) {
		t.Fatalf("want a refusal saying %q, got %v", want, err)
	}
	if !strings.Contains(ref.Reason, want) {
		t.Fatalf("refusal %q does not say %q", ref.Reason, want)
	}
}

func TestRunApprovedSucceeds(t *testing.T) {
	admin := newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	rg.feed("triton", "latency", func() float64 { return 120 }, 50*time.Millisecond)
	ctx := context.Background()

	h, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	time.Sleep(50 * time.Millisecond)
	// Before approval only the dry run for the approvers has read the
	// split (one GET); nothing else may run.
	if reqs := admin.requests(); len(reqs) != 1 || reqs[0].Method != "GET" {
		t.Fatalf("requests before approval: %+v", reqs)
	}
	plan := rg.run(h.ID).Plan
	if plan == nil || plan.Risk != "high" || len(plan.Changes) != 2 || plan.Changes[0].Field != "triton" || plan.Changes[0].Old != "50" || plan.Changes[0].New != "80" {
		t.Fatalf("the request's plan for the approvers: %+v", plan)
	}
	if err := rg.r.Approve(ctx, commander, h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunSucceeded, 5*time.Second)
	<-h.Done()

	reqs := admin.requests()[1:]
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "PUT" {
		t.Fatalf("requests: %+v", reqs)
	}
	if reqs[1].Body != `{"triton":80,"quicknode":20}` {
		t.Fatalf("apply body %s", reqs[1].Body)
	}
	if reqs[1].Header.Get("If-Match") != `"split-v1"` {
		t.Fatalf("apply If-Match %q", reqs[1].Header.Get("If-Match"))
	}
	want := []incident.RunState{"requested", "awaiting_approval", "approved", "running", "running", "running", "running", "running", "running", "running", "verifying", "verifying", "succeeded"}
	if got := rg.states(h.ID); !slices.Equal(got, want) {
		t.Fatalf("states\n got %v\nwant %v\n%s", got, want, rg.history(h.ID))
	}
	if !strings.Contains(rg.slack.all(), "split now 80/20 ("+h.ID+")") {
		t.Fatalf("slack: %q", rg.slack.all())
	}
	if !strings.Contains(rg.outputs.all(), "HTTP 200") {
		t.Fatalf("no streamed output: %q", rg.outputs.all())
	}
}

// cheapPlaybook needs no approval and holds lock "rpc-provider-split",
// like splitPlaybook: the two compete for it.
const cheapPlaybook = `id: cheap
title: Read the split (test)
service: triton
description: low-risk playbook sharing the split lock
risk: low
lock: {name: rpc-provider-split, timeout: 15m}
vars: {admin: {env: SIM_ADMIN_URL}}
secrets: {admin_token: "${SIM_ADMIN_TOKEN}"}
steps:
  - id: capture
    http:
      method: GET
      url: "{{vars.admin}}/admin/rpc/split"
      headers: {Authorization: "Bearer {{secrets.admin_token}}"}
`

func TestApprovalRules(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	rg.feed("triton", "latency", func() float64 { return 120 }, 50*time.Millisecond)
	ctx := context.Background()
	pb, _ := rg.cat.Get("split")

	// The deputy may run it, but never approve their own request.
	h, err := rg.r.Request(ctx, deputy, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	refusal(t, rg.r.Approve(ctx, deputy, h.ID, h.Hash), "no self-approval")
	// The wrong role: an owner of another service, an observer.
	refusal(t, rg.r.Approve(ctx, tokensOwn, h.ID, h.Hash), "approval needs the commander (rosa) or the deputy (dev)")
	refusal(t, rg.r.Approve(ctx, observer, h.ID, h.Hash), "approval needs the commander")
	refusal(t, rg.r.Approve(ctx, "mallory", h.ID, h.Hash), "not on the roster")
	// Changed parameters: the commander approves what they saw, 90/10,
	// but the request is for 80/20.
	v90, _ := pb.ValidateParams(map[string]string{"triton_percent": "90"})
	refusal(t, rg.r.Approve(ctx, commander, h.ID, pb.Hash(v90)), "parameters do not match")
	refusal(t, rg.r.Approve(ctx, commander, h.ID, ""), "parameters do not match")
	if st := rg.run(h.ID).State; st != incident.RunAwaitingApproval {
		t.Fatalf("after refusals the run is %s", st)
	}
	// Starting before approval is refused by the engine too.
	refusal(t, rg.eng.Do(ctx, incident.StartRun{By: deputy, RunID: h.ID, Hash: h.Hash, Policies: rg.cat}).Err, "starts only once approved")
	// The real approval, with the right hash.
	if err := rg.r.Approve(ctx, commander, h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	refusal(t, rg.r.Approve(ctx, commander, h.ID, h.Hash), "not awaiting approval")
	rg.waitState(h.ID, incident.RunSucceeded, 5*time.Second)
	// Every refusal left the journal untouched apart from the decisions.
	for _, ev := range rg.state().Recent {
		if ev.Run != nil && ev.Run.ID == h.ID && ev.Run.State == incident.RunApproved && ev.Actor != commander {
			t.Fatalf("approved by %s", ev.Actor)
		}
	}
}

func TestApprovalExpiresAndHashBindsStart(t *testing.T) {
	newFakeAdmin(t)
	clk := newFakeClock()
	rg := newRig(t, rigOptions{clk: clk, playbooks: map[string]string{"split.yaml": splitPlaybook, "cheap.yaml": cheapPlaybook}})
	ctx := context.Background()
	pb, _ := rg.cat.Get("split")

	// A request nobody approves within 10 minutes expires; approving
	// it after 11 minutes is refused and the lock is free again.
	h, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	clk.Advance(11 * time.Minute)
	refusal(t, rg.r.Approve(ctx, commander, h.ID, h.Hash), "expired")
	rg.waitState(h.ID, incident.RunExpired, 2*time.Second)
	if holder := rg.state().LockHolder("rpc-provider-split", rg.cat); holder != nil {
		t.Fatalf("an expired request still holds the lock: %+v", holder)
	}

	// The engine alone (no runner goroutine): an approval that is not
	// used within its window expires; a start with other parameters is
	// refused.
	v80, _ := pb.ValidateParams(map[string]string{"triton_percent": "80"})
	v90, _ := pb.ValidateParams(map[string]string{"triton_percent": "90"})
	rep := rg.eng.Do(ctx, incident.RequestRun{By: tritonOwn, Playbook: "split", Params: v80.Text, Hash: pb.Hash(v80), Policies: rg.cat})
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	id := rep.Events[0].Run.ID
	if err := rg.eng.Do(ctx, incident.ApproveRun{By: commander, RunID: id, Hash: pb.Hash(v80), Policies: rg.cat}).Err; err != nil {
		t.Fatal(err)
	}
	refusal(t, rg.eng.Do(ctx, incident.StartRun{By: tritonOwn, RunID: id, Hash: pb.Hash(v90), Policies: rg.cat}).Err, "parameters changed")
	clk.Advance(11 * time.Minute)
	refusal(t, rg.eng.Do(ctx, incident.StartRun{By: tritonOwn, RunID: id, Hash: pb.Hash(v80), Policies: rg.cat}).Err, "approval of "+id+" expired")
	if st := rg.run(id).State; st != incident.RunExpired {
		t.Fatalf("state %s after an expired approval", st)
	}
}

func TestLockTakenAtApprovalSupersedesRivals(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook, "cheap.yaml": cheapPlaybook}})
	ctx := context.Background()
	// Two operators at the same moment ask for the same lock with other
	// values: neither blocks the other while they wait for approval.
	for round := 0; round < 10; round++ {
		type result struct {
			h   *Handle
			err error
		}
		res := make(chan result, 2)
		start := make(chan struct{})
		for _, who := range []struct{ by, pct string }{{tritonOwn, "70"}, {deputy, "60"}} {
			go func() {
				<-start
				h, err := rg.r.Request(ctx, who.by, "split", map[string]string{"triton_percent": who.pct})
				res <- result{h, err}
			}()
		}
		close(start)
		a, b := <-res, <-res
		if a.err != nil || b.err != nil {
			t.Fatalf("round %d: both requests wait for approval, got %v and %v", round, a.err, b.err)
		}
		if h := rg.state().LockHolder("rpc-provider-split", rg.cat); h != nil {
			t.Fatalf("round %d: a request awaiting approval holds the lock: %s", round, h.ID)
		}
		// The same request again is one request.
		_, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "70"})
		refusal(t, err, "already requested exactly this")
		// The approver sees both and picks the owner's.
		owner, other := a.h, b.h
		if rg.run(owner.ID).Actor != tritonOwn {
			owner, other = other, owner
		}
		if got := rg.state().Contenders(rg.run(owner.ID), rg.cat); len(got) != 1 || got[0].ID != other.ID {
			t.Fatalf("round %d: contenders %v", round, got)
		}
		if err := rg.r.Approve(ctx, commander, owner.ID, owner.Hash); err != nil {
			t.Fatal(err)
		}
		rg.waitState(other.ID, incident.RunSuperseded, 2*time.Second)
		if h := rg.state().LockHolder("rpc-provider-split", rg.cat); h == nil || h.ID != owner.ID {
			t.Fatalf("round %d: the approved run holds no lock", round)
		}
		var why string
		for _, ev := range rg.state().Recent {
			if ev.Run != nil && ev.Run.ID == other.ID && ev.Run.State == incident.RunSuperseded {
				why = ev.Actor + ": " + ev.Text
			}
		}
		if !strings.Contains(why, commander+": "+other.ID) || !strings.Contains(why, "approved "+owner.ID) {
			t.Fatalf("round %d: the superseded request does not say why: %q", round, why)
		}
		// Now the lock is held: a third request, another playbook, is refused.
		_, err = rg.r.Request(ctx, commander, "cheap", nil)
		refusal(t, err, "lock rpc-provider-split is held by run "+owner.ID+" (split, requested by "+tritonOwn)
		if err := rg.r.Cancel(ctx, tritonOwn, owner.ID, "test"); err != nil {
			t.Fatal(err)
		}
		<-owner.Done()
		<-other.Done()
		if h := rg.state().LockHolder("rpc-provider-split", rg.cat); h != nil {
			t.Fatalf("round %d: lock still held by %s (%s)", round, h.ID, h.State)
		}
	}
	// After success the lock is free again too.
	h, err := rg.r.Request(ctx, commander, "cheap", nil)
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunSucceeded, 3*time.Second)
	if _, err := rg.r.Request(ctx, commander, "cheap", nil); err != nil {
		t.Fatalf("lock not released after success: %v", err)
	}
}

func TestAskingAgainReplacesOwnRequest(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	ctx := context.Background()
	first, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "70"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(first.ID, incident.RunSuperseded, 2*time.Second)
	<-first.Done()
	if st := rg.run(second.ID).State; st != incident.RunAwaitingApproval {
		t.Fatalf("the new request is %s", st)
	}
}

func TestRunPermissions(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	ctx := context.Background()
	_, err := rg.r.Request(ctx, tokensOwn, "split", map[string]string{"triton_percent": "80"})
	refusal(t, err, "cannot run triton playbooks")
	_, err = rg.r.Request(ctx, observer, "split", map[string]string{"triton_percent": "80"})
	refusal(t, err, "cannot run triton playbooks")
	h, err := rg.r.Request(ctx, tritonOwn, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	refusal(t, rg.r.Cancel(ctx, tokensOwn, h.ID, ""), "only its requester (tara), the commander or the deputy")
	if err := rg.r.Cancel(ctx, commander, h.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunCancelled, 2*time.Second)
}
