package paging

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/outbox"
	"github.com/warroom/warroom/textsafe"
)

// Event actions of the Events API v2.
const (
	actionTrigger     = "trigger"
	actionAcknowledge = "acknowledge"
	actionResolve     = "resolve"
)

// payload is a row's effect, as the journal stores it: never the routing
// key, only its route (the key is read from the environment when sent).
type payload struct {
	Action    string       `json:"action"`
	Route     config.Route `json:"route"`
	Dedup     string       `json:"dedup_key"`
	To        string       `json:"to,omitempty"`
	Summary   string       `json:"summary,omitempty"`
	Severity  string       `json:"severity,omitempty"`
	Source    string       `json:"source,omitempty"`
	Component string       `json:"component,omitempty"`
	Group     string       `json:"group,omitempty"`
	Class     string       `json:"class,omitempty"`
	Time      time.Time    `json:"time,omitzero"`
	Details   *details     `json:"details,omitempty"`
}

// details are a trigger's custom_details: who was paged and for what.
type details struct {
	Room   string   `json:"room"`
	Paged  string   `json:"paged"`
	Items  []detail `json:"alert_groups"`
	More   int      `json:"more,omitempty"`
	Seq    int64    `json:"page_event"`
	Reason string   `json:"reason"`
}

type detail struct {
	Service string `json:"service,omitempty"`
	Alert   string `json:"alert"`
	Title   string `json:"title"`
	Level   string `json:"level"`
	Step    string `json:"step"`
	Unacked int    `json:"unacked,omitempty"`
}

// pdState is what the room last told PagerDuty about an alert.
type pdState int

const (
	pdTriggered pdState = iota
	pdAcknowledged
	pdResolved
)

// pdAlert is one PagerDuty alert the room opened: a dedup_key on one
// integration (route). It carries the alert groups of the page that
// opened it and of the pages that updated it.
type pdAlert struct {
	route  config.Route
	dedup  string
	state  pdState
	groups map[string]time.Time // group key → its Opened when paged (a later group of that key is another problem)
}

// Field bounds of the Events API v2 (developer.pagerduty.com, "Send an
// Alert Event"): summary ≤ 1024 characters, dedup_key ≤ 255.
const (
	maxSummary = 1024
	maxDedup   = 255
)

// planner folds the journal into what PagerDuty was told, and plans the
// rows each new event asks for: a trigger per PAGE (one per person and
// page, never one per alert), an acknowledge or resolve when every group
// a PagerDuty alert carries is acked or resolved in the room.
type planner struct {
	cfg *config.Config

	mu      sync.Mutex
	st      *incident.State
	room    string // the room's id in dedup keys
	name    string
	alerts  map[string]*pdAlert   // route|dedup
	byGroup map[string][]*pdAlert // group key → alerts carrying it
	byDedup map[string][]*pdAlert // dedup key → alerts (one per route)
	// delivered are the webhook deliveries (event ids, X-Webhook-Ids)
	// that acked or resolved in the room, with their event's time: the
	// webhook's replay memory, rebuilt from the journal at each start.
	delivered map[string]time.Time
}

func newPlanner(cfg *config.Config) *planner {
	return &planner{cfg: cfg, st: incident.NewState(), alerts: map[string]*pdAlert{}, byGroup: map[string][]*pdAlert{}, byDedup: map[string][]*pdAlert{},
		delivered: map[string]time.Time{}}
}

// RoomID names a room in dedup keys: stable across restarts (it comes
// from the DECLARE event), distinct between rooms.
func RoomID(name string, declared time.Time) string {
	sum := sha256.Sum256([]byte(name + "\x00" + declared.UTC().Format(time.RFC3339Nano)))
	return "warroom-" + hex.EncodeToString(sum[:5])
}

// plan is the outbox.Planner.
func (p *planner) plan(je journal.Event, replay bool) []outbox.Row {
	ev, err := incident.FromJournal(je)
	if err != nil {
		return nil // an event this build cannot read plans nothing
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.Apply(ev)
	var rows []outbox.Row
	switch ev.Kind {
	case incident.KindDeclare:
		p.room, p.name = RoomID(ev.Text, ev.Time), ev.Text
	case incident.KindPage:
		rows = p.page(ev)
	case incident.KindAck, incident.KindResolve:
		p.remember(ev)
		rows = p.settle(ev)
	}
	if replay {
		return nil
	}
	return rows
}

func (p *planner) page(ev incident.Event) []outbox.Row {
	pg := ev.Page
	if pg == nil || len(pg.Items) == 0 {
		return nil
	}
	route := p.cfg.PagerDutyRoute(pg.To, pg.Items[0].Service)
	if route == "" {
		return nil
	}
	// The page updates the PagerDuty alert one of its groups already
	// holds open and unacknowledged on this integration, so repeated
	// escalations of a group are one alert; else it opens one for its
	// first group.
	lead := pg.Items[0]
	var alert *pdAlert
	for _, it := range pg.Items {
		for _, a := range p.byGroup[it.Group] {
			if a.route == route && a.state == pdTriggered && p.current(a, it.Group) {
				lead, alert = it, a
				break
			}
		}
		if alert != nil {
			break
		}
	}
	if alert == nil {
		dedup := p.dedup(lead.Group, "")
		// An alert acknowledged in PagerDuty sends no notification for new
		// triggers: a problem that came back after its ack is a new alert.
		if a := p.alerts[string(route)+"|"+dedup]; a != nil && a.state == pdAcknowledged {
			dedup = p.dedup(lead.Group, "#"+strconv.FormatInt(ev.Seq, 10))
		}
		alert = p.alerts[string(route)+"|"+dedup]
		switch {
		case alert == nil:
			alert = &pdAlert{route: route, dedup: dedup, groups: map[string]time.Time{}}
			p.alerts[string(route)+"|"+dedup] = alert
			p.byDedup[dedup] = append(p.byDedup[dedup], alert)
		case alert.state == pdResolved:
			// PagerDuty opens a new alert for a trigger on a resolved one.
			alert.groups = map[string]time.Time{}
		}
	}
	alert.state = pdTriggered
	for _, it := range pg.Items {
		g := p.st.Groups[it.Group]
		if g == nil {
			continue
		}
		if _, ok := alert.groups[it.Group]; !ok {
			p.byGroup[it.Group] = append(p.byGroup[it.Group], alert)
		}
		alert.groups[it.Group] = g.Opened
	}
	pl := p.trigger(ev, route, alert.dedup, lead)
	return []outbox.Row{p.row(ev.Seq, pl)}
}

// current reports whether the alert was paged for the group as it is now
// (not for an earlier group of the same key, since resolved).
func (p *planner) current(a *pdAlert, group string) bool {
	g := p.st.Groups[group]
	opened, ok := a.groups[group]
	return ok && g != nil && g.Opened.Equal(opened)
}

func (p *planner) dedup(group, suffix string) string {
	d := p.room + ":" + group + suffix
	if len(d) > maxDedup {
		sum := sha256.Sum256([]byte(group))
		d = p.room + ":" + hex.EncodeToString(sum[:12]) + suffix
	}
	return d
}

var stepNames = map[int]string{0: "owner", 1: "backup", 2: "commander"}

func severity(l incident.Level) (string, int) {
	switch l {
	case incident.LevelCrit:
		return "critical", 4
	case incident.LevelStale:
		return "error", 3
	case incident.LevelWarn, incident.LevelNoData:
		return "warning", 2
	}
	return "info", 1
}

func (p *planner) trigger(ev incident.Event, route config.Route, dedup string, lead incident.PageItem) payload {
	pg := ev.Page
	sev, rank := "info", 0
	d := &details{Room: p.name, Paged: pg.To, More: pg.More, Seq: ev.Seq, Reason: "paged by the war room's escalation (owner, backup, commander)"}
	for _, it := range pg.Items {
		s, r := severity(it.Level)
		if r > rank {
			sev, rank = s, r
		}
		d.Items = append(d.Items, detail{Service: it.Service, Alert: it.Alert, Title: clip(textsafe.Line(it.Title), 300), Level: string(it.Level),
			Step: stepNames[it.Step], Unacked: it.Count})
	}
	summary := strings.TrimPrefix(textsafe.Line(ev.Text), "paging "+pg.To+": ")
	summary = clip(fmt.Sprintf("%s — %s, paged as %s", summary, p.name, stepNames[lead.Step]), maxSummary)
	source := lead.Service
	if source == "" {
		source = "warroom"
	}
	return payload{Action: actionTrigger, Route: route, Dedup: dedup, To: pg.To, Summary: summary, Severity: sev, Source: source,
		Component: lead.Service, Group: p.name, Class: clip(textsafe.Line(lead.Title), 200), Time: ev.Time, Details: d}
}

func (p *planner) row(seq int64, pl payload) outbox.Row {
	b, err := json.Marshal(pl)
	if err != nil {
		panic(fmt.Sprintf("encode a PagerDuty row: %v", err)) // plain data
	}
	key := fmt.Sprintf("%d:%s:%s:%s", seq, pl.Action, pl.Route, pl.Dedup)
	return outbox.Row{Dest: DestPagerDuty, Key: key, Seq: seq, Payload: b}
}

// settle plans acknowledges and resolves after an ACK or RESOLVE: a
// PagerDuty alert is acknowledged once every group it carries is acked (or
// resolved) in the room, and resolved once every one is resolved.
func (p *planner) settle(ev incident.Event) []outbox.Row {
	if ev.Alert == nil {
		return nil
	}
	group := ev.Alert.Group
	if a := p.st.Alerts[ev.Alert.ID]; a != nil {
		group = a.Group
	}
	var rows []outbox.Row
	var resolved []*pdAlert
	for _, a := range p.byGroup[group] {
		if a.state == pdResolved {
			continue
		}
		gone, quiet := true, true
		for key := range a.groups {
			g := p.st.Groups[key]
			if g == nil || !p.current(a, key) {
				continue // resolved since it was paged
			}
			gone = false
			if g.Unacked > 0 {
				quiet = false
			}
		}
		switch {
		case gone:
			a.state = pdResolved
			resolved = append(resolved, a)
			rows = append(rows, p.row(ev.Seq, payload{Action: actionResolve, Route: a.route, Dedup: a.dedup}))
		case quiet && a.state == pdTriggered:
			a.state = pdAcknowledged
			rows = append(rows, p.row(ev.Seq, payload{Action: actionAcknowledge, Route: a.route, Dedup: a.dedup}))
		}
	}
	for _, a := range resolved {
		p.forget(a)
	}
	return rows
}

// forget drops a resolved alert from the group index (it is kept by key,
// so a dedup key that comes back is known).
func (p *planner) forget(a *pdAlert) {
	for g := range a.groups {
		as := p.byGroup[g]
		kept := make([]*pdAlert, 0, len(as))
		for _, x := range as {
			if x != a {
				kept = append(kept, x)
			}
		}
		if len(kept) == 0 {
			delete(p.byGroup, g)
		} else {
			p.byGroup[g] = kept
		}
	}
}

// remember notes the deliveries an ACK or RESOLVE came in. Entries older
// than the webhook's MaxAge go once there are many: the webhook refuses
// deliveries that old anyway.
func (p *planner) remember(ev incident.Event) {
	if ev.Alert == nil || len(ev.Alert.Delivery) == 0 {
		return
	}
	if len(p.delivered) >= maxSeen {
		for id, at := range p.delivered {
			if ev.Time.Sub(at) > DefaultMaxAge {
				delete(p.delivered, id)
			}
		}
	}
	for _, id := range ev.Alert.Delivery {
		p.delivered[id] = ev.Time
	}
}

// Delivered reports whether any of ids (a webhook delivery's event id and
// X-Webhook-Id) already acked or resolved something in the room.
func (p *planner) Delivered(ids []string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if _, ok := p.delivered[id]; ok {
			return true
		}
	}
	return false
}

// Groups are the alert groups the PagerDuty alert with this dedup key
// carries, sorted (none: not this room's).
func (p *planner) Groups(dedup string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, a := range p.byDedup[dedup] {
		for g := range a.groups {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	sort.Strings(out)
	return out
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n -= len("…")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
