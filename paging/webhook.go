package paging

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/roles"
	"github.com/warroom/warroom/textsafe"
)

// Webhook defaults. PagerDuty delivers payloads up to 55 KB and drops
// anything over 256 KB; it retries a failed delivery for about 20 minutes
// (developer.pagerduty.com, "Webhook Behavior").
const (
	DefaultMaxBody = 256 << 10
	DefaultMaxAge  = 30 * time.Minute
	maxFuture      = 5 * time.Minute
	maxSeen        = 10000
	auditEvery     = time.Minute
)

// Webhook receives PagerDuty V3 webhooks (POST /api/pagerduty) and turns
// incident.acknowledged and incident.resolved, for PagerDuty alerts this
// room opened, into an ACK or RESOLVE of their alert groups by the roster
// person mapped to the PagerDuty user who acted (roster[].pagerduty.user),
// with that person's permissions, "via PagerDuty" in the timeline.
//
// A delivery is trusted only with a valid X-PagerDuty-Signature: v1=<hex
// HMAC-SHA256 of the raw body with the subscription's secret>, one of
// several during a secret rotation (checked with go-pagerduty's
// webhookv3.VerifySignature, in constant time). It must be a POST of
// application/json, without an Origin header (only browsers send one), of
// at most MaxBody bytes.
//
// Refused and audited (a PAGING event, at most one per reason a minute
// with a count of the rest; never the secret or the signature): a missing
// or bad signature (401), a replay (an event id or X-Webhook-Id already
// processed; the ACK and RESOLVE events record the ids of the delivery
// that made them, so this holds across restarts), an event older than MaxAge or from the future, an
// acknowledgement older than the problem it would ack, a PagerDuty user
// mapped to no one, a person the room does not allow to ack or resolve.
// Signed deliveries are answered 2xx even when refused: PagerDuty drops a
// delivery answered 4xx and disables a subscription after repeated
// failures, and a refused ack must not cost the room the next one. An
// engine that cannot record is answered 503, which PagerDuty retries.
// Other event types, agents that are not users (the room's own
// acknowledge and resolve come back with the integration as agent) and
// incidents the room did not open are answered 200 and ignored.
type Webhook struct {
	Engine Engine
	Config *config.Config
	// Groups maps a dedup key to the alert groups it carries (the
	// Pager's).
	Groups func(dedup string) []string
	// Delivered reports deliveries that acked or resolved in the room as
	// the journal records them (the Pager's): with it, a delivery
	// replayed after a restart is refused too.
	Delivered func(ids []string) bool
	Clock     clock.Clock
	// MaxBody (default DefaultMaxBody) and MaxAge (DefaultMaxAge).
	MaxBody int64
	MaxAge  time.Duration
	Logger  *slog.Logger

	mu     sync.Mutex
	seen   map[string]time.Time     // event ids and webhook ids processed
	audits map[string]*auditCounter // by reason
}

type auditCounter struct {
	last       time.Time
	suppressed int
}

// Payload is a V3 webhook body: one event.
type Payload struct {
	Event struct {
		ID           string    `json:"id"`
		EventType    string    `json:"event_type"`
		ResourceType string    `json:"resource_type"`
		OccurredAt   time.Time `json:"occurred_at"`
		Agent        *Ref      `json:"agent"`
		Data         struct {
			ID          string `json:"id"`
			Type        string `json:"type"`
			Number      int    `json:"number"`
			Status      string `json:"status"`
			IncidentKey string `json:"incident_key"`
			Title       string `json:"title"`
			HTMLURL     string `json:"html_url"`
		} `json:"data"`
	} `json:"event"`
}

// Ref is a V3 reference (agent, service, user).
type Ref struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
}

// Via is where acknowledgements from the webhook say they were made
// (incident.Ack.Via, AlertInfo.Via of their ACK events).
const Via = "PagerDuty"

// ErrNotOurs marks an incident the room did not open.
var errNotOurs = errors.New("not an incident of this room")

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "error", "use POST")
		return
	}
	if r.Header.Get("Origin") != "" {
		reply(w, http.StatusForbidden, "error", "requests from web pages (with an Origin header) are refused")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		reply(w, http.StatusUnsupportedMediaType, "error", "Content-Type must be application/json")
		return
	}
	secret := ""
	if pd := h.Config.PagerDuty; pd != nil {
		secret = pd.WebhookSecret.Value()
	}
	if secret == "" {
		h.audit(r, "off", "PagerDuty webhook refused: the room has no webhook secret (pagerduty.webhook_secret)")
		reply(w, http.StatusUnauthorized, "error", "the PagerDuty webhook is off: set pagerduty.webhook_secret")
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := webhookv3.VerifySignature(r, secret); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			reply(w, http.StatusRequestEntityTooLarge, "error", fmt.Sprintf("body larger than %d bytes", limit))
		case errors.Is(err, webhookv3.ErrMalformedBody):
			reply(w, http.StatusBadRequest, "error", "empty body")
		case errors.Is(err, webhookv3.ErrMalformedHeader):
			h.audit(r, "unsigned", "PagerDuty webhook refused: no X-PagerDuty-Signature")
			reply(w, http.StatusUnauthorized, "error", "missing or malformed X-PagerDuty-Signature")
		case errors.Is(err, webhookv3.ErrNoValidSignatures):
			h.audit(r, "signature", "PagerDuty webhook refused: bad signature")
			reply(w, http.StatusUnauthorized, "error", "bad signature")
		default:
			reply(w, http.StatusBadRequest, "error", "reading body: "+err.Error())
		}
		return
	}
	var p Payload
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		reply(w, http.StatusBadRequest, "error", "bad JSON: "+err.Error())
		return
	}
	ev := &p.Event
	ids := []string{"event:" + clip(ev.ID, 200)}
	if wid := r.Header.Get("X-Webhook-Id"); wid != "" {
		ids = append(ids, "webhook:"+clip(textsafe.Line(wid), 200))
	}
	var act func(by, group string) incident.Command
	switch ev.EventType {
	case "incident.acknowledged":
		act = func(by, group string) incident.Command {
			return incident.Ack{By: by, Group: group, Via: Via, At: ev.OccurredAt, Delivery: ids}
		}
	case "incident.resolved":
		act = func(by, group string) incident.Command {
			return incident.Resolve{By: by, Group: group, Via: Via, At: ev.OccurredAt, Delivery: ids}
		}
	default:
		reply(w, http.StatusOK, "ignored", "event type "+oneLine(ev.EventType)+" is not used")
		return
	}
	now := h.clock().Now()
	what := fmt.Sprintf("%s of PagerDuty incident #%d %s", strings.TrimPrefix(ev.EventType, "incident."), ev.Data.Number, oneLine(ev.Data.ID))
	switch {
	case ev.ID == "":
		reply(w, http.StatusBadRequest, "error", "the event has no id")
		return
	case h.seenAny(ids, now):
		h.audit(r, "replay", "PagerDuty webhook refused: a replayed delivery ("+what+", event "+oneLine(ev.ID)+")")
		reply(w, http.StatusOK, "refused", "already processed")
		return
	case ev.OccurredAt.IsZero() || now.Sub(ev.OccurredAt) > h.maxAge():
		h.audit(r, "old", "PagerDuty webhook refused: "+what+" occurred "+ageOf(now, ev.OccurredAt)+" (older than "+h.maxAge().String()+")")
		reply(w, http.StatusOK, "refused", "too old")
		return
	case ev.OccurredAt.Sub(now) > maxFuture:
		h.audit(r, "future", "PagerDuty webhook refused: "+what+" occurred in the future ("+ev.OccurredAt.UTC().Format(time.RFC3339)+")")
		reply(w, http.StatusOK, "refused", "occurred_at is in the future")
		return
	}
	groups := h.Groups(ev.Data.IncidentKey)
	if len(groups) == 0 {
		h.log().Debug("pagerduty webhook: not ours", "incident", ev.Data.ID, "err", errNotOurs)
		reply(w, http.StatusOK, "ignored", errNotOurs.Error())
		return
	}
	if ev.Agent == nil || ev.Agent.Type != "user_reference" {
		reply(w, http.StatusOK, "ignored", "not a person's action")
		return
	}
	who := oneLine(ev.Agent.Summary) + " (" + oneLine(ev.Agent.ID) + ")"
	by, ok := h.Config.PersonByPagerDutyUser(ev.Agent.ID)
	if !ok {
		h.remember(ids, now)
		h.audit(r, "unmapped", "PagerDuty webhook refused: "+what+" by "+who+", who is on no roster entry (roster[].pagerduty.user)")
		reply(w, http.StatusOK, "refused", "the PagerDuty user is not on the roster")
		return
	}
	done := 0
	for _, g := range groups {
		rep := h.Engine.Do(r.Context(), act(by, g))
		var ref *roles.Refusal
		switch {
		case rep.Err == nil:
			done++
		case errors.Is(rep.Err, incident.ErrAlreadyDone):
			// Acked or resolved in the room first.
		case errors.As(rep.Err, &ref):
			h.audit(r, "refused:"+by, fmt.Sprintf("PagerDuty webhook refused: %s by %s as %s: %s", what, who, by, ref.Reason))
		default:
			reply(w, http.StatusServiceUnavailable, "error", "the war room could not record it: "+rep.Err.Error())
			return
		}
	}
	h.remember(ids, now)
	reply(w, http.StatusOK, "ok", fmt.Sprintf("%d alert groups", done))
}

func (h *Webhook) clock() clock.Clock {
	if h.Clock == nil {
		return clock.Real{}
	}
	return h.Clock
}

func (h *Webhook) maxAge() time.Duration {
	if h.MaxAge > 0 {
		return h.MaxAge
	}
	return DefaultMaxAge
}

func (h *Webhook) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// seenAny reports a delivery processed before: by this process, or (as
// the journal records it) by an earlier one.
func (h *Webhook) seenAny(ids []string, now time.Time) bool {
	h.mu.Lock()
	for _, id := range ids {
		if _, ok := h.seen[id]; ok {
			h.mu.Unlock()
			return true
		}
	}
	h.mu.Unlock()
	return h.Delivered != nil && h.Delivered(ids)
}

// remember marks deliveries processed; entries older than MaxAge go (the
// age check refuses those anyway).
func (h *Webhook) remember(ids []string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[string]time.Time{}
	}
	if len(h.seen) >= maxSeen {
		for k, t := range h.seen {
			if now.Sub(t) > h.maxAge() {
				delete(h.seen, k)
			}
		}
		for k := range h.seen {
			if len(h.seen) < maxSeen {
				break
			}
			delete(h.seen, k)
		}
	}
	for _, id := range ids {
		h.seen[id] = now
	}
}

// audit records a refusal as a PAGING event: at most one per reason a
// minute, the next one counting those left out.
func (h *Webhook) audit(r *http.Request, reason, text string) {
	now := h.clock().Now()
	h.mu.Lock()
	if h.audits == nil {
		h.audits = map[string]*auditCounter{}
	}
	a := h.audits[reason]
	if a == nil {
		if len(h.audits) > 1000 {
			clear(h.audits)
		}
		a = &auditCounter{}
		h.audits[reason] = a
	}
	if !a.last.IsZero() && now.Sub(a.last) < auditEvery {
		a.suppressed++
		h.mu.Unlock()
		return
	}
	if a.suppressed > 0 {
		text += fmt.Sprintf(" (and %d more like it since %s)", a.suppressed, a.last.UTC().Format("15:04:05Z"))
	}
	a.last, a.suppressed = now, 0
	h.mu.Unlock()
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		text += " from " + host
	}
	h.log().Warn("pagerduty webhook", "refused", text)
	if rep := h.Engine.Do(r.Context(), incident.ReportPaging{By: DestPagerDuty, Text: text}); rep.Err != nil {
		h.log().Warn("pagerduty webhook: audit", "err", rep.Err)
	}
}

func ageOf(now, t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return incident.Age(now.Sub(t)) + " ago"
}

func oneLine(s string) string { return clip(textsafe.Line(s), 120) }

func reply(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"status": status, "message": strings.TrimSpace(msg)})
	w.Write(append(b, '\n'))
}
