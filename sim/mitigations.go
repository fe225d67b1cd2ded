package sim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// InputError is a rejected mitigation request (HTTP 400).
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErr(format string, a ...any) error { return &InputError{Msg: fmt.Sprintf(format, a...)} }

// ErrUnknownFunction is returned for a Lambda function the world lacks (HTTP 404).
var ErrUnknownFunction = errors.New("unknown function")

// Split is the RPC traffic split in percent; the two weights sum to 100.
type Split struct {
	Triton    int `json:"triton"`
	QuickNode int `json:"quicknode"`
}

// LambdaConcurrency is one function's reserved concurrency.
type LambdaConcurrency struct {
	Function            string `json:"function"`
	ReservedConcurrency int    `json:"reserved_concurrency"`
	AccountLimit        int    `json:"account_limit"`
	UnreservedMin       int    `json:"unreserved_min"`
	MaxAllowed          int    `json:"max_allowed"`
}

// DBSessions describes the shared database's connections.
type DBSessions struct {
	ConnectionsUsed int    `json:"connections_used"`
	MaxConnections  int    `json:"max_connections"`
	Active          int    `json:"active"`
	Idle            int    `json:"idle"`
	Terminated      *int   `json:"terminated,omitempty"`
	Rotations       *int   `json:"password_rotations,omitempty"`
	Note            string `json:"note,omitempty"`
}

// WAFMode is Cloudflare's mode for the launch zone.
type WAFMode struct {
	Mode  string   `json:"mode"`
	Modes []string `json:"modes"`
}

// PriorityFee is the wallet backend's priority fee for its own transactions.
type PriorityFee struct {
	MicroLamports int64  `json:"micro_lamports"`
	Unit          string `json:"unit"`
	Min           int64  `json:"min"`
	Max           int64  `json:"max"`
}

// NATConfig is the NAT gateway's elastic IPs.
type NATConfig struct {
	IPs    int `json:"ips"`
	Ports  int `json:"ports"`
	MaxIPs int `json:"max_ips"`
}

// Fee bounds accepted by SetPriorityFee.
const (
	MinPriorityFee = 0
	MaxPriorityFee = 5_000_000
	maxNATIPs      = 8
	unreservedMin  = 100
	feeUnit        = "micro-lamports per compute unit"
)

// version returns the current version of a resource (for ETags).
func (w *World) version(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.versions[key]
}

func (w *World) bump(key string, at time.Time) {
	w.versions[key]++
	w.invalidateLocked(at)
}

// Split returns the RPC traffic split currently configured.
func (w *World) Split() Split {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := int(math.Round(w.split.target()))
	return Split{Triton: t, QuickNode: 100 - t}
}

// SetSplit moves RPC traffic between the providers (weights in percent).
func (w *World) SetSplit(s Split) (Split, error) {
	if s.Triton < 0 || s.Triton > 100 || s.QuickNode < 0 || s.QuickNode > 100 {
		return Split{}, inputErr("weights must be integers between 0 and 100")
	}
	if s.Triton+s.QuickNode != 100 {
		return Split{}, inputErr("weights must sum to 100 (got %d)", s.Triton+s.QuickNode)
	}
	w.mu.Lock()
	now := w.clk.Now()
	if w.split.set(now, float64(s.Triton)) {
		w.bump("split", now)
	}
	w.mu.Unlock()
	return w.Split(), nil
}

func fnIndex(fn string) int { return slices.Index(ServiceNames[:], fn) }

func (w *World) lambdaLocked(i int) LambdaConcurrency {
	other := 0.0
	for j := range w.reserved {
		if j != i {
			other += w.reserved[j].target()
		}
	}
	limit := int(w.scn.LambdaAccountLimit)
	return LambdaConcurrency{
		Function: ServiceNames[i], ReservedConcurrency: int(w.reserved[i].target()),
		AccountLimit: limit, UnreservedMin: unreservedMin, MaxAllowed: limit - unreservedMin - int(other),
	}
}

// LambdaConcurrency returns a function's reserved concurrency.
func (w *World) LambdaConcurrency(fn string) (LambdaConcurrency, error) {
	i := fnIndex(fn)
	if i < 0 {
		return LambdaConcurrency{}, ErrUnknownFunction
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lambdaLocked(i), nil
}

// SetReservedConcurrency sets a function's reserved concurrency. Like AWS,
// it refuses values that would leave less than 100 unreserved.
func (w *World) SetReservedConcurrency(fn string, n int) (LambdaConcurrency, error) {
	i := fnIndex(fn)
	if i < 0 {
		return LambdaConcurrency{}, ErrUnknownFunction
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.lambdaLocked(i)
	if n < 0 || n > cur.MaxAllowed {
		return LambdaConcurrency{}, inputErr("reserved_concurrency must be between 0 and %d (account limit %d, %d must stay unreserved)",
			cur.MaxAllowed, cur.AccountLimit, unreservedMin)
	}
	now := w.clk.Now()
	if w.reserved[i].set(now, float64(n)) {
		w.bump("lambda/"+fn, now)
	}
	return w.lambdaLocked(i), nil
}

func (w *World) dbLocked(now time.Time) DBSessions {
	s := w.sampleLocked(now)
	return DBSessions{
		ConnectionsUsed: int(math.Round(s.DB.Used)), MaxConnections: int(s.DB.Max),
		Active: int(math.Round(s.DB.Active)), Idle: int(math.Round(s.DB.Idle)),
	}
}

// DBSessions reports the database's connections now.
func (w *World) DBSessions() DBSessions {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dbLocked(w.clk.Now())
}

// TerminateIdleSessions terminates the idle sessions (pg_terminate_backend
// on idle sessions of the app role). It frees their connections at once and,
// because the Lambdas that leaked them are recycled, slows further leaks.
func (w *World) TerminateIdleSessions() DBSessions {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
	before := w.dbLocked(now)
	w.kills = append(w.kills, now)
	w.bump("db", now)
	after := w.dbLocked(now.Add(time.Nanosecond))
	n := before.Idle
	after.Terminated = &n
	return after
}

// RotateDBPassword rotates the app role's password. Authentication happens
// when a connection opens, so held sessions are untouched: this is the
// mitigation that does not work, kept so playbooks can show it.
func (w *World) RotateDBPassword() DBSessions {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
	w.rotations = append(w.rotations, now)
	w.versions["db"]++
	d := w.dbLocked(now)
	n := len(w.rotations)
	d.Rotations = &n
	d.Note = "password rotated; existing sessions keep their connections (only terminating sessions frees them)"
	return d
}

// WAFMode returns Cloudflare's current mode.
func (w *World) WAFMode() WAFMode {
	w.mu.Lock()
	defer w.mu.Unlock()
	return WAFMode{Mode: w.wafTargetLocked(), Modes: wafModes}
}

func (w *World) wafTargetLocked() string {
	if n := len(w.wafHist); n > 0 {
		return w.wafHist[n-1].mode
	}
	return defaultWAFMode
}

// SetWAFMode sets Cloudflare's mode: off, monitor, challenge or block.
func (w *World) SetWAFMode(mode string) (WAFMode, error) {
	fr, ok := wafTable[mode]
	if !ok {
		return WAFMode{}, inputErr("mode must be one of %s", strings.Join(wafModes, ", "))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if mode != w.wafTargetLocked() {
		now := w.clk.Now()
		for i := range w.waf {
			w.waf[i].set(now, fr[i])
		}
		if n := len(w.wafHist); n > 0 && now.Before(w.wafHist[n-1].at) {
			now = w.wafHist[n-1].at
		}
		w.wafHist = append(w.wafHist, modeChange{now, mode})
		w.bump("waf", now)
	}
	return WAFMode{Mode: mode, Modes: wafModes}, nil
}

// PriorityFee returns the priority-fee setting.
func (w *World) PriorityFee() PriorityFee {
	w.mu.Lock()
	defer w.mu.Unlock()
	return PriorityFee{MicroLamports: int64(w.fee.target()), Unit: feeUnit, Min: MinPriorityFee, Max: MaxPriorityFee}
}

// SetPriorityFee sets the priority fee (micro-lamports per compute unit).
func (w *World) SetPriorityFee(microLamports int64) (PriorityFee, error) {
	if microLamports < MinPriorityFee || microLamports > MaxPriorityFee {
		return PriorityFee{}, inputErr("micro_lamports must be between %d and %d (%s)", MinPriorityFee, MaxPriorityFee, feeUnit)
	}
	w.mu.Lock()
	now := w.clk.Now()
	if w.fee.set(now, float64(microLamports)) {
		w.bump("fee", now)
	}
	w.mu.Unlock()
	return w.PriorityFee(), nil
}

// NAT returns the NAT gateway configuration.
func (w *World) NAT() NATConfig {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := int(w.natIPs.target())
	return NATConfig{IPs: n, Ports: n * int(w.scn.NATPortsPerIP), MaxIPs: maxNATIPs}
}

// SetNATIPs sets how many elastic IPs the NAT gateway has (1..8); each adds
// 55,000 ports.
func (w *World) SetNATIPs(n int) (NATConfig, error) {
	if n < 1 || n > maxNATIPs {
		return NATConfig{}, inputErr("ips must be between 1 and %d", maxNATIPs)
	}
	w.mu.Lock()
	now := w.clk.Now()
	if w.natIPs.set(now, float64(n)) {
		w.bump("nat", now)
	}
	w.mu.Unlock()
	return w.NAT(), nil
}

// Reset forgets every mitigation: the timeline becomes the one where nobody
// acted (past values change too).
func (w *World) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.split.reset()
	for i := range w.reserved {
		w.reserved[i].reset()
	}
	w.natIPs.reset()
	for i := range w.waf {
		w.waf[i].reset()
	}
	w.wafHist = nil
	w.fee.reset()
	w.retries.reset()
	w.kills, w.rotations = nil, nil
	for k := range w.versions {
		w.versions[k]++
	}
	w.cps = w.cps[:1]
	w.last = state{}
}

// State is the whole world at one instant, for GET /admin/state.
type State struct {
	Time           time.Time                    `json:"time"`
	T0             time.Time                    `json:"t0"`
	ScenarioMinute float64                      `json:"scenario_minute"`
	Phase          string                       `json:"phase"`
	Seed           uint64                       `json:"seed"`
	Controls       Controls                     `json:"controls"`
	Metrics        map[string]float64           `json:"metrics"`
	Problems       map[string]bool              `json:"problems"`
	Providers      map[string]ProviderStateJSON `json:"providers"`
}

// Controls are all mitigation settings.
type Controls struct {
	RPCSplit          Split          `json:"rpc_split"`
	LambdaConcurrency map[string]int `json:"lambda_reserved_concurrency"`
	WAFMode           string         `json:"waf_mode"`
	PriorityFee       int64          `json:"priority_fee_micro_lamports"`
	NATIPs            int            `json:"nat_ips"`
	IdleTerminations  int            `json:"db_idle_terminations"`
	PasswordRotations int            `json:"db_password_rotations"`
}

// ProviderStateJSON is one RPC provider in State.
type ProviderStateJSON struct {
	Slot      uint64  `json:"slot"`
	Lag       uint64  `json:"lag_slots"`
	Healthy   bool    `json:"health_ok"`
	P95       float64 `json:"latency_p95_seconds"`
	Rate429   float64 `json:"rate_429"`
	SplitPct  float64 `json:"split_percent"`
	Util      float64 `json:"utilisation"`
	BehindTip uint64  `json:"behind_tip_slots"`
}

func phase(m float64, s *Scenario) string {
	switch {
	case m < 0:
		return "pre-launch"
	case m < s.RampEnd:
		return "ramp"
	case m < s.PeakEnd:
		return "peak"
	case m < s.NormalAt:
		return "decline"
	}
	return "normal"
}

// State reports controls and key metrics now.
func (w *World) State() State {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.clk.Now()
	s := w.sampleLocked(now)
	lc := map[string]int{}
	for i, n := range ServiceNames {
		lc[n] = int(w.reserved[i].target())
	}
	t := int(math.Round(w.split.target()))
	st := State{
		Time: now.UTC(), T0: w.t0.UTC(), ScenarioMinute: round3(s.Minute), Phase: phase(s.Minute, &w.scn), Seed: w.seed,
		Controls: Controls{
			RPCSplit: Split{t, 100 - t}, LambdaConcurrency: lc, WAFMode: w.wafTargetLocked(),
			PriorityFee: int64(w.fee.target()), NATIPs: int(w.natIPs.target()),
			IdleTerminations: len(w.kills), PasswordRotations: len(w.rotations),
		},
		Metrics: map[string]float64{
			"origin_rps":                 round3(s.OriginRPS),
			"human_rps":                  round3(s.HumanRPS),
			"bot_rps":                    round3(s.BotRPS),
			"bots_reaching_origin_rps":   round3(s.WAF.BotAllowed),
			"waf_blocked_rps":            round3(s.WAF.Blocked()),
			"waf_challenged_rps":         round3(s.WAF.BotChallenged),
			"db_connections_used":        round3(s.DB.Used),
			"db_connections_idle":        round3(s.DB.Idle),
			"db_connections_max":         s.DB.Max,
			"tokens_p95_seconds":         round3(s.Services[svcTokens].P95),
			"tokens_5xx_percent":         round3(s.Services[svcTokens].ErrorPct),
			"history_p95_seconds":        round3(s.Services[svcHistory].P95),
			"history_5xx_percent":        round3(s.Services[svcHistory].ErrorPct),
			"banners_p95_seconds":        round3(s.Services[svcBanners].P95),
			"tokens_lambda_throttles":    round3(s.Lambda[svcTokens].ThrottlesPerSec),
			"tokens_lambda_concurrent":   round3(s.Lambda[svcTokens].Concurrent),
			"nat_port_errors_per_sec":    round3(s.NAT.ErrorsPerSec),
			"priority_fee_market":        round3(s.Fees.MarketP50),
			"tx_landing_percent":         round3(s.Fees.LandingPct),
			"blowfish_p95_seconds":       round3(s.Blowfish.P95),
			"chain_tip_slot":             float64(s.Tip),
			"triton_latency_p95_seconds": round3(s.RPC[provTriton].P95),
		},
		Problems:  s.Problems(),
		Providers: map[string]ProviderStateJSON{},
	}
	for _, p := range s.RPC {
		st.Providers[p.Name] = ProviderStateJSON{Slot: p.Slot, Lag: p.Lag, Healthy: p.Healthy, P95: round3(p.P95),
			Rate429: round3(p.Rate429), SplitPct: round3(p.SplitPct), Util: round3(p.Util), BehindTip: p.BehindTip}
	}
	return st
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
