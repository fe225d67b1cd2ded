// Package room assembles one running war room from a validated config:
// the journal, the engine, the source scheduler, the playbook runner and
// its control socket. `warroom run`, `serve` and `demo` all start a room
// the same way and differ only in how people reach it.
package room

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/mirror"
	"github.com/warroom/warroom/paging"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/sources"

	// Source types register their builders.
	_ "github.com/warroom/warroom/sources/datadog"
	_ "github.com/warroom/warroom/sources/prometheus"
	_ "github.com/warroom/warroom/sources/rpc"
)

// Options for Open.
type Options struct {
	Config      *config.Config
	JournalPath string
	Clock       clock.Clock // default real time
	Logger      *slog.Logger
	// NoSources skips polling (a room that only replays or takes commands).
	NoSources bool
	// RecordEvery is how often samples are written to the journal
	// (default sources.DefaultRecordEvery).
	RecordEvery time.Duration
	// Output receives playbook step output as it streams.
	Output func(playbooks.OutputLine)
	// MirrorOptions adjusts the Slack mirror before it starts (the demo
	// points it at its own Slack); it runs only when the file has a
	// slack section.
	MirrorOptions func(*mirror.Options)
	// CommsOptions adjusts the Statuspage publisher before it starts; it
	// runs only when the file has a comms.statuspage section.
	CommsOptions func(*comms.Options)
	// PagingOptions adjusts the Pager before it starts; it runs only when
	// the file pages through PagerDuty (a routing key somewhere).
	PagingOptions func(*paging.Options)
}

// Room is a running war room.
type Room struct {
	Config  *config.Config
	Journal journal.Journal
	Engine  *incident.Engine
	Sources *sources.Scheduler // nil with NoSources
	Catalog *playbooks.Catalog
	Runner  *playbooks.Runner
	Mirror  *mirror.Mirror // nil without a slack section
	// Publisher publishes public updates to Statuspage (nil without a
	// comms.statuspage section).
	Publisher *comms.Publisher
	// Pager pages people through PagerDuty (nil when no routing key is
	// configured).
	Pager *paging.Pager

	cancel       context.CancelFunc
	mirrorCancel context.CancelFunc
	pubCancel    context.CancelFunc
	pagerCancel  context.CancelFunc
	control      io.Closer
	engErr       chan error
	baseline     chan struct{} // closed when the baseline watcher returns
	baseStop     context.CancelFunc
	closeOnce    sync.Once
	closeErr     error
}

// Open starts everything. On error, whatever was started is stopped.
func Open(ctx context.Context, o Options) (_ *Room, err error) {
	if o.Config == nil {
		return nil, errors.New("room: no config")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cat, err := playbooks.LoadForConfig(o.Config)
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(o.JournalPath)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Room{Config: o.Config, Journal: j, Catalog: cat, cancel: cancel, engErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	r.Engine, err = incident.New(incident.Options{Config: o.Config, Journal: j, Clock: o.Clock})
	if err != nil {
		return nil, err
	}
	go func() { r.engErr <- r.Engine.Run(ctx) }()

	var slack playbooks.SlackPoster
	if o.Config.Slack != nil {
		mo, err := mirror.FromConfig(o.Config.Slack)
		if err != nil {
			return nil, err
		}
		mo.Engine, mo.Journal, mo.Clock = r.Engine, j, o.Clock
		mo.OwnerPages = o.Config.Escalation.Owner > 0
		mo.Logf = func(format string, args ...any) { o.Logger.Info(fmt.Sprintf(format, args...), "component", "mirror") }
		if o.MirrorOptions != nil {
			o.MirrorOptions(&mo)
		}
		if r.Mirror, err = mirror.New(mo); err != nil {
			return nil, err
		}
		// The mirror has its own context: at shutdown it stops (and saves
		// its cursor) before the engine and the journal close.
		mctx, mcancel := context.WithCancel(context.Background())
		r.mirrorCancel = mcancel
		if err := r.Mirror.Start(mctx); err != nil {
			return nil, fmt.Errorf("start the Slack mirror: %w", err)
		}
		slack = timelineSlack{r}
	}
	if comms.Enabled(o.Config) {
		co := comms.Options{Engine: r.Engine, Journal: j, Clock: o.Clock,
			Logf: func(format string, args ...any) { o.Logger.Info(fmt.Sprintf(format, args...), "component", "comms") }}
		if o.CommsOptions != nil {
			o.CommsOptions(&co)
		}
		// Like the mirror, the publisher stops before the engine.
		pctx, pcancel := context.WithCancel(context.Background())
		r.pubCancel = pcancel
		if r.Publisher, err = comms.Start(pctx, co); err != nil {
			return nil, fmt.Errorf("start the Statuspage publisher: %w", err)
		}
	}
	if paging.Enabled(o.Config) {
		po := paging.Options{Engine: r.Engine, Journal: j, Clock: o.Clock,
			Logf: func(format string, args ...any) { o.Logger.Info(fmt.Sprintf(format, args...), "component", "paging") }}
		if o.PagingOptions != nil {
			o.PagingOptions(&po)
		}
		// Like the mirror, the Pager stops before the engine.
		gctx, gcancel := context.WithCancel(context.Background())
		r.pagerCancel = gcancel
		if r.Pager, err = paging.Start(gctx, po); err != nil {
			return nil, fmt.Errorf("start paging through PagerDuty: %w", err)
		}
	}
	r.Runner, err = playbooks.NewRunner(playbooks.Options{
		Engine: r.Engine, Catalog: cat, Slack: slack, Output: o.Output, Context: ctx,
		Log: func(s string) { o.Logger.Info(s, "component", "playbooks") },
	})
	if err != nil {
		return nil, err
	}
	// After a crash, runs that were applying become "interrupted": they are
	// never re-run by themselves.
	if err := r.Runner.Reconcile(ctx); err != nil {
		return nil, fmt.Errorf("reconcile playbook runs: %w", err)
	}
	r.control, err = playbooks.ServeControl(ctx, playbooks.ControlPath(o.JournalPath), r.Runner)
	if err != nil {
		return nil, err
	}
	if !o.NoSources {
		r.Sources, err = sources.Start(ctx, o.Config, r.Engine, j, o.Clock, sources.Options{Logger: o.Logger, RecordEvery: o.RecordEvery})
		if err != nil {
			return nil, err
		}
		if o.Config.Launch != nil {
			// Each pane's baseline over the plan's window before T-0.
			bctx, stop := context.WithCancel(ctx)
			r.baseline, r.baseStop = make(chan struct{}), stop
			go func() {
				defer close(r.baseline)
				launch.WatchBaseline(bctx, r.Engine, j, o.Config, o.Clock)
			}()
		}
	}
	return r, nil
}

// Done is closed when the engine stops (a journal failure, or Close).
func (r *Room) Done() <-chan struct{} { return r.Engine.Done() }

// Close stops everything the room started and waits for each to end, in
// the order that keeps the journal open until its last writer is gone:
// the sources (samples), the control socket (no new requests), the
// playbook runner (its runs record their state through the engine), the
// Statuspage publisher, the Pager and the Slack mirror (their cursors and outboxes,
// the mirror's Socket Mode workers), the engine; then the journal is
// checkpointed and closed, so a copied file is complete.
func (r *Room) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *Room) close() error {
	if r.Sources != nil {
		r.Sources.Stop()
	}
	if r.control != nil {
		r.control.Close()
	}
	if r.Runner != nil {
		r.Runner.Close()
	}
	if r.baseline != nil {
		r.baseStop()
		<-r.baseline
	}
	if r.pubCancel != nil {
		r.pubCancel()
		if r.Publisher != nil {
			<-r.Publisher.Done()
		}
	}
	if r.pagerCancel != nil {
		r.pagerCancel()
		if r.Pager != nil {
			<-r.Pager.Done()
		}
	}
	if r.mirrorCancel != nil {
		r.mirrorCancel()
		<-r.Mirror.Done()
	}
	r.cancel()
	var err error
	if r.Engine != nil {
		select {
		case err = <-r.engErr:
		case <-r.Engine.Done():
		}
	}
	if r.Journal != nil {
		if cerr := r.Journal.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// MirrorStatus is the Slack mirror's state for status bars: "" without a
// mirror, else e.g. "ok", "catching-up, 12 behind" or "down: invalid_auth".
func (r *Room) MirrorStatus() string {
	if r.Mirror == nil {
		return ""
	}
	st := r.Mirror.Status()
	s := st.State
	if st.Lag > 0 {
		s += fmt.Sprintf(", %d behind", st.Lag)
	}
	if st.Uncertain > 0 {
		s += fmt.Sprintf(", %d uncertain", st.Uncertain)
	}
	if st.Err != "" {
		s += ": " + st.Err
	}
	return s
}

// PublisherStatus is the Statuspage publisher's state for status bars:
// "" without one, else e.g. "ok", "rate-limited, 2 queued, retry in 41s"
// or "stopped, 1 queued: Statuspage: Could not authenticate".
func (r *Room) PublisherStatus() string {
	if r.Publisher == nil {
		return ""
	}
	return r.Publisher.StatusLine()
}

// SourceBudgets is, per source with a rate-limit budget (Datadog), the
// bucket with the least left, for status bars: "412/1600 per 1h", or
// "98/1600 per 1h, every 1m31s" while the source paces itself.
func (r *Room) SourceBudgets() map[string]string {
	if r.Sources == nil {
		return nil
	}
	out := map[string]string{}
	for id, st := range r.Sources.Health() {
		var worst *sources.Budget
		for i := range st.Budgets {
			b := &st.Budgets[i]
			if worst == nil || b.Every > worst.Every || b.Every == worst.Every && left(b) < left(worst) {
				worst = b
			}
		}
		if worst != nil {
			out[id] = worst.Short()
		}
	}
	return out
}

func left(b *sources.Budget) float64 {
	if b.Limit <= 0 {
		return float64(b.Remaining)
	}
	return float64(b.Remaining) / float64(b.Limit)
}

// timelineSlack posts a playbook's slack step through the mirror: the
// message becomes a durable NOTE by the run's requester, which the mirror
// delivers like every other event (queued while Slack is down, never lost).
type timelineSlack struct{ r *Room }

func (t timelineSlack) PostPlaybookMessage(ctx context.Context, m playbooks.SlackMessage) error {
	snap, sub, err := t.r.Engine.Subscribe(ctx, 1)
	if err != nil {
		return err
	}
	t.r.Engine.Unsubscribe(sub)
	by := snap.Roles.Commander
	if run := snap.Runs[m.RunID]; run != nil && run.Actor != "" {
		by = run.Actor
	}
	return t.r.Engine.Do(ctx, incident.Note{By: by, Service: m.Service, Text: fmt.Sprintf("[%s %s] %s", m.RunID, m.Playbook, m.Text)}).Err
}

// PagingStatus is the Pager's state for status bars: "" when the room does
// not page through PagerDuty, else e.g. "ok", "rate-limited, 1 queued,
// retry in 25s: HTTP 429 …" or "stopped: HTTP 404 …".
func (r *Room) PagingStatus() string {
	if r.Pager == nil {
		return ""
	}
	return r.Pager.StatusLine()
}

// PagerDutyWebhook is the handler of /api/pagerduty: PagerDuty's V3
// webhooks, nil when the room does not page through PagerDuty.
func (r *Room) PagerDutyWebhook(logger *slog.Logger) http.Handler {
	if r.Pager == nil {
		return nil
	}
	return &paging.Webhook{Engine: r.Engine, Config: r.Config, Groups: r.Pager.Groups, Clock: r.Engine.Clock(), Logger: logger}
}
