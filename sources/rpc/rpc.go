// Package rpc probes blockchain RPC providers (Solana and EVM) with a thin
// JSON-RPC 2.0 client and derives per-provider metrics for panes.
//
// Each `type: rpc` source is one provider and one query: every interval it
// makes two single calls (single calls, not a batch, so each latency is
// the provider's own):
//
//	solana: getSlot [{"commitment": <commitment>}], then getHealth
//	evm:    eth_blockNumber, then eth_syncing
//
// plus, once, getGenesisHash / eth_chainId so that only providers of the
// same network are compared. The calls share the source's timeout (15 %,
// 40 %, 40 %), so a slow provider is reported by its own poll (error rate,
// health 0) rather than abandoned; the second call is skipped when the
// first failed. A pane's query is one of config.RPCMetrics:
//
//	latency_p50, latency_p95  seconds (unit "s"), over the successful calls
//	                          of the last minute (at most 512 calls)
//	error_rate                percent of the last minute's calls that failed:
//	                          transport error, timeout, HTTP non-2xx (429
//	                          included), malformed answer, JSON-RPC error
//	                          (Solana getHealth's -32005 "behind" is an
//	                          answer, not an error)
//	rate_429                  rate-limited answers in the last minute, i.e.
//	                          per minute: HTTP 429, and the chain's rate-limit
//	                          codes in a JSON-RPC error with any status (429;
//	                          EVM -32005, -32007, -32029; see codes)
//	slot                      the provider's slot at the commitment (EVM: the
//	                          block number)
//	lag                       slots (blocks) behind the best provider of the
//	                          same network and commitment; see below
//	health                    1 when both calls succeeded and the node says
//	                          it is healthy (getHealth "ok"; eth_syncing
//	                          false, or an object whose currentBlock has
//	                          reached highestBlock), else 0
//
// Lag: hosted providers answer getHealth "ok" while the node behind the
// load balancer lags, so health is not trusted: every provider's head is
// compared with the best head of the same network. Providers are polled
// at different moments, so each other provider's head is extrapolated to
// now with its own observed rate over the last minute, never faster than
// the chain (the median advance of all providers: one catching up after a
// lag runs faster for a while; one whose head stopped moving is
// extrapolated less and less, then not at all);
// observations older than two intervals plus the timeout are ignored, and
// so are those of this very moment (a concurrent poll's, whose order of
// arrival is chance). A head was read at some moment between the call
// and its answer: the provider's own head counts from the call, the
// others' from their answers, so a late answer (a slow provider, or our
// own process not scheduled) makes lag read less, never more. lag =
// max(0, best - own head),
// and at least the numSlotsBehind of a -32005 answer, or highestBlock -
// currentBlock of eth_syncing.
//
// A rate limit holds the provider back for the longer of Retry-After and
// the back-off the provider suggests in the error's data (Infura's
// backoff_seconds), or one interval plus jitter when it says neither (the
// scheduler's rate-limit handling); health then reads 0, error_rate and
// rate_429 keep counting, slot and lag go STALE, and the source's health
// is rate-limited. Latency, call timeouts,
// the one-minute window and head extrapolation are all on the scheduler's
// clock: on the real clock that is wall time; under the accelerated demo
// clock the simulator sleeps latency/speed, so latency reads true.
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// Metric names, as written in a pane's query.
const (
	LatencyP50 = "latency_p50"
	LatencyP95 = "latency_p95"
	ErrorRate  = "error_rate"
	Rate429    = "rate_429"
	Lag        = "lag"
	Slot       = "slot"
	Health     = "health"
)

// DefaultCommitment is used for Solana getSlot when the source sets none.
const DefaultCommitment = "confirmed"

// Options tune the RPC source type.
type Options struct {
	// Window is the sliding window for latency, error rate and 429 count
	// (default 1 minute); at most MaxCalls calls are kept (default 512).
	Window   time.Duration
	MaxCalls int
}

func init() {
	sources.Register(config.SourceRPC, Builder(Options{}))
}

// Builder returns the RPC source builder. All RPC sources of a Start share
// one head tracker, so lag compares them with each other.
func Builder(o Options) sources.Builder {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.MaxCalls <= 0 {
		o.MaxCalls = 512
	}
	return func(env sources.Env, specs []sources.Spec) ([]sources.Query, error) {
		clk := env.Clock
		if clk == nil {
			clk = clock.Real{}
		}
		tr := newTracker(o.Window)
		var qs []sources.Query
		var errs []error
		for _, sp := range specs {
			p, err := newProvider(sp, env, clk, tr, o)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			qs = append(qs, p)
		}
		return qs, errors.Join(errs...)
	}
}

type provider struct {
	id         string
	chain      config.Chain
	commitment string
	interval   time.Duration
	timeout    time.Duration
	rawURL     string
	clk        clock.Clock
	client     *Client
	tr         *tracker
	panes      map[string][]sources.PaneRef
	info       sources.QueryInfo

	mu       sync.Mutex // Poll is never concurrent, but keep the state safe
	network  string     // genesis hash / chain id once known
	calls    []call
	window   time.Duration
	maxCalls int
}

type call struct {
	at      time.Time
	latency time.Duration
	ok      bool
	is429   bool
}

func newProvider(sp sources.Spec, env sources.Env, clk clock.Clock, tr *tracker, o Options) (*provider, error) {
	src := sp.Source
	p := &provider{id: src.ID, chain: src.Chain, commitment: src.Commitment, interval: src.Interval.D(), timeout: src.Timeout.D(),
		rawURL: src.URL, clk: clk, tr: tr, panes: map[string][]sources.PaneRef{}, window: o.Window, maxCalls: o.MaxCalls}
	if p.chain == "" {
		p.chain = config.ChainSolana
	}
	switch p.chain {
	case config.ChainSolana:
		if p.commitment == "" {
			p.commitment = DefaultCommitment
		}
		switch p.commitment {
		case "processed", "confirmed", "finalized":
		default:
			return nil, fmt.Errorf("source %s: commitment %q is not processed, confirmed or finalized", src.ID, p.commitment)
		}
	case config.ChainEVM:
		p.commitment = "latest"
	default:
		return nil, fmt.Errorf("source %s: chain %q is not solana or evm", src.ID, p.chain)
	}
	if src.URL == "" {
		return nil, fmt.Errorf("source %s: an RPC source needs a url", src.ID)
	}
	var refs []sources.PaneRef
	for _, pn := range sp.Panes {
		q := strings.TrimSpace(pn.Query)
		if !slices.Contains(config.RPCMetrics, q) {
			return nil, fmt.Errorf("source %s: pane %s/%s: query %q is not one of %s", src.ID, pn.Service, pn.ID, pn.Query, strings.Join(config.RPCMetrics, ", "))
		}
		p.panes[q] = append(p.panes[q], pn.Ref())
		refs = append(refs, pn.Ref())
	}
	p.client = &Client{HTTP: env.HTTPClient(2), Now: clk.Now}
	p.info = sources.QueryInfo{Source: src.ID, Name: string(p.chain) + " probe", Panes: refs}
	return p, nil
}

func (p *provider) Info() sources.QueryInfo { return p.info }

// callTimeout leaves room for the two calls of a poll inside the source's
// timeout, so that a slow provider is reported by this poll (error rate,
// health 0) rather than abandoned by the scheduler.
func (p *provider) callTimeout() time.Duration { return p.timeout * 40 / 100 }

func (p *provider) call(ctx context.Context, method string, params, out any) error {
	cctx, cancel := sources.WithTimeout(ctx, p.clk, p.callTimeout())
	defer cancel()
	t0 := p.clk.Now()
	err := p.client.Call(cctx, method, params, out)
	lat := p.clk.Since(t0)
	m := meaningOf(p.chain, err)
	// Solana's "behind" is an answer (the node speaks for itself); a rate
	// limit is a failed call that also counts as a 429.
	c := call{at: p.clk.Now(), latency: lat, ok: err == nil || m == behind, is429: err != nil && m == limited}
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
	return err
}

func (p *provider) isRateLimited(err error) bool {
	return err != nil && meaningOf(p.chain, err) == limited
}

func (p *provider) Poll(ctx context.Context) (sources.Result, error) {
	if p.client.URL == "" {
		u, err := config.ExpandEnv(p.rawURL)
		if err != nil {
			return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: "url: " + err.Error(), Err: err}
		}
		p.client.URL = u
	}
	if err := p.identify(ctx); p.isRateLimited(err) {
		// The provider said to wait: no further call before the reset.
		p.mu.Lock()
		p.calls = append(p.calls, call{at: p.clk.Now(), is429: true})
		p.mu.Unlock()
		st := p.stats(p.clk.Now())
		var samples []incident.Sample
		for metric, v := range map[string]float64{ErrorRate: st.errorRate, Rate429: float64(st.n429), Health: 0} {
			for _, ref := range p.panes[metric] {
				samples = append(samples, incident.Sample{Service: ref.Service, Pane: ref.Pane, Time: p.clk.Now(), Value: v})
			}
		}
		return sources.Result{Samples: samples}, classify(p.chain, err)
	}

	sent := p.clk.Now()
	head, headErr := p.head(ctx)
	got := p.clk.Now()
	healthy, behind := false, int64(0)
	var healthErr error
	if headErr == nil {
		healthy, behind, healthErr = p.health(ctx)
	}
	now := p.clk.Now()
	ok := headErr == nil && healthErr == nil

	var samples []incident.Sample
	add := func(metric string, v float64) {
		for _, ref := range p.panes[metric] {
			samples = append(samples, incident.Sample{Service: ref.Service, Pane: ref.Pane, Time: now, Value: v})
		}
	}
	st := p.stats(now)
	if st.okCalls > 0 {
		add(LatencyP50, st.p50.Seconds())
		add(LatencyP95, st.p95.Seconds())
	}
	add(ErrorRate, st.errorRate)
	add(Rate429, float64(st.n429))
	if ok && healthy {
		add(Health, 1)
	} else {
		add(Health, 0)
	}
	if headErr == nil {
		p.tr.observe(p.key(), p.id, headPoint{sent: sent, got: got, head: head}, 2*p.interval+p.timeout)
		lag := p.tr.lag(p.key(), p.id, now)
		if float64(behind) > lag {
			lag = float64(behind)
		}
		add(Slot, float64(head))
		add(Lag, lag)
	}

	res := sources.Result{Samples: samples}
	switch {
	case headErr != nil:
		return res, classify(p.chain, headErr)
	case healthErr != nil:
		return res, classify(p.chain, healthErr)
	}
	return res, nil
}

// identify learns which network the provider serves, once. Failures other
// than a 429 are ignored (the provider is compared with the unidentified
// ones of its chain) and retried next poll.
func (p *provider) identify(ctx context.Context) error {
	p.mu.Lock()
	known := p.network != ""
	p.mu.Unlock()
	if known {
		return nil
	}
	ctx, cancel := sources.WithTimeout(ctx, p.clk, p.timeout*15/100)
	defer cancel()
	var id string
	var err error
	switch p.chain {
	case config.ChainSolana:
		err = p.client.Call(ctx, "getGenesisHash", nil, &id)
	default:
		var q string
		if err = p.client.Call(ctx, "eth_chainId", nil, &q); err == nil {
			var n uint64
			if n, err = parseQuantity(q); err == nil {
				id = fmt.Sprint(n)
			}
		}
	}
	if err != nil || id == "" {
		return err
	}
	p.mu.Lock()
	p.network = id
	p.mu.Unlock()
	return nil
}

func (p *provider) key() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.chain) + "/" + p.network + "/" + p.commitment
}

func (p *provider) head(ctx context.Context) (uint64, error) {
	switch p.chain {
	case config.ChainSolana:
		var slot uint64
		err := p.call(ctx, "getSlot", []any{map[string]string{"commitment": p.commitment}}, &slot)
		return slot, err
	default:
		var q string
		if err := p.call(ctx, "eth_blockNumber", nil, &q); err != nil {
			return 0, err
		}
		n, err := parseQuantity(q)
		if err != nil {
			return 0, &sources.Error{Class: sources.Transient, Msg: "eth_blockNumber: " + err.Error(), Err: err}
		}
		return n, nil
	}
}

// health asks the node about itself: healthy, and how far behind it says
// it is (0 when it does not say).
func (p *provider) health(ctx context.Context) (bool, int64, error) {
	switch p.chain {
	case config.ChainSolana:
		var s string
		err := p.call(ctx, "getHealth", nil, &s)
		if rerr := rpcError(err); rerr != nil && meaningOf(p.chain, err) == behind {
			var d struct {
				NumSlotsBehind *int64 `json:"numSlotsBehind"`
			}
			_ = json.Unmarshal(rerr.Data, &d)
			if d.NumSlotsBehind != nil && *d.NumSlotsBehind > 0 {
				return false, *d.NumSlotsBehind, nil
			}
			return false, 0, nil
		}
		if err != nil {
			return false, 0, err
		}
		return s == "ok", 0, nil
	default:
		var raw json.RawMessage
		if err := p.call(ctx, "eth_syncing", nil, &raw); err != nil {
			return false, 0, err
		}
		var syncing bool
		if json.Unmarshal(raw, &syncing) == nil {
			return !syncing, 0, nil
		}
		var prog struct {
			CurrentBlock string `json:"currentBlock"`
			HighestBlock string `json:"highestBlock"`
		}
		if err := json.Unmarshal(raw, &prog); err != nil {
			return false, 0, &sources.Error{Class: sources.Transient, Msg: "eth_syncing: unexpected result " + oneLine(string(raw), 60)}
		}
		cur, err1 := parseQuantity(prog.CurrentBlock)
		hi, err2 := parseQuantity(prog.HighestBlock)
		switch {
		case err1 != nil || err2 != nil:
			return false, 0, nil
		case cur >= hi:
			// Synced, said as an object: Nethermind answers
			// {"currentBlock":"0x723a","highestBlock":"0x723a"} when it
			// has caught up (nethermind#6153).
			return true, 0, nil
		}
		return false, int64(hi - cur), nil
	}
}

type windowStats struct {
	okCalls   int
	p50, p95  time.Duration
	errorRate float64
	n429      int
}

// stats trims the call window to the last Window and summarises it.
func (p *provider) stats(now time.Time) windowStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	cut := 0
	for cut < len(p.calls) && (now.Sub(p.calls[cut].at) > p.window || len(p.calls)-cut > p.maxCalls) {
		cut++
	}
	p.calls = append(p.calls[:0], p.calls[cut:]...)
	var st windowStats
	lats := make([]time.Duration, 0, len(p.calls))
	failed := 0
	for _, c := range p.calls {
		if c.ok {
			lats = append(lats, c.latency)
		} else {
			failed++
		}
		if c.is429 {
			st.n429++
		}
	}
	if n := len(p.calls); n > 0 {
		st.errorRate = 100 * float64(failed) / float64(n)
	}
	st.okCalls = len(lats)
	if len(lats) > 0 {
		slices.Sort(lats)
		st.p50, st.p95 = percentile(lats, 0.50), percentile(lats, 0.95)
	}
	return st
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// tracker keeps every provider's latest head per network, to compute lag.
type tracker struct {
	mu     sync.Mutex
	window time.Duration
	heads  map[string]map[string]*headObs // network key → provider → observations
}

type headObs struct {
	hist  []headPoint // oldest first, within the window
	fresh time.Duration
}

// headPoint is one head answer. The provider read its head at some moment
// between sent and got: a late answer (a slow provider, or a process that
// was not scheduled) leaves the moment uncertain, not later.
type headPoint struct {
	sent, got time.Time
	head      uint64
}

func newTracker(window time.Duration) *tracker {
	return &tracker{window: window, heads: map[string]map[string]*headObs{}}
}

func (t *tracker) observe(key, provider string, pt headPoint, fresh time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.heads[key]
	if m == nil {
		m = map[string]*headObs{}
		t.heads[key] = m
	}
	o := m[provider]
	if o == nil {
		o = &headObs{}
		m[provider] = o
	}
	o.fresh = fresh
	o.hist = append(o.hist, pt)
	cut := 0
	for cut < len(o.hist)-2 && pt.got.Sub(o.hist[cut].got) > t.window {
		cut++
	}
	o.hist = append(o.hist[:0], o.hist[cut:]...)
}

// rate is the provider's head advance per second over its window (0 when
// unknown or not advancing).
func (o *headObs) rate() float64 { return rate(o.hist) }

func rate(hist []headPoint) float64 {
	if len(hist) < 2 {
		return 0
	}
	a, b := hist[0], hist[len(hist)-1]
	dt := b.got.Sub(a.got).Seconds()
	if dt < 1 || b.head <= a.head {
		return 0
	}
	return float64(b.head-a.head) / dt
}

// chainRate is how fast the network's head moves: the median of every
// provider's head advance per second between its answers in the window.
// A provider catching up after a lag advances faster than the chain for a
// while, and its one-minute rate stays high for a minute after; projected
// with that rate it would read ahead of the chain and make healthy
// providers lag. No projection runs faster than the chain.
func chainRate(m map[string]*headObs) float64 {
	var rates []float64
	for _, o := range m {
		for i := 1; i < len(o.hist); i++ {
			a, b := o.hist[i-1], o.hist[i]
			if dt := b.got.Sub(a.got).Seconds(); dt > 0 {
				rates = append(rates, max(0, float64(b.head)-float64(a.head))/dt)
			}
		}
	}
	if len(rates) == 0 {
		return 0
	}
	slices.Sort(rates)
	return rates[(len(rates)-1)/2]
}

// lag is how far provider's latest head is behind the best head of its
// network, extrapolated to now. Where a head was read is uncertain, the
// provider gets the benefit of the doubt: its own head is taken as read
// when it was asked for, the others' when their answers came, so that a
// late answer (ours or theirs) never reads as lag.
func (t *tracker) lag(key, provider string, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.heads[key]
	me := m[provider]
	if me == nil || len(me.hist) == 0 {
		return 0
	}
	mine := me.hist[len(me.hist)-1]
	own := float64(mine.head) + me.rate()*now.Sub(mine.sent).Seconds()
	best := own
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	chain := chainRate(m)
	for _, n := range names {
		o := m[n]
		// Only what was seen before now counts: an answer from this very
		// moment is a concurrent poll's, here or not by the order the
		// answers happened to arrive in, and the lag must not depend on it.
		hist := o.hist
		for len(hist) > 0 && !hist[len(hist)-1].got.Before(now) {
			hist = hist[:len(hist)-1]
		}
		if len(hist) == 0 {
			continue
		}
		last := hist[len(hist)-1]
		age := now.Sub(last.got)
		if age > o.fresh {
			continue
		}
		if est := float64(last.head) + min(rate(hist), chain)*age.Seconds(); est > best {
			best = est
		}
	}
	return math.Floor(best - own)
}
