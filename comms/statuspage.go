package comms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/outbox"
)

// The Statuspage REST API (v1), as its reference documents it (see
// sim/statuspage for what is modelled and where it is documented).
// Statuspage has no idempotency key: every incident this room creates
// carries the room's key in its metadata ({"warroom": {"key", "update"}}),
// and every update writes its own key there in the same request, so a lost
// answer is settled by reading the incident back before anything is sent
// again.

// Statuspage row operations.
const (
	opCreate    = "create"    // POST an incident with its first update
	opUpdate    = "update"    // PATCH the incident: a new incident update
	opComponent = "component" // PATCH one component's status
)

// op is a Statuspage row's payload.
type op struct {
	Op string `json:"op"`
	// Update is the room's update id (U12); Incident is the key of the
	// row that created the Statuspage incident.
	Update     string            `json:"update,omitempty"`
	Incident   string            `json:"incident,omitempty"`
	Key        string            `json:"key"`
	Name       string            `json:"name,omitempty"`
	Status     string            `json:"status,omitempty"`
	Body       string            `json:"body,omitempty"`
	Components map[string]string `json:"components,omitempty"` // Statuspage component id → status
	Impact     string            `json:"impact,omitempty"`     // impact_override from the severity
	Notify     bool              `json:"notify"`
	Component  string            `json:"component,omitempty"` // opComponent: the Statuspage id
}

// statuspage is the Statuspage destination's sender.
type statuspage struct {
	base string // …/v1
	page string
	key  string
	hc   *http.Client
	clk  clock.Clock
}

func newStatuspage(sp *config.Statuspage, key string, hc *http.Client, clk clock.Clock) *statuspage {
	return &statuspage{base: strings.TrimRight(sp.APIURL, "/"), page: sp.PageID, key: key, hc: hc, clk: clk}
}

// spIncident is what the client reads of an Incident.
type spIncident struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Metadata struct {
		Warroom struct {
			Key    string `json:"key"`
			Update string `json:"update"`
		} `json:"warroom"`
	} `json:"metadata"`
	Updates []struct {
		ID     string `json:"id"`
		Body   string `json:"body"`
		Status string `json:"status"`
	} `json:"incident_updates"`
}

// updateID is the id of the incident's newest update saying body.
func (in *spIncident) updateID(body string) string {
	for _, u := range in.Updates { // newest first
		if u.Body == body {
			return u.ID
		}
	}
	return ""
}

// Send performs one row.
func (s *statuspage) Send(ctx context.Context, r outbox.Row, earlier outbox.Lookup) (string, error) {
	var o op
	if err := json.Unmarshal(r.Payload, &o); err != nil {
		return "", &outbox.Error{Class: outbox.Refused, Code: "payload", Reason: "unreadable outbox row: " + err.Error()}
	}
	switch o.Op {
	case opCreate:
		var in spIncident
		if err := s.call(ctx, http.MethodPost, "/incidents", map[string]any{"incident": s.fields(o, o.Key, true)}, &in); err != nil {
			return "", err
		}
		return in.ID + "/" + in.updateID(o.Body), nil
	case opUpdate:
		inc, err := s.incidentOf(o, earlier)
		if err != nil {
			return "", err
		}
		var in spIncident
		if err := s.call(ctx, http.MethodPatch, "/incidents/"+url.PathEscape(inc), map[string]any{"incident": s.fields(o, o.Incident, false)}, &in); err != nil {
			return "", err
		}
		return inc + "/" + in.updateID(o.Body), nil
	case opComponent:
		var c struct {
			ID string `json:"id"`
		}
		err := s.call(ctx, http.MethodPatch, "/components/"+url.PathEscape(o.Component), map[string]any{"component": map[string]string{"status": o.Status}}, &c)
		return c.ID, err
	}
	return "", &outbox.Error{Class: outbox.Refused, Code: "payload", Reason: "unknown Statuspage operation " + o.Op}
}

// Check reads back whether a row whose answer was lost was applied.
func (s *statuspage) Check(ctx context.Context, r outbox.Row, earlier outbox.Lookup) (string, bool, error) {
	var o op
	if err := json.Unmarshal(r.Payload, &o); err != nil {
		return "", false, &outbox.Error{Class: outbox.Refused, Code: "payload", Reason: err.Error()}
	}
	switch o.Op {
	case opCreate:
		// q searches names; the key in the metadata says which is ours.
		var list []spIncident
		q := url.Values{"q": {o.Name}, "limit": {"100"}}
		if err := s.call(ctx, http.MethodGet, "/incidents?"+q.Encode(), nil, &list); err != nil {
			return "", false, err
		}
		for _, in := range list {
			if in.Metadata.Warroom.Key == o.Key {
				return in.ID + "/" + in.updateID(o.Body), true, nil
			}
		}
		return "", false, nil
	case opUpdate:
		inc, err := s.incidentOf(o, earlier)
		if err != nil {
			return "", false, err
		}
		var in spIncident
		if err := s.call(ctx, http.MethodGet, "/incidents/"+url.PathEscape(inc), nil, &in); err != nil {
			return "", false, err
		}
		if in.Metadata.Warroom.Update == o.Key {
			return inc + "/" + in.updateID(o.Body), true, nil
		}
		return "", false, nil
	case opComponent:
		var c struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := s.call(ctx, http.MethodGet, "/components/"+url.PathEscape(o.Component), nil, &c); err != nil {
			return "", false, err
		}
		return c.ID, c.Status == o.Status, nil
	}
	return "", false, &outbox.Error{Class: outbox.Refused, Code: "payload", Reason: "unknown Statuspage operation " + o.Op}
}

// incidentOf is the Statuspage id of the incident an update belongs to.
func (s *statuspage) incidentOf(o op, earlier outbox.Lookup) (string, error) {
	c, ok := earlier.Row(o.Incident)
	switch {
	case ok && c.Remote != "":
		id, _, _ := strings.Cut(c.Remote, "/")
		return id, nil
	case ok && !c.State.Open():
		return "", &outbox.Error{Class: outbox.Refused, Code: "no incident", Reason: "the Statuspage incident was never created (" + c.Error + ")"}
	}
	return "", &outbox.Error{Class: outbox.Retryable, Code: "no incident", Reason: "the Statuspage incident is not created yet"}
}

// fields is an incident's writable part for one row.
func (s *statuspage) fields(o op, incidentKey string, creating bool) map[string]any {
	f := map[string]any{
		"status":                o.Status,
		"body":                  o.Body,
		"deliver_notifications": o.Notify,
		"metadata":              map[string]any{"warroom": map[string]string{"key": incidentKey, "update": o.Key}},
	}
	if creating || o.Name != "" {
		f["name"] = o.Name
	}
	if len(o.Components) > 0 {
		f["components"] = o.Components
		ids := make([]string, 0, len(o.Components))
		for id := range o.Components {
			ids = append(ids, id)
		}
		f["component_ids"] = ids
	}
	if o.Impact != "" {
		f["impact_override"] = o.Impact
	}
	return f
}

// call does one request and classifies its outcome. A write whose answer
// is lost or unreadable, or that the service failed while handling (5xx
// but 503), may have been applied: Uncertain.
func (s *statuspage) call(ctx context.Context, method, path string, in, out any) *outbox.Error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return &outbox.Error{Class: outbox.Refused, Code: "encode", Reason: err.Error()}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+"/pages/"+url.PathEscape(s.page)+path, body)
	if err != nil {
		return &outbox.Error{Class: outbox.Fatal, Code: "request", Reason: "comms.statuspage.api_url: " + config.Redact(err.Error())}
	}
	req.Header.Set("Authorization", "OAuth "+s.key)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	write := method != http.MethodGet
	resp, err := s.hc.Do(req)
	if err != nil {
		e := outbox.Transport(err)
		e.Reason = "Statuspage " + e.Reason
		return e
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	st := resp.StatusCode
	if st >= 200 && st < 300 {
		if rerr == nil {
			if out == nil {
				return nil
			}
			if json.Unmarshal(raw, out) == nil {
				return nil
			}
		}
		if write {
			return &outbox.Error{Class: outbox.Uncertain, Code: "unreadable answer", Reason: "Statuspage answered " + resp.Status + " but the answer could not be read"}
		}
		return &outbox.Error{Class: outbox.Retryable, Code: "unreadable answer", Reason: "Statuspage's answer could not be read"}
	}
	msg := apiMessage(raw)
	code := fmt.Sprintf("HTTP %d", st)
	switch {
	case st == 420 || st == http.StatusTooManyRequests:
		return &outbox.Error{Class: outbox.RateLimited, Code: code, RetryAfter: outbox.RetryAfter(resp.Header, s.clk.Now()),
			Reason: "rate-limited by Statuspage (" + code + ")"}
	case st == http.StatusUnauthorized:
		return &outbox.Error{Class: outbox.Fatal, Code: code, Reason: "Statuspage: " + orText(msg, "Could not authenticate") + " (check comms.statuspage.api_key)"}
	case st == http.StatusForbidden:
		return &outbox.Error{Class: outbox.Fatal, Code: code, Reason: "Statuspage: " + orText(msg, "not authorized") + " (the API key cannot write this page)"}
	case st == http.StatusNotFound && path == "/incidents":
		return &outbox.Error{Class: outbox.Fatal, Code: code, Reason: "Statuspage has no page " + s.page + " (check comms.statuspage.page_id)"}
	case st == http.StatusNotFound:
		return &outbox.Error{Class: outbox.Refused, Code: code, Reason: "Statuspage: not found (" + path + " was deleted from the page?)"}
	case st == http.StatusServiceUnavailable || !write && st >= 500:
		return &outbox.Error{Class: outbox.Retryable, Code: code, Reason: "Statuspage answered " + code}
	case st >= 500:
		return &outbox.Error{Class: outbox.Uncertain, Code: code, Reason: "Statuspage answered " + code + " while handling the request"}
	case st >= 400:
		return &outbox.Error{Class: outbox.Refused, Code: code, Reason: "Statuspage refused it: " + orText(msg, code)}
	}
	return &outbox.Error{Class: outbox.Uncertain, Code: code, Reason: "Statuspage answered " + code}
}

// apiMessage reads an error body: the reference's ErrorEntity
// {"message"}, or {"error": "…" | ["…"]} as some answers carry.
func apiMessage(raw []byte) string {
	var e struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return ""
	}
	if e.Message != "" {
		return clipText(e.Message, 300)
	}
	var one string
	if json.Unmarshal(e.Error, &one) == nil {
		return clipText(one, 300)
	}
	var many []string
	if json.Unmarshal(e.Error, &many) == nil {
		return clipText(strings.Join(many, ", "), 300)
	}
	return ""
}

func orText(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// impactOf maps the room's severity to Statuspage's impact.
func impactOf(sev string) string {
	switch sev {
	case "SEV1":
		return "critical"
	case "SEV2":
		return "major"
	case "SEV3":
		return "minor"
	case "SEV4":
		return "none"
	}
	return ""
}
