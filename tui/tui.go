// Package tui is the war room's terminal UI: one bubbletea v2 program per
// person (the local `warroom run` terminal, or one per SSH session).
//
// The model keeps its own copy of the incident state, built from a
// snapshot and the engine's update feed, which a Cmd reads outside Update.
// Update does no I/O: commands go to the engine in tea.Cmds, and nothing
// is shown as done until its event arrives through the feed.
package tui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// Engine is what the TUI needs of the incident engine; *incident.Engine
// implements it.
type Engine interface {
	Do(ctx context.Context, cmd incident.Command) incident.Reply
	Subscribe(ctx context.Context, buffer int) (*incident.State, *incident.Subscription, error)
	Unsubscribe(s *incident.Subscription)
	Roster() *roles.Roster
	Config() *config.Config
	Clock() clock.Clock
}

// Playbook describes one playbook for the palette and the detail view.
type Playbook struct {
	Name    string
	Title   string
	Service string // "" for incident-wide playbooks
	Summary string
}

// Playbooks is an optional catalog of playbooks. List must be cheap and
// safe to call from the UI goroutine (return a cached slice).
type Playbooks interface {
	List() []Playbook
}

// PlaybookStarter is optionally implemented by a Playbooks provider to
// open a run from the palette. It is called in a tea.Cmd, never in Update;
// a *roles.Refusal error is shown as a refusal.
type PlaybookStarter interface {
	StartPlaybook(ctx context.Context, by, name string) error
}

// Options configure one person's TUI.
type Options struct {
	Engine Engine // required
	Handle string // the person's roster handle

	// Width and Height are the initial size (the caller knows it for an
	// SSH session); a WindowSizeMsg replaces them.
	Width, Height int
	// Profile is the colour profile of the terminal, if the caller knows
	// it; bubbletea's ColorProfileMsg replaces it. ASCII and NoTTY render
	// badges as bracketed text.
	Profile colorprofile.Profile
	Theme   Theme

	Playbooks Playbooks // optional
	// MirrorStatus optionally reports the Slack mirror's live state (e.g.
	// "ok, lag 2s"). It is called once a second in a Cmd, so it must be
	// safe for concurrent use.
	MirrorStatus func() string
	// StatusPageURL is the room's public status page, when one is served
	// (the Comms view names it).
	StatusPageURL string
	// PublisherStatus optionally reports the Statuspage publisher's state
	// (e.g. "ok", "rate-limited, 2 queued, retry in 41s"). Called once a
	// second in a Cmd, like MirrorStatus.
	PublisherStatus func() string
	// PagingStatus optionally reports paging through PagerDuty (e.g. "ok",
	// "retrying, 1 queued, retry in 8s: HTTP 503"). Called once a second in
	// a Cmd, like MirrorStatus.
	PagingStatus func() string
	// SourceBudgets optionally reports, per source id, what is left of
	// its rate-limit budget (e.g. "412/1600 per 1h"), for the status bar.
	// Called once a second in a Cmd, like MirrorStatus.
	SourceBudgets func() map[string]string

	// Quiet turns terminal notifications off for this dashboard (they
	// are on unless the person's roster entry says notify: false).
	Quiet bool
	// Term is the terminal's TERM (the SSH session's, or the local one):
	// it picks the desktop notification's escape (see notify.go).
	Term string

	// OwnsRoom is set when the room runs in this process (warroom run and
	// demo): quitting stops it for everyone, and the quit prompt says so.
	OwnsRoom bool
	// Via is how this person reaches the room, for presence: local (the
	// default) or ssh.
	Via string
	// JournalPath, if known, is shown in the commands the dashboard
	// suggests (approving from another terminal, the export).
	JournalPath string

	// Context ends the TUI's feed (e.g. an SSH session's context).
	Context context.Context
	// Clock overrides Engine.Clock() for ages and the header clock.
	Clock clock.Clock
	// FPS caps the renderer (default DefaultFPS): bubbletea v2.0.10
	// flushes on a fixed ticker, so this is also how often an idle
	// program wakes up, and the worst-case delay before a key shows.
	FPS int
	// Buffer is the update feed's buffer (default 1024).
	Buffer int
	// NoTick disables the 1 s clock tick (tests).
	NoTick bool
	// Launch does the Launch view's I/O (preflight, reading result files).
	Launch LaunchHooks
}

// DefaultFPS is the renderer's frame cap: low, since the war room only
// changes when an event or sample arrives. Measured on `warroom run` at
// 120×40: each frame-tick wakeup costs ~0.025 % CPU, so 5 fps keeps an
// idle dashboard under 0.3 % while keys still show within 200 ms.
const DefaultFPS = 5

// ProgramOptions are the bubbletea options that go with a model built
// from o: frame cap, colour profile, size and context.
func ProgramOptions(o Options) []tea.ProgramOption {
	fps := o.FPS
	if fps <= 0 {
		fps = DefaultFPS
	}
	opts := []tea.ProgramOption{tea.WithFPS(fps)}
	if o.Profile != colorprofile.Unknown {
		opts = append(opts, tea.WithColorProfile(o.Profile))
	}
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, tea.WithWindowSize(o.Width, o.Height))
	}
	if o.Context != nil {
		opts = append(opts, tea.WithContext(o.Context))
	}
	return opts
}

type viewID int

const (
	viewOverview viewID = iota
	viewAlerts
	viewTimeline
	viewRoles
	viewRuns
	viewDetail // one service
	viewRecord // one event, alert or run in full
	viewEnd    // the demo's summary
	viewLaunch // the launch board (a war-room file with a launch plan)
	viewComms  // severity, status, components, public updates
)

var viewNames = map[viewID]string{viewOverview: "Overview", viewAlerts: "Alerts", viewTimeline: "Timeline", viewRoles: "Roles",
	viewRuns: "Runs", viewDetail: "Detail", viewRecord: "Details", viewEnd: "Summary", viewLaunch: "Launch", viewComms: "Comms"}

type overlayKind int

const (
	overlayNone overlayKind = iota
	overlayHelp
	overlayChooser
	overlayInput
	overlayQuit
	overlayConfirm
	overlayFilter // typing a list's `/` filter on the message line
)

type toastKind int

const (
	toastInfo toastKind = iota
	toastOK
	toastError
)

type toast struct {
	text  string
	kind  toastKind
	until time.Time
}

// Model is one person's war-room UI.
type Model struct {
	o      Options
	eng    Engine
	me     string
	cfg    *config.Config
	roster *roles.Roster
	clk    clock.Clock
	loc    *time.Location
	ctx    context.Context
	cancel context.CancelFunc

	st        *incident.State
	blank     *incident.State // empty, drawn until the snapshot (viewState)
	feed      *feed
	feedErr   string
	now       time.Time
	mirror    string            // from MirrorStatus
	budgets   map[string]string // from SourceBudgets
	publisher string            // from PublisherStatus
	paging    string            // from PagingStatus
	notices   notices

	width, height int
	profile       colorprofile.Profile
	dark          bool
	sty           *Styles
	keys          KeyMap
	help          help.Model

	view, back viewID

	// overview
	sel, ovTop int
	// detail
	detail string // service id
	// alerts: rows are groups (see alertRows); alertOpen holds the
	// expanded ones by key
	alertOpen map[string]bool
	alerts    cursor
	alertsF   filter
	alertTop  int // first visible alert row (rows wrap)
	// alertLineIDs is the alert drawn on each body line (mouse clicks).
	alertLineIDs []string
	// timeline
	tl timeline
	// roles: the role slots, and the roster's filter
	roleCur cursor
	rosterF filter
	// runs
	runCur cursor
	// comms: the selected component
	commsCur cursor
	runsF    filter
	// record is the event, alert or run shown in full (viewRecord).
	rec record
	// launchCur is the selected criterion of the Launch view.
	launchCur cursor
	// launchOpened: the first snapshot chose the opening view.
	launchOpened bool
	// end is the demo's summary once its story has ended.
	end *EndMsg

	overlay overlayKind
	chooser *chooser
	input   lineInput
	inputFn func(m *Model, text string) tea.Cmd
	inputAt string // prompt label
	// confirm is the question and action of overlayConfirm; a second
	// confirm (confirmNext) makes it ask twice.
	confirmText string
	confirmFn   func(m *Model) tea.Cmd
	// quitStage counts the quit prompt's confirmations so far.
	quitStage int
	// helpTop is the help overlay's scroll position.
	helpTop int
	// session is this dashboard's presence id.
	session string

	toast   toast
	pending int

	cache      string
	cacheValid bool
	charts     chartCache
	cells      map[cellKey][]string
	hint       hintCache
	// version counts state changes (snapshot, updates) for the caches;
	// eventsVersion counts those that may change any overview cell (a
	// snapshot, events, presence, storage), samplesVersion the samples of
	// each service.
	version        uint64
	eventsVersion  uint64
	samplesVersion map[string]uint64
	redrawQueued   bool
	// samplesPending: samples arrived since the last frame; the clock
	// tick draws them.
	samplesPending bool
}

// New builds the model for one person. It does no I/O: Init subscribes.
func New(o Options) *Model {
	m := &Model{o: o, eng: o.Engine, me: o.Handle, keys: DefaultKeyMap()}
	m.cfg = o.Engine.Config()
	m.roster = o.Engine.Roster()
	m.clk = o.Clock
	if m.clk == nil {
		m.clk = o.Engine.Clock()
	}
	if m.clk == nil {
		m.clk = clock.Real{}
	}
	m.loc = time.UTC
	if tz := m.cfg.Incident.Timezone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			m.loc = l
		}
	}
	parent := o.Context
	if parent == nil {
		parent = context.Background()
	}
	m.ctx, m.cancel = context.WithCancel(parent)
	m.now = m.clk.Now()
	m.width, m.height = o.Width, o.Height
	m.profile = o.Profile
	m.dark = o.Theme != ThemeLight
	m.help = help.New()
	m.tl.follow = true
	m.session = newSessionID()
	if len(m.cfg.Services) > 0 {
		m.detail = m.cfg.Services[0].ID
	}
	m.restyle()
	return m
}

func (m *Model) restyle() {
	m.sty = NewStyles(m.dark, profilePlain(m.profile))
	m.help.Styles = m.sty.Help
	m.input.sty = m.sty
	if m.chooser != nil {
		m.chooser.input.sty = m.sty
	}
	m.invalidate()
}

func (m *Model) invalidate() { m.cacheValid = false }

// Init subscribes to the engine, says this person is connected, and
// starts the clock tick.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{subscribeCmd(m.ctx, m.eng, m.buffer()), m.joinCmd()}
	if !m.o.NoTick {
		cmds = append(cmds, m.tickCmd())
	}
	if m.o.Theme == ThemeAuto {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// joinCmd records this dashboard's presence until its context ends.
func (m *Model) joinCmd() tea.Cmd {
	eng, ctx := m.eng, m.ctx
	join := incident.Join{Session: m.session, Handle: m.me, Via: m.o.Via}
	if join.Via == "" {
		join.Via = incident.ViaLocal
	}
	return func() tea.Msg {
		if eng.Do(ctx, join).Err != nil {
			return nil
		}
		context.AfterFunc(ctx, func() {
			lctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			eng.Do(lctx, incident.Leave{Session: join.Session})
		})
		return nil
	}
}

func (m *Model) buffer() int {
	if m.o.Buffer > 0 {
		return m.o.Buffer
	}
	return 1024
}

// Close ends the feed; the program's exit does it too.
func (m *Model) Close() { m.cancel() }

// Handle is the person this model acts as.
func (m *Model) Handle() string { return m.me }

type tickMsg struct {
	now     time.Time
	mirror  string
	budgets map[string]string
	pub     string
	paging  string
	chain   bool // from the model's own tick chain (re-armed)
}

// tickCmd fires on the next whole second of the clock, for ages and the
// header clock. The clock and the mirror hook are read in the Cmd.
func (m *Model) tickCmd() tea.Cmd {
	clk, hook, budgets, pub, pg := m.clk, m.o.MirrorStatus, m.o.SourceBudgets, m.o.PublisherStatus, m.o.PagingStatus
	d := time.Second - time.Duration(m.now.Nanosecond())
	if d <= 0 || d > time.Second {
		d = time.Second
	}
	return tea.Tick(d, func(time.Time) tea.Msg {
		t := tickMsg{now: clk.Now(), chain: true}
		if hook != nil {
			t.mirror = hook()
		}
		if pub != nil {
			t.pub = pub()
		}
		if pg != nil {
			t.paging = pg()
		}
		if budgets != nil {
			t.budgets = budgets()
		}
		return t
	})
}

// Update handles one message. It never blocks and does no I/O.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.invalidate()
		return m, nil
	case tea.ColorProfileMsg:
		if m.profile != msg.Profile {
			m.profile = msg.Profile
			m.restyle()
		}
		return m, nil
	case tea.BackgroundColorMsg:
		if m.o.Theme == ThemeAuto && m.dark != msg.IsDark() {
			m.dark = msg.IsDark()
			m.restyle()
		}
		return m, nil
	case snapshotMsg:
		return m, m.onSnapshot(msg)
	case feedMsg:
		return m, m.onFeed(msg)
	case redrawMsg:
		m.redrawQueued = false
		m.invalidate()
		return m, nil
	case resubscribeMsg:
		return m, subscribeCmd(m.ctx, m.eng, m.buffer())
	case tickMsg:
		if m.end != nil {
			return m, nil // the room has stopped: its clock with it
		}
		m.now = msg.now
		if m.o.MirrorStatus != nil {
			m.mirror = msg.mirror
		}
		if m.o.SourceBudgets != nil {
			m.budgets = msg.budgets
		}
		if m.o.PublisherStatus != nil {
			m.publisher = msg.pub
		}
		if m.o.PagingStatus != nil {
			m.paging = msg.paging
		}
		m.samplesPending = false
		m.invalidate()
		if !msg.chain || m.o.NoTick {
			return m, nil // a tick from outside (tests) starts no second chain
		}
		return m, m.tickCmd()
	case replyMsg:
		return m, m.onReply(msg)
	case EndMsg:
		m.onEnd(msg)
		return m, nil
	case laterMsg:
		return m, msg(m)
	case tea.KeyPressMsg:
		m.invalidate()
		return m, m.onKey(msg)
	case tea.PasteMsg:
		if m.overlay == overlayInput || m.overlay == overlayChooser {
			m.invalidate()
			return m, m.onOverlayMsg(msg)
		}
		return m, nil
	case tea.MouseClickMsg:
		m.invalidate()
		return m, m.onClick(msg.Mouse())
	case tea.MouseWheelMsg:
		m.invalidate()
		return m, m.onWheel(msg.Mouse())
	}
	return m, nil
}

// View renders the whole screen; the result is cached until something
// changes, so stray messages cost nothing.
func (m *Model) View() tea.View {
	if !m.cacheValid {
		// The same frame is kept as the same string: the renderer then
		// sees an unchanged view at the cost of a pointer compare, and
		// draws nothing.
		if s := m.render(); s != m.cache {
			m.cache = s
		}
		m.cacheValid = true
	}
	v := tea.NewView(m.cache)
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	name := m.cfg.Incident.Name
	if m.st != nil && m.st.Name != "" {
		name = m.st.Name
	}
	v.WindowTitle = "warroom — " + textsafe.Line(name)
	return v
}

func (m *Model) size() (int, int) {
	w, h := m.width, m.height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return w, h
}

// layout is where things are on screen; the renderer and the mouse
// handler both use it.
type layout struct {
	w, h        int
	bodyTop     int
	bodyH       int
	bannerShown bool
	storageBad  bool // the journal cannot write normally: a line says so on every view
	msgLines    int
}

func (m *Model) layout() layout {
	w, h := m.size()
	l := layout{w: w, h: h, bodyTop: 2}
	if m.st != nil && !m.st.Storage.OK() {
		l.storageBad = true
		l.bodyTop++
	}
	if m.st != nil && m.end == nil && (m.st.Roles.Offer != nil || m.approvalBanner(w) != "") {
		l.bannerShown = true
		l.bodyTop++
	}
	// A long reason or prompt wraps rather than being cut.
	l.msgLines = 1
	if t := m.messageText(); width(t) > w {
		l.msgLines = min(len(wrapLines(t, w, 0)), 3)
	}
	l.bodyH = h - l.bodyTop - 1 - l.msgLines
	if l.bodyH < 1 {
		l.bodyH = 1
	}
	return l
}

func (m *Model) render() string {
	m.charts.rotate()
	l := m.layout()
	lines := make([]string, 0, l.h)
	lines = append(lines, m.renderHeader(l.w), m.renderTabs(l.w))
	if l.storageBad {
		lines = append(lines, m.storageBanner(l.w))
	}
	if l.bannerShown {
		lines = append(lines, m.renderBanner(l.w))
	}
	var body []string
	switch {
	case m.st == nil && m.feedErr == "":
		// Before the snapshot: the war-room file's layout, every pane
		// waiting, filled in as the state arrives.
		body = m.renderOverview(l.w, l.bodyH)
	case m.st == nil:
		body = m.renderWaiting(l.w, l.bodyH)
	default:
		switch m.view {
		case viewOverview:
			body = m.renderOverview(l.w, l.bodyH)
		case viewDetail:
			body = m.renderDetail(l.w, l.bodyH)
		case viewAlerts:
			body = m.renderAlerts(l.w, l.bodyH)
		case viewTimeline:
			body = m.renderTimeline(l.w, l.bodyH)
		case viewRoles:
			body = m.renderRoles(l.w, l.bodyH)
		case viewRuns:
			body = m.renderRuns(l.w, l.bodyH)
		case viewRecord:
			body = m.renderRecord(l.w, l.bodyH)
		case viewEnd:
			body = m.renderEnd(l.w, l.bodyH)
		case viewLaunch:
			body = m.renderLaunch(l.w, l.bodyH)
		case viewComms:
			body = m.renderComms(l.w, l.bodyH)
		}
	}
	body = normalize(body, l.w, l.bodyH)
	switch m.overlay {
	case overlayHelp:
		body = m.overlayBox(body, m.renderHelp(l.w, l.bodyH), l.w, l.bodyH)
	case overlayChooser:
		body = m.overlayBox(body, m.renderChooser(l.w, l.bodyH), l.w, l.bodyH)
	}
	lines = append(lines, body...)
	lines = append(lines, m.renderMessage(l.w, l.msgLines)...)
	lines = append(lines, m.renderStatus(l.w))
	return strings.Join(lines, "\n")
}

// normalize makes body exactly h lines of w cells.
func normalize(body []string, w, h int) []string {
	if len(body) > h {
		body = body[:h]
	}
	for i, s := range body {
		if width(s) != w {
			body[i] = fit(s, w)
		}
	}
	blank := strings.Repeat(" ", w)
	for len(body) < h {
		body = append(body, blank)
	}
	return body
}

func (m *Model) overlayBox(body, box []string, w, h int) []string {
	if len(box) == 0 {
		return body
	}
	bw := width(box[0])
	x := (w - bw) / 2
	y := (h - len(box)) / 2
	if y < 0 {
		y = 0
	}
	return overlay(body, box, max(x, 0), y)
}

func (m *Model) renderWaiting(w, h int) []string {
	b := newBlock(w)
	b.add("")
	b.add("  " + m.sty.ToastError.S(m.feedErr))
	return b.render(h)
}

// viewState is the state the overview draws: before the snapshot an
// empty one, so that the layout shows at once with every pane waiting.
func (m *Model) viewState() *incident.State {
	if m.st != nil {
		return m.st
	}
	if m.blank == nil {
		m.blank = incident.NewState()
	}
	return m.blank
}

func (m *Model) toastActive() bool { return m.toast.text != "" && m.now.Before(m.toast.until) }

// setToast shows a message on the message line for a few seconds.
func (m *Model) setToast(kind toastKind, text string) {
	d := 6 * time.Second
	if kind == toastError {
		d = 10 * time.Second
	}
	m.toast = toast{text: textsafe.Line(text), kind: kind, until: m.now.Add(d)}
	m.invalidate()
}

// newSessionID names this dashboard for presence.
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
