package playbooks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sim"
)

// countingProxy sits in front of the simulator's admin API and counts
// requests by method.
type countingProxy struct {
	*httptest.Server
	mu     sync.Mutex
	counts map[string]int
}

func (p *countingProxy) count(m string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[m]
}

func (p *countingProxy) mutating() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for m, c := range p.counts {
		if m != http.MethodGet && m != http.MethodHead {
			n += c
		}
	}
	return n
}

// startSim runs the launch simulator with an admin token and points
// SIM_ADMIN_URL at a counting proxy in front of its admin API.
func startSim(t *testing.T) (*sim.Sim, *countingProxy) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := sim.Start(ctx, sim.Options{Seed: 1, AdminToken: adminToken, Start: time.Now().Add(-3 * time.Minute), LatencyScale: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); s.Close() })
	target, _ := url.Parse(s.AdminURL)
	p := &countingProxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.Method]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	t.Setenv("SIM_ADMIN_URL", p.URL)
	return s, p
}

var exampleParams = map[string]map[string]string{
	"rpc-traffic-split":           {"triton_percent": "80"},
	"lambda-reserved-concurrency": {"reserved_concurrency": "2000"},
	"db-terminate-idle-sessions":  nil,
	"waf-mode":                    {"mode": "block"},
	"priority-fee":                {"micro_lamports": "200000"},
	"nat-add-ips":                 {"ips": "8"},
	"client-retries":              {"enabled": "false"},
}

func TestDryRunExamplesChangeNothing(t *testing.T) {
	s, proxy := startSim(t)
	before := s.World.State().Controls
	rg := newRig(t, rigOptions{})
	ctx := context.Background()
	wantChanges := map[string]string{
		"rpc-traffic-split":           "change: triton 50 → 80",
		"lambda-reserved-concurrency": "change: reserved_concurrency 1000 → 2000",
		"waf-mode":                    "change: mode challenge → block",
		"priority-fee":                "change: micro_lamports 10000 → 200000",
		"db-terminate-idle-sessions":  "POST " + proxy.URL + "/admin/db/sessions/terminate-idle",
		"nat-add-ips":                 "change: ips 2 → 8",
		"client-retries":              "change: enabled true → false",
	}
	for _, pb := range rg.cat.Playbooks() {
		params, ok := exampleParams[pb.ID]
		if !ok {
			t.Fatalf("no test parameters for example %s", pb.ID)
		}
		plan, err := rg.r.DryRun(ctx, pb.ID, params)
		if err != nil {
			t.Fatalf("%s: %v", pb.ID, err)
		}
		text := plan.Text()
		if !strings.Contains(text, wantChanges[pb.ID]) {
			t.Errorf("%s: the plan does not show %q:\n%s", pb.ID, wantChanges[pb.ID], text)
		}
		for _, st := range plan.Steps {
			if st.Error != "" {
				t.Errorf("%s: step %s: %s", pb.ID, st.ID, st.Error)
			}
			if st.Ran && st.Kind == KindHTTP && !strings.HasPrefix(st.What, "GET ") {
				t.Errorf("%s: a %s ran in a dry run", pb.ID, st.What)
			}
		}
		if strings.Contains(text, adminToken) {
			t.Errorf("%s: the plan shows the secret", pb.ID)
		}
		t.Logf("%s", text)
	}
	if n := proxy.mutating(); n != 0 {
		t.Fatalf("%d mutating requests in dry runs", n)
	}
	if n := rg.r.procStarts.Load(); n != 0 {
		t.Fatalf("%d processes started in dry runs", n)
	}
	if proxy.count(http.MethodGet) < len(exampleParams) {
		t.Fatalf("the capture steps did not run (%d GETs)", proxy.count(http.MethodGet))
	}
	if after := s.World.State().Controls; !reflect.DeepEqual(after, before) {
		t.Fatalf("the simulator changed: %+v → %+v", before, after)
	}
	if len(rg.state().Runs) != 0 {
		t.Fatal("a dry run recorded a run")
	}
}

// TestDryRunTransportRefusesMutations: even a step that claims to be
// harmless cannot send anything but GET/HEAD, and exec steps that are
// not read_only are not started.
func TestDryRunTransportRefusesMutations(t *testing.T) {
	admin := newFakeAdmin(t)
	req, _ := http.NewRequest(http.MethodPut, admin.URL+"/admin/rpc/split", nil)
	if _, err := (dryTransport{http.DefaultTransport}).RoundTrip(req); err != ErrDryRunMutation {
		t.Fatalf("dry transport sent a PUT: %v", err)
	}
	rg := newRig(t, rigOptions{playbooks: map[string]string{"tree.yaml": treePlaybook("10s", false)}})
	plan, err := rg.r.DryRun(context.Background(), "tree", nil)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Processes != 0 || rg.r.procStarts.Load() != 0 || plan.Steps[0].Ran {
		t.Fatal("a dry run started a process that is not read_only")
	}
	if admin.count("") != 0 {
		t.Fatal("requests sent")
	}
}

// TestExampleRunAgainstSimulator runs rpc-traffic-split for real against
// the simulator: apply, a verification that fails (latency stays high),
// the commander's choice to roll back, and the split restored from the
// captured values.
func TestExampleRunAgainstSimulator(t *testing.T) {
	s, proxy := startSim(t)
	clk := newFakeClock()
	rg := newRig(t, rigOptions{clk: clk})
	ctx := context.Background()
	h, err := rg.r.Request(ctx, tritonOwn, "rpc-traffic-split", map[string]string{"triton_percent": "20"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rg.r.Approve(ctx, deputy, h.ID, h.Hash); err != nil {
		t.Fatal(err)
	}
	rg.waitState(h.ID, incident.RunVerifying, 5*time.Second)
	if got := s.World.Split(); got.Triton != 20 || got.QuickNode != 80 {
		t.Fatalf("split after apply: %+v", got)
	}
	// Triton's latency stays bad: the verification times out after 5m.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = rg.eng.Submit(ctx, incident.Observe{Samples: []incident.Sample{{Service: "triton", Pane: "latency", Time: clk.Now(), Value: 0.9}}})
			clk.Advance(5 * time.Second)
		}
	}()
	rg.waitState(h.ID, incident.RunAwaitingDecision, 10*time.Second)
	<-h.Done()
	if got := s.World.Split(); got.Triton != 20 {
		t.Fatalf("on_verify_failure: ask must not roll back by itself: %+v", got)
	}
	h2, err := rg.r.Resolve(ctx, commander, h.ID, incident.ResolveRollback, "test")
	if err != nil {
		t.Fatal(err)
	}
	<-h2.Done()
	rg.waitState(h.ID, incident.RunRolledBack, 5*time.Second)
	if got := s.World.Split(); got.Triton != 50 || got.QuickNode != 50 {
		t.Fatalf("split after rollback: %+v", got)
	}
	if proxy.count(http.MethodPut) != 2 {
		t.Fatalf("%d PUTs: want apply and restore", proxy.count(http.MethodPut))
	}
}
