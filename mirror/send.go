package mirror

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// ---- pacing -----------------------------------------------------------------

// lane is a Slack rate limit the mirror paces itself under. Slack limits
// each method separately: chat.postMessage about one message a second per
// channel (its special tier), chat.update and conversations.history 50+
// a minute per workspace (Tier 3), auth.test 100+ (Tier 4). A 429 on one
// method holds back that lane only.
type lane int

const (
	lanePost   lane = iota // chat.postMessage
	laneUpdate             // chat.update
	laneRead               // conversations.history, auth.test
	nLanes
)

var laneMethod = [nLanes]string{"chat.postMessage", "chat.update", "conversations.history"}

// pacer is one lane's budget: a token bucket (rate, burst) and a block
// until a 429's Retry-After has passed.
type pacer struct {
	rate, burst  float64
	tokens       float64
	last         time.Time
	blockedUntil time.Time
	why          string // why it is blocked
	cause        *Error
}

func newPacer(rate float64, burst int) pacer {
	return pacer{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (p *pacer) refill(now time.Time) {
	if !p.last.IsZero() && now.After(p.last) {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	if now.After(p.last) {
		p.last = now
	}
}

// wait is how long until the next call may go out.
func (p *pacer) wait(now time.Time) time.Duration {
	p.refill(now)
	w := max(p.blockedUntil.Sub(now), 0)
	if p.tokens < 1 {
		w = max(w, time.Duration((1-p.tokens)/p.rate*float64(time.Second))+time.Millisecond)
	}
	return w
}

func (p *pacer) take(now time.Time) {
	p.refill(now)
	p.tokens--
}

// limited blocks the lane until now+ra. now is read after the 429
// arrived, so it is never earlier than Slack's own clock's idea of it.
func (p *pacer) limited(now time.Time, e *Error, why string) {
	if until := now.Add(e.RetryAfter); until.After(p.blockedUntil) {
		p.blockedUntil, p.why, p.cause = until, why, e
	}
	p.tokens = 0
}

// ---- the sending loop ---------------------------------------------------------

func (m *Mirror) sendLoop(ctx context.Context) {
	for ctx.Err() == nil {
		m.mu.Lock()
		now := m.clk.Now()
		g, wait := m.pick(now)
		if g != nil {
			m.lanes[g.lane].take(now)
		}
		m.mu.Unlock()
		if g == nil {
			if wait != 0 {
				m.park(ctx, wait)
			}
			continue
		}
		m.execute(ctx, g)
	}
}

// park waits for the clock (wait > 0), new work, or the end. wait < 0:
// nothing to do until woken.
func (m *Mirror) park(ctx context.Context, wait time.Duration) {
	var timer <-chan time.Time
	if wait > 0 {
		timer = m.clk.After(wait)
	}
	select {
	case <-ctx.Done():
	case <-m.wake:
	case <-timer:
	}
}

// pick chooses the next call: auth.test before anything; then, each on
// its own lane when that lane's pacer allows, a refused message sent
// plainer, priority posts (critical alerts, pages), alert updates, due
// reconciliations, and the timeline in seq order. It returns the wait
// instead when no lane with work may send. m.mu is held.
func (m *Mirror) pick(now time.Time) (*outgoing, time.Duration) {
	if m.stopped {
		return nil, -1
	}
	due, reconWait := -1, time.Duration(-1)
	for i, r := range m.recon {
		if !now.Before(r.due) {
			due = i
			break
		}
		if d := r.due.Sub(now); reconWait < 0 || d < reconWait {
			reconWait = d
		}
	}
	threads := len(m.thr) > 0 && m.threadReady()
	if m.retry == nil && len(m.prio)+len(m.main)+len(m.upd) == 0 && due < 0 && !threads {
		return nil, reconWait
	}
	if w := m.backoffUntil.Sub(now); w > 0 {
		return nil, w // Slack is failing: every lane waits
	}
	wait := time.Duration(-1)
	free := func(l lane) bool {
		w := m.lanes[l].wait(now)
		if w > 0 && (wait < 0 || w < wait) {
			wait = w
		}
		return w == 0
	}
	if len(m.prio) > 0 && m.prio[0].kind == opAuth {
		if !free(laneRead) {
			return nil, wait
		}
		m.prio = m.prio[1:]
		return &outgoing{kind: opAuth, lane: laneRead}, 0
	}
	postFirst := m.retry != nil || len(m.prio) > 0
	if postFirst && free(lanePost) {
		if g := m.retry; g != nil {
			m.retry = nil
			return g, 0
		}
		if g := m.take(); g != nil {
			return g, 0
		}
	}
	if len(m.upd) > 0 && free(laneUpdate) {
		if g := m.takeUpdate(); g != nil {
			return g, 0
		}
	}
	if due >= 0 && !postFirst {
		r := m.recon[due]
		if r.repost && free(lanePost) {
			m.recon = append(m.recon[:due], m.recon[due+1:]...)
			return m.repostOutgoing(r), 0
		}
		if !r.repost && free(laneRead) {
			m.recon = append(m.recon[:due], m.recon[due+1:]...)
			return &outgoing{kind: opLine, recon: r, lane: laneRead}, 0
		}
	}
	if !postFirst && len(m.main) > 0 && free(lanePost) {
		if g := m.take(); g != nil {
			return g, 0
		}
	}
	// Thread replies are the history of a group that is already in the
	// channel: they go when nothing else waits for the post lane.
	if threads && !postFirst && len(m.main) == 0 && free(lanePost) {
		if g := m.takeThread(); g != nil {
			return g, 0
		}
		if len(m.main) > 0 {
			return nil, 0 // a lost message's thread became timeline lines
		}
	}
	if wait < 0 {
		// Work dissolved while it was taken (an update that became lines):
		// look again at once.
		return nil, 0
	}
	return nil, wait
}

// ---- outcomes -------------------------------------------------------------------

// transportError is a call that got no HTTP answer. sent says whether the
// request had been written when it failed: if so Slack may have applied
// it.
type transportError struct {
	sent bool
	err  error
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// call carries what the HTTP layer saw of one call's answer.
type call struct{ retryAfter time.Duration }

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// succeeded notes a good call. m.mu is held.
func (m *Mirror) succeeded(now time.Time) {
	m.failures = 0
	m.backoffUntil = time.Time{}
	if m.state != StateStopped {
		m.state = StateOK
	}
	m.errText, m.cause = "", nil
	if m.down {
		m.down = false
		text := textRecovered + "; catching up"
		if !m.downSince.IsZero() {
			text = fmt.Sprintf("%s after %s down; catching up", textRecovered, incident.Age(now.Sub(m.downSince)))
		}
		m.record(text)
	}
}

// failed backs off after a call that did not go through. m.mu is held.
func (m *Mirror) failed(now time.Time, e *Error) {
	m.failures++
	m.errText, m.cause = m.redact(e.Reason), e
	d := time.Second << min(m.failures-1, 10)
	d = min(d, m.o.MaxBackoff)
	d = d/2 + time.Duration(m.rng.Int64N(int64(d/2)+1)) // equal jitter
	m.backoffUntil = now.Add(d)
	if m.failures >= m.o.DownAfter && !m.down {
		m.down, m.downSince = true, now
		m.state = StateDown
		m.record(fmt.Sprintf("%s: %s; events are queued", textDown, e.Code))
	}
	if m.down {
		m.state = StateDown
	}
}

// limited holds back one lane after a rate limit. m.mu is held.
func (m *Mirror) limited(now time.Time, l lane, e *Error) {
	why := m.redact(fmt.Sprintf("%s on %s, retry after %s", e.Reason, laneMethod[l], e.RetryAfter))
	m.lanes[l].limited(now, e, why)
	m.errText, m.cause = why, e
}

func (m *Mirror) stop(e *Error) {
	m.stopped = true
	m.state = StateStopped
	m.errText, m.cause = m.redact(e.Reason), e
	m.logf("mirror: stopped: %s", e.Reason)
	m.record(textStopped + ": " + e.Reason)
}

// ---- calls ------------------------------------------------------------------------

func (m *Mirror) execute(ctx context.Context, g *outgoing) {
	switch {
	case g.kind == opAuth:
		cctx, c := withCall(ctx)
		resp, err := m.api.AuthTestContext(cctx)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if err == nil {
			m.botID, m.botUser = resp.BotID, resp.UserID
		}
		m.after(g, m.classify(err, c.retryAfter), m.clk.Now())
	case g.recon != nil && !g.repost:
		m.reconcile(ctx, g.recon)
	case g.kind == opUpdate:
		m.update(ctx, g)
	default:
		m.post(ctx, g)
	}
}

// after handles the generic outcomes (not OK, not message-specific) of a
// call whose work was not done: it goes back in the queue. m.mu is held.
func (m *Mirror) after(g *outgoing, e *Error, now time.Time) {
	switch {
	case e == nil:
		m.succeeded(now)
		return
	case e.Class == RateLimited:
		m.limited(now, g.lane, e)
	case e.Class == Fatal:
		m.stop(e)
	default:
		m.failed(now, e)
	}
	m.requeue(g)
}

// post sends a new message. Its outbox row is written as pending first,
// so that a crash mid-request leaves a trace: that message is uncertain,
// never posted again blindly.
func (m *Mirror) post(ctx context.Context, g *outgoing) {
	now := m.clk.Now()
	var row journal.SlackMessage
	if g.repost {
		row = g.recon.row
		row.State, row.Text, row.Updated = journal.SlackPending, g.text, now
		if g.alert != nil {
			row.Body = encodeModel(&g.model)
		}
		if err := m.j.UpdateSlackMessage(ctx, &row, "", 0); err != nil {
			m.dbFailed(g, err)
			return
		}
	} else {
		// A thread reply's AfterTS is its parent: where to look for it.
		row = journal.SlackMessage{Seqs: g.covered, Channel: m.o.Channel, Kind: g.rowKind, State: journal.SlackPending, Text: g.text, AfterTS: g.prevTS, Updated: now}
		if g.alert != nil {
			row.AlertID = g.model.ID
			row.Body = encodeModel(&g.model)
			row.Seqs = g.model.lineSeqs(g.covered) // the rest is in its thread
		}
		if err := m.j.InsertSlackMessage(ctx, &row); err != nil {
			m.dbFailed(g, err)
			return
		}
	}
	// No previews of links people typed into notes.
	opts := []slack.MsgOption{slack.MsgOptionText(g.text, false), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}
	if g.thread != "" {
		opts = append(opts, slack.MsgOptionTS(g.thread))
	}
	if g.blocks && !g.plain {
		opts = append(opts, slack.MsgOptionBlocks(m.f.alertBlocks(&g.model, g.text)...))
	}
	cctx, c := withCall(ctx)
	_, ts, err := m.api.PostMessageContext(cctx, m.o.Channel, opts...)
	if ctx.Err() != nil {
		return // shutting down: the row stays pending (uncertain at restart)
	}
	now = m.clk.Now()
	e := m.classify(err, c.retryAfter)

	m.mu.Lock()
	if e != nil && e.Class == Content {
		// Refused, not applied. Send it plainer, next on this lane and
		// through its pacer; when even a one-line stub is refused, Slack
		// refuses everything we send: stop, with everything queued.
		from := e.Code
		if m.plainer(g, from) {
			m.logf("mirror: Slack refused a message (%s); sending it plainer", from)
			m.errText, m.cause = m.redact(e.Reason), e
			m.retry = g
			m.mu.Unlock()
			m.forget(ctx, g, row)
			return
		}
		e = &Error{Class: Fatal, Code: from, Reason: fmt.Sprintf("%s: Slack refuses even a one-line message from the bot", from)}
	}
	if e == nil || e.Class == Uncertain {
		cursor := int64(0)
		if e == nil {
			row.State, row.TS = journal.SlackDelivered, ts
			if g.stub {
				row.Error = g.refused // delivered as a stub
			}
			if ts > m.lastTS && g.thread == "" {
				m.lastTS = ts
			}
			m.succeeded(now)
			if g.repost {
				m.uncertain--
			}
		} else {
			row.State, row.WasUncertain = journal.SlackUncertain, true
			if !g.repost {
				m.uncertain++
			}
			m.errText, m.cause = m.redact(e.Reason), e
			checking := m.o.ReconcileAfter > 0 && row.Checks < maxChecks
			if checking {
				m.recon = append(m.recon, &reconItem{row: row, alert: g.alert, due: now.Add(m.o.ReconcileAfter), prev: g.prevTS})
			}
			if g.alert != nil {
				g.alert.checking = checking
			}
		}
		row.Updated = now
		if a := g.alert; a != nil {
			a.row = row
			a.model = g.model
			for _, ev := range g.events {
				delete(a.threaded, ev.Seq)
			}
			if row.State == journal.SlackDelivered {
				a.state, a.ts, a.checking = alertPosted, ts, false
			} else {
				a.state = alertUncertain
			}
			m.settle(a)
		}
		m.doneSeq(g.covered...)
		cursor = m.cursorToSave()
		m.mu.Unlock()
		if err := m.j.UpdateSlackMessage(ctx, &row, m.o.CursorName, cursor); err != nil {
			m.setErr("outbox: " + err.Error())
		} else {
			m.savedCursorAt(cursor)
		}
		return
	}
	// Not applied: the work is queued again.
	if g.repost {
		g.recon.row.Updated = now
	}
	m.after(g, e, now)
	m.mu.Unlock()
	m.forget(ctx, g, row)
}

// forget undoes the pending row of a post Slack did not apply: a new
// post's row goes, a re-post's row is uncertain again.
func (m *Mirror) forget(ctx context.Context, g *outgoing, row journal.SlackMessage) {
	var err error
	if g.repost {
		row = g.recon.row
		err = m.j.UpdateSlackMessage(ctx, &row, "", 0)
	} else {
		err = m.j.DeleteSlackMessage(ctx, row.ID)
	}
	if err != nil {
		m.setErr("outbox: " + err.Error())
	}
}

// plainer makes a refused message plainer: no blocks, then a text cut to
// one section, then a one-line stub that names its events (their #seq
// markers) and says Slack refused the rest. false: it is a stub already.
func (m *Mirror) plainer(g *outgoing, code string) bool {
	switch {
	case g.blocks && !g.plain:
		g.plain = true
	case utf8.RuneCountInString(g.text) > maxSectionText:
		g.text = clipLines(g.text, maxSectionText) + "\n_(shortened: Slack refused the full text)_"
	case !g.stub:
		g.stub, g.refused = true, code
		g.text = m.f.stub(g, code)
	default:
		return false
	}
	return true
}

func (m *Mirror) dbFailed(g *outgoing, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed(m.clk.Now(), &Error{Class: Retryable, Code: "journal", Reason: "outbox: " + err.Error()})
	m.requeue(g)
}

// cursorToSave is the cursor to persist with the next write (0: no
// change). m.mu is held.
func (m *Mirror) cursorToSave() int64 {
	if m.cursor > m.savedCursor {
		return m.cursor
	}
	return 0
}

func (m *Mirror) savedCursorAt(c int64) {
	if c == 0 {
		return
	}
	m.mu.Lock()
	if c > m.savedCursor {
		m.savedCursor = c
	}
	m.mu.Unlock()
}

// update rewrites an alert's message. chat.update is idempotent, so a
// lost reply is simply tried again.
func (m *Mirror) update(ctx context.Context, g *outgoing) {
	a := g.alert
	blocks := m.f.alertBlocks(&g.model, g.text)
	cctx, c := withCall(ctx)
	_, _, _, err := m.api.UpdateMessageContext(cctx, m.o.Channel, a.ts, slack.MsgOptionText(g.text, false), slack.MsgOptionBlocks(blocks...))
	if ctx.Err() != nil {
		m.mu.Lock()
		m.requeue(g)
		m.mu.Unlock()
		return
	}
	now := m.clk.Now()
	e := m.classify(err, c.retryAfter)
	m.mu.Lock()
	switch {
	case e == nil:
		m.succeeded(now)
		a.model = g.model
		for _, ev := range g.events {
			delete(a.threaded, ev.Seq)
		}
		a.state = alertPosted
		a.row.Body = encodeModel(&a.model)
		a.row.Updated = now
		row := a.row
		m.doneSeq(g.covered...)
		m.settle(a)
		cursor := m.cursorToSave()
		m.mu.Unlock()
		if err := m.j.UpdateSlackMessage(ctx, &row, m.o.CursorName, cursor); err != nil {
			m.setErr("outbox: " + err.Error())
		} else {
			m.savedCursorAt(cursor)
		}
		return
	case e.Class == Gone, e.Class == Content:
		// The message cannot be updated (deleted, too old, refused):
		// from now on its events go to the timeline as lines.
		m.errText, m.cause = m.redact(e.Reason), e
		m.logf("mirror: cannot update the message of %s: %s", a.model.ID, e.Code)
		a.state = alertDead
		a.pending = append(append([]incident.Event(nil), g.events...), a.pending...)
		a.row.Error = e.Code
		row := a.row
		m.settle(a)
		m.mu.Unlock()
		if err := m.j.UpdateSlackMessage(ctx, &row, "", 0); err != nil {
			m.setErr("outbox: " + err.Error())
		}
		return
	case e.Class == Uncertain:
		e = &Error{Class: Retryable, Code: e.Code, Reason: e.Reason} // idempotent: send it again
	}
	m.after(g, e, now)
	m.mu.Unlock()
}

// reconcile looks for an uncertain post in the channel's history: found,
// it is delivered after all (with its ts); not found, it is posted again,
// marked as a possible duplicate.
func (m *Mirror) reconcile(ctx context.Context, it *reconItem) {
	cctx, c := withCall(ctx)
	var msgs []slack.Message
	var hasMore bool
	var next string
	var err error
	if it.row.Kind == kindThread {
		// A thread reply is not in the channel's history: read its thread.
		msgs, hasMore, next, err = m.api.GetConversationRepliesContext(cctx, &slack.GetConversationRepliesParameters{
			ChannelID: m.o.Channel, Timestamp: it.row.AfterTS, Limit: 200, Cursor: it.cursor})
	} else {
		var h *slack.GetConversationHistoryResponse
		h, err = m.api.GetConversationHistoryContext(cctx, &slack.GetConversationHistoryParameters{ChannelID: m.o.Channel, Oldest: it.prev, Limit: 200, Cursor: it.cursor})
		if err == nil {
			msgs, hasMore, next = h.Messages, h.HasMore, h.ResponseMetaData.NextCursor
		}
	}
	if ctx.Err() != nil {
		return
	}
	now := m.clk.Now()
	e := m.classify(err, c.retryAfter)
	m.mu.Lock()
	if e != nil && e.Class == RateLimited {
		m.limited(now, laneRead, e)
		it.due = now
		m.recon = append(m.recon, it)
		m.mu.Unlock()
		return
	}
	it.row.Checks++
	it.row.Updated = now
	switch {
	case e == nil:
		m.succeeded(now)
	case e.Class == Retryable, e.Class == Uncertain:
		m.failed(now, e)
		if it.row.Checks < maxChecks {
			it.due = now.Add(m.o.ReconcileAfter)
			m.recon = append(m.recon, it)
		} else {
			m.giveUp(it)
		}
		row := it.row
		m.mu.Unlock()
		m.j.UpdateSlackMessage(ctx, &row, "", 0) //nolint:errcheck // best effort bookkeeping
		return
	default:
		// Reading history is not allowed (missing scope, say): the message
		// stays uncertain. Posting goes on.
		m.logf("mirror: cannot check history for an uncertain message (%s); it stays uncertain", e.Code)
		it.row.Error = e.Code
		m.giveUp(it)
		row := it.row
		m.mu.Unlock()
		m.j.UpdateSlackMessage(ctx, &row, "", 0) //nolint:errcheck
		return
	}
	found := ""
	for _, msg := range msgs {
		if m.ours(msg) && sameMessage(it.row.Text, msg.Text) {
			found = msg.Timestamp
			break
		}
	}
	switch {
	case found != "":
		it.row.State, it.row.TS = journal.SlackDelivered, found
		m.uncertain--
		if a := it.alert; a != nil {
			a.state, a.ts, a.checking = alertPosted, found, false
			a.row = it.row
			m.settle(a)
		}
	case hasMore && next != "" && (it.prev != "" || it.pages+1 < maxBlindPages):
		it.cursor = next
		it.pages++
		it.due = now
		m.recon = append(m.recon, it)
	case hasMore:
		// Searched as far back as is reasonable without a lower bound:
		// posting again could duplicate it, so it stays uncertain.
		m.logf("mirror: an uncertain message was not found in the recent history; it stays uncertain")
		it.row.Error = "not found in recent history"
		m.giveUp(it)
	default:
		it.repost, it.due, it.cursor = true, now, ""
		m.recon = append(m.recon, it)
	}
	row := it.row
	m.mu.Unlock()
	if err := m.j.UpdateSlackMessage(ctx, &row, "", 0); err != nil {
		m.setErr("outbox: " + err.Error())
	}
}

// ours says whether a history message was posted by this bot (auth.test
// named it); a person's message that quotes our markers is not ours.
func (m *Mirror) ours(msg slack.Message) bool {
	switch {
	case m.botID != "":
		return msg.BotID == m.botID
	case m.botUser != "":
		return msg.User == m.botUser
	}
	return msg.BotID != ""
}

// giveUp ends the search for an uncertain message: it stays uncertain,
// and its alert's waiting events go to the timeline. m.mu is held.
func (m *Mirror) giveUp(it *reconItem) {
	if a := it.alert; a != nil && a.checking {
		a.checking = false
		m.settle(a)
	}
}

// repostOutgoing posts an uncertain message again after the history
// showed it never arrived. m.mu is held.
func (m *Mirror) repostOutgoing(it *reconItem) *outgoing {
	// covered stays empty for a line: its events were done when it
	// became uncertain.
	g := &outgoing{kind: opLine, rowKind: it.row.Kind, recon: it, repost: true, prevTS: m.lastTS, lane: lanePost}
	if it.row.Kind == kindThread {
		g.thread, g.prevTS = it.row.AfterTS, it.row.AfterTS
	}
	note := "\n_(posted again: Slack's reply to the first attempt was lost; this may be a duplicate)_"
	if a := it.alert; a != nil {
		g.kind, g.alert = opAlert, a
		g.model = a.model.clone()
		for _, ev := range a.pending {
			m.f.apply(&g.model, ev, a.threaded[ev.Seq])
		}
		g.events, a.pending = a.pending, nil
		g.covered = nil
		for _, ev := range g.events {
			g.covered = append(g.covered, ev.Seq)
		}
		g.text = clipLines(m.f.alertText(&g.model), maxSectionText-120) + note
		g.blocks = true
		a.state = alertSending
		a.refresh = false
	} else {
		g.text = it.row.Text + note
	}
	it.repost = false
	return g
}

// ---- HTTP ---------------------------------------------------------------------------

// doer is slack-go's HTTP client: it tells "the request never left" from
// "the reply was lost" (httptrace's WroteRequest), turns an HTTP-date
// Retry-After into seconds (slack-go parses only integers), and keeps a
// Retry-After sent with any status for the call (a rate_limited body
// comes with HTTP 200, where slack-go does not look).
type doer struct{ c *http.Client }

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := d.c.Do(req)
	if err != nil {
		return nil, &transportError{sent: wrote.Load(), err: err}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if _, err := strconv.Atoi(ra); err != nil {
				if t, err := http.ParseTime(ra); err == nil {
					secs := int(time.Until(t).Seconds() + 0.999)
					resp.Header.Set("Retry-After", strconv.Itoa(max(1, secs)))
				} else {
					resp.Header.Del("Retry-After") // slack-go then reports StatusCodeError 429
				}
			}
		}
	}
	if c, ok := req.Context().Value(callKey{}).(*call); ok {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
			c.retryAfter = time.Duration(n) * time.Second
		}
	}
	return resp, nil
}
