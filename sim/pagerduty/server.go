// Package pagerduty is a local stand-in for PagerDuty, for the demo and
// for tests: its Events API v2 takes the room's pages, and its V3 webhooks
// bring acknowledgements made "on the phone" back to the room. It is
// written from PagerDuty's published reference and from answers recorded
// by others, never from our client's expectations.
//
// What it models, and where each behaviour is documented:
//
//   - POST /v2/enqueue (developer.pagerduty.com "Send an Alert Event",
//     PagerDuty/api-schema reference/events-v2/openapiv3.json): 202
//     {"status":"success","message":"Event processed","dedup_key":…}; a
//     trigger without dedup_key gets a generated one.
//   - 400 bodies {"status":"invalid event","message":"Event object is
//     invalid","errors":[…]}: a routing key that is not 32 characters, or
//     not alphanumeric (both messages as recorded in
//     blockpane/tenderduty#10), or that names no integration ("Invalid
//     routing key", recorded in robusta-dev/robusta#571); a missing or
//     unknown event_action, a dedup_key over 255 characters, a trigger
//     without payload.summary, payload.source or a known payload.severity
//     (critical, error, warning, info), a summary over 1024 characters
//     (the field limits are documented; these messages are ours). A body
//     that is not JSON: {"status":"Unrecognized object","message":"Event
//     object format is unrecognized","errors":["JSON parse error"]} (the
//     reference's error example).
//   - 429 when an integration key has had more than RateLimit events in
//     the last 60 s ("approximately 120 calls/minute per integration key",
//     developer-docs events-API-v2/05-Rate-Limits.md), with the body
//     recorded in go-pagerduty's tests ("throttle exceeded", "Enhance Your
//     Calm."). The reference documents no Retry-After: none is sent
//     (RetryAfterHeader adds one for tests).
//   - De-duplication ("Alert De-Duplication"): events with the same
//     dedup_key on the same routing key apply to the open alert; a trigger
//     on an open alert is a log entry, not a new incident; once resolved,
//     a trigger opens a new alert and acknowledge/resolve are dropped;
//     events on another routing key are another integration's alerts.
//     An acknowledged incident sends no notification for new triggers.
//     One alert is one incident (no alert grouping configured).
//   - V3 webhooks (developer-docs webhooks/01-Overview.md, 02-Behavior.md,
//     04-Signatures.md): one event per POST, {"event": {id, event_type,
//     resource_type, occurred_at, agent, client, data}} with the incident
//     data object of the overview (incident_key is the dedup_key);
//     X-PagerDuty-Signature "v1=<hex HMAC-SHA256 of the body>" per secret,
//     comma-separated during a rotation; X-Webhook-Id repeated on each
//     retry; X-Webhook-Subscription; retried on a timeout, 429 or 5xx up
//     to 4 times with exponential back-off, dropped on another 4xx;
//     delivered in order per incident. Changes the Events API makes carry
//     the service as agent; changes people make carry them
//     (user_reference).
//   - Fault injection for tests: the next answers may be scripted
//     (Fail), and a hook runs after an event is applied and before it is
//     answered (BeforeReply), to lose the answer of an applied request.
package pagerduty

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/clock"
)

// Integration is an Events API v2 integration on a PagerDuty service: its
// routing key, and who its incidents are assigned to.
type Integration struct {
	RoutingKey  string // 32 alphanumeric characters
	ServiceID   string // PXXXXXX
	ServiceName string
	// Assignee is the user its incidents are assigned to (the service's
	// escalation policy, reduced to one person).
	Assignee User
}

// User is a PagerDuty user.
type User struct {
	ID   string // PXXXXXX
	Name string
}

// Options configure a Server.
type Options struct {
	Clock        clock.Clock // default real time
	Integrations []Integration
	// RateLimit is events per integration key per 60 s (default 120).
	RateLimit int
	// RetryAfterHeader, when set, is sent with a 429 (PagerDuty documents
	// none).
	RetryAfterHeader string
	// WebhookURL and WebhookSecrets are a V3 webhook subscription (no URL:
	// no webhooks). Several secrets sign each delivery, as during a secret
	// rotation.
	WebhookURL     string
	WebhookSecrets []string
	// WebhookClient delivers webhooks (default: 5 s timeout, as PagerDuty
	// expects an answer within 5 s).
	WebhookClient *http.Client
	// RetryBase is the first webhook retry's wait (default 30 s; the
	// retries span about 20 minutes).
	RetryBase time.Duration
	// Phones, when set, acknowledges each new incident as its assignee
	// after this long (scenario time): the demo's owners answering their
	// phones. Users in NoPhone never do.
	Phones  time.Duration
	NoPhone map[string]bool
}

// Event is one event the Events API received, as sent.
type Event struct {
	At         time.Time       `json:"at"`
	RoutingKey string          `json:"routing_key"`
	Action     string          `json:"event_action"`
	DedupKey   string          `json:"dedup_key"`
	Payload    json.RawMessage `json:"payload,omitempty"`
	Status     int             `json:"status"` // the HTTP status answered
}

// Incident is a PagerDuty incident opened by an alert.
type Incident struct {
	ID          string
	Number      int
	Status      string // triggered, acknowledged, resolved
	IncidentKey string // the alert's dedup_key
	RoutingKey  string
	Title       string
	Severity    string
	ServiceID   string
	ServiceName string
	Assignee    User
	CreatedAt   time.Time
	// Triggers counts trigger events applied to it (the first included).
	Triggers int
	// Notified counts notifications sent to the assignee: the first
	// trigger, and none while acknowledged.
	Notified int
	AckedBy  string // user id, or the service id for the Events API
}

// Delivery is one webhook delivery attempt.
type Delivery struct {
	ID        string // X-Webhook-Id (the same on retries)
	EventType string
	Incident  string
	Attempt   int
	Status    int // the receiver's answer (0: no answer)
	Body      []byte
}

// Server is the local PagerDuty.
type Server struct {
	o   Options
	clk clock.Clock
	srv *http.Server
	ln  net.Listener
	url string

	mu        sync.Mutex
	byKey     map[string]Integration
	alerts    map[string]*Incident // routing key + "\x00" + dedup_key → open or last alert
	incidents []*Incident
	events    []Event
	recent    map[string][]time.Time // routing key → accepted times (60 s window)
	fail      []int                  // scripted statuses for the next events
	before    func(Event)
	deliver   chan delivery
	log       []Delivery
	pending   sync.WaitGroup
	cancel    context.CancelFunc
	ctx       context.Context
}

type delivery struct {
	id, eventType, incident string
	body                    []byte
}

var (
	alnum    = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	severity = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}
)

// New builds a server; Start listens.
func New(o Options) *Server {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.RateLimit <= 0 {
		o.RateLimit = 120
	}
	if o.WebhookClient == nil {
		o.WebhookClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 30 * time.Second
	}
	s := &Server{o: o, clk: o.Clock, byKey: map[string]Integration{}, alerts: map[string]*Incident{}, recent: map[string][]time.Time{},
		deliver: make(chan delivery, 1024)}
	for _, in := range o.Integrations {
		s.byKey[in.RoutingKey] = in
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Start listens on a free loopback port.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/enqueue", s.enqueue)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	s.pending.Add(1)
	go func() { defer s.pending.Done(); s.webhooks() }()
	return nil
}

// URL is the Events API base URL (pagerduty.events_url).
func (s *Server) URL() string { return s.url }

// Close stops the server and its webhook deliveries.
func (s *Server) Close() {
	s.cancel()
	if s.srv != nil {
		s.srv.Close()
	}
	s.pending.Wait()
}

// Fail scripts the statuses of the next events received (429, 500, 503…),
// one each, before they are looked at.
func (s *Server) Fail(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// BeforeReply sets a hook run after an event is applied and before it is
// answered (nil: none).
func (s *Server) BeforeReply(fn func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = fn
}

type body struct {
	RoutingKey  string          `json:"routing_key"`
	EventAction string          `json:"event_action"`
	DedupKey    string          `json:"dedup_key"`
	Payload     json.RawMessage `json:"payload"`
}

type payloadBody struct {
	Summary  string `json:"summary"`
	Source   string `json:"source"`
	Severity string `json:"severity"`
}

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	now := s.clk.Now()
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		s.record(Event{At: now, Status: http.StatusBadRequest})
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": []string{"JSON parse error"}})
		return
	}
	ev := Event{At: now, RoutingKey: b.RoutingKey, Action: b.EventAction, DedupKey: b.DedupKey, Payload: b.Payload}
	s.mu.Lock()
	if len(s.fail) > 0 {
		code := s.fail[0]
		s.fail = s.fail[1:]
		ev.Status = code
		s.events = append(s.events, ev)
		s.mu.Unlock()
		if code == http.StatusTooManyRequests {
			s.throttled(w)
			return
		}
		writeJSON(w, code, map[string]any{"status": "unavailable", "message": "The server encountered an error"})
		return
	}
	if errs := s.validate(&b); len(errs) > 0 {
		ev.Status = http.StatusBadRequest
		s.events = append(s.events, ev)
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	// The rate limit counts events per integration key over 60 s.
	win := s.recent[b.RoutingKey][:0]
	for _, t := range s.recent[b.RoutingKey] {
		if now.Sub(t) < time.Minute {
			win = append(win, t)
		}
	}
	s.recent[b.RoutingKey] = win
	if len(win) >= s.o.RateLimit {
		ev.Status = http.StatusTooManyRequests
		s.events = append(s.events, ev)
		s.mu.Unlock()
		s.throttled(w)
		return
	}
	s.recent[b.RoutingKey] = append(win, now)
	if b.DedupKey == "" {
		b.DedupKey = randomHex(16)
		ev.DedupKey = b.DedupKey
	}
	ev.Status = http.StatusAccepted
	s.events = append(s.events, ev)
	s.apply(&b, now)
	before := s.before
	s.mu.Unlock()
	if before != nil {
		before(ev)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": b.DedupKey})
}

func (s *Server) throttled(w http.ResponseWriter) {
	if s.o.RetryAfterHeader != "" {
		w.Header().Set("Retry-After", s.o.RetryAfterHeader)
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "throttle exceeded",
		"message": "Requests for this service are arriving too quickly.  Please retry later.", "errors": []string{"Enhance Your Calm."}})
}

func (s *Server) record(ev Event) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
}

// validate checks an event as the Events API does. s.mu is held.
func (s *Server) validate(b *body) []string {
	var errs []string
	switch {
	case len(b.RoutingKey) != 32 || !alnum.MatchString(b.RoutingKey):
		if len(b.RoutingKey) != 32 {
			errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
		}
		if !alnum.MatchString(b.RoutingKey) {
			errs = append(errs, "'routing_key' cannot contain non-alphanumeric characters.")
		}
	default:
		if _, ok := s.byKey[b.RoutingKey]; !ok {
			errs = append(errs, "Invalid routing key")
		}
	}
	switch b.EventAction {
	case "trigger":
		var p payloadBody
		if len(b.Payload) == 0 || json.Unmarshal(b.Payload, &p) != nil {
			errs = append(errs, "'payload' is missing or blank")
			break
		}
		if strings.TrimSpace(p.Summary) == "" {
			errs = append(errs, "'payload.summary' is missing or blank")
		} else if len([]rune(p.Summary)) > 1024 {
			errs = append(errs, "'payload.summary' is too long (maximum is 1024 characters)")
		}
		if strings.TrimSpace(p.Source) == "" {
			errs = append(errs, "'payload.source' is missing or blank")
		}
		if !severity[p.Severity] {
			errs = append(errs, "'payload.severity' must be one of critical, error, warning or info")
		}
	case "acknowledge", "resolve":
		if b.DedupKey == "" {
			errs = append(errs, "'dedup_key' is missing or blank")
		}
	case "":
		errs = append(errs, "'event_action' is missing or blank")
	default:
		errs = append(errs, "'event_action' must be one of trigger, acknowledge or resolve")
	}
	if len(b.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' is too long (maximum is 255 characters)")
	}
	return errs
}

// apply processes an accepted event. s.mu is held.
func (s *Server) apply(b *body, now time.Time) {
	in := s.byKey[b.RoutingKey]
	k := b.RoutingKey + "\x00" + b.DedupKey
	open := s.alerts[k]
	if open != nil && open.Status == "resolved" {
		open = nil
	}
	agent := ref(in.ServiceID, "service_reference", in.ServiceName)
	switch b.EventAction {
	case "trigger":
		if open != nil {
			open.Triggers++ // a log entry on the open alert
			return
		}
		var p payloadBody
		json.Unmarshal(b.Payload, &p)
		inc := &Incident{ID: "Q" + strings.ToUpper(randomHex(3))[:6], Number: len(s.incidents) + 1, Status: "triggered", IncidentKey: b.DedupKey,
			RoutingKey: b.RoutingKey, Title: p.Summary, Severity: p.Severity, ServiceID: in.ServiceID, ServiceName: in.ServiceName,
			Assignee: in.Assignee, CreatedAt: now, Triggers: 1, Notified: 1}
		s.alerts[k] = inc
		s.incidents = append(s.incidents, inc)
		s.notify(inc, "incident.triggered", agent, now)
		if s.o.Phones > 0 && !s.o.NoPhone[inc.Assignee.ID] {
			s.pending.Add(1)
			go func() {
				defer s.pending.Done()
				select {
				case <-s.clk.After(s.o.Phones):
					s.Acknowledge(inc.ID, inc.Assignee.ID)
				case <-s.ctx.Done():
				}
			}()
		}
	case "acknowledge":
		if open != nil && open.Status == "triggered" {
			open.Status, open.AckedBy = "acknowledged", in.ServiceID
			s.notify(open, "incident.acknowledged", agent, now)
		}
	case "resolve":
		if open != nil {
			open.Status = "resolved"
			s.notify(open, "incident.resolved", agent, now)
		}
	}
}

// Acknowledge is a user acknowledging an incident (on their phone): the
// webhook says so with them as the agent. It reports whether the incident
// was triggered.
func (s *Server) Acknowledge(incidentID, userID string) bool {
	return s.act(incidentID, userID, "acknowledged")
}

// Resolve is a user resolving an incident.
func (s *Server) Resolve(incidentID, userID string) bool {
	return s.act(incidentID, userID, "resolved")
}

func (s *Server) act(incidentID, userID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inc := range s.incidents {
		if inc.ID != incidentID || inc.Status == "resolved" || inc.Status == status {
			continue
		}
		inc.Status = status
		if status == "acknowledged" {
			inc.AckedBy = userID
		}
		name := userID
		for _, in := range s.byKey {
			if in.Assignee.ID == userID {
				name = in.Assignee.Name
			}
		}
		s.notify(inc, "incident."+status, ref(userID, "user_reference", name), s.clk.Now())
		return true
	}
	return false
}

func ref(id, typ, summary string) map[string]any {
	kind := map[string]string{"user_reference": "users", "service_reference": "services"}[typ]
	return map[string]any{"id": id, "type": typ, "summary": summary,
		"self": "https://api.pagerduty.com/" + kind + "/" + id, "html_url": "https://acme.pagerduty.com/" + kind + "/" + id}
}

// notify queues a V3 webhook for an incident change. s.mu is held.
func (s *Server) notify(inc *Incident, eventType string, agent map[string]any, now time.Time) {
	if s.o.WebhookURL == "" {
		return
	}
	data := map[string]any{
		"id": inc.ID, "type": "incident", "self": "https://api.pagerduty.com/incidents/" + inc.ID,
		"html_url": "https://acme.pagerduty.com/incidents/" + inc.ID, "number": inc.Number, "status": inc.Status,
		"incident_key": inc.IncidentKey, "created_at": inc.CreatedAt.UTC().Format(time.RFC3339), "title": inc.Title,
		"service":           ref(inc.ServiceID, "service_reference", inc.ServiceName),
		"assignees":         []any{ref(inc.Assignee.ID, "user_reference", inc.Assignee.Name)},
		"escalation_policy": map[string]any{"id": "PESC001", "type": "escalation_policy_reference", "summary": "Default"},
		"teams":             []any{},
		"priority":          nil,
		"urgency":           map[bool]string{true: "high", false: "low"}[inc.Severity == "critical" || inc.Severity == "error"],
		"conference_bridge": nil,
		"resolve_reason":    nil,
	}
	event := map[string]any{"event": map[string]any{
		"id": uuid(), "event_type": eventType, "resource_type": "incident",
		"occurred_at": now.UTC().Format("2006-01-02T15:04:05.000Z"), "agent": agent,
		"client": map[string]any{"name": "PagerDuty"}, "data": data,
	}}
	b, _ := json.Marshal(event)
	select {
	case s.deliver <- delivery{id: uuid(), eventType: eventType, incident: inc.ID, body: b}:
	default: // PagerDuty drops past its queue limit too
	}
}

// webhooks delivers in order, retrying as PagerDuty does.
func (s *Server) webhooks() {
	for {
		var d delivery
		select {
		case <-s.ctx.Done():
			return
		case d = <-s.deliver:
		}
		wait := s.o.RetryBase
		for attempt := 1; attempt <= 5; attempt++ {
			status := s.post(d)
			s.mu.Lock()
			s.log = append(s.log, Delivery{ID: d.id, EventType: d.eventType, Incident: d.incident, Attempt: attempt, Status: status, Body: d.body})
			s.mu.Unlock()
			if status >= 200 && status < 300 || status >= 400 && status < 500 && status != http.StatusTooManyRequests {
				break // delivered, or dropped without a retry
			}
			select {
			case <-s.ctx.Done():
				return
			case <-s.clk.After(wait):
			}
			wait *= 2
		}
	}
}

func (s *Server) post(d delivery) int {
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.o.WebhookURL, bytes.NewReader(d.body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "PagerDuty-Webhook/V3.0")
	req.Header.Set("X-Webhook-Id", d.id)
	req.Header.Set("X-Webhook-Subscription", "PSUB001")
	req.Header.Set("X-PagerDuty-Signature", Sign(d.body, s.o.WebhookSecrets...))
	resp, err := s.o.WebhookClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Sign is the X-PagerDuty-Signature value for body: v1=<hex HMAC-SHA256>
// per secret, comma-separated.
func Sign(body []byte, secrets ...string) string {
	var sigs []string
	for _, sec := range secrets {
		mac := hmac.New(sha256.New, []byte(sec))
		mac.Write(body)
		sigs = append(sigs, "v1="+hex.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, ",")
}

// Events are the events received, in order (refused ones included).
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Incidents are the incidents opened, oldest first (copies).
func (s *Server) Incidents() []Incident {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Incident, len(s.incidents))
	for i, inc := range s.incidents {
		out[i] = *inc
	}
	return out
}

// Deliveries are the webhook delivery attempts so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.log...)
}

// Keys lists the integrations' routing keys, sorted.
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.byKey {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NewRoutingKey returns a random routing key of PagerDuty's shape.
func NewRoutingKey() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
