// Package mirror mirrors the incident timeline to a Slack channel and takes
// commands back from Slack over Socket Mode.
//
// The journal is the queue: the mirror keeps a durable cursor ("slack")
// over it, so Slack being down means "queued", never "lost", and a restart
// resumes where the last run stopped. Each Slack message is a row of the
// journal's outbox (pending → delivered with its ts, or uncertain when the
// reply was lost); an uncertain post is never re-posted blindly.
//
// Sending is paced per Slack method, as Slack limits it: posts about one
// message a second per channel with a small burst, chat.update and
// conversations.history at Tier 3 (50 a minute). A rate limit (HTTP 429
// ratelimited, or HTTP 200 rate_limited / message_limit_exceeded) holds
// back that method until its Retry-After has passed. Every answer Slack
// documents for these methods is classified (see Class): rate limits wait,
// failures back off, a refused message is sent plainer through the pacer,
// and an auth or channel error stops the mirror with the reason, keeping
// everything queued. A backlog is coalesced into digest messages of at most
// 4,000 characters; critical alerts and pages jump the queue. Each alert
// group gets one message, updated in place (chat.update) as its alerts
// fire, are acked, escalated and resolved, with an Ack button while it is
// open. The message shows its group's first 14 events; later ones are
// replies in its thread (conversations.replies finds one whose answer was
// lost), sent when nothing else waits, so every event is in some message.
//
// The mirror never blocks the engine: it reads through its own
// subscription (a lagging one is dropped by the engine and resynced from
// the journal) and does all I/O in its own goroutines.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/journal"
	"github.com/warroom/warroom/roles"
)

// Engine is what the mirror needs of the incident engine
// (*incident.Engine implements it).
type Engine interface {
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(*incident.Subscription)
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Roster() *roles.Roster
}

// Options configure a mirror. Engine, Journal, Channel and BotToken are
// required; everything else has a default.
type Options struct {
	Engine  Engine
	Journal journal.Journal

	APIURL   string // Slack Web API base, ending in "/" (default https://slack.com/api/)
	Channel  string // channel ID
	BotToken string // xoxb-…; never logged or shown
	AppToken string // xapp-…; enables Socket Mode commands when set

	// Clock paces sending and times Retry-After and backoff (default
	// real time).
	Clock clock.Clock
	// HTTPClient is used for Web API calls (default: a client with a 10 s
	// timeout). A call that times out after its request was sent is an
	// uncertain delivery.
	HTTPClient *http.Client

	Rate  float64 // messages per second per channel (default 1)
	Burst int     // burst above Rate (default 3)
	// UpdateRate is chat.update calls (and, separately,
	// conversations.history calls) per second (default 50 a minute,
	// Slack's Tier 3), with a burst of 5.
	UpdateRate float64
	// OwnerPages says the room pages owners itself (escalation.owner):
	// an alert's message then names its owner without mentioning them,
	// since their page does. Otherwise the owner is mentioned by the
	// first alert message of theirs in a minute (incident.PageEvery), so
	// a burst of alerts on their service notifies them once.
	OwnerPages bool
	// DigestAfter: with more queued messages than this, timeline events
	// are coalesced into digest messages (default 5).
	DigestAfter int
	// MaxDigestChars bounds a digest's text (default 4,000: Slack
	// truncates at 40,000 but advises keeping messages under 4,000, and
	// collapses long ones).
	MaxDigestChars int
	// DefaultRetryAfter is waited after a 429 without Retry-After
	// (default 30 s).
	DefaultRetryAfter time.Duration
	// MaxBackoff caps the wait between attempts while Slack fails
	// (default 30 s); waits use equal jitter.
	MaxBackoff time.Duration
	// DownAfter consecutive failures mark the mirror down and record a
	// MIRROR event (default 3).
	DownAfter int
	// ReconcileAfter is how long after a lost reply the channel history
	// is checked for the message (default 10 s; negative: never check,
	// the message just stays uncertain).
	ReconcileAfter time.Duration
	// MaxBacklog bounds the events held in memory; beyond it the mirror
	// reads from the journal as it catches up (default 20,000).
	MaxBacklog int
	// SubscriptionBuffer is the engine feed's buffer (default 1024); a
	// mirror that falls further behind is dropped by the engine and
	// resyncs from the journal.
	SubscriptionBuffer int
	// SlashCommand is the command Socket Mode answers (default /warroom).
	SlashCommand string
	// CursorName is the journal cursor (default "slack").
	CursorName string
	// Logf receives diagnostics (tokens redacted). Default: discarded.
	Logf func(format string, args ...any)
	// Seed makes backoff jitter reproducible (0: random).
	Seed uint64
}

// FromConfig fills the Slack part of Options from the war-room file,
// reading the tokens from the environment.
func FromConfig(s *config.Slack) (Options, error) {
	if s == nil {
		return Options{}, errors.New("mirror: no slack section in the war-room file")
	}
	o := Options{APIURL: s.APIURL, Channel: s.Channel, BotToken: s.BotToken.Value(), AppToken: s.AppToken.Value()}
	if o.BotToken == "" {
		return o, fmt.Errorf("slack.bot_token: environment variable %s is not set (export it, or remove the slack section to run without the Slack mirror)", s.BotToken.Env)
	}
	if s.AppToken.IsSet() && o.AppToken == "" {
		return o, fmt.Errorf("slack.app_token: environment variable %s is not set (export it, or remove app_token to mirror without Slack commands)", s.AppToken.Env)
	}
	return o, nil
}

// Mirror states, as Status reports them.
const (
	StateStarting    = "starting"
	StateOK          = "ok"           // nothing queued
	StateCatchingUp  = "catching-up"  // sending a backlog
	StateRateLimited = "rate-limited" // waiting out a Retry-After
	StateDown        = "down"         // Slack fails; retrying with backoff
	StateStopped     = "stopped"      // an auth or channel error; see Err
)

// Status is the mirror's health for the TUI status bar.
type Status struct {
	State     string
	Lag       int64  // events committed but not yet reflected in Slack
	Err       string // the last error (tokens redacted); why it stopped
	Pending   int    // messages queued
	Uncertain int    // messages whose reply was lost and are not yet found again
	Socket    string // Socket Mode: off, connecting, connected, or why it stopped
	RetryAt   time.Time
	// Cause is the last failure as an *Error (errors.Is(st.Cause,
	// ErrFatal) when stopped); nil when the last call succeeded.
	Cause error
}

// Line is the status for status bars: e.g. "ok", "catching-up, 12
// behind" or "down: invalid_auth", and what stopped Socket Mode, since
// then no one can act from Slack ("ok; /warroom stopped: invalid_auth
// (check slack.app_token)").
func (s Status) Line() string {
	l := s.State
	if s.Lag > 0 {
		l += fmt.Sprintf(", %d behind", s.Lag)
	}
	if s.Uncertain > 0 {
		l += fmt.Sprintf(", %d uncertain", s.Uncertain)
	}
	if s.Err != "" {
		l += ": " + s.Err
	}
	if why, ok := strings.CutPrefix(s.Socket, socketStopped); ok {
		l += "; /warroom stopped: " + why
	}
	return l
}

// Mirror is a running mirror.
type Mirror struct {
	o      Options
	api    *slack.Client
	eng    Engine
	j      journal.Journal
	clk    clock.Clock
	f      *formatter
	rng    *rand.Rand
	tokens []string
	// work joins the goroutines Socket Mode commands run in: Done is
	// closed only once none is left (they commit through the engine).
	work sync.WaitGroup

	mu          sync.Mutex
	next        int64 // next seq to ingest
	ingested    int64 // highest seq planned
	cursor      int64 // handled prefix (durable once saved)
	savedCursor int64
	outstanding map[int64]int // seq → ops still to do
	covered     map[int64]bool
	alerts      map[string]*alertMsg
	important   map[int64]bool
	prio, main  []*op
	upd         []*op     // chat.update work: its own lane
	thr         []*op     // thread replies of full alert messages: sent when nothing else waits
	retry       *outgoing // a refused post, sent plainer next
	recon       []*reconItem
	stalled     bool
	lastTS      string // ts of the newest delivered post
	botID       string // from auth.test: which history messages are ours
	botUser     string

	// groups is the message of each open alert group: later alerts of the
	// group update it instead of posting their own (see planAlert).
	groups    map[string]*alertMsg
	groupOpen map[string]int // open alerts of each group, as planned
	// mentioned is when each owner was last mentioned by an alert message.
	mentioned map[string]time.Time
	prioRun   int // priority sends in a row (see take)

	state     string
	errText   string
	cause     *Error
	stopped   bool
	down      bool
	downSince time.Time
	failures  int
	uncertain int
	lanes     [nLanes]pacer
	// backoffUntil holds back every lane while Slack fails.
	backoffUntil time.Time
	socket       string

	live   *incident.State
	liveMu sync.Mutex

	wake   chan struct{}
	space  chan struct{}
	report chan string
	done   chan struct{}
}

// New checks the options and builds a mirror; Start runs it.
func New(o Options) (*Mirror, error) {
	if o.Engine == nil || o.Journal == nil {
		return nil, errors.New("mirror: engine and journal are required")
	}
	if o.Channel == "" {
		return nil, errors.New("mirror: no Slack channel")
	}
	if o.BotToken == "" {
		return nil, errors.New("mirror: no Slack bot token")
	}
	if o.APIURL == "" {
		o.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Rate <= 0 {
		o.Rate = 1
	}
	if o.Burst <= 0 {
		o.Burst = 3
	}
	if o.DigestAfter <= 0 {
		o.DigestAfter = 5
	}
	if o.UpdateRate <= 0 {
		o.UpdateRate = 50.0 / 60
	}
	if o.MaxDigestChars <= 0 {
		o.MaxDigestChars = maxDigestChars
	}
	o.MaxDigestChars = min(o.MaxDigestChars, 39000)
	if o.DefaultRetryAfter <= 0 {
		o.DefaultRetryAfter = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.DownAfter <= 0 {
		o.DownAfter = 3
	}
	if o.ReconcileAfter == 0 {
		o.ReconcileAfter = 10 * time.Second
	}
	if o.MaxBacklog <= 0 {
		o.MaxBacklog = 20000
	}
	if o.SubscriptionBuffer <= 0 {
		o.SubscriptionBuffer = 1024
	}
	if o.SlashCommand == "" {
		o.SlashCommand = "/warroom"
	}
	if o.CursorName == "" {
		o.CursorName = "slack"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	m := &Mirror{
		o: o, eng: o.Engine, j: o.Journal, clk: o.Clock,
		f:           &formatter{roster: o.Engine.Roster(), named: map[int64]bool{}},
		mentioned:   map[string]time.Time{},
		rng:         rand.New(rand.NewPCG(seed, 0x51ac)),
		outstanding: map[int64]int{},
		covered:     map[int64]bool{},
		alerts:      map[string]*alertMsg{},
		groups:      map[string]*alertMsg{},
		groupOpen:   map[string]int{},
		important:   map[int64]bool{},
		state:       StateStarting,
		socket:      "off",
		lanes:       [nLanes]pacer{newPacer(o.Rate, o.Burst), newPacer(o.UpdateRate, 5), newPacer(o.UpdateRate, 5)},
		wake:        make(chan struct{}, 1),
		space:       make(chan struct{}, 1),
		report:      make(chan string, 1),
		done:        make(chan struct{}),
	}
	for _, t := range []string{o.BotToken, o.AppToken} {
		if len(t) >= 8 {
			m.tokens = append(m.tokens, t)
		}
	}
	opts := []slack.Option{slack.OptionAPIURL(o.APIURL), slack.OptionHTTPClient(&doer{c: o.HTTPClient})}
	if o.AppToken != "" {
		opts = append(opts, slack.OptionAppLevelToken(o.AppToken))
	}
	m.api = slack.New(o.BotToken, opts...)
	return m, nil
}

// redact takes every token out of s.
func (m *Mirror) redact(s string) string {
	s = config.Redact(s)
	for _, t := range m.tokens {
		s = strings.ReplaceAll(s, t, "[redacted]")
	}
	return s
}

func (m *Mirror) logf(format string, args ...any) {
	m.o.Logf("%s", m.redact(fmt.Sprintf(format, args...)))
}

// Start loads the outbox, subscribes to the engine and starts the
// mirror's goroutines. It returns once they run; they stop when ctx ends
// (Done is closed then). Cancel ctx and wait for Done before closing the
// journal.
func (m *Mirror) Start(ctx context.Context) error {
	if err := m.j.InitSlackOutbox(ctx); err != nil {
		return err
	}
	if err := m.resume(ctx); err != nil {
		return err
	}
	snap, sub, err := m.eng.Subscribe(ctx, m.o.SubscriptionBuffer)
	if err != nil {
		return fmt.Errorf("mirror: subscribe: %w", err)
	}
	m.setLive(snap)
	if strings.HasPrefix(snap.Mirror, textDown) || strings.HasPrefix(snap.Mirror, textStopped) {
		m.down = true // a recovery will be recorded
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.ingestLoop(ctx, sub) }()
	go func() { defer wg.Done(); m.sendLoop(ctx) }()
	go func() { defer wg.Done(); m.reportLoop(ctx) }()
	if m.o.AppToken != "" {
		wg.Add(1)
		go func() { defer wg.Done(); m.socketLoop(ctx) }()
	}
	go func() { wg.Wait(); close(m.done) }()
	return nil
}

// Done is closed when every goroutine of the mirror has returned.
func (m *Mirror) Done() <-chan struct{} { return m.done }

// Status reports the mirror's health; safe from any goroutine.
func (m *Mirror) Status() Status {
	last := m.j.LastSeq()
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	lag := max(0, last-m.ingested) + int64(len(m.outstanding))
	st, errText, cause := m.state, m.errText, m.cause
	var blocked time.Time
	for _, p := range m.lanes {
		if p.blockedUntil.After(now) && p.blockedUntil.After(blocked) {
			blocked, errText, cause = p.blockedUntil, p.why, p.cause
		}
	}
	if st == StateOK || st == StateCatchingUp || st == StateRateLimited {
		st = StateOK
		switch {
		case lag > 0 && !blocked.IsZero():
			st = StateRateLimited
		case lag > 0:
			st = StateCatchingUp
		}
	}
	if st != StateRateLimited {
		errText, cause = m.errText, m.cause
	}
	s := Status{State: st, Lag: lag, Err: errText, Pending: len(m.prio) + len(m.main) + len(m.upd) + len(m.thr), Uncertain: m.uncertain, Socket: m.socket}
	if cause != nil {
		s.Cause = cause
	}
	switch st {
	case StateRateLimited:
		s.RetryAt = blocked
	case StateDown:
		s.RetryAt = m.backoffUntil
	}
	return s
}

// Resume restarts sending after a stop (say, once the bot was invited to
// the channel). Queued events are sent; nothing was lost.
func (m *Mirror) Resume() {
	m.mu.Lock()
	m.stopped = false
	m.state = StateStarting
	m.prio = append([]*op{{kind: opAuth, prio: true}}, m.prio...)
	m.mu.Unlock()
	m.kick()
}

func (m *Mirror) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Mirror) setLive(s *incident.State) {
	m.liveMu.Lock()
	m.live = s
	m.liveMu.Unlock()
}

// ---- resume ----------------------------------------------------------------

// resume restores what the outbox knows: the cursor, which events after it
// are already in Slack, the alert messages to keep updating, and the
// messages whose outcome is open.
func (m *Mirror) resume(ctx context.Context) error {
	cur, err := m.j.Cursor(ctx, m.o.CursorName)
	if err != nil {
		return fmt.Errorf("mirror: read cursor: %w", err)
	}
	rows, err := m.j.SlackMessagesToResume(ctx, cur)
	if err != nil {
		return fmt.Errorf("mirror: read outbox: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursor, m.savedCursor, m.next, m.ingested = cur, cur, cur+1, cur
	now := m.clk.Now()
	prevTS := "" // the newest delivered ts before each row, as a history bound
	var groupRows []*alertMsg
	for i := range rows {
		r := rows[i]
		prev := prevTS
		if r.AfterTS != "" {
			prev = r.AfterTS
		}
		if r.State == journal.SlackDelivered && r.TS > prevTS {
			prevTS = r.TS
		}
		if r.State == journal.SlackPending {
			// Killed mid-request: Slack may or may not have the message.
			r.State, r.WasUncertain, r.Updated = journal.SlackUncertain, true, now
			if err := m.j.UpdateSlackMessage(ctx, &r, "", 0); err != nil {
				return fmt.Errorf("mirror: mark uncertain: %w", err)
			}
		}
		if r.LastSeq > cur {
			for _, s := range r.Seqs {
				if s > cur {
					m.covered[s] = true
				}
			}
		}
		if r.State == journal.SlackDelivered && r.TS != "" && r.TS > m.lastTS {
			m.lastTS = r.TS
		}
		var a *alertMsg
		if r.Kind == kindAlert && r.AlertID != "" {
			a = &alertMsg{row: r}
			if err := decodeModel(r.Body, &a.model); err != nil {
				return fmt.Errorf("mirror: outbox row %d: %w", r.ID, err)
			}
			a.lines = len(a.model.Lines)
			switch r.State {
			case journal.SlackDelivered:
				a.state, a.ts = alertPosted, r.TS
			case journal.SlackUncertain:
				a.state = alertUncertain
			default:
				a.state = alertDead
			}
			m.alerts[r.AlertID] = a
			if g := a.model.Group; g != "" && a.model.Open > 0 {
				m.groups[g], m.groupOpen[g] = a, a.model.Open
				groupRows = append(groupRows, a)
			}
		}
		if r.State == journal.SlackUncertain {
			m.uncertain++
			if m.o.ReconcileAfter > 0 && r.Checks < maxChecks {
				m.recon = append(m.recon, &reconItem{row: r, alert: a, due: now.Add(m.o.ReconcileAfter), prev: prev})
				if a != nil {
					a.checking = true
				}
			}
		}
	}
	// The alerts a group's message shows are its members: their later
	// events (acks, resolves, a member getting worse) keep updating that
	// message. An alert's id is A<seq of its firing>, and the message's
	// Seqs hold every firing it shows.
	for _, a := range groupRows {
		for _, s := range a.model.Seqs {
			if id := fmt.Sprintf("A%d", s); m.alerts[id] == nil {
				m.alerts[id] = a
			}
		}
	}
	m.prio = append(m.prio, &op{kind: opAuth, prio: true})
	return nil
}

// ---- ingest ----------------------------------------------------------------

// ingestLoop plans events as they are committed: from the subscription
// when it keeps up (through incident.Follow), from the journal when it
// does not (at start, after a lag, when the backlog window was full).
func (m *Mirror) ingestLoop(ctx context.Context, sub *incident.Subscription) {
	m.catchUp(ctx)
	// Room in the backlog window is read from the journal too, while the
	// feed goes on (catchUp and the feed plan only the next event).
	spaceDone := make(chan struct{})
	defer func() { <-spaceDone }()
	go func() {
		defer close(spaceDone)
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.space:
				m.catchUp(ctx)
			}
		}
	}()
	_ = incident.Follow(ctx, m.eng, sub, m.o.SubscriptionBuffer, func(snap *incident.State) error {
		// Dropped for falling behind: a fresh snapshot, and the journal
		// fills the gap.
		m.setLive(snap)
		m.catchUp(ctx)
		return nil
	}, func(u incident.Update) error {
		m.ingest(ctx, u)
		return nil
	})
	if ctx.Err() == nil {
		m.logf("mirror: the engine stopped")
		<-ctx.Done() // sending goes on until ctx ends
	}
}

// ingest folds an update into the mirror's copy of the state and plans
// its events; a gap is read from the journal.
func (m *Mirror) ingest(ctx context.Context, u incident.Update) {
	m.liveMu.Lock()
	for _, ev := range u.Events {
		if m.live != nil && ev.Seq == m.live.LastSeq+1 {
			m.live.Apply(ev)
		}
	}
	m.liveMu.Unlock()
	gap := false
	m.mu.Lock()
	for _, ev := range u.Events {
		switch {
		case ev.Seq < m.next:
		case ev.Seq == m.next && !m.stalled && m.room():
			m.plan(ev)
		default:
			gap = true
		}
	}
	m.mu.Unlock()
	m.kick()
	if gap {
		m.catchUp(ctx)
	}
}

func (m *Mirror) room() bool { return m.ingested-m.cursor < int64(m.o.MaxBacklog) }

// catchUp reads committed events the subscription did not deliver in
// order, in pages, until it reaches the journal's end or the window fills.
func (m *Mirror) catchUp(ctx context.Context) {
	const page = 500
	for ctx.Err() == nil {
		last := m.j.LastSeq()
		m.mu.Lock()
		from := m.next - 1
		if !m.room() {
			m.stalled = true
			m.mu.Unlock()
			return
		}
		m.stalled = false
		upto := min(last, from+page, m.cursor+int64(m.o.MaxBacklog))
		m.mu.Unlock()
		if upto <= from {
			return
		}
		var evs []incident.Event
		err := m.j.ReplayRange(ctx, from, upto, func(je journal.Event) error {
			ev, err := incident.FromJournal(je)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
			return nil
		})
		if err != nil {
			if ctx.Err() == nil {
				m.setErr("read journal: " + err.Error())
			}
			return
		}
		m.mu.Lock()
		for _, ev := range evs {
			if ev.Seq == m.next {
				m.plan(ev)
			}
		}
		m.mu.Unlock()
		m.kick()
	}
}

func (m *Mirror) setErr(s string) {
	m.mu.Lock()
	m.errText = m.redact(s)
	m.mu.Unlock()
	m.logf("mirror: %s", s)
}

// ---- reporting -------------------------------------------------------------

const (
	textDown      = "Slack mirror down"
	textStopped   = "Slack mirror stopped"
	textRecovered = "Slack mirror recovered"
)

// record asks for a MIRROR event; the newest request wins.
func (m *Mirror) record(text string) {
	text = m.redact(text)
	for {
		select {
		case m.report <- text:
			return
		default:
			select {
			case <-m.report:
			default:
			}
		}
	}
}

// reportLoop commits MIRROR events through the engine, off the sending
// path (the engine may be busy; the mirror never waits for it).
func (m *Mirror) reportLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case text := <-m.report:
			rep := m.eng.Do(ctx, incident.RecordMirror{Text: text})
			if rep.Err != nil && ctx.Err() == nil {
				m.logf("mirror: record %q: %v", text, rep.Err)
				if errors.Is(rep.Err, incident.ErrStopped) {
					return
				}
			}
		}
	}
}
