package launch

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// Engine is what the baseline watcher needs of the engine.
type Engine interface {
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(s *incident.Subscription)
}

// Stats summarises values (one pane's samples over a window).
func Stats(service, pane string, vals []float64) incident.BaselineInfo {
	b := incident.BaselineInfo{Service: service, Pane: pane}
	vals = slices.DeleteFunc(slices.Clone(vals), func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
	if len(vals) == 0 {
		return b
	}
	slices.Sort(vals)
	q := func(p float64) float64 { // nearest rank
		i := int(math.Ceil(p*float64(len(vals)))) - 1
		return vals[min(max(i, 0), len(vals)-1)]
	}
	sum := 0.0
	for _, v := range vals {
		sum += v
	}
	b.N, b.Min, b.Max, b.Mean = len(vals), vals[0], vals[len(vals)-1], sum/float64(len(vals))
	b.P5, b.P25, b.P50, b.P75, b.P95 = q(0.05), q(0.25), q(0.5), q(0.75), q(0.95)
	return b
}

// Baseline reads every pane's stored samples between from and to and
// summarises each; panes without samples are left out.
func Baseline(ctx context.Context, r journal.Reader, cfg *config.Config, from, to time.Time) ([]incident.BaselineInfo, error) {
	var out []incident.BaselineInfo
	for _, svc := range cfg.Services {
		for _, p := range svc.Panes {
			var vals []float64
			err := r.Samples(ctx, svc.ID, p.ID, from, to, func(s journal.Sample) error {
				if !s.NoData {
					vals = append(vals, s.Value)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if b := Stats(svc.ID, p.ID, vals); b.N > 0 {
				out = append(out, b)
			}
		}
	}
	return out, nil
}

// recordLag is how long samples take to reach the journal (the
// recorder batches them for a second).
const recordLag = 2 * time.Second

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
		st, sub, err := eng.Subscribe(ctx, 1)
		if err != nil {
			return
		}
		eng.Unsubscribe(sub)
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
