package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/warroom/warroom/incident"
	"github.com/warroom/warroom/sources"
)

// DefaultMaxBody bounds a webhook body. Alertmanager sends one group per
// request; 1 MiB is thousands of alerts.
const DefaultMaxBody = 1 << 20

// Webhook receives Alertmanager webhook notifications (payload version 4)
// and imports each alert into the engine (ImportAlerts, Complete=false:
// a notification carries one group, not the whole set):
//
//	key      the alert's fingerprint (computed from its labels if absent)
//	service  the `service` label (an unknown service goes to the commander)
//	name     the `alertname` label
//	level    from `severity` (see Level)
//	firing   status "firing"; "resolved" resolves it
//	text     the `summary` (or `description`) annotation
//
// Answers: 200 once the alerts are accepted (with a sink that has Do, such
// as the engine, once they are durable); 400 for bad JSON, a version other
// than "4" or an unknown alert status (Alertmanager does not retry a 4xx);
// 405 for a method other than POST; 413 for a body over MaxBody; 503 when
// the engine cannot take them (Alertmanager retries a 5xx). Repeated and
// duplicate notifications are harmless: the engine records changes only.
//
// Mount it at /api/alertmanager and point an Alertmanager receiver at it:
//
//	receivers: [{name: warroom, webhook_configs: [{url: "http://HOST/api/alertmanager", send_resolved: true}]}]
type Webhook struct {
	Sink sources.Sink
	// Origin names the alerts' origin; default "alertmanager".
	Origin string
	// MaxBody bounds the request body; default DefaultMaxBody.
	MaxBody int64
	Logger  *slog.Logger
}

// NewWebhook returns a receiver that imports into sink (the engine).
func NewWebhook(sink sources.Sink) *Webhook { return &Webhook{Sink: sink} }

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
func (p *Payload) Import(origin string) (incident.ImportAlerts, error) {
	if p.Version != "4" {
		return incident.ImportAlerts{}, fmt.Errorf("unsupported payload version %q (want \"4\")", p.Version)
	}
	imp := incident.ImportAlerts{Origin: origin}
	for i, a := range p.Alerts {
		var firing bool
		switch a.Status {
		case "firing":
			firing = true
		case "resolved":
		default:
			return incident.ImportAlerts{}, fmt.Errorf("alert %d: unknown status %q", i, a.Status)
		}
		ls := model.LabelSet{}
		for k, v := range a.Labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		key := a.Fingerprint
		if key == "" {
			key = ls.Fingerprint().String()
		}
		ann := model.LabelSet{}
		for k, v := range a.Annotations {
			ann[model.LabelName(k)] = model.LabelValue(v)
		}
		imp.Alerts = append(imp.Alerts, incident.ExternalAlert{Origin: origin, Key: key, Service: a.Labels["service"],
			Name: alertName(ls), Level: Level(a.Labels["severity"]), Firing: firing, Text: summary(ann)})
	}
	return imp, nil
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
	origin := h.Origin
	if origin == "" {
		origin = "alertmanager"
	}
	imp, err := p.Import(origin)
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
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"status\":\"ok\",\"alerts\":%d}\n", len(imp.Alerts))
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
