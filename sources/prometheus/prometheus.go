// Package prometheus polls Prometheus with the official client
// (github.com/prometheus/client_golang/api/prometheus/v1) and receives
// Alertmanager webhooks.
//
// Each pane of a `type: prometheus` source is one query of the scheduler:
//
//   - at start, once, query_range over the last Options.Backfill (default
//     1 h; step = max(interval, window/240) in whole seconds) fills the
//     pane's history with the samples' original times;
//   - every interval, an instant query at the scheduler clock's now.
//
// How a PromQL result becomes one pane value (write the aggregation you
// want into the query — `max(...)`, `avg(...)` — when sum is not it):
//
//	scalar                 its value
//	vector, 1 element      its value
//	vector, several        the SUM of the elements' values
//	vector, empty          NO DATA
//	matrix (range select)  the sum of each series' last point
//	NaN                    ignored in a sum; all NaN (or a NaN scalar,
//	                       e.g. 0/0 with no traffic) is NO DATA, never 0
//	±Inf                   kept (it breaches a threshold)
//	string                 an error: the pane goes STALE saying so
//	                       (client_golang refuses the type; same effect)
//
// The sample's time is Prometheus' evaluation timestamp. One more query
// per source imports its firing alerts (see alerts.go): from
// /api/v1/rules, or from Alertmanager's own API when the source names its
// alertmanager_url. Errors: 400/422 (bad PromQL) are permanent, 503 (query
// timeout) and other 5xx transient, 429 waits for Retry-After.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// Options tune the Prometheus source type.
type Options struct {
	// Backfill is how much history query_range loads at start; default
	// 1 h, negative for none.
	Backfill time.Duration
	// MaxPoints bounds the backfill per pane (default incident.SeriesLimit).
	MaxPoints int
}

func init() {
	sources.Register(config.SourcePrometheus, Builder(Options{}))
}

// Builder returns the Prometheus source builder.
func Builder(o Options) sources.Builder {
	if o.Backfill == 0 {
		o.Backfill = time.Hour
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = incident.SeriesLimit
	}
	return func(env sources.Env, specs []sources.Spec) ([]sources.Query, error) {
		clk := env.Clock
		if clk == nil {
			clk = clock.Real{}
		}
		var qs []sources.Query
		var errs []error
		for _, sp := range specs {
			c, err := newConn(sp, env, clk, len(sp.Panes)+1)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, p := range sp.Panes {
				qs = append(qs, &paneQuery{c: c, pane: p, opts: o})
			}
			if sp.Source.Imports() {
				aq, err := newAlertsQuery(c, env)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				qs = append(qs, aq)
			}
		}
		return qs, errors.Join(errs...)
	}
}

// conn is one Prometheus server.
type conn struct {
	spec    sources.Spec
	clk     clock.Clock
	api     v1.API
	urlErr  error // ${ENV} in the URL could not be expanded
	timeout time.Duration
}

func newConn(sp sources.Spec, env sources.Env, clk clock.Clock, conns int) (*conn, error) {
	c := &conn{spec: sp, clk: clk, timeout: sp.Source.Timeout.D()}
	if sp.Source.URL == "" {
		return nil, fmt.Errorf("source %s: a prometheus source needs a url", sp.Source.ID)
	}
	u, err := config.ExpandEnv(sp.Source.URL)
	if err != nil {
		c.urlErr = err // reported by every poll: the source is down, the room still starts
		return c, nil
	}
	hc := env.HTTPClient(conns)
	// An instant query's answer is a few hundred bytes: gzip would cost a
	// decompressor per poll and save nothing.
	if tr, ok := hc.Transport.(*http.Transport); ok {
		tr.DisableCompression = true
	}
	hc.Transport = captureRT{next: hc.Transport}
	cl, err := api.NewClient(api.Config{Address: u, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("source %s: %s", sp.Source.ID, config.Redact(err.Error()))
	}
	c.api = v1.NewAPI(cl)
	return c, nil
}

// captureRT records the last HTTP status and headers of a request in its
// context, so that a 429's Retry-After reaches the scheduler (the client
// library keeps only the body).
type captureRT struct{ next http.RoundTripper }

type captureKey struct{}

type capture struct {
	status int
	header http.Header
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport (Scheduler.Stop closes idle connections).
func (c captureRT) CloseIdleConnections() {
	if ci, ok := c.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (c captureRT) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if cp, ok := r.Context().Value(captureKey{}).(*capture); ok && resp != nil {
		cp.status = resp.StatusCode
		if cp.status < 200 || cp.status > 299 {
			cp.header = resp.Header // only an error's headers are read (Retry-After)
		}
	}
	return resp, err
}

// promTimeout is the query timeout sent to Prometheus: whole seconds, or
// whole milliseconds under a second (Prometheus 2.x rejects "1.5s").
func promTimeout(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Truncate(time.Second)
	}
	return d.Truncate(time.Millisecond)
}

// classify maps a client error to a *sources.Error.
func (c *conn) classify(what string, cp *capture, err error) *sources.Error {
	msg := what + ": " + config.Redact(err.Error())
	var ae *v1.Error
	if errors.As(err, &ae) {
		msg = what + ": " + string(ae.Type) + ": " + oneLine(ae.Msg, 200)
		if ae.Type == v1.ErrServer && ae.Detail != "" {
			msg += ": " + oneLine(ae.Detail, 200)
		}
		msg = config.Redact(msg)
	}
	if cp.status != 0 && (cp.status < 200 || cp.status > 299) {
		e := sources.StatusError(cp.status, cp.header, c.clk.Now(), msg)
		e.Err = err
		return e
	}
	if ae != nil {
		switch {
		case ae.Type == v1.ErrBadData, ae.Type == v1.ErrExec:
			return &sources.Error{Class: sources.Permanent, Msg: msg, Err: err}
		case ae.Type == v1.ErrBadResponse && strings.Contains(ae.Msg, "unexpected value type"):
			// A string result: the client library refuses it. A pane
			// needs a number; this is the query's fault.
			return &sources.Error{Class: sources.Permanent, Msg: what + ": the query returns a " + strings.TrimPrefix(ae.Msg, "unexpected value type ") + ", not a number", Err: err}
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &sources.Error{Class: sources.Transient, Msg: what + ": timed out", Err: err}
	}
	return &sources.Error{Class: sources.Transient, Msg: msg, Err: err}
}

func (c *conn) check() error {
	if c.urlErr != nil {
		return &sources.Error{Class: sources.Permanent, Msg: "url: " + c.urlErr.Error(), Err: c.urlErr}
	}
	return nil
}

type paneQuery struct {
	c    *conn
	pane sources.Pane
	opts Options
}

func (q *paneQuery) Info() sources.QueryInfo {
	name := q.pane.Service + "/" + q.pane.ID
	return sources.QueryInfo{Source: q.c.spec.Source.ID, Name: name, Panes: []sources.PaneRef{q.pane.Ref()}}
}

func (q *paneQuery) Poll(ctx context.Context) (sources.Result, error) {
	if err := q.c.check(); err != nil {
		return sources.Result{}, err
	}
	cp := &capture{}
	ctx = context.WithValue(ctx, captureKey{}, cp)
	var opts []v1.Option
	if t := promTimeout(q.c.timeout); t > 0 {
		opts = append(opts, v1.WithTimeout(t))
	}
	val, _, _, err := q.c.api.Query(ctx, q.pane.Query, q.c.clk.Now(), opts...)
	if err != nil {
		return sources.Result{}, q.c.classify("query", cp, err)
	}
	v, t, noData, err := Reduce(val)
	if err != nil {
		return sources.Result{}, &sources.Error{Class: sources.Permanent, Msg: err.Error()}
	}
	if t.IsZero() {
		t = q.c.clk.Now()
	}
	s := incident.Sample{Service: q.pane.Service, Pane: q.pane.ID, Time: t, Value: v, NoData: noData}
	return sources.Result{Samples: []incident.Sample{s}}, nil
}

// Backfill loads the pane's recent history with query_range.
func (q *paneQuery) Backfill(ctx context.Context) ([]incident.Sample, error) {
	if q.opts.Backfill < 0 || q.c.check() != nil {
		return nil, nil
	}
	end := q.c.clk.Now()
	window := q.opts.Backfill
	step := max(q.c.spec.Source.Interval.D(), window/time.Duration(q.opts.MaxPoints))
	step = max(time.Second, step.Truncate(time.Second))
	cp := &capture{}
	ctx = context.WithValue(ctx, captureKey{}, cp)
	val, _, _, err := q.c.api.QueryRange(ctx, q.pane.Query, v1.Range{Start: end.Add(-window), End: end, Step: step})
	if err != nil {
		return nil, q.c.classify("query_range", cp, err)
	}
	pts := ReduceRange(val)
	if len(pts) > q.opts.MaxPoints {
		pts = pts[len(pts)-q.opts.MaxPoints:]
	}
	out := make([]incident.Sample, len(pts))
	for i, p := range pts {
		out[i] = incident.Sample{Service: q.pane.Service, Pane: q.pane.ID, Time: p.T, Value: p.V}
	}
	return out, nil
}

// Reduce turns an instant query's result into one pane value (see the
// package comment): the value, its timestamp (zero if none), and whether
// it is NO DATA.
func Reduce(val model.Value) (v float64, t time.Time, noData bool, err error) {
	var sum float64
	n := 0
	var ts model.Time
	add := func(x model.SampleValue, at model.Time) {
		if at > ts {
			ts = at
		}
		if math.IsNaN(float64(x)) {
			return
		}
		sum += float64(x)
		n++
	}
	switch r := val.(type) {
	case *model.Scalar:
		add(r.Value, r.Timestamp)
	case model.Vector:
		for _, s := range r {
			add(s.Value, s.Timestamp)
		}
	case model.Matrix:
		for _, ss := range r {
			if k := len(ss.Values); k > 0 {
				add(ss.Values[k-1].Value, ss.Values[k-1].Timestamp)
			}
		}
	case *model.String:
		return 0, time.Time{}, false, fmt.Errorf("the query returns a string (%q), not a number", oneLine(r.Value, 40))
	case nil:
		return 0, time.Time{}, true, nil
	default:
		return 0, time.Time{}, false, fmt.Errorf("unexpected result type %s", val.Type())
	}
	if ts != 0 {
		t = ts.Time()
	}
	if n == 0 || math.IsNaN(sum) {
		return 0, t, true, nil
	}
	return sum, t, false, nil
}

// ReduceRange turns a query_range result into one series: at each
// timestamp, the sum of the series' non-NaN values; timestamps where all
// are NaN are gaps. Oldest first.
func ReduceRange(val model.Value) []incident.Point {
	m, ok := val.(model.Matrix)
	if !ok {
		return nil
	}
	sums := map[model.Time]float64{}
	for _, ss := range m {
		for _, p := range ss.Values {
			if math.IsNaN(float64(p.Value)) {
				continue
			}
			sums[p.Timestamp] += float64(p.Value)
		}
	}
	ts := make([]model.Time, 0, len(sums))
	for t := range sums {
		if !math.IsNaN(sums[t]) {
			ts = append(ts, t)
		}
	}
	slices.Sort(ts)
	out := make([]incident.Point, len(ts))
	for i, t := range ts {
		out[i] = incident.Point{T: t.Time(), V: sums[t]}
	}
	return out
}

func alertName(ls model.LabelSet) string {
	if n := ls[model.AlertNameLabel]; n != "" {
		return string(n)
	}
	return ls.String()
}

func summary(ann model.LabelSet) string {
	for _, k := range []model.LabelName{"summary", "description", "message"} {
		if v := strings.TrimSpace(string(ann[k])); v != "" {
			return oneLine(v, 300)
		}
	}
	return ""
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		r := []rune(s)
		if len(r) > n {
			s = string(r[:n]) + "…"
		}
	}
	return s
}
