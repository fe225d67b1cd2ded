package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// FaultKind names an injected problem (drills, see sim/drill). Each is
// one of the launch stories' failure modes, on the model's own terms.
type FaultKind string

const (
	// FaultDBLeak: idle database sessions leak from the fault's minute
	// (Size per second, default 5) whatever the traffic, until the idle
	// sessions are terminated (then the leak slows as after any kill).
	FaultDBLeak FaultKind = "db_connections_exhausted"
	// FaultNATDemand: connections through the NAT gateway hold Size
	// times the usual ports (default 4): port allocation errors until
	// more elastic IPs are attached.
	FaultNATDemand FaultKind = "nat_ports_exhausted"
	// FaultRPCLag: one Solana provider (Service: triton or quicknode)
	// loses capacity to Size calls/s (default 6000): latency, 429s and a
	// pool member falling behind while getHealth still says ok, until
	// traffic is moved off it.
	FaultRPCLag FaultKind = "rpc_provider_lagging"
	// FaultGateway504: a service (default history) answers Size percent
	// (default 8) of its writes 504 at the gateway although the write
	// committed; clients retry, which multiplies the overload (2.5 times
	// the 504s while client retries are on, a fiftieth once off).
	FaultGateway504 FaultKind = "gateway_504_committed"
)

// FaultKinds lists the kinds a drill may inject.
var FaultKinds = []FaultKind{FaultDBLeak, FaultNATDemand, FaultRPCLag, FaultGateway504}

// Fault is one injected problem from Minute (scenario minutes from T-0).
type Fault struct {
	Kind    FaultKind
	Minute  float64
	Service string  // where it applies, when the kind has a choice
	Size    float64 // kind-specific; 0 for the default
}

// Validate checks a fault against what the model can do.
func (f Fault) Validate() error {
	if !slices.Contains(FaultKinds, f.Kind) {
		return fmt.Errorf("unknown fault %q (one of %v)", f.Kind, FaultKinds)
	}
	if f.Size < 0 || math.IsNaN(f.Size) || math.IsInf(f.Size, 0) {
		return fmt.Errorf("fault %s: size must be a positive number", f.Kind)
	}
	switch f.Kind {
	case FaultRPCLag:
		if f.Service != "" && !slices.Contains(ProviderNames[:], f.Service) {
			return fmt.Errorf("fault %s: service must be one of %v", f.Kind, ProviderNames)
		}
	case FaultGateway504:
		if f.Service != "" && !slices.Contains(ServiceNames[:], f.Service) {
			return fmt.Errorf("fault %s: service must be one of %v", f.Kind, ServiceNames)
		}
	case FaultDBLeak:
		if f.Service != "" && f.Service != "tokens" && f.Service != "history" {
			return fmt.Errorf("fault %s: the shared database serves tokens and history", f.Kind)
		}
	}
	return nil
}

func (f Fault) size(def float64) float64 {
	if f.Size > 0 {
		return f.Size
	}
	return def
}

// active returns the faults of kind k in force at minute m.
func (s *Scenario) active(k FaultKind, m float64) []Fault {
	var out []Fault
	for _, f := range s.Faults {
		if f.Kind == k && m >= f.Minute {
			out = append(out, f)
		}
	}
	return out
}

// CalmScenario is a launch where nothing goes wrong by itself: traffic
// ramps to a 20K req/s plateau well inside every capacity, no bots, flat
// priority fees, healthy providers. Drills inject their faults into it.
func CalmScenario() Scenario {
	s := DefaultScenario()
	s.PeakHumanRPS, s.NormalRPS = 20000, 20000
	s.RampEnd, s.PeakEnd, s.NormalAt = 1, 1e6, 2e6
	s.PeakBotRPS = 0
	s.DBLeakFromRPS = math.Inf(1)
	s.TritonDegradeAt, s.TritonDegradeEnd, s.TritonRecoverAt = 1e6, 1e6+1, 2e6
	s.FeePeak = s.FeeBaseline
	s.FeeRiseAt, s.FeePeakAt, s.FeeFallAt, s.FeeNormalAt = 1e6, 1e6+1, 1e6+2, 1e6+3
	return s
}

// ClientRetries reports whether the wallet's clients retry failed writes.
type ClientRetries struct {
	Enabled bool `json:"enabled"`
}

// rampRetries: clients pick up the flag on their next config poll.
const rampRetries = 15 * time.Second

// ClientRetries is the client retry flag in effect.
func (w *World) ClientRetries() ClientRetries {
	w.mu.Lock()
	defer w.mu.Unlock()
	return ClientRetries{Enabled: w.retries.target() > 0.5}
}

// SetClientRetries turns automatic client retries on or off.
func (w *World) SetClientRetries(on bool) (ClientRetries, error) {
	v := 0.0
	if on {
		v = 1
	}
	w.mu.Lock()
	now := w.clk.Now()
	if w.retries.set(now, v) {
		w.bump("clients", now)
	}
	w.mu.Unlock()
	return w.ClientRetries(), nil
}
