package sources

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// recorder writes samples to the journal in batches from one goroutine, so
// that a slow disk never delays a poll: when its queue is full, batches are
// dropped and counted.
type recorder struct {
	j     journal.Journal
	clk   clock.Clock
	log   *slog.Logger
	every time.Duration
	batch int
	in    chan []journal.Sample

	recorded atomic.Int64
	dropped  atomic.Int64
}

func newRecorder(j journal.Journal, clk clock.Clock, log *slog.Logger, every time.Duration, batch, queue int) *recorder {
	if every <= 0 {
		every = time.Second
	}
	if batch <= 0 {
		batch = 500
	}
	if queue <= 0 {
		queue = 256
	}
	return &recorder{j: j, clk: clk, log: log, every: every, batch: batch, in: make(chan []journal.Sample, queue)}
}

// add queues the samples that carry a value or a NO DATA gap; STALE
// samples have neither and are not stored.
func (r *recorder) add(samples []incident.Sample) {
	out := make([]journal.Sample, 0, len(samples))
	for _, s := range samples {
		if s.Stale {
			continue
		}
		out = append(out, journal.Sample{Service: s.Service, Pane: s.Pane, Time: s.Time, Value: s.Value, NoData: s.NoData})
	}
	if len(out) == 0 {
		return
	}
	select {
	case r.in <- out:
	default:
		r.dropped.Add(int64(len(out)))
	}
}

// run records until ctx ends; then it waits for the workers to finish
// (workersDone) so that their last samples are written too.
func (r *recorder) run(ctx context.Context, workersDone <-chan struct{}) {
	var buf []journal.Sample
	failing := false // log when writes start and stop failing, not every batch
	flush := func() {
		if len(buf) == 0 {
			return
		}
		// Not cancelled with the scheduler: a batch being written when
		// Stop comes is still written. The journal is local: bounded.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		switch err := r.j.AppendSamples(fctx, buf); {
		case err != nil:
			r.dropped.Add(int64(len(buf)))
			if !failing {
				r.log.Warn("sources: samples are not recorded", "n", len(buf), "err", config.Redact(err.Error()))
			}
			failing = true
		default:
			r.recorded.Add(int64(len(buf)))
			if failing {
				r.log.Info("sources: samples are recorded again")
			}
			failing = false
		}
		buf = buf[:0]
	}
	tick := r.clk.After(r.every)
	for {
		select {
		case ss := <-r.in:
			buf = append(buf, ss...)
			if len(buf) >= r.batch {
				flush()
			}
		case <-tick:
			flush()
			tick = r.clk.After(r.every)
		case <-ctx.Done():
			// Write what is still queued, the workers' last samples too.
			<-workersDone
			for {
				select {
				case ss := <-r.in:
					buf = append(buf, ss...)
					continue
				default:
				}
				break
			}
			flush()
			return
		}
	}
}
