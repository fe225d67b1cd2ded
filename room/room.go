// Package room assembles one running war room from a validated config:
// the journal, the engine, the source scheduler, the playbook runner and
// its control socket. `warroom run`, `serve` and `demo` all start a room
// the same way and differ only in how people reach it.
//
// A room in Postgres may be shared by several `warroom serve` processes
// (Options.Shared): the one that holds the room's writer lock leads and
// runs everything above (Lead); the others stand by, serve their sessions
// from the journal, forward what people do to the leader, and take over
// when it goes (ha.go).
package room

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
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
	Config *config.Config
	// JournalPath is the journal: a SQLite file, or a postgres:// room.
	JournalPath string
	// Shared shares a postgres:// room with other processes (serve): this
	// one leads while it holds the room's writer lock and stands by
	// otherwise, taking over when the leader goes. Without it, a room
	// another process leads is refused (journal.ErrInUse).
	Shared bool
	// Postgres tunes a postgres:// journal: this node's name, and the
	// timing that sets failover (journal.PostgresOptions).
	Postgres journal.PostgresOptions
	Clock    clock.Clock // default real time
	Logger   *slog.Logger
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
	Catalog *playbooks.Catalog

	o      Options
	shared journal.Shared    // nil: this process is the journal's only writer
	dry    *playbooks.Runner // dry runs, on any process
	cancel context.CancelFunc
	engErr chan error

	mu   sync.Mutex
	lead *Lead // nil while standing by
	// elected and presence are closed when the election and presence
	// loops return.
	elected, presence chan struct{}
	closeOnce         sync.Once
	closeErr          error
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
	var j journal.Journal
	leading := true
	if o.Shared && journal.IsURL(o.JournalPath) {
		pj, err := journal.OpenPostgres(ctx, o.JournalPath, o.Postgres, false)
		if err != nil {
			return nil, err
		}
		if leading, err = pj.TryLead(ctx); err != nil {
			pj.Close()
			return nil, err
		}
		j = pj
	} else if journal.IsURL(o.JournalPath) {
		pj, err := journal.OpenPostgres(ctx, o.JournalPath, o.Postgres, false)
		if err == nil {
			if ok, lerr := pj.TryLead(ctx); lerr != nil || !ok {
				li, _ := pj.Leader(ctx)
				pj.Close()
				err = lerr
				if err == nil {
					err = fmt.Errorf("journal %s: %w (node %s leads it: serve it, or stop that process)", pj.Path(), journal.ErrInUse, li.Node)
				}
			}
		}
		if err != nil {
			return nil, err
		}
		j = pj
	} else if j, err = journal.Open(o.JournalPath); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Room{Config: o.Config, Journal: j, Catalog: cat, o: o, cancel: cancel, engErr: make(chan error, 1)}
	if sh, ok := j.(journal.Shared); ok && o.Shared {
		r.shared = sh
	}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	r.Engine, err = incident.New(incident.Options{Config: o.Config, Journal: j, Clock: o.Clock,
		Standby: !leading, Forward: r.forward})
	if err != nil {
		return nil, err
	}
	go func() { r.engErr <- r.Engine.Run(ctx) }()
	if r.dry, err = playbooks.NewRunner(playbooks.Options{Engine: r.Engine, Catalog: cat, Context: ctx}); err != nil {
		return nil, err
	}
	if leading {
		l, err := r.startLead(ctx)
		if err != nil {
			return nil, err
		}
		r.setLead(l)
	}
	if r.shared != nil {
		r.elected, r.presence = make(chan struct{}), make(chan struct{})
		go r.elect(ctx)
		go func() {
			defer close(r.presence)
			r.sharePresence(ctx)
		}()
	}
	return r, nil
}

// Lead is what the room's process runs while it leads (all the time in a
// room of one process): the sources, the playbook runner and its control
// socket, the Slack mirror, the Statuspage publisher, the baseline
// watcher, and in a shared room the inbox of commands forwarded by
// standbys.
func (r *Room) Lead() *Lead {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lead
}

func (r *Room) setLead(l *Lead) {
	r.mu.Lock()
	r.lead = l
	r.mu.Unlock()
}

// Done is closed when the engine stops (a journal failure, or Close).
func (r *Room) Done() <-chan struct{} { return r.Engine.Done() }

// Close stops everything the room started and waits for each to end, in
// the order that keeps the journal open until its last writer is gone:
// the leader's work (see Lead.stop), the election, the engine; then the
// journal is checkpointed and closed (a shared room's lock released), so
// a copied file is complete and a standby takes over at once.
func (r *Room) Close() error {
	r.closeOnce.Do(func() { r.closeErr = r.close() })
	return r.closeErr
}

func (r *Room) close() error {
	if l := r.Lead(); l != nil {
		l.stop()
		r.setLead(nil)
	}
	r.cancel()
	if r.elected != nil {
		<-r.elected
		<-r.presence
	}
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

// MirrorStatus is the Slack mirror's state for status bars (its
// Status.Line): "" without a mirror.
func (r *Room) MirrorStatus() string {
	l := r.Lead()
	if l == nil || l.Mirror == nil {
		return ""
	}
	return l.Mirror.Status().Line()
}

// PublisherStatus is the Statuspage publisher's state for status bars:
// "" without one, else e.g. "ok", "rate-limited, 2 queued, retry in 41s"
// or "stopped, 1 queued: Statuspage: Could not authenticate".
func (r *Room) PublisherStatus() string {
	l := r.Lead()
	if l == nil || l.Publisher == nil {
		return ""
	}
	return l.Publisher.StatusLine()
}

// SourceBudgets is, per source with a rate-limit budget (Datadog), the
// bucket with the least left, for status bars: "412/1600 per 1h", or
// "98/1600 per 1h, every 1m31s" while the source paces itself.
func (r *Room) SourceBudgets() map[string]string {
	l := r.Lead()
	if l == nil || l.Sources == nil {
		return nil
	}
	out := map[string]string{}
	for id, st := range l.Sources.Health() {
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
	snap, err := incident.Snapshot(ctx, t.r.Engine)
	if err != nil {
		return err
	}
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
	l := r.Lead()
	if l == nil || l.Pager == nil {
		return ""
	}
	return l.Pager.StatusLine()
}

// PagerDutyWebhook is the handler of /api/pagerduty: PagerDuty's V3
// webhooks, nil when the room does not page through PagerDuty.
func (r *Room) PagerDutyWebhook(logger *slog.Logger) http.Handler {
	if !paging.Enabled(r.Config) {
		return nil
	}
	// The alert groups behind a page are the leading Pager's: a standby
	// answers 503, and PagerDuty delivers the webhook again (to the
	// leader, behind a load balancer that checks /healthz?role=leader).
	// One receiver for the process: its replay memory and audit counts
	// outlive a request.
	pager := func() *paging.Pager {
		if l := r.Lead(); l != nil {
			return l.Pager
		}
		return nil
	}
	h := &paging.Webhook{Engine: r.Engine, Config: r.Config, Clock: r.Engine.Clock(), Logger: logger,
		Groups: func(dedup string) []string {
			if p := pager(); p != nil {
				return p.Groups(dedup)
			}
			return nil
		},
		Delivered: func(ids []string) bool {
			p := pager()
			return p != nil && p.Delivered(ids)
		}}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if pager() == nil {
			http.Error(w, "this warroom process stands by: PagerDuty webhooks go to the room's leader", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, req)
	})
}
