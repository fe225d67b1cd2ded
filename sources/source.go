// Package sources polls the war room's data sources and feeds the incident
// engine: pane samples (incident.Observe), imported alerts
// (incident.ImportAlerts) and source health (incident.ReportSource).
//
// A source type (Datadog, Prometheus, RPC; see the subpackages) turns the
// config into Queries. A Query is one poll target: one request, or a short
// fixed sequence of requests, that yields samples for one or more panes.
// The Scheduler runs every Query on its own goroutine:
//
//   - everything on the injected clock: per-query interval with jitter
//     (default ±10 %), at most one request in flight per query, a
//     per-request timeout (the source's `timeout`, default 10 s; the
//     context is cancelled then), backoff and rate-limit waits. On the
//     accelerated demo clock a timeout is a scenario duration, like the
//     simulator's latencies (it sleeps latency/speed);
//   - a failed or timed-out poll sends a STALE sample (Stale, Error) for each
//     of its panes at once, so a pane turns STALE at the timeout, well before
//     the engine's own watchdog (interval + timeout + 1 s);
//   - failures back off (see Backoff): transient errors retry
//     with full jitter, capped at 60 s and never later than one interval;
//     HTTP 429 waits exactly Retry-After / X-RateLimit-Reset, and no query of
//     the same rate-limit bucket sends a request before that;
//   - health per source (up, degraded, down, rate-limited) is reported to the
//     engine only when it changes, and is readable with Scheduler.Health; a
//     failed query needs two good polls in a row to count as healthy again,
//     so a flapping source does not fill the timeline;
//   - samples go to the engine at once and, batched (1 s or 500 samples), to
//     the journal from one recorder goroutine.
//
// One hung query never delays another: each has its own goroutine, its own
// timer and (per source) its own HTTP transport.
//
// Wiring (cmd/warroom run, serve, demo):
//
//	import (
//		"github.com/warroom/warroom/sources"
//		"github.com/warroom/warroom/sources/datadog"
//		"github.com/warroom/warroom/sources/prometheus"
//		"github.com/warroom/warroom/sources/rpc"
//	)
//
//	sched, err := sources.Start(ctx, cfg, engine, journal, clk, sources.Options{
//		Builders: map[config.SourceType]sources.Builder{
//			config.SourceDatadog:    datadog.Builder(datadog.Options{}),
//			config.SourcePrometheus: prometheus.Builder(prometheus.Options{}),
//			config.SourceRPC:        rpc.Builder(rpc.Options{}),
//		},
//		Logger: logger,
//	})
//	defer sched.Stop()
//	// TUI: sched.Health() (per source), sched.Queries() (per query).
//	// serve: mux.Handle("/api/alertmanager", prometheus.NewWebhook(engine, token))
//
// Importing a subpackage also registers its builder with default options,
// so Options.Builders may be left empty when the packages are imported.
package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
)

// Sink receives the scheduler's commands. *incident.Engine satisfies it.
type Sink interface {
	Submit(ctx context.Context, cmd incident.Command) error
}

// PaneRef names one pane of one service.
type PaneRef struct {
	Service string
	Pane    string
}

// Pane is a pane bound to a source, as handed to a Builder.
type Pane struct {
	Service string // the service id
	config.Pane
}

// Ref is the pane's reference.
func (p Pane) Ref() PaneRef { return PaneRef{Service: p.Service, Pane: p.ID} }

// QueryInfo describes a Query to the scheduler.
type QueryInfo struct {
	// Source is the id of the config source the query polls; health is
	// reported per source.
	Source string
	// Name identifies the query in logs and in Scheduler.Queries
	// ("tokens", "monitors", "p95 latency").
	Name string
	// Panes are the panes this query fills. When a poll fails, each of them
	// that the poll did not answer gets a STALE sample.
	Panes []PaneRef
	// Bucket is the rate-limit bucket within the source. A 429 (or
	// X-RateLimit-Remaining: 0) on one query holds back every query of the
	// same source and bucket until the reset. "" is the source's default
	// bucket.
	Bucket string
	// Interval and Timeout override the source's when non-zero.
	Interval, Timeout time.Duration
}

// Query is one poll target.
type Query interface {
	Info() QueryInfo
	// Poll performs one request (or a short fixed sequence) and returns the
	// samples for the query's panes. It must return soon after ctx is done.
	// On failure it returns an error (ideally an *Error, to classify it);
	// any samples it still returns are used, and the panes it did not
	// answer are marked STALE.
	Poll(ctx context.Context) (Result, error)
}

// Backfiller is a Query that can load history once, before its first poll
// (Prometheus query_range). Its samples carry their original times and are
// sent to the engine and the journal before the first poll's. A failed
// backfill is logged and tried again before later polls, with the
// documented back-off for its error (Backoff), until it succeeds once; a
// history that arrives after live samples fills the panes' series without
// changing their live values.
type Backfiller interface {
	Backfill(ctx context.Context) ([]incident.Sample, error)
}

// Result is what one poll produced.
type Result struct {
	// Samples for the query's panes, oldest first per pane.
	Samples []incident.Sample
	// Alerts, if set, is submitted to the engine as is (imported alerts).
	Alerts *incident.ImportAlerts
	// RateLimit is the budget of the query's rate-limit bucket as the
	// service reported it with this answer (Datadog's X-RateLimit-*
	// headers), nil when it did not. The scheduler paces the bucket by it
	// (see Budget) and holds it until the reset at Remaining 0.
	RateLimit *RateLimit
}

// Class says how a failed poll is retried and what it does to the source's
// health.
type Class int

const (
	// Transient failures (timeouts, connection errors, 5xx) are retried
	// with full-jitter backoff, never later than one interval.
	Transient Class = iota
	// RateLimited failures (429) wait exactly Error.RetryAfter when known.
	RateLimited
	// Permanent failures (400, 401, 403, 404, a bad query) need a person to
	// act; they are retried at most once a minute (or at the interval when
	// that is longer).
	Permanent
)

func (c Class) String() string {
	switch c {
	case RateLimited:
		return "rate-limited"
	case Permanent:
		return "permanent"
	}
	return "transient"
}

// Error is a classified poll failure.
type Error struct {
	Class Class
	// Status is the HTTP status, when there was one.
	Status int
	// RetryAfter is how long the server asked us to wait (Retry-After,
	// X-RateLimit-Reset); 0 when it did not say.
	RetryAfter time.Duration
	// Msg is shown to people (health, STALE reason). It must not contain
	// secrets; the scheduler also runs config.Redact over it.
	Msg string
	Err error
	// RateLimit is the bucket's budget when the answer said (a 429 with
	// X-RateLimit-* headers).
	RateLimit *RateLimit
}

func (e *Error) Error() string {
	switch {
	case e.Msg != "":
		return e.Msg
	case e.Err != nil:
		return e.Err.Error()
	case e.Status != 0:
		return fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Class.String() + " failure"
}

func (e *Error) Unwrap() error { return e.Err }

// Classify returns err as an *Error: an *Error in its chain as is, a
// timeout or any other error as Transient.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "timed out"
	}
	return &Error{Class: Transient, Msg: msg, Err: err}
}

// StatusError classifies an HTTP status: 429 RateLimited (waiting the
// longer of Retry-After and X-RateLimit-Reset), 5xx and 408 Transient
// (Retry-After honoured), other 4xx Permanent.
// now is used for an HTTP-date Retry-After.
func StatusError(status int, h http.Header, now time.Time, msg string) *Error {
	e := &Error{Status: status, Msg: msg}
	if e.Msg == "" {
		e.Msg = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Class = RateLimited
	case status >= 500 || status == http.StatusRequestTimeout:
		e.Class = Transient
	default:
		e.Class = Permanent
	}
	if h != nil {
		e.RetryAfter = RetryAfter(h, now)
		// Datadog's X-RateLimit-Reset (seconds until the bucket resets)
		// is on every response; it is a wait only on a 429.
		if rl, ok := ParseRateLimit(h); ok {
			e.RateLimit = &rl
			if e.Class == RateLimited {
				e.RetryAfter = max(e.RetryAfter, rl.Reset)
			}
		}
	}
	return e
}

// Spec is one config source with the panes that read it, as handed to a
// Builder. Interval and Timeout have their defaults applied.
type Spec struct {
	Source config.Source
	Panes  []Pane
	// Origin names the source in imported alerts: the source type
	// ("datadog", "prometheus") when the file has one source of that type,
	// else "type/id", so that two sources' complete alert sets never
	// resolve each other's alerts.
	Origin string
}

// Env is what a Builder gets besides the specs.
type Env struct {
	Clock  clock.Clock
	Config *config.Config
	Logger *slog.Logger

	clients *clientSet // closed by Scheduler.Stop
}

type clientSet struct {
	mu sync.Mutex
	cs []*http.Client
}

func (c *clientSet) closeIdle() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, hc := range c.cs {
		hc.CloseIdleConnections()
	}
}

// HTTPClient returns a client with its own transport for one source: a
// hung source cannot hold connections another needs. conns bounds idle
// connections kept per host (one per query is enough: one request in
// flight per query). The client has no overall timeout: the scheduler
// cancels the request's context at the source's timeout. Scheduler.Stop
// closes its idle connections.
func (e Env) HTTPClient(conns int) *http.Client {
	hc := NewHTTPClient(conns)
	if e.clients != nil {
		e.clients.mu.Lock()
		e.clients.cs = append(e.clients.cs, hc)
		e.clients.mu.Unlock()
	}
	return hc
}

// NewHTTPClient is Env.HTTPClient for code without an Env.
func NewHTTPClient(conns int) *http.Client {
	if conns < 2 {
		conns = 2
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.IdleConnTimeout = 90 * time.Second
	tr.ResponseHeaderTimeout = 0
	return &http.Client{Transport: tr}
}

// Builder turns every source of one type into queries. It is called once
// per Start with all sources of its type (RPC providers of one chain are
// compared with each other).
type Builder func(env Env, specs []Spec) ([]Query, error)

var (
	regMu    sync.RWMutex
	registry = map[config.SourceType]Builder{}
)

// Register makes a builder available to Start for a source type. The
// subpackages register themselves with default options when imported, so
// `import _ "github.com/warroom/warroom/sources/datadog"` is enough; an
// explicit Options.Builders entry wins.
func Register(t config.SourceType, b Builder) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[t] = b
}

func registered(t config.SourceType) Builder {
	regMu.RLock()
	defer regMu.RUnlock()
	return registry[t]
}

// Level is the alert level of an imported alert's severity (see
// config.DefaultSeverities and a source's severity: table).
func Level(s config.Severity) incident.Level {
	switch s {
	case config.SeverityCrit:
		return incident.LevelCrit
	case config.SeverityWarn:
		return incident.LevelWarn
	}
	return incident.LevelInfo
}

// Origin names a source in imported alerts: its type ("datadog",
// "prometheus") when the file has one source of that type, else
// "type/id", so that two sources' complete alert sets never resolve each
// other's alerts. The Alertmanager webhook uses its Prometheus source's.
func Origin(cfg *config.Config, src config.Source) string {
	n := 0
	for _, s := range cfg.Sources {
		if s.Type == src.Type {
			n++
		}
	}
	if n > 1 {
		return string(src.Type) + "/" + src.ID
	}
	return string(src.Type)
}
