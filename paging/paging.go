// Package paging reaches people who are not watching the room: it hands
// the room's pages to PagerDuty and takes their acknowledgements back.
//
// Pages are the engine's PAGE events: one person, everything that fired on
// their service or was escalated to them since their last page, at most
// one a minute (package incident). The Pager follows the journal with the
// durable cursor "pagerduty" through the one outbox (package outbox) and
// plans, for each PAGE, one Events API v2 trigger to the person's route
// (their own integration, else their service's for its owner and backup,
// else the room's; see config.PagerDutyRoute). Its dedup_key is the room
// and the page's first alert group (RoomID:group), and a later page about
// a group whose PagerDuty alert is still open updates that alert, so
// repeated escalations are one PagerDuty alert and a storm is at most one
// trigger per person a minute. When every group an alert carries is acked
// in the room it is acknowledged in PagerDuty, when every one is resolved
// it is resolved; a group that comes back after its ack is a new alert
// (PagerDuty sends no notification for a trigger on an acknowledged one).
// Each route is its own lane of the outbox, paced and held apart:
// PagerDuty rate-limits per integration key, so a 429 on one key never
// delays a page to a person on another. Rows are written with the
// cursor, so a crash loses or doubles nothing;
// a request whose answer was lost is sent again, which dedup_key makes
// safe. The journal holds routes, never routing keys.
//
// Acknowledgements come back through PagerDuty's V3 webhooks (Webhook).
package paging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
)

// DestPagerDuty names the PagerDuty destination (rows, cursor, status).
const DestPagerDuty = "pagerduty"

// Engine is what paging needs of the incident engine.
type Engine interface {
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(*incident.Subscription)
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Config() *config.Config
}

// Options configure a Pager.
type Options struct {
	Engine  Engine
	Journal journal.Journal
	Clock   clock.Clock // default real time
	// HTTPClient calls PagerDuty (default outbox.NewHTTPClient, 10 s).
	HTTPClient *http.Client
	// Pacing per route (see routeLane): default 2 requests a second with a
	// burst of 10 (PagerDuty allows about 120 a minute per integration
	// key). CheckAfter is the
	// wait before a request whose answer was lost is sent again (default
	// 5 s); MaxBackoff caps the back-off while PagerDuty fails (60 s).
	Rate       float64
	Burst      int
	CheckAfter time.Duration
	MaxBackoff time.Duration
	// RetryAfter is waited after a 429 without Retry-After (default 30 s,
	// as PagerDuty's rate-limit page suggests).
	RetryAfter time.Duration
	Logf       func(format string, args ...any)
}

// Pager delivers pages to PagerDuty.
type Pager struct {
	o    Options
	eng  Engine
	ob   *outbox.Outbox
	pl   *planner
	clk  clock.Clock
	done chan struct{}

	mu      sync.Mutex
	reports []string
	signal  chan struct{}
}

// Enabled reports whether the war-room file pages through PagerDuty.
func Enabled(c *config.Config) bool { return c.Paging() }

// Start starts paging; it returns once the Pager runs. Cancel ctx and
// wait for Done before the engine and the journal close.
func Start(ctx context.Context, o Options) (*Pager, error) {
	if o.Engine == nil || o.Journal == nil {
		return nil, errors.New("paging: an engine and a journal are required")
	}
	cfg := o.Engine.Config()
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = outbox.NewHTTPClient(0)
	}
	if o.Rate <= 0 {
		o.Rate = 2
	}
	if o.Burst <= 0 {
		o.Burst = 10
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 30 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	p := &Pager{o: o, eng: o.Engine, pl: newPlanner(cfg), clk: o.Clock, done: make(chan struct{}), signal: make(chan struct{}, 1)}
	ob, err := outbox.New(outbox.Options{
		Journal: o.Journal, Clock: o.Clock, Cursor: DestPagerDuty, Plan: p.pl.plan, Logf: o.Logf,
		Destinations: []outbox.Destination{{Name: DestPagerDuty, Sender: newPDSender(cfg, o.HTTPClient, o.Clock),
			Rate: o.Rate, Burst: o.Burst, CheckAfter: o.CheckAfter, MaxBackoff: o.MaxBackoff, DefaultRetryAfter: o.RetryAfter, Resend: true,
			Lane: routeLane}},
		OnSettled: p.settled,
	})
	if err != nil {
		return nil, err
	}
	p.ob = ob
	if err := ob.Start(ctx); err != nil {
		return nil, err
	}
	_, sub, err := o.Engine.Subscribe(ctx, 256)
	if err != nil {
		return nil, fmt.Errorf("paging: subscribe: %w", err)
	}
	ob.Wake()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.follow(ctx, sub) }()
	go func() { defer wg.Done(); p.report(ctx) }()
	go func() { wg.Wait(); <-ob.Done(); close(p.done) }()
	return p, nil
}

// routeLane puts each route (one integration, one routing key) in its own
// outbox lane: PagerDuty rate-limits per integration key, so a 429 for one
// person's or service's key holds only that key's events, and a page to
// someone else goes at once. A dedup_key's events all go through one
// route (the alert's), so they stay in order.
func routeLane(r outbox.Row) string {
	var p struct {
		Route config.Route `json:"route"`
	}
	_ = json.Unmarshal(r.Payload, &p)
	return string(p.Route)
}

// Done is closed once the Pager has stopped.
func (p *Pager) Done() <-chan struct{} { return p.done }

// Status is the PagerDuty destination's health.
func (p *Pager) Status() outbox.Status { return p.ob.Status()[0] }

// StatusLine is Status for status bars.
func (p *Pager) StatusLine() string { return p.Status().Line(p.clk.Now()) }

// Resume restarts paging after a fatal answer (the file was fixed).
func (p *Pager) Resume() { p.ob.Resume() }

// Groups are the alert groups a PagerDuty alert of this room carries, by
// its dedup key (none: not this room's).
func (p *Pager) Groups(dedup string) []string { return p.pl.Groups(dedup) }

// Delivered reports whether a webhook delivery with any of these ids
// acked or resolved in the room, as the journal records it: the webhook's
// replay memory across restarts (Webhook.Delivered).
func (p *Pager) Delivered(ids []string) bool { return p.pl.Delivered(ids) }

// follow wakes the outbox whenever events are committed.
func (p *Pager) follow(ctx context.Context, sub *incident.Subscription) {
	_ = incident.Follow(ctx, p.eng, sub, 256,
		func(*incident.State) error { p.ob.Wake(); return nil },
		func(incident.Update) error { p.ob.Wake(); return nil })
}

// settled notes a page PagerDuty refused: people must know that a phone
// did not ring.
func (p *Pager) settled(r outbox.Row) {
	if r.State != journal.OutboxFailed {
		return
	}
	var pl payload
	_ = json.Unmarshal(r.Payload, &pl)
	what := fmt.Sprintf("PagerDuty refused the %s of %s", pl.Action, pl.Dedup)
	if pl.Action == actionTrigger {
		what = fmt.Sprintf("PagerDuty refused the page to %s (%s)", pl.To, pl.Route)
	}
	p.queue(what + ": " + r.Error)
}

func (p *Pager) queue(text string) {
	p.mu.Lock()
	p.reports = append(p.reports, text)
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// LateAfter is how long a page may wait for PagerDuty before the
// timeline says that phones are not ringing.
const LateAfter = 2 * time.Minute

// report records refused pages, pages that have not reached PagerDuty for
// LateAfter, and the destination stopping, as PAGING events; and when it
// delivers again.
func (p *Pager) report(ctx context.Context) {
	stopped, late := false, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.signal:
		case <-p.clk.After(5 * time.Second):
		}
		st := p.Status()
		switch {
		case st.State == outbox.StateStopped && !stopped:
			stopped = true
			p.queue("paging through PagerDuty stopped: " + st.Err)
		case st.State != outbox.StateStopped && stopped:
			stopped = false
			p.queue("paging through PagerDuty works again")
		case !stopped && !late && st.Lag(p.clk.Now()) >= LateAfter:
			late = true
			p.queue(fmt.Sprintf("pages have not reached PagerDuty for %s (%d queued): %s", incident.Age(st.Lag(p.clk.Now())), st.Queued, st.Err))
		case late && st.Queued == 0:
			late = false
			p.queue("pages reach PagerDuty again")
		}
		p.mu.Lock()
		reports := p.reports
		p.reports = nil
		p.mu.Unlock()
		for _, text := range reports {
			if rep := p.eng.Do(ctx, incident.ReportPaging{By: DestPagerDuty, Text: text}); rep.Err != nil && ctx.Err() == nil {
				p.o.Logf("paging: record %q: %v", text, rep.Err)
			}
		}
	}
}
