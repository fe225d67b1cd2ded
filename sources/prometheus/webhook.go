package prometheus

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// DefaultMaxBody bounds a webhook body. Alertmanager sends one group per
// request; 1 MiB is thousands of alerts. A larger body gets 413, and
// the same group sent again at the next group_interval is as large: set
// max_alerts in Alertmanager's webhook_config so a big group is cut (and
// counted in truncatedAlerts) rather than refused.
const DefaultMaxBody = 1 << 20

// Webhook receives Alertmanager webhook notifications (payload version 4)
// and imports each alert into the engine (ImportAlerts, Complete=false:
// a notification carries one group, not the whole set):
//
//	key      the alert's fingerprint (computed from its labels if absent):
//	         the key the source's poll gives the same alert
//	origin   the Prometheus source's (see sources.Origin), so that the rule
//	         seen by the poll and by the webhook is one alert
//	service  the `service` label (an unknown service goes to the commander)
//	name     the `alertname` label
//	level    from `severity` through the source's table (info, none: shown,
//	         never paging); the source's drop: matchers leave alerts out
//	firing   status "firing"; "resolved" resolves it, at endsAt
//	start    startsAt (the timeline says when it arrived as well)
//	metrics  read from generatorURL's expression: a rule about a pane's
//	         metric joins the pane's alert group
//	text     the `summary` (or `description`) annotation
//
// Which Prometheus source of Config a notification belongs to: the one
// named in the path (/api/alertmanager/<source id>), else the one whose
// alertmanager_url is set, else the only Prometheus source. Without one
// the origin is "alertmanager" with the default severity table.
//
// Only Alertmanager may post: a request must carry "Authorization: Bearer
// <Token>" (Alertmanager's http_config.authorization sends it) and
// "Content-Type: application/json" (Alertmanager's), and must not carry an
// Origin header: a web page can send a cross-origin "simple" POST (say,
// text/plain) without any preflight, and only browsers send Origin.
//
// Answers: 200 once the alerts are accepted (with a sink that has Do, such
// as the engine, once they are durable); 400 for bad JSON, a version other
// than "4" or an unknown alert status (Alertmanager does not retry a 4xx);
// 401 without the token (or when Token is empty: the webhook is off); 403
// with an Origin header; 404 for an unknown source in the path; 405 for a
// method other than POST; 413 for a body
// over MaxBody; 415 for another content type; 503 when the engine cannot
// take them (Alertmanager retries a 5xx). Repeated and duplicate
// notifications are harmless: the engine records changes only.
//
// A notification with truncatedAlerts > 0 (Alertmanager's max_alerts cut
// the group) is shown in the timeline: the webhook's source (its Origin)
// turns degraded, saying how many alerts of which group were left out,
// and up again once every cut group has come complete.
//
// Mount it at /api/alertmanager and point an Alertmanager receiver at it:
//
//	receivers:
//	  - name: warroom
//	    webhook_configs:
//	      - url: http://HOST/api/alertmanager
//	        send_resolved: true
//	        max_alerts: 1000
//	        http_config:
//	          authorization: {type: Bearer, credentials_file: /etc/alertmanager/warroom-token}
type Webhook struct {
	Sink sources.Sink
	// Token is the bearer token every request must carry; empty refuses
	// every request.
	Token string
	// Config gives the Prometheus sources the alerts belong to; nil: none.
	Config *config.Config
	// MaxBody bounds the request body; default DefaultMaxBody.
	MaxBody int64
	Logger  *slog.Logger

	mu        sync.Mutex
	truncated map[string]int // groupKey → alerts Alertmanager left out
	degraded  bool           // reported degraded for truncation
}

// NewWebhook returns a receiver that imports into sink (the engine) the
// notifications that carry token.
func NewWebhook(sink sources.Sink, token string) *Webhook { return &Webhook{Sink: sink, Token: token} }

// settings are the alert settings of the source named id ("": the
// default one), or false when id names no Prometheus source.
func (h *Webhook) settings(id string) (*alertSettings, bool) {
	var all, withAM []config.Source
	if h.Config != nil {
		for _, s := range h.Config.Sources {
			if s.Type != config.SourcePrometheus {
				continue
			}
			if id != "" && s.ID == id {
				return h.settingsOf(s), true
			}
			all = append(all, s)
			if s.AlertmanagerURL != "" {
				withAM = append(withAM, s)
			}
		}
	}
	switch {
	case id != "":
		return nil, false
	case len(withAM) == 1:
		return h.settingsOf(withAM[0]), true
	case len(all) == 1:
		return h.settingsOf(all[0]), true
	}
	return &alertSettings{origin: "alertmanager"}, true
}

func (h *Webhook) settingsOf(src config.Source) *alertSettings {
	set, err := newSettings(src, sources.Origin(h.Config, src))
	if err != nil { // cannot happen for a validated file
		set = &alertSettings{src: src, origin: sources.Origin(h.Config, src)}
	}
	return set
}

// maxTruncatedGroups bounds the groups remembered as cut.
const maxTruncatedGroups = 1000

// Payload is Alertmanager's webhook body, version 4. Unknown fields (newer
// versions add some) are ignored.
type Payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of a Payload.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Import converts a payload to the command it submits.
func (p *Payload) Import(set *alertSettings) (incident.ImportAlerts, error) {
	if p.Version != "4" {
		return incident.ImportAlerts{}, fmt.Errorf("unsupported payload version %q (want \"4\")", p.Version)
	}
	imp := incident.ImportAlerts{Origin: set.origin, Via: "webhook"}
	for i, a := range p.Alerts {
		var firing bool
		switch a.Status {
		case "firing":
			firing = true
		case "resolved":
		default:
			return incident.ImportAlerts{}, fmt.Errorf("alert %d: unknown status %q", i, a.Status)
		}
		x, ok := set.external(labelSet(a.Labels), labelSet(a.Annotations), a.Fingerprint, exprOf(a.GeneratorURL))
		if !ok {
			continue
		}
		x.Firing = firing
		x.StartsAt = amTime(a.StartsAt)
		if !firing {
			x.EndsAt = amTime(a.EndsAt)
		}
		imp.Alerts = append(imp.Alerts, x)
	}
	return imp, nil
}

// amTime reads a webhook time; Alertmanager writes the zero time
// (0001-01-01T00:00:00Z) for "none".
func amTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 2000 {
		return time.Time{}
	}
	return t
}

type doer interface {
	Do(ctx context.Context, cmd incident.Command) incident.Reply
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if r.Header.Get("Origin") != "" {
		httpError(w, http.StatusForbidden, "requests from web pages (with an Origin header) are refused; only Alertmanager may post alerts")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="warroom"`)
		msg := "unauthorized: send Authorization: Bearer <WARROOM_HTTP_TOKEN> (Alertmanager: http_config.authorization)"
		if h.Token == "" {
			msg = "the webhook is off: the war room has no WARROOM_HTTP_TOKEN"
		}
		httpError(w, http.StatusUnauthorized, msg)
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		httpError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	limit := h.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
			return
		}
		httpError(w, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	set, ok := h.settings(r.PathValue("source"))
	if !ok {
		httpError(w, http.StatusNotFound, fmt.Sprintf("no prometheus source %q", oneLine(r.PathValue("source"), 64)))
		return
	}
	imp, err := p.Import(set)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(imp.Alerts) > 0 {
		if d, ok := h.Sink.(doer); ok {
			if rep := d.Do(r.Context(), imp); rep.Err != nil {
				h.log().Warn("alertmanager webhook: engine", "err", rep.Err)
				httpError(w, http.StatusServiceUnavailable, "the war room could not record the alerts: "+rep.Err.Error())
				return
			}
		} else if err := h.Sink.Submit(r.Context(), imp); err != nil {
			httpError(w, http.StatusServiceUnavailable, "the war room could not take the alerts: "+err.Error())
			return
		}
	}
	h.noteTruncation(r.Context(), &p, "alertmanager")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"status\":\"ok\",\"alerts\":%d}\n", len(imp.Alerts))
}

func (h *Webhook) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && h.Token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) == 1
}

// noteTruncation keeps track of the groups Alertmanager cut (max_alerts)
// and reports the webhook's source degraded while any is, up once none
// is: one timeline event each way, not one per notification.
func (h *Webhook) noteTruncation(ctx context.Context, p *Payload, source string) {
	h.mu.Lock() // held while reporting: reports keep their order
	defer h.mu.Unlock()
	if h.truncated == nil {
		h.truncated = map[string]int{}
	}
	switch {
	case p.TruncatedAlerts > 0:
		if _, ok := h.truncated[p.GroupKey]; !ok && len(h.truncated) >= maxTruncatedGroups {
			for k := range h.truncated {
				delete(h.truncated, k)
				break
			}
		}
		h.truncated[p.GroupKey] = p.TruncatedAlerts
	default:
		delete(h.truncated, p.GroupKey)
	}
	var info *incident.SourceInfo
	switch {
	case p.TruncatedAlerts > 0 && !h.degraded:
		h.degraded = true
		info = &incident.SourceInfo{ID: source, Health: incident.SourceDegraded, Error: fmt.Sprintf(
			"Alertmanager left %d alerts out of group %s (truncatedAlerts; its max_alerts): they are not in the war room",
			p.TruncatedAlerts, oneLine(p.GroupKey, 160))}
	case len(h.truncated) == 0 && h.degraded:
		h.degraded = false
		info = &incident.SourceInfo{ID: source, Health: incident.SourceUp}
	}
	if info == nil {
		return
	}
	cmd := incident.ReportSource{Info: *info}
	var err error
	if d, ok := h.Sink.(doer); ok {
		err = d.Do(ctx, cmd).Err
	} else {
		err = h.Sink.Submit(ctx, cmd)
	}
	if err != nil {
		h.log().Warn("alertmanager webhook: report truncation", "err", err)
	}
}

func (h *Webhook) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]string{"status": "error", "error": strings.TrimSpace(msg)})
	w.Write(append(b, '\n'))
}
