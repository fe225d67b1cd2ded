package sim

import (
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
)

// TestCalmScenarioHasNoProblems and each fault makes exactly its own
// problem, from its minute, until its mitigation.
func TestFaults(t *testing.T) {
	t0 := time.Date(2024, 1, 31, 18, 0, 0, 0, time.UTC)
	at := func(w *World, min float64) Snapshot {
		return w.Sample(t0.Add(time.Duration(min * float64(time.Minute))))
	}
	problems := func(s Snapshot) []string {
		var out []string
		for k, v := range s.Problems() {
			if v {
				out = append(out, k)
			}
		}
		return out
	}
	calm := NewWorld(CalmScenario(), 1, t0, clock.NewFake(t0.Add(time.Hour)))
	for _, m := range []float64{-5, 0, 2, 8, 20} {
		if p := problems(at(calm, m)); len(p) > 0 {
			t.Fatalf("the calm launch has problems at minute %v: %v", m, p)
		}
		if e := at(calm, m).Service("history").ErrorPct; e > 0.5 {
			t.Fatalf("history 5xx %v%% at %v", e, m)
		}
	}
	for _, c := range []struct {
		f       Fault
		problem string
		check   func(s Snapshot) bool
	}{
		{Fault{Kind: FaultDBLeak, Minute: 1}, "db_connections", nil},
		{Fault{Kind: FaultNATDemand, Minute: 1}, "nat_errors", nil},
		{Fault{Kind: FaultRPCLag, Minute: 1, Service: "triton"}, "triton_degraded", nil},
		{Fault{Kind: FaultGateway504, Minute: 1}, "", func(s Snapshot) bool { return s.Service("history").ErrorPct > 5 }},
	} {
		scn := CalmScenario()
		scn.Faults = []Fault{c.f}
		if err := c.f.Validate(); err != nil {
			t.Fatal(err)
		}
		clk := clock.NewFake(t0.Add(4 * time.Minute))
		w := NewWorld(scn, 1, t0, clk)
		bad := func(s Snapshot) bool {
			if c.check != nil {
				return c.check(s)
			}
			return s.Problems()[c.problem]
		}
		if bad(at(w, 0.5)) {
			t.Errorf("%s: a problem before its minute", c.f.Kind)
		}
		if !bad(at(w, 4)) {
			t.Errorf("%s: no problem three minutes in: %v", c.f.Kind, problems(at(w, 4)))
		}
		// The fitting mitigation clears it.
		switch c.f.Kind {
		case FaultDBLeak:
			w.TerminateIdleSessions()
		case FaultNATDemand:
			w.SetNATIPs(8)
		case FaultRPCLag:
			w.SetSplit(Split{Triton: 20, QuickNode: 80})
		case FaultGateway504:
			w.SetClientRetries(false)
		}
		clk.Advance(4 * time.Minute)
		if s := at(w, 8); bad(s) {
			t.Errorf("%s: still a problem after its mitigation: %v (history 5xx %.2f%%)", c.f.Kind, problems(s), s.Service("history").ErrorPct)
		}
	}
}
