package paging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/warroom/warroom/clock"
	"github.com/warroom/warroom/config"
	"github.com/warroom/warroom/outbox"
	"github.com/warroom/warroom/textsafe"
)

// pdSender sends rows to the Events API v2 with go-pagerduty's client
// (Client.ManageEventWithContext, pointed at pagerduty.events_url).
//
// The client reports a failure as text (it formats transport errors with
// %v, and decodes error bodies as the REST API's shape, not the Events
// API's), so the HTTP client it is given records each exchange in the
// request's context: whether the request left, the status, Retry-After,
// and the error body, which is read as the Events API's error object
// (pagerduty.EventsAPIV2Error).
//
// Answers (developer.pagerduty.com, "Events API v2 Overview", response
// codes and retry logic): 202 delivered; 400 refused (the event is
// invalid: a bad routing key, a missing field; not retried); 429 rate
// limited (about 120 events a minute per integration key; retried after
// Retry-After when given, else Destination.DefaultRetryAfter, 30 s as the
// rate-limit page suggests); 5xx and 408 retried with back-off. The
// Events API deduplicates by dedup_key, so a request whose answer was lost
// is sent again (Destination.Resend) rather than checked: the Events API
// cannot be asked. 404 and other 4xx mean events_url is not an Events API:
// the destination stops until the file is fixed.
type pdSender struct {
	cfg    *config.Config
	client *pagerduty.Client
	clk    clock.Clock
}

func newPDSender(cfg *config.Config, hc *http.Client, clk clock.Clock) *pdSender {
	url := config.DefaultPagerDutyEventsURL
	if cfg.PagerDuty != nil && cfg.PagerDuty.EventsURL != "" {
		url = cfg.PagerDuty.EventsURL
	}
	// The Events API authenticates by the routing key in the body: the
	// client's token is not used.
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(url))
	c.HTTPClient = recorder{hc}
	return &pdSender{cfg: cfg, client: c, clk: clk}
}

func (s *pdSender) Send(ctx context.Context, r outbox.Row, _ outbox.Lookup) (string, error) {
	var p payload
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return "", &outbox.Error{Class: outbox.Refused, Code: "payload", Reason: "unreadable row: " + err.Error()}
	}
	secret := s.cfg.PagerDutyKey(p.Route)
	key := secret.Value()
	if key == "" {
		why := fmt.Sprintf("no routing key for %s", p.Route)
		if secret.IsSet() {
			why = fmt.Sprintf("%s is not set in the environment", secret.Env)
		}
		return "", &outbox.Error{Class: outbox.Refused, Code: "routing key", Reason: why}
	}
	ev := &pagerduty.V2Event{RoutingKey: key, Action: p.Action, DedupKey: p.Dedup}
	if p.Action == actionTrigger {
		ev.Client = "warroom"
		ev.Payload = &pagerduty.V2Payload{Summary: p.Summary, Source: p.Source, Severity: p.Severity, Component: p.Component,
			Group: p.Group, Class: p.Class, Details: p.Details}
		if !p.Time.IsZero() {
			ev.Payload.Timestamp = p.Time.UTC().Format(time.RFC3339)
		}
	}
	x := &exchange{}
	resp, err := s.client.ManageEventWithContext(context.WithValue(ctx, exchangeKey{}, x), ev)
	if err == nil {
		if resp.DedupKey != "" {
			return resp.DedupKey, nil
		}
		return p.Dedup, nil
	}
	if e := s.classify(x, err); e != nil {
		return "", redact(e, key)
	}
	return p.Dedup, nil
}

// Check is never called (the destination resends, see pdSender); if it
// were, "not found" makes the row go again, which dedup_key makes safe.
func (s *pdSender) Check(context.Context, outbox.Row, outbox.Lookup) (string, bool, error) {
	return "", false, nil
}

func (s *pdSender) classify(x *exchange, err error) *outbox.Error {
	switch {
	case x.err != nil:
		return outbox.Transport(x.err)
	case x.status == 0:
		return &outbox.Error{Class: outbox.Uncertain, Code: "error", Reason: err.Error()}
	case x.status == http.StatusAccepted:
		// Accepted, with a body the client could not read.
		return nil
	}
	code := fmt.Sprintf("HTTP %d", x.status)
	reason := code + " " + eventsError(x.body)
	switch {
	case x.status == http.StatusTooManyRequests:
		return &outbox.Error{Class: outbox.RateLimited, Code: code, RetryAfter: outbox.RetryAfter(x.header, s.clk.Now()), Reason: reason}
	case x.status >= 500, x.status == http.StatusRequestTimeout:
		return &outbox.Error{Class: outbox.Retryable, Code: code, Reason: reason}
	case x.status == http.StatusBadRequest:
		return &outbox.Error{Class: outbox.Refused, Code: code, Reason: reason}
	}
	return &outbox.Error{Class: outbox.Fatal, Code: code, Reason: reason + " (is pagerduty.events_url an Events API v2 URL?)"}
}

// eventsError reads an Events API error body: {"status", "message",
// "errors": [...]}.
func eventsError(body []byte) string {
	var e pagerduty.EventsAPIV2Error
	if json.Unmarshal(body, &e) != nil || !e.APIError.Valid {
		if len(body) == 0 {
			return "(no body)"
		}
		return clip(textsafe.Line(string(body)), 200)
	}
	o := e.APIError.ErrorObject
	out := strings.TrimSpace(o.Status + ": " + o.Message)
	if len(o.Errors) > 0 {
		out += " (" + strings.Join(o.Errors, "; ") + ")"
	}
	return clip(textsafe.Line(out), 300)
}

// redact keeps the routing key out of any text that reaches people.
func redact(e *outbox.Error, key string) error {
	if key != "" {
		e.Reason = strings.ReplaceAll(e.Reason, key, "[routing key]")
	}
	return e
}

// exchange is what the recorder saw of one request.
type exchange struct {
	err    error // the round trip failed (outbox.Transport classifies it)
	status int
	header http.Header
	body   []byte // an error answer's body
}

type exchangeKey struct{}

// recorder is the pagerduty.HTTPClient: it records the exchange in the
// request's context and hands the answer on unchanged.
type recorder struct{ c *http.Client }

// maxErrorBody bounds an error answer kept for people.
const maxErrorBody = 16 << 10

func (r recorder) Do(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	resp, err := r.c.Do(req)
	if x == nil {
		return resp, err
	}
	if err != nil {
		x.err = err
		return resp, err
	}
	x.status, x.header = resp.StatusCode, resp.Header
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			b = nil
		}
		x.body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}
