// Package slack is a faithful fake of the Slack Web API and Socket Mode,
// used by the mirror's tests and by `warroom demo`. It listens on loopback
// only and speaks the wire formats slack-go sends and expects. What it
// models, and where each behaviour is documented:
//
//   - Web API methods under {URL}/api/: auth.test, chat.postMessage,
//     chat.update, chat.postEphemeral, conversations.history,
//     conversations.replies, conversations.info (the channel with
//     is_member) and
//     apps.connections.open, with form-encoded or JSON bodies and the token
//     in the form or an Authorization: Bearer header (docs.slack.dev method
//     pages; slack-go v0.35.0 sends chat.* as form posts).
//   - Errors as Slack documents them per method (MethodErrors,
//     CommonErrors: Slack's OpenAPI spec slackapi/slack-api-specs
//     web-api/slack_web_openapi_v2.json and docs.slack.dev): HTTP 200
//     {"ok":false,"error":"…"} for every code, including the body rate
//     limits rate_limited and message_limit_exceeded, except ratelimited,
//     which is HTTP 429 with an integer Retry-After (docs.slack.dev "Rate
//     limits"). Scripted failures (FailNext) accept documented codes only.
//   - Rate limits per method, not per call (docs.slack.dev "Rate limits"):
//     chat.postMessage about 1 per second per channel with a short burst;
//     Tier 3 (50+ a minute) for chat.update and conversations.history,
//     Tier 4 for auth.test and chat.postEphemeral, Tier 1 for
//     apps.connections.open (DefaultMethodLimits). A 429's scope is the
//     channel for posts, the workspace for every other method.
//   - Stored text as Slack stores it: bare URLs linkified to <http://x>
//     (Slack's formatting reference: "will linkify any non-linked URLs …
//     IN: Foo bar http://test.com OUT: Foo bar <http://test.com>"), as
//     conversations.history then returns it.
//   - Content limits: 40,000 characters of text (msg_too_long), 50 blocks
//     and 3,000 characters per section (invalid_blocks), from Slack's
//     chat.postMessage and block kit references.
//   - Message ts strings "1700000000.000100", unique and increasing.
//   - conversations.history newest first with has_more and a
//     response_metadata.next_cursor, limit default 100, at most 999;
//     thread replies (chat.postMessage with thread_ts) are not in it
//     unless broadcast. conversations.replies (docs.slack.dev
//     reference/methods/conversations.replies and the spec's
//     "conversations.replies success schema"; Tier 3) returns the thread of
//     ts, which may be the parent or any reply in it: the parent first
//     with thread_ts, reply_count, reply_users, reply_users_count,
//     latest_reply and subscribed, then the replies oldest first, each
//     with thread_ts and parent_user_id; a message without replies comes
//     back alone; an unknown ts is thread_not_found. oldest, latest and
//     inclusive bound the messages as for history, limit defaults to and
//     is capped at 1,000, and a next_cursor page goes on after the last
//     message without repeating the parent.
//   - A Socket Mode websocket (any Origin) that says hello, delivers
//     slash_commands and interactive envelopes and reads the acks within
//     3 s (docs.slack.dev "Socket Mode").
//
// Tests script failures (429 storms, random 429s, 5xx outages, refused
// connections, replies lost after the message was applied) and read back
// what was posted (Messages), every request with its time (Requests) and
// every broken rule, such as a request sent before its Retry-After
// (Violations). A transcript of what was posted can be streamed to a
// writer.
//
// Import it under another name (slacksim) next to slack-go.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/warroom/warroom/clock"
)

// Slack's documented limits that the fake enforces.
const (
	MaxTextLen        = 40000 // chat.postMessage text (Slack truncates; the fake refuses with msg_too_long)
	MaxBlocks         = 50    // blocks per message
	MaxSectionText    = 3000  // section block text
	DefaultHistoryMax = 100   // conversations.history default limit
	maxHistoryLimit   = 999
	maxRepliesLimit   = 1000 // conversations.replies: default and most per page
)

// Channel is a conversation the fake knows.
type Channel struct {
	ID       string
	Name     string
	Archived bool // posts fail with is_archived
	// NotMember: the bot was never invited; posts fail with not_in_channel.
	NotMember bool
}

// User is a workspace member, for slash command and interaction payloads.
type User struct {
	ID   string
	Name string
}

// Limit is a token bucket: Rate requests per second with Burst.
type Limit struct {
	Rate  float64
	Burst int
}

// Options configure a fake Slack.
type Options struct {
	// Clock drives ts values, rate limits and scripted windows
	// (default real time). The Socket Mode ack deadline is always real
	// time, as Slack's is.
	Clock clock.Clock
	// Addr is the listen address (default 127.0.0.1:0). Only loopback
	// addresses are accepted.
	Addr string

	BotToken string // the xoxb- token Web API calls must carry
	AppToken string // the xapp- token for apps.connections.open

	TeamID    string // default T0WARROOM
	TeamName  string // default "warroom"
	BotUserID string // default U0WARBOT
	BotID     string // default B0WARBOT
	AppID     string // default A0WARROOM

	Channels []Channel // default one channel C0WARROOM #warroom
	Users    []User

	// PostLimit is chat.postMessage's limit per channel (default 1/s,
	// burst 4: Slack allows short bursts above one per second).
	PostLimit Limit
	// MethodLimits are per-method, workspace-wide limits (defaults: the
	// Tier of each method; see DefaultMethodLimits).
	MethodLimits map[string]Limit
	// DefaultRetryAfter is sent with scripted 429s that do not name one.
	DefaultRetryAfter time.Duration

	// AckTimeout is how long Socket Mode waits for an envelope ack
	// before recording a violation (default 3s, Slack's rule).
	AckTimeout time.Duration
	// PingInterval is how often the websocket is pinged (default 5s).
	PingInterval time.Duration

	// Transcript, when set, receives a readable line for every message
	// posted, updated or sent ephemerally, every slash command and button
	// click, and every scripted failure.
	Transcript io.Writer
	Seed       uint64 // for random failures

	// MaxRequests bounds the request log (default 100,000; the oldest go
	// first). MaxMessages bounds each channel's stored messages and the
	// ephemeral log (default 0: keep everything, as Slack does); a long
	// demo sets it so memory stays flat.
	MaxRequests int
	MaxMessages int
}

// DefaultMethodLimits are Slack's tiers for the methods the fake serves,
// per minute: Tier 3 (50+) for chat.update and conversations.history,
// Tier 4 (100+) for chat.postEphemeral and auth.test, Tier 1 (1+; the
// fake allows 20) for apps.connections.open.
func DefaultMethodLimits() map[string]Limit {
	return map[string]Limit{
		"chat.update":           {Rate: 50.0 / 60, Burst: 12},
		"conversations.history": {Rate: 50.0 / 60, Burst: 12},
		"conversations.replies": {Rate: 50.0 / 60, Burst: 12},
		"conversations.info":    {Rate: 50.0 / 60, Burst: 12},
		"chat.postEphemeral":    {Rate: 100.0 / 60, Burst: 25},
		"auth.test":             {Rate: 100.0 / 60, Burst: 25},
		"apps.connections.open": {Rate: 20.0 / 60, Burst: 5},
	}
}

// Message is a message as stored, after any updates.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string
	User      string
	BotID     string
	Text      string
	Blocks    json.RawMessage
	Edits     int  // how many times chat.update changed it
	Broadcast bool // a thread reply also shown in the channel
	Posted    time.Time
}

// Ephemeral is a message only one user saw: chat.postEphemeral, or the
// response payload of a slash command's ack.
type Ephemeral struct {
	Time    time.Time
	Channel string
	User    string
	Text    string
	Blocks  json.RawMessage
	Source  string // "chat.postEphemeral" or "slash response"
}

// Request is one Web API call as the fake saw it.
type Request struct {
	Time       time.Time
	Method     string
	Channel    string
	Status     int           // HTTP status answered (0: connection dropped)
	Error      string        // Slack error code, if any
	RetryAfter time.Duration // for 429s
	Applied    bool          // the call changed state (posted, updated)
	Dropped    bool          // the reply was lost on purpose
}

// Server is a running fake Slack.
type Server struct {
	o   Options
	clk clock.Clock
	// relisten hands the serving goroutine the listener of an outage's
	// end, so every goroutine of the server is one Start made (a test in
	// a testing/synctest bubble that calls SetRefusing owns none of them).
	relisten chan net.Listener
	stopped  chan struct{}

	mu         sync.Mutex
	ln         net.Listener
	addr       string
	srv        *http.Server
	conns      map[net.Conn]struct{}
	refusing   bool
	closed     bool
	channels   map[string]*channel
	chanOrder  []string
	users      map[string]User
	lastTS     int64 // micros
	requests   []Request
	violations []string
	deadlines  map[string]time.Time // 429 scope → retry-at
	buckets    map[string]*bucket
	ephemerals []Ephemeral
	rng        *rand.Rand
	revoked    map[string]string // token → error code

	// scripted behaviour
	stormUntil   time.Time
	stormRA      time.Duration
	randomP      float64
	randomRA     time.Duration
	no429Header  int // next n 429s carry no Retry-After
	failUntil    time.Time
	failStatus   int
	dropAfter    int     // next n applying calls lose their reply after applying
	dropThread   int     // next n thread replies lose their reply after applying
	dropBefore   int     // next n calls are lost before anything is applied
	dropP        float64 // probability of losing a reply after applying
	methodErrors map[string][]string

	// socket mode
	sock *socketHub

	transcript io.Writer
}

type channel struct {
	Channel
	messages []*Message
}

// New builds a fake Slack; call Start to listen.
func New(o Options) *Server {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.TeamID == "" {
		o.TeamID = "T0WARROOM"
	}
	if o.TeamName == "" {
		o.TeamName = "warroom"
	}
	if o.BotUserID == "" {
		o.BotUserID = "U0WARBOT"
	}
	if o.BotID == "" {
		o.BotID = "B0WARBOT"
	}
	if o.AppID == "" {
		o.AppID = "A0WARROOM"
	}
	if len(o.Channels) == 0 {
		o.Channels = []Channel{{ID: "C0WARROOM", Name: "warroom"}}
	}
	if o.PostLimit.Rate <= 0 {
		o.PostLimit = Limit{Rate: 1, Burst: 4}
	}
	if o.PostLimit.Burst < 1 {
		o.PostLimit.Burst = 1
	}
	limits := DefaultMethodLimits()
	for k, v := range o.MethodLimits {
		limits[k] = v
	}
	o.MethodLimits = limits
	if o.DefaultRetryAfter <= 0 {
		o.DefaultRetryAfter = 30 * time.Second
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 3 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 5 * time.Second
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 100000
	}
	s := &Server{
		o: o, clk: o.Clock,
		conns:        map[net.Conn]struct{}{},
		channels:     map[string]*channel{},
		users:        map[string]User{},
		deadlines:    map[string]time.Time{},
		buckets:      map[string]*bucket{},
		rng:          rand.New(rand.NewPCG(o.Seed, 0x5eed)),
		revoked:      map[string]string{},
		methodErrors: map[string][]string{},
		transcript:   o.Transcript,
	}
	for _, c := range o.Channels {
		s.channels[c.ID] = &channel{Channel: c}
		s.chanOrder = append(s.chanOrder, c.ID)
	}
	for _, u := range o.Users {
		s.users[u.ID] = u
	}
	s.sock = newSocketHub(s)
	s.relisten, s.stopped = make(chan net.Listener), make(chan struct{})
	return s
}

// Start listens on loopback and serves until Close.
func (s *Server) Start() error {
	host, _, err := net.SplitHostPort(s.o.Addr)
	if err != nil {
		return fmt.Errorf("slack sim: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("slack sim: refusing to listen on non-loopback address %s", s.o.Addr)
	}
	ln, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return fmt.Errorf("slack sim: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/link/", s.sock.handleWS)
	s.mu.Lock()
	s.ln = ln
	s.addr = ln.Addr().String()
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.connState,
		ErrorLog:          nil,
	}
	srv := s.srv
	s.mu.Unlock()
	go s.listen(srv, ln)
	return nil
}

// listen serves ln, and after an outage the listener SetRefusing opens
// again, until Close.
func (s *Server) listen(srv *http.Server, ln net.Listener) {
	for {
		srv.Serve(ln) //nolint:errcheck // returns when ln closes (an outage) or on Close
		select {
		case ln = <-s.relisten:
		case <-s.stopped:
			return
		}
	}
}

func (s *Server) connState(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// Close stops the server and drops every connection.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	srv := s.srv
	close(s.stopped)
	s.mu.Unlock()
	s.sock.closeAll()
	if srv != nil {
		srv.Close()
	}
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234/.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr + "/"
}

// APIURL is the Web API base for slack.OptionAPIURL (ends in "/").
func (s *Server) APIURL() string { return s.URL() + "api/" }

// ChannelID is the first (default) channel's ID.
func (s *Server) ChannelID() string { return s.o.Channels[0].ID }

// Now reads the server's clock.
func (s *Server) Now() time.Time { return s.clk.Now() }

// ---- scripting -------------------------------------------------------------

// Storm answers every Web API call with 429 and the given Retry-After until
// the clock passes until (retryAfter 0: DefaultRetryAfter).
func (s *Server) Storm(until time.Time, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if retryAfter <= 0 {
		retryAfter = s.o.DefaultRetryAfter
	}
	s.stormUntil, s.stormRA = until, retryAfter
	s.note("SCRIPT 429 storm until %s, Retry-After %s", until.UTC().Format(time.RFC3339), retryAfter)
}

// RandomRateLimit answers each call with 429 and retryAfter with
// probability p (0 turns it off).
func (s *Server) RandomRateLimit(p float64, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if retryAfter <= 0 {
		retryAfter = s.o.DefaultRetryAfter
	}
	s.randomP, s.randomRA = p, retryAfter
}

// OmitRetryAfter makes the next n 429s carry no Retry-After header (as
// some proxies do); slack-go then reports a StatusCodeError, not a
// RateLimitedError.
func (s *Server) OmitRetryAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.no429Header = n
}

// Fail answers every Web API call with the HTTP status (e.g. 503) until
// the clock passes until: an outage in which Slack still answers.
func (s *Server) Fail(until time.Time, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failUntil, s.failStatus = until, status
	s.note("SCRIPT outage: HTTP %d until %s", status, until.UTC().Format(time.RFC3339))
}

// SetRefusing closes the listening socket and every open connection (on),
// so clients get "connection refused", or listens again on the same
// address (off). Stored messages survive.
func (s *Server) SetRefusing(on bool) error {
	s.mu.Lock()
	if s.refusing == on || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.refusing = on
	if on {
		ln := s.ln
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.note("SCRIPT outage: connections refused")
		s.mu.Unlock()
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
		s.sock.closeAll()
		return nil
	}
	addr := s.addr
	s.mu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("slack sim: listen again on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.note("SCRIPT outage over: listening again")
	s.mu.Unlock()
	select {
	case s.relisten <- ln:
	case <-s.stopped:
		ln.Close()
	}
	return nil
}

// DropReplies makes the next n calls that change state (post, update,
// ephemeral) apply the change and then close the connection without an
// answer: the client cannot know the message exists.
func (s *Server) DropReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = n
}

// DropThreadReplies is DropReplies for the next n posts into a thread
// only (chat.postMessage with thread_ts).
func (s *Server) DropThreadReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropThread = n
}

// DropReplyProbability loses the reply of each state-changing call with
// probability p, after applying it.
func (s *Server) DropReplyProbability(p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropP = p
}

// DropRequests makes the next n calls vanish before they are applied
// (the connection closes with no answer): the request never "arrived".
func (s *Server) DropRequests(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropBefore = n
}

// FailNext makes the next calls of method answer code, once per code
// given, the way Slack answers it: ratelimited as HTTP 429 with
// Retry-After (DefaultRetryAfter), every other code as HTTP 200
// {"ok":false,"error":code}. It panics on a code Slack does not document
// for the method: the fake only says what Slack can say.
func (s *Server) FailNext(method string, codes ...string) {
	for _, c := range codes {
		if !Documented(method, c) {
			panic(fmt.Sprintf("slack sim: Slack does not document %q as an answer of %s", c, method))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.methodErrors[method] = append(s.methodErrors[method], codes...)
}

// RevokeToken makes calls with token answer code from now on
// (token_revoked, account_inactive, invalid_auth …).
func (s *Server) RevokeToken(token, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[token] = code
}

// SetChannel changes a channel's flags (archive it, remove the bot) or
// adds a channel.
func (s *Server) SetChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.channels[c.ID]; ch != nil {
		ch.Channel = c
		return
	}
	s.channels[c.ID] = &channel{Channel: c}
	s.chanOrder = append(s.chanOrder, c.ID)
}

// AddUserMessage stores a message written by a person (the bot cannot
// update it: cant_update_message).
func (s *Server) AddUserMessage(channelID, user, text string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channelID]
	if ch == nil {
		return "", errors.New("channel_not_found")
	}
	m := &Message{Channel: channelID, TS: s.nextTS(), User: user, Text: text, Posted: s.clk.Now()}
	s.store(ch, m)
	return m.TS, nil
}

// ---- read back -------------------------------------------------------------

// Messages returns a channel's messages (thread replies included), oldest
// first, as they are now.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channelID]
	if ch == nil {
		return nil
	}
	out := make([]Message, len(ch.messages))
	for i, m := range ch.messages {
		out[i] = *m
	}
	return out
}

// Ephemerals returns the ephemeral messages user saw ("" for everyone's).
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if user == "" || e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Requests returns every Web API call so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations lists broken client rules: a request sent before the
// Retry-After of a 429 in its scope had passed, an envelope not acked in
// time, an ack for an unknown envelope.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// ---- HTTP ------------------------------------------------------------------

type params struct {
	form   url.Values
	blocks json.RawMessage
	token  string
	bearer bool
}

func (p params) get(k string) string { return p.form.Get(k) }

func (s *Server) parse(r *http.Request) (params, error) {
	var p params
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		p.token, p.bearer = strings.TrimPrefix(auth, "Bearer "), true
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		return p, err
	}
	if len(body) > 1<<20 {
		return p, errors.New("request too large")
	}
	p.form = url.Values{}
	for k, v := range r.URL.Query() {
		p.form[k] = v
	}
	switch ct {
	case "application/json":
		if len(body) == 0 {
			break
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return p, errors.New("invalid_json")
		}
		for k, raw := range obj {
			if k == "blocks" {
				p.blocks = raw
				continue
			}
			var str string
			if json.Unmarshal(raw, &str) == nil {
				p.form.Set(k, str)
			} else {
				p.form.Set(k, strings.Trim(string(raw), `"`))
			}
		}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return p, errors.New("invalid_form_data")
		}
		for k, v := range vals {
			p.form[k] = v
		}
		if b := p.form.Get("blocks"); b != "" {
			p.blocks = json.RawMessage(b)
		}
	}
	if !p.bearer {
		p.token = p.form.Get("token")
	}
	return p, nil
}

type reply struct {
	status     int
	body       any
	retryAfter time.Duration
	noRAHeader bool
	drop       bool // close the connection instead of answering
}

func okBody(fields map[string]any) map[string]any {
	fields["ok"] = true
	return fields
}

func errBody(code string) map[string]any { return map[string]any{"ok": false, "error": code} }

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	p, perr := s.parse(r)
	s.mu.Lock()
	now := s.clk.Now()
	req := Request{Time: now, Method: method, Channel: p.get("channel")}
	var rep reply
	switch {
	case perr != nil:
		rep = reply{status: 200, body: errBody(perr.Error())}
	default:
		rep = s.serve(now, method, p, &req)
	}
	req.Status = rep.status
	if rep.drop {
		req.Status, req.Dropped = 0, true
	}
	if m, ok := rep.body.(map[string]any); ok && m["ok"] == false {
		req.Error, _ = m["error"].(string)
	}
	req.RetryAfter = rep.retryAfter
	s.requests = trim(append(s.requests, req), s.o.MaxRequests)
	s.mu.Unlock()

	if rep.drop {
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if rep.status == http.StatusTooManyRequests && !rep.noRAHeader {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rep.retryAfter.Seconds()))))
	}
	if rep.status >= 500 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(rep.status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", rep.status, http.StatusText(rep.status))
		return
	}
	if rep.status == 404 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	json.NewEncoder(w).Encode(rep.body) //nolint:errcheck
}

// scope is what a 429 limits: chat.postMessage per channel, every other
// method across the workspace.
func scope(method, channel string) string {
	if method == "chat.postMessage" && channel != "" {
		return method + ":" + channel
	}
	return method
}

// serve decides the answer to one call. Called with s.mu held.
func (s *Server) serve(now time.Time, method string, p params, req *Request) reply {
	sc := scope(method, p.get("channel"))
	if until, ok := s.deadlines[sc]; ok && now.Before(until) {
		s.violate("%s: request at %s, %s before the Retry-After of an earlier 429 (until %s)",
			sc, now.UTC().Format("15:04:05.000"), until.Sub(now).Round(time.Millisecond), until.UTC().Format("15:04:05.000"))
	}
	if now.Before(s.failUntil) {
		return reply{status: s.failStatus}
	}
	if s.dropBefore > 0 {
		s.dropBefore--
		s.note("SCRIPT %s request lost before it arrived", method)
		return reply{drop: true}
	}
	if _, known := methods[method]; !known {
		return reply{status: 404}
	}
	ra := time.Duration(0)
	switch {
	case now.Before(s.stormUntil):
		ra = s.stormRA
	case s.randomP > 0 && s.rng.Float64() < s.randomP:
		ra = s.randomRA
	}
	if ra > 0 {
		return s.limited(now, sc, method, p.get("channel"), ra)
	}
	// Authentication.
	wantApp := method == "apps.connections.open"
	switch {
	case p.token == "":
		return reply{status: 200, body: errBody("not_authed")}
	case s.revoked[p.token] != "":
		return reply{status: 200, body: errBody(s.revoked[p.token])}
	case wantApp && p.token == s.o.BotToken && s.o.BotToken != "":
		return reply{status: 200, body: errBody("not_allowed_token_type")}
	case !wantApp && p.token == s.o.AppToken && s.o.AppToken != "":
		return reply{status: 200, body: errBody("not_allowed_token_type")}
	case wantApp && p.token != s.o.AppToken, !wantApp && p.token != s.o.BotToken:
		return reply{status: 200, body: errBody("invalid_auth")}
	}
	// Natural rate limits.
	if lim, ok := s.limitFor(method); ok {
		key := sc
		b := s.buckets[key]
		if b == nil {
			b = &bucket{tokens: float64(lim.Burst), last: now, lim: lim}
			s.buckets[key] = b
		}
		if wait := b.take(now); wait > 0 {
			secs := math.Max(1, math.Ceil(wait.Seconds()))
			return s.limited(now, sc, method, p.get("channel"), time.Duration(secs)*time.Second)
		}
	}
	if codes := s.methodErrors[method]; len(codes) > 0 {
		s.methodErrors[method] = codes[1:]
		if codes[0] == "ratelimited" {
			return s.limited(now, sc, method, p.get("channel"), s.o.DefaultRetryAfter)
		}
		s.note("SCRIPT %s answered %s", method, codes[0])
		return reply{status: 200, body: errBody(codes[0])}
	}
	rep := methods[method](s, now, p, req)
	if req.Applied {
		drop := false
		if s.dropAfter > 0 {
			s.dropAfter--
			drop = true
		} else if s.dropThread > 0 && method == "chat.postMessage" && p.get("thread_ts") != "" {
			s.dropThread--
			drop = true
		} else if s.dropP > 0 && s.rng.Float64() < s.dropP {
			drop = true
		}
		if drop {
			s.note("SCRIPT %s applied, reply lost", method)
			rep.drop = true
		}
	}
	return rep
}

func (s *Server) limitFor(method string) (Limit, bool) {
	if method == "chat.postMessage" {
		return s.o.PostLimit, true
	}
	l, ok := s.o.MethodLimits[method]
	return l, ok && l.Rate > 0
}

func (s *Server) limited(now time.Time, sc, method, channel string, ra time.Duration) reply {
	if until := now.Add(ra); until.After(s.deadlines[sc]) {
		s.deadlines[sc] = until
	}
	noHeader := false
	if s.no429Header > 0 {
		s.no429Header--
		noHeader = true
	}
	where := method
	if channel != "" {
		where += " " + s.chanName(channel)
	}
	s.note("429 %s Retry-After %s", where, ra)
	return reply{status: http.StatusTooManyRequests, body: errBody("ratelimited"), retryAfter: ra, noRAHeader: noHeader}
}

// trim drops the oldest entries of a log that outgrew limit (0: no bound),
// a tenth more than needed so that it does not trim on every append.
func trim[T any](l []T, limit int) []T {
	if limit <= 0 || len(l) <= limit {
		return l
	}
	drop := len(l) - limit + limit/10
	return append(l[:0:0], l[drop:]...)
}

// store adds a message to a channel, within MaxMessages. s.mu is held.
func (s *Server) store(ch *channel, m *Message) {
	ch.messages = trim(append(ch.messages, m), s.o.MaxMessages)
}

func (s *Server) violate(format string, args ...any) {
	v := fmt.Sprintf(format, args...)
	s.violations = trim(append(s.violations, v), 10000)
	s.note("VIOLATION %s", v)
}

// nextTS returns a fresh ts: the clock's time in "secs.micros", bumped
// past the previous one so that every ts is unique and increasing.
func (s *Server) nextTS() string {
	us := s.clk.Now().UnixMicro()
	if us <= s.lastTS {
		us = s.lastTS + 1
	}
	s.lastTS = us
	return FormatTS(us)
}

// FormatTS writes micros since the epoch the way Slack writes ts.
func FormatTS(us int64) string { return fmt.Sprintf("%d.%06d", us/1e6, us%1e6) }

// ParseTS reads a Slack ts into micros since the epoch.
func ParseTS(ts string) (int64, error) {
	sec, frac, _ := strings.Cut(ts, ".")
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad ts %q", ts)
	}
	var b int64
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		frac += strings.Repeat("0", 6-len(frac))
		if b, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return 0, fmt.Errorf("bad ts %q", ts)
		}
	}
	return a*1e6 + b, nil
}

type bucket struct {
	lim    Limit
	tokens float64
	last   time.Time
}

// take spends a token, or says how long until one is available.
func (b *bucket) take(now time.Time) time.Duration {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(float64(b.lim.Burst), b.tokens+dt*b.lim.Rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.lim.Rate * float64(time.Second))
}

// ---- methods ----------------------------------------------------------------

type methodFunc func(s *Server, now time.Time, p params, req *Request) reply

var methods map[string]methodFunc

func init() {
	methods = map[string]methodFunc{
		"auth.test":             (*Server).authTest,
		"chat.postMessage":      (*Server).postMessage,
		"chat.update":           (*Server).update,
		"chat.postEphemeral":    (*Server).postEphemeral,
		"conversations.history": (*Server).history,
		"conversations.replies": (*Server).replies,
		"conversations.info":    (*Server).conversationInfo,
		"apps.connections.open": (*Server).connectionsOpen,
	}
}

func (s *Server) authTest(now time.Time, p params, req *Request) reply {
	return reply{status: 200, body: okBody(map[string]any{
		"url": "https://" + s.o.TeamName + ".slack.com/", "team": s.o.TeamName, "user": "warroom",
		"team_id": s.o.TeamID, "user_id": s.o.BotUserID, "bot_id": s.o.BotID, "is_enterprise_install": false,
	})}
}

// channelFor resolves the channel of a post; the error is Slack's code.
func (s *Server) channelFor(p params, write bool) (*channel, string) {
	id := p.get("channel")
	if id == "" {
		return nil, "channel_not_found"
	}
	ch := s.channels[id]
	if ch == nil {
		// Slack also accepts a #name for posts.
		for _, c := range s.channels {
			if "#"+c.Name == id || c.Name == id {
				ch = c
			}
		}
	}
	if ch == nil {
		return nil, "channel_not_found"
	}
	if write && ch.Archived {
		return nil, "is_archived"
	}
	if ch.NotMember {
		return nil, "not_in_channel"
	}
	return ch, ""
}

// checkContent applies Slack's limits on text and blocks.
func checkContent(text string, blocks json.RawMessage) string {
	if text == "" && len(blocks) == 0 {
		return "no_text"
	}
	if utf8.RuneCountInString(text) > MaxTextLen {
		return "msg_too_long"
	}
	if len(blocks) > 0 {
		var bs []map[string]json.RawMessage
		if err := json.Unmarshal(blocks, &bs); err != nil {
			return "invalid_blocks_format"
		}
		if len(bs) > MaxBlocks {
			return "invalid_blocks"
		}
		for _, b := range bs {
			var typ string
			if json.Unmarshal(b["type"], &typ) != nil || typ == "" {
				return "invalid_blocks"
			}
			if t, ok := b["text"]; ok {
				var to struct {
					Type string `json:"type"`
					Text string `json:"text"`
				}
				if json.Unmarshal(t, &to) != nil || utf8.RuneCountInString(to.Text) > MaxSectionText {
					return "invalid_blocks"
				}
			}
		}
	}
	return ""
}

func (s *Server) postMessage(now time.Time, p params, req *Request) reply {
	ch, code := s.channelFor(p, true)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	text := p.get("text")
	if code := checkContent(text, p.blocks); code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	thread := p.get("thread_ts")
	if thread != "" && ch.find(thread) == nil {
		return reply{status: 200, body: errBody("thread_not_found")}
	}
	m := &Message{Channel: ch.ID, TS: s.nextTS(), ThreadTS: thread, User: s.o.BotUserID, BotID: s.o.BotID,
		Text: linkify(text), Blocks: compactJSON(p.blocks), Posted: now,
		Broadcast: thread != "" && (p.get("reply_broadcast") == "true" || p.get("reply_broadcast") == "1")}
	s.store(ch, m)
	req.Applied = true
	s.transcribe(now, "post", ch, m.TS, "", text)
	return reply{status: 200, body: okBody(map[string]any{"channel": ch.ID, "ts": m.TS, "message": wireMessage(m)})}
}

func (s *Server) update(now time.Time, p params, req *Request) reply {
	ch, code := s.channelFor(p, true)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	m := ch.find(p.get("ts"))
	switch {
	case p.get("ts") == "" || m == nil:
		return reply{status: 200, body: errBody("message_not_found")}
	case m.BotID != s.o.BotID:
		return reply{status: 200, body: errBody("cant_update_message")}
	}
	text := p.get("text")
	blocks := p.blocks
	if code := checkContent(text, blocks); code != "" && !(code == "no_text" && len(m.Blocks) > 0) {
		return reply{status: 200, body: errBody(code)}
	}
	m.Text = linkify(text)
	// Slack keeps the previous blocks when none are given.
	if len(blocks) > 0 {
		m.Blocks = compactJSON(blocks)
	}
	m.Edits++
	req.Applied = true
	s.transcribe(now, "update", ch, m.TS, fmt.Sprintf("edit %d", m.Edits), text)
	return reply{status: 200, body: okBody(map[string]any{"channel": ch.ID, "ts": m.TS, "text": m.Text, "message": wireMessage(m)})}
}

func (s *Server) postEphemeral(now time.Time, p params, req *Request) reply {
	ch, code := s.channelFor(p, true)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	user := p.get("user")
	if user == "" {
		return reply{status: 200, body: errBody("user_not_found")}
	}
	text := p.get("text")
	if code := checkContent(text, p.blocks); code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	ts := s.nextTS()
	s.ephemerals = trim(append(s.ephemerals, Ephemeral{Time: now, Channel: ch.ID, User: user, Text: text, Blocks: compactJSON(p.blocks), Source: "chat.postEphemeral"}), s.o.MaxMessages)
	req.Applied = true
	s.transcribe(now, "ephemeral", ch, "", "to "+s.userName(user), text)
	return reply{status: 200, body: okBody(map[string]any{"message_ts": ts})}
}

// conversationInfo answers conversations.info: the channel object with
// is_member for the calling bot (docs.slack.dev conversations.info; a
// public channel the bot never joined answers ok with is_member false,
// an unknown id channel_not_found).
func (s *Server) conversationInfo(now time.Time, p params, req *Request) reply {
	id := p.get("channel")
	ch := s.channels[id]
	if id == "" || ch == nil {
		return reply{status: 200, body: errBody("channel_not_found")}
	}
	return reply{status: 200, body: okBody(map[string]any{"channel": map[string]any{
		"id": ch.ID, "name": ch.Name, "is_channel": true, "is_group": false, "is_im": false, "is_private": false,
		"is_archived": ch.Archived, "is_member": !ch.NotMember, "is_general": false, "created": 1706000000,
		"name_normalized": ch.Name,
	}})}
}

func (s *Server) history(now time.Time, p params, req *Request) reply {
	ch, code := s.channelFor(p, false)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	w, code := readWindow(p, DefaultHistoryMax, maxHistoryLimit)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	if c := p.get("cursor"); c != "" {
		// Our cursors are "next:<ts>": continue below that ts.
		v, ok := strings.CutPrefix(c, "next:")
		t, err := ParseTS(v)
		if !ok || err != nil {
			return reply{status: 200, body: errBody("invalid_cursor")}
		}
		w.latest, w.inclusive = t, false
	}
	// Newest first, channel-level messages only (thread replies only if
	// broadcast), as conversations.history returns them.
	var picked []*Message
	more := false
	for i := len(ch.messages) - 1; i >= 0; i-- {
		m := ch.messages[i]
		if m.ThreadTS != "" && m.ThreadTS != m.TS && !m.Broadcast {
			continue
		}
		if t, _ := ParseTS(m.TS); !w.holds(t) {
			continue
		}
		if len(picked) == w.limit {
			more = true
			break
		}
		picked = append(picked, m)
	}
	msgs := make([]map[string]any, len(picked))
	for i, m := range picked {
		msgs[i] = wireMessage(m)
	}
	body := okBody(map[string]any{"messages": msgs, "has_more": more, "pin_count": 0})
	if more {
		body["response_metadata"] = map[string]any{"next_cursor": "next:" + picked[len(picked)-1].TS}
	}
	return reply{status: 200, body: body}
}

// window is the page a history or replies call asks for: its limit and
// the oldest/latest bounds, which conversations.history and
// conversations.replies read the same way.
type window struct {
	limit          int
	oldest, latest int64
	inclusive      bool
}

// readWindow reads limit (default def, at most max; 0 means the default),
// oldest, latest and inclusive, or returns the error code Slack answers.
func readWindow(p params, def, max int) (window, string) {
	w := window{limit: def, latest: math.MaxInt64}
	if l := p.get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return w, "invalid_limit"
		}
		if n > 0 {
			w.limit = min(n, max)
		}
	}
	w.inclusive = p.get("inclusive") == "1" || p.get("inclusive") == "true"
	var err error
	if o := p.get("oldest"); o != "" {
		if w.oldest, err = ParseTS(o); err != nil {
			return w, "invalid_ts_oldest"
		}
	}
	if l := p.get("latest"); l != "" {
		if w.latest, err = ParseTS(l); err != nil {
			return w, "invalid_ts_latest"
		}
	}
	return w, ""
}

// holds says whether a message at ts t is inside the window.
func (w window) holds(t int64) bool {
	if t > w.latest || t < w.oldest {
		return false
	}
	return w.inclusive || (t != w.latest && t != w.oldest)
}

// replies answers conversations.replies: the thread of the message ts
// (a parent or any reply in it), its parent first, then the replies oldest
// first, within oldest/latest; a message without replies is returned alone.
func (s *Server) replies(now time.Time, p params, req *Request) reply {
	ch, code := s.channelFor(p, false)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	parent := ch.find(p.get("ts"))
	if parent != nil && parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		parent = ch.find(parent.ThreadTS)
	}
	if parent == nil {
		return reply{status: 200, body: errBody("thread_not_found")}
	}
	w, code := readWindow(p, maxRepliesLimit, maxRepliesLimit)
	if code != "" {
		return reply{status: 200, body: errBody(code)}
	}
	after := int64(-1)
	if c := p.get("cursor"); c != "" {
		v, ok := strings.CutPrefix(c, "next:")
		t, err := ParseTS(v)
		if !ok || err != nil {
			return reply{status: 200, body: errBody("invalid_cursor")}
		}
		after = t
	}
	thread := []*Message{parent}
	var users []string
	for _, m := range ch.messages {
		if m.ThreadTS == parent.TS && m != parent {
			thread = append(thread, m)
			if !slices.Contains(users, m.User) {
				users = append(users, m.User)
			}
		}
	}
	var picked []*Message
	more := false
	for _, m := range thread {
		if t, _ := ParseTS(m.TS); t <= after || !w.holds(t) {
			continue
		}
		if len(picked) == w.limit {
			more = true
			break
		}
		picked = append(picked, m)
	}
	msgs := make([]map[string]any, len(picked))
	for i, m := range picked {
		wm := wireMessage(m)
		switch {
		case m == parent && len(thread) > 1:
			// A parent carries its thread's summary (the spec's first
			// message schema); an unthreaded message is just itself.
			wm["thread_ts"] = parent.TS
			wm["reply_count"] = len(thread) - 1
			wm["reply_users"] = users
			wm["reply_users_count"] = len(users)
			wm["latest_reply"] = thread[len(thread)-1].TS
			wm["subscribed"] = false
		case m != parent:
			wm["parent_user_id"] = parent.User
		}
		msgs[i] = wm
	}
	body := okBody(map[string]any{"messages": msgs, "has_more": more})
	if more {
		body["response_metadata"] = map[string]any{"next_cursor": "next:" + picked[len(picked)-1].TS}
	}
	return reply{status: 200, body: body}
}

func (s *Server) connectionsOpen(now time.Time, p params, req *Request) reply {
	ticket := s.sock.issueTicket()
	return reply{status: 200, body: okBody(map[string]any{
		"url": "ws://" + s.addr + "/link/?ticket=" + ticket + "&app_id=" + s.o.AppID,
	})}
}

func (c *channel) find(ts string) *Message {
	i := sort.Search(len(c.messages), func(i int) bool { return c.messages[i].TS >= ts })
	// ts strings of equal length sort like numbers; user messages added
	// out of order are rare, so fall back to a scan.
	if i < len(c.messages) && c.messages[i].TS == ts {
		return c.messages[i]
	}
	for _, m := range c.messages {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func wireMessage(m *Message) map[string]any {
	w := map[string]any{"type": "message", "text": m.Text, "ts": m.TS}
	if m.User != "" {
		w["user"] = m.User
	}
	if m.BotID != "" {
		w["bot_id"] = m.BotID
	}
	if m.ThreadTS != "" {
		w["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		w["blocks"] = m.Blocks
	}
	if m.Edits > 0 {
		w["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	return w
}

func compactJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

// ---- transcript ---------------------------------------------------------------

func (s *Server) chanName(id string) string {
	if ch := s.channels[id]; ch != nil && ch.Name != "" {
		return "#" + ch.Name
	}
	return id
}

func (s *Server) userName(id string) string {
	if u, ok := s.users[id]; ok && u.Name != "" {
		return u.Name + " (" + id + ")"
	}
	return id
}

// transcribe writes one posted/updated/ephemeral message. s.mu is held.
func (s *Server) transcribe(now time.Time, what string, ch *channel, ts, extra, text string) {
	if s.transcript == nil {
		return
	}
	head := fmt.Sprintf("%s %-9s %s", now.UTC().Format("15:04:05"), what, s.chanName(ch.ID))
	if ts != "" {
		head += " ts=" + ts
	}
	if extra != "" {
		head += " (" + extra + ")"
	}
	var b strings.Builder
	b.WriteString(head)
	b.WriteByte('\n')
	for _, l := range strings.Split(text, "\n") {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	io.WriteString(s.transcript, b.String()) //nolint:errcheck
}

// note writes a one-line transcript entry. s.mu is held.
func (s *Server) note(format string, args ...any) {
	if s.transcript == nil {
		return
	}
	fmt.Fprintf(s.transcript, "%s %s\n", s.clk.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Dump writes every channel's messages as they are now (after updates),
// oldest first: what a person scrolling the channel would read.
func (s *Server) Dump(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, id := range s.chanOrder {
		ch := s.channels[id]
		fmt.Fprintf(&b, "%s (%s): %d messages\n", s.chanName(id), id, len(ch.messages))
		for _, m := range ch.messages {
			fmt.Fprintf(&b, "%s ts=%s", m.Posted.UTC().Format("15:04:05Z"), m.TS)
			if m.ThreadTS != "" && m.ThreadTS != m.TS {
				fmt.Fprintf(&b, " in thread %s", m.ThreadTS)
			}
			if m.Edits > 0 {
				fmt.Fprintf(&b, " (edited %d×)", m.Edits)
			}
			b.WriteByte('\n')
			for _, l := range strings.Split(m.Text, "\n") {
				b.WriteString("    ")
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NewTokens returns a random bot token and app-level token in Slack's
// formats, for a demo that needs no real workspace.
func NewTokens() (bot, app string) {
	return "xoxb-" + randomHex(6) + "-" + randomHex(6) + "-" + randomHex(12), "xapp-1-" + randomHex(5) + "-" + randomHex(16)
}

// WaitFor polls cond (with the server unlocked) until it holds or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
