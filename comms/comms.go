// Package comms tells people outside the room what is happening: it
// publishes the room's public updates and component statuses to Atlassian
// Statuspage through the one outbox (package outbox), and serves the
// built-in public status page (HTML, JSON and Atom; see Page).
//
// The incident's severity, status, milestones, components and updates are
// events folded by package incident; this package only carries what was
// published outside. Its reader follows the journal with the durable
// cursor "statuspage": each published update becomes one outbox row
// (created, or patched into the Statuspage incident this room created),
// each component change of its own one more, written with the cursor. The
// outbox delivers them in order under Statuspage's rate limit and checks
// any lost answer against the page before sending again; each update's
// outcome is recorded back as a DELIVERY event. The publish path reads
// only the journal: sources can all be down.
package comms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
)

// Engine is what the publisher needs of the incident engine.
type Engine interface {
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(*incident.Subscription)
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Config() *config.Config
}

// DestStatuspage names the Statuspage destination (rows, cursor,
// DELIVERY events).
const DestStatuspage = "statuspage"

// Options configure a Publisher.
type Options struct {
	Engine  Engine
	Journal journal.Journal
	Clock   clock.Clock // default real time
	// HTTPClient calls Statuspage (default outbox.NewHTTPClient, 10 s).
	HTTPClient *http.Client
	// Pacing (default 1 request a second with a burst of 5: Statuspage
	// allows 60 in any minute) and the wait before a lost answer is
	// checked (default 5 s).
	Rate       float64
	Burst      int
	CheckAfter time.Duration
	MaxBackoff time.Duration
	Logf       func(format string, args ...any)
}

// Publisher publishes to Statuspage.
type Publisher struct {
	o   Options
	ob  *outbox.Outbox
	eng Engine

	mu      sync.Mutex
	reports []incident.RecordDelivery
	signal  chan struct{}
	done    chan struct{}
}

// Enabled reports whether the war-room file publishes to Statuspage.
func Enabled(c *config.Config) bool { return c.Comms != nil && c.Comms.Statuspage != nil }

// Start starts publishing; it returns once the publisher runs. Cancel ctx
// and wait for Done before the engine and the journal close.
func Start(ctx context.Context, o Options) (*Publisher, error) {
	cfg := o.Engine.Config()
	if !Enabled(cfg) {
		return nil, errors.New("comms: no comms.statuspage section in the war-room file")
	}
	sp := cfg.Comms.Statuspage
	key := sp.APIKey.Value()
	if key == "" {
		return nil, fmt.Errorf("comms.statuspage.api_key: environment variable %s is not set (export it, or remove comms.statuspage to publish to the built-in status page only)", sp.APIKey.Env)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = outbox.NewHTTPClient(0)
	}
	if o.Rate <= 0 {
		o.Rate = 1
	}
	if o.Burst <= 0 {
		o.Burst = 5
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	logf := o.Logf
	o.Logf = func(format string, args ...any) {
		logf("%s", strings.ReplaceAll(fmt.Sprintf(format, args...), key, "[redacted]"))
	}
	p := &Publisher{o: o, eng: o.Engine, signal: make(chan struct{}, 1), done: make(chan struct{})}
	pl := &planner{cfg: cfg}
	ob, err := outbox.New(outbox.Options{
		Journal: o.Journal, Clock: o.Clock, Cursor: DestStatuspage, Plan: pl.plan, Logf: o.Logf,
		Destinations: []outbox.Destination{{Name: DestStatuspage, Sender: newStatuspage(sp, key, o.HTTPClient, o.Clock),
			Rate: o.Rate, Burst: o.Burst, CheckAfter: o.CheckAfter, MaxBackoff: o.MaxBackoff}},
		OnSettled: p.settled,
	})
	if err != nil {
		return nil, err
	}
	p.ob = ob
	if err := ob.Start(ctx); err != nil {
		return nil, err
	}
	snap, sub, err := o.Engine.Subscribe(ctx, 256)
	if err != nil {
		return nil, fmt.Errorf("comms: subscribe: %w", err)
	}
	// Outcomes the journal has and the timeline does not (the process
	// stopped between the two) are recorded now.
	if err := p.catchUpDeliveries(ctx, snap); err != nil {
		o.Engine.Unsubscribe(sub)
		return nil, err
	}
	ob.Wake()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.follow(ctx, sub) }()
	go func() { defer wg.Done(); p.report(ctx) }()
	go func() { wg.Wait(); <-ob.Done(); close(p.done) }()
	return p, nil
}

// Done is closed once the publisher has stopped.
func (p *Publisher) Done() <-chan struct{} { return p.done }

// Status is the Statuspage destination's health.
func (p *Publisher) Status() outbox.Status { return p.ob.Status()[0] }

// Resume restarts publishing after a fatal answer (the key was fixed).
func (p *Publisher) Resume() { p.ob.Resume() }

// StatusLine is Status for status bars ("ok", "rate-limited, 2 queued,
// retry in 41s", "stopped, 1 queued: Statuspage: Could not
// authenticate").
func (p *Publisher) StatusLine() string { return p.Status().Line(p.o.Clock.Now()) }

// follow wakes the outbox whenever events are committed.
func (p *Publisher) follow(ctx context.Context, sub *incident.Subscription) {
	_ = incident.Follow(ctx, p.eng, sub, 256,
		func(*incident.State) error { p.ob.Wake(); return nil },
		func(incident.Update) error { p.ob.Wake(); return nil })
}

// settled queues a DELIVERY event for an update row that reached an
// outcome (component rows have none: the status bar shows their state).
func (p *Publisher) settled(r outbox.Row) {
	rec, ok := deliveryOf(r)
	if !ok {
		return
	}
	p.mu.Lock()
	p.reports = append(p.reports, rec)
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

func deliveryOf(r outbox.Row) (incident.RecordDelivery, bool) {
	var o op
	if json.Unmarshal(r.Payload, &o) != nil || (o.Op != opCreate && o.Op != opUpdate) {
		return incident.RecordDelivery{}, false
	}
	rec := incident.RecordDelivery{Dest: DestStatuspage, Label: "Statuspage", ID: o.Update}
	switch r.State {
	case journal.OutboxDelivered:
		rec.State = incident.DeliveryDelivered
		_, rec.Remote, _ = strings.Cut(r.Remote, "/")
	case journal.OutboxUncertain:
		rec.State, rec.Error = incident.DeliveryUncertain, r.Error
	case journal.OutboxFailed:
		rec.State, rec.Error = incident.DeliveryFailed, r.Error
	default:
		return rec, false
	}
	return rec, true
}

// report records queued outcomes in order, off the outbox's goroutine.
func (p *Publisher) report(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.signal:
		}
		for {
			p.mu.Lock()
			if len(p.reports) == 0 {
				p.mu.Unlock()
				break
			}
			rec := p.reports[0]
			p.reports = p.reports[1:]
			p.mu.Unlock()
			if rep := p.eng.Do(ctx, rec); rep.Err != nil && ctx.Err() == nil {
				p.o.Logf("comms: record the delivery of %s: %v", rec.ID, rep.Err)
				if errors.Is(rep.Err, incident.ErrStopped) {
					return
				}
			}
		}
	}
}

func (p *Publisher) catchUpDeliveries(ctx context.Context, snap *incident.State) error {
	rows, err := p.o.Journal.OutboxRows(ctx, false, DestStatuspage)
	if err != nil {
		return fmt.Errorf("comms: read the outbox: %w", err)
	}
	for _, r := range rows {
		rec, ok := deliveryOf(r)
		if !ok {
			continue
		}
		u := snap.Life.Update(rec.ID)
		if u == nil {
			continue
		}
		if d, ok := u.Delivery[DestStatuspage]; ok && d.State == rec.State && d.Remote == rec.Remote {
			continue
		}
		p.settled(r)
	}
	return nil
}

// planner turns published updates and component changes into Statuspage
// rows. It folds what it needs: the incident's name and declaration (for
// keys), its severity (the impact) and the row that created the
// Statuspage incident.
type planner struct {
	cfg      *config.Config
	name     string
	declared time.Time
	severity string
	created  string // the create row's key ("" before the first update)
}

func (pl *planner) plan(je journal.Event, replay bool) []outbox.Row {
	ev, err := incident.FromJournal(je)
	if err != nil {
		return nil
	}
	var rows []outbox.Row
	switch ev.Kind {
	case incident.KindDeclare:
		if pl.declared.IsZero() {
			pl.name, pl.declared = ev.Text, ev.Time
		}
	case incident.KindSeverity:
		pl.severity = ev.Life.Severity
	case incident.KindUpdate:
		if ev.Update.State != incident.UpdatePublished || ev.Update.Draft == nil {
			break
		}
		d := ev.Update.Draft
		o := op{Op: opUpdate, Update: ev.Update.ID, Incident: pl.created, Key: ev.Update.Key, Status: d.Status, Body: d.Body,
			Notify: d.Notify, Impact: impactOf(pl.severity), Name: d.Title}
		if pl.created == "" {
			o.Op, o.Incident = opCreate, ""
			pl.created = ev.Update.Key
		}
		for _, ch := range d.Components {
			if c := pl.cfg.Comms.ComponentByID(ch.ID); c != nil && c.StatuspageID != "" {
				if o.Components == nil {
					o.Components = map[string]string{}
				}
				o.Components[c.StatuspageID] = ch.Status
			}
		}
		rows = append(rows, row(ev.Seq, ev.Update.Key, o))
	case incident.KindComponent:
		if ev.Ref != 0 {
			break // carried by the update that said it
		}
		if c := pl.cfg.Comms.ComponentByID(ev.Life.Component); c != nil && c.StatuspageID != "" {
			key := incident.UpdateKey(pl.name, pl.declared, fmt.Sprintf("C%d", ev.Seq))
			rows = append(rows, row(ev.Seq, key, op{Op: opComponent, Key: key, Component: c.StatuspageID, Status: ev.Life.Status}))
		}
	}
	if replay {
		return nil
	}
	return rows
}

func row(seq int64, key string, o op) outbox.Row {
	b, _ := json.Marshal(o)
	return outbox.Row{Dest: DestStatuspage, Key: key, Seq: seq, Payload: b}
}
