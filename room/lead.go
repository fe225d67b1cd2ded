package room

import (
	"context"
	"fmt"
	"io"

	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/launch"
	"github.com/warroom/warroom/mirror"
	"github.com/warroom/warroom/paging"
	"github.com/warroom/warroom/playbooks"
	"github.com/warroom/warroom/sources"
)

// Lead is the leader's work: what writes to the journal or reaches
// outside the room. Fields are nil when not configured.
type Lead struct {
	Sources *sources.Scheduler // nil with NoSources
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
	baseline     chan struct{} // closed when the baseline watcher returns
	baseStop     context.CancelFunc
	inbox        chan struct{} // closed when the forwarded-command inbox returns
}

// startLead starts the leader's work. After a crash or a failover, runs
// that were applying become "interrupted (outcome unknown)" and outboxes
// resume from their durable rows.
func (r *Room) startLead(ctx context.Context) (_ *Lead, err error) {
	o, j := r.o, r.Journal
	ctx, cancel := context.WithCancel(ctx)
	l := &Lead{cancel: cancel}
	defer func() {
		if err != nil {
			l.stop()
		}
	}()
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
		if l.Mirror, err = mirror.New(mo); err != nil {
			return nil, err
		}
		// The mirror has its own context: at shutdown it stops (and saves
		// its cursor) before the engine and the journal close.
		mctx, mcancel := context.WithCancel(context.Background())
		l.mirrorCancel = mcancel
		if err := l.Mirror.Start(mctx); err != nil {
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
		l.pubCancel = pcancel
		if l.Publisher, err = comms.Start(pctx, co); err != nil {
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
		l.pagerCancel = gcancel
		if l.Pager, err = paging.Start(gctx, po); err != nil {
			return nil, fmt.Errorf("start paging through PagerDuty: %w", err)
		}
	}
	l.Runner, err = playbooks.NewRunner(playbooks.Options{
		Engine: r.Engine, Catalog: r.Catalog, Slack: slack, Output: o.Output, Context: ctx,
		Log: func(s string) { o.Logger.Info(s, "component", "playbooks") },
	})
	if err != nil {
		return nil, err
	}
	// After a crash, runs that were applying become "interrupted": they are
	// never re-run by themselves.
	if err := l.Runner.Reconcile(ctx); err != nil {
		return nil, fmt.Errorf("reconcile playbook runs: %w", err)
	}
	l.control, err = playbooks.ServeControl(ctx, playbooks.ControlPath(r.Journal.Path()), l.Runner)
	if err != nil {
		return nil, err
	}
	if !o.NoSources {
		l.Sources, err = sources.Start(ctx, o.Config, r.Engine, j, o.Clock, sources.Options{Logger: o.Logger, RecordEvery: o.RecordEvery})
		if err != nil {
			return nil, err
		}
		if o.Config.Launch != nil {
			// Each pane's baseline over the plan's window before T-0.
			bctx, stop := context.WithCancel(ctx)
			l.baseline, l.baseStop = make(chan struct{}), stop
			go func() {
				defer close(l.baseline)
				launch.WatchBaseline(bctx, r.Engine, j, o.Config, o.Clock)
			}()
		}
	}
	if r.shared != nil {
		l.inbox = make(chan struct{})
		go func() {
			defer close(l.inbox)
			r.serveInbox(ctx, l)
		}()
	}
	return l, nil
}

// stop ends the leader's work and waits for each part, in the order that
// keeps the journal open until its last writer is gone: the sources
// (samples), the control socket (no new requests), the playbook runner
// (its runs record their state through the engine), the baseline watcher,
// the Statuspage publisher, the Pager and the Slack mirror (their cursors
// and outboxes, the mirror's Socket Mode workers), the inbox.
func (l *Lead) stop() {
	if l.Sources != nil {
		l.Sources.Stop()
	}
	if l.control != nil {
		l.control.Close()
	}
	if l.Runner != nil {
		l.Runner.Close()
	}
	if l.baseline != nil {
		l.baseStop()
		<-l.baseline
	}
	if l.pubCancel != nil {
		l.pubCancel()
		if l.Publisher != nil {
			<-l.Publisher.Done()
		}
	}
	if l.pagerCancel != nil {
		l.pagerCancel()
		if l.Pager != nil {
			<-l.Pager.Done()
		}
	}
	if l.mirrorCancel != nil {
		l.mirrorCancel()
		<-l.Mirror.Done()
	}
	l.cancel()
	if l.inbox != nil {
		<-l.inbox
	}
}
