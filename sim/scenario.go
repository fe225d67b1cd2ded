package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// Scenario is the static shape of the simulated launch: traffic curves,
// capacities and the minute marks at which each problem starts. All minute
// fields count scenario minutes from T-0 (negative = before the claim opens).
//
// The World turns a Scenario, a seed and the mitigation history into
// numbers; the Scenario itself holds no state.
type Scenario struct {
	// PreRoll is how long before T-0 the simulated systems have data.
	// Queries for earlier times return no data.
	PreRoll time.Duration

	BaselineRPS float64 // human requests/s before T-0
	// BaseErrorPct is each service's 5xx percent with no DB pressure
	// (tokens, history, banners); 0 leaves its 5xx series uncreated until
	// the first error.
	BaseErrorPct [3]float64
	PeakHumanRPS float64 // human requests/s at the plateau
	NormalRPS    float64 // human requests/s once traffic has normalised
	PeakBotRPS   float64 // bot requests/s at the plateau (before the WAF)
	RampEnd      float64 // minute the human ramp reaches the peak
	PeakEnd      float64 // minute the plateau ends
	NormalAt     float64 // minute traffic is back to NormalRPS
	BotStart     float64 // minute bots start arriving

	// Database (shared by tokens and history).
	DBMaxConnections float64 // max_connections
	DBLeakFromRPS    float64 // origin requests/s above which idle sessions leak
	DBLeakPerSec     float64 // idle sessions leaked per second at full leak
	DBLeakAfterKill  float64 // leak multiplier once idle sessions were terminated

	// Lambda.
	LambdaAccountLimit float64 // account concurrency limit
	TokensConcPer1K    float64 // tokens concurrency per 1K origin requests/s

	// NAT gateway.
	NATPortsPerIP      float64 // ports per elastic IP
	NATDefaultIPs      float64 // IPs attached at T-0
	NATPortsPerRPS     float64 // ports held per origin request/s
	NATErrorsPerExcess float64 // errors/s per port of excess demand

	// RPC providers.
	RPCPerOriginRPS  float64 // RPC calls per origin request
	RPCCapacity      float64 // calls/s each provider absorbs when healthy
	TritonDegradeAt  float64 // minute Triton starts losing capacity
	TritonDegradeEnd float64 // minute Triton reaches its degraded capacity
	TritonDegraded   float64 // Triton capacity (calls/s) while degraded
	TritonRecoverAt  float64 // minute Triton's capacity comes back (after normalisation)
	LagGrowthPerSec  float64 // slots/s the degraded pool member falls behind
	LagCatchupPerSec float64 // slots/s it catches up when no longer overloaded
	HealthMaxLag     float64 // getHealth starts failing beyond this many slots
	BaseSlot         uint64  // processed slot at PreRoll start
	SlotsPerSecond   float64 // chain tip speed in simulated time

	// Ethereum (EVM) RPC: Infura with a per-project rate limit, and the
	// wallet's own Nethermind node.
	EVMPerOriginRPS  float64       // EVM calls per origin request (balances, token lists)
	InfuraAllowedRPS float64       // the project's allowed requests/s
	InfuraBackoff    time.Duration // backoff_seconds Infura suggests while throttling
	BaseBlock        uint64        // block at PreRoll start
	BlockTime        time.Duration // time per block

	// Priority fees (micro-lamports per compute unit).
	FeeBaseline   float64
	FeePeak       float64
	FeeRiseAt     float64 // minute the market fee starts climbing
	FeePeakAt     float64 // minute it reaches FeePeak
	FeeFallAt     float64 // minute it starts falling
	FeeNormalAt   float64 // minute it is back to FeeBaseline
	FeeDefault    float64 // the wallet's own setting at T-0
	LandingHealth float64 // landing rate (%) when our fee beats the market

	// Faults are injected problems (drills); see FaultKind.
	Faults []Fault
}

// DefaultScenario is the airdrop launch: about ten scenario minutes from the
// claim opening to normal traffic.
func DefaultScenario() Scenario {
	return Scenario{
		BaseErrorPct: [3]float64{0.1, 0.15, 0.05},
		PreRoll:      10 * time.Minute,
		BaselineRPS:  1000,
		PeakHumanRPS: 80000,
		NormalRPS:    4000,
		PeakBotRPS:   30000,
		RampEnd:      4.25,
		PeakEnd:      5.25,
		NormalAt:     9,
		BotStart:     0.5,

		DBMaxConnections: 500,
		DBLeakFromRPS:    35000,
		DBLeakPerSec:     5,
		DBLeakAfterKill:  0.06,

		LambdaAccountLimit: 10000,
		TokensConcPer1K:    20,

		NATPortsPerIP:      55000,
		NATDefaultIPs:      2,
		NATPortsPerRPS:     1.55,
		NATErrorsPerExcess: 0.01,

		RPCPerOriginRPS:  0.8,
		RPCCapacity:      75000,
		TritonDegradeAt:  3.4,
		TritonDegradeEnd: 3.7,
		TritonDegraded:   28000,
		TritonRecoverAt:  12,
		LagGrowthPerSec:  0.9,
		LagCatchupPerSec: 8,
		HealthMaxLag:     128,
		BaseSlot:         245_000_000,
		SlotsPerSecond:   2.5,

		EVMPerOriginRPS:  0.02,
		InfuraAllowedRPS: 1000,
		InfuraBackoff:    10 * time.Second,
		BaseBlock:        19_130_000,
		BlockTime:        12 * time.Second,

		FeeBaseline:   5000,
		FeePeak:       220000,
		FeeRiseAt:     5,
		FeePeakAt:     6,
		FeeFallAt:     8,
		FeeNormalAt:   10,
		FeeDefault:    10000,
		LandingHealth: 97,
	}
}

// Milestone is one mark on the scenario timeline.
type Milestone struct {
	Minute float64
	What   string
}

// Timeline lists the scripted events in order (what happens if nobody acts).
func (s Scenario) Timeline() []Milestone {
	return []Milestone{
		{-s.PreRoll.Minutes(), "simulated systems start reporting (~1K req/s baseline)"},
		{0, "T-0: the claim opens; traffic starts ramping"},
		{s.BotStart, "bots arrive at Cloudflare: WAF challenges/blocks rise (bots reaching origin warn ~1.6, crit ~2.35)"},
		{1.9, "origin passes 35K req/s: idle DB sessions start leaking"},
		{2.3, "tokens Lambda exceeds its reserved concurrency (1000): throttles, tokens 5xx"},
		{2.6, "DB connections warn (>400 of 500); exhausted (500/500) by ~2.85: tokens/history p95 and 5xx rise"},
		{3.0, "NAT gateway port allocation errors (aws; crit ~3.1)"},
		{s.TritonDegradeAt, "Triton loses capacity: latency and 429s from ~3.6, slot lag growing (> 50 slots ~4.6) while getHealth says ok"},
		{4, "peak: ~90K req/s at the origin"},
		{s.FeeRiseAt, "priority fees climb: wallet tx landing rate falls (blowfish; < 80% by ~5.2)"},
		{s.PeakEnd, "traffic starts to fall"},
		{6.0, "Triton lag passes the health distance (128 slots): getHealth errors -32005 until ~6.8"},
		{7.5, "unmitigated: NAT (~6.4), Triton (~7.1), Lambda (~7.6) and WAF (~8.3) recover as traffic falls"},
		{s.NormalAt, "traffic normal (~4K req/s); DB idle sessions stay stuck (500/500) until terminated"},
		{s.FeeNormalAt, "priority fees back to baseline; landing rate recovers (~9.8)"},
	}
}

// smoothstep rises from 0 at x<=0 to 1 at x>=1 with zero slope at both ends.
func smoothstep(x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	return x * x * (3 - 2*x)
}

// window rises over [a,b], holds until c and falls over [c,d].
func window(m, a, b, c, d float64) float64 {
	if m < c {
		return smoothstep((m - a) / (b - a))
	}
	return 1 - smoothstep((m-c)/(d-c))
}

func clamp(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, x))
}

// humanRPS is the human request rate at scenario minute m.
func (s *Scenario) humanRPS(m float64) float64 {
	if m < 0 {
		return s.BaselineRPS
	}
	if m < s.PeakEnd {
		return s.BaselineRPS + (s.PeakHumanRPS-s.BaselineRPS)*smoothstep(m/s.RampEnd)
	}
	f := smoothstep((m - s.PeakEnd) / (s.NormalAt - s.PeakEnd))
	return s.PeakHumanRPS + (s.NormalRPS-s.PeakHumanRPS)*f
}

// botRPS is the bot request rate (before the WAF) at minute m.
func (s *Scenario) botRPS(m float64) float64 {
	if m < s.BotStart {
		return 0
	}
	return s.PeakBotRPS * window(m, s.BotStart, s.RampEnd-0.25, s.PeakEnd+0.25, s.NormalAt+0.5)
}

// tritonCapacity is the calls/s Triton can absorb at minute m.
func (s *Scenario) tritonCapacity(m float64) float64 {
	if m < s.TritonRecoverAt {
		f := smoothstep((m - s.TritonDegradeAt) / (s.TritonDegradeEnd - s.TritonDegradeAt))
		return s.RPCCapacity + (s.TritonDegraded-s.RPCCapacity)*f
	}
	f := smoothstep((m - s.TritonRecoverAt) / 1)
	return s.TritonDegraded + (s.RPCCapacity-s.TritonDegraded)*f
}

// marketFee is the median recent prioritization fee at minute m.
func (s *Scenario) marketFee(m float64) float64 {
	return s.FeeBaseline + (s.FeePeak-s.FeeBaseline)*window(m, s.FeeRiseAt, s.FeePeakAt, s.FeeFallAt, s.FeeNormalAt)
}

// Noise keys: one per independent noisy quantity.
const (
	nzHuman uint64 = iota + 1
	nzBot
	nzLatTokens
	nzLatHistory
	nzLatBanners
	nzRPCTriton
	nzRPCQuickNode
	nzLagTriton
	nzLagQuickNode
	nzFee
	nzBlowfish
	nzDD // Datadog dropouts
	nzReq
	nzSlotFee
	nzEVMInfura
	nzEVMNode
)

// unitNoise is a deterministic value in [-1, 1) for (seed, key, i).
func unitNoise(seed, key uint64, i int64) float64 {
	var p rand.PCG
	p.Seed(seed, key*0x9E3779B97F4A7C15^uint64(i))
	return float64(p.Uint64()>>11)/(1<<53)*2 - 1
}

// noise is unitNoise interpolated linearly between whole seconds x.
func noise(seed, key uint64, x float64) float64 {
	f := math.Floor(x)
	a := unitNoise(seed, key, int64(f))
	b := unitNoise(seed, key, int64(f)+1)
	return a + (b-a)*(x-f)
}
