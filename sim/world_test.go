package sim

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/warroom/warroom/clock"
)

var testT0 = time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC)

func at(min float64) time.Time { return testT0.Add(time.Duration(min * float64(time.Minute))) }

func newTestWorld(seed uint64, nowMin float64) (*World, *clock.Fake) {
	fk := clock.NewFake(at(nowMin))
	return NewWorld(DefaultScenario(), seed, testT0, fk), fk
}

func TestSameSeedSameSeries(t *testing.T) {
	a, _ := newTestWorld(42, 12)
	b, _ := newTestWorld(42, 12)
	c, _ := newTestWorld(43, 12)
	differ := false
	// Sample b in a different order (backwards) to prove values do not
	// depend on evaluation order or caching.
	var times []time.Time
	for m := -9.5; m <= 12; m += 0.37 {
		times = append(times, at(m))
	}
	got := map[time.Time]Snapshot{}
	for i := len(times) - 1; i >= 0; i-- {
		got[times[i]] = b.Sample(times[i])
	}
	for _, tm := range times {
		sa := a.Sample(tm)
		if !reflect.DeepEqual(sa, got[tm]) {
			t.Fatalf("seed 42 differs at %v:\n%+v\n%+v", tm, sa, got[tm])
		}
		if sc := c.Sample(tm); sc.OriginRPS != sa.OriginRPS {
			differ = true
		}
	}
	if !differ {
		t.Fatal("seeds 42 and 43 gave identical traffic")
	}
	// Same seed and the same mitigation history: identical again.
	a2, fa := newTestWorld(7, 4)
	b2, fb := newTestWorld(7, 4)
	for _, p := range []struct {
		w  *World
		fk *clock.Fake
	}{{a2, fa}, {b2, fb}} {
		if _, err := p.w.SetSplit(Split{20, 80}); err != nil {
			t.Fatal(err)
		}
		p.w.TerminateIdleSessions()
		p.fk.Advance(90 * time.Second)
	}
	for m := 3.0; m < 8; m += 0.25 {
		if x, y := a2.Sample(at(m)), b2.Sample(at(m)); !reflect.DeepEqual(x, y) {
			t.Fatalf("same seed and mitigations differ at minute %v", m)
		}
	}
}

// windows says where each problem is visible when nobody acts.
var problemWindows = []struct {
	problem  string
	from, to float64 // must be visible throughout [from, to]
	gone     float64 // and gone again by this minute (0: persists)
}{
	{"waf_bots", 2.5, 7.5, 9.5},
	{"db_connections", 3, 12, 0},
	{"lambda_throttles", 2.75, 7, 8.5},
	{"nat_errors", 3.25, 6, 7},
	{"triton_degraded", 4.5, 6.5, 8},
	{"tx_landing", 5.25, 9.25, 10.5},
}

func TestProblemsAppearInTheirWindows(t *testing.T) {
	w, _ := newTestWorld(1, 15)
	for _, m := range []float64{-5, -1, 0, 0.5, 1} {
		s := w.Sample(at(m))
		for p, on := range s.Problems() {
			if on {
				t.Errorf("minute %v: %s visible before the launch got going", m, p)
			}
		}
	}
	for _, pw := range problemWindows {
		for m := pw.from; m <= pw.to; m += 0.25 {
			s := w.Sample(at(m))
			if !s.Problems()[pw.problem] {
				t.Errorf("%s not visible at minute %v", pw.problem, m)
			}
		}
		s := w.Sample(at(pw.from - 1.25))
		if s.Problems()[pw.problem] {
			t.Errorf("%s visible already at minute %v", pw.problem, pw.from-1.25)
		}
		if pw.gone > 0 {
			if s := w.Sample(at(pw.gone)); s.Problems()[pw.problem] {
				t.Errorf("%s still visible at minute %v after traffic normalised", pw.problem, pw.gone)
			}
		} else if s := w.Sample(at(14)); !s.Problems()[pw.problem] {
			t.Errorf("%s should persist until mitigated, gone at minute 14", pw.problem)
		}
	}
	// Order of first appearance: bots, DB/Lambda, NAT, Triton, fees.
	first := map[string]float64{}
	for m := 0.0; m < 8; m += 1.0 / 12 {
		for p, on := range w.Sample(at(m)).Problems() {
			if _, seen := first[p]; on && !seen {
				first[p] = m
			}
		}
	}
	order := []string{"waf_bots", "lambda_throttles", "db_connections", "nat_errors", "triton_degraded", "tx_landing"}
	for i := 1; i < len(order); i++ {
		if first[order[i-1]] > first[order[i]] {
			t.Errorf("%s (minute %.2f) should appear before %s (minute %.2f)", order[i-1], first[order[i-1]], order[i], first[order[i]])
		}
	}
	t.Logf("first appearance (scenario minutes): %v", first)
}

func TestMitigationsFixWithin30Seconds(t *testing.T) {
	cases := []struct {
		problem string
		atMin   float64
		apply   func(*World) error
		check   func(t *testing.T, before, after, untouched Snapshot)
	}{
		{"waf_bots", 3, func(w *World) error { _, err := w.SetWAFMode("block"); return err },
			func(t *testing.T, b, a, u Snapshot) {
				if a.WAF.BotBlocked <= u.WAF.BotBlocked || a.OriginRPS >= u.OriginRPS {
					t.Errorf("block mode should block more bots and lower origin traffic: %+v vs %+v", a.WAF, u.WAF)
				}
			}},
		{"db_connections", 4, func(w *World) error { w.TerminateIdleSessions(); return nil },
			func(t *testing.T, b, a, u Snapshot) {
				if a.DB.Used >= b.DB.Used-100 || a.Services[svcHistory].P95 > 0.5 || a.Services[svcTokens].P95 > 0.5 {
					t.Errorf("terminating idle sessions should drop connections and latency: before %+v after %+v", b.DB, a.DB)
				}
			}},
		{"lambda_throttles", 3.5, func(w *World) error { _, err := w.SetReservedConcurrency("tokens", 3000); return err },
			func(t *testing.T, b, a, u Snapshot) {
				if a.Lambda[svcTokens].ThrottlesPerSec != 0 || a.Lambda[svcTokens].Concurrent <= 1000 {
					t.Errorf("raising concurrency should stop throttles: %+v", a.Lambda[svcTokens])
				}
			}},
		{"nat_errors", 4, func(w *World) error { _, err := w.SetNATIPs(8); return err },
			func(t *testing.T, b, a, u Snapshot) {
				if a.NAT.ErrorsPerSec != 0 || a.NAT.Ports != 8*55000 {
					t.Errorf("8 IPs should stop port allocation errors: %+v", a.NAT)
				}
			}},
		{"triton_degraded", 4.5, func(w *World) error { _, err := w.SetSplit(Split{20, 80}); return err },
			func(t *testing.T, b, a, u Snapshot) {
				tr, qn := a.RPC[provTriton], a.RPC[provQuickNode]
				if tr.Rate429 != 0 || tr.P95 >= u.RPC[provTriton].P95/3 || tr.Lag > 5 {
					t.Errorf("20/80 should relieve Triton: %+v (untouched %+v)", tr, u.RPC[provTriton])
				}
				if qn.Rate429 != 0 || qn.P95 > 0.25 || !qn.Healthy {
					t.Errorf("QuickNode should absorb 80%%: %+v", qn)
				}
			}},
		{"tx_landing", 5.5, func(w *World) error { _, err := w.SetPriorityFee(300000); return err },
			func(t *testing.T, b, a, u Snapshot) {
				if a.Fees.LandingPct < 95 || u.Fees.LandingPct > 60 {
					t.Errorf("raising the fee should restore landing: %.1f%% (untouched %.1f%%)", a.Fees.LandingPct, u.Fees.LandingPct)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.problem, func(t *testing.T) {
			w, fk := newTestWorld(3, c.atMin)
			idle, _ := newTestWorld(3, c.atMin)
			before := w.Sample(at(c.atMin))
			if !before.Problems()[c.problem] {
				t.Fatalf("%s not visible at minute %v", c.problem, c.atMin)
			}
			if err := c.apply(w); err != nil {
				t.Fatal(err)
			}
			fk.Advance(30 * time.Second)
			after := w.Sample(fk.Now())
			untouched := idle.Sample(fk.Now())
			if after.Problems()[c.problem] {
				t.Errorf("%s still visible 30 s after the mitigation", c.problem)
			}
			if !untouched.Problems()[c.problem] {
				t.Errorf("%s went away by itself (it should stay without action)", c.problem)
			}
			c.check(t, before, after, untouched)
			// The past is not rewritten by a mitigation.
			if x, y := w.Sample(at(c.atMin-1)), idle.Sample(at(c.atMin-1)); !reflect.DeepEqual(x, y) {
				t.Error("a mitigation changed values before it was applied")
			}
		})
	}
}

func TestPasswordRotationDoesNotDropConnections(t *testing.T) {
	w, fk := newTestWorld(5, 4)
	before := w.DBSessions()
	d := w.RotateDBPassword()
	if d.ConnectionsUsed != before.ConnectionsUsed || d.Rotations == nil || *d.Rotations != 1 {
		t.Fatalf("rotation changed connections: %+v -> %+v", before, d)
	}
	fk.Advance(time.Minute)
	if s := w.Sample(fk.Now()); !s.Problems()["db_connections"] {
		t.Fatal("rotating the password must not fix exhausted connections")
	}
	// Only terminating idle sessions does; the idle pool stays low after.
	k := w.TerminateIdleSessions()
	if k.Terminated == nil || *k.Terminated < 300 || k.Idle != 0 {
		t.Fatalf("terminate-idle: %+v", k)
	}
	fk.Advance(10 * time.Minute)
	if s := w.Sample(fk.Now()); s.DB.Idle > 100 || s.Problems()["db_connections"] {
		t.Fatalf("idle sessions came back: %+v", s.DB)
	}
}

func TestCountersMonotonicAndResetRestoresTimeline(t *testing.T) {
	w, fk := newTestWorld(9, 4)
	var prev Snapshot
	for m := -10.0; m <= 4; m += 0.1 {
		s := w.Sample(at(m))
		if s.c.req[svcTokens][0] < prev.c.req[svcTokens][0] || s.c.natErrors < prev.c.natErrors || s.c.rpc[0][1] < prev.c.rpc[0][1] {
			t.Fatalf("counter went backwards at minute %.1f", m)
		}
		for b := 1; b < nBuckets; b++ {
			if s.c.hist[svcTokens][b] < s.c.hist[svcTokens][b-1] || s.c.hist[svcTokens][b] > s.c.histCount[svcTokens] {
				t.Fatalf("histogram buckets not cumulative at minute %.1f", m)
			}
		}
		prev = s
	}
	base := w.Sample(at(5))
	if _, err := w.SetSplit(Split{10, 90}); err != nil {
		t.Fatal(err)
	}
	v := w.version("split")
	if _, err := w.SetSplit(Split{10, 90}); err != nil || w.version("split") != v {
		t.Fatal("setting the same split twice must be a no-op")
	}
	fk.Advance(time.Minute)
	if s := w.Sample(at(5)); s.RPC[provTriton].Rate429 != 0 {
		t.Fatal("split not in effect")
	}
	w.Reset()
	if s := w.Sample(at(5)); !reflect.DeepEqual(s, base) {
		t.Fatal("reset did not restore the unmitigated timeline")
	}
	if w.Split() != (Split{50, 50}) || w.WAFMode().Mode != "challenge" || w.PriorityFee().MicroLamports != 10000 {
		t.Fatal("reset did not restore defaults")
	}
}

func TestInputValidation(t *testing.T) {
	w, _ := newTestWorld(1, 4)
	bad := []func() error{
		func() error { _, err := w.SetSplit(Split{60, 60}); return err },
		func() error { _, err := w.SetSplit(Split{-10, 110}); return err },
		func() error { _, err := w.SetReservedConcurrency("tokens", 9000); return err },
		func() error { _, err := w.SetReservedConcurrency("tokens", -1); return err },
		func() error { _, err := w.SetWAFMode("nuke"); return err },
		func() error { _, err := w.SetPriorityFee(MaxPriorityFee + 1); return err },
		func() error { _, err := w.SetNATIPs(9); return err },
	}
	for i, f := range bad {
		var ie *InputError
		if err := f(); err == nil || !errors.As(err, &ie) {
			t.Errorf("case %d: want InputError, got %v", i, err)
		}
	}
	if _, err := w.SetReservedConcurrency("payments", 10); err != ErrUnknownFunction {
		t.Errorf("unknown function: %v", err)
	}
	if lc, _ := w.LambdaConcurrency("tokens"); lc.MaxAllowed != 10000-100-1000-200 {
		t.Errorf("max allowed: %+v", lc)
	}
}
