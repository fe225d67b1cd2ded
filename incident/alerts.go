package incident

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/textsafe"
)

// The alert pipeline, from an imported alert or a dead source to a page.
// Every step runs in the engine's decide and is recorded in events, so a
// replay of the journal gives the same groups, escalations and pages:
//
//   - identity: an imported alert is (origin, service, key); Prometheus
//     sources and the Alertmanager webhook share the origin and key by the
//     label-set fingerprint, so one rule seen both ways is one alert;
//   - policy: informational, unknown and silenced alerts are shown and
//     never escalate (Alert.Pages); a pane's empty answer follows its
//     no_data policy (rules.go);
//   - group: an alert joins a group when it fires (AlertInfo.Group): the
//     pane's (same service, and the pane's alerts: matchers or one of its
//     metrics), else one per rule or monitor on the service; a dead source
//     opens one alert listing the panes it blanks;
//   - escalation is per group: owner → backup → commander; the owner is
//     paged at escalation.owner when the file sets it (else told as it
//     fires); a service without a backup goes to the commander at the
//     backup delay;
//   - pages are per person: one PAGE names everything newly escalated to
//     them, at most one per PageEvery.

// PageEvery is the shortest time between two pages to one person.
const PageEvery = time.Minute

// maxPageItems bounds the groups one PAGE names; the rest are counted.
const maxPageItems = 50

// sourceOrigin is the origin of source alerts (a source not answering).
const sourceOrigin = "source"

// importLevel keeps the levels an imported alert may have.
func importLevel(l Level) Level {
	switch l {
	case LevelCrit, LevelWarn, LevelInfo:
		return l
	}
	return LevelUnknown
}

func (c ImportAlerts) decide(d *decider) error {
	seen := map[string]bool{}
	for _, x := range c.Alerts {
		svc := x.Service
		if _, ok := d.e.services[svc]; !ok {
			svc = "" // unmapped: shown to the commander rather than dropped
		}
		key := AlertInfo{Origin: c.Origin, Key: x.Key}
		seen[alertKey(svc, &key)] = true
		open := d.s.OpenAlert(svc, &key)
		lvl := importLevel(x.Level)
		name := x.Name
		if name == "" {
			name = x.Key
		}
		switch {
		case x.Firing && open == nil:
			info := &AlertInfo{ID: fmt.Sprintf("A%d", d.s.LastSeq+1), Pane: name, Level: lvl, Origin: c.Origin, Key: x.Key,
				Group: d.e.groupFor(svc, &x), Silenced: x.Silenced, StartsAt: x.StartsAt, Via: c.Via, Owner: d.owner(svc, lvl, x.Silenced)}
			d.emit(Event{Kind: KindAlert, Actor: c.Origin, Service: svc, Text: importText(c.Origin, name, &x, lvl, d.now), Alert: info})
		case x.Firing && (open.Level != lvl || open.Silenced != x.Silenced):
			info := &AlertInfo{ID: open.ID, Pane: open.Pane, Level: lvl, Origin: c.Origin, Key: x.Key, Group: open.Group, Silenced: x.Silenced}
			text := importText(c.Origin, name, &x, lvl, time.Time{})
			if open.Silenced != "" && x.Silenced == "" {
				text += " — no longer silenced"
			}
			d.emit(Event{Kind: KindAlert, Actor: c.Origin, Service: svc, Text: text, Alert: info})
		case !x.Firing && open != nil:
			d.resolve(c.Origin, open, resolveText(c.Origin, name, open, x.EndsAt, d.now), x.EndsAt)
		}
	}
	if !c.Complete {
		return nil
	}
	var gone []*Alert
	for _, id := range d.s.open {
		a := d.s.Alerts[id]
		// Via "" is an alert recorded before paths were: any complete set
		// of its origin may resolve it.
		if a.Origin == c.Origin && (c.Authoritative || a.Via == c.Via || a.Via == "") && !seen[alertKey(a.Service, &AlertInfo{Origin: a.Origin, Key: a.Key})] {
			gone = append(gone, a)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Seq < gone[j].Seq })
	for _, a := range gone {
		d.resolve(c.Origin, a, fmt.Sprintf("%s: %s no longer firing after %s", c.Origin, a.Pane, Age(d.now.Sub(a.FiredAt))), time.Time{})
	}
	return nil
}

// importText describes an imported alert firing (received at now; zero
// for a change of an alert already open).
func importText(origin, name string, x *ExternalAlert, lvl Level, now time.Time) string {
	text := fmt.Sprintf("%s: %s (%s)", origin, name, lvl)
	switch {
	case x.Text != "" && !lvl.Pages() && config.DefaultSeverities[strings.ToLower(x.Text)] == config.SeverityInfo:
		text = fmt.Sprintf("%s: %s: %s", origin, name, x.Text) // "No Data" says it all
	case x.Text != "":
		text = fmt.Sprintf("%s: %s: %s (%s)", origin, name, x.Text, lvl)
	}
	if x.Silenced != "" {
		return text + " — silenced: " + x.Silenced
	}
	// When it began, if before it arrived (Alertmanager's group_wait, a
	// monitor that was alerting before the room started), for alerts
	// that ask someone to act.
	if !now.IsZero() && lvl.Pages() {
		text += lateNote(x.StartsAt, now)
	}
	return text
}

// lateNote says when an alert began, if a second or more before it
// arrived: " · since 14:00:12Z (48s before it arrived)".
func lateNote(starts, arrived time.Time) string {
	if starts.IsZero() || arrived.Sub(starts) < time.Second {
		return ""
	}
	return fmt.Sprintf(" · since %s (%s before it arrived)", hms(starts), Age(arrived.Sub(starts)))
}

// LateNote is the note on when the alert began that its text ends with
// when it arrived late, or "" (a place too narrow for the whole text may
// leave it out first).
func (a *Alert) LateNote() string { return lateNote(a.StartsAt, a.FiredAt) }

func resolveText(origin, name string, a *Alert, ends, now time.Time) string {
	from := a.FiredAt
	if !a.StartsAt.IsZero() {
		from = a.StartsAt
	}
	if ends.IsZero() {
		return fmt.Sprintf("%s: %s resolved after %s", origin, name, Age(now.Sub(from)))
	}
	text := fmt.Sprintf("%s: %s resolved after %s", origin, name, Age(ends.Sub(from)))
	if now.Sub(ends) >= time.Second {
		text += fmt.Sprintf(" · ended %s, %s before it arrived", hms(ends), Age(now.Sub(ends)))
	}
	return text
}

func hms(t time.Time) string { return t.UTC().Format("15:04:05Z") }

// groupFor decides the group an imported alert joins on service svc: a
// pane whose alerts: matchers match its labels, else a pane that reads one
// of its metrics, else its rule's (monitor's) own group.
func (e *Engine) groupFor(svc string, x *ExternalAlert) string {
	rs := e.byService[svc]
	if len(x.Labels) > 0 {
		for _, r := range rs {
			if config.AnyMatch(r.alerts, x.Labels) {
				return r.groupKey()
			}
		}
	}
	for _, r := range rs {
		for _, m := range r.metrics {
			for _, xm := range x.Metrics {
				if m == xm {
					return r.groupKey()
				}
			}
		}
	}
	rule := x.Rule
	if rule == "" {
		rule = "alert:" + x.Key
	}
	return svc + "/" + rule
}

// rateLimitedHold is how long the panes of a source that reports itself
// rate-limited (or that its rate limit holds back) may stay blank before
// its source alert opens: the source
// answers and says when to ask again, so short waits only grey its panes,
// but a budget spent for minutes blinds the room.
const rateLimitedHold = 5 * time.Minute

// sourceAlerts opens, extends or resolves the one alert of each source
// whose panes changed staleness in this batch (d.dirty). A source alert
// opens once a pane has been STALE for its watchdog time (interval +
// timeout + 1 s; rateLimitedHold while the source is rate-limited), so a
// throttled poll only greys its panes.
func (d *decider) sourceAlerts() {
	if len(d.dirty) == 0 {
		return
	}
	ids := make([]string, 0, len(d.dirty))
	for id := range d.dirty {
		ids = append(ids, id)
	}
	clear(d.dirty)
	sort.Strings(ids)
	for _, src := range ids {
		rs := d.e.bySource[src]
		var stale []*rule
		due := false
		for _, r := range rs {
			if !r.staleSince.IsZero() {
				stale = append(stale, r)
				hold := r.staleAfter
				if r.limited || d.e.health[src] == SourceRateLimited {
					hold = max(hold, rateLimitedHold)
				}
				due = due || d.now.Sub(r.staleSince) >= hold
			}
		}
		svc := d.e.sourceService[src]
		open := d.s.OpenAlert(svc, &AlertInfo{Origin: sourceOrigin, Key: src})
		switch {
		case len(stale) == 0 && open != nil:
			d.resolve(sourceOrigin, open, fmt.Sprintf("source %s answers again: its panes are back after %s", src, Age(d.now.Sub(open.FiredAt))), time.Time{})
		case len(stale) > 0 && (open == nil && due || open != nil && len(stale) > len(open.Panes)):
			panes := make([]string, len(stale))
			for i, r := range stale {
				panes[i] = PaneKey(r.service, r.pane)
			}
			info := &AlertInfo{Pane: "source " + src, Level: LevelStale, Origin: sourceOrigin, Key: src, Panes: panes}
			if open != nil {
				info.ID, info.Group = open.ID, open.Group
			} else {
				info.ID, info.Group = fmt.Sprintf("A%d", d.s.LastSeq+1), "source:"+src
				info.Owner = d.owner(svc, LevelStale, "")
			}
			d.emit(Event{Kind: KindAlert, Actor: "rule", Service: svc, Text: d.sourceText(src, stale, len(rs)), Alert: info})
		}
	}
}

func (d *decider) sourceText(src string, stale []*rule, total int) string {
	var names []string
	for i, r := range stale {
		if i == 5 {
			names = append(names, fmt.Sprintf("+%d more", len(stale)-5))
			break
		}
		names = append(names, r.service+" "+r.title)
	}
	why := ""
	for _, r := range stale {
		if p := d.s.Panes[PaneKey(r.service, r.pane)]; p != nil && (p.Stale || r.limited) && p.Error != "" {
			why = p.Error
			break
		}
	}
	if why == "" {
		why = "no answer for " + Age(d.now.Sub(stale[0].staleSince))
	}
	return fmt.Sprintf("source %s STALE: %d of %d panes blank (%s): %s", src, len(stale), total, strings.Join(names, ", "), why)
}

// escalateGroups moves every group whose unacked alerts have waited past a
// delay one step: the owner at escalation.owner (when set), the backup at
// escalation.backup (the commander when the service has no backup), the
// commander at escalation.commander.
func (d *decider) escalateGroups() {
	esc := d.e.escalation
	var due []*Group
	for _, g := range d.s.Groups {
		if g.Unacked == 0 {
			continue
		}
		age := d.now.Sub(g.UnackedSince)
		if g.Escalated == 0 && age >= esc.Backup.D() || g.Escalated == 1 && age >= esc.Commander.D() || d.ownerDue(g, age) {
			due = append(due, g)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].UnackedSince.Equal(due[j].UnackedSince) {
			return due[i].UnackedSince.Before(due[j].UnackedSince)
		}
		return due[i].Key < due[j].Key
	})
	cmdr := d.s.Roles.Commander
	type target struct {
		step     int
		to, role string
	}
	var order []target
	batch := map[target][]*Group{}
	for _, g := range due {
		owners := d.s.Roles.Services[g.Service]
		var t target
		switch {
		case d.ownerDue(g, d.now.Sub(g.UnackedSince)) && d.now.Sub(g.UnackedSince) < esc.Backup.D():
			t = target{0, owners.Primary, "owner"}
		case g.Escalated == 0 && owners.Backup != "" && owners.Backup != owners.Primary:
			t = target{1, owners.Backup, "backup"}
		case cmdr != "":
			t = target{2, cmdr, "commander"}
		default:
			continue
		}
		if batch[t] == nil {
			order = append(order, t)
		}
		batch[t] = append(batch[t], g)
	}
	// A few groups escalate one event each. In a storm (more than
	// escalateEach groups to one person at one step within a minute) the
	// groups due are escalated together at most every escalateHold, one
	// event per maxEscalateBatch groups, so that the timeline (and the
	// engine's recent events) stay readable; the person's page, at most
	// one a minute anyway, lists every group.
	for _, t := range order {
		gs := batch[t]
		key := fmt.Sprintf("%s|%d", t.to, t.step)
		st := d.e.storms[key]
		if st == nil || d.now.Sub(st.since) >= time.Minute {
			st = &escStorm{since: d.now}
			d.e.storms[key] = st
		}
		if st.count+len(gs) <= escalateEach {
			st.count += len(gs)
			for _, g := range gs {
				d.escalate(g, t.step, t.to, t.role)
			}
			continue
		}
		if !st.last.IsZero() && d.now.Sub(st.last) < escalateHold {
			continue // held: still due at the next heartbeat
		}
		st.count += len(gs)
		st.last, st.since = d.now, d.now // the storm goes on while it escalates
		if len(gs) == 1 {
			d.escalate(gs[0], t.step, t.to, t.role)
			continue
		}
		for len(gs) > 0 {
			n := min(len(gs), maxEscalateBatch)
			if n == 1 {
				d.escalate(gs[0], t.step, t.to, t.role)
			} else {
				d.escalateMany(gs[:n], t.step, t.to, t.role)
			}
			gs = gs[n:]
		}
	}
}

// Escalation batching: up to escalateEach groups escalated to one person
// at one step in one moment are an event each; more are one event per
// maxEscalateBatch.
const (
	escalateEach     = 3
	escalateHold     = 15 * time.Second
	maxEscalateBatch = 500
)

// escStorm counts the groups escalated to one person at one step since
// the window began, and when the last storm batch went.
type escStorm struct {
	since, last time.Time
	count       int
}

// waitingMember is the alert that stands for a group in an escalation:
// its first member still waiting.
func (d *decider) waitingMember(g *Group) *Alert {
	for _, a := range d.s.Members(g) {
		if a.waiting() {
			return a
		}
	}
	return nil
}

// escalateMany escalates several groups to one person in one event.
func (d *decider) escalateMany(gs []*Group, step int, to, role string) {
	var first *Alert
	var firstG *Group
	var also []EscalatedGroup
	var names []string
	service, alerts := gs[0].Service, 0
	for _, g := range gs {
		rep := d.waitingMember(g)
		if rep == nil {
			continue
		}
		alerts += g.Unacked
		if g.Service != service {
			service = ""
		}
		if len(names) < 5 {
			n := rep.ID + " " + d.e.paneTitle(rep)
			if g.Service != "" {
				n = g.Service + " " + n
			}
			names = append(names, n)
		}
		if first == nil {
			first, firstG = rep, g
			continue
		}
		also = append(also, EscalatedGroup{Group: g.Key, Alert: rep.ID, Service: g.Service, Title: rep.Pane, Level: rep.Level, Count: g.Unacked})
	}
	if first == nil {
		return
	}
	n := 1 + len(also)
	list := strings.Join(names, "; ")
	if n > len(names) {
		list += fmt.Sprintf("; and %d more", n-len(names))
	}
	oldest := Age(d.now.Sub(gs[0].UnackedSince))
	text := fmt.Sprintf("%d alert groups (%d alerts) unacked, the oldest for %s: escalated to %s %s: %s", n, alerts, oldest, role, to, list)
	if step == 0 {
		text = fmt.Sprintf("%d alert groups (%d alerts) unacked, the oldest for %s: paging the owner %s: %s", n, alerts, oldest, to, list)
	}
	ai := &AlertInfo{ID: first.ID, Pane: first.Pane, Level: first.Level, Origin: first.Origin, Key: first.Key, Group: firstG.Key,
		To: to, Step: step, Count: firstG.Unacked, Also: also}
	if service == "" {
		ai.Service = firstG.Service
	}
	d.emit(Event{Kind: KindEscalate, Actor: "escalation", Service: service, Ref: first.Seq, Text: text, Alert: ai})
}

// ownerDue reports whether a group's owner is to be paged now: the file
// sets escalation.owner, the group has waited that long, and neither the
// owner nor anyone after them was paged for it yet.
func (d *decider) ownerDue(g *Group, age time.Duration) bool {
	owner := d.e.escalation.Owner.D()
	return owner > 0 && age >= owner && g.Escalated == 0 && !g.OwnerPaged && d.s.Roles.Services[g.Service].Primary != ""
}

func (d *decider) escalate(g *Group, step int, to, role string) {
	var rep *Alert
	for _, a := range d.s.Members(g) {
		if a.waiting() {
			rep = a
			break
		}
	}
	if rep == nil {
		return // cannot happen: Unacked > 0
	}
	age := Age(d.now.Sub(g.UnackedSince))
	what := rep.ID + " " + d.e.paneTitle(rep)
	if g.Unacked > 1 {
		what += fmt.Sprintf(" and %d more alerts", g.Unacked-1)
	}
	text := fmt.Sprintf("%s unacked for %s: escalated to %s %s", what, age, role, to)
	if step == 0 {
		text = fmt.Sprintf("%s unacked for %s: paging the owner %s", what, age, to)
	}
	d.emit(Event{Kind: KindEscalate, Actor: "escalation", Service: g.Service, Ref: rep.Seq,
		Text:  text,
		Alert: &AlertInfo{ID: rep.ID, Pane: rep.Pane, Level: rep.Level, Origin: rep.Origin, Key: rep.Key, Group: g.Key, To: to, Step: step, Count: g.Unacked}})
}

// sendPages pages each person with escalations pending, at most once per
// PageEvery: one PAGE names every group newly escalated to them that
// still waits (acked or resolved ones are left out).
func (d *decider) sendPages() {
	var who []string
	for h, q := range d.s.Pages {
		if len(q.Pending) > 0 && (q.Last.IsZero() || d.now.Sub(q.Last) >= PageEvery) {
			who = append(who, h)
		}
	}
	sort.Strings(who)
	for _, h := range who {
		q := d.s.Pages[h]
		byGroup := map[string]int{}
		var items []PageItem
		for _, it := range q.Pending {
			g := d.s.Groups[it.Group]
			if g == nil || g.Unacked == 0 || g.Escalated < it.Step {
				continue // acked, resolved, or started over since
			}
			if i, ok := byGroup[it.Group]; ok {
				items[i] = it // the later step of the same group
				continue
			}
			byGroup[it.Group] = len(items)
			items = append(items, it)
		}
		if len(items) == 0 {
			continue
		}
		info := &PageInfo{To: h, Items: items}
		if len(items) > maxPageItems {
			info.Items, info.More = items[:maxPageItems], len(items)-maxPageItems
		}
		d.emit(Event{Kind: KindPage, Actor: "escalation", Ref: items[0].Seq, Text: pageText(h, items), Page: info})
	}
}

func pageText(to string, items []PageItem) string {
	var b strings.Builder
	if len(items) == 1 {
		fmt.Fprintf(&b, "paging %s: ", to)
	} else {
		fmt.Fprintf(&b, "paging %s: %d alert groups escalated: ", to, len(items))
	}
	for i, it := range items {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(items)-10)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if it.Service != "" {
			b.WriteString(it.Service + " ")
		}
		b.WriteString(it.Alert + " " + textsafe.Line(it.Title))
		if it.Count > 1 {
			fmt.Fprintf(&b, " (+%d more)", it.Count-1)
		}
	}
	return b.String()
}
