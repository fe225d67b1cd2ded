package pagerduty

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/warroom/warroom/clock"
)

func client(s *Server) *pagerduty.Client {
	return pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(s.URL()))
}

func trigger(key, dedup string) *pagerduty.V2Event {
	return &pagerduty.V2Event{RoutingKey: key, Action: "trigger", DedupKey: dedup,
		Payload: &pagerduty.V2Payload{Summary: "disk full", Source: "host-1", Severity: "critical"}}
}

// The Events API's answers and de-duplication, through PagerDuty's own
// client.
func TestEventsAPI(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 31, 18, 0, 0, 0, time.UTC))
	key, other := NewRoutingKey(), NewRoutingKey()
	s := New(Options{Clock: clk, RateLimit: 3, Integrations: []Integration{
		{RoutingKey: key, ServiceID: "PSVC001", Assignee: User{ID: "PALICE1"}}, {RoutingKey: other, ServiceID: "PSVC002"}}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := client(s)
	ctx := context.Background()
	resp, err := c.ManageEventWithContext(ctx, trigger(key, "k1"))
	if err != nil || resp.Status != "success" || resp.Message != "Event processed" || resp.DedupKey != "k1" {
		t.Fatalf("%+v %v", resp, err)
	}
	// No dedup_key: one is made up and returned.
	if resp, err := c.ManageEventWithContext(ctx, trigger(key, "")); err != nil || len(resp.DedupKey) != 32 {
		t.Fatalf("%+v %v", resp, err)
	}
	c.ManageEventWithContext(ctx, trigger(key, "k1"))   // a log entry on the open alert
	c.ManageEventWithContext(ctx, trigger(other, "k1")) // another integration's alert
	if incs := s.Incidents(); len(incs) != 3 || incs[0].Triggers != 2 {
		t.Fatalf("incidents %+v", incs)
	}
	// Over 3 events a minute on one key: 429, with the recorded body.
	_, err = c.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: key, Action: "resolve", DedupKey: "k1"})
	var aerr pagerduty.APIError
	if !errors.As(err, &aerr) || aerr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("want 429: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := c.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: key, Action: "resolve", DedupKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	// Resolved: acknowledge is dropped, a trigger opens a new incident.
	c.ManageEventWithContext(ctx, &pagerduty.V2Event{RoutingKey: key, Action: "acknowledge", DedupKey: "k1"})
	c.ManageEventWithContext(ctx, trigger(key, "k1"))
	incs := s.Incidents()
	if len(incs) != 4 || incs[0].Status != "resolved" || incs[3].IncidentKey != "k1" || incs[3].Status != "triggered" {
		t.Fatalf("incidents %+v", incs)
	}
}

func TestInvalidEvents(t *testing.T) {
	key := NewRoutingKey()
	s := New(Options{Integrations: []Integration{{RoutingKey: key}}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ body, want string }{
		{`{"routing_key":"short","event_action":"trigger"}`, "Length of 'routing_key' is incorrect (should be 32 characters)"},
		{`{"routing_key":"` + strings.Repeat("-", 32) + `","event_action":"resolve","dedup_key":"x"}`, "'routing_key' cannot contain non-alphanumeric characters."},
		{`{"routing_key":"` + strings.Repeat("a", 32) + `","event_action":"resolve","dedup_key":"x"}`, "Invalid routing key"},
		{`{"routing_key":"` + key + `","event_action":"trigger","payload":{"summary":"x","source":"y","severity":"fatal"}}`, "'payload.severity'"},
		{`{"routing_key":"` + key + `","event_action":"acknowledge"}`, "'dedup_key' is missing or blank"},
		{`{"routing_key":"` + key + `"}`, "'event_action' is missing or blank"},
		{`not json`, "JSON parse error"},
	} {
		resp, err := http.Post(s.URL()+"/v2/enqueue", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s", c.body, resp.StatusCode, b)
		}
	}
	if len(s.Incidents()) != 0 {
		t.Fatal("an invalid event opened an incident")
	}
}

// Webhooks are signed per secret (verified by PagerDuty's own verifier),
// retried with the same X-Webhook-Id on a 5xx, and carry the person who
// acknowledged on their phone.
func TestWebhooks(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	fails := 1
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := webhookv3.VerifySignature(r, "new-secret"); err != nil {
			t.Errorf("signature: %v", err)
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got, bodies = append(got, r), append(bodies, b)
		if fails > 0 {
			fails--
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer recv.Close()
	key := NewRoutingKey()
	s := New(Options{RetryBase: time.Millisecond, WebhookURL: recv.URL, WebhookSecrets: []string{"old-secret", "new-secret"},
		Integrations: []Integration{{RoutingKey: key, ServiceID: "PSVC001", ServiceName: "tokens", Assignee: User{ID: "PALICE1", Name: "Alice"}}}})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := client(s).ManageEventWithContext(context.Background(), trigger(key, "k1")); err != nil {
		t.Fatal(err)
	}
	s.Acknowledge(s.Incidents()[0].ID, "PALICE1")
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries", n)
		}
		time.Sleep(time.Millisecond)
	}
	if got[0].Header.Get("X-Webhook-Id") != got[1].Header.Get("X-Webhook-Id") || !bytes.Equal(bodies[0], bodies[1]) {
		t.Fatal("a retry is the same delivery")
	}
	if !strings.Contains(string(bodies[0]), `"event_type":"incident.triggered"`) || !strings.Contains(string(bodies[0]), `"type":"service_reference"`) {
		t.Fatalf("trigger webhook %s", bodies[0])
	}
	if b := string(bodies[2]); !strings.Contains(b, `"event_type":"incident.acknowledged"`) || !strings.Contains(b, `"incident_key":"k1"`) ||
		!strings.Contains(b, `"agent":{"html_url":"https://acme.pagerduty.com/users/PALICE1","id":"PALICE1"`) {
		t.Fatalf("ack webhook %s", b)
	}
	if sig := got[2].Header.Get("X-PagerDuty-Signature"); strings.Count(sig, "v1=") != 2 {
		t.Fatalf("signature %q: one per secret", sig)
	}
}
