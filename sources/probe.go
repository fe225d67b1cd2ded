package sources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
)

// ProbeResult is one query polled once by Probe.
type ProbeResult struct {
	Info    QueryInfo
	Latency time.Duration
	// Err is why the poll failed (nil: it answered). Its Msg has been
	// through config.Redact.
	Err       *Error
	Samples   []incident.Sample
	RateLimit *RateLimit
	Alerts    int // imported alerts in the answer
}

// Probe builds every query of cfg's sources, as Start does, and polls
// each once, all at the same time, each within its source's timeout. It
// is the preflight's view of the sources (warroom check --live): nothing
// reaches an engine or a journal. Results are in build order.
func Probe(ctx context.Context, cfg *config.Config, clk clock.Clock) ([]ProbeResult, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	specs, order := specsByType(cfg)
	clients := &clientSet{}
	defer clients.closeIdle()
	env := Env{Clock: clk, Config: cfg, Logger: slog.New(slog.DiscardHandler), clients: clients}
	var qs []Query
	for _, t := range order {
		b := registered(t)
		if b == nil {
			return nil, fmt.Errorf("sources: no support for source type %q compiled in", t)
		}
		built, err := b(env, specs[t])
		if err != nil {
			return nil, fmt.Errorf("sources: %s: %w", t, err)
		}
		qs = append(qs, built...)
	}
	timeout := map[string]time.Duration{}
	for _, src := range cfg.Sources {
		timeout[src.ID] = src.PollTimeout()
	}
	out := make([]ProbeResult, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info := q.Info()
			d := info.Timeout
			if d <= 0 {
				d = timeout[info.Source]
			}
			pctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			start := time.Now()
			res, err := q.Poll(pctx)
			r := ProbeResult{Info: info, Latency: time.Since(start), Samples: res.Samples, RateLimit: res.RateLimit}
			if res.Alerts != nil {
				r.Alerts = len(res.Alerts.Alerts)
			}
			if err != nil {
				e := Classify(err)
				if errors.Is(err, context.DeadlineExceeded) || pctx.Err() != nil {
					e = &Error{Class: Transient, Msg: fmt.Sprintf("no answer within %s", d), Err: err}
				}
				e.Msg = config.Redact(e.Error())
				r.Err = e
				if r.RateLimit == nil {
					r.RateLimit = e.RateLimit
				}
			}
			out[i] = r
		}()
	}
	wg.Wait()
	return out, nil
}
