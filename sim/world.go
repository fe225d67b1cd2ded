package sim

import (
	"math"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
)

// Services, providers and Lambda functions the model knows, by index.
const (
	svcTokens = iota
	svcHistory
	svcBanners
	nSvc
)

const (
	provTriton = iota
	provQuickNode
	nProv
)

const (
	evmInfura = iota
	evmNode
	nEVM
)

var (
	// ServiceNames are the web services the simulator reports on (also the
	// Lambda function names).
	ServiceNames = [nSvc]string{"tokens", "history", "banners"}
	// ProviderNames are the simulated Solana RPC providers.
	ProviderNames = [nProv]string{"triton", "quicknode"}
	// EVMProviderNames are the simulated Ethereum RPC providers: hosted
	// Infura and the wallet's own Nethermind node.
	EVMProviderNames = [nEVM]string{"infura", "nethermind"}

	svcShare        = [nSvc]float64{0.45, 0.30, 0.25}
	lambdaReserved  = [nSvc]float64{1000, 1000, 200}
	lambdaConcPer1K = [nSvc]float64{0, 6, 1.5} // tokens comes from the Scenario
	latencyBuckets  = [nBuckets]float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

const nBuckets = 8

// WAF modes, from loosest to tightest.
var wafModes = []string{"off", "monitor", "challenge", "block"}

// wafFractions per mode: bot allowed, bot challenged (failed), bot blocked,
// human blocked. Exclusive outcomes; humans that pass a challenge are allowed.
var wafTable = map[string][4]float64{
	"off":       {1, 0, 0, 0},
	"monitor":   {1, 0, 0, 0},
	"challenge": {0.30, 0.60, 0.10, 0},
	"block":     {0.03, 0, 0.97, 0.01},
}

const defaultWAFMode = "challenge"

// Ramps: how long a control takes to reach its new value once applied.
const (
	rampSplit  = 20 * time.Second // clients move to the new weights
	rampLambda = 10 * time.Second
	rampNAT    = 30 * time.Second // attach secondary IPs
	rampWAF    = 15 * time.Second // rule propagation
	rampFee    = 20 * time.Second // new transactions carry the new fee
)

// Grid on which the model is integrated.
const (
	fineStep    = time.Second
	coarseStep  = 5 * time.Second
	fineCP      = time.Minute      // checkpoint spacing while fine
	coarseCP    = 10 * time.Minute // checkpoint spacing afterwards
	fineHorizon = 30 * time.Minute // after T-0, switch to coarse steps
)

// change is one applied value of a control.
type change struct {
	at time.Time
	to float64
}

// control is a numeric setting whose effective value ramps linearly to
// each new target over ramp.
type control struct {
	initial float64
	ramp    time.Duration
	changes []change
}

func (c *control) target() float64 {
	if len(c.changes) == 0 {
		return c.initial
	}
	return c.changes[len(c.changes)-1].to
}

func (c *control) eff(t time.Time) float64 {
	v, prev := c.initial, c.initial
	for _, ch := range c.changes {
		if t.Before(ch.at) {
			break
		}
		f := 1.0
		if c.ramp > 0 {
			f = clamp(float64(t.Sub(ch.at))/float64(c.ramp), 0, 1)
		}
		v += (ch.to - prev) * f
		prev = ch.to
	}
	return v
}

// set records a new target at time at; it reports false when the target is
// unchanged (an idempotent no-op).
func (c *control) set(at time.Time, v float64) bool {
	if v == c.target() {
		return false
	}
	if n := len(c.changes); n > 0 && at.Before(c.changes[n-1].at) {
		at = c.changes[n-1].at
	}
	c.changes = append(c.changes, change{at, v})
	return true
}

func (c *control) reset() { c.changes = nil }

type modeChange struct {
	at   time.Time
	mode string
}

// counters are cumulative totals since the PreRoll start, for /metrics.
type counters struct {
	req        [nSvc][4]float64 // by code: 200, 500, 503, 504
	committed  [nSvc]float64    // 504 answers whose write committed
	hist       [nSvc][nBuckets]float64
	histCount  [nSvc]float64
	histSum    [nSvc]float64
	throttles  [nSvc]float64
	invokes    [nSvc]float64
	natErrors  float64
	cf         [2][3]float64 // client human/bot × allowed/challenged/blocked
	rpc        [nProv][2]float64
	rpcSum     [nProv]float64
	txSent     float64
	txLanded   float64
	blowfish   float64
	blowfishDu float64
}

// state is what the model integrates over time.
type state struct {
	t     time.Time
	stuck float64        // idle DB sessions held by timed-out Lambdas
	lag   [nProv]float64 // slots a provider's pool member trails the tip
	c     counters
}

// World is the live launch model: a deterministic function of simulated
// time, the seed and the mitigation history. It is safe for concurrent use.
type World struct {
	mu    sync.Mutex
	scn   Scenario
	seed  uint64
	t0    time.Time
	epoch time.Time
	clk   clock.Clock

	split     control // Triton's share in percent
	reserved  [nSvc]control
	natIPs    control
	waf       [4]control
	wafHist   []modeChange
	fee       control
	retries   control // clients retry failed writes (1) or not (0)
	kills     []time.Time
	rotations []time.Time
	versions  map[string]int

	cps   []state
	last  state // most recent grid state computed (a cache)
	nFine int
}

// NewWorld builds the model. t0 is T-0, when the claim opens; clk supplies
// "now" for mitigations and for what counts as the past.
func NewWorld(scn Scenario, seed uint64, t0 time.Time, clk clock.Clock) *World {
	if clk == nil {
		clk = clock.Real{}
	}
	scn.PreRoll = scn.PreRoll.Round(time.Minute)
	if scn.PreRoll <= 0 {
		scn.PreRoll = 10 * time.Minute
	}
	w := &World{scn: scn, seed: seed, t0: t0, epoch: t0.Add(-scn.PreRoll), clk: clk}
	w.nFine = int((scn.PreRoll + fineHorizon) / fineCP)
	w.split = control{initial: 50, ramp: rampSplit}
	for i := range w.reserved {
		w.reserved[i] = control{initial: lambdaReserved[i], ramp: rampLambda}
	}
	w.natIPs = control{initial: scn.NATDefaultIPs, ramp: rampNAT}
	for i := range w.waf {
		w.waf[i] = control{initial: wafTable[defaultWAFMode][i], ramp: rampWAF}
	}
	w.fee = control{initial: scn.FeeDefault, ramp: rampFee}
	w.retries = control{initial: 1, ramp: rampRetries}
	w.versions = map[string]int{}
	w.cps = []state{{t: w.epoch}}
	return w
}

// Scenario returns the scenario the world runs.
func (w *World) Scenario() Scenario { return w.scn }

// T0 is when the claim opens.
func (w *World) T0() time.Time { return w.t0 }

// Epoch is the first instant with data (T0 - PreRoll).
func (w *World) Epoch() time.Time { return w.epoch }

// Now is the world's clock reading.
func (w *World) Now() time.Time { return w.clk.Now() }

// Seed is the noise seed.
func (w *World) Seed() uint64 { return w.seed }

func (w *World) cpTime(k int) time.Time {
	if k <= w.nFine {
		return w.epoch.Add(time.Duration(k) * fineCP)
	}
	return w.epoch.Add(time.Duration(w.nFine)*fineCP + time.Duration(k-w.nFine)*coarseCP)
}

func (w *World) cpIndex(t time.Time) int {
	d := t.Sub(w.epoch)
	if d < 0 {
		return 0
	}
	fine := time.Duration(w.nFine) * fineCP
	if d < fine {
		return int(d / fineCP)
	}
	return w.nFine + int((d-fine)/coarseCP)
}

func (w *World) stepAt(t time.Time) time.Duration {
	if t.Sub(w.epoch) < time.Duration(w.nFine)*fineCP {
		return fineStep
	}
	return coarseStep
}

// maxHorizon bounds how far past the epoch the model integrates.
const maxHorizon = 90 * 24 * time.Hour

// gridState returns the integrated state at the last grid point <= t.
func (w *World) gridState(t time.Time) state {
	if t.Before(w.epoch) {
		t = w.epoch
	}
	if t.Sub(w.epoch) > maxHorizon {
		t = w.epoch.Add(maxHorizon)
	}
	k := w.cpIndex(t)
	for len(w.cps) <= k {
		st := w.cps[len(w.cps)-1]
		w.advance(&st, w.cpTime(len(w.cps)))
		w.cps = append(w.cps, st)
	}
	st := w.cps[k]
	// Continue from the last grid state when it is closer (the common case:
	// "now" moving forward between requests).
	if w.last.t.After(st.t) && !w.last.t.After(t) {
		st = w.last
	}
	w.advance(&st, t)
	w.last = st
	return st
}

// advance integrates st along the grid up to the last grid point <= t.
func (w *World) advance(st *state, t time.Time) {
	for {
		h := w.stepAt(st.t)
		if st.t.Add(h).After(t) {
			return
		}
		w.integrate(st, h)
	}
}

// at evaluates the model at t from a grid state g with g.t <= t.
func (w *World) at(g state, t time.Time) Snapshot {
	if t.After(g.t) {
		w.integrate(&g, t.Sub(g.t))
	}
	s := w.instant(t, g.stuck, g.lag)
	s.c = g.c
	return s
}

// sampleLocked evaluates the model at t; w.mu must be held.
func (w *World) sampleLocked(t time.Time) Snapshot {
	return w.at(w.gridState(t), t)
}

// Sample evaluates the model at t (any time; before the epoch the state is
// the pre-launch one).
func (w *World) Sample(t time.Time) Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sampleLocked(t)
}

// walkLocked evaluates the model at from, from+step, ... <= to, in order,
// integrating once along the grid. w.mu must be held.
func (w *World) walkLocked(from, to time.Time, step time.Duration, fn func(Snapshot)) {
	if step <= 0 || to.Before(from) {
		return
	}
	g := w.gridState(from)
	for t := from; !t.After(to); t = t.Add(step) {
		if g.t.Before(t) && t.Sub(w.epoch) <= maxHorizon {
			w.advance(&g, t)
		}
		fn(w.at(g, t))
	}
}

// invalidateLocked drops checkpoints that a change at tc may affect.
func (w *World) invalidateLocked(tc time.Time) {
	n := len(w.cps)
	for n > 1 && !w.cpTime(n-1).Before(tc) {
		n--
	}
	w.cps = w.cps[:n]
	if !w.last.t.Before(tc) {
		w.last = state{}
	}
}

// integrate moves st forward by h (Euler, rates taken at the step start).
func (w *World) integrate(st *state, h time.Duration) {
	s := w.instant(st.t, st.stuck, st.lag)
	dt := h.Seconds()
	c := &st.c
	for i := range nSvc {
		sv := &s.Services[i]
		thr := s.Lambda[i].ThrottledFrac
		dbErr := sv.dbErrPct / 100
		gw := sv.gw504Pct / 100
		c.req[i][0] += sv.RPS * (1 - thr) * (1 - dbErr - gw) * dt
		c.req[i][1] += sv.RPS * (1 - thr) * dbErr * dt
		c.req[i][2] += sv.RPS * thr * dt
		c.req[i][3] += sv.RPS * (1 - thr) * gw * dt
		c.committed[i] += sv.RPS * (1 - thr) * gw * dt
		served := sv.RPS * (1 - thr) * dt
		mu, sigma := logNormalParams(sv.P50, sv.P95)
		for b, le := range latencyBuckets {
			c.hist[i][b] += served * logNormalCDF(le, mu, sigma)
		}
		c.histCount[i] += served
		c.histSum[i] += served * math.Exp(mu+sigma*sigma/2)
		c.throttles[i] += s.Lambda[i].ThrottlesPerSec * dt
		c.invokes[i] += s.Lambda[i].InvocationsPerSec * dt
	}
	c.natErrors += s.NAT.ErrorsPerSec * dt
	wf := &s.WAF
	c.cf[0][0] += (s.HumanRPS - wf.HumanBlocked) * dt
	c.cf[0][2] += wf.HumanBlocked * dt
	c.cf[1][0] += wf.BotAllowed * dt
	c.cf[1][1] += wf.BotChallenged * dt
	c.cf[1][2] += wf.BotBlocked * dt
	for i := range nProv {
		p := &s.RPC[i]
		c.rpc[i][0] += p.LoadRPS * (1 - p.Rate429) * dt
		c.rpc[i][1] += p.LoadRPS * p.Rate429 * dt
		c.rpcSum[i] += p.LoadRPS * (1 - p.Rate429) * p.P50 * 1.2 * dt
	}
	c.txSent += s.Fees.TxPerSec * dt
	c.txLanded += s.Fees.TxPerSec * s.Fees.LandingPct / 100 * dt
	c.blowfish += s.Blowfish.RPS * dt
	c.blowfishDu += s.Blowfish.RPS * s.Blowfish.P95 / 2 * dt

	// Idle DB sessions leak while the pool is hammered; they stay until
	// terminated (a password rotation does not drop them).
	st.stuck = clamp(st.stuck+s.DB.leakPerSec*dt, 0, w.scn.DBMaxConnections-20)
	end := st.t.Add(h)
	for _, k := range w.kills {
		if k.After(st.t) && !k.After(end) {
			st.stuck = 0
		}
	}
	// A provider falls behind while overloaded and catches up otherwise.
	for i := range nProv {
		u := s.RPC[i].Util
		switch {
		case u > 0.9:
			st.lag[i] += w.scn.LagGrowthPerSec * clamp((u-0.9)/0.2, 0, 1) * dt
		case u < 0.85:
			st.lag[i] = math.Max(0, st.lag[i]-w.scn.LagCatchupPerSec*dt)
		}
	}
	st.t = end
}

func logNormalParams(p50, p95 float64) (mu, sigma float64) {
	p50 = math.Max(p50, 1e-6)
	p95 = math.Max(p95, p50*1.01)
	return math.Log(p50), math.Log(p95/p50) / 1.6448536269514722
}

func logNormalCDF(x, mu, sigma float64) float64 {
	return 0.5 * (1 + math.Erf((math.Log(x)-mu)/(sigma*math.Sqrt2)))
}

// ServiceStats is one web service at one instant.
type ServiceStats struct {
	Name     string
	RPS      float64 // requests/s reaching the service
	P50, P95 float64 // latency, seconds
	ErrorPct float64 // 5xx responses, percent of requests
	dbErrPct float64
	gw504Pct float64 // 504 at the gateway, write committed (FaultGateway504)
}

// DBStats is the shared (Allium) database used by tokens and history.
type DBStats struct {
	Active     float64 // sessions running queries
	Idle       float64 // idle sessions held by timed-out Lambdas
	Used       float64 // Active + Idle, at most Max
	Max        float64 // max_connections
	Saturation float64 // Used / Max
	leakPerSec float64
}

// LambdaStats is one Lambda function.
type LambdaStats struct {
	Name              string
	Reserved          float64 // reserved concurrency in effect
	Demand            float64 // concurrency the traffic asks for
	Concurrent        float64 // concurrent executions
	ThrottledFrac     float64 // share of invocations throttled
	ThrottlesPerSec   float64
	InvocationsPerSec float64
}

// NATStats is the NAT gateway.
type NATStats struct {
	IPs          float64 // elastic IPs attached (effective)
	Ports        float64 // port capacity
	PortDemand   float64 // ports the traffic needs
	ErrorsPerSec float64 // ErrorPortAllocation per second
}

// WAFStats is Cloudflare's edge.
type WAFStats struct {
	Mode          string
	BotRPS        float64 // bot requests arriving at the edge
	BotAllowed    float64 // bot requests/s reaching the origin
	BotChallenged float64 // bot requests/s stopped by a challenge
	BotBlocked    float64 // bot requests/s blocked
	HumanBlocked  float64 // human requests/s blocked (false positives)
}

// Blocked is every request/s the WAF blocked.
func (w WAFStats) Blocked() float64 { return w.BotBlocked + w.HumanBlocked }

// ProviderStats is one Solana RPC provider.
type ProviderStats struct {
	Name      string
	SplitPct  float64 // share of our RPC traffic sent to it (effective)
	LoadRPS   float64
	Capacity  float64
	Util      float64
	P50, P95  float64 // seconds
	Rate429   float64 // fraction of calls answered 429
	BehindTip uint64  // slots its answering node trails the cluster tip
	Lag       uint64  // slots behind the best provider
	Slot      uint64  // processed slot it reports
	Healthy   bool    // getHealth answers "ok"
}

// EVMStats is one Ethereum RPC provider.
type EVMStats struct {
	Name       string
	LoadRPS    float64 // our calls/s to it
	AllowedRPS float64 // its rate limit (0: none)
	Rate429    float64 // fraction of calls it throttles
	P50, P95   float64 // seconds
	Block      uint64  // the head block it reports
}

// FeeStats is the priority-fee market and our setting.
type FeeStats struct {
	MarketP50  float64 // micro-lamports per CU
	MarketP75  float64
	Setting    float64 // our priority fee in effect
	LandingPct float64 // our transactions landing, percent
	TxPerSec   float64
}

// BlowfishStats is the transaction-simulation service.
type BlowfishStats struct {
	RPS float64
	P95 float64
}

// Snapshot is every modelled quantity at one instant.
type Snapshot struct {
	Time      time.Time
	Minute    float64 // scenario minutes since T-0
	HumanRPS  float64
	BotRPS    float64
	OriginRPS float64 // requests/s reaching the origin (humans + bots let through)
	Services  [nSvc]ServiceStats
	DB        DBStats
	Lambda    [nSvc]LambdaStats
	NAT       NATStats
	WAF       WAFStats
	RPC       [nProv]ProviderStats
	Tip       uint64 // cluster processed slot
	EVM       [nEVM]EVMStats
	Block     uint64 // Ethereum's head block
	Fees      FeeStats
	Blowfish  BlowfishStats
	c         counters
}

// Service returns the stats of the named service (zero value if unknown).
func (s Snapshot) Service(name string) ServiceStats {
	for i, n := range ServiceNames {
		if n == name {
			return s.Services[i]
		}
	}
	return ServiceStats{}
}

// Problems says which scripted problems are visible at this instant
// (past their warn threshold).
func (s Snapshot) Problems() map[string]bool {
	return map[string]bool{
		"waf_bots":         s.WAF.BotAllowed > 2000,
		"db_connections":   s.DB.Used > 400,
		"lambda_throttles": s.Lambda[svcTokens].ThrottlesPerSec > 10,
		"nat_errors":       s.NAT.ErrorsPerSec > 1,
		"triton_degraded":  s.RPC[provTriton].Rate429 > 0.01 || s.RPC[provTriton].Lag > 20,
		"tx_landing":       s.Fees.LandingPct < 90,
	}
}

func (w *World) wafModeAt(t time.Time) string {
	m := defaultWAFMode
	for _, c := range w.wafHist {
		if t.Before(c.at) {
			break
		}
		m = c.mode
	}
	return m
}

func (w *World) killedBefore(t time.Time) bool {
	return len(w.kills) > 0 && !w.kills[0].After(t)
}

// instant computes every quantity at t given the integrated state.
func (w *World) instant(t time.Time, stuck float64, lag [nProv]float64) Snapshot {
	sc := &w.scn
	seed := w.seed
	x := t.Sub(w.t0).Seconds()
	m := x / 60
	var o Snapshot
	o.Time, o.Minute = t, m

	human := sc.humanRPS(m) * (1 + 0.03*noise(seed, nzHuman, x))
	bots := sc.botRPS(m) * (1 + 0.05*noise(seed, nzBot, x))
	botAllow, botChal, botBlock, humBlock := w.waf[0].eff(t), w.waf[1].eff(t), w.waf[2].eff(t), w.waf[3].eff(t)
	o.WAF = WAFStats{
		Mode: w.wafModeAt(t), BotRPS: bots,
		BotAllowed: bots * botAllow, BotChallenged: bots * botChal, BotBlocked: bots * botBlock,
		HumanBlocked: human * humBlock,
	}
	origin := human*(1-humBlock) + bots*botAllow
	o.HumanRPS, o.BotRPS, o.OriginRPS = human, bots, origin
	load := origin / 90000

	// Database: active sessions follow traffic; leaked idle sessions pile on.
	maxc := sc.DBMaxConnections
	active := 30 + 3.2*origin/1000
	used := math.Min(maxc, active+stuck)
	sat := used / maxc
	p := clamp((sat-0.75)/0.25, 0, 1) // pool pressure
	leak := 0.0
	if origin > sc.DBLeakFromRPS {
		leak = sc.DBLeakPerSec * clamp((origin-sc.DBLeakFromRPS)/10000, 0, 1)
	}
	for _, f := range sc.active(FaultDBLeak, m) {
		leak = math.Max(leak, f.size(5))
	}
	if w.killedBefore(t) {
		leak *= sc.DBLeakAfterKill
	}
	o.DB = DBStats{Active: used - stuck, Idle: stuck, Used: used, Max: maxc, Saturation: sat, leakPerSec: leak}

	// Lambda: demand grows with traffic and with DB waits.
	for i := range nSvc {
		per := lambdaConcPer1K[i]
		if i == svcTokens {
			per = sc.TokensConcPer1K
		}
		rps := origin * svcShare[i]
		demand := per * origin / 1000 * (1 + 0.5*p)
		res := w.reserved[i].eff(t)
		thr := 0.0
		if demand > res && demand > 0 {
			thr = 1 - res/demand
		}
		o.Lambda[i] = LambdaStats{
			Name: ServiceNames[i], Reserved: res, Demand: demand, Concurrent: math.Min(demand, res),
			ThrottledFrac: thr, ThrottlesPerSec: rps * thr, InvocationsPerSec: rps * (1 - thr),
		}
	}

	// Services.
	base := [nSvc][3]float64{ // p95 base, p95 per load, p95 per pressure²
		{0.12, 0.03, 2.4},
		{0.18, 0.04, 3.0},
		{0.08, 0.03, 0},
	}
	errs := [nSvc]float64{7, 6, 0} // 5xx percent per DB pressure²
	for i := range nSvc {
		nz := 1 + 0.05*noise(seed, nzLatTokens+uint64(i), x)
		p95 := (base[i][0] + base[i][1]*load + base[i][2]*p*p) * nz
		dbErr := sc.BaseErrorPct[i] + errs[i]*p*p
		thr := o.Lambda[i].ThrottledFrac
		gw := 0.0
		for _, f := range sc.active(FaultGateway504, m) {
			if f.Service == ServiceNames[i] || f.Service == "" && i == svcHistory {
				// Retries pile onto the overload; without them it drains.
				on := w.retries.eff(t)
				gw = math.Max(gw, f.size(8)*(0.02+2.48*on))
			}
		}
		gw = math.Min(gw, 100-dbErr)
		o.Services[i] = ServiceStats{
			Name: ServiceNames[i], RPS: origin * svcShare[i], P50: p95 / 2.2, P95: p95,
			ErrorPct: math.Min(100, (dbErr+gw)*(1-thr)+thr*100), dbErrPct: dbErr, gw504Pct: gw,
		}
	}

	// NAT gateway.
	ips := w.natIPs.eff(t)
	ports := ips * sc.NATPortsPerIP
	demand := origin * sc.NATPortsPerRPS
	for _, f := range sc.active(FaultNATDemand, m) {
		demand *= f.size(4)
	}
	o.NAT = NATStats{IPs: ips, Ports: ports, PortDemand: demand,
		ErrorsPerSec: math.Max(0, demand-ports) * sc.NATErrorsPerExcess}

	// RPC providers.
	rpc := origin * sc.RPCPerOriginRPS
	split := w.split.eff(t) / 100
	o.Tip = sc.BaseSlot + uint64(math.Max(0, t.Sub(w.epoch).Seconds())*sc.SlotsPerSecond)
	var best uint64
	for i := range nProv {
		share, capac, base := split, sc.tritonCapacity(m), 0.040
		if i == provQuickNode {
			share, capac, base = 1-split, sc.RPCCapacity, 0.045
		}
		for _, f := range sc.active(FaultRPCLag, m) {
			if f.Service == ProviderNames[i] || f.Service == "" && i == provTriton {
				lost := smoothstep((m - f.Minute) / 0.3)
				capac = math.Min(capac, capac+(f.size(6000)-capac)*lost)
			}
		}
		ld := rpc * share
		u := ld / capac
		over := math.Max(0, u-0.8)
		p50 := (base + 0.9*over) * (1 + 0.08*noise(seed, nzRPCTriton+uint64(i), x))
		behind := uint64(math.Max(0, lag[i]+1+noise(seed, nzLagTriton+uint64(i), x)))
		slot := o.Tip - min(o.Tip, behind)
		best = max(best, slot)
		o.RPC[i] = ProviderStats{
			Name: ProviderNames[i], SplitPct: share * 100, LoadRPS: ld, Capacity: capac, Util: u,
			P50: p50, P95: p50 * (2.2 + 3*over), Rate429: math.Max(0, 1-0.95/u),
			BehindTip: behind, Slot: slot, Healthy: float64(behind) <= sc.HealthMaxLag,
		}
	}
	for i := range nProv {
		o.RPC[i].Lag = best - o.RPC[i].Slot
	}

	// Ethereum: all the wallet's EVM calls go to Infura, which throttles
	// the project beyond its allowed rate; the own node serves only probes
	// and trails the head by a block now and then.
	o.Block = sc.BaseBlock + uint64(math.Max(0, t.Sub(w.epoch).Seconds())/sc.BlockTime.Seconds())
	evmLoad := origin * sc.EVMPerOriginRPS
	ip50 := 0.06 * (1 + 0.1*noise(seed, nzEVMInfura, x))
	o.EVM[evmInfura] = EVMStats{Name: EVMProviderNames[evmInfura], LoadRPS: evmLoad, AllowedRPS: sc.InfuraAllowedRPS,
		Rate429: math.Max(0, 1-sc.InfuraAllowedRPS/math.Max(evmLoad, 1)), P50: ip50, P95: ip50 * 2.5, Block: o.Block}
	np50 := 0.02 * (1 + 0.1*noise(seed, nzEVMNode, x))
	trail := uint64(0)
	if unitNoise(seed, nzEVMNode, int64(x/sc.BlockTime.Seconds())) > 0.7 {
		trail = 1
	}
	o.EVM[evmNode] = EVMStats{Name: EVMProviderNames[evmNode], P50: np50, P95: np50 * 2, Block: o.Block - min(o.Block, trail)}

	// Priority fees and landing.
	market := sc.marketFee(m) * (1 + 0.15*noise(seed, nzFee, x))
	setting := w.fee.eff(t)
	ratio := setting / market
	landing := sc.LandingHealth * math.Min(1, math.Pow(math.Max(ratio, 1e-9), 0.35))
	landing = clamp(landing+0.5*noise(seed, nzFee+100, x), 30, 100)
	o.Fees = FeeStats{MarketP50: market, MarketP75: market * 1.6, Setting: setting, LandingPct: landing,
		TxPerSec: 20 + 0.05*origin}

	o.Blowfish = BlowfishStats{RPS: origin * 0.25,
		P95: (0.15 + 0.25*load*load) * (1 + 0.05*noise(seed, nzBlowfish, x))}
	return o
}
