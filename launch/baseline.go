package launch

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/sources"
)

// Engine is what the baseline watcher needs of the engine.
type Engine interface {
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(s *incident.Subscription)
}

// weightedStats summarises values each weighted (by the time it held):
// percentiles by nearest rank over the weights, the weighted mean. N
// counts the values.
func weightedStats(service, pane string, vals, weights []float64) incident.BaselineInfo {
	b := incident.BaselineInfo{Service: service, Pane: pane}
	type vw struct{ v, w float64 }
	var xs []vw
	total, sum := 0.0, 0.0
	for i, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) || weights[i] <= 0 {
			continue
		}
		xs = append(xs, vw{v, weights[i]})
		total += weights[i]
		sum += v * weights[i]
	}
	if len(xs) == 0 {
		return b
	}
	slices.SortStableFunc(xs, func(a, b vw) int { return cmp.Compare(a.v, b.v) })
	q := func(p float64) float64 { // nearest rank: the first value whose weight reaches p
		acc := 0.0
		for _, x := range xs {
			acc += x.w
			if acc >= p*total*(1-1e-12) {
				return x.v
			}
		}
		return xs[len(xs)-1].v
	}
	b.N, b.Min, b.Max, b.Mean = len(xs), xs[0].v, xs[len(xs)-1].v, sum/total
	b.P5, b.P25, b.P50, b.P75, b.P95 = q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)
	return b
}

// Baseline reads every pane's stored samples between from and to and
// summarises each; panes without samples are left out. Each value counts
// for the time it held, until the next sample (at most
// sources.RecordKeepalive: longer is a gap): the journal keeps change
// points, so a flat stretch is two samples, not one per poll.
func Baseline(ctx context.Context, r journal.Reader, cfg *config.Config, from, to time.Time) ([]incident.BaselineInfo, error) {
	var out []incident.BaselineInfo
	for _, svc := range cfg.Services {
		for _, p := range svc.Panes {
			var ss []journal.Sample
			err := r.Samples(ctx, svc.ID, p.ID, from, to, func(s journal.Sample) error {
				ss = append(ss, s)
				return nil
			})
			if err != nil {
				return nil, err
			}
			var vals, ws []float64
			for i, s := range ss {
				if s.NoData {
					continue
				}
				// The last sample holds as long as the one before it.
				held := time.Second
				switch {
				case i+1 < len(ss):
					held = ss[i+1].Time.Sub(s.Time)
				case i > 0:
					held = s.Time.Sub(ss[i-1].Time)
				}
				vals = append(vals, s.Value)
				ws = append(ws, min(held, sources.RecordKeepalive).Seconds())
			}
			if b := weightedStats(svc.ID, p.ID, vals, ws); b.N > 0 {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// recordLag is how long samples take to reach the journal (the recorder
// batches them).
const recordLag = sources.DefaultRecordEvery + 2*time.Second

// WatchBaseline captures the baseline once the plan's window (default
// T-1h to T-0) has passed: it reads the journal's samples for the window
// and records a BASELINE event. A hold moves T-0 and the window with it;
// a window already captured is not taken again. It returns when ctx ends.
func WatchBaseline(ctx context.Context, eng Engine, r journal.Reader, cfg *config.Config, clk clock.Clock) {
	if cfg.Launch == nil {
		return
	}
	if clk == nil {
		clk = clock.Real{}
	}
	fromOff, toOff := cfg.Launch.Window()
	for {
		st, err := incident.Snapshot(ctx, eng)
		if err != nil {
			return
		}
		wait := time.Minute // a hold may move T-0: look again
		if t0, ok := st.T0(cfg); ok {
			from, to := t0.Add(fromOff), t0.Add(toOff)
			done := st.Launch != nil && st.Launch.BaselineTo.Equal(to.UTC())
			now := clk.Now()
			switch {
			case done:
				return
			case !now.Before(to.Add(recordLag)):
				panes, err := Baseline(ctx, r, cfg, from, to)
				if err == nil && len(panes) > 0 {
					eng.Do(ctx, incident.RecordBaseline{By: "warroom", From: from, To: to, Panes: panes})
				}
				return
			default:
				wait = min(wait, to.Sub(now))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-clk.After(wait):
		}
	}
}
