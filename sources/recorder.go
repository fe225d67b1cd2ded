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

// Recording defaults (see Options).
const (
	// DefaultRecordEvery is how often batched samples are written: no one
	// is told a sample is durable, so they go in few, large transactions
	// (each pane's page written once per batch, not once per poll).
	DefaultRecordEvery = 10 * time.Second
	// RecordKeepalive bounds how long a pane whose value does not change
	// goes unrecorded: its latest sample is written at least this often,
	// so the journal shows the room kept seeing the value.
	RecordKeepalive = time.Minute
)

// recorder writes samples to the journal in batches from one goroutine, so
// that a slow disk never delays a poll: when its queue is full, batches are
// dropped and counted.
//
// It records change points: a sample whose value is the same as the
// pane's last recorded one is held back rather than written, and written
// only when the value changes (it is then the end of the flat run, so a
// chart drawn from the journal keeps its shape), when the pane goes STALE
// or has NO DATA, at the keepalive, or when the room stops. A pane that
// holds still costs the disk next to nothing; exports and replays still
// draw what the room saw. NO DATA samples are all written (exports mark
// each one).
type recorder struct {
	j     journal.Journal
	clk   clock.Clock
	log   *slog.Logger
	every time.Duration
	batch int
	in    chan []journal.Sample

	// Change points, per pane; only the run goroutine uses them.
	last map[string]*paneRecord

	recorded atomic.Int64
	dropped  atomic.Int64
	held     atomic.Int64 // samples not written: they repeated the value (Stats.Repeats)
}

type paneRecord struct {
	stored journal.Sample  // the last sample written
	held   *journal.Sample // the latest one since, with the same value
}

func newRecorder(j journal.Journal, clk clock.Clock, log *slog.Logger, every time.Duration, batch, queue int) *recorder {
	if every <= 0 {
		every = DefaultRecordEvery
	}
	if batch <= 0 {
		batch = 500
	}
	if queue <= 0 {
		queue = 256
	}
	return &recorder{j: j, clk: clk, log: log, every: every, batch: batch, in: make(chan []journal.Sample, queue), last: map[string]*paneRecord{}}
}

// add queues the samples. STALE samples carry no value; they are passed
// on only to end the pane's flat run (they are never stored).
func (r *recorder) add(samples []incident.Sample) {
	out := make([]journal.Sample, 0, len(samples))
	for _, s := range samples {
		if !s.Limited.IsZero() {
			continue // no value, and not a gap: the source is paced
		}
		js := journal.Sample{Service: s.Service, Pane: s.Pane, Time: s.Time, Value: s.Value, NoData: s.NoData}
		if s.Stale {
			js.Time = time.Time{} // a marker: the pane went stale
		}
		out = append(out, js)
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

// keep sorts samples into what is written now: changes, the ends of flat
// runs and keepalives.
func (r *recorder) keep(buf []journal.Sample, ss []journal.Sample) []journal.Sample {
	for _, s := range ss {
		k := incident.PaneKey(s.Service, s.Pane)
		p := r.last[k]
		switch {
		case s.Time.IsZero(): // STALE: the run ends at its last sample
			if p != nil && p.held != nil {
				buf = append(buf, *p.held)
				p.stored, p.held = *p.held, nil
			}
		case p == nil:
			r.last[k] = &paneRecord{stored: s}
			buf = append(buf, s)
		case !s.Time.After(p.stored.Time):
			buf = append(buf, s) // history (a backfill): as it came
		case !s.NoData && !p.stored.NoData && s.Value == p.stored.Value:
			if s.Time.Sub(p.stored.Time) >= RecordKeepalive {
				buf = append(buf, s)
				p.stored, p.held = s, nil
				break
			}
			if p.held != nil {
				r.held.Add(1)
			}
			h := s
			p.held = &h
		default:
			if p.held != nil {
				buf = append(buf, *p.held)
			}
			buf = append(buf, s)
			p.stored, p.held = s, nil
		}
	}
	return buf
}

// flushHeld adds every held sample (the room stops: each flat run ends
// where the room last saw it).
func (r *recorder) flushHeld(buf []journal.Sample) []journal.Sample {
	for _, p := range r.last {
		if p.held != nil {
			buf = append(buf, *p.held)
			p.stored, p.held = *p.held, nil
		}
	}
	return buf
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
			buf = r.keep(buf, ss)
			if len(buf) >= r.batch {
				flush()
			}
		case <-tick:
			flush()
			tick = r.clk.After(r.every)
		case <-ctx.Done():
			// Write what is still queued, the workers' last samples too,
			// and the end of every flat run.
			<-workersDone
			for {
				select {
				case ss := <-r.in:
					buf = r.keep(buf, ss)
					continue
				default:
				}
				break
			}
			buf = r.flushHeld(buf)
			flush()
			return
		}
	}
}
