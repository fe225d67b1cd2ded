package playbooks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
)

func TestControlSocketRunAndApprove(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook}})
	rg.feed("triton", "latency", func() float64 { return 100 }, 50*time.Millisecond)
	ctx := context.Background()
	srv, err := ServeControl(ctx, ControlPath(rg.path), rg.r)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := ServeControl(ctx, ControlPath(rg.path), rg.r); err == nil {
		t.Fatal("a second server on the same socket")
	}
	cl, err := DialControl(rg.path)
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var events []string
	waiting := make(chan *WaitApproval, 1)
	done := make(chan ControlReply, 1)
	go func() {
		last, err := cl.Do(ctx, ControlRequest{Op: "run", By: tritonOwn, Playbook: "split", Params: map[string]string{"triton_percent": "80"}}, func(r ControlReply) {
			mu.Lock()
			defer mu.Unlock()
			if r.Event != "" {
				events = append(events, r.Event)
			}
			if r.Waiting != nil {
				waiting <- r.Waiting
			}
		})
		if err != nil {
			t.Error(err)
		}
		done <- last
	}()
	w := <-waiting
	show, err := cl.Do(ctx, ControlRequest{Op: "show", Run: w.Run}, nil)
	if err != nil || show.Run == nil || show.Run.Hash != w.Hash || show.Run.Params["triton_percent"] != "80" || show.Run.Requester != tritonOwn {
		t.Fatalf("show: %+v %v", show, err)
	}
	rep, _ := cl.Do(ctx, ControlRequest{Op: "approve", By: tritonOwn, Run: w.Run, Hash: w.Hash}, nil)
	if !rep.Refused || !strings.Contains(rep.Error, "no self-approval") {
		t.Fatalf("self-approval over the socket: %+v", rep)
	}
	rep, _ = cl.Do(ctx, ControlRequest{Op: "approve", By: commander, Run: w.Run, Hash: w.Hash}, nil)
	if !rep.OK {
		t.Fatalf("approve: %+v", rep)
	}
	last := <-done
	if !last.Done || last.Run == nil || last.Run.State != incident.RunSucceeded {
		t.Fatalf("final: %+v", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 8 || !strings.Contains(strings.Join(events, "\n"), "succeeded") {
		t.Fatalf("events streamed: %v", events)
	}
	bad, _ := cl.Do(ctx, ControlRequest{Op: "run", By: tritonOwn, Playbook: "split", Params: map[string]string{"triton_percent": "85"}}, nil)
	if !bad.BadArgs {
		t.Fatalf("bad parameters over the socket: %+v", bad)
	}
	srv.Close()
	if _, err := DialControl(rg.path); err == nil {
		t.Fatal("socket still answers after Close")
	}
	if _, err := DialControl(filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Fatal("dialled a journal nobody serves")
	}
}

func TestLeaseEndsARunThatTakesTooLong(t *testing.T) {
	clk := newFakeClock()
	rg := newRig(t, rigOptions{clk: clk, playbooks: map[string]string{"slow.yaml": `id: slow
title: Slow step (test)
service: tokens
description: outlives its lease
risk: low
lock: {name: slow, timeout: 2m}
steps:
  - id: work
    timeout: 1h
    exec:
      argv: [/bin/sh, -c, "sleep 1000"]
rollback:
  - {id: undo, note: "undo {{run.id}}"}
`}})
	h, err := rg.r.Request(context.Background(), tokensOwn, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(procsWith("WARROOM_RUN_ID="+h.ID)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the step did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	clk.Advance(3 * time.Minute)
	<-h.Done()
	rg.waitState(h.ID, incident.RunRolledBack, 5*time.Second)
	if !strings.Contains(rg.history(h.ID), "outlived its lock lease") {
		t.Fatalf("%s", rg.history(h.ID))
	}
	if left := procsWith("WARROOM_RUN_ID=" + h.ID); len(left) > 0 {
		t.Fatalf("survivors %v", left)
	}
}

func TestMayRunAndMayApproveForTheTUI(t *testing.T) {
	newFakeAdmin(t)
	rg := newRig(t, rigOptions{playbooks: map[string]string{"split.yaml": splitPlaybook, "cheap.yaml": cheapPlaybook}})
	st := rg.state()
	if err := rg.r.MayRun(st, tritonOwn, "split"); err != nil {
		t.Fatal(err)
	}
	refusal(t, rg.r.MayRun(st, observer, "split"), "cannot run triton playbooks")
	h, err := rg.r.Request(context.Background(), tritonOwn, "split", map[string]string{"triton_percent": "80"})
	if err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunAwaitingApproval, 2*time.Second)
	st = rg.state()
	// Waiting for approval holds no lock.
	if err := rg.r.MayRun(st, commander, "cheap"); err != nil {
		t.Fatal(err)
	}
	refusal(t, rg.r.MayApprove(st, tritonOwn, h.ID), "no self-approval")
	refusal(t, rg.r.MayApprove(st, tokensOwn, h.ID), "approval needs")
	if err := rg.r.MayApprove(st, commander, h.ID); err != nil {
		t.Fatal(err)
	}
	if got := st.LockHolder("rpc-provider-split", rg.cat); got != nil {
		t.Fatalf("lock held by %+v", got)
	}
	if err := rg.r.Approve(context.Background(), commander, h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	st = rg.state()
	refusal(t, rg.r.MayRun(st, commander, "cheap"), "held by run "+h.ID)
	if got := st.LockHolder("rpc-provider-split", rg.cat); got == nil || got.ID != h.ID {
		t.Fatalf("lock held by %+v", got)
	}
}

// TestControlSocketRefusesOtherUsers: a process of another user that
// reaches the socket (here its mode is opened up on purpose) gets no
// answer; the same request from this user does. It needs root, to run
// the other process as nobody, and perl (Debian's perl-base) as a client.
func TestControlSocketRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to connect as another user")
	}
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("no perl to act as the other user's client")
	}
	rg := newRig(t, rigOptions{})
	path := ControlPath(rg.path)
	srv, err := ServeControl(context.Background(), path, rg.r)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v)", st.Mode().Perm(), err)
	}
	for d := filepath.Dir(path); d != filepath.Dir(os.TempDir()); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(path, 0o666)
	ask := func(cred *syscall.Credential) string {
		cmd := exec.Command(perl, "-MIO::Socket::UNIX", "-e",
			`my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!"; print $s "{\"op\":\"room\"}\n"; print while <$s>;`, path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("client: %v", err)
		}
		return string(out)
	}
	if got := ask(nil); !strings.Contains(got, "{") {
		t.Fatalf("this user's request got no answer: %q", got)
	}
	if got := ask(&syscall.Credential{Uid: 65534, Gid: 65534}); strings.Contains(got, "{") {
		t.Fatalf("another user's request was answered: %q", got)
	}
}
