package mirror

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
)

// ---- pacing -----------------------------------------------------------------

// pacer is one channel's budget: a token bucket (Rate, Burst), a block
// until a 429's Retry-After has passed, and a backoff while Slack fails.
type pacer struct {
	rate, burst  float64
	tokens       float64
	last         time.Time
	blockedUntil time.Time
	backoffUntil time.Time
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
	w := max(p.blockedUntil.Sub(now), p.backoffUntil.Sub(now), 0)
	if p.tokens < 1 {
		w = max(w, time.Duration((1-p.tokens)/p.rate*float64(time.Second))+time.Millisecond)
	}
	return w
}

func (p *pacer) take(now time.Time) {
	p.refill(now)
	p.tokens--
}

// limited blocks the channel until now+ra. now is read after the 429
// arrived, so it is never earlier than Slack's own clock's idea of it.
func (p *pacer) limited(now time.Time, ra time.Duration) {
	if until := now.Add(ra); until.After(p.blockedUntil) {
		p.blockedUntil = until
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
			m.pacer.take(now)
			m.busy.Store(true)
		}
		m.mu.Unlock()
		if g == nil {
			if wait != 0 {
				m.park(ctx, now, wait)
			}
			continue
		}
		m.execute(ctx, g)
		m.busy.Store(false)
	}
}

// park waits for the clock (wait > 0), new work, or the end. wait < 0:
// nothing to do until woken.
func (m *Mirror) park(ctx context.Context, now time.Time, wait time.Duration) {
	var timer <-chan time.Time
	if wait > 0 {
		timer = m.clk.After(wait)
		m.parkedUntil.Store(now.Add(wait).UnixNano())
	} else {
		m.idle.Store(true)
	}
	select {
	case <-ctx.Done():
	case <-m.wake:
	case <-timer:
	}
	m.parkedUntil.Store(0)
	m.idle.Store(false)
}

// pick chooses the next call: priority work (auth, critical alerts,
// pages), then due reconciliations, then the timeline in seq order.
// It returns the wait instead when the pacer says no. m.mu is held.
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
	if len(m.prio)+len(m.main) == 0 && due < 0 {
		if m.state == StateCatchingUp || m.state == StateRateLimited {
			m.state = StateOK
		}
		return nil, reconWait
	}
	if w := m.pacer.wait(now); w > 0 {
		return nil, w
	}
	if len(m.prio) == 0 && due >= 0 {
		r := m.recon[due]
		m.recon = append(m.recon[:due], m.recon[due+1:]...)
		if r.repost {
			return m.repostOutgoing(r), 0
		}
		return &outgoing{kind: opLine, recon: r}, 0
	}
	if g := m.take(); g != nil {
		return g, 0
	}
	return nil, 0
}

// ---- outcomes -------------------------------------------------------------------

type verdict int

const (
	vOK        verdict = iota
	vLimited           // 429: not applied; wait Retry-After
	vRetry             // not applied (refused, 5xx, service_unavailable); back off
	vUncertain         // the request went out and the answer was lost
	vFatal             // auth or channel: stop
	vRejected          // Slack refused this message itself
)

type result struct {
	v          verdict
	retryAfter time.Duration
	code       string // Slack error code or a short class
	reason     string // for people: status bar, MIRROR events
}

// fatalCodes stop the mirror: retrying cannot help until a person acts.
var fatalCodes = map[string]string{
	"invalid_auth":                          "the bot token is not valid",
	"not_authed":                            "no bot token was sent",
	"account_inactive":                      "the bot's account or workspace is deactivated",
	"token_revoked":                         "the bot token was revoked",
	"token_expired":                         "the bot token expired",
	"no_permission":                         "the bot token lacks a permission",
	"missing_scope":                         "the bot token lacks a scope (chat:write)",
	"not_allowed_token_type":                "the bot token is the wrong type (use the xoxb- bot token)",
	"team_access_not_granted":               "the bot is not allowed in this workspace",
	"ekm_access_denied":                     "the workspace's keys deny access",
	"channel_not_found":                     "the channel does not exist or the bot cannot see it (slack.channel must be a channel ID)",
	"not_in_channel":                        "the bot is not in the channel: invite it",
	"is_archived":                           "the channel is archived",
	"restricted_action":                     "the workspace does not allow the bot to post there",
	"restricted_action_read_only_channel":   "the channel is read-only",
	"restricted_action_thread_only_channel": "the channel allows thread replies only",
}

// uncertainCodes: Slack says some of the operation may have happened.
var uncertainCodes = map[string]bool{"internal_error": true, "fatal_error": true}

// retryCodes: not applied; try again later.
var retryCodes = map[string]bool{"service_unavailable": true, "request_timeout": true}

// deadCodes: the message cannot be updated any more.
var deadCodes = map[string]bool{"message_not_found": true, "cant_update_message": true, "edit_window_closed": true}

// transportError is a call that got no HTTP answer. sent says whether the
// request had been written when it failed: if so Slack may have applied
// it.
type transportError struct {
	sent bool
	err  error
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func (m *Mirror) classify(err error) result {
	if err == nil {
		return result{v: vOK}
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		ra := rl.RetryAfter
		if ra <= 0 {
			ra = m.o.DefaultRetryAfter
		}
		return result{v: vLimited, retryAfter: ra, code: "ratelimited", reason: "rate-limited by Slack"}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		c := se.Err
		switch {
		case fatalCodes[c] != "":
			return result{v: vFatal, code: c, reason: c + ": " + fatalCodes[c]}
		case c == "ratelimited":
			return result{v: vLimited, retryAfter: m.o.DefaultRetryAfter, code: c, reason: "rate-limited by Slack"}
		case uncertainCodes[c]:
			return result{v: vUncertain, code: c, reason: "Slack answered " + c}
		case retryCodes[c]:
			return result{v: vRetry, code: c, reason: "Slack answered " + c}
		}
		return result{v: vRejected, code: c, reason: "Slack refused the message: " + c}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		code := "HTTP " + strconv.Itoa(sc.Code)
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return result{v: vLimited, retryAfter: m.o.DefaultRetryAfter, code: code, reason: "rate-limited by Slack (no Retry-After)"}
		case sc.Code == http.StatusGatewayTimeout:
			return result{v: vUncertain, code: code, reason: "Slack answered HTTP 504"}
		case sc.Code >= 500, sc.Code == http.StatusRequestTimeout:
			return result{v: vRetry, code: code, reason: "Slack answered HTTP " + strconv.Itoa(sc.Code)}
		}
		return result{v: vFatal, code: code, reason: fmt.Sprintf("Slack answered HTTP %d (check slack.api_url)", sc.Code)}
	}
	var te *transportError
	if errors.As(err, &te) {
		class := netClass(te.err)
		if te.sent {
			return result{v: vUncertain, code: class, reason: "reply lost (" + class + ")"}
		}
		return result{v: vRetry, code: class, reason: "Slack unreachable (" + class + ")"}
	}
	// The answer came but could not be read (cut short): the request
	// was applied or not; we cannot tell.
	return result{v: vUncertain, code: "unreadable reply", reason: "unreadable reply: " + m.redact(err.Error())}
}

func netClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "EOF"):
		return "connection closed"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "DNS lookup failed"
	}
	return "network error"
}

// succeeded notes a good call. m.mu is held.
func (m *Mirror) succeeded(now time.Time) {
	m.sent++
	m.failures = 0
	m.pacer.backoffUntil = time.Time{}
	if m.state != StateStopped {
		m.state = StateOK
	}
	m.errText = ""
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
func (m *Mirror) failed(now time.Time, r result) {
	m.failures++
	m.errText = m.redact(r.reason)
	d := time.Second << min(m.failures-1, 10)
	d = min(d, m.o.MaxBackoff)
	d = d/2 + time.Duration(m.rng.Int64N(int64(d/2)+1)) // equal jitter
	m.pacer.backoffUntil = now.Add(d)
	if m.failures >= m.o.DownAfter && !m.down {
		m.down, m.downSince = true, now
		m.state = StateDown
		m.record(fmt.Sprintf("%s: %s; events are queued", textDown, r.code))
	}
	if m.down {
		m.state = StateDown
	}
}

func (m *Mirror) limited(now time.Time, r result) {
	m.pacer.limited(now, r.retryAfter)
	m.state = StateRateLimited
	m.errText = m.redact(fmt.Sprintf("%s, retry after %s", r.reason, r.retryAfter))
}

func (m *Mirror) stop(r result) {
	m.stopped = true
	m.state = StateStopped
	m.errText = m.redact(r.reason)
	m.logf("mirror: stopped: %s", r.reason)
	m.record(textStopped + ": " + r.reason)
}

// ---- calls ------------------------------------------------------------------------

func (m *Mirror) execute(ctx context.Context, g *outgoing) {
	switch {
	case g.kind == opAuth:
		_, err := m.api.AuthTestContext(ctx)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.after(g, m.classify(err), m.clk.Now())
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
func (m *Mirror) after(g *outgoing, r result, now time.Time) {
	switch r.v {
	case vOK:
		m.succeeded(now)
		return
	case vLimited:
		m.limited(now, r)
	case vFatal:
		m.stop(r)
	default:
		m.failed(now, r)
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
		row = journal.SlackMessage{Seqs: g.covered, Channel: m.o.Channel, Kind: g.rowKind, State: journal.SlackPending, Text: g.text, AfterTS: g.prevTS, Updated: now}
		if g.alert != nil {
			row.AlertID = g.model.ID
			row.Body = encodeModel(&g.model)
		}
		if err := m.j.InsertSlackMessage(ctx, &row); err != nil {
			m.dbFailed(g, err)
			return
		}
	}
	var ts string
	var err error
degrade:
	for attempt := 0; attempt < 3; attempt++ {
		// No previews of links people typed into notes.
		opts := []slack.MsgOption{slack.MsgOptionText(g.text, false), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}
		if g.blocks && !g.plain {
			opts = append(opts, slack.MsgOptionBlocks(m.f.alertBlocks(&g.model, g.text)...))
		}
		_, ts, err = m.api.PostMessageContext(ctx, m.o.Channel, opts...)
		if ctx.Err() != nil {
			return // shutting down: the row stays pending (uncertain at restart)
		}
		r := m.classify(err)
		if r.v != vRejected {
			break
		}
		// Slack refused the content (the refused call was not applied):
		// degrade, no blocks and then a short text, and try again.
		switch {
		case g.blocks && !g.plain:
			g.plain = true
		case len(g.text) > 2900:
			g.text = clipLines(g.text, 2900) + "\n_(shortened: Slack refused the full text)_"
		default:
			break degrade
		}
		m.logf("mirror: Slack refused a message (%s); sending it plainer", r.code)
	}
	now = m.clk.Now()
	r := m.classify(err)

	m.mu.Lock()
	cursor := int64(0)
	switch r.v {
	case vOK, vUncertain, vRejected:
		if r.v == vOK {
			row.State, row.TS = journal.SlackDelivered, ts
			if ts > m.lastTS {
				m.lastTS = ts
			}
			m.succeeded(now)
			if g.repost {
				m.uncertain--
			}
		} else if r.v == vUncertain {
			row.State, row.WasUncertain = journal.SlackUncertain, true
			if !g.repost {
				m.uncertain++
			}
			m.errText = m.redact(r.reason)
			checking := m.o.ReconcileAfter > 0 && row.Checks < maxChecks
			if checking {
				m.recon = append(m.recon, &reconItem{row: row, alert: g.alert, due: now.Add(m.o.ReconcileAfter), prev: g.prevTS})
			}
			if g.alert != nil {
				g.alert.checking = checking
			}
		} else {
			row.State, row.Error = journal.SlackFailed, r.code
			if g.repost {
				m.uncertain--
			}
			m.sent++
			m.errText = m.redact(r.reason)
			m.logf("mirror: %s; events %s are not in Slack", r.reason, journal.FormatSeqs(g.covered))
		}
		row.Updated = now
		if a := g.alert; a != nil {
			a.row = row
			a.model = g.model
			switch row.State {
			case journal.SlackDelivered:
				a.state, a.ts, a.checking = alertPosted, ts, false
			case journal.SlackUncertain:
				a.state = alertUncertain
			default:
				a.state, a.checking = alertDead, false
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
	// Not applied: the row goes (or back to uncertain, for a re-post) and
	// the work is queued again.
	if g.repost {
		g.recon.row.Updated = now
	}
	m.after(g, r, now)
	m.mu.Unlock()
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

func (m *Mirror) dbFailed(g *outgoing, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed(m.clk.Now(), result{v: vRetry, code: "journal", reason: "outbox: " + err.Error()})
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
	_, _, _, err := m.api.UpdateMessageContext(ctx, m.o.Channel, a.ts, slack.MsgOptionText(g.text, false), slack.MsgOptionBlocks(blocks...))
	if ctx.Err() != nil {
		m.mu.Lock()
		m.requeue(g)
		m.mu.Unlock()
		return
	}
	now := m.clk.Now()
	r := m.classify(err)
	m.mu.Lock()
	switch {
	case r.v == vOK:
		m.succeeded(now)
		a.model = g.model
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
	case r.v == vRejected:
		// The message cannot be updated (deleted, too old, refused):
		// from now on its events go to the timeline as lines.
		m.errText = m.redact(r.reason)
		m.logf("mirror: cannot update the message of %s: %s", a.model.ID, r.code)
		a.state = alertDead
		a.pending = append(append([]incident.Event(nil), g.events...), a.pending...)
		a.row.Error = r.code
		row := a.row
		m.settle(a)
		m.mu.Unlock()
		if err := m.j.UpdateSlackMessage(ctx, &row, "", 0); err != nil {
			m.setErr("outbox: " + err.Error())
		}
		return
	case r.v == vUncertain:
		r.v = vRetry // idempotent: send it again
	}
	m.after(g, r, now)
	m.mu.Unlock()
}

// reconcile looks for an uncertain post in the channel's history: found,
// it is delivered after all (with its ts); not found, it is posted again,
// marked as a possible duplicate.
func (m *Mirror) reconcile(ctx context.Context, it *reconItem) {
	want := firstLine(it.row.Text)
	params := &slack.GetConversationHistoryParameters{ChannelID: m.o.Channel, Oldest: it.prev, Limit: 200, Cursor: it.cursor}
	h, err := m.api.GetConversationHistoryContext(ctx, params)
	if ctx.Err() != nil {
		return
	}
	now := m.clk.Now()
	r := m.classify(err)
	m.mu.Lock()
	if r.v == vLimited {
		m.limited(now, r)
		it.due = now
		m.recon = append(m.recon, it)
		m.mu.Unlock()
		return
	}
	it.row.Checks++
	it.row.Updated = now
	switch r.v {
	case vOK:
		m.succeeded(now)
	case vRetry, vUncertain:
		m.failed(now, r)
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
		m.logf("mirror: cannot check history for an uncertain message (%s); it stays uncertain", r.code)
		it.row.Error = r.code
		m.giveUp(it)
		row := it.row
		m.mu.Unlock()
		m.j.UpdateSlackMessage(ctx, &row, "", 0) //nolint:errcheck
		return
	}
	found := ""
	for _, msg := range h.Messages {
		if firstLine(msg.Text) == want {
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
	case h.HasMore && h.ResponseMetaData.NextCursor != "" && (it.prev != "" || it.pages+1 < maxBlindPages):
		it.cursor = h.ResponseMetaData.NextCursor
		it.pages++
		it.due = now
		m.recon = append(m.recon, it)
	case h.HasMore:
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
	g := &outgoing{kind: opLine, rowKind: it.row.Kind, recon: it, repost: true, prevTS: m.lastTS}
	note := "\n_(posted again: Slack's reply to the first attempt was lost; this may be a duplicate)_"
	if a := it.alert; a != nil {
		g.kind, g.alert = opAlert, a
		g.model = a.model.clone()
		for _, ev := range a.pending {
			m.f.apply(&g.model, ev)
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
// "the reply was lost" (httptrace's WroteRequest), and turns an HTTP-date
// Retry-After into seconds (slack-go parses only integers).
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
	return resp, nil
}
