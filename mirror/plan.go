package mirror

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// Outbox kinds.
const (
	kindRoot   = "root"
	kindLine   = "line"
	kindDigest = "digest"
	kindAlert  = "alert"
	kindPage   = "page"
	kindPublic = "public" // a published public update, in its own style
	kindThread = "thread" // a reply in an alert message's thread
)

type opKind int

const (
	opLine   opKind = iota // one timeline event (alone, or in a digest)
	opAlert                // post an alert's message
	opUpdate               // chat.update an alert's message
	opPage                 // a PAGE: mentions the paged person, names what was escalated
	opAuth                 // auth.test before the first post
	opThread               // an event of a full alert message, as a reply in its thread
)

// op is queued work. Line and page ops carry their event; alert ops work
// on the alert's pending events when they are taken.
type op struct {
	kind  opKind
	seq   int64 // position in the queue: the event that created it
	ev    incident.Event
	alert *alertMsg
	prio  bool
}

type alertState int

const (
	alertUnposted  alertState = iota // its post op is queued
	alertSending                     // a post or update is in flight
	alertPosted                      // it has a ts: updates go to it
	alertUncertain                   // the post's reply was lost: no ts (yet)
	alertDead                        // Slack refused it or will not update it
)

// alertMsg is one alert's (or alert group's) Slack message. It shows its
// first maxAlertLines events as lines under its header; the events of its
// alerts after that go to replies in its thread (threaded), while the
// header keeps the group's state, so every event is in some message and
// the channel gets one message per group however big it grows.
type alertMsg struct {
	model   alertModel       // what the message shows (as last sent)
	ts      string           // Slack's ts once known
	state   alertState       //
	pending []incident.Event // events not yet in the message
	queued  *op              // its queued post or update
	row     journal.SlackMessage
	refresh bool // the model changed without a send (re-render when possible)
	// lines is how many lines the message will show once what is planned
	// is sent; past maxAlertLines events go to its thread.
	lines int
	// threaded are the pending events whose line is in the thread: the
	// message's update counts them, a thread reply shows them.
	threaded map[int64]bool
	// checking: the message is uncertain and its reconciliation is under
	// way; its events wait (found: they update it; not found: the re-post
	// shows them) rather than going to the timeline and showing twice.
	checking bool
}

const maxChecks = 3

// reconItem is an uncertain post to look for in the channel history.
type reconItem struct {
	row    journal.SlackMessage
	alert  *alertMsg
	due    time.Time
	prev   string // ts of the newest message delivered before it
	cursor string // history page to read next
	pages  int    // history pages read in this search
	repost bool   // not in the history: post it again
}

// maxBlindPages bounds a history search that has no lower bound (a
// message left pending by a crash, with no delivered message before it
// on record): past it, the message just stays uncertain.
const maxBlindPages = 5

func decodeModel(b []byte, m *alertModel) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, m)
}

func encodeModel(m *alertModel) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("encode alert model: %v", err))
	}
	return b
}

// plan turns one committed event into queued work. m.mu is held.
func (m *Mirror) plan(ev incident.Event) {
	m.next, m.ingested = ev.Seq+1, ev.Seq
	if ev.Kind == incident.KindImportant && ev.Flag != nil {
		if *ev.Flag {
			m.important[ev.Ref] = true
		} else {
			delete(m.important, ev.Ref)
		}
	}
	if ev.Alert != nil && (ev.Kind == incident.KindAlert || ev.Kind == incident.KindAck ||
		ev.Kind == incident.KindResolve || ev.Kind == incident.KindEscalate) {
		m.planAlert(ev)
		if ev.Kind == incident.KindEscalate {
			// A batched ESCALATE stands for several groups: each group's
			// message shows it.
			for _, g := range ev.Alert.Also {
				m.planAlert(escalationOf(ev, g))
			}
		}
	} else {
		m.addLine(ev)
	}
	delete(m.covered, ev.Seq)
	m.advance()
}

// addLine queues an event as a timeline line, unless a message already
// carries it (a post made before a restart).
func (m *Mirror) addLine(ev incident.Event) {
	if m.covered[ev.Seq] {
		return
	}
	kind := opLine
	prio := false
	switch {
	case ev.Kind == incident.KindPage, ev.Kind == incident.KindOverdue:
		kind, prio = opPage, true
	case ev.Kind == incident.KindUpdate && ev.Update != nil && ev.Update.State == incident.UpdatePublished:
		// What customers are told is its own message, never in a digest.
		kind, prio = opPage, true
	}
	m.outstanding[ev.Seq]++
	m.enqueue(&op{kind: kind, seq: ev.Seq, ev: ev, prio: prio})
}

// planAlert routes an alert's event to its message. An ESCALATE has no
// message of its own: the PAGE that follows names it (with its seq) and
// mentions the person; the alert's message shows it too. The first alert
// of a group gets the message (mentioning the owner); later alerts of the
// same group update it, so a storm of one rule is one message.
func (m *Mirror) planAlert(ev incident.Event) {
	id := ev.Alert.ID
	a := m.alerts[id]
	firing := ev.Kind == incident.KindAlert && id == fmt.Sprintf("A%d", ev.Seq)
	grp := ev.Alert.Group
	if a == nil && firing && grp != "" {
		if g := m.groups[grp]; g != nil && g.state != alertDead {
			a = g
			m.alerts[id] = g
		}
	}
	if a != nil && ev.Kind == incident.KindEscalate && a.pendingHas(ev.Seq) {
		return // two groups of a batched ESCALATE share this message
	}
	if a != nil && a.model.has(ev.Seq) {
		// The message shows it already (and counted it in Open); an event
		// of its thread whose reply is not on record still needs one.
		if a.model.inThread(ev) && !m.covered[ev.Seq] {
			m.queueThread(a, ev)
		}
		return
	}
	if firing && grp != "" {
		m.groupOpen[grp]++
	}
	if ev.Kind == incident.KindResolve && grp != "" {
		if m.groupOpen[grp]--; m.groupOpen[grp] <= 0 {
			delete(m.groupOpen, grp)
			delete(m.groups, grp)
		}
	}
	if a == nil {
		switch {
		case firing && !m.covered[ev.Seq] && m.ownMessage(ev):
			m.mentionOwner(ev)
			a = &alertMsg{state: alertUnposted, pending: []incident.Event{ev}, lines: 1}
			a.queued = &op{kind: opAlert, seq: ev.Seq, alert: a, prio: ev.Alert.Level == incident.LevelCrit}
			m.alerts[id] = a
			if grp != "" && m.groupOpen[grp] > 0 {
				m.groups[grp] = a
			}
			m.outstanding[ev.Seq]++
			m.enqueue(a.queued)
		case ev.Kind != incident.KindEscalate:
			// In a digest, or an alert from before the mirror's time:
			// a line in the timeline.
			m.addLine(ev)
		}
		return
	}
	switch {
	case a.state == alertUnposted, a.state == alertSending, a.state == alertPosted, a.state == alertUncertain && a.checking:
		switch {
		case a.lines < maxAlertLines:
			a.lines++
		case m.covered[ev.Seq]:
			a.thread(ev) // its reply went out before a restart
		default:
			a.thread(ev)
			if ev.Kind != incident.KindEscalate { // a page carries an ESCALATE
				m.queueThread(a, ev)
			}
		}
		a.pending = append(a.pending, ev)
		m.outstanding[ev.Seq]++
		m.settle(a)
	default:
		// No message to update: the model keeps track (for a later
		// refresh if the message turns up) and the timeline gets a line.
		m.f.apply(&a.model, ev, false)
		a.refresh = true
		if ev.Kind != incident.KindEscalate {
			m.addLine(ev)
		}
	}
}

// escalationOf is a batched ESCALATE as one of its other groups sees it:
// the same event (seq, time, text, who is paged), standing for that group.
func escalationOf(ev incident.Event, g incident.EscalatedGroup) incident.Event {
	ev.Alert = &incident.AlertInfo{ID: g.Alert, Pane: g.Title, Level: g.Level, Group: g.Group, Count: g.Count,
		To: ev.Alert.To, Step: ev.Alert.Step}
	if g.Service != "" {
		ev.Service = g.Service
	}
	return ev
}

func (a *alertMsg) pendingHas(seq int64) bool {
	for _, ev := range a.pending {
		if ev.Seq == seq {
			return true
		}
	}
	return false
}

// thread marks a pending event as shown in the thread, not the message.
func (a *alertMsg) thread(ev incident.Event) {
	if a.threaded == nil {
		a.threaded = map[int64]bool{}
	}
	a.threaded[ev.Seq] = true
}

// queueThread queues an event's line for the message's thread. m.mu is
// held.
func (m *Mirror) queueThread(a *alertMsg, ev incident.Event) {
	m.outstanding[ev.Seq]++
	m.enqueue(&op{kind: opThread, seq: ev.Seq, ev: ev, alert: a})
}

// mentionOwner decides whether a new alert message mentions its owner:
// once a minute at most, and never when the owner's page does (see
// Options.OwnerPages). m.mu is held.
func (m *Mirror) mentionOwner(ev incident.Event) {
	owner := ev.Alert.Owner
	if owner == "" {
		return
	}
	if last, ok := m.mentioned[owner]; m.o.OwnerPages || ok && ev.Time.Sub(last) < incident.PageEvery {
		m.f.named[ev.Seq] = true
		if len(m.f.named) > 10000 {
			for seq := range m.f.named {
				if seq < ev.Seq-5000 {
					delete(m.f.named, seq)
				}
			}
		}
		return
	}
	m.mentioned[owner] = ev.Time
}

// ownMessage decides whether a new alert gets a message of its own (with
// an Ack button, updated in place) or, in a large backlog, a digest line.
// Critical alerts always get their own; alerts that ask no one to act
// (informational, silenced) are timeline lines.
func (m *Mirror) ownMessage(ev incident.Event) bool {
	if !ev.Alert.Level.Pages() || ev.Alert.Silenced != "" {
		return false
	}
	return ev.Alert.Level == incident.LevelCrit || len(m.main) <= m.o.DigestAfter
}

// settle queues what an alert needs next, when nothing of it is queued or
// in flight. m.mu is held.
func (m *Mirror) settle(a *alertMsg) {
	if a.state == alertSending {
		return
	}
	if a.queued != nil {
		if !a.queued.prio && risesToCrit(a.pending) {
			m.promote(a.queued)
		}
		return
	}
	if len(a.pending) == 0 && !a.refresh {
		return
	}
	switch a.state {
	case alertPosted:
		var seq int64
		switch {
		case len(a.pending) > 0:
			seq = a.pending[0].Seq
		case len(a.model.Seqs) > 0:
			seq = a.model.Seqs[0]
		}
		a.queued = &op{kind: opUpdate, seq: seq, alert: a, prio: risesToCrit(a.pending)}
		m.enqueue(a.queued)
	case alertUncertain, alertDead:
		if a.state == alertUncertain && a.checking {
			return // wait for the history check
		}
		// Turn what was waiting into timeline lines.
		for _, ev := range a.pending {
			m.f.apply(&a.model, ev, false)
			a.refresh = true
			if ev.Kind == incident.KindEscalate || a.threaded[ev.Seq] {
				m.doneSeq(ev.Seq) // its page, or its thread op (now a line), carries it
			} else {
				m.enqueue(&op{kind: opLine, seq: ev.Seq, ev: ev}) // keeps its outstanding count
			}
		}
		a.pending = nil
		clear(a.threaded)
	}
}

func risesToCrit(evs []incident.Event) bool {
	for _, ev := range evs {
		if ev.Kind == incident.KindAlert && ev.Alert.Level == incident.LevelCrit {
			return true
		}
	}
	return false
}

// enqueue adds an op in seq order: updates to their own queue (their
// own lane; priority ones first), other priority work to the priority
// queue, the rest to the main queue.
func (m *Mirror) enqueue(o *op) {
	q := &m.main
	switch {
	case o.kind == opUpdate:
		q = &m.upd
	case o.kind == opThread:
		q = &m.thr
	case o.prio:
		q = &m.prio
	}
	i := sort.Search(len(*q), func(i int) bool { return before(o, (*q)[i]) })
	*q = append(*q, nil)
	copy((*q)[i+1:], (*q)[i:])
	(*q)[i] = o
}

// before orders a queue: priority first, then by seq.
func before(a, b *op) bool {
	if a.prio != b.prio {
		return a.prio
	}
	return a.seq < b.seq
}

func (m *Mirror) promote(o *op) {
	q := &m.main
	if o.kind == opUpdate {
		q = &m.upd
	}
	for i, x := range *q {
		if x == o {
			*q = append((*q)[:i], (*q)[i+1:]...)
			break
		}
	}
	o.prio = true
	m.enqueue(o)
}

// doneSeq records that one op of an event is done and moves the cursor
// over the handled prefix.
func (m *Mirror) doneSeq(seqs ...int64) {
	for _, s := range seqs {
		if n := m.outstanding[s]; n > 1 {
			m.outstanding[s] = n - 1
		} else {
			delete(m.outstanding, s)
		}
	}
	m.advance()
}

func (m *Mirror) advance() {
	for m.cursor < m.ingested && m.outstanding[m.cursor+1] == 0 {
		m.cursor++
	}
	if m.stalled && m.room() {
		select {
		case m.space <- struct{}{}:
		default:
		}
	}
}

// ---- taking work -------------------------------------------------------------

// outgoing is one Slack call, rendered.
type outgoing struct {
	lane    lane
	kind    opKind
	rowKind string
	text    string
	blocks  bool // send the alert's blocks
	alert   *alertMsg
	model   alertModel       // the alert's model as rendered
	events  []incident.Event // the events it carries (alert ops)
	lines   []*op            // the ops it carries (lines, digests, pages)
	covered []int64
	recon   *reconItem // a history check, or the re-post of an uncertain message
	thread  string     // the parent's ts: a reply in its thread
	repost  bool
	plain   bool // Slack refused the blocks once: text only
	stub    bool // Slack refused every plainer form: only the markers
	refused string
	prevTS  string
}

// prioBurst is how many priority sends may go in a row while ordinary
// work waits: pages and critical alerts go first, but a note written in
// a storm of distinct critical alerts still goes out within six sends.
const prioBurst = 5

// take removes the next post from the queues and renders it. m.mu is
// held; the post lane's pacer has already allowed a send.
func (m *Mirror) take() *outgoing {
	for {
		var o *op
		switch {
		case len(m.prio) > 0 && (m.prioRun < prioBurst || len(m.main) == 0 || m.prio[0].kind == opAuth):
			o, m.prio = m.prio[0], m.prio[1:]
			m.prioRun++
		case len(m.main) > 0:
			m.prioRun = 0
			o = m.main[0]
			if o.kind == opLine && len(m.main) > m.o.DigestAfter {
				if g := m.digest(); g != nil {
					return g
				}
			}
			m.main = m.main[1:]
		default:
			return nil
		}
		if g := m.render(o); g != nil {
			return g
		}
	}
}

// threadReady says whether a queued thread reply can be sent (or turned
// into timeline lines) now: its message is posted, or will never be.
// m.mu is held.
func (m *Mirror) threadReady() bool {
	for _, o := range m.thr {
		if o.alert.replyable() || o.alert.lost() {
			return true
		}
	}
	return false
}

// replyable: the message has a ts to reply to.
func (a *alertMsg) replyable() bool { return a.state == alertPosted }

// lost: the message will not be found or updated: its thread's events go
// to the timeline instead.
func (a *alertMsg) lost() bool {
	return a.state == alertDead || a.state == alertUncertain && !a.checking
}

// takeThread packs the queued thread lines of the first message that can
// take them into one reply (at most MaxDigestChars); the lines of a
// message that was lost become timeline lines. nil: nothing to send now.
// m.mu is held; the post lane allows a send.
func (m *Mirror) takeThread() *outgoing {
	for {
		var a *alertMsg
		for _, o := range m.thr {
			if o.alert.replyable() || o.alert.lost() {
				a = o.alert
				break
			}
		}
		if a == nil {
			return nil
		}
		var took []*op
		var lines []string
		size := 200
		kept := m.thr[:0]
		full := false
		for _, o := range m.thr {
			if o.alert != a || full {
				kept = append(kept, o)
				continue
			}
			if a.lost() {
				o.kind, o.alert = opLine, nil
				m.enqueue(o)
				continue
			}
			l := m.f.line(o.ev, m.important[o.ev.Seq], maxDigestText)
			if size+len(l)+1 > m.o.MaxDigestChars && len(lines) > 0 {
				full = true
				kept = append(kept, o)
				continue
			}
			size += len(l) + 1
			lines = append(lines, l)
			took = append(took, o)
		}
		for i := len(kept); i < len(m.thr); i++ {
			m.thr[i] = nil
		}
		m.thr = kept
		if len(took) == 0 {
			continue // that message's lines went to the timeline
		}
		g := &outgoing{kind: opThread, rowKind: kindThread, lines: took, thread: a.ts, prevTS: a.ts,
			text: threadText(&a.model, lines, took[0].ev.Seq, took[len(took)-1].ev.Seq)}
		for _, o := range took {
			g.covered = append(g.covered, o.ev.Seq)
		}
		return g
	}
}

// takeUpdate removes the next update and renders it; nil when every
// queued update dissolved. m.mu is held; the update lane allows a send.
func (m *Mirror) takeUpdate() *outgoing {
	for len(m.upd) > 0 {
		o := m.upd[0]
		m.upd = m.upd[1:]
		if g := m.render(o); g != nil {
			return g
		}
	}
	return nil
}

// render turns one op into a call; nil when the op dissolved (an update
// for an alert that has no message any more became timeline lines).
func (m *Mirror) render(o *op) *outgoing {
	switch o.kind {
	case opAuth:
		return &outgoing{kind: opAuth, lane: laneRead}
	case opLine, opPage:
		kind := kindLine
		switch {
		case o.ev.Kind == incident.KindUpdate:
			kind = kindPublic
		case o.kind == opPage:
			kind = kindPage
		case o.ev.Kind == incident.KindDeclare:
			kind = kindRoot
		}
		return &outgoing{kind: o.kind, rowKind: kind, text: m.f.line(o.ev, m.important[o.ev.Seq], maxSingleText),
			lines: []*op{o}, covered: []int64{o.ev.Seq}, prevTS: m.lastTS}
	case opAlert, opUpdate:
		a := o.alert
		a.queued = nil
		if o.kind == opUpdate && a.state != alertPosted {
			m.settle(a)
			return nil
		}
		model := a.model.clone()
		for _, ev := range a.pending {
			m.f.apply(&model, ev, a.threaded[ev.Seq])
		}
		g := &outgoing{kind: o.kind, rowKind: kindAlert, alert: a, model: model, events: a.pending, blocks: true, prevTS: m.lastTS}
		if o.kind == opUpdate {
			g.lane = laneUpdate
		}
		for _, ev := range a.pending {
			g.covered = append(g.covered, ev.Seq)
		}
		g.text = m.f.alertText(&model)
		a.pending = nil
		a.refresh = false
		a.state = alertSending
		return g
	}
	return nil
}

// digest packs queued lines (in seq order, skipping alert work) into one
// message within the size limits.
func (m *Mirror) digest() *outgoing {
	var lines []string
	var took []*op
	size := 200
	kept := m.main[:0]
	full := false
	for _, o := range m.main {
		if full || o.kind != opLine {
			kept = append(kept, o)
			continue
		}
		l := m.f.line(o.ev, m.important[o.ev.Seq], maxDigestText)
		if size+len(l)+1 > m.o.MaxDigestChars && len(lines) > 0 {
			full = true
			kept = append(kept, o)
			continue
		}
		size += len(l) + 1
		lines = append(lines, l)
		took = append(took, o)
	}
	for i := len(kept); i < len(m.main); i++ {
		m.main[i] = nil
	}
	m.main = kept
	if len(took) == 0 {
		return nil
	}
	if len(took) == 1 {
		m.enqueue(took[0])
		return nil
	}
	g := &outgoing{kind: opLine, rowKind: kindDigest, lines: took, prevTS: m.lastTS,
		text: digestText(lines, took[0].ev.Seq, took[len(took)-1].ev.Seq)}
	for _, o := range took {
		g.covered = append(g.covered, o.ev.Seq)
	}
	return g
}

// requeue puts work that Slack did not take back where it was.
func (m *Mirror) requeue(g *outgoing) {
	switch {
	case g.repost:
		g.recon.repost = true
		if a := g.alert; a != nil {
			a.pending = append(append([]incident.Event(nil), g.events...), a.pending...)
			a.state = alertUncertain
		}
		m.recon = append(m.recon, g.recon)
	case g.recon != nil:
		m.recon = append(m.recon, g.recon)
	case g.alert != nil:
		a := g.alert
		a.pending = append(append([]incident.Event(nil), g.events...), a.pending...)
		if g.kind == opAlert {
			a.state = alertUnposted
			a.queued = &op{kind: opAlert, seq: g.covered[0], alert: a, prio: a.model.Level == incident.LevelCrit || risesToCrit(a.pending)}
			m.enqueue(a.queued)
		} else {
			a.state = alertPosted
			m.settle(a)
		}
	case g.kind == opAuth:
		m.prio = append([]*op{{kind: opAuth, prio: true}}, m.prio...)
	default:
		for _, o := range g.lines {
			m.enqueue(o)
		}
	}
}
