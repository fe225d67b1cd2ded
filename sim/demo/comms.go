package demo

import (
	"context"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/warroom/warroom/comms"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	spsim "github.com/warroom/warroom/sim/statuspage"
)

// The demo's public side: a local Statuspage the room publishes to, the
// room's own public status page on a loopback port, and the simulated
// commander, scribe and comms role telling customers what happens. As
// everywhere in the demo, nothing is done in the human's name: when the
// human holds a role, its part is theirs.

// startPublic starts the local Statuspage and points the file at it.
func (d *Demo) startPublic(cfg *config.Config, token string) error {
	if cfg.Comms == nil || cfg.Comms.Statuspage == nil {
		return nil
	}
	var comps []spsim.Component
	for _, c := range cfg.Comms.Components {
		comps = append(comps, spsim.Component{ID: c.StatuspageID, Name: c.Name})
	}
	d.Statuspage = spsim.New(spsim.Options{APIKey: "sp" + token[:30], Clock: d.Clock, Components: comps, PageID: cfg.Comms.Statuspage.PageID})
	if err := d.Statuspage.Start(); err != nil {
		return err
	}
	cfg.Comms.Statuspage.APIURL = d.Statuspage.APIURL()
	cfg.Comms.Statuspage.APIKey = config.Secret{Env: "STATUSPAGE_API_KEY"}
	return nil
}

// servePage serves the room's public status page on addr (a free
// loopback port by default).
func (d *Demo) servePage(ctx context.Context, addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	page, err := comms.NewPage(ctx, d.Room.Engine)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	d.StatusURL = "http://" + ln.Addr().String() + "/"
	page.URL = d.StatusURL
	d.pageSrv = &http.Server{Handler: page, ReadHeaderTimeout: 10 * time.Second}
	go d.pageSrv.Serve(ln) //nolint:errcheck // returns on Close
	return nil
}

// Delays of the people who speak for the room, in scenario time.
const (
	markDelay    = 15 * time.Second
	severityLate = 20 * time.Second
	draftDelay   = 30 * time.Second
)

// publicPlay is where the room's public side is in the story.
type publicPlay struct {
	public, identified, monitoring bool
	succeeded                      int
}

// onPublic reacts to one event on behalf of the scribe, the commander and
// the comms role: the first crit alert behind a public component makes
// the incident public (the impact mark, the severity, the first update
// from the "investigating" template), the first approved mitigation gets
// "your transaction may have gone through", two mitigations that worked
// get "claims are queued, not lost", and a minute before the story ends
// the room says it is resolved. An update waiting for approval is
// approved by the commander or the deputy the simulator plays (the
// deputy only with autopilot when the human commands).
func (d *Demo) onPublic(ctx context.Context, p *publicPlay, ev incident.Event, autopilot bool) {
	cfg := d.Room.Config
	if cfg.Comms == nil {
		return
	}
	setup := d.Room.Config.Roles
	switch {
	case ev.Kind == incident.KindAlert && ev.Alert != nil && ev.Alert.Level == incident.LevelCrit && ev.Alert.Silenced == "" && !p.public && behindComponent(cfg, ev.Service):
		p.public = true
		at := ev.Time
		d.later(ctx, markDelay, func() {
			if who := d.holder(ctx, func(s *incident.State) string { return s.Roles.Scribe }, setup.Scribe); who != "" {
				d.Room.Engine.Do(ctx, incident.Mark{By: who, Marker: incident.MarkImpactStart, At: at})
			}
		})
		d.later(ctx, severityLate, func() {
			if who := d.holder(ctx, func(s *incident.State) string { return s.Roles.Commander }, setup.Commander); who != "" {
				d.Room.Engine.Do(ctx, incident.SetSeverity{By: who, Severity: "SEV2"})
			}
		})
		d.later(ctx, draftDelay, func() { d.draft(ctx, "investigating", true) })
	case ev.Kind == incident.KindRun && ev.Run != nil && ev.Run.State == incident.RunApproved && !p.identified:
		p.identified = true
		d.later(ctx, draftDelay, func() { d.draft(ctx, "may-have-gone-through", false) })
	case ev.Kind == incident.KindRun && ev.Run != nil && ev.Run.State == incident.RunSucceeded:
		p.succeeded++
		if p.succeeded == 2 && !p.monitoring {
			p.monitoring = true
			d.later(ctx, draftDelay, func() {
				d.draft(ctx, "queued", false)
				if who := d.holder(ctx, func(s *incident.State) string { return s.Roles.Scribe }, setup.Scribe); who != "" {
					d.Room.Engine.Do(ctx, incident.Mark{By: who, Marker: incident.MarkMitigated})
					if rep := d.Room.Engine.Do(ctx, incident.Note{By: who, Text: "follow-up: set the Lambda reserved concurrency from the forecast (90K req/s) before the next drop, not during it"}); rep.Err == nil {
						d.Room.Engine.Do(ctx, incident.MarkFollowUp{By: who, Seq: rep.Seq, FollowUp: true})
					}
				}
			})
		}
	case ev.Kind == incident.KindUpdate && ev.Update != nil && ev.Update.State == incident.UpdateAwaiting:
		id, hash, by := ev.Update.ID, ev.Update.Hash, ev.Update.By
		d.later(ctx, approveDelay, func() {
			snap := d.snapshot(ctx)
			if snap == nil || snap.Life.Pending == nil || snap.Life.Pending.ID != id {
				return
			}
			for _, who := range []string{snap.Roles.Commander, snap.Roles.Deputy} {
				if !d.sim(who) || who == by || (who == snap.Roles.Deputy && d.human == snap.Roles.Commander && !autopilot) {
					continue
				}
				if snap.MayApproveUpdate(d.Room.Engine.Roster(), who) == nil {
					d.Room.Engine.Do(ctx, incident.ApproveUpdate{By: who, ID: id, Hash: hash})
					return
				}
			}
		})
	}
}

// resolveAtEnd has the comms role say it is resolved a minute before the
// story ends, and the scribe mark when customers stopped being affected.
func (d *Demo) resolveAtEnd(ctx context.Context, p *publicPlay) {
	wait := d.End.Add(-time.Minute).Sub(d.Clock.Now())
	if wait <= 0 || d.Room.Config.Comms == nil {
		return
	}
	d.later(ctx, wait, func() {
		snap := d.snapshot(ctx)
		if snap == nil || len(snap.Life.Updates) == 0 || snap.Life.Status == incident.StatusResolved {
			return
		}
		if who := d.holder(ctx, func(s *incident.State) string { return s.Roles.Scribe }, d.Room.Config.Roles.Scribe); who != "" {
			d.Room.Engine.Do(ctx, incident.Mark{By: who, Marker: incident.MarkImpactEnd})
		}
		d.draft(ctx, "resolved", false)
	})
}

// draft has the comms role (or, with nobody in it, the commander the
// simulator plays) publish a template; first also sets each component to
// what its alerts suggest. Updates go out one at a time and in order: a
// draft waits while another waits for approval, and a later one for the
// first.
func (d *Demo) draft(ctx context.Context, template string, first bool) {
	d.draftTry(ctx, template, first, 0)
}

func (d *Demo) draftTry(ctx context.Context, template string, first bool, tries int) {
	snap := d.snapshot(ctx)
	cfg := d.Room.Config
	t := cfg.Comms.TemplateByID(template)
	if snap == nil || t == nil {
		return
	}
	if snap.Life.Pending != nil || !first && len(snap.Life.Updates) == 0 {
		if tries < 20 {
			d.later(ctx, approveDelay, func() { d.draftTry(ctx, template, first, tries+1) })
		}
		return
	}
	who := snap.Roles.Comms
	if who == "" {
		who = snap.Roles.Commander
	}
	if !d.sim(who) {
		return // the human speaks for the room
	}
	dr := incident.Draft{Title: t.Title, Status: t.Status, Body: t.Body, Template: t.ID, Notify: cfg.Comms.Statuspage.NotifyDefault()}
	for _, c := range cfg.Comms.Components {
		want := ""
		switch {
		case t.Status == incident.StatusResolved:
			want = incident.ComponentOperational
		case first:
			want, _ = snap.SuggestComponent(c.Services)
		}
		if want != "" && want != snap.Life.Component(c.ID) {
			dr.Components = append(dr.Components, incident.ComponentChange{ID: c.ID, Status: want})
		}
	}
	d.Room.Engine.Do(ctx, incident.SubmitUpdate{By: who, Draft: dr})
}

// holder is who holds a role now, if the simulator plays them ("" when
// the human holds it or nobody does).
func (d *Demo) holder(ctx context.Context, role func(*incident.State) string, fallback string) string {
	who := fallback
	if snap := d.snapshot(ctx); snap != nil {
		who = role(snap)
	}
	if !d.sim(who) {
		return ""
	}
	return who
}

func behindComponent(cfg *config.Config, service string) bool {
	for _, c := range cfg.Comms.Components {
		if slices.Contains(c.Services, service) {
			return true
		}
	}
	return false
}
